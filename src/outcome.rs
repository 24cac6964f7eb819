//! The one result type every stage produces, so that later stages (schema, policy, apply)
//! only add outcomes and every report and the exit code read the same data.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

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

/// A point in a source file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
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
        write!(f, "{}", self.file.display())?;
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
    #[serde(skip_serializing_if = "Option::is_none")]
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
    /// One line a person reads first; empty when the check passed.
    pub message: String,
    /// More text: a diff, a jsonnet stack trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
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
            detail: None,
            location: None,
        }
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
            entry.to_string_lossy()
        } else {
            Cow::Borrowed(&self.check)
        }
    }
}

/// Counts per status, for summaries and the exit code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub passed: usize,
    pub skipped: usize,
    pub warnings: usize,
    pub failed: usize,
    pub errors: usize,
}

impl Summary {
    pub fn of<'a>(outcomes: impl IntoIterator<Item = &'a Outcome>) -> Self {
        let mut summary = Summary::default();
        for outcome in outcomes {
            match outcome.status {
                Status::Passed => summary.passed += 1,
                Status::Skipped => summary.skipped += 1,
                Status::Warning => summary.warnings += 1,
                Status::Failed => summary.failed += 1,
                Status::Error => summary.errors += 1,
            }
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
