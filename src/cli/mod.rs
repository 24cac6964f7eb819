//! The command line's side of the crate: `policyrun.toml` read into checked settings, and
//! the git hook that runs the gate before a push.

pub mod args;
pub mod config;
pub mod hook;
