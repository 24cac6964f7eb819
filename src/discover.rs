//! Finds the entry files of each cluster: the `*.jsonnet` files directly inside its directory.
//! Files in subdirectories (`config/`) and `*.libsonnet` files are only ever imported.

use std::path::PathBuf;

use walkdir::WalkDir;

use crate::config::{Cluster, Config};

/// One jsonnet file to evaluate for one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Index of the cluster in `Config::clusters`.
    pub cluster: usize,
    /// Path relative to the repository root.
    pub path: PathBuf,
    /// File name without `.jsonnet`: the name of its generated file or directory.
    pub stem: String,
}

/// The entries of the given clusters, in rollout order and by file name within a cluster.
pub fn entries(config: &Config, clusters: &[&Cluster]) -> Result<Vec<Entry>, String> {
    let mut found = Vec::new();
    for cluster in clusters {
        let index = config
            .clusters
            .iter()
            .position(|c| c.name == cluster.name)
            .ok_or_else(|| format!("cluster `{}` is not configured", cluster.name))?;
        let dir = config.root.join(&cluster.dir);
        let walker = WalkDir::new(&dir)
            .min_depth(1)
            .max_depth(1)
            .sort_by_file_name();
        for item in walker {
            let item = item.map_err(|e| {
                format!(
                    "cluster `{}`: cannot list {}: {e}",
                    cluster.name,
                    cluster.dir.display()
                )
            })?;
            let file_type = item.file_type();
            if file_type.is_dir() {
                continue;
            }
            let Some(name) = item.file_name().to_str() else {
                return Err(format!(
                    "cluster `{}`: file name {:?} is not valid UTF-8",
                    cluster.name,
                    item.file_name()
                ));
            };
            let Some(stem) = name.strip_suffix(".jsonnet") else {
                continue;
            };
            if stem.is_empty() || stem.starts_with('.') {
                continue;
            }
            // The stem names generated files and appears in every report and listing.
            if stem.chars().any(char::is_control) {
                return Err(format!(
                    "cluster `{}`: entry file name {name:?} contains control characters; rename it",
                    cluster.name
                ));
            }
            found.push(Entry {
                cluster: index,
                path: cluster.dir.join(name),
                stem: stem.to_owned(),
            });
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn only_top_level_jsonnet_files_are_entries() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for path in [
            "clusters/dev/b.jsonnet",
            "clusters/dev/a.jsonnet",
            "clusters/dev/shared.libsonnet",
            "clusters/dev/config/nested.jsonnet",
            "clusters/dev/notes.txt",
            "clusters/dev/.hidden.jsonnet",
            "lib/x.libsonnet",
        ] {
            fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
            fs::write(root.join(path), "{}").unwrap();
        }
        let config = Config::parse(
            "[[cluster]]\nname = \"dev\"\n",
            root.canonicalize().unwrap(),
        )
        .unwrap();
        let clusters: Vec<&Cluster> = config.clusters.iter().collect();
        let found = entries(&config, &clusters).unwrap();
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
        let err = entries(&config, &clusters).unwrap_err();
        assert!(
            err.contains("control characters") && !err.contains('\u{1b}'),
            "{err}"
        );
    }
}
