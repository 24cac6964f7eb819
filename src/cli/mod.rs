//! The command line's side of the crate: the clap definitions, `policyrun.toml` read into
//! checked settings, flags and file assembled into one plan per command, and the git hook
//! that runs the gate before a push.

pub mod args;
pub mod commands;
pub mod complete;
pub mod config;
pub(crate) mod hook;
pub(crate) mod init;
pub(crate) mod plan;
pub(crate) mod reports;
pub mod supervise;

/// A problem that stops a command before any check can run (usage, configuration or I/O):
/// exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl<E: std::fmt::Display> From<E> for UsageError {
    fn from(e: E) -> Self {
        UsageError(e.to_string())
    }
}
