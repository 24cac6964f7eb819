//! `policyrun review` and `check --review-base` through the binary, on pairs of base and head
//! made from `testdata/review`: a git repository whose one stack is built from knobs in
//! `lib/params.libsonnet`. The base is committed; a test turns knobs, regenerates the tree
//! with `policyrun expand` and reads the review. Each risk flag fires on its own case and
//! stays quiet on a harmless change; Secret values appear in no output.

use crate::support;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use serde_json::Value;
use support::{assert_valid_junit, edit_file, fixture, git, policyrun};

const PARAMS: &str = "lib/params.libsonnet";
const BASE_PASSWORD: &str = "base-password-7f3a";

/// The fixture as a git repository with the base committed on `main`.
fn base() -> tempfile::TempDir {
    let dir = fixture("review");
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "base"]);
    dir
}

/// Applies the edits to the knobs (or any file) and regenerates the tree.
fn change(root: &Path, edits: &[(&str, &str, &str)]) {
    for (path, from, to) in edits {
        edit_file(root, path, from, to);
    }
    let run = policyrun(root, &["expand"]);
    assert_eq!(run.code, 0, "expand: {}\n{}", run.stdout, run.stderr);
}

/// `policyrun review --base main -o json`: its exit code and document.
fn review(root: &Path) -> (i32, Value) {
    let run = policyrun(root, &["review", "--base", "main", "-o", "json"]);
    assert!(run.code <= 1, "review: {}\n{}", run.stdout, run.stderr);
    let doc = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", run.stdout, run.stderr));
    (run.code, doc)
}

/// Every (rule, object, clusters) the review flags, from its groups.
fn flags(doc: &Value) -> BTreeSet<(String, String, String)> {
    let mut found = BTreeSet::new();
    for group in doc["review"]["groups"].as_array().unwrap() {
        let key = &group["key"];
        let object = match key["namespace"].as_str() {
            Some(ns) => format!(
                "{} {ns}/{}",
                key["kind"].as_str().unwrap(),
                key["name"].as_str().unwrap()
            ),
            None => format!(
                "{} {}",
                key["kind"].as_str().unwrap(),
                key["name"].as_str().unwrap()
            ),
        };
        for part in group["parts"].as_array().unwrap() {
            let clusters: Vec<&str> = part["clusters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect();
            for risk in part["risks"].as_array().unwrap() {
                found.insert((
                    risk["rule"].as_str().unwrap().to_owned(),
                    object.clone(),
                    clusters.join(","),
                ));
            }
        }
    }
    found
}

fn everywhere(rule: &str, object: &str) -> (String, String, String) {
    (rule.to_owned(), object.to_owned(), "dev,int,web".to_owned())
}

#[test]
fn each_risk_flag_fires_on_its_case_and_a_harmless_change_flags_nothing() {
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
    );
    let cases: &[Case] = &[
        (
            "roleVerbs: ['get']",
            "roleVerbs: ['get', 'list']",
            "a role granting another verb",
            &[("rbac-widened", "ClusterRole shop-reader")],
        ),
        (
            "bindingRole: 'shop-reader'",
            "bindingRole: 'cluster-admin'",
            "a binding moved to cluster-admin",
            &[("rbac-widened", "ClusterRoleBinding shop")],
        ),
        (
            "securityContext: {}",
            "securityContext: { privileged: true }",
            "a privileged container",
            &[("privileges-added", "Deployment shop/web")],
        ),
        (
            "hostNetwork: false",
            "hostNetwork: true",
            "the host's network",
            &[("privileges-added", "Deployment shop/web")],
        ),
        (
            "image: 'nginx:1.25.3'",
            "image: 'nginx:1.27.0'",
            "an image bump",
            &[("image-changed", "Deployment shop/web")],
        ),
        (
            "image: 'nginx:1.25.3'",
            "image: 'nginx:latest'",
            "an unpinned image",
            &[
                ("image-changed", "Deployment shop/web"),
                ("image-unpinned", "Deployment shop/web"),
            ],
        ),
        (
            "replicas: 2",
            "replicas: 0",
            "a workload scaled to zero",
            &[("replicas-zero", "Deployment shop/web")],
        ),
        (
            "serviceType: 'ClusterIP'",
            "serviceType: 'LoadBalancer'",
            "a public load balancer",
            &[("service-public", "Service shop/web")],
        ),
        (
            "secretPassword: 'base-password-7f3a'",
            "secretPassword: 'head-password-c41d'",
            "a Secret's value",
            &[("secret-touched", "Secret shop/credentials")],
        ),
        (
            "withWorker: true",
            "withWorker: false",
            "a deleted workload",
            &[("object-deleted", "Deployment shop/worker")],
        ),
        (
            "crdVersions: ['v1']",
            "crdVersions: ['v2']",
            "a CRD version replaced",
            &[(
                "crd-changed",
                "CustomResourceDefinition carts.shop.example.com",
            )],
        ),
        (
            "namespaceLabels: { team: 'shop' }",
            "namespaceLabels: { team: 'shop', 'pod-security.kubernetes.io/enforce': 'privileged' }",
            "a Namespace's labels",
            &[("namespace-changed", "Namespace shop")],
        ),
        (
            "logLevel: 'info'",
            "logLevel: 'debug'",
            "a harmless configuration change",
            &[],
        ),
    ];
    for (from, to, what, expected) in cases {
        let repo = base();
        change(repo.path(), &[(PARAMS, from, to)]);
        let (_, doc) = review(repo.path());
        let expected: BTreeSet<_> = expected.iter().map(|(r, o)| everywhere(r, o)).collect();
        assert_eq!(flags(&doc), expected, "{what}: {doc:#}");
        assert!(
            !doc["review"]["changes"].as_array().unwrap().is_empty(),
            "{what}: no change found"
        );
    }
}

#[test]
fn secret_values_appear_in_no_output_even_where_copied() {
    let repo = base();
    let root = repo.path();
    let new_password = "head-password-c41d";
    // The new value is copied into a ConfigMap and an environment variable too.
    change(
        root,
        &[
            (
                PARAMS,
                "secretPassword: 'base-password-7f3a'",
                "secretPassword: 'head-password-c41d'",
            ),
            (PARAMS, "logLevel: 'info'", "logLevel: 'head-password-c41d'"),
        ],
    );
    let out = tempfile::tempdir().unwrap();
    let junit = out.path().join("gate.xml");
    let written = out.path().join("review.md");
    let written_json = out.path().join("review.json");
    let mut outputs = Vec::new();
    for output in ["human", "json", "markdown"] {
        let run = policyrun(root, &["review", "--base", "main", "-o", output, "-v"]);
        assert!(run.code <= 1, "{output}: {}", run.stderr);
        outputs.push((format!("review -o {output}"), run.stdout + &run.stderr));
    }
    for output in ["human", "json", "table", "tap", "sarif", "markdown"] {
        let run = policyrun(
            root,
            &[
                "check",
                "--review-base",
                "main",
                "-o",
                output,
                "-v",
                "--junit",
                junit.to_str().unwrap(),
            ],
        );
        assert!(run.code <= 1, "{output}: {}", run.stderr);
        outputs.push((format!("check -o {output}"), run.stdout + &run.stderr));
        outputs.push((
            format!("junit with -o {output}"),
            fs::read_to_string(&junit).unwrap(),
        ));
    }
    for path in [&written, &written_json] {
        let run = policyrun(
            root,
            &[
                "check",
                "--review-base",
                "main",
                "--review-out",
                path.to_str().unwrap(),
            ],
        );
        assert!(run.code <= 1, "{}", run.stderr);
        outputs.push((
            path.display().to_string(),
            fs::read_to_string(path).unwrap(),
        ));
    }
    let encoded = |text: &str| data_encoding_base64(text);
    for (what, text) in &outputs {
        for secret in [
            BASE_PASSWORD.to_owned(),
            new_password.to_owned(),
            encoded(BASE_PASSWORD),
            encoded(new_password),
        ] {
            assert!(!text.contains(&secret), "{what} shows {secret}:\n{text}");
        }
    }
    let markdown = &outputs[2].1;
    assert!(
        markdown.contains("Secret value password changed (hidden)"),
        "{markdown}"
    );
}

/// Standard base64, as a Secret's `data` holds values (the tests do not link an encoder).
fn data_encoding_base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn the_same_change_in_three_clusters_is_said_once_and_a_cluster_that_differs_apart() {
    let repo = base();
    let root = repo.path();
    change(
        root,
        &[
            (PARAMS, "image: 'nginx:1.25.3'", "image: 'nginx:1.27.0'"),
            (
                "clusters/dev/shop.jsonnet",
                "(import 'params.libsonnet')",
                "((import 'params.libsonnet') + { replicas: 1 })",
            ),
        ],
    );
    let (_, doc) = review(root);
    let groups = doc["review"]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{doc:#}");
    let parts: Vec<Vec<&str>> = groups[0]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["clusters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(parts, [vec!["dev"], vec!["int", "web"]], "{doc:#}");
    let run = policyrun(root, &["review", "--base", "main", "-o", "markdown"]);
    assert!(
        run.stdout
            .contains("`Deployment shop/web` — dev: replicas 2 → 1; container web: image nginx:1.25.3 → 1.27.0 · int and web: container web: image nginx:1.25.3 → 1.27.0"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_library_change_shows_every_affected_object_in_every_cluster() {
    let repo = base();
    change(
        repo.path(),
        &[("lib/shop.libsonnet", "memory: '256Mi'", "memory: '512Mi'")],
    );
    let (code, doc) = review(repo.path());
    assert_eq!(code, 0);
    let changed: BTreeSet<(String, String)> = doc["review"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["change"], "changed");
            assert_eq!(
                c["fields"][0]["text"],
                format!(
                    "container {}: memory limit 256Mi → 512Mi",
                    c["key"]["name"].as_str().unwrap()
                )
            );
            // The field's line in the generated file is where the new value is.
            let file = repo.path().join(c["file"].as_str().unwrap());
            let line = c["fields"][0]["line"].as_u64().unwrap() as usize;
            let text = fs::read_to_string(&file).unwrap();
            assert_eq!(
                text.lines().nth(line - 1).unwrap().trim(),
                "\"memory\": \"512Mi\"",
                "{}:{line}",
                file.display()
            );
            (
                c["cluster"].as_str().unwrap().to_owned(),
                c["key"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = ["dev", "int", "web"]
        .iter()
        .flat_map(|c| ["web", "worker"].map(|n| (c.to_string(), n.to_owned())))
        .collect();
    assert_eq!(changed, expected);
}

#[test]
fn the_gates_findings_on_what_changed_come_first_and_decide_the_exit() {
    let repo = base();
    let root = repo.path();
    change(
        root,
        &[(
            PARAMS,
            "securityContext: {}",
            "securityContext: { privileged: true }",
        )],
    );
    let (code, doc) = review(root);
    assert_eq!(code, 1, "a privileged container fails the baseline level");
    let findings = doc["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["object"]["name"] == "web"
            && f["object"]["kind"] == "Deployment"
            && f["check"].as_str().unwrap().contains("privileged")
            && f["status"] == "failed"),
        "{doc:#}"
    );
    assert_eq!(doc["findings_elsewhere"], 0);
    let run = policyrun(root, &["review", "--base", "main", "-o", "markdown"]);
    let findings_at = run.stdout.find("Gate findings on what changed").unwrap();
    let risks_at = run.stdout.find("Risk flags").unwrap();
    assert!(findings_at < risks_at, "{}", run.stdout);
}

#[test]
fn check_writes_the_review_beside_its_report_and_junit_has_it() {
    let repo = base();
    let root = repo.path();
    change(
        root,
        &[(PARAMS, "roleVerbs: ['get']", "roleVerbs: ['get', '*']")],
    );
    let out = tempfile::tempdir().unwrap();
    let junit = out.path().join("gate.xml");
    let markdown = out.path().join("review.md");
    let run = policyrun(
        root,
        &[
            "check",
            "--review-base",
            "main",
            "--review-out",
            markdown.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "risk flags warn, never fail: {}", run.stdout);
    assert!(run.stdout.contains("[rbac-widened]"), "{}", run.stdout);
    let text = fs::read_to_string(&markdown).unwrap();
    assert!(
        text.contains("**RBAC widened**") && text.contains("<details>"),
        "{text}"
    );
    let xml = fs::read_to_string(&junit).unwrap();
    assert_valid_junit(&xml);
    assert!(xml.contains("rbac-widened"), "{xml}");
    // The review is one suite, its testcases named by cluster.
    assert_eq!(
        xml.matches("<testsuite name=\"review\"").count(),
        1,
        "{xml}"
    );
    for cluster in ["dev", "int", "web"] {
        assert!(
            xml.contains(&format!(
                "<testcase name=\"{cluster}: ClusterRole shop-reader\" classname=\"policyrun.review\""
            )),
            "{xml}"
        );
    }
    // --changed-since names the base too.
    let run = policyrun(root, &["check", "--changed-since", "main"]);
    assert!(run.stdout.contains("[rbac-widened]"), "{}", run.stdout);
}

#[test]
fn hostile_text_cannot_break_out_of_the_markdown() {
    let repo = base();
    let root = repo.path();
    change(
        root,
        &[(
            PARAMS,
            "logLevel: 'info'",
            "logLevel: '</details><img src=x> @everyone [x](http://e)'",
        )],
    );
    let run = policyrun(root, &["review", "--base", "main", "-o", "markdown"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let md = run.stdout;
    // Code spans show their text as it is (no tag, link or mention in them); outside them
    // nothing of it may be markup.
    let prose: String = md
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, text)| text)
        .collect();
    assert_eq!(prose.matches("</details>").count(), 1, "{md}");
    let unescaped = prose.replace("\\<", "");
    assert!(
        !unescaped.contains("<img") && !prose.contains("@everyone"),
        "{md}"
    );
    assert!(!prose.contains("[x](http"), "{md}");
}

#[test]
fn a_review_without_a_base_or_with_an_unknown_one_is_a_usage_error() {
    let repo = base();
    let root = repo.path();
    let run = policyrun(root, &["review"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--base REF"), "{}", run.stderr);
    let run = policyrun(root, &["review", "--base", "no-such-branch"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("review --base no-such-branch: no such commit"),
        "{}",
        run.stderr
    );
    let run = policyrun(root, &["check", "-o", "markdown"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--review-base REF"), "{}", run.stderr);
    // Nothing changed: the review says so.
    let run = policyrun(root, &["review", "--base", "main"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("no object changes"), "{}", run.stdout);
}

/// The README's review is this repository's own, for the change it describes: the same
/// edits to a copy, the same output (the base commit's hash apart).
#[test]
fn the_readme_shows_the_review_of_a_real_change() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    let source = support::manifest_dir();
    for part in ["lib", "common", "clusters", "generated", "policies"] {
        support::copy_tree(&source.join(part), &root.join(part));
    }
    fs::copy(source.join("policyrun.toml"), root.join("policyrun.toml")).unwrap();
    git(root, &["init", "-q"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "base"]);
    change(
        root,
        &[
            (
                "common/logging.jsonnet",
                "elastic_version:: '7.17.25'",
                "elastic_version:: '7.17.26'",
            ),
            (
                "common/logging.jsonnet",
                "resources: ['pods', 'namespaces'], verbs",
                "resources: ['pods', 'namespaces', 'secrets'], verbs",
            ),
        ],
    );
    let run = policyrun(root, &["review", "--base", "main", "-o", "markdown"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = &run.stdout[..run.stdout.find("<details>").unwrap()];
    let readme = fs::read_to_string(source.join("README.md")).unwrap();
    let section = &readme[readme.find("## What a reviewer reads").unwrap()..];
    let start = section.find("```markdown\n").unwrap() + "```markdown\n".len();
    let shown = &section[start..start + section[start..].find("```\n").unwrap()];
    let without_hash = |text: &str| {
        let at = text.find("Compared with `main` (`").unwrap() + "Compared with `main` (`".len();
        format!("{}{}", &text[..at], &text[at + 12..])
    };
    assert_eq!(
        without_hash(shown).trim_end(),
        without_hash(summary).trim_end(),
        "README.md's review is not what the binary writes"
    );
}

#[test]
fn a_generated_file_turned_into_a_link_is_not_reviewed_and_not_read_as_removed() {
    let repo = base();
    let root = repo.path();
    let file = root.join("generated/dev/shop/settings.json");
    fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &file).unwrap();
    let (_, doc) = review(root);
    assert!(
        doc["review"]["changes"].as_array().unwrap().is_empty(),
        "{doc:#}"
    );
    let unreadable = doc["review"]["unreadable"].to_string();
    assert!(unreadable.contains("symbolic link"), "{doc:#}");
    assert!(
        !doc.to_string().contains("root:x:0"),
        "the link was followed"
    );
}
