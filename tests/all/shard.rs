//! `check --shard K/N` on the example repository, clean and with every kind of problem
//! that involves more than one entry: the shards' results together are exactly one whole
//! run's, each outcome reported by exactly one shard.

use crate::support;

use std::fs;
use std::path::Path;

use serde_json::Value;
use support::{copy_tree, manifest_dir, policyrun};

/// A copy of the example repository (sources, committed JSON, policies, configuration).
fn example() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for part in ["lib", "common", "clusters", "generated", "policies"] {
        copy_tree(&manifest_dir().join(part), &dir.path().join(part));
    }
    fs::copy(
        manifest_dir().join("policyrun.toml"),
        dir.path().join("policyrun.toml"),
    )
    .unwrap();
    dir
}

/// Every outcome of a run as canonical JSON text, sorted: a multiset to compare.
fn outcomes(repo: &Path, extra: &[&str]) -> (i32, Vec<String>) {
    let mut args = vec!["check", "--output", "json"];
    args.extend(extra);
    let run = policyrun(repo, &args);
    assert!(run.code <= 1, "{}{}", run.stdout, run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    let mut all: Vec<String> = doc["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.to_string())
        .collect();
    all.sort();
    (run.code, all)
}

fn assert_shards_add_up(repo: &Path, count: usize) -> Vec<String> {
    let (code, whole) = outcomes(repo, &[]);
    let mut union = Vec::new();
    let mut codes = Vec::new();
    for k in 1..=count {
        let shard = format!("{k}/{count}");
        let (code, part) = outcomes(repo, &["--shard", &shard]);
        assert!(
            !part.is_empty() || count > 3,
            "shard {shard} checked nothing"
        );
        codes.push(code);
        union.extend(part);
    }
    union.sort();
    assert_eq!(union.len(), whole.len(), "as many outcomes as one run");
    assert!(union == whole, "the shards' outcomes differ from one run's");
    // The build fails when any shard fails, exactly when one run would.
    assert_eq!(codes.iter().max().copied(), Some(code), "{codes:?}");
    whole
}

#[test]
fn the_shards_of_a_clean_tree_add_up_to_one_run() {
    let repo = example();
    for count in [1, 2, 3, 5] {
        assert_shards_add_up(repo.path(), count);
    }
}

#[test]
fn the_shards_of_a_broken_tree_add_up_to_one_run() {
    let repo = example();
    let root = repo.path();
    // A stale committed file.
    let stale = root.join("generated/dev/squid/config.json");
    let text = fs::read_to_string(&stale).unwrap();
    fs::write(&stale, text.replacen("\"", "\"x", 3)).unwrap();
    // Orphans: of a deleted entry, of a deleted item, and of a removed cluster.
    for orphan in [
        "generated/int/removed-stack/deployment.json",
        "generated/web/old-entry.json",
        "generated/dev/squid/removed-item.json",
        "generated/prod/app/x.json",
    ] {
        fs::create_dir_all(root.join(orphan).parent().unwrap()).unwrap();
        fs::write(root.join(orphan), "{}\n").unwrap();
    }
    // An entry that produces the same objects as another: duplicates across entries (and
    // its files are not committed).
    fs::write(
        root.join("clusters/dev/squid-copy.jsonnet"),
        fs::read_to_string(root.join("clusters/dev/squid.jsonnet")).unwrap(),
    )
    .unwrap();
    // A waiver that matches nothing, and one for an object only some shards own.
    let waivers = root.join("policies/waivers.yaml");
    let mut text = fs::read_to_string(&waivers).unwrap();
    text.push_str(
        "- rule: security.deny_latest_tag\n  kind: Deployment\n  namespace: nowhere\n  name: nothing\n  reason: test\n  owner: team-test\n  expires: 2099-01-01\n",
    );
    fs::write(&waivers, text).unwrap();

    let whole = assert_shards_add_up(root, 3);
    let has = |needle: &str| whole.iter().any(|o| o.contains(needle));
    assert!(has("stale"), "a stale file");
    assert!(has("removed-stack"), "an orphan");
    assert!(has("duplicate object"), "a duplicate");
    assert!(has("matches no failing result"), "an unused waiver");
}

#[test]
fn a_bad_shard_is_a_usage_error() {
    let repo = example();
    for bad in ["0/3", "4/3", "3", "x/y"] {
        let run = policyrun(repo.path(), &["check", "--shard", bad]);
        assert_eq!(run.code, 2, "{bad}: {}", run.stderr);
        assert!(run.stderr.contains("not a shard"), "{}", run.stderr);
    }
}
