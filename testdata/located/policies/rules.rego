package main

deny contains msg if {
	input.kind == "ConfigMap"
	input.data.mode == "debug"
	msg := sprintf("ConfigMap %s runs in debug mode", [input.metadata.name])
}

# A careless rule: its message holds the Secret's value, which reports must hide.
deny contains msg if {
	input.kind == "Secret"
	msg := sprintf("Secret %s has password %s", [input.metadata.name, input.stringData.password])
}
