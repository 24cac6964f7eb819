# Helpers shared by the bundled packs: where the pod spec of each pod-bearing kind sits,
# every container with the list it belongs to, and the Pod Security level of the cluster.
#
# Written for regorus: iterate input-derived collections with refs (`x[_]`), never with
# `some v in x`, and type-check values before handing them to builtins. regorus raises an
# error (OPA would yield undefined) when `some .. in` meets null or a string and, by default,
# when a builtin gets an argument of the wrong type; jsonnet output may well hold nulls.
package lib.kubernetes

import rego.v1

# Every kind that carries a pod spec. For speed the rules of the security pack gate on a
# literal copy of this set (regorus pays for every rule reference); security/levels_test.rego
# checks that every rule fires for each of these kinds.
pod_kinds := {
	"Pod", "CronJob",
	"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController",
}

# Long-running workloads whose containers must report readiness (not Job, CronJob, bare Pod).
# The rule gates on a literal copy too.
readiness_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}

is_pod_bearing if pod_kinds[input.kind]

# The pod spec of the input object; undefined for kinds that carry none. An else chain with
# the commonest kinds first: regorus evaluates every definition of a multi-definition rule,
# but stops an else chain at the first match.
pod_spec := input.spec.template.spec if {
	input.kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}
} else := input.spec if {
	input.kind == "Pod"
} else := input.spec.jobTemplate.spec.template.spec if {
	input.kind == "CronJob"
}

# The metadata of the pod: the object's own for a Pod, the template's otherwise.
pod_metadata := input.spec.template.metadata if {
	input.kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController"}
} else := input.metadata if {
	input.kind == "Pod"
} else := input.spec.jobTemplate.spec.template.metadata if {
	input.kind == "CronJob"
}

# The three container lists of a pod spec, in start order. Rules iterate them inline,
#   some t in ["initContainers", "containers", "ephemeralContainers"]
#   c := pod_spec[t][_]
# which in regorus is cheaper than going through the `containers` rule below.
container_types := ["initContainers", "containers", "ephemeralContainers"]

container_type_labels := {
	"initContainers": "init container",
	"containers": "container",
	"ephemeralContainers": "ephemeral container",
}

# Every container of the pod as {"type": <list name>, "container": <container>}.
containers := [{"type": t, "container": c} |
	some t in ["initContainers", "containers", "ephemeralContainers"]
	c := pod_spec[t][_]
]

container_name(c) := c.name if is_string(c.name)
else := "<unnamed>"

# `container "nginx"`, `init container "migrate"`, `ephemeral container "debug"`, for
# container c of list t.
container_label(t, c) := sprintf("%s %q", [container_type_labels[t], container_name(c)])

# Windows pods are exempt from the Linux-only restricted controls (seccomp, capabilities,
# privilege escalation), as in the Pod Security Standards.
is_windows if pod_spec.os.name == "windows"

object_name := n if {
	n := input.metadata.name
	is_string(n)
} else := "<unnamed>"

object_kind := k if {
	k := input.kind
	is_string(k)
} else := "<no kind>"

# --- Pod Security level of the cluster --------------------------------------------------
#
# data.policyrun.cluster.policy.pod_security: "privileged", "baseline" or "restricted".
# Unset, or set to anything else, means "restricted": fail safe.

pod_security_levels := {"privileged", "baseline", "restricted"}

default pod_security_level := "restricted"

pod_security_level := l if {
	l := data.policyrun.cluster.policy.pod_security
	pod_security_levels[l]
}

# The baseline controls apply at baseline and restricted.
baseline_enforced if pod_security_level != "privileged"

# The restricted controls apply at restricted only.
restricted_enforced if pod_security_level == "restricted"

# For speed the security rules inline these two tests (equivalent for every value of
# pod_security, set or not):
#   baseline:   not data.policyrun.cluster.policy.pod_security == "privileged"
#   restricted: not data.policyrun.cluster.policy.pod_security == "privileged"
#               not data.policyrun.cluster.policy.pod_security == "baseline"
# Not `not ... pod_security in {"privileged", "baseline"}`: `in` is a call, and OPA evaluates
# a call whose argument is undefined as undefined before negating it, so with pod_security
# unset that body fails in OPA (no restricted control would apply) and succeeds in regorus.
# A comparison of a reference (`==`) is negated as a whole in both engines.

# --- Version of the Pod Security Standards ----------------------------------------------
#
# data.policyrun.cluster.policy.pod_security_version pins the standard of a Kubernetes
# release, as the namespace label pod-security.kubernetes.io/enforce-version does for the
# admission plugin: "v1.33", "v1.34", "v1.35" or "latest". Unset means "latest". Any other
# value also means "latest", the standard the pack is written for, and
# security.deny_pod_security_version reports it on every pod-bearing object, so that a typo
# (or a pin to a release this pack does not know) never goes unnoticed.
#
# The value is the minor release the standard belongs to; "latest" is the newest release
# whose standard this pack implements, v1.35 (the release of policyrun's built-in schemas).

pod_security_versions := {"v1.33": 33, "v1.34": 34, "v1.35": 35, "latest": 35}

default pod_security_minor := 35

pod_security_minor := m if {
	v := data.policyrun.cluster.policy.pod_security_version
	is_string(v)
	m := pod_security_versions[v]
}

cluster_name := n if {
	n := data.policyrun.cluster.name
	is_string(n)
} else := "<unnamed cluster>"
