//! What the eager rewrite asks of a rule's syntax tree: where a name is indexed, which
//! expressions a statement holds, which names a statement or pattern declares.

use std::collections::HashSet;

use regorus::unstable::{AssignOp, Expr, Literal, LiteralStmt, Query, RuleHead};

use super::super::text::{Edit, Range, children};

/// Where `name` stands in a reference's brackets in `expr`, comprehensions included.
/// The key of a multi-value rule when it is a literal: `contains "m"`, or in v0 the
/// `"m"` of `deny["m"]` without a value.
pub(super) fn literal_set_key(head: &RuleHead, v1: bool) -> Option<&Expr> {
    let key = match head {
        RuleHead::Set { key: Some(key), .. } => key.as_ref(),
        RuleHead::Compr {
            refr, assign: None, ..
        } if !v1 => match refr.as_ref() {
            Expr::RefBrack {
                refr: base, index, ..
            } if matches!(base.as_ref(), Expr::Var { .. }) => index.as_ref(),
            _ => return None,
        },
        _ => return None,
    };
    matches!(
        key,
        Expr::String { .. }
            | Expr::RawString { .. }
            | Expr::Bool { .. }
            | Expr::Null { .. }
            | Expr::Number { .. }
    )
    .then_some(key)
}

pub(super) fn index_places(expr: &Expr, name: &str, out: &mut Vec<Range>) {
    match expr {
        Expr::RefBrack { refr, index, .. } => {
            if let Expr::Var { span, .. } = index.as_ref()
                && span.text() == name
            {
                out.push(Range {
                    start: span.start as usize,
                    end: span.end as usize,
                });
            } else {
                index_places(index, name, out);
            }
            index_places(refr, name, out);
        }
        Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
            index_places(term, name, out);
            for stmt in &query.stmts {
                for e in statement_exprs(stmt) {
                    index_places(e, name, out);
                }
            }
        }
        Expr::ObjectCompr {
            key, value, query, ..
        } => {
            index_places(key, name, out);
            index_places(value, name, out);
            for stmt in &query.stmts {
                for e in statement_exprs(stmt) {
                    index_places(e, name, out);
                }
            }
        }
        other => {
            for child in children(other) {
                index_places(child, name, out);
            }
        }
    }
}

/// Does a comprehension or `every` in this statement (at any depth) read `input`?
pub(super) fn nested_query_reads_input(stmt: &LiteralStmt) -> bool {
    fn in_query(query: &Query) -> bool {
        query
            .stmts
            .iter()
            .any(|s| statement_exprs(s).into_iter().any(reads_input))
    }
    fn reads_input(expr: &Expr) -> bool {
        match expr {
            Expr::Var { span, .. } => span.text() == "input",
            Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
                reads_input(term) || in_query(query)
            }
            Expr::ObjectCompr {
                key, value, query, ..
            } => reads_input(key) || reads_input(value) || in_query(query),
            other => children(other).into_iter().any(reads_input),
        }
    }
    fn nested(expr: &Expr) -> bool {
        match expr {
            Expr::ArrayCompr { .. } | Expr::SetCompr { .. } | Expr::ObjectCompr { .. } => {
                reads_input(expr)
            }
            other => children(other).into_iter().any(nested),
        }
    }
    if let Literal::Every { query, .. } = &stmt.literal
        && in_query(query)
    {
        return true;
    }
    statement_exprs(stmt).into_iter().any(nested)
}

/// The expressions of a statement (its `with` modifiers' included).
pub(super) fn statement_exprs(stmt: &LiteralStmt) -> Vec<&Expr> {
    let mut exprs: Vec<&Expr> = match &stmt.literal {
        Literal::SomeVars { .. } => Vec::new(),
        Literal::SomeIn {
            key,
            value,
            collection,
            ..
        } => key
            .iter()
            .map(|k| k.as_ref())
            .chain([value.as_ref(), collection.as_ref()])
            .collect(),
        Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => vec![expr.as_ref()],
        Literal::Every { domain, .. } => vec![domain.as_ref()],
    };
    for modifier in &stmt.with_mods {
        exprs.push(&modifier.refr);
        exprs.push(&modifier.r#as);
    }
    exprs
}

/// Two sets of edits as one, sorted by position.
pub(super) fn merged(a: &[Edit], b: &[Edit]) -> Vec<Edit> {
    let mut all: Vec<Edit> = a.iter().chain(b).cloned().collect();
    all.sort_by_key(|e| (e.range.start, e.range.end != e.range.start));
    all
}

/// Calls and operators: what OPA's parser makes a call term of.
pub(super) fn is_call(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::Call { .. }
            | Expr::ArithExpr { .. }
            | Expr::BinExpr { .. }
            | Expr::BoolExpr { .. }
            | Expr::Membership { .. }
            | Expr::UnaryExpr { .. }
    )
}

/// The name a reference starts from (`input` of `input.a[0]`).
pub(super) fn root_name(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Var { span, .. } => Some(span.text()),
        Expr::RefDot { refr, .. } | Expr::RefBrack { refr, .. } => root_name(refr),
        _ => None,
    }
}

/// `a.b.c` as written, for a reference made of names only.
pub(super) fn plain_path(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Var { span, .. } => Some(span.text().to_owned()),
        Expr::RefDot { refr, field, .. } => {
            Some(format!("{}.{}", plain_path(refr)?, field.0.text()))
        }
        _ => None,
    }
}

/// The names a statement declares for its query: `:=`'s left side, `some x`, `some k, v in`.
pub(super) fn declared_names(stmt: &LiteralStmt, out: &mut HashSet<String>) {
    match &stmt.literal {
        Literal::SomeVars { vars, .. } => out.extend(vars.iter().map(|v| v.text().to_owned())),
        Literal::SomeIn { key, value, .. } => {
            for pattern in key.iter().chain([value]) {
                pattern_names(pattern, out);
            }
        }
        Literal::Expr { expr, .. } => {
            if let Expr::AssignExpr {
                op: AssignOp::ColEq,
                lhs,
                ..
            } = expr.as_ref()
            {
                pattern_names(lhs, out);
            }
        }
        _ => {}
    }
}

/// The variables of a pattern in the order they are written.
pub(super) fn pattern_order(pattern: &Expr, out: &mut Vec<String>) {
    match pattern {
        Expr::Var { span, .. } => out.push(span.text().to_owned()),
        Expr::Array { items, .. } => items.iter().for_each(|i| pattern_order(i, out)),
        Expr::Object { fields, .. } => fields.iter().for_each(|(_, _, v)| pattern_order(v, out)),
        _ => {}
    }
}

/// The variables of a pattern (`x`, `[x, y]`, `{"k": v}`).
pub(super) fn pattern_names(pattern: &Expr, out: &mut HashSet<String>) {
    match pattern {
        Expr::Var { span, .. } => {
            out.insert(span.text().to_owned());
        }
        Expr::Array { items, .. } => items.iter().for_each(|i| pattern_names(i, out)),
        Expr::Object { fields, .. } => fields.iter().for_each(|(_, _, v)| pattern_names(v, out)),
        _ => {}
    }
}
