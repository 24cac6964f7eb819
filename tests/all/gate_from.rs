//! A pull request cannot judge itself (issue 26): with `check --gate-from REF` it is judged by
//! the policies, waivers and gate settings of `REF` (the protected branch), and every way it
//! weakens that gate is a finding naming the change, which fails it unless approved. The
//! same edits, once on `REF`, are the gate.

use crate::support;

use std::path::Path;

use serde_json::Value;
use support::{copy_tree, git, manifest_dir, policyrun, write_file};

/// A repository with our own packs, two clusters (`int` at the restricted level) and one
/// privileged, host-network Deployment in `int`; committed, as `main`.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    copy_tree(&manifest_dir().join("policies"), &root.join("policies"));
    copy_tree(&manifest_dir().join("lib"), &root.join("lib"));
    write_file(
        root,
        "policyrun.toml",
        "[[cluster]]\nname = \"dev\"\n[cluster.policy]\npod_security = \"baseline\"\n\n[[cluster]]\nname = \"int\"\n[cluster.policy]\npod_security = \"restricted\"\n\n[policy]\nnamespaces = [\"namespace\", \"security\"]\nwaivers = [\"policies/waivers.yaml\"]\n\n[style]\nenabled = false\n",
    );
    write_file(
        root,
        "clusters/int/app.jsonnet",
        r#"{
  items_: {
    ns: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } },
    deploy: {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'apps' },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            hostNetwork: true,
            containers: [{ name: 'web', image: 'registry.example.com/web:1.0', securityContext: { privileged: true } }],
          },
        },
      },
    },
  },
}
"#,
    );
    std::fs::create_dir_all(root.join("clusters/dev")).unwrap();
    let run = policyrun(root, &["expand"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    git(root, &["init", "-q"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "main"]);
    git(root, &["branch", "-f", "gate-main", "HEAD"]);
    dir
}

fn check(root: &Path, extra: &[&str]) -> (i32, Vec<Value>) {
    let mut args = vec!["check", "--no-cache", "--output", "json"];
    args.extend_from_slice(extra);
    let run = policyrun(root, &args);
    let doc: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", run.stdout, run.stderr));
    (run.code, doc["outcomes"].as_array().unwrap().clone())
}

fn findings(outcomes: &[Value]) -> Vec<&Value> {
    outcomes
        .iter()
        .filter(|o| o["check"] == "gate-change")
        .collect()
}

fn failed(outcomes: &[Value], check: &str) -> bool {
    outcomes
        .iter()
        .any(|o| o["check"] == check && o["status"] == "failed")
}

/// One way of weakening the gate from the pull request's side: what it is, the edit, and what
/// the finding must say.
type Weakening = (&'static str, Box<dyn Fn(&Path)>, &'static str);

/// Each way the issue names.
fn weakenings() -> Vec<Weakening> {
    vec![
        (
            "renaming a rule away",
            Box::new(|root: &Path| {
                support::edit_file(
                    root,
                    "policies/security/security.rego",
                    "deny_privileged contains msg if {",
                    "deny_privileged_renamed contains msg if {",
                )
            }),
            "removes rules security.deny_privileged",
        ),
        (
            "a waiver that never expires",
            Box::new(|root: &Path| {
                let mut text = std::fs::read_to_string(root.join("policies/waivers.yaml")).unwrap();
                text.push_str("- rule: security.deny_privileged\n  kind: Deployment\n  namespace: apps\n  name: web\n  reason: needed\n  owner: me\n  expires: 9999-12-31\n");
                write_file(root, "policies/waivers.yaml", &text);
            }),
            "adds a waiver of rule security.deny_privileged for Deployment apps web until 9999-12-31",
        ),
        (
            "dropping a package from the selection",
            Box::new(|root: &Path| {
                support::edit_file(
                    root,
                    "policyrun.toml",
                    "namespaces = [\"namespace\", \"security\"]",
                    "namespaces = [\"namespace\"]",
                )
            }),
            "changes [policy] namespaces: [\"namespace\", \"security\"] -> [\"namespace\"]",
        ),
        (
            "a directory of no-op packages",
            Box::new(|root: &Path| {
                write_file(
                    root,
                    "lax/security.rego",
                    "package security\nimport rego.v1\ndeny_nothing contains \"x\" if false\n",
                );
                write_file(
                    root,
                    "lax/namespace.rego",
                    "package namespace\nimport rego.v1\ndeny_nothing contains \"x\" if false\n",
                );
                support::edit_file(
                    root,
                    "policyrun.toml",
                    "[policy]\n",
                    "[policy]\ndirs = [\"lax\"]\n",
                );
            }),
            "leaves the gate",
        ),
        (
            "a waiver annotation on the object itself",
            Box::new(|root: &Path| {
                support::edit_file(
                    root,
                    "clusters/int/app.jsonnet",
                    "metadata: { name: 'web', namespace: 'apps' },",
                    "metadata: { name: 'web', namespace: 'apps', annotations: { 'policyrun.io/waivers': '[{\"rule\": \"security.deny_privileged\", \"reason\": \"x\", \"owner\": \"me\", \"expires\": \"9999-12-31\"}]' } },",
                );
                let run = policyrun(root, &["expand"]);
                assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
            }),
            "a waiver of rule security.deny_privileged until 9999-12-31 on the object itself",
        ),
        (
            "skipping a kind's schema",
            Box::new(|root: &Path| {
                let mut text = std::fs::read_to_string(root.join("policyrun.toml")).unwrap();
                text.push_str("\n[schema]\nskip = [\"Deployment\"]\n");
                write_file(root, "policyrun.toml", &text);
            }),
            "sets [schema] skip: (not set) -> [\"Deployment\"]",
        ),
        (
            "lowering a cluster's Pod Security level",
            Box::new(|root: &Path| {
                support::edit_file(
                    root,
                    "policyrun.toml",
                    "pod_security = \"restricted\"",
                    "pod_security = \"privileged\"",
                )
            }),
            "changes cluster int [cluster.policy] pod_security: \"restricted\" -> \"privileged\"",
        ),
    ]
}

#[test]
fn a_pull_request_that_weakens_its_gate_fails_with_a_finding_naming_the_change() {
    for (what, edit, said) in weakenings() {
        let dir = repository();
        let root = dir.path();
        let (code, before) = check(root, &["--gate-from", "gate-main"]);
        assert_eq!(code, 1, "{what}: the Deployment fails as it is");
        assert!(findings(&before).is_empty(), "{what}: {before:#?}");
        edit(root);
        // Its own gate would let it weaken the verdict; the protected branch's does not.
        let (code, outcomes) = check(root, &["--gate-from", "gate-main"]);
        assert_eq!(code, 1, "{what}");
        let found = findings(&outcomes);
        assert!(
            found
                .iter()
                .any(|f| f["status"] == "failed" && f["message"].as_str().unwrap().contains(said)),
            "{what}: no failed finding saying {said:?}: {found:#?}"
        );
        assert!(
            failed(&outcomes, "security.deny_privileged")
                || failed(&outcomes, "security.deny_host_namespaces"),
            "{what}: judged by main's gate, the Deployment still fails: {outcomes:#?}"
        );
        // Approved, the change is judged by the gate it brings, and says so as a warning.
        let (_, approved) = check(
            root,
            &["--gate-from", "gate-main", "--gate-changes-approved"],
        );
        let warned = findings(&approved);
        assert!(
            !warned.is_empty() && warned.iter().all(|f| f["status"] == "warning"),
            "{what}: {warned:#?}"
        );
        // Once on the protected branch, the edit is the gate: nothing to report.
        git(root, &["add", "-A"]);
        git(root, &["commit", "-q", "-m", "approved"]);
        git(root, &["branch", "-f", "gate-main", "HEAD"]);
        let (_, merged) = check(root, &["--gate-from", "gate-main"]);
        assert!(findings(&merged).is_empty(), "{what}: {merged:#?}");
    }
}

/// Built-in packs come from the judge's binary (issue 27): a pull request that drops one
/// from `[policy] packs` is a finding naming the rules it would stop, and is still judged
/// by them.
#[test]
fn dropping_a_built_in_pack_is_a_gate_change_naming_its_rules() {
    let dir = repository();
    let root = dir.path();
    support::edit_file(
        root,
        "policyrun.toml",
        "namespaces = [\"namespace\", \"security\"]",
        "packs = [\"namespace\", \"security\"]\ndirs = []",
    );
    git(root, &["commit", "-q", "-am", "built-in packs"]);
    git(root, &["branch", "-f", "gate-main", "HEAD"]);
    let (code, before) = check(root, &["--gate-from", "gate-main"]);
    assert_eq!(code, 1, "the Deployment fails as it is: {before:#?}");
    assert!(findings(&before).is_empty(), "{before:#?}");
    let privileged = before
        .iter()
        .find(|o| o["check"] == "security.deny_privileged" && o["status"] == "failed")
        .expect("the built-in pack judges the Deployment");
    assert!(
        privileged["detail"]
            .as_str()
            .unwrap()
            .contains("<built-in>/security/security.rego:"),
        "{privileged:#?}"
    );

    support::edit_file(
        root,
        "policyrun.toml",
        "packs = [\"namespace\", \"security\"]",
        "packs = [\"namespace\"]",
    );
    let (code, outcomes) = check(root, &["--gate-from", "gate-main"]);
    assert_eq!(code, 1);
    let found = findings(&outcomes);
    assert!(
        found.iter().any(|f| f["status"] == "failed"
            && f["message"].as_str().unwrap().starts_with(
                "changes [policy] packs: [\"namespace\", \"security\"] -> [\"namespace\"]: removes rules security."
            )),
        "{found:#?}"
    );
    assert!(
        failed(&outcomes, "security.deny_privileged"),
        "judged by main's gate, the Deployment still fails: {outcomes:#?}"
    );
}

#[test]
fn an_unknown_revision_or_one_without_a_configuration_is_a_usage_error() {
    let dir = repository();
    let root = dir.path();
    let run = policyrun(root, &["check", "--gate-from", "no-such-branch"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("no such commit"), "{}", run.stderr);
    let run = policyrun(root, &["check", "--gate-changes-approved"]);
    assert_eq!(run.code, 2, "approval means nothing without --gate-from");
    // The gate's files are read from git, never checked out: the work tree stays.
    support::edit_file(root, "policies/waivers.yaml", "#", "# edited\n#");
    let status = git(root, &["status", "--porcelain"]);
    let _ = check(root, &["--gate-from", "gate-main"]);
    assert_eq!(git(root, &["status", "--porcelain"]).stdout, status.stdout);
}
