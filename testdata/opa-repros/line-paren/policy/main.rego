package main

deny[msg] {
	input.spread
	(input.max - input.min) < input.spread
	msg := "spread too wide"
}
