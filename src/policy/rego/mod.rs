//! The Rego analysis wing: passes over regorus' parser and syntax tree that read policies
//! without evaluating them — what the modules declare and call ([`modules`]), whether a
//! variable is unsafe or a negation fails open ([`safety`]), what a rule can read
//! ([`reads`]), which kinds a rule can report on ([`kinds`]), deprecated builtins
//! ([`deprecated`]), and the rewrites that make regorus read and evaluate a module as OPA
//! does ([`opa`]). It imports nothing else of the crate (`tests/all/layers.rs` holds it so):
//! it could be a crate of its own.

pub(crate) mod deprecated;
pub mod kinds;
pub mod modules;
pub mod opa;
pub mod problem;
pub(crate) mod reads;
pub mod rules;
pub mod safety;
pub(crate) mod walk;
