//! `policyrun init`: adopting policyrun on a repository that already exists. It reads the
//! layout the repository has (cluster directories, the generated root, import paths, the
//! formatting of the committed JSON and of the sources), writes a commented
//! `policyrun.toml`, runs the gate once, and can write a baseline: a waivers file for the
//! policy findings of today, so a team starts green and sees only new problems.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use super::UsageError;
use super::config::{Config, Needs};
use crate::model::outcome::{Outcome, Stage, Status};
use crate::model::repository::CONFIG_FILE;

/// Directories never searched for clusters or sources: tools' and builds' own.
const SKIPPED: &[&str] = &[".git", "target", "node_modules", "vendor", ".terraform"];

/// Where the baseline's waivers go, beside `policyrun.toml`.
pub(crate) const BASELINE_FILE: &str = "policyrun-baseline.yaml";

/// What the user asked of `init`.
pub(crate) struct Request {
    pub root: PathBuf,
    pub force: bool,
    /// Write a waiver for each of today's policy findings, owned by this team, until then.
    pub baseline: Option<(String, String)>,
}

/// What `init` found in the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The generated root, relative to the repository root.
    pub generated: String,
    /// Each cluster's name and entry directory, in the order to roll out.
    pub clusters: Vec<(String, String)>,
    pub jpath: Vec<String>,
    /// Spaces per level in the committed JSON.
    pub indent: usize,
    /// Ext vars the sources read besides `cluster`, with the values the committed JSON
    /// shows they had.
    pub ext_vars: BTreeMap<String, ExtValue>,
}

/// The value of an ext var, as read back from the committed JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExtValue {
    /// The same in every cluster.
    Everywhere(String),
    /// Per cluster (a cluster whose JSON does not show it is missing).
    PerCluster(BTreeMap<String, String>),
    /// Nothing committed shows it.
    Unknown,
}

/// Runs `init`: detects, writes `policyrun.toml` (and the baseline), and returns the
/// gate's outcomes over the result and what it says to the user before them.
pub(crate) fn run(request: &Request) -> Result<(String, Vec<Outcome>), UsageError> {
    let root = request
        .root
        .canonicalize()
        .map_err(|e| UsageError(format!("{}: {e}", request.root.display())))?;
    let target = root.join(CONFIG_FILE);
    if target.exists() && !request.force {
        return Err(UsageError(format!(
            "{} exists: init never overwrites it (use --force to replace it)",
            target.display()
        )));
    }
    let mut layout = detect(&root)?;
    let style = choose_style(&root, &layout)?;
    infer_ext_vars(&root, &mut layout, &style.table)?;
    let mut said = String::new();
    let _ = writeln!(
        said,
        "found {} cluster(s) ({}), the generated JSON in {}/ (indent {}), import paths [{}]",
        layout.clusters.len(),
        layout
            .clusters
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        layout.generated,
        layout.indent,
        layout.jpath.join(", ")
    );
    let _ = writeln!(said, "{}", style.summary);
    for (name, value) in &layout.ext_vars {
        let _ = match value {
            ExtValue::Unknown => writeln!(
                said,
                "the sources read std.extVar('{name}'): set its value in [ext_vars] (or per cluster in [cluster.ext_vars])"
            ),
            _ => writeln!(
                said,
                "std.extVar('{name}'): its value read back from the committed JSON"
            ),
        };
    }
    let mut text = configuration(&layout, &style.table, None);
    Config::parse_for(&text, root.clone(), Needs::Tree)
        .map_err(|e| UsageError(format!("init wrote a configuration it cannot read: {e}")))?;
    let mut outcomes = gate(&root, &text)?;
    if let Some((owner, expires)) = &request.baseline {
        let waivers = baseline(&outcomes, owner, expires);
        if waivers.1 > 0 {
            crate::model::atomic::write_atomically(&root.join(BASELINE_FILE), waivers.0.as_bytes())
                .map_err(|e| UsageError(format!("cannot write {BASELINE_FILE}: {e}")))?;
            let _ = writeln!(
                said,
                "wrote {BASELINE_FILE}: {} waiver(s) for today's policy findings, owned by {owner} until {expires}",
                waivers.1
            );
            text = configuration(&layout, &style.table, Some(BASELINE_FILE));
            outcomes = gate(&root, &text)?;
        }
    }
    crate::model::atomic::write_atomically(&target, text.as_bytes())
        .map_err(|e| UsageError(format!("cannot write {}: {e}", target.display())))?;
    let _ = writeln!(said, "wrote {CONFIG_FILE}; the gate on it:");
    Ok((said, outcomes))
}

/// Reads the repository's layout: the generated root is the directory whose subdirectories
/// are named like directories of jsonnet entries (the clusters); the import paths are the
/// directories that resolve the imports a source's own directory does not.
pub(crate) fn detect(root: &Path) -> Result<Layout, UsageError> {
    let mut entry_dirs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut json_dirs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut sources: Vec<PathBuf> = Vec::new();
    let walk = WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0
                || !(e.file_type().is_dir()
                    && (SKIPPED.contains(&e.file_name().to_string_lossy().as_ref())
                        || e.file_name().to_string_lossy().starts_with('.')))
        });
    for item in walk.filter_map(Result::ok) {
        if !item.file_type().is_file() {
            continue;
        }
        let Ok(relative) = item.path().strip_prefix(root) else {
            continue;
        };
        let name = relative.to_string_lossy();
        let parent = relative.parent().unwrap_or(Path::new(""));
        if name.ends_with(".jsonnet") || name.ends_with(".libsonnet") {
            sources.push(relative.to_path_buf());
        }
        if name.ends_with(".jsonnet")
            && let Some(base) = parent.file_name()
        {
            entry_dirs
                .entry(base.to_string_lossy().into_owned())
                .or_default()
                .push(parent.to_string_lossy().into_owned());
        }
        if name.ends_with(".json") {
            // generated/<cluster>/...: every ancestor is a candidate root of its child.
            let components: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            for depth in 0..components.len().saturating_sub(2) {
                let candidate = components[..=depth].join("/");
                json_dirs
                    .entry(candidate)
                    .or_default()
                    .insert(components[depth + 1].clone());
            }
        }
    }
    // The generated root: the most cluster-like children; ties go to the shallowest.
    let mut best: Option<(usize, usize, String)> = None;
    for (candidate, children) in &json_dirs {
        let matching = children
            .iter()
            .filter(|c| entry_dirs.contains_key(*c))
            .count();
        let depth = candidate.matches('/').count();
        let better = match &best {
            None => matching > 0,
            Some((m, d, _)) => matching > *m || (matching == *m && depth < *d),
        };
        if better {
            best = Some((matching, depth, candidate.clone()));
        }
    }
    let (generated, names): (String, Vec<String>) = match best {
        Some((_, _, generated)) => {
            let names = json_dirs[&generated]
                .iter()
                .filter(|c| entry_dirs.contains_key(*c))
                .cloned()
                .collect();
            (generated, names)
        }
        // Nothing generated yet: our own layout, clusters/<name>/.
        None => (
            "generated".to_owned(),
            entry_dirs
                .iter()
                .filter(|(_, dirs)| dirs.iter().any(|d| d.starts_with("clusters/")))
                .map(|(name, _)| name.clone())
                .collect(),
        ),
    };
    if names.is_empty() {
        return Err(UsageError(format!(
            "{}: no cluster found: no directory of jsonnet entries (*.jsonnet) is named like a directory of committed JSON, and there is no clusters/<name>/; write policyrun.toml by hand (docs/configuration.md)",
            root.display()
        )));
    }
    let mut clusters: Vec<(String, String)> = names
        .into_iter()
        .map(|name| {
            let dirs = &entry_dirs[&name];
            // Outside the generated root; the shallowest if several.
            let dir = dirs
                .iter()
                .filter(|d| !d.starts_with(&format!("{generated}/")))
                .min_by_key(|d| d.matches('/').count())
                .unwrap_or(&dirs[0])
                .clone();
            (name, dir)
        })
        .collect();
    clusters.sort_by_key(|(name, _)| (rollout_rank(name), name.clone()));
    let indent = committed_indent(root, &generated);
    let entries: Vec<PathBuf> = sources
        .iter()
        .filter(|s| {
            s.extension().is_some_and(|x| x == "jsonnet")
                && clusters
                    .iter()
                    .any(|(_, dir)| s.parent() == Some(Path::new(dir)))
        })
        .cloned()
        .collect();
    let (jpath, reached) = import_paths(root, &sources, &entries);
    let ext_vars = read_ext_vars(root, &reached)
        .into_iter()
        .map(|name| (name, ExtValue::Unknown))
        .collect();
    Ok(Layout {
        generated,
        clusters,
        jpath,
        indent,
        ext_vars,
    })
}

/// Where a cluster of this name usually comes in a rollout: development first, production
/// last. Only a guess; the written file says to check it.
fn rollout_rank(name: &str) -> usize {
    let name = name.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
    if has(&["dev", "sandbox", "test", "qa", "ci"]) {
        0
    } else if has(&["int", "stag", "pre", "uat", "canary"]) {
        1
    } else if has(&["prod", "live", "web", "www"]) {
        3
    } else {
        2
    }
}

/// The indent of the committed JSON: the leading spaces of the first indented line of the
/// first file that has one (2 when nothing tells).
fn committed_indent(root: &Path, generated: &str) -> usize {
    WalkDir::new(root.join(generated))
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "json"))
        .find_map(|e| {
            let text = fs::read_to_string(e.path()).ok()?;
            text.lines()
                .nth(1)
                .map(|line| line.len() - line.trim_start_matches(' ').len())
                .filter(|n| *n > 0)
        })
        .unwrap_or(2)
}

/// The directories that resolve the imports a source's own directory does not, in the
/// order of how many imports each resolves, and the sources the entries reach: only what
/// the clusters' entries import counts (fixtures or examples elsewhere do not).
fn import_paths(
    root: &Path,
    sources: &[PathBuf],
    entries: &[PathBuf],
) -> (Vec<String>, Vec<PathBuf>) {
    let mut resolving: BTreeMap<String, usize> = BTreeMap::new();
    let candidates: BTreeSet<String> = sources
        .iter()
        .filter_map(|s| s.parent())
        .flat_map(|p| p.ancestors().filter(|a| !a.as_os_str().is_empty()))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let mut reached: BTreeSet<PathBuf> = entries.iter().cloned().collect();
    let mut queue: Vec<PathBuf> = entries.to_vec();
    while let Some(source) = queue.pop() {
        let Ok(text) = fs::read_to_string(root.join(&source)) else {
            continue;
        };
        let beside = source.parent().unwrap_or(Path::new("")).to_path_buf();
        for imported in imported_paths(&text) {
            let next = if root.join(&beside).join(&imported).is_file() {
                lexical(&beside.join(&imported))
            } else if let Some(dir) = candidates
                .iter()
                .find(|dir| root.join(dir).join(&imported).is_file())
            {
                *resolving.entry(dir.clone()).or_default() += 1;
                lexical(&Path::new(dir).join(&imported))
            } else {
                continue;
            };
            let is_code = imported.ends_with("sonnet");
            if is_code && reached.insert(next.clone()) {
                queue.push(next);
            }
        }
    }
    let mut paths: Vec<(String, usize)> = resolving.into_iter().collect();
    paths.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    (
        paths.into_iter().map(|(dir, _)| dir).collect(),
        reached.into_iter().collect(),
    )
}

/// `a/b/../c` as `a/c`, without the file system.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The paths a source imports (any kind), read with jsonnet's lexer: an import in a
/// comment or a string is none.
fn imported_paths(text: &str) -> Vec<String> {
    crate::jsonnet::import_kinds::import_sites(text)
        .into_iter()
        .filter_map(|site| site.path)
        .collect()
}

/// The ext vars the sources read, besides `cluster` (which policyrun always sets).
fn read_ext_vars(root: &Path, sources: &[PathBuf]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for source in sources {
        let Ok(text) = fs::read_to_string(root.join(source)) else {
            continue;
        };
        let mut rest = text.as_str();
        while let Some(at) = rest.find("extVar(") {
            rest = &rest[at + "extVar(".len()..];
            let trimmed = rest.trim_start();
            if let Some(quote) = trimmed.chars().next().filter(|c| *c == '\'' || *c == '"')
                && let Some(end) = trimmed[1..].find(quote)
            {
                let name = &trimmed[1..1 + end];
                if name != "cluster" {
                    names.insert(name.to_owned());
                }
            }
        }
    }
    names
}

/// A value no repository holds: where it shows in the produced JSON, the committed JSON
/// holds the ext var's real value.
fn sentinel(name: &str) -> String {
    format!("policyrun-init-ext-var-{name}-5f1d")
}

/// Reads back each ext var's value: the entries are expanded with a sentinel for it, and
/// wherever a produced string holds the sentinel, the committed string at the same place
/// gives the value around the same text. Values that differ between clusters are per
/// cluster; an ext var no committed file shows stays unknown.
fn infer_ext_vars(root: &Path, layout: &mut Layout, style: &str) -> Result<(), UsageError> {
    if layout.ext_vars.is_empty() {
        return Ok(());
    }
    let mut probe = layout.clone();
    for (name, value) in probe.ext_vars.iter_mut() {
        *value = ExtValue::Everywhere(sentinel(name));
    }
    let text = configuration(&probe, style, None);
    let config = Config::parse_for(&text, root.to_path_buf(), Needs::Tree)
        .map_err(|e| UsageError(format!("init: {e}")))?;
    // The expansion only: the other stages would judge the sentinel.
    let expanded =
        crate::pipeline::check::expand(&config, &crate::pipeline::check::Options::default())?
            .expanded;
    // name -> cluster -> values seen
    let mut seen: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for expanded in &expanded {
        let Ok(files) = &expanded.result else {
            continue;
        };
        for produced in &files.files {
            if !layout
                .ext_vars
                .keys()
                .any(|n| produced.text.contains(&sentinel(n)))
            {
                continue;
            }
            let Ok(committed) = fs::read_to_string(root.join(&produced.path)) else {
                continue;
            };
            let (Ok(ours), Ok(theirs)) = (
                serde_json::from_str::<serde_json::Value>(&produced.text),
                serde_json::from_str::<serde_json::Value>(&committed),
            ) else {
                continue;
            };
            let mut found = Vec::new();
            read_back(&ours, &theirs, layout.ext_vars.keys(), &mut found);
            for (name, value) in found {
                seen.entry(name)
                    .or_default()
                    .entry(expanded.cluster.clone())
                    .or_default()
                    .insert(value);
            }
        }
    }
    for (name, value) in layout.ext_vars.iter_mut() {
        let Some(by_cluster) = seen.get(name) else {
            continue;
        };
        // A cluster whose files disagree on the value cannot be read back.
        let clear: BTreeMap<String, String> = by_cluster
            .iter()
            .filter(|(_, values)| values.len() == 1)
            .map(|(cluster, values)| {
                (
                    cluster.clone(),
                    values.iter().next().cloned().unwrap_or_default(),
                )
            })
            .collect();
        let distinct: BTreeSet<&String> = clear.values().collect();
        *value = match distinct.len() {
            0 => ExtValue::Unknown,
            1 if clear.len() == layout.clusters.len() => {
                ExtValue::Everywhere(distinct.into_iter().next().cloned().unwrap_or_default())
            }
            _ => ExtValue::PerCluster(clear),
        };
    }
    Ok(())
}

/// Walks the produced and the committed JSON together; each produced string holding one
/// sentinel gives the committed string's text in its place.
fn read_back<'a>(
    ours: &serde_json::Value,
    theirs: &serde_json::Value,
    names: impl Iterator<Item = &'a String> + Clone,
    found: &mut Vec<(String, String)>,
) {
    use serde_json::Value;
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                if let Some(other) = b.get(key) {
                    read_back(value, other, names.clone(), found);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (value, other) in a.iter().zip(b) {
                read_back(value, other, names.clone(), found);
            }
        }
        (Value::String(a), Value::String(b)) => {
            for name in names {
                let mark = sentinel(name);
                let Some((before, after)) = a.split_once(&mark) else {
                    continue;
                };
                if after.contains(&mark) || before.len() + after.len() > b.len() {
                    continue;
                }
                if let Some(value) = b
                    .strip_prefix(before)
                    .and_then(|rest| rest.strip_suffix(after))
                {
                    found.push((name.clone(), value.to_owned()));
                }
            }
        }
        _ => {}
    }
}

/// The `[style]` table that makes the most sources canonical, and what to say about it.
struct StyleChoice {
    table: String,
    summary: String,
}

/// Tries the formatting options a repository's sources are most likely written in and
/// keeps the one under which the most are already canonical. When some still are not, the
/// style stage is written disabled, with the count: `policyrun fmt` then enables it.
fn choose_style(root: &Path, layout: &Layout) -> Result<StyleChoice, UsageError> {
    let mut best: Option<(usize, usize, String)> = None;
    for string_style in ["single", "double", "leave"] {
        for indent in [2, 3, 4] {
            let table = format!("[style]\nindent = {indent}\nstring_style = \"{string_style}\"\n");
            let text = configuration(layout, &table, None);
            let config = Config::parse_for(&text, root.to_path_buf(), Needs::Tree)
                .map_err(|e| UsageError(format!("init: {e}")))?;
            let clusters: Vec<_> = config.repo.clusters.iter().collect();
            let input = crate::style::Input {
                clusters: &clusters,
                every_source: true,
                memory: None,
            };
            let report = crate::style::run(&config.repo, &config.style, input);
            let total = report.outcomes.len();
            let canonical = report
                .outcomes
                .iter()
                .filter(|o| o.status == Status::Passed)
                .count();
            if best.as_ref().is_none_or(|(c, _, _)| canonical > *c) {
                best = Some((canonical, total, table));
            }
        }
    }
    let (canonical, total, table) = best.unwrap_or((0, 0, String::from("[style]\n")));
    if canonical == total {
        return Ok(StyleChoice {
            summary: format!(
                "the {total} jsonnet sources are in jsonnetfmt's form with these [style] options"
            ),
            table,
        });
    }
    Ok(StyleChoice {
        summary: format!(
            "{canonical} of {total} jsonnet sources are in jsonnetfmt's form at best: the style stage is written disabled; `policyrun fmt` rewrites them, then remove `enabled = false`"
        ),
        table: format!(
            "{table}# {canonical} of {total} sources were in this form when `policyrun init` ran.\nenabled = false\n"
        ),
    })
}

/// The commented `policyrun.toml` for `layout`.
fn configuration(layout: &Layout, style: &str, waivers: Option<&str>) -> String {
    let mut text = String::from(
        "# Written by `policyrun init` from the repository's layout; check it, then commit it.\n\
         # Every key: docs/configuration.md in policyrun's sources, or `policyrun man`.\n\n",
    );
    let jpath: Vec<String> = layout.jpath.iter().map(|p| format!("{p:?}")).collect();
    let _ = writeln!(
        text,
        "# Where imports are looked up after the importing file's directory."
    );
    let _ = writeln!(text, "jpath = [{}]", jpath.join(", "));
    let _ = writeln!(text, "# The committed JSON: its root, and its indent.");
    let _ = writeln!(text, "generated = {:?}", layout.generated);
    let _ = writeln!(text, "indent = {}", layout.indent);
    if !layout.ext_vars.is_empty() {
        let _ = writeln!(
            text,
            "\n# The ext vars the sources read, as the committed JSON shows them (give the\n# commented ones a value: nothing committed shows it).\n[ext_vars]"
        );
        for (name, value) in &layout.ext_vars {
            let _ = match value {
                ExtValue::Everywhere(value) => writeln!(text, "{name} = {}", yaml_string(value)),
                ExtValue::PerCluster(_) => writeln!(text, "# {name}: per cluster, below"),
                ExtValue::Unknown => writeln!(text, "# {name} = \"\""),
            };
        }
    }
    let _ = writeln!(
        text,
        "\n# The clusters in rollout order (a guess from their names: dev first, production last)."
    );
    for (name, dir) in &layout.clusters {
        let _ = writeln!(text, "[[cluster]]\nname = {name:?}");
        if *dir != format!("clusters/{name}") {
            let _ = writeln!(text, "dir = {dir:?}");
        }
        let own: Vec<String> = layout
            .ext_vars
            .iter()
            .filter_map(|(var, value)| match value {
                ExtValue::PerCluster(values) => values
                    .get(name)
                    .map(|v| format!("{var} = {}", yaml_string(v))),
                _ => None,
            })
            .collect();
        if !own.is_empty() {
            let _ = writeln!(text, "[cluster.ext_vars]\n{}", own.join("\n"));
        }
        let _ = writeln!(
            text,
            "# [cluster.policy] pod_security = \"restricted\"  (see `policyrun packs`)\n"
        );
    }
    let _ = writeln!(
        text,
        "# The rule packs built into policyrun (`policyrun packs` lists their rules)."
    );
    let _ = writeln!(
        text,
        "[policy]\npacks = [\"namespace\", \"security\", \"cluster\"]"
    );
    if let Some(file) = waivers {
        let _ = writeln!(
            text,
            "# Today's findings, waived when policyrun was adopted: fix them before they expire.\nwaivers = [{file:?}]"
        );
    }
    let _ = writeln!(text, "\n{style}");
    text
}

/// The gate's outcomes for the configuration `text` (nothing remembered, nothing written).
fn gate(root: &Path, text: &str) -> Result<Vec<Outcome>, UsageError> {
    let config = Config::parse_for(text, root.to_path_buf(), Needs::Tree)
        .map_err(|e| UsageError(format!("init: {e}")))?;
    let options = crate::pipeline::check::Options::default();
    let run = crate::pipeline::check::check(&config, &options)?;
    Ok(run.outcomes)
}

/// A waiver file for every failing policy result on an object: the text and the count.
fn baseline(outcomes: &[Outcome], owner: &str, expires: &str) -> (String, usize) {
    let mut seen = BTreeSet::new();
    let mut text = String::from(
        "# Written by `policyrun init --baseline-owner`: the policy findings the repository had\n\
         # when policyrun was adopted, each waived until its expiry. New findings fail the gate.\n",
    );
    for outcome in outcomes {
        if outcome.stage != Stage::Policy || outcome.status != Status::Failed {
            continue;
        }
        let Some(object) = &outcome.object else {
            continue;
        };
        let key = (
            outcome.check.clone(),
            object.kind.clone(),
            object.namespace.clone(),
            object.name.clone(),
        );
        if !seen.insert(key) {
            continue;
        }
        let _ = writeln!(text, "- rule: {}", yaml_string(&outcome.check));
        let _ = writeln!(text, "  kind: {}", yaml_string(&object.kind));
        if let Some(namespace) = &object.namespace {
            let _ = writeln!(text, "  namespace: {}", yaml_string(namespace));
        }
        let _ = writeln!(text, "  name: {}", yaml_string(&object.name));
        let _ = writeln!(
            text,
            "  reason: {}",
            yaml_string("found when policyrun was adopted (policyrun init)")
        );
        let _ = writeln!(text, "  owner: {}", yaml_string(owner));
        let _ = writeln!(text, "  expires: {expires}");
    }
    (text, seen.len())
}

/// A YAML scalar that reads back as exactly `value`: a JSON string is one.
fn yaml_string(value: &str) -> String {
    serde_json::Value::String(value.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_are_read_in_every_form() {
        let text = "// import 'commented.libsonnet'\nlocal a = import 'a.libsonnet';\nlocal b = (import \"b/c.libsonnet\");\nlocal s = importstr 'x.txt';\n";
        assert_eq!(
            imported_paths(text),
            ["a.libsonnet", "b/c.libsonnet", "x.txt"]
        );
    }

    #[test]
    fn clusters_are_ordered_development_first() {
        let mut names = vec!["web", "prod-eu", "int", "dev", "ops"];
        names.sort_by_key(|n| (rollout_rank(n), n.to_string()));
        assert_eq!(names, ["dev", "int", "ops", "prod-eu", "web"]);
    }

    #[test]
    fn baseline_waivers_read_back_as_waivers() {
        let object = crate::model::outcome::ObjectId {
            cluster: "dev".into(),
            entry: PathBuf::from("clusters/dev/a.jsonnet"),
            item: None,
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: "web: \"quoted\"".into(),
        };
        let failed = Outcome {
            object: Some(std::sync::Arc::new(object)),
            ..Outcome::new(Stage::Policy, "security.deny_privileged", Status::Failed)
        };
        let (text, count) = baseline(&[failed.clone(), failed], "team-a", "2027-01-31");
        assert_eq!(count, 1);
        let read: serde_json::Value = crate::model::yaml::parse_document(&text).unwrap();
        assert_eq!(read[0]["name"], "web: \"quoted\"");
        assert_eq!(read[0]["rule"], "security.deny_privileged");
        assert_eq!(read[0]["expires"], "2027-01-31");
    }
}
