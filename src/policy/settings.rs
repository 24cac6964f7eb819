//! The policy stage's settings: which policies run, in which Rego syntax, on which part of
//! regorus, and within which time per object. The bottom of the stage: every part reads it,
//! it reads nothing of the stage.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

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
    /// The built-in packs that run (`[policy] packs`; see [`crate::policy::packs`]), besides `dirs`.
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
    /// object's undecided packages and constraints are errors (see [`crate::policy::evaluate::budget`]).
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
