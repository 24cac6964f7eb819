package main

import rego.v1

volumes contains input.spec.volumes[_]

deny contains msg if {
	volumes[v]
	msg := sprintf("volume %v is mounted", [v])
}
