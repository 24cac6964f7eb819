//! The repository as every stage sees it: where it is, where the jsonnet library and the
//! generated tree are, how entries become files, and each cluster's directory and values.
//! Read from `policyrun.toml` by the command line and handed down as plain data, so that
//! no stage needs the configuration file's other settings.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// The file name looked up in the repository root and its parents.
pub const CONFIG_FILE: &str = "policyrun.toml";

/// How an entry's value is split into committed files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// One file per key of the entry's item map: `<generated>/<cluster>/<stem>/<key>.json`.
    PerItem,
    /// The whole entry in one file: `<generated>/<cluster>/<stem>.json`.
    PerFile,
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::PerItem => "per-item",
            Layout::PerFile => "per-file",
        })
    }
}

/// What a committed file that differs from the produced one only in formatting counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FormatOnly {
    Warn,
    Fail,
}

/// One cluster's tree, in rollout order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub name: String,
    /// Directory of the cluster's entry files, relative to the repository root.
    pub dir: PathBuf,
    /// Ext vars for this cluster's entries: the global ones, this cluster's, and `cluster`.
    pub ext_vars: BTreeMap<String, String>,
    /// The `[cluster.policy]` table: parameters policies read as
    /// `data.policyrun.cluster.policy` (an empty object when not set).
    pub policy: serde_json::Value,
}

/// The repository's layout. Paths are relative to `root` unless they say otherwise.
#[derive(Debug, Clone)]
pub struct Repository {
    /// Canonical repository root: the directory holding `policyrun.toml`.
    pub root: PathBuf,
    /// Import search paths, canonical and inside `root`, in the order given.
    pub jpath: Vec<PathBuf>,
    pub generated: PathBuf,
    pub layout: Layout,
    pub items_field: String,
    pub indent: usize,
    pub format_only: FormatOnly,
    pub max_stack: usize,
    /// How long one entry's evaluation may take (`[limits] evaluation_seconds`).
    pub evaluation_budget: Duration,
    /// In rollout order; an entry names its cluster by its index here.
    pub clusters: Vec<Cluster>,
}

impl Repository {
    /// The clusters selected by name (all of them, in rollout order, when `names` is empty).
    pub fn select_clusters(&self, names: &[String]) -> Result<Vec<&Cluster>, UnknownCluster> {
        if names.is_empty() {
            return Ok(self.clusters.iter().collect());
        }
        for name in names {
            if !self.clusters.iter().any(|c| &c.name == name) {
                return Err(UnknownCluster {
                    name: name.clone(),
                    known: self.clusters.iter().map(|c| c.name.clone()).collect(),
                });
            }
        }
        Ok(self
            .clusters
            .iter()
            .filter(|c| names.contains(&c.name))
            .collect())
    }
}

/// A cluster name that is not configured, with the names that are (in rollout order).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown cluster `{name}` (configured: {})", .known.join(", "))]
pub struct UnknownCluster {
    pub name: String,
    pub known: Vec<String>,
}
