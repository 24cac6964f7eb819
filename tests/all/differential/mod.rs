//! A remembered or shared verdict is always the fresh one. The gate reuses work three ways —
//! the expansion cache (and `--changed-since`, which reads its records), the policy memory,
//! and one evaluation shared between objects of equal inputs — and each must be invisible in
//! the verdict. This harness generates small repositories (`model.rs`) and changes them
//! step by step (`mutate.rs`); after every step it runs the real binary four ways and
//! requires the same report from each:
//!
//! - a warm `check` (the cache and memory of every earlier step),
//! - `check --no-sharing` (alternately warm and without cache),
//! - `check --changed-since HEAD`, on what is in its scope: the entries it checks have
//!   exactly the outcomes of a run without cache, and an entry it leaves out has the same
//!   expansion and freshness outcomes as at HEAD (nothing it reads changed),
//! - `check --no-cache`, the reference.
//!
//! It runs in CI with a fixed seed and number of cases. A longer run is one command
//! (docs/development.md, "Reuse is invisible"): `POLICYRUN_DIFF_CASES=400 cargo test --release --test
//! all differential::`; `POLICYRUN_DIFF_SEED` picks another seed and `POLICYRUN_DIFF_CASE=N`
//! replays one case. A failing case keeps its repository and prints where, with the steps
//! that led there.

use crate::support;

mod model;
mod mutate;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde_json::Value;

use model::{CLUSTER_NAMES, Model, Rng};
use mutate::Effect;
use support::{git, policyrun};

/// Cases in a default run: about a minute of a debug build on two cores.
const DEFAULT_CASES: usize = 14;
const DEFAULT_SEED: u64 = 23;
/// Mutation steps per case (each step makes one to three mutations).
const STEPS: usize = 4;

fn setting(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
    })
}

/// What the runs of one case did, summed over the cases: a harness that never hit the
/// cache or shared anything would compare nothing worth comparing.
#[derive(Default, Debug)]
struct Exercised {
    steps: usize,
    outcomes: usize,
    cached: u64,
    recalled: u64,
    shared: u64,
    scoped_out: usize,
    budget_steps: usize,
    failures: usize,
}

#[test]
fn remembered_and_shared_verdicts_are_the_fresh_ones() {
    let seed = setting("POLICYRUN_DIFF_SEED").unwrap_or(DEFAULT_SEED);
    let cases: Vec<u64> = match setting("POLICYRUN_DIFF_CASE") {
        Some(case) => vec![case],
        None => (0..setting("POLICYRUN_DIFF_CASES").unwrap_or(DEFAULT_CASES as u64)).collect(),
    };
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let exercised = Mutex::new(Exercised::default());
    let failed: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&case) = cases.get(i) else { break };
                    let (seen, failure) = run_case(seed, case);
                    let mut total = exercised.lock().unwrap();
                    total.steps += seen.steps;
                    total.outcomes += seen.outcomes;
                    total.cached += seen.cached;
                    total.recalled += seen.recalled;
                    total.shared += seen.shared;
                    total.scoped_out += seen.scoped_out;
                    total.budget_steps += seen.budget_steps;
                    if let Some(failure) = failure {
                        total.failures += 1;
                        failed.lock().unwrap().push(failure);
                    }
                }
            });
        }
    });
    let exercised = exercised.into_inner().unwrap();
    eprintln!(
        "differential: seed {seed}, {} cases in {:.0?}: {exercised:?}",
        cases.len(),
        started.elapsed()
    );
    let failed = failed.into_inner().unwrap();
    assert!(
        failed.is_empty(),
        "{} of {} cases differ (seed {seed}):\n\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n\n")
    );
    if cases.len() >= DEFAULT_CASES {
        // The comparisons must have had something to compare.
        assert!(exercised.cached > 0, "no entry came from the cache");
        assert!(exercised.recalled > 0, "no policy verdict was recalled");
        assert!(exercised.shared > 0, "no evaluation was shared");
        assert!(
            exercised.scoped_out > 0,
            "--changed-since never left an entry out"
        );
        assert!(exercised.budget_steps > 0, "no step ran under a budget");
    }
}

/// One generated repository and its steps; the failure, if any, as a report naming the
/// kept repository and what was done to it.
fn run_case(seed: u64, case: u64) -> (Exercised, Option<String>) {
    let mut rng = Rng::new(seed ^ case.wrapping_mul(0x2545_f491_4f6c_dd1d));
    // One case in fourteen has an entry and a rule that take seconds: budgets of one second
    // cut them, the defaults do not. They make two steps, one per budget.
    let slow = (case % 14 == 3).then(slow_sizes);
    let steps = if slow.is_some() { 2 } else { STEPS };
    let mut model = Model::generate(&mut rng, slow);
    let dir = tempfile::Builder::new()
        .prefix(&format!("policyrun-diff-{seed}-{case}-"))
        .tempdir()
        .unwrap();
    let root = dir.path().join("repo");
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&root).unwrap();
    let mut log = vec![format!("case {case} of seed {seed}: {model:#?}")];
    model::sync(&root, &model.render());
    git(&root, &["init", "-q"]);
    // Canonical sources (mostly): a style failure in every run would hide little, but a
    // tree that is all failures compares little.
    if rng.chance(80) {
        policyrun(&root, &["fmt"]);
    }
    policyrun(&root, &["expand"]);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-q", "-m", "generated"]);
    let head = dir.path().join("head");
    git(
        dir.path(),
        &[
            "clone",
            "-q",
            "--no-hardlinks",
            root.to_str().unwrap(),
            head.to_str().unwrap(),
        ],
    );
    let mut runner = Runner {
        root: &root,
        head: &head,
        cache: &cache,
        truths: HashMap::new(),
        seen: Exercised::default(),
    };
    let mut differences = runner.step(&[], 0, &mut log);
    for step in 1..=steps {
        if !differences.is_empty() {
            break;
        }
        // Half the steps leave the configuration and the policies alone, so that
        // `--changed-since` has entries to leave out.
        let tree_only = rng.chance(50);
        for _ in 0..1 + rng.below(3) {
            let (what, effect) = mutate::mutate(&mut model, &mut rng, tree_only);
            model::sync(&root, &model.render());
            let what = match effect {
                Effect::None => what,
                Effect::Expand => {
                    let run = policyrun(&root, &["expand"]);
                    format!("{what} (exit {})", run.code)
                }
                Effect::TouchGenerated => mutate::touch_generated(&root, &mut rng),
            };
            log.push(format!("step {step}: {what}"));
        }
        let mut flags = flags(&mut rng, &model);
        if slow.is_some() {
            let budget = ["--evaluation-seconds", "--policy-seconds"][step - 1];
            flags.extend([budget.into(), "1".into()]);
            runner.seen.budget_steps += 1;
        }
        log.push(format!("step {step}: flags {flags:?}"));
        differences = runner.step(&flags, step, &mut log);
    }
    let mut seen = runner.seen;
    if differences.is_empty() {
        return (seen, None);
    }
    seen.failures = 1;
    let kept = dir.keep();
    let mut report = format!(
        "case {case} (replay: POLICYRUN_DIFF_SEED={seed} POLICYRUN_DIFF_CASE={case}); repository kept in {}\n",
        kept.display()
    );
    for line in log.iter().skip(1) {
        report.push_str(&format!("  {line}\n"));
    }
    report.push_str(&differences.join("\n"));
    std::fs::write(kept.join("model.txt"), &log[0]).unwrap();
    (seen, Some(report))
}

/// The flags of one step's runs: mostly none; a cluster, an engine, every package, one
/// worker.
fn flags(rng: &mut Rng, model: &Model) -> Vec<String> {
    let mut flags: Vec<String> = Vec::new();
    if rng.chance(20) {
        let cluster = rng.pick(&model.clusters).name.clone();
        flags.extend(["--cluster".into(), cluster]);
    }
    if rng.chance(15) {
        let engine = *rng.pick(&["vm", "interpreter"]);
        flags.extend(["--policy-engine".into(), engine.into()]);
    }
    if rng.chance(10) {
        flags.push("--all-namespaces".into());
    }
    if rng.chance(25) {
        flags.extend(["-j".into(), "1".into()]);
    }
    flags
}

struct Runner<'a> {
    root: &'a Path,
    /// A clone of the committed tree, for what `--changed-since HEAD` compares against.
    head: &'a Path,
    cache: &'a Path,
    /// `--no-cache` reports at HEAD, by flags.
    truths: HashMap<Vec<String>, Report>,
    seen: Exercised,
}

/// A JSON report and the exit code.
#[derive(Clone)]
struct Report {
    code: i32,
    doc: Value,
    stderr: String,
}

impl Report {
    fn outcomes(&self) -> &[Value] {
        self.doc["outcomes"].as_array().map_or(&[], Vec::as_slice)
    }

    fn stat(&self, name: &str) -> u64 {
        self.doc["expansion"][name].as_u64().unwrap_or(0)
    }

    /// What must be equal between runs: the verdict, not how it was reached.
    fn verdict(&self) -> Value {
        let mut doc = self.doc.clone();
        if let Some(map) = doc.as_object_mut() {
            map.remove("elapsed_seconds");
            map.remove("expansion");
        }
        doc
    }
}

/// `policyrun check --output json` with `args` and `flags`; a run ended by a signal is a
/// report too (exit -1 and the signal), for the comparison to show.
fn check(root: &Path, args: &[&str], flags: &[String]) -> Report {
    use std::os::unix::process::ExitStatusExt;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_policyrun"))
        .args(["check", "--output", "json", "--color", "never"])
        .args(args)
        .args(flags)
        .current_dir(root)
        .env("NO_COLOR", "1")
        .env("POLICYRUN_CACHE_DIR", support::test_cache_dir())
        .env_remove("POLICYRUN_NO_SHARING")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let (code, stderr) = match output.status.code() {
        Some(code) => (code, stderr),
        None => (
            -1,
            format!(
                "policyrun {args:?} {flags:?} ended by signal {:?}: {stderr}",
                output.status.signal()
            ),
        ),
    };
    Report {
        code,
        doc: serde_json::from_slice(&output.stdout).unwrap_or(Value::Null),
        stderr,
    }
}

impl Runner<'_> {
    /// The four runs of one step, compared; the differences found, as text.
    fn step(&mut self, flags: &[String], step: usize, log: &mut Vec<String>) -> Vec<String> {
        let cache = self.cache.to_str().unwrap();
        let changed = check(
            self.root,
            &["--cache-dir", cache, "--changed-since", "HEAD"],
            flags,
        );
        let warm = check(self.root, &["--cache-dir", cache], flags);
        let alone = if step.is_multiple_of(2) {
            check(self.root, &["--no-sharing", "--no-cache"], flags)
        } else {
            check(self.root, &["--no-sharing", "--cache-dir", cache], flags)
        };
        let cold = check(self.root, &["--no-cache"], flags);
        let head = self
            .truths
            .entry(flags.to_vec())
            .or_insert_with(|| check(self.head, &["--no-cache"], flags))
            .clone();
        self.seen.steps += 1;
        self.seen.outcomes += cold.outcomes().len();
        self.seen.cached += warm.stat("cached");
        self.seen.recalled += warm.stat("policy_recalled");
        self.seen.shared += cold.stat("policy_shared") + cold.stat("schema_shared");
        log.push(format!(
            "step {step}: exit {} with {} outcomes; warm: {} cached, {} recalled; {} shared",
            cold.code,
            cold.outcomes().len(),
            warm.stat("cached"),
            warm.stat("policy_recalled"),
            cold.stat("policy_shared")
        ));
        let mut differences = Vec::new();
        for (name, run) in [
            ("changed", &changed),
            ("warm", &warm),
            ("--no-sharing", &alone),
        ] {
            if run.code == -1 {
                differences.push(format!("step {step}: {name}: {}", run.stderr));
            }
        }
        if cold.doc.is_null() || cold.code == 2 {
            differences.push(format!(
                "step {step}: the reference run gave no report (exit {}): {}",
                cold.code, cold.stderr
            ));
            return differences;
        }
        for (name, other) in [("warm", &warm), ("--no-sharing", &alone)] {
            if let Some(difference) = same(&cold, other) {
                differences.push(format!(
                    "step {step}: {name} differs from --no-cache: {difference}"
                ));
            }
        }
        match in_scope(&cold, &changed, &head) {
            Ok(left_out) => self.seen.scoped_out += left_out,
            Err(difference) => differences.push(format!(
                "step {step}: --changed-since HEAD differs from --no-cache: {difference}"
            )),
        }
        differences
    }
}

/// `None` when both runs gave the same verdict; else the first differences.
fn same(reference: &Report, other: &Report) -> Option<String> {
    if reference.code == other.code && reference.verdict() == other.verdict() {
        return None;
    }
    let mut text = format!("exit {} vs {}", reference.code, other.code);
    if other.doc.is_null() {
        text.push_str(&format!("; no report: {}", other.stderr));
        return Some(text);
    }
    text.push_str(&outcome_differences(reference.outcomes(), other.outcomes()));
    if reference.verdict()["summary"] != other.verdict()["summary"] {
        text.push_str(&format!(
            "\n    summary {} vs {}",
            reference.doc["summary"], other.doc["summary"]
        ));
    }
    Some(text)
}

/// The outcomes only one side has, a few of each.
fn outcome_differences(reference: &[Value], other: &[Value]) -> String {
    let count = |outcomes: &[Value]| {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for outcome in outcomes {
            *counts.entry(outcome.to_string()).or_default() += 1;
        }
        counts
    };
    let (a, b) = (count(reference), count(other));
    let mut text = String::new();
    for (label, from, to) in [("only without cache", &a, &b), ("only here", &b, &a)] {
        let extra: Vec<&String> = from
            .iter()
            .filter(|(k, n)| to.get(*k).is_none_or(|m| m < n))
            .map(|(k, _)| k)
            .collect();
        for outcome in extra.iter().take(4) {
            text.push_str(&format!("\n    {label}: {outcome}"));
        }
        if extra.len() > 4 {
            text.push_str(&format!("\n    {label}: {} more", extra.len() - 4));
        }
    }
    text
}

fn entry_of(outcome: &Value) -> Option<&str> {
    outcome["entry"].as_str()
}

/// `--changed-since`'s report against the reference: the entries it checked (those it
/// evaluated or recalled: each has its `evaluate` outcome) have exactly the reference's
/// outcomes; what it reports about an entry it left out (a clash with a checked entry's
/// object) the reference reports too; and an entry it left out expands and is fresh exactly
/// as at HEAD. Returns how many entries it left out.
fn in_scope(reference: &Report, changed: &Report, head: &Report) -> Result<usize, String> {
    if changed.doc.is_null() {
        return Err(format!(
            "no report (exit {}): {}",
            changed.code, changed.stderr
        ));
    }
    let scope: BTreeSet<&str> = changed
        .outcomes()
        .iter()
        .filter(|o| o["stage"] == "expand" && o["check"] == "evaluate")
        .filter_map(entry_of)
        .collect();
    let of = |report: &Report, keep: &dyn Fn(&str) -> bool| -> Vec<Value> {
        report
            .outcomes()
            .iter()
            .filter(|o| entry_of(o).is_some_and(keep))
            .cloned()
            .collect()
    };
    let checked = of(reference, &|e| scope.contains(e));
    let reported = of(changed, &|e| scope.contains(e));
    let mut problems = String::new();
    if checked != reported {
        problems.push_str(&outcome_differences(&checked, &reported));
    }
    let aside = of(changed, &|e| !scope.contains(e));
    let everything = reference.outcomes();
    for outcome in &aside {
        if !everything.contains(outcome) {
            problems.push_str(&format!(
                "\n    about an entry it left out, and not so without cache: {outcome}"
            ));
        }
    }
    let expansion = |report: &Report, entry: &str| -> Vec<Value> {
        report
            .outcomes()
            .iter()
            .filter(|o| entry_of(o) == Some(entry))
            .filter(|o| matches!(o["stage"].as_str(), Some("expand" | "freshness")))
            .filter(|o| o["check"] != "unique-identity")
            .cloned()
            .collect()
    };
    let all: BTreeSet<&str> = reference.outcomes().iter().filter_map(entry_of).collect();
    let left_out: Vec<&str> = all.difference(&scope).copied().collect();
    for entry in &left_out {
        let now = expansion(reference, entry);
        let then = expansion(head, entry);
        if now != then {
            problems.push_str(&format!(
                "\n    {entry} was left out, but what it expands to changed since HEAD:{}",
                outcome_differences(&now, &then)
            ));
        }
    }
    if problems.is_empty() {
        Ok(left_out.len())
    } else {
        Err(problems)
    }
}

/// Sizes of the slow entry and rule: each takes about 2.5 seconds here, so that a budget
/// of one second always cuts it and the default budgets never do, on a debug or a release
/// build alike. Measured once per run of the harness.
fn slow_sizes() -> (u64, u64) {
    static SIZES: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();
    *SIZES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let mut rng = Rng::new(1);
        let mut model = Model::generate(&mut rng, Some((1, 1)));
        model.rules.clear();
        model.exceptions.clear();
        model.waivers.clear();
        model.clusters.truncate(1);
        model::sync(root, &model.render());
        // CPU time, not wall time: the machine may be busy now and idle later, and the
        // budgets count wall time, which is never less.
        let time = |model: &Model| {
            model::sync(root, &model.render());
            cpu_seconds(
                std::process::Command::new(env!("CARGO_BIN_EXE_policyrun"))
                    .args(["check", "--no-cache", "-j", "1", "--output", "json"])
                    .current_dir(root)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null()),
            )
        };
        let floor = time(&Model {
            slow: Some((1, 1)),
            ..model.clone()
        });
        // Each size doubled until it costs half a second of CPU over the floor, then scaled
        // to the target: a debug build needs a hundredth of what a release build does.
        let measure = |slow: &dyn Fn(u64) -> (u64, u64)| -> (u64, f64) {
            let mut size = 50_000u64;
            loop {
                let took = time(&Model {
                    slow: Some(slow(size)),
                    ..model.clone()
                }) - floor;
                if took >= 0.5 || size >= 1 << 34 {
                    return (size, took.max(0.01));
                }
                size *= 2;
            }
        };
        let (n, evaluation) = measure(&|size| (size, 1));
        let (m, judging) = measure(&|size| (1, size));
        let target = 2.5;
        let scale = |size: u64, took: f64| ((size as f64) * target / took) as u64;
        let sizes = (scale(n, evaluation), scale(m, judging));
        eprintln!(
            "differential: slow sizes {sizes:?} (measured {evaluation:.2} s and {judging:.2} s at {n} and {m})"
        );
        sizes
    })
}

/// The CPU time (user and system) of one run of `command`.
#[expect(
    clippy::zombie_processes,
    reason = "wait4 reaps the child, with its CPU time"
)]
fn cpu_seconds(command: &mut std::process::Command) -> f64 {
    let child = command.spawn().unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 fills it for the child it reaps.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is this process's own child, not yet waited for; the pointers are to
    // live locals.
    let reaped = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(reaped, child.id() as libc::pid_t, "wait4 failed");
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

#[test]
fn generated_repositories_load_and_expand() {
    // The generator itself: every model renders into a repository whose policies load and
    // whose entries expand (so the harness compares verdicts, not load errors).
    for case in 0..6u64 {
        let mut rng = Rng::new(case);
        let mut model = Model::generate(&mut rng, None);
        model.missing_import = None;
        let dir = tempfile::tempdir().unwrap();
        model::sync(dir.path(), &model.render());
        policyrun(dir.path(), &["expand"]);
        let report = check(dir.path(), &["--no-cache"], &[]);
        let load_errors: Vec<&Value> = report
            .outcomes()
            .iter()
            .filter(|o| o["status"] == "error")
            .collect();
        assert!(
            !report.doc.is_null() && load_errors.is_empty(),
            "case {case}: {}\n{load_errors:#?}\n{model:#?}",
            report.stderr
        );
        let clusters: BTreeSet<&str> = report
            .outcomes()
            .iter()
            .filter_map(|o| o["cluster"].as_str())
            .collect();
        assert!(clusters.iter().all(|c| CLUSTER_NAMES.contains(c)));
    }
}
