//! Objects of the same content share one evaluation of each rule whose inputs are equal, and
//! one schema check: the reports must be exactly those of a run that evaluates every object
//! on its own (`POLICYRUN_NO_SHARING=1`), outcome by outcome, and the sharing must happen.

use crate::support;

use std::fs;
use std::path::Path;

use serde_json::Value;
use support::{fixture, manifest_dir, policyrun_with, write_file};

/// `policyrun check --no-cache --output json` in `root`, with or without sharing: the exit
/// code and the report.
fn check(root: &Path, sharing: bool) -> (i32, Value) {
    let off = Path::new(if sharing { "0" } else { "1" });
    let run = policyrun_with(
        root,
        &["check", "--no-cache", "--output", "json"],
        &[("POLICYRUN_NO_SHARING", off)],
    );
    let doc = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", run.stdout, run.stderr));
    (run.code, doc)
}

/// Both runs, compared outcome by outcome; returns the report with sharing.
fn same_reports(root: &Path) -> Value {
    let (shared_code, shared) = check(root, true);
    let (alone_code, alone) = check(root, false);
    assert_eq!(shared_code, alone_code);
    let shared_outcomes = shared["outcomes"].as_array().unwrap();
    let alone_outcomes = alone["outcomes"].as_array().unwrap();
    assert_eq!(shared_outcomes.len(), alone_outcomes.len());
    for (a, b) in shared_outcomes.iter().zip(alone_outcomes) {
        assert_eq!(a, b);
    }
    assert_eq!(alone["expansion"]["policy_shared"], 0);
    assert_eq!(alone["expansion"]["schema_shared"], 0);
    shared
}

fn count(doc: &Value, stat: &str) -> u64 {
    doc["expansion"][stat].as_u64().unwrap()
}

/// `policy-gate` with a third cluster, `int`, holding the same objects as `web` at the same
/// limit, and two more rules: one reads only the limit, one nothing of the cluster. The
/// fixture's own rules put the cluster's name in their messages (never shared) and read the
/// object's context (its entry and generated file differ between clusters); its waivers and
/// Gatekeeper constraints apply per cluster.
fn three_clusters() -> tempfile::TempDir {
    let dir = fixture("policy-gate");
    let root = dir.path();
    for tree in ["clusters", "generated"] {
        support::copy_tree(&root.join(tree).join("web"), &root.join(tree).join("int"));
    }
    let config = fs::read_to_string(root.join("policyrun.toml")).unwrap();
    let config = config.replace(
        "[policy]",
        "[[cluster]]\nname = \"int\"\n[cluster.policy]\nmax_replicas = 5\n\n[policy]",
    );
    write_file(root, "policyrun.toml", &config);
    write_file(
        root,
        "policies/share.rego",
        r#"package gate

import rego.v1

# Reads only the cluster's limit: int and web, at the same limit, share its evaluation.
warn_near_limit contains msg if {
	input.kind == "Deployment"
	input.spec.replicas >= data.policyrun.cluster.policy.max_replicas - 1
	msg := sprintf("%d replicas, near the limit of %d", [input.spec.replicas, data.policyrun.cluster.policy.max_replicas])
}

# Reads nothing of the cluster: one evaluation for the three clusters.
warn_tag contains msg if {
	input.kind == "Deployment"
	some c in input.spec.template.spec.containers
	endswith(c.image, ":1.0")
	msg := sprintf("container %s runs a release tag, %s", [c.name, c.image])
}
"#,
    );
    dir
}

#[test]
fn shared_evaluations_report_what_separate_ones_do() {
    let repo = three_clusters();
    let doc = same_reports(repo.path());
    assert!(count(&doc, "policy_shared") > 0, "{:#}", doc["expansion"]);
    assert!(count(&doc, "schema_shared") > 0, "{:#}", doc["expansion"]);
    let outcomes = doc["outcomes"].as_array().unwrap();
    let find = |cluster: &str, check: &str, name: &str| -> &Value {
        outcomes
            .iter()
            .find(|o| o["cluster"] == cluster && o["check"] == check && o["object"]["name"] == name)
            .unwrap_or_else(|| panic!("no {check} outcome for {cluster}/{name}"))
    };
    // A message with the cluster's name is each cluster's own (a waived result keeps the
    // policy's messages in its list).
    for cluster in ["dev", "int", "web"] {
        let messages =
            find(cluster, "gate.deny_unknown_namespace", "stray")["messages"].to_string();
        assert!(
            messages.contains(&format!("cluster {cluster}")),
            "{messages}"
        );
    }
    // The same verdict, but waived only where the waiver names the cluster.
    assert_eq!(
        find("web", "gate.deny_unknown_namespace", "stray")["status"],
        "skipped"
    );
    assert_eq!(
        find("int", "gate.deny_unknown_namespace", "stray")["status"],
        "failed"
    );
    // The object's context differs per cluster, and so does what reads it.
    for cluster in ["dev", "int", "web"] {
        let message = find(cluster, "gate.warn_context", "settings")["message"]
            .as_str()
            .unwrap();
        assert!(
            message.contains(&format!("generated/{cluster}/app/settings.json")),
            "{message}"
        );
    }
    // The limit: 4 replicas are near web's and int's 5, over dev's 2 (another verdict).
    assert_eq!(
        find("int", "gate.warn_near_limit", "web")["status"],
        "warning"
    );
    assert_eq!(
        find("web", "gate.warn_near_limit", "web")["status"],
        "warning"
    );
    assert_eq!(
        find("dev", "gate.warn_near_limit", "web")["status"],
        "warning"
    );
    assert!(
        find("dev", "gate.warn_near_limit", "worker")["status"] == "warning"
            && find("int", "gate.warn_near_limit", "worker")["status"] == "passed"
    );
}

#[test]
fn the_example_repository_reports_the_same_with_and_without_sharing() {
    let doc = same_reports(&manifest_dir());
    assert!(count(&doc, "policy_shared") > 0, "{:#}", doc["expansion"]);
}

/// `testdata/policy-shared-inputs` (`dev` and `int` deploy the same ConfigMap; `int`'s
/// policy level is `high`, `dev`'s `low`) with these policy files added.
fn two_clusters(policies: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = fixture("policy-shared-inputs");
    for (path, text) in policies {
        write_file(dir.path(), path, text);
    }
    dir
}

/// The `(cluster, check, status)` of every outcome of the policy stage that did not pass.
fn policy_problems(doc: &Value) -> Vec<(String, String, String)> {
    let mut found: Vec<(String, String, String)> = doc["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["stage"] == "policy" && o["status"] != "passed")
        .map(|o| {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            (text(&o["cluster"]), text(&o["check"]), text(&o["status"]))
        })
        .collect();
    found.sort();
    found
}

/// The policy stage's load errors, as one text (file, line, column and message of each).
fn load_errors(doc: &Value) -> String {
    doc["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["stage"] == "policy" && o["status"] == "error")
        .map(|o| o.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn failed(cluster: &str, check: &str) -> (String, String, String) {
    (cluster.to_owned(), check.to_owned(), "failed".to_owned())
}

#[test]
fn a_helper_rule_or_function_in_another_file_of_the_package_is_followed() {
    let repo = two_clusters(&[
        (
            "policies/a.rego",
            r#"package p

import rego.v1

deny_crossfile contains "int forbids this ConfigMap" if {
	input.kind == "ConfigMap"
	_is_int
}

deny_crossfile_fn contains msg if {
	input.kind == "ConfigMap"
	msg := _label("cm")
}
"#,
        ),
        (
            "policies/b.rego",
            r#"package p

import rego.v1

_is_int if data.policyrun.cluster.name == "int"

_label(x) := sprintf("%s denied in high clusters", [x]) if data.policyrun.cluster.policy.level == "high"
"#,
        ),
    ]);
    let doc = same_reports(repo.path());
    assert_eq!(
        policy_problems(&doc),
        [
            failed("int", "p.deny_crossfile"),
            failed("int", "p.deny_crossfile_fn")
        ]
    );
    // The rule that reads nothing of the cluster is still shared.
    assert!(count(&doc, "policy_shared") > 0, "{:#}", doc["expansion"]);
}

#[test]
fn an_exception_whose_helper_is_in_another_file_is_each_clusters_own() {
    let repo = two_clusters(&[
        (
            "policies/a.rego",
            r#"package p

import rego.v1

deny_configmap contains "no ConfigMaps here" if input.kind == "ConfigMap"

# dev may keep its ConfigMaps; nobody else may.
exception contains rules if {
	_dev_only
	rules := ["configmap"]
}
"#,
        ),
        (
            "policies/b.rego",
            "package p\n\nimport rego.v1\n\n_dev_only if data.policyrun.cluster.name == \"dev\"\n",
        ),
    ]);
    let doc = same_reports(repo.path());
    assert_eq!(
        policy_problems(&doc),
        [
            (
                "dev".to_owned(),
                "p.deny_configmap".to_owned(),
                "skipped".to_owned()
            ),
            failed("int", "p.deny_configmap")
        ]
    );
}

#[test]
fn a_policy_may_not_call_policyruns_own_object_context_function() {
    // Defined in another package, a function of the same name made the unknown-function
    // check take the direct call for known, and the read analysis did not see it read the
    // object's entry: int's ConfigMap took dev's verdict.
    let repo = two_clusters(&[
        (
            "policies/a.rego",
            r#"package p

import rego.v1

deny_ctx contains "int entry" if {
	input.kind == "ConfigMap"
	ctx := __policyrun_object_context()
	startswith(ctx.entry, "clusters/int")
}
"#,
        ),
        (
            "policies/other.rego",
            "package other\n\nimport rego.v1\n\n__policyrun_object_context(x) := 1\n",
        ),
    ]);
    let (code, doc) = check(repo.path(), true);
    assert_eq!(code, check(repo.path(), false).0);
    assert_ne!(code, 0);
    let errors = load_errors(&doc);
    for place in ["policies/a.rego", "policies/other.rego"] {
        assert!(errors.contains(place), "{errors}");
    }
    assert!(errors.contains("__policyrun"), "{errors}");
    assert!(errors.contains("reserved"), "{errors}");
}

#[test]
fn a_missing_builtin_is_not_taken_for_a_function_of_the_same_last_name_elsewhere() {
    // Never reached for a ConfigMap: without the check at load time, the rule would pass
    // every object of this repository without ever running its body.
    let repo = two_clusters(&[
        (
            "policies/a.rego",
            r#"package p

import rego.v1

deny_digest contains "pinned secret changed" if {
	input.kind == "Secret"
	crypto.sha256(input.data.key) != "abc"
}
"#,
        ),
        (
            "policies/other.rego",
            "package other\n\nimport rego.v1\n\nsha256(x) := x\n",
        ),
    ]);
    let (code, doc) = check(repo.path(), true);
    assert_eq!(code, check(repo.path(), false).0);
    assert_ne!(code, 0);
    let errors = load_errors(&doc);
    assert!(errors.contains("crypto.sha256"), "{errors}");
    assert!(errors.contains("policies/a.rego"), "{errors}");
}
