//! The policy stage: Rego policies in conftest's conventions, evaluated with regorus for every
//! object, with a context that tells policies which cluster they judge. The modules are
//! loaded and prepared once per cluster; every rayon worker evaluates on its own clone.
//!
//! This file is the stage's front door: what other layers call ([`PolicyStage::run`] with its
//! [`Input`]) and import (re-exported below). Behind it, from the top down:
//! - the run: [`policies`] (the stage built once) and [`session`] (one run over objects),
//!   with waivers, Gatekeeper constraints and the redaction of Secret values;
//! - the reuse wing, [`reuse`]: what need not be evaluated again (shared within a run,
//!   recalled from earlier runs);
//! - the evaluation wing, [`evaluate`]: the policies prepared, one object's rules evaluated
//!   on regorus' interpreter or virtual machine within its budget;
//! - [`load`]: the policy files, built-in packs and data read into one engine, once;
//! - the Rego analysis wing, [`rego`]: passes over the syntax tree that read policies
//!   without evaluating them; it imports nothing else of the crate;
//! - the shared vocabulary at the bottom: [`settings`], [`context`], [`outcomes`].
//!
//! No file of the stage imports from this one (`tests/all/layers.rs` holds it so).

pub mod catalogue;
mod context;
pub(crate) mod evaluate;
pub(crate) mod gatekeeper;
pub mod load;
mod outcomes;
pub mod packs;
mod policies;
pub mod redact;
pub mod rego;
mod reuse;
mod session;
mod settings;
pub mod verify;
pub mod waivers;

use std::collections::HashMap;

use crate::model::object::Target;
use crate::model::outcome::ObjectId;
use crate::model::stage::StageReport;
use crate::model::stats::Stats;
use waivers::Date;

pub use context::{ClusterContext, Document, RunShare, namespaces_by_cluster, policyrun_document};
pub use evaluate::interpreter::add_object_context;
pub use outcomes::{
    LOAD, NO_POLICIES, NO_POLICIES_CHECK, load_outcome, no_policies, policy_outcome,
};
pub use policies::PolicyStage;
pub use reuse::memory::{MemoryError, VerdictMemory};
pub use settings::{DEFAULT_OBJECT_BUDGET, RegoEngine, RegoVersion, Settings};

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
    pub memory: Option<Result<VerdictMemory<'m>, MemoryError>>,
    /// Every object of the tree is among the targets and evaluated: only then may the
    /// memory forget the verdicts of objects it did not see.
    pub every_object: bool,
}

impl PolicyStage {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::{Location, Outcome};
    use crate::model::value::ObjectValue;
    use context::tests::object_id;

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
}
