//! The review written out: Markdown sized for a pull-request comment (the summary first,
//! the full listing collapsed), plain text for a terminal, and JSON with everything. Every
//! text that comes from the repository is escaped for the format, so a hostile name cannot
//! close the collapsed block, inject links or mention people.

use std::fmt::Write as _;

use serde::Serialize;

use std::collections::HashSet;

use crate::model::outcome::{Outcome, Stage, Status, shown_path};
use crate::review::group::{Group, Part, clusters_text};
use crate::review::{ChangeKind, Review, RiskRule};

/// The most a pull-request comment holds is 65,536 characters on GitHub; the document
/// stays under this, cutting the full listing first.
pub const MARKDOWN_BUDGET: usize = 60_000;

/// Groups the summary lists before pointing to the full listing.
const SUMMARY_GROUPS: usize = 40;
/// Findings and risks the summary lists before saying how many more.
const SUMMARY_ITEMS: usize = 30;

/// The gate's findings on what changed (failed, errors, warnings), and how many it has
/// elsewhere. What the review reports first.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    pub on_change: Vec<Outcome>,
    pub elsewhere: usize,
}

impl Findings {
    /// Splits the gate's outcomes that are not passes into those about a changed object or
    /// file, and the rest.
    pub fn of(review: &Review, outcomes: &[Outcome]) -> Findings {
        // Looked up, not searched: a library change touches every object of a large tree,
        // and the gate has an outcome for each of their checks.
        let objects: HashSet<(&str, &str, &str, Option<&str>, &str)> = review
            .changes
            .iter()
            .map(|c| {
                (
                    c.cluster.as_str(),
                    c.key.group.as_str(),
                    c.key.kind.as_str(),
                    c.key.namespace.as_deref(),
                    c.key.name.as_str(),
                )
            })
            .collect();
        let files: HashSet<&std::path::Path> =
            review.changes.iter().map(|c| c.file.as_path()).collect();
        let mut findings = Findings::default();
        for outcome in outcomes {
            if outcome.status < Status::Warning || outcome.stage == Stage::Review {
                continue;
            }
            let by_object = outcome.object.as_ref().is_some_and(|id| {
                objects.contains(&(
                    id.cluster.as_str(),
                    crate::review::group_of(&id.api_version),
                    id.kind.as_str(),
                    id.namespace.as_deref(),
                    id.name.as_str(),
                ))
            });
            let by_file = outcome
                .location
                .as_ref()
                .is_some_and(|l| files.contains(l.file.as_path()));
            if by_object || by_file {
                findings.on_change.push(outcome.clone());
            } else {
                findings.elsewhere += 1;
            }
        }
        findings
    }
}

/// Escapes text for Markdown prose: every ASCII punctuation that could start markup is
/// backslash-escaped (CommonMark allows it for all of them), line breaks become spaces.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            // Only what can start markup in the middle of a line.
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            // A mention or an issue reference in a comment notifies people.
            '@' => out.push_str("@\u{200b}"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text as inline code: a fence one backtick longer than any run inside it.
fn code(text: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') || text.is_empty() {
        " "
    } else {
        ""
    };
    // In a table cell a pipe ends the cell even inside code.
    let text = text.replace('|', "\\|");
    format!("{fence}{pad}{text}{pad}{fence}")
}

fn part_text(part: &Part) -> Vec<String> {
    match part.change {
        ChangeKind::Added | ChangeKind::Removed => vec![match &part.about {
            Some(about) => format!("{} ({about})", part.change.as_str()),
            None => part.change.as_str().to_owned(),
        }],
        ChangeKind::Changed => part.fields.iter().map(|f| f.text.clone()).collect(),
    }
}

/// One risk flag as the summaries list it: the objects flagged alike (same rule, message
/// and clusters) together, most serious rule first.
struct RiskLine {
    rule: RiskRule,
    message: String,
    clusters: String,
    objects: Vec<String>,
}

fn risk_lines(review: &Review) -> Vec<RiskLine> {
    let mut lines: Vec<RiskLine> = Vec::new();
    let mut index: std::collections::HashMap<(RiskRule, String, String), usize> =
        Default::default();
    for rule in RiskRule::ALL {
        for group in &review.groups {
            for part in &group.parts {
                for risk in part.risks.iter().filter(|r| r.rule == rule) {
                    let clusters = clusters_of(part, group, &review.clusters);
                    let key = (rule, risk.message.clone(), clusters.clone());
                    match index.get(&key) {
                        Some(&at) => lines[at].objects.push(group.key.display()),
                        None => {
                            index.insert(key, lines.len());
                            lines.push(RiskLine {
                                rule,
                                message: risk.message.clone(),
                                clusters,
                                objects: vec![group.key.display()],
                            });
                        }
                    }
                }
            }
        }
    }
    lines
}

/// Objects in Markdown: one by name, several by count and the first.
fn objects_md(objects: &[String]) -> String {
    match objects {
        [one] => code(one),
        [first, ..] => format!("{} objects ({}, …)", objects.len(), code(first)),
        [] => String::new(),
    }
}

/// A part's changes in Markdown: named changes as prose, others as path and values in code.
fn part_markdown(part: &Part) -> Vec<String> {
    match part.change {
        ChangeKind::Changed => part
            .fields
            .iter()
            .map(|f| {
                if f.named {
                    md(&f.text)
                } else {
                    let value = |v: &Option<String>| v.as_deref().map_or("(none)".to_owned(), code);
                    format!("{} {} → {}", code(&f.path), value(&f.old), value(&f.new))
                }
            })
            .collect(),
        _ => part_text(part).iter().map(|t| md(t)).collect(),
    }
}

/// The clusters of a part, against all the object changed in.
fn clusters_of(part: &Part, group: &Group, all: &[String]) -> String {
    if group.parts.len() == 1 && part.clusters.len() == all.len() && all.len() > 1 {
        "every cluster".to_owned()
    } else {
        clusters_text(&part.clusters)
    }
}

/// Changed fields listed inline before the rest are counted.
const INLINE_FIELDS: usize = 4;

/// The Markdown document.
pub fn markdown(review: &Review, findings: &Findings) -> String {
    let mut out = String::new();
    let short = &review.base_commit[..review.base_commit.len().min(12)];
    let _ = writeln!(
        out,
        "### policyrun review: what this change does to the clusters\n\nCompared with {} ({}), from the generated trees.\n",
        code(&review.base),
        code(short)
    );
    if review.is_empty() {
        out.push_str("No object changes in any cluster.\n");
        findings_md(&mut out, findings);
        return out;
    }
    out.push_str(
        "| cluster | added | changed | removed | risk flags |\n|---|---:|---:|---:|---:|\n",
    );
    for cluster in &review.clusters {
        let [added, changed, removed, risks] = review.counts(cluster);
        let _ = writeln!(
            out,
            "| {} | {added} | {changed} | {removed} | {risks} |",
            md(cluster)
        );
    }
    out.push('\n');
    findings_md(&mut out, findings);

    let risky = risk_lines(review);
    if !risky.is_empty() {
        let flags: usize = risky.iter().map(|r| r.objects.len()).sum();
        let _ = writeln!(out, "#### Risk flags ({flags})\n");
        for line in risky.iter().take(SUMMARY_ITEMS) {
            let _ = writeln!(
                out,
                "- ⚠️ **{}** — {} in {}: {}",
                line.rule.title(),
                objects_md(&line.objects),
                md(&line.clusters),
                md(&line.message)
            );
        }
        if risky.len() > SUMMARY_ITEMS {
            let _ = writeln!(
                out,
                "- … and {} more (full listing below)",
                risky.len() - SUMMARY_ITEMS
            );
        }
        out.push('\n');
    }

    let _ = writeln!(out, "#### Changes ({} objects)\n", review.groups.len());
    for group in review.groups.iter().take(SUMMARY_GROUPS) {
        let parts: Vec<String> = group
            .parts
            .iter()
            .map(|part| {
                let texts = part_markdown(part);
                let mut shown: Vec<String> = texts.iter().take(INLINE_FIELDS).cloned().collect();
                if texts.len() > INLINE_FIELDS {
                    shown.push(format!("{} more fields", texts.len() - INLINE_FIELDS));
                }
                format!(
                    "{}: {}",
                    md(&clusters_of(part, group, &review.clusters)),
                    shown.join("; ")
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "- {} — {}",
            code(&group.key.display()),
            parts.join(" · ")
        );
    }
    if review.groups.len() > SUMMARY_GROUPS {
        let _ = writeln!(
            out,
            "- … and {} more objects (full listing below)",
            review.groups.len() - SUMMARY_GROUPS
        );
    }
    if !review.unreadable.is_empty() {
        let _ = writeln!(
            out,
            "\n**Not reviewed** ({} places):\n",
            review.unreadable.len()
        );
        for problem in review.unreadable.iter().take(SUMMARY_ITEMS) {
            let _ = writeln!(out, "- {}", md(problem));
        }
    }

    // The full listing, per cluster, cut to the budget.
    let mut listing = String::new();
    let mut listed = 0;
    let mut cut = false;
    let mut current: Option<&str> = None;
    for change in &review.changes {
        let mut entry = String::new();
        if current != Some(change.cluster.as_str()) {
            let _ = writeln!(entry, "\n**{}**\n", md(&change.cluster));
            current = Some(&change.cluster);
        }
        let _ = writeln!(
            entry,
            "- {} {} ({})",
            change.change.as_str(),
            code(&change.key.display()),
            code(&format!("{}:{}", shown_path(&change.file), change.line))
        );
        for field in &change.fields {
            let _ = writeln!(
                entry,
                "  - {}{}: {} → {}",
                code(&field.path),
                field
                    .line
                    .map_or(String::new(), |line| format!(" (line {line})")),
                field.old.as_deref().map_or("(none)".to_owned(), code),
                field.new.as_deref().map_or("(none)".to_owned(), code)
            );
        }
        if out.len() + listing.len() + entry.len() + 400 > MARKDOWN_BUDGET {
            cut = true;
            break;
        }
        listing.push_str(&entry);
        listed += 1;
    }
    let _ = writeln!(
        out,
        "\n<details><summary>Full listing: {} object changes in {} clusters</summary>\n{listing}",
        review.changes.len(),
        review
            .clusters
            .iter()
            .filter(|c| review.counts(c).iter().take(3).sum::<usize>() > 0)
            .count()
    );
    if cut {
        let _ = writeln!(
            out,
            "\n… cut after {listed} of {} object changes to fit a comment; `policyrun review --base {} -o json` lists every one.",
            review.changes.len(),
            md(&review.base)
        );
    }
    out.push_str("\n</details>\n");
    out
}

/// Findings grouped by what they say (status, stage, check, message), in first-seen order.
fn same_findings(outcomes: &[Outcome]) -> Vec<Vec<&Outcome>> {
    let mut index: std::collections::HashMap<(Status, Stage, &str, &str), usize> =
        Default::default();
    let mut groups: Vec<Vec<&Outcome>> = Vec::new();
    for outcome in outcomes {
        let key = (
            outcome.status,
            outcome.stage,
            outcome.check.as_str(),
            outcome.message.as_str(),
        );
        match index.get(&key) {
            Some(&at) => groups[at].push(outcome),
            None => {
                index.insert(key, groups.len());
                groups.push(vec![outcome]);
            }
        }
    }
    groups
}

fn findings_md(out: &mut String, findings: &Findings) {
    if findings.on_change.is_empty() && findings.elsewhere == 0 {
        out.push_str("The gate has no finding.\n\n");
        return;
    }
    if !findings.on_change.is_empty() {
        let _ = writeln!(
            out,
            "#### Gate findings on what changed ({})\n",
            findings.on_change.len()
        );
        // The same finding on many objects (a library change) is one line with its count.
        let groups = same_findings(&findings.on_change);
        for group in groups.iter().take(SUMMARY_ITEMS) {
            let outcome = group[0];
            let icon = if outcome.status.is_failure() {
                "❌"
            } else {
                "⚠️"
            };
            let place = outcome.location.as_ref().map(|l| match l.line {
                Some(line) => format!("{}:{line}", shown_path(&l.file)),
                None => shown_path(&l.file),
            });
            let mut clusters: Vec<String> = Vec::new();
            for o in group {
                if let Some(c) = &o.cluster
                    && !clusters.contains(c)
                {
                    clusters.push(c.clone());
                }
            }
            let who = if group.len() == 1 {
                format!(
                    "{}{}",
                    clusters
                        .first()
                        .map_or(String::new(), |c| format!("**{}** ", md(c))),
                    code(&outcome.subject_name())
                )
            } else {
                format!(
                    "×{} in {}, first {}",
                    group.len(),
                    md(&clusters_text(&clusters)),
                    code(&outcome.subject_name())
                )
            };
            let _ = writeln!(
                out,
                "- {icon} {who} {} {}: {}{}",
                outcome.stage,
                code(&outcome.check),
                md(&outcome.message),
                place.map_or(String::new(), |p| format!(" ({})", code(&p)))
            );
        }
        if groups.len() > SUMMARY_ITEMS {
            let _ = writeln!(out, "- … and {} more", groups.len() - SUMMARY_ITEMS);
        }
        out.push('\n');
    }
    if findings.elsewhere > 0 {
        let _ = writeln!(
            out,
            "The gate has {} more finding(s) on objects this change does not touch.\n",
            findings.elsewhere
        );
    }
}

/// Plain text for a terminal: the same order as the Markdown, every change listed.
pub fn text(review: &Review, findings: &Findings, verbose: bool) -> String {
    let mut out = String::new();
    let short = &review.base_commit[..review.base_commit.len().min(12)];
    let _ = writeln!(
        out,
        "policyrun review: changes since {} ({short})",
        review.base
    );
    if review.is_empty() {
        out.push_str("  no object changes in any cluster\n");
    }
    for cluster in &review.clusters {
        let [added, changed, removed, risks] = review.counts(cluster);
        if added + changed + removed > 0 {
            let _ = writeln!(
                out,
                "  {cluster}: {added} added, {changed} changed, {removed} removed, {risks} risk flag(s)"
            );
        }
    }
    if !findings.on_change.is_empty() {
        let _ = writeln!(out, "\ngate findings on what changed:");
        for group in same_findings(&findings.on_change) {
            let outcome = group[0];
            let many = if group.len() > 1 {
                format!(" ×{} (first)", group.len())
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  {}{many} {} {} {}: {}",
                outcome.status.as_str().to_uppercase(),
                outcome.cluster.as_deref().unwrap_or("-"),
                outcome.subject_name(),
                outcome.check,
                outcome.message
            );
        }
    }
    if findings.elsewhere > 0 {
        let _ = writeln!(
            out,
            "  ({} more gate finding(s) on objects this change does not touch)",
            findings.elsewhere
        );
    }
    let risky = risk_lines(review);
    if !risky.is_empty() {
        out.push_str("\nrisk flags:\n");
    }
    for line in &risky {
        let objects = match line.objects.as_slice() {
            [one] => one.clone(),
            [first, ..] => format!("{} objects ({first}, …)", line.objects.len()),
            [] => String::new(),
        };
        let _ = writeln!(
            out,
            "  ! {}: {objects} in {}: {}",
            line.rule.title(),
            line.clusters,
            line.message
        );
    }
    if !review.groups.is_empty() {
        out.push_str("\nchanges:\n");
    }
    for group in &review.groups {
        let _ = writeln!(out, "  {}", group.key.display());
        for part in &group.parts {
            let texts = part_text(part);
            let limit = if verbose { usize::MAX } else { INLINE_FIELDS };
            let mut shown: Vec<String> = texts.iter().take(limit).cloned().collect();
            if texts.len() > limit {
                shown.push(format!("{} more fields (-v)", texts.len() - limit));
            }
            let _ = writeln!(
                out,
                "    {}: {}",
                clusters_of(part, group, &review.clusters),
                shown.join("; ")
            );
        }
    }
    if !review.unreadable.is_empty() {
        out.push_str("\nnot reviewed:\n");
        for problem in &review.unreadable {
            let _ = writeln!(out, "  {problem}");
        }
    }
    // Terminal control characters from the repository are shown, never sent.
    out.chars()
        .map(|c| if c.is_control() && c != '\n' { '?' } else { c })
        .collect()
}

#[derive(Serialize)]
struct JsonReview<'a> {
    format_version: u32,
    review: &'a Review,
    findings: &'a [Outcome],
    findings_elsewhere: usize,
}

/// Everything, for tools: the review's data and the gate's findings on what changed.
pub fn json(review: &Review, findings: &Findings) -> String {
    let document = JsonReview {
        format_version: 1,
        review,
        findings: &findings.on_change,
        findings_elsewhere: findings.elsewhere,
    };
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_else(|e| {
        format!(
            "{{\"error\": {}}}",
            serde_json::Value::String(e.to_string())
        )
    });
    text.push('\n');
    text
}

/// How a review is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Text { verbose: bool },
    Markdown,
    Json,
}

impl Form {
    /// The form a file's name asks for: `.json` is JSON, anything else Markdown.
    pub fn of_file(path: &std::path::Path) -> Form {
        if path.extension().is_some_and(|e| e == "json") {
            Form::Json
        } else {
            Form::Markdown
        }
    }

    fn render(self, review: &Review, findings: &Findings) -> String {
        match self {
            Form::Text { verbose } => text(review, findings, verbose),
            Form::Markdown => markdown(review, findings),
            Form::Json => json(review, findings),
        }
    }
}

/// The review as one of a run's reports: on standard output, or into a file (replaced
/// whole, never half-written). The gate's outcomes give its findings on what changed.
pub struct ReviewReport<W: std::io::Write> {
    review: std::sync::Arc<Review>,
    form: Form,
    to: Destination<W>,
}

enum Destination<W> {
    Stream(W),
    File(std::path::PathBuf),
}

impl<W: std::io::Write> ReviewReport<W> {
    pub fn new(out: W, review: std::sync::Arc<Review>, form: Form) -> Self {
        ReviewReport {
            review,
            form,
            to: Destination::Stream(out),
        }
    }

    pub fn file(path: std::path::PathBuf, review: std::sync::Arc<Review>) -> Self {
        ReviewReport {
            review,
            form: Form::of_file(&path),
            to: Destination::File(path),
        }
    }
}

impl<W: std::io::Write> super::Report for ReviewReport<W> {
    fn write(&mut self, outcomes: &[Outcome], _info: &super::RunInfo) -> std::io::Result<()> {
        let findings = Findings::of(&self.review, outcomes);
        let text = self.form.render(&self.review, &findings);
        match &mut self.to {
            Destination::Stream(out) => {
                out.write_all(text.as_bytes())?;
                out.flush()
            }
            Destination::File(path) => {
                crate::model::atomic::write_atomically(path, text.as_bytes())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_flagged_alike_are_one_line_and_the_same_finding_one_line_with_its_count() {
        use crate::model::outcome::{Location, Stage, Status};
        use crate::review::{Context, ObjectKey, TreeObject, compare};
        let deployment = |name: &str, image: &str| {
            serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": "n"},
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})
        };
        let side = |image: &str| -> Vec<TreeObject> {
            ["a", "b", "c"]
                .iter()
                .map(|name| {
                    let value = deployment(name, image);
                    TreeObject {
                        cluster: "dev".into(),
                        key: ObjectKey::of(&value).unwrap(),
                        file: format!("generated/dev/{name}.json").into(),
                        line: 1,
                        pointer: String::new(),
                        value,
                    }
                })
                .collect()
        };
        let context = Context {
            clusters: vec!["dev".into()],
        };
        let review = compare(
            side("x:1"),
            side("x:2"),
            &context,
            ("main", "abc"),
            &|_, _| None,
        );
        let stale = |file: &str| {
            Outcome::new(Stage::Freshness, "up-to-date", Status::Failed)
                .cluster("dev")
                .subject(file)
                .message("stale")
                .location(Location::file(file))
        };
        let outcomes: Vec<Outcome> = ["a", "b", "c"]
            .iter()
            .map(|n| stale(&format!("generated/dev/{n}.json")))
            .collect();
        let findings = Findings::of(&review, &outcomes);
        let text = markdown(&review, &findings);
        assert!(
            text.contains("**Image changed** — 3 objects (`Deployment n/a`, …) in dev: container c: image x:1 → 2"),
            "{text}"
        );
        assert!(
            text.contains("- ❌ ×3 in dev, first `generated/dev/a.json`"),
            "{text}"
        );
    }

    #[test]
    fn code_spans_hold_backticks_and_pipes_and_prose_escapes_markup() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(code("a|b"), "`a\\|b`");
        let hostile = "</details><img src=x> [link](http://e) @team #12";
        let escaped = md(hostile);
        // Every angle bracket is escaped, so no tag (`</details>`, `<img>`) is left.
        assert!(!escaped.replace("\\<", "").contains('<'), "{escaped}");
        assert!(
            !escaped.contains("@team") && escaped.contains("\\[link\\]"),
            "{escaped}"
        );
    }
}
