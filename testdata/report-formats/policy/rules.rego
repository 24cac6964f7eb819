package main

deny contains msg if {
	input.kind == "ConfigMap"
	not input.metadata.labels.team
	msg := sprintf("%s %s has no team label", [input.kind, input.metadata.name])
}

deny contains msg if {
	input.kind == "ConfigMap"
	not input.metadata.labels.owner
	msg := sprintf("%s %s has no owner label", [input.kind, input.metadata.name])
}

warn contains msg if {
	input.kind == "Endpoints"
	msg := "Endpoints are written by hand: prefer a Service selector"
}
