//! One object's verdicts recalled from the memory of earlier runs, or evaluated on its own
//! and remembered: the path of documents that are not Kubernetes objects, which share
//! nothing (Kubernetes objects go through [`super::share`]).

use std::collections::HashMap;

use super::memory::VerdictMemory;
use crate::model::digest::Digest;
use crate::model::object::Target;
use crate::model::outcome::{Outcome, Status};
use crate::policy::context::ObjectContext;
use crate::policy::evaluate::budget::ObjectBudget;
use crate::policy::evaluate::{Prepared, Workers, interpreter, vm};
use crate::policy::load::Loaded;
use crate::policy::outcomes::{LOAD, Printed, policy_outcome, verdict_outcomes};

/// The verdict memory as one run consults it, with the digest of each cluster's context.
pub(crate) struct Recall<'m> {
    pub(crate) memory: &'m VerdictMemory<'m>,
    pub(crate) clusters: HashMap<Option<String>, Digest>,
}

/// One outcome per rule of every selected package for one document of `policyrun test`
/// that is not a Kubernetes object (`context` is `None` then): remembered from an earlier
/// run with the same inputs, or evaluated (and then remembered). Kubernetes objects go
/// through [`super::share::Round::judge`], which evaluates what objects have in common once.
pub(crate) fn rego_results(
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
            let vm = workers.vm.get_or_insert_with(|| vm::new_vm(program));
            vm::evaluate_vm(vm, &loaded.packages, data, target.value(), context, budget)
        }
        Prepared::Interpreter { engines } => {
            let engine = match workers.rego.entry(key) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => match engines.get(e.key()) {
                    Some(prepared) => e.insert(prepared.clone()),
                    None => return no_context(),
                },
            };
            interpreter::evaluate(
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
