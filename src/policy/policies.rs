//! The policy stage as it is built once: the policies loaded, the waivers and Gatekeeper
//! constraints read, and what the rules can read for sharing evaluations. Building it reads
//! every file; problems become outcomes, and then no object is evaluated.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rayon::prelude::*;

use super::context::Document;
use super::evaluate::budget::ObjectBudget;
use super::evaluate::{Prepared, Workers};
use super::gatekeeper;
use super::load::{self, Loaded, Package};
use super::outcomes::{LOAD, load_outcome};
use super::redact;
use super::rego::kinds;
use super::reuse::memory::{MemoryError, VerdictMemory};
use super::reuse::recall::rego_results;
use super::reuse::share;
use super::settings::{RegoEngine, Settings};
use super::waivers::Waivers;
use crate::model::object::Target;
use crate::model::outcome::{Location, ObjectId, Outcome, Stage, Status};
use crate::model::secrets;
use crate::model::value::ObjectValue;
use crate::store::Store;

/// The policy stage, ready to evaluate: the loaded policies, waivers and Gatekeeper
/// constraints. Building it reads every file; problems become outcomes, and then no object
/// is evaluated (a gate with broken policies must not look as if it passed).
pub struct PolicyStage {
    pub(super) loaded: Option<Loaded>,
    pub(super) engine: RegoEngine,
    pub(super) object_budget: Duration,
    pub(super) waivers: Waivers,
    pub(super) gatekeeper: gatekeeper::Constraints,
    pub(super) problems: Vec<Outcome>,
    pub(super) reveal_secret_values: bool,
    /// The selected rules and what each can read, for sharing evaluations (see [`share`]).
    pub(super) units: Option<share::Units>,
    pub(super) sharing: bool,
    /// Rule evaluations (whole objects on the virtual machine) taken from another object.
    pub(super) shared: AtomicUsize,
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
    pub(super) fn judge_documents(
        &self,
        documents: &[Document],
        prepared: Option<&Prepared>,
    ) -> Vec<Outcome> {
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
    pub fn memory<'c>(&self, cache: &'c Store) -> Option<Result<VerdictMemory<'c>, MemoryError>> {
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
    /// loaded): with [`crate::policy::policyrun_document`], what another engine needs to judge an object
    /// as this stage does (the OPA reference test).
    pub fn data_files(&self) -> Option<serde_json::Value> {
        let loaded = self.loaded.as_ref()?;
        serde_json::to_value(loaded.engine.get_data()).ok()
    }

    /// The packages whose rules run (empty when nothing loaded).
    pub fn packages(&self) -> &[Package] {
        self.loaded.as_ref().map_or(&[], |l| l.packages.as_slice())
    }
}
