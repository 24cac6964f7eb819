//! OPA's builtins where regorus' own differ ([`OPA_BUILTINS`]): computed as OPA computes
//! them, as extensions on the interpreter and host calls on the virtual machine; and the
//! engine that evaluates, the modules as OPA evaluates them (see
//! [`crate::policy::rego::opa`]) with these builtins.

mod go_text;
mod numbers;
pub(crate) mod sprintf;

use std::path::PathBuf;

use regorus::Engine;

use crate::policy::rego::opa::{self, Target};
use crate::policy::rego::problem::Problem;

/// The builtins policyrun computes as OPA does where regorus' own differ, by name and
/// number of arguments: the interpreter calls them as extensions, the virtual machine hands
/// them to policyrun as host calls ([`host_call`]).
pub(crate) const OPA_BUILTINS: &[(&str, usize)] = &[("sprintf", 2), ("to_number", 1)];

/// Why an OPA builtin failed (an operand of the wrong type): an evaluation error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BuiltinError(String);

/// Makes the interpreter of `engine` compute [`OPA_BUILTINS`] as OPA does.
pub(crate) fn add_opa_builtins(engine: &mut Engine) -> Result<(), String> {
    for (name, count) in OPA_BUILTINS {
        let name = *name;
        engine
            .add_extension(
                name.to_owned(),
                *count as u8,
                Box::new(move |args: Vec<regorus::Value>| {
                    let args: Vec<&regorus::Value> = args.iter().collect();
                    Ok(call(name, &args).map_err(BuiltinError)?)
                }),
            )
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// One of [`OPA_BUILTINS`], as OPA computes it.
fn call(name: &str, args: &[&regorus::Value]) -> Result<regorus::Value, String> {
    match (name, args) {
        ("sprintf", [format, values]) => sprintf::sprintf(format, values),
        ("to_number", [value]) => numbers::to_number(value),
        _ => Err(format!("{name}: wrong number of arguments")),
    }
}

/// The answer to the virtual machine's call of an [`OPA_BUILTINS`] builtin (`identifier`,
/// with its arguments as an array). A failed call is undefined there: the virtual machine
/// takes an error inside a rule body as "does not hold" (see `RegoEngine::Vm`).
pub(crate) fn host_call(
    identifier: Option<&regorus::Value>,
    argument: &regorus::Value,
) -> regorus::Value {
    let args: Vec<&regorus::Value> = match argument {
        regorus::Value::Array(items) => items.iter().collect(),
        _ => Vec::new(),
    };
    match identifier.and_then(|i| i.as_string().ok()) {
        Some(name) => call(name, &args).unwrap_or(regorus::Value::Undefined),
        None => regorus::Value::Undefined,
    }
}

/// An engine holding the modules of `engine` as OPA's compiler would evaluate them, its data,
/// and OPA's builtins where regorus' differ ([`add_opa_builtins`]). Strict builtin errors
/// are on, as everywhere policyrun evaluates.
pub(crate) fn evaluation_engine(
    engine: &mut Engine,
    target: Target,
) -> Result<Engine, Vec<Problem>> {
    let mut evaluated = match opa::as_opa_evaluates(engine, target)? {
        Some(rewritten) => rewritten,
        None => engine.clone(),
    };
    add_opa_builtins(&mut evaluated).map_err(|e| {
        vec![Problem {
            file: PathBuf::new(),
            line: None,
            column: None,
            message: format!("cannot provide OPA's builtins: {e}"),
            detail: None,
        }]
    })?;
    Ok(evaluated)
}
