//! What a conftest rule's value means: the messages of `deny`/`violation`/`warn` (strings,
//! or objects with `msg`) and the rule names an `exception` rule excepts. Kept apart from
//! the engine so that the conventions are tested on plain JSON.

use std::collections::BTreeSet;

use serde_json::Value;

/// A rule's verdict for one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RuleResult {
    /// Undefined, empty, or `false`: nothing to report.
    Clean,
    /// The messages the rule produced, in the engine's (sorted) order.
    Messages(Vec<String>),
}

/// Reads a `deny`/`violation`/`warn` value. Anything that is not a collection of strings or
/// `{"msg": ...}` objects (or a boolean) is an error: a policy that means something else
/// must not pass by accident.
pub(crate) fn verdict(rule: &str, value: Option<&Value>) -> Result<RuleResult, String> {
    let items = match value {
        None | Some(Value::Null) => return Ok(RuleResult::Clean),
        Some(Value::Bool(false)) => return Ok(RuleResult::Clean),
        Some(Value::Bool(true)) => {
            return Ok(RuleResult::Messages(vec![format!("{rule} is true")]));
        }
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(format!(
                "rule `{rule}` must be a set of messages, but is {}",
                describe(other)
            ));
        }
    };
    if items.is_empty() {
        return Ok(RuleResult::Clean);
    }
    let mut messages = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::String(text) => messages.push(text.clone()),
            Value::Object(fields) => match fields.get("msg") {
                Some(Value::String(text)) => messages.push(text.clone()),
                _ => {
                    return Err(format!(
                        "rule `{rule}` produced an object without a string `msg`"
                    ));
                }
            },
            other => {
                return Err(format!(
                    "rule `{rule}` produced {}, not a message (a string or an object with `msg`)",
                    describe(other)
                ));
            }
        }
    }
    Ok(RuleResult::Messages(messages))
}

/// The rule names an `exception` value excepts: conftest's `exception contains rules if
/// {...}` yields sets (or arrays) of names, so both nesting levels are accepted.
pub(crate) fn exceptions(value: Option<&Value>) -> Result<BTreeSet<String>, String> {
    let mut names = BTreeSet::new();
    let Some(value) = value else {
        return Ok(names);
    };
    let Value::Array(items) = value else {
        return Err(format!(
            "rule `exception` must be a set of rule-name lists, but is {}",
            describe(value)
        ));
    };
    for item in items {
        match item {
            Value::String(name) => {
                names.insert(name.clone());
            }
            Value::Array(inner) => {
                for name in inner {
                    let Value::String(name) = name else {
                        return Err(format!(
                            "rule `exception` produced {}, not a rule name",
                            describe(name)
                        ));
                    };
                    names.insert(name.clone());
                }
            }
            other => {
                return Err(format!(
                    "rule `exception` produced {}, not a list of rule names",
                    describe(other)
                ));
            }
        }
    }
    Ok(names)
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_and_msg_objects_are_messages() {
        let value = json!(["a", {"msg": "b", "details": {"x": 1}}]);
        assert_eq!(
            verdict("deny", Some(&value)),
            Ok(RuleResult::Messages(vec!["a".into(), "b".into()]))
        );
    }

    #[test]
    fn undefined_empty_and_false_are_clean() {
        assert_eq!(verdict("deny", None), Ok(RuleResult::Clean));
        assert_eq!(verdict("deny", Some(&json!([]))), Ok(RuleResult::Clean));
        assert_eq!(verdict("deny", Some(&json!(false))), Ok(RuleResult::Clean));
    }

    #[test]
    fn true_is_a_failure_with_a_message() {
        assert_eq!(
            verdict("deny_x", Some(&json!(true))),
            Ok(RuleResult::Messages(vec!["deny_x is true".into()]))
        );
    }

    #[test]
    fn other_shapes_are_errors() {
        assert!(verdict("deny", Some(&json!([1]))).is_err());
        assert!(verdict("deny", Some(&json!([{"message": "x"}]))).is_err());
        assert!(verdict("deny", Some(&json!("x"))).is_err());
    }

    #[test]
    fn exception_names_flatten() {
        let value = json!([["a", "b"], "c"]);
        let names = exceptions(Some(&value)).unwrap();
        assert_eq!(names.into_iter().collect::<Vec<_>>(), vec!["a", "b", "c"]);
        assert!(exceptions(Some(&json!([[1]]))).is_err());
        assert!(exceptions(None).unwrap().is_empty());
    }
}
