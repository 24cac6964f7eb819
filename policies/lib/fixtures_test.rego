# Shared test fixtures: cluster contexts and a well-behaved workload to derive bad ones from.
# Named *_test.rego so that it is loaded with the tests only, never with the policies.
package lib.fixtures_test

import rego.v1

# --- Cluster contexts (data.policyrun.cluster) -----------------------------------------

namespaces := ["shop", "monitoring", "cert-manager"]

# No pod_security parameter: the restricted level applies.
restricted_cluster := {"name": "prod", "policy": {}, "namespaces": namespaces}

baseline_cluster := {"name": "dev", "policy": {"pod_security": "baseline"}, "namespaces": namespaces}

privileged_cluster := {"name": "infra", "policy": {"pod_security": "privileged"}, "namespaces": namespaces}

public_lb_cluster := {"name": "edge", "policy": {"public_load_balancers": true}, "namespaces": namespaces}

# --- Object contexts (data.policyrun.object) -------------------------------------------

namespaced_object := {
	"entry": "clusters/prod/shop.jsonnet",
	"generated": "generated/prod/shop/deployment.json",
	"namespaced": true,
}

cluster_scoped_object := {
	"entry": "clusters/prod/shop.jsonnet",
	"generated": "generated/prod/shop/namespace.json",
	"namespaced": false,
}

# A kind policyrun has no schema for: `namespaced` is absent.
unknown_scope_object := {
	"entry": "clusters/prod/shop.jsonnet",
	"generated": "generated/prod/shop/servicemonitor.json",
}

# --- A workload that passes every pack at the restricted level -------------------------

container := {
	"name": "web",
	"image": "registry.example.com:5000/shop/web:1.4.2",
	"args": ["--listen=:8080"],
	"ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
	"resources": {
		"requests": {"cpu": "100m", "memory": "128Mi"},
		"limits": {"cpu": "500m", "memory": "256Mi"},
	},
	"readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 5},
	"livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
	"securityContext": {
		"allowPrivilegeEscalation": false,
		"readOnlyRootFilesystem": true,
		"capabilities": {"drop": ["ALL"]},
	},
	"volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
}

init_container := {
	"name": "migrate",
	"image": "registry.example.com:5000/shop/web@sha256:4c5e8a1f0b3d2e6c7a9b8d1e0f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c",
	"args": ["migrate", "--to=latest"],
	"resources": {
		"requests": {"cpu": "50m", "memory": "64Mi"},
		"limits": {"cpu": "200m", "memory": "128Mi"},
	},
	"securityContext": {
		"allowPrivilegeEscalation": false,
		"readOnlyRootFilesystem": true,
		"capabilities": {"drop": ["ALL"]},
	},
}

pod_spec := {
	"serviceAccountName": "web",
	"automountServiceAccountToken": false,
	"securityContext": {
		"runAsNonRoot": true,
		"runAsUser": 10001,
		"runAsGroup": 10001,
		"fsGroup": 10001,
		"seccompProfile": {"type": "RuntimeDefault"},
	},
	"initContainers": [init_container],
	"containers": [container],
	"volumes": [
		{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
		{"name": "config", "configMap": {"name": "web"}},
	],
}

# The pod spec with its main container deep-merged with patch.
with_container(patch) := object.union(pod_spec, {"containers": [object.union(container, patch)]})

# The pod spec with its init container deep-merged with patch.
with_init_container(patch) := object.union(pod_spec, {"initContainers": [object.union(init_container, patch)]})

# The pod spec deep-merged with patch.
with_pod(patch) := object.union(pod_spec, patch)

# The pod spec with an ephemeral (debug) container added.
with_ephemeral(c) := object.union(pod_spec, {"ephemeralContainers": [c]})

metadata := {"name": "web", "namespace": "shop", "labels": {"app.kubernetes.io/name": "web"}}

template(spec) := {"metadata": {"labels": {"app.kubernetes.io/name": "web"}}, "spec": spec}

deployment(spec) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": metadata,
	"spec": {
		"replicas": 2,
		"selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
		"template": template(spec),
	},
}

good_deployment := deployment(pod_spec)

# The given pod spec wrapped in an object of any pod-bearing kind.
workload("Pod", spec) := {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}

workload("Deployment", spec) := deployment(spec)

workload("StatefulSet", spec) := {
	"apiVersion": "apps/v1",
	"kind": "StatefulSet",
	"metadata": metadata,
	"spec": {
		"serviceName": "web",
		"replicas": 3,
		"selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
		"template": template(spec),
	},
}

workload("DaemonSet", spec) := {
	"apiVersion": "apps/v1",
	"kind": "DaemonSet",
	"metadata": metadata,
	"spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "web"}}, "template": template(spec)},
}

workload("ReplicaSet", spec) := {
	"apiVersion": "apps/v1",
	"kind": "ReplicaSet",
	"metadata": metadata,
	"spec": {
		"replicas": 1,
		"selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
		"template": template(spec),
	},
}

workload("ReplicationController", spec) := {
	"apiVersion": "v1",
	"kind": "ReplicationController",
	"metadata": metadata,
	"spec": {"replicas": 1, "selector": {"app.kubernetes.io/name": "web"}, "template": template(spec)},
}

workload("Job", spec) := {
	"apiVersion": "batch/v1",
	"kind": "Job",
	"metadata": metadata,
	"spec": {"backoffLimit": 2, "template": template(object.union(spec, {"restartPolicy": "Never"}))},
}

workload("CronJob", spec) := {
	"apiVersion": "batch/v1",
	"kind": "CronJob",
	"metadata": metadata,
	"spec": {
		"schedule": "15 3 * * *",
		"jobTemplate": {"spec": {"template": template(object.union(spec, {"restartPolicy": "OnFailure"}))}},
	},
}

pod_kinds := ["Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob"]

# --- A pod spec that breaks every Pod Security control at once -------------------------

bad_container := {
	"name": "agent",
	"image": "agent",
	"ports": [{"containerPort": 9100, "hostPort": 9100}],
	"livenessProbe": {"httpGet": {"path": "/metrics", "port": 9100, "host": "169.254.169.254"}},
	"securityContext": {
		"privileged": true,
		"allowPrivilegeEscalation": true,
		"runAsUser": 0,
		"procMount": "Unmasked",
		"capabilities": {"add": ["SYS_ADMIN"]},
		"seccompProfile": {"type": "Unconfined"},
		"appArmorProfile": {"type": "Unconfined"},
		"seLinuxOptions": {"type": "spc_t"},
		"windowsOptions": {"hostProcess": true},
	},
}

bad_pod_spec := {
	"hostNetwork": true,
	"hostPID": true,
	"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "65536"}]},
	"containers": [bad_container],
	"volumes": [{"name": "root", "hostPath": {"path": "/"}}],
}

# Every deny rule of the security pack that judges pod specs, with the readiness check only
# for the kinds it applies to.
pod_security_rules := {
	"deny_privileged", "deny_host_namespaces", "deny_host_path", "deny_host_ports",
	"deny_capabilities", "deny_proc_mount", "deny_sysctls", "deny_apparmor", "deny_selinux",
	"deny_seccomp_unconfined", "deny_windows_host_process", "deny_probe_host",
	"deny_volume_types", "deny_privilege_escalation", "deny_run_as_root", "deny_seccomp_profile",
	"deny_capabilities_drop_all",
	"deny_image_tag", "deny_resources",
}
