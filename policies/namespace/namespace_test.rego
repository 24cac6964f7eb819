package namespace_test

import rego.v1

import data.lib.fixtures_test as fx

configmap := {
	"apiVersion": "v1",
	"kind": "ConfigMap",
	"metadata": {"name": "web", "namespace": "shop"},
	"data": {"LOG_LEVEL": "info"},
}

without_namespace := object.union(object.remove(configmap, ["metadata"]), {"metadata": {"name": "web"}})

namespace_object := {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}

cluster_role := {
	"apiVersion": "rbac.authorization.k8s.io/v1",
	"kind": "ClusterRole",
	"metadata": {"name": "shop-reader"},
	"rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}],
}

# --- deny_missing_namespace ------------------------------------------------------------

test_missing_namespace_allowed if {
	count(data.namespace.deny_missing_namespace) == 0 with input as configmap
		with data.policyrun.cluster as fx.restricted_cluster
		with data.policyrun.object as fx.namespaced_object
}

test_missing_namespace_denied if {
	data.namespace.deny_missing_namespace == {`ConfigMap "web" is namespaced but sets no metadata.namespace; name the namespace explicitly`} with input as without_namespace
		with data.policyrun.cluster as fx.restricted_cluster
		with data.policyrun.object as fx.namespaced_object
}

test_empty_namespace_denied if {
	obj := object.union(configmap, {"metadata": {"namespace": ""}})
	count(data.namespace.deny_missing_namespace) == 1 with input as obj
		with data.policyrun.cluster as fx.restricted_cluster
		with data.policyrun.object as fx.namespaced_object
}

test_missing_namespace_not_judged_for_unknown_scope if {
	count(data.namespace.deny_missing_namespace) == 0 with input as without_namespace
		with data.policyrun.cluster as fx.restricted_cluster
		with data.policyrun.object as fx.unknown_scope_object
}

test_missing_namespace_not_required_of_cluster_scoped if {
	count(data.namespace.deny_missing_namespace) == 0 with input as cluster_role
		with data.policyrun.cluster as fx.restricted_cluster
		with data.policyrun.object as fx.cluster_scoped_object
}

# --- deny_unknown_namespace ------------------------------------------------------------

test_known_namespace_allowed if {
	count(data.namespace.deny_unknown_namespace) == 0 with input as configmap
		with data.policyrun.cluster as fx.restricted_cluster
		with data.policyrun.object as fx.namespaced_object
}

test_unknown_namespace_denied if {
	obj := object.union(configmap, {"metadata": {"namespace": "payments"}})
	data.namespace.deny_unknown_namespace == {`namespace "payments" is not created in cluster "prod" (no Namespace object of that name in its tree)`} with input as obj
		with data.policyrun.cluster as fx.restricted_cluster
		with data.policyrun.object as fx.namespaced_object
}

test_unknown_namespace_denied_for_unknown_scope if {
	obj := {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "web", "namespace": "payments"}}
	count(data.namespace.deny_unknown_namespace) == 1 with input as obj
		with data.policyrun.cluster as fx.restricted_cluster
		with data.policyrun.object as fx.unknown_scope_object
}

test_namespace_of_another_cluster_denied if {
	# "monitoring" exists in prod's tree, not in this cluster's.
	cluster := {"name": "edge", "policy": {}, "namespaces": ["shop"]}
	obj := object.union(configmap, {"metadata": {"namespace": "monitoring"}})
	count(data.namespace.deny_unknown_namespace) == 1 with input as obj
		with data.policyrun.cluster as cluster
		with data.policyrun.object as fx.namespaced_object
}

test_external_namespace_allowed if {
	cluster := object.union(fx.restricted_cluster, {"policy": {"external_namespaces": ["kube-system"]}})
	obj := object.union(configmap, {"metadata": {"namespace": "kube-system"}})
	count(data.namespace.deny_unknown_namespace) == 0 with input as obj
		with data.policyrun.cluster as cluster
		with data.policyrun.object as fx.namespaced_object
}

test_unknown_namespace_not_judged_for_cluster_scoped if {
	obj := object.union(cluster_role, {"metadata": {"namespace": "payments"}})
	count(data.namespace.deny_unknown_namespace) == 0 with input as obj
		with data.policyrun.cluster as fx.restricted_cluster
		with data.policyrun.object as fx.cluster_scoped_object
}

# --- deny_namespace_on_cluster_scoped --------------------------------------------------

test_cluster_scoped_without_namespace_allowed if {
	count(data.namespace.deny_namespace_on_cluster_scoped) == 0 with input as namespace_object
		with data.policyrun.cluster as fx.restricted_cluster
		with data.policyrun.object as fx.cluster_scoped_object
}

test_cluster_scoped_with_namespace_denied if {
	obj := object.union(cluster_role, {"metadata": {"namespace": "shop"}})
	data.namespace.deny_namespace_on_cluster_scoped == {`ClusterRole "shop-reader" is cluster-scoped but sets metadata.namespace "shop"; remove it`} with input as obj
		with data.policyrun.cluster as fx.restricted_cluster
		with data.policyrun.object as fx.cluster_scoped_object
}

test_namespace_on_unknown_scope_not_judged if {
	obj := {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "shop"}}
	count(data.namespace.deny_namespace_on_cluster_scoped) == 0 with input as obj
		with data.policyrun.cluster as fx.restricted_cluster
		with data.policyrun.object as fx.unknown_scope_object
}
