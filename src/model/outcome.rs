//! The one result type every stage produces, so that later stages (schema, policy, apply)
//! only add outcomes and every report and the exit code read the same data.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Serialize, Serializer};

/// The stage of the pipeline an outcome comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Evaluating entries and splitting them into objects.
    Expand,
    /// Comparing what the sources produce with the committed JSON.
    Freshness,
    /// Checking every object against the Kubernetes schemas.
    Schema,
    /// Evaluating the Rego policies (and Gatekeeper constraints) for every object.
    Policy,
    /// Checking that jsonnet sources are in the reference formatter's canonical form. After
    /// the stages about what reaches a cluster, so that reports show layout last.
    Style,
    /// Applying a cluster's objects and watching them roll out.
    Apply,
    /// What a change does to the generated tree against a base revision, and its risks
    /// (`review`, `check --review-base`): warnings for a reviewer, never failures.
    Review,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Expand => "expand",
            Stage::Freshness => "freshness",
            Stage::Schema => "schema",
            Stage::Policy => "policy",
            Stage::Style => "style",
            Stage::Apply => "apply",
            Stage::Review => "review",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a check ended. Ordered from best to worst, so the worst of a group is its `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Passed,
    /// Not checked on purpose (for example waived); never fails the run.
    Skipped,
    /// Worth reading, does not fail the run.
    Warning,
    /// The check ran and found a problem.
    Failed,
    /// The check could not run (unreadable file, evaluation error); fails the run.
    Error,
}

impl Status {
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Failed | Status::Error)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Skipped => "skipped",
            Status::Warning => "warning",
            Status::Failed => "failed",
            Status::Error => "error",
        }
    }
}

/// Who a Kubernetes object is: where it came from and what the cluster will call it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectId {
    pub cluster: String,
    /// The entry file, relative to the repository root.
    #[serde(serialize_with = "serialize_path")]
    pub entry: PathBuf,
    /// The key in the entry's item map (per-item layout), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectId {
    /// A core Secret, as the API server tells one: a kind called Secret in another group is
    /// some other resource (see [`crate::model::secrets::is_secret`] for values).
    pub fn is_secret(&self) -> bool {
        self.kind == "Secret" && self.api_version == "v1"
    }

    /// `kind namespace/name` (or `kind name`), the way kubectl users read it.
    pub fn display_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {}/{}", self.kind, ns, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// A key as one segment of a JSON pointer (RFC 6901: `~` and `/` escaped).
pub fn pointer_segment(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A path the way every report shows it: file names come from the repository under review,
/// so a byte that is not UTF-8 is shown as `\xFF` and a control character as `\u{1b}`,
/// never written as it is (it would end a JSON document, or drive the terminal).
pub fn shown_path(path: &Path) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let mut shown = String::new();
        for chunk in path.as_os_str().as_bytes().utf8_chunks() {
            for c in chunk.valid().chars() {
                if c.is_control() {
                    shown.extend(c.escape_unicode());
                } else {
                    shown.push(c);
                }
            }
            for byte in chunk.invalid() {
                shown.push_str(&format!("\\x{byte:02X}"));
            }
        }
        shown
    }
    #[cfg(not(unix))]
    {
        path.to_string_lossy()
            .chars()
            .flat_map(|c| {
                if c.is_control() {
                    c.escape_unicode().collect::<Vec<_>>()
                } else {
                    vec![c]
                }
            })
            .collect()
    }
}

/// Whether a file name can be shown and used as it is: UTF-8 without control characters.
pub fn plain_name(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|name| !name.chars().any(char::is_control))
}

/// Paths in reports are shown paths: a path that is not UTF-8 cannot be a JSON string, and
/// serde would stop the document half-written.
fn serialize_path<S: Serializer>(path: &Path, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&shown_path(path))
}

fn serialize_some_path<S: Serializer>(
    path: &Option<PathBuf>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match path {
        Some(path) => serialize_path(path, serializer),
        None => serializer.serialize_none(),
    }
}

/// A point in a source file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
    #[serde(serialize_with = "serialize_path")]
    pub file: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl Location {
    pub fn file(file: impl Into<PathBuf>) -> Self {
        Location {
            file: file.into(),
            line: None,
            column: None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", shown_path(&self.file))?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}

/// One check of one subject (an entry, a generated file or an object) in one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub stage: Stage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// The entry file the subject comes from, relative to the repository root.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_some_path"
    )]
    pub entry: Option<PathBuf>,
    /// What was checked when it is not the entry itself: a generated file's path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Shared: the policy stage reports dozens of rules about the same object.
    pub object: Option<Arc<ObjectId>>,
    /// A stable name for the check (`evaluate`, `up-to-date`, `unique-identity`).
    pub check: String,
    pub status: Status,
    /// One line a person reads first; empty when the check passed. When the check found
    /// several things (a Rego rule's set of messages, a Gatekeeper constraint's violations)
    /// it joins them, with whatever context the stage adds (the constraint, a waiver).
    pub message: String,
    /// Each finding on its own, as the policy wrote it, for the reports that list or count
    /// them; empty when `message` is the only one. Read it through [`Outcome::each_message`].
    /// Serialized by the JSON report, which always writes the list.
    #[serde(skip)]
    pub messages: Vec<String>,
    /// More text: a diff, a jsonnet stack trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The checks this one outcome stands for when it counts several passes of its subject
    /// (see [`Outcome::passes`]); empty for an outcome of one check.
    #[serde(skip)]
    pub passed_checks: Vec<Arc<str>>,
}

impl Outcome {
    pub fn new(stage: Stage, check: &str, status: Status) -> Self {
        Outcome {
            stage,
            cluster: None,
            entry: None,
            subject: None,
            object: None,
            check: check.to_owned(),
            status,
            message: String::new(),
            messages: Vec::new(),
            detail: None,
            location: None,
            passed_checks: Vec::new(),
        }
    }

    /// One outcome for the checks of `subject` that passed with nothing to say (no message,
    /// no detail), where they would be one outcome each: the policy stage passes one check
    /// per rule and object, hundreds of thousands on a large tree, and most reports only
    /// count them. Each pass, made on its own ([`Outcome::each_pass`]), is named
    /// `<subject> <check>` and carries the rest of `subject`'s fields. Its `check` is
    /// empty; [`Outcome::count`] says how many checks it stands for.
    pub fn passes(subject: Outcome, checks: Vec<Arc<str>>) -> Self {
        debug_assert!(subject.check.is_empty() && !checks.is_empty());
        Outcome {
            status: Status::Passed,
            passed_checks: checks,
            ..subject
        }
    }

    /// How many checks the outcome stands for: one, or the passes it counts.
    pub fn count(&self) -> usize {
        self.passed_checks.len().max(1)
    }

    /// The outcome of each check it stands for: itself, or each pass it counts as an
    /// outcome of its own.
    pub fn each_pass(self) -> Vec<Outcome> {
        if self.passed_checks.is_empty() {
            return vec![self];
        }
        let mut subject = self;
        let checks = std::mem::take(&mut subject.passed_checks);
        let name = subject.subject.take().unwrap_or_default();
        checks
            .iter()
            .map(|check| Outcome {
                check: check.to_string(),
                subject: Some(format!("{name} {check}")),
                ..subject.clone()
            })
            .collect()
    }

    pub fn cluster(mut self, cluster: &str) -> Self {
        self.cluster = Some(cluster.to_owned());
        self
    }

    pub fn entry(mut self, entry: impl Into<PathBuf>) -> Self {
        self.entry = Some(entry.into());
        self
    }

    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    pub fn object(mut self, object: impl Into<Arc<ObjectId>>) -> Self {
        self.object = Some(object.into());
        self
    }

    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Several findings: each kept on its own, and `message` set to them joined by `; `
    /// (a stage that wants a different one-line summary sets `message` after this).
    pub fn messages(mut self, messages: Vec<String>) -> Self {
        self.message = messages.join("; ");
        self.messages = messages;
        self
    }

    /// Every finding on its own: the separate messages if the outcome has them, else its one
    /// message (none when that is empty, as it is for a passed check).
    pub fn each_message(&self) -> Vec<&str> {
        if !self.messages.is_empty() {
            self.messages.iter().map(String::as_str).collect()
        } else if !self.message.is_empty() {
            vec![self.message.as_str()]
        } else {
            Vec::new()
        }
    }

    /// The outcome's findings as a list under a lead, for reports that show each on its own
    /// line: `Some((lead, messages))` when there are several and `message` is them joined
    /// after a lead (`K8sRequiredLabels/x: ` gives the lead `K8sRequiredLabels/x`; none
    /// gives an empty lead). `None` when one line says it all, or when `message` says
    /// something else (a waiver's reason, with the waived findings in the detail).
    pub fn itemized(&self) -> Option<(&str, &[String])> {
        if self.messages.len() < 2 {
            return None;
        }
        let joined = self.messages.join("; ");
        let lead = self.message.strip_suffix(joined.as_str())?;
        let lead = lead.strip_suffix(": ").unwrap_or(lead).trim_end();
        Some((lead, &self.messages))
    }

    /// How many findings fail the run: one per message of a failed outcome (a rule with
    /// three messages is three violations, as conftest and gator count them), and one for a
    /// failed outcome without a message; none for any other status.
    pub fn violations(&self) -> usize {
        if self.status == Status::Failed {
            self.messages.len().max(1)
        } else {
            0
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn location(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    /// What the outcome is about, for people: the generated file, else the object, else the entry.
    /// Borrowed when the subject is set, as it is for every outcome of the gate: reports
    /// sort and group tens of thousands of outcomes by it.
    pub fn subject_name(&self) -> Cow<'_, str> {
        if let Some(subject) = &self.subject {
            Cow::Borrowed(subject)
        } else if let Some(object) = &self.object {
            Cow::Owned(object.display_name())
        } else if let Some(entry) = &self.entry {
            Cow::Owned(shown_path(entry))
        } else {
            Cow::Borrowed(&self.check)
        }
    }
}

/// Every outcome with each pass on its own (see [`Outcome::passes`]): for the reports that
/// list every check, and for tests that read the passes one by one.
pub fn every_pass(outcomes: Vec<Outcome>) -> Vec<Outcome> {
    if outcomes.iter().all(|o| o.passed_checks.is_empty()) {
        return outcomes;
    }
    outcomes.into_iter().flat_map(Outcome::each_pass).collect()
}

/// Counts per status, for summaries and the exit code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub passed: usize,
    pub skipped: usize,
    pub warnings: usize,
    pub failed: usize,
    pub errors: usize,
    /// The findings of the failed outcomes, one per message ([`Outcome::violations`]): at
    /// least `failed`, more where a rule or constraint found several things in one object.
    pub violations: usize,
}

impl Summary {
    pub fn of<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> Self {
        let mut summary = Summary::default();
        for outcome in outcomes {
            match outcome.status {
                Status::Passed => summary.passed += outcome.count(),
                Status::Skipped => summary.skipped += 1,
                Status::Warning => summary.warnings += 1,
                Status::Failed => summary.failed += 1,
                Status::Error => summary.errors += 1,
            }
            summary.violations += outcome.violations();
        }
        summary
    }

    pub fn total(&self) -> usize {
        self.passed + self.skipped + self.warnings + self.failed + self.errors
    }

    pub fn has_failures(&self) -> bool {
        self.failed + self.errors > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn bad_file_names_are_shown_escaped_and_serialize_as_json() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let bad = Path::new(OsStr::from_bytes(b"clusters/dev/b\xffad\x1b[2J.jsonnet"));
        assert_eq!(shown_path(bad), "clusters/dev/b\\xFFad\\u{1b}[2J.jsonnet");
        assert!(!plain_name(bad.as_os_str()));
        assert!(!plain_name(OsStr::new("tab\there")));
        assert!(plain_name(OsStr::new("fine-name.jsonnet")));
        let outcome = Outcome::new(Stage::Freshness, "up-to-date", Status::Error)
            .entry(bad)
            .location(Location::file(bad));
        let json = serde_json::to_value(&outcome).unwrap();
        assert_eq!(json["entry"], shown_path(bad));
        assert_eq!(json["location"]["file"], shown_path(bad));
        assert_eq!(outcome.subject_name(), shown_path(bad));
    }

    #[test]
    fn summary_counts_and_failure() {
        let outcomes = vec![
            Outcome::new(Stage::Expand, "evaluate", Status::Passed),
            Outcome::new(Stage::Freshness, "up-to-date", Status::Warning),
            Outcome::new(Stage::Freshness, "up-to-date", Status::Passed),
        ];
        let summary = Summary::of(&outcomes);
        assert_eq!(summary.passed, 2);
        assert_eq!(summary.warnings, 1);
        assert!(!summary.has_failures());
        let mut failing = outcomes.clone();
        failing.push(Outcome::new(Stage::Expand, "evaluate", Status::Error));
        assert!(Summary::of(&failing).has_failures());
        assert_eq!(Summary::of(&failing).total(), 4);
    }

    #[test]
    fn several_messages_are_kept_apart_and_counted() {
        let several = Outcome::new(Stage::Policy, "main.deny", Status::Failed)
            .messages(vec!["no limits".into(), "runs as root".into()]);
        assert_eq!(several.message, "no limits; runs as root");
        assert_eq!(several.each_message(), ["no limits", "runs as root"]);
        assert_eq!(several.violations(), 2);
        let one = Outcome::new(Stage::Freshness, "up-to-date", Status::Failed).message("stale");
        assert_eq!(one.each_message(), ["stale"]);
        assert_eq!(one.violations(), 1);
        let warned = Outcome::new(Stage::Policy, "main.warn", Status::Warning)
            .messages(vec!["a".into(), "b".into()]);
        assert_eq!(warned.violations(), 0);
        let passed = Outcome::new(Stage::Policy, "main.deny", Status::Passed);
        assert!(passed.each_message().is_empty());
        assert_eq!(
            several.itemized(),
            Some(("", &["no limits".to_owned(), "runs as root".to_owned()][..]))
        );
        let mut constraint = several.clone();
        constraint.message = format!("K8sLimits/all: {}", constraint.message);
        assert_eq!(
            constraint.itemized().map(|(lead, _)| lead),
            Some("K8sLimits/all")
        );
        constraint.message = "waived until 2999-01-01 by ops: later".into();
        assert_eq!(constraint.itemized(), None);
        assert_eq!(one.itemized(), None);
        let summary = Summary::of([&several, &one, &warned, &passed]);
        assert_eq!((summary.failed, summary.violations), (2, 3));
    }

    #[test]
    fn status_orders_worst_last() {
        assert!(Status::Error > Status::Failed);
        assert!(Status::Failed > Status::Warning);
        assert!(Status::Warning > Status::Passed);
        assert!(Status::Failed.is_failure() && !Status::Warning.is_failure());
    }

    #[test]
    fn pointer_segments_are_escaped() {
        assert_eq!(
            pointer_segment("app.kubernetes.io/name"),
            "app.kubernetes.io~1name"
        );
        assert_eq!(pointer_segment("a~b"), "a~0b");
    }

    #[test]
    fn location_display() {
        let mut loc = Location::file("clusters/dev/a.jsonnet");
        assert_eq!(loc.to_string(), "clusters/dev/a.jsonnet");
        loc.line = Some(3);
        loc.column = Some(7);
        assert_eq!(loc.to_string(), "clusters/dev/a.jsonnet:3:7");
    }
}
