//! The `policyrun` binary: parses the command line, runs the one command it names
//! (`policyrun::cli::commands`) and is the only place that turns the result into an exit
//! code (see `policyrun::exit`).

use std::io::Write;
use std::process::ExitCode;

use policyrun::cli::UsageError;
use policyrun::cli::args::{Cli, Command};
use policyrun::cli::commands;
use policyrun::cli::supervise::{self, Ended};
use policyrun::exit;

// The gate allocates in many small pieces on every core (jsonnet values, Rego values,
// outcomes): mimalloc's per-thread heaps cut the policy stage by about a fifth and keep
// the cores from contending on glibc's arenas (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Before anything is written: a completion request answers and exits here.
    policyrun::cli::complete::answer_if_asked(
        <policyrun::cli::args::Cli as clap::CommandFactory>::command,
    );
    policyrun::model::supervision::start();
    // The commands that evaluate a repository do it in a worker process this one watches
    // (`limits.memory_bytes`); a command line clap refuses is refused by the worker alike.
    if let Ok(cli) = Cli::from_command_line()
        && supervise::wanted(&cli.command)
    {
        return match supervise::run() {
            Ended::Exited(code) => ExitCode::from(code.clamp(0, 255) as u8),
            Ended::Failed(message) => {
                let _ = writeln!(std::io::stderr(), "policyrun: error: {message}");
                ExitCode::from(exit::USAGE as u8)
            }
        };
    }
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
    let cli = Cli::from_command_line().unwrap_or_else(|error| error.exit());
    // Only `diff` reports changes, as warnings; for it they decide the exit code.
    let reports_changes = matches!(cli.command, Some(Command::Diff(_)));
    let result = match cli.command {
        None => commands::check(cli.check),
        Some(Command::Check(args)) => commands::check(args),
        Some(Command::Expand(args)) => commands::expand(args),
        Some(Command::Validate(args)) => commands::validate(args),
        Some(Command::Test(args)) => commands::test(args),
        Some(Command::Verify(args)) => commands::verify(args),
        Some(Command::Review(args)) => commands::review(args),
        Some(Command::Apply(args)) => commands::apply(args),
        Some(Command::Diff(args)) => commands::diff(args),
        Some(Command::Packs(args)) => commands::packs(args),
        Some(Command::Init(args)) => commands::init(args),
        Some(Command::Hook(args)) => commands::hook(args),
        Some(Command::Completions(args)) => commands::completions(args),
        Some(Command::Man(args)) => commands::man(args),
        Some(Command::Fmt(args)) => commands::fmt(args),
    };
    let code = match result {
        Ok(summary) if reports_changes && summary.has_failures() => exit::DIFF_FAILED,
        Ok(summary) if summary.has_failures() => exit::FAILED,
        Ok(summary) if reports_changes && summary.warnings > 0 => exit::DIFF_CHANGES,
        Ok(_) => exit::PASSED,
        Err(UsageError(message)) => {
            // Not eprintln!: it panics when stderr is closed.
            let _ = writeln!(std::io::stderr(), "policyrun: error: {message}");
            exit::USAGE
        }
    };
    ExitCode::from(code as u8)
}

/// Stack of every worker thread (see `expand::WORKER_STACK`): rayon's run the stages, and
/// format and drop deeply nested values.
const WORKER_STACK: usize = policyrun::jsonnet::expand::WORKER_STACK;
