//! `check --changed-since REF`: the real binary on a git repository made from
//! `testdata/incremental` (six entries: dev/{db,ns,solo,web}, int/{ns,web}; the web
//! entries import common/web.jsonnet, which reads common/config/web.conf; web and db
//! import lib/app.libsonnet, which imports lib/names.libsonnet; ns and solo import nothing).

use crate::support;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use serde_json::Value;
#[cfg(unix)]
use support::{CHAINS, Chain, relink};
use support::{Run, fixture, policyrun};

struct Repo {
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
}

fn git(root: &Path, args: &[&str]) {
    support::git(root, args);
}

impl Repo {
    /// The fixture committed to a fresh git repository, and a cache warmed by a full run.
    fn new() -> Repo {
        let repo = Repo {
            dir: fixture("incremental"),
            cache: tempfile::tempdir().unwrap(),
        };
        git(repo.root(), &["init", "-q"]);
        git(repo.root(), &["add", "-A"]);
        git(repo.root(), &["commit", "-q", "-m", "fixture"]);
        let (run, doc) = repo.check(&[]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        assert_eq!(doc["expansion"]["cache_writes"], 6);
        repo
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn cache_arg(&self) -> &str {
        self.cache.path().to_str().unwrap()
    }

    fn check(&self, extra: &[&str]) -> (Run, Value) {
        let mut args = vec!["check", "--output", "json", "--cache-dir", self.cache_arg()];
        args.extend_from_slice(extra);
        let run = policyrun(self.root(), &args);
        let doc = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
        (run, doc)
    }

    /// `--changed-since REF`: the run, its report, and the entries it checked.
    fn since(&self, rev: &str) -> (Run, Value, BTreeSet<String>) {
        let (run, doc) = self.check(&["--changed-since", rev]);
        assert!(doc.is_object(), "{}{}", run.stdout, run.stderr);
        let checked = doc["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["check"] == "evaluate")
            .map(|o| {
                let entry = o["entry"].as_str().unwrap();
                entry
                    .trim_start_matches("clusters/")
                    .trim_end_matches(".jsonnet")
                    .to_owned()
            })
            .collect();
        assert_eq!(doc["expansion"]["changed_since"], rev);
        (run, doc, checked)
    }

    fn checked_after(&self, rev: &str) -> Vec<String> {
        self.since(rev).2.into_iter().collect()
    }

    fn write(&self, path: &str, text: &str) {
        support::write_file(self.root(), path, text);
    }

    fn edit(&self, path: &str, from: &str, to: &str) {
        support::edit_file(self.root(), path, from, to);
    }
}

#[test]
fn nothing_changed_checks_nothing_and_passes() {
    let repo = Repo::new();
    let (run, doc, checked) = repo.since("HEAD");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(checked.is_empty(), "{checked:?}");
    assert_eq!(doc["expansion"]["entries"], 6);
    assert_eq!(doc["expansion"]["checked"], 0);

    let run = policyrun(
        repo.root(),
        &["--changed-since", "HEAD", "--cache-dir", repo.cache_arg()],
    );
    assert_eq!(run.code, 0);
    assert!(
        run.stdout
            .contains("changed since HEAD: 0 of 6 entries checked, 6 skipped"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_library_reaches_every_entry_that_imports_it() {
    let repo = Repo::new();
    repo.edit("lib/names.libsonnet", "'app-'", "'app-' + ''");
    let (run, _, checked) = repo.since("HEAD");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        checked.into_iter().collect::<Vec<_>>(),
        ["dev/db", "dev/web", "int/web"]
    );
}

#[test]
fn a_common_stack_reaches_its_entries_only() {
    let repo = Repo::new();
    repo.edit("common/db.jsonnet", "'10Gi'", "'20Gi'");
    let (run, doc, checked) = repo.since("HEAD");
    assert_eq!(checked.into_iter().collect::<Vec<_>>(), ["dev/db"]);
    // The change makes the committed JSON stale: the checked entry fails as in a full run.
    assert_eq!(run.code, 1);
    assert!(doc.to_string().contains("stale"), "{}", run.stdout);
}

#[test]
fn one_cluster_file_reaches_itself() {
    let repo = Repo::new();
    repo.edit(
        "clusters/dev/solo.jsonnet",
        "// Imports",
        "// Still imports",
    );
    assert_eq!(repo.checked_after("HEAD"), ["dev/solo"]);
}

#[test]
fn an_importstr_file_reaches_its_readers() {
    let repo = Repo::new();
    repo.edit("common/config/web.conf", "4", "8");
    assert_eq!(repo.checked_after("HEAD"), ["dev/web", "int/web"]);
}

#[test]
fn committed_changes_count_from_the_revision() {
    let repo = Repo::new();
    repo.edit(
        "common/db.jsonnet",
        "// The database stack.",
        "// The database.",
    );
    git(repo.root(), &["commit", "-q", "-am", "db comment"]);
    // The cache's record of dev/db predates the change: its inputs are not known until it
    // is evaluated again, so it is checked even though HEAD has the change.
    assert_eq!(repo.checked_after("HEAD"), ["dev/db"]);
    assert!(repo.checked_after("HEAD").is_empty());
    assert_eq!(repo.checked_after("HEAD~1"), ["dev/db"]);
    assert_eq!(repo.checked_after("main~1"), ["dev/db"]);
}

#[test]
fn a_new_file_where_an_import_looked_reaches_the_importers() {
    let repo = Repo::new();
    // common/web.jsonnet imports 'app.libsonnet' from common/ first: a new file there
    // would be imported instead of lib's.
    let library = fs::read_to_string(repo.root().join("lib/app.libsonnet")).unwrap();
    repo.write("common/app.libsonnet", &library);
    assert_eq!(repo.checked_after("HEAD"), ["dev/db", "dev/web", "int/web"]);
}

#[test]
fn configuration_policies_and_schemas_reach_everything() {
    for path in ["policyrun.toml", "policies/extra.rego", "schemas/x.json"] {
        let repo = Repo::new();
        let full = repo.root().join(path);
        let mut text = fs::read_to_string(&full).unwrap_or_default();
        text.push_str(if path.ends_with(".rego") {
            "package extra\n"
        } else {
            "\n# changed\n"
        });
        repo.write(path, &text);
        let (run, doc, checked) = repo.since("HEAD");
        assert_eq!(checked.len(), 6, "{path}: {checked:?}");
        assert!(
            doc["expansion"]["notes"]
                .to_string()
                .contains("every entry is checked"),
            "{path}: {}",
            run.stdout
        );
    }
}

#[test]
fn new_and_deleted_entries() {
    let repo = Repo::new();
    let solo = fs::read_to_string(repo.root().join("clusters/dev/solo.jsonnet")).unwrap();
    repo.write(
        "clusters/int/extra.jsonnet",
        &solo.replace("'solo'", "'extra'"),
    );
    let (run, doc, checked) = repo.since("HEAD");
    assert_eq!(checked.into_iter().collect::<Vec<_>>(), ["int/extra"]);
    assert_eq!(run.code, 1, "its JSON is not committed yet");
    assert!(doc.to_string().contains("generated/int/extra/cm.json"));
    fs::remove_file(repo.root().join("clusters/int/extra.jsonnet")).unwrap();

    // A deleted entry whose generated files are still committed: they are orphans,
    // although no entry is checked.
    fs::remove_file(repo.root().join("clusters/dev/solo.jsonnet")).unwrap();
    let (run, doc, checked) = repo.since("HEAD");
    assert!(checked.is_empty(), "{checked:?}");
    assert_eq!(run.code, 1);
    let orphan = doc["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["subject"] == "generated/dev/solo/cm.json")
        .unwrap_or_else(|| panic!("no orphan outcome: {}", run.stdout));
    assert!(orphan["message"].as_str().unwrap().starts_with("orphaned"));
    // Deleted together with its generated files, nothing is left to report.
    fs::remove_dir_all(repo.root().join("generated/dev/solo")).unwrap();
    let (run, _, _) = repo.since("HEAD");
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn generated_files_changed_by_hand_are_checked() {
    let repo = Repo::new();
    repo.edit("generated/dev/ns/ns.json", "apps", "apps2");
    repo.write("generated/dev/stray.json", "{}\n");
    let (run, doc, checked) = repo.since("HEAD");
    assert_eq!(checked.into_iter().collect::<Vec<_>>(), ["dev/ns"]);
    assert_eq!(run.code, 1);
    let text = doc.to_string();
    assert!(
        text.contains("stale") && text.contains("generated/dev/stray.json"),
        "{text}"
    );
}

/// An unchecked entry is still there for the checks that look across entries: an object
/// that clashes with one of its objects is a failure.
#[test]
fn a_clash_with_an_unchecked_entry_is_found() {
    let repo = Repo::new();
    repo.edit(
        "clusters/dev/solo.jsonnet",
        "name: 'solo'",
        "name: 'app-db'",
    );
    let (run, doc, checked) = repo.since("HEAD");
    assert_eq!(checked.into_iter().collect::<Vec<_>>(), ["dev/solo"]);
    assert_eq!(run.code, 1);
    let clash = doc["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["check"] == "unique-identity")
        .unwrap_or_else(|| panic!("no clash: {}", run.stdout));
    let message = clash["message"].as_str().unwrap();
    assert!(
        message.contains("generated/dev/db/db.json")
            && message.contains("generated/dev/solo/cm.json"),
        "{message}"
    );
}

/// Kinds a CustomResourceDefinition of an unchecked entry defines are still known, and
/// still enforced, when another entry's custom resources are checked.
#[test]
fn custom_resources_are_validated_against_an_unchecked_entrys_crd() {
    let repo = Repo::new();
    let crd = fs::read_to_string(
        support::manifest_dir().join("testdata/schemas/clusters/dev/crd.jsonnet"),
    )
    .unwrap();
    repo.write("clusters/dev/crd.jsonnet", &crd);
    let backup = |schedule: &str| {
        format!(
            "{{ nightly: {{ apiVersion: 'example.com/v1', kind: 'Backup', metadata: {{ name: 'nightly', namespace: 'apps' }}, spec: {{ schedule: {schedule} }} }} }}\n"
        )
    };
    repo.write("clusters/dev/backup.jsonnet", &backup("'@daily'"));
    assert_eq!(policyrun(repo.root(), &["expand"]).code, 0);
    git(repo.root(), &["add", "-A"]);
    git(repo.root(), &["commit", "-q", "-m", "backups"]);
    let (run, _) = repo.check(&[]);
    assert_eq!(run.code, 0, "{}", run.stdout);

    repo.edit(
        "clusters/dev/backup.jsonnet",
        "{ nightly",
        "// nightly\n{ nightly",
    );
    let (run, _, checked) = repo.since("HEAD");
    assert_eq!(checked.into_iter().collect::<Vec<_>>(), ["dev/backup"]);
    assert_eq!(run.code, 0, "{}", run.stdout);

    repo.write("clusters/dev/backup.jsonnet", &backup("7"));
    assert_eq!(policyrun(repo.root(), &["expand"]).code, 0);
    let (run, doc, checked) = repo.since("HEAD");
    assert_eq!(checked.into_iter().collect::<Vec<_>>(), ["dev/backup"]);
    assert_eq!(run.code, 1);
    let text = doc.to_string();
    assert!(
        text.contains("/spec/schedule") && !text.contains("no schema"),
        "{text}"
    );
}

/// Without a record, an entry's inputs are unknown: it is checked.
#[test]
fn without_the_cache_every_entry_is_checked() {
    let repo = Repo::new();
    let run = policyrun(
        repo.root(),
        &[
            "check",
            "--no-cache",
            "--changed-since",
            "HEAD",
            "--output",
            "json",
        ],
    );
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["expansion"]["checked"], 6);
    assert!(
        doc["expansion"]["notes"]
            .to_string()
            .contains("without the cache"),
        "{}",
        run.stdout
    );
    assert_eq!(run.code, 0);
}

#[test]
fn a_bad_revision_is_a_usage_error_naming_it() {
    let repo = Repo::new();
    for (args, rev) in [
        (&["--changed-since", "no-such-branch"][..], "no-such-branch"),
        (&["--changed-since", "HEAD~5"][..], "HEAD~5"),
        (&["--changed-since=-p"][..], "-p"),
    ] {
        let (run, _) = repo.check(args);
        assert_eq!(run.code, 2, "{rev}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(rev), "{rev}: {}", run.stderr);
    }
    // Outside a git work tree.
    let plain = fixture("incremental");
    let run = policyrun(plain.path(), &["--changed-since", "HEAD"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("--changed-since HEAD"),
        "{}",
        run.stderr
    );
}

/// A repository of one cluster made of `files` and symbolic links (`path`, `target`), its
/// JSON expanded and committed, and a cache warmed by a full run: for what the fixture
/// directories cannot hold (links).
#[cfg(unix)]
fn repo_of(config: &str, files: &[(&str, &str)], links: &[(&str, &str)]) -> Repo {
    let repo = Repo {
        dir: tempfile::tempdir().unwrap(),
        cache: tempfile::tempdir().unwrap(),
    };
    repo.write("policyrun.toml", config);
    for (path, text) in files {
        repo.write(path, text);
    }
    for (path, target) in links {
        relink(repo.root(), path, target);
    }
    assert_eq!(policyrun(repo.root(), &["expand"]).code, 0);
    git(repo.root(), &["init", "-q"]);
    git(repo.root(), &["add", "-A"]);
    git(repo.root(), &["commit", "-q", "-m", "links"]);
    let (run, _) = repo.check(&[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    repo
}

/// An entry that shows `version` of what `import`ing `path` gives.
#[cfg(unix)]
fn entry_showing_version_of(name: &str, path: &str) -> String {
    format!(
        "local x = import '{path}';\n{{ items_: {{ cm: {{ apiVersion: 'v1', kind: 'ConfigMap', metadata: {{ name: '{name}', namespace: 'apps' }}, data: {{ version: x.version }} }} }} }}\n"
    )
}

/// The `--changed-since` run's outcomes for `entry` and its exit code must be a full run's
/// without the cache.
#[cfg(unix)]
fn assert_same_verdict_as_a_cold_run(repo: &Repo, since: &Run, entry: &str) {
    let cold = policyrun(repo.root(), &["check", "--no-cache", "--output", "json"]);
    assert_eq!(
        since.code, cold.code,
        "--changed-since:\n{}\nwithout the cache:\n{}",
        since.stdout, cold.stdout
    );
    let of_entry = |run: &Run| -> Vec<Value> {
        support::outcome_list(run)
            .into_iter()
            .filter(|o| o["entry"] == entry)
            .collect()
    };
    assert!(!of_entry(&cold).is_empty());
    assert_eq!(of_entry(since), of_entry(&cold));
}

/// git lists a retargeted link by its own path, which no import names: the link is an input
/// of every entry whose imports pass through it, however many links lead to it. The record
/// made before the change does not hold any more; the one a full run makes afterwards lists
/// the link.
#[cfg(unix)]
#[test]
fn a_retargeted_link_on_an_imports_way_reaches_its_importers() {
    let app = entry_showing_version_of("app", "v/x.libsonnet");
    let other = entry_showing_version_of("other", "other.libsonnet");
    let files = [
        ("lib/v1/x.libsonnet", "import 'y.libsonnet'\n"),
        ("lib/v2/x.libsonnet", "import 'y.libsonnet'\n"),
        ("lib/v1/y.libsonnet", "{ version: 'one' }\n"),
        ("lib/v2/y.libsonnet", "{ version: 'two' }\n"),
        ("lib/other.libsonnet", "{ version: 'other' }\n"),
        ("clusters/dev/app.jsonnet", app.as_str()),
        ("clusters/dev/other.jsonnet", other.as_str()),
    ];
    for Chain {
        links,
        retarget: (link, target),
    } in CHAINS
    {
        let repo = repo_of("[[cluster]]\nname = \"dev\"\n", &files, links);
        assert!(repo.checked_after("HEAD").is_empty());
        relink(repo.root(), link, target);
        let (run, _, checked) = repo.since("HEAD");
        assert_eq!(
            checked.iter().collect::<Vec<_>>(),
            ["dev/app"],
            "{links:?}: {}",
            run.stdout
        );
        assert_same_verdict_as_a_cold_run(&repo, &run, "clusters/dev/app.jsonnet");

        let (run, _) = repo.check(&[]);
        assert_eq!(run.code, 1, "{links:?}: stale: {}", run.stdout);
        let (run, doc, checked) = repo.since("HEAD");
        assert_eq!(
            checked.iter().collect::<Vec<_>>(),
            ["dev/app"],
            "{links:?}: {}",
            run.stdout
        );
        assert_eq!(
            doc["expansion"]["cached"], 1,
            "{links:?}: from the new record"
        );
        assert_same_verdict_as_a_cold_run(&repo, &run, "clusters/dev/app.jsonnet");
    }
}

/// An import path (`jpath`) that is a link is resolved when policyrun.toml is read, so a
/// record knows only where it led; a retargeted one reaches every entry that looked there.
#[cfg(unix)]
#[test]
fn a_retargeted_import_path_link_reaches_the_entries_that_looked_there() {
    let app = entry_showing_version_of("app", "x.libsonnet");
    let repo = repo_of(
        "jpath = [\"vendor\"]\n[[cluster]]\nname = \"dev\"\n",
        &[
            ("vendor1/x.libsonnet", "{ version: 'one' }\n"),
            ("vendor2/x.libsonnet", "{ version: 'two' }\n"),
            ("clusters/dev/app.jsonnet", &app),
            (
                "clusters/dev/solo.jsonnet",
                "{ items_: { cm: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'solo', namespace: 'apps' } } } }\n",
            ),
        ],
        &[("vendor", "vendor1")],
    );
    relink(repo.root(), "vendor", "vendor2");
    // A full run records the entry under the new import path ...
    let (run, _) = repo.check(&[]);
    assert_eq!(run.code, 1, "stale: {}", run.stdout);
    // ... and that record holds, but the link changed since HEAD.
    let (run, doc, checked) = repo.since("HEAD");
    assert_eq!(
        checked.iter().collect::<Vec<_>>(),
        ["dev/app"],
        "{}",
        run.stdout
    );
    assert_eq!(doc["expansion"]["cached"], 1, "{}", run.stdout);
    assert_same_verdict_as_a_cold_run(&repo, &run, "clusters/dev/app.jsonnet");
}

/// A link deleted where an import looked first: the import now finds another file, and
/// the record made afterwards lists only the place below the link, where nothing is. git
/// lists the link's own path, above that place.
#[cfg(unix)]
#[test]
fn a_deleted_link_above_where_an_import_looked_reaches_the_importers() {
    let app = entry_showing_version_of("app", "v/x.libsonnet");
    let repo = repo_of(
        "[[cluster]]\nname = \"dev\"\n",
        &[
            ("lib/v/x.libsonnet", "{ version: 'lib' }\n"),
            ("other/x.libsonnet", "{ version: 'other' }\n"),
            ("clusters/dev/app.jsonnet", &app),
        ],
        &[("clusters/dev/v", "../../other")],
    );
    fs::remove_file(repo.root().join("clusters/dev/v")).unwrap();
    let (run, _) = repo.check(&[]);
    assert_eq!(run.code, 1, "stale: {}", run.stdout);
    let (run, doc, checked) = repo.since("HEAD");
    assert_eq!(
        checked.iter().collect::<Vec<_>>(),
        ["dev/app"],
        "{}",
        run.stdout
    );
    assert_eq!(doc["expansion"]["cached"], 1, "{}", run.stdout);
    assert_same_verdict_as_a_cold_run(&repo, &run, "clusters/dev/app.jsonnet");
}
