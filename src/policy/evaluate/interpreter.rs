//! regorus' tree-walking interpreter: every rule of every package evaluated by its path for
//! one object, with strict builtin errors (an error fails the run), print output gathered
//! per rule, and the object's context behind `data.policyrun.object`.

use std::collections::BTreeSet;

use regorus::{Engine, Value};
use serde::Deserialize;

use super::budget::ObjectBudget;
use super::results::{self, RuleResult};
use crate::policy::context::ObjectContext;
use crate::policy::load::Package;
use crate::policy::outcomes::{PackageVerdicts, Printed};
use crate::policy::rego::modules::OBJECT_CONTEXT_BUILTIN;

/// Evaluates every rule of every package for one object on the interpreter, rule by rule
/// (regorus evaluates a single rule's path faster than a query, and correctly where a
/// package spans several files). The object's context reaches `data.policyrun.object`
/// through [`OBJECT_CONTEXT`], so the prepared engine never changes.
pub(crate) fn evaluate(
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

/// The context `share` evaluates a worker's interpreter for, until it sets another.
pub(crate) fn set_object_context(context: Value) {
    OBJECT_CONTEXT.with(|slot| *slot.borrow_mut() = context);
}

/// regorus refused the rule behind `data.policyrun.object` (its own words).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ContextError(String);

/// Makes `data.policyrun.object` a rule whose value is the current object's context, so that
/// tests can still replace it with `with data.policyrun.object as {...}`.
pub fn add_object_context(engine: &mut Engine) -> Result<(), ContextError> {
    engine
        .add_extension(
            OBJECT_CONTEXT_BUILTIN.to_owned(),
            0,
            Box::new(|_: Vec<Value>| Ok(OBJECT_CONTEXT.with(|slot| slot.borrow().clone()))),
        )
        .map_err(|e| ContextError(e.to_string()))?;
    engine.set_rego_v0(false);
    engine
        .add_policy(
            "policyrun-context.rego".to_owned(),
            format!("package policyrun\nimport rego.v1\nobject := {OBJECT_CONTEXT_BUILTIN}()\n"),
        )
        .map(|_| ())
        .map_err(|e| ContextError(e.to_string()))
}
