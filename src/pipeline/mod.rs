//! What each command runs, in order: `check` (the gate), `validate`/`test` on plain
//! manifests, and the staged rollout. Stages come in as plain data and leave as outcomes;
//! the pipeline decides the scope once and hands each stage what it needs.

pub(crate) mod changes;
pub mod check;
mod error;
pub(crate) mod expand;
pub mod gate;
mod git;
pub mod review;
pub(crate) mod rollout;
pub(crate) mod settings;
pub(crate) mod shard;
mod syntax_errors;
pub mod validate;

pub use error::Error;
