package main

import rego.v1

deny_level contains msg if {
	input.kind == "ConfigMap"
	to_number(input.data.level) > 3
	msg := "level too high"
}
