//! The plain data every layer shares — outcomes, objects, secrets, digests, text made safe
//! for a terminal — so that stages, the pipeline and the reports agree on it without
//! importing each other. Nothing here imports another part of the crate.

pub mod atomic;
pub mod digest;
pub mod events;
pub mod expansion;
pub mod manifests;
pub mod nesting;
pub mod object;
pub mod outcome;
pub mod paths;
pub mod repository;
pub mod same;
pub mod secrets;
pub mod stage;
pub mod stats;
pub mod text;
