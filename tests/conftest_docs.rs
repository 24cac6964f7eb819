//! `policyrun test` on documents that are not Kubernetes objects (Helm values, CI
//! configurations, lists), as conftest judges them: `testdata/conftest-docs` holds policies
//! in conftest's conventions, a policy data file, a `--data` directory, documents of every
//! shape and one Deployment, which alone gets the Kubernetes context.

mod support;

use std::collections::BTreeMap;
use std::fs;

use serde_json::Value;
use support::{Run, assert_valid_junit, edit_file, fixture, outcome_list, policyrun, write_file};

/// Every policy outcome of a JSON report by subject (subjects end in the check).
fn by_subject(run: &Run) -> BTreeMap<String, Value> {
    let mut map = BTreeMap::new();
    for outcome in outcome_list(run) {
        if outcome["stage"] != "policy" {
            continue;
        }
        let subject = outcome["subject"].as_str().unwrap().to_owned();
        assert!(
            map.insert(subject.clone(), outcome).is_none(),
            "two outcomes for {subject}"
        );
    }
    map
}

fn get<'a>(outcomes: &'a BTreeMap<String, Value>, subject: &str) -> &'a Value {
    outcomes.get(subject).unwrap_or_else(|| {
        panic!(
            "no outcome {subject:?}; have {:#?}",
            outcomes.keys().collect::<Vec<_>>()
        )
    })
}

fn status<'a>(outcomes: &'a BTreeMap<String, Value>, subject: &str) -> &'a str {
    get(outcomes, subject)["status"].as_str().unwrap()
}

fn message<'a>(outcomes: &'a BTreeMap<String, Value>, subject: &str) -> &'a str {
    get(outcomes, subject)["message"].as_str().unwrap_or("")
}

fn test_json(dir: &std::path::Path, args: &[&str]) -> (Run, BTreeMap<String, Value>) {
    let mut all = vec!["test", "--output", "json"];
    all.extend_from_slice(args);
    let run = policyrun(dir, &all);
    let outcomes = by_subject(&run);
    (run, outcomes)
}

#[test]
fn documents_are_judged_with_conftest_rules_exceptions_and_data_files() {
    let dir = fixture("conftest-docs");
    let (run, outcomes) = test_json(dir.path(), &["--data", "data", "docs"]);
    assert_eq!(run.code, 1, "a deny fails the run: {}", run.stderr);

    // A deny fails, a warn warns (with the policy directory's data file), an `exception`
    // rule skips the rule it names, for the document it holds for.
    assert_eq!(
        status(&outcomes, "docs/values.yaml[0] main.deny_latest"),
        "failed"
    );
    assert_eq!(
        message(&outcomes, "docs/values.yaml[0] main.deny_latest"),
        "registry.example.com/web uses the latest tag"
    );
    assert_eq!(
        status(&outcomes, "docs/values.yaml[0] main.warn"),
        "warning"
    );
    assert_eq!(
        message(&outcomes, "docs/values.yaml[0] main.warn"),
        "1 replicas, fewer than 2"
    );
    assert_eq!(
        status(&outcomes, "docs/values.yaml[2] main.deny_latest"),
        "skipped"
    );
    assert!(message(&outcomes, "docs/values.yaml[2] main.deny_latest").contains("exception"));
    assert_eq!(
        status(&outcomes, "docs/values.yaml[1] main.deny_latest"),
        "passed"
    );
    // `--data` supplies the registries.
    assert_eq!(
        status(&outcomes, "docs/values.yaml[0] main.deny_registry"),
        "passed"
    );
    assert_eq!(
        message(&outcomes, "docs/values.yaml[1] main.deny_registry"),
        "evil.example.org/miner pulls from an unknown registry"
    );
    // A document that is a list is one input.
    assert_eq!(
        message(&outcomes, "docs/images.json[0] main.deny_listed"),
        "listed image registry.example.com/b uses the latest tag"
    );
    // Clean documents pass every rule of the package.
    for document in ["docs/ci.json[0]", "docs/chart.yaml[0]"] {
        for rule in [
            "deny",
            "deny_latest",
            "deny_registry",
            "deny_listed",
            "warn",
        ] {
            assert_eq!(
                status(&outcomes, &format!("{document} main.{rule}")),
                "passed"
            );
        }
    }

    // Identified by file and document index, placed at the document's first line, with no
    // Kubernetes identity.
    let second = get(&outcomes, "docs/values.yaml[1] main.deny_registry");
    assert_eq!(second["location"]["file"], "docs/values.yaml");
    assert_eq!(second["location"]["line"], 7);
    assert_eq!(second["entry"], "docs/values.yaml");
    assert!(second.get("object").is_none(), "{second}");
    assert_eq!(
        get(&outcomes, "docs/values.yaml[2] main.deny_latest")["location"]["line"],
        13,
        "past the document's comment"
    );

    // The Kubernetes context is the Deployment's alone.
    let deployment = "Deployment apps/web (docs/deployment.yaml:1)";
    assert_eq!(
        message(&outcomes, &format!("{deployment} main.deny")),
        "Deployment web must set runAsNonRoot"
    );
    assert_eq!(
        message(&outcomes, &format!("{deployment} main.warn_context")),
        "object context for docs/deployment.yaml"
    );
    assert_eq!(
        get(&outcomes, &format!("{deployment} main.deny"))["object"]["kind"],
        "Deployment"
    );
    for document in [
        "docs/values.yaml[0]",
        "docs/values.yaml[1]",
        "docs/values.yaml[2]",
        "docs/ci.json[0]",
        "docs/chart.yaml[0]",
        "docs/images.json[0]",
    ] {
        assert_eq!(
            status(&outcomes, &format!("{document} main.warn_context")),
            "passed",
            "{document} has no data.policyrun.object"
        );
    }
    // A module in a --data directory is not a policy.
    assert!(
        !run.stdout.contains("--data directory was loaded"),
        "{}",
        run.stdout
    );
    // 6 documents and 1 Deployment, 6 rules each.
    assert_eq!(outcomes.len(), 7 * 6, "{:#?}", outcomes.keys());
}

#[test]
fn data_files_are_merged_into_data_only_when_given() {
    let dir = fixture("conftest-docs");
    let (_, without) = test_json(dir.path(), &["docs"]);
    assert_eq!(
        message(&without, "docs/values.yaml[0] main.deny_registry"),
        "registry.example.com/web pulls from an unknown registry"
    );
    // A single file works as a directory does.
    let (_, with_file) = test_json(dir.path(), &["--data", "data/registries.yaml", "docs"]);
    assert_eq!(
        status(&with_file, "docs/values.yaml[0] main.deny_registry"),
        "passed"
    );
    let run = policyrun(dir.path(), &["test", "--data", "nowhere.yaml", "docs"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("--data: nowhere.yaml does not exist"),
        "{}",
        run.stderr
    );
    // A data file that is no mapping fails the run, as one among the policies does.
    write_file(dir.path(), "bad-data/list.yaml", "- a\n- b\n");
    let (run, outcomes) = test_json(dir.path(), &["--data", "bad-data", "docs"]);
    assert_eq!(run.code, 1);
    let load = get(&outcomes, "bad-data/list.yaml");
    assert_eq!(load["status"], "error");
    assert!(
        load["message"]
            .as_str()
            .unwrap()
            .contains("a data file must hold an object")
    );
}

#[test]
fn human_and_junit_reports_name_documents_by_file_and_index() {
    let dir = fixture("conftest-docs");
    let run = policyrun(dir.path(), &["test", "--data", "data", "docs"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("docs/values.yaml[1] main.deny_registry")
            && run.stdout.contains("at docs/values.yaml:7"),
        "{}",
        run.stdout
    );

    let junit = dir.path().join("report.xml");
    let run = policyrun(
        dir.path(),
        &[
            "test",
            "--data",
            "data",
            "--junit",
            junit.to_str().unwrap(),
            "docs",
        ],
    );
    assert_eq!(run.code, 1);
    let xml = fs::read_to_string(&junit).unwrap();
    assert_valid_junit(&xml);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let cases: Vec<roxmltree::Node> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 42);
    let case = |name: &str| {
        cases
            .iter()
            .find(|c| c.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no testcase {name}"))
    };
    assert!(
        case("docs/values.yaml[0] main.deny_latest")
            .children()
            .any(|c| c.has_tag_name("failure"))
    );
    assert!(
        case("docs/values.yaml[2] main.deny_latest")
            .children()
            .any(|c| c.has_tag_name("skipped"))
    );
    assert!(
        !case("docs/ci.json[0] main.deny")
            .children()
            .any(|c| c.has_tag_name("failure"))
    );
}

#[test]
fn combine_judges_every_document_as_one_input() {
    let dir = fixture("conftest-docs");
    let args = ["--combine", "--namespace", "combined", "docs"];
    let (run, outcomes) = test_json(dir.path(), &args);
    assert_eq!(run.code, 1, "{}", run.stderr);
    // One result set, for the combined input: per rule, not per file.
    assert_eq!(
        outcomes.keys().collect::<Vec<_>>(),
        [
            "combined input combined.deny",
            "combined input combined.deny_secret_values",
            "combined input combined.deny_values"
        ]
    );
    assert_eq!(
        message(&outcomes, "combined input combined.deny"),
        "docs/ci.json deploys chart 1.2.0, docs/chart.yaml declares 1.3.0"
    );
    // The three documents of values.yaml are one file's contents.
    assert_eq!(
        status(&outcomes, "combined input combined.deny_values"),
        "passed"
    );
    let combined = get(&outcomes, "combined input combined.deny");
    assert!(combined.get("object").is_none() && combined.get("location").is_none());

    // The policy needed both files: agreeing versions pass.
    edit_file(dir.path(), "docs/chart.yaml", "1.3.0", "1.2.0");
    let (run, outcomes) = test_json(dir.path(), &args);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(status(&outcomes, "combined input combined.deny"), "passed");
    // Without --combine, each document is its own input and the rule sees no pair.
    let (run, outcomes) = test_json(dir.path(), &["--namespace", "combined", "docs"]);
    assert_eq!(run.code, 0);
    assert_eq!(status(&outcomes, "docs/ci.json[0] combined.deny"), "passed");

    let junit = dir.path().join("combined.xml");
    edit_file(dir.path(), "docs/chart.yaml", "1.2.0", "1.3.0");
    let mut with_junit = vec!["test", "--junit", junit.to_str().unwrap()];
    with_junit.extend_from_slice(&args);
    assert_eq!(policyrun(dir.path(), &with_junit).code, 1);
    assert_valid_junit(&fs::read_to_string(&junit).unwrap());
}

#[test]
fn a_secret_in_the_combined_input_keeps_its_values_hidden() {
    let dir = fixture("conftest-docs");
    // "aHVudGVyMg==" is base64 for "hunter2".
    write_file(
        dir.path(),
        "secrets/db.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata: {password: aHVudGVyMg==}\n",
    );
    let (run, outcomes) = test_json(
        dir.path(),
        &["--combine", "--namespace", "combined", "secrets"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        message(&outcomes, "combined input combined.deny_secret_values"),
        "secrets/db.yaml holds {\"password\": \"PGhpZGRlbj4=\"}"
    );
    assert!(
        !run.stdout.contains("aHVudGVyMg==") && !run.stdout.contains("hunter2"),
        "{}",
        run.stdout
    );
}

#[test]
fn scalars_fail_and_empty_documents_are_no_documents() {
    let dir = fixture("conftest-docs");
    // A line without `key: value` reads as a string: it cannot pass rules unread.
    write_file(dir.path(), "odd/note.yaml", "replicaCount 3\n");
    write_file(
        dir.path(),
        "odd/empty.yaml",
        "# only comments\n---\n---\nnull\n",
    );
    let (run, outcomes) = test_json(dir.path(), &["odd"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(outcomes.len(), 1, "{:#?}", outcomes.keys());
    let note = get(&outcomes, "odd/note.yaml:1");
    assert_eq!(note["status"], "failed");
    assert_eq!(note["check"], "read");
    assert!(
        note["message"]
            .as_str()
            .unwrap()
            .starts_with("not a document policies can judge: a string"),
        "{note}"
    );
    // Nothing but empty documents: nothing was judged, which must not pass.
    let run = policyrun(dir.path(), &["test", "odd/empty.yaml"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("no documents in odd/empty.yaml"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_mapping_with_apiversion_and_kind_stays_a_kubernetes_object() {
    // A broken identity is not quietly judged as plain data.
    let dir = fixture("conftest-docs");
    write_file(
        dir.path(),
        "k8s/nameless.yaml",
        "apiVersion: v1\nkind: ConfigMap\n",
    );
    let (run, outcomes) = test_json(dir.path(), &["k8s"]);
    assert_eq!(run.code, 1);
    let read = get(&outcomes, "k8s/nameless.yaml:1");
    assert_eq!(
        read["message"],
        "not a Kubernetes object: ConfigMap: metadata.name is missing"
    );
}

#[test]
fn vm_and_interpreter_agree_on_documents() {
    let dir = fixture("conftest-docs");
    let run_with = |engine: &str| {
        let (_, outcomes) = test_json(
            dir.path(),
            &["--policy-engine", engine, "--data", "data", "docs"],
        );
        outcomes
            .into_iter()
            .map(|(subject, o)| (subject, (o["status"].clone(), o["message"].clone())))
            .collect::<BTreeMap<_, _>>()
    };
    let interpreter = run_with("interpreter");
    assert_eq!(interpreter.len(), 42);
    assert_eq!(interpreter, run_with("vm"));
}
