//! One policy run whose objects come a part at a time: `policyrun test -` judges its
//! stream a batch at a time, so that no more than a batch of parsed documents is held.

use std::collections::HashMap;

use rayon::prelude::*;

use super::context::{ClusterContext, Document, RunShare};
use super::evaluate::budget::ObjectBudget;
use super::evaluate::{Prepared, prepare};
use super::outcomes::{load_outcome, policy_outcome};
use super::policies::PolicyStage;
use super::reuse::memory::VerdictMemory;
use super::reuse::recall::Recall;
use super::reuse::share;
use super::waivers::{self, Date};
use super::{gatekeeper, redact};
use crate::model::object::Target;
use crate::model::outcome::{ObjectId, Outcome, Status};
use crate::model::secrets;
use crate::model::supervision::{self, Work};
use crate::model::value::ObjectValue;
use std::sync::atomic::Ordering;

/// Whether a kind is namespaced in a cluster (`None` is the cluster of plain manifests).
pub(super) type Namespaced<'a> = &'a (dyn Fn(Option<&str>, &ObjectId) -> Option<bool> + Sync);

/// A policy run in progress: the policies prepared once for the clusters' contexts, each
/// part of the objects judged on its own ([`Session::judge`]), and the waiver files' own
/// verdicts, which need every object's results, said at the end ([`Session::finish`]).
///
/// Every part must be judged with the same contexts: the Namespaces a cluster creates are
/// known before its first part. Gatekeeper constraints see one part's objects as their
/// inventory, so a run with constraints is judged as one part
/// (see [`PolicyStage::judges_objects_together`]).
pub struct Session<'s> {
    stage: &'s PolicyStage,
    prepared: Option<Prepared>,
    clusters: &'s HashMap<Option<String>, ClusterContext>,
    namespaced: Namespaced<'s>,
    today: Date,
    part: &'s RunShare<'s>,
    recall: Option<Recall<'s>>,
    usage: waivers::Usage,
    /// A part could not be judged at all: the waivers' verdicts would say nothing true.
    broken: bool,
}

impl PolicyStage {
    /// Starts a run: the outcomes said once per run (load problems, notes), and the
    /// session that judges the objects, or `None` when none can be judged (the policies
    /// did not load or prepare; the outcomes say why).
    pub fn start<'s>(
        &'s self,
        clusters: &'s HashMap<Option<String>, ClusterContext>,
        namespaced: Namespaced<'s>,
        today: Date,
        part: &'s RunShare<'s>,
        memory: Option<&'s VerdictMemory<'s>>,
    ) -> (Vec<Outcome>, Option<Session<'s>>) {
        let mut outcomes = self.problems.clone();
        if !self.problems.is_empty() {
            return (outcomes, None);
        }
        // Said once per run, by the part that reports the run-wide results.
        if part.run_wide {
            outcomes.extend(
                self.loaded
                    .iter()
                    .flat_map(|l| &l.notes)
                    .map(|note| Outcome {
                        status: Status::Warning,
                        ..load_outcome(note.clone())
                    }),
            );
        }
        let prepared = match &self.loaded {
            Some(loaded) if !loaded.packages.is_empty() => {
                match prepare(loaded, clusters, self.engine, self.object_budget) {
                    Ok((prepared, note)) => {
                        outcomes.extend(note);
                        Some(prepared)
                    }
                    Err(problem) => {
                        outcomes.push(load_outcome(problem));
                        return (outcomes, None);
                    }
                }
            }
            _ => None,
        };
        let recall = memory.map(|memory| Recall {
            memory,
            clusters: clusters
                .iter()
                .map(|(name, context)| (name.clone(), VerdictMemory::cluster_digest(context)))
                .collect(),
        });
        let session = Session {
            stage: self,
            prepared,
            clusters,
            namespaced,
            today,
            part,
            recall,
            usage: waivers::Usage::new(&self.waivers),
            broken: false,
        };
        (outcomes, Some(session))
    }

    /// Whether every object of a run must be judged in one part: Gatekeeper constraints
    /// read every object of the cluster (`data.inventory`).
    pub fn judges_objects_together(&self) -> bool {
        !self.gatekeeper.is_empty()
    }
}

impl Session<'_> {
    /// Evaluates the targets the run's part owns, and the Rego rules on `documents` that
    /// are not Kubernetes objects (`policyrun test`). Every target is Gatekeeper's
    /// inventory, whether owned or not.
    pub fn judge(&mut self, targets: &[Target], documents: &[Document]) -> Vec<Outcome> {
        let stage = self.stage;
        let part = self.part;
        let today = self.today;
        let namespaced = self.namespaced;
        let mut outcomes = Vec::new();
        // Whether each object holds a Secret, found in one walk of its value: most hold
        // none, and then there is nothing to mask or to hide from what is said about them
        // (two more walks of every value were a third of a warm run's policy stage).
        let holds_secret: Vec<bool> = targets.par_iter().map(Target::holds_secret).collect();
        // What the policies judge: the objects with their Secrets' values masked (unless
        // revealed), for the Rego rules, the Gatekeeper reviews and inventories alike; the
        // objects as they are only tell redaction what to hide.
        // An object without a Secret is seen as it is: its value is not built here, only
        // where a verdict is not recalled.
        let masked: Vec<Option<ObjectValue>> = targets
            .par_iter()
            .zip(&holds_secret)
            .map(|(t, holds)| {
                holds.then(|| {
                    let seen = secrets::as_policies_see(t.value(), stage.reveal_secret_values);
                    ObjectValue::parsed(seen.into_owned())
                })
            })
            .collect();
        let judged: Vec<Target> = targets
            .iter()
            .zip(&masked)
            .map(|(target, masked)| Target {
                subject: target.subject.clone(),
                cluster: target.cluster,
                entry: target.entry,
                id: target.id,
                value: masked.as_ref().unwrap_or(target.value),
                location: target.location.clone(),
                source: target.source,
                // The content as read names what the policies see too: masking is a
                // function of it and of `reveal_secret_values`, which the memory's salt
                // names.
                content: target.content,
            })
            .collect();
        // Gatekeeper templates read every object of the cluster (`data.inventory`): where
        // they see the values, what they say is cleaned of every Secret's in the cluster.
        let mut cluster_secrets: HashMap<Option<&str>, Vec<String>> = HashMap::new();
        if stage.reveal_secret_values && !stage.gatekeeper.is_empty() {
            for target in targets {
                cluster_secrets
                    .entry(target.cluster)
                    .or_default()
                    .extend(secrets::value_strings(target.value()));
            }
            for values in cluster_secrets.values_mut() {
                // Longest first, as `value_strings` gives them; equal ones next to each other.
                values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
                values.dedup();
            }
        }
        let constraints = match stage
            .gatekeeper
            .prepare(&judged, namespaced, stage.object_budget)
        {
            Ok(prepared) => prepared,
            Err(problems) => {
                self.broken = true;
                outcomes.extend(problems);
                return outcomes;
            }
        };
        // Another part's object is evaluated only to learn whether it uses a file waiver,
        // by the part that reports the waivers.
        let wanted: Vec<bool> = targets
            .par_iter()
            .map(|t| (part.owns)(t) || (part.run_wide && stage.waivers.may_cover(t)))
            .collect();
        let rego = match (&stage.loaded, &self.prepared, &stage.units) {
            (Some(loaded), Some(prepared), Some(units)) => {
                let round = share::Round {
                    loaded,
                    prepared,
                    units,
                    budget_limit: stage.object_budget,
                    targets: &judged,
                    clusters: self.clusters,
                    recall: self.recall.as_ref(),
                };
                let (rego, shared) = round.judge(&wanted, namespaced, stage.sharing);
                stage.shared.fetch_add(shared, Ordering::Relaxed);
                rego
            }
            _ => targets.iter().map(|_| None).collect(),
        };
        let evaluated: Vec<(Vec<Outcome>, Vec<usize>)> = targets
            .par_iter()
            .zip(judged.par_iter())
            .zip(rego.into_par_iter())
            .zip(wanted.par_iter().zip(holds_secret.par_iter()))
            .filter(|(_, (wanted, _))| **wanted)
            .map_init(
                gatekeeper::WorkerEngines::default,
                |engines, (((original, target), rego), (_, holds_secret))| {
                    let own = (part.owns)(original);
                    // Every rule and constraint for this object shares one budget.
                    let (mut results, used) = rego.unwrap_or_default();
                    let budget = ObjectBudget::resume(stage.object_budget, used);
                    // Without constraints nothing is evaluated here, and nothing is said
                    // to the supervisor: two pipe writes and a wake-up per object were a
                    // large part of a warm run (issue 29).
                    let mut reviewed = if constraints.is_empty() {
                        Vec::new()
                    } else {
                        match supervision::stopped(Work::Object(target.id)) {
                            // Its Rego verdicts already say so; without Rego rules, this does.
                            Some(_) if !results.is_empty() => Vec::new(),
                            Some(message) if !stage.gatekeeper.is_empty() => {
                                vec![
                                    policy_outcome(target, "gatekeeper", Status::Error)
                                        .message(message),
                                ]
                            }
                            Some(_) => Vec::new(),
                            None => {
                                let _working = supervision::working(Work::Object(target.id));
                                constraints.evaluate(engines, target, namespaced, &budget)
                            }
                        }
                    };
                    if let Some(values) = cluster_secrets.get(&target.cluster) {
                        redact::hide_values(values, &mut reviewed);
                    }
                    results.extend(reviewed);
                    let (mut found, used) = waivers::apply(&stage.waivers, results, target, today);
                    if !own {
                        found.clear();
                    }
                    if *holds_secret {
                        redact::secret_values(original, &mut found);
                    }
                    (found, used)
                },
            )
            .collect();
        for (found, used) in evaluated {
            outcomes.extend(found);
            self.usage.mark(used);
        }
        if !documents.is_empty() {
            outcomes.extend(stage.judge_documents(documents, self.prepared.as_ref()));
        }
        outcomes
    }

    /// Ends the run: the waiver files' own verdicts (expired, or unused when every object
    /// was judged), said by the part that reports the run-wide results.
    pub fn finish(self) -> Vec<Outcome> {
        if !self.part.run_wide || self.broken {
            return Vec::new();
        }
        self.usage
            .report(&self.stage.waivers, self.today, self.part.usage_known)
    }
}
