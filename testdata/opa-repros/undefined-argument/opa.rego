package main

import rego.v1

allowed("RunAsAny", _) := true

deny contains msg if {
	not allowed(input.rule, input.ranges)
	msg := "rule not allowed"
}
