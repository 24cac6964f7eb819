# Namespaces: every namespaced object names its namespace explicitly, and that namespace is
# created in the same cluster's tree.
#
# data.policyrun.object.namespaced is true or false when policyrun knows the kind's scope and
# absent when it does not; deny_missing_namespace and deny_namespace_on_cluster_scoped judge
# only a known scope. deny_unknown_namespace judges every object that sets a namespace unless
# its kind is known to be cluster-scoped (deny_namespace_on_cluster_scoped covers that case).
#
# Optional cluster parameter: data.policyrun.cluster.policy.external_namespaces, a list of
# namespaces that exist in the cluster without being created by its tree (kube-system, ...).
package namespace

import rego.v1

deny_missing_namespace contains msg if {
	data.policyrun.object.namespaced == true
	not _namespace
	msg := sprintf("%s %q is namespaced but sets no metadata.namespace; name the namespace explicitly", [data.lib.kubernetes.object_kind, data.lib.kubernetes.object_name])
}

deny_unknown_namespace contains msg if {
	ns := _namespace
	not data.policyrun.object.namespaced == false
	not _known_namespace(ns)
	msg := sprintf("namespace %q is not created in cluster %q (no Namespace object of that name in its tree)", [ns, data.lib.kubernetes.cluster_name])
}

deny_namespace_on_cluster_scoped contains msg if {
	data.policyrun.object.namespaced == false
	ns := _namespace
	msg := sprintf("%s %q is cluster-scoped but sets metadata.namespace %q; remove it", [data.lib.kubernetes.object_kind, data.lib.kubernetes.object_name, ns])
}

# The object's namespace, when it sets a non-empty one.
_namespace := ns if {
	ns := input.metadata.namespace
	is_string(ns)
	ns != ""
}

# Iterated with a reference, which reads any value (null, a string) the same way in OPA and
# regorus; `some n in <string>` is an error in regorus.
_known_namespace(ns) if data.policyrun.cluster.namespaces[_] == ns

_known_namespace(ns) if data.policyrun.cluster.policy.external_namespaces[_] == ns
