package main

import rego.v1

# 200 million numbers for an object labelled so.
deny contains msg if {
	input.metadata.labels.range == "wide"
	n := count(numbers.range(1, 200000000))
	msg := sprintf("%d numbers", [n])
}

# Every character of a blob as a match of its own.
deny contains msg if {
	found := regex.find_n(".", input.data.blob, -1)
	count(found) > 1000000000
	msg := sprintf("%d characters", [count(found)])
}

deny contains "a ConfigMap needs a namespace" if {
	input.kind == "ConfigMap"
	not input.metadata.namespace
}
