//! The expansion cache: the real binary on `testdata/incremental` (six entries sharing a
//! library, a common stack and an importstr'd file) with a cache directory of its own, and
//! the library for what the command line cannot reach (another tool version).

use crate::support;

use std::fs;
use std::path::{Path, PathBuf};

use policyrun::cli::config::Config;
use policyrun::pipeline::check::{self as gate, Options};
use policyrun::store::Store;
use serde_json::Value;
#[cfg(unix)]
use support::{CHAINS, Chain, relink};
use support::{CachedRepo, policyrun, policyrun_with};

/// The fixture with a cache of its own, and what these tests look at in that cache.
struct Repo(CachedRepo);

impl std::ops::Deref for Repo {
    type Target = CachedRepo;
    fn deref(&self) -> &CachedRepo {
        &self.0
    }
}

impl Repo {
    fn new() -> Repo {
        Repo(CachedRepo::new("incremental"))
    }

    /// Runs the check and returns (evaluated, cached) after asserting it passed.
    fn counts(&self) -> (u64, u64) {
        let (run, doc) = self.check(&[]);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        let stats = &doc["expansion"];
        (
            stats["evaluated"].as_u64().unwrap(),
            stats["cached"].as_u64().unwrap(),
        )
    }

    fn write(&self, path: &str, text: &str) {
        support::write_file(self.root(), path, text);
    }

    fn edit(&self, path: &str, from: &str, to: &str) {
        support::edit_file(self.root(), path, from, to);
    }

    /// Every record in the cache: its bucket file, key and place in the file. The bucket
    /// format: a format line, then `<key> <length>` lines each followed by the record.
    fn records(&self) -> Vec<Record> {
        let mut found = Vec::new();
        for bucket in walkdir::WalkDir::new(self.cache.path()) {
            let path = bucket.unwrap().into_path();
            if path.extension().is_none_or(|e| e != "bucket") {
                continue;
            }
            let bytes = fs::read(&path).unwrap();
            let mut at = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
            while at < bytes.len() {
                let end = at + bytes[at..].iter().position(|&b| b == b'\n').unwrap();
                let line = std::str::from_utf8(&bytes[at..end]).unwrap();
                let (key, length) = line.split_once(' ').unwrap();
                let start = end + 1;
                let stop = start + length.parse::<usize>().unwrap();
                found.push(Record {
                    bucket: path.clone(),
                    key: key.to_owned(),
                    bytes: bytes[start..stop].to_vec(),
                    line: at..start,
                    range: start..stop,
                });
                at = stop;
            }
        }
        found
    }

    /// The record of one entry (found by the entry path its header names).
    fn record_of(&self, entry: &str) -> Record {
        let needle = format!("\"entry\":\"{entry}\"");
        self.records()
            .into_iter()
            .find(|r| String::from_utf8_lossy(&r.bytes).contains(&needle))
            .unwrap_or_else(|| panic!("no record for {entry}"))
    }

    /// Puts `bytes` in the place of `record`, keeping its key.
    fn replace(&self, record: &Record, bytes: &[u8]) {
        let old = fs::read(&record.bucket).unwrap();
        let mut new = old[..record.line.start].to_vec();
        new.extend_from_slice(format!("{} {}\n", record.key, bytes.len()).as_bytes());
        new.extend_from_slice(bytes);
        new.extend_from_slice(&old[record.range.end..]);
        fs::write(&record.bucket, new).unwrap();
    }
}

struct Record {
    bucket: PathBuf,
    key: String,
    bytes: Vec<u8>,
    line: std::ops::Range<usize>,
    range: std::ops::Range<usize>,
}

/// The outcomes of a JSON report, which must not depend on where expansions came from.
fn outcomes(doc: &Value) -> &Value {
    &doc["outcomes"]
}

#[test]
fn a_second_run_evaluates_nothing_and_reports_the_same() {
    let repo = Repo::new();
    let (run, first) = repo.check(&[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(first["expansion"]["entries"], 6);
    assert_eq!(first["expansion"]["evaluated"], 6);
    assert_eq!(first["expansion"]["cached"], 0);
    assert_eq!(first["expansion"]["cache_writes"], 6);
    assert_eq!(repo.records().len(), 6);
    assert!(repo.records().iter().all(|r| r.bytes.starts_with(
        format!("policyrun-expansion-cache {}\n", policyrun::store::FORMAT).as_bytes()
    )));

    let (run, second) = repo.check(&[]);
    assert_eq!(run.code, 0);
    assert_eq!(second["expansion"]["evaluated"], 0);
    assert_eq!(second["expansion"]["cached"], 6);
    assert_eq!(second["expansion"]["cache_writes"], 0);
    assert_eq!(outcomes(&first), outcomes(&second));

    // People see it with -v.
    let cache = repo.cache.path().to_str().unwrap();
    let run = policyrun(repo.root(), &["-v", "--cache-dir", cache]);
    assert!(
        run.stdout
            .contains("expansion: 6 entries, 0 evaluated, 6 from the cache"),
        "{}",
        run.stdout
    );
}

/// `std.trace` output is part of what an evaluation does: a cached result prints it again.
#[test]
fn traces_are_printed_again_from_the_cache() {
    let repo = Repo::new();
    repo.edit(
        "clusters/dev/solo.jsonnet",
        "data: { cluster: std.extVar('cluster') },",
        "data: std.trace('solo evaluated', { cluster: std.extVar('cluster') }),",
    );
    let (run, first) = repo.check(&[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let line = "TRACE: solo evaluated\n";
    assert!(run.stderr.contains(line), "{}", run.stderr);
    let (run, second) = repo.check(&[]);
    assert_eq!(second["expansion"]["cached"], 6);
    assert_eq!(run.stderr.matches(line).count(), 1, "{}", run.stderr);
    assert_eq!(outcomes(&first), outcomes(&second));
}

/// A cached failure would have to replay the evaluator's message exactly; failures are
/// evaluated every time instead, and a stale committed file fails from the cache too.
#[test]
fn failures_are_not_cached_and_cached_results_still_fail_freshness() {
    let repo = Repo::new();
    repo.edit(
        "clusters/dev/solo.jsonnet",
        "kind: 'ConfigMap',",
        "kind: 'ConfigMap', x: error 'boom',",
    );
    let (run, doc) = repo.check(&[]);
    assert_eq!(run.code, 1);
    assert_eq!(doc["expansion"]["cache_writes"], 5);
    let (run, doc) = repo.check(&[]);
    assert_eq!(run.code, 1);
    assert_eq!(doc["expansion"]["evaluated"], 1);
    assert!(run.stdout.contains("boom"), "{}", run.stdout);

    let repo = Repo::new();
    assert_eq!(repo.counts(), (6, 0));
    repo.edit("generated/dev/db/db.json", "10Gi", "20Gi");
    let (run, doc) = repo.check(&[]);
    assert_eq!(run.code, 1);
    assert_eq!(doc["expansion"]["cached"], 6);
    assert!(run.stdout.contains("stale"), "{}", run.stdout);
}

/// Each part of what an entry's output depends on invalidates exactly the records that
/// depend on it; the counts differ per change (see the fixture).
#[test]
fn each_input_invalidates_the_entries_that_read_it() {
    let repo = Repo::new();
    assert_eq!(repo.counts(), (6, 0));

    // The entry itself (expand afterwards so the committed JSON stays fresh).
    repo.edit("clusters/dev/solo.jsonnet", "cluster:", "cluster_name:");
    assert_eq!(
        policyrun(repo.root(), &["expand", "--cluster", "dev"]).code,
        0
    );
    assert_eq!(repo.counts(), (1, 5));

    // A library two imports deep: dev/web, dev/db, int/web.
    repo.edit("lib/names.libsonnet", "'app-'", "'app-' + ''");
    assert_eq!(repo.counts(), (3, 3));

    // A file read with importstr: dev/web and int/web.
    repo.edit("common/config/web.conf", "4", "4 ");
    assert_eq!(policyrun(repo.root(), &["expand"]).code, 0);
    assert_eq!(repo.counts(), (2, 4));

    // A common stack: dev/db only.
    repo.edit("common/db.jsonnet", "'10Gi'", "'10' + 'Gi'");
    assert_eq!(repo.counts(), (1, 5));

    // A file created where an import looked first (common/ before lib/): it would be
    // imported instead, so every entry that imports app.libsonnet from common/ is stale.
    let library = fs::read_to_string(repo.root().join("lib/app.libsonnet")).unwrap();
    repo.write(
        "common/app.libsonnet",
        &library.replace("names.libsonnet", "../lib/names.libsonnet"),
    );
    assert_eq!(repo.counts(), (3, 3));

    // An ext var: every entry's key changes.
    repo.edit(
        "policyrun.toml",
        "region = \"eu\"",
        "region = \"eu\"\ntier = \"1\"",
    );
    assert_eq!(repo.counts(), (6, 0));

    // A setting that shapes the output: every entry.
    repo.edit("policyrun.toml", "[ext_vars]", "indent = 3\n\n[ext_vars]");
    assert_eq!(policyrun(repo.root(), &["expand"]).code, 0);
    assert_eq!(repo.counts(), (6, 0));
    assert_eq!(repo.counts(), (0, 6));
}

/// An entry file that is a symbolic link: where it points is an input too.
#[cfg(unix)]
#[test]
fn retargeting_a_linked_entry_invalidates_it() {
    let repo = Repo::new();
    let solo = fs::read_to_string(repo.root().join("clusters/dev/solo.jsonnet")).unwrap();
    repo.write(
        "common/linked-a.jsonnet",
        &solo.replace("'solo'", "'linked-a'"),
    );
    repo.write(
        "common/linked-b.jsonnet",
        &solo.replace("'solo'", "'linked-b'"),
    );
    let link = repo.root().join("clusters/dev/linked.jsonnet");
    std::os::unix::fs::symlink("../../common/linked-a.jsonnet", &link).unwrap();
    assert_eq!(policyrun(repo.root(), &["expand"]).code, 0);
    assert_eq!(repo.counts(), (7, 0));
    assert_eq!(repo.counts(), (0, 7));
    fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink("../../common/linked-b.jsonnet", &link).unwrap();
    assert_eq!(policyrun(repo.root(), &["expand"]).code, 0);
    assert_eq!(repo.counts(), (1, 6));
}

/// Another tool version (the key's version part) finds no records; the command line
/// cannot change the version, so the library is driven directly.
#[test]
fn another_tool_version_does_not_see_the_records() {
    let repo = Repo::new();
    let config = Config::load(&repo.root().join("policyrun.toml")).unwrap();
    let run = |tool: &str| {
        let options = Options {
            cache: Some(
                Store::open_as(repo.cache.path(), &config.repo.root, tool.to_owned()).unwrap(),
            ),
            ..Options::default()
        };
        gate::check(&config, &options).unwrap()
    };
    let first = run("policyrun 1");
    assert_eq!((first.stats.evaluated, first.stats.cached), (6, 0));
    let again = run("policyrun 1");
    assert_eq!((again.stats.evaluated, again.stats.cached), (0, 6));
    let other = run("policyrun 2");
    assert_eq!((other.stats.evaluated, other.stats.cached), (6, 0));

    // A hit is the same expansion as an evaluation: files, objects, identities, problems
    // and inputs.
    let strip = |run: gate::Run| {
        let mut expanded = run.expanded;
        for e in &mut expanded {
            e.elapsed = Default::default();
        }
        expanded
    };
    let evaluated = strip(other);
    let cached = strip(run("policyrun 2"));
    assert_eq!(evaluated, cached);
    let web = evaluated
        .iter()
        .find(|e| e.entry.path == Path::new("clusters/dev/web.jsonnet"))
        .unwrap();
    let inputs: Vec<String> = web
        .inputs
        .as_ref()
        .unwrap()
        .iter()
        .map(|i| i.path.display().to_string())
        .collect();
    for input in [
        "clusters/dev/web.jsonnet",
        "common/web.jsonnet",
        "common/config/web.conf",
        "common/app.libsonnet",
        "lib/app.libsonnet",
        "lib/names.libsonnet",
    ] {
        assert!(
            inputs.contains(&input.to_owned()),
            "{input} not in {inputs:?}"
        );
    }
}

#[test]
fn damaged_or_foreign_records_are_ignored_and_replaced() {
    let repo = Repo::new();
    let (_, first) = repo.check(&[]);
    let solo = "clusters/dev/solo.jsonnet";
    let good = repo.record_of(solo).bytes;
    let other = repo.record_of("clusters/dev/db.jsonnet").bytes;

    let damages: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("empty", Vec::new()),
        ("garbled", {
            let mut bytes = good.clone();
            let last = bytes.len() - 3;
            bytes[last] ^= 0x20;
            bytes
        }),
        (
            "another format",
            String::from_utf8(good.clone())
                .unwrap()
                .replacen(
                    &format!("policyrun-expansion-cache {}", policyrun::store::FORMAT),
                    "policyrun-expansion-cache 9",
                    1,
                )
                .into_bytes(),
        ),
        ("another entry's", other.clone()),
        ("not a record", b"{\"key\": \"x\"}\n".to_vec()),
    ];
    for (damage, bytes) in damages {
        repo.replace(&repo.record_of(solo), &bytes);
        let (run, doc) = repo.check(&[]);
        assert_eq!(run.code, 0, "{damage}: {}{}", run.stdout, run.stderr);
        assert_eq!(doc["expansion"]["evaluated"], 1, "{damage}");
        assert_eq!(doc["expansion"]["cache_writes"], 1, "{damage}");
        let notes = doc["expansion"]["notes"].to_string();
        assert!(
            notes.contains("ignored 1 unusable record") && notes.contains(solo),
            "{damage}: {notes}"
        );
        assert_eq!(outcomes(&doc), outcomes(&first), "{damage}");
        // Rewritten whole: the next run takes it.
        assert_eq!(repo.record_of(solo).bytes, good, "{damage}");
        assert_eq!(repo.counts(), (0, 6), "{damage}");
    }

    // A damaged bucket file: what follows the damage is lost, evaluated again, rewritten.
    let bucket = repo.record_of(solo).bucket;
    let whole = fs::read(&bucket).unwrap();
    for (damage, bytes) in [
        ("cut short", whole[..whole.len() - 10].to_vec()),
        ("another format", {
            let mut bytes = whole.clone();
            bytes[0] = b'X';
            bytes
        }),
        ("garbage", b"garbage".to_vec()),
    ] {
        fs::write(&bucket, &bytes).unwrap();
        let (run, doc) = repo.check(&[]);
        assert_eq!(run.code, 0, "{damage}: {}{}", run.stdout, run.stderr);
        assert!(
            doc["expansion"]["evaluated"].as_u64().unwrap() >= 1,
            "{damage}"
        );
        let notes = doc["expansion"]["notes"].to_string();
        assert!(notes.contains("is damaged"), "{damage}: {notes}");
        assert_eq!(outcomes(&doc), outcomes(&first), "{damage}");
        assert_eq!(fs::read(&bucket).unwrap(), whole, "{damage}");
        assert_eq!(repo.counts(), (0, 6), "{damage}");
    }

    // The human report says so too, without failing.
    repo.replace(&repo.record_of(solo), b"garbage");
    let cache = repo.cache.path().to_str().unwrap();
    let run = policyrun(repo.root(), &["--cache-dir", cache]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout
            .contains("note: cache: ignored 1 unusable record(s)"),
        "{}",
        run.stdout
    );
}

#[test]
fn no_cache_neither_reads_nor_writes() {
    let repo = Repo::new();
    let cache = repo.cache.path().join("never");
    let env: &[(&str, &Path)] = &[("POLICYRUN_CACHE_DIR", &cache)];
    let run = policyrun_with(
        repo.root(),
        &["check", "--no-cache", "--output", "json"],
        env,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["expansion"]["evaluated"], 6);
    assert!(doc["expansion"].get("cache_dir").is_none());
    assert!(!cache.exists());

    // The environment variable is the default; --no-cache also ignores a warm cache.
    let run = policyrun_with(repo.root(), &["check"], env);
    assert_eq!(run.code, 0);
    assert!(cache.exists());
    let run = policyrun_with(
        repo.root(),
        &["check", "--no-cache", "--output", "json"],
        env,
    );
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["expansion"]["evaluated"], 6);

    let run = policyrun(repo.root(), &["check", "--no-cache", "--cache-dir", "/tmp"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

/// The cache must live outside the repository (a pull request could commit forged
/// records there), and policyrun.toml, which comes with the pull request, cannot move it.
#[test]
fn the_cache_stays_outside_the_repository_and_out_of_policyrun_toml() {
    let repo = Repo::new();
    let run = policyrun(repo.root(), &["check", "--cache-dir", ".cache"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("--cache-dir") && run.stderr.contains("inside the repository"),
        "{}",
        run.stderr
    );
    assert!(!repo.root().join(".cache").exists());

    // From the environment: the run goes on without a cache and says why.
    let inside = repo.root().join("lib");
    let run = policyrun_with(repo.root(), &["check"], &[("POLICYRUN_CACHE_DIR", &inside)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("note: cache:") && run.stdout.contains("inside the repository"),
        "{}",
        run.stdout
    );

    repo.edit(
        "policyrun.toml",
        "[ext_vars]",
        "[cache]\ndir = \"/etc\"\n\n[ext_vars]",
    );
    let run = policyrun(repo.root(), &["check"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("policyrun.toml: cache:"),
        "{}",
        run.stderr
    );
}

#[cfg(unix)]
#[test]
fn a_cache_directory_others_can_write_is_not_trusted() {
    use std::os::unix::fs::PermissionsExt;
    let repo = Repo::new();
    assert_eq!(repo.counts(), (6, 0));
    let shared = fs::read_dir(repo.cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("expansions-v")
        })
        .unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
    let cache = repo.cache.path().to_str().unwrap();
    let run = policyrun(repo.root(), &["check", "--cache-dir", cache]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("owned by this user and writable by it alone"),
        "{}",
        run.stderr
    );
}

/// The style stage remembers, in the cache, the digests of the sources it found canonical,
/// and formats only what it has not seen canonical with the same formatter and options.
#[test]
fn the_style_stage_formats_only_sources_it_has_not_seen_canonical() {
    use policyrun::cli::config::Config;
    use policyrun::model::digest::Digest;
    use policyrun::model::outcome::Status;
    use policyrun::style;

    let repo = Repo::new();
    let mut config = Config::discover(repo.root()).unwrap();
    let cache = Store::open(repo.cache.path(), &config.repo.root).unwrap();
    let clusters: Vec<_> = config.repo.clusters.iter().collect();
    let status_of = |outcomes: &[policyrun::model::outcome::Outcome], file: &str| {
        outcomes
            .iter()
            .find(|o| o.subject.as_deref() == Some(file))
            .map(|o| o.status)
            .unwrap_or_else(|| panic!("no outcome for {file}"))
    };
    let (first, note) = remembering(&config, &clusters, &cache);
    assert!(note.is_none(), "{note:?}");
    assert!(
        first.iter().all(|o| o.status == Status::Passed),
        "{first:?}"
    );
    assert!(cache.dir().join("style-canonical").is_file());
    let (again, _) = remembering(&config, &clusters, &cache);
    assert_eq!(again.len(), first.len());
    assert!(again.iter().all(|o| o.status == Status::Passed));

    // Changed bytes are judged afresh: the memory is by content.
    let file = "lib/names.libsonnet";
    let text = fs::read_to_string(repo.root().join(file)).unwrap();
    let unformatted = text.replacen(": ", ":   ", 1);
    assert_ne!(text, unformatted);
    repo.write(file, &unformatted);
    let (changed, _) = remembering(&config, &clusters, &cache);
    assert_eq!(status_of(&changed, file), Status::Failed);

    // What the memory says is what the stage believes (so it lives outside the repository,
    // in a directory only its owner may write) ...
    let digest = Digest::of(unformatted.as_bytes());
    let salt = style::memory_salt(&config.style);
    style::memory::save_canonical_sources(&cache, &salt, &[digest].into_iter().collect()).unwrap();
    let (believed, _) = style::check(&config.repo, &config.style, &clusters)
        .into_iter()
        .partition::<Vec<_>, _>(|o| o.subject.as_deref() == Some(file));
    assert_eq!(believed[0].status, Status::Failed, "without the cache");
    let (remembered, _) = remembering(&config, &clusters, &cache);
    assert_eq!(status_of(&remembered, file), Status::Passed);
    // ... but only for the formatter and options it was written with,
    config.style.options.pad_arrays = !config.style.options.pad_arrays;
    style::memory::save_canonical_sources(&cache, &salt, &[digest].into_iter().collect()).unwrap();
    let (other_options, _) = remembering(&config, &clusters, &cache);
    assert_eq!(status_of(&other_options, file), Status::Failed);
    config.style.options.pad_arrays = !config.style.options.pad_arrays;
    // ... and only when its checksum holds.
    style::memory::save_canonical_sources(&cache, &salt, &[digest].into_iter().collect()).unwrap();
    let memory = cache.dir().join("style-canonical");
    let damaged = fs::read_to_string(&memory).unwrap().replace('a', "b");
    fs::write(&memory, damaged).unwrap();
    let (after_damage, _) = remembering(&config, &clusters, &cache);
    assert_eq!(status_of(&after_damage, file), Status::Failed);
}

#[test]
fn a_run_notes_its_use_and_deletes_the_records_of_checkouts_gone_a_month() {
    let repo = Repo::new();
    let gone = repo
        .cache
        .path()
        .join("expansions-v3/old-checkout-0123456789abcdef");
    fs::create_dir_all(&gone).unwrap();
    fs::write(gone.join("00.bucket"), "records").unwrap();
    let long_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(60 * 86_400);
    fs::File::create(gone.join("last-used"))
        .unwrap()
        .set_modified(long_ago)
        .unwrap();
    let (run, doc) = repo.check(&[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(!gone.exists(), "records unused for 60 days are deleted");
    let own = PathBuf::from(doc["expansion"]["cache_dir"].as_str().unwrap());
    assert!(own.join("last-used").exists());
}

/// Every file below `dir` with its bytes, to tell whether a run changed anything there.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

fn check_json(root: &Path, args: &[&str]) -> (support::Run, Value) {
    let mut all = vec!["check", "--output", "json"];
    all.extend_from_slice(args);
    let run = policyrun(root, &all);
    let doc: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", run.stdout, run.stderr));
    (run, doc)
}

/// Jenkins' trusted cache (docs/jenkins.md, "The trusted gate cache"): main's build fills a cache under a fixed
/// `--cache-name` and publishes it; a pull request's build, in another workspace, runs from
/// a private copy of it. The pull request gets main's records, its verdict is exactly a cold
/// run's, and what main published is left as it was.
#[test]
fn a_pull_request_runs_from_a_copy_of_main_s_published_cache_and_cannot_change_it() {
    let main_tree = support::fixture("policy-gate");
    let published = tempfile::tempdir().unwrap();
    let published_dir = published.path().to_str().unwrap();
    let named = [
        "--cache-dir",
        published_dir,
        "--cache-name",
        "policyrun-gate",
    ];
    let (main_run, main_doc) = check_json(main_tree.path(), &named);
    assert_eq!(
        main_run.code, 1,
        "the fixture fails by design: {}",
        main_run.stderr
    );
    assert_eq!(main_doc["expansion"]["cache_writes"], 2);
    let published_files = snapshot(published.path());

    // The pull request: another checkout (another path), one stack changed.
    let pull = support::fixture("policy-gate");
    assert_ne!(pull.path(), main_tree.path());
    support::edit_file(
        pull.path(),
        "clusters/web/app.jsonnet",
        "import",
        "{ extra: 1 } + import",
    );
    let private = tempfile::tempdir().unwrap();
    support::copy_tree(published.path(), private.path());
    let private_dir = private.path().to_str().unwrap();
    let (warm, warm_doc) = check_json(
        pull.path(),
        &["--cache-dir", private_dir, "--cache-name", "policyrun-gate"],
    );
    let (cold, _) = check_json(pull.path(), &["--no-cache"]);
    assert_eq!(warm.code, cold.code);
    assert_eq!(support::outcome_list(&warm), support::outcome_list(&cold));
    let stats = &warm_doc["expansion"];
    assert_eq!(
        stats["cached"], 1,
        "dev came from main's records: {stats:#}"
    );
    assert_eq!(stats["evaluated"], 1, "web changed: {stats:#}");
    assert!(stats["policy_recalled"].as_u64().unwrap() > 0, "{stats:#}");

    // What main published is byte for byte what it was, and main's next build reads it.
    assert!(snapshot(published.path()) == published_files);
    let (again, again_doc) = check_json(main_tree.path(), &named);
    assert_eq!(
        support::outcome_list(&again),
        support::outcome_list(&main_run)
    );
    assert_eq!(again_doc["expansion"]["cached"], 2);

    // Without the name the records belong to the checkout's path: the other checkout
    // starts cold.
    let unnamed = tempfile::tempdir().unwrap();
    support::copy_tree(published.path(), unnamed.path());
    let (_, doc) = check_json(
        pull.path(),
        &["--cache-dir", unnamed.path().to_str().unwrap()],
    );
    assert_eq!(doc["expansion"]["cached"], 0);

    // A name that is not a plain directory name is a usage error.
    let bad = policyrun(
        pull.path(),
        &["check", "--cache-dir", private_dir, "--cache-name", "../x"],
    );
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("--cache-name"), "{}", bad.stderr);
}

/// The style stage over every source, with its memory in `cache`: its outcomes and its note.
fn remembering(
    config: &Config,
    clusters: &[&policyrun::model::repository::Cluster],
    cache: &Store,
) -> (Vec<policyrun::model::outcome::Outcome>, Option<String>) {
    let input = policyrun::style::Input {
        clusters,
        every_source: true,
        memory: Some(cache),
    };
    let report = policyrun::style::run(&config.repo, &config.style, input);
    (report.outcomes, report.notes.into_iter().next())
}

/// A repository of one cluster (`dev`, import path `lib`) made of `files` and of symbolic
/// links (`path`, `target`), with a cache of its own, its JSON expanded: what the fixture
/// directories cannot hold.
#[cfg(unix)]
fn repo_of(config: &str, files: &[(&str, &str)], links: &[(&str, &str)]) -> CachedRepo {
    let repo = CachedRepo {
        dir: tempfile::tempdir().unwrap(),
        cache: tempfile::tempdir().unwrap(),
    };
    support::write_file(repo.root(), "policyrun.toml", config);
    for (path, text) in files {
        support::write_file(repo.root(), path, text);
    }
    for (path, target) in links {
        relink(repo.root(), path, target);
    }
    let run = policyrun(repo.root(), &["expand"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    repo
}

/// A run with the repository's cache against one without: the same exit code and the same
/// outcomes, or the cache served what the sources no longer produce. Returns the cached run.
fn assert_warm_is_cold(repo: &CachedRepo, extra: &[&str]) -> (support::Run, Value) {
    let (warm, doc) = repo.check(extra);
    let mut args = vec!["check", "--output", "json", "--no-cache"];
    args.extend_from_slice(extra);
    let cold = policyrun(repo.root(), &args);
    assert_eq!(
        warm.code, cold.code,
        "cached:\n{}\nwithout the cache:\n{}",
        warm.stdout, cold.stdout
    );
    assert_eq!(support::outcome_list(&warm), support::outcome_list(&cold));
    (warm, doc)
}

/// One cluster, `dev`, with the default import path `lib`.
const ONE_CLUSTER: &str = "[[cluster]]\nname = \"dev\"\n";
/// The same, without an import path.
const ONE_CLUSTER_NO_JPATH: &str = "jpath = []\n[[cluster]]\nname = \"dev\"\n";

/// An entry that shows `version` of what `import`ing `path` gives.
fn entry_showing_version_of(path: &str) -> String {
    format!(
        "local x = import '{path}';\n{{ items_: {{ cm: {{ apiVersion: 'v1', kind: 'ConfigMap', metadata: {{ name: 'app', namespace: 'apps' }}, data: {{ version: x.version }} }} }} }}\n"
    )
}

/// Two versions of a library whose `x.libsonnet` files are identical; each imports its own
/// `y.libsonnet`, and those differ.
#[cfg(unix)]
fn two_versions(entry: &str) -> Vec<(&'static str, String)> {
    vec![
        ("lib/v1/x.libsonnet", "import 'y.libsonnet'\n".to_owned()),
        ("lib/v2/x.libsonnet", "import 'y.libsonnet'\n".to_owned()),
        ("lib/v1/y.libsonnet", "{ version: 'one' }\n".to_owned()),
        ("lib/v2/y.libsonnet", "{ version: 'two' }\n".to_owned()),
        ("clusters/dev/app.jsonnet", entry.to_owned()),
    ]
}

/// Where an import resolves to is an input, not only the path written and the bytes found
/// there: retargeting a directory link (`ln -sfn v2 lib/v`) on an import's way, or a link
/// that such a link points through, leaves every recorded path with the same bytes, yet
/// the import now reads another `y.libsonnet`.
#[cfg(unix)]
#[test]
fn retargeting_a_directory_link_on_an_imports_way_invalidates_its_importers() {
    let entry = entry_showing_version_of("v/x.libsonnet");
    let files = two_versions(&entry);
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    for Chain {
        links,
        retarget: (link, target),
    } in CHAINS
    {
        let repo = repo_of(ONE_CLUSTER, &files, links);
        let (run, doc) = repo.check(&[]);
        assert_eq!(run.code, 0, "{links:?}: {}{}", run.stdout, run.stderr);
        assert_eq!(doc["expansion"]["evaluated"], 1);
        let (_, doc) = assert_warm_is_cold(&repo, &[]);
        assert_eq!(doc["expansion"]["cached"], 1, "{links:?}");

        relink(repo.root(), link, target);
        let (run, doc) = assert_warm_is_cold(&repo, &[]);
        assert_eq!(run.code, 1, "{links:?}: {}", run.stdout);
        assert!(run.stdout.contains("stale"), "{links:?}: {}", run.stdout);
        assert_eq!(doc["expansion"]["evaluated"], 1, "{links:?}");
        // Recorded again as it is now, and taken from the cache.
        let (_, doc) = assert_warm_is_cold(&repo, &[]);
        assert_eq!(doc["expansion"]["cached"], 1, "{links:?}");
    }
}

/// An entry file that is a link, retargeted to an identical file in another directory: its
/// relative imports now resolve there.
#[cfg(unix)]
#[test]
fn retargeting_a_linked_entry_to_an_identical_file_elsewhere_invalidates_it() {
    let entry = entry_showing_version_of("values.libsonnet");
    let repo = repo_of(
        ONE_CLUSTER_NO_JPATH,
        &[
            ("stacks/one/app.jsonnet", &entry),
            ("stacks/two/app.jsonnet", &entry),
            ("stacks/one/values.libsonnet", "{ version: 'one' }\n"),
            ("stacks/two/values.libsonnet", "{ version: 'two' }\n"),
        ],
        &[("clusters/dev/app.jsonnet", "../../stacks/one/app.jsonnet")],
    );
    let (run, _) = repo.check(&[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let (_, doc) = assert_warm_is_cold(&repo, &[]);
    assert_eq!(doc["expansion"]["cached"], 1);

    relink(
        repo.root(),
        "clusters/dev/app.jsonnet",
        "../../stacks/two/app.jsonnet",
    );
    let (run, doc) = assert_warm_is_cold(&repo, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("stale"), "{}", run.stdout);
    assert_eq!(doc["expansion"]["evaluated"], 1);
}

/// The evaluation budget decides whether an entry passes: a record made under a generous
/// budget is not recalled under a tight one, which an evaluation would exceed.
#[test]
fn a_record_made_under_one_evaluation_budget_is_not_recalled_under_another() {
    // Several seconds to evaluate in either profile (about 4 s in a debug build).
    let count = if cfg!(debug_assertions) {
        1_500_000
    } else {
        15_000_000
    };
    let entry = format!(
        "{{ items_: {{ cm: {{ apiVersion: 'v1', kind: 'ConfigMap', metadata: {{ name: 'slow', namespace: 'apps' }}, data: {{ sum: std.toString(std.foldl(function(sum, x) sum + x, std.range(1, {count}), 0)) }} }} }} }}\n"
    );
    let repo = CachedRepo {
        dir: tempfile::tempdir().unwrap(),
        cache: tempfile::tempdir().unwrap(),
    };
    support::write_file(repo.root(), "policyrun.toml", ONE_CLUSTER_NO_JPATH);
    support::write_file(repo.root(), "clusters/dev/slow.jsonnet", &entry);
    assert_eq!(policyrun(repo.root(), &["expand"]).code, 0);
    let (run, doc) = repo.check(&[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(doc["expansion"]["cache_writes"], 1);

    let (run, doc) = assert_warm_is_cold(&repo, &["--evaluation-seconds", "1"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("evaluation time budget exceeded"),
        "{}",
        run.stdout
    );
    assert_eq!(doc["expansion"]["cached"], 0);
    // The generous budget's record is still there for runs under that budget.
    let (run, doc) = repo.check(&[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(doc["expansion"]["cached"], 1);
}

/// An import path that is a link is resolved when policyrun.toml is read, and the key names
/// the directory it led to: retargeted, it leads to other records.
#[cfg(unix)]
#[test]
fn retargeting_a_linked_import_path_changes_the_key() {
    let entry = entry_showing_version_of("x.libsonnet");
    let repo = repo_of(
        "jpath = [\"vendor\"]\n[[cluster]]\nname = \"dev\"\n",
        &[
            ("vendor1/x.libsonnet", "{ version: 'one' }\n"),
            ("vendor2/x.libsonnet", "{ version: 'two' }\n"),
            ("clusters/dev/app.jsonnet", &entry),
        ],
        &[("vendor", "vendor1")],
    );
    let (run, _) = repo.check(&[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    relink(repo.root(), "vendor", "vendor2");
    let (run, doc) = assert_warm_is_cold(&repo, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(doc["expansion"]["cached"], 0);
}

/// An entry whose objects sit every way the expansion finds them: in a List, in a map of
/// objects, beside a value that is not an object, and with a Secret.
const EVERY_PLACE: &str = r#"local cm(name) = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: name, namespace: 'app' }, data: { a: name } };
{
  items_: {
    listed: { apiVersion: 'v1', kind: 'List', items: [cm('first'), cm('second')] },
    mapped: { one: cm('one'), two: cm('two') },
    secret: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'app' }, stringData: { password: 'hunter2' } },
    stray: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'far', namespace: 'missing' } },
  },
}
"#;

/// A tree recalled from the records is judged as the evaluated tree is, though a recalled
/// object's value is only parsed when a check reads it: in both layouts, with objects in
/// Lists and maps, a value that is no object, a Secret, waivers in annotations and
/// Gatekeeper constraints; and again once a rule changed, so that no verdict is recalled
/// and every value is read from its recalled text.
#[test]
fn a_recalled_tree_is_judged_as_the_evaluated_one_in_either_layout() {
    for layout in ["per-item", "per-file"] {
        let repo = CachedRepo::new("policy-gate");
        let config = fs::read_to_string(repo.root().join("policyrun.toml")).unwrap();
        support::write_file(
            repo.root(),
            "policyrun.toml",
            &format!("layout = \"{layout}\"\n{config}"),
        );
        support::write_file(repo.root(), "clusters/dev/places.jsonnet", EVERY_PLACE);
        fs::remove_dir_all(repo.root().join("generated")).unwrap();
        let expand = policyrun(repo.root(), &["expand"]);
        assert_eq!(
            expand.code, 0,
            "{layout}: {}{}",
            expand.stdout, expand.stderr
        );
        // `expand` writes no tree with such a value; the gate reports it, and the record
        // keeps what it said.
        support::edit_file(
            repo.root(),
            "clusters/dev/places.jsonnet",
            "    stray:",
            "    broken: { metadata: { name: 'no-kind' } },\n    stray:",
        );

        let (first, _) = repo.check(&[]);
        assert_eq!(
            first.code, 1,
            "{layout}: the value that is no object fails the gate"
        );
        let (warm, doc) = assert_warm_is_cold(&repo, &[]);
        assert_eq!(
            doc["expansion"]["evaluated"], 0,
            "{layout}: {}",
            warm.stdout
        );
        for needle in ["not a Kubernetes object", "hunter2"] {
            let found = warm.stdout.contains(needle);
            assert_eq!(found, needle != "hunter2", "{layout}: {needle}");
        }

        support::edit_file(
            repo.root(),
            "policies/gate.rego",
            "namespace %s is not created in cluster %s",
            "namespace %s is not made in cluster %s",
        );
        let (changed, doc) = assert_warm_is_cold(&repo, &[]);
        assert_eq!(
            doc["expansion"]["evaluated"], 0,
            "{layout}: {}",
            changed.stdout
        );
        assert!(
            changed
                .stdout
                .contains("namespace missing is not made in cluster dev"),
            "{layout}: {}",
            changed.stdout
        );
    }
}
