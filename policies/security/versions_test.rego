# The version of the Pod Security Standards a cluster pins with
# [cluster.policy] pod_security_version, as the admission plugin's
# pod-security.kubernetes.io/enforce-version label does: the controls that changed between
# v1.33 and v1.35, and what an unknown version means.
package security_versions_test

import rego.v1

import data.lib.fixtures_test as fx

cluster(level, version) := {"name": "dev", "policy": {"pod_security": level, "pod_security_version": version}, "namespaces": fx.namespaces}

# A cluster at the level without a version.
unpinned(level) := {"name": "dev", "policy": {"pod_security": level}, "namespaces": fx.namespaces}

# The number of messages of data.security.<rule> for obj in cluster cl, one definition per rule
# (data.security[rule] would evaluate the whole package).
messages("deny_pod_security_version", obj, cl) := n if {
	n := count(data.security.deny_pod_security_version) with input as obj with data.policyrun.cluster as cl
}

messages("deny_probe_host", obj, cl) := n if {
	n := count(data.security.deny_probe_host) with input as obj with data.policyrun.cluster as cl
}

messages("deny_proc_mount", obj, cl) := n if {
	n := count(data.security.deny_proc_mount) with input as obj with data.policyrun.cluster as cl
}

messages("deny_run_as_root", obj, cl) := n if {
	n := count(data.security.deny_run_as_root) with input as obj with data.policyrun.cluster as cl
}

messages("deny_privilege_escalation", obj, cl) := n if {
	n := count(data.security.deny_privilege_escalation) with input as obj with data.policyrun.cluster as cl
}

messages("deny_capabilities_drop_all", obj, cl) := n if {
	n := count(data.security.deny_capabilities_drop_all) with input as obj with data.policyrun.cluster as cl
}

messages("deny_seccomp_profile", obj, cl) := n if {
	n := count(data.security.deny_seccomp_profile) with input as obj with data.policyrun.cluster as cl
}

minor(cl) := m if {
	m := data.lib.kubernetes.pod_security_minor with data.policyrun.cluster as cl
}

# --- Reading the parameter -------------------------------------------------------------

test_version_values if {
	minor(cluster("baseline", "v1.33")) == 33
	minor(cluster("baseline", "v1.34")) == 34
	minor(cluster("baseline", "v1.35")) == 35
	minor(cluster("baseline", "latest")) == 35
	minor(unpinned("baseline")) == 35
	minor({}) == 35
}

# Fail safe: anything else is the latest standard, and is reported.
test_unknown_version_means_latest_and_is_reported if {
	every v in ["1.34", "v1.32", "v1.36", "V1.34", "", null, 34, 1.34, true, ["v1.34"], {"v": "v1.34"}] {
		minor(cluster("baseline", v)) == 35
		messages("deny_pod_security_version", fx.good_deployment, cluster("baseline", v)) == 1
		messages("deny_pod_security_version", fx.good_deployment, cluster("restricted", v)) == 1
	}
}

test_unknown_version_message if {
	data.security.deny_pod_security_version == {`cluster "dev" sets policy.pod_security_version 1.34, which is not one of v1.33, v1.34, v1.35 or latest; the latest standard (v1.35) applies`} with input as fx.good_deployment
		with data.policyrun.cluster as cluster("baseline", "1.34")
}

test_known_or_unset_version_not_reported if {
	every v in ["v1.33", "v1.34", "v1.35", "latest"] {
		messages("deny_pod_security_version", fx.good_deployment, cluster("restricted", v)) == 0
	}
	messages("deny_pod_security_version", fx.good_deployment, unpinned("restricted")) == 0
}

test_unknown_version_ignored_where_pod_security_does_not_apply if {
	messages("deny_pod_security_version", fx.good_deployment, cluster("privileged", "1.34")) == 0
	messages("deny_pod_security_version", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": fx.metadata}, cluster("baseline", "1.34")) == 0
}

# --- Probes / Lifecycle Hooks: baseline from v1.34 -------------------------------------

probe_host := fx.deployment(fx.with_container({"livenessProbe": {"httpGet": {"path": "/", "port": 80, "host": "10.0.0.1"}}}))

test_probe_host_from_v1_34 if {
	every level in ["baseline", "restricted"] {
		messages("deny_probe_host", probe_host, cluster(level, "v1.33")) == 0
		messages("deny_probe_host", probe_host, cluster(level, "v1.34")) == 1
		messages("deny_probe_host", probe_host, cluster(level, "v1.35")) == 1
		messages("deny_probe_host", probe_host, cluster(level, "latest")) == 1
		messages("deny_probe_host", probe_host, unpinned(level)) == 1
		messages("deny_probe_host", probe_host, cluster(level, "v1.3")) == 1
	}
	messages("deny_probe_host", probe_host, unpinned("privileged")) == 0
}

# --- /proc Mount Type: the v1.35 relaxation for user namespaces, baseline only ---------

unmasked(host_users) := fx.deployment(object.union(
	fx.with_container({"securityContext": {"procMount": "Unmasked"}}),
	{"hostUsers": host_users},
))

test_proc_mount_unmasked_in_user_namespace_allowed_at_baseline_from_v1_35 if {
	messages("deny_proc_mount", unmasked(false), cluster("baseline", "v1.35")) == 0
	messages("deny_proc_mount", unmasked(false), cluster("baseline", "latest")) == 0
	messages("deny_proc_mount", unmasked(false), unpinned("baseline")) == 0
}

test_proc_mount_unmasked_denied_at_baseline_before_v1_35 if {
	messages("deny_proc_mount", unmasked(false), cluster("baseline", "v1.34")) == 1
	messages("deny_proc_mount", unmasked(false), cluster("baseline", "v1.33")) == 1
}

test_proc_mount_unmasked_always_denied_at_restricted if {
	every v in ["v1.33", "v1.34", "v1.35", "latest"] {
		messages("deny_proc_mount", unmasked(false), cluster("restricted", v)) == 1
	}
	messages("deny_proc_mount", unmasked(false), unpinned("restricted")) == 1
}

# Only hostUsers: false, exactly, puts the pod in its own user namespace.
test_proc_mount_relaxation_needs_host_users_false if {
	every host_users in [true, null, "false", 0, {}] {
		messages("deny_proc_mount", unmasked(host_users), cluster("baseline", "v1.35")) == 1
	}
	no_field := fx.deployment(fx.with_container({"securityContext": {"procMount": "Unmasked"}}))
	messages("deny_proc_mount", no_field, cluster("baseline", "v1.35")) == 1
}

# --- Running as Non-root (user): waived for user namespaces from v1.35 -----------------

# A pod that would run as root: no runAsNonRoot anywhere, runAsUser 0 on the pod.
rootful(host_users) := fx.deployment(object.union(
	object.union(object.remove(fx.pod_spec, ["securityContext"]), {"securityContext": {"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}}}),
	{"hostUsers": host_users},
))

test_run_as_root_waived_in_user_namespace_from_v1_35 if {
	messages("deny_run_as_root", rootful(false), cluster("restricted", "v1.35")) == 0
	messages("deny_run_as_root", rootful(false), unpinned("restricted")) == 0
	messages("deny_run_as_root", rootful(false), cluster("restricted", "v1.34")) > 0
	messages("deny_run_as_root", rootful(false), cluster("restricted", "v1.33")) > 0
	every host_users in [true, null, "false"] {
		messages("deny_run_as_root", rootful(host_users), cluster("restricted", "v1.35")) > 0
	}
}

# The other restricted controls know no such waiver.
test_user_namespace_waives_nothing_else if {
	spec := object.union(fx.with_container({"securityContext": {"allowPrivilegeEscalation": true, "capabilities": {"drop": []}}}), {"hostUsers": false})
	messages("deny_privilege_escalation", fx.deployment(spec), unpinned("restricted")) == 1
	messages("deny_capabilities_drop_all", fx.deployment(spec), unpinned("restricted")) == 1
}

# --- Windows pods: exempt from three restricted controls only --------------------------

test_windows_exemptions if {
	spec := object.union(
		object.remove(fx.pod_spec, ["securityContext", "containers", "initContainers"]),
		{"os": {"name": "windows"}, "containers": [object.remove(fx.container, ["securityContext"])]},
	)
	obj := fx.deployment(spec)
	messages("deny_privilege_escalation", obj, unpinned("restricted")) == 0
	messages("deny_capabilities_drop_all", obj, unpinned("restricted")) == 0
	messages("deny_seccomp_profile", obj, unpinned("restricted")) == 0
	messages("deny_run_as_root", obj, unpinned("restricted")) == 1

	# Only "windows", exactly.
	every os in [{"name": "Windows"}, {"name": null}, {}, null, "windows"] {
		other := fx.deployment(object.union(object.remove(spec, ["os"]), {"os": os}))
		messages("deny_privilege_escalation", other, unpinned("restricted")) == 1
	}
}
