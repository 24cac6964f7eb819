//! The one walk over a Rego rule's syntax tree that the analyses share: every expression of
//! a rule, nested ones included, in source order.

use regorus::unstable::{Expr, Literal, Query, Rule as AstRule, RuleHead};

/// Every expression of a rule, nested ones included: its head (reference, key, value,
/// arguments), every body and `else`, `with` modifiers, comprehensions, `every` and
/// `some ... in`.
pub(crate) fn each_expression(rule: &AstRule, visit: &mut dyn FnMut(&Expr)) {
    match rule {
        AstRule::Spec { head, bodies, .. } => {
            match head {
                RuleHead::Compr { refr, assign, .. } => {
                    walk_expression(refr, visit);
                    if let Some(assign) = assign {
                        walk_expression(&assign.value, visit);
                    }
                }
                RuleHead::Set { refr, key, .. } => {
                    walk_expression(refr, visit);
                    if let Some(key) = key {
                        walk_expression(key, visit);
                    }
                }
                RuleHead::Func {
                    refr, args, assign, ..
                } => {
                    walk_expression(refr, visit);
                    for arg in args {
                        walk_expression(arg, visit);
                    }
                    if let Some(assign) = assign {
                        walk_expression(&assign.value, visit);
                    }
                }
            }
            for body in bodies {
                if let Some(assign) = &body.assign {
                    walk_expression(&assign.value, visit);
                }
                walk_query(&body.query, visit);
            }
        }
        AstRule::Default {
            refr, args, value, ..
        } => {
            walk_expression(refr, visit);
            for arg in args {
                walk_expression(arg, visit);
            }
            walk_expression(value, visit);
        }
    }
}

fn walk_query(query: &Query, visit: &mut dyn FnMut(&Expr)) {
    for stmt in &query.stmts {
        for modifier in &stmt.with_mods {
            walk_expression(&modifier.refr, visit);
            walk_expression(&modifier.r#as, visit);
        }
        match &stmt.literal {
            Literal::SomeVars { .. } => {}
            Literal::SomeIn {
                key,
                value,
                collection,
                ..
            } => {
                if let Some(key) = key {
                    walk_expression(key, visit);
                }
                walk_expression(value, visit);
                walk_expression(collection, visit);
            }
            Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => {
                walk_expression(expr, visit)
            }
            Literal::Every { domain, query, .. } => {
                walk_expression(domain, visit);
                walk_query(query, visit);
            }
        }
    }
}

fn walk_expression(expr: &Expr, visit: &mut dyn FnMut(&Expr)) {
    visit(expr);
    match expr {
        Expr::String { .. }
        | Expr::RawString { .. }
        | Expr::Number { .. }
        | Expr::Bool { .. }
        | Expr::Null { .. }
        | Expr::Var { .. } => {}
        Expr::Array { items, .. } | Expr::Set { items, .. } => {
            for item in items {
                walk_expression(item, visit);
            }
        }
        Expr::Object { fields, .. } => {
            for (_, key, value) in fields {
                walk_expression(key, visit);
                walk_expression(value, visit);
            }
        }
        Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
            walk_expression(term, visit);
            walk_query(query, visit);
        }
        Expr::ObjectCompr {
            key, value, query, ..
        } => {
            walk_expression(key, visit);
            walk_expression(value, visit);
            walk_query(query, visit);
        }
        Expr::Call { fcn, params, .. } => {
            // The function's own reference may hold index expressions (`f[x]` is no call
            // OPA accepts, but its parts are expressions all the same).
            walk_expression(fcn, visit);
            for param in params {
                walk_expression(param, visit);
            }
        }
        Expr::UnaryExpr { expr, .. } | Expr::RefDot { refr: expr, .. } => {
            walk_expression(expr, visit)
        }
        Expr::RefBrack { refr, index, .. } => {
            walk_expression(refr, visit);
            walk_expression(index, visit);
        }
        Expr::BinExpr { lhs, rhs, .. }
        | Expr::BoolExpr { lhs, rhs, .. }
        | Expr::ArithExpr { lhs, rhs, .. }
        | Expr::AssignExpr { lhs, rhs, .. } => {
            walk_expression(lhs, visit);
            walk_expression(rhs, visit);
        }
        Expr::Membership {
            key,
            value,
            collection,
            ..
        } => {
            if let Some(key) = key {
                walk_expression(key, visit);
            }
            walk_expression(value, visit);
            walk_expression(collection, visit);
        }
    }
}
