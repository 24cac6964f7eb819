//! What each command runs, in order: `check` (the gate), `validate`/`test` on plain
//! manifests, and the staged rollout. Stages come in as plain data and leave as outcomes;
//! the pipeline decides the scope once and hands each stage what it needs.

pub mod changes;
pub mod check;
pub mod expand;
pub mod rollout;
pub mod settings;
pub mod shard;
pub mod validate;
