package main

deny contains msg if {
	startswith(input.metadata.name, "tmp-")
	msg := sprintf("%s %s: temporary names are not deployed", [input.kind, input.metadata.name])
}
