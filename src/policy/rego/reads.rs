//! Which parts of `data.policyrun` a rule can read, from the syntax tree, following the rules
//! and functions it references: what decides whether two objects of the same content in
//! different clusters (or entries) can share one evaluation of the rule.
//!
//! The reading is exact, not a heuristic: it over-approximates and says "anything" whenever it
//! cannot tell. A reference `data.policyrun.cluster.policy.pod_security` reads that value; a
//! reference whose path stops at a dynamic part (`data.policyrun.cluster.policy[k]`) reads
//! everything below its static prefix. Names are resolved as OPA resolves them, over the
//! whole package whichever file defines what (see [`Scope`]), and every rule or function
//! whose path a reference may reach is followed, all its definitions (`else` bodies and
//! `default`s included). A call of policyrun's own `__policyrun_object_context` reads
//! `object` (policies may not call it: [`super::load`] refuses the name). A rule is said to
//! read anything when something it reaches uses `with`, reads `data` at its root (`data[x]`,
//! `walk(data)`), names another of policyrun's own names, or calls a builtin whose value is
//! not the same on every call (`time.now_ns`, ...); and every rule is, when a module
//! declares a package under `policyrun` (its rules would be part of the document the
//! analysis reasons about).

use std::collections::{BTreeSet, HashMap, HashSet};

use regorus::Engine;
use regorus::unstable::{Expr, Literal, Module, Query, Rule, RuleHead};

use super::modules::{OBJECT_CONTEXT_BUILTIN, RESERVED, package_path};

/// What one rule can read of `data.policyrun`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Reads {
    /// At most these subtrees (paths below `data.policyrun`; an empty path is all of it).
    Paths(BTreeSet<Vec<String>>),
    /// Unknown: the rule is evaluated for every object on its own.
    Anything,
}

impl Reads {
    /// The reads of two rules evaluated together.
    pub(crate) fn union(&self, other: &Reads) -> Reads {
        match (self, other) {
            (Reads::Paths(a), Reads::Paths(b)) => Reads::Paths(a.union(b).cloned().collect()),
            _ => Reads::Anything,
        }
    }
}

/// Builtins whose value differs from one call to the next: a rule that reaches one is never
/// shared (two evaluations would not give the same result anyway).
const VARYING: &[&str] = &[
    "time.now_ns",
    "rand.intn",
    "uuid.rfc4122",
    "http.send",
    "net.lookup_ip_addr",
    "opa.runtime",
];

/// What a rule's own definition references, before following other rules.
#[derive(Default)]
struct Direct {
    /// Static prefixes of `data` references (below `data`), each possibly followed by a
    /// dynamic part.
    data: Vec<Vec<String>>,
    /// Something that makes the reading unknown (`with`, a varying builtin, `data` itself).
    unknown: bool,
}

/// One definition of a rule: its path below `data` (static prefix of its head) and what it
/// references.
struct Definition {
    path: Vec<String>,
    direct: Direct,
}

/// The rules of loaded modules, ready to answer what a rule path can read.
pub(crate) struct Analysis {
    definitions: Vec<Definition>,
    /// A module declares a package under `policyrun`.
    everything_unknown: bool,
}

impl Analysis {
    /// Reads every module of `engine`.
    pub(crate) fn of(engine: &mut Engine) -> Analysis {
        let modules = engine.get_modules().clone();
        let mut definitions = Vec::new();
        let mut everything_unknown = false;
        for module in modules.iter() {
            let package = package_path(module);
            if package.first().is_none_or(|p| p == "policyrun") {
                everything_unknown = true;
            }
            let scope = Scope::of(module, &package);
            for rule in &module.policy {
                let (head_path, direct) = scope.rule(rule);
                let mut path = package.clone();
                path.extend(head_path);
                definitions.push(Definition { path, direct });
            }
        }
        Analysis {
            definitions,
            everything_unknown,
        }
    }

    /// What evaluating the rule at `path` (`data.security.deny_privileged`) can read.
    pub(crate) fn reads(&self, path: &str) -> Reads {
        if self.everything_unknown {
            return Reads::Anything;
        }
        let Some(start) = reference_path(path) else {
            return Reads::Anything;
        };
        let mut read = BTreeSet::new();
        let mut visited: HashSet<usize> = HashSet::new();
        let mut pending: Vec<Vec<String>> = vec![start];
        let mut seen_refs: HashSet<Vec<String>> = HashSet::new();
        while let Some(reference) = pending.pop() {
            if !seen_refs.insert(reference.clone()) {
                continue;
            }
            match reference.split_first() {
                None => return Reads::Anything,
                Some((first, rest)) if first == "policyrun" => {
                    read.insert(rest.to_vec());
                    continue;
                }
                _ => {}
            }
            for (index, definition) in self.definitions.iter().enumerate() {
                if !overlaps(&definition.path, &reference) || !visited.insert(index) {
                    continue;
                }
                if definition.direct.unknown {
                    return Reads::Anything;
                }
                pending.extend(definition.direct.data.iter().cloned());
            }
        }
        Reads::Paths(read)
    }
}

/// One path is a prefix of the other: a reference to either may reach the other.
fn overlaps(a: &[String], b: &[String]) -> bool {
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// `data.a.b["c"]` as `[a, b, c]`; `None` if it is not a static reference below `data`.
fn reference_path(text: &str) -> Option<Vec<String>> {
    let mut engine = Engine::new();
    engine.set_rego_v0(false);
    engine
        .add_policy(
            "reads.rego".to_owned(),
            format!("package __policyrun_reads\nx := {text}\n"),
        )
        .ok()?;
    let module = engine.get_modules().first()?.clone();
    let rule = module.policy.first()?;
    let Rule::Spec {
        head: RuleHead::Compr {
            assign: Some(assign),
            ..
        },
        ..
    } = rule.as_ref()
    else {
        return None;
    };
    let (root, components) = chain(&assign.value);
    match root {
        Some(name) if name == "data" => components.into_iter().collect(),
        _ => None,
    }
}

/// A reference chain: the name at its root and each component after it (`None`: dynamic).
fn chain(expr: &Expr) -> (Option<String>, Vec<Option<String>>) {
    let mut components = Vec::new();
    let mut current = expr;
    loop {
        match current {
            Expr::RefDot { refr, field, .. } => {
                components.push(field.1.as_string().ok().map(|s| s.as_ref().to_owned()));
                current = refr;
            }
            Expr::RefBrack { refr, index, .. } => {
                components.push(static_component(index));
                current = refr;
            }
            Expr::Var { value, .. } => {
                components.reverse();
                return (
                    value.as_string().ok().map(|s| s.as_ref().to_owned()),
                    components,
                );
            }
            _ => {
                components.reverse();
                return (None, components);
            }
        }
    }
}

/// A literal index of a reference, as the key it selects.
fn static_component(index: &Expr) -> Option<String> {
    match index {
        Expr::String { value, .. } | Expr::RawString { value, .. } => {
            value.as_string().ok().map(|s| s.as_ref().to_owned())
        }
        Expr::Number { span, .. } | Expr::Bool { span, .. } | Expr::Null { span, .. } => {
            Some(span.text().to_owned())
        }
        _ => None,
    }
}

/// What names mean inside one module, resolved as OPA resolves them: `data` and `input` are
/// themselves, an import alias stands for what it imports (only `data` and `input` imports
/// bind a name: `import rego.v1` and `import future.keywords...` bind none), and any other
/// name is `data.<package>.<name>`: a rule of the package in any of its files, a ref-head
/// rule (`a.b.c := ...` defines `data.<package>.a.b.c`) or a rule of a package below
/// (`package p.a` is `a` in `p`). A local variable is taken for a rule of its name too: if
/// one lives there it is followed needlessly, never missed.
struct Scope {
    package: Vec<String>,
    /// Import aliases and the path below `data` they stand for (`None`: `input`).
    imports: HashMap<String, Option<Vec<String>>>,
}

impl Scope {
    fn of(module: &Module, package: &[String]) -> Scope {
        let mut imports = HashMap::new();
        for import in &module.imports {
            let (Some(root), components) = chain(&import.refr) else {
                continue;
            };
            if root != "data" && root != "input" {
                // Keyword imports: they change the syntax, not what a name means.
                continue;
            }
            let alias = import
                .r#as
                .as_ref()
                .map(|span| span.text().to_owned())
                .or_else(|| match components.last() {
                    Some(Some(last)) => Some(last.clone()),
                    Some(None) => None,
                    None => Some(root.clone()),
                });
            let Some(alias) = alias else { continue };
            let target =
                (root == "data").then(|| components.into_iter().map_while(|c| c).collect());
            imports.insert(alias, target);
        }
        Scope {
            package: package.to_vec(),
            imports,
        }
    }

    /// The static path of a rule's head below its package, and what the rule references.
    fn rule(&self, rule: &Rule) -> (Vec<String>, Direct) {
        let mut direct = Direct::default();
        let refr = match rule {
            Rule::Spec { head, bodies, .. } => {
                let refr = match head {
                    RuleHead::Compr { refr, assign, .. } => {
                        if let Some(assign) = assign {
                            self.expr(&assign.value, &mut direct);
                        }
                        refr
                    }
                    RuleHead::Set { refr, key, .. } => {
                        if let Some(key) = key {
                            self.expr(key, &mut direct);
                        }
                        refr
                    }
                    RuleHead::Func {
                        refr, args, assign, ..
                    } => {
                        for arg in args {
                            self.expr(arg, &mut direct);
                        }
                        if let Some(assign) = assign {
                            self.expr(&assign.value, &mut direct);
                        }
                        refr
                    }
                };
                for body in bodies {
                    if let Some(assign) = &body.assign {
                        self.expr(&assign.value, &mut direct);
                    }
                    self.query(&body.query, &mut direct);
                }
                refr
            }
            Rule::Default {
                refr, args, value, ..
            } => {
                for arg in args {
                    self.expr(arg, &mut direct);
                }
                self.expr(value, &mut direct);
                refr
            }
        };
        let (root, components) = chain(refr);
        self.indices(refr, &mut direct);
        let mut path: Vec<String> = root.into_iter().collect();
        path.extend(components.into_iter().map_while(|c| c));
        (path, direct)
    }

    fn query(&self, query: &Query, direct: &mut Direct) {
        for stmt in &query.stmts {
            if !stmt.with_mods.is_empty() {
                direct.unknown = true;
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
                        self.expr(key, direct);
                    }
                    self.expr(value, direct);
                    self.expr(collection, direct);
                }
                Literal::Expr { expr, .. } | Literal::NotExpr { expr, .. } => {
                    self.expr(expr, direct)
                }
                Literal::Every { domain, query, .. } => {
                    self.expr(domain, direct);
                    self.query(query, direct);
                }
            }
        }
    }

    /// Walks the index expressions of a reference chain (they are expressions of their own).
    fn indices(&self, expr: &Expr, direct: &mut Direct) {
        let mut current = expr;
        loop {
            match current {
                Expr::RefDot { refr, .. } => current = refr,
                Expr::RefBrack { refr, index, .. } => {
                    self.expr(index, direct);
                    current = refr;
                }
                Expr::Var { .. } => return,
                other => {
                    self.expr(other, direct);
                    return;
                }
            }
        }
    }

    /// Records what a reference chain rooted at a name can reach.
    fn reference(&self, expr: &Expr, direct: &mut Direct) {
        let (root, components) = chain(expr);
        self.indices(expr, direct);
        let Some(root) = root else { return };
        // The variables policyrun's rewrite for OPA's evaluation order introduces
        // (`super::opa::eager`) are locals of a body: they read nothing.
        if root.starts_with(super::opa::eager::EAGER_PREFIX) {
            return;
        }
        let statics: Vec<String> = components.iter().map_while(|c| c.clone()).collect();
        if std::iter::once(&root)
            .chain(&statics)
            .any(|name| name.starts_with(RESERVED))
        {
            // policyrun's own functions and packages (refused in policies at load time):
            // the object's context, or what cannot be told.
            if root == OBJECT_CONTEXT_BUILTIN && statics.is_empty() {
                direct
                    .data
                    .push(vec!["policyrun".to_owned(), "object".to_owned()]);
            } else {
                direct.unknown = true;
            }
            return;
        }
        match root.as_str() {
            "data" => direct.data.push(statics),
            "input" => {}
            _ => {
                if let Some(Some(target)) = self.imports.get(&root) {
                    let mut path = target.clone();
                    path.extend(statics.iter().cloned());
                    direct.data.push(path);
                }
                // Also the package's own name, import or not: regorus looks a function up
                // there when the import holds none, and a rule of the package may share an
                // alias's name.
                let mut path = self.package.clone();
                path.push(root);
                path.extend(statics);
                direct.data.push(path);
            }
        }
    }

    fn expr(&self, expr: &Expr, direct: &mut Direct) {
        match expr {
            Expr::String { .. }
            | Expr::RawString { .. }
            | Expr::Number { .. }
            | Expr::Bool { .. }
            | Expr::Null { .. } => {}
            Expr::Var { .. } | Expr::RefDot { .. } | Expr::RefBrack { .. } => {
                self.reference(expr, direct)
            }
            Expr::Array { items, .. } | Expr::Set { items, .. } => {
                for item in items {
                    self.expr(item, direct);
                }
            }
            Expr::Object { fields, .. } => {
                for (_, key, value) in fields {
                    self.expr(key, direct);
                    self.expr(value, direct);
                }
            }
            Expr::ArrayCompr { term, query, .. } | Expr::SetCompr { term, query, .. } => {
                self.expr(term, direct);
                self.query(query, direct);
            }
            Expr::ObjectCompr {
                key, value, query, ..
            } => {
                self.expr(key, direct);
                self.expr(value, direct);
                self.query(query, direct);
            }
            Expr::Call { fcn, params, .. } => {
                let (root, components) = chain(fcn);
                if let Some(root) = &root {
                    let mut name = root.clone();
                    for component in &components {
                        name.push('.');
                        name.push_str(component.as_deref().unwrap_or("?"));
                    }
                    if VARYING.contains(&name.as_str()) {
                        direct.unknown = true;
                    }
                }
                // A function of a package, an import or `data`: followed like a reference.
                self.reference(fcn, direct);
                for param in params {
                    self.expr(param, direct);
                }
            }
            Expr::UnaryExpr { expr, .. } => self.expr(expr, direct),
            Expr::BinExpr { lhs, rhs, .. }
            | Expr::BoolExpr { lhs, rhs, .. }
            | Expr::ArithExpr { lhs, rhs, .. }
            | Expr::AssignExpr { lhs, rhs, .. } => {
                self.expr(lhs, direct);
                self.expr(rhs, direct);
            }
            Expr::Membership {
                key,
                value,
                collection,
                ..
            } => {
                if let Some(key) = key {
                    self.expr(key, direct);
                }
                self.expr(value, direct);
                self.expr(collection, direct);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis(modules: &[&str]) -> Analysis {
        let mut engine = Engine::new();
        for (i, module) in modules.iter().enumerate() {
            engine
                .add_policy(format!("m{i}.rego"), (*module).to_owned())
                .expect("module parses");
        }
        Analysis::of(&mut engine)
    }

    fn paths(paths: &[&str]) -> Reads {
        Reads::Paths(
            paths
                .iter()
                .map(|p| {
                    p.split('.')
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .collect(),
        )
    }

    const LIB: &str = r#"package lib.k
import rego.v1
level := l if { l := data.policyrun.cluster.policy.pod_security }
default level := "restricted"
name := data.policyrun.cluster.name
label(c) := sprintf("%s in %s", [c, name])
plain(c) := upper(c)
"#;

    #[test]
    fn reads_follow_rules_and_functions_of_other_packages() {
        let a = analysis(&[
            LIB,
            r#"package p
import rego.v1
deny contains "x" if { data.lib.k.level == "baseline"; input.kind == "Pod" }
deny_named contains m if { m := data.lib.k.label("c") }
deny_plain contains m if { m := data.lib.k.plain(input.metadata.name) }
deny_scoped contains "x" if { data.policyrun.object.namespaced == true; _helper }
_helper if data.policyrun.cluster.namespaces[_] == "a"
"#,
        ]);
        assert_eq!(
            a.reads("data.p.deny"),
            paths(&["cluster.policy.pod_security"])
        );
        assert_eq!(a.reads("data.p.deny_named"), paths(&["cluster.name"]));
        assert_eq!(a.reads("data.p.deny_plain"), paths(&[]));
        assert_eq!(
            a.reads("data.p.deny_scoped"),
            paths(&["object.namespaced", "cluster.namespaces"])
        );
    }

    #[test]
    fn imports_and_dynamic_parts_read_their_static_prefix() {
        let a = analysis(&[r#"package p
import rego.v1
import data.policyrun.cluster as c
import data.policyrun.cluster.policy
deny contains k if { some k; c.policy[k] }
warn contains "x" if { policy.public }
violation contains "x" if { data.policyrun["object"].entry }
"#]);
        assert_eq!(a.reads("data.p.deny"), paths(&["cluster.policy"]));
        assert_eq!(a.reads("data.p.warn"), paths(&["cluster.policy.public"]));
        assert_eq!(a.reads("data.p.violation"), paths(&["object.entry"]));
    }

    #[test]
    fn what_cannot_be_told_reads_anything() {
        for body in [
            // `with` anywhere in what the rule reaches.
            r#"deny contains "x" if { _h with input as {} }
_h if true"#,
            // `data` at its root, or walked.
            r#"deny contains "x" if { some k; data[k].cluster }"#,
            r#"deny contains "x" if { walk(data, [p, v]) }"#,
            // A builtin whose value differs from call to call.
            r#"deny contains "x" if { _now > 0 }
_now := time.now_ns()"#,
        ] {
            let a = analysis(&[&format!("package p\nimport rego.v1\n{body}\n")]);
            assert_eq!(a.reads("data.p.deny"), Reads::Anything, "{body}");
        }
        // `data.policyrun` whole reads all of it: nothing is anything less.
        let a = analysis(&[
            "package p\nimport rego.v1\ndeny contains \"x\" if { count(data.policyrun) > 0 }\n",
        ]);
        assert_eq!(a.reads("data.p.deny"), paths(&[""]));
        // A module of package `policyrun` would change the document itself.
        let a = analysis(&[
            "package p\nimport rego.v1\ndeny contains \"x\" if { input.x }\n",
            "package policyrun.extra\nimport rego.v1\nx := 1\n",
        ]);
        assert_eq!(a.reads("data.p.deny"), Reads::Anything);
    }

    #[test]
    fn a_local_name_of_a_rule_is_followed_even_when_shadowed() {
        // Over-approximation: `name` may be the local variable, but is taken for the rule.
        let a = analysis(&[r#"package p
import rego.v1
name := data.policyrun.cluster.name
deny contains name if { name := input.metadata.name }
"#]);
        assert_eq!(a.reads("data.p.deny"), paths(&["cluster.name"]));
    }

    #[test]
    fn names_are_resolved_over_every_file_of_the_package() {
        let a = analysis(&[
            r#"package p
import rego.v1
deny_rule contains "x" if { input.kind == "ConfigMap"; _is_int }
deny_fn contains m if { m := _label("cm") }
exception contains rules if { _dev_only; rules := ["x"] }
"#,
            r#"package p
import rego.v1
_is_int if data.policyrun.cluster.name == "int"
_label(x) := sprintf("%s", [x]) if data.policyrun.cluster.policy.level == "high"
_dev_only if data.policyrun.object.entry == "clusters/dev/app.jsonnet"
"#,
        ]);
        assert_eq!(a.reads("data.p.deny_rule"), paths(&["cluster.name"]));
        assert_eq!(a.reads("data.p.deny_fn"), paths(&["cluster.policy.level"]));
        assert_eq!(a.reads("data.p.exception"), paths(&["object.entry"]));
    }

    #[test]
    fn ref_heads_and_packages_below_are_reached_by_their_first_name() {
        let a = analysis(&[
            r#"package p
import rego.v1
limits.pods.max := data.policyrun.cluster.policy.max_pods
deny_head contains "x" if { limits.pods.max < 3 }
deny_whole contains "x" if { count(limits) > 0 }
deny_below contains "x" if { sub.flag }
deny_dynamic contains "x" if { some k; sub[k] }
"#,
            r#"package p.sub
import rego.v1
flag if data.policyrun.cluster.name == "int"
other := data.policyrun.object.namespaced
"#,
        ]);
        assert_eq!(
            a.reads("data.p.deny_head"),
            paths(&["cluster.policy.max_pods"])
        );
        assert_eq!(
            a.reads("data.p.deny_whole"),
            paths(&["cluster.policy.max_pods"])
        );
        assert_eq!(a.reads("data.p.deny_below"), paths(&["cluster.name"]));
        assert_eq!(
            a.reads("data.p.deny_dynamic"),
            paths(&["cluster.name", "object.namespaced"])
        );
    }

    #[test]
    fn keyword_imports_bind_no_name() {
        // `import rego.v1` once made a rule named `v1` look like the import's alias.
        for keywords in [
            "import rego.v1",
            "import future.keywords",
            "import future.keywords.in\nimport future.keywords.if\nimport future.keywords.contains",
        ] {
            let module = format!(
                "package p\n{keywords}\nv1 if data.policyrun.cluster.name == \"int\"\nin_ if data.policyrun.cluster.policy.x\ndeny contains \"x\" if {{ v1; in_ }}\n"
            );
            let a = analysis(&[&module]);
            assert_eq!(
                a.reads("data.p.deny"),
                paths(&["cluster.name", "cluster.policy.x"]),
                "{keywords}"
            );
        }
    }

    #[test]
    fn else_default_every_some_in_and_comprehensions_are_followed() {
        let a = analysis(&[r#"package p
import rego.v1
level := "a" if { data.policyrun.cluster.policy.a } else := "b" if { data.policyrun.cluster.policy.b } else := "c"
default fallback := false
fallback if data.policyrun.cluster.name == "int"
default f(_) := 1
f(x) := 2 if { x == data.policyrun.cluster.policy.f }
deny_else contains level if true
deny_default contains "x" if fallback
deny_default_fn contains "x" if f(1) == 2
deny_every contains "x" if { every n in input.ns { n in data.policyrun.cluster.namespaces } }
deny_some_in contains "x" if { some n in data.policyrun.cluster.policy.list; n == 1 }
deny_compr contains "x" if { count({k | some k, _ in data.policyrun.object}) > 0 }
"#]);
        assert_eq!(
            a.reads("data.p.deny_else"),
            paths(&["cluster.policy.a", "cluster.policy.b"])
        );
        assert_eq!(a.reads("data.p.deny_default"), paths(&["cluster.name"]));
        assert_eq!(
            a.reads("data.p.deny_default_fn"),
            paths(&["cluster.policy.f"])
        );
        assert_eq!(a.reads("data.p.deny_every"), paths(&["cluster.namespaces"]));
        assert_eq!(
            a.reads("data.p.deny_some_in"),
            paths(&["cluster.policy.list"])
        );
        assert_eq!(a.reads("data.p.deny_compr"), paths(&["object"]));
    }

    #[test]
    fn policyruns_own_names_read_the_object_or_anything() {
        let a = analysis(&[r#"package p
import rego.v1
deny_ctx contains "x" if { ctx := __policyrun_object_context(); ctx.entry }
deny_other contains "x" if { data.__policyrun_gather__.results }
deny_nested contains "x" if { data.q.__policyrun_object_context() }
"#]);
        assert_eq!(a.reads("data.p.deny_ctx"), paths(&["object"]));
        assert_eq!(a.reads("data.p.deny_other"), Reads::Anything);
        assert_eq!(a.reads("data.p.deny_nested"), Reads::Anything);
    }

    #[test]
    fn an_import_alias_and_the_package_name_are_both_followed() {
        let a = analysis(&[
            r#"package p
import rego.v1
import data.lib
deny contains "x" if { lib.f(1) }
"#,
            "package lib\nimport rego.v1\nf(x) := x if data.policyrun.cluster.name\n",
            "package p.lib\nimport rego.v1\nf(x) := x if data.policyrun.cluster.policy.y\n",
        ]);
        assert_eq!(
            a.reads("data.p.deny"),
            paths(&["cluster.name", "cluster.policy.y"])
        );
    }

    #[test]
    fn bundled_packs_read_what_their_rules_say() {
        let mut engine = Engine::new();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        for dir in ["lib", "security", "namespace", "cluster"] {
            for file in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = file.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().to_string();
                if name.ends_with(".rego") && !name.ends_with("_test.rego") {
                    engine
                        .add_policy(name, std::fs::read_to_string(&path).unwrap())
                        .unwrap();
                }
            }
        }
        let a = Analysis::of(&mut engine);
        assert_eq!(
            a.reads("data.security.deny_privileged"),
            paths(&["cluster.policy.pod_security"])
        );
        assert_eq!(
            a.reads("data.namespace.deny_unknown_namespace"),
            paths(&[
                "cluster.name",
                "cluster.namespaces",
                "cluster.policy.external_namespaces",
                "object.namespaced"
            ])
        );
        assert_eq!(
            a.reads("data.cluster.deny_public_load_balancer"),
            paths(&["cluster.name", "cluster.policy.public_load_balancers"])
        );
    }
}
