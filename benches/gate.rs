//! Measures `policyrun check` against pure parallel evaluation of the same tree, in one
//! run, at two sizes ten times apart. Ratios, not absolute times, are the figures that
//! count: these machines are shared and noisy, so the sizes take turns in every round,
//! evaluation and check alternate which goes first, each round's ratio is taken on its
//! own and the median of those is reported, for wall-clock and CPU time alike.
//! Run with `cargo bench --bench gate`; `POLICYRUN_BENCH_STACKS=100,1000` and
//! `POLICYRUN_BENCH_ROUNDS=9` change the defaults; `POLICYRUN_BENCH_PHASES=1` also prints
//! the expansion and freshness phases of each round; `POLICYRUN_BENCH_ONLY=evaluate` (or
//! `check`) runs one side alone, for a profiler. The check is also run without its schema
//! stage and without its style stage, and the style stage alone, for their shares.

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
use policyrun::model::outcome::Status;
use policyrun::pipeline::check::{self as gate, Options};
use policyrun::report::{self, Report, RunInfo, human::Human, junit};

/// The whole gate as `policyrun check --junit` runs it: expansion, freshness, sorting,
/// the human report (to a sink) and the JUnit document. Returns the expansions, which
/// the binary leaves to the process exit, for the caller to drop outside the timing.
fn full_check(config: &Config, options: &Options) -> Vec<policyrun::model::expansion::Expanded> {
    let started = Instant::now();
    let run = gate::check(config, options).expect("gate runs");
    let gate_time = started.elapsed();
    let mut outcomes = run.outcomes;
    let order: Vec<String> = config
        .repo
        .clusters
        .iter()
        .map(|c| c.name.clone())
        .collect();
    report::sort(&mut outcomes, &order);
    let info = RunInfo {
        command: "check",
        elapsed: started.elapsed(),
        stats: None,
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
    if let Some(failure) = outcomes.iter().find(|o| o.status.is_failure()) {
        panic!("the synthetic repository must pass the gate: {failure:?}");
    }
    assert!(!xml.is_empty());
    run.expanded
}

/// jrsonnet leaves reference cycles in each thread's object space until they are
/// collected; a CLI run exits instead, but rounds in one process would pile them up and
/// slow every later round. Collect on every worker, outside the timed sections.
fn collect_garbage() {
    rayon::broadcast(|_| jrsonnet_gcmodule::collect_thread_cycles());
}

/// A synthetic repository, generated, expanded and committed, ready to be measured.
struct Prepared {
    _dir: tempfile::TempDir,
    stacks: usize,
    config: Config,
    entries: Vec<policyrun::model::expansion::Entry>,
    objects: usize,
    evaluate: Vec<Duration>,
    check: Vec<Duration>,
    evaluate_cpu: Vec<Duration>,
    check_cpu: Vec<Duration>,
    without_schema: Vec<Duration>,
    without_schema_cpu: Vec<Duration>,
    without_style: Vec<Duration>,
    without_style_cpu: Vec<Duration>,
    /// The style stage alone (`style::check` on every source), and how many sources.
    style: Vec<Duration>,
    style_cpu: Vec<Duration>,
    sources: usize,
}

fn prepare(stacks: usize) -> Prepared {
    let dir = tempfile::tempdir().expect("temporary directory");
    let root = dir.path();
    let library = Path::new(env!("CARGO_MANIFEST_DIR")).join("lib");
    synthetic::generate(root, &library, stacks).expect("write the synthetic repository");
    let config = Config::load(&root.join("policyrun.toml")).expect("configuration");
    let clusters: Vec<_> = config.repo.clusters.iter().collect();
    let entries = discover::entries(&config.repo, &clusters)
        .expect("entries")
        .entries;

    // Commit the expansion, as the repository would have it.
    let expanded = expand::expand_all(
        &config.repo,
        &entries,
        &policyrun::model::events::Unseen::shared(),
    );
    let objects = expanded
        .iter()
        .map(|e| e.result.as_ref().map_or(0, |r| r.objects.len()))
        .sum();
    let (_, problems) = write::write_tree(&config.repo, &clusters, &expanded, true);
    assert!(problems.is_empty(), "{problems:?}");
    drop(expanded);

    // Warm the file cache and the thread pool for both sides.
    collect_garbage();
    full_check(&config, &Options::default());
    collect_garbage();
    Prepared {
        _dir: dir,
        stacks,
        config,
        entries,
        objects,
        evaluate: Vec::new(),
        check: Vec::new(),
        evaluate_cpu: Vec::new(),
        check_cpu: Vec::new(),
        without_schema: Vec::new(),
        without_schema_cpu: Vec::new(),
        without_style: Vec::new(),
        without_style_cpu: Vec::new(),
        style: Vec::new(),
        style_cpu: Vec::new(),
        sources: 0,
    }
}

/// Which gate a measurement runs: the whole one, or one without a stage.
enum Gate {
    Whole,
    WithoutSchema,
    WithoutStyle,
}

fn measure_check_with(repo: &mut Prepared, gate: Gate) {
    collect_garbage();
    let without_style;
    let (config, options) = match gate {
        Gate::WithoutStyle => {
            // As `[style] enabled = false` leaves it out.
            let mut config = repo.config.clone();
            config.style.enabled = false;
            without_style = config;
            (&without_style, Options::default())
        }
        Gate::WithoutSchema => (
            &repo.config,
            Options {
                without_schema: true,
                ..Options::default()
            },
        ),
        Gate::Whole => (&repo.config, Options::default()),
    };
    let (expanded, wall, cpu) = timed(|| full_check(config, &options));
    let (walls, cpus) = match gate {
        Gate::WithoutSchema => (&mut repo.without_schema, &mut repo.without_schema_cpu),
        Gate::WithoutStyle => (&mut repo.without_style, &mut repo.without_style_cpu),
        Gate::Whole => (&mut repo.check, &mut repo.check_cpu),
    };
    walls.push(wall);
    cpus.extend(cpu);
    drop(expanded);
}

fn measure_check(repo: &mut Prepared) {
    measure_check_with(repo, Gate::Whole);
}

fn measure_without_schema(repo: &mut Prepared) {
    measure_check_with(repo, Gate::WithoutSchema);
}

fn measure_without_style(repo: &mut Prepared) {
    measure_check_with(repo, Gate::WithoutStyle);
}

/// The style stage on its own: walking the repository and formatting every source.
fn measure_style(repo: &mut Prepared) {
    let clusters: Vec<_> = repo.config.repo.clusters.iter().collect();
    let (outcomes, wall, cpu) =
        timed(|| policyrun::style::check(&repo.config.repo, &repo.config.style, &clusters));
    assert!(
        outcomes.iter().all(|o| o.status == Status::Passed),
        "the synthetic sources must be in canonical form"
    );
    repo.sources = outcomes.len();
    repo.style.push(wall);
    repo.style_cpu.extend(cpu);
}

fn measure_evaluate(repo: &mut Prepared) {
    collect_garbage();
    let (texts, wall, cpu) = timed(|| {
        expand::evaluate_only(
            &repo.config.repo,
            &repo.entries,
            &policyrun::model::events::Unseen::shared(),
        )
    });
    repo.evaluate.push(wall);
    repo.evaluate_cpu.extend(cpu);
    assert!(texts.iter().all(Result::is_ok));
    drop(texts);
}

/// One round on one repository: pure evaluation, the whole check, and the check without
/// its schema stage, in an order that rotates from round to round so that no side always
/// inherits another's heap.
fn round(repo: &mut Prepared) {
    // For profiling one side alone: POLICYRUN_BENCH_ONLY=evaluate or =check.
    let only = std::env::var("POLICYRUN_BENCH_ONLY").unwrap_or_default();
    if only == "check" {
        collect_garbage();
        full_check(&repo.config, &Options::default());
        return;
    }
    if only == "evaluate" {
        collect_garbage();
        let _ = expand::evaluate_only(
            &repo.config.repo,
            &repo.entries,
            &policyrun::model::events::Unseen::shared(),
        );
        return;
    }
    let sides: [fn(&mut Prepared); 5] = [
        measure_evaluate,
        measure_check,
        measure_without_schema,
        measure_without_style,
        measure_style,
    ];
    let first = repo.check.len() % sides.len();
    for i in 0..sides.len() {
        sides[(first + i) % sides.len()](repo);
    }
    if std::env::var_os("POLICYRUN_BENCH_PHASES").is_some() {
        collect_garbage();
        let clusters: Vec<_> = repo.config.repo.clusters.iter().collect();
        let started = Instant::now();
        let expanded = expand::expand_all(
            &repo.config.repo,
            &repo.entries,
            &policyrun::model::events::Unseen::shared(),
        );
        let expand_time = started.elapsed();
        let started = Instant::now();
        let tree = policyrun::freshness::CommittedTree::scan(&repo.config.repo, &clusters, true);
        let outcomes = policyrun::freshness::check(&repo.config.repo, &tree, &expanded);
        eprintln!(
            "phases ({} stacks): expand_all {:?}, freshness {:?} ({} outcomes)",
            repo.stacks,
            expand_time,
            started.elapsed(),
            outcomes.len()
        );
    }
}

/// `policyrun validate` on one multi-document YAML file holding every object the largest
/// repository commits: objects per second, and how much of it is parsing.
fn validate_throughput(repo: &Prepared, rounds: usize) {
    let mut files: Vec<_> =
        walkdir::WalkDir::new(repo.config.repo.root.join(&repo.config.repo.generated))
            .into_iter()
            .map(|e| e.expect("walk the generated tree").into_path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
    files.sort();
    let mut yaml = String::new();
    for file in &files {
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(file).expect("read")).expect("JSON");
        yaml.push_str("---\n");
        yaml.push_str(&serde_saphyr::to_string(&value).expect("YAML"));
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("all.yaml");
    std::fs::write(&path, &yaml).expect("write the YAML file");

    let mut parse = Vec::new();
    let mut validate = Vec::new();
    let mut objects = 0;
    for _ in 0..rounds {
        let (items, wall, _) = timed(|| policyrun::model::manifests::read(&path).expect("read"));
        parse.push(wall);
        objects = items.len();
        let (outcomes, wall, _) = timed(|| {
            policyrun::pipeline::validate::run(
                policyrun::schema::Settings::default(),
                std::slice::from_ref(&path),
                true,
            )
            .expect("validate")
        });
        validate.push(wall);
        assert!(outcomes.iter().all(|o| !o.status.is_failure()));
    }
    let (parse, validate) = (median(parse), median(validate));
    println!(
        "validate: {objects} objects in one {:.1} MB YAML file: {:.0} objects/s ({:.1} ms; parsing {:.1} ms of it)",
        yaml.len() as f64 / 1e6,
        objects as f64 / validate.as_secs_f64(),
        validate.as_secs_f64() * 1e3,
        parse.as_secs_f64() * 1e3,
    );
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
        .unwrap_or(if benchmarking { 9 } else { 1 });

    println!(
        "policyrun gate benchmark: {} clusters, {} worker threads, median of {rounds} rounds, sizes interleaved",
        synthetic::CLUSTERS.len(),
        rayon::current_num_threads()
    );
    let mut repos: Vec<Prepared> = sizes.iter().map(|&stacks| prepare(stacks)).collect();
    // Sizes take turns in every round, so that a slow spell of a shared machine hits
    // both sides of the scaling ratio alike.
    for _ in 0..rounds {
        for repo in &mut repos {
            round(repo);
        }
    }

    if std::env::var_os("POLICYRUN_BENCH_ONLY").is_some() {
        return;
    }
    let ms = |d: Duration| format!("{:.1}ms", d.as_secs_f64() * 1e3);
    let ratios = measure::median_ratio;
    let show = |r: Option<f64>| r.map_or_else(|| "-".to_owned(), |r| format!("{r:.3}"));
    let percent = |r: Option<f64>| {
        r.map_or_else(|| "-".to_owned(), |r| format!("{:+.1}%", (r - 1.0) * 100.0))
    };
    println!("medians of the rounds; ratios are medians of each round's own ratio");
    println!(
        "{:>7} {:>8} {:>8} | wall: {:>10} {:>10} {:>6} | cpu: {:>10} {:>10} {:>6}",
        "stacks", "entries", "objects", "evaluate", "check", "ratio", "evaluate", "check", "ratio"
    );
    for repo in &repos {
        let cpu =
            |samples: &[Duration]| (!samples.is_empty()).then(|| ms(median(samples.to_vec())));
        println!(
            "{:>7} {:>8} {:>8} | wall: {:>10} {:>10} {:>6} | cpu: {:>10} {:>10} {:>6}",
            repo.stacks,
            repo.entries.len(),
            repo.objects,
            ms(median(repo.evaluate.clone())),
            ms(median(repo.check.clone())),
            show(ratios(&repo.check, &repo.evaluate)),
            cpu(&repo.evaluate_cpu).unwrap_or_else(|| "-".into()),
            cpu(&repo.check_cpu).unwrap_or_else(|| "-".into()),
            show(ratios(&repo.check_cpu, &repo.evaluate_cpu)),
        );
    }
    for repo in &repos {
        println!(
            "{:>7} stacks: the schema stage adds {} to the check (wall; cpu {}): check {} vs {} without it",
            repo.stacks,
            percent(ratios(&repo.check, &repo.without_schema)),
            percent(ratios(&repo.check_cpu, &repo.without_schema_cpu)),
            ms(median(repo.check.clone())),
            ms(median(repo.without_schema.clone())),
        );
    }
    for repo in &repos {
        let style = median(repo.style.clone());
        println!(
            "{:>7} stacks: the style stage adds {} to the check (wall; cpu {}): check {} vs {} without it; alone {} for {} sources ({:.0} µs each, cpu {}), {:.1}% of the check's cpu",
            repo.stacks,
            percent(ratios(&repo.check, &repo.without_style)),
            percent(ratios(&repo.check_cpu, &repo.without_style_cpu)),
            ms(median(repo.check.clone())),
            ms(median(repo.without_style.clone())),
            ms(style),
            repo.sources,
            style.as_secs_f64() * 1e6 / repo.sources.max(1) as f64,
            if repo.style_cpu.is_empty() {
                "-".to_owned()
            } else {
                ms(median(repo.style_cpu.clone()))
            },
            ratios(&repo.style_cpu, &repo.check_cpu).map_or(f64::NAN, |r| r * 100.0),
        );
    }
    if let Some(largest) = repos.last() {
        validate_throughput(largest, rounds);
    }
    if let [a, b] = &repos[..] {
        println!(
            "scaling {} -> {} stacks ({:.1}x the entries): check {} the time (cpu {}), evaluate {} (cpu {})",
            a.stacks,
            b.stacks,
            b.entries.len() as f64 / a.entries.len() as f64,
            show(ratios(&b.check, &a.check)),
            show(ratios(&b.check_cpu, &a.check_cpu)),
            show(ratios(&b.evaluate, &a.evaluate)),
            show(ratios(&b.evaluate_cpu, &a.evaluate_cpu)),
        );
    }
}
