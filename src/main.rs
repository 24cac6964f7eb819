//! The `policyrun` command line: parses arguments into plain options, runs one command, and
//! is the only place that turns results into an exit code (see `policyrun::exit`).

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use policyrun::cli::args::*;

use policyrun::cli::config::{Config, Needs};
use policyrun::freshness::write;
use policyrun::model::outcome::{Outcome, Summary};
use policyrun::model::repository::FormatOnly;
use policyrun::model::text::visible;
use policyrun::pipeline::{check as gate, validate};
use policyrun::policy::{self, ClusterContext};
use policyrun::report::{
    self, Report, RunInfo, human::Human, json::Json, junit::Junit, table::Table, tap::Tap,
};
use policyrun::schema::{self, SchemaLocation, bundle::KubeVersion};
use policyrun::{apply, exit};

// The gate allocates in many small pieces on every core (jsonnet values, Rego values,
// outcomes): mimalloc's per-thread heaps cut the policy stage by about a fifth and keep
// the cores from contending on glibc's arenas (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The command line over the configuration's policy settings; a warning when the file
/// asks for Secret values the command line does not allow.
fn apply_policy_flags(
    flags: &PolicyArgs,
    settings: &mut policy::Settings,
) -> Option<policyrun::model::outcome::Outcome> {
    {
        let refused = settings.reveal_secret_values && !flags.allow_secret_values;
        settings.reveal_secret_values &= flags.allow_secret_values;
        if !flags.namespaces.is_empty() {
            settings.namespaces = flags.namespaces.clone();
        }
        settings.all_namespaces |= flags.all_namespaces;
        if let Some(engine) = flags.policy_engine {
            settings.engine = match engine {
                EngineArg::Interpreter => policy::RegoEngine::Interpreter,
                EngineArg::Vm => policy::RegoEngine::Vm,
            };
        }
        refused.then(|| {
            use policyrun::model::outcome::{Outcome, Stage, Status};
            Outcome::new(Stage::Policy, "reveal_secret_values", Status::Warning)
                .subject("policyrun.toml")
                .message(
                    "[policy] reveal_secret_values is set, but this run was not started with \
                     --allow-secret-values: policies see placeholders for Secret values",
                )
        })
    }
}

fn apply_limit_flags(flags: &LimitArgs, config: &mut Config) -> Result<(), UsageError> {
    {
        use policyrun::cli::config::{EVALUATION_SECONDS, POLICY_SECONDS, STYLE_SOURCE_BYTES};
        use std::time::Duration;
        if let Some(seconds) = flags.evaluation_seconds {
            config.repo.evaluation_budget = Duration::from_secs(
                EVALUATION_SECONDS
                    .checked_flag_value(seconds)
                    .map_err(UsageError)?,
            );
        }
        if let Some(seconds) = flags.policy_seconds {
            config.policy.object_budget = Duration::from_secs(
                POLICY_SECONDS
                    .checked_flag_value(seconds)
                    .map_err(UsageError)?,
            );
        }
        if let Some(bytes) = flags.style_source_bytes {
            config.style.max_source_bytes = STYLE_SOURCE_BYTES
                .checked_flag_value(bytes)
                .map_err(UsageError)?;
        }
        Ok(())
    }
}

/// Applies the flags to settings read from a configuration (or the defaults). Paths
/// given here are the caller's own, so they are not confined to the repository.
fn apply_schema_flags(
    flags: &SchemaArgs,
    settings: &mut schema::Settings,
) -> Result<(), UsageError> {
    {
        let absolute = |path: &std::path::Path| -> Result<PathBuf, UsageError> {
            Ok(std::env::current_dir()?.join(path))
        };
        if let Some(version) = &flags.kubernetes_version {
            settings.kubernetes_version = Some(
                KubeVersion::parse(version)
                    .map_err(|e| UsageError(format!("--kubernetes-version: {e}")))?,
            );
        }
        if let Some(dir) = &flags.schema_dir {
            if !dir.is_dir() {
                return Err(UsageError(format!(
                    "--schema-dir: {} is not a directory",
                    dir.display()
                )));
            }
            settings.schema_dir = Some(absolute(dir)?);
            settings.schema_dir_confined_to = None;
        }
        let mut locations = Vec::with_capacity(flags.schema_locations.len());
        for location in &flags.schema_locations {
            if location.contains("://") {
                return Err(UsageError(format!(
                    "--schema-location {location}: policyrun reads schemas offline only; download them into a directory"
                )));
            }
            locations.push(SchemaLocation {
                path: absolute(std::path::Path::new(location))?
                    .to_string_lossy()
                    .into_owned(),
                confined_to: None,
            });
        }
        // The command line's locations come first: they are the more specific choice.
        locations.append(&mut settings.locations);
        settings.locations = locations;
        for crd in &flags.crds {
            if !crd.exists() {
                return Err(UsageError(format!(
                    "--crd: {} does not exist",
                    crd.display()
                )));
            }
            settings.crd_files.push(absolute(crd)?);
        }
        settings.ignore_missing |= flags.ignore_missing_schemas;
        settings
            .skip
            .extend(flags.skip.iter().filter(|s| !s.trim().is_empty()).cloned());
        Ok(())
    }
}

/// A problem that stops the run before any check: exit code 2.
struct UsageError(String);

impl<E: std::fmt::Display> From<E> for UsageError {
    fn from(e: E) -> Self {
        UsageError(e.to_string())
    }
}

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

/// The most worker threads `--jobs` may ask for. The work is CPU-bound, so threads beyond
/// the cores only add overhead; 256 covers the largest CI agents (192 cores) while the
/// threads' reserved stacks (2 x 256 x 256 MiB: rayon's and the evaluators') stay a small
/// part of the address space. `-j 20000` reserved 5 TB of stacks and never reported.
const MAX_JOBS: usize = 256;

fn set_jobs(jobs: Option<usize>) -> Result<(), UsageError> {
    let threads = match jobs {
        Some(0) => return Err(UsageError("--jobs must be at least 1".into())),
        Some(n) if n > MAX_JOBS => {
            return Err(UsageError(format!(
                "--jobs {n}: at most {MAX_JOBS} worker threads (the work is CPU-bound; one per core is the default)"
            )));
        }
        Some(n) => n,
        // One per core, under the same cap; an explicit number, so that RAYON_NUM_THREADS
        // cannot ask for more.
        None => std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_JOBS),
    };
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .stack_size(WORKER_STACK)
        .build_global()?;
    Ok(())
}

fn start_dir(repo: &Option<PathBuf>) -> Result<PathBuf, UsageError> {
    Ok(match repo {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()?,
    })
}

fn load_config(common: &CommonArgs) -> Result<Config, UsageError> {
    set_jobs(common.jobs)?;
    let mut config = Config::discover(&start_dir(&common.repo)?)?;
    apply_limit_flags(&common.limits, &mut config)?;
    Ok(config)
}

fn cluster_order(config: &Config) -> Vec<String> {
    config
        .repo
        .clusters
        .iter()
        .map(|c| c.name.clone())
        .collect()
}

fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// A progress bar only where someone watches: a terminal, outside CI.
fn want_progress(output: Output) -> bool {
    output == Output::Human && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

fn run_check(args: CheckArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    let mut config = load_config(&args.common)?;
    if let Some(choice) = args.format_only {
        config.repo.format_only = match choice {
            FormatOnlyArg::Warn => FormatOnly::Warn,
            FormatOnlyArg::Fail => FormatOnly::Fail,
        };
    }
    apply_schema_flags(&args.schema, &mut config.schema)?;
    let refused_secret_values = apply_policy_flags(&args.policy, &mut config.policy);
    let (cache, note) = policyrun::cache::for_run(
        &config.repo,
        args.cache_dir.as_deref(),
        args.cache_name.as_deref(),
        args.no_cache,
    )
    .map_err(UsageError)?;
    let options = gate::Options {
        clusters: args.common.clusters.clone(),
        progress: want_progress(args.report.output),
        shard: args.shard,
        cache,
        notes: note.into_iter().collect(),
        changed_since: args.changed_since.clone(),
        // Not a flag: only for comparing reports with and without sharing (tests, benches).
        without_sharing: std::env::var_os("POLICYRUN_NO_SHARING").is_some_and(|v| v == "1"),
        ..gate::Options::default()
    };
    let run = gate::check(&config, &options).map_err(UsageError)?;
    let mut outcomes = run.outcomes;
    outcomes.extend(refused_secret_values);
    // The process ends after the report. Freeing every parsed object one by one would only
    // delay the verdict (tens of milliseconds on a large tree), so the exit frees them.
    std::mem::forget(run.expanded);
    std::mem::forget(run.catalog);
    let mut report = ReportOptions::new("check", args.report, args.common.color);
    report.stats = Some(run.stats);
    finish(&cluster_order(&config), &mut outcomes, started, report)
}

fn run_validate(args: ValidateArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    set_jobs(args.jobs)?;
    // Inside a repository its [schema] settings apply (CRD files, locations, skips).
    let (mut settings, order) = match Config::find(&start_dir(&args.repo)?)? {
        Some(path) => {
            let config = Config::load_for(&path, Needs::Manifests)?;
            let order = cluster_order(&config);
            (config.schema, order)
        }
        None => (schema::Settings::default(), Vec::new()),
    };
    apply_schema_flags(&args.schema, &mut settings)?;
    let mut outcomes = validate::run(settings, &args.paths).map_err(UsageError)?;
    finish(
        &order,
        &mut outcomes,
        started,
        ReportOptions::new("validate", args.report, args.color),
    )
}

/// The policy settings for `test` and `verify`: policyrun.toml's when there is one (with
/// its root, to which reports are relative), replaced by `--policy` paths when given.
fn policy_setup(
    sources: &PolicySources,
) -> Result<(PathBuf, policy::Settings, Option<Config>), UsageError> {
    set_jobs(sources.jobs)?;
    let policies = &sources.policies;
    let config = match Config::find(&start_dir(&sources.repo)?)? {
        Some(path) => Some(Config::load_for(&path, Needs::Manifests)?),
        None => None,
    };
    let (root, mut settings) = match &config {
        Some(config) => (config.repo.root.clone(), config.policy.clone()),
        None => (std::env::current_dir()?, policy::Settings::default()),
    };
    let chosen: Vec<PathBuf> = if policies.is_empty() && config.is_none() {
        vec![PathBuf::from("policy")]
    } else {
        policies.to_vec()
    };
    if !chosen.is_empty() {
        settings.dirs = Vec::new();
        for path in chosen {
            let absolute = std::env::current_dir()?.join(&path);
            if !absolute.exists() {
                return Err(UsageError(format!(
                    "--policy: {} does not exist",
                    path.display()
                )));
            }
            settings.dirs.push(absolute);
        }
    }
    Ok((root, settings, config))
}

fn run_test(args: TestArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    let (root, mut settings, config) = policy_setup(&args.sources)?;
    let refused_secret_values = apply_policy_flags(&args.policy, &mut settings);
    for path in &args.data {
        let absolute = std::env::current_dir()?.join(path);
        if !absolute.exists() {
            return Err(UsageError(format!(
                "--data: {} does not exist",
                path.display()
            )));
        }
        settings.data.push(absolute);
    }
    let cluster = match (&args.cluster, &config) {
        (None, _) => None,
        (Some(name), Some(config)) => {
            let cluster = config
                .repo
                .select_clusters(std::slice::from_ref(name))
                .map_err(UsageError)?[0];
            Some(ClusterContext {
                name: cluster.name.clone(),
                policy: cluster.policy.clone(),
                namespaces: Default::default(),
            })
        }
        (Some(_), None) => {
            return Err(UsageError(
                "--cluster needs a policyrun.toml that configures the cluster".into(),
            ));
        }
    };
    let mut outcomes =
        validate::test(&root, &settings, cluster, &args.paths, args.combine).map_err(UsageError)?;
    outcomes.extend(refused_secret_values);
    let order = config.as_ref().map(cluster_order).unwrap_or_default();
    finish(
        &order,
        &mut outcomes,
        started,
        ReportOptions::new("test", args.report, args.sources.color),
    )
}

fn run_verify(args: VerifyArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    let (root, settings, config) = policy_setup(&args.sources)?;
    let mut outcomes = policy::verify::run(&root, &settings).map_err(UsageError)?;
    let order = config.as_ref().map(cluster_order).unwrap_or_default();
    finish(
        &order,
        &mut outcomes,
        started,
        ReportOptions::new("verify", args.report, args.sources.color),
    )
}

fn run_apply(args: ApplyArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    let config = load_config(&args.common)?;
    if args.timeout == Some(0) || args.stage_timeout == Some(0) {
        return Err(UsageError(
            "--timeout and --stage-timeout must be at least 1 second".into(),
        ));
    }
    given_kubeconfig(args.kubeconfig.as_deref())?;
    let plan = policyrun::pipeline::rollout::Plan {
        clusters: args.common.clusters.clone(),
        until: args.until.clone(),
        kubeconfig: args.kubeconfig.clone(),
        stage: apply::stage::StageOptions {
            apply: apply::kubeapi::ApplyOptions {
                dry_run: args.dry_run,
                force_conflicts: args.force_conflicts,
            },
            // A live line where someone watches; plain lines in CI logs.
            progress: if want_progress(args.report.output) {
                apply::stage::Progress::Bar
            } else {
                apply::stage::Progress::Lines
            },
            on_failure: match args.on_failure {
                OnFailureArg::Leave => apply::stage::OnFailure::Leave,
                OnFailureArg::Pause => apply::stage::OnFailure::Pause,
                OnFailureArg::Undo => apply::stage::OnFailure::Undo,
            },
            ..apply::stage::StageOptions::default()
        },
        timeouts: policyrun::pipeline::settings::ApplySettings {
            timeout: args.timeout,
            stage_timeout: args.stage_timeout,
        },
        prune: args.prune,
        no_bake: args.no_bake,
    };
    let runtime = api_runtime()?;
    let mut outcomes =
        policyrun::pipeline::rollout::run(&config, &plan, &runtime).map_err(UsageError)?;
    finish(
        &cluster_order(&config),
        &mut outcomes,
        started,
        ReportOptions::new("apply", args.report, args.common.color),
    )
}

/// A `--kubeconfig` that names no file is a mistake on the command line (exit 2), not a
/// cluster that failed.
fn given_kubeconfig(path: Option<&std::path::Path>) -> Result<(), UsageError> {
    match path {
        Some(path) if !path.is_file() => Err(UsageError(format!(
            "--kubeconfig {}: no such file",
            path.display()
        ))),
        _ => Ok(()),
    }
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
    let config = load_config(&args.common)?;
    given_kubeconfig(args.kubeconfig.as_deref())?;
    let plan = policyrun::pipeline::rollout::Plan {
        clusters: args.common.clusters.clone(),
        kubeconfig: args.kubeconfig.clone(),
        ..policyrun::pipeline::rollout::Plan::default()
    };
    let runtime = api_runtime()?;
    let mut outcomes =
        policyrun::pipeline::rollout::diff(&config, &plan, &runtime).map_err(UsageError)?;
    finish(
        &cluster_order(&config),
        &mut outcomes,
        started,
        ReportOptions::new("diff", args.report, args.common.color),
    )
}

fn run_expand(common: CommonArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    let config = load_config(&common)?;
    let options = gate::Options {
        clusters: common.clusters.clone(),
        progress: want_progress(Output::Human),
        ..gate::Options::default()
    };
    let (expanded, badly_named, all_clusters) =
        gate::expand(&config, &options).map_err(UsageError)?;
    let clusters = config
        .repo
        .select_clusters(&common.clusters)
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
    finish(
        &cluster_order(&config),
        &mut outcomes,
        started,
        ReportOptions {
            command: "expand",
            output: Output::Human,
            verbose: false,
            color: common.color,
            junit: None,
            stats: None,
        },
    )
}

fn run_fmt(args: FmtArgs) -> Result<Summary, UsageError> {
    let started = Instant::now();
    set_jobs(args.jobs)?;
    let config = Config::discover(&start_dir(&args.repo)?)?;
    let cwd = std::env::current_dir()?;
    let run =
        policyrun::style::fmt::run(&config.repo, &config.style, &cwd, &args.paths, args.check)
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
    finish(
        &cluster_order(&config),
        &mut outcomes,
        started,
        ReportOptions {
            command: "fmt",
            output: Output::Human,
            verbose: false,
            color: args.color,
            junit: None,
            stats: None,
        },
    )
}

/// Which reports a command writes.
struct ReportOptions {
    command: &'static str,
    output: Output,
    verbose: bool,
    color: ColorChoice,
    junit: Option<PathBuf>,
    /// How `check` came by its expansions.
    stats: Option<policyrun::model::stats::Stats>,
}

impl ReportOptions {
    fn new(command: &'static str, report: ReportArgs, color: ColorChoice) -> Self {
        ReportOptions {
            command,
            output: report.output,
            verbose: report.verbose,
            color,
            junit: report.junit,
            stats: None,
        }
    }
}

/// Sorts the outcomes, writes every requested report and returns the counts for `main`.
/// Every report is written even when another fails: a closed standard output (`| head`)
/// must not cost Jenkins its JUnit file. A reader that stopped reading is not an error;
/// any other failure to write a report is, since the verdict would not reach anyone.
fn finish(
    cluster_order: &[String],
    outcomes: &mut [Outcome],
    started: Instant,
    options: ReportOptions,
) -> Result<Summary, UsageError> {
    report::sort(outcomes, cluster_order);
    let info = RunInfo {
        command: options.command,
        elapsed: started.elapsed(),
        stats: options.stats,
    };
    let stdout = std::io::stdout().lock();
    let mut reports: Vec<Box<dyn Report>> = vec![match options.output {
        Output::Human => Box::new(Human::new(
            stdout,
            use_color(options.color),
            options.verbose,
        )),
        Output::Json => Box::new(Json::new(stdout)),
        Output::Tap => Box::new(Tap::new(stdout)),
        Output::Table => Box::new(Table::new(
            stdout,
            use_color(options.color),
            options.verbose,
        )),
    }];
    if let Some(path) = options.junit {
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
