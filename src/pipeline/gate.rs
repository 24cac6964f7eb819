//! The gate as the protected branch has it (`check --gate-from REF`): a pull request is
//! judged by the policies, waivers, Gatekeeper files, schema files and gate settings
//! (`[policy]`, `[schema]`, `[limits]`, each cluster's `policy` and `schema` tables) of
//! `REF`, while its jsonnet and generated tree are its own. What the pull request changes in
//! them is a finding of its own, named by file and effect, that fails the gate unless the
//! change is approved (`--gate-changes-approved`, which the Jenkinsfile passes for a pull
//! request a maintainer labelled): a pull request cannot weaken the gate that judges it.
//!
//! `REF`'s gate files are read from git (never checked out: the index and the work tree stay
//! as they are) into a private directory outside the repository, which goes with the run.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::model::outcome::{Location, Outcome, Stage, Status};
use crate::model::repository::CONFIG_FILE;
use crate::pipeline::git::{GitError, run as git};
use crate::pipeline::settings::Config;

/// The check name of a finding.
pub const GATE_CHANGE: &str = "gate-change";

/// The annotation that waives rules on the object itself.
pub(crate) const WAIVER_ANNOTATION: &str = "policyrun.io/waivers";

/// Why a configuration does not hold, as the command line's reader says (the pipeline
/// cannot name the command line's error type: it is a layer above).
pub type ReaderError = Box<dyn std::error::Error + Send + Sync>;

/// Why `--gate-from REF`'s gate cannot be read (a usage error: the gate cannot be decided).
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// Empty, or starting with `-` (git would read it as an option).
    #[error("--gate-from {rev:?}: not a revision (it must not be empty or start with `-`)")]
    NotARevision { rev: String },
    #[error("--gate-from {rev}: no such commit in this repository (is it fetched?)")]
    NoSuchCommit { rev: String },
    #[error("--gate-from {rev}: {rev} has no {CONFIG_FILE} here")]
    NoConfig { rev: String },
    #[error("--gate-from {rev}: its {CONFIG_FILE} is not UTF-8")]
    NotText { rev: String },
    #[error("--gate-from {rev}: its {CONFIG_FILE}: {}", .source.message())]
    NotToml {
        rev: String,
        #[source]
        source: toml::de::Error,
    },
    /// `REF`'s configuration does not hold as the command line reads it.
    #[error("--gate-from {rev}: its {CONFIG_FILE}: {source}")]
    Config {
        rev: String,
        #[source]
        source: ReaderError,
    },
    /// `path`: the gate file git was asked for, if any.
    #[error(
        "--gate-from {rev}: {}{source}",
        .path.as_deref().map(|p| format!("{p}: ")).unwrap_or_default()
    )]
    Git {
        rev: String,
        path: Option<String>,
        #[source]
        source: GitError,
    },
    #[error("cannot make a private directory for the gate: {0}")]
    PrivateDir(#[source] std::io::Error),
    /// A gate file cannot be written to, or found in, the private directory.
    #[error("{}: {source}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `REF`'s gate: its configuration, parsed with its gate files in a private directory.
#[derive(Debug)]
pub struct Baseline {
    pub rev: String,
    /// `REF`'s configuration; its paths are in [`Baseline::dir`].
    pub config: Config,
    /// `REF`'s `policyrun.toml`, as written.
    raw: toml::Table,
    /// The gate files of `REF`, relative to the repository root, with their bytes.
    files: BTreeMap<PathBuf, Vec<u8>>,
    repo_root: PathBuf,
    /// Held so that the directory lives, and goes, with the baseline.
    _dir: PrivateDir,
}

impl Baseline {
    /// Reads `REF`'s gate for the repository at `root` (its `policyrun.toml` is at the
    /// root); `parse` reads a configuration as the command line does (its paths must exist
    /// below the directory it is given). An unknown revision, a `REF` without
    /// `policyrun.toml` and a broken one are `Err` (a usage error: the gate cannot be
    /// decided).
    pub fn read(
        root: &Path,
        rev: &str,
        parse: &dyn Fn(&str, PathBuf) -> Result<Config, ReaderError>,
    ) -> Result<Baseline, BaselineError> {
        let owned = || rev.to_owned();
        if rev.is_empty() || rev.starts_with('-') {
            return Err(BaselineError::NotARevision { rev: owned() });
        }
        let commit = format!("{rev}^{{commit}}");
        git(root, &["rev-parse", "--verify", "--quiet", &commit])
            .map_err(|_| BaselineError::NoSuchCommit { rev: owned() })?;
        let text = git(root, &["show", &format!("{rev}:./{CONFIG_FILE}")])
            .map_err(|_| BaselineError::NoConfig { rev: owned() })?;
        let text = String::from_utf8(text).map_err(|_| BaselineError::NotText { rev: owned() })?;
        let raw: toml::Table = toml::from_str(&text).map_err(|source| BaselineError::NotToml {
            rev: owned(),
            source,
        })?;
        let written = |path: &Path| {
            let path = path.to_path_buf();
            move |source| BaselineError::Write { path, source }
        };
        let dir = PrivateDir::new()?;
        let mut files = BTreeMap::new();
        let paths = gate_paths(&raw);
        if !paths.is_empty() {
            let mut args = vec!["ls-tree", "-r", "-z", rev, "--"];
            args.extend(paths.iter().map(String::as_str));
            let listing = git(root, &args).map_err(|source| BaselineError::Git {
                rev: owned(),
                path: None,
                source,
            })?;
            for line in listing.split(|b| *b == 0).filter(|l| !l.is_empty()) {
                let line = String::from_utf8_lossy(line);
                let Some((meta, path)) = line.split_once('\t') else {
                    continue;
                };
                let fields: Vec<&str> = meta.split(' ').collect();
                // Regular files only: links and submodules are no gate files (the
                // configuration refuses links among them anyway).
                let (["100644" | "100755", "blob", sha], false) =
                    (fields.as_slice(), path.contains(".."))
                else {
                    continue;
                };
                let bytes =
                    git(root, &["cat-file", "blob", sha]).map_err(|source| BaselineError::Git {
                        rev: owned(),
                        path: Some(path.to_string()),
                        source,
                    })?;
                let target = dir.path().join(path);
                if let Some(parent) = target.parent() {
                    fs::create_dir_all(parent).map_err(written(parent))?;
                }
                fs::write(&target, &bytes).map_err(written(&target))?;
                files.insert(PathBuf::from(path), bytes);
            }
        }
        fs::write(dir.path().join(CONFIG_FILE), &text).map_err(written(dir.path()))?;
        let canonical = dir.path().canonicalize().map_err(written(dir.path()))?;
        let config = parse(&text, canonical).map_err(|source| BaselineError::Config {
            rev: owned(),
            source,
        })?;
        Ok(Baseline {
            rev: rev.to_owned(),
            config,
            raw,
            files,
            repo_root: root.to_path_buf(),
            _dir: dir,
        })
    }

    /// The directory `REF`'s gate files are relative to.
    pub fn dir(&self) -> PathBuf {
        self.config.repo.root.clone()
    }

    /// `config` (the pull request's) judged by this gate: `REF`'s `[policy]`, `[schema]`,
    /// `[limits]` and each cluster's policy context (a cluster `REF` does not know keeps its
    /// own, and that is a finding).
    pub fn judge(&self, mut config: Config) -> Config {
        config.policy = self.config.policy.clone();
        config.schema = self.config.schema.clone();
        config.gate_root = self.dir();
        config.repo.evaluation_budget = self.config.repo.evaluation_budget;
        config.style.max_source_bytes = self.config.style.max_source_bytes;
        config.memory_budget = self.config.memory_budget;
        for cluster in &mut config.repo.clusters {
            if let Some(base) = self
                .config
                .repo
                .clusters
                .iter()
                .find(|c| c.name == cluster.name)
            {
                cluster.policy = base.policy.clone();
            }
        }
        config
    }

    /// What the pull request (`config` and `raw`, its `policyrun.toml`) changes in the gate,
    /// one finding per change: failed, or a warning when the change is `approved`.
    pub fn findings(&self, config: &Config, raw: &toml::Table, approved: bool) -> Vec<Outcome> {
        let mut found = Vec::new();
        let mut say = |subject: &str, message: String| {
            found.push(self.finding(subject, message, approved));
        };
        for (table, shown) in [
            ("policy", "[policy]"),
            ("schema", "[schema]"),
            ("limits", "[limits]"),
        ] {
            for (key, before, after) in changed_keys(self.raw.get(table), raw.get(table)) {
                let effect = if (table, key.as_str()) == ("policy", "packs") {
                    pack_change(before.as_ref(), after.as_ref())
                } else {
                    String::new()
                };
                say(
                    CONFIG_FILE,
                    setting_change(shown, &key, before, after) + &effect,
                );
            }
        }
        let clusters = |table: &toml::Table| -> BTreeMap<String, toml::Table> {
            table
                .get("cluster")
                .and_then(toml::Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(toml::Value::as_table)
                        .filter_map(|c| Some((c.get("name")?.as_str()?.to_owned(), c.clone())))
                        .collect()
                })
                .unwrap_or_default()
        };
        let (before, after) = (clusters(&self.raw), clusters(raw));
        for (name, cluster) in &after {
            let Some(base) = before.get(name) else {
                say(
                    CONFIG_FILE,
                    format!(
                        "adds cluster {name}, which {} does not know: its objects are judged with this change's own [cluster.policy]",
                        self.rev
                    ),
                );
                continue;
            };
            for table in ["policy", "schema"] {
                for (key, old, new) in changed_keys(base.get(table), cluster.get(table)) {
                    say(
                        CONFIG_FILE,
                        setting_change(
                            &format!("cluster {name} [cluster.{table}]"),
                            &key,
                            old,
                            new,
                        ),
                    );
                }
            }
        }
        let ours = self.files_of(config);
        let paths: BTreeSet<&PathBuf> = self.files.keys().chain(ours.keys()).collect();
        for path in paths {
            let shown = path.display().to_string();
            match (self.files.get(path), ours.get(path)) {
                (Some(old), Some(new)) if old == new => {}
                (Some(old), Some(new)) => say(
                    &shown,
                    file_change(path, Some(old.as_slice()), Some(new.as_slice())),
                ),
                (Some(old), None) => say(&shown, file_change(path, Some(old.as_slice()), None)),
                (None, Some(new)) => say(&shown, file_change(path, None, Some(new.as_slice()))),
                (None, None) => {}
            }
        }
        found
    }

    /// A finding about an object whose own waiver annotation this change adds or changes
    /// (compared with the objects of the same generated file at `REF`).
    pub fn annotation_finding(
        &self,
        subject: &str,
        generated: &Path,
        object: &Value,
        approved: bool,
    ) -> Option<Outcome> {
        let annotation = object
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(WAIVER_ANNOTATION))?;
        let before = git(
            &self.repo_root,
            &["show", &format!("{}:./{}", self.rev, generated.display())],
        )
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
        let known = before.is_some_and(|document| {
            let mut objects = vec![&document];
            if let Some(items) = document.get("items").and_then(Value::as_array) {
                objects.extend(items);
            }
            objects.iter().any(|o| {
                o.pointer("/metadata/annotations")
                    .and_then(|a| a.get(WAIVER_ANNOTATION))
                    == Some(annotation)
            })
        });
        if known {
            return None;
        }
        let waived: Vec<String> = annotation
            .as_str()
            .and_then(|text| serde_json::from_str::<Vec<Value>>(text).ok())
            .unwrap_or_default()
            .iter()
            .map(describe_waiver)
            .collect();
        let what = if waived.is_empty() {
            "a waiver annotation".to_owned()
        } else {
            waived.join("; ")
        };
        let mut outcome = self.finding(
            subject,
            format!(
                "{what} on the object itself ({WAIVER_ANNOTATION}), new in this change since {}",
                self.rev
            ),
            approved,
        );
        outcome.location = Some(Location::file(generated));
        Some(outcome)
    }

    fn finding(&self, subject: &str, message: String, approved: bool) -> Outcome {
        let status = if approved {
            Status::Warning
        } else {
            Status::Failed
        };
        let mut outcome = Outcome::new(Stage::Policy, GATE_CHANGE, status)
            .subject(subject.to_owned())
            .message(message);
        outcome.detail = Some(format!(
            "this change edits the gate that judges it, as {} has it; {}",
            self.rev,
            if approved {
                "the change is approved (--gate-changes-approved): it is judged by the gate it brings"
            } else {
                "it is judged by that gate, and a maintainer's approval (--gate-changes-approved, see docs/jenkins.md in policyrun's sources) lets it pass"
            }
        ));
        if subject == CONFIG_FILE || !subject.contains(' ') {
            outcome.location = Some(Location::file(subject));
        }
        outcome
    }

    /// The pull request's gate files: every file below its configured gate paths.
    fn files_of(&self, config: &Config) -> BTreeMap<PathBuf, Vec<u8>> {
        let root = &config.repo.root;
        let policy = &config.policy;
        let schema = &config.schema;
        let mut tops: Vec<PathBuf> = policy
            .dirs
            .iter()
            .chain(&policy.waivers)
            .chain(&policy.gatekeeper)
            .chain(&schema.crd_files)
            .chain(&schema.schema_dir)
            .cloned()
            .collect();
        for location in &schema.locations {
            let fixed: PathBuf = Path::new(&location.path)
                .components()
                .take_while(|c| !c.as_os_str().to_string_lossy().contains('{'))
                .collect();
            tops.push(fixed);
        }
        let mut files = BTreeMap::new();
        for top in tops {
            let Ok(relative) = top.strip_prefix(root) else {
                continue;
            };
            if relative.as_os_str().is_empty() {
                continue;
            }
            for entry in walkdir::WalkDir::new(&top)
                .follow_links(false)
                .into_iter()
                .flatten()
            {
                if !entry.file_type().is_file() {
                    continue;
                }
                if let (Ok(path), Ok(bytes)) =
                    (entry.path().strip_prefix(root), fs::read(entry.path()))
                {
                    files.insert(path.to_path_buf(), bytes);
                }
            }
        }
        files
    }
}

/// The paths a `policyrun.toml` names as gate files (relative to the root), and the default
/// `policies` directory.
fn gate_paths(raw: &toml::Table) -> Vec<String> {
    let strings = |table: &str, key: &str| -> Vec<String> {
        match raw.get(table).and_then(|t| t.get(key)) {
            Some(toml::Value::String(one)) => vec![one.clone()],
            Some(toml::Value::Array(list)) => list
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut paths = strings("policy", "dirs");
    if raw.get("policy").and_then(|p| p.get("dirs")).is_none() {
        paths.push("policies".to_owned());
    }
    for (table, key) in [
        ("policy", "waivers"),
        ("policy", "gatekeeper"),
        ("schema", "crds"),
        ("schema", "schema_dir"),
    ] {
        paths.extend(strings(table, key));
    }
    for location in strings("schema", "locations") {
        let fixed: Vec<&str> = location
            .split('/')
            .take_while(|c| !c.contains('{'))
            .collect();
        paths.push(fixed.join("/"));
    }
    paths.retain(|p| !p.is_empty() && !Path::new(p).is_absolute());
    paths.sort();
    paths.dedup();
    paths
}

/// The keys whose values differ between two tables (`None`: the table is absent), with the
/// value before and after.
fn changed_keys(
    before: Option<&toml::Value>,
    after: Option<&toml::Value>,
) -> Vec<(String, Option<toml::Value>, Option<toml::Value>)> {
    let empty = toml::Table::new();
    let before = before.and_then(toml::Value::as_table).unwrap_or(&empty);
    let after = after.and_then(toml::Value::as_table).unwrap_or(&empty);
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter(|k| before.get(*k) != after.get(*k))
        .map(|k| (k.clone(), before.get(k).cloned(), after.get(k).cloned()))
        .collect()
}

/// "[policy] namespaces: ["security", "namespace"] → ["namespace"]".
fn setting_change(
    table: &str,
    key: &str,
    before: Option<toml::Value>,
    after: Option<toml::Value>,
) -> String {
    let shown = |value: &Option<toml::Value>| match value {
        None => "(not set)".to_owned(),
        Some(value) => value.to_string(),
    };
    let verb = match (&before, &after) {
        (None, Some(_)) => "sets",
        (Some(_), None) => "removes",
        _ => "changes",
    };
    format!(
        "{verb} {table} {key}: {} -> {}",
        shown(&before),
        shown(&after)
    )
}

/// What a change to `[policy] packs` does to the gate: the built-in rules it stops or starts
/// running (": removes rules security.deny_privileged, ..."), or nothing to add.
fn pack_change(before: Option<&toml::Value>, after: Option<&toml::Value>) -> String {
    let names = |value: Option<&toml::Value>| -> BTreeSet<String> {
        value
            .and_then(toml::Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (before, after) = (names(before), names(after));
    let rules = |packs: BTreeSet<&String>| -> Vec<String> {
        packs
            .into_iter()
            .flat_map(|pack| crate::policy::packs::rule_checks(pack))
            .collect()
    };
    let removed = rules(before.difference(&after).collect());
    let added = rules(after.difference(&before).collect());
    let mut effects = Vec::new();
    if !removed.is_empty() {
        effects.push(format!(
            "removes rules {}",
            list(&removed.iter().collect::<Vec<_>>())
        ));
    }
    if !added.is_empty() {
        effects.push(format!(
            "adds rules {}",
            list(&added.iter().collect::<Vec<_>>())
        ));
    }
    if effects.is_empty() {
        String::new()
    } else {
        format!(": {}", effects.join("; "))
    }
}

/// What a change to one gate file does, as far as can be said without evaluating: the rules
/// a module adds or removes, the waivers a waiver file adds or removes.
fn file_change(path: &Path, before: Option<&[u8]>, after: Option<&[u8]>) -> String {
    let shown = path.display().to_string();
    let text = |bytes: Option<&[u8]>| bytes.map(|b| String::from_utf8_lossy(b).into_owned());
    let (old, new) = (text(before), text(after));
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let verb = match (&old, &new) {
        (None, _) => "enters the gate",
        (_, None) => "leaves the gate (deleted, or no longer configured)",
        _ => "changes",
    };
    let mut effects = Vec::new();
    if extension == "rego" {
        let rules = |text: &Option<String>| -> Option<BTreeSet<String>> {
            match text {
                None => Some(BTreeSet::new()),
                Some(text) => crate::policy::rego::rules::declared(&shown, text).ok(),
            }
        };
        match (rules(&old), rules(&new)) {
            (Some(before), Some(after)) => {
                let removed: Vec<&String> = before.difference(&after).collect();
                let added: Vec<&String> = after.difference(&before).collect();
                if !removed.is_empty() {
                    effects.push(format!("removes rules {}", list(&removed)));
                }
                if !added.is_empty() {
                    effects.push(format!("adds rules {}", list(&added)));
                }
                if removed.is_empty() && added.is_empty() && old.is_some() && new.is_some() {
                    effects.push("changes what its rules say".to_owned());
                }
            }
            _ => effects.push("does not parse as Rego".to_owned()),
        }
    } else if matches!(extension, "yaml" | "yml" | "json") {
        let entries = |text: &Option<String>| -> Vec<Value> {
            text.as_deref()
                .and_then(|t| {
                    if extension == "json" {
                        serde_json::from_str::<Value>(t).ok()
                    } else {
                        crate::model::yaml::parse_document(t).ok()
                    }
                })
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
        };
        let (before, after) = (entries(&old), entries(&new));
        let is_waiver = |v: &Value| v.get("rule").is_some() && v.get("expires").is_some();
        let added: Vec<String> = after
            .iter()
            .filter(|w| is_waiver(w) && !before.contains(w))
            .map(describe_waiver)
            .collect();
        let removed: Vec<String> = before
            .iter()
            .filter(|w| is_waiver(w) && !after.contains(w))
            .map(describe_waiver)
            .collect();
        if !added.is_empty() {
            effects.push(format!("adds {}", added.join("; ")));
        }
        if !removed.is_empty() {
            effects.push(format!("removes {}", removed.join("; ")));
        }
    }
    if effects.is_empty() {
        verb.to_owned()
    } else {
        format!("{verb}: {}", effects.join("; "))
    }
}

fn list(names: &[&String]) -> String {
    const SHOWN: usize = 8;
    let mut text = names
        .iter()
        .take(SHOWN)
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}

/// "a waiver of rule security.deny_privileged for Deployment apps/web in int until
/// 9999-12-31".
fn describe_waiver(waiver: &Value) -> String {
    let field = |key: &str| waiver.get(key).and_then(Value::as_str);
    let mut text = format!("a waiver of rule {}", field("rule").unwrap_or("?"));
    let selected: Vec<String> = ["kind", "namespace", "name"]
        .iter()
        .filter_map(|k| field(k).map(str::to_owned))
        .collect();
    if !selected.is_empty() {
        text.push_str(&format!(" for {}", selected.join(" ")));
    }
    if let Some(cluster) = field("cluster") {
        text.push_str(&format!(" in {cluster}"));
    }
    let expires = waiver
        .get("expires")
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
    if let Some(expires) = expires {
        text.push_str(&format!(" until {expires}"));
    }
    text
}

/// A directory of this run's own, readable by the user alone, removed when the run ends.
#[derive(Debug)]
struct PrivateDir(PathBuf);

impl PrivateDir {
    fn new() -> Result<PrivateDir, BaselineError> {
        use std::os::unix::fs::DirBuilderExt;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path =
            std::env::temp_dir().join(format!("policyrun-gate-{}-{nanos}", std::process::id()));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(BaselineError::PrivateDir)?;
        Ok(PrivateDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gate_that_cannot_be_read_is_an_error_of_its_kind() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let parse =
            |_: &str, _: PathBuf| -> Result<Config, ReaderError> { Err("not asked".into()) };
        assert!(matches!(
            Baseline::read(&root, "--all", &parse),
            Err(BaselineError::NotARevision { rev }) if rev == "--all"
        ));
        let run = |args: &[&str]| {
            let status = std::process::Command::new("git")
                .args(args)
                .current_dir(&root)
                .status()
                .unwrap();
            assert!(status.success(), "git {args:?}");
        };
        run(&["init", "-q"]);
        assert!(matches!(
            Baseline::read(&root, "main", &parse),
            Err(BaselineError::NoSuchCommit { .. })
        ));
        fs::write(root.join("README"), "x").unwrap();
        run(&["add", "README"]);
        run(&[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-q",
            "-m",
            "x",
        ]);
        let err = Baseline::read(&root, "HEAD", &parse).unwrap_err();
        assert!(matches!(err, BaselineError::NoConfig { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!("--gate-from HEAD: HEAD has no {CONFIG_FILE} here")
        );
        fs::write(root.join(CONFIG_FILE), "[[cluster]]\nname = \"dev\"\n").unwrap();
        run(&["add", CONFIG_FILE]);
        run(&[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-q",
            "-m",
            "y",
        ]);
        let err = Baseline::read(&root, "HEAD", &parse).unwrap_err();
        assert!(
            matches!(&err, BaselineError::Config { rev, .. } if rev == "HEAD"),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!("--gate-from HEAD: its {CONFIG_FILE}: not asked")
        );
    }
}
