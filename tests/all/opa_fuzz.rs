//! A grammar-based differential fuzzer against OPA: generated Rego modules, in v0 and v1
//! syntax, with inputs for them, judged by policyrun on both engines — through the policy
//! stage's own path for `policyrun test` documents — and by OPA (v1.20, PyPI's
//! opa-golib-python-bindings through `scripts/opa-reference eval-many`). For every module and
//! input the `deny` rule must give OPA's messages, or both must fail with an error. One case
//! in four also gets generated unit tests (repeated names, `todo_`, tests in the module, in
//! its package, in another package, tests of a value other than `true`), run by `policyrun
//! verify` and by `opa test` as `scripts/opa-reference test-many` emulates its tester: the
//! same tests by the same names, each with OPA's result.
//!
//! The grammar aims at what regorus reads or evaluates otherwise than OPA: negations whose
//! arguments are undefined in every position (call arguments, operators, comprehensions,
//! `with`), partial sets and objects, functions with several clauses and `else`, `every`,
//! `some ... in`, chained rule bodies, expressions over several lines (a line that starts
//! with `(`, `[` or `-`, an operator at a line's end), builtins with missing or wrong-typed
//! arguments (`sprintf` with every verb and too few or too many arguments, regexes, numbers,
//! sets, objects, times), `print`, and body-less rule heads.
//!
//! OPA reads only Rego v1 here: a module generated in v0 syntax goes to policyrun as v0 and
//! to OPA as the same rules written in v1 (only the heads differ).
//!
//! Three differences are expected and counted, not failed:
//! - a module OPA's type checker refuses (policyrun has no type checker: regorus reports such
//!   errors when it evaluates them);
//! - a builtin's error (`to_number("x")`, `upper(1)`, conflicting function values), which
//!   OPA — strict about builtin errors here, as policyrun's interpreter is — and the
//!   interpreter report, where the virtual machine takes the rule body as not holding
//!   (docs/policies.md, "Engines");
//! - an error policyrun reports (and fails the run on) in something OPA never evaluates: a
//!   body its rule index skips because an indexed reference is undefined, a partial rule
//!   evaluated only for the key its caller asks for, a function's clauses after the first
//!   that holds. Told apart from a difference by evaluating each body of `deny` on its own,
//!   and the rules with builtin errors taken as undefined, or by the error lying in a helper.
//!
//! CI requires OPA's bindings (`CI=true`); elsewhere the test says it is skipped. A longer
//! run: `POLICYRUN_OPA_FUZZ_CASES=20000 POLICYRUN_OPA_FUZZ_SEED=7 cargo test --test all
//! opa_fuzz::generated -- --nocapture` (`POLICYRUN_OPA_FUZZ_SHOW=n` prints n differences in full,
//! `POLICYRUN_OPA_FUZZ_DUMP=file` writes each as a JSON line with its modules and input).
//!
//! The repros of issue 25 run through the binary at the end of this file.

use crate::support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use policyrun::model::outcome::{Outcome, Status};
use policyrun::policy::{Document, PolicyStage, RegoEngine, Settings};
use rayon::prelude::*;
use serde_json::{Value, json};
use support::{manifest_dir, opa_available};

// ---- randomness ---------------------------------------------------------------------------

/// A small deterministic generator (xorshift), so that a seed always gives the same cases.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

// ---- inputs ---------------------------------------------------------------------------------

/// The documents every module is judged on: fields present, missing, of other types.
fn inputs() -> Vec<Value> {
    vec![
        json!({
            "a": 1, "b": "x", "n": -3, "f": 2.5, "t": true, "z": null, "name": "nginx",
            "cpu": "100m", "pat": "^n", "bad": "[a-", "rule": "RunAsAny", "ranges": [1],
            "spread": 3, "max": 4, "min": 2, "when": "2024-01-02T03:04:05Z",
            "s": ["p", "q"], "e": [], "eo": {},
            "o": {"k": "v", "n": 2, "x": "c1"},
            "arr": [
                {"name": "c1", "image": "nginx:1", "ports": [80, 443]},
                {"name": "c2", "ports": []}
            ]
        }),
        json!({}),
        json!({
            "a": "1", "b": 2, "name": 7, "cpu": 3, "pat": "[a-", "s": "p,q", "o": ["k"],
            "spread": 9, "max": 1, "min": 0, "when": "yesterday",
            "arr": [{"name": "c3", "image": 5, "ports": "80"}]
        }),
        json!({
            "a": 3, "b": "c1", "name": "x", "s": ["c1"], "o": {"k": "c1"}, "rule": "Other",
            "arr": [], "e": [1], "f": 1e3, "n": 0
        }),
        // Kubernetes-like, without `metadata.name`: conftest judges it as any document.
        json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"app": "x"}},
            "a": 2, "b": "x", "s": ["q"], "o": {"k": "v"},
            "arr": [{"name": "c1", "image": "nginx:1", "ports": [80]}]
        }),
    ]
}

// ---- the grammar ----------------------------------------------------------------------------

/// What a bound variable holds, so that references to its parts make sense.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// An item of `input.arr`: `name`, `image`, `ports`.
    Item,
    Scalar,
    Collection,
}

/// A rule's head, rendered in either syntax.
enum Head {
    /// `name[key]` / `name contains key`.
    Set(&'static str, String),
    /// `name = value` / `name := value`.
    Complete(&'static str, String),
    /// `name(args) = value` / `name(args) := value`; `None`: v0 `name(args)`, v1 `:= true`.
    Function(&'static str, String, Option<String>),
    /// `name[key] = value` / `name[key] := value`.
    Object(&'static str, String, String),
    /// `default name = value` / `default name := value`.
    Default(&'static str, String),
}

/// A rule: its head, its bodies (each a list of statements; the first is the body, the
/// others chained after it), and `else` branches (value, body).
struct RuleDef {
    head: Head,
    bodies: Vec<Vec<String>>,
    elses: Vec<(Option<String>, Option<Vec<String>>)>,
    /// v1: a one-statement body written without braces (`deny contains "m" if input.x`).
    braceless: bool,
}

/// One generated module.
struct Case {
    v0: bool,
    rules: Vec<RuleDef>,
}

impl Case {
    /// The module with every body of `deny` a rule of its own (`deny_0`, `deny_1`, ...):
    /// what tells which body an error comes from.
    fn render_split(&self) -> String {
        let mut text = self.render_head(self.v0);
        let mut n = 0;
        for rule in &self.rules {
            match &rule.head {
                Head::Set("deny", key) => {
                    for body in &rule.bodies {
                        let single = RuleDef {
                            head: Head::Set("deny", key.clone()),
                            bodies: vec![body.clone()],
                            elses: vec![],
                            braceless: false,
                        };
                        let rendered = single.render(self.v0);
                        let renamed = rendered.replacen("deny", &format!("deny_{n}"), 1);
                        text.push_str(&renamed);
                        text.push_str("\n\n");
                        n += 1;
                    }
                }
                _ => {
                    text.push_str(&rule.render(self.v0));
                    text.push_str("\n\n");
                }
            }
        }
        text
    }

    fn render_head(&self, v0: bool) -> String {
        let mut text = String::from("package main\n\n");
        text.push_str(if v0 {
            "import future.keywords.in\nimport future.keywords.every\n\n"
        } else {
            "import rego.v1\n\n"
        });
        text
    }

    fn render(&self, v0: bool) -> String {
        let mut text = self.render_head(v0);
        for rule in &self.rules {
            text.push_str(&rule.render(v0));
            text.push_str("\n\n");
        }
        if v0 {
            text
        } else {
            // Rego v1 has no deprecated built-ins: OPA reads the current name.
            text.replace(&format!("{DEPRECATED_RE_MATCH}("), "regex.match(")
        }
    }
}

/// Where a case's unit tests are written.
#[derive(Clone, Copy, PartialEq)]
enum Placement {
    /// At the end of the case's own module.
    MainFile,
    /// In `main_test.rego`, `package main`.
    SamePackage,
    /// In `main_test.rego`, `package main_test`, naming `data.main.deny`.
    TestPackage,
}

/// One unit test: its name, its body's statement, whether its head has a value (`n`, the
/// count: never `true`, so the test fails), and the document it puts in `input`.
struct UnitTest {
    name: &'static str,
    statement: String,
    value: bool,
    document: usize,
}

struct TestModule {
    placement: Placement,
    tests: Vec<UnitTest>,
}

impl TestModule {
    /// The module files of a case with its tests, for policyrun (in the case's syntax) or
    /// for OPA (v1), by file name.
    fn files(&self, case: &Case, v0: bool) -> Vec<(&'static str, String)> {
        let mut rules = String::new();
        for test in &self.tests {
            let head = match (test.value, v0) {
                (false, true) => format!("{} ", test.name),
                (false, false) => format!("{} if ", test.name),
                (true, true) => format!("{} = n ", test.name),
                (true, false) => format!("{} := n if ", test.name),
            };
            rules.push_str(&head);
            rules.push_str(&body_text(std::slice::from_ref(&test.statement)));
            rules.push_str("\n\n");
        }
        let main = case.render(v0);
        match self.placement {
            Placement::MainFile => vec![("main.rego", main + &rules)],
            Placement::SamePackage => vec![
                ("main.rego", main),
                ("main_test.rego", case.render_head(v0) + &rules),
            ],
            Placement::TestPackage => vec![
                ("main.rego", main),
                (
                    "main_test.rego",
                    case.render_head(v0)
                        .replacen("package main", "package main_test", 1)
                        + &rules,
                ),
            ],
        }
    }
}

/// OPA's deprecated name of `regex.match`, which v0 modules may still call.
const DEPRECATED_RE_MATCH: &str = "re_match";

fn body_text(statements: &[String]) -> String {
    let mut text = String::from("{\n");
    for s in statements {
        text.push('\t');
        text.push_str(s);
        text.push('\n');
    }
    text.push('}');
    text
}

impl RuleDef {
    fn render(&self, v0: bool) -> String {
        let assign = if v0 { "=" } else { ":=" };
        let mut text = match &self.head {
            Head::Set(name, key) if v0 => format!("{name}[{key}]"),
            Head::Set(name, key) => format!("{name} contains {key}"),
            Head::Complete(name, value) => format!("{name} {assign} {value}"),
            Head::Function(name, args, Some(value)) => format!("{name}({args}) {assign} {value}"),
            Head::Function(name, args, None) if v0 || !self.bodies.is_empty() => {
                format!("{name}({args})")
            }
            Head::Function(name, args, None) => format!("{name}({args}) := true"),
            Head::Object(name, key, value) => format!("{name}[{key}] {assign} {value}"),
            Head::Default(name, value) => return format!("default {name} {assign} {value}"),
        };
        for (i, body) in self.bodies.iter().enumerate() {
            // v1: `if` before the first body; a one-statement body sometimes without braces.
            if i == 0 && !v0 {
                if self.braceless
                    && body.len() == 1
                    && self.bodies.len() == 1
                    && self.elses.is_empty()
                    && !body[0].contains(['\n', ';'])
                {
                    text.push_str(" if ");
                    text.push_str(&body[0]);
                    continue;
                }
                text.push_str(" if");
            }
            text.push(' ');
            text.push_str(&body_text(body));
        }
        for (value, body) in &self.elses {
            text.push_str(" else");
            if let Some(value) = value {
                text.push_str(&format!(" {assign} {value}"));
            }
            if let Some(body) = body {
                text.push_str(if v0 { " " } else { " if " });
                text.push_str(&body_text(body));
            }
        }
        text
    }
}

/// Generates cases.
struct Grammar {
    random: Random,
    counter: usize,
    /// Helper rules and functions the case defines (tests may use them).
    helpers: Vec<&'static str>,
    /// The case is Rego v0: its statements may call OPA's deprecated built-ins.
    v0: bool,
}

/// References to scalars (strings, numbers, anything) that may be undefined.
const SCALARS: &[&str] = &[
    "input.a",
    "input.b",
    "input.n",
    "input.f",
    "input.t",
    "input.z",
    "input.name",
    "input.cpu",
    "input.missing",
    "input.o.k",
    "input.o.n",
    "input.o.missing",
    "input.arr[0].name",
    "input.arr[1].image",
    "input.arr[0].ports[0]",
    "input.rule",
    "input.spread",
    "input.o[input.b]",
    "input.s[input.missing]",
    "input.arr[input.a].name",
];

/// References to collections that may be undefined or something else.
const COLLECTIONS: &[&str] = &[
    "input.s",
    "input.arr",
    "input.missing",
    "input.e",
    "input.o",
    "input.eo",
    "input.b",
    "input.arr[0].ports",
    "input.arr[1].ports",
    "input.ranges",
    "input.o.missing",
];

const LITERALS: &[&str] = &[
    "1",
    "2",
    "-1",
    "0.5",
    "\"x\"",
    "\"c1\"",
    "\"\"",
    "true",
    "null",
    "[1]",
    "{\"k\": 1}",
    "{1, \"x\"}",
];

const FORMATS: &[&str] = &[
    "%v",
    "%s",
    "%d",
    "%x",
    "%X",
    "%o",
    "%O",
    "%b",
    "%q",
    "%t",
    "%f",
    "%e",
    "%E",
    "%g",
    "%G",
    "%c",
    "%U",
    "%%",
    "%5d",
    "%-5s|",
    "%05d",
    "%.2f",
    "%8.3f",
    "%+d",
    "% d",
    "%#x",
    "%#v",
    "%T",
    "%p",
    "%z",
    "%",
    "%[2]v %[1]v",
    "%[3]d",
    "%*d",
    "%.*f",
    "%6.2e",
    "%x %X",
];

impl Grammar {
    fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{}", self.counter)
    }

    /// A reference to something of `kind`, from the input, a bound variable or a helper.
    fn reference(&mut self, kind: Kind, vars: &[(String, Kind)]) -> String {
        let bound: Vec<&(String, Kind)> = vars.iter().filter(|(_, k)| *k == kind).collect();
        let items: Vec<&(String, Kind)> = vars.iter().filter(|(_, k)| *k == Kind::Item).collect();
        match kind {
            Kind::Scalar => {
                if !items.is_empty() && self.random.chance(35) {
                    let item = &items[self.random.below(items.len())].0;
                    let field = self.random.pick(&["name", "image", "ports[0]", "missing"]);
                    return format!("{item}.{field}");
                }
                if !bound.is_empty() && self.random.chance(25) {
                    return bound[self.random.below(bound.len())].0.clone();
                }
                if self.random.chance(12)
                    && let Some(helper) =
                        self.helper(&["helper", "hobj.k", "hobj[input.b]", "vols[\"c1\"]"])
                {
                    return helper;
                }
                self.random.pick(SCALARS).to_owned()
            }
            Kind::Collection => {
                if !items.is_empty() && self.random.chance(25) {
                    let item = &items[self.random.below(items.len())].0;
                    return format!("{item}.ports");
                }
                if !bound.is_empty() && self.random.chance(20) {
                    return bound[self.random.below(bound.len())].0.clone();
                }
                if self.random.chance(15)
                    && let Some(helper) = self.helper(&["hs", "hobj", "vols"])
                {
                    return helper;
                }
                self.random.pick(COLLECTIONS).to_owned()
            }
            Kind::Item => {
                if !bound.is_empty() && self.random.chance(60) {
                    return bound[self.random.below(bound.len())].0.clone();
                }
                self.random
                    .pick(&["input.arr[0]", "input.arr[1]", "input.o", "input.missing"])
                    .to_owned()
            }
        }
    }

    /// One of `names` that the case defines (a helper rule's reference).
    fn helper(&mut self, names: &[&str]) -> Option<String> {
        let defined: Vec<&&str> = names
            .iter()
            .filter(|n| {
                let root = n.split(['.', '[']).next().unwrap_or_default();
                self.helpers.contains(&root)
            })
            .collect();
        if defined.is_empty() {
            return None;
        }
        Some(defined[self.random.below(defined.len())].to_string())
    }

    fn value(&mut self, vars: &[(String, Kind)]) -> String {
        if self.random.chance(60) {
            self.random.pick(LITERALS).to_owned()
        } else {
            self.reference(Kind::Scalar, vars)
        }
    }

    /// A test of something that may be undefined: what negations are made of.
    fn test(&mut self, vars: &[(String, Kind)]) -> String {
        let r = self.reference(Kind::Scalar, vars);
        let c = self.reference(Kind::Collection, vars);
        let v = self.value(vars);
        let functions: Vec<&str> = self
            .helpers
            .iter()
            .copied()
            .filter(|h| ["f", "g", "h", "kk"].contains(h))
            .collect();
        let choice = self
            .random
            .below(if functions.is_empty() { 26 } else { 32 });
        match choice {
            0 | 1 => r,
            2 => format!("{r} == {v}"),
            3 => format!("{r} != {v}"),
            4 => format!("{r} > 1"),
            5 => format!("{r} < {v}"),
            6 => format!("count({c}) > 0"),
            7 => format!("startswith({r}, \"n\")"),
            8 => format!("{r} in {{\"x\", \"c1\", 1}}"),
            9 => format!("\"p\" in {c}"),
            10 => format!("{r} + 1 > 2"),
            11 => format!("is_string({r})"),
            12 => format!("[{r}] == [1]"),
            13 => format!("{{\"k\": {r}}} == {{\"k\": 1}}"),
            14 => format!("object.get({c}, \"k\", 0) == 0"),
            15 => {
                format!("upper({r}) == \"X\"")
            }
            16 => format!("{r} == {}", self.reference(Kind::Scalar, vars)),
            17 => format!("input.o[{r}] == \"v\""),
            18 => {
                // v0 may still call `re_match`; OPA's module (v1) calls `regex.match`.
                let name = if self.v0 && self.random.chance(50) {
                    DEPRECATED_RE_MATCH
                } else {
                    "regex.match"
                };
                format!(
                    "{name}({}, {r})",
                    self.random.pick(&["\"^n\"", "input.pat", "input.bad"])
                )
            }
            19 => {
                format!("to_number({r}) > 0")
            }
            20 => format!("{c}[{r}]"),
            21 => {
                let x = self.fresh("y");
                format!("count([{x} | some {x} in {c}; {x} == {r}]) > 0")
            }
            22 => format!("{r} == {v} with input as {}", self.with_value(vars)),
            23 => format!("{c}[_] == {r}"),
            24 => {
                format!("count({c} | {{1}}) > 1")
            }
            25 => format!("is_number({r}) == true"),
            _ => {
                let f = functions[self.random.below(functions.len())];
                match f {
                    "g" => format!("g({r}, {})", self.reference(Kind::Collection, vars)),
                    "h" => format!("h({r}) == {}", self.random.pick(&["1", "2", "3"])),
                    "kk" => format!("kk({r}) > 1"),
                    _ => format!("f({r})"),
                }
            }
        }
    }

    fn with_value(&mut self, vars: &[(String, Kind)]) -> String {
        match self.random.below(4) {
            0 => "{\"a\": 2, \"b\": \"x\", \"name\": \"nginx\"}".to_owned(),
            1 => "input.o".to_owned(),
            2 => self.reference(Kind::Scalar, vars),
            _ => "{}".to_owned(),
        }
    }

    /// A `sprintf` call with a random format and arguments (too few, too many, of any type).
    fn sprintf(&mut self, vars: &[(String, Kind)]) -> String {
        let mut format = String::new();
        for _ in 0..1 + self.random.below(3) {
            format.push_str(self.random.pick(&["", "a ", " is ", ": "]));
            format.push_str(self.random.pick(FORMATS));
        }
        let mut args = Vec::new();
        for _ in 0..self.random.below(4) {
            args.push(self.value(vars));
        }
        format!("sprintf({}, [{}])", Value::String(format), args.join(", "))
    }

    /// A builtin call whose arguments may be of the wrong type.
    fn builtin(&mut self, vars: &[(String, Kind)]) -> String {
        let r = self.reference(Kind::Scalar, vars);
        let c = self.reference(Kind::Collection, vars);
        match self.random.below(16) {
            0 => format!("concat(\",\", {c})"),
            1 => format!("split({r}, \",\")"),
            2 => format!(
                "time.parse_rfc3339_ns({})",
                self.random
                    .pick(&["input.when", "input.b", "\"2024-01-02T03:04:05Z\""])
            ),
            3 => format!("sum({c})"),
            4 => format!("max({c})"),
            5 => format!("object.keys({c})"),
            6 => format!("abs({r})"),
            7 => format!("round({r})"),
            8 => format!("json.marshal({c})"),
            9 => format!("trim_space({r})"),
            10 => format!("sort({c})"),
            11 => format!("format_int({r}, 16)"),
            12 => format!("numbers.range(1, {r})"),
            13 => format!(
                "regex.find_n({}, {r}, -1)",
                self.random.pick(&["\"[a-z]+\"", "input.bad", "input.pat"])
            ),
            14 => format!(
                "units.parse({})",
                self.random.pick(&["input.cpu", "\"100m\"", "input.b"])
            ),
            _ => format!("intersection({{{c}, {{\"p\"}}}})"),
        }
    }

    /// One statement of a body; may bind variables (added to `vars`).
    fn statement(&mut self, vars: &mut Vec<(String, Kind)>) -> String {
        match self.random.below(30) {
            0..=6 => format!("not {}", self.test(vars)),
            7..=9 => self.test(vars),
            10 => {
                let name = self.fresh("c");
                let collection = self.random.pick(&["input.arr", "input.missing", "input.o"]);
                vars.push((name.clone(), Kind::Item));
                if self.random.chance(50) {
                    format!("some {name} in {collection}")
                } else {
                    format!("{name} := {collection}[_]")
                }
            }
            11 => {
                let name = self.fresh("x");
                let value = self.reference(Kind::Scalar, vars);
                vars.push((name.clone(), Kind::Scalar));
                format!("{name} := {value}")
            }
            12 => {
                let name = self.fresh("v");
                let inner = vec![(name.clone(), Kind::Scalar)];
                let test = self.test(&inner);
                format!(
                    "every {name} in {} {{ {test} }}",
                    self.reference(Kind::Collection, vars)
                )
            }
            13 => {
                let test = self.test(vars);
                format!("count([1 | not {test}]) == 0")
            }
            14 => {
                let name = self.fresh("v");
                let inner = vec![(name.clone(), Kind::Scalar)];
                let test = self.test(&inner);
                let collection = self.reference(Kind::Collection, vars);
                let xs = self.fresh("xs");
                vars.push((xs.clone(), Kind::Collection));
                format!("{xs} := [{name} | some {name} in {collection}; not {test}]")
            }
            15 => {
                let test = self.test(vars);
                format!("not {test} with input as {}", self.with_value(vars))
            }
            16 => {
                let test = self.test(vars);
                let target = self.random.pick(&["input.a", "input.b", "input.name"]);
                format!("not {test} with {target} as {}", self.value(vars))
            }
            // Expressions over two lines, as OPA reads them.
            17 => format!(
                "{}\n\t({} - input.min) < input.spread",
                self.reference(Kind::Scalar, vars),
                self.reference(Kind::Scalar, vars)
            ),
            18 => {
                let name = self.fresh("x");
                let a = self.reference(Kind::Scalar, vars);
                vars.push((name.clone(), Kind::Scalar));
                format!("{name} := {a} +\n\t\t1")
            }
            19 => format!("{}\n\t[1] == [1]", self.reference(Kind::Scalar, vars)),
            20 => {
                let name = self.fresh("x");
                let a = self.reference(Kind::Scalar, vars);
                vars.push((name.clone(), Kind::Scalar));
                format!("{name} := 1\n\t\t- {a}")
            }
            21 => format!("print(\"p\", {})", self.reference(Kind::Scalar, vars)),
            22 | 23 => {
                let name = self.fresh("s");
                let call = self.sprintf(vars);
                vars.push((name.clone(), Kind::Scalar));
                format!("{name} := {call}")
            }
            24 | 25 => {
                let name = self.fresh("b");
                let call = self.builtin(vars);
                vars.push((name.clone(), Kind::Scalar));
                format!("{name} := {call}")
            }
            // Negations inside negations.
            26 => format!("not count([1 | not {}]) == 1", self.test(vars)),
            27 => {
                let name = self.fresh("v");
                let inner = vec![(name.clone(), Kind::Scalar)];
                let test = self.test(&inner);
                format!(
                    "some {name} in {}; not {test}",
                    self.reference(Kind::Collection, vars)
                )
            }
            _ => {
                let op = self.random.pick(&["==", "!="]);
                format!(
                    "{} {op} {}",
                    self.reference(Kind::Scalar, vars),
                    self.value(vars)
                )
            }
        }
    }

    fn body(&mut self, vars: &mut Vec<(String, Kind)>, statements: usize) -> Vec<String> {
        (0..statements).map(|_| self.statement(vars)).collect()
    }

    /// The `deny` rule's message: a literal, a `sprintf` or a bound string.
    fn message(&mut self, vars: &[(String, Kind)]) -> String {
        match self.random.below(4) {
            0 => format!("msg := \"{}\"", self.fresh("m")),
            1 | 2 => format!("msg := {}", self.sprintf(vars)),
            _ => format!(
                "msg := sprintf(\"m %v\", [{}])",
                self.reference(Kind::Scalar, vars)
            ),
        }
    }

    fn helpers(&mut self) -> Vec<RuleDef> {
        let mut rules = Vec::new();
        if self.random.chance(50) {
            self.helpers.push("f");
            let mut clauses = vec![
                ("x".to_owned(), vec!["x == \"c1\"".to_owned()]),
                ("x".to_owned(), vec!["startswith(x, \"n\")".to_owned()]),
                ("x".to_owned(), vec!["not x == 2".to_owned()]),
                ("x".to_owned(), vec!["count(x) > 1".to_owned()]),
                ("x".to_owned(), vec!["x.name == \"c2\"".to_owned()]),
            ];
            for _ in 0..1 + self.random.below(3) {
                let (args, body) = clauses.swap_remove(self.random.below(clauses.len()));
                rules.push(RuleDef {
                    head: Head::Function("f", args, None),
                    bodies: vec![body],
                    elses: vec![],
                    braceless: false,
                });
            }
            if self.random.chance(40) {
                // Body-less clauses: `f(1)` in v0.
                rules.push(RuleDef {
                    head: Head::Function("f", self.random.pick(&["1", "\"x\""]).to_owned(), None),
                    bodies: vec![],
                    elses: vec![],
                    braceless: false,
                });
            }
        }
        if self.random.chance(35) {
            self.helpers.push("g");
            rules.push(RuleDef {
                head: Head::Function("g", "\"RunAsAny\", _".to_owned(), None),
                bodies: vec![],
                elses: vec![],
                braceless: false,
            });
            rules.push(RuleDef {
                head: Head::Function("g", "x, y".to_owned(), None),
                bodies: vec![vec!["x == y[_]".to_owned()]],
                elses: vec![],
                braceless: false,
            });
        }
        if self.random.chance(35) {
            // A function with `else`.
            self.helpers.push("h");
            rules.push(RuleDef {
                head: Head::Function("h", "x".to_owned(), Some("1".to_owned())),
                bodies: vec![vec!["x > 1".to_owned()]],
                elses: vec![
                    (Some("2".to_owned()), Some(vec!["x == \"c1\"".to_owned()])),
                    (Some("3".to_owned()), None),
                ],
                braceless: false,
            });
        }
        if self.random.chance(25) {
            // Clauses that may conflict (OPA: an error where both hold).
            self.helpers.push("kk");
            rules.push(RuleDef {
                head: Head::Function("kk", "x".to_owned(), Some("1".to_owned())),
                bodies: vec![vec!["is_string(x)".to_owned()]],
                elses: vec![],
                braceless: false,
            });
            rules.push(RuleDef {
                head: Head::Function("kk", "x".to_owned(), Some("2".to_owned())),
                bodies: vec![vec![
                    self.random
                        .pick(&["x == \"c1\"", "is_number(x)"])
                        .to_owned(),
                ]],
                elses: vec![],
                braceless: false,
            });
        }
        if self.random.chance(40) {
            let mut vars = Vec::new();
            let first = {
                let n = 1 + self.random.below(2);
                self.body(&mut vars, n)
            };
            let mut elses = Vec::new();
            if self.random.chance(60) {
                let mut vars = Vec::new();
                elses.push((Some("2".to_owned()), Some(self.body(&mut vars, 1))));
                if self.random.chance(50) {
                    elses.push((Some("3".to_owned()), None));
                }
            }
            rules.push(RuleDef {
                head: Head::Complete("helper", "1".to_owned()),
                bodies: vec![first],
                elses,
                braceless: false,
            });
            // Named only now: a rule that refers to itself OPA refuses as recursive.
            self.helpers.push("helper");
            if self.random.chance(30) {
                rules.push(RuleDef {
                    head: Head::Default("helper", "0".to_owned()),
                    bodies: vec![],
                    elses: vec![],
                    braceless: false,
                });
            }
        }
        if self.random.chance(40) {
            let mut vars = vec![("x".to_owned(), Kind::Scalar)];
            let collection =
                self.random
                    .pick(&["input.s", "input.arr[_].name", "input.missing", "input.o"]);
            let mut body = vec![format!("some x in {collection}")];
            body.extend({
                let n = self.random.below(2);
                self.body(&mut vars, n)
            });
            rules.push(RuleDef {
                head: Head::Set("hs", "x".to_owned()),
                bodies: vec![body],
                elses: vec![],
                braceless: false,
            });
            self.helpers.push("hs");
        }
        if self.random.chance(30) {
            let mut vars = vec![("v".to_owned(), Kind::Scalar)];
            let mut body = vec![format!(
                "some k, v in {}",
                self.random.pick(&["input.o", "input.s", "input.missing"])
            )];
            body.extend({
                let n = self.random.below(2);
                self.body(&mut vars, n)
            });
            rules.push(RuleDef {
                head: Head::Object("hobj", "k".to_owned(), "v".to_owned()),
                bodies: vec![body],
                elses: vec![],
                braceless: false,
            });
            self.helpers.push("hobj");
        }
        if self.random.chance(25) {
            // A body-less head with a wildcard: OPA moves the head's terms into a body.
            self.helpers.push("vols");
            rules.push(RuleDef {
                head: Head::Set(
                    "vols",
                    self.random
                        .pick(&["input.arr[_].name", "input.s[_]", "input.missing[_]"])
                        .to_owned(),
                ),
                bodies: vec![],
                elses: vec![],
                braceless: false,
            });
        }
        rules
    }

    /// Unit tests of a generated case, as `opa test` and `policyrun verify` run them: on
    /// `deny` of the case for one of the `documents` each, names often repeated (each
    /// definition is a test of its own), some `todo_`, some of a value other than `true`.
    fn unit_tests(&mut self, documents: usize) -> TestModule {
        let placement = match self.random.below(3) {
            0 => Placement::MainFile,
            1 => Placement::SamePackage,
            _ => Placement::TestPackage,
        };
        let deny = if placement == Placement::TestPackage {
            "data.main.deny"
        } else {
            "deny"
        };
        let count = 1 + self.random.below(5);
        let tests = (0..count)
            .map(|_| {
                let document = self.random.below(documents);
                let name =
                    self.random
                        .pick(&["test_deny", "test_deny", "test_clean", "todo_test_deny"]);
                let with = format!("with input as {}", inputs()[document]);
                let (statement, value) = match self.random.below(6) {
                    0 | 1 => (
                        format!("count({deny}) == {} {with}", self.random.below(3)),
                        false,
                    ),
                    2 => (format!("{deny} == set() {with}"), false),
                    3 => (format!("m := {deny}[_] {with}\n\tm != \"\""), false),
                    4 => (format!("not {deny}[_] {with}"), false),
                    _ => (format!("n := count({deny}) {with}"), true),
                };
                UnitTest {
                    name,
                    statement,
                    value,
                    document,
                }
            })
            .collect();
        TestModule { placement, tests }
    }

    fn case(&mut self) -> Case {
        self.helpers.clear();
        let v0 = self.random.chance(50);
        self.v0 = v0;
        let mut rules = self.helpers();
        let definitions = 1 + self.random.below(2);
        for _ in 0..definitions {
            if self.random.chance(25) {
                // `deny contains "m" if not f(input.x)`: a message in the head, one statement.
                let mut vars = Vec::new();
                let statement = self.statement(&mut vars);
                let message = format!("\"{}\"", self.fresh("m"));
                rules.push(RuleDef {
                    head: Head::Set("deny", message),
                    bodies: vec![vec![statement]],
                    elses: vec![],
                    braceless: self.random.chance(60),
                });
                continue;
            }
            let chained =
                1 + usize::from(self.random.chance(30)) + usize::from(self.random.chance(10));
            let mut bodies = Vec::new();
            for _ in 0..chained {
                let mut vars = Vec::new();
                let mut body = {
                    let n = 1 + self.random.below(4);
                    self.body(&mut vars, n)
                };
                body.push(self.message(&vars));
                bodies.push(body);
            }
            rules.push(RuleDef {
                head: Head::Set("deny", "msg".to_owned()),
                bodies,
                elses: vec![],
                braceless: false,
            });
        }
        // Rules in any order: the order of definitions means nothing in Rego.
        for i in (1..rules.len()).rev() {
            let j = self.random.below(i + 1);
            rules.swap(i, j);
        }
        Case { v0, rules }
    }
}

// ---- verdicts -------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Messages(Vec<String>),
    Error(String),
}

impl Verdict {
    fn same_as(&self, other: &Verdict) -> bool {
        match (self, other) {
            (Verdict::Error(_), Verdict::Error(_)) => true,
            _ => self == other,
        }
    }

    fn short(&self) -> String {
        match self {
            Verdict::Messages(m) => format!("{m:?}"),
            Verdict::Error(e) => {
                let e = e.replace('\n', " ");
                format!("error: {}", e.chars().take(200).collect::<String>())
            }
        }
    }
}

/// policyrun's verdict on each input, with `engine`, through the stage's path for
/// `policyrun test` documents.
fn policyrun_verdicts(dir: &Path, engine: RegoEngine, documents: &[Value]) -> Vec<Verdict> {
    let settings = Settings {
        dirs: vec![dir.to_path_buf()],
        engine,
        ..Settings::default()
    };
    let stage = PolicyStage::new(dir, &settings);
    let outcomes = judge_inputs(&stage, documents);
    let load_error: Option<&Outcome> = outcomes
        .iter()
        .find(|o| o.status == Status::Error && o.check == policyrun::policy::LOAD);
    (0..documents.len())
        .map(|i| {
            if let Some(error) = load_error {
                return Verdict::Error(format!("{LOAD_ERROR}{}", error.message));
            }
            // The rule's outcome, or the package's when its evaluation failed as a whole.
            let subject = format!("input[{i}] main.deny");
            let package = format!("input[{i}] main");
            let found = |name: &str| outcomes.iter().find(|o| o.subject.as_deref() == Some(name));
            let Some(outcome) = found(&subject).or_else(|| found(&package)) else {
                return Verdict::Error(format!("no outcome for {subject}: {outcomes:?}"));
            };
            match outcome.status {
                Status::Passed => Verdict::Messages(Vec::new()),
                Status::Failed => {
                    let mut messages: Vec<String> = outcome
                        .each_message()
                        .into_iter()
                        .map(str::to_owned)
                        .collect();
                    messages.sort();
                    Verdict::Messages(messages)
                }
                _ => Verdict::Error(outcome.message.clone()),
            }
        })
        .collect()
}

/// How a verdict's text says that the policies did not load.
const LOAD_ERROR: &str = "load: ";

/// What the bodies of `deny` say one by one on the interpreter ([`Case::render_split`]), an
/// error taken as no message: OPA's rule index skips a body whose indexed reference (`x =
/// input.a`, `input.a == "v"`) is undefined without evaluating it, so an error in it never
/// comes up, where policyrun reports it (and fails the run). Equal to OPA's messages, it tells
/// such an error from a difference.
fn split_verdicts(dir: &Path, case: &Case, documents: &[Value]) -> Vec<Verdict> {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("main.rego"), case.render_split()).unwrap();
    let settings = Settings {
        dirs: vec![dir.to_path_buf()],
        ..Settings::default()
    };
    let stage = PolicyStage::new(dir, &settings);
    let outcomes = judge_inputs(&stage, documents);
    (0..documents.len())
        .map(|i| {
            let prefix = format!("input[{i}] main.deny_");
            let mut messages: Vec<String> = outcomes
                .iter()
                .filter(|o| o.subject.as_deref().is_some_and(|s| s.starts_with(&prefix)))
                .filter(|o| o.status == Status::Failed)
                .flat_map(|o| o.each_message().into_iter().map(str::to_owned))
                .collect();
            messages.sort();
            messages.dedup();
            Verdict::Messages(messages)
        })
        .collect()
}

/// The interpreter's verdicts with builtin errors taken as undefined: OPA evaluates a
/// partial rule only for the key a caller asks for, and a function's clauses only until one
/// holds when they all give the same value, so a builtin's error in the rest never comes up.
fn lenient_verdicts(dir: &Path, documents: &[Value]) -> Vec<Verdict> {
    let settings = Settings {
        dirs: vec![dir.to_path_buf()],
        ..Settings::default()
    };
    let Ok(loaded) =
        policyrun::policy::load::load(dir, &settings, policyrun::policy::load::Purpose::Judge)
    else {
        return documents
            .iter()
            .map(|_| Verdict::Error("does not load".into()))
            .collect();
    };
    let mut engine = loaded.engine.clone();
    engine.set_strict_builtin_errors(false);
    documents
        .iter()
        .map(|document| {
            engine.set_input(regorus::Value::from(document.clone()));
            match engine.eval_rule("data.main.deny".to_owned()) {
                Err(e) => Verdict::Error(e.to_string()),
                Ok(value) => {
                    let json = serde_json::to_value(&value).unwrap_or(Value::Null);
                    let mut messages: Vec<String> = json
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|m| m.as_str().unwrap_or_default().to_owned())
                        .collect();
                    messages.sort();
                    Verdict::Messages(messages)
                }
            }
        })
        .collect()
}

/// OPA's verdicts per case and input, and its compile error per case.
fn opa_verdicts(modules: &[String], documents: &[Value]) -> Vec<(Option<String>, Vec<Verdict>)> {
    let cases: Vec<Value> = documents
        .iter()
        .map(|d| json!({"object": d, "policyrun": {}, "rules": ["main.deny"]}))
        .collect();
    let jobs: Vec<Value> = modules
        .iter()
        .map(|m| json!({"modules": {"main.rego": m}, "cases": cases}))
        .collect();
    let mut child = Command::new("python3")
        .arg(manifest_dir().join("scripts/opa-reference"))
        .arg("eval-many")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let text = serde_json::to_vec(&json!({ "jobs": jobs })).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Written from another thread: the answer may fill the pipe before the job is read.
    let writer = std::thread::spawn(move || stdin.write_all(&text));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "opa-reference eval-many failed");
    let answer: Value = serde_json::from_slice(&output.stdout).expect("opa-reference's JSON");
    answer["results"]
        .as_array()
        .expect("one result per job")
        .iter()
        .map(|result| {
            let compile_error = result["compile_error"].as_str().map(str::to_owned);
            let verdicts = result["cases"]
                .as_array()
                .expect("one answer per input")
                .iter()
                .map(|case| {
                    let answer = &case["main.deny"];
                    match answer.get("error") {
                        Some(error) => {
                            Verdict::Error(error.as_str().unwrap_or_default().to_owned())
                        }
                        None => Verdict::Messages(
                            answer["messages"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .map(|m| m.as_str().unwrap_or_default().to_owned())
                                .collect(),
                        ),
                    }
                })
                .collect();
            (compile_error, verdicts)
        })
        .collect()
}

/// One case in this many is also judged by the binary, `policyrun test -p policy`.
const BINARY_EVERY: usize = 8;

/// `policyrun test -p policy --output json inputs.yaml` on a case, as a user runs it:
/// the module in `policy/`, documents beside it in `policy/test_data/` (conftest's layout:
/// fixtures, not data, with keys that would conflict if merged into `data`), each input a
/// document of `inputs.yaml`. The interpreter's verdict on each input.
fn binary_verdicts(dir: &Path, case: &Case, documents: &[Value]) -> Vec<Verdict> {
    support::write_file(dir, "policy/main.rego", &case.render(case.v0));
    support::write_file(
        dir,
        "policy/test_data/first.json",
        &documents[0].to_string(),
    );
    support::write_file(
        dir,
        "policy/test_data/other.yaml",
        &documents[documents.len() - 2].to_string(),
    );
    let inputs: String = documents.iter().map(|d| format!("---\n{d}\n")).collect();
    support::write_file(dir, "inputs.yaml", &inputs);
    let run = support::policyrun(
        dir,
        &["test", "-p", "policy", "--output", "json", "inputs.yaml"],
    );
    let outcomes = support::outcome_list(&run);
    (0..documents.len())
        .map(|i| {
            let subject = format!("inputs.yaml[{i}] main.deny");
            let package = format!("inputs.yaml[{i}] main");
            let found = outcomes
                .iter()
                .find(|o| o["subject"] == subject.as_str())
                .or_else(|| outcomes.iter().find(|o| o["subject"] == package.as_str()));
            let Some(outcome) = found else {
                // No verdict on the input: the policies did not load, or the input was refused.
                let problems: Vec<String> = outcomes
                    .iter()
                    .filter(|o| o["status"] != "passed")
                    .map(|o| format!("{}: {}", o["subject"], o["message"]))
                    .collect();
                return Verdict::Error(format!("{LOAD_ERROR}no {subject}: {problems:?}"));
            };
            match outcome["status"].as_str() {
                Some("passed") | Some("failed") => {
                    let mut messages: Vec<String> = outcome["messages"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|m| m.as_str().unwrap_or_default().to_owned())
                        .collect();
                    messages.sort();
                    Verdict::Messages(messages)
                }
                _ => Verdict::Error(outcome["message"].to_string()),
            }
        })
        .collect()
}

/// The binary's verdicts ([`binary_verdicts`]) against OPA's, on one case in
/// [`BINARY_EVERY`], with the interpreter's exemptions (see the judge's comparison).
fn compare_binary(
    cases: &[Case],
    documents: &[Value],
    opa: &[(Option<String>, Vec<Verdict>)],
    dir: &Path,
    refused_by_opa_types: &HashSet<usize>,
    fail_closed: &HashSet<(usize, usize)>,
) -> Vec<String> {
    let chosen: Vec<usize> = (0..cases.len())
        .filter(|i| i % BINARY_EVERY == 0 && !refused_by_opa_types.contains(i))
        .collect();
    let ours: Vec<Vec<Verdict>> = chosen
        .par_iter()
        .map(|&i| binary_verdicts(&dir.join(format!("binary{i}")), &cases[i], documents))
        .collect();
    let mut differences = Vec::new();
    let mut compared = 0;
    for (&i, ours) in chosen.iter().zip(&ours) {
        for (input, (mine, theirs)) in ours.iter().zip(&opa[i].1).enumerate() {
            compared += 1;
            let excused = matches!(mine, Verdict::Error(e) if !e.starts_with(LOAD_ERROR))
                && fail_closed.contains(&(i, input));
            if mine.same_as(theirs) || excused {
                continue;
            }
            differences.push(format!(
                "case {i} input {input} through `policyrun test`:\n  policyrun: {}\n  OPA:       {}\n--- policy/main.rego:\n{}",
                mine.short(),
                theirs.short(),
                cases[i].render(cases[i].v0)
            ));
        }
    }
    eprintln!(
        "`policyrun test`: {compared} verdicts of {} cases compared; {} differences",
        chosen.len(),
        differences.len()
    );
    differences
}

/// What became of one unit test.
#[derive(Debug, Clone, PartialEq)]
enum TestResult {
    Pass,
    Fail,
    Skip,
    Error(String),
}

impl TestResult {
    fn same_as(&self, other: &TestResult) -> bool {
        match (self, other) {
            (TestResult::Error(_), TestResult::Error(_)) => true,
            _ => self == other,
        }
    }
}

/// `policyrun verify` on the modules in `dir`: each test by the name it reports, or the
/// load's error.
fn policyrun_tests(dir: &Path) -> Result<BTreeMap<String, Vec<TestResult>>, String> {
    let settings = Settings {
        dirs: vec![dir.to_path_buf()],
        ..Settings::default()
    };
    let outcomes = policyrun::policy::verify::run(dir, &settings).map_err(|e| e.to_string())?;
    if let Some(load) = outcomes
        .iter()
        .find(|o| o.check == policyrun::policy::LOAD && o.status == Status::Error)
    {
        return Err(load.message.clone());
    }
    let mut results: BTreeMap<String, Vec<TestResult>> = BTreeMap::new();
    for o in outcomes {
        let result = match o.status {
            Status::Passed => TestResult::Pass,
            Status::Failed => TestResult::Fail,
            Status::Skipped => TestResult::Skip,
            _ => TestResult::Error(o.message.clone()),
        };
        results
            .entry(o.subject.unwrap_or_default())
            .or_default()
            .push(result);
    }
    Ok(results)
}

/// `opa test` (as `scripts/opa-reference test-many` runs it) on each set of module files:
/// its compile error, or the results under each name OPA's tester reports (one per
/// definition of a `todo_test_*` rule, which it does not rename).
fn opa_tests(
    jobs: &[Vec<(&'static str, String)>],
) -> Vec<Result<BTreeMap<String, Vec<TestResult>>, String>> {
    let jobs: Vec<Value> = jobs
        .iter()
        .map(|files| {
            let modules: serde_json::Map<String, Value> = files
                .iter()
                .map(|(name, text)| ((*name).to_owned(), Value::String(text.clone())))
                .collect();
            json!({ "modules": modules })
        })
        .collect();
    let answer = opa_reference_many("test-many", &json!({ "jobs": jobs }));
    answer["results"]
        .as_array()
        .expect("one result per job")
        .iter()
        .map(|result| {
            if let Some(error) = result["compile_error"].as_str() {
                return Err(error.to_owned());
            }
            Ok(result["tests"]
                .as_object()
                .expect("the tests by name")
                .iter()
                .map(|(name, status)| {
                    let outcome = match status.as_str().unwrap_or_default() {
                        "pass" => TestResult::Pass,
                        "fail" => TestResult::Fail,
                        "skip" => TestResult::Skip,
                        other => TestResult::Error(other.to_owned()),
                    };
                    let runs = result["runs"][name].as_u64().unwrap_or(1) as usize;
                    (name.clone(), vec![outcome; runs])
                })
                .collect())
        })
        .collect()
}

/// Runs `scripts/opa-reference MODE` with `job` on its standard input: its JSON answer.
fn opa_reference_many(mode: &str, job: &Value) -> Value {
    let mut child = Command::new("python3")
        .arg(manifest_dir().join("scripts/opa-reference"))
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let text = serde_json::to_vec(job).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Written from another thread: the answer may fill the pipe before the job is read.
    let writer = std::thread::spawn(move || stdin.write_all(&text));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "opa-reference {mode} failed");
    serde_json::from_slice(&output.stdout).expect("opa-reference's JSON")
}

/// One case in this many also gets unit tests, run by `policyrun verify` and `opa test`.
const UNIT_TESTS_EVERY: usize = 4;

/// `policyrun verify` against `opa test` on unit tests generated for the cases: the same
/// tests by the same names (`test_x#01` for a repeated definition), each with OPA's result.
/// Cases OPA's type checker refuses are left out; a test on a document where policyrun's
/// interpreter fails closed (see above) may err where OPA's passes or fails.
fn compare_unit_tests(
    grammar: &mut Grammar,
    cases: &[Case],
    documents: &[Value],
    dir: &Path,
    refused_by_opa_types: &HashSet<usize>,
    fail_closed: &HashSet<(usize, usize)>,
) -> Vec<String> {
    let chosen: Vec<(usize, &Case, TestModule)> = cases
        .iter()
        .enumerate()
        .filter(|(i, _)| i % UNIT_TESTS_EVERY == 0 && !refused_by_opa_types.contains(i))
        .map(|(i, case)| (i, case, grammar.unit_tests(documents.len())))
        .collect();
    let opa_files: Vec<Vec<(&'static str, String)>> = chosen
        .iter()
        .map(|(_, case, tests)| tests.files(case, false))
        .collect();
    let theirs = opa_tests(&opa_files);
    let ours: Vec<Result<BTreeMap<String, Vec<TestResult>>, String>> = chosen
        .par_iter()
        .map(|(i, case, tests)| {
            let case_dir = dir.join(format!("verify{i}"));
            std::fs::create_dir_all(&case_dir).unwrap();
            for (name, text) in tests.files(case, case.v0) {
                std::fs::write(case_dir.join(name), text).unwrap();
            }
            policyrun_tests(&case_dir)
        })
        .collect();
    let mut differences = Vec::new();
    let (mut compared, mut excused) = (0usize, 0usize);
    for (((i, case, tests), ours), theirs) in chosen.iter().zip(&ours).zip(&theirs) {
        let describe = |what: String| {
            let files: String = tests
                .files(case, case.v0)
                .iter()
                .map(|(name, text)| format!("--- {name}:\n{text}"))
                .collect();
            format!("case {i} in `verify`: {what}\n{files}")
        };
        let (ours, theirs) = match (ours, theirs) {
            (Err(_), Err(_)) => continue,
            (Ok(ours), Ok(theirs)) => (ours, theirs),
            (ours, theirs) => {
                differences.push(describe(format!(
                    "policyrun {}, OPA {}",
                    ours.as_ref()
                        .map_or_else(|e| format!("refuses: {e}"), |_| "loads".into()),
                    theirs
                        .as_ref()
                        .map_or_else(|e| format!("refuses: {e}"), |_| "compiles".into()),
                )));
                continue;
            }
        };
        let names_ours: Vec<&String> = ours.keys().collect();
        let names_theirs: Vec<&String> = theirs.keys().collect();
        if names_ours != names_theirs {
            differences.push(describe(format!(
                "policyrun runs {names_ours:?}, OPA {names_theirs:?}"
            )));
            continue;
        }
        let counts = |results: &BTreeMap<String, Vec<TestResult>>| -> Vec<usize> {
            results.values().map(Vec::len).collect()
        };
        if counts(ours) != counts(theirs) {
            differences.push(describe(format!(
                "policyrun reports {ours:?}, OPA {theirs:?}"
            )));
            continue;
        }
        // The tests in the order of their definitions, as both name them: a repeated
        // `test_x` is `test_x#01`, ...; each `todo_test_x` keeps its name.
        let mut order: Vec<(&str, usize)> = Vec::new();
        for test in &tests.tests {
            let seen = order.iter().filter(|(n, _)| *n == test.name).count();
            order.push((test.name, seen));
        }
        for (test, (name, k)) in tests.tests.iter().zip(order) {
            let package = if tests.placement == Placement::TestPackage {
                "main_test"
            } else {
                "main"
            };
            let (shown, k) = if name.starts_with("todo_") {
                (format!("{package}.{name}"), k)
            } else if k == 0 {
                (format!("{package}.{name}"), 0)
            } else {
                (format!("{package}.{name}#{k:02}"), 0)
            };
            let (Some(mine), Some(opa)) = (
                ours.get(&shown).and_then(|r| r.get(k)),
                theirs.get(&shown).and_then(|r| r.get(k)),
            ) else {
                differences.push(describe(format!("no result for {shown}")));
                continue;
            };
            compared += 1;
            if mine.same_as(opa) {
                continue;
            }
            if matches!(mine, TestResult::Error(_))
                && !matches!(opa, TestResult::Error(_))
                && fail_closed.contains(&(*i, test.document))
            {
                excused += 1;
                continue;
            }
            differences.push(describe(format!(
                "{shown} on input {}: policyrun {mine:?}, OPA {opa:?}",
                test.document
            )));
        }
    }
    eprintln!(
        "`verify`: {compared} unit tests of {} cases compared with `opa test`; {excused} errors on documents where policyrun fails closed; {} differences",
        chosen.len(),
        differences.len()
    );
    differences
}

/// The rule whose text holds the line an evaluation error names (`main.rego:12:5`): the
/// nearest line above it that starts a rule. OPA evaluates a helper only as far as its caller
/// needs (a partial rule for one key, a function's clauses until one holds), so an error
/// inside a helper may never come up there.
fn error_rule(module: &str, verdict: &Verdict) -> Option<String> {
    let Verdict::Error(text) = verdict else {
        return None;
    };
    let line: usize = text
        .split("main.rego:")
        .nth(1)?
        .split(':')
        .next()?
        .parse()
        .ok()?;
    let lines: Vec<&str> = module.lines().collect();
    lines[..line.min(lines.len())]
        .iter()
        .rev()
        .find(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()) && !l.starts_with("import"))
        .map(|l| {
            l.trim_start_matches("default ")
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
                .unwrap_or_default()
                .to_owned()
        })
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Cases in CI: enough to meet every rewrite many times; about 40 s on two shared cores.
const CASES: u64 = 3000;
const SEED: u64 = 0x2545_f491_4f6c_dd1d;

#[test]
fn generated_modules_get_opas_verdicts_on_both_engines() {
    if !opa_available() {
        return;
    }
    let count = env_number("POLICYRUN_OPA_FUZZ_CASES").unwrap_or(CASES) as usize;
    let seed = env_number("POLICYRUN_OPA_FUZZ_SEED").unwrap_or(SEED);
    let mut grammar = Grammar {
        random: Random(seed | 1),
        counter: 0,
        helpers: Vec::new(),
        v0: false,
    };
    let cases: Vec<Case> = (0..count).map(|_| grammar.case()).collect();
    let documents = inputs();
    let started = Instant::now();
    let opa_texts: Vec<String> = cases.iter().map(|c| c.render(false)).collect();
    let opa = std::thread::spawn({
        let documents = documents.clone();
        move || opa_verdicts(&opa_texts, &documents)
    });
    let dir = tempfile::tempdir().unwrap();
    let ours: Vec<[Vec<Verdict>; 2]> = cases
        .par_iter()
        .enumerate()
        .map(|(i, case)| {
            let case_dir = dir.path().join(format!("case{i}"));
            std::fs::create_dir_all(&case_dir).unwrap();
            std::fs::write(case_dir.join("main.rego"), case.render(case.v0)).unwrap();
            [
                policyrun_verdicts(&case_dir, RegoEngine::Interpreter, &documents),
                policyrun_verdicts(&case_dir, RegoEngine::Vm, &documents),
            ]
        })
        .collect();
    let policyrun_time = started.elapsed();
    let opa = opa.join().expect("OPA's verdicts");
    eprintln!(
        "{count} cases (seed {seed}), {} inputs each: policyrun {policyrun_time:.1?}, all {:.1?}",
        documents.len(),
        started.elapsed()
    );
    let mut differences = Vec::new();
    // Where policyrun's interpreter fails closed on a document (above): a unit test on it
    // may err where OPA's passes or fails.
    let mut fail_closed: HashSet<(usize, usize)> = HashSet::new();
    let mut refused_by_opa_types: HashSet<usize> = HashSet::new();
    let mut oracles: HashMap<usize, (Vec<Verdict>, Vec<Verdict>)> = HashMap::new();
    // With POLICYRUN_OPA_FUZZ_DUMP=file, every difference goes there as a JSON line.
    let mut dumped = Vec::new();
    let (mut compared, mut type_errors, mut vm_errors, mut skipped_errors) =
        (0usize, 0usize, 0usize, 0usize);
    for (i, (case, ([interpreter, vm], (compile_error, theirs)))) in
        cases.iter().zip(ours.iter().zip(&opa)).enumerate()
    {
        // OPA's type checker refuses the module (when its query is prepared, so the error
        // may come with a verdict rather than as a compile error).
        let refused_by_types = compile_error
            .iter()
            .chain(theirs.iter().filter_map(|v| match v {
                Verdict::Error(e) => Some(e),
                _ => None,
            }))
            .any(|e| e.contains("rego_type_error"));
        if refused_by_types {
            type_errors += 1;
            refused_by_opa_types.insert(i);
            continue;
        }
        for (input, opa) in theirs.iter().enumerate() {
            compared += 1;
            for (engine, verdicts) in [("interpreter", interpreter), ("vm", vm)] {
                let ours = &verdicts[input];
                if ours.same_as(opa) {
                    continue;
                }
                // The virtual machine takes an error inside a rule body as "does not hold"
                // (docs/policies.md, "Engines"), where OPA — strict about builtin errors here, as the
                // interpreter is — fails: counted, not compared.
                if engine == "vm"
                    && matches!(opa, Verdict::Error(e) if e.contains("eval_type_error") || e.contains("eval_builtin_error") || e.contains("eval_conflict_error"))
                    && interpreter[input].same_as(opa)
                {
                    vm_errors += 1;
                    continue;
                }
                // An engine reports an error where OPA never evaluates what fails (see
                // `split_verdicts` and `lenient_verdicts`): policyrun fails closed there.
                // Only an evaluation's error: a module policyrun refuses at load, OPA must too.
                let evaluation_error =
                    matches!(ours, Verdict::Error(e) if !e.starts_with(LOAD_ERROR));
                if evaluation_error && !matches!(opa, Verdict::Error(_)) {
                    let (split, lenient) = oracles.entry(i).or_insert_with(|| {
                        (
                            split_verdicts(&dir.path().join(format!("split{i}")), case, &documents),
                            lenient_verdicts(&dir.path().join(format!("case{i}")), &documents),
                        )
                    });
                    let in_helper =
                        error_rule(&case.render(case.v0), ours).is_some_and(|rule| rule != "deny");
                    if split[input].same_as(opa) || lenient[input].same_as(opa) || in_helper {
                        skipped_errors += 1;
                        if engine == "interpreter" {
                            fail_closed.insert((i, input));
                        }
                        continue;
                    }
                }
                dumped.push(json!({
                    "case": i, "input": input, "engine": engine, "v0": case.v0,
                    "document": documents[input],
                    "policyrun": ours.short(), "opa": opa.short(),
                    "module": case.render(case.v0), "opa_module": case.render(false),
                }));
                differences.push(format!(
                    "case {i} ({}) input {input} on the {engine}:\n  policyrun: {}\n  OPA:       {}\n--- policyrun's module:\n{}--- OPA's module:\n{}",
                    if case.v0 { "v0" } else { "v1" },
                    ours.short(),
                    opa.short(),
                    case.render(case.v0),
                    case.render(false),
                ));
            }
        }
    }
    eprintln!(
        "{compared} verdicts compared per engine; {type_errors} cases refused by OPA's type checker, {vm_errors} builtin errors the virtual machine takes as undefined, {skipped_errors} errors where OPA never evaluates what fails (policyrun fails closed); {} differences",
        differences.len()
    );
    differences.extend(compare_binary(
        &cases,
        &documents,
        &opa,
        dir.path(),
        &refused_by_opa_types,
        &fail_closed,
    ));
    differences.extend(compare_unit_tests(
        &mut grammar,
        &cases,
        &documents,
        dir.path(),
        &refused_by_opa_types,
        &fail_closed,
    ));
    if let Some(path) = std::env::var_os("POLICYRUN_OPA_FUZZ_DUMP") {
        let lines: String = dumped.iter().map(|d| format!("{d}\n")).collect();
        std::fs::write(path, lines).unwrap();
    }
    let shown = env_number("POLICYRUN_OPA_FUZZ_SHOW").unwrap_or(5) as usize;
    assert!(
        differences.is_empty(),
        "{} verdicts differ from OPA's; the first {shown}:\n{}\ninput documents: {}",
        differences.len(),
        differences
            .iter()
            .take(shown)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n"),
        serde_json::to_string(&documents).unwrap()
    );
}

// ---- the repros of issue 25 -----------------------------------------------------------------

/// `testdata/opa-repros/<name>` judged by the binary (`policyrun test` on its `inputs.yaml`)
/// on both engines: `deny` must give `expected`, one list of messages per document — OPA's
/// answer, which OPA itself gives for the fixture's `opa.rego` (the same rules in v1) when
/// its bindings are there.
fn assert_repro(name: &str, expected: &[&[&str]]) {
    let dir = support::fixture(&format!("opa-repros/{name}"));
    let expected: Vec<Verdict> = expected
        .iter()
        .map(|messages| {
            let mut messages: Vec<String> = messages.iter().map(|m| m.to_string()).collect();
            messages.sort();
            Verdict::Messages(messages)
        })
        .collect();
    for engine in ["interpreter", "vm"] {
        let run = support::policyrun(
            dir.path(),
            &[
                "test",
                "--policy-engine",
                engine,
                "--output",
                "json",
                "inputs.yaml",
            ],
        );
        let outcomes = support::outcome_list(&run);
        for (i, want) in expected.iter().enumerate() {
            let subject = format!("inputs.yaml[{i}] main.deny");
            let outcome = outcomes
                .iter()
                .find(|o| o["subject"] == subject.as_str())
                .unwrap_or_else(|| panic!("{name}, {engine}: no {subject}: {}", run.stdout));
            let mut messages: Vec<String> = outcome["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| m.as_str().unwrap_or_default().to_owned())
                .collect();
            messages.sort();
            let got = match outcome["status"].as_str() {
                Some("passed") | Some("failed") => Verdict::Messages(messages),
                _ => Verdict::Error(outcome["message"].to_string()),
            };
            assert_eq!(&got, want, "{name} on the {engine}, document {i}");
        }
    }
    if opa_available() {
        // The fixtures write each document as one line of JSON after its `---`.
        let documents: Vec<Value> = std::fs::read_to_string(dir.path().join("inputs.yaml"))
            .unwrap()
            .lines()
            .filter(|l| *l != "---")
            .map(|l| serde_json::from_str(l).expect("a document in JSON"))
            .collect();
        let module = std::fs::read_to_string(dir.path().join("opa.rego")).unwrap();
        let (compile_error, theirs) = opa_verdicts(&[module], &documents).remove(0);
        assert_eq!(compile_error, None, "{name}: OPA refuses opa.rego");
        assert_eq!(theirs, expected, "{name}: OPA's own answer");
    }
}

/// Issue 25, item 7: `not f(x)` with `x` undefined fails the body in OPA.
#[test]
fn a_negated_call_on_an_undefined_argument_fails_the_body_as_in_opa() {
    assert_repro("undefined-argument", &[&[], &[], &["rule not allowed"]]);
}

/// Item 8: a line that starts with `(` starts an expression.
#[test]
fn a_line_starting_with_a_parenthesis_is_an_expression_of_its_own() {
    assert_repro("line-paren", &[&["spread too wide"], &[]]);
}

/// Item 9: `sprintf` with too few arguments or a verb of another type gives Go's text.
#[test]
fn sprintf_formats_as_go_does_for_opa() {
    assert_repro(
        "sprintf",
        &[&[
            "x is not allowed: %!v(MISSING)",
            "cpu limit %!d(string=100m)",
        ]],
    );
}

/// Item 10: chained rule bodies are definitions of their own.
#[test]
fn chained_rule_bodies_are_definitions_of_the_rule() {
    assert_repro("chained-bodies", &[&["a", "b"], &["b"], &[]]);
}

/// Item 3: a body-less head with a wildcard is safe, and undefined where its reference is.
#[test]
fn a_bodyless_head_with_a_wildcard_is_accepted_as_opa_accepts_it() {
    assert_repro(
        "bodyless-head",
        &[&["volume data is mounted", "volume logs is mounted"], &[]],
    );
}

/// A multi-value rule with a literal key (`deny contains "m" if ...`) whose body errs on a
/// later solution: OPA evaluates every solution and fails; regorus stopped at the first one
/// and gave the message (found by this fuzzer).
#[test]
fn a_literal_key_rule_evaluates_every_solution_as_in_opa() {
    let documents = vec![json!({"o": {"k": "v", "n": 2}})];
    for (v0, module) in [
        (
            false,
            "package main\nimport rego.v1\ndeny contains \"m\" if {\n\tsome v in input.o\n\tnot upper(v) == \"X\"\n}\n",
        ),
        (
            true,
            "package main\ndeny[\"m\"] {\n\tv := input.o[_]\n\tnot upper(v) == \"X\"\n}\n",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.rego"), module).unwrap();
        for engine in [RegoEngine::Interpreter, RegoEngine::Vm] {
            let verdicts = policyrun_verdicts(dir.path(), engine, &documents);
            if engine == RegoEngine::Interpreter {
                assert!(
                    matches!(&verdicts[0], Verdict::Error(e) if e.contains("upper")),
                    "v0 {v0}, {engine:?}: {verdicts:?}"
                );
            } else {
                // The virtual machine takes a builtin's error as "does not hold"
                // (docs/policies.md, "Engines"): the failing solution gives nothing, the first the message.
                assert_eq!(
                    verdicts[0],
                    Verdict::Messages(vec!["m".into()]),
                    "v0 {v0}, {engine:?}"
                );
            }
        }
    }
    if opa_available() {
        let module = "package main\nimport rego.v1\ndeny contains \"m\" if {\n\tsome v in input.o\n\tnot upper(v) == \"X\"\n}\n";
        let (compile_error, theirs) = opa_verdicts(&[module.to_owned()], &documents).remove(0);
        assert_eq!(compile_error, None);
        assert!(matches!(&theirs[0], Verdict::Error(_)), "OPA: {theirs:?}");
    }
}

/// A function of the policies called with an undefined argument (`g(input.rule,
/// input.ranges)` with `g("RunAsAny", _)`): OPA moves the argument out of the call, so the
/// body fails; regorus' virtual machine bound the undefined value to `_` and the call held
/// (found by this fuzzer). In every position: a statement of its own, without braces, an
/// assignment, a comparison, inside another call. (A policy with `with` runs on the
/// interpreter: regorus' virtual machine does not compile it.)
#[test]
fn a_function_called_with_an_undefined_argument_is_undefined_on_both_engines() {
    let module = r#"package main
import rego.v1
g("RunAsAny", _) := true
h(_) := 1
k(x) := x
deny contains "bare" if g(input.rule, input.missing)
deny contains "assign" if { x := g(input.rule, input.missing); x }
deny contains "eq" if { g(input.rule, input.missing) == true }
deny contains "h" if { h(input.missing) == 1 }
deny contains "hb" if { y := h(input.missing); y == 1 }
deny contains "nested" if { g(input.rule, k(input.missing)) }
deny contains "defined" if { g(input.rule, input.ranges) }
"#;
    let documents = vec![json!({"rule": "RunAsAny", "ranges": [1]}), json!({})];
    let expected = vec![
        Verdict::Messages(vec!["defined".into()]),
        Verdict::Messages(vec![]),
    ];
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.rego"), module).unwrap();
    for engine in [RegoEngine::Interpreter, RegoEngine::Vm] {
        assert_eq!(
            policyrun_verdicts(dir.path(), engine, &documents),
            expected,
            "{engine:?}"
        );
    }
    if opa_available() {
        let (compile_error, theirs) = opa_verdicts(&[module.to_owned()], &documents).remove(0);
        assert_eq!(compile_error, None);
        assert_eq!(theirs, expected, "OPA's own answer");
    }
}

/// The stage's outcomes for each of `documents` as `input[i]`.
fn judge_inputs(stage: &PolicyStage, documents: &[Value]) -> Vec<Outcome> {
    let named: Vec<Document> = documents
        .iter()
        .enumerate()
        .map(|(i, value)| Document {
            subject: format!("input[{i}]"),
            file: None,
            value,
            location: None,
        })
        .collect();
    support::judge_documents(stage, &named)
}
