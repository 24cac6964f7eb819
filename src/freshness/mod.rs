//! Compares what the sources produce with the committed JSON, so that a review always shows
//! exactly what a change does: each file is up to date, stale, missing or orphaned.

pub mod write;

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::Value;
use walkdir::WalkDir;

use crate::model::expansion::{Expanded, Produced, output_prefix};
use crate::model::outcome::{Location, Outcome, Stage, Status, plain_name, shown_path};
use crate::model::paths;
use crate::model::repository::{Cluster, FormatOnly, Repository};
use crate::model::secrets;
use crate::model::stage::StageReport;
use crate::model::text::labelled_diff;

pub const CHECK: &str = "up-to-date";

/// How a committed file relates to what the sources produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommittedState {
    UpToDate,
    /// Same value, different bytes (another jsonnet implementation's number formatting).
    FormattingOnly,
    Stale,
    /// The committed JSON holds a key twice in one object (`serde_json`'s wording, with the
    /// line): readers disagree on which value wins, so it does not say one thing.
    DuplicateKey(String),
    Missing,
}

/// Compares one produced file with its committed version.
pub fn compare(produced: &Produced, committed: Option<&[u8]>) -> CommittedState {
    let Some(committed) = committed else {
        return CommittedState::Missing;
    };
    if committed == produced.text.as_bytes() {
        return CommittedState::UpToDate;
    }
    // Only files whose bytes differ get parsed: the rare path pays for the value comparison.
    if let Some(duplicate) = duplicate_key(committed) {
        return CommittedState::DuplicateKey(duplicate);
    }
    let same_value = match (
        serde_json::from_slice::<Value>(committed),
        serde_json::from_str::<Value>(&produced.text),
    ) {
        (Ok(committed), Ok(produced)) => committed == produced,
        _ => false,
    };
    if same_value {
        CommittedState::FormattingOnly
    } else {
        CommittedState::Stale
    }
}

/// The first key that occurs twice in one object of `json`, as `duplicate key `k` at line L
/// column C`; `None` when there is none or the text is not JSON (then the value comparison
/// says stale).
fn duplicate_key(json: &[u8]) -> Option<String> {
    use serde::Deserialize;
    use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

    struct Distinct;
    impl<'de> Deserialize<'de> for Distinct {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(DistinctVisitor)
        }
    }
    struct DistinctVisitor;
    impl<'de> Visitor<'de> for DistinctVisitor {
        type Value = Distinct;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Distinct, A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key.clone()) {
                    let shown: String = key.escape_debug().take(80).collect();
                    return Err(de::Error::custom(format!("duplicate key `{shown}`")));
                }
                map.next_value::<Distinct>()?;
            }
            Ok(Distinct)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Distinct, A::Error> {
            while seq.next_element::<Distinct>()?.is_some() {}
            Ok(Distinct)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Distinct, E> {
            Ok(Distinct)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Distinct, E> {
            Ok(Distinct)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Distinct, E> {
            Ok(Distinct)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Distinct, E> {
            Ok(Distinct)
        }
        fn visit_str<E>(self, _: &str) -> Result<Distinct, E> {
            Ok(Distinct)
        }
        fn visit_unit<E>(self) -> Result<Distinct, E> {
            Ok(Distinct)
        }
    }
    match serde_json::from_slice::<Distinct>(json) {
        Err(e) if e.to_string().starts_with("duplicate key") => Some(e.to_string()),
        _ => None,
    }
}

/// A unified diff from the committed text to the produced one.
pub fn unified_diff(path: &Path, committed: &str, produced: &str) -> String {
    labelled_diff(
        &format!("{} (committed)", path.display()),
        &format!("{} (produced by the sources)", path.display()),
        committed,
        produced,
    )
}

/// For a file holding a Secret on either side — committed or produced, so that a Secret
/// the sources now turn into a ConfigMap does not show its old values: a diff in which every
/// Secret value is replaced by a marker (saying whether it changed), since a report must
/// never show a secret value; `None` for other files.
fn secret_safe_diff(path: &Path, committed: &str, produced: &str) -> Option<String> {
    let mut produced: Value = serde_json::from_str(produced).ok()?;
    let committed = serde_json::from_str::<Value>(committed).map_err(|_| committed);
    let secret_committed = match &committed {
        Ok(value) => secrets::holds_secret(value),
        // Text no JSON reader takes is never applied, but it is shown: where it may be a
        // Secret, it is not.
        Err(text) => text.contains("Secret"),
    };
    if !secret_committed && !secrets::holds_secret(&produced) {
        return None;
    }
    let header = "(Secret values are hidden; a changed one shows as <hidden, changed>)\n";
    let Ok(mut committed) = committed else {
        return Some(format!(
            "{header}the committed file is not valid JSON; it is not shown because it may hold Secret values"
        ));
    };
    let reference = committed.clone();
    secrets::mask_secrets(&mut committed, Some(&produced));
    secrets::mask_secrets(&mut produced, Some(&reference));
    let text = |value: &Value| serde_json::to_string_pretty(value).unwrap_or_default() + "\n";
    Some(format!(
        "{header}{}",
        unified_diff(path, &text(&committed), &text(&produced))
    ))
}

/// What the freshness stage compares: the committed tree (scanned while the entries
/// expanded) and what the checked entries produced.
pub struct Input<'a> {
    pub committed: &'a CommittedTree,
    pub expanded: &'a [Expanded],
}

/// The freshness stage: every produced file against its committed version, and every
/// committed file no entry produces (an orphan).
pub fn run(repo: &Repository, input: Input) -> StageReport {
    StageReport::of(check(repo, input.committed, input.expanded))
}

/// Freshness outcomes for the given expansions against the committed `tree`, plus orphans.
pub fn check(repo: &Repository, tree: &CommittedTree, expanded: &[Expanded]) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = expanded
        .par_iter()
        .flat_map_iter(|e| {
            let files = e.result.as_ref().map(|r| r.files.as_slice()).unwrap_or(&[]);
            files.iter().map(move |p| check_file(repo, tree, e, p))
        })
        .collect();
    outcomes.extend(orphans(repo, tree, expanded));
    outcomes
}

/// What is committed below the scanned part of the generated root, from one walk that
/// never follows a symbolic link: a regular file found by it is reached through real
/// directories only, so it can be read without checking each component again.
pub struct CommittedTree {
    /// Regular files, relative to the repository root.
    files: HashSet<PathBuf>,
    /// Everything else that is not a directory (symbolic links, sockets), and directories
    /// that could not be listed, with what is wrong with them.
    others: Vec<(PathBuf, String)>,
}

impl CommittedTree {
    /// Walks the generated directories of `clusters` (the whole generated root when
    /// `all_clusters`, so that a removed cluster's files show up as orphans).
    pub fn scan(repo: &Repository, clusters: &[&Cluster], all_clusters: bool) -> Self {
        let scan_roots: Vec<PathBuf> = if all_clusters {
            vec![repo.generated.clone()]
        } else {
            clusters
                .iter()
                .map(|c| repo.generated.join(&c.name))
                .collect()
        };
        Self::scan_roots(repo, &scan_roots, false)
    }

    /// Only these places below the generated root (directories or files), for a run that
    /// checks some entries (`--changed-since`): their generated files and the places of
    /// orphans the change may have left. Files elsewhere are neither read nor orphans.
    pub fn scan_some(repo: &Repository, places: &[PathBuf]) -> Self {
        let places: Vec<PathBuf> = places
            .iter()
            .filter(|p| p.starts_with(&repo.generated))
            .cloned()
            .collect();
        Self::scan_roots(repo, &places, true)
    }

    fn scan_roots(repo: &Repository, scan_roots: &[PathBuf], files_too: bool) -> Self {
        let mut tree = CommittedTree {
            files: HashSet::new(),
            others: Vec::new(),
        };
        for scan_root in scan_roots.iter().cloned() {
            // A place `--changed-since` names can be anywhere below the generated root.
            if let Some(problem) = scan_root
                .strip_prefix(&repo.generated)
                .ok()
                .and_then(|below| below.iter().find_map(name_problem))
            {
                tree.others.push((scan_root.clone(), problem));
                continue;
            }
            // The scan root's own components (`generated`, `generated/dev`) must not be
            // links either: the walk would start inside whatever they point to.
            match paths::lstat_below(&repo.root, &scan_root) {
                Ok(Some(meta)) if meta.is_dir() => {}
                Ok(Some(meta)) if files_too && meta.is_file() => {
                    tree.files.insert(scan_root);
                    continue;
                }
                Ok(None) => continue,
                Ok(Some(_)) => {
                    tree.others.push((
                        scan_root.clone(),
                        "is not a directory; the generated tree must hold plain files".into(),
                    ));
                    continue;
                }
                Err(problem) => {
                    tree.others.push((scan_root.clone(), problem.to_string()));
                    continue;
                }
            }
            let mut walker = WalkDir::new(repo.root.join(&scan_root))
                .follow_links(false)
                .sort_by_file_name()
                .into_iter();
            while let Some(item) = walker.next() {
                let item = match item {
                    Ok(item) => item,
                    Err(e) if e.io_error().map(|io| io.kind()) == Some(ErrorKind::NotFound) => {
                        continue;
                    }
                    Err(e) => {
                        let path = e
                            .path()
                            .and_then(|p| p.strip_prefix(&repo.root).ok())
                            .map_or_else(|| scan_root.clone(), Path::to_path_buf);
                        tree.others.push((path, format!("cannot list: {e}")));
                        continue;
                    }
                };
                let file_type = item.file_type();
                let relative = item
                    .path()
                    .strip_prefix(&repo.root)
                    .unwrap_or(item.path())
                    .to_path_buf();
                // A badly named directory is one error: nothing below it is looked at.
                if let Some(problem) = name_problem(item.file_name()).filter(|_| item.depth() > 0) {
                    if file_type.is_dir() {
                        walker.skip_current_dir();
                    }
                    tree.others.push((relative, problem));
                    continue;
                }
                if file_type.is_dir() {
                    continue;
                }
                if file_type.is_file() {
                    tree.files.insert(relative);
                } else {
                    tree.others.push((
                        relative,
                        "is a symbolic link or special file; the generated tree must hold plain files"
                            .into(),
                    ));
                }
            }
        }
        tree
    }

    /// The committed bytes of `relative`, `None` when nothing is committed there.
    fn read(&self, root: &Path, relative: &Path) -> Result<Option<Vec<u8>>, String> {
        if self.files.contains(relative) {
            match fs::read(root.join(relative)) {
                Ok(bytes) => return Ok(Some(bytes)),
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(format!("cannot read {}: {e}", relative.display())),
            }
        }
        // Not seen as a regular file: say precisely why (nothing there, a link on the way).
        read_committed(root, relative)
    }
}

fn check_file(
    repo: &Repository,
    tree: &CommittedTree,
    expanded: &Expanded,
    produced: &Produced,
) -> Outcome {
    let base = Outcome::new(Stage::Freshness, CHECK, Status::Passed)
        .cluster(&expanded.cluster)
        .entry(expanded.entry.path.clone())
        .subject(produced.path.display().to_string());
    let committed = match tree.read(&repo.root, &produced.path) {
        Ok(bytes) => bytes,
        Err(message) => {
            return Outcome {
                status: Status::Error,
                ..base
            }
            .message(message)
            .location(Location::file(produced.path.clone()));
        }
    };
    match compare(produced, committed.as_deref()) {
        CommittedState::UpToDate => base,
        CommittedState::Missing => Outcome {
            status: Status::Failed,
            ..base
        }
        .message("missing: not committed; run `policyrun expand` and commit the result"),
        CommittedState::DuplicateKey(duplicate) => Outcome {
            status: Status::Failed,
            ..base
        }
        .message(format!(
            "stale: {duplicate}: JSON readers disagree on which value wins, so what a reviewer reads may not be what is applied; run `policyrun expand`"
        ))
        .location(Location::file(produced.path.clone())),
        verdict @ (CommittedState::Stale | CommittedState::FormattingOnly) => {
            let committed_text = String::from_utf8_lossy(committed.as_deref().unwrap_or_default());
            let diff = secret_safe_diff(&produced.path, &committed_text, &produced.text)
                .unwrap_or_else(|| unified_diff(&produced.path, &committed_text, &produced.text));
            let (status, message) = if verdict == CommittedState::Stale {
                (
                    Status::Failed,
                    "stale: the committed file differs from what the sources produce; run `policyrun expand`".to_owned(),
                )
            } else {
                let status = match repo.format_only {
                    FormatOnly::Warn => Status::Warning,
                    FormatOnly::Fail => Status::Failed,
                };
                // A tree written with another indent differs on every line of every file:
                // the setting is what to change, not all the committed files.
                let message = match indented_by(&produced.text, &committed_text, repo.indent) {
                    Some(theirs) => format!(
                        "formatting only: the committed file is indented by {theirs} where policyrun.toml says `indent = {}`; if the whole tree is, set `indent = {theirs}` in policyrun.toml (or run `policyrun expand` to rewrite the files)",
                        repo.indent
                    ),
                    None => "formatting only: same value, different bytes (written by another jsonnet implementation?); run `policyrun expand`".to_owned(),
                };
                (status, message)
            };
            Outcome { status, ..base }
                .message(message)
                .detail(diff)
                .location(Location::file(produced.path.clone()))
        }
    }
}

/// The indent `committed` is written with when it is `produced` (indented by `indent`)
/// with only the leading spaces of each line scaled to another indent.
fn indented_by(produced: &str, committed: &str, indent: usize) -> Option<usize> {
    if indent == 0 || produced.lines().count() != committed.lines().count() {
        return None;
    }
    let leading = |line: &str| line.len() - line.trim_start_matches(' ').len();
    let mut theirs = None;
    for (ours, other) in produced.lines().zip(committed.lines()) {
        let (a, b) = (leading(ours), leading(other));
        if ours[a..] != other[b..] || a % indent != 0 {
            return None;
        }
        let level = a / indent;
        if level == 0 {
            if b != 0 {
                return None;
            }
            continue;
        }
        if b % level != 0 {
            return None;
        }
        match theirs {
            None => theirs = Some(b / level),
            Some(n) if n == b / level => {}
            Some(_) => return None,
        }
    }
    theirs.filter(|n| *n != indent && *n > 0)
}

/// What is wrong with a file name below the generated root, if anything. No entry produces
/// such a name (entry stems and item keys are plain), and it cannot be shown as it is: it is
/// an error of its own, and nothing below it is read or, by `expand`, removed.
fn name_problem(name: &std::ffi::OsStr) -> Option<String> {
    if plain_name(name) {
        return None;
    }
    let what = if name.to_str().is_none() {
        "is not valid UTF-8"
    } else {
        "contains control characters"
    };
    Some(format!(
        "file name {what} (shown escaped); no entry produces such a name, rename or remove it"
    ))
}

/// Reads a committed file without following symlinks: a link committed into the generated
/// tree could otherwise put any file the agent can read into the report's diff.
fn read_committed(root: &Path, relative: &Path) -> Result<Option<Vec<u8>>, String> {
    let Some(meta) = paths::lstat_below(root, relative).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", relative.display()));
    }
    match fs::read(root.join(relative)) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", relative.display())),
    }
}

/// A committed file below the generated root that no entry produces.
pub struct Orphan {
    pub path: PathBuf,
    pub cluster: Option<String>,
    /// Set when the path is not a regular file (a symlink): reported, never touched.
    pub problem: Option<String>,
}

/// Committed files that nothing produces, and anything in the tree that is not a plain
/// file. Files below an entry that failed to evaluate are not orphans: what the entry
/// produces is unknown.
pub fn find_orphans(repo: &Repository, tree: &CommittedTree, expanded: &[Expanded]) -> Vec<Orphan> {
    let produced: HashSet<&Path> = expanded
        .iter()
        .filter_map(|e| e.result.as_ref().ok())
        .flat_map(|r| r.files.iter().map(|p| p.path.as_path()))
        .collect();
    let unknown: Vec<PathBuf> = expanded
        .iter()
        .filter(|e| e.result.is_err())
        .map(|e| output_prefix(repo, &e.cluster, &e.entry))
        .collect();
    let cluster_of = |relative: &Path| {
        relative
            .strip_prefix(&repo.generated)
            .ok()
            .and_then(|p| p.components().next())
            .filter(|_| relative.parent() != Some(repo.generated.as_path()))
            .map(|c| shown_path(Path::new(c.as_os_str())))
    };
    let mut orphans: Vec<Orphan> = tree
        .files
        .iter()
        .filter(|path| {
            !produced.contains(path.as_path())
                && !unknown.iter().any(|prefix| path.starts_with(prefix))
        })
        .map(|path| Orphan {
            path: path.clone(),
            cluster: cluster_of(path),
            problem: None,
        })
        .chain(tree.others.iter().map(|(path, problem)| Orphan {
            path: path.clone(),
            cluster: cluster_of(path),
            problem: Some(problem.clone()),
        }))
        .collect();
    orphans.sort_by(|a, b| a.path.cmp(&b.path));
    orphans
}

impl Orphan {
    /// The cluster whose directory below the generated root holds this orphan, when no
    /// `[[cluster]]` of policyrun.toml has that name any more (removed or renamed).
    pub fn unconfigured_cluster(&self, repo: &Repository) -> Option<&str> {
        self.cluster
            .as_deref()
            .filter(|name| !repo.clusters.iter().any(|c| c.name == *name))
    }
}

/// Why a cluster's committed tree is orphaned as a whole, said once for all its files: the
/// configured clusters with nothing committed are named, as the likely new name.
pub fn unconfigured_cluster_message(
    repo: &Repository,
    tree: &CommittedTree,
    name: &str,
    files: usize,
) -> String {
    let uncommitted: Vec<String> = repo
        .clusters
        .iter()
        .filter(|c| {
            let directory = repo.generated.join(&c.name);
            !tree.files.iter().any(|f| f.starts_with(&directory))
        })
        .map(|c| format!("`{}`", c.name))
        .collect();
    let renamed = match uncommitted.as_slice() {
        [] => String::new(),
        [one] => format!(" (renamed to {one}, which has nothing committed yet?)"),
        many => format!(
            " (renamed to one of {}, which have nothing committed yet?)",
            many.join(", ")
        ),
    };
    format!(
        "cluster `{name}` is no longer configured in policyrun.toml{renamed}: its {files} committed file{} below {} are produced by no entry; `policyrun expand` removes them",
        if files == 1 { "" } else { "s" },
        shown_path(&repo.generated.join(name)),
    )
}

fn orphans(repo: &Repository, tree: &CommittedTree, expanded: &[Expanded]) -> Vec<Outcome> {
    let found = find_orphans(repo, tree, expanded);
    // A cluster no longer configured is one finding, not one per file it had committed.
    let mut retired: BTreeMap<String, usize> = BTreeMap::new();
    for orphan in &found {
        if let (None, Some(name)) = (&orphan.problem, orphan.unconfigured_cluster(repo)) {
            *retired.entry(name.to_owned()).or_default() += 1;
        }
    }
    let mut outcomes: Vec<Outcome> = retired
        .iter()
        .map(|(name, files)| {
            let directory = repo.generated.join(name);
            Outcome::new(Stage::Freshness, CHECK, Status::Failed)
                .cluster(name)
                .subject(format!("{}/", shown_path(&directory)))
                .location(Location::file(directory))
                .message(unconfigured_cluster_message(repo, tree, name, *files))
        })
        .collect();
    outcomes.extend(
        found
            .into_iter()
            .filter(|orphan| orphan.problem.is_some() || orphan.unconfigured_cluster(repo).is_none())
            .map(|orphan| {
                let mut outcome = Outcome::new(Stage::Freshness, CHECK, Status::Failed)
                    .subject(shown_path(&orphan.path))
                    .location(Location::file(orphan.path.clone()));
                if let Some(cluster) = &orphan.cluster {
                    outcome = outcome.cluster(cluster);
                }
                match orphan.problem {
                    Some(problem) => Outcome {
                        status: Status::Error,
                        ..outcome
                    }
                    .message(format!("{}: {problem}", shown_path(&orphan.path))),
                    None => outcome.message(
                        "orphaned: committed but no longer produced by any entry; run `policyrun expand` to remove it",
                    ),
                }
            }),
    );
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn produced(text: &str) -> Produced {
        Produced::new(
            PathBuf::from("generated/dev/a/x.json"),
            Some("x".into()),
            text.to_owned(),
        )
    }

    #[test]
    fn verdicts() {
        let p = produced("{\n  \"a\": 0.1\n}\n");
        assert_eq!(compare(&p, None), CommittedState::Missing);
        assert_eq!(
            compare(&p, Some(p.text.as_bytes())),
            CommittedState::UpToDate
        );
        assert_eq!(
            compare(&p, Some(b"{\n   \"a\": 0.10000000000000001\n}\n")),
            CommittedState::FormattingOnly
        );
        assert_eq!(compare(&p, Some(b"{\"a\": 0.2}")), CommittedState::Stale);
        assert_eq!(compare(&p, Some(b"not json")), CommittedState::Stale);
    }

    #[test]
    fn a_tree_indented_otherwise_is_named_by_its_indent() {
        let ours = "{\n  \"a\": {\n    \"b\": [\n      1\n    ]\n  }\n}\n";
        let theirs = "{\n   \"a\": {\n      \"b\": [\n         1\n      ]\n   }\n}\n";
        assert_eq!(indented_by(ours, theirs, 2), Some(3));
        assert_eq!(indented_by(ours, ours, 2), None);
        // Another difference besides the indent: not only the setting.
        let other = "{\n   \"a\": {\n      \"b\": [\n         1.0\n      ]\n   }\n}\n";
        assert_eq!(indented_by(ours, other, 2), None);
    }

    #[test]
    fn a_key_twice_in_one_object_is_stale_whatever_the_value() {
        let p = produced("{\n  \"kind\": \"ConfigMap\"\n}\n");
        // The last value is what serde_json keeps: the value comparison alone said "same".
        let twice = b"{\n  \"kind\": \"Secret\",\n  \"kind\": \"ConfigMap\"\n}\n";
        match compare(&p, Some(twice)) {
            CommittedState::DuplicateKey(what) => {
                assert!(what.starts_with("duplicate key `kind` at line 3"), "{what}");
            }
            other => panic!("{other:?}"),
        }
        // Nested, and in an array; the same key in two objects is fine.
        let nested = br#"[{"a": 1}, {"a": 2, "b": {"c": 1, "c": 1}}]"#;
        assert!(matches!(
            compare(&p, Some(nested)),
            CommittedState::DuplicateKey(_)
        ));
        let distinct = br#"[{"a": 1}, {"a": 2, "b": {"c": 1}}]"#;
        assert_eq!(compare(&p, Some(distinct)), CommittedState::Stale);
    }

    #[test]
    fn secret_values_never_reach_a_diff() {
        let committed = r#"{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
            "data": {"user": "YWRtaW4=", "password": "b2xkLXNlY3JldA=="}}"#;
        let produced = r#"{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "labels": {"a": "b"}},
            "data": {"user": "YWRtaW4=", "password": "bmV3LXNlY3JldA==", "token": "dG9rZW4="}}"#;
        let diff =
            secret_safe_diff(Path::new("generated/dev/a/s.json"), committed, produced).unwrap();
        for secret in [
            "YWRtaW4=",
            "b2xkLXNlY3JldA==",
            "bmV3LXNlY3JldA==",
            "dG9rZW4=",
        ] {
            assert!(!diff.contains(secret), "{diff}");
        }
        assert!(
            diff.contains("     \"password\": \"<hidden, changed>\""),
            "{diff}"
        );
        assert!(
            diff.contains("+    \"token\": \"<hidden, changed>\""),
            "{diff}"
        );
        assert!(diff.contains("     \"user\": \"<hidden>\""), "{diff}");
        assert!(diff.contains("+      \"a\": \"b\""), "{diff}");
        let broken = secret_safe_diff(Path::new("x.json"), "{not json", produced).unwrap();
        assert!(
            broken.contains("not valid JSON") && !broken.contains("not json"),
            "{broken}"
        );
        assert!(secret_safe_diff(Path::new("x.json"), "{}", "{\"kind\": \"ConfigMap\"}").is_none());
    }

    #[test]
    fn a_committed_secret_the_sources_turn_into_a_config_map_is_masked() {
        let committed = r#"{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
            "data": {"password": "aHVudGVyMg=="}, "stringData": "tok-sekrit"}"#;
        // The same value as the ConfigMap's: "unchanged" would tell it.
        let produced = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "db"},
            "data": {"password": "aHVudGVyMg=="}}"#;
        let diff =
            secret_safe_diff(Path::new("generated/dev/a/s.json"), produced, committed).unwrap();
        assert!(
            diff.contains("+    \"password\": \"<hidden, changed>\""),
            "{diff}"
        );
        assert!(!diff.contains("tok-sekrit"), "{diff}");
        let diff =
            secret_safe_diff(Path::new("generated/dev/a/s.json"), committed, produced).unwrap();
        assert!(
            diff.contains("-    \"password\": \"<hidden, changed>\""),
            "{diff}"
        );
        assert!(
            diff.contains("-  \"stringData\": \"<hidden, changed>\""),
            "{diff}"
        );
        assert!(!diff.contains("tok-sekrit"), "{diff}");
        // The ConfigMap's own value is no secret.
        assert!(
            diff.contains("+    \"password\": \"aHVudGVyMg==\""),
            "{diff}"
        );
        let broken = r#"{"kind": "Secret", "data": {"password": "aHVudGVyMg=="},}"#;
        let diff = secret_safe_diff(Path::new("x.json"), broken, produced).unwrap();
        assert!(diff.contains("not valid JSON"), "{diff}");
    }

    #[test]
    fn diff_names_the_file_and_lines() {
        let diff = unified_diff(Path::new("generated/x.json"), "a\nb\n", "a\nc\n");
        assert!(diff.contains("--- generated/x.json (committed)"), "{diff}");
        assert!(diff.contains("-b\n") && diff.contains("+c\n"), "{diff}");
    }

    #[cfg(unix)]
    #[test]
    fn committed_symlinks_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("token"), "secret").unwrap();
        fs::create_dir_all(root.join("generated/dev")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("token"),
            root.join("generated/dev/x.json"),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("generated/dev/sub")).unwrap();
        let err = read_committed(root, Path::new("generated/dev/x.json")).unwrap_err();
        assert!(
            err.contains("symbolic link") && !err.contains("secret"),
            "{err}"
        );
        let err = read_committed(root, Path::new("generated/dev/sub/token")).unwrap_err();
        assert!(err.contains("symbolic link"), "{err}");
        assert_eq!(
            read_committed(root, Path::new("generated/dev/none.json")),
            Ok(None)
        );
    }

    #[test]
    fn badly_named_files_are_problems_and_nothing_below_them_is_listed() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for d in ["lib", "clusters/dev"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        let repo = crate::cli::config::Config::parse("[[cluster]]\nname = \"dev\"\n", root.clone())
            .unwrap()
            .repo;
        let bad_dir = Path::new(OsStr::from_bytes(b"generated/dev/d\x1b"));
        let bad_file = Path::new(OsStr::from_bytes(b"generated/dev/a/x\xff.json"));
        fs::create_dir_all(root.join(bad_dir)).unwrap();
        fs::create_dir_all(root.join("generated/dev/a")).unwrap();
        fs::write(root.join(bad_dir).join("y.json"), "{}").unwrap();
        fs::write(root.join(bad_file), "{}").unwrap();
        fs::write(root.join("generated/dev/a/ok.json"), "{}").unwrap();
        let clusters: Vec<&Cluster> = repo.clusters.iter().collect();
        let tree = CommittedTree::scan(&repo, &clusters, true);
        assert_eq!(
            tree.files,
            HashSet::from([PathBuf::from("generated/dev/a/ok.json")])
        );
        let others: Vec<(&Path, &str)> = tree
            .others
            .iter()
            .map(|(p, problem)| (p.as_path(), problem.as_str()))
            .collect();
        assert_eq!(others.len(), 2, "{others:?}");
        assert_eq!(others[0].0, bad_file);
        assert!(others[0].1.contains("not valid UTF-8"), "{}", others[0].1);
        assert_eq!(others[1].0, bad_dir);
        assert!(
            others[1].1.contains("control characters"),
            "{}",
            others[1].1
        );
        // A place named by --changed-since, below a badly named directory.
        let tree = CommittedTree::scan_some(&repo, &[bad_dir.join("y.json")]);
        assert!(tree.files.is_empty());
        assert_eq!(tree.others.len(), 1);
        let outcomes = orphans(&repo, &tree, &[]);
        assert_eq!(outcomes[0].status, Status::Error);
        assert_eq!(outcomes[0].subject_name(), "generated/dev/d\\u{1b}/y.json");
    }
}
