//! Findings located where a person fixes them (issue 28), through the real binary on
//! `testdata/located`: the line of the generated file in every report that has a place for
//! it.

mod support;

use std::fs;

use serde_json::Value;
use support::{fixture, outcome_list, policyrun};

/// The value that starts at `line` (1-based) of `text`, read by serde_json from there on:
/// what a reader finds who opens the file at that line.
fn value_at(text: &str, line: usize) -> Value {
    let rest: String = text.lines().skip(line - 1).collect::<Vec<_>>().join("\n");
    serde_json::Deserializer::from_str(&rest)
        .into_iter::<Value>()
        .next()
        .unwrap()
        .unwrap()
}

fn outcome<'a>(outcomes: &'a [Value], cluster: &str, subject: &str, check: &str) -> &'a Value {
    outcomes
        .iter()
        .find(|o| o["cluster"] == cluster && o["subject"] == subject && o["check"] == check)
        .unwrap_or_else(|| panic!("no {check} of {subject} in {cluster}: {outcomes:#?}"))
}

fn line_of(outcome: &Value) -> usize {
    outcome["location"]["line"]
        .as_u64()
        .unwrap_or_else(|| panic!("no line: {outcome:#}")) as usize
}

#[test]
fn findings_on_generated_objects_carry_the_line_of_their_file() {
    let repo = fixture("located");
    let root = repo.path();
    let run = policyrun(root, &["check", "--output", "json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = outcome_list(&run);
    let text = |file: &str| fs::read_to_string(root.join(file)).unwrap();
    let app = text("generated/dev/app.json");

    // A policy finding: the line where its object starts, inside a List inside a List.
    let settings = outcome(
        &outcomes,
        "dev",
        "ConfigMap app/settings main.deny",
        "main.deny",
    );
    assert_eq!(settings["location"]["file"], "generated/dev/app.json");
    let object = value_at(&app, line_of(settings));
    assert_eq!(object["metadata"]["name"], "settings", "{settings:#}");
    let single = outcome(
        &outcomes,
        "dev",
        "ConfigMap app/single main.deny",
        "main.deny",
    );
    assert_eq!(line_of(single), 1);

    // A schema error: the line of the field it names.
    for (cluster, file) in [
        ("dev", "generated/dev/app.json"),
        ("int", "generated/int/app.json"),
    ] {
        let wrong = outcome(&outcomes, cluster, "Deployment app/web", "schema");
        assert_eq!(wrong["status"], "failed");
        assert_eq!(wrong["location"]["file"], file);
        let line = text(file)
            .lines()
            .nth(line_of(wrong) - 1)
            .unwrap()
            .to_owned();
        // The same object in both clusters (judged once when shared): each its own line.
        assert_eq!(
            line.trim(),
            "\"replicas\": \"three\",",
            "{cluster}: {wrong:#}"
        );
    }
    // Every outcome about an object says where it starts, passes included.
    for o in outcomes.iter().filter(|o| o.get("object").is_some()) {
        let file = o["location"]["file"].as_str().unwrap();
        let found = value_at(&text(file), line_of(o));
        if o["check"] != "schema" {
            assert_eq!(found["metadata"]["name"], o["object"]["name"], "{o:#}");
        }
    }
}

#[test]
fn the_table_and_human_reports_name_the_line() {
    let repo = fixture("located");
    let run = policyrun(repo.path(), &["check", "--output", "table"]);
    assert!(
        run.stdout.contains("generated/dev/app.json:36"),
        "{}",
        run.stdout
    );
    let run = policyrun(repo.path(), &[]);
    assert!(
        run.stdout.contains("at generated/int/app.json:15"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("hunter2"), "{}", run.stdout);
}
