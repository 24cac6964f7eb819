# The older Rego v0 syntax, with conftest's `_suffix` rules, a `violation` rule with
# objects, an `exception` rule and a data file (data/registries.yaml).
package main

deny_latest[msg] {
	container := input.spec.template.spec.containers[_]
	endswith(container.image, ":latest")
	msg := sprintf("container %s uses the latest tag", [container.name])
}

deny_registry[msg] {
	container := input.spec.template.spec.containers[_]
	not allowed(container.image)
	msg := sprintf("container %s pulls from an unknown registry", [container.name])
}

allowed(image) {
	startswith(image, data.registries.allowed[_])
}

violation_labels[{"msg": msg, "details": {"missing": "app"}}] {
	input.kind == "Deployment"
	not input.metadata.labels.app
	msg := "Deployment has no app label"
}

exception[rules] {
	input.metadata.name == "legacy"
	rules := ["latest"]
}
