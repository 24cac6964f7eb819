//! The policy stage's outcomes: about an object, about the policies themselves, and the
//! verdicts of one object's packages turned into one outcome per rule.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::evaluate::results::RuleResult;
use super::load::{Loaded, Package, RuleDecl};
use super::rego::modules::RuleKind;
use super::rego::problem::{self, Problem};
use crate::model::object::Target;
use crate::model::outcome::{Location, ObjectId, Outcome, Stage, Status};

/// Check name for problems with the policies themselves (parse errors, missing builtins).
pub const LOAD: &str = "load";

/// Check name of the outcome that says no policy is configured.
pub const NO_POLICIES_CHECK: &str = "configured";

/// Why no policy runs, and what to do about it.
pub const NO_POLICIES: &str =
    "no policies configured: select built-in packs with `[policy] packs = [...]` or add policies/";

/// The policy stage's one outcome when nothing is configured to run: a warning, so that a
/// gate without policies says so in every report instead of looking as if they passed.
pub fn no_policies() -> Outcome {
    Outcome::new(Stage::Policy, NO_POLICIES_CHECK, Status::Warning)
        .subject(crate::model::repository::CONFIG_FILE.to_owned())
        .message(NO_POLICIES)
        .location(Location::file(crate::model::repository::CONFIG_FILE))
}

/// The outcomes of one object's verdicts: one per rule of every package.
pub(crate) fn verdict_outcomes(
    loaded: &Loaded,
    target: &Target,
    verdicts: Vec<PackageVerdicts>,
    printed: &Printed,
) -> Vec<Outcome> {
    let id = Arc::new(target.id.clone());
    let mut outcomes = Vec::new();
    // The rules that passed with nothing to say: counted in one outcome.
    let mut passed = Vec::new();
    for (package, verdict) in loaded.packages.iter().zip(verdicts) {
        let rules = match verdict {
            PackageVerdicts::Failed(text) => {
                outcomes.push(evaluation_error(loaded, package, None, target, &text));
                continue;
            }
            PackageVerdicts::OverBudget(message) => {
                outcomes.push(
                    policy_outcome_of(target, &id, &package.name, Status::Error).message(message),
                );
                continue;
            }
            PackageVerdicts::Rules(rules) => rules,
        };
        for (i, (rule, (verdict, excepted))) in package.rules.iter().zip(rules).enumerate() {
            // What the package's `exception` rule printed goes with its first rule.
            let exception = package.exception_path.as_ref().filter(|_| i == 0);
            let prints: Vec<&String> = exception
                .into_iter()
                .chain([&rule.path])
                .filter_map(|path| printed.get(path))
                .flatten()
                .collect();
            if prints.is_empty() && matches!(verdict, Ok(RuleResult::Clean)) {
                passed.push(rule.check.clone());
                continue;
            }
            let base = policy_outcome_of(target, &id, &rule.check, Status::Passed);
            let outcome = match verdict {
                Err(problem) if problem.contains("\n-->") => {
                    evaluation_error(loaded, package, Some(rule), target, &problem)
                }
                Err(problem) => Outcome {
                    status: Status::Error,
                    ..base
                }
                .message(problem)
                .detail(rule_place(rule)),
                Ok(RuleResult::Clean) => base,
                Ok(RuleResult::Messages(messages)) if excepted => Outcome {
                    status: Status::Skipped,
                    ..base
                }
                .messages(messages)
                .message(format!(
                    "excepted by an `exception` rule in package {}",
                    package.name
                )),
                Ok(RuleResult::Messages(messages)) => Outcome {
                    status: match rule.kind {
                        RuleKind::Deny => Status::Failed,
                        RuleKind::Warn => Status::Warning,
                    },
                    ..base
                }
                .messages(messages)
                .detail(rule_place(rule)),
            };
            outcomes.push(with_prints(outcome, &prints));
        }
    }
    if !passed.is_empty() {
        let subject = about_object(target, &id, "", Status::Passed, target.subject.clone());
        outcomes.push(Outcome::passes(subject, passed));
    }
    outcomes
}

/// What `print` wrote while rules were evaluated for one object, by rule path. It is kept
/// with the rule's result (never written to the terminal by the engine) so that it goes
/// through the redaction of Secret values like every message.
pub(crate) type Printed = HashMap<String, Vec<String>>;

/// At most this many lines of print output are kept per result: a `print` in a loop must
/// not drown the report.
const MAX_PRINT_LINES: usize = 50;

/// `outcome` with the print output of its rule (each line `print: <file>:<line>: <text>`)
/// after its detail.
pub(crate) fn with_prints(mut outcome: Outcome, prints: &[&String]) -> Outcome {
    if prints.is_empty() {
        return outcome;
    }
    let mut text = outcome.detail.take().unwrap_or_default();
    for line in prints.iter().take(MAX_PRINT_LINES) {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str("print: ");
        text.push_str(line);
    }
    if prints.len() > MAX_PRINT_LINES {
        text.push_str(&format!(
            "\nprint: {} more lines not shown",
            prints.len() - MAX_PRINT_LINES
        ));
    }
    outcome.detail = Some(text);
    outcome
}

/// One outcome of the policy stage about one object.
pub fn policy_outcome(target: &Target, check: &str, status: Status) -> Outcome {
    policy_outcome_of(target, &Arc::new(target.id.clone()), check, status)
}

/// [`policy_outcome`] with the object's identity already shared, for the many rules about
/// the same object.
pub(crate) fn policy_outcome_of(
    target: &Target,
    id: &Arc<ObjectId>,
    check: &str,
    status: Status,
) -> Outcome {
    about_object(
        target,
        id,
        check,
        status,
        format!("{} {}", target.subject, check),
    )
}

/// An outcome of the policy stage about `target`, named `subject`.
fn about_object(
    target: &Target,
    id: &Arc<ObjectId>,
    check: &str,
    status: Status,
    subject: String,
) -> Outcome {
    let mut outcome = Outcome::new(Stage::Policy, check, status)
        .subject(subject)
        .object(id.clone())
        .location(target.location.clone());
    outcome.cluster = target.cluster.map(str::to_owned);
    outcome.entry = target.entry.map(Path::to_path_buf);
    outcome
}

fn rule_place(rule: &RuleDecl) -> String {
    format!(
        "rule {} at {}:{}",
        rule.name,
        rule.file.display(),
        rule.line
    )
}

/// A problem with the policies, as an outcome that fails the run.
pub fn load_outcome(problem: Problem) -> Outcome {
    let location = Location {
        file: problem.file.clone(),
        line: problem.line,
        column: problem.column,
    };
    let mut outcome = Outcome::new(Stage::Policy, LOAD, Status::Error)
        .subject(location.to_string())
        .message(problem.message)
        .location(location);
    outcome.detail = problem.detail;
    outcome
}

/// An evaluation error for one object, naming the module, line and the rule around it. It is
/// the result of `evaluated` when one rule was evaluated, else of the package.
pub(crate) fn evaluation_error(
    loaded: &Loaded,
    package: &Package,
    evaluated: Option<&RuleDecl>,
    target: &Target,
    text: &str,
) -> Outcome {
    let (message, (line, column)) = problem::engine_error(text);
    let file = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("--> "))
        .and_then(|place| place.rsplitn(3, ':').nth(2))
        .map(PathBuf::from);
    let rule = file.as_ref().and_then(|file| {
        loaded
            .modules
            .iter()
            .filter(|m| &m.file == file)
            .flat_map(|m| m.rules.iter())
            .filter(|(_, start)| *start <= line)
            .max_by_key(|(_, start)| *start)
            .map(|(name, _)| name.clone())
    });
    let check = match (evaluated, &rule) {
        (Some(evaluated), _) => evaluated.check.to_string(),
        (None, Some(rule)) if package.rules.iter().any(|r| &r.name == rule) => {
            format!("{}.{rule}", package.name)
        }
        _ => package.name.clone(),
    };
    let place = match &file {
        Some(file) => format!("{}:{line}:{column}", file.display()),
        None => "policy".to_owned(),
    };
    policy_outcome(target, &check, Status::Error)
        .message(format!(
            "evaluation failed in {place}{}: {message}",
            rule.map(|r| format!(" (rule {r})")).unwrap_or_default()
        ))
        .detail(text.trim_matches('\n').to_owned())
}

/// A package's result for one object: per rule, the verdict and whether an `exception`
/// rule excepts it; or the engine's error text.
#[derive(Clone)]
pub(crate) enum PackageVerdicts {
    Rules(Vec<(Result<RuleResult, String>, bool)>),
    Failed(String),
    /// The object's policy budget ran out before the package was decided: never remembered.
    OverBudget(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn print_output_follows_the_detail_and_is_bounded() {
        let lines: Vec<String> = (0..MAX_PRINT_LINES + 3)
            .map(|i| format!("p.rego:1: {i}"))
            .collect();
        let outcome = Outcome::new(Stage::Policy, "main.deny", Status::Passed).detail("rule deny");
        let outcome = with_prints(outcome, &lines.iter().collect::<Vec<_>>());
        let detail = outcome.detail.unwrap();
        let shown: Vec<&str> = detail.lines().collect();
        assert_eq!(shown[0], "rule deny");
        assert_eq!(shown[1], "print: p.rego:1: 0");
        assert_eq!(shown.len(), MAX_PRINT_LINES + 2);
        assert_eq!(shown[MAX_PRINT_LINES + 1], "print: 3 more lines not shown");
        let untouched = Outcome::new(Stage::Policy, "main.deny", Status::Passed);
        assert_eq!(with_prints(untouched, &[]).detail, None);
    }
}
