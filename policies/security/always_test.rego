# The checks that apply at every level, judged in a privileged cluster (so that no Pod
# Security control interferes) unless the test says otherwise.
package security_test

import rego.v1

import data.lib.fixtures_test as fx

# --- deny_image_tag --------------------------------------------------------------------

image_denials(image) := msgs if {
	msgs := data.security.deny_image_tag with input as fx.deployment(fx.with_container({"image": image}))
		with data.policyrun.cluster as fx.privileged_cluster
}

test_image_tag_allowed if {
	every image in [
		"nginx:1.27.3",
		"registry.example.com:5000/shop/web:1.4.2",
		"ghcr.io/org/team/app:v2.0.0-rc.1",
		"nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
		"nginx:latest@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
		"localhost:5000/app:2024.11",
	] {
		count(image_denials(image)) == 0
	}
}

test_image_without_tag_denied if {
	image_denials("nginx") == {`container "web" image "nginx" has neither a tag nor a digest; pin a version`}
}

test_image_registry_port_is_not_a_tag if {
	image_denials("registry.example.com:5000/shop/web") == {`container "web" image "registry.example.com:5000/shop/web" has neither a tag nor a digest; pin a version`}
}

test_image_latest_denied if {
	image_denials("registry.example.com:5000/shop/web:latest") == {`container "web" image "registry.example.com:5000/shop/web:latest" uses the latest tag; pin a version`}
	image_denials("nginx:Latest") == {`container "web" image "nginx:Latest" uses the latest tag; pin a version`}
}

test_image_empty_tag_or_digest_denied if {
	image_denials("nginx:") == {`container "web" image "nginx:" has neither a tag nor a digest; pin a version`}
	image_denials("nginx@") == {`container "web" image "nginx@" has neither a tag nor a digest; pin a version`}
}

test_image_missing_denied if {
	c := object.remove(fx.container, ["image"])
	data.security.deny_image_tag == {`container "web" has no image`} with input as fx.deployment(object.union(fx.pod_spec, {"containers": [c]}))
		with data.policyrun.cluster as fx.privileged_cluster
}

test_image_of_init_and_ephemeral_containers_checked if {
	spec := fx.with_ephemeral({"name": "debug", "image": "busybox"})
	obj := fx.workload("Pod", object.union(spec, {"initContainers": [object.union(fx.init_container, {"image": "alpine:latest"})]}))
	data.security.deny_image_tag == {
		`init container "migrate" image "alpine:latest" uses the latest tag; pin a version`,
		`ephemeral container "debug" image "busybox" has neither a tag nor a digest; pin a version`,
	} with input as obj
		with data.policyrun.cluster as fx.privileged_cluster
}

# --- deny_resources --------------------------------------------------------------------

test_resources_allowed if {
	count(data.security.deny_resources) == 0 with input as fx.good_deployment with data.policyrun.cluster as fx.privileged_cluster
}

test_resources_numbers_allowed if {
	spec := fx.with_container({"resources": {"requests": {"cpu": 1, "memory": "1Gi"}, "limits": {"cpu": 2, "memory": "1Gi"}}})
	count(data.security.deny_resources) == 0 with input as fx.deployment(spec) with data.policyrun.cluster as fx.privileged_cluster
}

test_resources_missing_denied if {
	c := object.union(object.remove(fx.container, ["resources"]), {"resources": {"requests": {"memory": "128Mi"}, "limits": {"memory": ""}}})
	spec := object.union(fx.pod_spec, {"containers": [c]})
	data.security.deny_resources == {`container "web" does not set resources.requests.cpu, resources.limits.cpu, resources.limits.memory`} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.privileged_cluster
}

test_resources_cpu_limit_required if {
	ic := object.union(object.remove(fx.init_container, ["resources"]), {"resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}})
	spec := object.union(fx.pod_spec, {"initContainers": [ic]})
	data.security.deny_resources == {`init container "migrate" does not set resources.limits.cpu`} with input as fx.workload("Job", spec)
		with data.policyrun.cluster as fx.privileged_cluster
}

test_resources_not_required_of_ephemeral_containers if {
	spec := fx.with_ephemeral({"name": "debug", "image": "busybox:1.36"})
	count(data.security.deny_resources) == 0 with input as fx.workload("Pod", spec) with data.policyrun.cluster as fx.privileged_cluster
}

# --- deny_readiness_probe --------------------------------------------------------------

test_readiness_probe_allowed if {
	count(data.security.deny_readiness_probe) == 0 with input as fx.good_deployment with data.policyrun.cluster as fx.privileged_cluster
}

test_readiness_probe_missing_denied if {
	spec := object.union(fx.pod_spec, {"containers": [object.remove(fx.container, ["readinessProbe"])]})
	every kind in ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"] {
		data.security.deny_readiness_probe == {`container "web" has no readinessProbe`} with input as fx.workload(kind, spec)
			with data.policyrun.cluster as fx.privileged_cluster
	}
}

test_readiness_probe_not_required_of_jobs_pods_and_init_containers if {
	spec := object.union(fx.pod_spec, {"containers": [object.remove(fx.container, ["readinessProbe"])]})
	every kind in ["Job", "CronJob", "Pod", "ReplicationController"] {
		count(data.security.deny_readiness_probe) == 0 with input as fx.workload(kind, spec) with data.policyrun.cluster as fx.privileged_cluster
	}

	# The init container of the good spec has no readinessProbe.
	object.get(fx.init_container, "readinessProbe", null) == null
}

# --- deny_ingress_tls ------------------------------------------------------------------

ingress(tls) := {
	"apiVersion": "networking.k8s.io/v1",
	"kind": "Ingress",
	"metadata": {"name": "shop", "namespace": "shop", "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"}},
	"spec": object.union(
		{
			"ingressClassName": "nginx",
			"rules": [
				{"host": "shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}},
				{"host": "api.shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "api", "port": {"number": 8080}}}}]}},
			],
		},
		tls,
	),
}

test_ingress_tls_allowed if {
	obj := ingress({"tls": [{"hosts": ["shop.example.com", "api.shop.example.com"], "secretName": "shop-tls"}]})
	count(data.security.deny_ingress_tls) == 0 with input as obj with data.policyrun.cluster as fx.privileged_cluster
}

test_ingress_tls_wildcard_allowed if {
	obj := ingress({"tls": [
		{"hosts": ["shop.example.com"], "secretName": "shop-tls"},
		{"hosts": ["*.shop.example.com"], "secretName": "shop-wildcard-tls"},
	]})
	count(data.security.deny_ingress_tls) == 0 with input as obj with data.policyrun.cluster as fx.privileged_cluster
}

test_ingress_without_tls_denied if {
	data.security.deny_ingress_tls == {"Ingress has no spec.tls; every host must be served over TLS"} with input as ingress({})
		with data.policyrun.cluster as fx.privileged_cluster
}

test_ingress_host_not_covered_denied if {
	obj := ingress({"tls": [{"hosts": ["shop.example.com", "*.example.com"], "secretName": "shop-tls"}]})
	data.security.deny_ingress_tls == {`Ingress host "api.shop.example.com" is not covered by spec.tls[*].hosts`} with input as obj
		with data.policyrun.cluster as fx.privileged_cluster
}

test_ingress_of_other_api_groups_ignored if {
	obj := object.union(ingress({}), {"apiVersion": "traefik.example.com/v1"})
	count(data.security.deny_ingress_tls) == 0 with input as obj with data.policyrun.cluster as fx.privileged_cluster
}

# --- deny_secret_plaintext -------------------------------------------------------------

secret := {
	"apiVersion": "v1",
	"kind": "Secret",
	"type": "Opaque",
	"metadata": {"name": "db-credentials", "namespace": "shop"},
	"data": {"password": "aHVudGVyMg==", "username": "c2hvcA=="},
	"stringData": {"dsn": "postgres://shop:hunter2@db.shop.svc:5432/shop"},
}

test_secret_plaintext_denied if {
	data.security.deny_secret_plaintext == {
		`Secret "db-credentials" commits data values to git in plaintext (keys "password", "username"); use an encrypted or external secret`,
		`Secret "db-credentials" commits stringData values to git in plaintext (keys "dsn"); use an encrypted or external secret`,
	} with input as secret
		with data.policyrun.cluster as fx.privileged_cluster
}

test_secret_plaintext_messages_never_hold_values if {
	msgs := data.security.deny_secret_plaintext with input as secret with data.policyrun.cluster as fx.privileged_cluster
	count(msgs) == 2
	every msg in msgs {
		not contains(msg, "aHVudGVyMg==")
		not contains(msg, "c2hvcA==")
		not contains(msg, "hunter2")
		not contains(msg, "postgres://")
	}
}

test_secret_without_data_allowed if {
	token := {
		"apiVersion": "v1",
		"kind": "Secret",
		"type": "kubernetes.io/service-account-token",
		"metadata": {"name": "jenkins-token", "namespace": "shop", "annotations": {"kubernetes.io/service-account.name": "jenkins"}},
	}
	count(data.security.deny_secret_plaintext) == 0 with input as token with data.policyrun.cluster as fx.privileged_cluster
	count(data.security.deny_secret_plaintext) == 0 with input as object.union(token, {"data": {}, "stringData": null})
		with data.policyrun.cluster as fx.privileged_cluster
}

test_secret_checked_in_every_cluster if {
	every c in [fx.restricted_cluster, fx.baseline_cluster, fx.privileged_cluster] {
		count(data.security.deny_secret_plaintext) == 2 with input as secret with data.policyrun.cluster as c
	}
}
