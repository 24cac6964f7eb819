package main

import rego.v1

deny contains msg if {
	input.spread
	(input.max - input.min) < input.spread
	msg := "spread too wide"
}
