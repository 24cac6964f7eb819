//! The `policyrun` command line: parses arguments into plain options, runs one command, and
//! is the only place that turns results into an exit code (see `policyrun::exit`).

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use policyrun::cli::UsageError;
use policyrun::cli::args::*;
use policyrun::cli::config::Config;
use policyrun::cli::plan::{self, ReportPlan, start_dir, start_workers};
use policyrun::freshness::write;
use policyrun::model::outcome::{Outcome, Summary};
use policyrun::model::text::visible;
use policyrun::pipeline::{check as gate, validate};
use policyrun::report::{
    self, Report, RunInfo, human::Human, json::Json, junit::Junit, table::Table, tap::Tap,
};
use policyrun::{exit, policy};

// The gate allocates in many small pieces on every core (jsonnet values, Rego values,
// outcomes): mimalloc's per-thread heaps cut the policy stage by about a fifth and keep
// the cores from contending on glibc's arenas (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // The command runs on a thread with a worker's stack, not on the main thread's 8 MiB:
    // rayon runs a parallel loop's last unsplit part on the calling thread (all of it, for
    // a single entry), and formatting, evaluating and dropping deeply nested jsonnet recurse
    // once per level — a 50,000-deep value aborted `policyrun expand` here.
    let command = std::thread::Builder::new()
        .name("policyrun".into())
        .stack_size(WORKER_STACK)
        .spawn(run);
    match command.map(|thread| thread.join()) {
        Ok(Ok(code)) => code,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "policyrun: error: cannot start: {e}");
            ExitCode::from(exit::USAGE as u8)
        }
    }
}

fn run() -> ExitCode {
    let cli = Cli::parse();
    // Only `diff` reports changes, as warnings; for it they decide the exit code.
    let reports_changes = matches!(cli.command, Some(Command::Diff(_)));
    let result = match cli.command {
        None => run_check(cli.check),
        Some(Command::Check(args)) => run_check(args),
        Some(Command::Expand(args)) => run_expand(args),
        Some(Command::Validate(args)) => run_validate(args),
        Some(Command::Test(args)) => run_test(args),
        Some(Command::Verify(args)) => run_verify(args),
        Some(Command::Apply(args)) => run_apply(args),
        Some(Command::Diff(args)) => run_diff(args),
        Some(Command::Hook(args)) => run_hook(args),
        Some(Command::Completions(args)) => run_completions(args),
        Some(Command::Man(args)) => run_man(args),
        Some(Command::Fmt(args)) => run_fmt(args),
    };
    let code = match result {
        Ok(summary) if summary.has_failures() => exit::FAILED,
        Ok(summary) if reports_changes && summary.warnings > 0 => exit::CHANGES,
        Ok(_) => exit::PASSED,
        Err(UsageError(message)) => {
            // Not eprintln!: it panics when stderr is closed.
            let _ = writeln!(std::io::stderr(), "policyrun: error: {message}");
            exit::USAGE
        }
    };
    ExitCode::from(code as u8)
}

fn run_hook(args: HookArgs) -> Result<Summary, UsageError> {
    // The hook runs the gate, so it belongs in a repository the gate can run in.
    let config = Config::discover(&start_dir(&args.repo)?)?;
    let path = policyrun::cli::hook::hook_path(&config.repo.root).map_err(UsageError)?;
    let done = match args.action {
        HookAction::Install => {
            let binary = std::env::current_exe()?;
            policyrun::cli::hook::install(&path, &binary)
        }
        HookAction::Uninstall => policyrun::cli::hook::uninstall(&path),
    }
    .map_err(UsageError)?;
    use policyrun::cli::hook::Done;
    let said = match done {
        Done::Installed(path) => format!(
            "installed {}: `git push` runs the gate first",
            path.display()
        ),
        Done::UpToDate(path) => format!("{} is up to date", path.display()),
        Done::Removed(path) => format!("removed {}", path.display()),
        Done::NotInstalled(path) => format!("no policyrun hook at {}", path.display()),
    };
    let _ = writeln!(std::io::stdout(), "{said}");
    Ok(Summary::default())
}

fn run_completions(args: CompletionsArgs) -> Result<Summary, UsageError> {
    use clap::CommandFactory;
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "policyrun", &mut script);
    write_stdout(&script)?;
    Ok(Summary::default())
}

/// The manual pages come from the same definitions as `--help`, so they cannot drift.
fn run_man(args: ManArgs) -> Result<Summary, UsageError> {
    use clap::CommandFactory;
    let command = Cli::command();
    let render = |page: clap::Command| -> Result<Vec<u8>, UsageError> {
        let mut roff = Vec::new();
        clap_mangen::Man::new(page).render(&mut roff)?;
        Ok(roff)
    };
    let Some(dir) = args.out_dir else {
        write_stdout(&render(command)?)?;
        return Ok(Summary::default());
    };
    if !dir.is_dir() {
        return Err(UsageError(format!(
            "--out-dir {}: not a directory",
            dir.display()
        )));
    }
    let mut pages = vec![("policyrun.1".to_owned(), render(command.clone())?)];
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("policyrun-{}", sub.get_name());
        let page = sub.clone().name(name.clone());
        pages.push((format!("{name}.1"), render(page)?));
    }
    for (file, roff) in pages {
        let path = dir.join(&file);
        policyrun::model::atomic::write_atomically(&path, &roff)
            .map_err(|e| UsageError(format!("cannot write {}: {e}", path.display())))?;
        let _ = writeln!(std::io::stdout(), "wrote {}", path.display());
    }
    Ok(Summary::default())
}

/// Writes to standard output; a reader that stopped reading is not an error.
fn write_stdout(bytes: &[u8]) -> Result<(), UsageError> {
    match std::io::stdout().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Stack of every worker thread (see `expand::WORKER_STACK`): rayon's run the stages, and
/// format and drop deeply nested values.
const WORKER_STACK: usize = policyrun::jsonnet::expand::WORKER_STACK;

fn run_check(args: CheckArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    start_workers(args.common.jobs)?;
    let plan = plan::check(args)?;
    let run = gate::check(&plan.config, &plan.gate).map_err(UsageError)?;
    let mut outcomes = run.outcomes;
    outcomes.extend(plan.refused_secret_values);
    // The process ends after the report. Freeing every parsed object one by one would only
    // delay the verdict (tens of milliseconds on a large tree), so the exit frees them.
    std::mem::forget(run.expanded);
    std::mem::forget(run.catalog);
    finish(&plan.report, &mut outcomes, started, Some(run.stats))
}

fn run_validate(args: ValidateArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    start_workers(args.jobs)?;
    let plan = plan::validate(args)?;
    let mut outcomes = validate::run(plan.settings, &plan.paths).map_err(UsageError)?;
    finish(&plan.report, &mut outcomes, started, None)
}

fn run_test(args: TestArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    start_workers(args.sources.jobs)?;
    let plan = plan::test(args)?;
    let mut outcomes = validate::test(
        &plan.root,
        &plan.settings,
        plan.cluster,
        &plan.paths,
        plan.combine,
    )
    .map_err(UsageError)?;
    outcomes.extend(plan.refused_secret_values);
    finish(&plan.report, &mut outcomes, started, None)
}

fn run_verify(args: VerifyArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    start_workers(args.sources.jobs)?;
    let plan = plan::verify(args)?;
    let mut outcomes = policy::verify::run(&plan.root, &plan.settings).map_err(UsageError)?;
    finish(&plan.report, &mut outcomes, started, None)
}

fn run_apply(args: ApplyArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    start_workers(args.common.jobs)?;
    let plan = plan::apply(args)?;
    let runtime = api_runtime()?;
    let mut outcomes = policyrun::pipeline::rollout::run(&plan.config, &plan.rollout, &runtime)
        .map_err(UsageError)?;
    finish(&plan.report, &mut outcomes, started, None)
}

/// The runtime for API calls: they wait on the network, so two threads do.
fn api_runtime() -> Result<tokio::runtime::Runtime, UsageError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

fn run_diff(args: DiffArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    start_workers(args.common.jobs)?;
    let plan = plan::diff(args)?;
    let runtime = api_runtime()?;
    let mut outcomes = policyrun::pipeline::rollout::diff(&plan.config, &plan.rollout, &runtime)
        .map_err(UsageError)?;
    finish(&plan.report, &mut outcomes, started, None)
}

fn run_expand(common: CommonArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    start_workers(common.jobs)?;
    let plan = plan::expand(common)?;
    let config = &plan.config;
    let (expanded, badly_named, all_clusters) =
        gate::expand(config, &plan.gate).map_err(UsageError)?;
    let clusters = config
        .repo
        .select_clusters(&plan.gate.clusters)
        .map_err(UsageError)?;
    let mut outcomes = badly_named;
    outcomes.extend(gate::expansion_outcomes(&expanded));
    let (changes, problems) = write::write_tree(&config.repo, &clusters, &expanded, all_clusters);
    outcomes.extend(problems);
    let mut listing = String::new();
    // File names come from the repository under review: shown, never sent to the terminal.
    for path in &changes.written {
        listing.push_str(&format!(
            "wrote   {}\n",
            visible(&path.display().to_string())
        ));
    }
    for path in &changes.removed {
        listing.push_str(&format!(
            "removed {}\n",
            visible(&path.display().to_string())
        ));
    }
    listing.push_str(&format!(
        "{} written, {} removed, {} unchanged\n",
        changes.written.len(),
        changes.removed.len(),
        changes.unchanged
    ));
    let mut stdout = io::stdout().lock();
    if let Err(e) = stdout
        .write_all(listing.as_bytes())
        .and_then(|()| stdout.flush())
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        return Err(UsageError(format!("cannot write to standard output: {e}")));
    }
    drop(stdout);
    finish(&plan.report, &mut outcomes, started, None)
}

fn run_fmt(args: FmtArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    start_workers(args.jobs)?;
    let plan = plan::fmt(args)?;
    let run = policyrun::style::fmt::run(
        &plan.config.repo,
        &plan.config.style,
        &plan.cwd,
        &plan.paths,
        plan.check_only,
    )
    .map_err(UsageError)?;
    let mut stdout = io::stdout().lock();
    if let Err(e) = stdout
        .write_all(run.listing().as_bytes())
        .and_then(|()| stdout.flush())
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        return Err(UsageError(format!("cannot write to standard output: {e}")));
    }
    drop(stdout);
    let mut outcomes = run.outcomes;
    finish(&plan.report, &mut outcomes, started, None)
}

/// Sorts the outcomes, writes every requested report and returns the counts for `main`.
/// Every report is written even when another fails: a closed standard output (`| head`)
/// must not cost Jenkins its JUnit file. A reader that stopped reading is not an error;
/// any other failure to write a report is, since the verdict would not reach anyone.
fn finish(
    plan: &ReportPlan,
    outcomes: &mut [Outcome],
    started: Instant,
    stats: Option<policyrun::model::stats::Stats>,
) -> Result<Summary, UsageError> {
    report::sort(outcomes, &plan.cluster_order);
    let info = RunInfo {
        command: plan.command,
        elapsed: started.elapsed(),
        stats,
    };
    let stdout = std::io::stdout().lock();
    let mut reports: Vec<Box<dyn Report>> = vec![match plan.output {
        Output::Human => Box::new(Human::new(stdout, plan.color, plan.verbose)),
        Output::Json => Box::new(Json::new(stdout)),
        Output::Tap => Box::new(Tap::new(stdout)),
        Output::Table => Box::new(Table::new(stdout, plan.color, plan.verbose)),
    }];
    if let Some(path) = plan.junit.clone() {
        // Written only to a regular file or a new path: the report replaces what is there
        // (a link, a FIFO or a device such as /dev/full became a regular file).
        if let Ok(meta) = std::fs::symlink_metadata(&path)
            && !meta.file_type().is_file()
        {
            return Err(UsageError(format!(
                "--junit {}: not a regular file; reports are written only to regular files or new paths",
                path.display()
            )));
        }
        reports.push(Box::new(Junit::new(path)));
    }
    let mut first_error = None;
    for report in &mut reports {
        if let Err(e) = report.write(outcomes, &info)
            && e.kind() != io::ErrorKind::BrokenPipe
            && first_error.is_none()
        {
            first_error = Some(UsageError(format!("cannot write the report: {e}")));
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(Summary::of(outcomes.iter())),
    }
}
