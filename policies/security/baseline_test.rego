# The baseline controls, judged in a baseline cluster (the restricted controls stay quiet
# there, so each test sees only the control it is about).
package security_test

import rego.v1

import data.lib.fixtures_test as fx

# --- deny_privileged -------------------------------------------------------------------

test_privileged_allowed if {
	count(data.security.deny_privileged) == 0 with input as fx.good_deployment with data.policyrun.cluster as fx.baseline_cluster
}

test_privileged_false_allowed if {
	spec := fx.with_container({"securityContext": {"privileged": false}})
	count(data.security.deny_privileged) == 0 with input as fx.deployment(spec) with data.policyrun.cluster as fx.baseline_cluster
}

test_privileged_denied if {
	spec := fx.with_container({"securityContext": {"privileged": true}})
	data.security.deny_privileged == {`container "web" is privileged (securityContext.privileged: true); only false is allowed`} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.baseline_cluster
}

test_privileged_init_container_denied if {
	spec := fx.with_init_container({"securityContext": {"privileged": true}})
	data.security.deny_privileged == {`init container "migrate" is privileged (securityContext.privileged: true); only false is allowed`} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.baseline_cluster
}

test_privileged_ephemeral_container_denied if {
	spec := fx.with_ephemeral({"name": "debug", "image": "busybox:1.36", "securityContext": {"privileged": true}})
	data.security.deny_privileged == {`ephemeral container "debug" is privileged (securityContext.privileged: true); only false is allowed`} with input as fx.workload("Pod", spec)
		with data.policyrun.cluster as fx.baseline_cluster
}

# --- deny_host_namespaces --------------------------------------------------------------

test_host_namespaces_allowed if {
	spec := fx.with_pod({"hostNetwork": false, "hostPID": false, "hostIPC": false})
	count(data.security.deny_host_namespaces) == 0 with input as fx.deployment(spec) with data.policyrun.cluster as fx.baseline_cluster
}

test_host_namespaces_denied if {
	spec := fx.with_pod({"hostNetwork": true, "hostPID": true, "hostIPC": true})
	data.security.deny_host_namespaces == {
		"pod sets hostNetwork: true and shares the node's namespace; only false is allowed",
		"pod sets hostPID: true and shares the node's namespace; only false is allowed",
		"pod sets hostIPC: true and shares the node's namespace; only false is allowed",
	} with input as fx.workload("DaemonSet", spec)
		with data.policyrun.cluster as fx.baseline_cluster
}

# --- deny_host_path --------------------------------------------------------------------

test_host_path_allowed if {
	count(data.security.deny_host_path) == 0 with input as fx.good_deployment with data.policyrun.cluster as fx.baseline_cluster
}

test_host_path_denied if {
	spec := object.union(fx.pod_spec, {"volumes": [
		{"name": "tmp", "emptyDir": {}},
		{"name": "varlog", "hostPath": {"path": "/var/log", "type": "Directory"}},
	]})
	data.security.deny_host_path == {`volume "varlog" mounts the node's filesystem (hostPath /var/log)`} with input as fx.workload("DaemonSet", spec)
		with data.policyrun.cluster as fx.baseline_cluster
}

# --- deny_host_ports -------------------------------------------------------------------

test_host_ports_allowed if {
	spec := fx.with_container({"ports": [{"containerPort": 8080, "hostPort": 0}, {"containerPort": 9090}]})
	count(data.security.deny_host_ports) == 0 with input as fx.deployment(spec) with data.policyrun.cluster as fx.baseline_cluster
}

test_host_ports_denied if {
	spec := fx.with_container({"ports": [{"containerPort": 8080, "hostPort": 80}, {"containerPort": 9090}]})
	data.security.deny_host_ports == {`container "web" binds hostPort 80 on the node`} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.baseline_cluster
}

# --- deny_capabilities -----------------------------------------------------------------

test_capabilities_baseline_set_allowed if {
	spec := fx.with_container({"securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE", "CHOWN", "SETUID"]}}})
	count(data.security.deny_capabilities) == 0 with input as fx.deployment(spec) with data.policyrun.cluster as fx.baseline_cluster
}

test_capabilities_denied if {
	spec := fx.with_container({"securityContext": {"capabilities": {"add": ["NET_ADMIN", "CHOWN", "SYS_ADMIN"]}}})
	data.security.deny_capabilities == {
		`container "web" adds capability NET_ADMIN, beyond the baseline set`,
		`container "web" adds capability SYS_ADMIN, beyond the baseline set`,
	} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.baseline_cluster
}

# --- deny_proc_mount -------------------------------------------------------------------

test_proc_mount_default_allowed if {
	spec := fx.with_container({"securityContext": {"procMount": "Default"}})
	count(data.security.deny_proc_mount) == 0 with input as fx.deployment(spec) with data.policyrun.cluster as fx.baseline_cluster
}

test_proc_mount_denied if {
	spec := fx.with_container({"securityContext": {"procMount": "Unmasked"}})
	data.security.deny_proc_mount == {`container "web" sets securityContext.procMount Unmasked; only Default is allowed`} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.baseline_cluster
}

# --- deny_sysctls ----------------------------------------------------------------------

test_sysctls_safe_allowed if {
	spec := fx.with_pod({"securityContext": {"sysctls": [
		{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"},
		{"name": "net.ipv4.tcp_keepalive_time", "value": "600"},
	]}})
	count(data.security.deny_sysctls) == 0 with input as fx.deployment(spec) with data.policyrun.cluster as fx.baseline_cluster
}

test_sysctls_unsafe_denied if {
	spec := fx.with_pod({"securityContext": {"sysctls": [
		{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"},
		{"name": "kernel.msgmax", "value": "65536"},
	]}})
	data.security.deny_sysctls == {"pod sets sysctl kernel.msgmax, which is not in the safe set"} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.baseline_cluster
}

# --- deny_apparmor ---------------------------------------------------------------------

test_apparmor_allowed if {
	spec := fx.with_pod({
		"securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}},
		"containers": [object.union(fx.container, {"securityContext": {"appArmorProfile": {"type": "Localhost", "localhostProfile": "k8s-web"}}})],
	})
	obj := object.union(fx.deployment(spec), {"spec": {"template": {"metadata": {"annotations": {
		"container.apparmor.security.beta.kubernetes.io/web": "localhost/k8s-web",
		"container.apparmor.security.beta.kubernetes.io/migrate": "runtime/default",
		"container.apparmor.security.beta.kubernetes.io/debug": "",
	}}}}})
	count(data.security.deny_apparmor) == 0 with input as obj with data.policyrun.cluster as fx.baseline_cluster
}

test_apparmor_field_denied if {
	spec := fx.with_pod({
		"securityContext": {"appArmorProfile": {"type": "Unconfined"}},
		"containers": [object.union(fx.container, {"securityContext": {"appArmorProfile": {"type": "Unconfined"}}})],
	})
	data.security.deny_apparmor == {
		"pod sets securityContext.appArmorProfile.type Unconfined; only RuntimeDefault or Localhost are allowed",
		`container "web" sets securityContext.appArmorProfile.type Unconfined; only RuntimeDefault or Localhost are allowed`,
	} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.baseline_cluster
}

test_apparmor_annotation_denied if {
	obj := object.union(fx.workload("Pod", fx.pod_spec), {"metadata": {"annotations": {"container.apparmor.security.beta.kubernetes.io/web": "unconfined"}}})
	data.security.deny_apparmor == {"annotation container.apparmor.security.beta.kubernetes.io/web is unconfined; only runtime/default or localhost/<profile> are allowed"} with input as obj
		with data.policyrun.cluster as fx.baseline_cluster
}

# --- deny_selinux ----------------------------------------------------------------------

test_selinux_allowed if {
	spec := fx.with_pod({
		"securityContext": {"seLinuxOptions": {"level": "s0:c123,c456"}},
		"containers": [object.union(fx.container, {"securityContext": {"seLinuxOptions": {"type": "container_init_t"}}})],
	})
	count(data.security.deny_selinux) == 0 with input as fx.deployment(spec) with data.policyrun.cluster as fx.baseline_cluster
}

test_selinux_type_denied if {
	spec := fx.with_container({"securityContext": {"seLinuxOptions": {"type": "spc_t"}}})
	data.security.deny_selinux == {`container "web" sets seLinuxOptions.type spc_t; allowed: container_t, container_init_t, container_kvm_t, container_engine_t`} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.baseline_cluster
}

test_selinux_user_and_role_denied if {
	spec := fx.with_pod({"securityContext": {"seLinuxOptions": {"user": "system_u", "role": "system_r"}}})
	data.security.deny_selinux == {
		"pod sets seLinuxOptions.user system_u; custom SELinux users and roles are forbidden",
		"pod sets seLinuxOptions.role system_r; custom SELinux users and roles are forbidden",
	} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.baseline_cluster
}

# --- deny_seccomp_unconfined -----------------------------------------------------------

test_seccomp_unconfined_allowed if {
	spec := fx.with_container({"securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/web.json"}}})
	count(data.security.deny_seccomp_unconfined) == 0 with input as fx.deployment(spec) with data.policyrun.cluster as fx.baseline_cluster
}

test_seccomp_unconfined_pod_denied if {
	spec := fx.with_pod({"securityContext": {"seccompProfile": {"type": "Unconfined"}}})
	data.security.deny_seccomp_unconfined == {"pod sets seccompProfile.type Unconfined; Unconfined disables seccomp, only RuntimeDefault or Localhost are allowed"} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.baseline_cluster
}

test_seccomp_unconfined_container_denied if {
	spec := fx.with_init_container({"securityContext": {"seccompProfile": {"type": "Unconfined"}}})
	data.security.deny_seccomp_unconfined == {`init container "migrate" sets seccompProfile.type Unconfined; Unconfined disables seccomp, only RuntimeDefault or Localhost are allowed`} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.baseline_cluster
}

# --- deny_windows_host_process ---------------------------------------------------------

test_windows_host_process_allowed if {
	spec := fx.with_pod({"os": {"name": "windows"}, "securityContext": {"windowsOptions": {"hostProcess": false, "runAsUserName": "ContainerUser"}}})
	count(data.security.deny_windows_host_process) == 0 with input as fx.deployment(spec) with data.policyrun.cluster as fx.baseline_cluster
}

test_windows_host_process_denied if {
	spec := fx.with_pod({
		"os": {"name": "windows"},
		"hostNetwork": true,
		"securityContext": {"windowsOptions": {"hostProcess": true, "runAsUserName": "NT AUTHORITY\\SYSTEM"}},
	})
	data.security.deny_windows_host_process == {"pod runs as a Windows HostProcess (windowsOptions.hostProcess: true); only false is allowed"} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.baseline_cluster
}

test_windows_host_process_container_denied if {
	spec := fx.with_container({"securityContext": {"windowsOptions": {"hostProcess": true}}})
	data.security.deny_windows_host_process == {`container "web" runs as a Windows HostProcess (windowsOptions.hostProcess: true); only false is allowed`} with input as fx.deployment(spec)
		with data.policyrun.cluster as fx.baseline_cluster
}
