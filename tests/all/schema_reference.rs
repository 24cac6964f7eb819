//! PyPI's kubernetes-validate is the reference for what the Kubernetes schemas mean:
//! policyrun's schema verdict must equal its verdict on every object, for every release built
//! in. `scripts/schema-reference` generates the objects from the reference's own, unstripped
//! definitions — for each kind an object that uses every field, and mutations of it (an
//! unknown field, a value of the wrong type, a required field missing, null where null is not
//! allowed) — and judges them; `policyrun validate --kubernetes-version X --output json`
//! judges the same objects, and only its `schema` check is compared (names, labels and
//! annotations are the `metadata` check's, beyond the schemas). Without kubernetes-validate
//! the test skips with a note, except under CI, which installs it (`.ci/run`).
//!
//! Every release is covered on every run, a sample of its kinds by default (the CI budget):
//! `POLICYRUN_SCHEMA_REFERENCE_KINDS=all` takes every kind (about a minute of Python),
//! a number takes that many per release, and `POLICYRUN_SCHEMA_REFERENCE_SEED` picks another
//! sample and other mutation sites.

use crate::support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Instant;

use serde_json::{Value, json};
use support::{manifest_dir, policyrun, required_in_ci};

/// Kinds per release by default: the whole run stays well inside a CI minute.
const DEFAULT_KINDS: &str = "24";
const DEFAULT_SEED: &str = "policyrun";
/// How many differences a failing comparison prints in full.
const SHOWN: usize = 10;

/// Whether kubernetes-validate imports; under CI its absence fails the test.
fn reference_available() -> bool {
    let probe = Command::new("python3")
        .args(["-c", "import kubernetes_validate"])
        .output();
    let found = match probe {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(String::from_utf8_lossy(&output.stderr)
            .lines()
            .last()
            .unwrap_or("python3 -c 'import kubernetes_validate' failed")
            .to_owned()),
        Err(e) => Err(format!("cannot run python3: {e}")),
    };
    required_in_ci(
        "kubernetes-validate",
        "python3 -m pip install kubernetes-validate==1.37.0",
        found,
    )
}

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// One generated object with the reference's verdict.
struct Case {
    release: String,
    mutation: String,
    object: Value,
    valid: bool,
    error: Option<String>,
}

/// policyrun's verdict on one object: valid (`passed`, `warning`) or not, and why.
struct Verdict {
    valid: bool,
    status: String,
    message: String,
}

#[test]
fn schema_verdicts_equal_the_reference_for_every_release() {
    if !reference_available() {
        return;
    }
    let kinds = setting("POLICYRUN_SCHEMA_REFERENCE_KINDS", DEFAULT_KINDS);
    let seed = setting("POLICYRUN_SCHEMA_REFERENCE_SEED", DEFAULT_SEED);
    let started = Instant::now();
    let output = Command::new("python3")
        .arg(manifest_dir().join("scripts/schema-reference"))
        .args(["cases", "--kinds", &kinds, "--seed", &seed])
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "scripts/schema-reference failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let generated: Value = serde_json::from_slice(&output.stdout).expect("JSON from the reference");
    eprintln!(
        "schema-reference: {} kinds per release, seed {seed:?}: generated and judged in {:.1} s",
        kinds,
        started.elapsed().as_secs_f64()
    );

    let work = tempfile::tempdir().unwrap();
    let mut compared = 0;
    let mut differences = Vec::new();
    let mut unfaithful = Vec::new();
    let releases = generated["releases"].as_object().expect("releases");
    assert_eq!(
        releases.keys().map(String::as_str).collect::<Vec<_>>(),
        (25..=37).map(|m| format!("1.{m}")).collect::<Vec<_>>(),
        "the reference and policyrun must cover the same releases"
    );
    for (release, found) in releases {
        let cases: BTreeMap<String, Case> = found["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let case = Case {
                    release: release.clone(),
                    mutation: c["mutation"].as_str().unwrap().to_owned(),
                    object: c["object"].clone(),
                    valid: c["valid"].as_bool().unwrap(),
                    error: c["error"].as_str().map(str::to_owned),
                };
                (c["name"].as_str().unwrap().to_owned(), case)
            })
            .collect();
        assert!(!cases.is_empty(), "{release}: no cases");
        // An object meant to use every field validly must be valid for the reference too,
        // or the generator, not policyrun, is what the comparison tests.
        unfaithful.extend(
            cases
                .iter()
                .filter(|(_, c)| c.mutation == "valid" && !c.valid)
                .map(|(name, c)| format!("{release} {name}: {:?}", c.error)),
        );
        let verdicts = policyrun_verdicts(work.path(), release, &cases);
        for (name, case) in &cases {
            compared += 1;
            match verdicts.get(name) {
                Some(verdict) if verdict.valid == case.valid => {}
                verdict => differences.push(describe(name, case, verdict)),
            }
        }
    }
    assert!(
        unfaithful.is_empty(),
        "the generator made objects the reference refuses (fix scripts/schema-reference):\n{}",
        unfaithful.join("\n")
    );
    eprintln!(
        "schema-reference: {compared} objects compared in {:.1} s, {} differences",
        started.elapsed().as_secs_f64(),
        differences.len()
    );
    assert!(
        differences.is_empty(),
        "{} of {compared} objects judged differently from kubernetes-validate \
         (POLICYRUN_SCHEMA_REFERENCE_KINDS={kinds}, POLICYRUN_SCHEMA_REFERENCE_SEED={seed}); the first {}:\n\n{}",
        differences.len(),
        SHOWN.min(differences.len()),
        differences
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}

/// `policyrun validate --kubernetes-version RELEASE` on every case (one Kubernetes List),
/// its schema verdict by object name.
fn policyrun_verdicts(
    work: &std::path::Path,
    release: &str,
    cases: &BTreeMap<String, Case>,
) -> BTreeMap<String, Verdict> {
    let list = json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": cases.values().map(|c| c.object.clone()).collect::<Vec<_>>(),
    });
    let file = work.join(format!("cases-{release}.json"));
    std::fs::write(&file, serde_json::to_vec(&list).unwrap()).unwrap();
    let run = policyrun(
        work,
        &[
            "validate",
            "--kubernetes-version",
            release,
            "--output",
            "json",
            file.to_str().unwrap(),
        ],
    );
    assert!(
        run.code == 0 || run.code == 1,
        "{release}: policyrun validate exited {}: {}",
        run.code,
        run.stderr
    );
    let report: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{release}: not JSON ({e}): {}", run.stderr));
    report["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["stage"] == "schema" && o["check"] == "schema")
        .filter_map(|o| {
            let name = o["object"]["name"].as_str()?.to_owned();
            let status = o["status"].as_str().unwrap_or_default().to_owned();
            let verdict = Verdict {
                valid: status == "passed" || status == "warning",
                message: format!(
                    "{} {}",
                    o["message"].as_str().unwrap_or_default(),
                    o["detail"].as_str().unwrap_or_default()
                )
                .trim()
                .to_owned(),
                status,
            };
            Some((name, verdict))
        })
        .collect()
}

/// One difference: the object, both verdicts and why each was reached.
fn describe(name: &str, case: &Case, verdict: Option<&Verdict>) -> String {
    let ours = match verdict {
        None => "no schema verdict at all".to_owned(),
        Some(v) if v.status == "error" || v.status == "skipped" => {
            format!("{} (no verdict): {}", v.status, v.message)
        }
        Some(v) => format!(
            "{} ({}){}",
            if v.valid { "valid" } else { "invalid" },
            v.status,
            if v.message.is_empty() {
                String::new()
            } else {
                format!(": {}", v.message)
            }
        ),
    };
    let reference = if case.valid {
        "valid".to_owned()
    } else {
        format!("invalid: {}", case.error.as_deref().unwrap_or_default())
    };
    format!(
        "Kubernetes {} {} {} ({}):\n  policyrun:          {ours}\n  kubernetes-validate: {reference}\n  object: {}",
        case.release,
        case.object["kind"].as_str().unwrap_or_default(),
        name,
        case.mutation,
        serde_json::to_string(&case.object).unwrap()
    )
}
