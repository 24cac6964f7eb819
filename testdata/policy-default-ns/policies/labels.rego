package main

import rego.v1

# One message per missing label: a ConfigMap without both gets two.
deny contains msg if {
	input.kind == "ConfigMap"
	some label in ["team", "owner"]
	not input.metadata.labels[label]
	msg := sprintf("ConfigMap %s has no label %s", [input.metadata.name, label])
}
