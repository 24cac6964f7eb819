package gate

import rego.v1

# Per cluster: the limit comes from the cluster's [cluster.policy] table.
deny_replicas contains msg if {
	input.kind == "Deployment"
	input.spec.replicas > data.policyrun.cluster.policy.max_replicas
	msg := sprintf("%d replicas, at most %d in cluster %s", [input.spec.replicas, data.policyrun.cluster.policy.max_replicas, data.policyrun.cluster.name])
}

deny_unknown_namespace contains msg if {
	ns := input.metadata.namespace
	not created(ns)
	msg := sprintf("namespace %s is not created in cluster %s", [ns, data.policyrun.cluster.name])
}

created(ns) if data.policyrun.cluster.namespaces[_] == ns

# Shows the object's context, so that the tests can read it.
warn_context contains msg if {
	input.kind == "ConfigMap"
	input.metadata.name == "settings"
	object := data.policyrun.object
	msg := sprintf("entry=%s generated=%s namespaced=%v", [object.entry, object.generated, object.namespaced])
}
