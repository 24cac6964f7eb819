//! The plain data every layer shares — outcomes, objects, secrets, digests, text made safe
//! for a terminal — so that stages, the pipeline and the reports agree on it without
//! importing each other. Nothing here imports another part of the crate.

pub(crate) mod atomic;
pub mod digest;
pub mod events;
pub mod expansion;
pub mod json_lines;
pub mod manifests;
pub(crate) mod nesting;
pub mod object;
pub mod outcome;
pub(crate) mod paths;
pub mod repository;
pub(crate) mod same;
pub mod secrets;
pub(crate) mod stage;
pub(crate) mod stats;
pub mod supervision;
pub(crate) mod text;
pub mod value;
pub mod yaml;
