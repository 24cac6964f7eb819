//! Flags and `policyrun.toml` assembled into one plain plan per command, in one place: which
//! value wins (a flag over the file), which paths must exist, which budgets are in range.
//! Commands then only run their plan, so the precedence rules are written and tested once.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::apply;
use crate::cli::UsageError;
use crate::cli::args::{
    ApplyArgs, CheckArgs, ColorChoice, CommonArgs, DiffArgs, EngineArg, FmtArgs, FormatOnlyArg,
    LimitArgs, OnFailureArg, Output, ParserArg, PolicyArgs, PolicySources, ReportArgs, SchemaArgs,
    TestArgs, ValidateArgs, VerifyArgs,
};
use crate::cli::config::{
    Config, EVALUATION_SECONDS, MEMORY_BYTES, Needs, POLICY_SECONDS, STYLE_SOURCE_BYTES,
    kubernetes_version,
};
use crate::model::manifests::Format;
use crate::model::outcome::{Outcome, Stage, Status};
use crate::model::repository::{CONFIG_FILE, FormatOnly};
use crate::pipeline::gate::Baseline;
use crate::pipeline::validate::Reading;
use crate::pipeline::{check, rollout};
use crate::policy::{self, ClusterContext};
use crate::schema::{self, SchemaLocation};

/// Which reports a command writes, with everything about the terminal already decided.
#[derive(Clone)]
pub(crate) struct ReportPlan {
    pub command: &'static str,
    pub output: Output,
    pub verbose: bool,
    pub color: bool,
    pub junit: Option<PathBuf>,
    /// The configured clusters in rollout order, which orders every report.
    pub cluster_order: Vec<String>,
    /// The review of the change, once the command made one (`review`, `check` with a base).
    pub review: Option<std::sync::Arc<crate::review::Review>>,
    /// Standard output shows the review instead of the gate's report (`policyrun review`).
    pub review_on_stdout: bool,
    /// `--review-out`: where the review is written too.
    pub review_out: Option<PathBuf>,
}

impl ReportPlan {
    pub(crate) fn new(
        command: &'static str,
        report: &ReportArgs,
        color: ColorChoice,
        cluster_order: Vec<String>,
    ) -> Self {
        ReportPlan {
            command,
            output: report.output,
            verbose: report.verbose,
            color: use_color(color),
            junit: report.junit.clone(),
            cluster_order,
            review: None,
            review_on_stdout: false,
            review_out: None,
        }
    }

    /// The listing commands (`expand`, `fmt`) report in human form on standard output only.
    fn human_only(command: &'static str, color: ColorChoice, cluster_order: Vec<String>) -> Self {
        ReportPlan {
            command,
            output: Output::Human,
            verbose: false,
            color: use_color(color),
            junit: None,
            cluster_order,
            review: None,
            review_on_stdout: false,
            review_out: None,
        }
    }
}

/// `policyrun check`: the gate over the configuration with every flag applied.
pub(crate) struct CheckPlan {
    pub config: Config,
    pub gate: check::Options,
    /// A warning for the report: the file asks for Secret values the command line does not
    /// allow.
    pub refused_secret_values: Option<Outcome>,
    /// `--gate-from`: what this change alters in the gate that judges it.
    pub gate_findings: Vec<Outcome>,
    pub report: ReportPlan,
    /// What the change is reviewed against, when it is.
    pub review: Option<ReviewBase>,
}

/// The revision a change is reviewed against, and whether the user named it (a revision
/// that cannot be read is then a usage error; one guessed from `--changed-since` or
/// Jenkins' `CHANGE_TARGET` is a warning).
pub(crate) struct ReviewBase {
    pub rev: String,
    pub named: bool,
}

/// The review base of a `check` or `review`: `--review-base` (`review --base`), else
/// `--changed-since`'s revision, else the target branch of a Jenkins pull-request build.
fn review_base(args: &CheckArgs, command: &'static str) -> Result<Option<ReviewBase>, UsageError> {
    if let Some(rev) = &args.review_base {
        return Ok(Some(ReviewBase {
            rev: rev.clone(),
            named: true,
        }));
    }
    if command == "review" {
        return Err(UsageError(
            "review needs the revision to compare with: --base REF (for example main)".into(),
        ));
    }
    let guessed = args.changed_since.clone().or_else(|| {
        std::env::var("CHANGE_TARGET")
            .ok()
            .filter(|t| !t.is_empty() && !t.starts_with('-'))
            .map(|target| format!("origin/{target}"))
    });
    if guessed.is_none() && (args.report.output == Output::Markdown || args.review_out.is_some()) {
        return Err(UsageError(
            "a review needs the revision to compare with: --review-base REF".into(),
        ));
    }
    Ok(guessed.map(|rev| ReviewBase { rev, named: false }))
}

pub(crate) fn check(args: CheckArgs) -> Result<CheckPlan, UsageError> {
    check_as("check", args)
}

/// `policyrun review`: the gate as `check` runs it, its review on standard output.
pub(crate) fn review(args: CheckArgs) -> Result<CheckPlan, UsageError> {
    if matches!(
        args.report.output,
        Output::Tap | Output::Table | Output::Sarif
    ) {
        return Err(UsageError(
            "review writes human, markdown or json (-o); TAP, table and SARIF are the gate's reports"
                .into(),
        ));
    }
    check_as("review", args)
}

fn check_as(command: &'static str, args: CheckArgs) -> Result<CheckPlan, UsageError> {
    let review = review_base(&args, command)?;
    let mut config = Config::discover(&start_dir(&args.common.repo)?)?;
    // The protected branch's gate first: the trusted caller's flags then apply over it.
    let mut gate_findings = Vec::new();
    let mut protected = None;
    if let Some(rev) = &args.gate_from {
        let baseline = Baseline::read(&config.repo.root, rev, &|text, dir| {
            Ok(Config::parse_for(text, dir, Needs::Manifests)?)
        })?;
        let path = config.repo.root.join(CONFIG_FILE);
        let own: toml::Table = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| toml::from_str(&text).map_err(|e| e.to_string()))
            .map_err(|e| UsageError(format!("{}: {e}", path.display())))?;
        gate_findings = baseline.findings(&config, &own, args.gate_changes_approved);
        // An approved change is judged by the gate it brings (else a new waiver could never
        // pass before it is merged); its findings still say what it changes.
        if !args.gate_changes_approved {
            config = baseline.judge(config);
        }
        protected = Some(Arc::new(baseline));
    }
    apply_limit_flags(&args.common.limits, &mut config)?;
    if let Some(choice) = args.format_only {
        config.repo.format_only = match choice {
            FormatOnlyArg::Warn => FormatOnly::Warn,
            FormatOnlyArg::Fail => FormatOnly::Fail,
        };
    }
    apply_schema_flags(&args.schema, &mut config.schema)?;
    let refused_secret_values = apply_policy_flags(&args.policy, &mut config.policy);
    let (cache, note) = crate::store::for_run(
        &config.repo.root,
        args.cache_dir.as_deref(),
        args.cache_name.as_deref(),
        args.no_cache,
    )?;
    let gate = check::Options {
        clusters: args.common.clusters.clone(),
        progress: want_progress(args.report.output),
        shard: args.shard,
        cache,
        notes: note.into_iter().collect(),
        changed_since: args.changed_since.clone(),
        without_sharing: args.sharing.off(),
        gate: protected,
        gate_changes_approved: args.gate_changes_approved,
        ..check::Options::default()
    };
    let mut report = ReportPlan::new(
        command,
        &args.report,
        args.common.color,
        cluster_order(&config),
    );
    report.review_on_stdout = command == "review";
    report.review_out = args.review_out.clone();
    Ok(CheckPlan {
        config,
        gate,
        refused_secret_values,
        gate_findings,
        report,
        review,
    })
}

/// `policyrun expand`: which clusters' trees are rewritten.
pub(crate) struct ExpandPlan {
    pub config: Config,
    pub gate: check::Options,
    pub report: ReportPlan,
}

pub(crate) fn expand(common: CommonArgs) -> Result<ExpandPlan, UsageError> {
    let config = load_config(&common)?;
    let gate = check::Options {
        clusters: common.clusters.clone(),
        progress: want_progress(Output::Human),
        ..check::Options::default()
    };
    let report = ReportPlan::human_only("expand", common.color, cluster_order(&config));
    Ok(ExpandPlan {
        config,
        gate,
        report,
    })
}

/// `policyrun validate`: the schema settings (a repository's, when run inside one) and the
/// manifests.
pub(crate) struct ValidatePlan {
    pub settings: schema::Settings,
    pub paths: Vec<PathBuf>,
    /// Objects of equal content share one schema check (`--no-sharing`: off).
    pub share: bool,
    pub report: ReportPlan,
}

pub(crate) fn validate(args: ValidateArgs) -> Result<ValidatePlan, UsageError> {
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
    Ok(ValidatePlan {
        settings,
        paths: args.paths,
        share: !args.sharing.off(),
        report: ReportPlan::new("validate", &args.report, args.color, order),
    })
}

/// `policyrun test`: the policies, the cluster the objects are judged as, and the manifests.
pub(crate) struct TestPlan {
    /// What reports are relative to: the repository's root, else the working directory.
    pub root: PathBuf,
    pub settings: policy::Settings,
    pub cluster: Option<ClusterContext>,
    pub paths: Vec<PathBuf>,
    /// How the files are read: `--combine`, `--parser`.
    pub reading: Reading,
    /// Objects of equal inputs share one evaluation of a rule (`--no-sharing`: off).
    pub share: bool,
    pub refused_secret_values: Option<Outcome>,
    pub report: ReportPlan,
}

pub(crate) fn test(args: TestArgs) -> Result<TestPlan, UsageError> {
    let (root, mut settings, config) = policy_sources(&args.sources)?;
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
            let cluster = config.repo.select_clusters(std::slice::from_ref(name))?[0];
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
    let order = config.as_ref().map(cluster_order).unwrap_or_default();
    Ok(TestPlan {
        root,
        settings,
        cluster,
        paths: args.paths,
        reading: Reading {
            combine: args.combine,
            parser: args.parser.map(|parser| match parser {
                ParserArg::Json => Format::Json,
                ParserArg::Yaml => Format::Yaml,
                ParserArg::Toml => Format::Toml,
            }),
        },
        share: !args.sharing.off(),
        refused_secret_values,
        report: ReportPlan::new("test", &args.report, args.sources.color, order),
    })
}

/// `policyrun verify`: the policies whose unit tests run.
pub(crate) struct VerifyPlan {
    pub root: PathBuf,
    pub settings: policy::Settings,
    pub report: ReportPlan,
}

pub(crate) fn verify(args: VerifyArgs) -> Result<VerifyPlan, UsageError> {
    let (root, settings, config) = policy_sources(&args.sources)?;
    let order = config.as_ref().map(cluster_order).unwrap_or_default();
    Ok(VerifyPlan {
        root,
        settings,
        report: ReportPlan::new("verify", &args.report, args.sources.color, order),
    })
}

/// `policyrun apply` and `policyrun diff`: the configuration and what the rollout is asked.
pub(crate) struct RolloutPlan {
    pub config: Config,
    pub rollout: rollout::Plan,
    pub report: ReportPlan,
    /// A live bar where someone watches; plain lines in CI logs.
    pub progress: bool,
}

pub(crate) fn apply(args: ApplyArgs) -> Result<RolloutPlan, UsageError> {
    let config = load_config(&args.common)?;
    if args.timeout == Some(0) || args.stage_timeout == Some(0) {
        return Err(UsageError(
            "--timeout and --stage-timeout must be at least 1 second".into(),
        ));
    }
    given_kubeconfig(args.kubeconfig.as_deref())?;
    let rollout = rollout::Plan {
        clusters: args.common.clusters.clone(),
        until: args.until.clone(),
        kubeconfig: args.kubeconfig.clone(),
        stage: apply::stage::StageOptions {
            apply: apply::kubeapi::ApplyOptions {
                dry_run: args.dry_run,
                force_conflicts: args.force_conflicts,
            },
            on_failure: match args.on_failure {
                OnFailureArg::Leave => apply::stage::OnFailure::Leave,
                OnFailureArg::Pause => apply::stage::OnFailure::Pause,
                OnFailureArg::Undo => apply::stage::OnFailure::Undo,
            },
            ..apply::stage::StageOptions::default()
        },
        // Each cluster's configured timeouts fill in what is not given here; the rollout
        // merges them per cluster.
        timeouts: crate::pipeline::settings::ApplySettings {
            timeout: args.timeout,
            stage_timeout: args.stage_timeout,
        },
        prune: args.prune,
        no_bake: args.no_bake,
    };
    let report = ReportPlan::new(
        "apply",
        &args.report,
        args.common.color,
        cluster_order(&config),
    );
    Ok(RolloutPlan {
        config,
        rollout,
        progress: want_progress(args.report.output),
        report,
    })
}

pub(crate) fn diff(args: DiffArgs) -> Result<RolloutPlan, UsageError> {
    let config = load_config(&args.common)?;
    given_kubeconfig(args.kubeconfig.as_deref())?;
    let rollout = rollout::Plan {
        clusters: args.common.clusters.clone(),
        kubeconfig: args.kubeconfig.clone(),
        ..rollout::Plan::default()
    };
    let report = ReportPlan::new(
        "diff",
        &args.report,
        args.common.color,
        cluster_order(&config),
    );
    Ok(RolloutPlan {
        config,
        rollout,
        report,
        progress: false,
    })
}

/// `policyrun fmt`: which files, and whether to rewrite them.
pub(crate) struct FmtPlan {
    pub config: Config,
    /// Paths on the command line are relative to it.
    pub cwd: PathBuf,
    pub paths: Vec<PathBuf>,
    pub check_only: bool,
    pub report: ReportPlan,
}

pub(crate) fn fmt(args: FmtArgs) -> Result<FmtPlan, UsageError> {
    let config = Config::discover(&start_dir(&args.repo)?)?;
    let cwd = std::env::current_dir()?;
    let report = ReportPlan::human_only("fmt", args.color, cluster_order(&config));
    Ok(FmtPlan {
        config,
        cwd,
        paths: args.paths,
        check_only: args.check,
        report,
    })
}

/// The most worker threads `--jobs` may ask for. The work is CPU-bound, so threads beyond
/// the cores only add overhead; 256 covers the largest CI agents (192 cores) while the
/// threads' reserved stacks (2 x 256 x 256 MiB: rayon's and the evaluators') stay a small
/// part of the address space. `-j 20000` reserved 5 TB of stacks and never reported.
pub(crate) const MAX_JOBS: usize = 256;

/// How many worker threads a run gets for `--jobs`.
pub(crate) fn worker_threads(jobs: Option<usize>) -> Result<usize, UsageError> {
    match jobs {
        Some(0) => Err(UsageError("--jobs must be at least 1".into())),
        Some(n) if n > MAX_JOBS => Err(UsageError(format!(
            "--jobs {n}: at most {MAX_JOBS} worker threads (the work is CPU-bound; one per core is the default)"
        ))),
        Some(n) => Ok(n),
        // One per core, under the same cap; an explicit number, so that RAYON_NUM_THREADS
        // cannot ask for more.
        None => Ok(std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_JOBS)),
    }
}

/// Starts the process's worker pool. It can be started once per process, before anything
/// runs on it, so commands call this first, before their plan reads the configuration.
pub(crate) fn start_workers(jobs: Option<usize>) -> Result<(), UsageError> {
    // A worker started again after a stop with several evaluations in flight evaluates
    // one at a time, so that a second stop names its cause alone (see `cli::supervise`).
    let threads = if crate::model::supervision::serial() {
        1
    } else {
        worker_threads(jobs)?
    };
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .stack_size(crate::jsonnet::expand::WORKER_STACK)
        .build_global()?;
    Ok(())
}

/// Where policyrun.toml is looked up from: `-C`, else the working directory.
pub(crate) fn start_dir(repo: &Option<PathBuf>) -> Result<PathBuf, UsageError> {
    Ok(match repo {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()?,
    })
}

/// The repository's configuration with the budgets of the command line.
fn load_config(common: &CommonArgs) -> Result<Config, UsageError> {
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

/// The policy settings for `test` and `verify`: policyrun.toml's when there is one (with
/// its root, to which reports are relative), replaced by `--policy` paths when given
/// (built-in packs included).
fn policy_sources(
    sources: &PolicySources,
) -> Result<(PathBuf, policy::Settings, Option<Config>), UsageError> {
    let policies = &sources.policies;
    let config = match Config::find(&start_dir(&sources.repo)?)? {
        Some(path) => Some(Config::load_for(&path, Needs::Manifests)?),
        None => None,
    };
    let (root, mut settings) = match &config {
        Some(config) => (config.repo.root.clone(), config.policy.clone()),
        None => (std::env::current_dir()?, policy::Settings::default()),
    };
    // conftest's default, when neither the command line nor a policyrun.toml names any.
    let by_default = policies.is_empty() && config.is_none();
    let chosen: Vec<PathBuf> = if by_default {
        vec![PathBuf::from("policy")]
    } else {
        policies.to_vec()
    };
    if !chosen.is_empty() {
        // `--policy` names the policies that run: they replace the configured ones, the
        // built-in packs included (a copy of a pack must not meet the pack itself).
        settings.packs = Vec::new();
        settings.every_own_package = false;
        settings.dirs = Vec::new();
        // conftest's `--policy` holds policies; its data comes with `--data`.
        settings.data_in_dirs = false;
        for path in chosen {
            let absolute = std::env::current_dir()?.join(&path);
            if absolute.exists() {
                settings.dirs.push(absolute);
            } else if by_default {
                return Err(UsageError(format!(
                    "no policies: no `{}` directory here and no policyrun.toml in {} or above; name them with `--policy PATH` (repeat), or run where policyrun.toml is (or `-C DIR`)",
                    path.display(),
                    std::env::current_dir()?.display()
                )));
            } else {
                return Err(UsageError(format!(
                    "--policy: {} does not exist",
                    path.display()
                )));
            }
        }
    }
    Ok((root, settings, config))
}

/// The command line over the configuration's policy settings; a warning when the file
/// asks for Secret values the command line does not allow.
fn apply_policy_flags(flags: &PolicyArgs, settings: &mut policy::Settings) -> Option<Outcome> {
    let refused = settings.reveal_secret_values && !flags.allow_secret_values;
    settings.reveal_secret_values &= flags.allow_secret_values;
    if !flags.namespaces.is_empty() {
        settings.every_own_package = false;
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
        Outcome::new(Stage::Policy, "reveal_secret_values", Status::Warning)
            .subject("policyrun.toml")
            .message(
                "[policy] reveal_secret_values is set, but this run was not started with \
                 --allow-secret-values: policies see placeholders for Secret values",
            )
    })
}

/// The budgets of whoever runs policyrun replace the file's, up to the flags' ceilings.
fn apply_limit_flags(flags: &LimitArgs, config: &mut Config) -> Result<(), UsageError> {
    if let Some(seconds) = flags.evaluation_seconds {
        config.repo.evaluation_budget =
            Duration::from_secs(EVALUATION_SECONDS.checked_flag_value(seconds)?);
    }
    if let Some(seconds) = flags.policy_seconds {
        config.policy.object_budget =
            Duration::from_secs(POLICY_SECONDS.checked_flag_value(seconds)?);
    }
    if let Some(bytes) = flags.style_source_bytes {
        config.style.max_source_bytes = STYLE_SOURCE_BYTES.checked_flag_value(bytes)?;
    }
    if let Some(bytes) = flags.memory_bytes {
        config.memory_budget = MEMORY_BYTES.checked_flag_value(bytes)?;
    }
    crate::model::supervision::announce_budget(config.memory_budget);
    Ok(())
}

/// Applies the flags to settings read from a configuration (or the defaults). Paths given
/// here are the caller's own, so they are not confined to the repository.
fn apply_schema_flags(
    flags: &SchemaArgs,
    settings: &mut schema::Settings,
) -> Result<(), UsageError> {
    let absolute =
        |path: &Path| -> Result<PathBuf, UsageError> { Ok(std::env::current_dir()?.join(path)) };
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
    if let Some(version) = &flags.kubernetes_version {
        // The caller's release, for every cluster: what would this tree meet on 1.36?
        settings.kubernetes_version = Some(kubernetes_version(
            "--kubernetes-version",
            version,
            settings.schema_dir.as_deref(),
        )?);
        settings.cluster_versions.clear();
    }
    let mut locations = Vec::with_capacity(flags.schema_locations.len());
    for location in &flags.schema_locations {
        if location.contains("://") {
            return Err(UsageError(format!(
                "--schema-location {location}: policyrun reads schemas offline only; download them into a directory"
            )));
        }
        locations.push(SchemaLocation {
            path: absolute(Path::new(location))?
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

/// A `--kubeconfig` that names no file is a mistake on the command line (exit 2), not a
/// cluster that failed.
fn given_kubeconfig(path: Option<&Path>) -> Result<(), UsageError> {
    match path {
        Some(path) if !path.is_file() => Err(UsageError(format!(
            "--kubeconfig {}: no such file",
            path.display()
        ))),
        _ => Ok(()),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::{Cli, Command};
    use clap::Parser;

    /// A repository with one cluster and the given extra policyrun.toml lines.
    fn repo(extra: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for d in ["lib", "clusters/dev", "policy"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        std::fs::write(
            dir.path().join("policyrun.toml"),
            format!("{extra}\n[[cluster]]\nname = \"dev\"\n"),
        )
        .unwrap();
        dir
    }

    fn command(words: &[&str]) -> Command {
        let mut argv = vec!["policyrun"];
        argv.extend_from_slice(words);
        Cli::try_parse_from(argv).unwrap().command.unwrap()
    }

    fn check_plan(dir: &tempfile::TempDir, flags: &[&str]) -> Result<CheckPlan, UsageError> {
        let root = dir.path().to_str().unwrap();
        let mut words = vec!["check", "-C", root, "--no-cache"];
        words.extend_from_slice(flags);
        match command(&words) {
            Command::Check(args) => check(args),
            _ => unreachable!("parsed as check"),
        }
    }

    fn message<T>(result: Result<T, UsageError>) -> String {
        match result {
            Ok(_) => panic!("expected a usage error"),
            Err(UsageError(message)) => message,
        }
    }

    #[test]
    fn jobs_are_refused_outside_one_to_the_cap() {
        assert_eq!(
            message(worker_threads(Some(0))),
            "--jobs must be at least 1"
        );
        assert!(message(worker_threads(Some(MAX_JOBS + 1))).starts_with("--jobs 257: at most 256"),);
        assert_eq!(worker_threads(Some(MAX_JOBS)).unwrap(), MAX_JOBS);
        assert_eq!(worker_threads(Some(3)).unwrap(), 3);
        let default = worker_threads(None).unwrap();
        assert!((1..=MAX_JOBS).contains(&default), "{default}");
    }

    #[test]
    fn a_limit_flag_beats_the_file() {
        let dir = repo("[limits]\nevaluation_seconds = 120\npolicy_seconds = 7");
        let from_file = check_plan(&dir, &[]).unwrap();
        assert_eq!(
            from_file.config.repo.evaluation_budget,
            Duration::from_secs(120)
        );
        assert_eq!(
            from_file.config.policy.object_budget,
            Duration::from_secs(7)
        );
        let flagged = check_plan(&dir, &["--evaluation-seconds", "900"]).unwrap();
        // Above the file's ceiling (600): only the command line may ask for that much.
        assert_eq!(
            flagged.config.repo.evaluation_budget,
            Duration::from_secs(900)
        );
        assert_eq!(flagged.config.policy.object_budget, Duration::from_secs(7));
        let refused = message(check_plan(&dir, &["--evaluation-seconds", "100000"]));
        assert_eq!(
            refused,
            "--evaluation-seconds 100000: out of range (1 to 86400)"
        );
    }

    #[test]
    fn format_only_and_policy_flags_beat_the_file() {
        let dir = repo(
            "format_only = \"warn\"\n[policy]\nnamespaces = [\"team\"]\nreveal_secret_values = true",
        );
        let from_file = check_plan(&dir, &[]).unwrap();
        assert_eq!(from_file.config.repo.format_only, FormatOnly::Warn);
        assert_eq!(from_file.config.policy.namespaces, ["team"]);
        // The file comes with the change under review: it alone cannot reveal Secrets.
        assert!(!from_file.config.policy.reveal_secret_values);
        let warning = from_file.refused_secret_values.expect("a warning");
        assert_eq!(warning.status, Status::Warning);
        let flagged = check_plan(
            &dir,
            &[
                "--format-only",
                "fail",
                "--namespace",
                "main",
                "--namespace",
                "extra",
                "--allow-secret-values",
            ],
        )
        .unwrap();
        assert_eq!(flagged.config.repo.format_only, FormatOnly::Fail);
        assert_eq!(flagged.config.policy.namespaces, ["main", "extra"]);
        assert!(flagged.config.policy.reveal_secret_values);
        assert!(flagged.refused_secret_values.is_none());
    }

    #[test]
    fn schema_flags_come_before_the_file_and_stay_offline() {
        let dir = repo("[schema]\nlocations = [\"schemas\"]");
        std::fs::create_dir_all(dir.path().join("schemas")).unwrap();
        let plan = check_plan(&dir, &["--schema-location", "/elsewhere"]).unwrap();
        let locations: Vec<&str> = plan
            .config
            .schema
            .locations
            .iter()
            .map(|l| l.path.as_str())
            .collect();
        assert_eq!(locations.len(), 2, "{locations:?}");
        assert_eq!(locations[0], "/elsewhere");
        assert!(locations[1].ends_with("schemas"), "{locations:?}");
        let refused = message(check_plan(
            &dir,
            &["--schema-location", "https://example.com/schemas"],
        ));
        assert!(refused.contains("offline only"), "{refused}");
        let missing = message(check_plan(&dir, &["--crd", "/no/such/crd.yaml"]));
        assert_eq!(missing, "--crd: /no/such/crd.yaml does not exist");
    }

    #[test]
    fn the_release_flag_replaces_every_clusters_release() {
        let dir = repo("");
        std::fs::write(
            dir.path().join("policyrun.toml"),
            "[schema]\nkubernetes_version = \"1.34\"\n[[cluster]]\nname = \"dev\"\n[cluster.schema]\nkubernetes_version = \"1.30\"\n",
        )
        .unwrap();
        let plan = check_plan(&dir, &[]).unwrap();
        assert_eq!(
            plan.config.schema.cluster_versions["dev"].to_string(),
            "1.30.0"
        );
        let plan = check_plan(&dir, &["--kubernetes-version", "1.36"]).unwrap();
        assert_eq!(
            plan.config.schema.kubernetes_version.unwrap().to_string(),
            "1.36.0"
        );
        assert!(plan.config.schema.cluster_versions.is_empty());
        let refused = message(check_plan(&dir, &["--kubernetes-version", "1.24"]));
        assert!(
            refused.starts_with(
                "--kubernetes-version: Kubernetes 1.24 is not built in (built in: 1.25 to 1.37)"
            ),
            "{refused}"
        );
    }

    #[test]
    fn apply_refuses_zero_timeouts_and_a_missing_kubeconfig() {
        let dir = repo("");
        let root = dir.path().to_str().unwrap();
        let plan_for = |flags: &[&str]| {
            let mut words = vec!["apply", "-C", root];
            words.extend_from_slice(flags);
            match command(&words) {
                Command::Apply(args) => apply(args),
                _ => unreachable!("parsed as apply"),
            }
        };
        assert_eq!(
            message(plan_for(&["--timeout", "0"])),
            "--timeout and --stage-timeout must be at least 1 second"
        );
        assert_eq!(
            message(plan_for(&["--kubeconfig", "/no/such/kubeconfig"])),
            "--kubeconfig /no/such/kubeconfig: no such file"
        );
        let plan = plan_for(&["--timeout", "30", "--until", "dev"]).unwrap();
        assert_eq!(plan.rollout.timeouts.timeout, Some(30));
        assert_eq!(plan.rollout.timeouts.stage_timeout, None);
        assert_eq!(plan.rollout.until.as_deref(), Some("dev"));
        assert_eq!(plan.report.cluster_order, ["dev"]);
    }

    #[test]
    fn test_needs_a_configuration_to_judge_as_a_cluster() {
        // No policyrun.toml here or above: the policies come from --policy.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let words = [
            "test",
            "-C",
            root,
            "-p",
            root,
            "--cluster",
            "dev",
            "manifest.yaml",
        ];
        let Command::Test(args) = command(&words) else {
            unreachable!("parsed as test")
        };
        assert_eq!(
            message(test(args)),
            "--cluster needs a policyrun.toml that configures the cluster"
        );
        let configured = repo("");
        let root = configured.path().to_str().unwrap();
        let words = ["test", "-C", root, "--cluster", "dev", "manifest.yaml"];
        let Command::Test(args) = command(&words) else {
            unreachable!("parsed as test")
        };
        let plan = test(args).unwrap();
        assert_eq!(plan.cluster.map(|c| c.name), Some("dev".to_owned()));
        assert_eq!(plan.root, configured.path().canonicalize().unwrap());
    }
}
