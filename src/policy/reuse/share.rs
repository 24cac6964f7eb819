//! No verdict computed twice in one run: objects of the same content whose rule inputs are
//! equal share one evaluation of the rule. A rule's inputs are the object and the parts of
//! `data.policyrun` it can read ([`crate::policy::rego::reads`]): the same Deployment in `int` and `web`
//! shares the evaluation of a rule that reads `cluster.policy.pod_security` when both
//! clusters have the same level, but not of one that reads `cluster.name`.
//!
//! Sharing is decided before anything is evaluated: for every distinct set of reads, the
//! objects are put in classes of equal content (compared, not hashed only) and equal values at
//! those paths; the first object of a class (in the run's order) evaluates, the others take
//! its results. The interpreter shares rule by rule; the virtual machine, which evaluates
//! every rule in one execution, shares whole objects, by the reads of all rules together.
//! Waivers, Gatekeeper constraints and the redaction of Secret values are applied to every
//! object on its own afterwards, as without sharing.

use std::collections::{BTreeSet, HashMap};

use rayon::prelude::*;
use regorus::{Engine, Value};
use serde::Deserialize;

use super::recall::Recall;
use crate::model::object::Target;
use crate::model::outcome::{ObjectId, Outcome};
use crate::model::same::Content;
use crate::model::supervision::{self, Work};
use crate::policy::context::{ClusterContext, ObjectContext};
use crate::policy::evaluate::budget::{self, ObjectBudget};
use crate::policy::evaluate::results::{self, RuleResult};
use crate::policy::evaluate::{Prepared, Workers, interpreter, vm};
use crate::policy::load::{Loaded, Package};
use crate::policy::outcomes::{self, PackageVerdicts, Printed};
use crate::policy::rego::reads::{Analysis, Reads};
use std::time::Duration;

/// One evaluation the interpreter makes for an object: a package's `exception` rule or one
/// of its rules, in the order [`assemble`] reads them.
pub(crate) struct Unit {
    path: String,
    /// The package and, unless it is the `exception` rule, the rule (indices).
    rule: (usize, Option<usize>),
    /// Index into [`Units::reads`].
    reads: usize,
}

/// The evaluations of the selected packages and what each can read.
pub(crate) struct Units {
    units: Vec<Unit>,
    /// The distinct read sets.
    reads: Vec<Reads>,
    /// Index into `reads` of every unit's reads together.
    whole: usize,
}

impl Units {
    pub(crate) fn of(engine: &mut Engine, packages: &[Package]) -> Units {
        let analysis = Analysis::of(engine);
        let mut reads: Vec<Reads> = Vec::new();
        let index_of = |r: Reads, reads: &mut Vec<Reads>| match reads.iter().position(|x| *x == r) {
            Some(i) => i,
            None => {
                reads.push(r);
                reads.len() - 1
            }
        };
        let mut units = Vec::new();
        let mut whole = Reads::Paths(BTreeSet::new());
        for (p, package) in packages.iter().enumerate() {
            let paths = package
                .exception_path
                .iter()
                .map(|path| (path, None))
                .chain(
                    package
                        .rules
                        .iter()
                        .enumerate()
                        .map(|(r, rule)| (&rule.path, Some(r))),
                );
            for (path, rule) in paths {
                let read = analysis.reads(path);
                whole = whole.union(&read);
                units.push(Unit {
                    path: path.clone(),
                    rule: (p, rule),
                    reads: index_of(read, &mut reads),
                });
            }
        }
        let whole = index_of(whole, &mut reads);
        Units {
            units,
            reads,
            whole,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.units.len()
    }

    /// The units an object of this kind evaluates (a rule whose leading kind test rules the
    /// kind out is undefined without evaluation, see [`crate::policy::rego::kinds`]).
    pub(crate) fn admitted<'a>(
        &'a self,
        packages: &'a [Package],
        kind: Option<&'a str>,
    ) -> impl Iterator<Item = usize> + 'a {
        self.units
            .iter()
            .enumerate()
            .filter(move |(_, u)| match u.rule {
                (p, Some(r)) => packages[p].rules[r].kinds.admits(kind),
                (_, None) => true,
            })
            .map(|(i, _)| i)
    }
}

/// What one object knows for planning: its value as the policies see it, its cluster's
/// `data.policyrun.cluster` document (`None`: no context, never shared) and its own
/// `data.policyrun.object` document.
pub(crate) struct Subject<'a> {
    /// Its value, and what names it when it is a whole generated file.
    pub content: Content<'a>,
    pub cluster: Option<usize>,
    pub object: serde_json::Value,
}

/// Who evaluates what: `owners[r][t]` is the object whose evaluation object `t` takes for
/// the rules of read set `r` (itself when it evaluates them).
pub(crate) struct Plan {
    owners: Vec<Vec<usize>>,
}

impl Plan {
    /// Every object evaluates everything itself (sharing off).
    pub(crate) fn alone(reads: usize, objects: usize) -> Plan {
        Plan {
            owners: vec![(0..objects).collect(); reads],
        }
    }

    /// Classes of equal inputs for each read set among `subjects` (`None`: not evaluated
    /// here) whose clusters' documents are `clusters`.
    pub(crate) fn new(
        reads: &[Reads],
        subjects: &[Option<Subject>],
        clusters: &[serde_json::Value],
    ) -> Plan {
        let values: Vec<Option<Content>> = subjects
            .iter()
            .map(|s| s.as_ref().map(|s| s.content))
            .collect();
        let groups = crate::model::same::first_equal(&values);
        let owners = reads
            .par_iter()
            .map(|read| {
                let Reads::Paths(paths) = read else {
                    return (0..subjects.len()).collect();
                };
                let (cluster_paths, object_paths): (Vec<&Vec<String>>, Vec<&Vec<String>>) = paths
                    .iter()
                    .partition(|p| p.first().is_some_and(|c| c == "cluster"));
                let whole = paths.iter().any(|p| p.is_empty());
                // Clusters of equal projections are one class.
                let mut cluster_class: Vec<usize> = Vec::with_capacity(clusters.len());
                let mut seen: HashMap<String, usize> = HashMap::new();
                for cluster in clusters {
                    let text = if whole {
                        cluster.to_string()
                    } else {
                        projection(cluster, &cluster_paths)
                    };
                    let next = seen.len();
                    cluster_class.push(*seen.entry(text).or_insert(next));
                }
                let mut first: HashMap<(usize, usize, String), usize> = HashMap::new();
                let mut owners: Vec<usize> = (0..subjects.len()).collect();
                for (t, subject) in subjects.iter().enumerate() {
                    let Some(subject) = subject else { continue };
                    let Some(cluster) = subject.cluster else {
                        continue;
                    };
                    let object = if whole {
                        subject.object.to_string()
                    } else {
                        projection(&subject.object, &object_paths)
                    };
                    let key = (groups[t], cluster_class[cluster], object);
                    owners[t] = *first.entry(key).or_insert(t);
                }
                owners
            })
            .collect();
        Plan { owners }
    }

    pub(crate) fn owner(&self, reads: usize, object: usize) -> usize {
        self.owners[reads][object]
    }
}

/// The value at each path (below `cluster` or `object`, whose document is `document`) as
/// one text: a path that leaves the objects (an index into a list) stops where it leaves
/// them, and so takes in more than it needs, never less.
fn projection(document: &serde_json::Value, paths: &[&Vec<String>]) -> String {
    let mut parts = Vec::with_capacity(paths.len());
    for path in paths {
        let mut current = document;
        let mut found = true;
        for component in path.iter().skip(1) {
            match current {
                serde_json::Value::Object(map) => match map.get(component) {
                    Some(next) => current = next,
                    None => {
                        found = false;
                        break;
                    }
                },
                _ => break,
            }
        }
        parts.push(if found {
            serde_json::json!([path, current])
        } else {
            serde_json::json!([path])
        });
    }
    serde_json::Value::Array(parts).to_string()
}

/// One unit's result for one object: the rule's value (`Err(None)`: the object's budget ran
/// out; `Err(Some)`: the engine's error) and what `print` wrote meanwhile.
pub(crate) type UnitResult = (
    Result<Option<serde_json::Value>, Option<String>>,
    Vec<String>,
);

/// What an object's own evaluation produced.
pub(crate) enum Evaluated {
    /// Interpreter: per unit, the result if this object evaluated it.
    Units(Vec<Option<UnitResult>>),
    /// The object could not be handed to the engine: every package fails with this text.
    Failed(String),
    /// Virtual machine: every package's verdicts, or nothing if another object's are taken.
    Whole(Option<Vec<PackageVerdicts>>),
    /// An earlier worker process was stopped while it evaluated this object (see
    /// `model::supervision`): every package is undecided, for this reason.
    Stopped(String),
}

/// Evaluates the units marked in `wanted` for one object on the interpreter, rule by rule,
/// each with what is left of the object's budget.
pub(crate) fn evaluate_units(
    engine: &mut Engine,
    units: &Units,
    wanted: &[bool],
    object: &serde_json::Value,
    context: &ObjectContext,
    budget: &ObjectBudget,
) -> Evaluated {
    let mut results: Vec<Option<UnitResult>> = (0..units.len()).map(|_| None).collect();
    if !wanted.iter().any(|w| *w) {
        return Evaluated::Units(results);
    }
    let input = match Value::deserialize(object) {
        Ok(input) => input,
        Err(e) => return Evaluated::Failed(format!("cannot pass the object to Rego: {e}")),
    };
    interpreter::set_object_context(context.to_value());
    engine.set_input(input);
    for (index, (unit, result)) in units.units.iter().zip(results.iter_mut()).enumerate() {
        if !wanted[index] {
            continue;
        }
        let Some(timer) = budget.timer() else {
            *result = Some((Err(None), Vec::new()));
            continue;
        };
        // The interpreter restarts its timer for every rule: each gets what is left.
        engine.set_execution_timer_config(timer);
        let value = engine.eval_rule(unit.path.clone());
        let prints = engine.take_prints().unwrap_or_default();
        let value = match value {
            Err(e) => {
                let timed_out = e
                    .downcast_ref::<regorus::LimitError>()
                    .is_some_and(|l| matches!(l, regorus::LimitError::TimeLimitExceeded { .. }));
                Err((!timed_out && !budget.is_spent()).then(|| e.to_string()))
            }
            Ok(Value::Undefined) => Ok(None),
            Ok(value) => serde_json::to_value(&value)
                .map(Some)
                .map_err(|e| Some(e.to_string())),
        };
        *result = Some((value, prints));
    }
    interpreter::set_object_context(Value::Undefined);
    Evaluated::Units(results)
}

/// Every package's verdicts for an object of `kind` from the units' results (its own or
/// other objects'), and the print output by rule path. A package whose `exception` rule
/// fails fails whole; a rule left undecided by the budget leaves its package undecided.
pub(crate) fn assemble<'r>(
    packages: &[Package],
    units: &Units,
    kind: Option<&str>,
    budget_limit: std::time::Duration,
    result_of: impl Fn(usize) -> Option<&'r UnitResult>,
) -> (Vec<PackageVerdicts>, Printed) {
    let mut printed = Printed::new();
    let mut next = 0usize;
    let take = |index: usize,
                printed: &mut Printed|
     -> Result<Option<serde_json::Value>, Option<String>> {
        match result_of(index) {
            Some((value, prints)) => {
                if !prints.is_empty() {
                    printed
                        .entry(units.units[index].path.clone())
                        .or_default()
                        .extend(prints.iter().cloned());
                }
                value.clone()
            }
            None => Err(Some("internal error: a rule was not evaluated".to_owned())),
        }
    };
    let verdicts = packages
        .iter()
        .map(|package| {
            let mut over_budget = false;
            let exception = package.exception_path.as_ref().map(|_| {
                let index = next;
                next += 1;
                index
            });
            let first_rule = next;
            next += package.rules.len();
            let budget_message = || {
                PackageVerdicts::OverBudget(budget::over_budget(
                    budget_limit,
                    &format!("package `{}`", package.name),
                ))
            };
            let excepted = match exception {
                None => BTreeSet::new(),
                Some(index) => match take(index, &mut printed) {
                    Err(None) => return budget_message(),
                    Err(Some(text)) => return PackageVerdicts::Failed(text),
                    Ok(value) => match results::exceptions(value.as_ref()) {
                        Ok(names) => names,
                        Err(text) => return PackageVerdicts::Failed(text),
                    },
                },
            };
            let mut rules = Vec::with_capacity(package.rules.len());
            for (offset, rule) in package.rules.iter().enumerate() {
                let verdict = if rule.kinds.admits(kind) {
                    match take(first_rule + offset, &mut printed) {
                        Err(None) => {
                            over_budget = true;
                            break;
                        }
                        Err(Some(text)) => Err(text),
                        Ok(value) => results::verdict(&rule.name, value.as_ref()),
                    }
                } else {
                    Ok(RuleResult::Clean)
                };
                rules.push((verdict, excepted.contains(rule.exception_name())));
            }
            if over_budget {
                budget_message()
            } else {
                PackageVerdicts::Rules(rules)
            }
        })
        .collect();
    (verdicts, printed)
}

/// Where an object's verdicts come from.
enum Source<'c> {
    /// Not evaluated here (another part's object, no waiver to learn about).
    Unwanted,
    /// Its cluster has no policy context: an error.
    NoContext,
    /// The memory of an earlier run.
    Recalled(Vec<PackageVerdicts>),
    /// Evaluated in this run (by itself or another object), then remembered under this key.
    Evaluated {
        context: ObjectContext<'c>,
        memory_key: Option<crate::model::digest::Digest>,
    },
}

/// An object's rule outcomes and the share of its budget its own evaluations used.
pub(crate) type ObjectOutcomes = (Vec<Outcome>, Duration);

/// One policy run over the targets on regorus, in its steps: where each object's verdicts
/// come from, which object evaluates what for which others, the evaluations, and the
/// outcomes assembled from them.
pub(crate) struct Round<'a, 't> {
    pub(crate) loaded: &'a Loaded,
    pub(crate) prepared: &'a Prepared,
    pub(crate) units: &'a Units,
    /// Each object's evaluation budget.
    pub(crate) budget_limit: Duration,
    pub(crate) targets: &'a [Target<'t>],
    pub(crate) clusters: &'a HashMap<Option<String>, ClusterContext>,
    pub(crate) recall: Option<&'a Recall<'a>>,
}

/// What one object evaluated, and the time it took.
type Evaluation = Option<(Evaluated, Duration)>;

fn kind_of<'v>(target: &Target<'v>) -> Option<&'v str> {
    target
        .value()
        .get("kind")
        .and_then(serde_json::Value::as_str)
}

impl Round<'_, '_> {
    /// One outcome per rule of every selected package for each wanted target (`None` for
    /// the others), with the share of the object's budget its own evaluations used, and how
    /// many rule evaluations (or, on the virtual machine, whole objects) were taken from
    /// another object (none without `sharing`).
    pub(crate) fn judge(
        &self,
        wanted: &[bool],
        namespaced: &(dyn Fn(Option<&str>, &ObjectId) -> Option<bool> + Sync),
        sharing: bool,
    ) -> (Vec<Option<ObjectOutcomes>>, usize) {
        let sources = self.sources(wanted, namespaced);
        let plan = self.plan(&sources, sharing);
        let evaluated = self.evaluate(&sources, &plan);
        self.outcomes(sources, &plan, &evaluated)
    }

    /// Where each wanted object's verdicts come from: the memory of earlier runs, an
    /// evaluation, or nowhere (no policy context for its cluster).
    fn sources(
        &self,
        wanted: &[bool],
        namespaced: &(dyn Fn(Option<&str>, &ObjectId) -> Option<bool> + Sync),
    ) -> Vec<Source<'_>> {
        let Round {
            targets,
            clusters,
            recall,
            loaded,
            ..
        } = *self;
        targets
            .par_iter()
            .zip(wanted.par_iter())
            .map(|(target, wanted)| {
                if !wanted {
                    return Source::Unwanted;
                }
                let key = target.cluster.map(str::to_owned);
                if !clusters.contains_key(&key) {
                    return Source::NoContext;
                }
                let context = ObjectContext::of(target, namespaced(target.cluster, target.id));
                let memory_key = recall.and_then(|r| {
                    let cluster = r.clusters.get(&key)?;
                    Some(r.memory.key(cluster, &context, &target.content_digest()))
                });
                if let (Some(r), Some(memory_key)) = (recall, &memory_key)
                    && let Some(verdicts) = r.memory.recall(memory_key, &loaded.packages)
                {
                    return Source::Recalled(verdicts);
                }
                Source::Evaluated {
                    context,
                    memory_key,
                }
            })
            .collect()
    }

    /// Which object evaluates each unit for which others (with sharing: the first object of
    /// equal content and equal rule inputs; without: every object for itself).
    fn plan(&self, sources: &[Source], sharing: bool) -> Plan {
        let Round {
            targets,
            clusters,
            units,
            ..
        } = *self;
        if sharing {
            let keys: Vec<&Option<String>> = clusters.keys().collect();
            let documents: Vec<serde_json::Value> = keys
                .iter()
                .map(|k| clusters[*k].to_data()["policyrun"]["cluster"].take())
                .collect();
            let subjects: Vec<Option<Subject>> = sources
                .par_iter()
                .zip(targets.par_iter())
                .map(|(source, target)| match source {
                    Source::Evaluated { context, .. } => Some(Subject {
                        content: target.sharing_content(),
                        cluster: keys.iter().position(|k| k.as_deref() == target.cluster),
                        object: serde_json::to_value(context.to_value())
                            .unwrap_or(serde_json::Value::Null),
                    }),
                    _ => None,
                })
                .collect();
            Plan::new(&units.reads, &subjects, &documents)
        } else {
            Plan::alone(units.reads.len(), targets.len())
        }
    }

    /// Each object evaluates what no object before it with the same inputs evaluates.
    fn evaluate(&self, sources: &[Source], plan: &Plan) -> Vec<Evaluation> {
        let Round {
            targets,
            prepared,
            units,
            loaded,
            budget_limit,
            ..
        } = *self;
        sources
            .par_iter()
            .zip(targets.par_iter())
            .enumerate()
            .map_init(Workers::default, |workers, (t, (source, target))| {
                let Source::Evaluated { context, .. } = source else {
                    return None;
                };
                if let Some(message) = supervision::stopped(Work::Object(target.id)) {
                    return Some((Evaluated::Stopped(message), Duration::ZERO));
                }
                let _working = supervision::working(Work::Object(target.id));
                let budget = ObjectBudget::start(budget_limit);
                let key = target.cluster.map(str::to_owned);
                let evaluated = match prepared {
                    Prepared::Vm { program, data } => {
                        if plan.owner(units.whole, t) != t {
                            return Some((Evaluated::Whole(None), Duration::ZERO));
                        }
                        let data = data.get(&key)?;
                        let vm = workers.vm.get_or_insert_with(|| vm::new_vm(program));
                        Evaluated::Whole(Some(vm::evaluate_vm(
                            vm,
                            &loaded.packages,
                            data,
                            target.value(),
                            Some(context),
                            &budget,
                        )))
                    }
                    Prepared::Interpreter { engines } => {
                        let mut own = vec![false; units.len()];
                        for u in units.admitted(&loaded.packages, kind_of(target)) {
                            own[u] = plan.owner(units.units[u].reads, t) == t;
                        }
                        if !own.iter().any(|o| *o) {
                            return Some((Evaluated::Units(Vec::new()), Duration::ZERO));
                        }
                        let engine = match workers.rego.entry(key) {
                            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                            std::collections::hash_map::Entry::Vacant(e) => {
                                let prepared = engines.get(e.key())?.clone();
                                e.insert(prepared)
                            }
                        };
                        evaluate_units(engine, units, &own, target.value(), context, &budget)
                    }
                };
                Some((evaluated, budget.used()))
            })
            .collect()
    }

    /// Every object's outcomes, from the memory, its own evaluation or the one it shares;
    /// and how many evaluations objects took from others.
    fn outcomes(
        &self,
        sources: Vec<Source>,
        plan: &Plan,
        evaluated: &[Evaluation],
    ) -> (Vec<Option<ObjectOutcomes>>, usize) {
        let Round {
            targets,
            units,
            loaded,
            budget_limit,
            recall,
            ..
        } = *self;
        let shared = std::sync::atomic::AtomicUsize::new(0);
        let outcomes = sources
            .into_par_iter()
            .zip(targets.par_iter())
            .enumerate()
            .map(|(t, (source, target))| {
                // Fails closed: an object whose verdicts cannot be found is an error, never passed.
                let error = |text: String| {
                    let outcome = outcomes::policy_outcome(
                        target,
                        outcomes::LOAD,
                        crate::model::outcome::Status::Error,
                    )
                    .message(text);
                    Some((vec![outcome], Duration::ZERO))
                };
                let no_context = || {
                    error(format!(
                        "no policy context for cluster `{}`",
                        target.cluster.unwrap_or_default()
                    ))
                };
                let memory_key = match source {
                    Source::Unwanted => return None,
                    Source::NoContext => return no_context(),
                    Source::Recalled(verdicts) => {
                        return Some((
                            outcomes::verdict_outcomes(loaded, target, verdicts, &Printed::new()),
                            Duration::ZERO,
                        ));
                    }
                    Source::Evaluated { memory_key, .. } => memory_key,
                };
                let used = evaluated[t]
                    .as_ref()
                    .map_or(Duration::ZERO, |(_, used)| *used);
                let (verdicts, printed) = match &evaluated[t] {
                    None => return no_context(),
                    Some((Evaluated::Stopped(text), _)) => (
                        loaded
                            .packages
                            .iter()
                            .map(|_| PackageVerdicts::OverBudget(text.clone()))
                            .collect(),
                        Printed::new(),
                    ),
                    Some((Evaluated::Whole(_), _)) => {
                        let owner = plan.owner(units.whole, t);
                        if owner != t {
                            shared.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        match evaluated.get(owner) {
                            Some(Some((Evaluated::Whole(Some(found)), _))) => {
                                (found.clone(), Printed::new())
                            }
                            _ => {
                                return error(
                                    "internal error: a shared evaluation is missing".into(),
                                );
                            }
                        }
                    }
                    Some(_) => {
                        let kind = kind_of(target);
                        let admitted: Vec<usize> = units.admitted(&loaded.packages, kind).collect();
                        let owner_of = |u: usize| plan.owner(units.units[u].reads, t);
                        // An object sharing what a stopped object evaluated is undecided
                        // with it: evaluating the same inputs again would stop the run again.
                        let stopped =
                            admitted
                                .iter()
                                .find_map(|&u| match &evaluated[owner_of(u)] {
                                    Some((Evaluated::Stopped(text), _)) => Some(text.clone()),
                                    _ => None,
                                });
                        let failed = admitted
                            .iter()
                            .find_map(|&u| match &evaluated[owner_of(u)] {
                                Some((Evaluated::Failed(text), _)) => Some(text.clone()),
                                _ => None,
                            });
                        let failed = failed.or_else(|| match &evaluated[t] {
                            Some((Evaluated::Failed(text), _)) => Some(text.clone()),
                            _ => None,
                        });
                        if let Some(text) = stopped {
                            let verdicts = loaded
                                .packages
                                .iter()
                                .map(|_| PackageVerdicts::OverBudget(text.clone()))
                                .collect();
                            (verdicts, Printed::new())
                        } else if let Some(text) = failed {
                            let verdicts = loaded
                                .packages
                                .iter()
                                .map(|_| PackageVerdicts::Failed(text.clone()))
                                .collect();
                            (verdicts, Printed::new())
                        } else {
                            let borrowed = admitted.iter().filter(|&&u| owner_of(u) != t).count();
                            shared.fetch_add(borrowed, std::sync::atomic::Ordering::Relaxed);
                            assemble(&loaded.packages, units, kind, budget_limit, |u| {
                                match &evaluated[owner_of(u)] {
                                    Some((Evaluated::Units(results), _)) => {
                                        results.get(u).and_then(Option::as_ref)
                                    }
                                    _ => None,
                                }
                            })
                        }
                    }
                };
                if let (Some(r), Some(memory_key)) = (recall, memory_key) {
                    r.memory.remember(memory_key, &verdicts);
                }
                Some((
                    outcomes::verdict_outcomes(loaded, target, verdicts, &printed),
                    used,
                ))
            })
            .collect();
        (outcomes, shared.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::value::ObjectValue;
    use serde_json::json;

    fn subject(value: &ObjectValue, cluster: usize) -> Option<Subject<'_>> {
        Some(Subject {
            content: Content {
                value,
                digest: None,
            },
            cluster: Some(cluster),
            object: json!({"entry": format!("clusters/{cluster}/a.jsonnet"), "namespaced": true}),
        })
    }

    fn paths(paths: &[&str]) -> Reads {
        Reads::Paths(
            paths
                .iter()
                .map(|p| p.split('.').map(str::to_owned).collect())
                .collect(),
        )
    }

    #[test]
    fn equal_objects_share_where_what_is_read_is_equal() {
        let deployment =
            ObjectValue::parsed(json!({"kind": "Deployment", "spec": {"replicas": 1}}));
        let same = deployment.clone();
        let other = ObjectValue::parsed(json!({"kind": "Deployment", "spec": {"replicas": 2}}));
        let clusters = vec![
            json!({"name": "dev", "policy": {"pod_security": "baseline"}}),
            json!({"name": "int", "policy": {"pod_security": "restricted"}}),
            json!({"name": "web", "policy": {"pod_security": "restricted", "lb": true}}),
        ];
        let subjects = vec![
            subject(&deployment, 0),
            subject(&same, 1),
            subject(&same, 2),
            subject(&other, 2),
            None,
        ];
        let reads = vec![
            paths(&["cluster.policy.pod_security"]),
            paths(&["cluster.name"]),
            paths(&["cluster.policy"]),
            Reads::Paths(BTreeSet::new()),
            paths(&["object.namespaced"]),
            paths(&["object.entry"]),
            Reads::Anything,
        ];
        let plan = Plan::new(&reads, &subjects, &clusters);
        let owners = |r: usize| (0..5).map(|t| plan.owner(r, t)).collect::<Vec<_>>();
        // int and web at the same level; dev at another; different content never.
        assert_eq!(owners(0), [0, 1, 1, 3, 4]);
        assert_eq!(owners(1), [0, 1, 2, 3, 4]);
        assert_eq!(owners(2), [0, 1, 2, 3, 4]);
        // Nothing of the document read: one evaluation for equal content.
        assert_eq!(owners(3), [0, 0, 0, 3, 4]);
        assert_eq!(owners(4), [0, 0, 0, 3, 4]);
        assert_eq!(owners(5), [0, 1, 2, 3, 4]);
        assert_eq!(owners(6), [0, 1, 2, 3, 4]);
    }

    #[test]
    fn an_unset_value_differs_from_null_and_numbers_keep_their_type() {
        let one = ObjectValue::parsed(json!({"a": 1}));
        let float = ObjectValue::parsed(json!({"a": 1.0}));
        let clusters = vec![json!({"policy": {}}), json!({"policy": {"x": null}})];
        let subjects = vec![subject(&one, 0), subject(&one, 1), subject(&float, 0)];
        let plan = Plan::new(&[paths(&["cluster.policy.x"])], &subjects, &clusters);
        assert_eq!(
            (0..3).map(|t| plan.owner(0, t)).collect::<Vec<_>>(),
            [0, 1, 2]
        );
    }
}
