//! Measures the policy stage with the bundled packs (`policies/`) on the synthetic
//! benchmark corpus, in one run: microseconds per object on one worker thread and on every
//! core, for regorus' interpreter (the default; once more on one thread evaluating every rule,
//! without skipping by kind) and its virtual machine, and the stage's cost against the rest of
//! `policyrun check`, and each package's share (each alone on the interpreter and one
//! thread). Sides alternate in every round and medians are reported (wall clock and CPU
//! time), because these machines are shared and noisy.
//! Run with `cargo bench --bench policy`; `POLICYRUN_BENCH_STACKS=400` and
//! `POLICYRUN_BENCH_ROUNDS=7` change the defaults.

mod measure;
mod synthetic;

// The binary's allocator, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::time::{Duration, Instant};

use measure::{median, timed};
use policyrun::cli::config::Config;
use policyrun::freshness::write;
use policyrun::jsonnet::{discover, expand};
use policyrun::pipeline::check::{self as gate, Options};
use policyrun::policy::{PolicyStage, RegoEngine, RunShare};
use policyrun::schema::Catalog;

/// The packages of the bundled packs, as our own policyrun.toml selects them.
const PACKAGES: [&str; 3] = ["namespace", "security", "cluster"];

/// One measured configuration: an engine on a pool.
struct Side {
    name: String,
    stage: PolicyStage,
    pool: rayon::ThreadPool,
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
}

impl Side {
    /// `stage` on a pool of `threads` (0: every core), named by `name` from the pool's size.
    fn new(name: impl Fn(usize) -> String, stage: PolicyStage, threads: usize) -> Side {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        Side {
            name: name(pool.current_num_threads()),
            stage,
            pool,
            wall: Vec::new(),
            cpu: Vec::new(),
        }
    }
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let stacks: usize = std::env::var("POLICYRUN_BENCH_STACKS")
        .ok()
        .map(|n| n.parse().expect("stack count"))
        .unwrap_or(if benchmarking { 400 } else { 5 });
    let rounds: usize = std::env::var("POLICYRUN_BENCH_ROUNDS")
        .ok()
        .map(|n| n.parse().expect("round count"))
        .unwrap_or(if benchmarking { 7 } else { 1 });

    let dir = tempfile::tempdir().expect("temporary directory");
    let root = dir.path();
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    synthetic::generate(root, &manifest.join("lib"), stacks).expect("synthetic repository");
    let mut config = Config::load(&root.join("policyrun.toml")).expect("configuration");
    config.policy.dirs = vec![manifest.join("policies")];
    config.policy.namespaces = PACKAGES.iter().map(|p| p.to_string()).collect();
    config.policy.waivers = vec![manifest.join("policies/waivers.yaml")];
    let clusters: Vec<_> = config.repo.clusters.iter().collect();
    let entries = discover::entries(&config.repo, &clusters)
        .expect("entries")
        .entries;
    let expanded = expand::expand_all(
        &config.repo,
        &entries,
        &policyrun::model::events::Unseen::shared(),
    );
    let (_, problems) = write::write_tree(&config.repo, &clusters, &expanded, true);
    assert!(problems.is_empty(), "{problems:?}");
    let targets = gate::targets(&expanded);
    let catalog = Catalog::new(config.schema.clone()).expect("schemas");
    let objects = targets.len();

    // Handing objects to regorus is part of every evaluation; shown on its own.
    let started = Instant::now();
    for t in &targets {
        let value: regorus::Value = serde::Deserialize::deserialize(t.value()).expect("converts");
        std::hint::black_box(value);
    }
    let conversion = started.elapsed();

    let mut sides: Vec<Side> = Vec::new();
    for engine in [RegoEngine::Interpreter, RegoEngine::Vm] {
        for threads in [1, 0] {
            let mut settings = config.policy.clone();
            settings.engine = engine;
            let stage = PolicyStage::new(&config.repo.root, &settings);
            sides.push(Side::new(
                |n| format!("{engine:?}, {n} thread(s)"),
                stage,
                threads,
            ));
        }
    }
    let mut interpreter = config.policy.clone();
    interpreter.engine = RegoEngine::Interpreter;
    // The interpreter without skipping rules whose leading kind test rules an object out.
    let stage = PolicyStage::new(&config.repo.root, &interpreter).without_kind_skipping();
    sides.push(Side::new(|_| "Interpreter, 1, every rule".into(), stage, 1));
    // Each package alone, on the interpreter and one thread: where the stage's time goes.
    let first_alone = sides.len();
    for package in PACKAGES {
        let mut settings = interpreter.clone();
        settings.namespaces = vec![package.to_owned()];
        let stage = PolicyStage::new(&config.repo.root, &settings);
        sides.push(Side::new(
            |_| format!("Interpreter, 1, {package} only"),
            stage,
            1,
        ));
    }
    let run = |side: &Side| {
        let (outcomes, wall, cpu) = timed(|| {
            side.pool.install(|| {
                gate::policy_outcomes(&config, &side.stage, &catalog, &targets, &RunShare::whole())
            })
        });
        assert!(
            !outcomes.iter().any(|o| o.check == policyrun::policy::LOAD),
            "the packs load and compile: {:?}",
            outcomes.iter().find(|o| o.check == policyrun::policy::LOAD)
        );
        (outcomes.len(), wall, cpu.unwrap_or(wall))
    };
    // The whole gate without the policy stage, for the stage's share.
    // As a repository without policies, packs or constraints configured.
    let mut without = config.clone();
    without.policy.packs.clear();
    without.policy.dirs.clear();
    without.policy.gatekeeper.clear();
    let check_without_policy = || {
        let started = Instant::now();
        let run = gate::check(&without, &Options::default()).expect("gate runs");
        let elapsed = started.elapsed();
        std::mem::forget(run);
        elapsed
    };
    // Every side once before the rounds; the results counted are those of every package.
    let mut results = 0;
    for (i, side) in sides.iter().enumerate() {
        let found = run(side).0;
        if i == 0 {
            results = found;
        }
    }
    // Both engines give the same verdicts on the corpus (it raises no evaluation error).
    let verdicts = |side: &Side| {
        let mut found: Vec<(String, String, policyrun::model::outcome::Status, String)> = side
            .pool
            .install(|| {
                gate::policy_outcomes(&config, &side.stage, &catalog, &targets, &RunShare::whole())
            })
            .into_iter()
            .map(|o| {
                let cluster = o.cluster.unwrap_or_default();
                let subject = o.subject.unwrap_or_default();
                (cluster, subject, o.status, o.message)
            })
            .collect();
        found.sort();
        found
    };
    let interpreted = verdicts(&sides[0]);
    assert!(
        interpreted == verdicts(&sides[2]),
        "the interpreter and the virtual machine disagree"
    );
    assert!(
        interpreted == verdicts(&sides[4]),
        "skipping rules by kind changes verdicts"
    );
    check_without_policy();
    let mut check_times = Vec::new();
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..sides.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let (_, wall, cpu) = run(&sides[i]);
            sides[i].wall.push(wall);
            sides[i].cpu.push(cpu);
        }
        check_times.push(check_without_policy());
    }
    let per_object = |d: Duration| d.as_secs_f64() * 1e6 / objects as f64;
    let rules: usize = sides[0]
        .stage
        .packages()
        .iter()
        .map(|p| p.rules.len())
        .sum();
    let limited = sides[0]
        .stage
        .packages()
        .iter()
        .flat_map(|p| &p.rules)
        .filter(|r| r.kinds != policyrun::policy::rego::kinds::Kinds::Any)
        .count();
    println!(
        "policy stage, bundled packs ({rules} rules, {limited} limited to kinds), {stacks} stacks: {objects} objects, {results} results, median of {rounds} rounds"
    );
    println!(
        "  converting objects to Rego values: {:.1} µs/object (inside every figure below)",
        per_object(conversion)
    );
    let check = median(check_times);
    let mut medians = Vec::new();
    for side in &sides {
        let (wall, cpu) = (median(side.wall.clone()), median(side.cpu.clone()));
        medians.push(wall);
        println!(
            "  {:<26} {:>8.1} ms wall  {:>6.1} µs/object wall  {:>6.1} µs/object CPU  {:>4.0}% of check without policy",
            side.name,
            wall.as_secs_f64() * 1e3,
            per_object(wall),
            per_object(cpu),
            100.0 * wall.as_secs_f64() / check.as_secs_f64()
        );
    }
    let threads = sides[1].pool.current_num_threads();
    println!(
        "  scaling to {threads} threads: interpreter {:.2}x, vm {:.2}x; vm is {:.2}x faster than the interpreter on one thread",
        medians[0].as_secs_f64() / medians[1].as_secs_f64(),
        medians[2].as_secs_f64() / medians[3].as_secs_f64(),
        medians[0].as_secs_f64() / medians[2].as_secs_f64()
    );
    println!(
        "  skipping rules whose leading kind test rules the object out: the interpreter on one thread takes {:.2} of the time it takes evaluating every rule",
        medians[0].as_secs_f64() / medians[4].as_secs_f64()
    );
    let alone: f64 = medians[first_alone..]
        .iter()
        .map(Duration::as_secs_f64)
        .sum();
    println!(
        "  the packages one at a time add up to {:.2} of them all at once (interpreter, one thread)",
        alone / medians[0].as_secs_f64()
    );
    println!(
        "  check without the policy stage: {:.1} ms wall",
        check.as_secs_f64() * 1e3
    );
    // Loading the packs, and what OPA's safety rules (checked at load) add to it.
    let settings = config.policy.clone();
    let mut loads = Vec::new();
    let mut checks = Vec::new();
    for _ in 0..rounds.max(9) {
        let (loaded, wall, _) = timed(|| {
            policyrun::policy::load::load(
                &config.repo.root,
                &settings,
                policyrun::policy::load::Purpose::Judge,
            )
            .expect("packs load")
        });
        loads.push(wall);
        let mut engine = loaded.engine.clone();
        let (found, wall, _) =
            timed(|| policyrun::policy::rego::safety::unsafe_variables(&mut engine));
        assert!(found.is_empty(), "our packs are safe: {found:?}");
        checks.push(wall);
    }
    println!(
        "  loading the packs: {:.2} ms wall, of which the safety check {:.2} ms",
        median(loads).as_secs_f64() * 1e3,
        median(checks).as_secs_f64() * 1e3
    );
    // `--shard K/2`: the whole gate with the packs against each of its two halves, for
    // what an agent saves when two share the gate.
    let gate_with = |shard: Option<&str>| {
        let started = Instant::now();
        let options = Options {
            shard: shard.map(|s| s.parse().expect("shard")),
            ..Options::default()
        };
        let run = gate::check(&config, &options).expect("gate runs");
        let elapsed = started.elapsed();
        std::mem::forget(run);
        elapsed
    };
    let shards = [None, Some("1/2"), Some("2/2")];
    let mut shard_times: Vec<Vec<Duration>> = vec![Vec::new(); shards.len()];
    gate_with(None);
    for round in 0..rounds {
        for i in 0..shards.len() {
            let i = (i + round) % shards.len();
            shard_times[i].push(gate_with(shards[i]));
        }
    }
    let shard_medians: Vec<Duration> = shard_times.into_iter().map(median).collect();
    let slowest = shard_medians[1].max(shard_medians[2]);
    println!(
        "  whole check with the packs: {:.1} ms wall; --shard 1/2 {:.1} ms, 2/2 {:.1} ms: the slower half takes {:.2} of the whole",
        shard_medians[0].as_secs_f64() * 1e3,
        shard_medians[1].as_secs_f64() * 1e3,
        shard_medians[2].as_secs_f64() * 1e3,
        slowest.as_secs_f64() / shard_medians[0].as_secs_f64()
    );
    std::mem::forget(expanded);
}
