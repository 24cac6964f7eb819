# ...and this one about any kind, so the rule is evaluated for every object.
package main

import rego.v1

deny_split contains "nothing may say split" if {
	input.metadata.labels.split == "yes"
}
