package main

import rego.v1

# Never reached for a ConfigMap: regorus would only notice the missing builtin when it is.
deny_signature contains msg if {
	input.kind == "Secret"
	digest := crypto.sha256(input.data.key)
	msg := sprintf("digest %s", [digest])
}
