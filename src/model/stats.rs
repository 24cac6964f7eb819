//! How a run came by its results — entries evaluated or recalled, verdicts shared — as
//! plain numbers that the pipeline fills in and every report shows.

use std::path::PathBuf;

use serde::Serialize;

/// How a run came by its expansions: for the reports, and for the tests and benchmarks
/// that must tell a cached run from an evaluated one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Entries of the selected clusters.
    pub entries: usize,
    /// Entries whose results the run checks.
    pub checked: usize,
    /// Checked entries that jsonnet evaluated.
    pub evaluated: usize,
    /// Checked entries whose expansion came from the cache.
    pub cached: usize,
    /// `--changed-since`'s revision: entries it does not reach are not checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_since: Option<String>,
    /// This repository's directory in the cache, when the run used one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<PathBuf>,
    /// Records written to the cache.
    pub cache_writes: usize,
    /// Objects whose policy verdicts came from the cache instead of an evaluation.
    pub policy_recalled: usize,
    /// Rule evaluations an object took from another object of the same content and inputs
    /// in this run (whole objects on the virtual machine).
    pub policy_shared: usize,
    /// Objects whose schema check another object of the same content and schema made.
    pub schema_shared: usize,
    /// Objects whose schema and metadata checks passed in an earlier run with the same
    /// content and schema: recalled from the cache, not checked again.
    pub schema_recalled: usize,
    /// What is worth saying but is no check: ignored records, a cache that cannot be
    /// written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}
