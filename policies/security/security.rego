# The security pack: the Kubernetes Pod Security Standards for every pod-bearing kind, and
# checks that apply in every cluster. One module on purpose: regorus 0.14.1 evaluates a package
# split over several modules wrongly when the package is evaluated as a whole document
# (README.md, "regorus notes").
#
# The Pod Security level of the cluster is data.policyrun.cluster.policy.pod_security:
# "privileged", "baseline" or "restricted"; unset or unknown means "restricted" (fail safe).
# Baseline controls apply at baseline and restricted, restricted controls at restricted only,
# the checks of the last part at every level. The version of the standard is
# data.policyrun.cluster.policy.pod_security_version (lib.kubernetes.pod_security_minor).
# https://kubernetes.io/docs/concepts/security/pod-security-standards/ and, where the page
# and the code differ, the admission plugin's checks (k8s.io/pod-security-admission/policy),
# which are the reference: one section below per control, named as in the standard, with the
# release since which it reads as written here.
#
# Every rule starts with cheap tests, inlined for speed (see lib.kubernetes): the kind (a
# literal copy of lib.kubernetes.pod_kinds for the pod rules) and the level. Checks that look
# at the pod's and the containers' security contexts collect their findings in a helper set
# behind that single gate. Containers of all three lists are iterated inline:
#   some t in ["initContainers", "containers", "ephemeralContainers"]
#   c := data.lib.kubernetes.pod_spec[t][_]
# Rules of other packages are referenced by full path, never through `import`.
#
# Every verdict must be the same in regorus and in OPA (policies/README.md, "Writing rules that
# mean the same in every engine"): a field is bound (`v := c.securityContext.privileged`) and
# then compared, or tested through a helper that takes the bound container (`not
# _drops_all(c)`), never negated as `not f(c.securityContext...)`, `not x in {...}` or with a
# wildcard; builtins get type-checked values. A field the standard restricts is judged against
# its allowed values, so a value of the wrong type (`privileged: "true"`) is a violation, and
# `null` counts as unset, as the API server decodes it.
package security

import rego.v1

# ==========================================================================================
# Baseline level: applies at "baseline" and "restricted".
# ==========================================================================================

# Capabilities a baseline container may add (the standard's list, unchanged since v1.22).
baseline_capabilities := {
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

# Sysctls that are namespaced and isolated between pods. The list grew in v1.27
# (ip_local_reserved_ports), v1.29 (tcp_keepalive_time, tcp_fin_timeout, tcp_keepalive_intvl,
# tcp_keepalive_probes) and v1.32 (tcp_rmem, tcp_wmem); it is the same for every version this
# pack supports (v1.33 to v1.35).
safe_sysctls := {
	"kernel.shm_rmid_forced",
	"net.ipv4.ip_local_port_range",
	"net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range",
	"net.ipv4.ip_local_reserved_ports",
	"net.ipv4.tcp_keepalive_time",
	"net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl",
	"net.ipv4.tcp_keepalive_probes",
	"net.ipv4.tcp_rmem",
	"net.ipv4.tcp_wmem",
}

allowed_apparmor_types := {"RuntimeDefault", "Localhost"}

apparmor_annotation_prefix := "container.apparmor.security.beta.kubernetes.io/"

# container_engine_t is allowed since v1.31; "" is the same as unset.
allowed_selinux_types := {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}

allowed_seccomp_types := {"RuntimeDefault", "Localhost"}

# The probes and lifecycle handlers whose host the baseline level forbids (v1.34).
probe_fields := ["livenessProbe", "readinessProbe", "startupProbe"]

lifecycle_handler_fields := ["postStart", "preStop"]

# A value other than null (unset) and false, for the booleans the standard allows only as
# false (privileged, hostNetwork, hostProcess ...): true, but also "true", 1 or {}.
_set_other_than_false(v) if {
	v != false
	v != null
}

# A list field (capabilities.add, sysctls) set to something that is not a list cannot be
# checked element by element; it is reported instead of passing unread.
_not_a_list(v) if {
	v != null
	not is_array(v)
}

# --- Host Namespaces (baseline, since v1.0) ----------------------------------------------
# spec.hostNetwork, spec.hostPID, spec.hostIPC: undefined/null or false.

deny_host_namespaces contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	v := data.lib.kubernetes.pod_spec[field]
	_set_other_than_false(v)
	msg := sprintf("pod sets %s: %v and shares the node's namespace; only false is allowed", [field, v])
}

# --- Privileged Containers (baseline, since v1.0) ----------------------------------------
# securityContext.privileged of every container: undefined/null or false.

deny_privileged contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	v := c.securityContext.privileged
	_set_other_than_false(v)
	msg := sprintf("%s is privileged (securityContext.privileged: %v); only false is allowed", [data.lib.kubernetes.container_label(t, c), v])
}

# --- Capabilities (baseline, since v1.0) -------------------------------------------------
# securityContext.capabilities.add of every container: undefined/empty or a subset of
# baseline_capabilities.

deny_capabilities contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	some msg in _capabilities_baseline
}

_capabilities_baseline contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	cap := c.securityContext.capabilities.add[_]
	not baseline_capabilities[cap]
	msg := sprintf("%s adds capability %v, beyond the baseline set", [data.lib.kubernetes.container_label(t, c), cap])
}

_capabilities_baseline contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	add := c.securityContext.capabilities.add
	_not_a_list(add)
	msg := sprintf("%s sets securityContext.capabilities.add to %v, which is not a list of capabilities", [data.lib.kubernetes.container_label(t, c), add])
}

# --- HostPath Volumes (baseline, since v1.0) ---------------------------------------------
# spec.volumes[*].hostPath: undefined/null.

deny_host_path contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	v := data.lib.kubernetes.pod_spec.volumes[_]
	host_path := v.hostPath
	host_path != null
	msg := sprintf("volume %q mounts the node's filesystem (hostPath %v)", [volume_name(v), _host_path_path(host_path)])
}

_host_path_path(host_path) := host_path.path if is_string(host_path.path)
else := ""

volume_name(v) := v.name if is_string(v.name)
else := "<unnamed>"

# --- Host Ports (baseline, since v1.0) ---------------------------------------------------
# ports[*].hostPort of every container: undefined/null or 0.

deny_host_ports contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	hp := c.ports[_].hostPort
	hp != null
	hp != 0
	msg := sprintf("%s binds hostPort %v on the node", [data.lib.kubernetes.container_label(t, c), hp])
}

# --- HostProcess (baseline, since v1.0) --------------------------------------------------
# windowsOptions.hostProcess of the pod and of every container: undefined/null or false.

deny_windows_host_process contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	some msg in _host_process
}

_host_process contains msg if {
	v := data.lib.kubernetes.pod_spec.securityContext.windowsOptions.hostProcess
	_set_other_than_false(v)
	msg := sprintf("pod runs as a Windows HostProcess (windowsOptions.hostProcess: %v); only false is allowed", [v])
}

_host_process contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	v := c.securityContext.windowsOptions.hostProcess
	_set_other_than_false(v)
	msg := sprintf("%s runs as a Windows HostProcess (windowsOptions.hostProcess: %v); only false is allowed", [data.lib.kubernetes.container_label(t, c), v])
}

# --- AppArmor (baseline; annotations since v1.0, fields since v1.30) ---------------------
# securityContext.appArmorProfile of the pod and of every container: undefined/null, or a
# profile of type RuntimeDefault or Localhost (a profile without a type is not allowed).
# The pod's container.apparmor.security.beta.kubernetes.io/* annotations: "",
# runtime/default or localhost/<profile>.

deny_apparmor contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	some msg in _apparmor_violations
}

_apparmor_violations contains msg if {
	profile := data.lib.kubernetes.pod_spec.securityContext.appArmorProfile
	profile != null
	not _apparmor_profile_allowed(profile)
	msg := sprintf("pod sets securityContext.appArmorProfile.type %v; only RuntimeDefault or Localhost are allowed", [_type_of(profile)])
}

_apparmor_violations contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	profile := c.securityContext.appArmorProfile
	profile != null
	not _apparmor_profile_allowed(profile)
	msg := sprintf("%s sets securityContext.appArmorProfile.type %v; only RuntimeDefault or Localhost are allowed", [data.lib.kubernetes.container_label(t, c), _type_of(profile)])
}

_apparmor_violations contains msg if {
	value := data.lib.kubernetes.pod_metadata.annotations[key]
	is_string(key)
	startswith(key, apparmor_annotation_prefix)
	not _apparmor_annotation_allowed(value)
	msg := sprintf("annotation %s is %v; only runtime/default or localhost/<profile> are allowed", [key, value])
}

_apparmor_profile_allowed(profile) if allowed_apparmor_types[profile.type]

_apparmor_annotation_allowed(v) if v == ""

_apparmor_annotation_allowed(v) if v == "runtime/default"

_apparmor_annotation_allowed(v) if {
	is_string(v)
	startswith(v, "localhost/")
}

# The type of a seccomp or AppArmor profile for messages; "<none>" when it has none.
_type_of(profile) := profile.type if profile.type != null
else := "<none>"

# --- SELinux (baseline; container_engine_t allowed since v1.31) --------------------------
# seLinuxOptions of the pod and of every container: type undefined/null/"" or one of
# allowed_selinux_types; user and role undefined/null or "".

deny_selinux contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	some msg in _selinux_violations
}

_selinux_violations contains msg if {
	type := data.lib.kubernetes.pod_spec.securityContext.seLinuxOptions.type
	type != null
	not allowed_selinux_types[type]
	msg := sprintf("pod sets seLinuxOptions.type %v; allowed: container_t, container_init_t, container_kvm_t, container_engine_t", [type])
}

_selinux_violations contains msg if {
	some field in ["user", "role"]
	v := data.lib.kubernetes.pod_spec.securityContext.seLinuxOptions[field]
	v != null
	v != ""
	msg := sprintf("pod sets seLinuxOptions.%s %v; custom SELinux users and roles are forbidden", [field, v])
}

_selinux_violations contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	type := c.securityContext.seLinuxOptions.type
	type != null
	not allowed_selinux_types[type]
	msg := sprintf("%s sets seLinuxOptions.type %v; allowed: container_t, container_init_t, container_kvm_t, container_engine_t", [data.lib.kubernetes.container_label(t, c), type])
}

_selinux_violations contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	some field in ["user", "role"]
	v := c.securityContext.seLinuxOptions[field]
	v != null
	v != ""
	msg := sprintf("%s sets seLinuxOptions.%s %v; custom SELinux users and roles are forbidden", [data.lib.kubernetes.container_label(t, c), field, v])
}

# --- /proc Mount Type (baseline since v1.0, relaxed for user namespaces in v1.35; restricted
# variant since v1.35) ----------------------------------------------------------------------
# securityContext.procMount of every container: undefined/null or Default. From v1.35 the
# baseline level allows any procMount in a pod that runs in its own user namespace
# (spec.hostUsers: false, exactly), while the restricted level still allows only Default. One
# rule for both levels, as the restricted check replaces the baseline one in the admission
# plugin.

deny_proc_mount contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	not _proc_mount_relaxed
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	pm := c.securityContext.procMount
	pm != null
	pm != "Default"
	msg := sprintf("%s sets securityContext.procMount %v; only Default is allowed", [data.lib.kubernetes.container_label(t, c), pm])
}

_proc_mount_relaxed if {
	data.policyrun.cluster.policy.pod_security == "baseline"
	data.lib.kubernetes.pod_security_minor >= 35
	data.lib.kubernetes.pod_spec.hostUsers == false
}

# --- Seccomp (baseline, since v1.19) -----------------------------------------------------
# securityContext.seccompProfile of the pod and of every container: undefined/null, or a
# profile of type RuntimeDefault or Localhost. Unconfined is what this is about; a profile
# without a type or with any other type is not allowed either.

deny_seccomp_unconfined contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	some msg in _seccomp_baseline
}

_seccomp_baseline contains msg if {
	profile := data.lib.kubernetes.pod_spec.securityContext.seccompProfile
	profile != null
	not _seccomp_profile_allowed(profile)
	msg := sprintf("pod sets seccompProfile.type %v; Unconfined disables seccomp, only RuntimeDefault or Localhost are allowed", [_type_of(profile)])
}

_seccomp_baseline contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	profile := c.securityContext.seccompProfile
	profile != null
	not _seccomp_profile_allowed(profile)
	msg := sprintf("%s sets seccompProfile.type %v; Unconfined disables seccomp, only RuntimeDefault or Localhost are allowed", [data.lib.kubernetes.container_label(t, c), _type_of(profile)])
}

_seccomp_profile_allowed(profile) if allowed_seccomp_types[profile.type]

# --- Sysctls (baseline; list by version, see safe_sysctls) -------------------------------
# spec.securityContext.sysctls[*].name: one of safe_sysctls; undefined/null or empty list.

deny_sysctls contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	some msg in _sysctl_violations
}

_sysctl_violations contains msg if {
	s := data.lib.kubernetes.pod_spec.securityContext.sysctls[_]
	not _safe_sysctl(s)
	msg := sprintf("pod sets sysctl %v, which is not in the safe set", [_sysctl_name(s)])
}

_sysctl_violations contains msg if {
	sysctls := data.lib.kubernetes.pod_spec.securityContext.sysctls
	_not_a_list(sysctls)
	msg := sprintf("pod sets securityContext.sysctls to %v, which is not a list of sysctls", [sysctls])
}

_safe_sysctl(s) if safe_sysctls[s.name]

_sysctl_name(s) := s.name if s.name != null
else := "<unnamed>"

# --- Probes / Lifecycle Hooks (baseline, since v1.34) ------------------------------------
# httpGet.host and tcpSocket.host of every container's livenessProbe, readinessProbe and
# startupProbe and of its lifecycle.postStart and lifecycle.preStop: undefined/null or "".
# A host sends the kubelet's requests elsewhere than to the pod (the node, another service).

deny_probe_host contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	data.lib.kubernetes.pod_security_minor >= 34
	some msg in _probe_host_violations
}

_probe_host_violations contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	some probe in probe_fields
	some action in ["httpGet", "tcpSocket"]
	host := c[probe][action].host
	host != null
	host != ""
	msg := sprintf("%s sets %s.%s.host %v; probes must not name a host", [data.lib.kubernetes.container_label(t, c), probe, action, host])
}

_probe_host_violations contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	some handler in lifecycle_handler_fields
	some action in ["httpGet", "tcpSocket"]
	host := c.lifecycle[handler][action].host
	host != null
	host != ""
	msg := sprintf("%s sets lifecycle.%s.%s.host %v; lifecycle hooks must not name a host", [data.lib.kubernetes.container_label(t, c), handler, action, host])
}

# --- Version of the standard -------------------------------------------------------------
# Not a control: a pod_security_version this pack does not know is applied as "latest"
# (lib.kubernetes.pod_security_minor) and reported here, on every pod-bearing object of the
# cluster, whenever Pod Security applies at all.

deny_pod_security_version contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	v := data.policyrun.cluster.policy.pod_security_version
	not _known_pod_security_version(v)
	msg := sprintf("cluster %q sets policy.pod_security_version %v, which is not one of v1.33, v1.34, v1.35 or latest; the latest standard (v1.35) applies", [data.lib.kubernetes.cluster_name, v])
}

# A level this pack does not know (a typo such as "baselin", a wrong type) is applied as
# "restricted", the strictest (lib.kubernetes.pod_security_level), and reported here on every
# pod-bearing object, so that it is fixed rather than silently stricter or looser than meant.
deny_pod_security_level contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	level := data.policyrun.cluster.policy.pod_security
	not _known_pod_security_level(level)
	msg := sprintf("cluster %q sets policy.pod_security %v, which is not one of privileged, baseline or restricted; restricted applies", [data.lib.kubernetes.cluster_name, level])
}

_known_pod_security_level(level) if {
	is_string(level)
	data.lib.kubernetes.pod_security_levels[level]
}

_known_pod_security_version(v) if {
	is_string(v)
	data.lib.kubernetes.pod_security_versions[v]
}

# ==========================================================================================
# Restricted level: applies at "restricted" only, on top of the baseline controls.
#
# The level test is two comparisons, not `not ... in {"privileged", "baseline"}` (see
# lib.kubernetes). As in the standard (since v1.25), seccomp, capabilities and privilege
# escalation are Linux-only controls: pods with spec.os.name "windows" are exempt from them.
# Where a baseline control forbids the same value (seccomp Unconfined, capabilities beyond the
# baseline set, hostPath volumes), both rules report it, because both levels forbid it.
# ==========================================================================================

# The volume sources a restricted pod may use; image since v1.33.
restricted_volume_types := {
	"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
	"persistentVolumeClaim", "projected", "secret",
}

# --- Volume Types (restricted, since v1.0; image allowed since v1.33) ---------------------
# Every source field of spec.volumes[*] other than the allowed ones: undefined/null. A volume
# with no source at all passes: the API server makes it an emptyDir.

deny_volume_types contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	not data.policyrun.cluster.policy.pod_security == "baseline"
	v := data.lib.kubernetes.pod_spec.volumes[_]
	source := v[field]
	field != "name"
	source != null
	not restricted_volume_types[field]
	msg := sprintf("volume %q is of type %v; the restricted level allows only configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret", [volume_name(v), field])
}

# --- Privilege Escalation (restricted, since v1.8; Windows pods exempt since v1.25) -------
# securityContext.allowPrivilegeEscalation of every container: false.

deny_privilege_escalation contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	not data.policyrun.cluster.policy.pod_security == "baseline"
	not data.lib.kubernetes.pod_spec.os.name == "windows"
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	not _escalation_disabled(c)
	msg := sprintf("%s must set securityContext.allowPrivilegeEscalation: false", [data.lib.kubernetes.container_label(t, c)])
}

_escalation_disabled(c) if c.securityContext.allowPrivilegeEscalation == false

# --- Running as Non-root and Running as Non-root user (restricted; runAsNonRoot since
# v1.0, runAsUser since v1.23; both waived for pods in a user namespace since v1.35) -------
# runAsNonRoot: true on the pod, or on every container; no context sets it to anything but
# true. runAsUser: undefined/null or a non-zero number on the pod and every container. From
# v1.35 neither applies to a pod with spec.hostUsers: false, whose root is not the node's.

deny_run_as_root contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	not data.policyrun.cluster.policy.pod_security == "baseline"
	not _in_user_namespace_v1_35
	some msg in _run_as_root
}

_in_user_namespace_v1_35 if {
	data.lib.kubernetes.pod_security_minor >= 35
	data.lib.kubernetes.pod_spec.hostUsers == false
}

_run_as_root contains msg if {
	v := data.lib.kubernetes.pod_spec.securityContext.runAsNonRoot
	v != true
	v != null
	msg := sprintf("pod sets securityContext.runAsNonRoot: %v; only true is allowed", [v])
}

_run_as_root contains msg if {
	v := data.lib.kubernetes.pod_spec.securityContext.runAsUser
	not _uid_allowed(v)
	msg := sprintf("pod sets securityContext.runAsUser: %v; it must be a non-zero user id (0 is root)", [v])
}

_run_as_root contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	not _runs_as_non_root(c)
	msg := sprintf("%s may run as root: set securityContext.runAsNonRoot: true on the pod or the container", [data.lib.kubernetes.container_label(t, c)])
}

_run_as_root contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	v := c.securityContext.runAsUser
	not _uid_allowed(v)
	msg := sprintf("%s sets securityContext.runAsUser: %v; it must be a non-zero user id (0 is root)", [data.lib.kubernetes.container_label(t, c), v])
}

_uid_allowed(v) if v == null

_uid_allowed(v) if {
	is_number(v)
	v != 0
}

# The container's own runAsNonRoot wins; when it does not set one (or sets null), the pod's
# applies.
_runs_as_non_root(c) if c.securityContext.runAsNonRoot == true

_runs_as_non_root(c) if {
	not _sets_run_as_non_root(c)
	data.lib.kubernetes.pod_spec.securityContext.runAsNonRoot == true
}

_sets_run_as_non_root(c) if c.securityContext.runAsNonRoot != null

# --- Seccomp (restricted, since v1.19; Windows pods exempt since v1.25) -------------------
# seccompProfile.type RuntimeDefault or Localhost on the pod, or on every container; no
# context sets a profile of any other type (or one without a type).

deny_seccomp_profile contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	not data.policyrun.cluster.policy.pod_security == "baseline"
	not data.lib.kubernetes.pod_spec.os.name == "windows"
	some msg in _seccomp_profile
}

_seccomp_profile contains msg if {
	profile := data.lib.kubernetes.pod_spec.securityContext.seccompProfile
	profile != null
	not _seccomp_profile_allowed(profile)
	msg := sprintf("pod sets seccompProfile.type %v; the restricted level requires RuntimeDefault or Localhost", [_type_of(profile)])
}

_seccomp_profile contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	profile := c.securityContext.seccompProfile
	profile != null
	not _seccomp_profile_allowed(profile)
	msg := sprintf("%s sets seccompProfile.type %v; the restricted level requires RuntimeDefault or Localhost", [data.lib.kubernetes.container_label(t, c), _type_of(profile)])
}

# A container without a profile of its own is reported when the pod sets none either; when the
# pod sets a forbidden one, the message about the pod covers it.
_seccomp_profile contains msg if {
	not _pod_sets_seccomp_profile
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	not _sets_seccomp_profile(c)
	msg := sprintf("%s has no seccomp profile: set securityContext.seccompProfile.type RuntimeDefault (or Localhost) on the pod or the container", [data.lib.kubernetes.container_label(t, c)])
}

_pod_sets_seccomp_profile if data.lib.kubernetes.pod_spec.securityContext.seccompProfile != null

_sets_seccomp_profile(c) if c.securityContext.seccompProfile != null

# --- Capabilities (restricted, since v1.22; Windows pods exempt since v1.25) -------------
# securityContext.capabilities.drop of every container: a list that includes ALL.
# securityContext.capabilities.add: undefined/null, empty, or only NET_BIND_SERVICE.

deny_capabilities_drop_all contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	not data.policyrun.cluster.policy.pod_security == "baseline"
	not data.lib.kubernetes.pod_spec.os.name == "windows"
	some msg in _capabilities_restricted
}

_capabilities_restricted contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	not _drops_all(c)
	msg := sprintf("%s must drop all capabilities (securityContext.capabilities.drop: [\"ALL\"])", [data.lib.kubernetes.container_label(t, c)])
}

_capabilities_restricted contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	cap := c.securityContext.capabilities.add[_]
	cap != "NET_BIND_SERVICE"
	msg := sprintf("%s adds capability %v; the restricted level allows adding only NET_BIND_SERVICE", [data.lib.kubernetes.container_label(t, c), cap])
}

_capabilities_restricted contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	add := c.securityContext.capabilities.add
	_not_a_list(add)
	msg := sprintf("%s sets securityContext.capabilities.add to %v, which is not a list of capabilities", [data.lib.kubernetes.container_label(t, c), add])
}

_drops_all(c) if {
	drop := c.securityContext.capabilities.drop
	is_array(drop)
	drop[_] == "ALL"
}

# ==========================================================================================
# Every level.
# ==========================================================================================

# --- Image references ------------------------------------------------------------------
#
# Every container (init and ephemeral ones too) names an image pinned by a tag or a digest;
# `:latest` is not a pin. A digest pins the image even next to a tag (`app:1.2@sha256:...`).
# The tag is looked for after the last "/" only, so the port of `registry:5000/app` is not
# mistaken for a tag.

deny_image_tag contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	not _image_pinned(c)
	problem := _image_problem(_image_of(c))
	msg := sprintf("%s %s", [data.lib.kubernetes.container_label(t, c), problem])
}

_image_of(c) := c.image if c.image != null
else := null

# The common case first, in one step: a digest, or a tag other than latest. Takes the
# container, not its image: `not _image_pinned(c.image)` would be undefined in OPA for a
# container without image (the call is never made) and a violation in regorus.
_image_pinned(c) if image_digest(c.image)

_image_pinned(c) if {
	tag := image_tag(c.image)
	lower(tag) != "latest"
}

_image_problem(image) := "has no image" if not _nonempty_string(image)

_image_problem(image) := sprintf("image %q has neither a tag nor a digest; pin a version", [image]) if {
	_nonempty_string(image)
	not image_digest(image)
	not image_tag(image)
}

_image_problem(image) := sprintf("image %q uses the latest tag; pin a version", [image]) if {
	_nonempty_string(image)
	not image_digest(image)
	lower(image_tag(image)) == "latest"
}

# The digest of an image reference ("sha256:..."), if it has a non-empty one.
image_digest(image) := d if {
	is_string(image)
	i := indexof(image, "@")
	i >= 0
	d := substring(image, i + 1, -1)
	d != ""
}

# The tag of an image reference, if it has a non-empty one.
image_tag(image) := t if {
	is_string(image)
	name := split(image, "@")[0]
	segments := split(name, "/")
	last := segments[count(segments) - 1]
	i := indexof(last, ":")
	i >= 0
	t := substring(last, i + 1, -1)
	t != ""
}

_nonempty_string(s) if {
	is_string(s)
	s != ""
}

# --- Resources -------------------------------------------------------------------------
#
# Every container and init container (ephemeral containers cannot set resources) requests
# cpu and memory and sets limits for both. CPU limits are required too: they keep one noisy
# workload from starving its neighbours on a node and make the pod's cost predictable; a
# workload that must not be throttled can waive security.deny_resources.

deny_resources contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	some t in ["initContainers", "containers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	not _all_resources(c)
	missing := [path |
		some path in ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"]
		not _has_resource(c, path)
	]
	msg := sprintf("%s does not set resources.%s", [data.lib.kubernetes.container_label(t, c), concat(", resources.", missing)])
}

# The common case in one step. Both helpers take the container, never `c.resources`: negating
# a call on a reference that may be undefined is where OPA and regorus part (README.md).
_all_resources(c) if {
	r := c.resources
	r.requests.cpu != null
	r.requests.cpu != ""
	r.requests.memory != null
	r.requests.memory != ""
	r.limits.cpu != null
	r.limits.cpu != ""
	r.limits.memory != null
	r.limits.memory != ""
}

_has_resource(c, "requests.cpu") if _quantity(c.resources.requests.cpu)

_has_resource(c, "requests.memory") if _quantity(c.resources.requests.memory)

_has_resource(c, "limits.cpu") if _quantity(c.resources.limits.cpu)

_has_resource(c, "limits.memory") if _quantity(c.resources.limits.memory)

_quantity(q) if {
	q != null
	q != ""
}

# --- Readiness probes ------------------------------------------------------------------
#
# The containers (not init containers) of long-running workloads report readiness, so that
# rollouts and Services only send traffic to pods that can take it.

deny_readiness_probe contains msg if {
	input.kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}
	c := data.lib.kubernetes.pod_spec.containers[_]
	not _has_readiness_probe(c)
	msg := sprintf("container %q has no readinessProbe", [data.lib.kubernetes.container_name(c)])
}

# `not is_object(c.readinessProbe)` in the rule would pass every container without a probe in
# OPA, which leaves the whole expression undefined when its argument is.
_has_readiness_probe(c) if is_object(c.readinessProbe)

# --- Ingress TLS -----------------------------------------------------------------------
#
# An Ingress (networking.k8s.io, or the old extensions group) serves every host it routes
# over TLS: spec.tls is set and lists each rule's host, exactly or through a wildcard
# `*.example.com` covering one label. Rules without a host need only some spec.tls entry.

deny_ingress_tls contains msg if {
	input.kind == "Ingress"
	some msg in _ingress_tls_violations
}

_ingress_tls_violations contains "Ingress has no spec.tls; every host must be served over TLS" if {
	_is_ingress_api
	not _has_tls
}

_ingress_tls_violations contains msg if {
	_is_ingress_api
	_has_tls
	host := input.spec.rules[_].host
	_nonempty_string(host)
	not _tls_covers(host)
	msg := sprintf("Ingress host %q is not covered by spec.tls[*].hosts", [host])
}

_is_ingress_api if {
	is_string(input.apiVersion)
	startswith(input.apiVersion, "networking.k8s.io/")
}

_is_ingress_api if {
	is_string(input.apiVersion)
	startswith(input.apiVersion, "extensions/")
}

_has_tls if is_object(input.spec.tls[_])

_tls_covers(host) if input.spec.tls[_].hosts[_] == host

_tls_covers(host) if {
	pattern := input.spec.tls[_].hosts[_]
	is_string(pattern)
	startswith(pattern, "*.")
	suffix := substring(pattern, 1, -1)
	endswith(host, suffix)
	label := substring(host, 0, count(host) - count(suffix))
	label != ""
	not contains(label, ".")
	not contains(label, "*")
}

# --- Plaintext Secrets -----------------------------------------------------------------
#
# A Secret with data or stringData in the repository is a secret committed to git in
# plaintext (base64 is an encoding, not encryption). The message names the keys, never the
# values. A Secret without data (a service-account-token Secret the cluster fills, say) is
# fine; keep real secrets in a SealedSecret, an ExternalSecret, SOPS or the like.

deny_secret_plaintext contains msg if {
	input.kind == "Secret"
	some field in ["data", "stringData"]
	keys := [sprintf("%q", [k]) | _ = input[field][k]; is_string(k)]
	count(keys) > 0
	msg := sprintf("Secret %q commits %s values to git in plaintext (keys %s); use an encrypted or external secret", [data.lib.kubernetes.object_name, field, concat(", ", sort(keys))])
}
