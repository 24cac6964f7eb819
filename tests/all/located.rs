//! Findings located where a person fixes them (issue 28), through the real binary on
//! `testdata/located`: the line of the generated file in every report that has a place for
//! it.

use crate::support;

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

/// The official SARIF 2.1.0 schema (see `testdata/sarif/SOURCE.md`).
fn sarif_validator() -> jsonschema::Validator {
    let path = support::manifest_dir().join("testdata/sarif/sarif-2.1.0-rtm.5.json");
    let mut schema: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    // The schema's `language` patterns hold a bare `]` (a literal in ECMAScript regexes,
    // refused by the engine jsonschema checks patterns with): the same patterns, `]` escaped.
    const BARE: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
    let mut escaped = 0;
    for definition in ["run", "toolComponent"] {
        let pattern = &mut schema["definitions"][definition]["properties"]["language"]["pattern"];
        assert_eq!(pattern, BARE);
        *pattern = Value::from(BARE.replace("]?", "\\]?"));
        escaped += 1;
    }
    assert_eq!(
        fs::read_to_string(&path).unwrap().matches(BARE).count(),
        escaped
    );
    jsonschema::validator_for(&schema).unwrap()
}

fn assert_valid_sarif(validator: &jsonschema::Validator, log: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(log)
        .map(|e| format!("{}: {e}", e.instance_path().as_str()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{log:#}");
}

#[test]
fn sarif_follows_the_official_schema_and_places_each_result() {
    let validator = sarif_validator();
    // The schema is enforced: a level SARIF does not have is refused.
    let wrong = serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}},
        "results": [{"message": {"text": "m"}, "level": "fatal"}]}]});
    assert!(!validator.is_valid(&wrong));

    let repo = fixture("located");
    let run = policyrun(repo.path(), &["check", "--output", "sarif"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    // Neither the value nor its base64 form (as a Secret's data would hold it).
    assert!(!run.stdout.contains("hunter2"), "{}", run.stdout);
    assert!(!run.stdout.contains("aHVudGVyMi1kby1ub3Qtc2hvdw"));
    let log: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_valid_sarif(&validator, &log);
    let sarif = &log["runs"][0];
    assert_eq!(sarif["tool"]["driver"]["name"], "policyrun");
    let rules: Vec<&str> = sarif["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["schema", "main.deny"]);
    let results = sarif["results"].as_array().unwrap();
    assert_eq!(results.len(), 5, "{results:#?}");
    let place = |result: &Value| {
        let physical = &result["locations"][0]["physicalLocation"];
        (
            physical["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .to_owned(),
            physical["region"]["startLine"].as_u64(),
            result["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .map(str::to_owned),
        )
    };
    let schema: Vec<_> = results
        .iter()
        .filter(|r| r["ruleId"] == "schema")
        .map(place)
        .collect();
    assert_eq!(
        schema,
        [
            (
                "generated/dev/app.json".to_owned(),
                Some(36),
                Some("clusters/dev/app.jsonnet".to_owned())
            ),
            (
                "generated/int/app.json".to_owned(),
                Some(15),
                Some("clusters/int/app.jsonnet".to_owned())
            ),
        ]
    );
    assert!(results.iter().all(|r| r["level"] == "error"));

    // A run with every kind of problem, warnings and skips among them, is valid too.
    let broken = fixture("broken");
    let run = policyrun(broken.path(), &["check", "--output", "sarif"]);
    let log: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_valid_sarif(&validator, &log);
    let levels: std::collections::BTreeSet<&str> = log["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["level"].as_str().unwrap())
        .collect();
    assert!(levels.contains("error"), "{levels:?}");
}

#[test]
fn junit_groups_passes_by_check_and_keeps_each_problem() {
    let repo = fixture("located");
    let junit = repo.path().join("junit.xml");
    let run = policyrun(
        repo.path(),
        &[
            "check",
            "--output",
            "json",
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 1);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let xml = fs::read_to_string(&junit).unwrap();
    support::assert_valid_junit(&xml);
    assert!(!xml.contains("hunter2"));
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let cases: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let outcomes = outcome_list(&run);
    // One testcase per subject with a problem, per suite (cluster and stage)...
    let problems: std::collections::BTreeSet<(String, String, String)> = outcomes
        .iter()
        .filter(|o| o["status"] != "passed")
        .map(|o| {
            (
                o["cluster"].as_str().unwrap_or("repository").to_owned(),
                o["stage"].as_str().unwrap().to_owned(),
                o["subject"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // ... and one per check that passed somewhere in a suite.
    let passing: std::collections::BTreeSet<(String, String, String)> = outcomes
        .iter()
        .filter(|o| o["status"] == "passed")
        .map(|o| {
            (
                o["cluster"].as_str().unwrap_or("repository").to_owned(),
                o["stage"].as_str().unwrap().to_owned(),
                format!("passed: {}", o["check"].as_str().unwrap()),
            )
        })
        .collect();
    assert_eq!(cases.len(), problems.len() + passing.len(), "{xml}");
    assert!(cases.len() < outcomes.len());
    let failing = doc
        .descendants()
        .find(|n| n.attribute("name") == Some("Deployment app/web"))
        .unwrap();
    let failure = failing
        .children()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert!(
        failure
            .text()
            .unwrap()
            .contains("at generated/dev/app.json:36"),
        "{xml}"
    );
    // The passes' testcases hold every passed outcome, and the suites' properties count
    // every outcome.
    let assertions: usize = cases
        .iter()
        .filter_map(|c| c.attribute("assertions"))
        .map(|n| n.parse::<usize>().unwrap())
        .sum();
    assert_eq!(
        assertions as u64,
        report["summary"]["passed"].as_u64().unwrap()
    );
    let counted: u64 = doc
        .descendants()
        .filter(|n| n.attribute("name") == Some("policyrun.outcomes"))
        .map(|n| n.attribute("value").unwrap().parse::<u64>().unwrap())
        .sum();
    let total: u64 = ["passed", "skipped", "warnings", "failed", "errors"]
        .iter()
        .map(|k| report["summary"][k].as_u64().unwrap())
        .sum();
    assert_eq!(counted, total);
}
