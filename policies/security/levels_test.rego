# Per-cluster Pod Security levels, and every pod-bearing kind.
package security_test

import rego.v1

import data.lib.fixtures_test as fx

# The deny rules of the security pack that fired, by name.
fired(obj, cluster) := names if {
	names := {name |
		some name, msgs in data.security
		startswith(name, "deny_")
		count(msgs) > 0
	} with input as obj
		with data.policyrun.cluster as cluster
}

escalating := fx.deployment(fx.with_container({"securityContext": {"allowPrivilegeEscalation": true}}))

privileged := fx.deployment(fx.with_container({"securityContext": {"privileged": true}}))

test_privilege_escalation_denied_under_restricted if {
	data.security.deny_privilege_escalation == {`container "web" must set securityContext.allowPrivilegeEscalation: false`} with input as escalating
		with data.policyrun.cluster as fx.restricted_cluster
}

test_privilege_escalation_allowed_under_baseline if {
	count(data.security.deny_privilege_escalation) == 0 with input as escalating with data.policyrun.cluster as fx.baseline_cluster
}

test_privilege_escalation_allowed_under_privileged if {
	count(data.security.deny_privilege_escalation) == 0 with input as escalating with data.policyrun.cluster as fx.privileged_cluster
}

test_privileged_container_denied_under_baseline_and_restricted if {
	count(data.security.deny_privileged) == 1 with input as privileged with data.policyrun.cluster as fx.baseline_cluster
	count(data.security.deny_privileged) == 1 with input as privileged with data.policyrun.cluster as fx.restricted_cluster
}

test_privileged_container_allowed_under_privileged if {
	count(data.security.deny_privileged) == 0 with input as privileged with data.policyrun.cluster as fx.privileged_cluster
}

test_missing_level_means_restricted if {
	count(data.security.deny_privilege_escalation) == 1 with input as escalating with data.policyrun.cluster as {"name": "x", "policy": {}, "namespaces": []}
	count(data.security.deny_privilege_escalation) == 1 with input as escalating with data.policyrun as {}
}

test_unknown_level_means_restricted if {
	cluster := {"name": "typo", "policy": {"pod_security": "priviledged"}, "namespaces": []}
	count(data.security.deny_privileged) == 1 with input as privileged with data.policyrun.cluster as cluster
	count(data.security.deny_privilege_escalation) == 1 with input as escalating with data.policyrun.cluster as cluster
}

test_unknown_level_reported_with_the_known_ones if {
	every level in ["baselin", "Baseline", "", 1, true, ["baseline"]] {
		cluster := {"name": "typo", "policy": {"pod_security": level}, "namespaces": []}
		msgs := data.security.deny_pod_security_level with input as fx.good_deployment with data.policyrun.cluster as cluster
		count(msgs) == 1
		some msg in msgs
		contains(msg, "which is not one of privileged, baseline or restricted; restricted applies")
	}
	msgs := data.security.deny_pod_security_level with input as fx.good_deployment
		with data.policyrun.cluster as {"name": "typo", "policy": {"pod_security": "baselin"}, "namespaces": []}
	msgs == {`cluster "typo" sets policy.pod_security baselin, which is not one of privileged, baseline or restricted; restricted applies`}
}

test_known_or_missing_level_not_reported if {
	every level in ["privileged", "baseline", "restricted"] {
		cluster := {"name": "dev", "policy": {"pod_security": level}, "namespaces": []}
		count(data.security.deny_pod_security_level) == 0 with input as fx.good_deployment with data.policyrun.cluster as cluster
	}
	count(data.security.deny_pod_security_level) == 0 with input as fx.good_deployment
		with data.policyrun.cluster as {"name": "dev", "policy": {}, "namespaces": []}
	count(data.security.deny_pod_security_level) == 0 with input as fx.good_deployment with data.policyrun as {}
}

# A pod spec that breaks everything trips every pod rule, for every pod-bearing kind, at the
# restricted level; the baseline level keeps the baseline controls and the checks that apply
# everywhere; the privileged level only the latter.

restricted_only := {
	"deny_volume_types", "deny_privilege_escalation", "deny_run_as_root", "deny_seccomp_profile",
	"deny_capabilities_drop_all",
}

expected(kind, rules) := rules | {"deny_readiness_probe"} if {
	kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}
} else := rules

test_every_pod_kind_restricted if {
	every kind in fx.pod_kinds {
		fired(fx.workload(kind, fx.bad_pod_spec), fx.restricted_cluster) == expected(kind, fx.pod_security_rules)
	}
}

test_every_pod_kind_baseline if {
	every kind in fx.pod_kinds {
		fired(fx.workload(kind, fx.bad_pod_spec), fx.baseline_cluster) == expected(kind, fx.pod_security_rules - restricted_only)
	}
}

test_every_pod_kind_privileged if {
	every kind in fx.pod_kinds {
		fired(fx.workload(kind, fx.bad_pod_spec), fx.privileged_cluster) == expected(kind, {"deny_image_tag", "deny_resources"})
	}
}

test_good_spec_passes_for_every_pod_kind if {
	every kind in fx.pod_kinds {
		fired(fx.workload(kind, fx.pod_spec), fx.restricted_cluster) == set()
	}
}

test_non_pod_kinds_are_not_judged if {
	svc := {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"template": {"spec": fx.bad_pod_spec}}}
	fired(svc, fx.restricted_cluster) == set()
}
