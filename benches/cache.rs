//! Measures what the expansion cache and `--changed-since` save on the synthetic corpus
//! (3 clusters × N stacks, see `synthetic.rs`), as ratios within one run: the sides take
//! turns in every round and each round's ratio is taken on its own, the median reported.
//!
//! - no cache: `policyrun check --no-cache`, the gate as it was;
//! - cold: the same with an empty cache (evaluates everything and writes every record);
//! - warm: the same again, nothing changed (every entry from the cache);
//! - changed-since: `--changed-since HEAD` with a warm cache after one common stack was
//!   edited (a new comment each round, so its three entries are evaluated every time).
//!
//! Every side runs the whole check as `policyrun check --junit` does (freshness, schemas,
//! sorting, the human report to a sink, the JUnit document). Run with
//! `cargo bench --bench cache`; `POLICYRUN_BENCH_STACKS=1000`, `POLICYRUN_BENCH_ROUNDS=7`
//! change the defaults, `POLICYRUN_BENCH_PHASES=1` also times the warm run's parts, and
//! `POLICYRUN_BENCH_ONLY=uncached|cold|warm|changed|forgetful` runs that side alone (for a
//! profiler).
//! `POLICYRUN_BENCH_CORPUS=DIR` only writes the corpus, expanded and committed to git, into
//! DIR (which must not exist), to time the binary on it. `POLICYRUN_BENCH_POLICIES=1` adds
//! our bundled packs to the corpus (at the baseline level, which it passes), so that every
//! side runs the policy stage too — the warm side with its memory of verdicts — plus a side
//! `forgetful`: warm expansions, the policy verdicts forgotten before each run.

mod measure;
mod synthetic;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use measure::median;
use policyrun::cli::config::Config;
use policyrun::jsonnet::records::Records;
use policyrun::pipeline::check::{self as gate, Options};
use policyrun::report::{self, Report, RunInfo, human::Human, junit};
use policyrun::store::Store;
use serde_json::Value;

fn collect_garbage() {
    rayon::broadcast(|_| jrsonnet_gcmodule::collect_thread_cycles());
}

fn git(root: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@policyrun.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .expect("git runs");
    assert!(status.status.success(), "git {args:?}");
}

#[derive(Default)]
struct Side {
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
}

impl Side {
    fn push(&mut self, wall: Duration, cpu: Option<Duration>) {
        self.wall.push(wall);
        self.cpu.extend(cpu);
    }
}

fn ratio(a: &[Duration], b: &[Duration]) -> String {
    measure::median_ratio(a, b).map_or_else(|| "-".into(), |r| format!("{:.1}%", r * 100.0))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// Copies our bundled packs and waivers into the corpus and selects them, every cluster at
/// the Pod Security baseline (the synthetic workloads set no security contexts, which the
/// restricted level requires).
fn add_policies(root: &Path) {
    synthetic::copy_policy_packs(root);
    let config = root.join("policyrun.toml");
    let text = std::fs::read_to_string(&config).expect("policyrun.toml");
    let text = text.replace(
        "\"\n",
        "\"\n[cluster.policy]\npod_security = \"baseline\"\n",
    );
    std::fs::write(
        &config,
        text + "\n[policy]\nnamespaces = [\"namespace\", \"security\", \"cluster\"]\nwaivers = [\"policies/waivers.yaml\"]\n",
    )
    .expect("policyrun.toml");
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let stacks: usize = std::env::var("POLICYRUN_BENCH_STACKS")
        .ok()
        .map(|n| n.parse().expect("stack count"))
        .unwrap_or(if benchmarking { 1000 } else { 20 });
    let rounds: usize = std::env::var("POLICYRUN_BENCH_ROUNDS")
        .ok()
        .map(|n| n.parse().expect("round count"))
        .unwrap_or(if benchmarking { 7 } else { 1 });
    let phases = std::env::var_os("POLICYRUN_BENCH_PHASES").is_some();

    let dir = tempfile::tempdir().expect("temporary directory");
    let corpus_only = std::env::var_os("POLICYRUN_BENCH_CORPUS").map(std::path::PathBuf::from);
    let root = corpus_only
        .clone()
        .unwrap_or_else(|| dir.path().join("repo"));
    assert!(!root.exists(), "{} exists", root.display());
    let library = Path::new(env!("CARGO_MANIFEST_DIR")).join("lib");
    synthetic::generate(&root, &library, stacks).expect("write the synthetic repository");
    let with_policies = std::env::var_os("POLICYRUN_BENCH_POLICIES").is_some();
    if with_policies {
        add_policies(&root);
    }
    let config = Config::load(&root.join("policyrun.toml")).expect("configuration");
    let clusters: Vec<_> = config.repo.clusters.iter().collect();
    let entries = policyrun::jsonnet::discover::entries(&config.repo, &clusters)
        .expect("entries")
        .entries;
    let expanded = policyrun::jsonnet::expand::expand_all(
        &config.repo,
        &entries,
        &policyrun::model::events::Unseen::shared(),
    );
    let (_, problems) =
        policyrun::freshness::write::write_tree(&config.repo, &clusters, &expanded, true);
    assert!(problems.is_empty(), "{problems:?}");
    let objects = gate::targets(&expanded).len();
    drop(expanded);
    git(&root, &["init", "-q"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "synthetic"]);
    if let Some(corpus) = corpus_only {
        println!("wrote {}", corpus.display());
        return;
    }

    let cache_dir = |name: &str| dir.path().join(name);
    let junit = dir.path().join("junit.xml");
    let touched = "common/app-0001.jsonnet";
    let original = std::fs::read_to_string(root.join(touched)).expect("the stack");
    // The binary, as `policyrun check --junit` runs on the corpus; returns its stats.
    let run = |args: &[&str], json: bool| -> (Option<Value>, Duration, Duration) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_policyrun"));
        command
            .arg("check")
            .arg("--junit")
            .arg(&junit)
            .args(args)
            .current_dir(&root)
            .env("CI", "1")
            .env("NO_COLOR", "1")
            .stderr(Stdio::inherit());
        if json {
            command.args(["--output", "json"]);
        }
        let (output, wall, cpu) =
            measure::timed_children(|| command.output().expect("policyrun runs"));
        assert!(output.status.success(), "policyrun {args:?} failed");
        let stats = json.then(|| {
            let doc: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
            doc["expansion"].clone()
        });
        (stats, wall, cpu)
    };
    let path = |p: &Path| p.to_str().expect("UTF-8 path").to_owned();
    let warm_dir = path(&cache_dir("warm"));
    let changed_dir = path(&cache_dir("changed"));
    let edit = |round: usize| {
        std::fs::write(
            root.join(touched),
            format!("// edited in round {round}\n{original}"),
        )
        .expect("edit")
    };
    let restore = || std::fs::write(root.join(touched), &original).expect("restore");

    // Warm the file cache and both warm caches, and check that each side does what it
    // says: the warm run takes every entry from the cache, the partial one evaluates the
    // touched stack's three entries and checks only them.
    run(&["--cache-dir", &warm_dir], false);
    let (stats, ..) = run(&["--cache-dir", &warm_dir], true);
    let stats = stats.expect("stats");
    assert_eq!(stats["cached"], entries.len());
    if with_policies {
        assert_eq!(
            stats["policy_recalled"], objects,
            "every object's verdicts recalled"
        );
    }
    run(&["--cache-dir", &changed_dir], false);
    edit(usize::MAX);
    let (stats, ..) = run(
        &["--cache-dir", &changed_dir, "--changed-since", "HEAD"],
        true,
    );
    let stats = stats.expect("stats");
    assert_eq!(
        (stats["evaluated"].as_u64(), stats["checked"].as_u64()),
        (Some(3), Some(3))
    );
    restore();

    // With the packs: warm expansions, but the policy verdicts forgotten before each run
    // (their file deleted), for what remembering them saves.
    let forgetful_dir = path(&cache_dir("forgetful"));
    let forget = || {
        for file in walkdir::WalkDir::new(&forgetful_dir) {
            let file = file.expect("the cache").into_path();
            if file.file_name().is_some_and(|n| n == "policy-verdicts") {
                std::fs::remove_file(file).expect("forget the verdicts");
            }
        }
    };
    if with_policies {
        run(&["--cache-dir", &forgetful_dir], false);
    }
    let (mut uncached, mut cold, mut warm, mut changed, mut forgetful) = (
        Side::default(),
        Side::default(),
        Side::default(),
        Side::default(),
        Side::default(),
    );
    let only = std::env::var("POLICYRUN_BENCH_ONLY").ok().map(|side| {
        ["uncached", "cold", "warm", "changed", "forgetful"]
            .iter()
            .position(|s| *s == side)
            .expect("POLICYRUN_BENCH_ONLY: uncached, cold, warm, changed or forgetful")
    });
    let sides = if with_policies { 5 } else { 4 };
    for round in 0..rounds {
        // The sides rotate their order, so that none always follows the same one.
        for side in 0..sides {
            let which = (round + side) % sides;
            if only.is_some_and(|o| o != which) {
                continue;
            }
            match which {
                0 => {
                    let (_, wall, cpu) = run(&["--no-cache"], false);
                    uncached.push(wall, Some(cpu));
                }
                1 => {
                    // Each cold round gets a new directory, deleted only at the end: ext4
                    // searches longer for a free inode right after thousands of files
                    // were deleted, which would bill this round for the last one's
                    // clean-up.
                    let dir = path(&cache_dir(&format!("cold-{round}")));
                    let (_, wall, cpu) = run(&["--cache-dir", &dir], false);
                    cold.push(wall, Some(cpu));
                }
                2 => {
                    let (_, wall, cpu) = run(&["--cache-dir", &warm_dir], false);
                    warm.push(wall, Some(cpu));
                }
                4 => {
                    forget();
                    let (_, wall, cpu) = run(&["--cache-dir", &forgetful_dir], false);
                    forgetful.push(wall, Some(cpu));
                }
                _ => {
                    // A new edit each round, so the stack's three entries are evaluated.
                    edit(round);
                    let (_, wall, cpu) = run(
                        &["--cache-dir", &changed_dir, "--changed-since", "HEAD"],
                        false,
                    );
                    changed.push(wall, Some(cpu));
                    restore();
                }
            }
        }
    }

    if only.is_some() {
        if phases {
            warm_phases(&config, &root, &clusters);
        }
        return;
    }
    println!(
        "policyrun cache benchmark: the binary, `policyrun check --junit`, on {} clusters × {stacks} stacks ({} entries), {} cores, median of {rounds} rounds",
        synthetic::CLUSTERS.len(),
        entries.len(),
        rayon::current_num_threads()
    );
    println!("{:<28} {:>11} {:>11}", "side", "wall", "cpu (all threads)");
    for (name, side) in [
        ("check --no-cache", &uncached),
        ("cold (empty cache)", &cold),
        ("warm (nothing changed)", &warm),
        ("--changed-since, 1 stack", &changed),
        ("warm, verdicts forgotten", &forgetful),
    ] {
        if side.wall.is_empty() {
            continue;
        }
        let cpu = if side.cpu.is_empty() {
            "-".into()
        } else {
            ms(median(side.cpu.clone()))
        };
        println!("{name:<28} {:>11} {cpu:>11}", ms(median(side.wall.clone())));
    }
    println!("ratios (median of each round's own ratio), wall (cpu):");
    let changed_note = format!("target <= 10%; 3 of {} entries checked", entries.len());
    let mut rows: Vec<(&str, &Side, &Side, &str)> = vec![
        ("cold / no cache", &cold, &uncached, ""),
        ("warm / cold", &warm, &cold, "target <= 15%"),
        ("warm / no cache", &warm, &uncached, ""),
        ("changed-since / cold", &changed, &cold, &changed_note),
        ("changed-since / no cache", &changed, &uncached, ""),
        ("changed-since / warm full", &changed, &warm, ""),
    ];
    if with_policies {
        rows.push(("warm / warm, verdicts forgotten", &warm, &forgetful, ""));
    }
    for (name, side, base, note) in rows {
        let line = format!(
            "  {:<33} {} ({})   {note}",
            format!("{name}:"),
            ratio(&side.wall, &base.wall),
            ratio(&side.cpu, &base.cpu)
        );
        println!("{}", line.trim_end());
    }
    if phases {
        warm_phases(&config, &root, &clusters);
    }
}

/// Where a warm run's time goes: the expansion (cache lookups: reading and checking
/// records, hashing inputs, parsing the cached files), the committed tree, freshness, the
/// schema stage, and the reports.
fn warm_phases(config: &Config, root: &Path, clusters: &[&policyrun::model::repository::Cluster]) {
    // This process is another build than the binary: its records have keys of their own.
    let options = &Options {
        cache: Some(
            Store::open(&root.with_extension("phases-cache"), &config.repo.root).expect("cache"),
        ),
        ..Options::default()
    };
    gate::check(config, options).expect("warms the cache");
    let mut lookups = Vec::new();
    let mut scans = Vec::new();
    let mut fresh = Vec::new();
    let mut schemas = Vec::new();
    let mut reports = Vec::new();
    let mut reads = Vec::new();
    let mut rebuilds = Vec::new();
    let entries = policyrun::jsonnet::discover::entries(&config.repo, clusters)
        .expect("entries")
        .entries;
    let cache = Records::in_store(options.cache.as_ref().expect("a cache"));
    for _ in 0..5 {
        use rayon::prelude::*;
        let started = Instant::now();
        let tree = policyrun::jsonnet::records::WorkTree::new(&config.repo.root);
        let keys: Vec<String> = entries
            .par_iter()
            .map(|e| cache.key(&config.repo, e))
            .collect();
        let loaded = cache.load(&keys);
        let records: Vec<_> = entries
            .par_iter()
            .zip(&keys)
            .map(|(e, key)| {
                cache
                    .lookup(&loaded, &config.repo, e, key, &tree)
                    .expect("a hit")
            })
            .collect();
        reads.push(started.elapsed());
        let started = Instant::now();
        let expanded: Vec<_> = records
            .into_par_iter()
            .zip(&entries)
            .map(|(r, e)| {
                r.into_expanded(&config.repo, e, &policyrun::model::events::Unseen)
                    .expect("rebuilt")
            })
            .collect();
        rebuilds.push(started.elapsed());
        drop(expanded);
    }
    println!(
        "warm lookups alone: reading the buckets, checking the records and their inputs {}, rebuilding the expansions from them {}",
        ms(median(reads)),
        ms(median(rebuilds))
    );
    for _ in 0..5 {
        collect_garbage();
        let started = Instant::now();
        let gate::Expansion {
            expanded, stats, ..
        } = gate::expand(config, options).expect("expand");
        lookups.push(started.elapsed());
        assert_eq!(stats.evaluated, 0);
        let started = Instant::now();
        let tree = policyrun::freshness::CommittedTree::scan(&config.repo, clusters, true);
        scans.push(started.elapsed());
        let started = Instant::now();
        let mut outcomes = policyrun::freshness::check(&config.repo, &tree, &expanded);
        fresh.push(started.elapsed());
        let started = Instant::now();
        let mut catalog = policyrun::schema::Catalog::new(config.schema.clone()).expect("schemas");
        let targets = gate::targets(&expanded);
        // As a warm gate checks them: what passed in the first run is recalled.
        let input = policyrun::schema::Input {
            targets: &targets,
            context: &[],
            share: true,
            memory: options
                .cache
                .as_ref()
                .map(policyrun::schema::memory::SchemaMemory::open),
            every_object: true,
        };
        outcomes.extend(policyrun::schema::run(&mut catalog, input).outcomes);
        schemas.push(started.elapsed());
        drop(targets);
        outcomes.extend(gate::expansion_outcomes(&expanded));
        let started = Instant::now();
        let order: Vec<String> = config
            .repo
            .clusters
            .iter()
            .map(|c| c.name.clone())
            .collect();
        report::sort(&mut outcomes, &order);
        let info = RunInfo {
            command: "check",
            elapsed: Duration::ZERO,
            stats: Some(stats),
        };
        Human::new(std::io::sink(), false, false)
            .write(&outcomes, &info)
            .unwrap();
        junit::render(&outcomes, &info).unwrap();
        reports.push(started.elapsed());
        drop(expanded);
        drop(outcomes);
    }
    println!(
        "warm run, one part at a time (one after another, medians of 5): cache lookups and rebuilding the expansions {}, scanning the committed tree {}, freshness {}, schema stage (with loading) {}, sorting and reports {}",
        ms(median(lookups)),
        ms(median(scans)),
        ms(median(fresh)),
        ms(median(schemas)),
        ms(median(reports)),
    );
}
