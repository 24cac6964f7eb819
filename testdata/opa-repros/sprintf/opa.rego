package main

import rego.v1

deny contains msg if {
	msg := sprintf("%v is not allowed: %v", [input.name])
}

deny contains msg if {
	msg := sprintf("cpu limit %d", [input.cpu])
}
