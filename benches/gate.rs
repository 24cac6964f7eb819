//! Measures `policyrun check` against pure parallel evaluation of the same tree, in one
//! run, at two sizes ten times apart. Ratios, not absolute times, are the figures that
//! count: these machines are shared and noisy. Run with `cargo bench --bench gate`;
//! `POLICYRUN_BENCH_STACKS=100,1000` and `POLICYRUN_BENCH_ROUNDS=5` change the defaults;
//! `POLICYRUN_BENCH_PHASES=1` also prints the expansion and freshness phases of each round.

mod synthetic;

use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use policyrun::config::Config;
use policyrun::gate::{self, Options};
use policyrun::report::{self, Report, RunInfo, human::Human, junit};
use policyrun::{discover, expand, write};

struct Figures {
    entries: usize,
    objects: usize,
    evaluate: Duration,
    check: Duration,
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// The whole gate as `policyrun check --junit` runs it: expansion, freshness, sorting,
/// the human report (to a sink) and the JUnit document.
fn full_check(config: &Config) -> usize {
    let started = Instant::now();
    let run = gate::check(config, &Options::default()).expect("gate runs");
    let gate_time = started.elapsed();
    let mut outcomes = run.outcomes;
    report::sort(&mut outcomes);
    let info = RunInfo {
        command: "check",
        elapsed: started.elapsed(),
    };
    Human::new(std::io::sink(), false, false)
        .write(&outcomes, &info)
        .unwrap();
    let xml = junit::render(&outcomes, &info).unwrap();
    if std::env::var_os("POLICYRUN_BENCH_PHASES").is_some() {
        eprintln!(
            "phases: gate {gate_time:?}, gate + reports {:?}",
            started.elapsed()
        );
    }
    assert!(
        outcomes.iter().all(|o| !o.status.is_failure()),
        "the synthetic repository must pass the gate"
    );
    xml.len()
}

/// jrsonnet leaves reference cycles in each thread's object space until they are
/// collected; a CLI run exits instead, but rounds in one process would pile them up and
/// slow every later round. Collect on every worker, outside the timed sections.
fn collect_garbage() {
    rayon::broadcast(|_| jrsonnet_gcmodule::collect_thread_cycles());
}

fn measure(root: &Path, stacks: usize, rounds: usize) -> Figures {
    let library = Path::new(env!("CARGO_MANIFEST_DIR")).join("lib");
    synthetic::generate(root, &library, stacks).expect("write the synthetic repository");
    let config = Config::load(&root.join("policyrun.toml")).expect("configuration");
    let clusters: Vec<_> = config.clusters.iter().collect();
    let entries = discover::entries(&config, &clusters).expect("entries");

    // Commit the expansion, as the repository would have it.
    let expanded = expand::expand_all(&config, &entries, &ProgressBar::hidden());
    let objects = expanded
        .iter()
        .map(|e| e.result.as_ref().map_or(0, |r| r.objects.len()))
        .sum();
    let (_, problems) = write::write_tree(&config, &clusters, &expanded, true);
    assert!(problems.is_empty(), "{problems:?}");

    // Warm the file cache and the thread pool for both sides.
    full_check(&config);
    let mut evaluate = Vec::new();
    let mut check = Vec::new();
    for _ in 0..rounds {
        collect_garbage();
        let started = Instant::now();
        let texts = expand::evaluate_only(&config, &entries);
        evaluate.push(started.elapsed());
        assert!(texts.iter().all(Result::is_ok));

        collect_garbage();
        let started = Instant::now();
        full_check(&config);
        check.push(started.elapsed());
        if std::env::var_os("POLICYRUN_BENCH_PHASES").is_some() {
            let started = Instant::now();
            let expanded = expand::expand_all(&config, &entries, &ProgressBar::hidden());
            let expand_time = started.elapsed();
            let started = Instant::now();
            let outcomes = policyrun::freshness::check(&config, &clusters, &expanded, true);
            eprintln!(
                "phases: expand_all {:?}, freshness {:?} ({} outcomes)",
                expand_time,
                started.elapsed(),
                outcomes.len()
            );
        }
    }
    Figures {
        entries: entries.len(),
        objects,
        evaluate: median(evaluate),
        check: median(check),
    }
}

fn main() {
    // `cargo test --benches` runs bench targets with --bench absent; stay quick there.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let sizes: Vec<usize> = std::env::var("POLICYRUN_BENCH_STACKS")
        .ok()
        .map(|s| {
            s.split(',')
                .map(|n| n.trim().parse().expect("stack count"))
                .collect()
        })
        .unwrap_or_else(|| {
            if benchmarking {
                vec![100, 1000]
            } else {
                vec![5, 50]
            }
        });
    let rounds: usize = std::env::var("POLICYRUN_BENCH_ROUNDS")
        .ok()
        .map(|n| n.parse().expect("round count"))
        .unwrap_or(if benchmarking { 5 } else { 1 });

    println!(
        "policyrun gate benchmark: {} clusters, {} worker threads, median of {rounds} rounds",
        synthetic::CLUSTERS.len(),
        rayon::current_num_threads()
    );
    println!(
        "{:>7} {:>8} {:>8} {:>12} {:>12} {:>14}",
        "stacks", "entries", "objects", "evaluate", "check", "check/evaluate"
    );
    let mut results = Vec::new();
    for &stacks in &sizes {
        let dir = tempfile::tempdir().expect("temporary directory");
        let figures = measure(dir.path(), stacks, rounds);
        println!(
            "{:>7} {:>8} {:>8} {:>10.1}ms {:>10.1}ms {:>14.3}",
            stacks,
            figures.entries,
            figures.objects,
            figures.evaluate.as_secs_f64() * 1e3,
            figures.check.as_secs_f64() * 1e3,
            figures.check.as_secs_f64() / figures.evaluate.as_secs_f64()
        );
        results.push((stacks, figures));
    }
    if let [(small, a), (large, b)] = &results[..] {
        println!(
            "scaling {small} -> {large} stacks ({:.1}x the work): check {:.2}x the time, evaluate {:.2}x",
            *large as f64 / *small as f64,
            b.check.as_secs_f64() / a.check.as_secs_f64(),
            b.evaluate.as_secs_f64() / a.evaluate.as_secs_f64()
        );
    }
}
