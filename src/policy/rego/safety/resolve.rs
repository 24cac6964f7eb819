//! Names resolved to variables while a rule's terms are built, in source order, as OPA's
//! compiler renames declared variables before it checks safety.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use regorus::unstable::{AssignOp, Expr, Literal, LiteralStmt, Parser, Query, Span};

use super::terms::*;

/// Resolves names to variables while terms are built, in source order, as OPA's compiler
/// renames declared variables before it checks safety — and refuses what that renaming
/// refuses.
pub(super) struct Resolver<'g> {
    pub(super) globals: &'g HashSet<String>,
    pub(super) scopes: Vec<Scope>,
    pub(super) serial: usize,
    /// For each closure being read (innermost last): the variables used in it.
    pub(super) frames: Vec<BTreeSet<Var>>,
    /// What the renaming refuses, with where: OPA reports these instead of unsafe variables.
    pub(super) refused: Vec<(Span, String, String)>,
}

impl Resolver<'_> {
    /// Declares the name at `span`, or refuses it (reported at `report_at`) when the scope
    /// already holds the name: used, assigned, declared, or an argument.
    pub(super) fn declare(
        &mut self,
        span: &Span,
        occurrence: Occurrence,
        report_at: &Span,
    ) -> Option<Var> {
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

    pub(super) fn lookup(&mut self, span: &Span) -> Option<Var> {
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
    pub(super) fn open(&mut self, query: Option<&Query>) {
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
    pub(super) fn close(&mut self, used: &BTreeSet<String>) {
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
    pub(super) fn declare_some_in(
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
    pub(super) fn reread_domain(&mut self, domain: &Expr, bound: &[Var]) -> Option<Term> {
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
    pub(super) fn declare_pattern(&mut self, pattern: &Expr, occurrence: Occurrence) {
        let mut spans = Vec::new();
        pattern_spans(pattern, &mut spans);
        for span in spans.iter().filter(|s| s.text() != "_") {
            self.declare(span, occurrence, span);
        }
    }

    pub(super) fn term(&mut self, expr: &Expr) -> Term {
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

    pub(super) fn closure(
        &mut self,
        terms: &[&regorus::unstable::Ref<Expr>],
        query: &Query,
    ) -> Closure {
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
    pub(super) fn statements(&mut self, query: &Query) -> Vec<Statement> {
        query.stmts.iter().map(|s| self.statement(s)).collect()
    }

    pub(super) fn statement(&mut self, stmt: &LiteralStmt) -> Statement {
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
