//! `policyrun expand`: rewrites the committed JSON tree from the sources. It writes only below
//! the generated root, each file atomically, leaves unchanged files alone, removes orphans,
//! and never touches what an entry that failed to evaluate had committed.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::freshness::{self, CommittedState};
use crate::model::atomic::write_atomically;
use crate::model::expansion::Expanded;
use crate::model::outcome::{Location, Outcome, Stage, Status, shown_path};
use crate::model::paths;
use crate::model::repository::{Cluster, Repository};

pub const WRITE: &str = "write";

/// What `expand` changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    pub written: Vec<PathBuf>,
    pub removed: Vec<PathBuf>,
    pub unchanged: usize,
    /// The trees of clusters no longer configured that were removed (among `removed`):
    /// each said once, with why.
    pub retired: Vec<Retired>,
}

/// A cluster's committed tree removed because no `[[cluster]]` has its name any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retired {
    /// Its directory below the generated root.
    pub directory: PathBuf,
    /// What `expand` says about it, once.
    pub message: String,
}

/// Writes every produced file that differs from the committed one and removes orphans.
/// Problems are returned as outcomes; the files that could be written are written.
pub fn write_tree(
    repo: &Repository,
    clusters: &[&Cluster],
    expanded: &[Expanded],
    all_clusters: bool,
) -> (Changes, Vec<Outcome>) {
    let mut changes = Changes::default();
    let mut outcomes = Vec::new();
    for e in expanded {
        let Ok(files) = &e.result else { continue };
        for produced in &files.files {
            let full = repo.root.join(&produced.path);
            let result = ensure_real_dirs(&repo.root, &repo.generated, &produced.path)
                .and_then(|()| match fs::read(&full) {
                    Ok(bytes) => Ok(Some(bytes)),
                    Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(format!("cannot read {}: {e}", produced.path.display())),
                })
                .and_then(|committed| {
                    if freshness::compare(produced, committed.as_deref())
                        == CommittedState::UpToDate
                    {
                        Ok(false)
                    } else {
                        write_atomically(&full, produced.text.as_bytes())
                            .map(|()| true)
                            .map_err(|err| {
                                format!("cannot write {}: {err}", produced.path.display())
                            })
                    }
                });
            match result {
                Ok(true) => changes.written.push(produced.path.clone()),
                Ok(false) => changes.unchanged += 1,
                Err(message) => outcomes.push(
                    Outcome::new(Stage::Expand, WRITE, Status::Error)
                        .cluster(&e.cluster)
                        .entry(e.entry.path.clone())
                        .subject(produced.path.display().to_string())
                        .message(message)
                        .location(Location::file(produced.path.clone())),
                ),
            }
        }
    }
    // Scanned after writing, so that only what is still unproduced counts as an orphan.
    let tree = freshness::CommittedTree::scan(repo, clusters, all_clusters);
    let orphans = freshness::find_orphans(repo, &tree, expanded);
    let mut retired: std::collections::BTreeMap<&str, usize> = Default::default();
    for orphan in &orphans {
        if let (None, Some(name)) = (&orphan.problem, orphan.unconfigured_cluster(repo)) {
            *retired.entry(name).or_default() += 1;
        }
    }
    changes.retired = retired
        .into_iter()
        .map(|(name, files)| Retired {
            directory: repo.generated.join(name),
            message: format!(
                "cluster `{name}` is no longer configured in policyrun.toml ({files} file{})",
                if files == 1 { "" } else { "s" }
            ),
        })
        .collect();
    for orphan in orphans {
        let failed = |message: String| {
            Outcome::new(Stage::Expand, WRITE, Status::Error)
                .subject(shown_path(&orphan.path))
                .message(message)
                .location(Location::file(orphan.path.clone()))
        };
        if let Some(problem) = &orphan.problem {
            outcomes.push(failed(format!(
                "{}: {problem}; not removed",
                shown_path(&orphan.path)
            )));
            continue;
        }
        // find_orphans only reports paths below the generated root; check before deleting.
        if !orphan.path.starts_with(&repo.generated) {
            outcomes.push(failed(format!(
                "{}: outside the generated root; not removed",
                orphan.path.display()
            )));
            continue;
        }
        match fs::remove_file(repo.root.join(&orphan.path)) {
            Ok(()) => {
                remove_empty_parents(&repo.root, &repo.generated, &orphan.path);
                changes.removed.push(orphan.path);
            }
            Err(e) => outcomes.push(failed(format!(
                "cannot remove {}: {e}",
                orphan.path.display()
            ))),
        }
    }
    (changes, outcomes)
}

/// Creates the directories of `relative` below the generated root, refusing any that is a
/// symbolic link so that no write lands outside it.
fn ensure_real_dirs(root: &Path, generated: &Path, relative: &Path) -> Result<(), String> {
    if !relative.starts_with(generated) {
        return Err(format!(
            "{} is outside the generated root; refusing to write it",
            relative.display()
        ));
    }
    let parent = relative.parent().unwrap_or(generated);
    match paths::lstat_below(root, parent).map_err(|e| e.to_string())? {
        Some(meta) if meta.is_dir() => {}
        Some(_) => return Err(format!("{} is not a directory", parent.display())),
        // Nothing on the way is a link (checked above), so creating the rest is safe.
        None => fs::create_dir_all(root.join(parent))
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?,
    }
    match paths::lstat_below(root, relative).map_err(|e| e.to_string())? {
        Some(meta) if !meta.is_file() => Err(format!(
            "{} is not a regular file; refusing to replace it",
            relative.display()
        )),
        _ => Ok(()),
    }
}

/// Removes directories left empty by removing an orphan, up to (not including) the root.
fn remove_empty_parents(root: &Path, generated: &Path, relative: &Path) {
    let mut dir = relative.parent();
    while let Some(current) = dir {
        if current == generated || !current.starts_with(generated) {
            break;
        }
        if fs::remove_dir(root.join(current)).is_err() {
            break;
        }
        dir = current.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn refuses_to_write_through_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("generated")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("generated/dev")).unwrap();
        let err = ensure_real_dirs(
            dir.path(),
            Path::new("generated"),
            Path::new("generated/dev/a/x.json"),
        )
        .unwrap_err();
        assert!(err.contains("symbolic link"), "{err}");
        assert!(fs::read_dir(outside.path()).unwrap().next().is_none());
    }

    #[test]
    fn empty_parents_are_removed_up_to_the_generated_root() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("generated/dev/a")).unwrap();
        remove_empty_parents(
            dir.path(),
            Path::new("generated"),
            Path::new("generated/dev/a/x.json"),
        );
        assert!(!dir.path().join("generated/dev").exists());
        assert!(dir.path().join("generated").exists());
    }
}
