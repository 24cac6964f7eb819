//! Rego as OPA evaluates it, on regorus: where regorus reads or evaluates a module otherwise
//! than OPA (v1.20) does, the module's text is rewritten before regorus sees it, so that the
//! verdict is OPA's — the reference of every policy library policyrun runs — on both of
//! regorus' engines. A construct that cannot be made to mean what it means in OPA is refused
//! with its place. Each rewrite keeps every line where it was, so reports, `print` output
//! and errors still name the lines the author wrote.
//!
//! - [`prepare`], on the text before it is parsed: where regorus' grammar reads a module
//!   otherwise than OPA's parser (a `(` that starts a line, rule bodies chained after one
//!   another), see [`syntax`];
//! - [`evaluation_engine`], on the parsed modules once they passed the safety check (which
//!   must see them as written): what OPA's compiler rewrites before it evaluates (see
//!   [`eager`]), and OPA's `sprintf` and `to_number` where regorus' differ ([`OPA_BUILTINS`]);
//! - what regorus' virtual machine would still evaluate otherwise runs on the interpreter
//!   ([`vm`]).

pub mod eager;
pub mod syntax;
mod text;
pub mod vm;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use regorus::Engine;
use regorus::unstable::{Module, Parser, Rule, RuleHead};

use super::problem::{self, Problem};

pub use eager::Target;
pub use syntax::prepare;

/// An engine holding the modules of `engine` as OPA's compiler would evaluate them, and
/// its data; `None` when no module needs a rewrite (use `engine` as it is).
pub(crate) fn as_opa_evaluates(
    engine: &mut Engine,
    target: Target,
) -> Result<Option<Engine>, Vec<Problem>> {
    let modules = engine.get_modules().clone();
    let names = names_by_module(&modules);
    let mut texts = Vec::with_capacity(modules.len());
    let mut changed = false;
    for (module, names) in modules.iter().zip(&names) {
        let source = &module.package.span.source;
        let text = match eager::rewrite(module, names, target) {
            Some(text) => {
                changed = true;
                text
            }
            None => source.get_contents().clone(),
        };
        texts.push((source.get_path().clone(), text, module.rego_v1));
    }
    if !changed {
        return Ok(None);
    }
    let mut rewritten = Engine::new();
    rewritten.set_strict_builtin_errors(true);
    let mut problems = Vec::new();
    for (path, text, v1) in texts {
        rewritten.set_rego_v0(!v1);
        if let Err(e) = rewritten.add_policy(path.clone(), text) {
            // The rewrite produced text regorus does not read: a bug of policyrun's, reported
            // at the module so that the run fails closed.
            let mut problem = problem::error_problem(&PathBuf::from(&path), &e.to_string());
            problem.message = format!(
                "policyrun could not rewrite this module as OPA evaluates it (please report): {}",
                problem.message
            );
            problems.push(problem);
        }
    }
    rewritten.set_rego_v0(false);
    if !problems.is_empty() {
        return Err(problems);
    }
    rewritten.add_data(engine.get_data()).map_err(|e| {
        vec![Problem {
            file: PathBuf::new(),
            line: None,
            column: None,
            message: format!("cannot carry the policy data over: {e}"),
            detail: None,
        }]
    })?;
    Ok(Some(rewritten))
}

/// For each module, what its names refer to: the rules of its package (in every module of
/// that package), its imports, `input` and `data`; and the functions a `with` may name.
pub(super) fn names_by_module(modules: &[regorus::unstable::Ref<Module>]) -> Vec<eager::Names> {
    let mut rules: HashMap<String, HashSet<String>> = HashMap::new();
    let mut functions: HashSet<String> = HashSet::new();
    for module in modules {
        let package = package_of(module);
        for rule in &module.policy {
            let Some((name, path, function)) = rule_name(rule) else {
                continue;
            };
            if function {
                functions.insert(format!("data.{package}.{path}"));
            }
            rules.entry(package.clone()).or_default().insert(name);
        }
    }
    modules
        .iter()
        .map(|module| {
            let package = package_of(module);
            let mut globals: HashSet<String> = ["input", "data"].map(str::to_owned).into();
            globals.extend(rules.get(&package).into_iter().flatten().cloned());
            let mut known_functions = functions.clone();
            for function in &functions {
                if let Some(name) = function.strip_prefix(&format!("data.{package}.")) {
                    known_functions.insert(name.to_owned());
                }
            }
            for import in &module.imports {
                let Ok(parts) = Parser::get_path_ref_components(&import.refr) else {
                    continue;
                };
                let path: Vec<&str> = parts.iter().map(|p| p.text()).collect();
                if matches!(path.first(), Some(&"rego") | Some(&"future")) {
                    continue;
                }
                let alias = match &import.r#as {
                    Some(alias) => alias.text().to_owned(),
                    None => path.last().map(|l| (*l).to_owned()).unwrap_or_default(),
                };
                globals.insert(alias.clone());
                let full = path.join(".");
                for function in &functions {
                    if let Some(rest) = function.strip_prefix(&format!("{full}.")) {
                        known_functions.insert(format!("{alias}.{rest}"));
                    }
                }
                if functions.contains(&full) {
                    known_functions.insert(alias);
                }
            }
            eager::Names {
                globals,
                functions: known_functions,
            }
        })
        .collect()
}

fn package_of(module: &Module) -> String {
    Parser::get_path_ref_components(&module.package.refr)
        .map(|parts| {
            parts
                .iter()
                .map(|p| p.text().to_owned())
                .skip_while(|p| p == "data")
                .collect::<Vec<_>>()
                .join(".")
        })
        .unwrap_or_default()
}

/// A rule's first name (`deny` of `deny contains ...`, `a` of `a.b.c := 1`), its whole
/// name below the package and whether it is a function.
fn rule_name(rule: &Rule) -> Option<(String, String, bool)> {
    let (refr, function) = match rule {
        Rule::Spec { head, .. } => match head {
            RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. } => (refr, false),
            RuleHead::Func { refr, .. } => (refr, true),
        },
        Rule::Default { refr, args, .. } => (refr, !args.is_empty()),
    };
    let parts = Parser::get_path_ref_components(refr).ok()?;
    let first = parts.first()?.text().to_owned();
    let path = parts.iter().map(|p| p.text()).collect::<Vec<_>>().join(".");
    Some((first, path, function))
}
