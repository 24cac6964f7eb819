//! The safety check's model of a rule: variables told apart as OPA's compiler tells them
//! apart, terms with their names resolved, statements and comprehensions, and what each
//! binds; with the findings the check reports.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use regorus::unstable::{Expr, Literal, LiteralStmt, Query, Span};

/// Something OPA's compiler refuses, where it reports it: `what` is OPA's own wording
/// (`var x is unsafe`), `why` says what to do about it.
#[derive(Debug, Clone)]
pub(super) struct Finding {
    pub(super) what: String,
    pub(super) why: String,
    pub(super) line: u32,
    pub(super) column: u32,
    pub(super) source: regorus::unstable::Source,
}

impl Finding {
    pub(super) fn message(&self) -> String {
        format!(
            "{}: {}; OPA, conftest and Gatekeeper refuse this module",
            self.what, self.why
        )
    }
}

/// Why a variable is unsafe, for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Why {
    /// Nothing binds it and it occurs only inside negations.
    Negated,
    /// Nothing in the body binds it.
    Unbound,
    /// The rule's head uses it, but its body does not mention it.
    Head,
}

impl Why {
    pub(super) fn explain(self) -> &'static str {
        match self {
            Why::Head => "the rule's head uses it, but its body never mentions it",
            Why::Negated => {
                "it occurs only inside a negated expression (`not ...`), which cannot bind it: \
                 bind it before the negation, or test for absence without it \
                 (`not \"ALL\" in object.get(c, [\"securityContext\", \"capabilities\", \"drop\"], [])`)"
            }
            Why::Unbound => {
                "nothing in the body binds it (an assignment, a unification or an iteration)"
            }
        }
    }
}

/// How a name was met in a scope, as OPA's compiler records it when it renames declared
/// variables: a second declaration of a name, or a declaration of a name used before, is
/// refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Occurrence {
    /// Used without being declared.
    Seen,
    /// Declared with `:=`.
    Assigned,
    /// Declared with `some` or `every`.
    Declared,
    /// A function's argument.
    Argument,
}

#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) var: Var,
    pub(super) occurrence: Occurrence,
    pub(super) used: bool,
    pub(super) span: Span,
}

/// The names of one query (a body, a comprehension's, an `every` body).
#[derive(Debug, Default)]
pub(super) struct Scope {
    pub(super) entries: BTreeMap<String, Entry>,
    /// Names declared anywhere in the query: they never refer to a rule of the package.
    pub(super) local_names: HashSet<String>,
}

/// A variable as OPA's compiler tells them apart: by name, except that every declaration
/// (`:=`, `some`, `every`, a function's argument) makes a new one, visible from there on,
/// and every `_` is one of its own.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct Var {
    pub(super) name: String,
    /// 0 for a name nothing declares; otherwise the declaration's (or wildcard's) number.
    pub(super) serial: usize,
}

/// A term with its names resolved; globals and constants are `Known`.
#[derive(Debug)]
pub(super) enum Term {
    Var(Var, Span),
    Known,
    Array(Vec<Term>),
    Object(Vec<(Term, Term)>),
    /// Sets, operators, membership tests: their parts bind nothing by unification.
    Composite(Vec<Term>),
    /// What a reference starts from, and the terms in its brackets.
    Ref(Box<Term>, Vec<Term>),
    /// A call: the function's name and its arguments.
    Call(String, Vec<Term>),
    /// `k, v in xs`.
    Membership(Option<Box<Term>>, Box<Term>, Box<Term>),
    Closure(Closure),
}

/// A comprehension: checked on its own, with the variables safe around it.
#[derive(Debug)]
pub(super) struct Closure {
    /// What it collects (`x` of `[x | ...]`; key and value of an object comprehension).
    pub(super) terms: Vec<Term>,
    pub(super) body: Vec<Statement>,
    /// Every variable it uses, at any depth.
    pub(super) all: BTreeSet<Var>,
}

#[derive(Debug)]
pub(super) enum Form {
    /// `some x`: declares, binds nothing.
    Declare,
    /// An expression, which binds at most the variables in its references' brackets.
    Plain(Term),
    /// `a = b`.
    Unify(Term, Term),
    /// `a := b`: binds the left side from the right one, never the other way round.
    Assign(Term, Term),
    /// `some k, v in xs`, which OPA reads as `v = xs[k]` (with a fresh `k` when none is
    /// given): the value and that reference.
    SomeIn(Term, Term),
    /// `not ...`: binds nothing, needs everything bound elsewhere.
    Not(Term),
    /// `every k, v in xs { ... }`.
    Every {
        bound: Vec<Var>,
        domain: Term,
        body: Vec<Statement>,
        all: BTreeSet<Var>,
    },
}

#[derive(Debug)]
pub(super) struct Statement {
    pub(super) form: Form,
    pub(super) with_values: Vec<Term>,
    pub(super) span: Span,
}

/// Every name in an expression, comprehensions included.
pub(super) fn names_in(expr: &Expr, names: &mut BTreeSet<String>) {
    if let Expr::Var { span, .. } = expr {
        names.insert(span.text().to_owned());
    } else if let Some((terms, query)) = comprehension(expr) {
        terms.into_iter().for_each(|t| names_in(t, names));
        query.stmts.iter().for_each(|s| statement_names(s, names));
    } else {
        sub_expressions(expr)
            .into_iter()
            .for_each(|e| names_in(e, names));
    }
}

pub(super) fn statement_names(stmt: &LiteralStmt, names: &mut BTreeSet<String>) {
    match &stmt.literal {
        Literal::SomeVars { vars, .. } => {
            names.extend(vars.iter().map(|v| v.text().to_owned()));
        }
        Literal::SomeIn {
            key,
            value,
            collection,
            ..
        } => {
            key.iter().for_each(|k| names_in(k, names));
            names_in(value, names);
            names_in(collection, names);
        }
        Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => names_in(expr, names),
        Literal::Every { domain, query, .. } => {
            names_in(domain, names);
            query.stmts.iter().for_each(|s| statement_names(s, names));
        }
    }
    for modifier in &stmt.with_mods {
        names_in(&modifier.r#as, names);
    }
}

/// The names a pattern (`x`, `[a, b]`, `{"k": v}`) declares.
pub(super) fn pattern_names(pattern: &Expr, names: &mut HashSet<String>) {
    let mut spans = Vec::new();
    pattern_spans(pattern, &mut spans);
    names.extend(
        spans
            .iter()
            .map(|s| s.text().to_owned())
            .filter(|name| name != "_"),
    );
}

impl Term {
    /// The terms directly inside this one (none for a comprehension: it is checked on its
    /// own).
    pub(super) fn children(&self) -> Vec<&Term> {
        match self {
            Term::Var(..) | Term::Known | Term::Closure(_) => Vec::new(),
            Term::Array(items) | Term::Composite(items) | Term::Call(_, items) => {
                items.iter().collect()
            }
            Term::Object(fields) => fields.iter().flat_map(|(k, v)| [k, v]).collect(),
            Term::Ref(head, path) => std::iter::once(head.as_ref()).chain(path).collect(),
            Term::Membership(key, value, collection) => key
                .iter()
                .map(|k| k.as_ref())
                .chain([value.as_ref(), collection.as_ref()])
                .collect(),
        }
    }
}

/// Variables of a term outside comprehensions, with where each occurs.
pub(super) fn vars_of<'t>(term: &'t Term, out: &mut Vec<(&'t Var, &'t Span)>) {
    match term {
        Term::Var(var, span) => out.push((var, span)),
        other => other.children().into_iter().for_each(|c| vars_of(c, out)),
    }
}

pub(super) fn var_set(term: &Term) -> BTreeSet<Var> {
    let mut vars = Vec::new();
    vars_of(term, &mut vars);
    vars.into_iter().map(|(v, _)| v.clone()).collect()
}

pub(super) fn all_in(term: &Term, safe: &BTreeSet<Var>, out: &BTreeSet<Var>) -> bool {
    let mut vars = Vec::new();
    vars_of(term, &mut vars);
    vars.iter()
        .all(|(v, _)| safe.contains(*v) || out.contains(*v))
}

pub(super) fn closures_of<'t>(term: &'t Term, out: &mut Vec<&'t Closure>) {
    match term {
        Term::Closure(c) => out.push(c),
        other => other
            .children()
            .into_iter()
            .for_each(|c| closures_of(c, out)),
    }
}

/// What iterating references bind (OPA's output variables of terms): the variables in the
/// brackets of a reference whose start is safe (`x[i]` binds `i` once `x` is known).
pub(super) fn ref_outputs(term: &Term, safe: &BTreeSet<Var>, out: &mut BTreeSet<Var>) {
    match term {
        Term::Ref(head, path) => {
            if !all_in(head, safe, &BTreeSet::new()) {
                return;
            }
            for index in path {
                index_vars(index, out);
                ref_outputs(index, safe, out);
            }
        }
        other => other
            .children()
            .into_iter()
            .for_each(|c| ref_outputs(c, safe, out)),
    }
}

/// The variables of an index term, leaving out what nested references start from.
pub(super) fn index_vars(term: &Term, out: &mut BTreeSet<Var>) {
    match term {
        Term::Var(var, _) => {
            out.insert(var.clone());
        }
        Term::Ref(_, path) => path.iter().for_each(|p| index_vars(p, out)),
        other => other
            .children()
            .into_iter()
            .for_each(|c| index_vars(c, out)),
    }
}

/// Whether what a reference starts from is known, so that its brackets can be iterated.
pub(super) fn head_known(head: &Term, safe: &BTreeSet<Var>) -> bool {
    match head {
        Term::Var(var, _) => safe.contains(var),
        other => all_in(other, safe, &BTreeSet::new()),
    }
}

/// Adds what unifying `a` with `b` binds, given the variables `safe` (OPA's unifier: a
/// variable is bound by a known term, a reference whose start is known, a comprehension or a
/// constant; arrays and objects element by element).
pub(super) fn unify(a: &Term, b: &Term, safe: &mut BTreeSet<Var>) {
    let known = |t: &Term, safe: &BTreeSet<Var>| all_in(t, safe, &BTreeSet::new());
    match (a, b) {
        (Term::Var(x, _), Term::Var(y, _)) => {
            if safe.contains(y) {
                safe.insert(x.clone());
            } else if safe.contains(x) {
                safe.insert(y.clone());
            }
        }
        (Term::Var(x, _), other) | (other, Term::Var(x, _)) => {
            let binds = match other {
                Term::Known | Term::Closure(_) => true,
                Term::Ref(head, _) => head_known(head, safe),
                Term::Array(_) | Term::Object(_) => {
                    if safe.contains(x) {
                        safe.extend(var_set(other));
                        false
                    } else {
                        known(other, safe)
                    }
                }
                // Calls and operators are evaluated first into a fresh variable.
                _ => known(other, safe),
            };
            if binds {
                safe.insert(x.clone());
            }
        }
        // Element by element, and nothing at all when the lengths differ.
        (Term::Array(xs), Term::Array(ys)) => {
            let same_length = xs.len() == ys.len();
            for (x, y) in xs.iter().zip(ys).take_while(|_| same_length) {
                unify(x, y, safe);
            }
        }
        (Term::Object(xs), Term::Object(ys)) => {
            let same_length = xs.len() == ys.len();
            for ((_, x), (_, y)) in xs.iter().zip(ys).take_while(|_| same_length) {
                unify(x, y, safe);
            }
        }
        (composite @ (Term::Array(_) | Term::Object(_)), other)
        | (other, composite @ (Term::Array(_) | Term::Object(_))) => {
            let binds = match other {
                Term::Known | Term::Closure(_) => true,
                Term::Ref(head, _) => head_known(head, safe),
                _ => known(other, safe),
            };
            if binds {
                safe.extend(var_set(composite));
            }
        }
        _ => {}
    }
}

/// Adds what `lhs := rhs` binds: the left side, once the right side is known. Unlike
/// unification it never binds the right side from the left (OPA refuses `v := z` with an
/// unbound `z` even when `v` is bound elsewhere).
pub(super) fn assign(lhs: &Term, rhs: &Term, bound: &mut BTreeSet<Var>) {
    match (lhs, rhs) {
        (Term::Array(xs), Term::Array(ys)) if xs.len() == ys.len() => {
            for (x, y) in xs.iter().zip(ys) {
                assign(x, y, bound);
            }
        }
        (Term::Object(xs), Term::Object(ys)) if xs.len() == ys.len() => {
            for ((_, x), (_, y)) in xs.iter().zip(ys) {
                assign(x, y, bound);
            }
        }
        _ => {
            let known = match rhs {
                Term::Known | Term::Closure(_) => true,
                Term::Ref(head, _) => head_known(head, bound),
                other => all_in(other, bound, &BTreeSet::new()),
            };
            if known {
                bound.extend(var_set(lhs));
            }
        }
    }
}

/// What a call, an operator or `in` binds as a statement of its own: what its references
/// iterate, and a builtin's output argument; `None` for other terms.
pub(super) fn call_like_outputs(term: &Term, safe: &BTreeSet<Var>) -> Option<BTreeSet<Var>> {
    if !matches!(
        term,
        Term::Call(..) | Term::Composite(_) | Term::Membership(..)
    ) {
        return None;
    }
    let mut out = BTreeSet::new();
    ref_outputs(term, safe, &mut out);
    if let Term::Call(name, args) = term {
        call_outputs(name, args, safe, &mut out);
    }
    Some(out)
}

/// A builtin called with one argument more than it takes binds that last argument
/// (`count(xs, n)`), once the others are bound.
pub(super) fn call_outputs(
    name: &str,
    args: &[Term],
    safe: &BTreeSet<Var>,
    out: &mut BTreeSet<Var>,
) {
    let Some((_, arity)) = regorus::unstable::BUILTINS.get(name) else {
        return;
    };
    let arity = *arity as usize;
    if args.len() == arity + 1 && args[..arity].iter().all(|a| all_in(a, safe, out)) {
        out.extend(var_set(&args[arity]));
    }
}

impl Statement {
    /// The statement's terms, `with` values included.
    pub(super) fn terms(&self) -> Vec<&Term> {
        let mut terms = match &self.form {
            Form::Declare => Vec::new(),
            Form::Plain(t) | Form::Not(t) | Form::Every { domain: t, .. } => vec![t],
            Form::Unify(a, b) | Form::Assign(a, b) | Form::SomeIn(a, b) => vec![a, b],
        };
        terms.extend(&self.with_values);
        terms
    }

    /// Variables outside closures, `with` values included, each with its first occurrence.
    pub(super) fn vars(&self) -> Vec<(&Var, &Span)> {
        let mut out = Vec::new();
        for term in self.terms() {
            vars_of(term, &mut out);
        }
        out
    }

    pub(super) fn var_set(&self) -> BTreeSet<Var> {
        self.vars().into_iter().map(|(v, _)| v.clone()).collect()
    }

    /// What the statement binds, given the variables `safe` (OPA's output variables).
    ///
    /// `carried` reproduces a detail of OPA's compiler that decides which variables it
    /// names: it keeps one set of output variables across the statements of a pass, which a
    /// call fills, a unification reads (and then empties) and `every` adds to. So after
    /// `data.d[_][v] == y`, the unification `x = v` binds `x` even though the comparison is
    /// not placed. It never decides whether a module is refused, only which variables the
    /// refusal names.
    pub(super) fn outputs(
        &self,
        safe: &BTreeSet<Var>,
        carried: &mut BTreeSet<Var>,
    ) -> BTreeSet<Var> {
        let mut out = BTreeSet::new();
        if !self.with_values.iter().all(|w| all_in(w, safe, &out)) {
            return out;
        }
        match &self.form {
            Form::Declare | Form::Not(_) => {}
            Form::Every { domain, .. } => {
                ref_outputs(domain, safe, carried);
                out.clone_from(carried);
            }
            Form::Plain(term) => match call_like_outputs(term, safe) {
                Some(outputs) => {
                    carried.clone_from(&outputs);
                    out = outputs;
                }
                None => ref_outputs(term, safe, &mut out),
            },
            Form::Unify(a, b) | Form::Assign(a, b) | Form::SomeIn(a, b) => {
                // A call on either side is evaluated first, as a statement of its own.
                for side in [a, b] {
                    if let Some(hoisted) = call_like_outputs(side, safe) {
                        *carried = hoisted;
                    }
                }
                let mut bound: BTreeSet<Var> = safe.union(carried).cloned().collect();
                ref_outputs(a, safe, &mut bound);
                ref_outputs(b, safe, &mut bound);
                // Bindings propagate (`x = y` once `y` is bound by another part).
                loop {
                    let before = bound.len();
                    if matches!(self.form, Form::Assign(..)) {
                        assign(a, b, &mut bound);
                    } else {
                        unify(a, b, &mut bound);
                    }
                    if bound.len() == before {
                        break;
                    }
                }
                out.extend(bound.difference(safe).cloned());
                carried.clear();
            }
        }
        out
    }

    pub(super) fn closures(&self) -> Vec<&Closure> {
        let mut out = Vec::new();
        for term in self.terms() {
            closures_of(term, &mut out);
        }
        out
    }

    /// Every variable its closures (and `every` body) use, at any depth.
    pub(super) fn closure_vars(&self) -> BTreeSet<Var> {
        let mut all: BTreeSet<Var> = self
            .closures()
            .iter()
            .flat_map(|c| c.all.iter().cloned())
            .collect();
        if let Form::Every { all: body, .. } = &self.form {
            all.extend(body.iter().cloned());
        }
        all
    }
}

/// The expressions directly inside one, comprehensions left out (see [`comprehension`]).
pub(super) fn sub_expressions(expr: &Expr) -> Vec<&Expr> {
    match expr {
        Expr::Array { items, .. } | Expr::Set { items, .. } => {
            items.iter().map(|i| i.as_ref()).collect()
        }
        Expr::Object { fields, .. } => fields
            .iter()
            .flat_map(|(_, k, v)| [k.as_ref(), v.as_ref()])
            .collect(),
        Expr::Call { params, .. } => params.iter().map(|p| p.as_ref()).collect(),
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

/// A comprehension's terms (what it collects) and its query.
pub(super) fn comprehension(expr: &Expr) -> Option<(Vec<&Expr>, &Query)> {
    match expr {
        Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
            Some((vec![term.as_ref()], query.as_ref()))
        }
        Expr::ObjectCompr {
            key, value, query, ..
        } => Some((vec![key.as_ref(), value.as_ref()], query.as_ref())),
        _ => None,
    }
}

/// The variables of a pattern — a function's argument, the left side of `:=`, the key and
/// value of `some ... in` (`x`, `[a, b]`, `{"k": v}`), `_` included.
pub(super) fn pattern_spans(arg: &Expr, out: &mut Vec<Span>) {
    match arg {
        Expr::Var { span, .. } => out.push(span.clone()),
        Expr::Array { items, .. } => items.iter().for_each(|i| pattern_spans(i, out)),
        Expr::Object { fields, .. } => fields.iter().for_each(|(_, _, v)| pattern_spans(v, out)),
        _ => {}
    }
}
