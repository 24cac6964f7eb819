# Starts with a test of the kind: never evaluated for other kinds, where it could only be
# undefined. For a Deployment its conversion error must still fail the run.
package main

import rego.v1

deny_level contains msg if {
	input.kind in {"Pod", "Deployment"}
	to_number(input.metadata.labels.level) > 3
	msg := "level too high"
}
