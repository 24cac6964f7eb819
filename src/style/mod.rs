//! The style stage: every jsonnet source of the repository must be in the canonical form of
//! the reference formatter (`jsonnetfmt`, C++ libjsonnet) with the `[style]` options, so that
//! reviews are about what a change does, not about its layout. `policyrun fmt` (`fmt.rs`)
//! rewrites what this stage fails.

pub(crate) mod fmt;
pub(crate) mod libjsonnet;
pub mod memory;

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use rayon::prelude::*;
use serde::Deserialize;
use walkdir::WalkDir;

use crate::model::digest::Digest;
use crate::model::outcome::{Location, Outcome, Stage, Status, shown_path};
use crate::model::repository::{CONFIG_FILE, Cluster, Repository};
use crate::model::stage::StageReport;
use crate::store::Store;
use libjsonnet::{FormatError, Formatter};

/// How the report of a source that does not parse starts (the rest is libjsonnet's message).
pub const UNPARSABLE: &str = "does not parse: ";

/// The check's stable name in reports.
pub const CHECK: &str = "formatted";

/// How string literals are quoted (jsonnetfmt's `--string-style`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StringStyle {
    /// `'…'` where the string holds no `'` (jsonnetfmt's default).
    Single,
    Double,
    Leave,
}

/// How line comments are written (jsonnetfmt's `--comment-style`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommentStyle {
    Hash,
    /// `//` (jsonnetfmt's default).
    Slash,
    Leave,
}

/// The formatter's options; the defaults are jsonnetfmt's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatOptions {
    /// Spaces per level; 0 leaves indentation alone.
    pub indent: u32,
    /// Blank lines kept in a row; 0 leaves vertical spacing alone.
    pub max_blank_lines: u32,
    pub string_style: StringStyle,
    pub comment_style: CommentStyle,
    /// `[ 1, 2 ]` instead of `[1, 2]`.
    pub pad_arrays: bool,
    /// `{ a: 1 }` instead of `{a: 1}`.
    pub pad_objects: bool,
    /// `a: 1` instead of `'a': 1`, `x.a` instead of `x['a']`, where the name allows.
    pub pretty_field_names: bool,
    /// Top-level `local x = import '…'` lines in alphabetical order.
    pub sort_imports: bool,
}

impl Default for FormatOptions {
    fn default() -> Self {
        FormatOptions {
            indent: 2,
            max_blank_lines: 2,
            string_style: StringStyle::Single,
            comment_style: CommentStyle::Slash,
            pad_arrays: false,
            pad_objects: true,
            pretty_field_names: true,
            sort_imports: true,
        }
    }
}

/// The largest source the formatter is given unless configured (`[limits]
/// style_source_bytes`): libjsonnet's formatter needs about 400 times a source's size in
/// memory.
pub const DEFAULT_MAX_SOURCE_BYTES: u64 = 1 << 20;

/// The `[style]` table, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Whether `check` runs the stage (`fmt` works either way).
    pub enabled: bool,
    pub options: FormatOptions,
    pub exclude: Exclude,
    /// Larger sources are an error, never formatted.
    pub max_source_bytes: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            options: FormatOptions::default(),
            exclude: Exclude::default(),
            max_source_bytes: DEFAULT_MAX_SOURCE_BYTES,
        }
    }
}

/// A `style.exclude` pattern that cannot be used; `key` names the setting, `index` the
/// pattern in it.
#[derive(Debug, thiserror::Error)]
pub enum ExcludeError {
    /// Empty, absolute, or reaching out with `..`.
    #[error("{key}[{index}]: `{pattern}` must be a relative path or glob inside the repository")]
    NotInside {
        key: String,
        index: usize,
        pattern: String,
    },
    #[error("{key}[{index}]: `{pattern}`: {source}")]
    Glob {
        key: String,
        index: usize,
        pattern: String,
        #[source]
        source: globset::Error,
    },
    /// The patterns together do not compile.
    #[error("{key}: cannot be compiled: {source}")]
    Set {
        key: String,
        #[source]
        source: globset::Error,
    },
}

/// Paths the stage leaves alone: globs over repository-relative paths (`/`-separated; `*`
/// stays inside one component, `**` crosses them). A pattern that names a directory
/// excludes everything below it.
#[derive(Debug, Clone, Default)]
pub struct Exclude {
    patterns: Vec<String>,
    set: GlobSet,
}

impl Exclude {
    /// `key` names the setting in error messages (`style.exclude`).
    pub fn new(key: &str, patterns: Vec<String>) -> Result<Exclude, ExcludeError> {
        let mut builder = GlobSetBuilder::new();
        for (index, pattern) in patterns.iter().enumerate() {
            let trimmed = pattern.trim_start_matches("./").trim_end_matches('/');
            if trimmed.is_empty() || trimmed.starts_with('/') || trimmed.contains("..") {
                return Err(ExcludeError::NotInside {
                    key: key.to_owned(),
                    index,
                    pattern: pattern.clone(),
                });
            }
            let glob = GlobBuilder::new(trimmed)
                .literal_separator(true)
                .build()
                .map_err(|source| ExcludeError::Glob {
                    key: key.to_owned(),
                    index,
                    pattern: pattern.clone(),
                    source,
                })?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|source| ExcludeError::Set {
            key: key.to_owned(),
            source,
        })?;
        Ok(Exclude { patterns, set })
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    pub fn matches(&self, relative: &Path) -> bool {
        !self.patterns.is_empty() && self.set.is_match(relative)
    }
}

/// What formatting one file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceForm {
    Canonical,
    /// The file's text and its canonical form.
    NotCanonical {
        original: String,
        formatted: String,
    },
}

/// A file the formatter could not judge: unreadable, not UTF-8, or not jsonnet at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    pub location: Location,
}

/// Reads `root/relative` and formats it, unless it is larger than `max_bytes`. `relative`
/// is what messages call the file.
pub fn judge(
    formatter: &Formatter,
    root: &Path,
    relative: &Path,
    max_bytes: u64,
) -> Result<SourceForm, Problem> {
    format_source(formatter, relative, read_source(root, relative, max_bytes)?)
}

/// As `judge`, except that a source whose digest is `known` canonical is not formatted
/// again; returns the digest of a source found canonical, for the next run to know.
fn judge_remembering(
    formatter: &Formatter,
    root: &Path,
    relative: &Path,
    known: &HashSet<Digest>,
    max_bytes: u64,
) -> (Result<SourceForm, Problem>, Option<Digest>) {
    let text = match read_source(root, relative, max_bytes) {
        Ok(text) => text,
        Err(problem) => return (Err(problem), None),
    };
    let digest = Digest::of(text.as_bytes());
    if known.contains(&digest) {
        return (Ok(SourceForm::Canonical), Some(digest));
    }
    let verdict = format_source(formatter, relative, text);
    let canonical = matches!(verdict, Ok(SourceForm::Canonical)).then_some(digest);
    (verdict, canonical)
}

/// The UTF-8 text of `root/relative`, at most `max_bytes` of it: libjsonnet's formatter needs
/// about 400 times a source's size in memory (a 25 MB source took 10 GB), so a larger
/// source is an error, never read or formatted.
fn read_source(root: &Path, relative: &Path, max_bytes: u64) -> Result<String, Problem> {
    let shown = shown_path(relative);
    let problem = |message: String| Problem {
        message,
        location: Location::file(relative),
    };
    let file = fs::File::open(root.join(relative))
        .map_err(|e| problem(format!("cannot read {shown}: {e}")))?;
    let mut bytes = Vec::new();
    // One byte past the limit tells a file over it, whatever its metadata says.
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| problem(format!("cannot read {shown}: {e}")))?;
    if bytes.len() as u64 > max_bytes {
        return Err(problem(source_too_large(&shown, max_bytes)));
    }
    // libjsonnet would read invalid bytes as U+FFFD, and a rewrite would then replace them.
    String::from_utf8(bytes).map_err(|e| {
        problem(format!(
            "{shown}: is not UTF-8 text (invalid byte at offset {}); jsonnet source must be UTF-8",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// The error for a source over the style stage's size budget: names the budget and its key.
fn source_too_large(shown: &str, max_bytes: u64) -> String {
    format!(
        "{shown}: style size budget exceeded: larger than {max_bytes} bytes, so not formatted \
         (`limits.style_source_bytes` in policyrun.toml, or `--style-source-bytes`; \
         the formatter needs about 400 times a source's size in memory)"
    )
}

/// The formatter's verdict on `text`, the content of `relative`.
fn format_source(
    formatter: &Formatter,
    relative: &Path,
    text: String,
) -> Result<SourceForm, Problem> {
    let shown = relative.to_string_lossy();
    let problem = |message: String| Problem {
        message,
        location: Location::file(relative),
    };
    let formatted = formatter
        .format(&shown, text.as_bytes())
        .map_err(|error| match error {
            FormatError::Syntax(message) => Problem {
                location: syntax_location(&shown, &message)
                    .unwrap_or_else(|| Location::file(relative)),
                message: format!("{UNPARSABLE}{message}"),
            },
            FormatError::Unusable(message) => problem(message),
        })?;
    if formatted == text {
        return Ok(SourceForm::Canonical);
    }
    Ok(SourceForm::NotCanonical {
        original: text,
        formatted,
    })
}

/// The position in a libjsonnet static error: `file:L:C: …`, `file:L:C-C2: …` or
/// `file:(L:C)-(L2:C2): …`; the start is what a reader jumps to.
fn syntax_location(file: &str, message: &str) -> Option<Location> {
    let rest = message.strip_prefix(file)?.strip_prefix(':')?;
    let rest = rest.strip_prefix('(').unwrap_or(rest);
    let mut parts = rest.splitn(3, [':', '-', ')']);
    let line = parts.next()?.parse().ok()?;
    let column = parts.next()?.parse().ok()?;
    Some(Location {
        file: PathBuf::from(file),
        line: Some(line),
        column: Some(column),
    })
}

/// The outcome of one file's check, as the stage reports it.
pub fn outcome(
    path: &Path,
    cluster: Option<&str>,
    result: &Result<SourceForm, Problem>,
) -> Outcome {
    let mut base = Outcome::new(Stage::Style, CHECK, Status::Passed)
        .subject(shown_path(path))
        .location(Location::file(path));
    if let Some(cluster) = cluster {
        base = base.cluster(cluster);
    }
    match result {
        Ok(SourceForm::Canonical) => base,
        Ok(SourceForm::NotCanonical {
            original,
            formatted,
        }) => Outcome {
            status: Status::Failed,
            ..base
        }
        .message(format!(
            "not in canonical form (jsonnetfmt): `policyrun fmt {}` rewrites it",
            shown_path(path)
        ))
        .location(Location {
            file: path.to_path_buf(),
            line: Some(first_difference(original, formatted)),
            column: None,
        })
        .detail(crate::model::text::labelled_diff(
            &shown_path(path),
            &format!("{} (formatted)", shown_path(path)),
            original,
            formatted,
        )),
        Err(problem) => Outcome {
            status: Status::Error,
            ..base
        }
        .message(problem.message.clone())
        .location(problem.location.clone()),
    }
}

/// The 1-based line where two texts first differ.
fn first_difference(a: &str, b: &str) -> usize {
    let mut line = 1;
    for (x, y) in a.split_inclusive('\n').zip(b.split_inclusive('\n')) {
        if x != y {
            return line;
        }
        line += 1;
    }
    line
}

/// The jsonnet sources of a repository that the style stage covers, relative to the root,
/// sorted: every `*.jsonnet` and `*.libsonnet` file below `start` (a directory inside the
/// root), except what lies
///
/// - below the generated root (JSON, written by `expand`),
/// - in hidden files and directories (`.git`),
/// - in a directory holding its own `policyrun.toml` (another repository, such as a test
///   fixture, with its own settings),
/// - in a directory tagged as a cache (`CACHEDIR.TAG`, as Cargo's `target/` is),
/// - in paths matching `[style] exclude`.
///
/// Symbolic links are not followed, and a linked file is not a source of its own (its
/// target is, when it lies in the repository). Directories that cannot be listed come back
/// as problems.
pub fn sources(repo: &Repository, exclude: &Exclude, start: &Path) -> (Vec<PathBuf>, Vec<Problem>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let relative = |path: &Path| path.strip_prefix(&repo.root).unwrap_or(path).to_path_buf();
    let walker = WalkDir::new(start)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|item| {
            item.depth() == 0 || !left_out(repo, exclude, &relative(item.path()), item)
        });
    for item in walker {
        match item {
            Ok(item) if item.file_type().is_file() && is_jsonnet(item.path()) => {
                files.push(relative(item.path()));
            }
            Ok(_) => {}
            Err(e) => {
                let path = e.path().map_or_else(|| relative(start), relative);
                problems.push(Problem {
                    message: format!("cannot list {}: {e}", path.display()),
                    location: Location::file(path),
                });
            }
        }
    }
    (files, problems)
}

pub fn is_jsonnet(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("jsonnet" | "libsonnet")
    )
}

fn left_out(
    repo: &Repository,
    exclude: &Exclude,
    relative: &Path,
    item: &walkdir::DirEntry,
) -> bool {
    if item.file_name().to_string_lossy().starts_with('.') || exclude.matches(relative) {
        return true;
    }
    if !item.file_type().is_dir() {
        return false;
    }
    relative == repo.generated
        || item.path().join(CONFIG_FILE).is_file()
        || is_cache_dir(item.path())
}

/// A directory tagged by the Cache Directory Tagging Specification (bford.info/cachedir):
/// build output and caches that no one reviews.
fn is_cache_dir(dir: &Path) -> bool {
    const SIGNATURE: &[u8] = b"Signature: 8a477f597d28d172789f06886806bc55";
    let mut head = [0u8; SIGNATURE.len()];
    fs::File::open(dir.join("CACHEDIR.TAG"))
        .and_then(|mut file| file.read_exact(&mut head))
        .is_ok_and(|()| head == SIGNATURE)
}

/// The cluster whose directory holds `path` (the innermost, should directories nest).
pub fn owner<'a>(repo: &'a Repository, path: &Path) -> Option<&'a Cluster> {
    repo.clusters
        .iter()
        .filter(|c| path.starts_with(&c.dir))
        .max_by_key(|c| c.dir.components().count())
}

/// The stage: one outcome per source — passed, failed with a diff, or an error naming
/// `file:line:column` — for the sources of the selected `clusters` and those that belong
/// to no cluster (`lib/`, `common/`). Files are formatted in parallel, one formatter per
/// rayon job (libjsonnet VMs are not shared between threads).
pub fn check(repo: &Repository, settings: &Settings, clusters: &[&Cluster]) -> Vec<Outcome> {
    let input = Input {
        clusters,
        every_source: clusters.len() == repo.clusters.len(),
        memory: None,
    };
    judge_sources(repo, settings, &input).0
}

/// What a remembered verdict depends on besides the source: the formatter and its options.
pub fn memory_salt(settings: &Settings) -> String {
    format!(
        "libjsonnet {} {:?}",
        libjsonnet::version(),
        settings.options
    )
}

/// Which sources the style stage judges, and its memory.
pub struct Input<'a> {
    /// The selected clusters: their sources and those of no cluster (`lib/`, `common/`).
    pub clusters: &'a [&'a Cluster],
    /// Every source of the repository is judged: only then may the memory forget the
    /// digests of sources it did not see.
    pub every_source: bool,
    /// Where the digests of canonical sources are remembered between runs.
    pub memory: Option<&'a Store>,
}

/// The style stage: one outcome per source — passed, failed with a diff, or an error
/// naming `file:line:column` — and a note when its memory could not be written.
pub fn run(repo: &Repository, settings: &Settings, input: Input) -> StageReport {
    let (outcomes, note) = judge_sources(repo, settings, &input);
    StageReport {
        outcomes,
        notes: note.into_iter().collect(),
        ..StageReport::default()
    }
}

/// The sources `input` selects judged, remembering in its memory which are canonical: an
/// unchanged source found canonical before (with the same formatter and options) is not
/// formatted again, so a re-run formats only what changed. Also returns a note when the
/// memory could not be written.
fn judge_sources(
    repo: &Repository,
    settings: &Settings,
    input: &Input,
) -> (Vec<Outcome>, Option<String>) {
    let (clusters, cache) = (input.clusters, input.memory);
    let salt = memory_salt(settings);
    let known = cache
        .map(|c| memory::canonical_sources(c, &salt))
        .unwrap_or_default();
    let (files, problems) = sources(repo, &settings.exclude, &repo.root);
    let selected = |cluster: Option<&Cluster>| {
        cluster.is_none_or(|c| clusters.iter().any(|s| s.name == c.name))
    };
    let files: Vec<(PathBuf, Option<&str>)> = files
        .into_iter()
        .filter_map(|path| {
            let cluster = owner(repo, &path);
            selected(cluster).then(|| (path, cluster.map(|c| c.name.as_str())))
        })
        .collect();
    let options = &settings.options;
    let max_bytes = settings.max_source_bytes;
    let judged: Vec<(Outcome, Option<Digest>)> = files
        .par_iter()
        .map_init(
            || Formatter::new(options),
            |formatter, (path, cluster)| {
                let (verdict, canonical) =
                    judge_remembering(formatter, &repo.root, path, &known, max_bytes);
                (outcome(path, *cluster, &verdict), canonical)
            },
        )
        .collect();
    let mut canonical = BTreeSet::new();
    let mut outcomes = Vec::with_capacity(judged.len());
    for (judged, digest) in judged {
        outcomes.push(judged);
        canonical.extend(digest);
    }
    // Only a run over every source may forget the others' digests.
    let note = match cache {
        Some(cache) if input.every_source && canonical != known.into_iter().collect() => {
            memory::save_canonical_sources(cache, &salt, &canonical).err()
        }
        _ => None,
    }
    .map(|problem| format!("cache: {problem}"));
    outcomes.extend(problems.into_iter().map(|problem| {
        let cluster = owner(repo, &problem.location.file).map(|c| c.name.clone());
        let mut outcome = Outcome::new(Stage::Style, CHECK, Status::Error)
            .subject(shown_path(&problem.location.file))
            .message(problem.message)
            .location(problem.location);
        outcome.cluster = cluster;
        outcome
    }));
    (outcomes, note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_locations_in_every_shape() {
        let at = |message: &str| {
            syntax_location("a/b.jsonnet", message).map(|l| (l.line.unwrap(), l.column.unwrap()))
        };
        assert_eq!(at("a/b.jsonnet:3:6: Unexpected: \",\""), Some((3, 6)));
        assert_eq!(at("a/b.jsonnet:3:6-9: Expected"), Some((3, 6)));
        assert_eq!(at("a/b.jsonnet:(3:6)-(5:1): Unterminated"), Some((3, 6)));
        assert_eq!(at("a/b.jsonnet: no location"), None);
        assert_eq!(at("other.jsonnet:1:1: x"), None);
    }

    #[test]
    fn first_difference_counts_lines() {
        assert_eq!(first_difference("a\nb\nc\n", "a\nb\nC\n"), 3);
        assert_eq!(first_difference("a\n", "a\nb\n"), 2);
        assert_eq!(first_difference("x", "y"), 1);
    }

    #[test]
    fn exclude_patterns_are_globs_over_relative_paths() {
        let exclude = Exclude::new(
            "style.exclude",
            vec![
                "vendor".into(),
                "**/*_test.jsonnet".into(),
                "lib/gen/*".into(),
            ],
        )
        .unwrap();
        assert!(exclude.matches(Path::new("vendor")));
        assert!(exclude.matches(Path::new("clusters/dev/a_test.jsonnet")));
        assert!(exclude.matches(Path::new("lib/gen/x.libsonnet")));
        assert!(!exclude.matches(Path::new("lib/gen/deep/x.libsonnet")));
        assert!(!exclude.matches(Path::new("lib/kube.libsonnet")));
        for bad in ["../x", "/etc", ""] {
            let err = Exclude::new("style.exclude", vec![bad.into()]).unwrap_err();
            assert!(
                matches!(&err, ExcludeError::NotInside { index: 0, pattern, .. } if pattern == bad),
                "{bad}: {err}"
            );
        }
        let err = Exclude::new("style.exclude", vec!["a".into(), "a/[b".into()]).unwrap_err();
        assert!(matches!(&err, ExcludeError::Glob { index: 1, .. }), "{err}");
        assert!(
            err.to_string().starts_with("style.exclude[1]: `a/[b`: "),
            "{err}"
        );
    }

    fn repo(files: &[(&str, &str)]) -> (tempfile::TempDir, crate::cli::config::Config) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let full = dir.path().join(path);
            fs::create_dir_all(full.parent().unwrap()).unwrap();
            fs::write(full, text).unwrap();
        }
        fs::create_dir_all(dir.path().join("lib")).unwrap();
        let repo = crate::cli::config::Config::parse(
            "[[cluster]]\nname = \"dev\"\n[[cluster]]\nname = \"int\"\n[style]\nexclude = [\"vendor\"]\n",
            dir.path().canonicalize().unwrap(),
        )
        .unwrap();
        (dir, repo)
    }

    #[test]
    fn sources_leave_out_what_is_not_ours() {
        let (_dir, repo) = repo(&[
            ("clusters/dev/a.jsonnet", "{}\n"),
            ("clusters/int/repo/b.libsonnet", "{}\n"),
            ("clusters/int/notes.txt", ""),
            ("common/c.jsonnet", "{}\n"),
            ("generated/dev/a/x.json", "{}\n"),
            ("generated/stray.jsonnet", "{}\n"),
            (".git/hooks/h.jsonnet", "{}\n"),
            ("lib/.hidden.libsonnet", "{}\n"),
            ("testdata/other/policyrun.toml", ""),
            ("testdata/other/clusters/dev/x.jsonnet", "{}\n"),
            (
                "target/CACHEDIR.TAG",
                "Signature: 8a477f597d28d172789f06886806bc55\n",
            ),
            ("target/out/x.jsonnet", "{}\n"),
            ("build/CACHEDIR.TAG", "not the signature\n"),
            ("build/kept.jsonnet", "{}\n"),
            ("vendor/lib.libsonnet", "{}\n"),
        ]);
        let (files, problems) = sources(&repo.repo, &repo.style.exclude, &repo.repo.root);
        assert!(problems.is_empty(), "{problems:?}");
        let files: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            files,
            vec![
                "build/kept.jsonnet",
                "clusters/dev/a.jsonnet",
                "clusters/int/repo/b.libsonnet",
                "common/c.jsonnet",
            ]
        );
    }

    #[test]
    fn the_stage_reports_every_file_of_the_selected_clusters() {
        let (_dir, repo) = repo(&[
            ("clusters/dev/a.jsonnet", "{ a: 1 }\n"),
            ("clusters/int/b.jsonnet", "{a:1}\n"),
            ("common/c.libsonnet", "{\n  a: ,\n}\n"),
        ]);
        let all: Vec<&Cluster> = repo.repo.clusters.iter().collect();
        let outcomes = check(&repo.repo, &repo.style, &all);
        let by_subject = |s: &str| outcomes.iter().find(|o| o.subject.as_deref() == Some(s));
        let a = by_subject("clusters/dev/a.jsonnet").unwrap();
        assert_eq!(
            (a.status, a.cluster.as_deref()),
            (Status::Passed, Some("dev"))
        );
        let b = by_subject("clusters/int/b.jsonnet").unwrap();
        assert_eq!(b.status, Status::Failed);
        assert!(b.detail.as_ref().unwrap().contains("+{ a: 1 }"), "{b:?}");
        let c = by_subject("common/c.libsonnet").unwrap();
        assert_eq!((c.status, c.cluster.as_deref()), (Status::Error, None));
        let location = c.location.as_ref().unwrap();
        assert_eq!((location.line, location.column), (Some(2), Some(6)));
        assert!(
            c.message.contains("common/c.libsonnet:2:6"),
            "{}",
            c.message
        );

        let only_dev = check(&repo.repo, &repo.style, &all[..1]);
        assert_eq!(only_dev.len(), 2, "{only_dev:?}");
        assert!(only_dev.iter().all(|o| o.cluster.as_deref() != Some("int")));
    }
}
