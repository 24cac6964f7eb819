//! The direction of dependencies inside the crate, checked from the sources: every
//! `crate::` path in a module's code must point to its own part or to a lower layer, so that
//! the file list reads as the pipeline (docs/development.md, "How the code is laid out").
//!
//! Layers, lowest first: `model` (imports nothing), `store`, the stages (each its own part;
//! no stage reaches into another), `report`, `pipeline`, `cli` with `main.rs`. Unit tests
//! (`#[cfg(test)] mod tests`) are left out: a test may build its fixtures with anything.
//!
//! The layout's documentation is checked here too: every repository path that README.md,
//! BENCHMARKS.md and the pages under `docs/` name exists, and every link between them lands on
//! a file and, for a page, on one of its headings.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Each stage is a part of its own: a stage that needs another's result gets it from the
/// pipeline as plain data.
const STAGES: &[&str] = &[
    "jsonnet",
    "freshness",
    "schema",
    "policy",
    "style",
    "changes",
    "apply",
    "review",
];

/// Dependencies that break the rule today and are being removed (issue 14). The test fails
/// when one of them no longer exists, so the list can only shrink.
const NOT_YET_REMOVED: &[(&str, &str)] = &[];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    Model,
    Store,
    Stage,
    Report,
    Pipeline,
    Cli,
}

/// The layer and part (first path segment) of a module.
fn place(module: &str) -> Option<(Layer, &str)> {
    let part = match module.split("::").next().unwrap_or(module) {
        // The binary and the crate root are the command line's.
        "main" | "lib" => "cli",
        part => part,
    };
    let layer = match part {
        "model" => Layer::Model,
        "store" => Layer::Store,
        "report" => Layer::Report,
        "pipeline" => Layer::Pipeline,
        "cli" => Layer::Cli,
        stage if STAGES.contains(&stage) => Layer::Stage,
        _ => return None,
    };
    Some((layer, part))
}

fn allowed(from: &str, to: &str) -> bool {
    let (Some((from_layer, from_part)), Some((to_layer, to_part))) = (place(from), place(to))
    else {
        return false;
    };
    from_part == to_part || to_layer < from_layer
}

/// Every source file under `src/` as (module path, file).
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    let mut pending = vec![src.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = path.strip_prefix(src).unwrap().with_extension("");
                let mut segments: Vec<String> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if segments.last().is_some_and(|s| s == "mod") && segments.len() > 1 {
                    segments.pop();
                }
                found.insert(segments.join("::"), path);
            }
        }
    }
    found
}

/// The code of a file without its unit tests and comments.
fn code_of(text: &str) -> String {
    let body = [
        "#[cfg(test)]\nmod tests",
        "#[cfg(test)]\npub(crate) mod tests",
    ]
    .iter()
    .filter_map(|start| text.find(start))
    .min()
    .map_or(text, |at| &text[..at]);
    body.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module a path like `crate::a::b::f` or `super::x` names: its longest prefix that is
/// a module.
fn resolve(from: &str, path: &[&str], known: &BTreeMap<String, PathBuf>) -> Option<String> {
    let mut absolute: Vec<String> = Vec::new();
    let mut rest = path;
    match rest.first() {
        Some(&"crate") | Some(&"policyrun") => rest = &rest[1..],
        Some(&"super") => {
            absolute = from.split("::").map(str::to_owned).collect();
            // A file module's `super` is its parent; `main` and `lib` have none.
            while rest.first() == Some(&"super") {
                absolute.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    absolute.extend(rest.iter().map(|s| (*s).to_owned()));
    (1..=absolute.len())
        .rev()
        .map(|n| absolute[..n].join("::"))
        .find(|candidate| known.contains_key(candidate))
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The modules one module's code names.
fn dependencies(module: &str, code: &str, known: &BTreeMap<String, PathBuf>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for root in ["crate::", "super::", "policyrun::"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(root) {
            let start = from + at;
            from = start + root.len();
            if code[..start].chars().next_back().is_some_and(is_ident) {
                continue;
            }
            let tail = &code[start..];
            let end = tail
                .find(|c: char| !(is_ident(c) || c == ':'))
                .unwrap_or(tail.len());
            let path: Vec<String> = tail[..end]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            // `use super::{a, b::c}` names `super::a` and `super::b::c`, not `super` itself.
            let paths = match tail[end..].strip_prefix('{') {
                Some(rest) => group_paths(&path, &rest[..closing_brace(rest)]),
                None => vec![path],
            };
            for path in paths {
                let path: Vec<&str> = path.iter().map(String::as_str).collect();
                if let Some(target) = resolve(module, &path, known)
                    && target != module
                {
                    found.insert(target);
                }
            }
        }
    }
    found
}

/// Where the group that `text` continues closes: the index of its `}`.
fn closing_brace(text: &str) -> usize {
    let mut depth = 0usize;
    for (at, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return at,
            '}' => depth -= 1,
            _ => {}
        }
    }
    text.len()
}

/// The full paths a `{...}` group after `prefix` names (`self` is the prefix itself).
fn group_paths(prefix: &[String], group: &str) -> Vec<Vec<String>> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (at, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(&group[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    let mut paths = Vec::new();
    for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        match item.split_once('{') {
            Some((head, inner)) => {
                let mut nested = prefix.to_vec();
                nested.extend(
                    head.split("::")
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                );
                paths.extend(group_paths(&nested, &inner[..closing_brace(inner)]));
            }
            None => {
                let name = item.split_whitespace().next().unwrap_or_default();
                let mut path = prefix.to_vec();
                if name != "self" {
                    path.extend(name.split("::").map(str::to_owned));
                }
                paths.push(path);
            }
        }
    }
    paths
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let known = modules(&src);
    known
        .iter()
        .map(|(module, file)| {
            let code = code_of(&fs::read_to_string(file).unwrap());
            (module.clone(), dependencies(module, &code, &known))
        })
        .collect()
}

#[test]
fn every_dependency_points_down_or_stays_in_its_part() {
    let graph = graph();
    let unplaced: Vec<&String> = graph.keys().filter(|m| place(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "modules outside every layer (add them to one): {unplaced:?}"
    );
    let mut wrong = BTreeSet::new();
    for (from, targets) in &graph {
        for to in targets {
            if !allowed(from, to) {
                wrong.insert((from.clone(), to.clone()));
            }
        }
    }
    let listed: BTreeSet<(String, String)> = NOT_YET_REMOVED
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    let new: Vec<_> = wrong.difference(&listed).collect();
    let gone: Vec<_> = listed.difference(&wrong).collect();
    assert!(
        new.is_empty(),
        "dependencies that point up or sideways:\n{}",
        new.iter()
            .map(|(a, b)| format!("    (\"{a}\", \"{b}\"),"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        gone.is_empty(),
        "removed, so take them off NOT_YET_REMOVED: {gone:?}"
    );
}

/// Strongly connected sets of modules (Tarjan), for the cycle check.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, node: &'a str) {
            let n = self.index.len();
            self.index.insert(node, n);
            self.low.insert(node, n);
            self.stack.push(node);
            self.on_stack.insert(node);
            for next in self.graph.get(node).into_iter().flatten() {
                let next = next.as_str();
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut set = Vec::new();
                while let Some(top) = self.stack.pop() {
                    self.on_stack.remove(top);
                    set.push(top.to_owned());
                    if top == node {
                        break;
                    }
                }
                if set.len() > 1 {
                    set.sort();
                    self.found.push(set);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !walk.index.contains_key(node.as_str()) {
            walk.visit(node);
        }
    }
    walk.found
}

/// A function that needs more than clippy's seven arguments takes a named input instead
/// (issue 30): no source may allow `clippy::too_many_arguments`.
#[test]
fn no_function_is_allowed_too_many_arguments() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let allowed: Vec<String> = modules(&src)
        .into_iter()
        .filter(|(_, file)| {
            fs::read_to_string(file).is_ok_and(|text| text.contains("too_many_arguments"))
        })
        .map(|(module, _)| module)
        .collect();
    assert!(
        allowed.is_empty(),
        "too_many_arguments allowed in {allowed:?}"
    );
}

/// The policy stage's `mod.rs` is its front door, for other layers only: a file of the stage
/// that imported from it would tie the stage's parts to each other through it (issue 30).
#[test]
fn no_file_of_the_policy_stage_imports_its_front_door() {
    let through_front_door: Vec<String> = graph()
        .into_iter()
        .filter(|(module, targets)| module.starts_with("policy::") && targets.contains("policy"))
        .map(|(module, _)| module)
        .collect();
    assert!(
        through_front_door.is_empty(),
        "files of the policy stage that import from src/policy/mod.rs: {through_front_door:?}"
    );
}

/// The Rego analysis reads policies without evaluating them and knows nothing of the
/// stage around it: it could be a crate of its own.
#[test]
fn the_rego_analysis_imports_nothing_outside_itself() {
    let outside: Vec<(String, String)> = graph()
        .into_iter()
        .filter(|(module, _)| module.starts_with("policy::rego"))
        .flat_map(|(module, targets)| {
            targets
                .into_iter()
                .filter(|to| !to.starts_with("policy::rego"))
                .map(move |to| (module.clone(), to))
        })
        .collect();
    assert!(
        outside.is_empty(),
        "the Rego analysis imports from outside itself: {outside:?}"
    );
}

/// No two files need each other, even inside one part: a cycle means one file is two
/// concerns, or a concern is split across two files.
#[test]
fn no_file_cycle() {
    let found = cycles(&graph());
    assert!(found.is_empty(), "file cycles: {found:?}");
}

/// The policy stage's files stay small enough to read whole (issue 30).
#[test]
fn no_file_of_the_policy_stage_is_over_900_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let long: Vec<(String, usize)> = modules(&src)
        .into_iter()
        .filter(|(module, _)| module == "policy" || module.starts_with("policy::"))
        .map(|(_, file)| {
            let lines = fs::read_to_string(&file).unwrap().lines().count();
            (
                file.strip_prefix(&src).unwrap().display().to_string(),
                lines,
            )
        })
        .filter(|(_, lines)| *lines > 900)
        .collect();
    assert!(
        long.is_empty(),
        "files of src/policy over 900 lines: {long:?}"
    );
}

#[test]
fn no_cycle_leaves_a_part() {
    let graph = graph();
    let listed: BTreeSet<(&str, &str)> = NOT_YET_REMOVED.iter().copied().collect();
    // The listed exceptions are what still closes cycles across parts; without them every
    // cycle must stay inside one part.
    let pruned: BTreeMap<String, BTreeSet<String>> = graph
        .iter()
        .map(|(from, targets)| {
            let kept = targets
                .iter()
                .filter(|to| !listed.contains(&(from.as_str(), to.as_str())))
                .cloned()
                .collect();
            (from.clone(), kept)
        })
        .collect();
    let across: Vec<Vec<String>> = cycles(&pruned)
        .into_iter()
        .filter(|set| {
            let parts: BTreeSet<&str> = set.iter().filter_map(|m| place(m).map(|p| p.1)).collect();
            parts.len() > 1
        })
        .collect();
    assert!(across.is_empty(), "cycles across parts: {across:?}");
}

#[test]
fn the_checker_sees_what_it_must() {
    let mut known = BTreeMap::new();
    for module in [
        "model::outcome",
        "report",
        "apply::stage",
        "apply::watch",
        "main",
    ] {
        known.insert(module.to_owned(), PathBuf::new());
    }
    let code = code_of(
        "use crate::report::Report;\nuse super::watch::{self, Ready};\n// crate::pipeline\nlet x = crate::model::outcome::Status::Passed;\n#[cfg(test)]\nmod tests { use crate::main; }\n",
    );
    let found = dependencies("apply::stage", &code, &known);
    let expected: BTreeSet<String> = ["report", "apply::watch", "model::outcome"]
        .map(str::to_owned)
        .into();
    assert_eq!(found, expected);
    // A group names each of its members, not the module it is written after.
    let grouped =
        code_of("use super::{watch, stage::{self, X}};\nuse crate::{model::outcome::Status};\n");
    let found = dependencies("apply::stage", &grouped, &known);
    let expected: BTreeSet<String> = ["apply::watch", "model::outcome"].map(str::to_owned).into();
    assert_eq!(found, expected);
    let ungrouped = dependencies(
        "apply::watch",
        &code_of("use super::{Plan, Other};\n"),
        &known,
    );
    assert!(ungrouped.is_empty(), "{ungrouped:?}");
    assert!(!allowed("model::outcome", "report"));
    assert!(!allowed("policy", "schema"));
    assert!(allowed("policy::reuse::memory", "policy"));
    assert!(allowed("pipeline::check", "policy"));
    assert!(!allowed("apply::stage", "pipeline::rollout"));
    let mut graph = BTreeMap::new();
    graph.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    graph.insert("b".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(cycles(&graph), vec![vec!["a".to_owned(), "b".to_owned()]]);
}

// The documentation names the crate's files; it must name them where they are.

/// The documents whose paths and links are checked: the README, BENCHMARKS.md and every
/// page under `docs/`, relative to the crate's root.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|entry| entry.expect("an entry of docs/").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .map(|path| path.strip_prefix(root).unwrap().to_path_buf())
        .collect();
    pages.sort();
    let mut all = vec![PathBuf::from("README.md"), PathBuf::from("BENCHMARKS.md")];
    all.extend(pages);
    all
}

/// What a repository path starts with: an entry of the root (`src`, `tests`, `.ci`,
/// `Cargo.toml`, ...), except `.git` and what `.gitignore` keeps out of the tree at the root
/// (`/target`, `/reports`: build output and reports, not the repository's).
fn top_level_entries(root: &Path) -> BTreeSet<String> {
    let ignored: BTreeSet<String> = fs::read_to_string(root.join(".gitignore"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.trim().strip_prefix('/'))
        .map(|name| name.trim_end_matches('/').to_owned())
        .collect();
    fs::read_dir(root)
        .expect("the crate's root")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name != ".git" && !ignored.contains(name))
        .collect()
}

/// The lines of a markdown text outside fenced code blocks, numbered from 1. A fence holds
/// commands and example files: the paths there are arguments (`/tmp/demo`, `objects.json`)
/// and `#` starts a comment, not a heading.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
        } else if !fenced {
            lines.push((index + 1, line));
        }
    }
    lines
}

/// GitHub's anchor of a heading: the text as shown (no backticks or emphasis), lowercase,
/// punctuation removed, spaces turned into `-`; a repeated anchor gets `-1`, `-2`, ...
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut found = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        let hashes = line.len() - line.trim_start_matches('#').len();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let slug: String = line[hashes..]
            .trim()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .flat_map(char::to_lowercase)
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let count = seen.entry(slug.clone()).or_insert(0);
        found.insert(if *count == 0 {
            slug
        } else {
            format!("{slug}-{count}")
        });
        *count += 1;
    }
    found
}

/// The inline code spans of a line (a span cut by a line break is not one), and the line
/// with them blanked out, so that a link's brackets inside code are not taken for a link.
fn code_spans(line: &str) -> (Vec<&str>, String) {
    let parts: Vec<&str> = line.split('`').collect();
    let closed = if parts.len().is_multiple_of(2) {
        parts.len() - 1
    } else {
        parts.len()
    };
    let mut spans = Vec::new();
    let mut prose = String::new();
    for (index, part) in parts.iter().enumerate() {
        if index % 2 == 1 && index < closed {
            spans.push(*part);
            prose.push_str(&" ".repeat(part.len() + 2));
        } else {
            prose.push_str(part);
        }
    }
    (spans, prose)
}

/// The targets of the markdown links in a line's prose: `[text](target)`.
fn link_targets(prose: &str) -> Vec<&str> {
    prose
        .match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &prose[at + 2..];
            rest.find(')').map(|end| &rest[..end])
        })
        .collect()
}

/// The repository path a code span names, if it names one: a single word whose first
/// component is an entry of the root, without a `:line` suffix. Spans with a space are
/// commands, whose arguments are examples (`ln -sfn v2 lib/v`); spans with `*`, `?`, `<`,
/// `{`, `[` or `…` are patterns (`Cargo.*`, `clusters/<name>/`), not files.
fn repository_path<'a>(span: &'a str, roots: &BTreeSet<String>) -> Option<&'a str> {
    if span.chars().any(char::is_whitespace)
        || span.contains(['*', '?', '<', '>', '{', '}', '[', ']', '…'])
    {
        return None;
    }
    let mut path = span;
    while let Some((before, after)) = path.rsplit_once(':') {
        if after.is_empty() || !after.chars().all(|c| c.is_ascii_digit()) {
            break;
        }
        path = before;
    }
    let first = path.split('/').next().unwrap_or(path);
    roots.contains(first).then_some(path)
}

/// What is wrong with one document (`name`, relative to the root): each repository path it
/// names that does not exist, each relative link to a missing file, and each link to a
/// heading a page does not have.
fn document_problems(root: &Path, name: &Path, text: &str) -> Vec<String> {
    let roots = top_level_entries(root);
    let dir = name.parent().unwrap_or(Path::new(""));
    let mut problems = Vec::new();
    for (number, line) in prose_lines(text) {
        let at = format!("{}:{number}", name.display());
        let (spans, prose) = code_spans(line);
        for span in spans {
            if let Some(path) = repository_path(span, &roots)
                && fs::symlink_metadata(root.join(path.trim_end_matches('/'))).is_err()
            {
                problems.push(format!("{at}: `{span}` names no file in the repository"));
            }
        }
        for target in link_targets(&prose) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
            let headings = if file.is_empty() {
                Some(anchors(text))
            } else {
                let linked = root.join(dir).join(file);
                if !linked.exists() {
                    problems.push(format!(
                        "{at}: link `{target}`: no file {}",
                        dir.join(file).display()
                    ));
                    continue;
                }
                (file.ends_with(".md") && !anchor.is_empty())
                    .then(|| anchors(&fs::read_to_string(&linked).unwrap_or_default()))
            };
            if let Some(headings) = headings
                && !anchor.is_empty()
                && !headings.contains(anchor)
            {
                problems.push(format!(
                    "{at}: link `{target}`: no heading with the anchor #{anchor}"
                ));
            }
        }
    }
    problems
}

#[test]
fn the_docs_name_only_paths_that_exist_and_links_that_land() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut problems = Vec::new();
    for name in documents(root) {
        let text = fs::read_to_string(root.join(&name))
            .unwrap_or_else(|e| panic!("{}: {e}", name.display()));
        problems.extend(document_problems(root, &name, &text));
    }
    assert!(
        problems.is_empty(),
        "the documentation names what is not there (find where it lives now):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_docs_checker_sees_what_it_must() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = "# A page\n\n## Where: `here`\n\n\
        `src/model/mod.rs` and `src/gone.rs:12`, `tests/all/layers.rs:3`, `src/*.rs`, \
        `clusters/<name>/`, `ln -s v2 lib/v`, `/tmp/demo`, `docs.yaml`, `[schema] skip`\n\
        [ok](#where-here) [missing](#nowhere) [page](../Cargo.toml) [gone](no-such-page.md)\n\
        [web](https://example.com/x.md) `[code](no-such.md)`\n\
        ```sh\ncat src/fenced.rs `src/fenced.rs` [x](fenced.md)\n```\n";
    let problems = document_problems(root, Path::new("docs/example.md"), text);
    assert_eq!(
        problems,
        [
            "docs/example.md:5: `src/gone.rs:12` names no file in the repository",
            "docs/example.md:6: link `#nowhere`: no heading with the anchor #nowhere",
            "docs/example.md:6: link `no-such-page.md`: no file docs/no-such-page.md",
        ]
    );
    let headings = anchors("# A\n## Judging by another revision's gate: `--gate-from`\n## A\n");
    assert!(headings.contains("judging-by-another-revisions-gate---gate-from"));
    assert!(headings.contains("a-1"));
}
