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
use regorus::unstable::{Expr, Literal, Module, Parser, Query, Rule, RuleHead, Span};

mod resolve;
mod terms;

use super::problem::Problem;
use resolve::Resolver;
use terms::*;

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
