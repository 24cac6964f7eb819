# Every Pod Security control against every shape of every field it reads: absent, null, empty,
# the wrong type, and the allowed and forbidden values, in each container list. A rule that
# negates an undefined path, or hands one to a builtin, gives one of these cases away: the
# verdicts below are the ones OPA gives too (README.md, "Writing rules that mean the same in
# every engine").
package security_controls_test

import rego.v1

import data.lib.fixtures_test as fx

container_lists := ["initContainers", "containers", "ephemeralContainers"]

# fx.pod_spec with container list t holding only c.
spec_with_container(t, c) := object.union(fx.pod_spec, {t: [c]})

# fx.container with its securityContext replaced by sc.
with_sc(sc) := object.union(object.remove(fx.container, ["securityContext"]), {"securityContext": sc})

# fx.container with key set to v, or without key.
with_key(key, v) := object.union(object.remove(fx.container, [key]), {key: v})

without_key(key) := object.remove(fx.container, [key])

# fx.pod_spec with its securityContext replaced by sc, or with key set to v.
with_pod_sc(sc) := object.union(object.remove(fx.pod_spec, ["securityContext"]), {"securityContext": sc})

with_pod_key(key, v) := object.union(object.remove(fx.pod_spec, [key]), {key: v})

without_pod_key(key) := object.remove(fx.pod_spec, [key])

# The number of messages of data.security.<rule> for obj in cluster. One definition per rule,
# each naming its rule by full path: data.security[rule] would evaluate the whole package for
# every case, several times slower.
messages("deny_privileged", obj, cluster) := n if {
	n := count(data.security.deny_privileged) with input as obj with data.policyrun.cluster as cluster
}

messages("deny_host_namespaces", obj, cluster) := n if {
	n := count(data.security.deny_host_namespaces) with input as obj with data.policyrun.cluster as cluster
}

messages("deny_capabilities", obj, cluster) := n if {
	n := count(data.security.deny_capabilities) with input as obj with data.policyrun.cluster as cluster
}

messages("deny_host_path", obj, cluster) := n if {
	n := count(data.security.deny_host_path) with input as obj with data.policyrun.cluster as cluster
}

messages("deny_host_ports", obj, cluster) := n if {
	n := count(data.security.deny_host_ports) with input as obj with data.policyrun.cluster as cluster
}

messages("deny_windows_host_process", obj, cluster) := n if {
	n := count(data.security.deny_windows_host_process) with input as obj with data.policyrun.cluster as cluster
}

messages("deny_apparmor", obj, cluster) := n if {
	n := count(data.security.deny_apparmor) with input as obj with data.policyrun.cluster as cluster
}

messages("deny_selinux", obj, cluster) := n if {
	n := count(data.security.deny_selinux) with input as obj with data.policyrun.cluster as cluster
}

messages("deny_proc_mount", obj, cluster) := n if {
	n := count(data.security.deny_proc_mount) with input as obj with data.policyrun.cluster as cluster
}

messages("deny_seccomp_unconfined", obj, cluster) := n if {
	n := count(data.security.deny_seccomp_unconfined) with input as obj with data.policyrun.cluster as cluster
}

messages("deny_sysctls", obj, cluster) := n if {
	n := count(data.security.deny_sysctls) with input as obj with data.policyrun.cluster as cluster
}

messages("deny_probe_host", obj, cluster) := n if {
	n := count(data.security.deny_probe_host) with input as obj with data.policyrun.cluster as cluster
}

messages("deny_volume_types", obj, cluster) := n if {
	n := count(data.security.deny_volume_types) with input as obj with data.policyrun.cluster as cluster
}

messages("deny_privilege_escalation", obj, cluster) := n if {
	n := count(data.security.deny_privilege_escalation) with input as obj with data.policyrun.cluster as cluster
}

messages("deny_run_as_root", obj, cluster) := n if {
	n := count(data.security.deny_run_as_root) with input as obj with data.policyrun.cluster as cluster
}

messages("deny_seccomp_profile", obj, cluster) := n if {
	n := count(data.security.deny_seccomp_profile) with input as obj with data.policyrun.cluster as cluster
}

messages("deny_capabilities_drop_all", obj, cluster) := n if {
	n := count(data.security.deny_capabilities_drop_all) with input as obj with data.policyrun.cluster as cluster
}

messages("deny_image_tag", obj, cluster) := n if {
	n := count(data.security.deny_image_tag) with input as obj with data.policyrun.cluster as cluster
}

messages("deny_resources", obj, cluster) := n if {
	n := count(data.security.deny_resources) with input as obj with data.policyrun.cluster as cluster
}

messages("deny_readiness_probe", obj, cluster) := n if {
	n := count(data.security.deny_readiness_probe) with input as obj with data.policyrun.cluster as cluster
}


verdict_is(n, true) if n > 0

verdict_is(n, false) if n == 0

# Every case [container, violation expected] gives that verdict in each of the lists.
container_cases_hold(rule, cluster, lists, cases) if {
	every case in cases {
		every t in lists {
			verdict_is(messages(rule, fx.deployment(spec_with_container(t, case[0])), cluster), case[1])
		}
	}
}

# Every case [pod spec, violation expected] gives that verdict.
pod_cases_hold(rule, cluster, cases) if {
	every case in cases {
		verdict_is(messages(rule, fx.deployment(case[0]), cluster), case[1])
	}
}

# The container cases of a boolean that only false (or unset) may have.
false_only_cases(field) := [
	[without_key("securityContext"), false],
	[with_sc(null), false],
	[with_sc({}), false],
	[with_sc("x"), false],
	[with_sc({field: null}), false],
	[with_sc({field: false}), false],
	[with_sc({field: true}), true],
	[with_sc({field: "true"}), true],
	[with_sc({field: 1}), true],
	[with_sc({field: {}}), true],
	[with_sc({field: []}), true],
]

# --- Baseline --------------------------------------------------------------------------

test_privileged_cases if {
	container_cases_hold("deny_privileged", fx.baseline_cluster, container_lists, false_only_cases("privileged"))
}

test_host_namespaces_cases if {
	every field in ["hostNetwork", "hostPID", "hostIPC"] {
		pod_cases_hold("deny_host_namespaces", fx.baseline_cluster, [
			[without_pod_key(field), false],
			[with_pod_key(field, null), false],
			[with_pod_key(field, false), false],
			[with_pod_key(field, true), true],
			[with_pod_key(field, "true"), true],
			[with_pod_key(field, {}), true],
			[with_pod_key(field, 0), true],
		])
	}
}

test_capabilities_baseline_cases if {
	container_cases_hold("deny_capabilities", fx.baseline_cluster, container_lists, [
		[without_key("securityContext"), false],
		[with_sc(null), false],
		[with_sc({"capabilities": null}), false],
		[with_sc({"capabilities": {}}), false],
		[with_sc({"capabilities": "x"}), false],
		[with_sc({"capabilities": {"add": null}}), false],
		[with_sc({"capabilities": {"add": []}}), false],
		[with_sc({"capabilities": {"add": ["CHOWN", "NET_BIND_SERVICE", "SYS_CHROOT"]}}), false],
		[with_sc({"capabilities": {"add": ["SYS_ADMIN"]}}), true],
		[with_sc({"capabilities": {"add": ["NET_RAW"]}}), true],
		[with_sc({"capabilities": {"add": ["chown"]}}), true],
		[with_sc({"capabilities": {"add": [null]}}), true],
		[with_sc({"capabilities": {"add": "CHOWN"}}), true],
		[with_sc({"capabilities": {"add": {}}}), true],
	])
}

test_host_path_cases if {
	pod_cases_hold("deny_host_path", fx.baseline_cluster, [
		[without_pod_key("volumes"), false],
		[with_pod_key("volumes", null), false],
		[with_pod_key("volumes", []), false],
		[with_pod_key("volumes", "x"), false],
		[with_pod_key("volumes", [{"name": "v"}]), false],
		[with_pod_key("volumes", [{"name": "v", "hostPath": null}]), false],
		[with_pod_key("volumes", [{"name": "v", "hostPath": {}}]), true],
		[with_pod_key("volumes", [{"name": "v", "hostPath": {"path": "/"}}]), true],
		[with_pod_key("volumes", [{"name": "v", "hostPath": "/"}]), true],
		[with_pod_key("volumes", [{"hostPath": {"path": 5}}]), true],
	])
}

test_host_ports_cases if {
	container_cases_hold("deny_host_ports", fx.baseline_cluster, container_lists, [
		[without_key("ports"), false],
		[with_key("ports", null), false],
		[with_key("ports", []), false],
		[with_key("ports", "x"), false],
		[with_key("ports", [{"containerPort": 80}]), false],
		[with_key("ports", [{"containerPort": 80, "hostPort": null}]), false],
		[with_key("ports", [{"containerPort": 80, "hostPort": 0}]), false],
		[with_key("ports", [{"containerPort": 80, "hostPort": 80}]), true],
		[with_key("ports", [{"containerPort": 80, "hostPort": "80"}]), true],
		[with_key("ports", [{"containerPort": 80, "hostPort": {}}]), true],
	])
}

test_host_process_container_cases if {
	container_cases_hold("deny_windows_host_process", fx.baseline_cluster, container_lists, [
		[without_key("securityContext"), false],
		[with_sc(null), false],
		[with_sc({"windowsOptions": null}), false],
		[with_sc({"windowsOptions": {}}), false],
		[with_sc({"windowsOptions": "x"}), false],
		[with_sc({"windowsOptions": {"hostProcess": null}}), false],
		[with_sc({"windowsOptions": {"hostProcess": false}}), false],
		[with_sc({"windowsOptions": {"hostProcess": true}}), true],
		[with_sc({"windowsOptions": {"hostProcess": "true"}}), true],
		[with_sc({"windowsOptions": {"hostProcess": {}}}), true],
	])
}

test_host_process_pod_cases if {
	pod_cases_hold("deny_windows_host_process", fx.baseline_cluster, [
		[without_pod_key("securityContext"), false],
		[with_pod_sc(null), false],
		[with_pod_sc({}), false],
		[with_pod_sc({"windowsOptions": null}), false],
		[with_pod_sc({"windowsOptions": {"hostProcess": false}}), false],
		[with_pod_sc({"windowsOptions": {"hostProcess": true}}), true],
		[with_pod_sc({"windowsOptions": {"hostProcess": 1}}), true],
	])
}

# A profile (seccomp or AppArmor) must have an allowed type when it is set at all.
profile_container_cases(field) := [
	[without_key("securityContext"), false],
	[with_sc(null), false],
	[with_sc({}), false],
	[with_sc({field: null}), false],
	[with_sc({field: {"type": "RuntimeDefault"}}), false],
	[with_sc({field: {"type": "Localhost", "localhostProfile": "p"}}), false],
	[with_sc({field: {"type": "Unconfined"}}), true],
	[with_sc({field: {}}), true],
	[with_sc({field: {"type": null}}), true],
	[with_sc({field: {"type": ""}}), true],
	[with_sc({field: {"type": "runtimedefault"}}), true],
	[with_sc({field: "RuntimeDefault"}), true],
	[with_sc({field: {"type": ["RuntimeDefault"]}}), true],
]

profile_pod_cases(field) := [
	[without_pod_key("securityContext"), false],
	[with_pod_sc(null), false],
	[with_pod_sc({}), false],
	[with_pod_sc({field: null}), false],
	[with_pod_sc({field: {"type": "RuntimeDefault"}}), false],
	[with_pod_sc({field: {"type": "Localhost"}}), false],
	[with_pod_sc({field: {"type": "Unconfined"}}), true],
	[with_pod_sc({field: {}}), true],
	[with_pod_sc({field: "Unconfined"}), true],
]

test_apparmor_field_cases if {
	container_cases_hold("deny_apparmor", fx.baseline_cluster, container_lists, profile_container_cases("appArmorProfile"))
	pod_cases_hold("deny_apparmor", fx.baseline_cluster, profile_pod_cases("appArmorProfile"))
}

# The annotations sit on the pod template (or the Pod itself).
with_pod_annotations(annotations) := {
	"apiVersion": "v1",
	"kind": "Pod",
	"metadata": object.union(fx.metadata, {"annotations": annotations}),
	"spec": fx.pod_spec,
}

test_apparmor_annotation_cases if {
	key := "container.apparmor.security.beta.kubernetes.io/web"
	every case in [
		[null, false],
		[{}, false],
		["x", false],
		[{key: ""}, false],
		[{key: "runtime/default"}, false],
		[{key: "localhost/my-profile"}, false],
		[{"other.example.com/x": "unconfined"}, false],
		[{key: "unconfined"}, true],
		[{key: "localhost"}, true],
		[{key: null}, true],
		[{key: 5}, true],
	] {
		verdict_is(messages("deny_apparmor", with_pod_annotations(case[0]), fx.baseline_cluster), case[1])
	}
}

test_selinux_container_cases if {
	container_cases_hold("deny_selinux", fx.baseline_cluster, container_lists, [
		[without_key("securityContext"), false],
		[with_sc(null), false],
		[with_sc({"seLinuxOptions": null}), false],
		[with_sc({"seLinuxOptions": {}}), false],
		[with_sc({"seLinuxOptions": "x"}), false],
		[with_sc({"seLinuxOptions": {"type": null, "user": null, "role": null}}), false],
		[with_sc({"seLinuxOptions": {"type": "", "user": "", "role": ""}}), false],
		[with_sc({"seLinuxOptions": {"type": "container_t", "level": "s0:c123,c456"}}), false],
		[with_sc({"seLinuxOptions": {"type": "container_init_t"}}), false],
		[with_sc({"seLinuxOptions": {"type": "container_kvm_t"}}), false],
		[with_sc({"seLinuxOptions": {"type": "container_engine_t"}}), false],
		[with_sc({"seLinuxOptions": {"type": "spc_t"}}), true],
		[with_sc({"seLinuxOptions": {"type": 5}}), true],
		[with_sc({"seLinuxOptions": {"user": "system_u"}}), true],
		[with_sc({"seLinuxOptions": {"role": "system_r"}}), true],
		[with_sc({"seLinuxOptions": {"role": {}}}), true],
	])
}

test_selinux_pod_cases if {
	pod_cases_hold("deny_selinux", fx.baseline_cluster, [
		[with_pod_sc({"seLinuxOptions": null}), false],
		[with_pod_sc({"seLinuxOptions": {}}), false],
		[with_pod_sc({"seLinuxOptions": {"type": "container_t"}}), false],
		[with_pod_sc({"seLinuxOptions": {"type": "spc_t"}}), true],
		[with_pod_sc({"seLinuxOptions": {"user": "u"}}), true],
		[with_pod_sc({"seLinuxOptions": {"role": []}}), true],
	])
}

test_proc_mount_cases if {
	container_cases_hold("deny_proc_mount", fx.baseline_cluster, container_lists, [
		[without_key("securityContext"), false],
		[with_sc(null), false],
		[with_sc({}), false],
		[with_sc({"procMount": null}), false],
		[with_sc({"procMount": "Default"}), false],
		[with_sc({"procMount": "Unmasked"}), true],
		[with_sc({"procMount": ""}), true],
		[with_sc({"procMount": "default"}), true],
		[with_sc({"procMount": 0}), true],
	])
}

test_seccomp_baseline_cases if {
	container_cases_hold("deny_seccomp_unconfined", fx.baseline_cluster, container_lists, profile_container_cases("seccompProfile"))
	pod_cases_hold("deny_seccomp_unconfined", fx.baseline_cluster, profile_pod_cases("seccompProfile"))
}

test_sysctls_cases if {
	pod_cases_hold("deny_sysctls", fx.baseline_cluster, [
		[without_pod_key("securityContext"), false],
		[with_pod_sc(null), false],
		[with_pod_sc({"sysctls": null}), false],
		[with_pod_sc({"sysctls": []}), false],
		[with_pod_sc({"sysctls": [{"name": "net.ipv4.tcp_keepalive_time", "value": "60"}]}), false],
		[with_pod_sc({"sysctls": [{"name": "net.ipv4.tcp_rmem", "value": "4096 87380 6291456"}]}), false],
		[with_pod_sc({"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}), true],
		[with_pod_sc({"sysctls": [{"value": "1"}]}), true],
		[with_pod_sc({"sysctls": [{"name": null}]}), true],
		[with_pod_sc({"sysctls": [null]}), true],
		[with_pod_sc({"sysctls": ["kernel.shm_rmid_forced"]}), true],
		[with_pod_sc({"sysctls": "kernel.shm_rmid_forced"}), true],
		[with_pod_sc({"sysctls": {}}), true],
	])
}

test_probe_host_cases if {
	every probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
		every action in ["httpGet", "tcpSocket"] {
			container_cases_hold("deny_probe_host", fx.baseline_cluster, container_lists, [
				[without_key(probe), false],
				[with_key(probe, null), false],
				[with_key(probe, {}), false],
				[with_key(probe, "x"), false],
				[with_key(probe, {action: null}), false],
				[with_key(probe, {action: {"port": 8080}}), false],
				[with_key(probe, {action: {"port": 8080, "host": null}}), false],
				[with_key(probe, {action: {"port": 8080, "host": ""}}), false],
				[with_key(probe, {action: {"port": 8080, "host": "10.0.0.1"}}), true],
				[with_key(probe, {action: {"port": 8080, "host": "localhost"}}), true],
				[with_key(probe, {action: {"port": 8080, "host": 5}}), true],
			])
		}
	}
}

test_lifecycle_host_cases if {
	every handler in ["postStart", "preStop"] {
		every action in ["httpGet", "tcpSocket"] {
			container_cases_hold("deny_probe_host", fx.baseline_cluster, container_lists, [
				[without_key("lifecycle"), false],
				[with_key("lifecycle", null), false],
				[with_key("lifecycle", {}), false],
				[with_key("lifecycle", {handler: null}), false],
				[with_key("lifecycle", {handler: {"exec": {"command": ["true"]}}}), false],
				[with_key("lifecycle", {handler: {action: {"port": 80, "host": ""}}}), false],
				[with_key("lifecycle", {handler: {action: {"port": 80, "host": "example.com"}}}), true],
				[with_key("lifecycle", {handler: {action: {"port": 80, "host": []}}}), true],
			])
		}
	}
}

test_probe_host_names_field_and_container if {
	c := with_key("startupProbe", {"httpGet": {"port": 80, "host": "10.0.0.1"}})
	data.security.deny_probe_host == {`init container "web" sets startupProbe.httpGet.host 10.0.0.1; probes must not name a host`} with input as fx.deployment(spec_with_container("initContainers", c))
		with data.policyrun.cluster as fx.baseline_cluster
}

# --- Restricted ------------------------------------------------------------------------

test_volume_types_cases if {
	pod_cases_hold("deny_volume_types", fx.restricted_cluster, [
		[without_pod_key("volumes"), false],
		[with_pod_key("volumes", null), false],
		[with_pod_key("volumes", []), false],
		[with_pod_key("volumes", "x"), false],
		[with_pod_key("volumes", [{"name": "v"}]), false],
		[with_pod_key("volumes", [{"name": "v", "emptyDir": {}}]), false],
		[with_pod_key("volumes", [{"name": "v", "image": {"reference": "registry.example.com/data:1"}}]), false],
		[with_pod_key("volumes", [{"name": "v", "nfs": null}]), false],
		[with_pod_key("volumes", [{"name": "v", "nfs": {"server": "s", "path": "/"}}]), true],
		[with_pod_key("volumes", [{"name": "v", "hostPath": {"path": "/"}}]), true],
		[with_pod_key("volumes", [{"name": "v", "gitRepo": {}}]), true],
		[with_pod_key("volumes", [{"name": "v", "flexVolume": "x"}]), true],
	])
}

test_privilege_escalation_cases if {
	container_cases_hold("deny_privilege_escalation", fx.restricted_cluster, container_lists, [
		[with_sc({"allowPrivilegeEscalation": false}), false],
		[without_key("securityContext"), true],
		[with_sc(null), true],
		[with_sc({}), true],
		[with_sc("x"), true],
		[with_sc({"allowPrivilegeEscalation": null}), true],
		[with_sc({"allowPrivilegeEscalation": true}), true],
		[with_sc({"allowPrivilegeEscalation": "false"}), true],
		[with_sc({"allowPrivilegeEscalation": 0}), true],
	])
}

test_run_as_non_root_container_cases if {
	# The fixture's pod sets runAsNonRoot: true, which a container may inherit.
	container_cases_hold("deny_run_as_root", fx.restricted_cluster, container_lists, [
		[without_key("securityContext"), false],
		[with_sc(null), false],
		[with_sc({}), false],
		[with_sc({"runAsNonRoot": null}), false],
		[with_sc({"runAsNonRoot": true}), false],
		[with_sc({"runAsNonRoot": false}), true],
		[with_sc({"runAsNonRoot": "true"}), true],
		[with_sc({"runAsNonRoot": {}}), true],
	])
}

test_run_as_non_root_without_pod_setting_cases if {
	every case in [[null, false], [{}, false], [{"runAsNonRoot": null}, false], [{"runAsNonRoot": "true"}, true]] {
		# Every container sets runAsNonRoot: true; only a pod value other than true or null is wrong.
		spec := object.union(with_pod_sc(case[0]), {"initContainers": [], "containers": [with_sc({"runAsNonRoot": true})]})
		verdict_is(messages("deny_run_as_root", fx.deployment(spec), fx.restricted_cluster), case[1])

		# A container that sets nothing inherits nothing from such a pod.
		bare := object.union(with_pod_sc(case[0]), {"initContainers": [], "containers": [without_key("securityContext")]})
		verdict_is(messages("deny_run_as_root", fx.deployment(bare), fx.restricted_cluster), true)
	}
}

test_run_as_user_cases if {
	container_cases_hold("deny_run_as_root", fx.restricted_cluster, container_lists, [
		[with_sc({"runAsUser": null}), false],
		[with_sc({"runAsUser": 10001}), false],
		[with_sc({"runAsUser": 0}), true],
		[with_sc({"runAsUser": "0"}), true],
		[with_sc({"runAsUser": "1000"}), true],
		[with_sc({"runAsUser": {}}), true],
	])
	pod_cases_hold("deny_run_as_root", fx.restricted_cluster, [
		[with_pod_sc({"runAsNonRoot": true, "runAsUser": null}), false],
		[with_pod_sc({"runAsNonRoot": true, "runAsUser": 1}), false],
		[with_pod_sc({"runAsNonRoot": true, "runAsUser": 0}), true],
		[with_pod_sc({"runAsNonRoot": true, "runAsUser": false}), true],
	])
}

test_seccomp_restricted_container_cases if {
	# The fixture's pod sets RuntimeDefault, which a container without a profile inherits.
	cases := array.concat(profile_container_cases("seccompProfile"), [[with_sc("x"), false]])
	container_cases_hold("deny_seccomp_profile", fx.restricted_cluster, container_lists, cases)
}

test_seccomp_restricted_without_pod_profile_cases if {
	every pod_sc in [null, {}, {"seccompProfile": null}] {
		spec := with_pod_sc(pod_sc)
		every case in [
			[without_key("securityContext"), true],
			[with_sc(null), true],
			[with_sc({"seccompProfile": null}), true],
			[with_sc({"seccompProfile": {}}), true],
			[with_sc({"seccompProfile": {"type": "Unconfined"}}), true],
			[with_sc({"seccompProfile": {"type": "RuntimeDefault"}}), false],
			[with_sc({"seccompProfile": {"type": "Localhost", "localhostProfile": "p"}}), false],
		] {
			one := object.union(spec, {"initContainers": [], "containers": [case[0]]})
			verdict_is(messages("deny_seccomp_profile", fx.deployment(one), fx.restricted_cluster), case[1])
		}
	}
}

test_seccomp_restricted_pod_cases if {
	pod_cases_hold("deny_seccomp_profile", fx.restricted_cluster, [
		[with_pod_sc({"seccompProfile": {"type": "Localhost"}}), false],
		[with_pod_sc({"seccompProfile": {"type": "Unconfined"}}), true],
		[with_pod_sc({"seccompProfile": {}}), true],
		[with_pod_sc({"seccompProfile": "RuntimeDefault"}), true],
	])
}

test_capabilities_restricted_cases if {
	container_cases_hold("deny_capabilities_drop_all", fx.restricted_cluster, container_lists, [
		[with_sc({"capabilities": {"drop": ["ALL"]}}), false],
		[with_sc({"capabilities": {"drop": ["NET_RAW", "ALL"]}}), false],
		[with_sc({"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}), false],
		[with_sc({"capabilities": {"drop": ["ALL"], "add": []}}), false],
		[with_sc({"capabilities": {"drop": ["ALL"], "add": null}}), false],
		[without_key("securityContext"), true],
		[with_sc(null), true],
		[with_sc({}), true],
		[with_sc("x"), true],
		[with_sc({"capabilities": null}), true],
		[with_sc({"capabilities": {}}), true],
		[with_sc({"capabilities": {"drop": null}}), true],
		[with_sc({"capabilities": {"drop": []}}), true],
		[with_sc({"capabilities": {"drop": ["NET_RAW"]}}), true],
		[with_sc({"capabilities": {"drop": ["all"]}}), true],
		[with_sc({"capabilities": {"drop": "ALL"}}), true],
		[with_sc({"capabilities": {"drop": {"x": "ALL"}}}), true],
		[with_sc({"capabilities": {"drop": ["ALL"], "add": ["CHOWN"]}}), true],
		[with_sc({"capabilities": {"drop": ["ALL"], "add": "NET_BIND_SERVICE"}}), true],
		[with_sc({"capabilities": {"drop": ["ALL"], "add": [null]}}), true],
	])
}

# The three-line policy of issue 12, and the pack's rule on the same containers: a container
# with `capabilities: {}` or without a securityContext does not drop ALL.
test_issue_12_fail_open_closed if {
	every c in [with_sc({"capabilities": {}}), without_key("securityContext"), with_sc({"allowPrivilegeEscalation": false})] {
		data.security.deny_capabilities_drop_all == {`container "web" must drop all capabilities (securityContext.capabilities.drop: ["ALL"])`} with input as fx.workload("Pod", spec_with_container("containers", c))
			with data.policyrun.cluster as fx.restricted_cluster
	}
}

# --- Every level -----------------------------------------------------------------------

test_image_cases if {
	container_cases_hold("deny_image_tag", fx.privileged_cluster, container_lists, [
		[with_key("image", "nginx:1.27"), false],
		[with_key("image", "nginx@sha256:0123"), false],
		[with_key("image", "registry:5000/nginx:1.27"), false],
		[without_key("image"), true],
		[with_key("image", null), true],
		[with_key("image", ""), true],
		[with_key("image", 5), true],
		[with_key("image", {}), true],
		[with_key("image", "nginx"), true],
		[with_key("image", "nginx:latest"), true],
		[with_key("image", "registry:5000/nginx"), true],
	])
}

test_resources_cases if {
	# Ephemeral containers cannot set resources and are not judged.
	container_cases_hold("deny_resources", fx.privileged_cluster, ["initContainers", "containers"], [
		[fx.container, false],
		[with_key("resources", {"requests": {"cpu": 1, "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}), false],
		[without_key("resources"), true],
		[with_key("resources", null), true],
		[with_key("resources", {}), true],
		[with_key("resources", "x"), true],
		[with_key("resources", {"requests": null, "limits": {"cpu": "1", "memory": "1Gi"}}), true],
		[with_key("resources", {"requests": {"cpu": "", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}), true],
		[with_key("resources", {"requests": {"cpu": "1", "memory": null}, "limits": {"cpu": "1", "memory": "1Gi"}}), true],
	])
	container_cases_hold("deny_resources", fx.privileged_cluster, ["ephemeralContainers"], [[without_key("resources"), false]])
}

test_resources_names_what_is_missing if {
	data.security.deny_resources == {`container "web" does not set resources.requests.cpu, resources.requests.memory, resources.limits.cpu, resources.limits.memory`} with input as fx.deployment(spec_with_container("containers", without_key("resources")))
		with data.policyrun.cluster as fx.privileged_cluster
}

test_readiness_probe_cases if {
	container_cases_hold("deny_readiness_probe", fx.privileged_cluster, ["containers"], [
		[fx.container, false],
		[with_key("readinessProbe", {}), false],
		[without_key("readinessProbe"), true],
		[with_key("readinessProbe", null), true],
		[with_key("readinessProbe", "x"), true],
		[with_key("readinessProbe", []), true],
	])
	container_cases_hold("deny_readiness_probe", fx.privileged_cluster, ["initContainers", "ephemeralContainers"], [[without_key("readinessProbe"), false]])
}

# --- Container lists -------------------------------------------------------------------

# A list that is absent, null, empty or not a list holds no container to judge; an entry that
# is not an object has none of the settings a restricted container must have.
test_container_list_shapes if {
	every t in container_lists {
		every value in [null, [], "x", {}] {
			spec := object.union(fx.pod_spec, {t: value})
			messages("deny_capabilities_drop_all", fx.deployment(spec), fx.restricted_cluster) == 0
			messages("deny_privileged", fx.deployment(spec), fx.restricted_cluster) == 0
		}
		every entry in [null, "x", 5] {
			spec := object.union(fx.pod_spec, {t: [entry]})
			messages("deny_capabilities_drop_all", fx.deployment(spec), fx.restricted_cluster) == 1
			messages("deny_privilege_escalation", fx.deployment(spec), fx.restricted_cluster) == 1
			messages("deny_privileged", fx.deployment(spec), fx.restricted_cluster) == 0
		}
	}
}
