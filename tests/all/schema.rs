//! The schema stage end to end: `testdata/schemas` holds one valid and one invalid object per
//! rule, checked by `check` on the expanded tree and by `validate` on the same JSON;
//! `testdata/manifests` holds YAML-only cases (documents, Lists, duplicate keys).

use crate::support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use support::{
    CachedRepo, assert_valid_junit, copy_tree, edit_file, fixture, manifest_dir, policyrun,
};

/// `(object, check)` -> outcome, for the schema stage of a JSON report.
fn schema_outcomes(stdout: &str) -> BTreeMap<(String, String), Value> {
    let doc: Value = serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    doc["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["stage"] == "schema")
        .map(|o| {
            let object = match &o["object"] {
                Value::Object(id) => format!(
                    "{} {}",
                    id["kind"].as_str().unwrap(),
                    id["name"].as_str().unwrap()
                ),
                _ => o["subject"].as_str().unwrap().to_owned(),
            };
            ((object, o["check"].as_str().unwrap().to_owned()), o.clone())
        })
        .collect()
}

fn get<'a>(
    outcomes: &'a BTreeMap<(String, String), Value>,
    object: &str,
    check: &str,
) -> &'a Value {
    outcomes
        .get(&(object.to_owned(), check.to_owned()))
        .unwrap_or_else(|| panic!("no {check} outcome for {object}: {:?}", outcomes.keys()))
}

/// The verdict every rule must reach, by object: status of the schema check, a piece of its
/// message, and the status of the metadata check.
const EXPECTED: &[(&str, &str, &str, &str)] = &[
    ("Deployment web", "passed", "", "passed"),
    ("Service web", "passed", "", "passed"),
    ("Backup nightly", "passed", "", "passed"),
    ("Widget big-widget", "passed", "", "passed"),
    (
        "CustomResourceDefinition backups.example.com",
        "passed",
        "",
        "passed",
    ),
    (
        "ConfigMap unknown-field",
        "failed",
        "/: Additional properties are not allowed ('extra' was unexpected)",
        "passed",
    ),
    (
        "Deployment wrong-type",
        "failed",
        "/spec/replicas: \"two\" is not of types",
        "passed",
    ),
    (
        "Service missing-port",
        "failed",
        "/spec/ports/0: \"port\" is a required property",
        "passed",
    ),
    (
        "Deployment int-or-string",
        "failed",
        "/spec/strategy/rollingUpdate/maxSurge: true is not valid",
        "passed",
    ),
    (
        "Deployment quantity",
        "failed",
        "/spec/template/spec/containers/0/resources/limits/memory: \"lots\" is not valid",
        "passed",
    ),
    (
        "Backup broken-backup",
        "failed",
        "/spec/port: true is not of types \"integer\", \"string\"",
        "passed",
    ),
    (
        "Widget tiny-widget",
        "failed",
        "/spec/size: 0 is less than the minimum of 1",
        "passed",
    ),
    (
        "Gadget gadget",
        "failed",
        "no schema for example.org/v1/Gadget",
        "passed",
    ),
    (
        "Deployment removed-api",
        "failed",
        "extensions/v1beta1 Deployment was removed in Kubernetes 1.16: use apps/v1",
        "passed",
    ),
    (
        "Endpoints deprecated-api",
        "warning",
        "deprecated since Kubernetes 1.33: use discovery.k8s.io/v1 EndpointSlice",
        "passed",
    ),
    ("ConfigMap Bad_Name", "passed", "", "failed"),
    ("ConfigMap bad-label", "passed", "", "failed"),
];

fn assert_expected(outcomes: &BTreeMap<(String, String), Value>, how: &str) {
    for (object, schema_status, message, metadata_status) in EXPECTED {
        let schema = get(outcomes, object, "schema");
        assert_eq!(
            schema["status"], *schema_status,
            "{how}: {object}: {schema}"
        );
        let text = format!(
            "{} {}",
            schema["message"].as_str().unwrap_or_default(),
            schema["detail"].as_str().unwrap_or_default()
        );
        assert!(
            text.contains(message),
            "{how}: {object}: expected {message:?} in {text}"
        );
        let metadata = get(outcomes, object, "metadata");
        assert_eq!(
            metadata["status"], *metadata_status,
            "{how}: {object}: {metadata}"
        );
    }
    let name = get(outcomes, "ConfigMap Bad_Name", "metadata");
    assert!(
        name["message"]
            .as_str()
            .unwrap()
            .contains("metadata.name `Bad_Name` is not valid for a ConfigMap"),
        "{name}"
    );
    let label = get(outcomes, "ConfigMap bad-label", "metadata");
    let text = label["detail"].as_str().unwrap();
    assert!(text.contains("label key `not a key`"), "{text}");
    assert!(
        text.contains("/metadata/labels/tier: label value `-front`"),
        "{text}"
    );
}

#[test]
fn check_reports_every_schema_rule() {
    let repo = fixture("schemas");
    let junit = repo.path().join("junit.xml");
    let run = policyrun(
        repo.path(),
        &["--output", "json", "--junit", junit.to_str().unwrap()],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = schema_outcomes(&run.stdout);
    assert_expected(&outcomes, "check");
    // Where each error is: the generated file, the entry it came from.
    let wrong = get(&outcomes, "Deployment wrong-type", "schema");
    assert_eq!(
        wrong["location"]["file"],
        "generated/dev/invalid/wrongType.json"
    );
    assert_eq!(wrong["entry"], "clusters/dev/invalid.jsonnet");
    assert_eq!(wrong["cluster"], "dev");

    // JUnit: one testcase per object with a problem in the schema suite, its checks folded
    // in, and one per check for the passes.
    let xml = fs::read_to_string(&junit).unwrap();
    assert_valid_junit(&xml);
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite") && n.attribute("name") == Some("dev schema"))
        .expect("a dev schema suite");
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let problems = EXPECTED
        .iter()
        .filter(|(_, schema, _, metadata)| *schema != "passed" || *metadata != "passed")
        .count();
    assert_eq!(cases.len(), problems + 2, "{xml}");
    let case = |name: &str| {
        cases
            .iter()
            .find(|c| c.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no testcase {name}"))
    };
    let quantity = case("Deployment app/quantity");
    assert_eq!(
        quantity.attribute("classname"),
        Some("policyrun.dev.schema")
    );
    let failure = quantity
        .children()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert!(
        failure
            .text()
            .unwrap()
            .contains("/spec/template/spec/containers/0/resources/limits/memory"),
        "{xml}"
    );
    let passed = case("passed: schema")
        .children()
        .find(|n| n.has_tag_name("system-out"))
        .and_then(|n| n.text())
        .unwrap();
    assert!(
        passed.contains("\nDeployment app/web at generated/dev/"),
        "{xml}"
    );
    let bad_name = case("ConfigMap app/Bad_Name");
    assert_eq!(
        bad_name
            .children()
            .find(|n| n.has_tag_name("failure"))
            .unwrap()
            .attribute("type"),
        Some("metadata")
    );
}

#[test]
fn validate_gives_the_same_verdicts_on_the_same_objects() {
    let repo = fixture("schemas");
    // The repository's policyrun.toml applies: its CRD file defines Widgets.
    let run = policyrun(repo.path(), &["validate", "generated", "--output", "json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = schema_outcomes(&run.stdout);
    assert_expected(&outcomes, "validate");
    let wrong = get(&outcomes, "Deployment wrong-type", "schema");
    assert_eq!(
        wrong["location"]["file"],
        "generated/dev/invalid/wrongType.json"
    );
    assert_eq!(wrong["location"]["line"], 1);
    assert!(wrong.get("cluster").is_none(), "{wrong}");
    // Human output names the file and line of each object.
    let run = policyrun(repo.path(), &["validate", "generated"]);
    assert!(
        run.stdout
            .contains("FAIL schema     Deployment app/wrong-type (generated/dev/invalid/wrongType.json:1) [schema]"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.starts_with("manifests: "), "{}", run.stdout);
}

#[test]
fn missing_schemas_fail_or_are_skipped() {
    let repo = fixture("schemas");
    let gadget = |args: &[&str]| {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        let run = policyrun(repo.path(), &all);
        get(&schema_outcomes(&run.stdout), "Gadget gadget", "schema").clone()
    };
    assert_eq!(gadget(&[])["status"], "failed");
    let skipped = gadget(&["--ignore-missing-schemas"]);
    assert_eq!(skipped["status"], "skipped");
    assert!(
        skipped["message"]
            .as_str()
            .unwrap()
            .starts_with("no schema for")
    );
    assert_eq!(gadget(&["--skip", "Gadget"])["status"], "skipped");
    assert_eq!(
        gadget(&["--skip", "Pod,example.org/v1/Gadget"])["status"],
        "skipped"
    );
    assert_eq!(
        gadget(&["--skip", "example.org/v2/Gadget"])["status"],
        "failed"
    );

    let config = repo.path().join("policyrun.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        text.replace("[schema]\n", "[schema]\nignore_missing = true\n"),
    )
    .unwrap();
    assert_eq!(gadget(&[])["status"], "skipped");
    let run = policyrun(
        repo.path(),
        &["validate", "generated/dev/invalid/noSchema.json"],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn custom_resources_are_defined_per_cluster() {
    let repo = fixture("schemas");
    let root = repo.path();
    // int gets the same objects but not the CRD of Backups (it lives in dev's tree).
    fs::create_dir_all(root.join("clusters/int")).unwrap();
    fs::copy(
        root.join("clusters/dev/valid.jsonnet"),
        root.join("clusters/int/valid.jsonnet"),
    )
    .unwrap();
    let config = root.join("policyrun.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(&config, format!("{text}\n[[cluster]]\nname = \"int\"\n")).unwrap();
    let run = policyrun(root, &["--output", "json", "--cluster", "int"]);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let backup = doc["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["subject"] == "Backup app/nightly" && o["check"] == "schema")
        .unwrap();
    assert_eq!(backup["status"], "failed", "{backup}");
    assert!(
        backup["message"]
            .as_str()
            .unwrap()
            .starts_with("no schema for example.com/v1/Backup")
    );
    // Widgets come from the CRD file, for every cluster.
    let widget = doc["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["subject"] == "Widget big-widget" && o["check"] == "schema")
        .unwrap();
    assert_eq!(widget["status"], "passed", "{widget}");
}

#[test]
fn yaml_documents_lists_and_duplicate_keys() {
    let dir = manifest_dir().join("testdata/manifests");
    let run = policyrun(&dir, &["validate", ".", "--output", "json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let by_subject: BTreeMap<String, Vec<&Value>> = doc["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .fold(BTreeMap::new(), |mut map, o| {
            map.entry(o["subject"].as_str().unwrap().to_owned())
                .or_default()
                .push(o);
            map
        });
    let subjects: Vec<&str> = by_subject.keys().map(String::as_str).collect();
    assert_eq!(
        subjects,
        vec![
            "./duplicate-key.yaml:8",
            "ConfigMap app/after-the-broken-one (./duplicate-key.yaml:11)",
            "ConfigMap app/counts (./multi.yaml:10 /items/1)",
            "ConfigMap app/settings (./multi.yaml:10 /items/0)",
            "Namespace app (./multi.yaml:5)",
            "Service app/web (./more/service.json:1)",
        ]
    );
    let duplicate = by_subject["./duplicate-key.yaml:8"][0];
    assert_eq!(duplicate["status"], "error");
    assert_eq!(
        duplicate["message"],
        "not valid YAML: duplicate key `data` (first at line 6)"
    );
    let counts = by_subject["ConfigMap app/counts (./multi.yaml:10 /items/1)"]
        .iter()
        .find(|o| o["check"] == "schema")
        .unwrap();
    assert_eq!(counts["status"], "failed");
    assert!(
        counts["message"]
            .as_str()
            .unwrap()
            .starts_with("/data/replicas: 3 is not of type")
    );
    for subject in [
        "Namespace app (./multi.yaml:5)",
        "Service app/web (./more/service.json:1)",
    ] {
        assert!(
            by_subject[subject].iter().all(|o| o["status"] == "passed"),
            "{subject}"
        );
    }
}

#[test]
fn standard_input_and_usage_errors() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_policyrun"))
        .args(["validate", "-"])
        .current_dir(std::env::temp_dir())
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: from-stdin\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("PASSED: 2 checks, 2 passed"), "{stdout}");

    let empty = tempfile::tempdir().unwrap();
    let run = policyrun(empty.path(), &["validate", "."]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("no manifest files (.json, .yaml, .yml) in ."),
        "{}",
        run.stderr
    );
    let run = policyrun(empty.path(), &["validate", "nope.yaml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("nope.yaml"), "{}", run.stderr);
    let run = policyrun(
        empty.path(),
        &["validate", "--kubernetes-version", "latest", "."],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("--kubernetes-version"),
        "{}",
        run.stderr
    );
    let run = policyrun(
        empty.path(),
        &[
            "validate",
            "--schema-location",
            "https://example.com/{kind}.json",
            ".",
        ],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("offline"), "{}", run.stderr);
}

#[test]
fn another_kubernetes_release_from_a_schema_directory() {
    let repo = fixture("schemas");
    let root = repo.path();
    let versions = manifest_dir().join("testdata/schema-versions");
    // Without a schema directory only the releases built in are available.
    let run = policyrun(root, &["--kubernetes-version", "1.24"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("Kubernetes 1.24 is not built in (built in: 1.25 to 1.37)"),
        "{}",
        run.stderr
    );
    let run = policyrun(root, &["--kubernetes-version", "1.33", "--output", "json"]);
    let outcomes = schema_outcomes(&run.stdout);
    assert_eq!(
        get(&outcomes, "Deployment web", "schema")["status"],
        "passed"
    );

    // A schema directory holding the release comes first: the stand-in 1.33 knows
    // ConfigMaps without `data`, and nothing else.
    let run = policyrun(
        root,
        &[
            "--kubernetes-version",
            "1.33",
            "--schema-dir",
            versions.to_str().unwrap(),
            "--output",
            "json",
        ],
    );
    let outcomes = schema_outcomes(&run.stdout);
    let bad_name = get(&outcomes, "ConfigMap Bad_Name", "schema");
    assert!(
        bad_name["message"]
            .as_str()
            .unwrap()
            .contains("'data' was unexpected"),
        "{bad_name}"
    );
    let web = get(&outcomes, "Deployment web", "schema");
    assert!(
        web["message"]
            .as_str()
            .unwrap()
            .starts_with("no schema for apps/v1/Deployment (Kubernetes 1.33.0"),
        "{web}"
    );
    // The same from the configuration, with the directory inside the repository.
    copy_tree(&versions, &root.join("schema-versions"));
    let config = root.join("policyrun.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        text.replace(
            "[schema]\n",
            "[schema]\nkubernetes_version = \"1.33\"\nschema_dir = \"schema-versions\"\n",
        ),
    )
    .unwrap();
    let run = policyrun(root, &["--output", "json"]);
    let outcomes = schema_outcomes(&run.stdout);
    assert!(
        get(&outcomes, "ConfigMap Bad_Name", "schema")["message"]
            .as_str()
            .unwrap()
            .contains("'data' was unexpected")
    );

    // A committed link out of the repository is not read.
    #[cfg(unix)]
    {
        let definitions = root.join("schema-versions/v1.33.0-local-strict/_definitions.json");
        fs::remove_file(&definitions).unwrap();
        std::os::unix::fs::symlink(
            versions.join("v1.33.0-local-strict/_definitions.json"),
            &definitions,
        )
        .unwrap();
        let run = policyrun(root, &[]);
        assert_eq!(run.code, 2, "{}", run.stdout);
        assert!(
            run.stderr.contains("leads outside the repository"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn schema_locations_come_first_and_stay_inside_the_repository() {
    let repo = fixture("schemas");
    let root = repo.path();
    let locations = manifest_dir().join("testdata/schema-locations");
    let gadget = |args: &[&str]| {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        let run = policyrun(root, &all);
        get(&schema_outcomes(&run.stdout), "Gadget gadget", "schema").clone()
    };
    // A directory in kubeconform's naming, from the command line.
    let found = gadget(&["--schema-location", locations.to_str().unwrap()]);
    assert_eq!(found["status"], "failed");
    assert!(
        found["message"]
            .as_str()
            .unwrap()
            .contains("\"spec\" is a required property"),
        "{found}"
    );
    // A template, from the configuration.
    copy_tree(&locations, &root.join("schemas"));
    fs::rename(
        root.join("schemas/gadget-example-v1.json"),
        root.join("schemas/Gadget.json"),
    )
    .unwrap();
    let config = root.join("policyrun.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        text.replace(
            "[schema]\n",
            "[schema]\nlocations = [\"schemas/{Kind}.json\"]\n",
        ),
    )
    .unwrap();
    let found = gadget(&[]);
    assert!(
        found["message"]
            .as_str()
            .unwrap()
            .contains("\"spec\" is a required property")
    );

    // A committed link out of the repository is not followed.
    #[cfg(unix)]
    {
        fs::remove_file(root.join("schemas/Gadget.json")).unwrap();
        std::os::unix::fs::symlink(
            locations.join("gadget-example-v1.json"),
            root.join("schemas/Gadget.json"),
        )
        .unwrap();
        let refused = gadget(&[]);
        assert_eq!(refused["status"], "error");
        assert!(
            refused["message"]
                .as_str()
                .unwrap()
                .contains("leads outside the repository"),
            "{refused}"
        );
    }
}

#[test]
fn broken_crd_files_are_reported_with_their_line() {
    let repo = fixture("schemas");
    let crd = repo.path().join("crds/widgets.yaml");
    let text = fs::read_to_string(&crd).unwrap();
    fs::write(
        &crd,
        text.replace(
            "  scope: Cluster\n",
            "  scope: Cluster\n  scope: Namespaced\n",
        ),
    )
    .unwrap();
    let run = policyrun(repo.path(), &["--output", "json"]);
    assert_eq!(run.code, 1);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let problem = doc["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["check"] == "custom-resources")
        .expect("an outcome for the broken CRD file");
    assert_eq!(problem["status"], "error");
    assert!(
        problem["message"]
            .as_str()
            .unwrap()
            .contains("duplicate key `scope`"),
        "{problem}"
    );
    assert_eq!(problem["location"]["line"], 12);
    assert!(
        Path::new(problem["location"]["file"].as_str().unwrap()).ends_with("crds/widgets.yaml")
    );
}

/// The objects whose schema and metadata checks both passed with nothing to say: the ones
/// the schema memory may recall.
fn clean_passes(outcomes: &BTreeMap<(String, String), Value>) -> usize {
    let clean = |o: &Value| o["status"] == "passed" && o["message"] == "" && o["detail"].is_null();
    outcomes
        .iter()
        .filter(|((object, check), o)| {
            check == "schema"
                && clean(o)
                && outcomes
                    .get(&(object.clone(), "metadata".to_owned()))
                    .is_some_and(clean)
        })
        .count()
}

/// A warm run recalls the clean passes only, and reports exactly what a run without any
/// cache reports; a changed schema (here a CRD file's) is checked again.
#[test]
fn a_warm_run_recalls_clean_passes_and_reports_what_a_check_reports() {
    let repo = CachedRepo::new("schemas");
    let fresh = |repo: &CachedRepo| {
        let run = policyrun(repo.root(), &["check", "--output", "json", "--no-cache"]);
        schema_outcomes(&run.stdout)
    };
    let recalled = |doc: &Value| doc["expansion"]["schema_recalled"].as_u64().unwrap() as usize;
    let (_, cold) = repo.check(&[]);
    assert_eq!(recalled(&cold), 0);
    let cold_outcomes = schema_outcomes(&cold.to_string());
    let clean = clean_passes(&cold_outcomes);
    assert!(clean >= 4, "{cold_outcomes:#?}");
    assert!(
        clean < cold_outcomes.len() / 2,
        "failures are in the fixture too"
    );
    let (warm_run, warm) = repo.check(&[]);
    assert_eq!(recalled(&warm), clean);
    assert_eq!(schema_outcomes(&warm.to_string()), cold_outcomes);
    assert_eq!(cold_outcomes, fresh(&repo));
    assert_eq!(warm_run.code, 1, "the fixture's failures still fail");

    // big-widget (size 3) no longer fits its CRD: checked again, and failed.
    edit_file(repo.root(), "crds/widgets.yaml", "minimum: 1", "minimum: 5");
    let (_, changed) = repo.check(&[]);
    let changed_outcomes = schema_outcomes(&changed.to_string());
    assert_eq!(changed_outcomes, fresh(&repo));
    assert_eq!(
        get(&changed_outcomes, "Widget big-widget", "schema")["status"],
        "failed"
    );
    assert_eq!(recalled(&changed), clean - 1);
    // And once more: the memory kept the others, not the widget.
    let (_, again) = repo.check(&[]);
    assert_eq!(recalled(&again), clean - 1);
    assert_eq!(schema_outcomes(&again.to_string()), changed_outcomes);
}

#[test]
fn our_example_clusters_pass_the_schema_stage() {
    let run = policyrun(&manifest_dir(), &["--output", "json"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let outcomes = schema_outcomes(&run.stdout);
    assert!(outcomes.len() > 100, "{}", outcomes.len());
}

/// `policyrun validate` on one file of `testdata/crd-verdicts` (issue 24), with `extra`
/// arguments: its schema-stage outcomes.
fn crd_verdicts(file: &str, extra: &[&str]) -> BTreeMap<(String, String), Value> {
    let dir = manifest_dir().join("testdata/crd-verdicts");
    let mut args = vec!["validate", file, "--output", "json"];
    args.extend_from_slice(extra);
    let run = policyrun(&dir, &args);
    assert!(run.code <= 1, "{}{}", run.stdout, run.stderr);
    schema_outcomes(&run.stdout)
}

/// Each `(object, check, status, piece of message or detail)`.
fn assert_verdicts(
    outcomes: &BTreeMap<(String, String), Value>,
    expected: &[(&str, &str, &str, &str)],
) {
    for (object, check, status, text) in expected {
        let outcome = get(outcomes, object, check);
        assert_eq!(outcome["status"], *status, "{object} {check}: {outcome}");
        let said = format!(
            "{} {}",
            outcome["message"].as_str().unwrap_or_default(),
            outcome["detail"].as_str().unwrap_or_default()
        );
        assert!(
            said.contains(text),
            "{object} {check}: expected {text:?} in {said}"
        );
    }
}

#[test]
fn label_rules_apply_only_where_the_api_server_applies_them() {
    let outcomes = crd_verdicts("selectors.yaml", &[]);
    assert_verdicts(
        &outcomes,
        &[
            // `matchLabels` properties in a CRD's schema, with titles and descriptions.
            (
                "CustomResourceDefinition audiences.example.com",
                "metadata",
                "passed",
                "",
            ),
            // A free map that its CRD happens to call `matchLabels`.
            ("Audience free-text", "metadata", "passed", ""),
            (
                "Audience bad-embedded-label",
                "metadata",
                "failed",
                "/spec/podTemplate/metadata/labels/app: label value `Not A Label`",
            ),
            (
                "Service bad-selector",
                "metadata",
                "failed",
                "/spec/selector/app: label value `Not A Label`",
            ),
            (
                "NetworkPolicy bad-peer",
                "metadata",
                "failed",
                "/spec/ingress/0/from/0/namespaceSelector/matchLabels/team",
            ),
            (
                "PodDisruptionBudget bad-pdb",
                "metadata",
                "failed",
                "/spec/selector/matchLabels/app",
            ),
            (
                "CronJob bad-job-pod",
                "metadata",
                "failed",
                "/spec/jobTemplate/spec/template/metadata/labels/app",
            ),
            (
                "CronJob bad-job-pod",
                "metadata",
                "failed",
                "/spec/jobTemplate/spec/template/spec/nodeSelector/disk: label value `Solid State`",
            ),
            // Handed to a metrics adapter, not checked as labels by the API server.
            (
                "HorizontalPodAutoscaler metric-selector",
                "metadata",
                "passed",
                "",
            ),
        ],
    );
    // A skipped kind is skipped by every check, names and labels too.
    let skipped = crd_verdicts(
        "selectors.yaml",
        &["--skip", "CustomResourceDefinition,Service"],
    );
    for object in [
        "CustomResourceDefinition audiences.example.com",
        "Service bad-selector",
    ] {
        for check in ["schema", "metadata"] {
            assert_eq!(
                get(&skipped, object, check)["status"],
                "skipped",
                "{object} {check}"
            );
        }
    }
}

#[test]
fn namespaces_are_dns_labels_where_the_api_server_keeps_them() {
    let outcomes = crd_verdicts("namespaces.yaml", &[]);
    assert_verdicts(
        &outcomes,
        &[
            (
                "Deployment autoscaler",
                "metadata",
                "failed",
                "/metadata/namespace: namespace `${AUTOSCALER_NS}` is not valid: it must be a DNS label",
            ),
            ("ConfigMap good", "metadata", "passed", ""),
            // Cluster-scoped: the API server drops the namespace.
            ("ClusterRole cluster-wide", "metadata", "passed", ""),
            (
                "Bucket upper",
                "metadata",
                "failed",
                "/metadata/namespace: namespace `Storage` is not valid",
            ),
        ],
    );
}

#[test]
fn nulls_a_custom_resource_schema_does_not_allow_are_dropped_before_validation() {
    let outcomes = crd_verdicts("nulls.yaml", &[]);
    assert_verdicts(
        &outcomes,
        &[
            // `cephfs: null` dropped, `note: null` kept (nullable), `tier: null` defaulted.
            ("Filesystem commented-out", "schema", "passed", ""),
            // Dropped, the required field is missing.
            (
                "Filesystem null-pool",
                "schema",
                "failed",
                "/spec: \"pool\" is a required property",
            ),
            // Array items are never dropped.
            (
                "Filesystem null-mount",
                "schema",
                "failed",
                "/spec/mounts/1: null is not of type \"string\"",
            ),
            (
                "Filesystem null-mount",
                "schema",
                "failed",
                "checked as the API server sees the object",
            ),
        ],
    );
}

#[test]
fn crd_defaults_are_applied_before_validation_and_cel_rules_are_named_once() {
    let outcomes = crd_verdicts("defaults.yaml", &[]);
    assert_verdicts(
        &outcomes,
        &[
            // `type` defaulted to IPAddress: one `oneOf` branch, not two; `protocol`
            // defaulted in an array item: the required field is there.
            ("Address defaulted", "schema", "passed", ""),
            ("Address explicit", "schema", "passed", ""),
            (
                "Address wrong-protocol",
                "schema",
                "failed",
                "/spec/ports/0/protocol: \"SCTP\" is not one of",
            ),
            (
                "CustomResourceDefinition addresses.net.example.com",
                "schema",
                "passed",
                "not checked: the CEL rules (x-kubernetes-validations) at v1 /properties/spec",
            ),
        ],
    );
    // Said on the CRD only, not on each of its objects.
    let cel = outcomes
        .values()
        .filter(|o| o.to_string().contains("x-kubernetes-validations"))
        .count();
    assert_eq!(cel, 1, "{outcomes:?}");
    // Defaults are for validation only: the gate's committed JSON is the object as written.
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    support::write_file(
        root,
        "policyrun.toml",
        "jpath = []\n[[cluster]]\nname = \"dev\"\n",
    );
    let crd =
        fs::read_to_string(manifest_dir().join("testdata/crd-verdicts/defaults.yaml")).unwrap();
    let documents: Vec<&str> = crd.split("\n---\n").collect();
    support::write_file(root, "clusters/dev/crd.yaml", documents[0]);
    support::write_file(root, "clusters/dev/address.yaml", documents[1]);
    support::write_file(
        root,
        "clusters/dev/addresses.jsonnet",
        "{\n  crd: std.parseYaml(importstr 'crd.yaml'),\n  defaulted: std.parseYaml(importstr 'address.yaml'),\n}\n",
    );
    let run = policyrun(root, &["expand"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let written = fs::read_to_string(root.join("generated/dev/addresses/defaulted.json")).unwrap();
    assert!(
        !written.contains("IPAddress") && !written.contains("TCP"),
        "{written}"
    );
    let run = policyrun(root, &["check"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // The gate names the CRDs with CEL rules once, in a note.
    assert!(
        run.stdout.contains(
            "note: schema: CEL rules (x-kubernetes-validations) are not evaluated, the API server checks them: 1 CustomResourceDefinition has some (addresses.net.example.com)"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn crds_with_descriptions_and_their_custom_resources_pass() {
    let outcomes = crd_verdicts("described.yaml", &[]);
    for check in ["schema", "metadata"] {
        for object in [
            "CustomResourceDefinition reports.example.com",
            "Report weekly",
        ] {
            let outcome = get(&outcomes, object, check);
            assert_eq!(outcome["status"], "passed", "{object} {check}: {outcome}");
        }
    }
    // The same CRD with a field its Go type does not have still fails.
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(manifest_dir().join("testdata/crd-verdicts/described.yaml"))
        .unwrap()
        .replace(
            "          title: Report\n",
            "          title: Report\n          summary: not a JSONSchemaProps field\n",
        );
    fs::write(dir.path().join("described.yaml"), text).unwrap();
    let run = policyrun(
        dir.path(),
        &["validate", "described.yaml", "--output", "json"],
    );
    let outcomes = schema_outcomes(&run.stdout);
    let crd = get(
        &outcomes,
        "CustomResourceDefinition reports.example.com",
        "schema",
    );
    assert_eq!(crd["status"], "failed", "{crd}");
    assert!(
        crd["message"]
            .as_str()
            .unwrap()
            .contains("/spec/versions/0/schema/openAPIV3Schema: Additional properties are not allowed ('summary' was unexpected)"),
        "{crd}"
    );
}

/// The `schema` outcome of each object of a `validate --output json` run, by `Kind name`.
fn validated(run: &support::Run) -> BTreeMap<String, Value> {
    schema_outcomes(&run.stdout)
        .into_iter()
        .filter(|((_, check), _)| check == "schema")
        .map(|((object, _), outcome)| (object, outcome))
        .collect()
}

/// Fields named like the annotations the bundle leaves out (`description`) are real fields:
/// a PriorityClass's description, a CRD's descriptions of its schema and printer columns.
#[test]
fn fields_named_description_are_fields() {
    let manifests = "\
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: critical}
value: 1000000
description: Pods that must not be evicted
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gizmos.example.com}
spec:
  group: example.com
  names: {kind: Gizmo, plural: gizmos}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size, description: How big it is}
    schema:
      openAPIV3Schema:
        description: A gizmo
        type: object
        externalDocs: {description: The manual, url: 'https://example.com'}
        properties:
          spec:
            description: What the gizmo should be
            type: object
            properties:
              size: {type: integer, description: How big}
";
    let dir = tempfile::tempdir().unwrap();
    let run = support::policyrun_stdin(
        dir.path(),
        &["validate", "--output", "json", "-"],
        manifests,
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let outcomes = validated(&run);
    for object in [
        "PriorityClass critical",
        "CustomResourceDefinition gizmos.example.com",
    ] {
        assert_eq!(outcomes[object]["status"], "passed", "{}", outcomes[object]);
    }
    // Still strict: a field the type does not have fails.
    let run = support::policyrun_stdin(
        dir.path(),
        &["validate", "--output", "json", "-"],
        &manifests.replace("description: Pods", "summary: Pods"),
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = validated(&run);
    assert!(
        outcomes["PriorityClass critical"]["message"]
            .as_str()
            .unwrap()
            .contains("'summary' was unexpected"),
        "{}",
        outcomes["PriorityClass critical"]
    );
}

/// Objects whose verdict depends on the release: a FlowSchema of an API version removed
/// in 1.32, and a Deployment with pod-level resources (a field since 1.32).
const RELEASE_DEPENDENT: &str = "\
apiVersion: flowcontrol.apiserver.k8s.io/v1beta3
kind: FlowSchema
metadata: {name: health}
spec:
  priorityLevelConfiguration: {name: exempt}
  matchingPrecedence: 1
  rules:
  - nonResourceRules: [{verbs: ['*'], nonResourceURLs: [/healthz]}]
    subjects: [{kind: Group, group: {name: 'system:unauthenticated'}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      resources: {limits: {cpu: '1'}}
      containers: [{name: web, image: 'nginx:1.27'}]
";

/// Every release from 1.25 is built in: `--kubernetes-version 1.29` works offline, with no
/// schema directory, and judges by 1.29's schemas and API lifecycle.
#[test]
fn older_releases_are_built_in() {
    let dir = tempfile::tempdir().unwrap();
    let validate = |extra: &[&str]| {
        let mut args = vec!["validate", "--output", "json"];
        args.extend_from_slice(extra);
        args.push("-");
        support::policyrun_stdin(dir.path(), &args, RELEASE_DEPENDENT)
    };

    let run = validate(&["--kubernetes-version", "1.29"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = validated(&run);
    let flow = &outcomes["FlowSchema health"];
    assert_eq!(flow["status"], "warning", "{flow}");
    assert!(
        flow["message"]
            .as_str()
            .unwrap()
            .contains("deprecated since Kubernetes 1.29"),
        "{flow}"
    );
    let web = &outcomes["Deployment web"];
    assert_eq!(web["status"], "failed", "{web}");
    assert!(
        web["message"]
            .as_str()
            .unwrap()
            .contains("'resources' was unexpected"),
        "{web}"
    );

    // The default release, 1.35: the other way round.
    let run = validate(&[]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = validated(&run);
    let flow = &outcomes["FlowSchema health"];
    assert_eq!(flow["status"], "failed", "{flow}");
    assert!(
        flow["message"]
            .as_str()
            .unwrap()
            .contains("removed in Kubernetes 1.32"),
        "{flow}"
    );
    assert_eq!(outcomes["Deployment web"]["status"], "passed");

    // A release that is not built in, without a schema directory, is a usage error that
    // says which are.
    for release in ["1.24", "1.38"] {
        let run = validate(&["--kubernetes-version", release]);
        assert_eq!(run.code, 2, "{release}: {}{}", run.stdout, run.stderr);
        assert!(
            run.stderr.contains("built in: 1.25 to 1.37"),
            "{release}: {}",
            run.stderr
        );
    }
}

/// Clusters are upgraded one at a time: `[cluster.schema] kubernetes_version` checks one
/// cluster's objects against its own release, and `--kubernetes-version` every cluster's.
#[test]
fn each_cluster_is_checked_against_its_own_release() {
    let repo = fixture("schema-releases");
    let by_cluster = |run: &support::Run| -> BTreeMap<(String, String), String> {
        let doc: Value = serde_json::from_str(&run.stdout).unwrap();
        doc["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["stage"] == "schema" && o["check"] == "schema")
            .map(|o| {
                let key = (
                    o["cluster"].as_str().unwrap().to_owned(),
                    o["object"]["kind"].as_str().unwrap().to_owned(),
                );
                (key, o["status"].as_str().unwrap().to_owned())
            })
            .collect()
    };
    let expect = |pairs: [(&str, &str, &str); 4]| -> BTreeMap<(String, String), String> {
        pairs
            .iter()
            .map(|(c, k, s)| ((c.to_string(), k.to_string()), s.to_string()))
            .collect()
    };
    let run = policyrun(repo.path(), &["--output", "json"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        by_cluster(&run),
        expect([
            ("old", "FlowSchema", "warning"),
            ("old", "Deployment", "failed"),
            ("new", "FlowSchema", "failed"),
            ("new", "Deployment", "passed"),
        ])
    );
    let run = policyrun(
        repo.path(),
        &["--output", "json", "--kubernetes-version", "1.36"],
    );
    assert_eq!(
        by_cluster(&run),
        expect([
            ("old", "FlowSchema", "failed"),
            ("old", "Deployment", "passed"),
            ("new", "FlowSchema", "failed"),
            ("new", "Deployment", "passed"),
        ])
    );
    // A cluster's release that is not built in is a usage error naming the key.
    let config = repo.path().join("policyrun.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(&config, text.replace("\"1.29\"", "\"1.21\"")).unwrap();
    let run = policyrun(repo.path(), &[]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains(
            "cluster[0].schema.kubernetes_version: Kubernetes 1.21 is not built in (built in: 1.25 to 1.37)"
        ),
        "{}",
        run.stderr
    );
}

/// An object's own fields may be null, as in kubernetes-validate's schema of each kind (the
/// API server decodes a null as no value): `value: null` passed there and failed here.
/// Deeper down null is still refused where the type does not allow it.
#[test]
fn top_level_fields_may_be_null_as_in_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let run = support::policyrun_stdin(
        dir.path(),
        &["validate", "--output", "json", "-"],
        "\
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: critical}
value: null
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: web}
spec:
  ports: [{port: null}]
",
    );
    let outcomes = validated(&run);
    assert_eq!(
        outcomes["PriorityClass critical"]["status"], "passed",
        "{}",
        outcomes["PriorityClass critical"]
    );
    let service = &outcomes["Service web"];
    assert_eq!(service["status"], "failed", "{service}");
    assert!(
        service["message"]
            .as_str()
            .unwrap()
            .contains("/spec/ports/0/port: null is not of type \"integer\""),
        "{service}"
    );
}
