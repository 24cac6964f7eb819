package main

deny[msg] {
	msg := sprintf("%v is not allowed: %v", [input.name])
}

deny[msg] {
	msg := sprintf("cpu limit %d", [input.cpu])
}
