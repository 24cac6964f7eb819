//! `validate` and `test` as drop-ins for kubeconform and conftest steps: the real binary on
//! fixtures under `testdata/` written for what those pipelines feed them (a repository
//! whose jsonnet tree is not checked out, empty manifests, generated names, reports piped
//! into other tools).

use crate::support;

use std::fs;

use serde_json::Value;
use support::{edit_file, fixture, outcome_list, policyrun, write_file};

fn find<'a>(outcomes: &'a [Value], subject_start: &str, check: &str) -> &'a Value {
    outcomes
        .iter()
        .find(|o| o["subject"].as_str().unwrap().starts_with(subject_start) && o["check"] == check)
        .unwrap_or_else(|| panic!("no {check} outcome for {subject_start}: {outcomes:#?}"))
}

#[test]
fn validate_and_test_need_only_what_they_read() {
    let repo = fixture("manifest-repo");
    let root = repo.path();
    // The gate evaluates jsonnet: its library must be there.
    let run = policyrun(root, &["check"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("jpath[0]"), "{}", run.stderr);

    // validate reads the CRDs the file names, and nothing of the tree.
    let run = policyrun(root, &["validate", "--output", "json", "manifests"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let outcomes = outcome_list(&run);
    let widget = find(&outcomes, "Widget app/big", "schema");
    assert_eq!(widget["status"], "passed", "{widget}");

    // test reads the policies (policies/ by default) and judges with them.
    let run = policyrun(root, &["test", "--output", "json", "manifests"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = outcome_list(&run);
    let unlabelled = find(&outcomes, "ConfigMap app/unlabelled", "main.deny");
    assert_eq!(unlabelled["status"], "failed");
    assert_eq!(
        unlabelled["message"],
        "ConfigMap unlabelled has no team label"
    );
    assert_eq!(
        find(&outcomes, "Widget app/big", "main.deny")["status"],
        "passed"
    );

    // What they do read stays inside the repository.
    edit_file(
        root,
        "policyrun.toml",
        "crds = [\"crds\"]",
        "crds = [\"../crds\"]",
    );
    let run = policyrun(root, &["validate", "manifests"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("schema.crds[0]"), "{}", run.stderr);
    #[cfg(unix)]
    {
        let outside = tempfile::tempdir().unwrap();
        fs::copy(
            root.join("crds/widget.yaml"),
            outside.path().join("widget.yaml"),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("linked-crds")).unwrap();
        edit_file(
            root,
            "policyrun.toml",
            "crds = [\"../crds\"]",
            "crds = [\"linked-crds\"]",
        );
        let run = policyrun(root, &["validate", "manifests"]);
        assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("schema.crds[0]") && run.stderr.contains("outside"),
            "{}",
            run.stderr
        );
        edit_file(
            root,
            "policyrun.toml",
            "crds = [\"linked-crds\"]",
            "crds = [\"../crds\"]",
        );
    }
    edit_file(
        root,
        "policyrun.toml",
        "crds = [\"../crds\"]",
        "crds = [\"crds\"]",
    );
    edit_file(
        root,
        "policyrun.toml",
        "[schema]",
        "[policy]\ndirs = [\"../policies\"]\n[schema]",
    );
    let run = policyrun(root, &["test", "manifests"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("policy.dirs[0]"), "{}", run.stderr);
}

/// The files of `testdata/empty-manifests/manifests` that hold no object.
const EMPTY_FILES: [&str; 4] = [
    "manifests/blank.json",
    "manifests/blank.yaml",
    "manifests/comments.yaml",
    "manifests/empty-list.yaml",
];

#[test]
fn empty_files_are_noted_not_failed() {
    let repo = fixture("empty-manifests");
    let root = repo.path();
    for command in ["validate", "test"] {
        let junit = root.join(format!("{command}.xml"));
        let run = policyrun(
            root,
            &[
                command,
                "--output",
                "json",
                "--junit",
                junit.to_str().unwrap(),
                "manifests",
            ],
        );
        assert_eq!(run.code, 0, "{command}: {}{}", run.stdout, run.stderr);
        let outcomes = outcome_list(&run);
        for file in EMPTY_FILES {
            let noted = find(&outcomes, file, "read");
            assert_eq!(noted["status"], "skipped", "{command}: {noted}");
            assert!(
                noted["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("no Kubernetes objects"),
                "{noted}"
            );
        }
        // The object beside them is judged as usual.
        assert!(
            outcomes.iter().any(
                |o| o["subject"].as_str().unwrap().starts_with("Namespace app")
                    && o["status"] == "passed"
            ),
            "{command}: {outcomes:#?}"
        );
        support::assert_valid_junit(&fs::read_to_string(&junit).unwrap());
        // People see the note without -v.
        let run = policyrun(root, &[command, "manifests/comments.yaml"]);
        assert_eq!(run.code, 0, "{command}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stdout.contains("skip") && run.stdout.contains("no Kubernetes objects"),
            "{command}: {}",
            run.stdout
        );
    }
    // An empty List from standard input is no failure either.
    let run = support::policyrun_stdin(root, &["validate", "-"], "kind: List\nitems: []\n");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("1 skipped"), "{}", run.stdout);

    // Reading nothing at all still stops the run: a path that does not exist, or no file.
    for (args, says) in [
        (&["validate", "manifests/typo.yaml"][..], "typo.yaml"),
        (&["test", "manifests/typo.yaml"][..], "typo.yaml"),
        (&["validate", "manifests/none"][..], "no manifest files"),
        (&["test", "manifests/none"][..], "no manifest files"),
    ] {
        let run = policyrun(root, args);
        assert_eq!(run.code, 2, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn generated_names_pass_as_the_api_server_takes_them() {
    let repo = fixture("generated-names");
    let run = policyrun(
        repo.path(),
        &["validate", "--output", "json", "create.yaml"],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = outcome_list(&run);
    let statuses: Vec<(String, String, String)> = outcomes
        .iter()
        .map(|o| {
            (
                o["subject"].as_str().unwrap().to_owned(),
                o["check"].as_str().unwrap().to_owned(),
                o["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // The Job named by its prefix passes both checks.
    for check in ["schema", "metadata"] {
        let job = find(
            &outcomes,
            "Job reports/nightly-report- (create.yaml:2)",
            check,
        );
        assert_eq!(job["status"], "passed", "{job}");
    }
    let bad = find(&outcomes, "ConfigMap reports/Bad_Prefix-", "metadata");
    assert_eq!(bad["status"], "failed");
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .contains("metadata.generateName `Bad_Prefix-` is not valid for a ConfigMap"),
        "{bad}"
    );
    let cron = find(&outcomes, "CronJob reports/a-cron-job", "metadata");
    assert_eq!(cron["status"], "failed", "{cron}");
    assert!(
        cron["message"].as_str().unwrap().contains("at most 52"),
        "{cron}"
    );
    // Neither a name nor a prefix: still not an object the API server takes.
    let unnamed = find(&outcomes, "create.yaml:39", "read");
    assert_eq!(unnamed["status"], "failed");
    assert_eq!(
        unnamed["message"],
        "not a Kubernetes object: ConfigMap: metadata.name and metadata.generateName are missing"
    );
    let neither = find(&outcomes, "create.yaml:46", "read");
    assert_eq!(
        neither["message"], "not a Kubernetes object: apiVersion and kind are missing",
        "{statuses:#?}"
    );
}

/// A copy of `testdata/report-formats` with a file whose name would forge TAP lines.
fn report_formats() -> tempfile::TempDir {
    let repo = fixture("report-formats");
    #[cfg(unix)]
    fs::write(
        repo.path()
            .join("manifests/evil\nok 7 - forged # SKIP \\ x.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: Evil\n",
    )
    .unwrap();
    repo
}

/// Holds a TAP report, as Perl's TAP::Parser reads it, to the JSON report of the same run.
fn assert_tap_matches_json(tap: &str, json: &[Value], what: &str) {
    let parsed = support::parse_tap(tap);
    assert_eq!(parsed["version"], 13, "{what}: {parsed:#}");
    assert_eq!(
        parsed["parse_errors"],
        serde_json::json!([]),
        "{what}: {tap}"
    );
    assert_eq!(parsed["planned"], json.len(), "{what}");
    assert_eq!(parsed["run"], json.len(), "{what}");
    let failures = json
        .iter()
        .filter(|o| o["status"] == "failed" || o["status"] == "error")
        .count();
    let skipped = json.iter().filter(|o| o["status"] == "skipped").count();
    assert!(failures > 0, "{what}: a test of nothing");
    assert_eq!(parsed["failed"], failures, "{what}");
    assert_eq!(parsed["skipped"], skipped, "{what}");
    let tests = parsed["tests"].as_array().unwrap();
    for (i, (test, outcome)) in tests.iter().zip(json).enumerate() {
        assert_eq!(test["number"], i + 1, "{what}");
        let status = outcome["status"].as_str().unwrap();
        let failing = status == "failed" || status == "error";
        assert_eq!(test["actual_ok"], !failing, "{what}: {test} {outcome}");
        let description = test["description"].as_str().unwrap();
        assert!(description.starts_with("- "), "{what}: {test}");
        assert!(!description.contains('\n'), "{what}: {test}");
        if status == "skipped" {
            assert_eq!(test["directive"], "SKIP", "{what}: {test}");
        } else {
            assert_eq!(test["directive"], "", "{what}: {test}");
        }
        if matches!(status, "failed" | "error" | "warning") {
            let diagnostics = &test["diagnostics"];
            assert_eq!(diagnostics["status"], status, "{what}: {test}");
            // Read back exactly as written, whatever the repository put in it.
            assert_eq!(diagnostics["message"], outcome["message"], "{what}: {test}");
            assert_eq!(diagnostics["check"], outcome["check"], "{what}: {test}");
            if let Some(detail) = outcome.get("detail") {
                assert_eq!(&diagnostics["detail"], detail, "{what}: {test}");
            }
        } else {
            assert!(test.get("diagnostics").is_none(), "{what}: {test}");
        }
    }
}

#[test]
fn tap_reports_read_back_through_a_real_tap_consumer() {
    if !support::tap_parser_available() {
        return;
    }
    let repo = report_formats();
    let root = repo.path();
    for (command, expected) in [("validate", 1), ("test", 1)] {
        let json = policyrun(root, &[command, "--output", "json", "manifests"]);
        assert_eq!(
            json.code, expected,
            "{command}: {}{}",
            json.stdout, json.stderr
        );
        let tap = policyrun(root, &[command, "--output", "tap", "manifests"]);
        assert_eq!(tap.code, expected, "{command}: {}", tap.stderr);
        assert!(
            tap.stdout.starts_with("TAP version 13\n1.."),
            "{}",
            tap.stdout
        );
        let outcomes = outcome_list(&json);
        assert_tap_matches_json(&tap.stdout, &outcomes, command);
        // The empty file is a skipped test point.
        assert_eq!(
            support::parse_tap(&tap.stdout)["skipped"],
            1,
            "{}",
            tap.stdout
        );
        // The hostile label's message went through the YAML block unharmed.
        if command == "validate" {
            let hostile = find(&outcomes, "ConfigMap app/hostile", "metadata");
            assert!(
                hostile["message"].as_str().unwrap().contains("\u{1b}[2J"),
                "{hostile}"
            );
            let warning = find(&outcomes, "Endpoints app/web", "schema");
            assert_eq!(warning["status"], "warning", "{warning}");
        } else {
            let deny = find(&outcomes, "ConfigMap app/hostile", "main.deny");
            assert_eq!(deny["messages"].as_array().unwrap().len(), 2, "{deny}");
        }
    }

    // The gate's own report, with diffs and jsonnet stacks in its details.
    let broken = fixture("broken");
    let json = policyrun(broken.path(), &["check", "--output", "json"]);
    let tap = policyrun(broken.path(), &["check", "--output", "tap"]);
    assert_eq!(json.code, 1, "{}", json.stderr);
    assert_eq!(tap.code, 1, "{}", tap.stderr);
    let outcomes = outcome_list(&json);
    assert!(outcomes.iter().any(|o| o.get("detail").is_some()));
    assert_tap_matches_json(&tap.stdout, &outcomes, "check");
}

#[test]
fn table_reports_are_aligned_one_row_per_outcome() {
    let repo = report_formats();
    let root = repo.path();
    let json = policyrun(root, &["validate", "--output", "json", "manifests"]);
    let outcomes = outcome_list(&json);
    let run = policyrun(root, &["validate", "--output", "table", "-v", "manifests"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains('\u{1b}'), "{}", run.stdout);
    let lines: Vec<&str> = run.stdout.lines().collect();
    // The header, one row per outcome (none split by a hostile name or message), the summary.
    assert_eq!(lines.len(), outcomes.len() + 2, "{}", run.stdout);
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "STATUS", "CLUSTER", "STAGE", "CHECK", "SUBJECT", "FILE", "MESSAGE"
        ]
    );
    let subject_column = lines[0].find("SUBJECT").unwrap();
    for (line, outcome) in lines[1..=outcomes.len()].iter().zip(&outcomes) {
        assert!(
            line.starts_with(outcome["status"].as_str().unwrap()),
            "{line} / {outcome}"
        );
        assert!(
            line[subject_column..].starts_with(outcome["subject"].as_str().unwrap()),
            "{line} / {outcome}"
        );
    }
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("policyrun validate: FAILED:"),
        "{}",
        run.stdout
    );
    // Without -v only the rows the human report lists; colour only when asked for.
    let run = policyrun(root, &["validate", "--output", "table", "manifests"]);
    let problems = outcomes.iter().filter(|o| o["status"] != "passed").count();
    assert_eq!(run.stdout.lines().count(), problems + 2, "{}", run.stdout);
    let run = policyrun(
        root,
        &[
            "validate",
            "--output",
            "table",
            "--color",
            "always",
            "manifests",
        ],
    );
    assert!(
        run.stdout.contains("\u{1b}[31;1mfailed\u{1b}[0m"),
        "{}",
        run.stdout
    );

    // test and check take it too.
    let run = policyrun(root, &["test", "--output", "table", "manifests"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.lines().any(|l| l.split_whitespace().take(4).eq([
            "failed",
            "-",
            "policy",
            "main.deny"
        ])),
        "{}",
        run.stdout
    );
    let broken = fixture("broken");
    let run = policyrun(broken.path(), &["check", "--output", "table"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("STATUS "), "{}", run.stdout);
    assert!(
        run.stdout
            .lines()
            .last()
            .unwrap()
            .starts_with("policyrun check: FAILED:"),
        "{}",
        run.stdout
    );
}

/// `test` shares rule evaluations between objects of equal content as `check` does, and
/// `--no-sharing` turns that off; the verdicts must be the same either way, also when the
/// rule reads the object's file through a helper in another file of its package.
#[test]
fn test_shares_as_check_does_and_no_sharing_gives_the_same_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let config_map = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: apps\ndata:\n  a: b\n";
    write_file(root, "manifests/a.yaml", config_map);
    write_file(root, "manifests/b.yaml", config_map);
    write_file(
        root,
        "policy/deny.rego",
        "package main\nimport rego.v1\ndeny contains \"b.yaml is not allowed\" if { input.kind == \"ConfigMap\"; _from_b }\n",
    );
    write_file(
        root,
        "policy/helpers.rego",
        "package main\nimport rego.v1\n_from_b if endswith(data.policyrun.object.entry, \"b.yaml\")\n",
    );
    let shared = policyrun(root, &["test", "--output", "json", "manifests"]);
    let alone = policyrun(
        root,
        &["test", "--no-sharing", "--output", "json", "manifests"],
    );
    assert_eq!(alone.code, 1, "{}{}", alone.stdout, alone.stderr);
    assert_eq!(shared.code, alone.code, "{}", shared.stdout);
    assert_eq!(outcome_list(&shared), outcome_list(&alone));
    let outcomes = outcome_list(&alone);
    let failed: Vec<&Value> = outcomes
        .iter()
        .filter(|o| o["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0]["subject"].as_str().unwrap().contains("b.yaml"));
}

/// The outcomes of `policyrun validate FILE --output json` on `text`, and the exit code.
fn validate_text(name: &str, text: &str) -> (i32, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), name, text);
    let run = policyrun(dir.path(), &["validate", "--output", "json", name]);
    (run.code, outcome_list(&run))
}

/// YAML is read as kubectl reads it (sigs.k8s.io/yaml over go-yaml v2): tags convert, a plain
/// `inf` is a string, `yes` is a boolean, `.inf` cannot become JSON, and content after a
/// document's value is an error at its line, never dropped.
#[test]
fn yaml_is_read_as_the_kubernetes_tooling_reads_it() {
    // Tagged scalars and a label that merely looks like a float.
    let (code, outcomes) = validate_text(
        "tags.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: apps\n  labels:\n    tier: inf\n    build: !!str 42\nspec:\n  replicas: !!int \"3\"\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.27\n",
    );
    assert_eq!(code, 0, "{outcomes:#?}");
    // The second line is not part of the object: the file is refused, at that line.
    let (code, outcomes) = validate_text(
        "trailing.yaml",
        "{apiVersion: v1, kind: ConfigMap, metadata: {name: x, namespace: ns}}\nbogusTopLevel: 1\n",
    );
    assert_eq!(code, 1, "{outcomes:#?}");
    assert_eq!(outcomes.len(), 1, "{outcomes:#?}");
    assert_eq!(outcomes[0]["status"], "error");
    assert_eq!(outcomes[0]["location"]["line"], 2, "{outcomes:#?}");
    assert!(
        outcomes[0]["message"]
            .as_str()
            .unwrap()
            .contains("content after the document's value"),
        "{outcomes:#?}"
    );
    // YAML 1.1 booleans, as the API server would receive them: not strings.
    let (code, outcomes) = validate_text(
        "booleans.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags, namespace: ns}\ndata:\n  enabled: yes\n",
    );
    assert_eq!(code, 1, "{outcomes:#?}");
    let schema = outcomes.iter().find(|o| o["check"] == "schema").unwrap();
    assert!(
        schema["message"]
            .as_str()
            .unwrap()
            .contains("/data/enabled: true"),
        "{schema}"
    );
    // A float JSON cannot hold.
    let (code, outcomes) = validate_text(
        "infinite.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: ns}\ndata:\n  a: .inf\n",
    );
    assert_eq!(code, 1, "{outcomes:#?}");
    assert_eq!(outcomes[0]["location"]["line"], 5, "{outcomes:#?}");
}

/// `test` reads TOML as TOML (a table `[server]` is an object, not the YAML list
/// `["server"]`), refuses a format it does not parse, naming the file and the format, and
/// `--parser` reads a file in the format it names.
#[test]
fn test_parses_toml_and_refuses_formats_it_cannot_parse() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_file(root, "app.toml", "[server]\nport = 80\n");
    write_file(root, "app.ini", "[server]\nport = 80\n");
    write_file(
        root,
        "policy/server.rego",
        "package main\nimport rego.v1\ndeny contains \"port 80 is not allowed\" if input.server.port == 80\n",
    );
    let failed = |run: &support::Run| -> Vec<Value> {
        outcome_list(run)
            .into_iter()
            .filter(|o| o["status"] != "passed")
            .collect()
    };
    let run = policyrun(root, &["test", "--output", "json", "app.toml"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let found = failed(&run);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["check"], "main.deny", "{found:#?}");
    let run = policyrun(root, &["test", "--output", "json", "app.ini"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let found = failed(&run);
    assert_eq!(found[0]["status"], "error", "{found:#?}");
    let message = found[0]["message"].as_str().unwrap();
    assert!(
        message.contains("app.ini")
            && message.contains("`.ini` files")
            && message.contains("--parser"),
        "{message}"
    );
    let run = policyrun(
        root,
        &["test", "--parser", "toml", "--output", "json", "app.ini"],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(failed(&run)[0]["check"], "main.deny");
    // A directory holds TOML files too.
    let run = policyrun(root, &["test", "--output", "json", "."]);
    let found = failed(&run);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0]["subject"].as_str().unwrap().contains("app.toml"));
}

/// `test -` judges standard input a batch of documents at a time (issue 26): the verdicts
/// equal those of the same text read from a file, also where they depend on the whole
/// stream — a Namespace at the end that an object at the start is in, a file waiver used
/// in the first batch and one used nowhere (reported once, after the last batch).
#[test]
fn test_reads_standard_input_a_batch_at_a_time_with_the_verdicts_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_file(
        root,
        "policyrun.toml",
        "[policy]\ndirs = [\"policy\"]\nwaivers = [\"waivers.yaml\"]\n\n[[cluster]]\nname = \"dev\"\n",
    );
    write_file(
        root,
        "policy/main.rego",
        r#"package main
import rego.v1
deny contains msg if {
  input.kind == "Pod"
  namespace := object.get(input.metadata, "namespace", "default")
  not namespace in data.policyrun.cluster.namespaces
  msg := sprintf("namespace %v is not created here", [namespace])
}
deny contains "no document may be bad" if input.bad
deny contains "no ConfigMap named waived" if { input.kind == "ConfigMap"; input.metadata.name == "waived" }
"#,
    );
    let waiver = |name: &str| {
        format!(
            "- rule: main.deny\n  kind: ConfigMap\n  namespace: late\n  name: {name}\n  reason: tested\n  owner: me\n  expires: 2099-01-01\n"
        )
    };
    write_file(
        root,
        "waivers.yaml",
        &(waiver("waived") + &waiver("nothing")),
    );
    let mut text = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: waived, namespace: late}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: inside, namespace: late}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: outside, namespace: never}\n---\nbad: true\n",
    );
    // Past the stream's batch of 1 MiB, so the Namespace comes in a later batch.
    for i in 0..16_000 {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm{i}\n  namespace: late\ndata:\n  k: v{}\n",
            i % 7
        ));
    }
    text.push_str("---\nbad: true\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: late}\n");
    assert!(text.len() > 1 << 20);
    write_file(root, "in.yaml", &text);
    let streamed = support::policyrun_stdin(root, &["test", "--output", "json", "-"], &text);
    let read = policyrun(root, &["test", "--output", "json", "in.yaml"]);
    assert_eq!(streamed.code, 1, "{}{}", streamed.stdout, streamed.stderr);
    assert_eq!(read.code, 1, "{}{}", read.stdout, read.stderr);
    let canonical = |run: &support::Run| {
        let text = serde_json::to_string(&outcome_list(run))
            .unwrap()
            .replace("\"in.yaml", "\"-")
            .replace("(in.yaml:", "(-:");
        let mut outcomes: Vec<String> = serde_json::from_str::<Vec<Value>>(&text)
            .unwrap()
            .iter()
            .map(Value::to_string)
            .collect();
        outcomes.sort();
        outcomes
    };
    let (streamed_outcomes, read_outcomes) = (canonical(&streamed), canonical(&read));
    let read_set: std::collections::HashSet<&String> = read_outcomes.iter().collect();
    let only_streamed: Vec<&String> = streamed_outcomes
        .iter()
        .filter(|o| !read_set.contains(o))
        .take(5)
        .collect();
    assert!(only_streamed.is_empty(), "{only_streamed:#?}");
    assert_eq!(streamed_outcomes.len(), read_outcomes.len());
    let outcomes = outcome_list(&streamed);
    assert_eq!(
        find(&outcomes, "Pod late/inside", "main.deny")["status"],
        "passed"
    );
    assert_eq!(
        find(&outcomes, "Pod never/outside", "main.deny")["status"],
        "failed"
    );
    assert_eq!(
        find(&outcomes, "ConfigMap late/waived", "main.deny")["status"],
        "skipped"
    );
    let failed = outcomes.iter().filter(|o| o["status"] == "failed").count();
    assert_eq!(failed, 3, "{outcomes:#?}");
    let unused: Vec<&Value> = outcomes
        .iter()
        .filter(|o| o["subject"].as_str().unwrap().starts_with("waivers.yaml"))
        .collect();
    assert_eq!(unused.len(), 1, "{unused:#?}");
    assert!(unused[0]["subject"].as_str().unwrap().contains("waiver 2"));
}
