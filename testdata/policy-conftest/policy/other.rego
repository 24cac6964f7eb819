# Another package: runs only with --namespace other or --all-namespaces.
package other

import rego.v1

deny_services contains msg if {
	input.kind == "Service"
	msg := "no Services here"
}
