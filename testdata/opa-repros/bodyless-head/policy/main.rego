package main

# A body-less head with a wildcard: OPA moves the head's term into a body.
volumes[input.spec.volumes[_]]

deny[msg] {
	volumes[v]
	msg := sprintf("volume %v is mounted", [v])
}
