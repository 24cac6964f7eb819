//! OPA's safety rule, checked on every module before anything is evaluated: each variable of a
//! rule must be bound by some expression that can bind it — an assignment, a unification, an
//! iteration (`x[i]`, `some v in xs`) — and not only appear where nothing binds it, such as
//! inside a negation (`not x[_] == "ALL"`) or as an argument of a call.
//!
//! regorus 0.14 accepts some modules OPA refuses as unsafe and then gives them a meaning of
//! its own: `not c.capabilities.drop[_] == "ALL"` holds for a container that drops
//! `NET_RAW`, but not for one whose `drop` is missing, so the rule fails open exactly where it
//! matters. A policy that OPA, conftest and Gatekeeper refuse must not pass silently here:
//! such a module is refused with its file, line and the variable's name.
//!
//! The analysis follows OPA's compiler: globals (`input`, `data`, the rules of the package,
//! imports) are always safe; a function's arguments are safe in its bodies; the expressions of
//! a body may be reordered, so a variable bound later in the body is still safe; a negation,
//! a `with` value and a call's input arguments bind nothing and need their variables bound
//! elsewhere; every `_` is a variable of its own; comprehensions and `every` bodies are
//! checked with the variables safe around them. Variables of a rule's head must be bound by
//! its body.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;

use regorus::Engine;
use regorus::unstable::{
    AssignOp, Expr, Literal, LiteralStmt, Module, Parser, Query, Rule, RuleHead, Span,
};

use super::problem::Problem;

/// The modules of `engine` that use a variable OPA would refuse as unsafe: one problem per
/// unsafe variable, at its first occurrence.
pub fn unsafe_variables(engine: &mut Engine) -> Vec<Problem> {
    let modules = engine.get_modules().clone();
    let mut rules_by_package: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for module in modules.iter() {
        let names = rules_by_package.entry(package_of(module)).or_default();
        for rule in &module.policy {
            if let Some(name) = rule_name(rule) {
                names.insert(name);
            }
        }
    }
    let mut problems = Vec::new();
    for module in modules.iter() {
        let mut globals: HashSet<String> = ["input", "data"].map(str::to_owned).into();
        if let Some(rules) = rules_by_package.get(&package_of(module)) {
            globals.extend(rules.iter().cloned());
        }
        for import in &module.imports {
            if let Some(alias) = import_alias(import) {
                globals.insert(alias);
            }
        }
        for found in check_module(module, &globals) {
            problems.push(Problem {
                file: PathBuf::from(found.source.get_path()),
                line: Some(found.line as usize),
                column: Some(found.column as usize),
                message: found.message(),
                detail: None,
            });
        }
    }
    problems
}

/// Negations that fail open: inside `not`, OPA evaluates the arguments of a call (a builtin,
/// a function, an operator other than `==`, `in`, a lookup `s[x.y]`) and the references
/// inside an array, set or object before the rest — and policyrun does too (see
/// `super::opa::eager`) — so the whole body fails when such a reference is undefined: `not
/// allowed(c.image)` does not fire for a container without `image`. Often that is not what
/// the author meant. One warning per negation, at the reference.
pub fn fail_open_negations(engine: &mut Engine) -> Vec<Problem> {
    let modules = engine.get_modules().clone();
    let mut found = Vec::new();
    for module in modules.iter() {
        let file = PathBuf::from(module.package.span.source.get_path());
        for rule in &module.policy {
            let Rule::Spec { bodies, .. } = rule.as_ref() else {
                continue;
            };
            for body in bodies {
                negations_in_query(&body.query, &mut |reference: &Span| {
                    found.push(Problem {
                        file: file.clone(),
                        line: Some(reference.line as usize),
                        column: Some(reference.col as usize),
                        message: format!(
                            "this negation fails open: when `{}` is undefined the whole body fails before the negation is tested (as in OPA, conftest and Gatekeeper), so the rule does not fire for an object without it; if it should, bind it first (`v := object.get(...)`) or test its absence in a rule of its own",
                            reference.text()
                        ),
                        detail: None,
                    });
                });
            }
        }
    }
    found
}

fn negations_in_query(query: &Query, report: &mut dyn FnMut(&Span)) {
    for stmt in &query.stmts {
        match &stmt.literal {
            Literal::NotExpr { expr, .. } => {
                if let Some(reference) = undefined_argument(expr, false) {
                    report(reference);
                }
                nested_queries(expr, report);
            }
            Literal::Expr { expr, .. } => nested_queries(expr, report),
            Literal::SomeIn { collection, .. } => nested_queries(collection, report),
            Literal::Every { query, domain, .. } => {
                nested_queries(domain, report);
                negations_in_query(query, report);
            }
            Literal::SomeVars { .. } => {}
        }
    }
}

/// The negations inside the comprehensions of an expression.
fn nested_queries(expr: &Expr, report: &mut dyn FnMut(&Span)) {
    match comprehension(expr) {
        Some((_, query)) => negations_in_query(query, report),
        None => sub_expressions(expr)
            .into_iter()
            .for_each(|e| nested_queries(e, report)),
    }
}

/// The expressions directly inside one, comprehensions left out (see [`comprehension`]).
fn sub_expressions(expr: &Expr) -> Vec<&Expr> {
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
fn comprehension(expr: &Expr) -> Option<(Vec<&Expr>, &Query)> {
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

/// A reference (`x.y`, `input.a`, `data.p.r`, `x[i]`) that can be undefined, handed as an
/// argument to a call inside a negated expression; `as_argument` says whether `expr` is one.
fn undefined_argument(expr: &Expr, as_argument: bool) -> Option<&Span> {
    let arguments: Vec<&Expr> = match expr {
        Expr::RefDot { refr, .. } => {
            return if as_argument {
                Some(expr.span())
            } else {
                undefined_argument(refr, false)
            };
        }
        Expr::RefBrack { refr, index, .. } => {
            if as_argument {
                return Some(expr.span());
            }
            // A lookup by a computed key is a call too (`s[x.y]`).
            return undefined_argument(index, true).or_else(|| undefined_argument(refr, false));
        }
        // `==` compares, in both engines, only what is defined.
        Expr::BoolExpr {
            op: regorus::unstable::BoolOp::Eq,
            lhs,
            rhs,
            ..
        } => {
            return undefined_argument(lhs, false).or_else(|| undefined_argument(rhs, false));
        }
        Expr::Call { params, .. } => params.iter().map(|p| p.as_ref()).collect(),
        Expr::BoolExpr { lhs, rhs, .. }
        | Expr::ArithExpr { lhs, rhs, .. }
        | Expr::BinExpr { lhs, rhs, .. } => vec![lhs.as_ref(), rhs.as_ref()],
        Expr::UnaryExpr { expr, .. } => vec![expr.as_ref()],
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
        // An array, set or object holding a reference is built first, as a call would be.
        Expr::Array { items, .. } | Expr::Set { items, .. } => {
            items.iter().map(|i| i.as_ref()).collect()
        }
        Expr::Object { fields, .. } => fields
            .iter()
            .flat_map(|(_, k, v)| [k.as_ref(), v.as_ref()])
            .collect(),
        _ => return None,
    };
    arguments
        .into_iter()
        .find_map(|argument| undefined_argument(argument, true))
}

/// Something OPA's compiler refuses, where it reports it: `what` is OPA's own wording
/// (`var x is unsafe`), `why` says what to do about it.
#[derive(Debug, Clone)]
struct Finding {
    what: String,
    why: String,
    line: u32,
    column: u32,
    source: regorus::unstable::Source,
}

impl Finding {
    fn message(&self) -> String {
        format!(
            "{}: {}; OPA, conftest and Gatekeeper refuse this module",
            self.what, self.why
        )
    }
}

/// Why a variable is unsafe, for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// Nothing binds it and it occurs only inside negations.
    Negated,
    /// Nothing in the body binds it.
    Unbound,
    /// The rule's head uses it, but its body does not mention it.
    Head,
}

impl Why {
    fn explain(self) -> &'static str {
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
enum Occurrence {
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
struct Entry {
    var: Var,
    occurrence: Occurrence,
    used: bool,
    span: Span,
}

/// The names of one query (a body, a comprehension's, an `every` body).
#[derive(Debug, Default)]
struct Scope {
    entries: BTreeMap<String, Entry>,
    /// Names declared anywhere in the query: they never refer to a rule of the package.
    local_names: HashSet<String>,
}

fn package_of(module: &Module) -> String {
    Parser::get_path_ref_components(&module.package.refr)
        .map(|parts| {
            parts
                .iter()
                .map(|p| p.text().to_owned())
                .collect::<Vec<_>>()
                .join(".")
        })
        .unwrap_or_default()
}

fn rule_name(rule: &Rule) -> Option<String> {
    let refr = match rule {
        Rule::Spec { head, .. } => match head {
            RuleHead::Compr { refr, .. }
            | RuleHead::Set { refr, .. }
            | RuleHead::Func { refr, .. } => refr,
        },
        Rule::Default { refr, .. } => refr,
    };
    let mut at: &Expr = refr;
    loop {
        match at {
            Expr::Var { span, .. } => return Some(span.text().to_owned()),
            Expr::RefDot { refr, .. } | Expr::RefBrack { refr, .. } => at = refr,
            _ => return None,
        }
    }
}

/// The name an import is known by: its alias, else the last part of its path; `rego.v1` and
/// `future.keywords` imports name nothing.
fn import_alias(import: &regorus::unstable::Import) -> Option<String> {
    if let Some(alias) = &import.r#as {
        return Some(alias.text().to_owned());
    }
    let parts = Parser::get_path_ref_components(&import.refr).ok()?;
    let first = parts.first()?.text();
    if first == "rego" || first == "future" {
        return None;
    }
    parts.last().map(|p| p.text().to_owned())
}

/// A variable as OPA's compiler tells them apart: by name, except that every declaration
/// (`:=`, `some`, `every`, a function's argument) makes a new one, visible from there on,
/// and every `_` is one of its own.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Var {
    name: String,
    /// 0 for a name nothing declares; otherwise the declaration's (or wildcard's) number.
    serial: usize,
}

/// A term with its names resolved; globals and constants are `Known`.
#[derive(Debug)]
enum Term {
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
struct Closure {
    /// What it collects (`x` of `[x | ...]`; key and value of an object comprehension).
    terms: Vec<Term>,
    body: Vec<Statement>,
    /// Every variable it uses, at any depth.
    all: BTreeSet<Var>,
}

#[derive(Debug)]
enum Form {
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
struct Statement {
    form: Form,
    with_values: Vec<Term>,
    span: Span,
}

/// Resolves names to variables while terms are built, in source order, as OPA's compiler
/// renames declared variables before it checks safety — and refuses what that renaming
/// refuses.
struct Resolver<'g> {
    globals: &'g HashSet<String>,
    scopes: Vec<Scope>,
    serial: usize,
    /// For each closure being read (innermost last): the variables used in it.
    frames: Vec<BTreeSet<Var>>,
    /// What the renaming refuses, with where: OPA reports these instead of unsafe variables.
    refused: Vec<(Span, String, String)>,
}

impl Resolver<'_> {
    /// Declares the name at `span`, or refuses it (reported at `report_at`) when the scope
    /// already holds the name: used, assigned, declared, or an argument.
    fn declare(&mut self, span: &Span, occurrence: Occurrence, report_at: &Span) -> Option<Var> {
        let name = span.text();
        self.serial += 1;
        let var = Var {
            name: name.to_owned(),
            serial: self.serial,
        };
        if name == "_" {
            return Some(var);
        }
        let earlier = self
            .scopes
            .last()
            .and_then(|s| s.entries.get(name))
            .map(|e| e.occurrence);
        let refused = match earlier {
            None => None,
            Some(Occurrence::Seen) => Some((
                format!("var {name} referenced above"),
                "a name used earlier in the body cannot be declared after it: use another name (or `=` to compare)",
            )),
            Some(Occurrence::Assigned) => Some((
                format!("var {name} assigned above"),
                "a name can be assigned with `:=` only once in a body",
            )),
            Some(Occurrence::Declared) => Some((
                format!("var {name} declared above"),
                "a name can be declared only once in a body",
            )),
            Some(Occurrence::Argument) => Some((
                format!("arg {name} redeclared"),
                "a function's argument cannot be declared again in its body",
            )),
        };
        if let Some((what, why)) = refused {
            // OPA keeps the name as it was, so a later declaration is refused the same way.
            self.refused.push((report_at.clone(), what, why.to_owned()));
            return None;
        }
        if let Some(scope) = self.scopes.last_mut() {
            scope.entries.insert(
                name.to_owned(),
                Entry {
                    var: var.clone(),
                    occurrence,
                    used: occurrence != Occurrence::Declared,
                    span: report_at.clone(),
                },
            );
        }
        Some(var)
    }

    fn lookup(&mut self, span: &Span) -> Option<Var> {
        let name = span.text();
        // A name used before without a declaration is known from then on too, in nested
        // scopes as well: it is the same variable there.
        let declared = self
            .scopes
            .iter_mut()
            .rev()
            .find_map(|s| s.entries.get_mut(name));
        let var = if name == "_" {
            self.serial += 1;
            Var {
                name: "_".to_owned(),
                serial: self.serial,
            }
        } else if let Some(entry) = declared {
            entry.used = true;
            entry.var.clone()
        } else if self.globals.contains(name)
            && !self.scopes.iter().any(|s| s.local_names.contains(name))
        {
            return None;
        } else {
            let var = Var {
                name: name.to_owned(),
                serial: 0,
            };
            if let Some(scope) = self.scopes.last_mut() {
                scope.entries.entry(name.to_owned()).or_insert(Entry {
                    var: var.clone(),
                    occurrence: Occurrence::Seen,
                    used: true,
                    span: span.clone(),
                });
            }
            var
        };
        for used in &mut self.frames {
            used.insert(var.clone());
        }
        Some(var)
    }

    /// Opens the scope of a query, knowing which names it declares.
    fn open(&mut self, query: Option<&Query>) {
        let mut scope = Scope::default();
        for stmt in query.map(|q| q.stmts.as_slice()).unwrap_or_default() {
            match &stmt.literal {
                Literal::SomeVars { vars, .. } => {
                    scope
                        .local_names
                        .extend(vars.iter().map(|v| v.text().to_owned()));
                }
                Literal::SomeIn { key, value, .. } => {
                    for pattern in key.iter().chain(std::iter::once(value)) {
                        pattern_names(pattern, &mut scope.local_names);
                    }
                }
                Literal::Expr { expr, .. } => {
                    if let Expr::AssignExpr {
                        op: AssignOp::ColEq,
                        lhs,
                        ..
                    } = expr.as_ref()
                    {
                        pattern_names(lhs, &mut scope.local_names);
                    }
                }
                _ => {}
            }
        }
        self.scopes.push(scope);
    }

    /// Closes a query's scope: a name declared with `some` or `every` and never used there is
    /// refused, unless something else in the rule already was (OPA reports only the first
    /// kind of mistake).
    fn close(&mut self, used: &BTreeSet<String>) {
        let Some(scope) = self.scopes.pop() else {
            return;
        };
        if !self.refused.is_empty() {
            return;
        }
        let mut unused: Vec<&Entry> = scope
            .entries
            .values()
            .filter(|e| {
                e.occurrence == Occurrence::Declared
                    && !e.used
                    && (e.var.name == "_" || !used.contains(&e.var.name))
            })
            .collect();
        unused.sort_by_key(|e| (e.span.line, e.span.col));
        for entry in unused {
            self.refused.push((
                entry.span.clone(),
                format!("declared var {} unused", entry.var.name),
                "declare only names the body uses".to_owned(),
            ));
        }
    }

    /// Declares the key and value of `some k, v in xs` as OPA does: the names the
    /// unification `v = xs[k]` binds, given the names of `xs` — so in `some x in x` nothing
    /// is declared — in order of name, stopping at the first refusal.
    fn declare_some_in(
        &mut self,
        key: Option<&regorus::unstable::Ref<Expr>>,
        value: &regorus::unstable::Ref<Expr>,
        collection: &Expr,
        statement: &Span,
    ) -> bool {
        let mut spans = Vec::new();
        pattern_spans(value, &mut spans);
        if let Some(key) = key {
            pattern_spans(key, &mut spans);
        }
        let mut in_collection = BTreeSet::new();
        names_in(collection, &mut in_collection);
        let mut names: BTreeMap<String, Span> = BTreeMap::new();
        for span in spans {
            let name = span.text().to_owned();
            if name != "_" && !in_collection.contains(&name) {
                names.entry(name).or_insert(span);
            }
        }
        for span in names.into_values() {
            match self.declare(&span, Occurrence::Declared, statement) {
                // The statement itself uses what it declares.
                Some(_) => {
                    if let Some(entry) = self
                        .scopes
                        .last_mut()
                        .and_then(|s| s.entries.get_mut(span.text()))
                    {
                        entry.used = true;
                    }
                }
                None => return false,
            }
        }
        true
    }

    /// An `every` domain as OPA finally reads it: names equal to the statement's key or value
    /// are those; `None` when it names neither.
    fn reread_domain(&mut self, domain: &Expr, bound: &[Var]) -> Option<Term> {
        let mut names = BTreeSet::new();
        names_in(domain, &mut names);
        if !bound.iter().any(|v| names.contains(&v.name)) {
            return None;
        }
        let mut scope = Scope::default();
        for var in bound {
            scope.entries.insert(
                var.name.clone(),
                Entry {
                    var: var.clone(),
                    occurrence: Occurrence::Declared,
                    used: true,
                    span: domain.span().clone(),
                },
            );
        }
        self.scopes.push(scope);
        let term = self.term(domain);
        self.scopes.pop();
        Some(term)
    }

    /// Declares the variables of a pattern (`x`, `[a, b]`, `{"k": v}`).
    fn declare_pattern(&mut self, pattern: &Expr, occurrence: Occurrence) {
        let mut spans = Vec::new();
        pattern_spans(pattern, &mut spans);
        for span in spans.iter().filter(|s| s.text() != "_") {
            self.declare(span, occurrence, span);
        }
    }

    fn term(&mut self, expr: &Expr) -> Term {
        match expr {
            Expr::Var { span, .. } => match self.lookup(span) {
                Some(var) => Term::Var(var, span.clone()),
                None => Term::Known,
            },
            Expr::String { .. }
            | Expr::RawString { .. }
            | Expr::Number { .. }
            | Expr::Bool { .. }
            | Expr::Null { .. } => Term::Known,
            Expr::Array { items, .. } => Term::Array(items.iter().map(|i| self.term(i)).collect()),
            Expr::Set { items, .. } => {
                Term::Composite(items.iter().map(|i| self.term(i)).collect())
            }
            Expr::Object { fields, .. } => Term::Object(
                fields
                    .iter()
                    .map(|(_, k, v)| (self.term(k), self.term(v)))
                    .collect(),
            ),
            Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
                Term::Closure(self.closure(&[term], query))
            }
            Expr::ObjectCompr {
                key, value, query, ..
            } => Term::Closure(self.closure(&[key, value], query)),
            Expr::Call { fcn, params, .. } => {
                let name = Parser::get_path_ref_components(fcn)
                    .map(|parts| {
                        parts
                            .iter()
                            .map(|p| p.text().to_owned())
                            .collect::<Vec<_>>()
                            .join(".")
                    })
                    .unwrap_or_default();
                Term::Call(name, params.iter().map(|p| self.term(p)).collect())
            }
            Expr::UnaryExpr { expr, .. } => Term::Composite(vec![self.term(expr)]),
            Expr::RefDot { .. } | Expr::RefBrack { .. } => {
                let mut path = Vec::new();
                let mut at = expr;
                loop {
                    match at {
                        Expr::RefDot { refr, .. } => at = refr,
                        Expr::RefBrack { refr, index, .. } => {
                            path.push(index.as_ref());
                            at = refr;
                        }
                        _ => break,
                    }
                }
                let head = self.term(at);
                let path = path.into_iter().rev().map(|p| self.term(p)).collect();
                Term::Ref(Box::new(head), path)
            }
            Expr::BinExpr { lhs, rhs, .. }
            | Expr::BoolExpr { lhs, rhs, .. }
            | Expr::ArithExpr { lhs, rhs, .. }
            | Expr::AssignExpr { lhs, rhs, .. } => {
                Term::Composite(vec![self.term(lhs), self.term(rhs)])
            }
            Expr::Membership {
                key,
                value,
                collection,
                ..
            } => Term::Membership(
                key.as_ref().map(|k| Box::new(self.term(k))),
                Box::new(self.term(value)),
                Box::new(self.term(collection)),
            ),
            #[allow(unreachable_patterns)]
            _ => Term::Known,
        }
    }

    fn closure(&mut self, terms: &[&regorus::unstable::Ref<Expr>], query: &Query) -> Closure {
        self.frames.push(Default::default());
        self.open(Some(query));
        let body = self.statements(query);
        // What the comprehension collects counts as a use of what its body declares.
        let mut used = BTreeSet::new();
        for term in terms {
            names_in(term, &mut used);
        }
        let terms = terms.iter().map(|t| self.term(t)).collect();
        self.close(&used);
        let used = self.frames.pop().unwrap_or_default();
        Closure {
            terms,
            body,
            all: used,
        }
    }

    /// The statements of a query, in the current scope.
    fn statements(&mut self, query: &Query) -> Vec<Statement> {
        query.stmts.iter().map(|s| self.statement(s)).collect()
    }

    fn statement(&mut self, stmt: &LiteralStmt) -> Statement {
        let with_values = stmt.with_mods.iter().map(|m| self.term(&m.r#as)).collect();
        let form = match &stmt.literal {
            Literal::SomeVars { vars, .. } => {
                for var in vars {
                    if var.text() == "_" {
                        // A declared `_` can never be used: it is reported as unused when the
                        // scope closes.
                        self.serial += 1;
                        if let Some(scope) = self.scopes.last_mut() {
                            scope.entries.insert(
                                format!("_#{}", self.serial),
                                Entry {
                                    var: Var {
                                        name: "_".to_owned(),
                                        serial: self.serial,
                                    },
                                    occurrence: Occurrence::Declared,
                                    used: false,
                                    span: var.clone(),
                                },
                            );
                        }
                    } else if self
                        .declare(var, Occurrence::Declared, &stmt.span)
                        .is_none()
                    {
                        break;
                    }
                }
                Form::Declare
            }
            Literal::SomeIn {
                key,
                value,
                collection,
                ..
            } => {
                // The names are declared before the collection is read, as OPA does: in
                // `some x in x` both are the new `x`, which is unsafe. A refused
                // declaration drops the statement, as OPA does.
                if !self.declare_some_in(key.as_ref(), value, collection, &stmt.span) {
                    return Statement {
                        form: Form::Declare,
                        with_values: Vec::new(),
                        span: stmt.span.clone(),
                    };
                }
                let collection = self.term(collection);
                let key = key.as_ref().map_or(Term::Known, |k| self.term(k));
                let value = self.term(value);
                let reference = match collection {
                    Term::Ref(head, mut path) => {
                        path.push(key);
                        Term::Ref(head, path)
                    }
                    other => Term::Ref(Box::new(other), vec![key]),
                };
                Form::SomeIn(value, reference)
            }
            Literal::Expr { expr, .. } => match expr.as_ref() {
                Expr::AssignExpr {
                    op: AssignOp::ColEq,
                    lhs,
                    rhs,
                    ..
                } => {
                    // The right side first, as OPA's compiler reads it: `x := [x | ...]` uses
                    // `x` before declaring it, which is refused.
                    let rhs = self.term(rhs);
                    self.declare_pattern(lhs, Occurrence::Assigned);
                    Form::Assign(self.term(lhs), rhs)
                }
                Expr::AssignExpr { lhs, rhs, .. } => Form::Unify(self.term(lhs), self.term(rhs)),
                other => Form::Plain(self.term(other)),
            },
            Literal::NotExpr { expr, .. } => Form::Not(self.term(expr)),
            Literal::Every {
                key,
                value,
                domain,
                query,
                ..
            } => {
                let domain_expr = domain;
                let domain = self.term(domain);
                self.frames.push(Default::default());
                self.open(Some(query));
                let mut bound = Vec::new();
                for name in key.iter().chain(std::iter::once(value)) {
                    if name.text() == "_" {
                        continue;
                    }
                    match self.declare(name, Occurrence::Declared, &stmt.span) {
                        Some(var) => bound.push(var),
                        None => {
                            // A refused declaration drops the statement, as in OPA.
                            self.scopes.pop();
                            self.frames.pop();
                            return Statement {
                                form: Form::Declare,
                                with_values,
                                span: stmt.span.clone(),
                            };
                        }
                    }
                }
                let body = self.statements(query);
                self.close(&BTreeSet::new());
                let used = self.frames.pop().unwrap_or_default();
                // OPA reads the whole statement once more with the key and value declared,
                // so in `every y in y` the domain is the new `y`.
                let domain = self.reread_domain(domain_expr, &bound).unwrap_or(domain);
                Form::Every {
                    bound,
                    domain,
                    body,
                    all: used,
                }
            }
        };
        Statement {
            form,
            with_values,
            span: stmt.span.clone(),
        }
    }
}

/// Every name in an expression, comprehensions included.
fn names_in(expr: &Expr, names: &mut BTreeSet<String>) {
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

fn statement_names(stmt: &LiteralStmt, names: &mut BTreeSet<String>) {
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
fn pattern_names(pattern: &Expr, names: &mut HashSet<String>) {
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
    fn children(&self) -> Vec<&Term> {
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
fn vars_of<'t>(term: &'t Term, out: &mut Vec<(&'t Var, &'t Span)>) {
    match term {
        Term::Var(var, span) => out.push((var, span)),
        other => other.children().into_iter().for_each(|c| vars_of(c, out)),
    }
}

fn var_set(term: &Term) -> BTreeSet<Var> {
    let mut vars = Vec::new();
    vars_of(term, &mut vars);
    vars.into_iter().map(|(v, _)| v.clone()).collect()
}

fn all_in(term: &Term, safe: &BTreeSet<Var>, out: &BTreeSet<Var>) -> bool {
    let mut vars = Vec::new();
    vars_of(term, &mut vars);
    vars.iter()
        .all(|(v, _)| safe.contains(*v) || out.contains(*v))
}

fn closures_of<'t>(term: &'t Term, out: &mut Vec<&'t Closure>) {
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
fn ref_outputs(term: &Term, safe: &BTreeSet<Var>, out: &mut BTreeSet<Var>) {
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
fn index_vars(term: &Term, out: &mut BTreeSet<Var>) {
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
fn head_known(head: &Term, safe: &BTreeSet<Var>) -> bool {
    match head {
        Term::Var(var, _) => safe.contains(var),
        other => all_in(other, safe, &BTreeSet::new()),
    }
}

/// Adds what unifying `a` with `b` binds, given the variables `safe` (OPA's unifier: a
/// variable is bound by a known term, a reference whose start is known, a comprehension or a
/// constant; arrays and objects element by element).
fn unify(a: &Term, b: &Term, safe: &mut BTreeSet<Var>) {
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
fn assign(lhs: &Term, rhs: &Term, bound: &mut BTreeSet<Var>) {
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
fn call_like_outputs(term: &Term, safe: &BTreeSet<Var>) -> Option<BTreeSet<Var>> {
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
fn call_outputs(name: &str, args: &[Term], safe: &BTreeSet<Var>, out: &mut BTreeSet<Var>) {
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
    fn terms(&self) -> Vec<&Term> {
        let mut terms = match &self.form {
            Form::Declare => Vec::new(),
            Form::Plain(t) | Form::Not(t) | Form::Every { domain: t, .. } => vec![t],
            Form::Unify(a, b) | Form::Assign(a, b) | Form::SomeIn(a, b) => vec![a, b],
        };
        terms.extend(&self.with_values);
        terms
    }

    /// Variables outside closures, `with` values included, each with its first occurrence.
    fn vars(&self) -> Vec<(&Var, &Span)> {
        let mut out = Vec::new();
        for term in self.terms() {
            vars_of(term, &mut out);
        }
        out
    }

    fn var_set(&self) -> BTreeSet<Var> {
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
    fn outputs(&self, safe: &BTreeSet<Var>, carried: &mut BTreeSet<Var>) -> BTreeSet<Var> {
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

    fn closures(&self) -> Vec<&Closure> {
        let mut out = Vec::new();
        for term in self.terms() {
            closures_of(term, &mut out);
        }
        out
    }

    /// Every variable its closures (and `every` body) use, at any depth.
    fn closure_vars(&self) -> BTreeSet<Var> {
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

/// The unsafe variables found in one rule body and its closures, each kept at its earliest
/// place: OPA reports a variable once per rule.
#[derive(Default)]
struct Unsafe {
    found: BTreeMap<Var, (u32, u32, u32, Why)>,
}

impl Unsafe {
    /// Records `var` as unsafe in the expression at `at`; `span` is where the variable is.
    fn add(&mut self, var: &Var, at: &Span, span: &Span, why: Why) {
        let place = (at.line, at.col, span.col, why);
        self.found
            .entry(var.clone())
            .and_modify(|p| {
                if (place.0, place.1) < (p.0, p.1) {
                    *p = place;
                }
            })
            .or_insert(place);
    }
}

/// OPA's safety check of one body. Every statement starts out unsafe for its variables that
/// are not global; passes over the body drop what is bound (by the statements placed so far,
/// or by the statement itself) and place a statement once nothing unsafe is left. A statement
/// whose closures use variables of the body is unsafe for those instead, until they are
/// bound, and waits while they are exactly what it binds itself. The closures of the placed
/// statements are checked last, each with the variables of the statements placed before it.
fn check_body(statements: &[Statement], globals: &BTreeSet<Var>, found: &mut Unsafe) {
    let body_vars: BTreeSet<Var> = statements.iter().flat_map(|s| s.var_set()).collect();
    let mut unsafe_vars: Vec<BTreeSet<Var>> = statements
        .iter()
        .map(|s| s.var_set().difference(globals).cloned().collect())
        .collect();
    let mut safe = globals.clone();
    let mut placed: Vec<usize> = Vec::new();
    let mut carried = BTreeSet::new();
    loop {
        let before = placed.len();
        for (i, statement) in statements.iter().enumerate() {
            if placed.contains(&i) {
                continue;
            }
            let outputs = statement.outputs(&safe, &mut carried);
            let closed_over: BTreeSet<Var> = statement
                .closure_vars()
                .intersection(&body_vars)
                .filter(|v| !globals.contains(*v))
                .cloned()
                .collect();
            if !closed_over.is_empty() {
                if closed_over == outputs {
                    continue;
                }
                unsafe_vars[i] = closed_over;
                // OPA evaluates an `every` domain as a statement of its own before.
                if let Form::Every { domain, .. } = &statement.form {
                    unsafe_vars[i].extend(var_set(domain));
                }
            }
            unsafe_vars[i].retain(|v| !outputs.contains(v) && !safe.contains(v));
            if unsafe_vars[i].is_empty() {
                safe.extend(outputs);
                placed.push(i);
            }
        }
        if placed.len() == before {
            break;
        }
    }
    for (i, statement) in statements.iter().enumerate() {
        if placed.contains(&i) {
            continue;
        }
        let negated_only = |var: &Var| {
            statements
                .iter()
                .filter(|s| s.var_set().contains(var))
                .all(|s| matches!(s.form, Form::Not(_)))
        };
        let vars = statement.vars();
        for var in &unsafe_vars[i] {
            let span = vars
                .iter()
                .find(|(v, _)| *v == var)
                .map_or(&statement.span, |(_, s)| *s);
            let why = if negated_only(var) {
                Why::Negated
            } else {
                Why::Unbound
            };
            found.add(var, &statement.span, span, why);
        }
    }

    let mut around = globals.clone();
    for (n, &i) in placed.iter().enumerate() {
        if n > 0 {
            around.extend(statements[placed[n - 1]].var_set());
        }
        let statement = &statements[i];
        for closure in statement.closures() {
            check_closure(closure, &around, &statement.span, found);
        }
        if let Form::Every { bound, body, .. } = &statement.form {
            around.extend(bound.iter().cloned());
            check_body(body, &around, found);
        }
    }
}

/// A comprehension: what it collects must occur in its body or around it, and its body must
/// be safe with the variables around it.
fn check_closure(closure: &Closure, around: &BTreeSet<Var>, at: &Span, found: &mut Unsafe) {
    let mut known: BTreeSet<Var> = around.clone();
    for statement in &closure.body {
        known.extend(statement.var_set());
    }
    for term in &closure.terms {
        let mut vars = Vec::new();
        vars_of(term, &mut vars);
        for (var, span) in vars {
            if !known.contains(var) {
                found.add(var, at, span, Why::Unbound);
            }
        }
    }
    check_body(&closure.body, around, found);
    for term in &closure.terms {
        let mut nested = Vec::new();
        closures_of(term, &mut nested);
        for inner in nested {
            check_closure(inner, around, at, found);
        }
    }
}

/// The variables of a pattern — a function's argument, the left side of `:=`, the key and
/// value of `some ... in` (`x`, `[a, b]`, `{"k": v}`), `_` included.
fn pattern_spans(arg: &Expr, out: &mut Vec<Span>) {
    match arg {
        Expr::Var { span, .. } => out.push(span.clone()),
        Expr::Array { items, .. } => items.iter().for_each(|i| pattern_spans(i, out)),
        Expr::Object { fields, .. } => fields.iter().for_each(|(_, _, v)| pattern_spans(v, out)),
        _ => {}
    }
}

/// Does a head's term need evaluating (OPA's `requiresEval`): does it hold a reference, a
/// call or operator, or a comprehension?
fn evaluated(expr: &Expr) -> bool {
    match expr {
        Expr::RefDot { .. }
        | Expr::RefBrack { .. }
        | Expr::Call { .. }
        | Expr::ArrayCompr { .. }
        | Expr::SetCompr { .. }
        | Expr::ObjectCompr { .. }
        | Expr::UnaryExpr { .. }
        | Expr::BinExpr { .. }
        | Expr::BoolExpr { .. }
        | Expr::ArithExpr { .. }
        | Expr::Membership { .. } => true,
        Expr::Array { items, .. } | Expr::Set { items, .. } => items.iter().any(|i| evaluated(i)),
        Expr::Object { fields, .. } => fields.iter().any(|(_, k, v)| evaluated(k) || evaluated(v)),
        _ => false,
    }
}

/// The index terms of a rule head's reference (`x` of `a.b[x]`).
fn head_index_terms(refr: &Expr) -> Vec<&Expr> {
    let mut terms = Vec::new();
    let mut at = refr;
    loop {
        match at {
            Expr::RefBrack { refr, index, .. } => {
                terms.push(index.as_ref());
                at = refr;
            }
            Expr::RefDot { refr, .. } => at = refr,
            _ => return terms,
        }
    }
}

/// One definition of a rule, read: its arguments, the statements of one body and the terms
/// of its head, all resolved in the body's scope.
struct Definition {
    /// Where the rule starts: OPA reports a head's variables there.
    span: Span,
    arguments: BTreeSet<Var>,
    body: Vec<Statement>,
    head: Vec<Term>,
}

/// The variables one module uses unsafely. As in OPA, the heads are checked first, and the
/// bodies only when no head is unsafe.
fn check_module(module: &Module, globals: &HashSet<String>) -> Vec<Finding> {
    let source = module.package.span.source.clone();
    let mut definitions = Vec::new();
    let mut refused: Vec<(Span, String, String)> = Vec::new();
    for rule in &module.policy {
        let Rule::Spec { head, bodies, span } = rule.as_ref() else {
            continue;
        };
        let (refr, key, value, args) = match head {
            RuleHead::Compr { refr, assign, .. } => (refr, None, assign.as_ref(), &[][..]),
            RuleHead::Set { refr, key, .. } => (refr, key.as_ref(), None, &[][..]),
            RuleHead::Func {
                refr, args, assign, ..
            } => (refr, None, assign.as_ref(), args.as_slice()),
        };
        let mut runs: Vec<(Option<&Query>, Option<&Expr>)> = bodies
            .iter()
            .map(|b| {
                (
                    Some(b.query.as_ref()),
                    b.assign.as_ref().or(value).map(|a| a.value.as_ref()),
                )
            })
            .collect();
        if runs.is_empty() {
            runs.push((None, value.map(|a| a.value.as_ref())));
        }
        for (query, value) in runs {
            let mut resolver = Resolver {
                globals,
                scopes: Vec::new(),
                serial: 0,
                frames: Vec::new(),
                refused: Vec::new(),
            };
            resolver.open(query);
            // A function's arguments are bound by its caller.
            let mut arguments = BTreeSet::new();
            for arg in args {
                let mut names = Vec::new();
                pattern_spans(arg, &mut names);
                for span in names {
                    arguments.extend(resolver.declare(&span, Occurrence::Argument, &span));
                }
            }
            let mut body = query.map(|q| resolver.statements(q)).unwrap_or_default();
            // OPA moves a head's term that must be evaluated (a reference, a call, a
            // comprehension) into the body as `__localN__ = term` before it checks safety
            // (RewriteRefsInHead): `volumes[input.spec.volumes[_]]` binds its `_` there.
            let mut head = Vec::new();
            let head_exprs = head_index_terms(refr)
                .into_iter()
                .chain(key.map(|k| k.as_ref()))
                .chain(value);
            for expr in head_exprs {
                let term = resolver.term(expr);
                if evaluated(expr) {
                    body.push(Statement {
                        form: Form::Plain(term),
                        with_values: Vec::new(),
                        span: expr.span().clone(),
                    });
                } else {
                    head.push(term);
                }
            }
            let mut used = BTreeSet::new();
            for term in head_index_terms(refr) {
                names_in(term, &mut used);
            }
            for term in key.iter().map(|k| k.as_ref()).chain(value) {
                names_in(term, &mut used);
            }
            resolver.close(&used);
            refused.extend(resolver.refused);
            definitions.push(Definition {
                span: span.clone(),
                arguments,
                body,
                head,
            });
        }
    }
    // OPA renames declared variables first; what it refuses there ends the compilation.
    if !refused.is_empty() {
        return refused
            .into_iter()
            .map(|(span, what, why)| Finding {
                what,
                why,
                line: span.line,
                column: span.col,
                source: source.clone(),
            })
            .collect();
    }
    let finding = |var: &Var, line: u32, column: u32, why: Why| Finding {
        what: format!("var {} is unsafe", var.name),
        why: why.explain().to_owned(),
        line,
        column,
        source: source.clone(),
    };
    // Then OPA's stage for heads: every variable of a head must occur in its body (or be an
    // argument). When one does not, OPA stops there, and so do we.
    let mut findings = Vec::new();
    for definition in &definitions {
        let mut mentioned = definition.arguments.clone();
        for statement in &definition.body {
            mentioned.extend(statement.var_set());
        }
        let mut seen = BTreeSet::new();
        for term in &definition.head {
            let mut vars = Vec::new();
            vars_of(term, &mut vars);
            for (var, span) in vars {
                if !mentioned.contains(var) && seen.insert(var.clone()) {
                    findings.push(finding(var, definition.span.line, span.col, Why::Head));
                }
            }
        }
    }
    if !findings.is_empty() {
        return findings;
    }
    for definition in &definitions {
        let mut found = Unsafe::default();
        check_body(&definition.body, &definition.arguments, &mut found);
        // Comprehensions in a head are evaluated after the body, with all of its variables.
        let mut around = definition.arguments.clone();
        for statement in &definition.body {
            around.extend(statement.var_set());
        }
        for term in &definition.head {
            let mut closures = Vec::new();
            closures_of(term, &mut closures);
            for closure in closures {
                check_closure(closure, &around, &definition.span, &mut found);
            }
        }
        let mut ordered: Vec<_> = found.found.into_iter().collect();
        ordered.sort_by_key(|(var, (line, column, _, _))| (*line, *column, var.clone()));
        for (var, (line, _, column, why)) in ordered {
            findings.push(finding(&var, line, column, why));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the check refuses in a v1 module, as `line: message-before-the-colon`.
    fn refused(rules: &str) -> Vec<String> {
        let mut engine = Engine::new();
        engine
            .add_policy(
                "p.rego".into(),
                format!("package p\nimport rego.v1\n\n{rules}"),
            )
            .expect("module parses");
        unsafe_variables(&mut engine)
            .into_iter()
            .map(|p| {
                format!(
                    "{}: {}",
                    p.line.unwrap_or(0),
                    p.message.split(": ").next().unwrap_or_default()
                )
            })
            .collect()
    }

    #[test]
    fn a_wildcard_only_inside_a_negation_is_refused() {
        // The issue's three-line policy: it passed a container without `drop` under regorus.
        let found = refused(
            r#"deny contains "x" if {
	c := input.spec.containers[_]
	not c.securityContext.capabilities.drop[_] == "ALL"
}"#,
        );
        assert_eq!(found, ["6: var _ is unsafe"]);
        let mut engine = Engine::new();
        engine
            .add_policy(
                "p.rego".into(),
                "package p\nimport rego.v1\ndeny contains 1 if { c := input.c[_]; not c.d[_] == 1 }".into(),
            )
            .unwrap();
        let problem = &unsafe_variables(&mut engine)[0];
        assert!(
            problem.message.contains("only inside a negated expression"),
            "{}",
            problem.message
        );
        // The wildcard's own column, on the statement's line.
        assert_eq!(
            (problem.file.to_str(), problem.line, problem.column),
            (Some("p.rego"), Some(3), Some(47))
        );
    }

    #[test]
    fn the_same_tests_written_safely_pass() {
        for rules in [
            // The absence test without a fresh variable.
            r#"deny contains "x" if {
	c := input.spec.containers[_]
	not "ALL" in object.get(c, ["securityContext", "capabilities", "drop"], [])
}"#,
            // A helper rule binds the wildcard in its own body.
            r#"deny contains "x" if {
	c := input.spec.containers[_]
	not drops_all(c)
}
drops_all(c) if c.securityContext.capabilities.drop[_] == "ALL""#,
            // Bound later in the body: the statements are reordered, as OPA does.
            r#"deny contains x if {
	not x == "a"
	x = input.a[_]
}"#,
            // Comprehensions, every, some-in, with, function arguments, output arguments.
            r#"deny contains n if {
	names := {c.name | some c in input.spec.containers}
	every name in names { name != "" }
	n := count(names) with input as {}
	count(input.s, m)
	m > n
}
f(x) := y if y := x + 1"#,
        ] {
            assert_eq!(refused(rules), Vec::<String>::new(), "{rules}");
        }
    }

    #[test]
    fn a_heads_reference_binds_its_variables_as_a_body_would() {
        // OPA moves a head's term that must be evaluated into the body first.
        assert_eq!(
            refused("volumes contains input.spec.volumes[_]"),
            Vec::<String>::new()
        );
        assert_eq!(
            refused("ports contains input.p[i].port"),
            Vec::<String>::new()
        );
        assert_eq!(refused("first := input.items[_]"), Vec::<String>::new());
        assert_eq!(refused("names contains x"), ["4: var x is unsafe"]);
        assert_eq!(
            refused("pairs contains [x, input.a[_]]"),
            ["4: var x is unsafe"]
        );
        assert_eq!(refused("sizes contains count(x)"), ["4: var x is unsafe"]);
    }

    #[test]
    fn unbound_variables_are_refused_where_opa_reports_them() {
        assert_eq!(
            refused("deny contains x if { y := 1 }"),
            ["4: var x is unsafe"],
            "a head variable its body never mentions"
        );
        assert_eq!(
            refused("allow if { count(x) > 0 }"),
            ["4: var x is unsafe"],
            "an input of a call"
        );
        assert_eq!(
            refused("allow if {\n\tv := z\n\tinput.d[v]\n}"),
            ["5: var z is unsafe"],
            "`:=` binds its left side from the right one only"
        );
        assert_eq!(
            refused("allow if {\n\ty := [x | x := z[_]]\n}"),
            [
                "5: var _ is unsafe",
                "5: var x is unsafe",
                "5: var z is unsafe"
            ],
            "inside a comprehension, at the statement that holds it"
        );
        assert_eq!(
            refused("allow if {\n\tevery x in input.s { x != y }\n}"),
            ["5: var y is unsafe"],
        );
    }

    #[test]
    fn declarations_opa_refuses_are_refused_first() {
        assert_eq!(
            refused("allow if {\n\tx := 1\n\tx := 2\n}"),
            ["6: var x assigned above"]
        );
        assert_eq!(
            refused("allow if {\n\ty := x\n\tx := 2\n}"),
            ["6: var x referenced above"]
        );
        assert_eq!(
            refused("f(x) if {\n\tsome x in input.s\n}"),
            ["5: arg x redeclared"]
        );
        assert_eq!(
            refused("allow if {\n\tsome x\n\tinput.a == 1\n}"),
            ["5: declared var x unused"]
        );
        // Shadowing in a comprehension is a new variable, not a second declaration.
        assert_eq!(
            refused("allow if {\n\tx := 1\n\ty := [x | some x in input.s]\n\ty[x]\n}"),
            Vec::<String>::new()
        );
    }

    /// The references the fail-open warning names, in a v1 module.
    fn warned(rules: &str) -> Vec<String> {
        let mut engine = Engine::new();
        engine
            .add_policy(
                "p.rego".into(),
                format!("package p\nimport rego.v1\n\n{rules}"),
            )
            .expect("module parses");
        fail_open_negations(&mut engine)
            .into_iter()
            .map(|p| {
                let at = p.message.split('`').nth(1).unwrap_or_default().to_owned();
                format!("{}:{} {at}", p.line.unwrap_or(0), p.column.unwrap_or(0))
            })
            .collect()
    }

    #[test]
    fn negated_calls_on_references_are_warned_about_and_comparisons_are_not() {
        let rules = r#"deny contains "x" if {
	c := input.c[_]
	not startswith(c.image, "r/")
	not c.resources.cpu == "1"
	not c.securityContext
	not count(object.get(c, "ports", [])) > 0
	not c.name in {"a", "b"}
	not [c.x] == [1]
	v := [1 | not is_object(c.y)]
}"#;
        assert_eq!(
            warned(rules),
            ["6:21 c.image", "10:10 c.name", "11:11 c.x", "12:30 c.y"]
        );
    }

    #[test]
    fn rules_of_the_package_and_imports_are_not_variables() {
        let mut engine = Engine::new();
        engine
            .add_policy(
                "a.rego".into(),
                "package p\nimport rego.v1\nlimit := 3\n".into(),
            )
            .unwrap();
        engine
            .add_policy(
                "b.rego".into(),
                "package p\nimport rego.v1\nimport data.lib.k8s\nimport input.spec as s\ndeny contains 1 if { count(s.x) > limit; k8s.f(s) }\n".into(),
            )
            .unwrap();
        assert!(unsafe_variables(&mut engine).is_empty());
    }
}
