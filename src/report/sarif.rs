//! SARIF 2.1.0 (`--output sarif`), the format GitHub code scanning and Jenkins' Warnings NG
//! plugin read, so that a pull request's findings land as annotations on the line of the
//! generated file a person fixes, with the jsonnet entry that produced it beside.
//!
//! One `run`; its driver lists one rule per check that has a result. Passes are left out;
//! failures and errors are `error` results, warnings `warning`, and skipped (waived,
//! excepted, or not checked on purpose) results `note`s carrying an external suppression
//! with its reason, so code scanning shows them as dismissed rather than open. Messages are
//! the ones every other report prints, already cleaned of Secret values by the stages.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use serde_json::{Value, json};

use super::{Report, RunInfo};
use crate::model::digest::Digest;
use crate::model::outcome::{Outcome, Status, shown_path};

/// The schema a SARIF consumer checks the document against (the OASIS 2.1.0 schema, as
/// GitHub names it).
const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The base every relative URI is resolved against: the repository root, where a consumer
/// (code scanning's checkout, Jenkins' workspace) has the sources.
const SRCROOT: &str = "%SRCROOT%";

pub(crate) struct Sarif<W: Write> {
    out: W,
}

impl<W: Write> Sarif<W> {
    pub(crate) fn new(out: W) -> Self {
        Sarif { out }
    }
}

impl<W: Write> Report for Sarif<W> {
    fn write(&mut self, outcomes: &[Outcome], info: &RunInfo) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut self.out, &document(outcomes, info))?;
        writeln!(self.out)?;
        self.out.flush()
    }
}

/// The whole log, from outcomes in report order.
pub(crate) fn document(outcomes: &[Outcome], info: &RunInfo) -> Value {
    let reported: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.status != Status::Passed)
        .collect();
    // Rules in the order of their first result; each result refers to its rule by index.
    let mut rules: BTreeMap<&str, usize> = BTreeMap::new();
    let mut rule_list: Vec<&Outcome> = Vec::new();
    for outcome in &reported {
        if !rules.contains_key(outcome.check.as_str()) {
            rules.insert(&outcome.check, rule_list.len());
            rule_list.push(outcome);
        }
    }
    let results: Vec<Value> = reported
        .iter()
        .map(|o| result(o, rules[o.check.as_str()]))
        .collect();
    let rules: Vec<Value> = rule_list
        .iter()
        .map(|o| {
            json!({
                "id": o.check,
                "shortDescription": {"text": format!("policyrun {} check {}", o.stage, o.check)},
                "properties": {"stage": o.stage.as_str()},
            })
        })
        .collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "policyrun",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "automationDetails": {"id": format!("policyrun/{}/", info.command)},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

fn result(outcome: &Outcome, rule_index: usize) -> Value {
    let level = match outcome.status {
        Status::Failed | Status::Error => "error",
        Status::Warning => "warning",
        Status::Passed | Status::Skipped => "note",
    };
    let mut result = json!({
        "ruleId": outcome.check,
        "ruleIndex": rule_index,
        "level": level,
        "message": {"text": message(outcome)},
        // What the finding is about, not where it is: code scanning follows an alert by it
        // across runs even when the object moves within its file.
        "partialFingerprints": {"policyrunSubject/v1": fingerprint(outcome)},
        "properties": properties(outcome),
    });
    let primary = outcome
        .location
        .as_ref()
        .map(|l| (l.file.as_path(), l.line, l.column))
        .or_else(|| outcome.entry.as_deref().map(|entry| (entry, None, None)));
    if let Some((file, line, column)) = primary {
        result["locations"] = json!([{"physicalLocation": physical(file, line, column)}]);
        // The jsonnet source a generated file comes from: where the change is made.
        if let Some(entry) = &outcome.entry
            && entry != file
        {
            result["relatedLocations"] = json!([{
                "id": 1,
                "physicalLocation": physical(entry, None, None),
                "message": {"text": "the jsonnet entry that produces it"},
            }]);
        }
    }
    if outcome.status == Status::Skipped {
        result["suppressions"] = json!([{
            "kind": "external",
            "justification": outcome.message,
        }]);
    }
    result
}

/// The message, each finding on a line of its own when there are several, then the detail
/// (a diff, a jsonnet stack, the rule's place).
fn message(outcome: &Outcome) -> String {
    let mut text = match outcome.itemized() {
        Some((lead, messages)) => {
            let mut text = lead.to_owned();
            for message in messages {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str("- ");
                text.push_str(message);
            }
            text
        }
        None if outcome.message.is_empty() => {
            format!("{} {}", outcome.check, outcome.status.as_str())
        }
        None => outcome.message.clone(),
    };
    if let Some(detail) = &outcome.detail {
        text.push_str("\n\n");
        text.push_str(detail);
    }
    text
}

fn fingerprint(outcome: &Outcome) -> String {
    let key = format!(
        "{}\n{}\n{}\n{}",
        outcome.cluster.as_deref().unwrap_or(""),
        outcome.stage,
        outcome.check,
        outcome.subject_name()
    );
    Digest::of(key.as_bytes()).to_hex()
}

/// What a reader of the log filters by: the cluster, the stage and the object.
fn properties(outcome: &Outcome) -> Value {
    let mut properties = json!({
        "stage": outcome.stage.as_str(),
        "status": outcome.status.as_str(),
        "subject": outcome.subject_name(),
    });
    if let Some(cluster) = &outcome.cluster {
        properties["cluster"] = json!(cluster);
    }
    if let Some(object) = &outcome.object {
        properties["object"] = json!(object.display_name());
        properties["apiVersion"] = json!(object.api_version);
    }
    properties
}

fn physical(file: &Path, line: Option<usize>, column: Option<usize>) -> Value {
    let mut artifact = json!({"uri": uri(file)});
    if file.is_relative() {
        artifact["uriBaseId"] = json!(SRCROOT);
    }
    let mut location = json!({"artifactLocation": artifact});
    if let Some(line) = line.filter(|&l| l > 0) {
        location["region"] = json!({"startLine": line});
        if let Some(column) = column.filter(|&c| c > 0) {
            location["region"]["startColumn"] = json!(column);
        }
    }
    location
}

/// A path as a URI reference (RFC 3986): relative paths stay relative to `%SRCROOT%`,
/// absolute ones become `file:` URIs; every byte outside the unreserved set and `/` is
/// percent-encoded, so a file name with a space, `#` or `%` still names its file.
fn uri(path: &Path) -> String {
    let shown = shown_path(path);
    let mut encoded = String::with_capacity(shown.len());
    for byte in shown.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    if path.is_absolute() {
        format!("file://{encoded}")
    } else {
        encoded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::{Location, ObjectId, Stage};
    use std::path::PathBuf;
    use std::time::Duration;

    fn info() -> RunInfo {
        RunInfo {
            command: "check",
            elapsed: Duration::ZERO,
            stats: None,
        }
    }

    fn object() -> ObjectId {
        ObjectId {
            cluster: "dev".into(),
            entry: PathBuf::from("clusters/dev/app.jsonnet"),
            item: None,
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("app".into()),
            name: "settings".into(),
        }
    }

    #[test]
    fn results_rules_levels_and_locations() {
        let mut located = Location::file("generated/dev/app.json");
        located.line = Some(14);
        let outcomes = vec![
            Outcome::new(Stage::Schema, "schema", Status::Passed).cluster("dev"),
            Outcome::new(Stage::Policy, "main.deny", Status::Failed)
                .cluster("dev")
                .entry("clusters/dev/app.jsonnet")
                .subject("ConfigMap app/settings main.deny")
                .object(object())
                .messages(vec!["debug mode".into(), "no owner".into()])
                .location(located),
            Outcome::new(Stage::Policy, "main.warn", Status::Warning)
                .cluster("dev")
                .subject("ConfigMap app/settings main.warn")
                .message("think again")
                .location(Location::file("generated/dev/my file#1.json")),
            Outcome::new(Stage::Policy, "main.deny", Status::Skipped)
                .cluster("int")
                .subject("ConfigMap app/settings main.deny")
                .message("waived until 2999-01-01 by ops: later"),
            Outcome::new(Stage::Expand, "evaluate", Status::Error)
                .entry("clusters/dev/broken.jsonnet")
                .message("syntax error"),
        ];
        let log = document(&outcomes, &info());
        let run = &log["runs"][0];
        assert_eq!(log["version"], "2.1.0");
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["main.deny", "main.warn", "evaluate"]);
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 4, "passes are left out");
        let failed = &results[0];
        assert_eq!(failed["level"], "error");
        assert_eq!(failed["ruleIndex"], 0);
        assert_eq!(failed["message"]["text"], "- debug mode\n- no owner");
        let place = &failed["locations"][0]["physicalLocation"];
        assert_eq!(place["artifactLocation"]["uri"], "generated/dev/app.json");
        assert_eq!(place["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        assert_eq!(place["region"]["startLine"], 14);
        let source = &failed["relatedLocations"][0]["physicalLocation"];
        assert_eq!(
            source["artifactLocation"]["uri"],
            "clusters/dev/app.jsonnet"
        );
        assert_eq!(failed["properties"]["object"], "ConfigMap app/settings");
        let warned = &results[1];
        assert_eq!(warned["level"], "warning");
        assert_eq!(
            warned["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "generated/dev/my%20file%231.json"
        );
        assert!(warned["locations"][0]["physicalLocation"]["region"].is_null());
        let skipped = &results[2];
        assert_eq!(skipped["level"], "note");
        assert_eq!(skipped["suppressions"][0]["kind"], "external");
        assert!(skipped.get("locations").is_none());
        // The same finding in another cluster is another alert.
        assert_ne!(
            skipped["partialFingerprints"],
            failed["partialFingerprints"]
        );
        // Located by its entry when nothing else is known, with no second place.
        let error = &results[3];
        assert_eq!(
            error["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "clusters/dev/broken.jsonnet"
        );
        assert!(error.get("relatedLocations").is_none());
    }

    #[test]
    fn absolute_paths_are_file_uris() {
        assert_eq!(
            uri(Path::new("/tmp/a b/x.yaml")),
            "file:///tmp/a%20b/x.yaml"
        );
        assert_eq!(uri(Path::new("généré.json")), "g%C3%A9n%C3%A9r%C3%A9.json");
    }
}
