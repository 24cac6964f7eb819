//! `limits.memory_bytes` through the binary (issue 26, item 5): a jsonnet string doubled 31
//! times, Rego's `numbers.range(1, 200000000)` and `regex.find_n` over every character of an
//! 8 MiB string each ended the run with exit 134 and no report. Each is now an error outcome
//! naming the entry or object and the budget, the other entries are still judged, and every
//! report is written (exit 1). The fixture's budget is 256 MiB, so no test holds much more.

use crate::support;

use std::fs;

use support::{fixture, outcome_list, policyrun_within, written_junit};

/// The outcomes whose message names the memory budget.
fn over_memory(outcomes: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    outcomes
        .iter()
        .filter(|o| {
            o["status"] == "error"
                && o["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("limits.memory_bytes") && m.contains("256 MiB"))
        })
        .collect()
}

#[test]
fn exhausting_entries_and_policies_are_errors_and_every_report_is_written() {
    let dir = fixture("memory-budget");
    let root = dir.path();

    // `expand` writes what it can; the doubling entry is an error naming the budget.
    let run = policyrun_within(root, &["expand"], 120);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let shown = format!("{}{}", run.stdout, run.stderr);
    assert!(
        shown.contains("clusters/dev/doubling.jsonnet") && shown.contains("limits.memory_bytes"),
        "{shown}"
    );
    assert!(root.join("generated/dev/huge/cm.json").exists());
    assert!(!root.join("generated/dev/doubling").exists());

    for engine in ["interpreter", "vm"] {
        let args = [
            "check",
            "--no-cache",
            "--policy-engine",
            engine,
            "--output",
            "json",
            "--junit",
            "junit.xml",
        ];
        let run = policyrun_within(root, &args, 180);
        assert_eq!(run.code, 1, "{engine}: {}{}", run.stdout, run.stderr);
        let outcomes = outcome_list(&run);
        let errors = over_memory(&outcomes);
        let subjects: Vec<&str> = errors
            .iter()
            .map(|o| o["subject"].as_str().unwrap())
            .collect();
        assert!(
            subjects.contains(&"clusters/dev/doubling.jsonnet"),
            "{engine}: {outcomes:#?}"
        );
        for object in ["ConfigMap app/ranged", "ConfigMap app/huge"] {
            let error = errors
                .iter()
                .find(|o| o["subject"].as_str().unwrap().contains(object))
                .unwrap_or_else(|| panic!("{engine}: no memory error for {object}: {outcomes:#?}"));
            assert_eq!(error["stage"], "policy", "{error}");
        }
        assert_eq!(errors.len(), 3, "{engine}: {errors:#?}");
        // The entry that is fine was evaluated, its objects validated and judged.
        for (stage, subject) in [
            ("schema", "ConfigMap app/settings"),
            ("policy", "ConfigMap app/settings"),
            ("policy", "Namespace app"),
        ] {
            assert!(
                outcomes.iter().any(|o| o["stage"] == stage
                    && o["status"] == "passed"
                    && o["subject"].as_str().unwrap().contains(subject)),
                "{engine}: {stage} {subject}: {outcomes:#?}"
            );
        }
        let junit = written_junit(&root.join("junit.xml"));
        for named in [
            "clusters/dev/doubling.jsonnet",
            "ConfigMap app/ranged",
            "ConfigMap app/huge",
            "limits.memory_bytes",
            "256 MiB",
        ] {
            assert!(junit.contains(named), "{engine}: {named} not in\n{junit}");
        }
        fs::remove_file(root.join("junit.xml")).unwrap();
    }
}

#[test]
fn the_memory_budget_has_a_floor_and_a_ceiling_and_the_command_line_replaces_it() {
    let dir = fixture("memory-budget");
    let root = dir.path();
    // Only the entry that is fine, so that a run that passes shows the budget held.
    for culprit in ["doubling", "huge", "ranged"] {
        fs::remove_file(root.join(format!("clusters/dev/{culprit}.jsonnet"))).unwrap();
    }
    fs::remove_dir_all(root.join("generated/dev/ranged")).unwrap();
    let config = fs::read_to_string(root.join("policyrun.toml")).unwrap();
    for (value, range) in [
        ("17179869185", "67108864 to 17179869184"),
        ("1024", "67108864 to 17179869184"),
    ] {
        fs::write(
            root.join("policyrun.toml"),
            config.replace(
                "memory_bytes = 268435456",
                &format!("memory_bytes = {value}"),
            ),
        )
        .unwrap();
        let run = policyrun_within(root, &["check"], 60);
        assert_eq!(run.code, 2, "{value}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("limits.memory_bytes") && run.stderr.contains(range),
            "{}",
            run.stderr
        );
    }
    let run = policyrun_within(root, &["check", "--memory-bytes", "1"], 60);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("--memory-bytes"), "{}", run.stderr);
    fs::write(root.join("policyrun.toml"), &config).unwrap();
    let run = policyrun_within(root, &["check"], 60);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // The trusted caller's flag replaces the file's value, beyond the file's ceiling too.
    let run = policyrun_within(root, &["check", "--memory-bytes", "34359738368"], 60);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}
