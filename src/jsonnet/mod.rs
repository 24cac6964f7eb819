//! The jsonnet stage: finds each cluster's entry files, evaluates them with jrsonnet inside
//! a sandbox that keeps every read in the repository, and records which files each entry
//! read.

mod cpp;
pub mod discover;
pub mod expand;
pub(crate) mod import_kinds;
pub(crate) mod imports;
pub(crate) mod links;
pub mod records;
pub(crate) mod sandbox;
mod stack;
pub mod stage;
pub(crate) mod stdlib;
