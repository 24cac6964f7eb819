//! `--changed-since REF`: which entries a change since a git revision reaches, so that a
//! local run before pushing checks only what the branch touched. An entry is reached when
//! a path it read or a symbolic link on the way to one (see `imports`; the cache's records
//! know them without evaluating) or one of its generated files changed; an entry whose
//! inputs are not known is always checked, and a change to what the whole gate depends on
//! (policyrun.toml, the policies, the schemas) checks everything. git runs as a
//! subprocess, locally: no fetch, no network.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::model::expansion::Entry;
use crate::model::expansion::Input;
use crate::model::expansion::output_prefix;
use crate::model::repository::CONFIG_FILE;
use crate::model::repository::Cluster;
use crate::pipeline::git::GitError;
use crate::pipeline::settings::Config;

/// Why `--changed-since REV` cannot tell what changed (a usage error).
#[derive(Debug, thiserror::Error)]
pub enum ChangesError {
    /// Empty, or starting with `-` (git would read it as an option).
    #[error("--changed-since {rev:?}: not a revision (it must not be empty or start with `-`)")]
    NotARevision { rev: String },
    #[error("--changed-since {rev}: {} is not inside a git work tree", .root.display())]
    NotAWorkTree { rev: String, root: PathBuf },
    #[error("--changed-since {rev}: no such commit in this repository (is it fetched?)")]
    NoSuchCommit { rev: String },
    /// `command`: git's subcommand (`rev-parse`, `diff`, `ls-files`).
    #[error("--changed-since {rev}: git {command} failed: {source}")]
    Git {
        rev: String,
        command: String,
        #[source]
        source: GitError,
    },
}

/// The paths that changed since a revision, relative to the repository root.
#[derive(Debug, Clone)]
pub(crate) struct Changes {
    /// The revision as given.
    pub since: String,
    paths: HashSet<PathBuf>,
    /// Changed paths below the generated root.
    generated: Vec<PathBuf>,
    /// Where each changed path that is a symbolic link now leads, relative to the root.
    /// Import paths are resolved when policyrun.toml is read, so a record names the
    /// directory a linked `jpath` led to, never the link: a retargeted `lib` link is
    /// found by where it leads.
    led_to: Vec<PathBuf>,
    /// The first changed path that concerns the whole gate, when there is one.
    pub everything: Option<PathBuf>,
}

impl Changes {
    /// The changes in the work tree (committed since `rev`, staged, unstaged, untracked)
    /// of the repository at `config.repo.root`. A revision git does not know, or a repository
    /// that is no git work tree, is an `Err` naming it (a usage error).
    pub(crate) fn since(config: &Config, rev: &str) -> Result<Changes, ChangesError> {
        if rev.is_empty() || rev.starts_with('-') {
            return Err(ChangesError::NotARevision {
                rev: rev.to_owned(),
            });
        }
        let git = |args: &[&str]| {
            super::git::run(&config.repo.root, args).map_err(|source| ChangesError::Git {
                rev: rev.to_owned(),
                command: args.first().unwrap_or(&"").to_string(),
                source,
            })
        };
        let inside = git(&["rev-parse", "--is-inside-work-tree"])?;
        if inside.as_slice() != b"true\n" {
            return Err(ChangesError::NotAWorkTree {
                rev: rev.to_owned(),
                root: config.repo.root.clone(),
            });
        }
        let commit = format!("{rev}^{{commit}}");
        git(&["rev-parse", "--verify", "--quiet", &commit]).map_err(|_| {
            ChangesError::NoSuchCommit {
                rev: rev.to_owned(),
            }
        })?;
        // --no-renames: a renamed file must show as deleted at its old path, whose
        // generated files then become orphans. --relative: paths relative to the root
        // (policyrun.toml may sit below the top of the git repository), and only those.
        // Both walk the work tree; they run side by side.
        let (diff, untracked) = rayon::join(
            || {
                git(&[
                    "diff",
                    "--name-only",
                    "-z",
                    "--no-renames",
                    "--no-ext-diff",
                    "--relative",
                    &commit,
                    "--",
                ])
            },
            || git(&["ls-files", "--others", "--exclude-standard", "-z"]),
        );
        let (diff, untracked) = (diff?, untracked?);
        let paths = diff
            .split(|&b| b == 0)
            .chain(untracked.split(|&b| b == 0))
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()));
        Ok(Changes::from_paths(config, rev, paths))
    }

    /// Changes made of the given paths (relative to the root). Those that are symbolic
    /// links are looked at in the work tree.
    pub(crate) fn from_paths(
        config: &Config,
        since: &str,
        paths: impl IntoIterator<Item = PathBuf>,
    ) -> Changes {
        let paths: HashSet<PathBuf> = paths.into_iter().collect();
        let whole_gate = whole_gate_paths(config);
        let mut everything: Vec<&PathBuf> = paths
            .iter()
            .filter(|p| whole_gate.iter().any(|w| p.starts_with(w)))
            .collect();
        everything.sort();
        let mut generated: Vec<PathBuf> = paths
            .iter()
            .filter(|p| p.starts_with(&config.repo.generated))
            .cloned()
            .collect();
        generated.sort();
        let root = &config.repo.root;
        let mut led_to: Vec<PathBuf> = paths
            .iter()
            .filter_map(|path| {
                let full = root.join(path);
                let link = fs::symlink_metadata(&full).ok()?.file_type().is_symlink();
                let real = full.canonicalize().ok().filter(|_| link)?;
                real.strip_prefix(root).ok().map(Path::to_path_buf)
            })
            .collect();
        led_to.sort();
        Changes {
            since: since.to_owned(),
            everything: everything.first().map(|p| (*p).clone()),
            generated,
            led_to,
            paths,
        }
    }

    /// Whether `entry` must be checked: everything is, or its inputs are unknown, or the
    /// entry, one of its inputs (a file read, a place an import found nothing, a link on
    /// the way to either) or one of its generated files changed. A changed path above an
    /// input counts too: git lists only files and links, so it is a link (or a file) that
    /// was, or now is, on the input's way. So does a changed link that now leads to an
    /// input or above one.
    pub(crate) fn reaches(&self, config: &Config, entry: &Entry, inputs: Option<&[Input]>) -> bool {
        let Some(inputs) = inputs else {
            return true;
        };
        if self.everything.is_some() || self.paths.contains(&entry.path) {
            return true;
        }
        let reached = |input: &Input| {
            input
                .path
                .ancestors()
                .any(|on_way| self.paths.contains(on_way))
                || self.led_to.iter().any(|to| input.path.starts_with(to))
        };
        if inputs.iter().any(reached) {
            return true;
        }
        let prefix = output_prefix(
            &config.repo,
            &config.repo.clusters[entry.cluster].name,
            entry,
        );
        self.generated.iter().any(|p| p.starts_with(&prefix))
    }

    /// Where freshness must look besides the checked entries' own generated files:
    /// changed generated paths no entry of `clusters` owns (an added stray file is an
    /// orphan), and the generated files of entries that were deleted (orphans too, if they
    /// are still committed). `entries` are all entries of `clusters`.
    pub(crate) fn orphan_roots(
        &self,
        config: &Config,
        clusters: &[&Cluster],
        entries: &[Entry],
    ) -> Vec<PathBuf> {
        let prefixes: Vec<PathBuf> = entries
            .iter()
            .map(|e| output_prefix(&config.repo, &config.repo.clusters[e.cluster].name, e))
            .collect();
        let in_clusters = |path: &Path| {
            clusters
                .iter()
                .any(|c| path.starts_with(config.repo.generated.join(&c.name)))
        };
        let mut roots: Vec<PathBuf> = self
            .generated
            .iter()
            .filter(|p| in_clusters(p) && !prefixes.iter().any(|prefix| p.starts_with(prefix)))
            .cloned()
            .collect();
        let existing: HashSet<&Path> = entries.iter().map(|e| e.path.as_path()).collect();
        for path in &self.paths {
            let Some(stem) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".jsonnet"))
            else {
                continue;
            };
            if stem.is_empty() || stem.starts_with('.') || existing.contains(path.as_path()) {
                continue;
            }
            for cluster in clusters {
                if path.parent() != Some(cluster.dir.as_path()) {
                    continue;
                }
                let Some(index) = config
                    .repo
                    .clusters
                    .iter()
                    .position(|c| c.name == cluster.name)
                else {
                    continue;
                };
                let gone = Entry {
                    cluster: index,
                    path: path.clone(),
                    stem: stem.to_owned(),
                };
                roots.push(output_prefix(&config.repo, &cluster.name, &gone));
            }
        }
        roots.sort();
        roots.dedup();
        roots
    }
}

/// What every entry's verdict depends on besides its own inputs: the configuration, the
/// policies and schemas (the defaults and whatever policyrun.toml names).
fn whole_gate_paths(config: &Config) -> Vec<PathBuf> {
    let mut paths = vec![
        PathBuf::from(CONFIG_FILE),
        PathBuf::from("policies"),
        PathBuf::from("schemas"),
    ];
    let relative = |p: &Path| {
        p.strip_prefix(&config.repo.root)
            .ok()
            .map(Path::to_path_buf)
    };
    let policy = &config.policy;
    let schema = &config.schema;
    for path in policy
        .dirs
        .iter()
        .chain(&policy.waivers)
        .chain(&policy.gatekeeper)
        .chain(&schema.crd_files)
        .chain(&schema.schema_dir)
    {
        paths.extend(relative(path));
    }
    for location in &schema.locations {
        // A path template: the directory before its first placeholder.
        let fixed: PathBuf = Path::new(&location.path)
            .components()
            .take_while(|c| !c.as_os_str().to_string_lossy().contains('{'))
            .collect();
        paths.extend(relative(&fixed));
    }
    paths.retain(|p| !p.as_os_str().is_empty());
    paths
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::digest::Digest;
    use crate::model::expansion::Seen;

    fn config() -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        for d in ["lib", "clusters/dev", "clusters/int", "policies"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let config = Config::parse(
            "[[cluster]]\nname = \"dev\"\n[[cluster]]\nname = \"int\"\n",
            dir.path().canonicalize().unwrap(),
        )
        .unwrap();
        (dir, config)
    }

    fn entry(cluster: usize, path: &str) -> Entry {
        Entry {
            cluster,
            path: PathBuf::from(path),
            stem: Path::new(path)
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
        }
    }

    fn input(path: &str, present: bool) -> Input {
        Input {
            path: PathBuf::from(path),
            seen: if present {
                Seen::File(Digest::of(b"x"))
            } else {
                Seen::Absent
            },
        }
    }

    #[test]
    fn a_revision_git_cannot_use_is_an_error_of_its_kind() {
        let (dir, config) = config();
        assert!(matches!(
            Changes::since(&config, "-x"),
            Err(ChangesError::NotARevision { rev }) if rev == "-x"
        ));
        // Not a git repository: git says so.
        let err = Changes::since(&config, "HEAD").unwrap_err();
        assert!(
            matches!(&err, ChangesError::Git { command, source: GitError::Failed(_), .. }
                if command == "rev-parse"),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("--changed-since HEAD: git rev-parse failed: "),
            "{err}"
        );
        let init = std::process::Command::new("git")
            .args(["init", "-q"])
            .current_dir(dir.path())
            .status()
            .unwrap();
        assert!(init.success());
        assert!(matches!(
            Changes::since(&config, "no-such-branch"),
            Err(ChangesError::NoSuchCommit { rev }) if rev == "no-such-branch"
        ));
    }

    #[test]
    fn reaches_entries_through_inputs_and_generated_files() {
        let (_dir, config) = config();
        let a = entry(0, "clusters/dev/a.jsonnet");
        let inputs = [
            input("clusters/dev/a.jsonnet", true),
            input("clusters/dev/kube.libsonnet", false),
            input("lib/kube.libsonnet", true),
        ];
        let changes =
            |paths: &[&str]| Changes::from_paths(&config, "main", paths.iter().map(PathBuf::from));
        let reaches = |paths: &[&str]| changes(paths).reaches(&config, &a, Some(&inputs));
        assert!(reaches(&["lib/kube.libsonnet"]));
        assert!(
            reaches(&["clusters/dev/kube.libsonnet"]),
            "a file created where an import looked"
        );
        assert!(reaches(&["clusters/dev/a.jsonnet"]));
        assert!(reaches(&["generated/dev/a/deploy.json"]));
        assert!(reaches(&["policyrun.toml"]));
        assert!(reaches(&["policies/security/pods.rego"]));
        assert!(!reaches(&["lib/other.libsonnet"]));
        assert!(!reaches(&["generated/dev/ab/deploy.json"]));
        assert!(!reaches(&["README.md"]));
        assert!(changes(&[]).reaches(&config, &a, None), "unknown inputs");
        assert_eq!(
            changes(&["README.md", "schemas/x.json", "policyrun.toml"]).everything,
            Some(PathBuf::from("policyrun.toml"))
        );
    }

    /// git lists a retargeted link by its own path: a link on an input's way, a path
    /// above an input (a link deleted or added there), and a link that now leads to where
    /// an entry read (a linked import path) reach the entry.
    #[cfg(unix)]
    #[test]
    fn reaches_entries_through_links() {
        let (dir, config) = config();
        std::fs::create_dir_all(dir.path().join("vendor1")).unwrap();
        std::os::unix::fs::symlink("vendor1", dir.path().join("vendor")).unwrap();
        std::os::unix::fs::symlink("lib", dir.path().join("docs-lib")).unwrap();
        let a = entry(0, "clusters/dev/a.jsonnet");
        let inputs = [
            input("clusters/dev/a.jsonnet", true),
            input("clusters/dev/v/x.libsonnet", false),
            Input {
                path: PathBuf::from("lib/v"),
                seen: Seen::Link(PathBuf::from("w")),
            },
            Input {
                path: PathBuf::from("lib/w"),
                seen: Seen::Link(PathBuf::from("v1")),
            },
            input("lib/v/x.libsonnet", true),
            input("lib/v1/x.libsonnet", true),
            input("vendor1/y.libsonnet", true),
        ];
        let reaches = |paths: &[&str]| {
            Changes::from_paths(&config, "main", paths.iter().map(PathBuf::from)).reaches(
                &config,
                &a,
                Some(&inputs),
            )
        };
        assert!(reaches(&["lib/w"]), "a link a link leads through");
        assert!(reaches(&["lib/v"]));
        assert!(
            reaches(&["clusters/dev/v"]),
            "above a place an import looked"
        );
        assert!(reaches(&["vendor"]), "a link leading to what it read");
        assert!(reaches(&["docs-lib"]), "leads above what it read");
        assert!(!reaches(&["lib/v2"]));
        assert!(!reaches(&["clusters/dev/v/y.libsonnet"]));
        assert!(!reaches(&["vendor2"]), "not a link, not above an input");
    }

    #[test]
    fn orphan_roots_are_deleted_entries_and_unowned_generated_files() {
        let (_dir, config) = config();
        let entries = vec![entry(0, "clusters/dev/a.jsonnet")];
        let clusters: Vec<&Cluster> = config.repo.clusters.iter().take(1).collect();
        let changes = Changes::from_paths(
            &config,
            "main",
            [
                "clusters/dev/gone.jsonnet",
                "clusters/dev/lib.libsonnet",
                "clusters/dev/config/nested.jsonnet",
                "clusters/int/gone.jsonnet",
                "generated/dev/a/x.json",
                "generated/dev/stray.json",
                "generated/int/other/x.json",
            ]
            .into_iter()
            .map(PathBuf::from),
        );
        assert_eq!(
            changes.orphan_roots(&config, &clusters, &entries),
            vec![
                PathBuf::from("generated/dev/gone"),
                PathBuf::from("generated/dev/stray.json")
            ]
        );
    }
}
