//! What a command runs with: the repository's layout, each stage's settings and each
//! cluster's rollout settings — checked plain data that the command line builds from
//! `policyrun.toml` and flags, and that the pipeline hands to the stages.

use serde::Deserialize;

use crate::model::repository::Repository;

/// The validated configuration: the repository and what each stage is told.
#[derive(Debug, Clone)]
pub struct Config {
    pub repo: Repository,
    /// How the schema stage finds schemas; paths absolute, inside the repository.
    pub schema: crate::schema::Settings,
    /// Where the policies are and which run; paths absolute, inside the repository.
    pub policy: crate::policy::Settings,
    /// The style stage and `fmt`: formatter options and what is left out.
    pub style: crate::style::Settings,
    /// Each cluster's rollout settings, in the order of `repo.clusters`.
    pub rollout: Vec<ClusterRollout>,
    /// The directory the policies, waivers and Gatekeeper files are relative to: the
    /// repository's root, or where `check --gate-from` put the protected branch's gate.
    pub gate_root: std::path::PathBuf,
    /// Bytes the process doing the run's work may hold (`limits.memory_bytes`), enforced
    /// from outside it (`cli::supervise`).
    pub memory_budget: u64,
}

impl Config {
    /// The rollout settings of the cluster named `name`.
    pub fn rollout_of(&self, name: &str) -> Option<&ClusterRollout> {
        self.repo
            .clusters
            .iter()
            .position(|c| c.name == name)
            .and_then(|i| self.rollout.get(i))
    }
}

/// How one cluster is rolled out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRollout {
    /// kubeconfig context used when applying to this cluster.
    pub context: String,
    /// Rollout timeouts for this cluster, the `[apply]` table's where not set.
    pub apply: ApplySettings,
    /// The bake after this cluster's stage: `[cluster.bake]` over `[apply.bake]`.
    pub bake: crate::apply::bake::Settings,
}

/// `[apply]` and `[cluster.apply]`: how long a rollout waits, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplySettings {
    /// How long one object may take to become ready.
    pub timeout: Option<u64>,
    /// How long one cluster's whole stage may take.
    pub stage_timeout: Option<u64>,
}

impl ApplySettings {
    /// `self`'s values where set, else `fallback`'s.
    pub fn or(self, fallback: ApplySettings) -> ApplySettings {
        ApplySettings {
            timeout: self.timeout.or(fallback.timeout),
            stage_timeout: self.stage_timeout.or(fallback.stage_timeout),
        }
    }

    /// Refuses a timeout of 0 seconds; `key` names the table (`apply`, `cluster[0].apply`).
    pub fn check(&self, key: &str) -> Result<(), ZeroTimeout> {
        for (name, value) in [
            ("timeout", self.timeout),
            ("stage_timeout", self.stage_timeout),
        ] {
            if value == Some(0) {
                return Err(ZeroTimeout {
                    key: key.to_owned(),
                    name,
                });
            }
        }
        Ok(())
    }
}

/// A timeout of 0 seconds (`name`: `timeout` or `stage_timeout`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}.{name}: must be at least 1 second")]
pub struct ZeroTimeout {
    pub key: String,
    pub name: &'static str,
}
