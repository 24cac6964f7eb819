# The restricted controls, judged in a cluster without a pod_security parameter (restricted).
# Rules are referenced by their full path: see the note in README.md on package imports.
package security_test

import rego.v1

import data.lib.fixtures_test as fx

# --- deny_volume_types -----------------------------------------------------------------

test_volume_types_allowed if {
	spec := object.union(fx.pod_spec, {"volumes": [
		{"name": "tmp", "emptyDir": {}},
		{"name": "config", "configMap": {"name": "web"}},
		{"name": "tls", "secret": {"secretName": "web-tls"}},
		{"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}},
		{"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]}},
		{"name": "podinfo", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
		{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}}},
		{"name": "secrets-store", "csi": {"driver": "secrets-store.csi.k8s.io", "readOnly": true}},
	]})
	count(data.security.deny_volume_types) == 0 with input as fx.deployment(spec) with data.policyrun.cluster as fx.restricted_cluster
}

test_volume_types_denied if {
	spec := object.union(fx.pod_spec, {"volumes": [
		{"name": "tmp", "emptyDir": {}},
		{"name": "shared", "nfs": {"server": "nfs.example.com", "path": "/exports/web"}},
	]})
	data.security.deny_volume_types == {`volume "shared" is of type nfs; the restricted level allows only configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret`} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.restricted_cluster
}

# --- deny_privilege_escalation ---------------------------------------------------------

test_privilege_escalation_allowed if {
	count(data.security.deny_privilege_escalation) == 0 with input as fx.good_deployment with data.policyrun.cluster as fx.restricted_cluster
}

test_privilege_escalation_unset_denied if {
	c := object.remove(fx.container, ["securityContext"])
	spec := object.union(fx.pod_spec, {"containers": [c]})
	data.security.deny_privilege_escalation == {`container "web" must set securityContext.allowPrivilegeEscalation: false`} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.restricted_cluster
}

test_privilege_escalation_true_denied if {
	spec := fx.with_init_container({"securityContext": {"allowPrivilegeEscalation": true}})
	data.security.deny_privilege_escalation == {`init container "migrate" must set securityContext.allowPrivilegeEscalation: false`} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.restricted_cluster
}

test_privilege_escalation_windows_exempt if {
	spec := fx.with_pod({"os": {"name": "windows"}, "containers": [object.remove(fx.container, ["securityContext"])]})
	count(data.security.deny_privilege_escalation) == 0 with input as fx.deployment(spec) with data.policyrun.cluster as fx.restricted_cluster
}

# --- deny_run_as_root ------------------------------------------------------------------

test_run_as_root_pod_level_allowed if {
	count(data.security.deny_run_as_root) == 0 with input as fx.good_deployment with data.policyrun.cluster as fx.restricted_cluster
}

test_run_as_root_container_level_allowed if {
	c := object.union(fx.container, {"securityContext": {"runAsNonRoot": true, "runAsUser": 101}})
	ic := object.union(fx.init_container, {"securityContext": {"runAsNonRoot": true}})
	spec := object.union(object.remove(fx.pod_spec, ["securityContext"]), {
		"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
		"containers": [c],
		"initContainers": [ic],
	})
	count(data.security.deny_run_as_root) == 0 with input as fx.deployment(spec) with data.policyrun.cluster as fx.restricted_cluster
}

test_run_as_root_unset_denied if {
	spec := object.union(object.remove(fx.pod_spec, ["securityContext", "initContainers"]), {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}})
	data.security.deny_run_as_root == {`container "web" may run as root: set securityContext.runAsNonRoot: true on the pod or the container`} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.restricted_cluster
}

test_run_as_root_container_override_denied if {
	spec := fx.with_container({"securityContext": {"runAsNonRoot": false}})
	data.security.deny_run_as_root == {`container "web" may run as root: set securityContext.runAsNonRoot: true on the pod or the container`} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.restricted_cluster
}

test_run_as_root_null_is_unset if {
	# null is "not set": the pod's value applies, and without one the container may run as root.
	spec := fx.with_container({"securityContext": {"runAsNonRoot": null}})
	count(data.security.deny_run_as_root) == 0 with input as fx.deployment(spec) with data.policyrun.cluster as fx.restricted_cluster
	unset := object.union(object.remove(spec, ["securityContext", "initContainers"]), {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}})
	data.security.deny_run_as_root == {`container "web" may run as root: set securityContext.runAsNonRoot: true on the pod or the container`} with input as fx.deployment(unset)
		with data.policyrun.cluster as fx.restricted_cluster
}

test_run_as_root_pod_false_denied if {
	c := object.union(fx.container, {"securityContext": {"runAsNonRoot": true}})
	ic := object.union(fx.init_container, {"securityContext": {"runAsNonRoot": true}})
	spec := object.union(fx.pod_spec, {"securityContext": {"runAsNonRoot": false}, "containers": [c], "initContainers": [ic]})
	data.security.deny_run_as_root == {"pod sets securityContext.runAsNonRoot: false; only true is allowed"} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.restricted_cluster
}

test_run_as_user_zero_denied if {
	spec := fx.with_pod({
		"securityContext": {"runAsUser": 0},
		"containers": [object.union(fx.container, {"securityContext": {"runAsUser": 0}})],
	})
	data.security.deny_run_as_root == {
		"pod sets securityContext.runAsUser: 0; it must be a non-zero user id (0 is root)",
		`container "web" sets securityContext.runAsUser: 0; it must be a non-zero user id (0 is root)`,
	} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.restricted_cluster
}

# --- deny_seccomp_profile --------------------------------------------------------------

test_seccomp_profile_pod_level_allowed if {
	count(data.security.deny_seccomp_profile) == 0 with input as fx.good_deployment with data.policyrun.cluster as fx.restricted_cluster
}

test_seccomp_profile_every_container_allowed if {
	sc := {"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/web.json"}}
	spec := object.union(object.remove(fx.pod_spec, ["securityContext"]), {
		"securityContext": {"runAsNonRoot": true},
		"containers": [object.union(fx.container, {"securityContext": sc})],
		"initContainers": [object.union(fx.init_container, {"securityContext": sc})],
	})
	count(data.security.deny_seccomp_profile) == 0 with input as fx.deployment(spec) with data.policyrun.cluster as fx.restricted_cluster
}

test_seccomp_profile_missing_denied if {
	spec := object.union(object.remove(fx.pod_spec, ["securityContext"]), {
		"securityContext": {"runAsNonRoot": true},
		"initContainers": [object.union(fx.init_container, {"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}})],
	})
	data.security.deny_seccomp_profile == {`container "web" has no seccomp profile: set securityContext.seccompProfile.type RuntimeDefault (or Localhost) on the pod or the container`} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.restricted_cluster
}

test_seccomp_profile_unconfined_denied if {
	spec := fx.with_container({"securityContext": {"seccompProfile": {"type": "Unconfined"}}})
	data.security.deny_seccomp_profile == {`container "web" sets seccompProfile.type Unconfined; the restricted level requires RuntimeDefault or Localhost`} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.restricted_cluster
}

test_seccomp_profile_pod_unconfined_denied if {
	spec := fx.with_pod({"securityContext": {"seccompProfile": {"type": "Unconfined"}}})
	data.security.deny_seccomp_profile == {"pod sets seccompProfile.type Unconfined; the restricted level requires RuntimeDefault or Localhost"} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.restricted_cluster
}

test_seccomp_profile_windows_exempt if {
	spec := fx.with_pod({"os": {"name": "windows"}, "securityContext": {"seccompProfile": null}})
	count(data.security.deny_seccomp_profile) == 0 with input as fx.deployment(spec) with data.policyrun.cluster as fx.restricted_cluster
}

# --- deny_capabilities_drop_all --------------------------------------------------------

test_capabilities_drop_all_allowed if {
	spec := fx.with_container({"securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}})
	count(data.security.deny_capabilities_drop_all) == 0 with input as fx.deployment(spec) with data.policyrun.cluster as fx.restricted_cluster
}

test_capabilities_not_dropped_denied if {
	spec := fx.with_container({"securityContext": {"capabilities": {"drop": ["NET_RAW"]}}})
	data.security.deny_capabilities_drop_all == {`container "web" must drop all capabilities (securityContext.capabilities.drop: ["ALL"])`} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.restricted_cluster
}

test_capabilities_added_denied if {
	spec := fx.with_container({"securityContext": {"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "CHOWN"]}}})
	data.security.deny_capabilities_drop_all == {`container "web" adds capability CHOWN; the restricted level allows adding only NET_BIND_SERVICE`} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.restricted_cluster
}
