//! Edits of a module's text by the places regorus' parser gives its nodes. A node's span is
//! not always its whole text (a string's span leaves out its quotes, so an expression that
//! ends with a string ends one byte early): [`extent`] finds the whole of it.

use regorus::unstable::{Expr, Literal, LiteralStmt};

/// Byte offsets `[start, end)` into a module's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Range {
    pub start: usize,
    pub end: usize,
}

impl Range {
    fn union(self, other: Range) -> Range {
        Range {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// Text to put in place of a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Edit {
    pub range: Range,
    pub text: String,
}

/// The whole text of an expression: its span and every part's, a string with its quotes.
pub(super) fn extent(text: &str, expr: &Expr) -> Range {
    let span = expr.span();
    let mut range = Range {
        start: span.start as usize,
        end: span.end as usize,
    };
    // The lexer gives a string the place of its contents: the quotes are one byte each.
    if matches!(expr, Expr::String { .. } | Expr::RawString { .. }) {
        range.start = range.start.saturating_sub(1);
        range.end = (range.end + 1).min(text.len());
    }
    for child in children(expr) {
        range = range.union(extent(text, child));
    }
    range
}

/// The whole text of a statement: the literal, its expressions and its `with` modifiers.
pub(super) fn statement_extent(text: &str, stmt: &LiteralStmt) -> Range {
    let mut range = Range {
        start: stmt.span.start as usize,
        end: stmt.span.end as usize,
    };
    let exprs: Vec<&Expr> = match &stmt.literal {
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
    for expr in exprs {
        range = range.union(extent(text, expr));
    }
    for modifier in &stmt.with_mods {
        range = range.union(Range {
            start: modifier.span.start as usize,
            end: modifier.span.end as usize,
        });
        range = range.union(extent(text, &modifier.r#as));
    }
    range
}

/// The text of `range` with the edits that lie inside it made.
pub(super) fn render(text: &str, range: Range, edits: &[Edit]) -> String {
    let mut inside: Vec<&Edit> = edits
        .iter()
        .filter(|e| e.range.start >= range.start && e.range.end <= range.end)
        .collect();
    // An insertion goes before a replacement that starts where it is.
    inside.sort_by_key(|e| (e.range.start, e.range.end != e.range.start));
    let mut out = String::new();
    let mut at = range.start;
    for edit in inside {
        if edit.range.start < at {
            // Inside an edit already made: it took this one in.
            continue;
        }
        out.push_str(&text[at..edit.range.start]);
        out.push_str(&edit.text);
        at = edit.range.end;
    }
    out.push_str(&text[at..range.end]);
    out
}

/// The whole text with every edit made (the edits do not overlap).
pub(super) fn apply(text: &str, edits: &[Edit]) -> String {
    render(
        text,
        Range {
            start: 0,
            end: text.len(),
        },
        edits,
    )
}

/// The expressions directly inside one (comprehensions' queries excepted).
pub(super) fn children(expr: &Expr) -> Vec<&Expr> {
    match expr {
        Expr::Array { items, .. } | Expr::Set { items, .. } => {
            items.iter().map(|i| i.as_ref()).collect()
        }
        Expr::Object { fields, .. } => fields
            .iter()
            .flat_map(|(_, k, v)| [k.as_ref(), v.as_ref()])
            .collect(),
        Expr::ArrayCompr { term, .. } | Expr::SetCompr { term, .. } => vec![term.as_ref()],
        Expr::ObjectCompr { key, value, .. } => vec![key.as_ref(), value.as_ref()],
        Expr::Call { fcn, params, .. } => std::iter::once(fcn.as_ref())
            .chain(params.iter().map(|p| p.as_ref()))
            .collect(),
        Expr::UnaryExpr { expr, .. } | Expr::RefDot { refr: expr, .. } => vec![expr.as_ref()],
        Expr::RefBrack { refr, index, .. } => vec![refr.as_ref(), index.as_ref()],
        Expr::BinExpr { lhs, rhs, .. }
        | Expr::BoolExpr { lhs, rhs, .. }
        | Expr::ArithExpr { lhs, rhs, .. }
        | Expr::AssignExpr { lhs, rhs, .. } => vec![lhs.as_ref(), rhs.as_ref()],
        Expr::Membership {
            key,
            value,
            collection,
            ..
        } => key
            .iter()
            .map(|k| k.as_ref())
            .chain([value.as_ref(), collection.as_ref()])
            .collect(),
        _ => Vec::new(),
    }
}
