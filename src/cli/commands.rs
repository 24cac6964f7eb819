//! One function per command: build the command's plan, run its pipeline, write its
//! reports, and hand the counts back to `main`, which alone decides the exit code.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use crate::cli::UsageError;
use crate::cli::args::{
    ApplyArgs, CheckArgs, Cli, CommonArgs, CompletionsArgs, DiffArgs, FmtArgs, HookAction,
    HookArgs, InitArgs, ManArgs, PacksArgs, PacksOutput, TestArgs, ValidateArgs, VerifyArgs,
};
use crate::cli::config::Config;
use crate::cli::plan::{self, start_dir, start_workers};
use crate::cli::reports::finish;
use crate::model::events::Events;
use crate::model::outcome::Summary;
use crate::pipeline::{self, check as gate, validate};
use crate::policy;
use crate::report;

pub fn check(args: CheckArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    start_workers(args.common.jobs)?;
    gate_and_review(plan::check(args)?, started)
}

/// `policyrun review --base REF`: the gate as `check` runs it, the review on standard output.
pub fn review(args: CheckArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    start_workers(args.common.jobs)?;
    gate_and_review(plan::review(args)?, started)
}

fn gate_and_review(mut plan: plan::CheckPlan, started: Instant) -> Result<Summary, UsageError> {
    // The review reads git and the generated tree while the gate runs.
    let (run, review) = rayon::join(
        || gate::check(&plan.config, &plan.gate),
        || {
            plan.review.as_ref().map(|base| {
                let review = pipeline::review::run(&plan.config, &base.rev, &plan.gate.clusters);
                (base.named, base.rev.clone(), review)
            })
        },
    );
    let run = run?;
    let mut outcomes = run.outcomes;
    outcomes.extend(plan.refused_secret_values);
    outcomes.extend(plan.gate_findings);
    match review {
        Some((_, _, Ok(review))) => {
            outcomes.extend(crate::review::outcomes(&review));
            plan.report.review = Some(std::sync::Arc::new(review));
        }
        Some((true, _, Err(problem))) => return Err(problem.into()),
        Some((false, rev, Err(problem))) => outcomes.push(
            crate::model::outcome::Outcome::new(
                crate::model::outcome::Stage::Review,
                "base",
                crate::model::outcome::Status::Warning,
            )
            .subject(format!("changes since {rev}"))
            .message(format!("no review: {problem}")),
        ),
        None => {}
    }
    // The process ends after the report. Freeing every parsed object one by one would only
    // delay the verdict (tens of milliseconds on a large tree), so the exit frees them.
    std::mem::forget(run.expanded);
    std::mem::forget(run.catalog);
    let summary = finish(&plan.report, &mut outcomes, started, Some(run.stats));
    // The outcomes too: one per rule and object, dropping them was 7.5 % of a warm gate on
    // 12,060 objects (issue 29's profile in BENCHMARKS.md).
    std::mem::forget(outcomes);
    summary
}

pub fn expand(common: CommonArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    start_workers(common.jobs)?;
    let plan = plan::expand(common)?;
    let mut tree = pipeline::expand::run(&plan.config, &plan.gate)?;
    print_listing(&tree.listing())?;
    finish(&plan.report, &mut tree.outcomes, started, None)
}

pub fn validate(args: ValidateArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    start_workers(args.jobs)?;
    let plan = plan::validate(args)?;
    let mut outcomes = validate::run(plan.settings, &plan.paths, plan.share)?;
    finish(&plan.report, &mut outcomes, started, None)
}

pub fn test(args: TestArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    start_workers(args.sources.jobs)?;
    let plan = plan::test(args)?;
    let mut outcomes = validate::test(
        &plan.root,
        &plan.settings,
        plan.cluster,
        &plan.paths,
        plan.reading,
        plan.share,
    )?;
    outcomes.extend(plan.refused_secret_values);
    finish(&plan.report, &mut outcomes, started, None)
}

pub fn verify(args: VerifyArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    start_workers(args.sources.jobs)?;
    let plan = plan::verify(args)?;
    let mut outcomes = policy::verify::run(&plan.root, &plan.settings)?;
    finish(&plan.report, &mut outcomes, started, None)
}

/// `policyrun init`: detects, writes policyrun.toml (and the baseline), then reports the
/// gate's verdict on it.
pub fn init(args: InitArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    start_workers(None)?;
    let root = match &args.repo {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()?,
    };
    if let Some(expires) = &args.baseline_expires {
        crate::policy::waivers::Date::parse(expires)
            .map_err(|e| UsageError(format!("--baseline-expires {expires}: {e} (YYYY-MM-DD)")))?;
    }
    let request = super::init::Request {
        root,
        force: args.force,
        baseline: args
            .baseline_owner
            .clone()
            .zip(args.baseline_expires.clone()),
    };
    let (said, mut outcomes) = super::init::run(&request)?;
    // The findings on standard output are the report's; what init did goes to stderr.
    let _ = write!(std::io::stderr(), "{said}");
    let report = plan::ReportPlan::new("init", &args.report, args.color, Vec::new());
    finish(&report, &mut outcomes, started, None)
}

/// `policyrun packs`: the built-in packs, their rules and settings; nothing is judged.
pub fn packs(args: PacksArgs) -> Result<Summary, UsageError> {
    let catalogue = policy::catalogue::catalogue()
        .map_err(|e| UsageError(format!("the built-in packs do not load: {e}")))?;
    let text = match args.output {
        PacksOutput::Json => {
            let mut text = serde_json::to_string_pretty(&serde_json::json!({ "packs": catalogue }))
                .map_err(|e| UsageError(e.to_string()))?;
            text.push('\n');
            text
        }
        PacksOutput::Human => packs_listing(&catalogue),
    };
    print_listing(&text)?;
    Ok(Summary::default())
}

/// The packs for a terminal: each rule and setting with its description below it, wrapped
/// to 80 columns.
fn packs_listing(catalogue: &[policy::catalogue::PackInfo]) -> String {
    const WIDTH: usize = 80;
    let mut out = String::from(
        "Built-in rule packs (select them in policyrun.toml: [policy] packs = [...])\n",
    );
    for pack in catalogue {
        out.push_str(&format!("\n{}\n  rules:\n", pack.name));
        for rule in &pack.rules {
            out.push_str(&format!("    {} ({})\n", rule.check, rule.kind));
            let text = rule.description.as_deref().unwrap_or("(not described)");
            out.push_str(&wrap(text, 8, WIDTH));
        }
        if !pack.settings.is_empty() {
            out.push_str("  [cluster.policy] settings:\n");
            for setting in &pack.settings {
                out.push_str(&format!("    {}\n", setting.name));
                out.push_str(&wrap(&setting.text, 8, WIDTH));
            }
        }
    }
    out
}

/// `text` in lines of at most `width` columns indented by `indent` (a word longer than a
/// line keeps a line of its own).
fn wrap(text: &str, indent: usize, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&format!("{:indent$}{line}\n", ""));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&format!("{:indent$}{line}\n", ""));
    }
    out
}

pub fn apply(args: ApplyArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    start_workers(args.common.jobs)?;
    let plan = plan::apply(args)?;
    let progress: Box<dyn Events> = if plan.progress {
        Box::new(report::events::Bar::new())
    } else {
        Box::new(report::events::Lines::every(Duration::from_secs(10)))
    };
    let runtime = api_runtime()?;
    let mut outcomes = pipeline::rollout::run(&plan.config, &plan.rollout, &runtime, &*progress)?;
    finish(&plan.report, &mut outcomes, started, None)
}

pub fn diff(args: DiffArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    start_workers(args.common.jobs)?;
    let plan = plan::diff(args)?;
    let runtime = api_runtime()?;
    let mut outcomes = pipeline::rollout::diff(&plan.config, &plan.rollout, &runtime)?;
    finish(&plan.report, &mut outcomes, started, None)
}

/// The runtime for API calls: they wait on the network, so two threads do.
fn api_runtime() -> Result<tokio::runtime::Runtime, UsageError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

pub fn fmt(args: FmtArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    start_workers(args.jobs)?;
    let plan = plan::fmt(args)?;
    let run = crate::style::fmt::run(
        &plan.config.repo,
        &plan.config.style,
        &plan.cwd,
        &plan.paths,
        plan.check_only,
    )?;
    print_listing(&run.listing())?;
    let mut outcomes = run.outcomes;
    finish(&plan.report, &mut outcomes, started, None)
}

/// Prints what a command changed before its report; a reader that stopped reading is not
/// an error.
fn print_listing(listing: &str) -> Result<(), UsageError> {
    let mut stdout = io::stdout().lock();
    if let Err(e) = stdout
        .write_all(listing.as_bytes())
        .and_then(|()| stdout.flush())
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        return Err(UsageError(format!("cannot write to standard output: {e}")));
    }
    Ok(())
}

pub fn hook(args: HookArgs) -> Result<Summary, UsageError> {
    // The hook runs the gate, so it belongs in a repository the gate can run in.
    let config = Config::discover(&start_dir(&args.repo)?)?;
    let path = crate::cli::hook::hook_path(&config.repo.root)?;
    let done = match args.action {
        HookAction::Install => {
            let binary = std::env::current_exe()?;
            crate::cli::hook::install(&path, &binary)
        }
        HookAction::Uninstall => crate::cli::hook::uninstall(&path),
    }?;
    use crate::cli::hook::Done;
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

/// The shell's registration script: completions are asked of the binary at each press of
/// Tab (see `cli::complete`), so they know the repository's clusters.
pub fn completions(args: CompletionsArgs) -> Result<Summary, UsageError> {
    let script = super::complete::registration(args.shell)?;
    write_stdout(&script)?;
    Ok(Summary::default())
}

/// The manual pages come from the same definitions as `--help`, so they cannot drift.
pub fn man(args: ManArgs) -> Result<Summary, UsageError> {
    use clap::CommandFactory;
    let command = Cli::command();
    let render = |page: clap::Command| -> Result<Vec<u8>, UsageError> {
        let mut roff = Vec::new();
        clap_mangen::Man::new(page).render(&mut roff)?;
        Ok(roff)
    };
    let Some(dir) = args.out_dir else {
        let roff = render(command)?;
        // On a terminal the page is read, not its roff source: `man` formats and pages it.
        if std::io::IsTerminal::is_terminal(&std::io::stdout()) && show_with_man(&roff) {
            return Ok(Summary::default());
        }
        write_stdout(&roff)?;
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
        crate::model::atomic::write_atomically(&path, &roff)
            .map_err(|e| UsageError(format!("cannot write {}: {e}", path.display())))?;
        let _ = writeln!(std::io::stdout(), "wrote {}", path.display());
    }
    Ok(Summary::default())
}

/// Shows a manual page with the system's `man` (`man -l FILE`, which formats it and runs
/// the user's pager); `false` when there is no `man` to run, so the roff is printed instead.
fn show_with_man(roff: &[u8]) -> bool {
    let Ok(mut page) = tempfile::Builder::new().suffix(".1").tempfile() else {
        return false;
    };
    if page.write_all(roff).and_then(|()| page.flush()).is_err() {
        return false;
    }
    std::process::Command::new("man")
        .arg("-l")
        .arg(page.path())
        .status()
        .is_ok()
}

/// Writes to standard output; a reader that stopped reading is not an error.
fn write_stdout(bytes: &[u8]) -> Result<(), UsageError> {
    match std::io::stdout().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
