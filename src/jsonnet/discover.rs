//! Finds the entry files of each cluster: the `*.jsonnet` files directly inside its directory.
//! Files in subdirectories (`repo/`) and `*.libsonnet` files are only ever imported.

use std::path::PathBuf;

use walkdir::WalkDir;

use crate::model::expansion::Entry;
use crate::model::outcome::{Location, Outcome, Stage, Status, plain_name, shown_path};
use crate::model::repository::{Cluster, Repository};

/// The check a badly named entry fails.
pub const FILE_NAME: &str = "file-name";

/// What discovery found: the entries, and an error outcome for each entry file whose name
/// cannot be used (not UTF-8, or holding control characters). Such a name cannot name
/// generated files or be shown as it is; it is that entry's error, and the others are
/// still judged.
#[derive(Debug, Default)]
pub struct Discovered {
    pub entries: Vec<Entry>,
    pub badly_named: Vec<Outcome>,
}

/// Why the entries of a cluster cannot be told (a usage problem: the run stops).
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// The cluster asked for is not one of the repository's.
    #[error("cluster `{cluster}` is not configured")]
    NotConfigured { cluster: String },
    /// The cluster's directory cannot be listed (`dir` relative to the root).
    #[error("cluster `{cluster}`: cannot list {}: {source}", .dir.display())]
    List {
        cluster: String,
        dir: PathBuf,
        #[source]
        source: walkdir::Error,
    },
}

/// The entries of the given clusters, in rollout order and by file name within a cluster.
pub fn entries(repo: &Repository, clusters: &[&Cluster]) -> Result<Discovered, DiscoverError> {
    let mut found = Discovered::default();
    for cluster in clusters {
        let index = repo
            .clusters
            .iter()
            .position(|c| c.name == cluster.name)
            .ok_or_else(|| DiscoverError::NotConfigured {
                cluster: cluster.name.clone(),
            })?;
        let dir = repo.root.join(&cluster.dir);
        let walker = WalkDir::new(&dir)
            .min_depth(1)
            .max_depth(1)
            .sort_by_file_name();
        for item in walker {
            let item = item.map_err(|source| DiscoverError::List {
                cluster: cluster.name.clone(),
                dir: cluster.dir.clone(),
                source,
            })?;
            let file_type = item.file_type();
            if file_type.is_dir() {
                continue;
            }
            let name = item.file_name();
            let is_entry = name.as_encoded_bytes().strip_suffix(b".jsonnet");
            let Some(stem) = is_entry else {
                continue;
            };
            if stem.is_empty() || stem.starts_with(b".") {
                continue;
            }
            let path = cluster.dir.join(name);
            // The stem names generated files and appears in every report and listing.
            let Some(stem) = name.to_str().filter(|_| plain_name(name)) else {
                let what = if name.to_str().is_none() {
                    "is not valid UTF-8"
                } else {
                    "contains control characters"
                };
                found.badly_named.push(
                    Outcome::new(Stage::Expand, FILE_NAME, Status::Error)
                        .cluster(&cluster.name)
                        .entry(path.clone())
                        .subject(shown_path(&path))
                        .message(format!(
                            "entry file name {what} (shown escaped): it cannot name generated files; rename it"
                        ))
                        .location(Location::file(path)),
                );
                continue;
            };
            found.entries.push(Entry {
                cluster: index,
                path,
                stem: stem.strip_suffix(".jsonnet").unwrap_or(stem).to_owned(),
            });
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    #[test]
    fn only_top_level_jsonnet_files_are_entries() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for path in [
            "clusters/dev/b.jsonnet",
            "clusters/dev/a.jsonnet",
            "clusters/dev/shared.libsonnet",
            "clusters/dev/repo/nested.jsonnet",
            "clusters/dev/notes.txt",
            "clusters/dev/.hidden.jsonnet",
            "lib/x.libsonnet",
        ] {
            fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
            fs::write(root.join(path), "{}").unwrap();
        }
        let repo = crate::cli::config::Config::parse(
            "[[cluster]]\nname = \"dev\"\n",
            root.canonicalize().unwrap(),
        )
        .unwrap()
        .repo;
        let clusters: Vec<&Cluster> = repo.clusters.iter().collect();
        let found = entries(&repo, &clusters).unwrap().entries;
        let paths: Vec<_> = found.iter().map(|e| e.path.clone()).collect();
        assert_eq!(
            paths,
            vec![
                PathBuf::from("clusters/dev/a.jsonnet"),
                PathBuf::from("clusters/dev/b.jsonnet")
            ]
        );
        assert_eq!(found[0].stem, "a");

        fs::write(root.join("clusters/dev/bad\u{1b}[2J.jsonnet"), "{}").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let not_utf8 = std::ffi::OsStr::from_bytes(b"clusters/dev/c\xff.jsonnet");
            fs::write(root.join(not_utf8), "{}").unwrap();
            // Not an entry, whatever its name.
            let other = std::ffi::OsStr::from_bytes(b"clusters/dev/n\xff.txt");
            fs::write(root.join(other), "").unwrap();
        }
        let found = entries(&repo, &clusters).unwrap();
        assert_eq!(found.entries.len(), 2);
        let refused: Vec<(String, &str)> = found
            .badly_named
            .iter()
            .map(|o| (o.subject_name().into_owned(), o.message.as_str()))
            .collect();
        assert_eq!(refused.len(), if cfg!(unix) { 2 } else { 1 }, "{refused:?}");
        assert_eq!(refused[0].0, "clusters/dev/bad\\u{1b}[2J.jsonnet");
        assert!(
            refused[0].1.contains("control characters"),
            "{}",
            refused[0].1
        );
        if cfg!(unix) {
            assert_eq!(refused[1].0, "clusters/dev/c\\xFF.jsonnet");
            assert!(refused[1].1.contains("not valid UTF-8"), "{}", refused[1].1);
        }
        assert!(found.badly_named.iter().all(|o| o.status == Status::Error));
    }

    #[test]
    fn a_cluster_not_configured_or_not_listable_is_an_error_of_its_kind() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        fs::create_dir(root.join("lib")).unwrap();
        fs::create_dir_all(root.join("clusters/dev")).unwrap();
        let repo = crate::cli::config::Config::parse("[[cluster]]\nname = \"dev\"\n", root.clone())
            .unwrap()
            .repo;
        let mut other = repo.clusters[0].clone();
        other.name = "web".into();
        assert!(matches!(
            entries(&repo, &[&other]),
            Err(DiscoverError::NotConfigured { cluster }) if cluster == "web"
        ));
        // clusters/dev is gone.
        fs::remove_dir(root.join("clusters/dev")).unwrap();
        let err = entries(&repo, &[&repo.clusters[0]]).unwrap_err();
        assert!(
            matches!(&err, DiscoverError::List { cluster, dir, .. }
                if cluster == "dev" && dir == Path::new("clusters/dev")),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("cluster `dev`: cannot list clusters/dev: "),
            "{err}"
        );
    }
}
