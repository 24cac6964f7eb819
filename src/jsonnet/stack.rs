//! How deep the evaluators may recurse: one stack size for every thread that parses or
//! evaluates jsonnet, ours and libjsonnet's alike.

/// Stack of every thread that evaluates jsonnet. Parsing and evaluating recurse once per
/// level of nesting, and a pull request can nest as deep as it likes: with the default 2 MiB
/// a file of a thousand nested brackets aborted the process. The size is only reserved
/// address space; what a thread does not touch costs no memory.
pub const WORKER_STACK: usize = 256 << 20;
