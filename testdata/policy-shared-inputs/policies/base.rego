package p

import rego.v1

# Reads nothing of the cluster: one evaluation for both clusters.
warn_empty contains "the ConfigMap has no data" if {
	input.kind == "ConfigMap"
	count(object.get(input, "data", {})) == 0
}
