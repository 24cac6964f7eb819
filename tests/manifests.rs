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
