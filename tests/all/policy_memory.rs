//! The policy stage's memory of verdicts in the cache, through the real binary on
//! `testdata/policy-gate` (two clusters with different parameters, waivers, Gatekeeper
//! constraints; 10 objects): a warm run reports exactly what an evaluation reports, and
//! anything an evaluation reads makes it evaluate again.

use crate::support;

use std::fs;
use std::path::PathBuf;

use serde_json::Value;
use support::{CachedRepo, edit_file, policyrun, write_file};

/// The fixture's objects: five per cluster.
const OBJECTS: u64 = 10;

/// The fixture with a cache of its own.
fn repo() -> CachedRepo {
    CachedRepo::new("policy-gate")
}

/// The same check without any cache: every object evaluated.
fn uncached(repo: &CachedRepo) -> Value {
    let run = policyrun(repo.root(), &["check", "--output", "json", "--no-cache"]);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stderr))
}

/// Objects whose verdicts the run took from the cache.
fn recalled(doc: &Value) -> u64 {
    doc["expansion"]["policy_recalled"].as_u64().unwrap()
}

/// The memory file in the repository's cache directory.
fn memory_file(repo: &CachedRepo) -> PathBuf {
    walkdir::WalkDir::new(repo.cache.path())
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .find(|p| p.file_name().is_some_and(|n| n == "policy-verdicts"))
        .expect("a policy-verdicts file in the cache")
}

/// The policy stage's outcomes, sorted: what must not differ between an evaluated and a
/// recalled run.
fn policy_outcomes(doc: &Value) -> Vec<String> {
    let mut found: Vec<String> = doc["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["stage"] == "policy")
        .map(|o| o.to_string())
        .collect();
    found.sort();
    found
}

#[test]
fn a_warm_run_recalls_every_objects_verdicts_and_reports_the_same() {
    let repo = repo();
    let (cold_run, cold) = repo.check(&[]);
    assert_eq!(recalled(&cold), 0);
    let written = fs::metadata(memory_file(&repo))
        .unwrap()
        .modified()
        .unwrap();
    let (warm_run, warm) = repo.check(&[]);
    assert_eq!(recalled(&warm), OBJECTS);
    // Nothing new learnt, nothing of the past: the file is left as it is.
    let now = fs::metadata(memory_file(&repo))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(now, written);
    assert_eq!(warm_run.code, cold_run.code);
    // Failures, warnings, waived results and Gatekeeper violations alike.
    let outcomes = policy_outcomes(&cold);
    for status in ["failed", "warning", "skipped", "passed"] {
        assert!(
            outcomes
                .iter()
                .any(|o| o.contains(&format!("\"status\":\"{status}\""))),
            "the fixture has a {status} policy outcome"
        );
    }
    assert_eq!(policy_outcomes(&warm), outcomes);
    // Without the cache: the same again, from an evaluation.
    let uncached = uncached(&repo);
    assert_eq!(policy_outcomes(&uncached), outcomes);
}

#[test]
fn a_changed_policy_cluster_or_object_context_is_evaluated_again() {
    let repo = repo();
    repo.check(&[]);
    // A policy file, even only a comment in it: every object again.
    edit_file(
        repo.root(),
        "policies/gate.rego",
        "import rego.v1\n",
        "import rego.v1\n\n# reviewed\n",
    );
    let (_, doc) = repo.check(&[]);
    assert_eq!(recalled(&doc), 0);
    assert_eq!(recalled(&repo.check(&[]).1), OBJECTS);
    // One cluster's parameters: that cluster's objects again, and their new verdicts.
    edit_file(
        repo.root(),
        "policyrun.toml",
        "max_replicas = 2",
        "max_replicas = 9",
    );
    let (_, doc) = repo.check(&[]);
    assert_eq!(recalled(&doc), OBJECTS / 2);
    let uncached = uncached(&repo);
    assert_eq!(policy_outcomes(&doc), policy_outcomes(&uncached));
    // A data file the policies read.
    write_file(repo.root(), "policies/extra.json", r#"{"extra": {"x": 1}}"#);
    assert_eq!(recalled(&repo.check(&[]).1), 0);
}

#[test]
fn waivers_judge_recalled_verdicts_as_they_are_today() {
    let repo = repo();
    let (_, before) = repo.check(&[]);
    // The waiver of `worker`'s replicas expires: the verdict is remembered, the waiver
    // is not.
    edit_file(
        repo.root(),
        "policies/waivers.yaml",
        "reason: kept after a scale-down\n  owner: team-web\n  expires: 2999-12-31",
        "reason: kept after a scale-down\n  owner: team-web\n  expires: 2001-01-01",
    );
    let (_, after) = repo.check(&[]);
    assert_eq!(recalled(&after), OBJECTS);
    assert_ne!(policy_outcomes(&after), policy_outcomes(&before));
    let uncached = uncached(&repo);
    assert_eq!(policy_outcomes(&after), policy_outcomes(&uncached));
}

#[test]
fn an_evaluation_error_is_never_remembered() {
    let repo = repo();
    write_file(
        repo.root(),
        "policies/broken.rego",
        "package gate\n\nimport rego.v1\n\ndeny_level contains msg if {\n\tinput.kind == \"Deployment\"\n\tto_number(\"high\") > 3\n\tmsg := \"level\"\n}\n",
    );
    let errors = |doc: &Value| {
        doc["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["status"] == "error" && o["check"] == "gate.deny_level")
            .count()
    };
    let (run, cold) = repo.check(&[]);
    assert_eq!(run.code, 1);
    let deployments = errors(&cold);
    assert!(deployments > 0, "{}", run.stdout);
    let (run, warm) = repo.check(&[]);
    assert_eq!(run.code, 1);
    assert_eq!(errors(&warm), deployments);
    assert_eq!(recalled(&warm), OBJECTS - deployments as u64);
}

#[test]
fn a_damaged_memory_is_ignored() {
    let repo = repo();
    let (_, cold) = repo.check(&[]);
    let file = memory_file(&repo);
    let mut bytes = fs::read(&file).unwrap();
    // A flipped byte in the last verdict: the checksum no longer matches.
    let at = bytes.len() - 5;
    bytes[at] ^= 0x01;
    fs::write(&file, &bytes).unwrap();
    let (_, doc) = repo.check(&[]);
    assert_eq!(recalled(&doc), 0);
    assert_eq!(policy_outcomes(&doc), policy_outcomes(&cold));
    // Rewritten whole by that run.
    assert_eq!(recalled(&repo.check(&[]).1), OBJECTS);
}

#[test]
fn a_shard_keeps_the_verdicts_of_the_other_shards_objects() {
    let repo = repo();
    repo.check(&[]);
    repo.check(&["--shard", "1/2"]);
    assert_eq!(recalled(&repo.check(&[]).1), OBJECTS);
}

#[test]
fn policies_that_read_the_clock_are_not_remembered() {
    let repo = repo();
    write_file(
        repo.root(),
        "policies/clock.rego",
        "package gate\n\nimport rego.v1\n\nwarn_late contains \"late\" if {\n\tinput.kind == \"Deployment\"\n\ttime.now_ns() > 0\n\tfalse\n}\n",
    );
    repo.check(&[]);
    let (_, doc) = repo.check(&[]);
    assert_eq!(recalled(&doc), 0);
    let notes = doc["expansion"]["notes"].to_string();
    assert!(notes.contains("clock.rego:7 calls time.now_ns"), "{notes}");
}

/// A run over some clusters saw only their objects: it must not forget the others'
/// verdicts, or the next whole run evaluates them again. (The gate used to decide "whole
/// run" without looking at `--cluster`; the scope now decides it once, issue 14.)
#[test]
fn a_run_over_one_cluster_keeps_the_other_clusters_verdicts() {
    let repo = repo();
    repo.check(&[]);
    let (_, dev_only) = repo.check(&["--cluster", "dev"]);
    assert_eq!(recalled(&dev_only), OBJECTS / 2);
    let (_, whole) = repo.check(&[]);
    assert_eq!(
        recalled(&whole),
        OBJECTS,
        "every verdict is still remembered"
    );
    assert_eq!(policy_outcomes(&whole), policy_outcomes(&uncached(&repo)));
}

/// The budget is part of what an evaluation reads: a verdict reached in 4 s under a budget
/// of 120 is not the verdict of a run that allows 1 s, which leaves the object undecided.
#[test]
fn a_verdict_is_never_recalled_under_another_policy_budget() {
    let repo = repo();
    // Seconds of work for dev's `settings`, deterministically: a count over a million
    // numbers, which can never be negative.
    write_file(
        repo.root(),
        "policies/slow.rego",
        r#"package gate

import rego.v1

deny_slow contains "a negative count" if {
	input.kind == "ConfigMap"
	input.metadata.name == "settings"
	data.policyrun.cluster.name == "dev"
	count([x | some x in numbers.range(1, 1000000); x % 7 == 0]) < 0
}
"#,
    );
    let over_budget = |doc: &Value| -> Vec<String> {
        doc["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["status"] == "error")
            .filter(|o| o["message"].as_str().unwrap_or("").contains("budget"))
            .map(|o| format!("{} {}", o["cluster"], o["check"]))
            .collect()
    };
    let (_, generous) = repo.check(&["--policy-seconds", "120"]);
    assert_eq!(over_budget(&generous), Vec::<String>::new());
    let (tight_run, tight) = repo.check(&["--policy-seconds", "1"]);
    let cold_run = policyrun(
        repo.root(),
        &[
            "check",
            "--output",
            "json",
            "--no-cache",
            "--policy-seconds",
            "1",
        ],
    );
    let cold: Value = serde_json::from_str(&cold_run.stdout).unwrap();
    assert!(
        over_budget(&cold).contains(&"\"dev\" \"gate\"".to_owned()),
        "{:?}",
        over_budget(&cold)
    );
    assert_eq!(over_budget(&tight), over_budget(&cold));
    assert_eq!(tight_run.code, cold_run.code);
    assert_eq!(policy_outcomes(&tight), policy_outcomes(&cold));
}
