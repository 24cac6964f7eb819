# The security pack: the Kubernetes Pod Security Standards for every pod-bearing kind, and
# checks that apply in every cluster. One module on purpose: regorus 0.14.1 evaluates a package
# split over several modules wrongly when the package is evaluated as a whole document
# (README.md, "regorus notes").
#
# The Pod Security level of the cluster is data.policyrun.cluster.policy.pod_security:
# "privileged", "baseline" or "restricted"; unset or unknown means "restricted" (fail safe).
# Baseline controls apply at baseline and restricted, restricted controls at restricted only,
# the checks of the last part at every level.
# https://kubernetes.io/docs/concepts/security/pod-security-standards/
#
# Every rule starts with cheap tests, inlined for speed (see lib.kubernetes): the kind (a
# literal copy of lib.kubernetes.pod_kinds for the pod rules) and the level. Checks that look
# at the pod's and the containers' security contexts collect their findings in a helper set
# behind that single gate. Containers of all three lists are iterated inline:
#   some t in ["initContainers", "containers", "ephemeralContainers"]
#   c := data.lib.kubernetes.pod_spec[t][_]
# Rules of other packages are referenced by full path, never through `import`.
package security

import rego.v1

# ==========================================================================================
# Baseline level: applies at "baseline" and "restricted".
# ==========================================================================================

# Capabilities a baseline container may add.
baseline_capabilities := {
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

# Sysctls that are namespaced and isolated between pods (the PSS list as of Kubernetes 1.32).
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

allowed_selinux_types := {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}

# --- Privileged containers -------------------------------------------------------------

deny_privileged contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	c.securityContext.privileged == true
	msg := sprintf("%s is privileged (securityContext.privileged: true)", [data.lib.kubernetes.container_label(t, c)])
}

# --- Host namespaces -------------------------------------------------------------------

deny_host_namespaces contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	some field in ["hostNetwork", "hostPID", "hostIPC"]
	data.lib.kubernetes.pod_spec[field] == true
	msg := sprintf("pod sets %s: true and shares the node's namespace", [field])
}

# --- HostPath volumes ------------------------------------------------------------------

deny_host_path contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	v := data.lib.kubernetes.pod_spec.volumes[_]
	is_object(v.hostPath)
	msg := sprintf("volume %q mounts the node's filesystem (hostPath %v)", [volume_name(v), object.get(v.hostPath, "path", "")])
}

volume_name(v) := v.name if is_string(v.name)
else := "<unnamed>"

# --- Host ports ------------------------------------------------------------------------

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

# --- Capabilities ----------------------------------------------------------------------

deny_capabilities contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	cap := c.securityContext.capabilities.add[_]
	not baseline_capabilities[cap]
	msg := sprintf("%s adds capability %v, beyond the baseline set", [data.lib.kubernetes.container_label(t, c), cap])
}

# --- /proc mount type ------------------------------------------------------------------

deny_proc_mount contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	pm := c.securityContext.procMount
	pm != null
	pm != "Default"
	msg := sprintf("%s sets securityContext.procMount %v; only Default is allowed", [data.lib.kubernetes.container_label(t, c), pm])
}

# --- Sysctls ---------------------------------------------------------------------------

deny_sysctls contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	s := data.lib.kubernetes.pod_spec.securityContext.sysctls[_]
	not safe_sysctls[s.name]
	msg := sprintf("pod sets sysctl %v, which is not in the safe set", [_sysctl_name(s)])
}

_sysctl_name(s) := s.name if s.name != null
else := "<unnamed>"

# --- AppArmor --------------------------------------------------------------------------

deny_apparmor contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	some msg in _apparmor_violations
}

_apparmor_violations contains msg if {
	t := data.lib.kubernetes.pod_spec.securityContext.appArmorProfile.type
	not allowed_apparmor_types[t]
	msg := sprintf("pod sets securityContext.appArmorProfile.type %v; only RuntimeDefault or Localhost are allowed", [t])
}

_apparmor_violations contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	type := c.securityContext.appArmorProfile.type
	not allowed_apparmor_types[type]
	msg := sprintf("%s sets securityContext.appArmorProfile.type %v; only RuntimeDefault or Localhost are allowed", [data.lib.kubernetes.container_label(t, c), type])
}

_apparmor_violations contains msg if {
	value := data.lib.kubernetes.pod_metadata.annotations[key]
	is_string(key)
	startswith(key, apparmor_annotation_prefix)
	not _apparmor_annotation_allowed(value)
	msg := sprintf("annotation %s is %v; only runtime/default or localhost/<profile> are allowed", [key, value])
}

_apparmor_annotation_allowed("") := true

_apparmor_annotation_allowed("runtime/default") := true

_apparmor_annotation_allowed(v) if {
	is_string(v)
	startswith(v, "localhost/")
}

# --- SELinux ---------------------------------------------------------------------------

deny_selinux contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	some msg in _selinux_violations
}

_selinux_violations contains msg if {
	some msg in _selinux_option_violations("pod", data.lib.kubernetes.pod_spec.securityContext.seLinuxOptions)
}

_selinux_violations contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	some msg in _selinux_option_violations(data.lib.kubernetes.container_label(t, c), c.securityContext.seLinuxOptions)
}

_selinux_option_violations(where, opts) := {msg |
	type := opts.type
	type != null
	not allowed_selinux_types[type]
	msg := sprintf("%s sets seLinuxOptions.type %v; allowed: container_t, container_init_t, container_kvm_t, container_engine_t", [where, type])
} | {msg |
	some field in ["user", "role"]
	v := opts[field]
	v != null
	v != ""
	msg := sprintf("%s sets seLinuxOptions.%s %v; custom SELinux users and roles are forbidden", [where, field, v])
}

# --- Seccomp ---------------------------------------------------------------------------

deny_seccomp_unconfined contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	some msg in _seccomp_unconfined
}

_seccomp_unconfined contains "pod sets seccompProfile.type Unconfined, which disables seccomp" if {
	data.lib.kubernetes.pod_spec.securityContext.seccompProfile.type == "Unconfined"
}

_seccomp_unconfined contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	c.securityContext.seccompProfile.type == "Unconfined"
	msg := sprintf("%s sets seccompProfile.type Unconfined, which disables seccomp", [data.lib.kubernetes.container_label(t, c)])
}

# --- Windows HostProcess ---------------------------------------------------------------

deny_windows_host_process contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security == "privileged"
	some msg in _host_process
}

_host_process contains "pod runs as a Windows HostProcess (windowsOptions.hostProcess: true)" if {
	data.lib.kubernetes.pod_spec.securityContext.windowsOptions.hostProcess == true
}

_host_process contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	c.securityContext.windowsOptions.hostProcess == true
	msg := sprintf("%s runs as a Windows HostProcess (windowsOptions.hostProcess: true)", [data.lib.kubernetes.container_label(t, c)])
}

# ==========================================================================================
# Restricted level: applies at "restricted" only, on top of the baseline controls.
#
# As in the standard, seccomp, capabilities and privilege escalation are Linux-only controls:
# pods with spec.os.name "windows" are exempt from them. Where a baseline control forbids the
# same value (seccomp Unconfined, capabilities beyond the baseline set, hostPath volumes), both
# rules report it, because both levels forbid it.
# ==========================================================================================

# The volume sources a restricted pod may use.
restricted_volume_types := {
	"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
	"persistentVolumeClaim", "projected", "secret",
}

allowed_seccomp_types := {"RuntimeDefault", "Localhost"}

# --- Volume types ----------------------------------------------------------------------

deny_volume_types contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security in {"privileged", "baseline"}
	v := data.lib.kubernetes.pod_spec.volumes[_]
	source := v[field]
	field != "name"
	source != null
	not restricted_volume_types[field]
	msg := sprintf("volume %q is of type %v; the restricted level allows only configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, projected and secret", [volume_name(v), field])
}

# --- Privilege escalation --------------------------------------------------------------

deny_privilege_escalation contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security in {"privileged", "baseline"}
	not data.lib.kubernetes.pod_spec.os.name == "windows"
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	not c.securityContext.allowPrivilegeEscalation == false
	msg := sprintf("%s must set securityContext.allowPrivilegeEscalation: false", [data.lib.kubernetes.container_label(t, c)])
}

# --- Running as non-root ---------------------------------------------------------------
#
# runAsNonRoot must be true for every container: set on the container, or on the pod and not
# overridden with false by the container. runAsUser must not be 0 anywhere.

deny_run_as_root contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security in {"privileged", "baseline"}
	some msg in _run_as_root
}

_run_as_root contains "pod sets securityContext.runAsNonRoot: false" if {
	data.lib.kubernetes.pod_spec.securityContext.runAsNonRoot == false
}

_run_as_root contains "pod sets securityContext.runAsUser: 0 (root)" if {
	data.lib.kubernetes.pod_spec.securityContext.runAsUser == 0
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
	c.securityContext.runAsUser == 0
	msg := sprintf("%s sets securityContext.runAsUser: 0 (root)", [data.lib.kubernetes.container_label(t, c)])
}

# The container's own runAsNonRoot wins; when it does not set one, the pod's applies.
_runs_as_non_root(c) if c.securityContext.runAsNonRoot == true

_runs_as_non_root(c) if {
	not c.securityContext.runAsNonRoot == false
	data.lib.kubernetes.pod_spec.securityContext.runAsNonRoot == true
}

# --- Seccomp ---------------------------------------------------------------------------
#
# The pod sets RuntimeDefault or Localhost, or every container does; no context sets
# anything else.

deny_seccomp_profile contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security in {"privileged", "baseline"}
	not data.lib.kubernetes.pod_spec.os.name == "windows"
	some msg in _seccomp_profile
}

_seccomp_profile contains msg if {
	type := data.lib.kubernetes.pod_spec.securityContext.seccompProfile.type
	type != null
	not allowed_seccomp_types[type]
	msg := sprintf("pod sets seccompProfile.type %v; the restricted level requires RuntimeDefault or Localhost", [type])
}

_seccomp_profile contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	type := c.securityContext.seccompProfile.type
	type != null
	not allowed_seccomp_types[type]
	msg := sprintf("%s sets seccompProfile.type %v; the restricted level requires RuntimeDefault or Localhost", [data.lib.kubernetes.container_label(t, c), type])
}

_seccomp_profile contains msg if {
	not _seccomp_type_set(data.lib.kubernetes.pod_spec.securityContext)
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	not _seccomp_type_set(c.securityContext)
	msg := sprintf("%s has no seccomp profile: set securityContext.seccompProfile.type RuntimeDefault (or Localhost) on the pod or the container", [data.lib.kubernetes.container_label(t, c)])
}

_seccomp_type_set(sc) if sc.seccompProfile.type != null

# --- Capabilities ----------------------------------------------------------------------
#
# Every container drops ALL and adds back at most NET_BIND_SERVICE.

deny_capabilities_drop_all contains msg if {
	input.kind in {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
	not data.policyrun.cluster.policy.pod_security in {"privileged", "baseline"}
	not data.lib.kubernetes.pod_spec.os.name == "windows"
	some msg in _capabilities_drop_all
}

_capabilities_drop_all contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	not c.securityContext.capabilities.drop[_] == "ALL"
	msg := sprintf("%s must drop all capabilities (securityContext.capabilities.drop: [\"ALL\"])", [data.lib.kubernetes.container_label(t, c)])
}

_capabilities_drop_all contains msg if {
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := data.lib.kubernetes.pod_spec[t][_]
	cap := c.securityContext.capabilities.add[_]
	cap != "NET_BIND_SERVICE"
	msg := sprintf("%s adds capability %v; the restricted level allows adding only NET_BIND_SERVICE", [data.lib.kubernetes.container_label(t, c), cap])
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
	not _image_pinned(c.image)
	problem := _image_problem(_image_of(c))
	msg := sprintf("%s %s", [data.lib.kubernetes.container_label(t, c), problem])
}

_image_of(c) := c.image if c.image != null
else := null

# The common case first, in one step: a digest, or a tag other than latest.
_image_pinned(image) if image_digest(image)

_image_pinned(image) if {
	tag := image_tag(image)
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
	not _all_resources(c.resources)
	missing := [path |
		some path in ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"]
		not _has_resource(c.resources, path)
	]
	msg := sprintf("%s does not set resources.%s", [data.lib.kubernetes.container_label(t, c), concat(", resources.", missing)])
}

# The common case in one step.
_all_resources(r) if {
	r.requests.cpu != null
	r.requests.cpu != ""
	r.requests.memory != null
	r.requests.memory != ""
	r.limits.cpu != null
	r.limits.cpu != ""
	r.limits.memory != null
	r.limits.memory != ""
}

_has_resource(r, "requests.cpu") if _quantity(r.requests.cpu)

_has_resource(r, "requests.memory") if _quantity(r.requests.memory)

_has_resource(r, "limits.cpu") if _quantity(r.limits.cpu)

_has_resource(r, "limits.memory") if _quantity(r.limits.memory)

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
	not is_object(c.readinessProbe)
	msg := sprintf("container %q has no readinessProbe", [data.lib.kubernetes.container_name(c)])
}

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
