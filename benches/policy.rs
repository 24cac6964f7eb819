//! Measures the policy stage with the bundled packs (`policies/`) on the synthetic
//! benchmark corpus: microseconds per object on one worker thread, and how the stage scales
//! to every core, in one run. One-thread and all-thread runs alternate in every round and
//! the medians are reported (wall clock and CPU time), because these machines are shared.
//! Run with `cargo bench --bench policy`; `POLICYRUN_BENCH_STACKS=400` and
//! `POLICYRUN_BENCH_ROUNDS=7` change the defaults.

mod synthetic;

// The binary's allocator, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use policyrun::config::Config;
use policyrun::policy::PolicyStage;
use policyrun::schema::Catalog;
use policyrun::{discover, expand, gate};

/// The packages of the bundled packs, as our own policyrun.toml selects them.
const PACKAGES: [&str; 3] = ["namespace", "security", "cluster"];

fn cpu_time() -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
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
    match std::env::var("POLICYRUN_BENCH_ENGINE").as_deref() {
        Ok("vm") => config.policy.engine = policyrun::policy::RegoEngine::Vm,
        Ok("interpreter") | Err(_) => {
            config.policy.engine = policyrun::policy::RegoEngine::Interpreter
        }
        Ok(other) => panic!("POLICYRUN_BENCH_ENGINE={other}: vm or interpreter"),
    }
    let clusters: Vec<_> = config.clusters.iter().collect();
    let entries = discover::entries(&config, &clusters).expect("entries");
    let expanded = expand::expand_all(&config, &entries, &ProgressBar::hidden());
    let targets = gate::targets(&expanded);
    let catalog = Catalog::new(config.schema.clone()).expect("schemas");

    {
        use serde::Deserialize;
        let started = Instant::now();
        for t in &targets { std::hint::black_box(regorus::Value::deserialize(t.value).unwrap()); }
        println!("deserialize: {:.1} µs/object", started.elapsed().as_secs_f64() * 1e6 / targets.len() as f64);
    }
    let started = Instant::now();
    let stage = PolicyStage::new(&config.root, &config.policy);
    let load_time = started.elapsed();
    let rules: usize = stage.packages().iter().map(|p| p.rules.len()).sum();

    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("pool");
    let all = rayon::ThreadPoolBuilder::new().build().expect("pool");
    let threads = all.current_num_threads();
    let run = |pool: &rayon::ThreadPool| {
        let cpu_before = cpu_time();
        let started = Instant::now();
        let outcomes = pool.install(|| gate::policy_outcomes(&config, &stage, &catalog, &targets));
        let wall = started.elapsed();
        let cpu = cpu_time().zip(cpu_before).map(|(a, b)| a.saturating_sub(b));
        assert!(
            outcomes.iter().all(|o| !o.status.is_failure() || o.check != policyrun::policy::LOAD),
            "the packs load"
        );
        (outcomes.len(), wall, cpu.unwrap_or(wall))
    };
    // Warm both pools (engine clones, allocator).
    let (results, _, _) = run(&one);
    run(&all);
    let (mut one_wall, mut one_cpu, mut all_wall, mut all_cpu) = (vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        let order: [bool; 2] = if round % 2 == 0 { [true, false] } else { [false, true] };
        for single in order {
            let (_, wall, cpu) = run(if single { &one } else { &all });
            if single {
                one_wall.push(wall);
                one_cpu.push(cpu);
            } else {
                all_wall.push(wall);
                all_cpu.push(cpu);
            }
        }
    }
    let objects = targets.len();
    let per_object = |d: Duration| d.as_secs_f64() * 1e6 / objects as f64;
    let (one_wall, one_cpu, all_wall, all_cpu) =
        (median(one_wall), median(one_cpu), median(all_wall), median(all_cpu));
    println!(
        "policy stage, bundled packs ({} packages, {rules} rules), {stacks} stacks: {objects} objects, {results} results; load {:.1} ms",
        stage.packages().len(),
        load_time.as_secs_f64() * 1e3
    );
    println!(
        "  1 thread:  {:>7.1} ms wall, {:.1} µs/object wall, {:.1} µs/object CPU",
        one_wall.as_secs_f64() * 1e3,
        per_object(one_wall),
        per_object(one_cpu)
    );
    println!(
        "  {threads} threads: {:>7.1} ms wall, {:.1} µs/object wall, {:.1} µs/object CPU",
        all_wall.as_secs_f64() * 1e3,
        per_object(all_wall),
        per_object(all_cpu)
    );
    println!(
        "  scaling: {:.2}x faster on {threads} threads (median of {rounds} rounds)",
        one_wall.as_secs_f64() / all_wall.as_secs_f64()
    );
    std::mem::forget(expanded);
}
