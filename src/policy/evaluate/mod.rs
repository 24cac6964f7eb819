//! The evaluation wing: the loaded policies prepared once per cluster, and one object's
//! rules evaluated on regorus' interpreter or virtual machine within the object's budget.
//! What is evaluated and what is recalled or shared is the reuse wing's choice.

pub(crate) mod budget;
pub(crate) mod builtins;
pub(crate) mod interpreter;
pub(crate) mod results;
pub(crate) mod vm;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use regorus::rvm::program::Program;
use regorus::rvm::vm::RegoVM;
use regorus::{Engine, Value};

use super::context::ClusterContext;
use super::load::Loaded;
use super::outcomes::LOAD;
use super::rego::problem::{self, Problem};
use super::settings::RegoEngine;
use crate::model::outcome::{Outcome, Stage, Status};

/// What one rayon worker keeps between objects: its own virtual machine or engine clones.
#[derive(Default)]
pub(crate) struct Workers {
    pub(crate) vm: Option<RegoVM>,
    pub(crate) rego: HashMap<Option<String>, Engine>,
}

/// The policies ready for the parallel part.
pub(crate) enum Prepared {
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
pub(crate) fn prepare(
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
        match vm::compile(loaded) {
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
                let (message, _) = problem::engine_error(&e);
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
    interpreter::add_object_context(&mut base).map_err(|e| Problem {
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
