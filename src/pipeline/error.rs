//! Why a command's pipeline cannot run at all: a usage, configuration or I/O problem that
//! stops it before any verdict (exit 2). Everything a stage finds about an entry, file or
//! object is an outcome instead, never this.

use std::path::PathBuf;

use crate::jsonnet::discover::DiscoverError;
use crate::model::manifests::ReadError;
use crate::model::outcome::shown_path;
use crate::model::repository::UnknownCluster;
use crate::pipeline::changes::ChangesError;
use crate::schema::CatalogError;

/// What stops `check`, `expand`, `validate`, `test`, `apply` or `diff` before a verdict.
/// The messages are the ones the command line prints after `policyrun: error: `.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--cluster` names a cluster the configuration does not have.
    #[error(transparent)]
    UnknownCluster(#[from] UnknownCluster),
    #[error("--shard and --changed-since do not go together: a shard is a share of a whole run")]
    ShardWithChangedSince,
    /// A cluster's entries cannot be listed.
    #[error(transparent)]
    Discover(#[from] DiscoverError),
    /// `--changed-since`: git cannot tell what changed.
    #[error(transparent)]
    ChangedSince(#[from] ChangesError),
    /// The schema catalog cannot be built.
    #[error(transparent)]
    Schemas(#[from] CatalogError),
    /// A path given to `validate` or `test` (or standard input) cannot be read at all.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// `test -`: standard input cannot be kept to be read twice.
    #[error("standard input: cannot make a temporary file to read it from: {0}")]
    Spool(#[source] std::io::Error),
    /// `validate`/`test` found no file of the formats it reads in the paths given.
    #[error(
        "no manifest files ({}) in {}",
        .extensions.join(", "),
        .paths.iter().map(|p| shown_path(p)).collect::<Vec<_>>().join(", ")
    )]
    NoFiles {
        extensions: Vec<&'static str>,
        paths: Vec<PathBuf>,
    },
    /// `test` found files, but not one document in them.
    #[error(
        "no documents in {}",
        .paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NoDocuments { paths: Vec<PathBuf> },
    /// `test` without a policy to run.
    #[error("no policies to run: {}", crate::policy::NO_POLICIES)]
    NoPolicies,
    /// `apply --until` names a cluster the rollout does not reach.
    #[error("--until {until}: not among the clusters to apply ({})", .selected.join(", "))]
    UntilNotSelected {
        until: String,
        selected: Vec<String>,
    },
    #[error("cluster {cluster}: no rollout settings")]
    NoRolloutSettings { cluster: String },
}
