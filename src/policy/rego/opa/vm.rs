//! Constructs regorus' virtual machine evaluates otherwise than OPA and that no rewrite of
//! the text mends: policies holding one run on the interpreter instead (the policy stage's
//! existing fallback, with a warning naming the place), never with another verdict.
//!
//! - **An iteration in an `else` chain**: when a body of a rule or function with `else`
//!   iterates (`some x in xs`, `xs[_]`, `xs[i]` over an unbound `i`) and finds nothing, the
//!   virtual machine ends the whole chain undefined; OPA goes on to the next `else`.

use std::collections::HashSet;

use regorus::Engine;
use regorus::unstable::{AssignOp, Expr, Literal, Query, Rule, RuleHead};

use super::text::children;

/// The first construct of `engine`'s modules that the virtual machine would evaluate
/// otherwise than OPA, as `file:line: why`.
pub fn unsupported(engine: &mut Engine) -> Option<String> {
    let modules = engine.get_modules().clone();
    for module in modules.iter() {
        let file = module.package.span.source.get_path().clone();
        for rule in &module.policy {
            let Rule::Spec { head, bodies, span } = rule.as_ref() else {
                continue;
            };
            if !bodies.iter().any(|b| b.is_else) {
                continue;
            }
            let mut arguments = HashSet::new();
            if let RuleHead::Func { args, .. } = head {
                for arg in args {
                    pattern_names(arg, &mut arguments);
                }
            }
            for body in bodies {
                if iterates(&body.query, &arguments) {
                    return Some(format!(
                        "{file}:{}: a body of this rule's `else` chain iterates, and regorus' virtual machine ends the chain where the iteration finds nothing (OPA goes on to the next `else`)",
                        span.line
                    ));
                }
            }
        }
    }
    None
}

/// Does a body iterate at its own level (not inside a comprehension)?
fn iterates(query: &Query, arguments: &HashSet<String>) -> bool {
    let mut bound = arguments.clone();
    for stmt in &query.stmts {
        match &stmt.literal {
            Literal::SomeIn { .. } | Literal::SomeVars { .. } => return true,
            Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => {
                if let Expr::AssignExpr {
                    op: AssignOp::ColEq | AssignOp::Eq,
                    lhs,
                    rhs,
                    ..
                } = expr.as_ref()
                {
                    if free_index(rhs, &bound) {
                        return true;
                    }
                    pattern_names(lhs, &mut bound);
                    if let Expr::Var { span, .. } = rhs.as_ref() {
                        bound.insert(span.text().to_owned());
                    }
                } else if free_index(expr, &bound) {
                    return true;
                }
            }
            Literal::Every { .. } => {}
        }
    }
    false
}

/// A reference in `expr` (outside comprehensions) with `_` or an unbound variable in its
/// brackets.
fn free_index(expr: &Expr, bound: &HashSet<String>) -> bool {
    match expr {
        Expr::ArrayCompr { .. } | Expr::SetCompr { .. } | Expr::ObjectCompr { .. } => false,
        Expr::RefBrack { refr, index, .. } => {
            let free = match index.as_ref() {
                Expr::Var { span, .. } => span.text() == "_" || !bound.contains(span.text()),
                _ => false,
            };
            free || free_index(refr, bound) || free_index(index, bound)
        }
        other => children(other).into_iter().any(|c| free_index(c, bound)),
    }
}

fn pattern_names(pattern: &Expr, out: &mut HashSet<String>) {
    match pattern {
        Expr::Var { span, .. } => {
            out.insert(span.text().to_owned());
        }
        Expr::Array { items, .. } => items.iter().for_each(|i| pattern_names(i, out)),
        Expr::Object { fields, .. } => fields.iter().for_each(|(_, _, v)| pattern_names(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unsupported_in(rules: &str) -> Option<String> {
        let mut engine = Engine::new();
        engine
            .add_policy(
                "m.rego".into(),
                format!("package p\nimport rego.v1\n{rules}"),
            )
            .expect("module parses");
        unsupported(&mut engine)
    }

    #[test]
    fn an_iteration_in_an_else_chain_is_left_to_the_interpreter() {
        let why = unsupported_in("r := 1 if { some c in input.s } else := 3\n").unwrap();
        assert!(why.starts_with("m.rego:3: "), "{why}");
        assert!(unsupported_in("r := 1 if { input.s[_] == 1 } else := 3\n").is_some());
        assert!(unsupported_in("f(x) := 1 if { x[i] == 1 } else := 3\n").is_some());
        // A lookup by a bound name, a comprehension's own iteration, no `else`: fine.
        assert_eq!(
            unsupported_in("f(x) := 1 if { y := x[0]; input.m[y] } else := 3\n"),
            None
        );
        assert_eq!(
            unsupported_in("r := 1 if { count([c | some c in input.s]) > 0 } else := 3\n"),
            None
        );
        assert_eq!(unsupported_in("r if { some c in input.s }\n"), None);
    }
}
