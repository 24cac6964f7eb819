//! Which kinds a rule can report on, read from its syntax tree, so that the interpreter is not
//! asked to evaluate rules that cannot hold for an object. regorus' interpreter spends several
//! microseconds on every rule evaluation even when the body fails at its first statement, and
//! most rules of a pack test the kind first (`input.kind == "Ingress"`, `input.kind in {...}`).
//!
//! The reading is exact, not a heuristic: a rule is limited to a set of kinds only when every
//! body of every definition begins with such a test against string literals, with no `with`
//! modifier, and no `default` gives it a value. For any other kind each body then fails at its
//! first statement — before anything that could raise an error — so the rule is undefined,
//! which is what evaluating it would have reported.

use std::collections::BTreeSet;

use regorus::Value;
use regorus::unstable::{BoolOp, Expr, Literal, Rule as AstRule};

/// The kinds a rule can report on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Kinds {
    /// Any object: the rule is always evaluated.
    #[default]
    Any,
    /// Only objects whose `kind` is one of these strings.
    Only(BTreeSet<String>),
}

impl Kinds {
    /// Whether an object of this kind (`None`: no string `kind`) can get a result.
    pub fn admits(&self, kind: Option<&str>) -> bool {
        match self {
            Kinds::Any => true,
            Kinds::Only(kinds) => kind.is_some_and(|k| kinds.contains(k)),
        }
    }

    /// The kinds of a rule made of the definitions behind `self` and `other`.
    pub fn union(self, other: Kinds) -> Kinds {
        match (self, other) {
            (Kinds::Only(mut a), Kinds::Only(b)) => {
                a.extend(b);
                Kinds::Only(a)
            }
            _ => Kinds::Any,
        }
    }
}

/// The kinds one definition of a rule can report on.
pub fn of_definition(rule: &AstRule) -> Kinds {
    let AstRule::Spec { bodies, .. } = rule else {
        // A default value holds for every object.
        return Kinds::Any;
    };
    if bodies.is_empty() {
        return Kinds::Any;
    }
    let mut kinds = BTreeSet::new();
    for body in bodies {
        let Some(first) = body.query.stmts.first() else {
            return Kinds::Any;
        };
        if !first.with_mods.is_empty() {
            return Kinds::Any;
        }
        let Literal::Expr { expr, .. } = &first.literal else {
            return Kinds::Any;
        };
        match kind_test(expr) {
            Some(tested) => kinds.extend(tested),
            None => return Kinds::Any,
        }
    }
    Kinds::Only(kinds)
}

/// The kinds an expression admits, if it is `input.kind == "K"`, `"K" == input.kind` or
/// `input.kind in` a set or array of string literals.
fn kind_test(expr: &Expr) -> Option<Vec<String>> {
    match expr {
        Expr::BoolExpr {
            op: BoolOp::Eq,
            lhs,
            rhs,
            ..
        } => {
            if is_input_kind(lhs) {
                string_literal(rhs).map(|k| vec![k])
            } else if is_input_kind(rhs) {
                string_literal(lhs).map(|k| vec![k])
            } else {
                None
            }
        }
        Expr::Membership {
            key: None,
            value,
            collection,
            ..
        } if is_input_kind(value) => match collection.as_ref() {
            Expr::Set { items, .. } | Expr::Array { items, .. } => {
                items.iter().map(|item| string_literal(item)).collect()
            }
            _ => None,
        },
        _ => None,
    }
}

/// `input.kind` or `input["kind"]`.
fn is_input_kind(expr: &Expr) -> bool {
    let (refr, field) = match expr {
        Expr::RefDot { refr, field, .. } => (refr, field.1.as_string().ok().cloned()),
        Expr::RefBrack { refr, index, .. } => (refr, string_literal(index).map(Into::into)),
        _ => return false,
    };
    let is_input = matches!(refr.as_ref(), Expr::Var { value, .. } if value.as_string().is_ok_and(|v| v.as_ref() == "input"));
    is_input && field.is_some_and(|f| f.as_ref() == "kind")
}

fn string_literal(expr: &Expr) -> Option<String> {
    match expr {
        Expr::String { value, .. } | Expr::RawString { value, .. } => match value {
            Value::String(s) => Some(s.as_ref().to_owned()),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regorus::Engine;

    /// The kinds of rule `name`, over all its definitions in a v1 module.
    fn kinds_of(source: &str, name: &str) -> Kinds {
        let mut engine = Engine::new();
        engine
            .add_policy(
                "p.rego".into(),
                format!("package p\nimport rego.v1\n{source}"),
            )
            .expect("module parses");
        let module = engine.get_modules()[0].clone();
        module
            .policy
            .iter()
            .filter(|rule| rule_name(rule) == name)
            .map(|rule| of_definition(rule))
            .reduce(Kinds::union)
            .expect("the rule is defined")
    }

    fn rule_name(rule: &AstRule) -> String {
        let refr = match rule {
            AstRule::Spec { head, .. } => match head {
                regorus::unstable::RuleHead::Compr { refr, .. }
                | regorus::unstable::RuleHead::Set { refr, .. }
                | regorus::unstable::RuleHead::Func { refr, .. } => refr,
            },
            AstRule::Default { refr, .. } => refr,
        };
        regorus::unstable::Parser::get_path_ref_components(refr).expect("a path")[0]
            .text()
            .to_owned()
    }

    fn only(kinds: &[&str]) -> Kinds {
        Kinds::Only(kinds.iter().map(|k| k.to_string()).collect())
    }

    #[test]
    fn equality_either_way_round_and_membership_limit_the_kinds() {
        assert_eq!(
            kinds_of(
                r#"deny contains "x" if { input.kind == "Ingress" }"#,
                "deny"
            ),
            only(&["Ingress"])
        );
        assert_eq!(
            kinds_of(
                r#"deny contains "x" if { "Secret" == input["kind"] }"#,
                "deny"
            ),
            only(&["Secret"])
        );
        assert_eq!(
            kinds_of(
                r#"deny contains "x" if { input.kind in {"Pod", "Job"}; input.spec.x }"#,
                "deny"
            ),
            only(&["Job", "Pod"])
        );
        assert_eq!(
            kinds_of(r#"deny contains "x" if { input.kind in ["Pod"] }"#, "deny"),
            only(&["Pod"])
        );
    }

    #[test]
    fn definitions_add_up_and_one_unguarded_definition_opens_the_rule() {
        let two = r#"
deny contains "a" if { input.kind == "Pod" }
deny contains "b" if { input.kind == "Service" }
"#;
        assert_eq!(kinds_of(two, "deny"), only(&["Pod", "Service"]));
        let open = r#"
deny contains "a" if { input.kind == "Pod" }
deny contains "b" if { input.metadata.name == "x" }
"#;
        assert_eq!(kinds_of(open, "deny"), Kinds::Any);
    }

    #[test]
    fn anything_but_a_leading_literal_kind_test_admits_every_kind() {
        for source in [
            // The test is not the first statement: what comes before it runs for every kind.
            r#"deny contains "x" if { input.metadata.name; input.kind == "Pod" }"#,
            r#"deny contains "x" if { not input.kind == "Pod" }"#,
            r#"deny contains "x" if { input.kind != "Pod" }"#,
            r#"deny contains "x" if { input.kind == data.kinds.pod }"#,
            r#"deny contains "x" if { input.kind in data.kinds }"#,
            r#"deny contains "x" if { input.kind in {"Pod", data.kind} }"#,
            r#"deny contains "x" if { input.kind == "Pod" with input as {"kind": "Pod"} }"#,
            r#"deny contains "x" if { input.spec.kind == "Pod" }"#,
            r#"deny contains "x" if { data.input.kind == "Pod" }"#,
            r#"deny contains "x""#,
        ] {
            assert_eq!(kinds_of(source, "deny"), Kinds::Any, "{source}");
        }
    }

    #[test]
    fn a_default_value_or_an_unguarded_else_admits_every_kind() {
        let with_default = r#"
default deny := "no"
deny := "yes" if { input.kind == "Pod" }
"#;
        assert_eq!(kinds_of(with_default, "deny"), Kinds::Any);
        let with_else = r#"
deny := "a" if { input.kind == "Pod" } else := "b" if { input.metadata.name == "x" }
"#;
        assert_eq!(kinds_of(with_else, "deny"), Kinds::Any);
        let guarded_else = r#"
deny := "a" if { input.kind == "Pod" } else := "b" if { input.kind == "Job" }
"#;
        assert_eq!(kinds_of(guarded_else, "deny"), only(&["Job", "Pod"]));
    }

    #[test]
    fn admits_only_string_kinds_of_the_set() {
        let pods = only(&["Pod"]);
        assert!(pods.admits(Some("Pod")));
        assert!(!pods.admits(Some("Service")));
        assert!(!pods.admits(None));
        assert!(Kinds::Any.admits(None));
        assert_eq!(only(&["Pod"]).union(Kinds::Any), Kinds::Any);
    }
}
