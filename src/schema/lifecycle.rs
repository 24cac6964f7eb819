//! Removed and deprecated API versions, from `schemas/api-lifecycle.json`: an object written
//! for an API the cluster no longer serves should fail with what replaced it, not with a
//! generic "no schema".

use serde::Deserialize;

use super::TableError;
use super::bundle::KubeVersion;
use super::gvk::Gvk;

const LIFECYCLE: &str = include_str!("../../schemas/api-lifecycle.json");

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    api_version: String,
    kinds: Vec<String>,
    deprecated: Option<String>,
    removed: Option<String>,
    replacement: Option<String>,
}

#[derive(Deserialize)]
struct File {
    apis: Vec<Entry>,
}

/// What the lifecycle table says about one kind at one release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiStatus {
    /// No longer served since `removed`.
    Removed {
        removed: String,
        replacement: Option<String>,
    },
    /// Served, but on its way out.
    Deprecated {
        deprecated: String,
        removed: Option<String>,
        replacement: Option<String>,
    },
}

impl ApiStatus {
    pub(crate) fn message(&self, gvk: &Gvk) -> String {
        let instead = |replacement: &Option<String>| match replacement {
            Some(r) => format!("use {r}"),
            None => "it has no replacement".to_owned(),
        };
        match self {
            ApiStatus::Removed {
                removed,
                replacement,
            } => format!(
                "{} {} was removed in Kubernetes {removed}: {}",
                gvk.api_version(),
                gvk.kind,
                instead(replacement)
            ),
            ApiStatus::Deprecated {
                deprecated,
                removed,
                replacement,
            } => format!(
                "{} {} is deprecated since Kubernetes {deprecated}{}: {}",
                gvk.api_version(),
                gvk.kind,
                removed
                    .as_ref()
                    .map(|r| format!(" and removed in {r}"))
                    .unwrap_or_default(),
                instead(replacement)
            ),
        }
    }
}

pub(crate) struct Lifecycle {
    entries: Vec<Entry>,
}

impl Lifecycle {
    pub(crate) fn builtin() -> Result<Lifecycle, TableError> {
        const NAME: &str = "schemas/api-lifecycle.json";
        let file: File = serde_json::from_str(LIFECYCLE)
            .map_err(|source| TableError::Damaged { file: NAME, source })?;
        for entry in &file.apis {
            for version in entry.deprecated.iter().chain(&entry.removed) {
                KubeVersion::parse(version)
                    .map_err(|source| TableError::Version { file: NAME, source })?;
            }
        }
        Ok(Lifecycle { entries: file.apis })
    }

    /// The verdict for `gvk` at `release`, if the table has one.
    pub(crate) fn verdict(&self, gvk: &Gvk, release: KubeVersion) -> Option<ApiStatus> {
        let api_version = gvk.api_version();
        let reached = |v: &String| {
            KubeVersion::parse(v)
                .is_ok_and(|v| (v.major, v.minor) <= (release.major, release.minor))
        };
        let entry = self
            .entries
            .iter()
            .find(|e| e.api_version == api_version && e.kinds.iter().any(|k| k == &gvk.kind))?;
        if entry.removed.as_ref().is_some_and(reached) {
            return Some(ApiStatus::Removed {
                removed: entry.removed.clone().unwrap_or_default(),
                replacement: entry.replacement.clone(),
            });
        }
        if entry.deprecated.as_ref().is_some_and(reached) {
            return Some(ApiStatus::Deprecated {
                deprecated: entry.deprecated.clone().unwrap_or_default(),
                removed: entry.removed.clone(),
                replacement: entry.replacement.clone(),
            });
        }
        None
    }

    /// Every kind the table names, for consistency checks (the tests).
    #[cfg(test)]
    pub(crate) fn kinds(&self) -> impl Iterator<Item = (Gvk, Option<&str>)> {
        self.entries.iter().flat_map(|e| {
            e.kinds.iter().map(|k| {
                (
                    Gvk::from_api_version(&e.api_version, k),
                    e.removed.as_deref(),
                )
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::bundle::{BUILTIN_VERSION, Definitions};
    use super::*;

    #[test]
    fn removed_versions_name_their_replacement() {
        let table = Lifecycle::builtin().unwrap();
        let gvk = Gvk::from_api_version("extensions/v1beta1", "Deployment");
        let verdict = table.verdict(&gvk, BUILTIN_VERSION).unwrap();
        assert_eq!(
            verdict.message(&gvk),
            "extensions/v1beta1 Deployment was removed in Kubernetes 1.16: use apps/v1"
        );
        // Before its removal the same version is only deprecated.
        let old = KubeVersion::parse("1.15").unwrap();
        assert!(matches!(
            table.verdict(&gvk, old),
            Some(ApiStatus::Deprecated { .. })
        ));
        let tpr = Gvk::from_api_version("extensions/v1beta1", "ThirdPartyResource");
        assert!(
            table
                .verdict(&tpr, BUILTIN_VERSION)
                .unwrap()
                .message(&tpr)
                .contains("CustomResourceDefinition")
        );
        let endpoints = Gvk::from_api_version("v1", "Endpoints");
        assert!(matches!(
            table.verdict(&endpoints, BUILTIN_VERSION),
            Some(ApiStatus::Deprecated { .. })
        ));
        assert!(
            table
                .verdict(
                    &Gvk::from_api_version("apps/v1", "Deployment"),
                    BUILTIN_VERSION
                )
                .is_none()
        );
    }

    /// The hand-kept table agrees with the bundle: what it calls removed has no schema in
    /// the built-in release, what it calls served has one.
    #[test]
    fn table_agrees_with_the_builtin_bundle() {
        let table = Lifecycle::builtin().unwrap();
        let defs = Definitions::builtin().unwrap();
        for (gvk, _) in table.kinds() {
            let removed = matches!(
                table.verdict(&gvk, defs.version),
                Some(ApiStatus::Removed { .. })
            );
            assert_eq!(
                defs.kinds.contains_key(&gvk),
                !removed,
                "{gvk}: the table says removed={removed}"
            );
        }
    }
}
