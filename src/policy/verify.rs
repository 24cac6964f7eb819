//! `policyrun verify`: the policies' own unit tests, as `opa test` and `conftest verify` run
//! them: every `test_*` rule of every package (in any module; `*_test.rego` files are
//! loaded only here), each definition on its own, one result per definition.

use std::path::Path;

use rayon::prelude::*;
use regorus::Value;

use super::evaluate::budget;
use super::evaluate::interpreter::{ContextError, add_object_context};
use super::load;
use super::outcomes::load_outcome;
use super::settings::Settings;
use crate::model::outcome::{Location, Outcome, Stage, Status};

/// Check name of a policy unit test.
pub const TEST: &str = "test";

/// Why `verify` ran no test at all: a verify that ran nothing must not pass.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Only built-in packs are configured; they hold no tests of the repository's.
    #[error(
        "no policy directories configured ([policy] dirs) to hold tests; the built-in packs ({packs}) are tested with policyrun itself: name a directory of policies and their tests with --policy DIR"
    )]
    OnlyPacks { packs: String },
    #[error("no policy directories configured ([policy] dirs)")]
    NoDirectories,
    /// The directories, comma-separated.
    #[error("no test_ rules in any module below {dirs}")]
    NoTests { dirs: String },
    #[error(transparent)]
    Context(#[from] ContextError),
}

/// Runs every test. A test passes only when it evaluates to `true`; undefined or `false`
/// fails, an error is an error. No test at all is an `Err`: a verify that ran nothing must
/// not pass.
pub fn run(root: &Path, settings: &Settings) -> Result<Vec<Outcome>, VerifyError> {
    if settings.dirs.is_empty() && !settings.packs.is_empty() {
        return Err(VerifyError::OnlyPacks {
            packs: settings.packs.join(", "),
        });
    }
    if settings.dirs.is_empty() {
        return Err(VerifyError::NoDirectories);
    }
    let loaded = match load::load(root, settings, load::Purpose::Verify) {
        Ok(loaded) => loaded,
        Err(problems) => return Ok(problems.into_iter().map(load_outcome).collect()),
    };
    let tests: Vec<(&crate::policy::rego::modules::ModuleInfo, &str, usize)> = loaded
        .modules
        .iter()
        .flat_map(|m| {
            m.rules
                .iter()
                .filter(|(name, _)| name.starts_with("test_"))
                .chain(&m.todo_tests)
                .map(move |(name, line)| (m, name.as_str(), *line))
        })
        .collect();
    if tests.is_empty() {
        return Err(VerifyError::NoTests {
            dirs: settings
                .dirs
                .iter()
                .map(|d| load::relative(root, d).display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let mut engine = loaded.engine.clone();
    add_object_context(&mut engine)?;
    engine.set_input(Value::new_object());
    // Each test gets an object's budget: the interpreter restarts its timer for every rule.
    engine.set_execution_timer_config(budget::timer(settings.object_budget));
    let (first, first_name, _) = tests[0];
    let _ = engine.eval_query(format!("{}.{first_name}", first.reference), false);
    Ok(tests
        .par_iter()
        .map_init(
            || engine.clone(),
            |engine, (module, name, line)| {
                let location = Location {
                    file: module.file.clone(),
                    line: Some(*line),
                    column: None,
                };
                let path = format!("{}.{name}", module.package);
                let shown = loaded.test_names.get(&path).unwrap_or(&path);
                let base = Outcome::new(Stage::Policy, TEST, Status::Passed)
                    .subject(shown.clone())
                    .location(location);
                if name.starts_with("todo_") {
                    return Outcome {
                        status: Status::Skipped,
                        ..base
                    }
                    .message("marked todo");
                }
                match engine.eval_rule(format!("{}.{name}", module.reference)) {
                    Ok(Value::Bool(true)) => base,
                    Ok(Value::Undefined) => Outcome {
                        status: Status::Failed,
                        ..base
                    }
                    .message("test failed: undefined (a condition in its body does not hold)"),
                    Ok(other) => Outcome {
                        status: Status::Failed,
                        ..base
                    }
                    .message(format!(
                        "test failed: evaluated to {}",
                        other
                            .to_json_str()
                            .unwrap_or_else(|_| "a non-true value".into())
                    )),
                    Err(e)
                        if e.downcast_ref::<regorus::LimitError>().is_some_and(|l| {
                            matches!(l, regorus::LimitError::TimeLimitExceeded { .. })
                        }) =>
                    {
                        Outcome {
                            status: Status::Error,
                            ..base
                        }
                        .message(budget::over_budget(settings.object_budget, "the test"))
                    }
                    Err(e) => {
                        let text = e.to_string();
                        let (message, _) = crate::policy::rego::problem::engine_error(&text);
                        Outcome {
                            status: Status::Error,
                            ..base
                        }
                        .message(format!("test error: {message}"))
                        .detail(text.trim_matches('\n').to_owned())
                    }
                }
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verify_that_would_run_nothing_says_why_by_kind() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let nothing = Settings::default();
        assert!(matches!(
            run(&root, &nothing),
            Err(VerifyError::NoDirectories)
        ));
        let packs_only = Settings {
            packs: vec!["security".to_owned()],
            ..Settings::default()
        };
        assert!(matches!(
            run(&root, &packs_only),
            Err(VerifyError::OnlyPacks { packs }) if packs == "security"
        ));
        std::fs::write(
            root.join("p.rego"),
            "package main\nimport rego.v1\ndeny contains \"x\" if false\n",
        )
        .unwrap();
        let without_tests = Settings {
            dirs: vec![root.clone()],
            ..Settings::default()
        };
        assert!(matches!(
            run(&root, &without_tests),
            Err(VerifyError::NoTests { .. })
        ));
    }
}
