//! The policy stage: Rego policies in conftest's conventions, evaluated with regorus for every
//! object, with a context that tells policies which cluster they judge. The modules are
//! loaded and prepared once per cluster; every rayon worker evaluates on its own clone.

pub(crate) mod budget;
mod deprecated;
pub(crate) mod gatekeeper;
pub mod kinds;
pub mod load;
pub(crate) mod memory;
pub mod opa;
pub mod packs;
mod problem;
pub(crate) mod reads;
pub mod redact;
pub(crate) mod results;
pub mod rules;
pub mod safety;
mod session;
mod share;
pub mod verify;
pub mod waivers;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rayon::prelude::*;
use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::program::Program;
use regorus::rvm::vm::RegoVM;
use regorus::{Engine, Value};
use serde::Deserialize;

use crate::model::digest::Digest;
use crate::model::object::Target;
use crate::model::outcome::{Location, ObjectId, Outcome, Stage, Status};
use crate::model::secrets;
use crate::model::stage::StageReport;
use crate::model::stats::Stats;
use crate::model::value::ObjectValue;
use crate::store::Store;
use budget::ObjectBudget;
use load::{Loaded, Package, Problem, RuleDecl, RuleKind};
use memory::VerdictMemory;
use results::RuleResult;
use waivers::{Date, Waivers};

/// Check name for problems with the policies themselves (parse errors, missing builtins).
pub const LOAD: &str = "load";

/// Check name of the outcome that says no policy is configured.
pub const NO_POLICIES_CHECK: &str = "configured";

/// Why no policy runs, and what to do about it.
pub const NO_POLICIES: &str =
    "no policies configured: select built-in packs with `[policy] packs = [...]` or add policies/";

/// The policy stage's one outcome when nothing is configured to run: a warning, so that a
/// gate without policies says so in every report instead of looking as if they passed.
pub fn no_policies() -> Outcome {
    Outcome::new(Stage::Policy, NO_POLICIES_CHECK, Status::Warning)
        .subject(crate::model::repository::CONFIG_FILE.to_owned())
        .message(NO_POLICIES)
        .location(Location::file(crate::model::repository::CONFIG_FILE))
}

/// A document that is not a Kubernetes object (or `test --combine`'s combined input),
/// judged by the Rego rules as `input` in conftest's conventions.
pub struct Document<'a> {
    /// How reports name it: `values.yaml[0]`, the file and the document's index in it.
    pub subject: String,
    pub file: Option<&'a Path>,
    pub value: &'a serde_json::Value,
    pub location: Option<Location>,
}

/// Which Rego syntax the modules are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegoVersion {
    /// Each module as Rego v1 if it parses so, else as v0.
    #[default]
    Auto,
    V0,
    V1,
}

/// Which part of regorus evaluates the policies for every object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegoEngine {
    /// regorus' tree-walking interpreter with strict builtin errors: an evaluation error
    /// fails the run (the gate fails closed). `verify` uses it too.
    #[default]
    Interpreter,
    /// A program compiled once for regorus' virtual machine: about four times faster, but
    /// an error inside a rule body (a failed builtin, a type mismatch) makes that body
    /// undefined instead of failing the run, as OPA does without `--strict-builtin-errors`.
    Vm,
}

/// How long the policies may take for one object unless configured (`[limits]
/// policy_seconds`).
pub const DEFAULT_OBJECT_BUDGET: Duration = Duration::from_secs(5);

/// Where the policies are and which of them run; paths absolute, inside the repository.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The built-in packs that run (`[policy] packs`; see [`packs`]), besides `dirs`.
    pub packs: Vec<String>,
    /// Directories (or files) holding `.rego` modules and data files.
    pub dirs: Vec<PathBuf>,
    /// Whether the `.json`/`.yaml`/`.yml` files below `dirs` are data: they are for
    /// `[policy] dirs`, as `opa eval -d` loads a directory; not for conftest's `--policy`
    /// (`test -p`, `verify -p`, the default `policy/`), which loads `.rego` only (its data
    /// comes with `--data`: a directory of test fixtures beside the policies is no data).
    pub data_in_dirs: bool,
    /// More data files, or directories of them (`test --data`, conftest's `--data`): merged
    /// into `data` as the data files in `dirs` are; a `.rego` file among them is not loaded.
    pub data: Vec<PathBuf>,
    /// Packages whose rules run (conftest's `--namespace`).
    pub namespaces: Vec<String>,
    /// Every package's rules run (conftest's `--all-namespaces`).
    pub all_namespaces: bool,
    /// Every package of `dirs` runs, as `namespaces` was not set beside `packs`: a
    /// repository that adds its own policies to the packs need not list their packages.
    /// Naming packages (`--namespace`) or other policies (`--policy`) ends it.
    pub every_own_package: bool,
    pub rego_version: RegoVersion,
    pub engine: RegoEngine,
    /// Waiver files (YAML or JSON lists).
    pub waivers: Vec<PathBuf>,
    /// Directories or files holding Gatekeeper ConstraintTemplates and constraints.
    pub gatekeeper: Vec<PathBuf>,
    /// Policies see the values of Secrets as they are, not placeholders (see
    /// [`crate::model::secrets::as_policies_see`]).
    pub reveal_secret_values: bool,
    /// How long every rule and constraint together may take for one object; past it the
    /// object's undecided packages and constraints are errors (see [`budget`]).
    pub object_budget: Duration,
}

impl Default for Settings {
    /// conftest's defaults: package `main`, no directories until configured.
    fn default() -> Self {
        Settings {
            packs: Vec::new(),
            dirs: Vec::new(),
            data_in_dirs: true,
            data: Vec::new(),
            namespaces: vec!["main".to_owned()],
            all_namespaces: false,
            every_own_package: false,
            rego_version: RegoVersion::default(),
            engine: RegoEngine::default(),
            waivers: Vec::new(),
            gatekeeper: Vec::new(),
            reveal_secret_values: false,
            object_budget: DEFAULT_OBJECT_BUDGET,
        }
    }
}

impl Settings {
    /// Files below the policy directories that are not policy data: waivers and Gatekeeper
    /// objects have their own readers.
    pub fn is_excluded(&self, path: &Path) -> bool {
        self.waivers.iter().any(|w| w == path)
            || self.gatekeeper.iter().any(|g| path.starts_with(g))
    }

    /// Nothing to evaluate at all: no built-in pack, no directories and no Gatekeeper
    /// objects.
    pub fn is_empty(&self) -> bool {
        self.packs.is_empty() && self.dirs.is_empty() && self.gatekeeper.is_empty()
    }
}

/// What policies know about the cluster they judge (`data.policyrun.cluster`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterContext {
    pub name: String,
    /// The cluster's `[cluster.policy]` table from policyrun.toml.
    pub policy: serde_json::Value,
    /// Names of the Namespace objects in the cluster's tree.
    pub namespaces: BTreeSet<String>,
}

impl ClusterContext {
    fn to_data(&self) -> serde_json::Value {
        serde_json::json!({
            "policyrun": {
                "cluster": {
                    "name": self.name,
                    "policy": if self.policy.is_null() { serde_json::json!({}) } else { self.policy.clone() },
                    "namespaces": self.namespaces,
                }
            }
        })
    }
}

/// The Namespace names among `targets`, per cluster.
pub fn namespaces_by_cluster(targets: &[Target]) -> HashMap<Option<String>, BTreeSet<String>> {
    let mut found: HashMap<Option<String>, BTreeSet<String>> = HashMap::new();
    for target in targets {
        if target.id.kind == "Namespace" && target.id.api_version == "v1" {
            found
                .entry(target.cluster.map(str::to_owned))
                .or_default()
                .insert(target.id.name.clone());
        }
    }
    found
}

/// The policy stage, ready to evaluate: the loaded policies, waivers and Gatekeeper
/// constraints. Building it reads every file; problems become outcomes, and then no object
/// is evaluated (a gate with broken policies must not look as if it passed).
pub struct PolicyStage {
    loaded: Option<Loaded>,
    engine: RegoEngine,
    object_budget: Duration,
    waivers: Waivers,
    gatekeeper: gatekeeper::Constraints,
    problems: Vec<Outcome>,
    reveal_secret_values: bool,
    /// The selected rules and what each can read, for sharing evaluations (see [`share`]).
    units: Option<share::Units>,
    sharing: bool,
    /// Rule evaluations (whole objects on the virtual machine) taken from another object.
    shared: AtomicUsize,
}

/// What the policy stage judges, and what it learns the clusters from.
pub struct Input<'a, 'm> {
    /// Every expanded object: those `share` owns are judged, all are Gatekeeper's
    /// inventory.
    pub targets: &'a [Target<'a>],
    /// Documents that are not Kubernetes objects, judged by the Rego rules alone
    /// (`policyrun test`), with the context of plain manifests (cluster `None`).
    pub documents: &'a [Document<'a>],
    /// Each cluster's context: its `[cluster.policy]` table and its Namespaces.
    pub contexts: &'a HashMap<Option<String>, ClusterContext>,
    /// A kind's scope in a cluster, if known.
    pub namespaced: &'a (dyn Fn(Option<&str>, &ObjectId) -> Option<bool> + Sync),
    pub share: &'a RunShare<'a>,
    /// The verdicts of earlier runs, opened while the entries expanded (or why it could
    /// not be); `None` without a cache.
    pub memory: Option<Result<VerdictMemory<'m>, String>>,
    /// Every object of the tree is among the targets and evaluated: only then may the
    /// memory forget the verdicts of objects it did not see.
    pub every_object: bool,
}

impl PolicyStage {
    pub fn new(root: &Path, settings: &Settings) -> PolicyStage {
        let mut problems = Vec::new();
        let loaded = if settings.dirs.is_empty() && settings.packs.is_empty() {
            None
        } else {
            match load::load(root, settings, load::Purpose::Judge) {
                Ok(loaded) => Some(loaded),
                Err(found) => {
                    problems.extend(found.into_iter().map(load_outcome));
                    None
                }
            }
        };
        let waivers = Waivers::read(root, &settings.waivers).unwrap_or_else(|found| {
            problems.extend(found);
            Waivers::default()
        });
        let gatekeeper =
            gatekeeper::Constraints::read(root, &settings.gatekeeper).unwrap_or_else(|found| {
                problems.extend(found);
                gatekeeper::Constraints::default()
            });
        let units = loaded.as_ref().map(|l| {
            let mut engine = l.engine.clone();
            share::Units::of(&mut engine, &l.packages)
        });
        PolicyStage {
            units,
            sharing: true,
            shared: AtomicUsize::new(0),
            loaded,
            engine: settings.engine,
            object_budget: settings.object_budget,
            waivers,
            gatekeeper,
            problems,
            reveal_secret_values: settings.reveal_secret_values,
        }
    }

    /// The Rego rules' outcomes for documents that are not Kubernetes objects: the same
    /// evaluation as an object's, with no `data.policyrun.object`, no waiver and no
    /// Gatekeeper constraint (they select objects by kind and name). A Secret inside a
    /// document (the combined input holds every file) is hidden as in an object.
    fn judge_documents(&self, documents: &[Document], prepared: Option<&Prepared>) -> Vec<Outcome> {
        let (Some(loaded), Some(prepared)) = (&self.loaded, prepared) else {
            // Only Gatekeeper constraints: nothing would judge the documents, and a gate
            // that judged nothing must not pass.
            return documents
                .iter()
                .map(|document| {
                    let mut outcome = Outcome::new(Stage::Policy, LOAD, Status::Error)
                        .subject(document.subject.clone())
                        .message("no Rego policies to judge a document that is not a Kubernetes object (Gatekeeper constraints judge Kubernetes objects only)");
                    outcome.entry = document.file.map(Path::to_path_buf);
                    outcome.location = document.location.clone();
                    outcome
                })
                .collect();
        };
        let evaluated: Vec<Vec<Outcome>> = documents
            .par_iter()
            .map_init(Workers::default, |workers, document| {
                // Reports name a document by its file and index; the identity rules need
                // is never shown (the outcomes carry no object).
                let id = ObjectId {
                    cluster: String::new(),
                    entry: document.file.map(Path::to_path_buf).unwrap_or_default(),
                    item: None,
                    api_version: String::new(),
                    kind: String::new(),
                    namespace: None,
                    name: String::new(),
                };
                let seen = ObjectValue::parsed(
                    secrets::as_policies_see(document.value, self.reveal_secret_values)
                        .into_owned(),
                );
                let target = Target {
                    subject: document.subject.clone(),
                    cluster: None,
                    entry: document.file,
                    id: &id,
                    value: &seen,
                    location: document
                        .location
                        .clone()
                        .unwrap_or_else(|| Location::file("")),
                    source: None,
                    content: None,
                };
                let budget = ObjectBudget::start(self.object_budget);
                let mut found =
                    rego_results(loaded, prepared, workers, &target, None, None, &budget);
                for outcome in &mut found {
                    outcome.object = None;
                    outcome.location = document.location.clone();
                }
                redact::hide_values(&secrets::value_strings(document.value), &mut found);
                found
            })
            .collect();
        evaluated.into_iter().flatten().collect()
    }

    /// Evaluates every rule for every object, even where a rule's leading kind test rules
    /// the object out (see [`kinds`]): the benchmark's baseline for what skipping saves.
    #[doc(hidden)]
    pub fn without_kind_skipping(mut self) -> PolicyStage {
        for package in self.loaded.iter_mut().flat_map(|l| l.packages.iter_mut()) {
            for rule in &mut package.rules {
                rule.kinds = kinds::Kinds::Any;
            }
        }
        self
    }

    /// Evaluates every object on its own, even where objects of the same content could share
    /// an evaluation (see [`share`]): what the reports must equal, for tests and benchmarks.
    pub fn without_sharing(mut self) -> PolicyStage {
        self.sharing = false;
        self
    }

    /// Rule evaluations (whole objects on the virtual machine) that objects took from
    /// another object of the same content and inputs in the runs so far.
    pub fn shared(&self) -> usize {
        self.shared.load(Ordering::Relaxed)
    }

    /// The memory of these policies' verdicts in `cache` (`None` without policies to
    /// evaluate; `Err` says why they are not remembered).
    pub fn memory<'c>(&self, cache: &'c Store) -> Option<Result<VerdictMemory<'c>, String>> {
        let loaded = self.loaded.as_ref().filter(|l| !l.packages.is_empty())?;
        self.problems.is_empty().then(|| {
            VerdictMemory::open(
                cache,
                loaded,
                self.engine,
                self.reveal_secret_values,
                self.object_budget,
            )
        })
    }

    /// The data files' document, as every cluster's data starts (`None` when nothing
    /// loaded): with [`policyrun_document`], what another engine needs to judge an object
    /// as this stage does (the OPA reference test).
    pub fn data_files(&self) -> Option<serde_json::Value> {
        let loaded = self.loaded.as_ref()?;
        serde_json::to_value(loaded.engine.get_data()).ok()
    }

    /// The packages whose rules run (empty when nothing loaded).
    pub fn packages(&self) -> &[Package] {
        self.loaded.as_ref().map_or(&[], |l| l.packages.as_slice())
    }

    /// The stage: every target `input.share` owns judged by the loaded packages (or
    /// recalled from the memory of earlier runs), and the documents by the Rego rules; the
    /// memory saved, and the numbers of what was recalled and shared. Every target is
    /// Gatekeeper's inventory, whether owned or not.
    pub fn run(&self, input: Input) -> StageReport {
        let mut notes = Vec::new();
        let memory = match input.memory {
            Some(Ok(memory)) => Some(memory),
            Some(Err(reason)) => {
                notes.push(format!("cache: {reason}"));
                None
            }
            None => None,
        };
        let (mut outcomes, session) = self.start(
            input.contexts,
            input.namespaced,
            Date::today(),
            input.share,
            memory.as_ref(),
        );
        if let Some(mut session) = session {
            outcomes.extend(session.judge(input.targets, input.documents));
            outcomes.extend(session.finish());
        }
        let mut stats = Stats {
            policy_shared: self.shared(),
            ..Stats::default()
        };
        if let Some(memory) = memory {
            stats.policy_recalled = memory.recalled();
            if let Err(problem) = memory.save(input.every_object) {
                notes.push(format!("cache: {problem}"));
            }
        }
        StageReport {
            outcomes,
            notes,
            stats,
        }
    }
}

/// The share of a policy run that is evaluated and reported (`--shard`): every target
/// is still context, but only those it `owns` are reported, and one part (`run_wide`)
/// reports the waiver files' own verdicts, which need every object's results.
pub struct RunShare<'a> {
    pub owns: &'a (dyn Fn(&Target) -> bool + Sync),
    pub run_wide: bool,
    /// Every object of the tree is among the targets, so a file waiver that waived nothing
    /// is known to waive nothing (not so when `--changed-since` left entries out).
    pub usage_known: bool,
}

impl RunShare<'static> {
    /// The whole run.
    pub fn whole() -> RunShare<'static> {
        RunShare {
            owns: &|_| true,
            run_wide: true,
            usage_known: true,
        }
    }
}

/// The verdict memory as one run consults it, with the digest of each cluster's context.
struct Recall<'m> {
    memory: &'m VerdictMemory<'m>,
    clusters: HashMap<Option<String>, Digest>,
}

/// One outcome per rule of every selected package for one document of `policyrun test`
/// that is not a Kubernetes object (`context` is `None` then): remembered from an earlier
/// run with the same inputs, or evaluated (and then remembered). Kubernetes objects go
/// through [`share::rego_outcomes`], which evaluates what objects have in common once.
fn rego_results(
    loaded: &Loaded,
    prepared: &Prepared,
    workers: &mut Workers,
    target: &Target,
    context: Option<&ObjectContext>,
    recall: Option<&Recall>,
    budget: &ObjectBudget,
) -> Vec<Outcome> {
    let key = target.cluster.map(str::to_owned);
    // An object of a cluster without a context is an error below, never remembered.
    let memory_key = recall.zip(context).and_then(|(r, context)| {
        let cluster = r.clusters.get(&key)?;
        Some((
            r.memory,
            r.memory.key(cluster, context, &target.content_digest()),
        ))
    });
    if let Some((memory, memory_key)) = memory_key
        && let Some(verdicts) = memory.recall(&memory_key, &loaded.packages)
    {
        return verdict_outcomes(loaded, target, verdicts, &Printed::new());
    }
    let no_context = || {
        vec![policy_outcome(target, LOAD, Status::Error).message(format!(
            "no policy context for cluster `{}`",
            target.cluster.unwrap_or_default()
        ))]
    };
    // regorus' virtual machine has no `print` (policies that call it run on the interpreter).
    let mut printed = Printed::new();
    let verdicts = match prepared {
        Prepared::Vm { program, data } => {
            let Some(data) = data.get(&key) else {
                return no_context();
            };
            let vm = workers.vm.get_or_insert_with(|| new_vm(program));
            evaluate_vm(vm, &loaded.packages, data, target.value(), context, budget)
        }
        Prepared::Interpreter { engines } => {
            let engine = match workers.rego.entry(key) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => match engines.get(e.key()) {
                    Some(prepared) => e.insert(prepared.clone()),
                    None => return no_context(),
                },
            };
            evaluate(
                engine,
                &loaded.packages,
                target.value(),
                context,
                &mut printed,
                budget,
            )
        }
    };
    if let Some((memory, memory_key)) = memory_key {
        memory.remember(memory_key, &verdicts);
    }
    verdict_outcomes(loaded, target, verdicts, &printed)
}

/// A virtual machine for `program`, for one worker.
fn new_vm(program: &Arc<Program>) -> RegoVM {
    let mut vm = RegoVM::new();
    vm.load_program(program.clone());
    // Not strict: regorus' virtual machine, strict, refuses to compare values of different
    // types (`"a" > 1`, which OPA orders) and finds `null` no true condition (OPA: it is);
    // an error inside a rule body is "does not hold" either way (see `RegoEngine::Vm`).
    vm.set_strict_builtin_errors(false);
    // Suspends on the calls of OPA's builtins, which `run_vm` answers.
    vm.set_execution_mode(regorus::rvm::vm::ExecutionMode::Suspendable);
    // The object's time budget bounds the VM, as it does the interpreter. The default cap
    // of 25,000 instructions cut our own packs on a Deployment of 50 containers (an error
    // the interpreter does not have) without naming a setting.
    vm.set_max_instructions(usize::MAX);
    vm
}

/// The outcomes of one object's verdicts: one per rule of every package.
fn verdict_outcomes(
    loaded: &Loaded,
    target: &Target,
    verdicts: Vec<PackageVerdicts>,
    printed: &Printed,
) -> Vec<Outcome> {
    let id = Arc::new(target.id.clone());
    let mut outcomes = Vec::new();
    // The rules that passed with nothing to say: counted in one outcome.
    let mut passed = Vec::new();
    for (package, verdict) in loaded.packages.iter().zip(verdicts) {
        let rules = match verdict {
            PackageVerdicts::Failed(text) => {
                outcomes.push(evaluation_error(loaded, package, None, target, &text));
                continue;
            }
            PackageVerdicts::OverBudget(message) => {
                outcomes.push(
                    policy_outcome_of(target, &id, &package.name, Status::Error).message(message),
                );
                continue;
            }
            PackageVerdicts::Rules(rules) => rules,
        };
        for (i, (rule, (verdict, excepted))) in package.rules.iter().zip(rules).enumerate() {
            // What the package's `exception` rule printed goes with its first rule.
            let exception = package.exception_path.as_ref().filter(|_| i == 0);
            let prints: Vec<&String> = exception
                .into_iter()
                .chain([&rule.path])
                .filter_map(|path| printed.get(path))
                .flatten()
                .collect();
            if prints.is_empty() && matches!(verdict, Ok(RuleResult::Clean)) {
                passed.push(rule.check.clone());
                continue;
            }
            let base = policy_outcome_of(target, &id, &rule.check, Status::Passed);
            let outcome = match verdict {
                Err(problem) if problem.contains("\n-->") => {
                    evaluation_error(loaded, package, Some(rule), target, &problem)
                }
                Err(problem) => Outcome {
                    status: Status::Error,
                    ..base
                }
                .message(problem)
                .detail(rule_place(rule)),
                Ok(RuleResult::Clean) => base,
                Ok(RuleResult::Messages(messages)) if excepted => Outcome {
                    status: Status::Skipped,
                    ..base
                }
                .messages(messages)
                .message(format!(
                    "excepted by an `exception` rule in package {}",
                    package.name
                )),
                Ok(RuleResult::Messages(messages)) => Outcome {
                    status: match rule.kind {
                        RuleKind::Deny => Status::Failed,
                        RuleKind::Warn => Status::Warning,
                    },
                    ..base
                }
                .messages(messages)
                .detail(rule_place(rule)),
            };
            outcomes.push(with_prints(outcome, &prints));
        }
    }
    if !passed.is_empty() {
        let subject = about_object(target, &id, "", Status::Passed, target.subject.clone());
        outcomes.push(Outcome::passes(subject, passed));
    }
    outcomes
}

/// What `print` wrote while rules were evaluated for one object, by rule path. It is kept
/// with the rule's result (never written to the terminal by the engine) so that it goes
/// through the redaction of Secret values like every message.
type Printed = HashMap<String, Vec<String>>;

/// At most this many lines of print output are kept per result: a `print` in a loop must
/// not drown the report.
const MAX_PRINT_LINES: usize = 50;

/// `outcome` with the print output of its rule (each line `print: <file>:<line>: <text>`)
/// after its detail.
pub(crate) fn with_prints(mut outcome: Outcome, prints: &[&String]) -> Outcome {
    if prints.is_empty() {
        return outcome;
    }
    let mut text = outcome.detail.take().unwrap_or_default();
    for line in prints.iter().take(MAX_PRINT_LINES) {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str("print: ");
        text.push_str(line);
    }
    if prints.len() > MAX_PRINT_LINES {
        text.push_str(&format!(
            "\nprint: {} more lines not shown",
            prints.len() - MAX_PRINT_LINES
        ));
    }
    outcome.detail = Some(text);
    outcome
}

/// What one rayon worker keeps between objects: its own virtual machine or engine clones.
#[derive(Default)]
struct Workers {
    vm: Option<RegoVM>,
    rego: HashMap<Option<String>, Engine>,
}

/// One outcome of the policy stage about one object.
pub fn policy_outcome(target: &Target, check: &str, status: Status) -> Outcome {
    policy_outcome_of(target, &Arc::new(target.id.clone()), check, status)
}

/// [`policy_outcome`] with the object's identity already shared, for the many rules about
/// the same object.
fn policy_outcome_of(target: &Target, id: &Arc<ObjectId>, check: &str, status: Status) -> Outcome {
    about_object(
        target,
        id,
        check,
        status,
        format!("{} {}", target.subject, check),
    )
}

/// An outcome of the policy stage about `target`, named `subject`.
fn about_object(
    target: &Target,
    id: &Arc<ObjectId>,
    check: &str,
    status: Status,
    subject: String,
) -> Outcome {
    let mut outcome = Outcome::new(Stage::Policy, check, status)
        .subject(subject)
        .object(id.clone())
        .location(target.location.clone());
    outcome.cluster = target.cluster.map(str::to_owned);
    outcome.entry = target.entry.map(Path::to_path_buf);
    outcome
}

fn rule_place(rule: &RuleDecl) -> String {
    format!(
        "rule {} at {}:{}",
        rule.name,
        rule.file.display(),
        rule.line
    )
}

/// `data.policyrun` exactly as the stage hands it to regorus for `target` in `cluster`
/// (`namespaced` as [`PolicyStage::run`]'s callback tells it): for checking verdicts with
/// another engine.
pub fn policyrun_document(
    cluster: &ClusterContext,
    target: &Target,
    namespaced: Option<bool>,
) -> Result<serde_json::Value, String> {
    let mut document = cluster.to_data()["policyrun"].take();
    let object = serde_json::to_value(ObjectContext::of(target, namespaced).to_value())
        .map_err(|e| e.to_string())?;
    document["object"] = object;
    Ok(document)
}

/// A problem with the policies, as an outcome that fails the run.
pub fn load_outcome(problem: Problem) -> Outcome {
    let location = Location {
        file: problem.file.clone(),
        line: problem.line,
        column: problem.column,
    };
    let mut outcome = Outcome::new(Stage::Policy, LOAD, Status::Error)
        .subject(location.to_string())
        .message(problem.message)
        .location(location);
    outcome.detail = problem.detail;
    outcome
}

/// An evaluation error for one object, naming the module, line and the rule around it. It is
/// the result of `evaluated` when one rule was evaluated, else of the package.
fn evaluation_error(
    loaded: &Loaded,
    package: &Package,
    evaluated: Option<&RuleDecl>,
    target: &Target,
    text: &str,
) -> Outcome {
    let (message, (line, column)) = load::engine_error(text);
    let file = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("--> "))
        .and_then(|place| place.rsplitn(3, ':').nth(2))
        .map(PathBuf::from);
    let rule = file.as_ref().and_then(|file| {
        loaded
            .modules
            .iter()
            .filter(|m| &m.file == file)
            .flat_map(|m| m.rules.iter())
            .filter(|(_, start)| *start <= line)
            .max_by_key(|(_, start)| *start)
            .map(|(name, _)| name.clone())
    });
    let check = match (evaluated, &rule) {
        (Some(evaluated), _) => evaluated.check.to_string(),
        (None, Some(rule)) if package.rules.iter().any(|r| &r.name == rule) => {
            format!("{}.{rule}", package.name)
        }
        _ => package.name.clone(),
    };
    let place = match &file {
        Some(file) => format!("{}:{line}:{column}", file.display()),
        None => "policy".to_owned(),
    };
    policy_outcome(target, &check, Status::Error)
        .message(format!(
            "evaluation failed in {place}{}: {message}",
            rule.map(|r| format!(" (rule {r})")).unwrap_or_default()
        ))
        .detail(text.trim_matches('\n').to_owned())
}

/// The policies ready for the parallel part.
enum Prepared {
    /// One program for regorus' virtual machine, and per cluster the data document (data
    /// files and the cluster's context) each object's context is added to.
    Vm {
        program: Arc<Program>,
        data: HashMap<Option<String>, Value>,
    },
    /// Per cluster, an interpreter with the cluster's context added, prepared by one
    /// evaluation so that worker clones do not each analyse the modules again.
    Interpreter {
        engines: HashMap<Option<String>, Engine>,
    },
}

/// Compiles the policies for the virtual machine (or prepares interpreters). A module the
/// compiler does not support falls back to the interpreter, with a warning that says so.
fn prepare(
    loaded: &Loaded,
    clusters: &HashMap<Option<String>, ClusterContext>,
    choice: RegoEngine,
    object_budget: Duration,
) -> Result<(Prepared, Option<Outcome>), Problem> {
    // A copy of `base` that knows the cluster it judges (`data.policyrun.cluster`).
    let with_context = |base: &Engine, context: &ClusterContext| -> Result<Engine, Problem> {
        let mut engine = base.clone();
        engine
            .add_data(Value::from(context.to_data()))
            .map_err(|e| Problem {
                file: PathBuf::from("policyrun.toml"),
                line: None,
                column: None,
                message: format!(
                    "cannot add the context of cluster `{}` to data (does a data file already define `policyrun`?): {e}",
                    context.name
                ),
                detail: None,
            })?;
        Ok(engine)
    };
    let mut note = None;
    if choice == RegoEngine::Vm {
        match compile(loaded) {
            Ok(program) => {
                let mut data = HashMap::new();
                for (key, context) in clusters {
                    data.insert(
                        key.clone(),
                        with_context(&loaded.engine, context)?.get_data(),
                    );
                }
                return Ok((Prepared::Vm { program, data }, None));
            }
            Err(e) => {
                let (message, _) = load::engine_error(&e);
                note = Some(
                    Outcome::new(Stage::Policy, LOAD, Status::Warning)
                        .subject("policies")
                        .message(format!(
                            "regorus' compiler does not support these policies ({message}); they run on the slower interpreter"
                        ))
                        .detail(e),
                );
            }
        }
    }
    let mut base = loaded.engine.clone();
    // Print output is gathered per rule, never written by the engine (see `Printed`).
    base.set_gather_prints(true);
    add_object_context(&mut base).map_err(|e| Problem {
        file: PathBuf::from("policyrun-context.rego"),
        line: None,
        column: None,
        message: format!("cannot provide data.policyrun.object: {e}"),
        detail: None,
    })?;
    let mut engines = HashMap::new();
    for (key, context) in clusters {
        let mut engine = with_context(&base, context)?;
        engine.set_input(Value::new_object());
        // The warm-up may run away as an object's evaluation can.
        engine.set_execution_timer_config(budget::timer(object_budget));
        if let Some(rule) = loaded.packages.first().and_then(|p| p.rules.first()) {
            // Errors here are about this empty input only; real objects report their own.
            let _ = engine.eval_rule(rule.path.clone());
            let _ = engine.take_prints();
        }
        engines.insert(key.clone(), engine);
    }
    Ok((Prepared::Interpreter { engines }, note))
}

/// The package of the generated module that gathers every rule's value.
const GATHER_PACKAGE: &str = "__policyrun_gather__";

/// One program with one entry point: a generated rule that gathers the value of every rule
/// (and `exception` rule) as an `[index, value]` pair, so that one execution per object
/// evaluates them all and shared helper rules are computed once. An undefined rule adds no
/// pair.
fn compile(loaded: &Loaded) -> Result<Arc<Program>, String> {
    let entry_point = format!("data.{GATHER_PACKAGE}.results");
    let mut engine = with_gather_module(loaded)?;
    // What the virtual machine would evaluate otherwise than OPA runs on the interpreter.
    if let Some(why) = opa::vm::unsupported(&mut engine) {
        return Err(why);
    }
    let policy = engine
        .compile_with_entrypoint(&regorus::Rc::from(entry_point.as_str()))
        .map_err(|e| e.to_string())?;
    // OPA's builtins where regorus' differ are host calls, answered by `run_vm`.
    Compiler::compile_from_policy_with_host_await(
        &policy,
        &[entry_point.as_str()],
        opa::OPA_BUILTINS,
    )
    .map_err(|e| e.to_string())
}

/// Runs the virtual machine to its end, answering its calls of OPA's builtins
/// ([`opa::host_call`]) as it suspends on them.
fn run_vm(vm: &mut RegoVM) -> Result<Value, regorus::rvm::vm::VmError> {
    let mut result = vm.execute();
    while result.is_ok() {
        let Some(argument) = vm.get_host_await_argument().cloned() else {
            break;
        };
        let answer = opa::host_call(vm.get_host_await_identifier(), &argument);
        result = vm.resume(Some(answer));
    }
    result
}

/// A copy of the loaded engine with the gathering module added. Every rule is read by its
/// full path: regorus evaluates a whole package wrongly when it spans several files (a
/// rule that uses a helper from another file of the package comes back empty), while a
/// rule's own path is evaluated correctly.
fn with_gather_module(loaded: &Loaded) -> Result<Engine, String> {
    let mut module = format!("package {GATHER_PACKAGE}\nimport rego.v1\n");
    for (index, path) in gathered_paths(&loaded.packages).enumerate() {
        module.push_str(&format!(
            "results contains [{index}, value] if {{\n  value := {path}\n}}\n"
        ));
    }
    let mut engine = loaded.vm_engine.as_ref().unwrap_or(&loaded.engine).clone();
    engine.set_rego_v0(false);
    engine
        .add_policy(format!("{GATHER_PACKAGE}.rego"), module)
        .map_err(|e| e.to_string())?;
    Ok(engine)
}

/// The rules the gathering module reads, in index order: per package its `exception` rule
/// (if any), then its rules.
fn gathered_paths(packages: &[Package]) -> impl Iterator<Item = &str> {
    packages.iter().flat_map(|p| {
        p.exception_path
            .as_deref()
            .into_iter()
            .chain(p.rules.iter().map(|r| r.path.as_str()))
    })
}

/// Evaluates every rule of every package for one object on the virtual machine. The
/// object's context joins the cluster's data document (copy-on-write: only the top
/// levels are copied).
fn evaluate_vm(
    vm: &mut RegoVM,
    packages: &[Package],
    cluster_data: &Value,
    object: &serde_json::Value,
    context: Option<&ObjectContext>,
    budget: &ObjectBudget,
) -> Vec<PackageVerdicts> {
    let fail_all = |text: String| {
        packages
            .iter()
            .map(|_| PackageVerdicts::Failed(text.clone()))
            .collect()
    };
    let over_budget = || {
        packages
            .iter()
            .map(|p| PackageVerdicts::OverBudget(budget.message(&format!("package `{}`", p.name))))
            .collect()
    };
    let input = match Value::deserialize(object) {
        Ok(input) => input,
        Err(e) => return fail_all(format!("cannot pass the object to Rego: {e}")),
    };
    let mut data = cluster_data.clone();
    // A document that is no Kubernetes object has no object context.
    let added = match context {
        None => Ok(None),
        Some(context) => match data.as_object_mut() {
            Ok(root) => match root.get_mut(&Value::from("policyrun")) {
                Some(policyrun) => policyrun
                    .as_object_mut()
                    .map(|p| p.insert(Value::from("object"), context.to_value()))
                    .map_err(|e| e.to_string()),
                None => Err("no policyrun document".to_owned()),
            },
            Err(e) => Err(e.to_string()),
        },
    };
    if let Err(e) = added.and_then(|_| vm.set_data(data).map_err(|e| e.to_string())) {
        return fail_all(format!("cannot set the object's context: {e}"));
    }
    vm.set_input(input);
    let Some(timer) = budget.timer() else {
        return over_budget();
    };
    vm.set_execution_timer_config(Some(timer));
    match run_vm(vm) {
        Ok(gathered) => decode(packages, &gathered),
        Err(_) if budget.is_spent() => over_budget(),
        Err(e) => fail_all(e.to_string()),
    }
}

/// Every package's verdicts from the gathered `[index, value]` set.
fn decode(packages: &[Package], gathered: &Value) -> Vec<PackageVerdicts> {
    let fail_all = |text: String| {
        packages
            .iter()
            .map(|_| PackageVerdicts::Failed(text.clone()))
            .collect()
    };
    // The set holds [index, value] pairs; a rule left undefined has none.
    let mut by_index: Vec<Option<&Value>> = vec![None; gathered_paths(packages).count()];
    if let Ok(pairs) = gathered.as_set() {
        for pair in pairs.iter() {
            if let (Some(Ok(index)), Some(value)) = (
                pair.as_array()
                    .ok()
                    .and_then(|p| p.first())
                    .map(|i| i.as_u64()),
                pair.as_array().ok().and_then(|p| p.get(1)),
            ) && let Some(slot) = by_index.get_mut(index as usize)
            {
                *slot = Some(value);
            }
        }
    } else if *gathered != Value::Undefined {
        return fail_all("the gathered rule values are not a set".to_owned());
    }
    let mut index = 0usize;
    let mut next = || -> Result<Option<serde_json::Value>, String> {
        let value = by_index.get(index).copied().flatten();
        index += 1;
        match value {
            None => Ok(None),
            Some(value) => serde_json::to_value(value)
                .map(Some)
                .map_err(|e| e.to_string()),
        }
    };
    packages
        .iter()
        .map(|package| {
            let excepted = if package.exception_path.is_some() {
                match next().and_then(|v| results::exceptions(v.as_ref())) {
                    Ok(names) => names,
                    Err(text) => return PackageVerdicts::Failed(text),
                }
            } else {
                BTreeSet::new()
            };
            let mut rules = Vec::with_capacity(package.rules.len());
            let mut failed = None;
            for rule in &package.rules {
                match next() {
                    Ok(value) => rules.push((
                        results::verdict(&rule.name, value.as_ref()),
                        excepted.contains(rule.exception_name()),
                    )),
                    Err(text) => failed = Some(text),
                }
            }
            match failed {
                Some(text) => PackageVerdicts::Failed(text),
                None => PackageVerdicts::Rules(rules),
            }
        })
        .collect()
}

/// What policies know about the object they judge (`data.policyrun.object`).
struct ObjectContext<'a> {
    entry: Option<&'a Path>,
    generated: &'a Path,
    namespaced: Option<bool>,
}

impl ObjectContext<'_> {
    fn of<'t>(target: &'t Target, namespaced: Option<bool>) -> ObjectContext<'t> {
        ObjectContext {
            entry: target.entry,
            generated: &target.location.file,
            namespaced,
        }
    }

    fn to_value(&self) -> Value {
        let mut object = BTreeMap::new();
        if let Some(entry) = self.entry {
            object.insert(
                Value::from("entry"),
                Value::from(entry.to_string_lossy().as_ref()),
            );
        }
        object.insert(
            Value::from("generated"),
            Value::from(self.generated.to_string_lossy().as_ref()),
        );
        if let Some(namespaced) = self.namespaced {
            object.insert(Value::from("namespaced"), Value::from(namespaced));
        }
        Value::from(object)
    }
}

/// A package's result for one object: per rule, the verdict and whether an `exception`
/// rule excepts it; or the engine's error text.
#[derive(Clone)]
enum PackageVerdicts {
    Rules(Vec<(Result<RuleResult, String>, bool)>),
    Failed(String),
    /// The object's policy budget ran out before the package was decided: never remembered.
    OverBudget(String),
}

/// Evaluates every rule of every package for one object on the interpreter, rule by rule
/// (regorus evaluates a single rule's path faster than a query, and correctly where a
/// package spans several files). The object's context reaches `data.policyrun.object`
/// through [`OBJECT_CONTEXT`], so the prepared engine never changes.
fn evaluate(
    engine: &mut Engine,
    packages: &[Package],
    object: &serde_json::Value,
    context: Option<&ObjectContext>,
    printed: &mut Printed,
    budget: &ObjectBudget,
) -> Vec<PackageVerdicts> {
    let input = match Value::deserialize(object) {
        Ok(input) => input,
        Err(e) => {
            let text = format!("cannot pass the object to Rego: {e}");
            return packages
                .iter()
                .map(|_| PackageVerdicts::Failed(text.clone()))
                .collect();
        }
    };
    let kind = object.get("kind").and_then(serde_json::Value::as_str);
    OBJECT_CONTEXT.with(|slot| {
        *slot.borrow_mut() = context.map_or(Value::Undefined, ObjectContext::to_value)
    });
    engine.set_input(input);
    // `Err(None)`: the object's budget ran out before or during this rule.
    let mut value_of = |path: &str| -> Result<Option<serde_json::Value>, Option<String>> {
        // The interpreter restarts its timer for every rule: each gets what is left.
        engine.set_execution_timer_config(budget.timer().ok_or(None)?);
        let value = engine.eval_rule(path.to_owned());
        if let Ok(lines) = engine.take_prints()
            && !lines.is_empty()
        {
            printed.entry(path.to_owned()).or_default().extend(lines);
        }
        let value = value.map_err(|e| {
            let timed_out = e
                .downcast_ref::<regorus::LimitError>()
                .is_some_and(|l| matches!(l, regorus::LimitError::TimeLimitExceeded { .. }));
            (!timed_out && !budget.is_spent()).then(|| e.to_string())
        })?;
        if value == Value::Undefined {
            return Ok(None);
        }
        serde_json::to_value(&value)
            .map(Some)
            .map_err(|e| Some(e.to_string()))
    };
    let over_budget = |package: &Package| {
        PackageVerdicts::OverBudget(budget.message(&format!("package `{}`", package.name)))
    };
    let verdicts = packages
        .iter()
        .map(|package| {
            let excepted = match &package.exception_path {
                None => BTreeSet::new(),
                Some(path) => match value_of(path) {
                    Err(None) => return over_budget(package),
                    Err(Some(text)) => return PackageVerdicts::Failed(text),
                    Ok(value) => match results::exceptions(value.as_ref()) {
                        Ok(names) => names,
                        Err(text) => return PackageVerdicts::Failed(text),
                    },
                },
            };
            let mut rules = Vec::with_capacity(package.rules.len());
            for rule in &package.rules {
                let verdict = if rule.kinds.admits(kind) {
                    match value_of(&rule.path) {
                        Err(None) => return over_budget(package),
                        Err(Some(text)) => Err(text),
                        Ok(value) => results::verdict(&rule.name, value.as_ref()),
                    }
                } else {
                    // Every body fails at its leading kind test: undefined.
                    Ok(RuleResult::Clean)
                };
                rules.push((verdict, excepted.contains(rule.exception_name())));
            }
            PackageVerdicts::Rules(rules)
        })
        .collect();
    OBJECT_CONTEXT.with(|slot| *slot.borrow_mut() = Value::Undefined);
    verdicts
}

thread_local! {
    /// The context of the object a worker's interpreter is evaluating.
    static OBJECT_CONTEXT: std::cell::RefCell<Value> = const { std::cell::RefCell::new(Value::Undefined) };
}

/// The builtin behind `data.policyrun.object` on the interpreter.
pub(super) const OBJECT_CONTEXT_BUILTIN: &str = "__policyrun_object_context";

/// Makes `data.policyrun.object` a rule whose value is the current object's context, so that
/// tests can still replace it with `with data.policyrun.object as {...}`.
pub fn add_object_context(engine: &mut Engine) -> Result<(), String> {
    engine
        .add_extension(
            OBJECT_CONTEXT_BUILTIN.to_owned(),
            0,
            Box::new(|_: Vec<Value>| Ok(OBJECT_CONTEXT.with(|slot| slot.borrow().clone()))),
        )
        .map_err(|e| e.to_string())?;
    engine.set_rego_v0(false);
    engine
        .add_policy(
            "policyrun-context.rego".to_owned(),
            format!("package policyrun\nimport rego.v1\nobject := {OBJECT_CONTEXT_BUILTIN}()\n"),
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object_id() -> ObjectId {
        ObjectId {
            cluster: "dev".to_owned(),
            entry: PathBuf::from("clusters/dev/app.jsonnet"),
            item: Some("deploy".to_owned()),
            api_version: "apps/v1".to_owned(),
            kind: "Deployment".to_owned(),
            namespace: Some("apps".to_owned()),
            name: "app".to_owned(),
        }
    }

    #[test]
    fn policyrun_document_holds_the_cluster_and_the_objects_context() {
        let id = object_id();
        let value = ObjectValue::parsed(serde_json::json!({"kind": "Deployment"}));
        let target = Target {
            subject: id.display_name(),
            cluster: Some("dev"),
            entry: Some(&id.entry),
            id: &id,
            value: &value,
            location: Location::file("generated/dev/app/deploy.json"),
            source: None,
            content: None,
        };
        let cluster = ClusterContext {
            name: "dev".to_owned(),
            policy: serde_json::Value::Null,
            namespaces: BTreeSet::from(["apps".to_owned()]),
        };
        assert_eq!(
            policyrun_document(&cluster, &target, Some(true)).unwrap(),
            serde_json::json!({
                "cluster": {"name": "dev", "policy": {}, "namespaces": ["apps"]},
                "object": {
                    "entry": "clusters/dev/app.jsonnet",
                    "generated": "generated/dev/app/deploy.json",
                    "namespaced": true
                }
            })
        );
        // An unknown scope is left out, as regorus sees it: undefined, not null.
        let document = policyrun_document(&cluster, &target, None).unwrap();
        assert!(document["object"].get("namespaced").is_none(), "{document}");
    }

    /// The messages and print output of a rule that reports what it sees of a Secret.
    fn seen_of_a_secret(reveal_secret_values: bool, engine: RegoEngine) -> Vec<Outcome> {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(
            root.join("seen.rego"),
            "package main\nimport rego.v1\n\
             deny contains sprintf(\"saw %s\", [input.data.password]) if {\n\
             \tprint(\"decoded\", base64.decode(input.data.password))\n}\n",
        )
        .unwrap();
        let settings = Settings {
            dirs: vec![root.clone()],
            engine,
            reveal_secret_values,
            ..Settings::default()
        };
        let mut id = object_id();
        id.api_version = "v1".to_owned();
        id.kind = "Secret".to_owned();
        // "aHVudGVyMg==" is base64 for "hunter2".
        let value = ObjectValue::parsed(serde_json::json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db"}, "data": {"password": "aHVudGVyMg=="}}));
        let target = Target {
            subject: id.display_name(),
            cluster: None,
            entry: None,
            id: &id,
            value: &value,
            location: Location::file("db.json"),
            source: None,
            content: None,
        };
        let input = Input {
            targets: &[target],
            documents: &[],
            contexts: &HashMap::from([(None, ClusterContext::default())]),
            namespaced: &|_, _| Some(true),
            share: &RunShare::whole(),
            memory: None,
            every_object: true,
        };
        PolicyStage::new(&root, &settings).run(input).outcomes
    }

    #[test]
    fn policies_see_placeholders_and_print_output_is_kept_cleaned() {
        for engine in [RegoEngine::Interpreter, RegoEngine::Vm] {
            let outcomes = seen_of_a_secret(false, engine);
            let deny = outcomes.iter().find(|o| o.check == "main.deny").unwrap();
            assert_eq!(deny.message, "saw PGhpZGRlbj4=", "{outcomes:#?}");
            let detail = deny.detail.as_deref().unwrap();
            assert!(
                detail.ends_with("print: seen.rego:4: decoded <hidden>"),
                "{detail}"
            );

            let outcomes = seen_of_a_secret(true, engine);
            let deny = outcomes.iter().find(|o| o.check == "main.deny").unwrap();
            assert_eq!(deny.message, "saw <hidden>", "{outcomes:#?}");
            let detail = deny.detail.as_deref().unwrap();
            assert!(
                detail.ends_with("print: seen.rego:4: decoded <hidden>")
                    && !detail.contains("hunter2"),
                "{detail}"
            );
        }
    }

    #[test]
    fn print_output_follows_the_detail_and_is_bounded() {
        let lines: Vec<String> = (0..MAX_PRINT_LINES + 3)
            .map(|i| format!("p.rego:1: {i}"))
            .collect();
        let outcome = Outcome::new(Stage::Policy, "main.deny", Status::Passed).detail("rule deny");
        let outcome = with_prints(outcome, &lines.iter().collect::<Vec<_>>());
        let detail = outcome.detail.unwrap();
        let shown: Vec<&str> = detail.lines().collect();
        assert_eq!(shown[0], "rule deny");
        assert_eq!(shown[1], "print: p.rego:1: 0");
        assert_eq!(shown.len(), MAX_PRINT_LINES + 2);
        assert_eq!(shown[MAX_PRINT_LINES + 1], "print: 3 more lines not shown");
        let untouched = Outcome::new(Stage::Policy, "main.deny", Status::Passed);
        assert_eq!(with_prints(untouched, &[]).detail, None);
    }
}
