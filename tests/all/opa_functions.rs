//! policyrun's unknown-function check against OPA's compiler, on generated packages: a case
//! OPA's type checker refuses with `undefined function` must be refused by policyrun, on
//! every line OPA names (OPA names the first of a body, policyrun each), and a case OPA
//! accepts must not be, except where regorus could not evaluate what OPA accepts (see
//! [`refused_only_by_policyrun`]). A check that resolved a call by its last name
//! (`crypto.sha256` known because some package defines `sha256`) or skipped `data.pkg.f(...)`
//! let rules through that regorus cannot evaluate, and a rule whose body stops before such a
//! call passes every object. OPA is the Python package `opa-golib-python-bindings`, as in
//! `tests/all/opa_safety.rs`; without it the test says it is skipped (CI requires it).

use crate::support;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use regorus::Engine;
use serde_json::Value;
use support::opa_available;

/// Reads cases (a JSON array of arrays of `[file, text]`) on standard input and prints, per
/// case, OPA's compile errors as `[file, line, code, message]`.
const OPA_COMPILE: &str = r#"
import json, re, sys
from opa_bindings import OpaEngine, OpaError
pattern = re.compile(r"(\w+\.rego):(\d+): (rego_\w+): ([^\n]*)")
out = []
for case in json.load(sys.stdin):
    engine = OpaEngine()
    errors = []
    try:
        for name, text in case:
            engine.add_policy(name, text)
        engine.eval_query("x = true")
    except OpaError as e:
        for m in pattern.finditer(e.message):
            errors.append([m.group(1), int(m.group(2)), m.group(3), m.group(4).strip()])
        if not errors:
            errors.append(["", 0, e.code, e.message])
    engine.close()
    out.append(errors)
json.dump(out, sys.stdout)
"#;

fn opa_errors(cases: &[Vec<(String, String)>]) -> Vec<Vec<(String, usize, String, String)>> {
    let mut child = Command::new("python3")
        .args(["-c", OPA_COMPILE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let input = serde_json::to_vec(cases).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Written from another thread: the answer may fill the pipe before the job is read.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "the OPA driver failed");
    let answer: Value = serde_json::from_slice(&output.stdout).expect("the OPA driver's JSON");
    serde_json::from_value(answer).expect("files, lines, codes and messages")
}

/// A small deterministic generator (xorshift), so that every run checks the same cases.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// A library package: a function, one named like a builtin's last part, a ref-head
/// function, a `default` function, and a rule that is no function.
const LIB: &str = "package lib

import rego.v1

f(x) := x

sha256(x) := x

a.g(x) := x

default d(_) := 1

k := 1
";

/// A package below `p`.
const SUB: &str = "package p.sub

import rego.v1

h(x) := x
";

/// Imports the package under test may have (none, some or all).
const IMPORTS: &[&str] = &[
    "import data.lib",
    "import data.lib as l",
    "import data.lib.f as ff",
    "import data.lib.a as ga",
];

/// Calls: builtins, functions of `p`, `lib` and `p.sub` reached every way OPA knows and
/// some it does not, names of rules that are no functions, and names that are nowhere.
const CALLS: &[&str] = &[
    "f(1)",
    "lib.f(1)",
    "l.f(1)",
    "ff(1)",
    "data.lib.f(1)",
    "data.lib.nope(1)",
    "lib.nope(1)",
    "sha256(\"a\")",
    "lib.sha256(\"a\")",
    "l.sha256(\"a\")",
    "crypto.sha256(\"a\")",
    "own(1)",
    "data.p.own(1)",
    "a.loc(1)",
    "loc(1)",
    "data.p.a.loc(1)",
    "ga.g(1)",
    "lib.a.g(1)",
    "data.lib.a.g(1)",
    "a.g(1)",
    "data.p.sub.h(1)",
    "h(1)",
    "lib.d(1)",
    "data.lib.d(1)",
    "d(1)",
    "r(1)",
    "lib.k(1)",
    "lib(1)",
    "count([1])",
    "object.get({}, \"a\", 1)",
    "print(1)",
    "trace(\"t\")",
    "json.marshal(1)",
    "time.now_ns()",
    "startswith(\"a\", \"b\")",
    "nope(1)",
    "x.y.z(1)",
];

/// Where a call stands in a rule body (`{c}` is the call, `{v}` a variable of its own).
const PLACES: &[&str] = &[
    "{c}",
    "not {c}",
    "{v} := {c}",
    "{v} := [w | w := {c}]",
    "every {v} in [1] { {v} == 1; {c} }",
    "some {v} in [{c}]; {v}",
];

/// Builtins OPA has and regorus lacks: policyrun refuses their calls, OPA does not.
const ONLY_IN_OPA: &[&str] = &["crypto.sha256"];

/// Is this line of a generated package refused by policyrun and not by OPA, on purpose?
/// A builtin regorus lacks; or a rule that is no function called inside `every`, which
/// OPA's type checker lets through there (and refuses anywhere else) while regorus cannot
/// evaluate it ("could not find function").
fn refused_only_by_policyrun(line: &str) -> bool {
    ONLY_IN_OPA.iter().any(|name| line.contains(name))
        || (line.trim_start().starts_with("every ")
            && ["; r(1) }", "; lib.k(1) }"]
                .iter()
                .any(|c| line.ends_with(c)))
}

fn package(random: &mut Random) -> String {
    let mut text = String::from("package p\n\nimport rego.v1\n");
    for import in IMPORTS {
        if random.below(2) == 0 {
            text.push_str(import);
            text.push('\n');
        }
    }
    text.push_str("\nr := 1\n\nown(x) := x\n\na.loc(x) := x\n\ny if {\n");
    for i in 0..1 + random.below(3) {
        let call = random.pick(CALLS);
        let place = random.pick(PLACES);
        text.push('\t');
        text.push_str(&place.replace("{c}", call).replace("{v}", &format!("v{i}")));
        text.push('\n');
    }
    text.push_str("}\n");
    text
}

/// What policyrun refuses in a case, as `(file, line)`; `None` when regorus does not parse
/// a module.
fn ours(case: &[(String, String)]) -> Option<BTreeSet<(String, usize)>> {
    let mut engine = Engine::new();
    for (name, text) in case {
        engine.add_policy(name.clone(), text.clone()).ok()?;
    }
    Some(
        policyrun::policy::rego::modules::missing_functions(&mut engine)
            .into_iter()
            .map(|p| (p.file.display().to_string(), p.line.unwrap_or(0)))
            .collect(),
    )
}

fn refuses_the_call(message: &str) -> bool {
    message.starts_with("undefined function")
        || (message.starts_with("function ") && message.contains(" has arity 0, got "))
}

#[test]
fn what_the_unknown_function_check_refuses_is_what_opa_refuses() {
    if !opa_available() {
        return;
    }
    let mut random = Random(0x2545_f491_4f6c_dd1d);
    let cases: Vec<Vec<(String, String)>> = (0..1500)
        .map(|_| {
            vec![
                ("lib.rego".to_owned(), LIB.to_owned()),
                ("sub.rego".to_owned(), SUB.to_owned()),
                ("p.rego".to_owned(), package(&mut random)),
            ]
        })
        .collect();
    let reference = opa_errors(&cases);
    let (mut compared, mut refused, mut accepted, mut other) = (0, 0, 0, 0);
    let mut differences = Vec::new();
    for (case, errors) in cases.iter().zip(&reference) {
        let text = &case[2].1;
        let ours = ours(case).unwrap_or_else(|| panic!("regorus does not parse:\n{text}"));
        // Another refusal (an unsafe variable, `print` used as a value) leaves nothing to
        // compare. A rule that is no function called with an argument (`r(1)`) is refused
        // as undefined or by its arity, depending on where OPA meets it: both are the
        // refusal compared (the generator calls every function with its own arity).
        if errors
            .iter()
            .any(|(_, _, _, message)| !refuses_the_call(message))
        {
            if std::env::var_os("POLICYRUN_OPA_FUNCTIONS_SHOW_OTHER").is_some() {
                eprintln!("{text}--- {errors:?}");
            }
            other += 1;
            continue;
        }
        compared += 1;
        let mut theirs: BTreeSet<(String, usize)> = errors
            .iter()
            .map(|(file, line, _, _)| (file.clone(), *line))
            .collect();
        for (number, line) in text.lines().enumerate() {
            if refused_only_by_policyrun(line) {
                theirs.insert(("p.rego".to_owned(), number + 1));
            }
        }
        if theirs.is_empty() {
            accepted += 1;
        } else {
            refused += 1;
        }
        // OPA's type checker stops at the first undefined function of a rule body: every
        // line it names must be one policyrun names, and a case one refuses the other must.
        if ours.is_empty() != theirs.is_empty() || !theirs.is_subset(&ours) {
            differences.push(format!(
                "{text}--- OPA (and builtins regorus lacks): {theirs:?}\n--- policyrun: {ours:?}\n"
            ));
        }
    }
    eprintln!(
        "{} cases: {compared} compared ({refused} refused, {accepted} accepted), {other} with other errors",
        cases.len()
    );
    assert!(
        differences.is_empty(),
        "{} of {compared} cases are refused elsewhere than OPA refuses them:\n{}",
        differences.len(),
        differences
            .iter()
            .take(8)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // A generator that stopped producing either verdict would make this test vacuous.
    assert!(
        refused >= 300 && accepted >= 200,
        "{refused} refused, {accepted} accepted"
    );
}
