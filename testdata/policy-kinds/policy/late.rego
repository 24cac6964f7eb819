# The kind test comes second: the conversion runs for every kind and fails the run.
package main

import rego.v1

deny_late contains msg if {
	to_number(input.metadata.labels.level) > 3
	input.kind == "Pod"
	msg := "level too high for a pod"
}
