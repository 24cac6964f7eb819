# One rule defined in two modules: this definition is only about pods...
package main

import rego.v1

deny_split contains "pods must not say split" if {
	input.kind == "Pod"
	input.metadata.labels.split == "yes"
}
