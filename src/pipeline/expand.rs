//! `policyrun expand`: the selected clusters' entries expanded and their committed JSON
//! rewritten, with the outcomes of both steps. The command line only prints the listing
//! and the report.

use std::path::PathBuf;

use crate::freshness::write::{self, Changes};
use crate::model::expansion::Expanded;
use crate::model::outcome::Outcome;
use crate::model::text::visible;
use crate::pipeline::Error;
use crate::pipeline::check::{self, Options};
use crate::pipeline::settings::Config;

/// The expansions of the selected clusters, with the outcomes of expanding them: entry
/// files whose names cannot be used, one `evaluate` outcome per entry, duplicate identities.
pub(crate) struct Expansions {
    pub expanded: Vec<Expanded>,
    pub outcomes: Vec<Outcome>,
    /// Every configured cluster was selected (orphans of unselected clusters stay).
    pub all_clusters: bool,
}

/// Expands the clusters `options` selects. A usage problem (unknown cluster, unreadable
/// cluster directory) is an `Err`; everything else is an outcome.
pub(crate) fn expansions(config: &Config, options: &Options) -> Result<Expansions, Error> {
    let expansion = check::expand(config, options)?;
    let mut outcomes = expansion.badly_named;
    outcomes.extend(check::expansion_outcomes(&expansion.expanded));
    Ok(Expansions {
        expanded: expansion.expanded,
        outcomes,
        all_clusters: expansion.every_cluster,
    })
}

/// What `policyrun expand` did: the files it changed and every outcome for the report.
#[derive(Debug, Default)]
pub(crate) struct WrittenTree {
    pub changes: Changes,
    pub outcomes: Vec<Outcome>,
}

impl WrittenTree {
    /// The lines `expand` prints before its report: every file written or removed, and the
    /// counts. File names come from the repository under review: shown, never sent to the
    /// terminal as they are.
    pub(crate) fn listing(&self) -> String {
        let shown = |path: &PathBuf| visible(&path.display().to_string());
        let mut listing = String::new();
        for path in &self.changes.written {
            listing.push_str(&format!("wrote   {}\n", shown(path)));
        }
        for retired in &self.changes.retired {
            listing.push_str(&format!(
                "removed {}/: {}\n",
                shown(&retired.directory),
                visible(&retired.message)
            ));
        }
        let retired =
            |path: &PathBuf| (self.changes.retired.iter()).any(|r| path.starts_with(&r.directory));
        for path in self.changes.removed.iter().filter(|p| !retired(p)) {
            listing.push_str(&format!("removed {}\n", shown(path)));
        }
        listing.push_str(&format!(
            "{} written, {} removed, {} unchanged\n",
            self.changes.written.len(),
            self.changes.removed.len(),
            self.changes.unchanged
        ));
        listing
    }
}

/// Expands the selected clusters and rewrites their committed JSON: only below the
/// generated root, never what an entry that failed to evaluate had committed.
pub(crate) fn run(config: &Config, options: &Options) -> Result<WrittenTree, Error> {
    let clusters = config.repo.select_clusters(&options.clusters)?;
    let mut expansions = expansions(config, options)?;
    let (changes, problems) = write::write_tree(
        &config.repo,
        &clusters,
        &expansions.expanded,
        expansions.all_clusters,
    );
    expansions.outcomes.extend(problems);
    Ok(WrittenTree {
        changes,
        outcomes: expansions.outcomes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listing_names_every_change_and_escapes_control_characters() {
        let tree = WrittenTree {
            changes: Changes {
                written: vec![PathBuf::from("generated/dev/a/x.json")],
                removed: vec![PathBuf::from("generated/dev/\x1b[31mold.json")],
                unchanged: 4,
                retired: Vec::new(),
            },
            outcomes: Vec::new(),
        };
        let listing = tree.listing();
        assert!(!listing.contains('\x1b'), "{listing:?}");
        let lines: Vec<&str> = listing.lines().collect();
        assert_eq!(lines.len(), 3, "{listing}");
        assert_eq!(lines[0], "wrote   generated/dev/a/x.json");
        assert!(lines[1].starts_with("removed generated/dev/"), "{listing}");
        assert!(lines[1].ends_with("[31mold.json"), "{listing}");
        assert_eq!(lines[2], "1 written, 1 removed, 4 unchanged");
    }

    #[test]
    fn an_empty_run_still_counts() {
        assert_eq!(
            WrittenTree::default().listing(),
            "0 written, 0 removed, 0 unchanged\n"
        );
    }
}
