//! The policy stage end to end, through the real binary: conftest's conventions on plain
//! manifests (`testdata/policy-conftest`), policies that must fail closed
//! (`testdata/policy-broken`), and a small repository with per-cluster parameters, waivers
//! and Gatekeeper constraints (`testdata/policy-gate`); plus our own packs and example
//! clusters.

use crate::support;

use std::collections::BTreeMap;
use std::fs;

use serde_json::Value;
use support::{CachedRepo, assert_valid_junit, copy_tree, fixture, manifest_dir, policyrun};

/// `(cluster, subject)` -> outcome, for the policy stage of a JSON report. Subjects of the
/// policy stage end in the rule, so each key is one object and rule.
fn policy_outcomes(stdout: &str) -> BTreeMap<(String, String), Value> {
    let doc: Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let mut map = BTreeMap::new();
    for o in doc["outcomes"].as_array().unwrap() {
        if o["stage"] != "policy" {
            continue;
        }
        let cluster = o["cluster"].as_str().unwrap_or("").to_owned();
        let subject = o["subject"].as_str().unwrap().to_owned();
        assert!(
            map.insert((cluster, subject.clone()), o.clone()).is_none(),
            "two outcomes for {subject}"
        );
    }
    map
}

/// The outcome whose subject starts with `object` and ends with ` check`.
fn find<'a>(
    outcomes: &'a BTreeMap<(String, String), Value>,
    cluster: &str,
    object: &str,
    check: &str,
) -> &'a Value {
    outcomes
        .iter()
        .find(|((c, s), o)| c == cluster && s.starts_with(object) && o["check"] == check)
        .map(|(_, o)| o)
        .unwrap_or_else(|| {
            panic!(
                "no {check} outcome for {object} in `{cluster}`; have {:#?}",
                outcomes.keys().collect::<Vec<_>>()
            )
        })
}

fn status(outcome: &Value) -> &str {
    outcome["status"].as_str().unwrap()
}

fn message(outcome: &Value) -> &str {
    outcome["message"].as_str().unwrap_or("")
}

// ---- conftest conventions on plain manifests ------------------------------------------

fn conftest(args: &[&str]) -> (i32, BTreeMap<(String, String), Value>) {
    let dir = fixture("policy-conftest");
    // The registries the data-driven rule reads come with `--data`, as conftest's do.
    let mut all = vec!["test", "--output", "json", "--data", "data"];
    all.extend_from_slice(args);
    all.push("manifests");
    let run = policyrun(dir.path(), &all);
    (run.code, policy_outcomes(&run.stdout))
}

#[test]
fn conftest_rules_suffixes_violations_and_data_files() {
    let (code, outcomes) = conftest(&[]);
    assert_eq!(code, 1, "a deny fails the run");
    let bad = "Deployment apps/bad";
    // Rego v1 module: plain deny and warn.
    assert_eq!(status(find(&outcomes, "", bad, "main.deny")), "failed");
    assert_eq!(
        message(find(&outcomes, "", bad, "main.deny")),
        "Deployment bad must set runAsNonRoot"
    );
    assert_eq!(status(find(&outcomes, "", bad, "main.warn")), "warning");
    // Rego v0 module: _suffix rules, a violation with an object message, a data file.
    assert_eq!(
        status(find(&outcomes, "", bad, "main.deny_latest")),
        "failed"
    );
    assert_eq!(
        message(find(&outcomes, "", bad, "main.deny_registry")),
        "container web pulls from an unknown registry"
    );
    assert_eq!(
        message(find(&outcomes, "", bad, "main.violation_labels")),
        "Deployment has no app label"
    );
    // The good Deployment passes every rule, including the data-driven one.
    for rule in [
        "main.deny",
        "main.warn",
        "main.deny_latest",
        "main.deny_registry",
        "main.violation_labels",
    ] {
        assert_eq!(
            status(find(&outcomes, "", "Deployment apps/good", rule)),
            "passed"
        );
    }
    // Another package's rules do not run by default.
    assert!(
        !outcomes
            .values()
            .any(|o| o["check"] == "other.deny_services")
    );
}

#[test]
fn conftest_exception_rules_skip_the_named_rule() {
    let (_, outcomes) = conftest(&[]);
    let legacy = find(&outcomes, "", "Deployment apps/legacy", "main.deny_latest");
    assert_eq!(status(legacy), "skipped");
    assert!(message(legacy).contains("exception"), "{legacy}");
    // Only the excepted rule: the others still judge the object.
    assert_eq!(
        status(find(&outcomes, "", "Deployment apps/legacy", "main.deny")),
        "passed"
    );
}

#[test]
fn namespaces_select_packages() {
    let (_, only_other) = conftest(&["--namespace", "other"]);
    assert_eq!(
        status(find(
            &only_other,
            "",
            "Service apps/good",
            "other.deny_services"
        )),
        "failed"
    );
    assert!(!only_other.values().any(|o| o["check"] == "main.deny"));

    let (_, all) = conftest(&["--all-namespaces"]);
    assert!(all.values().any(|o| o["check"] == "main.deny"));
    assert!(all.values().any(|o| o["check"] == "other.deny_services"));
}

#[test]
fn vm_and_interpreter_agree_on_conftest_policies() {
    let (_, interpreter) = conftest(&["--policy-engine", "interpreter"]);
    let (_, vm) = conftest(&["--policy-engine", "vm"]);
    assert_eq!(interpreter, vm);
}

#[test]
fn junit_has_a_stable_testcase_per_problem_and_per_rule_that_passes() {
    let dir = fixture("policy-conftest");
    let junit = dir.path().join("policy.xml");
    let junit_arg = junit.to_str().unwrap();
    let run = policyrun(dir.path(), &["test", "--junit", junit_arg, "manifests"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let first = fs::read_to_string(&junit).unwrap();
    assert_valid_junit(&first);
    let doc = roxmltree::Document::parse(&first).unwrap();
    let names: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|n| n.attribute("name").unwrap())
        .collect();
    // 4 objects (3 Deployments, 1 Service) x 5 rules of package main: the 8 results that
    // are not passes each a testcase, the passes one testcase per rule; and the load
    // warning that `not allowed(container.image)` means something else in OPA for a
    // container without `image`.
    assert_eq!(names.len(), 8 + 5 + 1, "{names:?}");
    assert!(names.contains(&"passed: main.deny_registry"), "{names:?}");
    assert!(names.contains(&"policy/images.rego:13:26"), "{names:?}");
    assert!(names.contains(&"Deployment apps/bad (manifests/bad.yaml:1) main.deny_latest"));
    assert!(
        names.iter().all(|n| !n.contains("latest tag")),
        "no message text in names"
    );
    let skipped = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter(|n| n.children().any(|c| c.has_tag_name("skipped")))
        .count();
    assert_eq!(skipped, 1, "the excepted rule");

    policyrun(dir.path(), &["test", "--junit", junit_arg, "manifests"]);
    let again = fs::read_to_string(&junit).unwrap();
    let names_again: Vec<String> = roxmltree::Document::parse(&again)
        .unwrap()
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|n| n.attribute("name").unwrap().to_owned())
        .collect();
    assert_eq!(names, names_again);
}

#[test]
fn test_of_a_file_without_objects_notes_it() {
    let dir = fixture("policy-conftest");
    fs::write(dir.path().join("empty.yaml"), "# nothing\n").unwrap();
    let run = policyrun(dir.path(), &["test", "empty.yaml"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("no Kubernetes objects"),
        "{}",
        run.stdout
    );
    let run = policyrun(dir.path(), &["test", "no-such.yaml"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
}

// ---- failing closed ------------------------------------------------------------------

fn broken(case: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(
        &manifest_dir().join("testdata/policy-broken").join(case),
        dir.path(),
    );
    fs::copy(
        manifest_dir().join("testdata/policy-broken/object.yaml"),
        dir.path().join("object.yaml"),
    )
    .unwrap();
    let run = policyrun(dir.path(), &["test", "--output", "json", "object.yaml"]);
    assert_eq!(run.code, 1, "{case} must fail the run: {}", run.stdout);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let errors: Vec<&Value> = doc["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["status"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{case}: {:#?}", doc["outcomes"]);
    errors[0].clone()
}

#[test]
fn a_module_that_does_not_parse_fails_with_its_place() {
    let error = broken("parse");
    assert_eq!(error["check"], "load");
    assert_eq!(error["location"]["file"], "policy/main.rego");
    assert_eq!(error["location"]["line"], 7);
}

#[test]
fn a_missing_builtin_fails_even_where_it_is_never_reached() {
    let error = broken("builtin");
    assert!(message(&error).contains("crypto.sha256"), "{error}");
    assert_eq!(error["location"]["file"], "policy/main.rego");
    assert_eq!(error["location"]["line"], 8);
    let error = broken("metadata");
    assert!(message(&error).contains("rego.metadata.rule"), "{error}");
}

#[test]
fn an_evaluation_error_fails_with_module_line_and_rule() {
    let error = broken("runtime");
    assert_eq!(error["check"], "main.deny_level");
    let text = message(&error);
    assert!(text.contains("policy/main.rego:7"), "{text}");
    assert!(text.contains("rule deny_level"), "{text}");
    assert!(text.contains("could not parse string as number"), "{text}");
}

#[test]
fn a_rule_is_skipped_only_for_kinds_its_leading_kind_test_rules_out() {
    // testdata/policy-kinds: a rule that tests the kind first, one that tests it second and
    // one defined in two modules, on a ConfigMap and a Deployment whose `level` label is no
    // number.
    let dir = fixture("policy-kinds");
    let run = policyrun(dir.path(), &["test", "--output", "json", "manifests"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let outcomes = policy_outcomes(&run.stdout);
    let config_map = "ConfigMap apps/settings";
    let deployment = "Deployment apps/web";
    // Not a kind the rule tests for: undefined, as evaluating it would say.
    assert_eq!(
        status(find(&outcomes, "", config_map, "main.deny_level")),
        "passed"
    );
    // A kind it tests for: evaluated, and its error fails the run.
    let level = find(&outcomes, "", deployment, "main.deny_level");
    assert_eq!(status(level), "error", "{level}");
    assert!(message(level).contains("guarded.rego:9"), "{level}");
    // A kind test after another statement rules nothing out: that statement runs for every
    // kind, so its error is reported for the ConfigMap too.
    for object in [config_map, deployment] {
        assert_eq!(
            status(find(&outcomes, "", object, "main.deny_late")),
            "error"
        );
    }
    // One definition limited to pods, another for every kind: evaluated for the ConfigMap.
    let split = find(&outcomes, "", config_map, "main.deny_split");
    assert_eq!(status(split), "failed", "{split}");
    assert_eq!(message(split), "nothing may say split");
}

// ---- a repository: per-cluster parameters, context, waivers, Gatekeeper ------------------

/// The Gatekeeper constraints (`K8s…` checks) reported for the objects whose subject starts
/// with `object`, in `cluster` (in any when `None`).
fn constraint_checks(
    outcomes: &BTreeMap<(String, String), Value>,
    cluster: Option<&str>,
    object: &str,
) -> Vec<String> {
    outcomes
        .iter()
        .filter(|((c, s), _)| cluster.is_none_or(|wanted| c == wanted) && s.starts_with(object))
        .map(|(_, o)| o["check"].as_str().unwrap().to_owned())
        .filter(|c| c.starts_with("K8s"))
        .collect()
}

fn gate() -> (i32, BTreeMap<(String, String), Value>) {
    let dir = fixture("policy-gate");
    let run = policyrun(dir.path(), &["check", "--output", "json"]);
    (run.code, policy_outcomes(&run.stdout))
}

#[test]
fn cluster_parameters_decide_per_cluster() {
    let (code, outcomes) = gate();
    assert_eq!(code, 1);
    // max_replicas is 2 in dev and 5 in web.
    assert_eq!(
        status(find(
            &outcomes,
            "web",
            "Deployment app/web",
            "gate.deny_replicas"
        )),
        "passed"
    );
    let dev = find(&outcomes, "dev", "Deployment app/web", "gate.deny_replicas");
    assert!(
        message(dev).contains("4 replicas, at most 2 in cluster dev"),
        "{dev}"
    );
}

#[test]
fn policies_see_the_objects_context() {
    let (_, outcomes) = gate();
    let context = find(
        &outcomes,
        "web",
        "ConfigMap app/settings",
        "gate.warn_context",
    );
    assert_eq!(
        message(context),
        "entry=clusters/web/app.jsonnet generated=generated/web/app/settings.json namespaced=true"
    );
    // Namespaces created in the cluster's tree: `app` is, `missing` is not.
    assert_eq!(
        status(find(
            &outcomes,
            "dev",
            "ConfigMap app/settings",
            "gate.deny_unknown_namespace"
        )),
        "passed"
    );
    assert_eq!(
        status(find(
            &outcomes,
            "dev",
            "ConfigMap missing/stray",
            "gate.deny_unknown_namespace"
        )),
        "failed"
    );
}

#[test]
fn waivers_skip_expire_and_warn() {
    let (_, outcomes) = gate();
    // A valid file waiver (web only) skips with its reason.
    let waived = find(
        &outcomes,
        "web",
        "ConfigMap missing/stray",
        "gate.deny_unknown_namespace",
    );
    assert_eq!(status(waived), "skipped");
    assert!(message(waived).contains("team-web"), "{waived}");
    assert!(message(waived).contains("created by another repository"));
    // An expired waiver does not waive, and says so.
    let expired = find(&outcomes, "dev", "Deployment app/web", "gate.deny_replicas");
    assert_eq!(status(expired), "failed");
    assert!(
        message(expired).contains("waiver expired on 2000-01-01"),
        "{expired}"
    );
    let waiver_outcomes: Vec<&Value> = outcomes
        .values()
        .filter(|o| o["check"] == "waiver")
        .collect();
    assert!(
        waiver_outcomes
            .iter()
            .any(|o| status(o) == "failed" && message(o).contains("expired on 2000-01-01")),
        "{waiver_outcomes:#?}"
    );
    // A waiver that matches no failing result is a warning.
    assert!(
        waiver_outcomes
            .iter()
            .any(|o| status(o) == "warning" && message(o).contains("matches no failing result")),
        "{waiver_outcomes:#?}"
    );
    // An annotation waiver on the object itself.
    let annotated = find(
        &outcomes,
        "dev",
        "Deployment app/worker",
        "K8sRequiredLabels/deployments-need-owner",
    );
    assert_eq!(status(annotated), "skipped");
    assert!(message(annotated).contains("next release"), "{annotated}");
}

#[test]
fn a_malformed_waiver_fails_the_run() {
    let dir = fixture("policy-gate");
    fs::write(
        dir.path().join("policies/waivers.yaml"),
        "- rule: gate.deny_replicas\n  reason: no owner given\n  expires: 2999-01-01\n",
    )
    .unwrap();
    let run = policyrun(dir.path(), &["check", "--output", "json"]);
    assert_eq!(run.code, 1);
    let outcomes = policy_outcomes(&run.stdout);
    let error = outcomes
        .values()
        .find(|o| o["check"] == "waiver" && status(o) == "error")
        .unwrap_or_else(|| panic!("{outcomes:#?}"));
    assert!(message(error).contains("owner"), "{error}");
    assert_eq!(error["location"]["file"], "policies/waivers.yaml");
}

#[test]
fn gatekeeper_constraints_match_like_the_admission_controller() {
    let (_, outcomes) = gate();
    let checks = |object: &str| constraint_checks(&outcomes, Some("dev"), object);
    // kinds + namespaces; labelSelector matching nothing; excludedNamespaces; scope.
    assert_eq!(
        checks("Deployment app/web "),
        [
            "K8sNamespaceExists/namespace-must-exist",
            "K8sRequiredLabels/deployments-need-owner",
            "K8sRequiredLabels/team-namespaces-need-app",
        ]
    );
    assert_eq!(
        checks("ConfigMap app/settings "),
        ["K8sNamespaceExists/namespace-must-exist"]
    );
    assert_eq!(
        checks("ConfigMap missing/stray "),
        [
            "K8sNamespaceExists/namespace-must-exist",
            "K8sRequiredLabels/configmaps-outside-app",
        ]
    );
    assert!(
        checks("Namespace app ").is_empty(),
        "cluster-scoped: no match"
    );
    // Violations carry the constraint's name; enforcementAction decides the status.
    let stray = find(
        &outcomes,
        "dev",
        "ConfigMap missing/stray",
        "K8sNamespaceExists/namespace-must-exist",
    );
    assert_eq!(status(stray), "failed");
    assert!(message(stray).contains("namespace-must-exist"), "{stray}");
    assert!(
        message(stray).contains("not in the inventory"),
        "data.inventory is the cluster's"
    );
    assert_eq!(
        status(find(
            &outcomes,
            "dev",
            "ConfigMap missing/stray",
            "K8sRequiredLabels/configmaps-outside-app"
        )),
        "warning"
    );
    assert_eq!(
        status(find(
            &outcomes,
            "dev",
            "Deployment app/web",
            "K8sRequiredLabels/deployments-need-owner"
        )),
        "passed"
    );
}

/// An object's rules that pass with nothing to say travel as one outcome (issue 29); the
/// reports that list every check make them one each again. Every report must count the
/// same checks as the JSON report lists, the passes named `<object> <rule>` as before.
#[test]
fn every_report_counts_the_passes_the_json_report_lists() {
    let dir = fixture("policy-gate");
    let run = policyrun(dir.path(), &["check", "--output", "json"]);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let listed = doc["outcomes"].as_array().unwrap();
    let passed = listed.iter().filter(|o| o["status"] == "passed").count();
    assert_eq!(doc["summary"]["passed"], passed, "{doc}");
    let policy_passes: Vec<&Value> = listed
        .iter()
        .filter(|o| o["stage"] == "policy" && o["status"] == "passed")
        .collect();
    assert!(policy_passes.len() > 10, "{doc}");
    for pass in &policy_passes {
        let subject = pass["subject"].as_str().unwrap();
        let check = pass["check"].as_str().unwrap();
        assert!(
            !check.is_empty() && subject.ends_with(&format!(" {check}")),
            "{pass}"
        );
        assert!(
            pass["object"].is_object() && pass["location"].is_object(),
            "{pass}"
        );
    }
    let counts = format!("{} checks, {passed} passed", listed.len());
    let junit = dir.path().join("junit.xml");
    let human = policyrun(dir.path(), &["check", "--junit", junit.to_str().unwrap()]);
    assert_eq!(human.code, run.code);
    assert!(human.stdout.contains(&counts), "{counts}\n{}", human.stdout);
    for output in ["table", "tap", "json-problems"] {
        let other = policyrun(dir.path(), &["check", "--output", output]);
        assert_eq!(other.code, run.code, "{output}");
        if output == "json-problems" {
            let problems: Value = serde_json::from_str(&other.stdout).unwrap();
            assert_eq!(problems["summary"], doc["summary"]);
        } else if output == "tap" {
            assert!(
                other
                    .stdout
                    .starts_with(&format!("TAP version 13\n1..{}\n", listed.len())),
                "{}",
                other.stdout
            );
        } else {
            assert!(other.stdout.contains(&counts), "{output}: {}", other.stdout);
        }
    }
    let verbose = policyrun(dir.path(), &["check", "-v"]);
    for pass in &policy_passes {
        let subject = pass["subject"].as_str().unwrap();
        assert!(verbose.stdout.contains(subject), "-v lists {subject}");
    }
    // JUnit: the suites' outcome counts add up to the same total, and each rule's passes
    // are one testcase counting them.
    let xml = fs::read_to_string(&junit).unwrap();
    assert_valid_junit(&xml);
    let parsed = roxmltree::Document::parse(&xml).unwrap();
    let property = |name: &str| -> usize {
        parsed
            .descendants()
            .filter(|n| n.attribute("name") == Some(name))
            .map(|n| n.attribute("value").unwrap().parse::<usize>().unwrap())
            .sum()
    };
    assert_eq!(property("policyrun.outcomes"), listed.len());
    assert_eq!(property("policyrun.passed"), passed);
    let mut per_rule: BTreeMap<(String, String), usize> = BTreeMap::new();
    for pass in &policy_passes {
        *per_rule
            .entry((
                pass["cluster"].as_str().unwrap().to_owned(),
                format!("passed: {}", pass["check"].as_str().unwrap()),
            ))
            .or_default() += 1;
    }
    for ((cluster, name), count) in per_rule {
        let case = parsed
            .descendants()
            .find(|n| {
                n.attribute("name") == Some(name.as_str())
                    && n.attribute("classname") == Some(&format!("policyrun.{cluster}.policy"))
            })
            .unwrap_or_else(|| panic!("no testcase {name} in {cluster}: {xml}"));
        assert_eq!(
            case.attribute("assertions"),
            Some(count.to_string().as_str())
        );
    }
}

#[test]
fn a_constraint_without_its_template_fails_the_run() {
    let dir = fixture("policy-gate");
    fs::write(
        dir.path().join("gatekeeper/orphan.yaml"),
        "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sUnknown\nmetadata:\n  name: orphan\n",
    )
    .unwrap();
    let run = policyrun(dir.path(), &["check"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("no ConstraintTemplate defines kind K8sUnknown"),
        "{}",
        run.stdout
    );
}

#[test]
fn verify_runs_a_repositorys_policy_tests() {
    let dir = fixture("policy-gate");
    let run = policyrun(dir.path(), &["verify", "--output", "json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["summary"]["passed"], 3, "{doc}");

    // A failing test fails the run and names itself.
    fs::write(
        dir.path().join("policies/broken_test.rego"),
        "package broken_test\nimport rego.v1\ntest_wrong if {\n  1 == 2\n}\n",
    )
    .unwrap();
    let run = policyrun(dir.path(), &["verify"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("broken_test.test_wrong"),
        "{}",
        run.stdout
    );
}

/// `verify` runs as `opa test` does (issue 25): every package's tests, not only `main`'s;
/// each definition of a test on its own, named as OPA names them (`test_x#01`), so a failing
/// duplicate is never hidden by a passing one; test rules in any module.
#[test]
fn verify_runs_every_package_and_every_definition_as_opa_test_does() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    support::write_file(
        root,
        "policy/main.rego",
        "package main\ndeny[msg] { input.kind == \"Pod\"; msg := \"no pods\" }\n",
    );
    support::write_file(
        root,
        "policy/main_test.rego",
        "package main\ntest_pod_denied { count(deny) == 1 with input as {\"kind\": \"Pod\"} }\ntest_pod_denied { count(deny) == 1 }\n",
    );
    support::write_file(
        root,
        "policy/lib/k8s.rego",
        "package lib.k8s\nname(o) := o.metadata.name\ntest_name_inline { name({\"metadata\": {\"name\": \"x\"}}) == \"x\" }\n",
    );
    support::write_file(
        root,
        "policy/lib/k8s_test.rego",
        "package lib.k8s\ntest_name { name({\"metadata\": {\"name\": \"x\"}}) == \"x\" }\n",
    );
    let run = policyrun(root, &["verify", "--output", "json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let results: BTreeMap<String, String> = support::outcome_list(&run)
        .into_iter()
        .map(|o| {
            (
                o["subject"].as_str().unwrap().to_owned(),
                o["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: BTreeMap<String, String> = [
        ("lib.k8s.test_name", "passed"),
        ("lib.k8s.test_name_inline", "passed"),
        ("main.test_pod_denied", "passed"),
        ("main.test_pod_denied#01", "failed"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    assert_eq!(results, expected);
}

/// Regression: a repeated test in a module that OPA's reading rewrites before regorus parses
/// it (a line that starts with `(`, chained bodies) is renamed where its head is in the text
/// regorus reads, not at a shifted offset of the original (which made `verify` refuse the
/// module); and each `todo_test_*` definition is reported skipped, under its own name, as
/// `opa test` reports it (found by the unit tests of tests/all/opa_fuzz.rs).
#[test]
fn verify_separates_tests_in_a_module_that_is_read_as_opa_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    support::write_file(
        root,
        "policy/main.rego",
        "package main\ndeny[msg] {\n\tinput.spread\n\t(input.max - input.min) < input.spread\n\tmsg := \"wide\"\n} {\n\tinput.b\n\tmsg := \"b\"\n}\n\
         test_deny { count(deny) == 1 with input as {\"spread\": 3, \"max\": 1, \"min\": 0} }\n\
         test_deny { count(deny) == 2 with input as {\"b\": true} }\n\
         todo_test_deny { false }\n\
         todo_test_deny { false }\n",
    );
    let run = policyrun(root, &["verify", "--output", "json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let mut results: Vec<(String, String)> = support::outcome_list(&run)
        .into_iter()
        .map(|o| {
            (
                o["subject"].as_str().unwrap().to_owned(),
                o["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    results.sort();
    let expected: Vec<(String, String)> = [
        ("main.test_deny", "passed"),
        ("main.test_deny#01", "failed"),
        ("main.todo_test_deny", "skipped"),
        ("main.todo_test_deny", "skipped"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b.to_owned()))
    .collect();
    assert_eq!(results, expected, "{}", run.stdout);
}

/// Regression: a deprecated built-in in a v0 module that only parses as OPA reads it
/// (chained bodies, a line that starts with `(`) is rewritten too: it was looked for in the
/// text before OPA's reading, which regorus cannot parse, so the module was refused (found by
/// tests/all/opa_fuzz.rs).
#[test]
fn deprecated_built_ins_are_found_in_a_module_read_as_opa_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    support::write_file(
        root,
        "policy/main.rego",
        "package main\n\ndeny[msg] {\n\tinput.spread\n\t(input.max - input.min) < input.spread\n\tmsg := \"wide\"\n} {\n\tnot re_match(\"^n\", input.name)\n\tmsg := \"name\"\n}\n",
    );
    support::write_file(
        root,
        "inputs.yaml",
        "---\n{\"spread\": 3, \"max\": 1, \"min\": 0, \"name\": \"x\"}\n---\n{\"name\": \"nginx\"}\n",
    );
    let run = policyrun(
        root,
        &["test", "-p", "policy", "--output", "json", "inputs.yaml"],
    );
    let outcomes = support::outcome_list(&run);
    let messages = |subject: &str| -> Vec<String> {
        let outcome = outcomes
            .iter()
            .find(|o| o["subject"] == subject)
            .unwrap_or_else(|| panic!("no {subject}: {}{}", run.stdout, run.stderr));
        let mut found: Vec<String> = outcome["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| m.as_str().unwrap().to_owned())
            .collect();
        found.sort();
        found
    };
    assert_eq!(messages("inputs.yaml[0] main.deny"), ["name", "wide"]);
    assert!(messages("inputs.yaml[1] main.deny").is_empty());
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
}

/// OPA's deprecated built-ins (`re_match`, `set_diff`, `all`, `any`, `cast_*`,
/// `net.cidr_overlap`) in a Rego v0 module mean what OPA defines them as; in a v1 module OPA
/// refuses them, and so does the load, naming the current built-in (issue 25, item 5).
#[test]
fn deprecated_built_ins_in_v0_modules_evaluate_as_opa_defines_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    support::write_file(
        root,
        "policy/main.rego",
        r#"package main

deny[msg] {
  input.kind == "Deployment"
  image := input.spec.template.spec.containers[_].image
  not re_match("^registry\\.example\\.com/", image)
  msg := sprintf("image %s comes from an unknown registry", [image])
}

warn[msg] {
  names := cast_set([c.name | c := input.spec.template.spec.containers[_]])
  count(set_diff(names, {"web"})) > 0
  msg := "a container besides web"
}
"#,
    );
    support::write_file(
        root,
        "d.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - {name: web, image: registry.example.com/web}\n      - {name: debug, image: docker.io/nginx}\n",
    );
    let run = policyrun(root, &["test", "--output", "json", "d.yaml"]);
    let outcomes = support::outcome_list(&run);
    let by_check = |check: &str| {
        outcomes
            .iter()
            .find(|o| o["check"] == check)
            .unwrap_or_else(|| panic!("no {check}: {outcomes:#?}"))
            .clone()
    };
    assert_eq!(by_check("main.deny")["status"], "failed", "{outcomes:#?}");
    assert_eq!(
        by_check("main.deny")["message"],
        "image docker.io/nginx comes from an unknown registry"
    );
    assert_eq!(by_check("main.warn")["status"], "warning");
    // Rego v1: refused where it stands, with the built-in to use instead.
    support::write_file(
        root,
        "policy/v1.rego",
        "package main\nimport rego.v1\ndeny_kind contains \"x\" if re_match(\"a\", input.kind)\n",
    );
    let run = policyrun(root, &["test", "--output", "json", "d.yaml"]);
    assert_eq!(run.code, 1);
    let load = support::outcome_list(&run)
        .into_iter()
        .find(|o| o["check"] == "load")
        .unwrap();
    assert_eq!(load["location"]["line"], 3, "{load}");
    assert!(
        load["message"].as_str().unwrap().contains(
            "deprecated built-in, which OPA accepts only in Rego v0 modules (use `regex.match`)"
        ),
        "{load}"
    );
}

// ---- Gatekeeper's `default` namespace; several messages per object and rule -------------

fn default_ns(extra: &[&str]) -> (i32, Value) {
    let dir = fixture("policy-default-ns");
    let mut args = vec!["check", "--output", "json"];
    args.extend_from_slice(extra);
    let run = policyrun(dir.path(), &args);
    let doc = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", run.stdout, run.stderr));
    (run.code, doc)
}

#[test]
fn gatekeeper_matches_an_object_without_namespace_as_one_of_default() {
    let (code, doc) = default_ns(&[]);
    assert_eq!(code, 1, "{doc}");
    let outcomes = policy_outcomes(&doc.to_string());
    let constraints = |object: &str| constraint_checks(&outcomes, None, object);
    // namespaces: [default] and a namespaceSelector on the API server's name label select
    // it; excludedNamespaces: [default] does not.
    assert_eq!(
        constraints("ConfigMap loose "),
        [
            "K8sEachLabel/only-default",
            "K8sInInventory/configmaps-in-inventory",
            "K8sReviewNamespace/default-by-name-label",
        ]
    );
    assert_eq!(
        constraints("ConfigMap other/placed "),
        [
            "K8sEachLabel/not-default",
            "K8sEachLabel/suffix-glob",
            "K8sInInventory/configmaps-in-inventory",
            "K8sReviewNamespace/platform-namespaces",
        ]
    );
    // Cluster-scoped: `namespaces` and `namespaceSelector` do not disqualify it.
    assert_eq!(
        constraints("ClusterRole reader "),
        ["K8sEachLabel/cluster-roles-too"]
    );
    assert_eq!(constraints("Namespace other "), Vec::<String>::new());
    // The template reviews the request the API server makes of it.
    let review = find(
        &outcomes,
        "dev",
        "ConfigMap loose",
        "K8sReviewNamespace/default-by-name-label",
    );
    assert_eq!(status(review), "warning");
    assert_eq!(
        review["messages"],
        serde_json::json!(["review.namespace=default object.metadata.namespace=default"])
    );
    // The inventory lists it under `default`.
    assert_eq!(
        status(find(
            &outcomes,
            "dev",
            "ConfigMap loose",
            "K8sInInventory/configmaps-in-inventory"
        )),
        "passed"
    );
    // The committed JSON is untouched: the namespace is filled in for Gatekeeper only.
    let schema_and_freshness_pass = doc["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["stage"] != "policy")
        .all(|o| o["status"] == "passed");
    assert!(schema_and_freshness_pass, "{doc}");
}

#[test]
fn each_message_is_listed_and_counted() {
    let out = tempfile::tempdir().unwrap();
    let junit = out.path().join("junit.xml");
    let (_, doc) = default_ns(&["--junit", junit.to_str().unwrap()]);
    let outcomes = policy_outcomes(&doc.to_string());
    let rule = find(&outcomes, "dev", "ConfigMap loose", "main.deny");
    assert_eq!(status(rule), "failed");
    assert_eq!(
        rule["messages"],
        serde_json::json!([
            "ConfigMap loose has no label owner",
            "ConfigMap loose has no label team"
        ])
    );
    assert_eq!(
        message(rule),
        "ConfigMap loose has no label owner; ConfigMap loose has no label team"
    );
    let constraint = find(
        &outcomes,
        "dev",
        "ConfigMap loose",
        "K8sEachLabel/only-default",
    );
    assert_eq!(
        constraint["messages"],
        serde_json::json!(["missing label owner", "missing label team"])
    );
    assert_eq!(
        message(constraint),
        "K8sEachLabel/only-default: missing label owner; missing label team"
    );
    // Every outcome has the list: empty when passed, one element for a single message.
    let passed = find(&outcomes, "dev", "ConfigMap other/placed", "main.deny");
    assert_eq!(passed["messages"], serde_json::json!([]));
    // Two failed outcomes, four violations.
    assert_eq!(doc["summary"]["failed"], 2, "{}", doc["summary"]);
    assert_eq!(doc["summary"]["violations"], 4, "{}", doc["summary"]);

    let xml = fs::read_to_string(&junit).unwrap();
    assert_valid_junit(&xml);
    assert!(
        xml.contains("[main.deny]\n- ConfigMap loose has no label owner\n- ConfigMap loose has no label team\n"),
        "{xml}"
    );
    assert!(
        xml.contains(
            "[K8sEachLabel/only-default] K8sEachLabel/only-default:\n- missing label owner\n- missing label team\n"
        ),
        "{xml}"
    );

    // Recalled from the verdict memory on a warm run: the same list.
    let cached = CachedRepo::new("policy-default-ns");
    let (_, cold) = cached.check(&[]);
    let (_, warm) = cached.check(&[]);
    assert_eq!(
        warm["expansion"]["policy_recalled"], 4,
        "{}",
        warm["expansion"]
    );
    for doc in [&cold, &warm] {
        let outcomes = policy_outcomes(&doc.to_string());
        assert_eq!(
            find(&outcomes, "dev", "ConfigMap loose", "main.deny")["messages"],
            rule["messages"]
        );
        assert_eq!(doc["summary"]["violations"], 4);
    }

    // The human report: a line each, and the count of violations.
    let dir = fixture("policy-default-ns");
    let run = policyrun(dir.path(), &["check"]);
    assert!(
        run.stdout.contains(
            "         - ConfigMap loose has no label owner\n         - ConfigMap loose has no label team\n"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("2 failed (4 violations) in "),
        "{}",
        run.stdout
    );
}

// ---- our own packs and example clusters --------------------------------------------------

#[test]
fn verify_passes_our_own_packs_with_junit() {
    let out = tempfile::tempdir().unwrap();
    let junit = out.path().join("verify.xml");
    let run = policyrun(
        &manifest_dir(),
        &[
            "verify",
            // The packs' home: this repository runs them built in (issue 27).
            "--policy",
            "policies",
            "--output",
            "json",
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let passed = doc["summary"]["passed"].as_u64().unwrap();
    assert!(passed >= 100, "{passed} tests");
    assert_valid_junit(&fs::read_to_string(&junit).unwrap());
}

#[test]
fn example_clusters_pass_the_bundled_packs_on_both_engines() {
    let run = |engine: &str| {
        let run = policyrun(
            &manifest_dir(),
            &["check", "--output", "json", "--policy-engine", engine],
        );
        assert_eq!(run.code, 0, "{engine}: {}{}", run.stdout, run.stderr);
        policy_outcomes(&run.stdout)
    };
    let interpreter = run("interpreter");
    assert_eq!(interpreter, run("vm"));
    // Per-cluster levels: the restricted-only rule runs everywhere but waives only where it
    // fails (int and web); fluentd's hostPath is waived in every cluster.
    assert_eq!(
        status(find(
            &interpreter,
            "dev",
            "DaemonSet logging/fluentd",
            "security.deny_run_as_root"
        )),
        "passed"
    );
    assert_eq!(
        status(find(
            &interpreter,
            "web",
            "DaemonSet logging/fluentd",
            "security.deny_run_as_root"
        )),
        "skipped"
    );
    for cluster in ["dev", "int", "web"] {
        assert_eq!(
            status(find(
                &interpreter,
                cluster,
                "DaemonSet logging/fluentd",
                "security.deny_host_path"
            )),
            "skipped"
        );
    }
}

#[test]
fn a_package_no_module_declares_fails_the_run() {
    // A gate told to run rules that do not exist would pass without judging anything.
    let run = policyrun(&manifest_dir(), &["check", "--namespace", "nonexistent"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("no module declares package `nonexistent`"),
        "{}",
        run.stdout
    );
}

#[test]
fn secret_values_never_reach_a_report_from_policies() {
    // A policy that prints the whole Secret: its values are hidden, committed or decoded.
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("policy")).unwrap();
    fs::write(
        dir.path().join("policy/leak.rego"),
        "package main\nimport rego.v1\ndeny contains msg if {\n  input.kind == \"Secret\"\n  msg := sprintf(\"%v %s\", [input.data, base64.decode(input.data.password)])\n}\n",
    )
    .unwrap();
    // "aHVudGVyMg==" is base64 for "hunter2".
    fs::write(
        dir.path().join("secret.yaml"),
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: db\ndata:\n  password: aHVudGVyMg==\n",
    )
    .unwrap();
    let junit = dir.path().join("out.xml");
    let run = policyrun(
        dir.path(),
        &["test", "--junit", junit.to_str().unwrap(), "secret.yaml"],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let xml = fs::read_to_string(&junit).unwrap();
    for text in [&run.stdout, &xml] {
        assert!(
            text.contains("<hidden>") || text.contains("&lt;hidden&gt;"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("aHVudGVyMg=="), "{text}");
    }
}

// ---- built-in packs (issue 27) -----------------------------------------------------------

const PRIVILEGED: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: apps\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: registry.example.com/web:1.0\n        securityContext:\n          privileged: true\n";

/// A repository with `policy` as its `[policy]` table and the privileged Deployment.
fn packs_repository(policy: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    support::write_file(
        dir.path(),
        "policyrun.toml",
        &format!("[[cluster]]\nname = \"dev\"\n\n[policy]\n{policy}"),
    );
    support::write_file(dir.path(), "deploy.yaml", PRIVILEGED);
    dir
}

#[test]
fn a_selected_built_in_pack_judges_and_names_its_module() {
    let dir = packs_repository("packs = [\"security\"]\n");
    let run = policyrun(dir.path(), &["test", "--output", "json", "deploy.yaml"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = policy_outcomes(&run.stdout);
    let privileged = find(
        &outcomes,
        "",
        "Deployment apps/web",
        "security.deny_privileged",
    );
    assert_eq!(status(privileged), "failed");
    let detail = privileged["detail"].as_str().unwrap();
    assert!(
        detail.contains("rule deny_privileged at <built-in>/security/security.rego:"),
        "{detail}"
    );
    // Only the selected pack runs.
    assert!(
        outcomes
            .values()
            .all(|o| o["check"].as_str().unwrap().starts_with("security.")),
        "{outcomes:#?}"
    );
}

#[test]
fn an_unknown_pack_is_a_configuration_error_listing_the_packs() {
    let dir = packs_repository("packs = [\"security\", \"nope\"]\n");
    let run = policyrun(dir.path(), &["test", "deploy.yaml"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("policy.packs[1]: no built-in pack `nope`")
            && run.stderr.contains("cluster, namespace, security"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_repositorys_own_policies_add_to_the_packs_but_cannot_redefine_one() {
    let dir = packs_repository("packs = [\"security\"]\n");
    support::write_file(
        dir.path(),
        "policies/team.rego",
        "package team\nimport rego.v1\ndeny_unowned contains \"no owner label\" if not input.metadata.labels.owner\n",
    );
    let run = policyrun(dir.path(), &["test", "--output", "json", "deploy.yaml"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = policy_outcomes(&run.stdout);
    let web = "Deployment apps/web";
    assert_eq!(
        status(find(&outcomes, "", web, "team.deny_unowned")),
        "failed"
    );
    assert_eq!(
        status(find(&outcomes, "", web, "security.deny_privileged")),
        "failed"
    );

    // A module of the pack's own package would merge into it: refused, naming both.
    support::write_file(
        dir.path(),
        "policies/lax.rego",
        "package security\nimport rego.v1\nallowed := true\n",
    );
    let run = policyrun(dir.path(), &["test", "--output", "json", "deploy.yaml"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = policy_outcomes(&run.stdout);
    let clash = outcomes
        .values()
        .find(|o| o["check"] == "load")
        .unwrap_or_else(|| panic!("{outcomes:#?}"));
    assert_eq!(status(clash), "error");
    assert_eq!(clash["location"]["file"], "policies/lax.rego");
    assert!(
        message(clash).contains("package `security` is the built-in pack `security`")
            && message(clash).contains("remove \"security\" from [policy] packs"),
        "{clash:#?}"
    );
    assert!(
        outcomes.values().all(|o| o["check"] == "load"),
        "nothing is judged by a redefined pack: {outcomes:#?}"
    );
}

/// `policyrun packs` lists exactly the rules a repository selecting every pack runs, each
/// with a description.
#[test]
fn packs_lists_every_rule_the_packs_run() {
    let run = policyrun(&manifest_dir(), &["packs", "--output", "json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let mut listed = Vec::new();
    for pack in doc["packs"].as_array().unwrap() {
        for rule in pack["rules"].as_array().unwrap() {
            assert!(rule["description"].is_string(), "{rule}");
            listed.push(rule["check"].as_str().unwrap().to_owned());
        }
    }
    let settings: Vec<&str> = doc["packs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["settings"].as_array().unwrap())
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        settings,
        [
            "public_load_balancers",
            "external_namespaces",
            "pod_security",
            "pod_security_version"
        ]
    );

    let dir = packs_repository("packs = [\"namespace\", \"security\", \"cluster\"]\n");
    let run = policyrun(dir.path(), &["test", "--output", "json", "deploy.yaml"]);
    let mut run_checks: Vec<String> = policy_outcomes(&run.stdout)
        .values()
        .map(|o| o["check"].as_str().unwrap().to_owned())
        .collect();
    run_checks.sort();
    listed.sort();
    assert_eq!(listed, run_checks);

    let human = policyrun(&manifest_dir(), &["packs"]);
    assert_eq!(human.code, 0, "{}", human.stderr);
    for check in &listed {
        assert!(human.stdout.contains(check.as_str()), "{check}");
    }
    assert!(
        human.stdout.lines().all(|l| l.chars().count() <= 80),
        "{}",
        human.stdout
    );
}

/// A gate with no policy at all says so in its report (issue 27), instead of having no
/// policy stage to look at.
#[test]
fn a_gate_without_policies_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    support::write_file(
        root,
        "policyrun.toml",
        "jpath = []\n\n[[cluster]]\nname = \"dev\"\n\n[style]\nenabled = false\n",
    );
    support::write_file(
        root,
        "clusters/dev/app.jsonnet",
        "{ items_: { cm: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app', namespace: 'default' } } } }\n",
    );
    let run = policyrun(root, &["expand"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let run = policyrun(root, &["check", "--no-cache", "--output", "json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let outcomes = policy_outcomes(&run.stdout);
    let said: Vec<&Value> = outcomes.values().collect();
    assert_eq!(said.len(), 1, "{said:#?}");
    assert_eq!(status(said[0]), "warning");
    assert_eq!(
        message(said[0]),
        "no policies configured: select built-in packs with `[policy] packs = [...]` or add policies/"
    );
    let human = policyrun(root, &["check", "--no-cache"]);
    assert!(
        human.stdout.contains("no policies configured"),
        "{}",
        human.stdout
    );
}

/// A copy of policyrun's `policies/` (issue 27) brings its `waivers.yaml`: a list of waivers
/// is no policy data, so it is left out with a warning instead of failing the policies.
#[test]
fn a_copy_of_the_packs_with_its_waiver_file_loads() {
    let dir = packs_repository("namespaces = [\"namespace\", \"security\", \"cluster\"]\n");
    copy_tree(
        &manifest_dir().join("policies"),
        &dir.path().join("policies"),
    );
    let run = policyrun(dir.path(), &["test", "--output", "json", "deploy.yaml"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = policy_outcomes(&run.stdout);
    let note = outcomes
        .values()
        .find(|o| o["check"] == "load")
        .unwrap_or_else(|| panic!("{outcomes:#?}"));
    assert_eq!(status(note), "warning", "{note:#?}");
    assert_eq!(note["location"]["file"], "policies/waivers.yaml");
    assert_eq!(
        status(find(
            &outcomes,
            "",
            "Deployment apps/web",
            "security.deny_privileged"
        )),
        "failed"
    );
    let run = policyrun(
        dir.path(),
        &["test", "-p", "policies", "--all-namespaces", "deploy.yaml"],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("security.deny_privileged"),
        "{}",
        run.stdout
    );
}

/// A typo in a pack's setting (`pod_security = "baselin"`) is not silently applied as
/// restricted (issue 27): every pod-bearing object gets a finding that names the value and
/// the levels there are.
#[test]
fn a_pod_security_level_the_pack_does_not_know_is_a_finding_naming_the_levels() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    support::write_file(
        root,
        "policyrun.toml",
        "[policy]\npacks = [\"security\"]\n\n[[cluster]]\nname = \"dev\"\n[cluster.policy]\npod_security = \"baselin\"\n",
    );
    support::write_file(
        root,
        "deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n",
    );
    let run = policyrun(
        root,
        &[
            "test",
            "--cluster",
            "dev",
            "--output",
            "json",
            "deploy.yaml",
        ],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = support::outcome_list(&run);
    let typo = outcomes
        .iter()
        .find(|o| o["check"] == "security.deny_pod_security_level")
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert_eq!(typo["status"], "failed");
    assert_eq!(
        typo["message"],
        "cluster \"dev\" sets policy.pod_security baselin, which is not one of privileged, baseline or restricted; restricted applies"
    );
}

/// With one cluster selected, a file waiver for another cluster's object is not reported as
/// waiving nothing: that cluster's objects were not judged (this repository's waivers for
/// `int` and `web`, with `--cluster dev`).
#[test]
fn waivers_of_clusters_not_selected_are_not_called_unused() {
    let run = policyrun(&manifest_dir(), &["--cluster", "dev", "--output", "json"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let unused: Vec<Value> = support::outcome_list(&run)
        .into_iter()
        .filter(|o| {
            o["message"]
                .as_str()
                .is_some_and(|m| m.contains("matches no failing result"))
        })
        .collect();
    assert!(unused.is_empty(), "{unused:#?}");
}
