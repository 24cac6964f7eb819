//! regorus' virtual machine: every rule of every package compiled into one program that
//! gathers their values, run once per object, with OPA's builtins answered as host calls.

use std::collections::BTreeSet;
use std::sync::Arc;

use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::program::Program;
use regorus::rvm::vm::RegoVM;
use regorus::{Engine, Value};
use serde::Deserialize;

use super::budget::ObjectBudget;
use super::builtins;
use super::results;
use crate::policy::context::ObjectContext;
use crate::policy::load::{Loaded, Package};
use crate::policy::outcomes::PackageVerdicts;
use crate::policy::rego::opa;

/// A virtual machine for `program`, for one worker.
pub(crate) fn new_vm(program: &Arc<Program>) -> RegoVM {
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

/// The package of the generated module that gathers every rule's value.
const GATHER_PACKAGE: &str = "__policyrun_gather__";

/// One program with one entry point: a generated rule that gathers the value of every rule
/// (and `exception` rule) as an `[index, value]` pair, so that one execution per object
/// evaluates them all and shared helper rules are computed once. An undefined rule adds no
/// pair.
pub(crate) fn compile(loaded: &Loaded) -> Result<Arc<Program>, String> {
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
        builtins::OPA_BUILTINS,
    )
    .map_err(|e| e.to_string())
}

/// Runs the virtual machine to its end, answering its calls of OPA's builtins
/// ([`builtins::host_call`]) as it suspends on them.
fn run_vm(vm: &mut RegoVM) -> Result<Value, regorus::rvm::vm::VmError> {
    let mut result = vm.execute();
    while result.is_ok() {
        let Some(argument) = vm.get_host_await_argument().cloned() else {
            break;
        };
        let answer = builtins::host_call(vm.get_host_await_identifier(), &argument);
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
pub(crate) fn evaluate_vm(
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
