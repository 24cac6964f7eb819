# A common mistake OPA refuses (rego_unsafe_var_error) and regorus 0.14 would evaluate: the
# wildcard inside the negation binds nothing, and a container without `drop` passed.
package main

import rego.v1

deny contains msg if {
	c := input.spec.containers[_]
	not c.securityContext.capabilities.drop[_] == "ALL"
	msg := sprintf("container %v must drop ALL capabilities", [c.name])
}
