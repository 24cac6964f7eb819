package gate_test

import rego.v1

import data.gate

test_replicas_over_the_cluster_limit if {
	gate.deny_replicas == {"3 replicas, at most 2 in cluster dev"} with input as {"kind": "Deployment", "spec": {"replicas": 3}}
		with data.policyrun.cluster as {"name": "dev", "policy": {"max_replicas": 2}}
}

test_replicas_within_the_limit if {
	count(gate.deny_replicas) == 0 with input as {"kind": "Deployment", "spec": {"replicas": 3}}
		with data.policyrun.cluster as {"name": "web", "policy": {"max_replicas": 5}}
}

test_context_is_mocked if {
	gate.warn_context == {"entry=e generated=g namespaced=true"} with input as {"kind": "ConfigMap", "metadata": {"name": "settings"}}
		with data.policyrun.object as {"entry": "e", "generated": "g", "namespaced": true}
}
