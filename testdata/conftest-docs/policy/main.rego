# conftest's conventions on documents that are not Kubernetes objects: Helm values, a CI
# configuration, a list; and on one Deployment, which alone has the Kubernetes context.
package main

import rego.v1

deny_latest contains msg if {
	input.image.tag == "latest"
	msg := sprintf("%s uses the latest tag", [input.image.repository])
}

# data.registries comes from `--data data/`: without it no registry is allowed.
deny_registry contains msg if {
	repository := input.image.repository
	not allowed(repository)
	msg := sprintf("%s pulls from an unknown registry", [repository])
}

allowed(repository) if {
	some registry in data.registries.allowed
	startswith(repository, concat("", [registry, "/"]))
}

# data.limits comes from policy/data/limits.yaml, a data file among the policies.
warn contains msg if {
	input.replicaCount < data.limits.min_replicas
	msg := sprintf("%d replicas, fewer than %d", [input.replicaCount, data.limits.min_replicas])
}

# A document that is a list is one input.
deny_listed contains msg if {
	some entry in input
	entry.image.tag == "latest"
	msg := sprintf("listed image %s uses the latest tag", [entry.image.repository])
}

deny contains msg if {
	input.kind == "Deployment"
	not input.spec.template.spec.securityContext.runAsNonRoot
	msg := sprintf("Deployment %s must set runAsNonRoot", [input.metadata.name])
}

# The Kubernetes context: defined for Kubernetes objects only.
warn_context contains msg if {
	msg := sprintf("object context for %s", [data.policyrun.object.generated])
}

exception contains rules if {
	input.legacy == true
	rules := ["latest"]
}
