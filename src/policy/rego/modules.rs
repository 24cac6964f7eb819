//! What the parsed modules declare and call, read from regorus' syntax tree: each module's
//! package, rules and the kinds they report on ([`module_infos`]); the conftest meaning of a
//! rule's name ([`rule_kind`]); and the calls that would let a policy pass without running
//! (a builtin regorus lacks, [`missing_functions`]), reach policyrun's own machinery
//! ([`reserved_names`]) or give a verdict not worth remembering ([`unrepeatable_call`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use regorus::Engine;
use regorus::unstable::{
    Expr, Lexer, Module, NodeRef, Parser, Rule as AstRule, RuleHead, Source, TokenKind,
};

use super::kinds::{self, Kinds};
use super::problem::Problem;
use super::walk::each_expression;

/// What a conftest rule name means for the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    /// `deny`, `violation` and their `_suffix` variants: a message is a failure.
    Deny,
    /// `warn` and `warn_suffix`: a message is a warning.
    Warn,
}

/// One parsed module and what the stage needs to know about it.
#[derive(Debug, Clone)]
pub struct ModuleInfo {
    pub file: PathBuf,
    pub package: String,
    pub reference: String,
    pub is_test: bool,
    /// Rule names with the line of their first definition, in source order.
    pub rules: Vec<(String, usize)>,
    /// Names among `rules` that are functions (`deny_if(x) if ...`): never results.
    pub functions: Vec<String>,
    /// Every definition of a `todo_test_*` rule, with its line: `opa test` reports each
    /// one as skipped (it renames only repeated `test_*` definitions, see
    /// [`separate_test_definitions`]).
    pub todo_tests: Vec<(String, usize)>,
    /// For each rule name, the kinds its definitions in this module can report on.
    pub kinds: BTreeMap<String, Kinds>,
}

/// The prefix of the names policyrun keeps for itself: the interpreter's object context
/// (`__policyrun_object_context`), the packages it generates. A policy that defined or
/// called one could reach policyrun's own machinery, or hide from the read analysis, so a
/// module that names one is refused.
pub(crate) const RESERVED: &str = "__policyrun";

/// The builtin behind `data.policyrun.object` on the interpreter.
pub(crate) const OBJECT_CONTEXT_BUILTIN: &str = "__policyrun_object_context";

/// Builtins whose value differs from call to call or from machine to machine, or that have
/// an effect beside their value.
const UNREPEATABLE: &[&str] = &[
    "time.now_ns",
    "rand.intn",
    "uuid.rfc4122",
    "opa.runtime",
    "http.send",
    "net.lookup_ip_addr",
    "print",
    "trace",
];

/// Is this a conftest rule name? `deny`, `violation`, `warn`, each alone or with `_suffix`.
pub fn rule_kind(name: &str) -> Option<RuleKind> {
    let (head, suffix) = match name.split_once('_') {
        Some((head, suffix)) => (head, Some(suffix)),
        None => (name, None),
    };
    if suffix.is_some_and(str::is_empty) {
        return None;
    }
    match head {
        "deny" | "violation" => Some(RuleKind::Deny),
        "warn" => Some(RuleKind::Warn),
        _ => None,
    }
}

/// Package and rule names of each module, read from the parsed syntax tree.
pub(crate) fn module_infos(
    engine: &mut Engine,
    loaded: &[(PathBuf, String, bool)],
) -> Vec<ModuleInfo> {
    let modules = engine.get_modules().clone();
    loaded
        .iter()
        .zip(modules.iter())
        .map(|((file, _, is_test), module)| {
            let components = package_path(module);
            let mut rules: Vec<(String, usize)> = Vec::new();
            let mut functions = Vec::new();
            let mut todo_tests = Vec::new();
            let mut kinds: BTreeMap<String, Kinds> = BTreeMap::new();
            for rule in &module.policy {
                let (refr, line, function) = match rule.as_ref() {
                    AstRule::Spec { head, span, .. } => match head {
                        RuleHead::Compr { refr, .. } | RuleHead::Set { refr, .. } => {
                            (refr, span.line, false)
                        }
                        RuleHead::Func { refr, .. } => (refr, span.line, true),
                    },
                    AstRule::Default {
                        refr, span, args, ..
                    } => (refr, span.line, !args.is_empty()),
                };
                let Ok(parts) = Parser::get_path_ref_components(refr) else {
                    continue;
                };
                let Some(first) = parts.first() else { continue };
                let name = first.text().to_owned();
                if function && parts.len() == 1 {
                    functions.push(name.clone());
                }
                let definition = kinds::of_definition(rule);
                let merged = match kinds.remove(&name) {
                    Some(earlier) => earlier.union(definition),
                    None => definition,
                };
                kinds.insert(name.clone(), merged);
                if parts.len() == 1 && name.starts_with("todo_test_") {
                    todo_tests.push((name.clone(), line as usize));
                }
                if !rules.iter().any(|(n, _)| *n == name) {
                    rules.push((name, line as usize));
                }
            }
            ModuleInfo {
                file: file.clone(),
                reference: reference(&components),
                package: components.join("."),
                is_test: *is_test,
                rules,
                functions,
                todo_tests,
                kinds,
            }
        })
        .collect()
}

/// The package of a module as its path below `data`.
pub(crate) fn package_path(module: &Module) -> Vec<String> {
    Parser::get_path_ref_components(&module.package.refr)
        .map(|spans| spans.iter().map(|s| unquote(s.text())).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .skip_while(|c| c == "data")
        .collect()
}

/// A path component as written, without the quotes of `["x-y"]` or a raw string.
pub(crate) fn unquote(text: &str) -> String {
    let trimmed = text.trim();
    if trimmed.len() >= 2
        && ((trimmed.starts_with('"') && trimmed.ends_with('"'))
            || (trimmed.starts_with('`') && trimmed.ends_with('`')))
    {
        trimmed[1..trimmed.len() - 1].to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// `data.a.b`, with components that are not identifiers written as `["x-y"]`.
pub(crate) fn reference(components: &[String]) -> String {
    let mut reference = String::from("data");
    for component in components {
        let identifier = component
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && component
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if identifier {
            reference.push('.');
            reference.push_str(component);
        } else {
            reference.push('[');
            reference.push_str(&serde_json::Value::String(component.clone()).to_string());
            reference.push(']');
        }
    }
    reference
}

/// The first call to an [`UNREPEATABLE`] builtin, as `file:line calls name`.
pub(crate) fn unrepeatable_call(engine: &mut Engine) -> Option<String> {
    let modules = engine.get_modules().clone();
    modules.iter().find_map(|module| {
        let source: &Source = &module.package.span.source;
        calls(source)
            .into_iter()
            .find(|(path, _, _)| UNREPEATABLE.contains(&path.as_str()))
            .map(|(path, line, _)| format!("{}:{line} calls {path}", source.get_path()))
    })
}

/// Rego keywords that can stand before `(` without being a call.
const KEYWORDS: &[&str] = &[
    "not", "if", "else", "some", "every", "in", "contains", "with", "as", "default", "import",
    "package", "or", "and",
];

/// Calls to functions that are neither builtins regorus has nor defined by any module.
/// regorus would only notice them when a call is reached, so a `deny` that calls
/// `crypto.sha256` would pass every object that stops before it: found here instead. A call
/// is resolved as OPA resolves it: a builtin by its full dotted name; else the function at
/// the path it names — through the module's import alias (`import data.lib` makes `lib.f`
/// `data.lib.f`), as written below `data`, or below the module's package (`f` in package `p`
/// is `data.p.f`, `a.f` is `data.p.a.f`). It is known only if a function (or `default`
/// function) is defined at exactly that path: a function of the same name elsewhere is
/// another function.
pub fn missing_functions(engine: &mut Engine) -> Vec<Problem> {
    let modules = engine.get_modules().clone();
    let mut defined: HashSet<Vec<String>> = HashSet::new();
    for module in modules.iter() {
        let package = package_path(module);
        for rule in &module.policy {
            let refr = match rule.as_ref() {
                AstRule::Spec {
                    head: RuleHead::Func { refr, .. },
                    ..
                } => refr,
                AstRule::Default { refr, args, .. } if !args.is_empty() => refr,
                _ => continue,
            };
            if let Ok(parts) = Parser::get_path_ref_components(refr) {
                let mut path = package.clone();
                path.extend(parts.iter().map(|p| unquote(p.text())));
                defined.insert(path);
            }
        }
    }
    let mut problems = Vec::new();
    let mut seen_sources = HashSet::new();
    for module in modules.iter() {
        let source: &Source = &module.package.span.source;
        let file = source.get_path().clone();
        if !seen_sources.insert(file.clone()) {
            continue;
        }
        let package = package_path(module);
        let imports = import_aliases(module);
        let mut check = |fcn: &NodeRef<Expr>| {
            let Ok(parts) = Parser::get_path_ref_components(fcn) else {
                return;
            };
            let path: Vec<String> = parts.iter().map(|p| unquote(p.text())).collect();
            if path.iter().any(|c| c.starts_with(RESERVED)) {
                // Refused on its own by `reserved_names`.
                return;
            }
            let written = path.join(".");
            if written == "print" || regorus::unstable::BUILTINS.contains_key(written.as_str()) {
                return;
            }
            let Some((root, rest)) = path.split_first() else {
                return;
            };
            let mut candidates: Vec<Vec<String>> = Vec::new();
            if root == "data" {
                candidates.push(rest.to_vec());
            } else {
                if let Some(target) = imports.get(root) {
                    candidates.push(target.iter().chain(rest).cloned().collect());
                }
                // regorus falls back to the package when the import holds no such function.
                candidates.push(package.iter().chain(&path).cloned().collect());
            }
            if candidates.iter().any(|c| defined.contains(c)) {
                return;
            }
            let looked_at = candidates
                .iter()
                .map(|c| format!("`{}`", reference(c)))
                .collect::<Vec<_>>()
                .join(" or ");
            // Where the name starts (a dotted reference's own span is its last part).
            let at = parts.first().map_or(fcn.span(), |first| first);
            // A v0 module's call of a deprecated built-in was rewritten before loading: one
            // left is in a v1 module, where OPA refuses it too.
            let message = match super::deprecated::deprecated(&written) {
                Some(current) => format!(
                    "`{written}` is a deprecated built-in, which OPA accepts only in Rego v0 modules{}; the policy cannot be evaluated",
                    current.map_or(String::new(), |c| format!(" (use `{c}`)"))
                ),
                None => format!(
                    "`{written}` is not a builtin policyrun's Rego engine (regorus) has, nor a function the policies define (none at {looked_at}); the policy cannot be evaluated"
                ),
            };
            problems.push(Problem {
                file: PathBuf::from(&file),
                line: Some(at.line as usize),
                column: Some(at.col as usize),
                message,
                detail: None,
            });
        };
        for rule in &module.policy {
            each_expression(rule, &mut |expr| {
                if let Expr::Call { fcn, .. } = expr {
                    check(fcn);
                }
            });
        }
    }
    problems.sort_by_key(|p| (p.file.clone(), p.line, p.column));
    problems
}

/// A module's import aliases and the paths below `data` they stand for. Only `data`
/// imports can name a function; keyword imports (`rego.v1`, `future.keywords`) bind no name.
fn import_aliases(module: &Module) -> HashMap<String, Vec<String>> {
    let mut aliases = HashMap::new();
    for import in &module.imports {
        let Ok(parts) = Parser::get_path_ref_components(&import.refr) else {
            continue;
        };
        let path: Vec<String> = parts.iter().map(|p| unquote(p.text())).collect();
        let Some(("data", below)) = path.split_first().map(|(r, b)| (r.as_str(), b)) else {
            continue;
        };
        let alias = match &import.r#as {
            Some(alias) => alias.text().to_owned(),
            None => match below.last() {
                Some(last) => last.clone(),
                None => continue,
            },
        };
        aliases.insert(alias, below.to_vec());
    }
    aliases
}

/// Every name in the modules that starts with [`RESERVED`] — in a package, an import, a rule
/// head or a body, however spelled — as a problem at its place: a policy that defined or
/// called one could reach policyrun's own machinery (`__policyrun_object_context` is what
/// `data.policyrun.object` is made of on the interpreter) or hide from the read analysis.
pub fn reserved_names(engine: &mut Engine) -> Vec<Problem> {
    let modules = engine.get_modules().clone();
    let mut problems = Vec::new();
    let mut seen_sources = HashSet::new();
    for module in modules.iter() {
        let source: &Source = &module.package.span.source;
        let file = source.get_path().clone();
        if !seen_sources.insert(file.clone()) {
            continue;
        }
        let mut lexer = Lexer::new(source);
        while let Ok(token) = lexer.next_token() {
            match token.0 {
                TokenKind::Eof => break,
                TokenKind::Ident if token.1.text().starts_with(RESERVED) => {
                    problems.push(Problem {
                        file: PathBuf::from(&file),
                        line: Some(token.1.line as usize),
                        column: Some(token.1.col as usize),
                        message: format!(
                            "`{}` is reserved: names starting with `{RESERVED}` are policyrun's own, and a policy may not define, call or refer to one",
                            token.1.text()
                        ),
                        detail: None,
                    });
                }
                _ => {}
            }
        }
    }
    problems
}

/// Every `a.b.c(` in a module's tokens, with its line and column.
pub(crate) fn calls(source: &Source) -> Vec<(String, usize, usize)> {
    let mut lexer = Lexer::new(source);
    let mut found = Vec::new();
    // The dotted path being read and where it started; `after_dot` says the last token
    // was a `.` that continues it.
    let mut path: Vec<String> = Vec::new();
    let mut start = (0, 0);
    let mut after_dot = false;
    while let Ok(token) = lexer.next_token() {
        let text = token.1.text();
        match token.0 {
            TokenKind::Eof => break,
            TokenKind::Ident => {
                if !after_dot {
                    path.clear();
                    start = (token.1.line as usize, token.1.col as usize);
                }
                path.push(text.to_owned());
                after_dot = false;
            }
            TokenKind::Symbol if text == "." && !path.is_empty() && !after_dot => {
                after_dot = true;
            }
            TokenKind::Symbol => {
                let keyword = path.len() == 1 && KEYWORDS.contains(&path[0].as_str());
                let is_call = text == "("
                    && !after_dot
                    && !path.is_empty()
                    && !keyword
                    && path[0] != "data"
                    && path[0] != "input";
                if is_call {
                    found.push((path.join("."), start.0, start.1));
                }
                path.clear();
                after_dot = false;
            }
            _ => {
                path.clear();
                after_dot = false;
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conftest_rule_names() {
        assert_eq!(rule_kind("deny"), Some(RuleKind::Deny));
        assert_eq!(rule_kind("violation"), Some(RuleKind::Deny));
        assert_eq!(rule_kind("deny_privileged"), Some(RuleKind::Deny));
        assert_eq!(rule_kind("violation_x_y"), Some(RuleKind::Deny));
        assert_eq!(rule_kind("warn"), Some(RuleKind::Warn));
        assert_eq!(rule_kind("warn_latest"), Some(RuleKind::Warn));
        assert_eq!(rule_kind("denied"), None);
        assert_eq!(rule_kind("deny_"), None);
        assert_eq!(rule_kind("warning"), None);
        assert_eq!(rule_kind("exception"), None);
    }

    #[test]
    fn references_quote_non_identifiers() {
        assert_eq!(reference(&["a".into(), "b".into()]), "data.a.b");
        assert_eq!(reference(&["a-b".into()]), "data[\"a-b\"]");
    }

    /// `line:column name` of every call [`missing_functions`] refuses in `modules`.
    fn missing(modules: &[&str]) -> Vec<String> {
        let mut engine = Engine::new();
        for (i, module) in modules.iter().enumerate() {
            engine
                .add_policy(format!("m{i}.rego"), (*module).to_owned())
                .expect("module parses");
        }
        missing_functions(&mut engine)
            .into_iter()
            .map(|p| {
                let name = p.message.split('`').nth(1).unwrap_or_default().to_owned();
                format!("{}:{} {name}", p.line.unwrap(), p.column.unwrap())
            })
            .collect()
    }

    #[test]
    fn a_call_is_known_only_at_the_full_path_it_names() {
        let other = "package other\nimport rego.v1\nsha256(x) := x\nf(x) := x\n";
        // A builtin regorus lacks, a function of another package called by its bare name.
        assert_eq!(
            missing(&[
                "package p\nimport rego.v1\nx if crypto.sha256(\"a\")\ny if f(1)\n",
                other
            ]),
            ["3:6 crypto.sha256", "4:6 f"]
        );
        // Written below `data`: checked as written.
        assert_eq!(
            missing(&[
                "package p\nimport rego.v1\nx if data.other.f(1)\ny if data.other.g(1)\nz if data.p.other.f(1)\n",
                other
            ]),
            ["4:6 data.other.g", "5:6 data.p.other.f"]
        );
    }

    #[test]
    fn imports_ref_heads_packages_below_and_defaults_resolve_a_call() {
        assert_eq!(
            missing(&[
                r#"package p
import rego.v1
import data.lib
import data.lib as l
import data.lib.g as gee
a.f(x) := x
default dflt(_) := 1
x if {
	lib.f(1)
	l.f(1)
	gee(1)
	a.f(1)
	sub.h(1)
	dflt(1)
	count([1]) == 1
	print("p")
	trace("t")
}
"#,
                "package lib\nimport rego.v1\nf(x) := x\ng(x) := x\n",
                "package p.sub\nimport rego.v1\nh(x) := x\n",
            ]),
            Vec::<String>::new()
        );
        // An alias stands for its import only: `lib.nope` is nowhere.
        assert_eq!(
            missing(&[
                "package p\nimport rego.v1\nimport data.lib\nx if lib.nope(1)\n",
                "package lib\nimport rego.v1\nf(x) := x\n",
            ]),
            ["4:6 lib.nope"]
        );
    }

    #[test]
    fn calls_are_found_in_every_part_of_a_rule() {
        let found = missing(&[r#"package p
import rego.v1
v := a(1) if { b(1) } else := c(1) if { d(1) }
default w := e(1)
s contains f(1) if true
fn(x) := g(x)
t if { every n in h(1) { i(n) } }
u if { some n in j(1); [k(n) | true]; {l(1): m(1) | true} }
y if { x with input as n(1) }
"#]);
        let names: Vec<&str> = found
            .iter()
            .map(|f| f.rsplit(' ').next().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n"
            ]
        );
    }

    #[test]
    fn policyruns_own_names_are_refused_wherever_they_appear() {
        let mut engine = Engine::new();
        for (name, text) in [
            (
                "a.rego",
                "package p\nimport rego.v1\nx if __policyrun_object_context().entry\n",
            ),
            (
                "b.rego",
                "package other\nimport rego.v1\n__policyrun_object_context(x) := 1\n",
            ),
            (
                "c.rego",
                "package __policyrun_gather__\nimport rego.v1\nresults := 1\n",
            ),
            (
                "d.rego",
                "package q\nimport rego.v1\nimport data.__policyrun_x as y\nz := \"__policyrun_in_a_string\"\n",
            ),
        ] {
            engine.add_policy(name.to_owned(), text.to_owned()).unwrap();
        }
        let found: Vec<String> = reserved_names(&mut engine)
            .into_iter()
            .map(|p| format!("{}:{}", p.file.display(), p.line.unwrap()))
            .collect();
        assert_eq!(found, ["a.rego:3", "b.rego:3", "c.rego:1", "d.rego:3"]);
        // The call is refused once, as reserved, not again as unknown.
        assert!(
            missing_functions(&mut engine)
                .iter()
                .all(|p| !p.message.contains(RESERVED))
        );
    }

    #[test]
    fn calls_are_found_outside_strings_and_fields() {
        let source = Source::from_contents(
            "t.rego".into(),
            "package p\nx if {\n  crypto.sha256(\"count(\")\n  y := input.a.b\n  count(y) > 0\n  not f(1)\n}\n".into(),
        )
        .unwrap();
        let found: Vec<String> = calls(&source).into_iter().map(|c| c.0).collect();
        assert_eq!(found, vec!["crypto.sha256", "count", "f"]);
    }
}
