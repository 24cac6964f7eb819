//! Machine-readable output (`--output json`): the summary and every outcome, in report order.
//! Each outcome has `message` (one line for people) and `messages` (each finding on its own,
//! so that a consumer can count violations as with conftest's `failures: [{msg}]`).

use std::io::{self, Write};

use serde::Serialize;

use super::{Report, RunInfo};
use crate::model::outcome::{Outcome, Summary};

/// Bumped when a field changes meaning or disappears.
pub(crate) const FORMAT_VERSION: u32 = 1;

pub(crate) struct Json<W: Write> {
    out: W,
    /// Leave passed outcomes out (`--output json-problems`): a run of thousands of objects
    /// is mostly passes, which a consumer of problems reads past.
    problems_only: bool,
}

impl<W: Write> Json<W> {
    pub(crate) fn new(out: W) -> Self {
        Json {
            out,
            problems_only: false,
        }
    }

    /// The same document with only the outcomes that are not passes; `summary` still
    /// counts every outcome.
    pub(crate) fn problems_only(out: W) -> Self {
        Json {
            out,
            problems_only: true,
        }
    }
}

#[derive(Serialize)]
struct Document<'a> {
    version: u32,
    command: &'a str,
    passed: bool,
    elapsed_seconds: f64,
    summary: Summary,
    /// How `check` came by its expansions (entries evaluated, cached, checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    expansion: Option<&'a crate::model::stats::Stats>,
    outcomes: Vec<OutcomeEntry<'a>>,
}

/// An outcome with its findings listed: `messages` is never left out, so a consumer reads
/// one shape for every stage (empty for a passed check, one element for most others).
#[derive(Serialize)]
struct OutcomeEntry<'a> {
    #[serde(flatten)]
    outcome: &'a Outcome,
    messages: Vec<&'a str>,
}

impl<W: Write> Report for Json<W> {
    fn write(&mut self, outcomes: &[Outcome], info: &RunInfo) -> io::Result<()> {
        let summary = Summary::of(outcomes);
        let document = Document {
            version: FORMAT_VERSION,
            command: info.command,
            passed: !summary.has_failures(),
            elapsed_seconds: info.elapsed.as_secs_f64(),
            summary,
            expansion: info.stats.as_ref(),
            outcomes: outcomes
                .iter()
                .filter(|o| {
                    !(self.problems_only && o.status == crate::model::outcome::Status::Passed)
                })
                .map(|outcome| OutcomeEntry {
                    outcome,
                    messages: outcome.each_message(),
                })
                .collect(),
        };
        serde_json::to_writer_pretty(&mut self.out, &document)?;
        writeln!(self.out)?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::{Stage, Status};
    use std::time::Duration;

    #[test]
    fn document_shape() {
        let outcomes = vec![
            Outcome::new(Stage::Freshness, "up-to-date", Status::Warning)
                .cluster("dev")
                .subject("generated/dev/a/x.json"),
            Outcome::new(Stage::Policy, "main.deny", Status::Failed)
                .cluster("dev")
                .subject("Pod a/b main.deny")
                .messages(vec!["no limits".into(), "runs as root".into()]),
            Outcome::new(Stage::Policy, "main.warn", Status::Passed)
                .cluster("dev")
                .subject("Pod a/b main.warn"),
        ];
        let mut out = Vec::new();
        let info = RunInfo {
            command: "check",
            elapsed: Duration::ZERO,
            stats: None,
        };
        Json::new(&mut out).write(&outcomes, &info).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(doc["version"], 1);
        assert_eq!(doc["passed"], false);
        assert_eq!(doc["summary"]["warnings"], 1);
        assert_eq!(doc["summary"]["failed"], 1);
        assert_eq!(doc["summary"]["violations"], 2);
        assert_eq!(doc["outcomes"][0]["stage"], "freshness");
        assert_eq!(doc["outcomes"][0]["status"], "warning");
        assert_eq!(doc["outcomes"][0]["subject"], "generated/dev/a/x.json");
        assert_eq!(doc["outcomes"][0]["messages"], serde_json::json!([]));
        assert_eq!(doc["outcomes"][1]["message"], "no limits; runs as root");
        assert_eq!(
            doc["outcomes"][1]["messages"],
            serde_json::json!(["no limits", "runs as root"])
        );
        assert_eq!(doc["outcomes"][2]["messages"], serde_json::json!([]));

        let mut out = Vec::new();
        Json::problems_only(&mut out)
            .write(&outcomes, &info)
            .unwrap();
        let problems: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(problems["outcomes"].as_array().unwrap().len(), 2);
        assert_eq!(problems["summary"], doc["summary"]);
        assert_eq!(problems["outcomes"][1]["check"], "main.deny");
    }
}
