package main

deny[msg] {
	input.a
	msg := "a"
} {
	input.b
	msg := "b"
}
