//! The command line as clap reads it: every command, flag and value, with the help text
//! `--help`, the manual pages and the completion scripts are generated from. Plain values
//! only; what they mean together with policyrun.toml is decided in `cli::plan`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "policyrun",
    // The build's identity (build.rs): which cache records this binary reads and writes.
    version = concat!(env!("CARGO_PKG_VERSION"), " (build ", env!("POLICYRUN_BUILD_ID"), ")"),
    about = "Gate, expand and roll out Kubernetes configuration kept as jsonnet",
    long_about = "Gate, expand and roll out Kubernetes configuration kept as jsonnet.\n\n\
        Without a command, runs `check` (the same gate as CI).\n\n\
        Exit codes: 0 every check passed (warnings allowed); 1 a check failed or could not \
        run; 2 usage, configuration or I/O error. `diff` exits as `kubectl diff` does: 0 \
        nothing would change, 1 applying would change something, 2 it could not tell (a \
        check failed, or a usage, configuration or I/O error).",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub check: CheckArgs,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the gate: expand every entry, check the committed JSON is up to date, validate
    /// every object against the Kubernetes schemas and run the policies (default)
    Check(CheckArgs),
    /// Rewrite the committed JSON below the generated root from the sources
    Expand(CommonArgs),
    /// Validate plain JSON and YAML manifests (files, directories, `-` for standard input)
    /// against the Kubernetes schemas, as `check` does the expanded tree
    Validate(ValidateArgs),
    /// Run the policies on plain JSON and YAML manifests, as `conftest test` does
    Test(TestArgs),
    /// Run the policies' unit tests: the `test_*` rules of `*_test.rego` files
    Verify(VerifyArgs),
    /// Say what this change does to every cluster, offline: the generated trees of --base
    /// REF (from its merge base with HEAD) and of the work tree compared object by object,
    /// with risk flags and the gate's findings on what changed first (exits as `check`)
    Review(CheckArgs),
    /// Roll the repository out: cluster by cluster in rollout order, each applied only when
    /// its gate passes and the one before is healthy
    Apply(ApplyArgs),
    /// Show what `apply` would change in each cluster: live objects against the API
    /// server's dry-run answer (exit 1 when something would change, 2 when it cannot tell,
    /// as `kubectl diff`)
    Diff(DiffArgs),
    /// Rewrite jsonnet files into the canonical form the style stage checks (jsonnetfmt's,
    /// with the [style] options of policyrun.toml)
    Fmt(FmtArgs),
    /// List the rule packs built into policyrun (`[policy] packs`): each rule with what it
    /// checks, and the [cluster.policy] settings each pack reads
    Packs(PacksArgs),
    /// Adopt policyrun on an existing repository: detect its layout and formatting, write a
    /// commented policyrun.toml (never over an existing one without --force), run the gate
    /// once, and optionally waive today's policy findings as a baseline
    Init(InitArgs),
    /// Install (or remove) a git pre-push hook that runs the gate before every push
    Hook(HookArgs),
    /// Print a completion script for a shell (bash, zsh, fish, elvish, powershell)
    Completions(CompletionsArgs),
    /// Print the manual page, or write one per command into a directory
    Man(ManArgs),
}

#[derive(Args, Clone)]
pub struct HookArgs {
    #[command(subcommand)]
    pub(crate) action: HookAction,
    /// The repository (or any directory inside it)
    #[arg(short = 'C', long = "repo", value_name = "DIR", global = true)]
    pub(crate) repo: Option<PathBuf>,
}

#[derive(Subcommand, Clone)]
pub(crate) enum HookAction {
    /// Write .git/hooks/pre-push (or under core.hooksPath); a hook policyrun did not write
    /// is never replaced
    Install,
    /// Remove the hook policyrun wrote; any other stays
    Uninstall,
}

#[derive(Args, Clone)]
pub struct PacksArgs {
    /// `human` (80 columns) or `json`
    #[arg(short = 'o', long, value_enum, default_value_t = PacksOutput::Human)]
    pub(crate) output: PacksOutput,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PacksOutput {
    /// Each pack, its rules and settings, wrapped to 80 columns
    Human,
    /// The same, machine-readable
    Json,
}

#[derive(Args, Clone)]
pub struct InitArgs {
    /// The repository's root, where policyrun.toml is written (default: the current directory)
    #[arg(short = 'C', long = "repo", value_name = "DIR")]
    pub(crate) repo: Option<PathBuf>,
    /// Replace an existing policyrun.toml
    #[arg(long)]
    pub(crate) force: bool,
    /// Write policyrun-baseline.yaml: a waiver for each of today's policy findings, owned
    /// by this team (needs --baseline-expires)
    #[arg(long, value_name = "OWNER", requires = "baseline_expires")]
    pub(crate) baseline_owner: Option<String>,
    /// Until when the baseline's waivers hold (YYYY-MM-DD); then each finding fails again
    #[arg(long, value_name = "DATE", requires = "baseline_owner")]
    pub(crate) baseline_expires: Option<String>,
    #[command(flatten)]
    pub(crate) report: ReportArgs,
    /// When to colour the human output (`auto`: on a terminal, unless NO_COLOR is set)
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub(crate) color: ColorChoice,
}

#[derive(Args, Clone)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

#[derive(Args, Clone)]
pub struct ManArgs {
    /// Write policyrun.1 and policyrun-<command>.1 here instead of printing policyrun.1
    #[arg(long, value_name = "DIR")]
    pub(crate) out_dir: Option<PathBuf>,
}

#[derive(Args, Clone)]
pub struct FmtArgs {
    /// Files or directories inside the repository (default: every jsonnet file the style
    /// stage checks)
    #[arg(value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,
    /// Write nothing; exit 1 when a file is not in canonical form (as `jsonnetfmt --test`)
    #[arg(long)]
    pub(crate) check: bool,
    /// The repository (or any directory inside it); policyrun.toml is looked up from here
    #[arg(short = 'C', long = "repo", value_name = "DIR")]
    pub(crate) repo: Option<PathBuf>,
    /// Worker threads (default: one per core)
    #[arg(short = 'j', long, value_name = "N")]
    pub(crate) jobs: Option<usize>,
    /// When to colour the human output (`auto`: on a terminal, unless NO_COLOR is set)
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub(crate) color: ColorChoice,
}

#[derive(Args, Clone)]
pub struct DiffArgs {
    #[command(flatten)]
    pub(crate) common: CommonArgs,
    #[command(flatten)]
    pub(crate) report: ReportArgs,
    /// The kubeconfig holding each cluster's context (as for `apply`)
    #[arg(long, value_name = "PATH")]
    pub(crate) kubeconfig: Option<PathBuf>,
}

#[derive(Args, Clone)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub(crate) common: CommonArgs,
    #[command(flatten)]
    pub(crate) report: ReportArgs,
    /// Stop after this cluster
    #[arg(long, value_name = "NAME", add = clusters())]
    pub(crate) until: Option<String>,
    /// Server-side dry run: every object is validated by the API server, nothing changes
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Take over fields another field manager owns instead of failing on the conflict
    #[arg(long)]
    pub(crate) force_conflicts: bool,
    /// After a healthy stage, delete the objects policyrun applied to the cluster before
    /// that the tree no longer holds (never Namespaces or CRDs)
    #[arg(long)]
    pub(crate) prune: bool,
    /// What to do with workloads that do not become ready: leave them, pause them (as
    /// `kubectl rollout pause`), or give them back the pod template they had before the stage
    /// (as `kubectl rollout undo`)
    #[arg(long, value_enum, value_name = "WHAT", default_value_t = OnFailureArg::Leave)]
    pub(crate) on_failure: OnFailureArg,
    /// Promote each cluster as soon as its rollouts are ready, without the bake that
    /// policyrun.toml configures (an emergency); every report says the bake was skipped
    #[arg(long)]
    pub(crate) no_bake: bool,
    /// The kubeconfig holding each cluster's context (default: $KUBECONFIG or ~/.kube/config;
    /// in a pod without one, the pod's service account)
    #[arg(long, value_name = "PATH")]
    pub(crate) kubeconfig: Option<PathBuf>,
    /// Seconds one object may take to become ready (default: policyrun.toml's, else 300)
    #[arg(long, value_name = "SECONDS")]
    pub(crate) timeout: Option<u64>,
    /// Seconds one cluster's whole stage may take (default: policyrun.toml's, else 900)
    #[arg(long, value_name = "SECONDS")]
    pub(crate) stage_timeout: Option<u64>,
}

/// Which policy packages run; they replace the `[policy]` table's `namespaces`.
#[derive(Args, Clone)]
pub(crate) struct PolicyArgs {
    /// Run the rules of this Rego package (repeat; default `main`, or policyrun.toml's)
    #[arg(long = "namespace", value_name = "PACKAGE")]
    pub(crate) namespaces: Vec<String>,
    /// Run the rules of every package
    #[arg(long)]
    pub(crate) all_namespaces: bool,
    /// Evaluate with regorus' interpreter (default: fails on evaluation errors) or its
    /// virtual machine (faster; an error inside a rule body makes the body undefined)
    #[arg(long, value_enum, value_name = "ENGINE")]
    pub(crate) policy_engine: Option<EngineArg>,
    /// Let policies see Secret values where policyrun.toml's `reveal_secret_values` asks for
    /// them; without this flag they see placeholders whatever the file says (the file comes
    /// with the pull request under review)
    #[arg(long)]
    pub(crate) allow_secret_values: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum OnFailureArg {
    Leave,
    Pause,
    Undo,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ParserArg {
    Json,
    Yaml,
    Toml,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum EngineArg {
    Interpreter,
    Vm,
}

#[derive(Args, Clone)]
pub struct TestArgs {
    /// Manifest files or directories (`.json`, `.yaml`, `.yml`); `-` reads standard input
    #[arg(value_name = "PATH", required = true)]
    pub(crate) paths: Vec<PathBuf>,
    /// Judge the objects as this configured cluster's (its name and [cluster.policy])
    #[arg(long, value_name = "NAME", add = clusters())]
    pub(crate) cluster: Option<String>,
    /// Judge every document of the run as one input, a list of `{"path", "contents"}`
    /// (conftest's `--combine`), for policies that look across files
    #[arg(long)]
    pub(crate) combine: bool,
    /// A data file, or a directory of them, merged into `data` for the policies (repeat;
    /// conftest's `--data`); `.rego` files there are not loaded
    #[arg(long = "data", value_name = "PATH")]
    pub(crate) data: Vec<PathBuf>,
    /// Read every file in this format, whatever its extension (conftest's `--parser`);
    /// without it, `.json`, `.yaml`/`.yml` and `.toml` name theirs and other files are refused
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub(crate) parser: Option<ParserArg>,
    #[command(flatten)]
    pub(crate) sources: PolicySources,
    #[command(flatten)]
    pub(crate) policy: PolicyArgs,
    #[command(flatten)]
    pub(crate) sharing: SharingArgs,
    #[command(flatten)]
    pub(crate) report: ReportArgs,
}

#[derive(Args, Clone)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub(crate) sources: PolicySources,
    #[command(flatten)]
    pub(crate) report: ReportArgs,
}

/// Where `test` and `verify` find their policies, and how they run.
#[derive(Args, Clone)]
pub(crate) struct PolicySources {
    /// Policy directory or file (repeat); default: policyrun.toml's, else `policy/`
    #[arg(short = 'p', long = "policy", value_name = "PATH")]
    pub(crate) policies: Vec<PathBuf>,
    /// Where to look for policyrun.toml (optional)
    #[arg(short = 'C', long = "repo", value_name = "DIR")]
    pub(crate) repo: Option<PathBuf>,
    /// Worker threads (default: one per core)
    #[arg(short = 'j', long, value_name = "N")]
    pub(crate) jobs: Option<usize>,
    /// When to colour the human output (`auto`: on a terminal, unless NO_COLOR is set)
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub(crate) color: ColorChoice,
}

#[derive(Args, Clone)]
pub struct CommonArgs {
    /// The repository (or any directory inside it); policyrun.toml is looked up from here
    #[arg(short = 'C', long = "repo", value_name = "DIR")]
    pub(crate) repo: Option<PathBuf>,
    /// Only this cluster (repeat for several); default: all, in rollout order
    #[arg(long = "cluster", value_name = "NAME", add = clusters())]
    pub(crate) clusters: Vec<String>,
    /// Worker threads (default: one per core)
    #[arg(short = 'j', long, value_name = "N")]
    pub(crate) jobs: Option<usize>,
    /// When to colour the human output (`auto`: on a terminal, unless NO_COLOR is set)
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub(crate) color: ColorChoice,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
}

/// Budgets from whoever runs policyrun; they replace `[limits]` of policyrun.toml, which
/// comes with the change under review and may raise them only up to a ceiling.
#[derive(Args, Clone)]
pub(crate) struct LimitArgs {
    /// Seconds one entry's jsonnet evaluation may take (default: policyrun.toml's
    /// `limits.evaluation_seconds`, else 60)
    #[arg(long, value_name = "SECONDS")]
    pub(crate) evaluation_seconds: Option<u64>,
    /// Seconds the policies may take for one object (default: `limits.policy_seconds`, else 5)
    #[arg(long, value_name = "SECONDS")]
    pub(crate) policy_seconds: Option<u64>,
    /// Largest jsonnet source the style stage formats, in bytes (default:
    /// `limits.style_source_bytes`, else 1 MiB)
    #[arg(long, value_name = "BYTES")]
    pub(crate) style_source_bytes: Option<u64>,
    /// Bytes of memory the run's work may hold; past it, the entries and objects being
    /// evaluated become errors (default: `limits.memory_bytes`, else 4 GiB; Linux only)
    #[arg(long, value_name = "BYTES")]
    pub(crate) memory_bytes: Option<u64>,
}

/// Sharing of verdicts between objects of equal inputs, for the commands that share.
#[derive(Args, Clone)]
pub(crate) struct SharingArgs {
    /// Judge every object on its own: no policy evaluation or schema check is taken from an
    /// earlier object of equal content and inputs (the report is the same, only slower; for
    /// comparing). `POLICYRUN_NO_SHARING=1` does the same
    #[arg(long)]
    pub(crate) no_sharing: bool,
}

impl SharingArgs {
    /// The flag, or the environment variable that tests and benchmarks set.
    pub(crate) fn off(&self) -> bool {
        self.no_sharing || std::env::var_os("POLICYRUN_NO_SHARING").is_some_and(|v| v == "1")
    }
}

#[derive(Args, Clone)]
pub struct CheckArgs {
    #[command(flatten)]
    pub(crate) common: CommonArgs,
    #[command(flatten)]
    pub(crate) report: ReportArgs,
    #[command(flatten)]
    pub(crate) schema: SchemaArgs,
    #[command(flatten)]
    pub(crate) policy: PolicyArgs,
    #[command(flatten)]
    pub(crate) sharing: SharingArgs,
    /// Whether a formatting-only difference warns or fails (overrides `format_only`)
    #[arg(long, value_enum, value_name = "WHAT")]
    pub(crate) format_only: Option<FormatOnlyArg>,
    /// Check and report only shard K of N (1 <= K <= N): entries split by a fixed hash of
    /// cluster and name; the N shards' results together are one whole run's
    #[arg(long, value_name = "K/N", conflicts_with = "changed_since")]
    pub(crate) shard: Option<crate::pipeline::shard::Shard>,
    /// Neither read nor write the cache: evaluate every entry, and every object's policies
    #[arg(long)]
    pub(crate) no_cache: bool,
    /// Where the cache of expansions and policy verdicts lives (default: $POLICYRUN_CACHE_DIR,
    /// else $XDG_CACHE_HOME/policyrun, else ~/.cache/policyrun); never inside the repository
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Name this repository's records in the cache NAME instead of after the checkout's
    /// path, so that checkouts in other places (CI workspaces) share them
    #[arg(long, value_name = "NAME", conflicts_with = "no_cache")]
    pub(crate) cache_name: Option<String>,
    /// Check only the entries whose inputs changed since this git revision (committed,
    /// staged, unstaged or untracked changes)
    #[arg(long, value_name = "REF")]
    pub(crate) changed_since: Option<String>,
    /// Judge with the gate as this git revision (the protected branch) has it: its policies,
    /// waivers, Gatekeeper and schema files, [policy], [schema], [limits] and each cluster's
    /// policy context; what this change alters in them is a finding that fails the gate
    #[arg(long, value_name = "REF")]
    pub(crate) gate_from: Option<String>,
    /// The change to the gate is approved (a maintainer's decision, passed by the CI job):
    /// its findings warn instead of failing
    #[arg(long, requires = "gate_from")]
    pub(crate) gate_changes_approved: bool,
    /// Also review what the change does since this git revision (from its merge base with
    /// HEAD): risk flags as warnings, a `review` suite in the JUnit report (`review --base`)
    #[arg(long = "review-base", alias = "base", value_name = "REF")]
    pub(crate) review_base: Option<String>,
    /// Write the review to this file: Markdown, or JSON for a `.json` name
    #[arg(long, value_name = "PATH")]
    pub(crate) review_out: Option<PathBuf>,
}

#[derive(Args, Clone)]
pub struct ValidateArgs {
    /// Manifest files or directories (`.json`, `.yaml`, `.yml`); `-` reads standard input
    #[arg(value_name = "PATH", required = true)]
    pub(crate) paths: Vec<PathBuf>,
    /// Where to look for policyrun.toml, whose [schema] settings apply (optional)
    #[arg(short = 'C', long = "repo", value_name = "DIR")]
    pub(crate) repo: Option<PathBuf>,
    /// Worker threads (default: one per core)
    #[arg(short = 'j', long, value_name = "N")]
    pub(crate) jobs: Option<usize>,
    /// When to colour the human output (`auto`: on a terminal, unless NO_COLOR is set)
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub(crate) color: ColorChoice,
    #[command(flatten)]
    pub(crate) report: ReportArgs,
    #[command(flatten)]
    pub(crate) schema: SchemaArgs,
    #[command(flatten)]
    pub(crate) sharing: SharingArgs,
}

#[derive(Args, Clone)]
pub(crate) struct ReportArgs {
    /// Also write a JUnit XML report to this file
    #[arg(long, value_name = "PATH")]
    pub(crate) junit: Option<PathBuf>,
    /// Format of the report on standard output
    #[arg(short, long, value_enum, default_value_t = Output::Human)]
    pub(crate) output: Output,
    /// List every check, not only problems
    #[arg(short, long)]
    pub(crate) verbose: bool,
}

/// Schema settings from the command line; they add to (locations, CRDs, skips) or replace
/// (version, directory) the `[schema]` table of policyrun.toml.
#[derive(Args, Clone)]
pub(crate) struct SchemaArgs {
    /// Validate against this Kubernetes release, for every cluster (built in: 1.25 to 1.37;
    /// default: 1.35, or as policyrun.toml says)
    #[arg(long, value_name = "VERSION")]
    pub(crate) kubernetes_version: Option<String>,
    /// Directory holding the schemas of other releases (kubernetes-validate's
    /// `vX.Y.Z-local-strict` directories)
    #[arg(long, value_name = "DIR")]
    pub(crate) schema_dir: Option<PathBuf>,
    /// A schema directory or path template searched before the built-in schemas (repeat)
    #[arg(long = "schema-location", value_name = "LOCATION")]
    pub(crate) schema_locations: Vec<String>,
    /// A CustomResourceDefinition file or directory whose kinds every object may use (repeat)
    #[arg(long = "crd", value_name = "PATH")]
    pub(crate) crds: Vec<PathBuf>,
    /// Skip objects that have no schema instead of failing them
    #[arg(long)]
    pub(crate) ignore_missing_schemas: bool,
    /// Kinds or group/version/Kinds not to validate (comma-separated; repeat)
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    pub(crate) skip: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    /// Problems grouped by cluster, with messages, places and diffs
    Human,
    /// Every outcome, machine-readable
    Json,
    /// The JSON report with only what is not a pass (failures, errors, warnings, skips); the
    /// summary still counts every outcome
    JsonProblems,
    /// The Test Anything Protocol, version 13: one test point per outcome
    Tap,
    /// An aligned table: status, stage, check, subject, message
    Table,
    /// SARIF 2.1.0 for code scanning (GitHub, Jenkins' Warnings NG): every problem on its
    /// file and line
    Sarif,
    /// The review of the change as Markdown, sized for a pull-request comment (`review`, or
    /// `check` with --review-base)
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum FormatOnlyArg {
    Warn,
    Fail,
}

/// What completes a cluster's name: the clusters of the nearest policyrun.toml.
fn clusters() -> clap_complete::engine::ArgValueCompleter {
    clap_complete::engine::ArgValueCompleter::new(super::complete::cluster_names)
}

impl Cli {
    /// The command line as the user wrote it, read with the options given before the
    /// command moved after it: `policyrun -C dir check` and `policyrun --cluster dev diff`
    /// are written so by users of git, make and kubectl. clap alone refuses them, because
    /// the options of the default command (`check`) are what a bare `policyrun` takes.
    pub fn from_command_line() -> Result<Cli, clap::Error> {
        Cli::try_parse_from(command_first(std::env::args_os().collect()))
    }
}

/// `arguments` with the options that come before the command (a subcommand's name) moved
/// after it; unchanged when no command follows the leading options (a bare `policyrun
/// --cluster dev` is `check`'s own command line) or after `--`.
pub fn command_first(arguments: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    use clap::CommandFactory;
    let mut cli = Cli::command();
    // Built, so that `--help` and `--version` are among its arguments.
    cli.build();
    let takes_value = |arg: &clap::Arg| arg.get_action().takes_values();
    let long_takes_value = |name: &str| {
        cli.get_arguments()
            .find(|a| a.get_long() == Some(name))
            .map(takes_value)
    };
    let short_takes_value = |c: char| {
        cli.get_arguments()
            .find(|a| a.get_short() == Some(c))
            .map(takes_value)
    };
    let is_command = |name: &str| {
        cli.get_subcommands()
            .any(|s| s.get_name() == name || s.get_all_aliases().any(|a| a == name))
    };
    let mut index = 1;
    while index < arguments.len() {
        let Some(token) = arguments[index].to_str() else {
            return arguments;
        };
        if token == "--" {
            return arguments;
        }
        if let Some(long) = token.strip_prefix("--") {
            let (name, inline_value) = match long.split_once('=') {
                Some((name, _)) => (name, true),
                None => (long, false),
            };
            match long_takes_value(name) {
                // An option `check` does not know: clap says so, where the user wrote it.
                None => return arguments,
                Some(true) if !inline_value => index += 2,
                Some(_) => index += 1,
            }
            continue;
        }
        if let Some(shorts) = token.strip_prefix('-').filter(|s| !s.is_empty()) {
            let mut consumed = 1;
            for (at, c) in shorts.char_indices() {
                match short_takes_value(c) {
                    None => return arguments,
                    // `-Cdir` holds its value; `-C dir` takes the next argument.
                    Some(true) => {
                        if at + c.len_utf8() == shorts.len() {
                            consumed = 2;
                        }
                        break;
                    }
                    Some(false) => {}
                }
            }
            index += consumed;
            continue;
        }
        if !is_command(token) || index == 1 {
            return arguments;
        }
        let mut reordered = Vec::with_capacity(arguments.len());
        reordered.push(arguments[0].clone());
        reordered.push(arguments[index].clone());
        reordered.extend_from_slice(&arguments[1..index]);
        reordered.extend_from_slice(&arguments[index + 1..]);
        return reordered;
    }
    arguments
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reordered(line: &str) -> String {
        let arguments = line.split(' ').map(Into::into).collect();
        command_first(arguments)
            .iter()
            .map(|a| a.to_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn options_before_the_command_move_after_it() {
        assert_eq!(
            reordered("policyrun -C dir check"),
            "policyrun check -C dir"
        );
        assert_eq!(
            reordered("policyrun -Cdir check -v"),
            "policyrun check -Cdir -v"
        );
        assert_eq!(
            reordered("policyrun --cluster dev --repo=x diff --kubeconfig k"),
            "policyrun diff --cluster dev --repo=x --kubeconfig k"
        );
        assert_eq!(
            reordered("policyrun -vj 4 test -"),
            "policyrun test -vj 4 -"
        );
        assert_eq!(
            reordered("policyrun --help check"),
            "policyrun check --help"
        );
    }

    #[test]
    fn a_command_line_without_leading_options_or_command_is_left_alone() {
        for line in [
            "policyrun check -C dir",
            "policyrun --cluster dev",
            // A value that is also a command's name is the option's value.
            "policyrun --cluster test",
            "policyrun -C check",
            "policyrun --unknown check",
            "policyrun -- check",
            "policyrun -v nothing check",
        ] {
            assert_eq!(reordered(line), line);
        }
    }

    #[test]
    fn every_reordered_line_parses_as_the_command_written_first() {
        let parsed = |line: &str| {
            let arguments = line.split(' ').map(Into::into).collect();
            Cli::try_parse_from(command_first(arguments))
        };
        let cli = parsed("policyrun -C dir --cluster dev check --no-cache").unwrap();
        let Some(Command::Check(args)) = cli.command else {
            panic!("not check");
        };
        assert_eq!(args.common.repo, Some(PathBuf::from("dir")));
        assert_eq!(args.common.clusters, ["dev"]);
        assert!(args.no_cache);
        let cli = parsed("policyrun -C dir expand").unwrap();
        assert!(matches!(cli.command, Some(Command::Expand(_))));
        // An option the command does not take is still refused, naming it.
        let error = parsed("policyrun --shard 1/2 test x").err().unwrap();
        assert!(error.to_string().contains("--shard"), "{error}");
    }
}
