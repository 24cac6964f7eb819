//! `validate` and `test` as drop-ins for kubeconform and conftest steps: the real binary on
//! fixtures under `testdata/` written for what those pipelines feed them (a repository
//! whose jsonnet tree is not checked out, empty manifests, generated names, reports piped
//! into other tools).

mod support;

use std::fs;

use serde_json::Value;
use support::{edit_file, fixture, outcome_list, policyrun};

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
