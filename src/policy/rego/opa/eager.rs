//! OPA evaluates the arguments of a negated expression before the negation: its compiler
//! moves every reference and call an argument holds into statements of their own in front of
//! the `not` (`not f(input.x)` becomes `__local0__ = input.x; not f(__local0__)`, stages
//! RewriteExprTerms, RewriteWithValues and RewriteDynamicTerms of OPA's `ast/compile.go`), so
//! an undefined argument makes the whole body fail. regorus evaluates the negated expression
//! as written, finds it undefined, and takes the negation as true: a `deny` fires that OPA,
//! conftest and Gatekeeper do not fire, an `exception` lets an object through. This module
//! writes the same statements into the module's text before regorus reads it, so that both
//! of its engines evaluate what OPA evaluates.
//!
//! What is moved, as OPA moves it:
//! - a call's arguments and an operator's operands (`not f(x.y)`, `not count(xs) > 0`,
//!   `not x.y != 1`, `not x.y in s`): a call or operator among them whole, a reference whole,
//!   an array, set or object holding a reference or call whole; a comprehension is always
//!   defined and stays;
//! - `==` (a unification for OPA, `=` too) and a bare reference (`not x.y[input.k]`) keep
//!   their references: only what is computed inside them moves (a call, a reference in
//!   brackets, an array or object holding one);
//! - a `with` value that holds a reference, call or comprehension (`with input as x.y`), in
//!   front of everything else and without the `with`; what moves from the expression keeps
//!   its `with` modifiers.
//!
//! The moved statements are unifications with fresh variables (`__policyrun_eagerN = ...`):
//! regorus' virtual machine does not fail a body on `v := undefined`, it does on `=`. They go
//! on the same line as the negation, so every line keeps its number.

use std::collections::HashSet;

use regorus::unstable::{
    AssignOp, BoolOp, Expr, Literal, LiteralStmt, Module, Parser, Query, Rule, RuleHead,
};

mod tree;

use super::text::{Edit, Range, apply, children, extent, render, statement_extent};
use tree::{
    declared_names, index_places, is_call, literal_set_key, merged, nested_query_reads_input,
    pattern_names, pattern_order, plain_path, root_name, statement_exprs,
};

/// The prefix of the variables this rewrite introduces (policyrun's own names: a policy that
/// uses one is refused at load, so they never meet a policy's variable).
pub const EAGER_PREFIX: &str = "__policyrun_eager";

/// What a name in a module can stand for, for one module: the names that are references to
/// documents (`input`, `data`, the rules of the module's package, its imports) and the
/// functions a `with` may replace or replace by.
pub struct Names {
    pub globals: HashSet<String>,
    pub functions: HashSet<String>,
}

/// Which of regorus' engines a rewrite is for: the virtual machine needs more (see
/// [`rewrite`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Interpreter,
    Vm,
}

/// The module's text as OPA's compiler would evaluate it, for `target`; `None` when it needs
/// no rewrite. For the virtual machine also: a test after every `x := E` that `x` is
/// defined, what a comprehension collects moved into its body, `input` read at the start of
/// a query whose comprehension reads it, and the variables of `every` copied before they
/// index (regorus' virtual machine evaluates each of those otherwise than OPA and its own
/// interpreter, see the methods).
pub fn rewrite(module: &Module, names: &Names, target: Target) -> Option<String> {
    let text = module.package.span.source.get_contents();
    let mut rewriter = Rewriter {
        text,
        vm: target == Target::Vm,
        v1: module.rego_v1,
        names,
        scopes: Vec::new(),
        edits: Vec::new(),
        counter: 0,
    };
    for rule in &module.policy {
        rewriter.rule(rule);
    }
    if rewriter.edits.is_empty() {
        return None;
    }
    Some(apply(text, &rewriter.edits))
}

struct Rewriter<'a> {
    text: &'a str,
    /// The rewrite is for the virtual machine.
    vm: bool,
    /// The module is read as Rego v1: a body needs `if`.
    v1: bool,
    names: &'a Names,
    /// Names declared in the enclosing rule, bodies and comprehensions (innermost last):
    /// a declared name is a local variable even where a rule of the package has it.
    scopes: Vec<HashSet<String>>,
    /// Non-overlapping edits in the order they were made; an edit of a whole statement
    /// takes in the edits made inside it before.
    edits: Vec<Edit>,
    counter: usize,
}

impl Rewriter<'_> {
    fn rule(&mut self, rule: &Rule) {
        let Rule::Spec { head, bodies, span } = rule else {
            return;
        };
        // A v0 function without body or value (`allowed("RunAsAny", _)`) is `true` for OPA;
        // regorus' virtual machine finds it undefined. The value written out means the same
        // to both engines.
        if let RuleHead::Func { assign: None, .. } = head
            && bodies.is_empty()
        {
            let end = span.end as usize;
            self.edits.push(Edit {
                range: Range { start: end, end },
                text: " = true".to_owned(),
            });
        }
        // In a v0 module that imports a future keyword, regorus reads a body-less `p[x]` as
        // `p[x] := true` (an object); OPA, and regorus without the import, as the set rule.
        if !self.v1
            && bodies.is_empty()
            && let RuleHead::Compr {
                refr, assign: None, ..
            } = head
            && let Expr::RefBrack {
                refr: base, index, ..
            } = refr.as_ref()
            && matches!(base.as_ref(), Expr::Var { .. })
        {
            let end = span.end as usize;
            if self.computed(index) {
                self.move_key_into_body(index, end);
            } else {
                self.edits.push(Edit {
                    range: Range { start: end, end },
                    text: " { true }".to_owned(),
                });
            }
            return;
        }
        // A head without body whose key must be evaluated (`volumes[input.spec.volumes[_]]`):
        // OPA moves the key into a body (RewriteRefsInHead), where an undefined reference
        // makes the rule undefined; regorus fails on it.
        if let RuleHead::Set { key: Some(key), .. } = head
            && bodies.is_empty()
            && self.computed(key)
        {
            self.move_key_into_body(key, span.end as usize);
            return;
        }
        // A multi-value rule with a literal key (`deny contains "m" if ...`, v0 `deny["m"]
        // { ... }`): regorus stops evaluating a body at its first solution, since the value
        // cannot change; OPA evaluates every solution, so an error in a later one fails the
        // rule there. The same value written as no literal (`["m"][0]`) makes both of
        // regorus' engines go on.
        if !bodies.is_empty()
            && let Some(key) = literal_set_key(head, self.v1)
        {
            let range = extent(self.text, key);
            let literal = render(self.text, range, &[]);
            self.edits.push(Edit {
                range,
                text: format!("[{literal}][0]"),
            });
        }
        let mut arguments = HashSet::new();
        let head_values: Vec<&Expr> = match head {
            RuleHead::Compr { assign, .. } => assign.iter().map(|a| a.value.as_ref()).collect(),
            RuleHead::Set { key, .. } => key.iter().map(|k| k.as_ref()).collect(),
            RuleHead::Func { args, assign, .. } => {
                for arg in args {
                    pattern_names(arg, &mut arguments);
                }
                assign.iter().map(|a| a.value.as_ref()).collect()
            }
        };
        self.scopes.push(arguments);
        for value in head_values {
            self.nested(value);
        }
        for body in bodies {
            if let Some(assign) = &body.assign {
                self.nested(&assign.value);
            }
            self.body(&body.query);
        }
        self.scopes.pop();
    }

    /// The key of a body-less rule (ending at `end`) into a body of its own:
    /// `p[__policyrun_eagerN] { __policyrun_eagerN = key }`.
    fn move_key_into_body(&mut self, key: &Expr, end: usize) {
        let range = extent(self.text, key);
        let name = self.fresh();
        let value = render(self.text, range, &[]);
        let keyword = if self.v1 { " if" } else { "" };
        self.edits.push(Edit {
            range,
            text: name.clone(),
        });
        self.edits.push(Edit {
            range: Range { start: end, end },
            text: format!("{keyword} {{ {name} = {value} }}"),
        });
    }

    /// A rule's body, in a scope of the names it declares. A body written without braces
    /// (`p if not f(x)`) gets them when a statement becomes several.
    fn body(&mut self, query: &Query) {
        // Without braces a body is one statement right after `if`.
        let braceless = query.stmts.len() == 1
            && query.stmts.first().is_some_and(|stmt| {
                let start = statement_extent(self.text, stmt).start;
                let before = self.text[..start].trim_end();
                before.ends_with("if")
                    && !before[..before.len() - 2]
                        .ends_with(|c: char| c.is_alphanumeric() || c == '_')
            });
        self.scoped_query(query, HashSet::new(), &[], !braceless);
    }

    /// A query in a scope of the names it declares and `bound` (an `every`'s key and
    /// value), then `terms` (what a comprehension collects) in that scope.
    fn scoped_query(
        &mut self,
        query: &Query,
        mut bound: HashSet<String>,
        terms: &[&Expr],
        braced: bool,
    ) {
        for stmt in &query.stmts {
            declared_names(stmt, &mut bound);
        }
        self.scopes.push(bound);
        let mut braced = braced;
        // regorus' virtual machine loads `input` once per query, where it is first used: when
        // that is inside a comprehension or `every` whose body never runs (nothing to iterate),
        // every later `input` of the query is undefined there. Read here first, it is loaded
        // at the query's start.
        if self.vm
            && query.stmts.iter().any(nested_query_reads_input)
            && let (Some(first), Some(last)) = (query.stmts.first(), query.stmts.last())
        {
            let start = statement_extent(self.text, first).start;
            let name = self.fresh();
            let (open, close) = if braced { ("", "") } else { ("{ ", " }") };
            self.edits.push(Edit {
                range: Range { start, end: start },
                text: format!("{open}{name} = input; "),
            });
            if !close.is_empty() {
                let end = statement_extent(self.text, last).end;
                self.edits.push(Edit {
                    range: Range { start: end, end },
                    text: close.to_owned(),
                });
            }
            braced = true;
        }
        for stmt in &query.stmts {
            self.statement(stmt, braced);
        }
        for term in terms {
            self.nested(term);
        }
        self.scopes.pop();
    }

    fn statement(&mut self, stmt: &LiteralStmt, braced: bool) {
        for modifier in &stmt.with_mods {
            self.nested(&modifier.refr);
            self.nested(&modifier.r#as);
        }
        match &stmt.literal {
            Literal::SomeVars { .. } => {}
            Literal::SomeIn {
                key,
                value,
                collection,
                ..
            } => {
                for expr in key.iter().chain([value, collection]) {
                    self.nested(expr);
                }
                self.some_in(stmt, collection, braced);
            }
            Literal::Expr { expr, .. } => {
                self.nested(expr);
                if self.vm {
                    let hoisted = self.function_arguments(stmt, expr, braced);
                    self.assignment(stmt, expr, braced || hoisted);
                    if hoisted && !braced {
                        let end = statement_extent(self.text, stmt).end;
                        self.edits.push(Edit {
                            range: Range { start: end, end },
                            text: " }".to_owned(),
                        });
                    }
                }
            }
            Literal::Every {
                key,
                value,
                domain,
                query,
                ..
            } => {
                self.nested(domain);
                let mut bound = HashSet::new();
                bound.extend(key.iter().map(|k| k.text().to_owned()));
                bound.insert(value.text().to_owned());
                if self.vm {
                    for name in bound.clone() {
                        self.every_index(query, &name);
                    }
                }
                self.scoped_query(query, bound, &[], true);
            }
            Literal::NotExpr { expr, .. } => {
                self.nested(expr);
                self.negation(stmt, expr, braced);
            }
        }
    }

    /// `x := E` where `E` may be undefined: regorus' virtual machine binds `x` to undefined
    /// and goes on, where OPA (and the interpreter) fail the body. A test of each variable
    /// the assignment binds (`x == x`, false only for undefined) makes both fail it.
    fn assignment(&mut self, stmt: &LiteralStmt, expr: &Expr, braced: bool) {
        let Expr::AssignExpr {
            op: AssignOp::ColEq,
            lhs,
            rhs,
            ..
        } = expr
        else {
            return;
        };
        if !self.computed(rhs) {
            return;
        }
        let mut names = Vec::new();
        pattern_order(lhs, &mut names);
        let guards: Vec<String> = names
            .iter()
            .filter(|n| *n != "_")
            .map(|n| format!("{n} == {n}"))
            .collect();
        if guards.is_empty() {
            return;
        }
        let whole = statement_extent(self.text, stmt);
        let (open, close) = if braced { ("", "") } else { ("{ ", " }") };
        if !open.is_empty() {
            self.edits.push(Edit {
                range: Range {
                    start: whole.start,
                    end: whole.start,
                },
                text: open.to_owned(),
            });
        }
        self.edits.push(Edit {
            range: Range {
                start: whole.end,
                end: whole.end,
            },
            text: format!("; {}{close}", guards.join("; ")),
        });
    }

    /// For the virtual machine: a call of a function of the policies with an argument that
    /// may be undefined (`g(input.rule, input.ranges)`). regorus' virtual machine binds the
    /// undefined value to the function's parameter (a `_` of `g("RunAsAny", _)` matches
    /// it) and the call holds; OPA moves the argument into a statement of its own in front
    /// of the call (RewriteDynamicTerms), where an undefined value fails the body, as the
    /// interpreter does. The same statements are written here: `__policyrun_eagerN =
    /// input.ranges; g(input.rule, __policyrun_eagerN)`, each with the statement's `with`
    /// modifiers. Opens braces when the body had none (`braced`), without closing them:
    /// the caller closes them after what follows the statement. Whether it rewrote.
    fn function_arguments(&mut self, stmt: &LiteralStmt, expr: &Expr, braced: bool) -> bool {
        let mut moved = Vec::new();
        self.function_call_arguments(expr, &mut moved);
        if moved.is_empty() {
            return false;
        }
        let whole = statement_extent(self.text, stmt);
        let inner = self.take_edits_within(whole);
        let modifiers: String = stmt
            .with_mods
            .iter()
            .map(|m| {
                let range = Range {
                    start: m.span.start as usize,
                    end: extent(self.text, &m.r#as).end.max(m.span.end as usize),
                };
                format!(" {}", render(self.text, range, &inner))
            })
            .collect();
        let mut statements = Vec::new();
        let mut arguments: Vec<Edit> = Vec::new();
        for range in moved {
            let name = self.fresh();
            statements.push(format!(
                "{name} = {}{modifiers}",
                render(self.text, range, &inner)
            ));
            arguments.push(Edit { range, text: name });
        }
        statements.push(render(self.text, whole, &merged(&inner, &arguments)));
        let open = if braced { "" } else { "{ " };
        self.edits.push(Edit {
            range: whole,
            text: format!("{open}{}", statements.join("; ")),
        });
        true
    }

    /// The arguments to move out of the calls of the policies' functions in `expr` (see
    /// [`Self::function_arguments`]): a reference, a document's name, an operator or a
    /// builtin's call, a collection that computes; a call of a function of the policies
    /// stays, its own arguments move. A comprehension's query is its own.
    fn function_call_arguments(&self, expr: &Expr, moved: &mut Vec<Range>) {
        match expr {
            Expr::ArrayCompr { .. } | Expr::SetCompr { .. } | Expr::ObjectCompr { .. } => {}
            Expr::Call { fcn, params, .. } if self.is_function(fcn) => {
                for param in params {
                    if matches!(param.as_ref(), Expr::Call { fcn, .. } if self.is_function(fcn)) {
                        self.function_call_arguments(param, moved);
                    } else {
                        self.argument(param, moved);
                    }
                }
            }
            other => {
                for child in children(other) {
                    self.function_call_arguments(child, moved);
                }
            }
        }
    }

    /// Is `fcn`, the name of a call, a function the policies define?
    fn is_function(&self, fcn: &regorus::unstable::Ref<Expr>) -> bool {
        Parser::get_path_ref_components(fcn).is_ok_and(|parts| {
            let name: Vec<&str> = parts.iter().map(|p| p.text()).collect();
            self.names.functions.contains(&name.join("."))
        })
    }

    /// `every v in xs { input.o[v] }`: regorus' virtual machine takes a lookup by the
    /// `every`'s own variable as an iteration, which finds nothing where the lookup is
    /// undefined, and then lets the `every` hold. A copy of the variable (`__policyrun_eagerN
    /// := v` at the body's start) in those brackets is a lookup there too.
    fn every_index(&mut self, query: &Query, name: &str) {
        let mut places = Vec::new();
        for stmt in &query.stmts {
            for expr in statement_exprs(stmt) {
                index_places(expr, name, &mut places);
            }
            if let Literal::Every { query, .. } = &stmt.literal {
                for inner in &query.stmts {
                    for expr in statement_exprs(inner) {
                        index_places(expr, name, &mut places);
                    }
                }
            }
        }
        let Some(first) = query.stmts.first() else {
            return;
        };
        if places.is_empty() {
            return;
        }
        let copy = self.fresh();
        let start = statement_extent(self.text, first).start;
        self.edits.push(Edit {
            range: Range { start, end: start },
            text: format!("{copy} := {name}; "),
        });
        for range in places {
            self.edits.push(Edit {
                range,
                text: copy.clone(),
            });
        }
    }

    /// `some x in xs` over an `xs` that may be no collection: OPA finds no `x` there (the
    /// body fails), regorus' interpreter fails the evaluation. The collection, evaluated
    /// first, must be an array, set or object for the iteration to run.
    fn some_in(&mut self, stmt: &LiteralStmt, collection: &Expr, braced: bool) {
        if !stmt.with_mods.is_empty()
            || matches!(
                collection,
                Expr::Array { .. }
                    | Expr::Set { .. }
                    | Expr::Object { .. }
                    | Expr::ArrayCompr { .. }
                    | Expr::SetCompr { .. }
                    | Expr::ObjectCompr { .. }
            )
        {
            return;
        }
        let range = extent(self.text, collection);
        let inner = self.take_edits_within(range);
        let value = render(self.text, range, &inner);
        let name = self.fresh();
        let whole = statement_extent(self.text, stmt);
        let (open, close) = if braced { ("", "") } else { ("{ ", " }") };
        self.edits.push(Edit {
            range: Range {
                start: whole.start,
                end: whole.start,
            },
            text: format!(
                "{open}{name} = {value}; type_name({name}) in {{\"array\", \"set\", \"object\"}}; "
            ),
        });
        self.edits.push(Edit { range, text: name });
        if !close.is_empty() {
            self.edits.push(Edit {
                range: Range {
                    start: whole.end,
                    end: whole.end,
                },
                text: close.to_owned(),
            });
        }
    }

    /// What a comprehension collects, when it must be evaluated (`[x.y | some x in xs]`),
    /// moves into its body as `__policyrun_eagerN = x.y` (OPA's RewriteComprehensionTerms):
    /// regorus' virtual machine otherwise collects an undefined `x.y` as a value.
    fn comprehension_terms(&mut self, terms: &[&Expr], query: &Query) {
        let Some(last) = query.stmts.last() else {
            return;
        };
        let end = statement_extent(self.text, last).end;
        for term in terms {
            if !self.computed(term) {
                continue;
            }
            let range = extent(self.text, term);
            let inner = self.take_edits_within(range);
            let name = self.fresh();
            let value = render(self.text, range, &inner);
            self.edits.push(Edit {
                range,
                text: name.clone(),
            });
            self.edits.push(Edit {
                range: Range { start: end, end },
                text: format!("; {name} = {value}"),
            });
        }
    }

    /// Removes and returns the edits made inside `range` (to be rendered into a new text for
    /// it).
    fn take_edits_within(&mut self, range: Range) -> Vec<Edit> {
        // An insertion at either end is the enclosing text's, not the range's.
        let inside = |e: &Edit| {
            let insertion = e.range.start == e.range.end;
            e.range.start >= range.start
                && e.range.end <= range.end
                && !(insertion && (e.range.start == range.start || e.range.end == range.end))
        };
        let (inside, outside): (Vec<Edit>, Vec<Edit>) = self.edits.drain(..).partition(inside);
        self.edits = outside;
        inside
    }

    /// The queries of the comprehensions inside an expression.
    fn nested(&mut self, expr: &Expr) {
        match expr {
            Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
                self.scoped_query(query, HashSet::new(), &[term], true);
                if self.vm {
                    self.comprehension_terms(&[term], query);
                }
            }
            Expr::ObjectCompr {
                key, value, query, ..
            } => {
                self.scoped_query(query, HashSet::new(), &[key, value], true);
                if self.vm {
                    self.comprehension_terms(&[key, value], query);
                }
            }
            other => {
                for child in children(other) {
                    self.nested(child);
                }
            }
        }
    }

    /// Rewrites `not E with ...` when something in `E` or a `with` value must be evaluated
    /// first. `braced`: the statement may become several (`;`), else they need braces.
    fn negation(&mut self, stmt: &LiteralStmt, expr: &Expr, braced: bool) {
        let mut moved: Vec<Range> = Vec::new();
        match expr {
            Expr::BoolExpr {
                op: BoolOp::Eq,
                lhs,
                rhs,
                ..
            }
            | Expr::AssignExpr {
                op: AssignOp::Eq,
                lhs,
                rhs,
                ..
            } => {
                self.unified(lhs, &mut moved);
                self.unified(rhs, &mut moved);
            }
            Expr::Call { params, .. } => {
                for param in params {
                    self.argument(param, &mut moved);
                }
            }
            Expr::BoolExpr { lhs, rhs, .. }
            | Expr::ArithExpr { lhs, rhs, .. }
            | Expr::BinExpr { lhs, rhs, .. } => {
                self.argument(lhs, &mut moved);
                self.argument(rhs, &mut moved);
            }
            Expr::Membership {
                key,
                value,
                collection,
                ..
            } => {
                for operand in key.iter().chain([value, collection]) {
                    self.argument(operand, &mut moved);
                }
            }
            Expr::UnaryExpr { expr, .. } => self.argument(expr, &mut moved),
            term => self.unified(term, &mut moved),
        }
        let with_values: Vec<Range> = stmt
            .with_mods
            .iter()
            .filter(|m| self.with_value_moves(&m.refr, &m.r#as))
            .map(|m| extent(self.text, &m.r#as))
            .collect();
        if moved.is_empty() && with_values.is_empty() {
            return;
        }
        let whole = statement_extent(self.text, stmt);
        // The edits already made inside this statement (comprehensions' own negations)
        // become part of its new text.
        let inner = self.take_edits_within(whole);
        let mut statements = Vec::new();
        // `with` values first, as OPA's RewriteWithValues places them, without the `with`.
        let mut replaced: Vec<Edit> = Vec::new();
        for range in with_values {
            let name = self.fresh();
            statements.push(format!("{name} = {}", render(self.text, range, &inner)));
            replaced.push(Edit { range, text: name });
        }
        let modifiers: String = stmt
            .with_mods
            .iter()
            .map(|m| {
                let range = Range {
                    start: m.span.start as usize,
                    end: extent(self.text, &m.r#as).end.max(m.span.end as usize),
                };
                format!(" {}", render(self.text, range, &merged(&inner, &replaced)))
            })
            .collect();
        let mut arguments: Vec<Edit> = Vec::new();
        for range in moved {
            let name = self.fresh();
            statements.push(format!(
                "{name} = {}{modifiers}",
                render(self.text, range, &inner)
            ));
            arguments.push(Edit { range, text: name });
        }
        let not_range = Range {
            start: whole.start,
            end: extent(self.text, expr).end,
        };
        statements.push(format!(
            "{}{modifiers}",
            render(self.text, not_range, &merged(&inner, &arguments))
        ));
        let joined = statements.join("; ");
        let text = if braced {
            joined
        } else {
            format!("{{ {joined} }}")
        };
        self.edits.push(Edit { range: whole, text });
    }

    /// An operand of a negated call or operator: moved when it is a call, a reference, or an
    /// array, set or object that holds one (OPA's `rewriteDynamicsOne` after
    /// `expandExprTerm`).
    fn argument(&self, expr: &Expr, moved: &mut Vec<Range>) {
        let moves = match expr {
            _ if is_call(expr) => true,
            Expr::RefDot { .. } | Expr::RefBrack { .. } => true,
            Expr::Var { .. } => self.is_global(expr),
            Expr::Array { .. } | Expr::Set { .. } | Expr::Object { .. } => self.computed(expr),
            _ => false,
        };
        if moves {
            moved.push(extent(self.text, expr));
        }
    }

    /// A side of a negated unification, or a negated term: a call moves whole; a reference
    /// keeps its place, but what its brackets compute moves; an array, set or object that
    /// holds a reference or call moves whole (`rewriteDynamicsInTerm`).
    fn unified(&self, expr: &Expr, moved: &mut Vec<Range>) {
        match expr {
            _ if is_call(expr) => moved.push(extent(self.text, expr)),
            Expr::RefDot { .. } | Expr::RefBrack { .. } => self.reference_parts(expr, moved),
            Expr::Array { .. } | Expr::Set { .. } | Expr::Object { .. } if self.computed(expr) => {
                moved.push(extent(self.text, expr))
            }
            _ => {}
        }
    }

    /// The brackets of a reference and what it starts from, when they compute something.
    fn reference_parts(&self, expr: &Expr, moved: &mut Vec<Range>) {
        match expr {
            Expr::RefDot { refr, .. } => self.reference_parts(refr, moved),
            Expr::RefBrack { refr, index, .. } => {
                self.reference_parts(refr, moved);
                self.argument(index, moved);
            }
            // A reference that starts from a call or a literal (`f(x).y`, `[1, 2][i]`).
            Expr::Var { .. } => {}
            root => self.argument(root, moved),
        }
    }

    /// Does this `with` value move in front of the expression? Only a value that needs
    /// evaluating and replaces a document (`input...`, `data...`): a function put in place
    /// of another (`with f as g`) stays.
    fn with_value_moves(&self, target: &Expr, value: &Expr) -> bool {
        let root = root_name(target);
        if root != Some("input") && root != Some("data") {
            return false;
        }
        if let Some(path) = plain_path(value)
            && self.names.functions.contains(&path)
        {
            return false;
        }
        self.computed(value)
    }

    /// Does evaluating `expr` read a document or call something (OPA's `requiresEval`)?
    fn computed(&self, expr: &Expr) -> bool {
        match expr {
            Expr::RefDot { .. }
            | Expr::RefBrack { .. }
            | Expr::ArrayCompr { .. }
            | Expr::SetCompr { .. }
            | Expr::ObjectCompr { .. } => true,
            Expr::Var { .. } => self.is_global(expr),
            _ if is_call(expr) => true,
            other => children(other).into_iter().any(|c| self.computed(c)),
        }
    }

    /// A name that refers to a document rather than to a variable of the rule.
    fn is_global(&self, expr: &Expr) -> bool {
        let Expr::Var { span, .. } = expr else {
            return false;
        };
        let name = span.text();
        self.names.globals.contains(name) && !self.scopes.iter().any(|s| s.contains(name))
    }

    fn fresh(&mut self) -> String {
        let name = format!("{EAGER_PREFIX}{}", self.counter);
        self.counter += 1;
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regorus::Engine;

    /// The module as the rewrite leaves it (unchanged when it needs none).
    pub(crate) fn rewritten(text: &str, v0: bool) -> String {
        let mut engine = Engine::new();
        engine.set_rego_v0(v0);
        engine
            .add_policy("m.rego".into(), text.into())
            .expect("module parses");
        let names = super::super::names_by_module(engine.get_modules());
        let module = engine.get_modules()[0].clone();
        let target = if std::env::var("VM").is_ok() {
            Target::Vm
        } else {
            Target::Interpreter
        };
        rewrite(&module, &names[0], target).unwrap_or_else(|| text.to_owned())
    }

    #[test]
    fn debug_print() {
        if let Ok(path) = std::env::var("EAGER_DEBUG") {
            let text = std::fs::read_to_string(path).unwrap();
            println!("{}", rewritten(&text, std::env::var("V0").is_ok()));
        }
    }
}
