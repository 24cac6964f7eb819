package main

import rego.v1

deny_annotated contains msg if {
	input.kind == "ConfigMap"
	annotations := rego.metadata.rule()
	msg := sprintf("%v", [annotations])
}
