package lib.kubernetes_test

import rego.v1

import data.lib.fixtures_test as fx
import data.lib.kubernetes

# --- Pod specs and containers ----------------------------------------------------------

test_pod_spec_of_every_pod_kind if {
	every kind in fx.pod_kinds {
		spec := kubernetes.pod_spec with input as fx.workload(kind, fx.pod_spec)
		spec.containers == fx.pod_spec.containers
		spec.securityContext == fx.pod_spec.securityContext
	}
}

test_pod_spec_paths if {
	kubernetes.pod_spec == {"containers": []} with input as {"kind": "Pod", "spec": {"containers": []}}
	kubernetes.pod_spec == {"x": 1} with input as {"kind": "DaemonSet", "spec": {"template": {"spec": {"x": 1}}}}
	kubernetes.pod_spec == {"x": 2} with input as {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"x": 2}}}}}}
}

test_no_pod_spec_for_other_kinds if {
	not kubernetes.pod_spec with input as {"kind": "Service", "spec": {"template": {"spec": {"x": 1}}}}
	not kubernetes.pod_spec with input as {"kind": "ConfigMap", "data": {"a": "b"}}
	not kubernetes.pod_spec with input as {"metadata": {"name": "no-kind"}}
}

test_pod_kinds_cover_the_fixtures if {
	kubernetes.pod_kinds == {k | some k in fx.pod_kinds}
	every kind in fx.pod_kinds {
		kubernetes.is_pod_bearing with input as {"kind": kind}
	}
	not kubernetes.is_pod_bearing with input as {"kind": "Service"}
}

test_pod_metadata if {
	kubernetes.pod_metadata.labels == {"app.kubernetes.io/name": "web"} with input as fx.good_deployment
	kubernetes.pod_metadata.namespace == "shop" with input as fx.workload("Pod", fx.pod_spec)
	kubernetes.pod_metadata.labels == {"app.kubernetes.io/name": "web"} with input as fx.workload("CronJob", fx.pod_spec)
}

test_containers_of_all_three_lists if {
	spec := fx.with_ephemeral({"name": "debug", "image": "busybox:1.36"})
	cs := kubernetes.containers with input as fx.deployment(spec)
	[[e.type, e.container.name] | some e in cs] == [
		["initContainers", "migrate"],
		["containers", "web"],
		["ephemeralContainers", "debug"],
	]
}

test_containers_tolerate_null_lists if {
	spec := {"containers": null, "initContainers": null, "volumes": null}
	kubernetes.containers == [] with input as fx.deployment(spec)
}

test_container_label if {
	kubernetes.container_label("containers", {"name": "web"}) == `container "web"`
	kubernetes.container_label("initContainers", {"name": "migrate"}) == `init container "migrate"`
	kubernetes.container_label("ephemeralContainers", {"name": "debug"}) == `ephemeral container "debug"`
	kubernetes.container_label("containers", {}) == `container "<unnamed>"`
}

test_object_name_and_kind if {
	kubernetes.object_name == "web" with input as fx.good_deployment
	kubernetes.object_kind == "Deployment" with input as fx.good_deployment
	kubernetes.object_name == "<unnamed>" with input as {"kind": "ConfigMap"}
}

# --- Pod Security level ----------------------------------------------------------------

test_level_defaults_to_restricted if {
	kubernetes.pod_security_level == "restricted" with data.policyrun.cluster as fx.restricted_cluster
	kubernetes.restricted_enforced with data.policyrun.cluster as fx.restricted_cluster
	kubernetes.baseline_enforced with data.policyrun.cluster as fx.restricted_cluster
}

test_level_without_any_context_is_restricted if {
	kubernetes.pod_security_level == "restricted" with data.policyrun as {}
}

test_level_baseline if {
	kubernetes.pod_security_level == "baseline" with data.policyrun.cluster as fx.baseline_cluster
	kubernetes.baseline_enforced with data.policyrun.cluster as fx.baseline_cluster
	not kubernetes.restricted_enforced with data.policyrun.cluster as fx.baseline_cluster
}

test_level_privileged if {
	kubernetes.pod_security_level == "privileged" with data.policyrun.cluster as fx.privileged_cluster
	not kubernetes.baseline_enforced with data.policyrun.cluster as fx.privileged_cluster
	not kubernetes.restricted_enforced with data.policyrun.cluster as fx.privileged_cluster
}

test_unknown_level_fails_safe_to_restricted if {
	cluster := {"name": "typo", "policy": {"pod_security": "Baseline"}, "namespaces": []}
	kubernetes.pod_security_level == "restricted" with data.policyrun.cluster as cluster
	kubernetes.restricted_enforced with data.policyrun.cluster as cluster
}

test_cluster_name if {
	kubernetes.cluster_name == "prod" with data.policyrun.cluster as fx.restricted_cluster
	kubernetes.cluster_name == "<unnamed cluster>" with data.policyrun.cluster as {"policy": {}, "namespaces": []}
}
