package main

allowed("RunAsAny", _)

deny[msg] {
	not allowed(input.rule, input.ranges)
	msg := "rule not allowed"
}
