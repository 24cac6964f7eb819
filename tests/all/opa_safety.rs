//! policyrun's safety check against OPA's compiler, on thousands of generated modules: every
//! module OPA refuses with `rego_unsafe_var_error` must be refused by policyrun for the same
//! variables on the same lines, and every module OPA compiles must not be. OPA is the Python
//! package `opa-golib-python-bindings` (OPA's own compiler in a shared library); CI installs
//! it and requires it, elsewhere the test says it is skipped. And the binary refuses such a
//! module before it evaluates anything (`testdata/policy-broken/unsafe`).

use crate::support;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use policyrun::model::outcome::Status;
use policyrun::policy::{Document, PolicyStage, RegoEngine, Settings};
use regorus::Engine;
use serde_json::Value;
use support::{copy_tree, manifest_dir, opa_available, outcome_list, policyrun};

/// Reads modules (a JSON array of strings) on standard input and prints, per module, OPA's
/// compile errors as `[line, code, message]` triples.
const OPA_COMPILE: &str = r#"
import json, re, sys
from opa_bindings import OpaEngine, OpaError
pattern = re.compile(r"m\.rego:(\d+): (rego_\w+): ([^\n]*)")
out = []
for text in json.load(sys.stdin):
    engine = OpaEngine()
    errors = []
    try:
        engine.add_policy("m.rego", text)
        engine.eval_query("x = true")
    except OpaError as e:
        for m in pattern.finditer(e.message):
            errors.append([int(m.group(1)), m.group(2), m.group(3).strip()])
        if not errors:
            errors.append([0, e.code, e.message])
    engine.close()
    out.append(errors)
json.dump(out, sys.stdout)
"#;

/// Runs a Python program that drives OPA with `job` (JSON) on standard input; its JSON answer.
fn run_opa(program: &str, job: &Value) -> Value {
    let mut child = Command::new("python3")
        .args(["-c", program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let input = serde_json::to_vec(job).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Written from another thread: the answer may fill the pipe before the job is read.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "the OPA driver failed");
    serde_json::from_slice(&output.stdout).expect("the OPA driver's JSON")
}

fn opa_errors(modules: &[String]) -> Vec<Vec<(usize, String, String)>> {
    serde_json::from_value(run_opa(OPA_COMPILE, &serde_json::json!(modules)))
        .expect("lines, codes and messages")
}

/// A small deterministic generator (xorshift), so that every run checks the same modules.
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

/// Statement shapes: `A`, `B` and `C` are filled with variables, the wildcard or globals.
const STATEMENTS: &[&str] = &[
    "A := input.a[B]",
    "A := input.a[_]",
    "input.a[A] == B",
    "not input.a[A] == B",
    "not A",
    "not A.b[_] == \"x\"",
    "A = B",
    "A := B",
    "[A, B] := input.p",
    "[A, B] = [C, 1]",
    "some A in input.s",
    "some A, B in input.o",
    "some A in B",
    "A := count(B)",
    "count(A) > 0",
    "not count(A) > 0",
    "A := [B | B := input.a[_]]",
    "A := [B | B := C[_]]",
    "A := {B | some B in C}",
    "A := {B: C | some B, C in input.o}",
    "every A in input.s { A != B }",
    "every A in B { A != 1 }",
    "A in input.s",
    "not A in input.s",
    "A := B + 1",
    "startswith(A, \"x\")",
    "A := f(B)",
    "not f(A)",
    "f(A)",
    "input.o[A] = B",
    "{\"k\": A} = input.o",
    "A := input.x with input as B",
    "not [1 | A := input.a[_]][0] == B",
    "some A",
    "A := r",
    "data.d[A][B] == C",
    "A := sprintf(\"%v\", [B])",
    "A := object.get(input, B, null)",
    "A := input.a[B][C]",
    "not input.a[A]",
    "A == B",
    "count(input.a, A)",
    "A := [x | some x in B]",
    "not input.a[_][A] == 1",
    "A := {k: B | some k in input.s}",
];

const NAMES: &[&str] = &["x", "y", "z", "k", "v", "_", "r"];

const HEADS: &[&str] = &[
    "deny contains A if {",
    "deny contains \"m\" if {",
    "g(A) := B if {",
    "h := A if {",
    "obj[A] := B if {",
    "allow if {",
];

/// Rules without a body: OPA moves a head's term that must be evaluated into a body before it
/// checks safety (`vols contains input.a[_]` binds its `_` there), and a variable elsewhere in
/// a head stays unsafe.
const BODYLESS: &[&str] = &[
    "vols contains input.a[_]",
    "vols contains input.a[A]",
    "vols contains A",
    "vols contains [A, input.a[_]]",
    "vols contains input.o[A][B]",
    "vols contains count(input.a[_])",
    "val := input.a[_]",
    "val := [A | A := input.a[_]]",
    "val := {A: B | some A, B in input.o}",
    "bl(A) := input.a[A]",
    "bl(A) := input.a[B]",
];

fn fill(shape: &str, random: &mut Random) -> String {
    let mut text = String::new();
    for ch in shape.chars() {
        match ch {
            'A' | 'B' | 'C' => text.push_str(random.pick(NAMES)),
            other => text.push(other),
        }
    }
    text
}

fn module(random: &mut Random) -> String {
    let mut text = String::from("package p\n\nr := 1\n\nf(q) := q\n\n");
    let head = fill(HEADS[random.below(HEADS.len())], random);
    text.push_str(&head);
    text.push('\n');
    // Half the bodies first bind some names, so that as many modules are safe as are not.
    if random.below(2) == 0 {
        for name in &NAMES[..5] {
            if random.below(4) == 0 {
                continue;
            }
            let binder = random.pick(&["input.a[_]", "input.o[_]", "input.b", "count(input.s)"]);
            text.push_str(&format!("\t{name} = {binder}\n"));
        }
    }
    for _ in 0..1 + random.below(4) {
        text.push('\t');
        text.push_str(&fill(STATEMENTS[random.below(STATEMENTS.len())], random));
        text.push('\n');
    }
    text.push_str("}\n");
    if random.below(3) == 0 {
        text.push('\n');
        text.push_str(&fill(BODYLESS[random.below(BODYLESS.len())], random));
        text.push('\n');
    }
    text
}

/// What policyrun refuses in a module, as `(line, OPA's words)` (`var x is unsafe`); `None`
/// when regorus does not parse it.
fn ours(text: &str) -> Option<BTreeSet<(usize, String)>> {
    let mut engine = Engine::new();
    engine.add_policy("m.rego".into(), text.into()).ok()?;
    Some(
        policyrun::policy::rego::safety::unsafe_variables(&mut engine)
            .into_iter()
            .map(|p| {
                let what = p.message.split(": ").next().unwrap_or_default().to_owned();
                (p.line.unwrap_or(0), what)
            })
            .collect(),
    )
}

/// Is this one of the refusals the safety check reproduces: an unsafe variable or expression,
/// or what renaming declared variables refuses?
fn reproduced(code: &str, message: &str) -> bool {
    code == "rego_unsafe_var_error"
        || (code == "rego_compile_error"
            && [
                " referenced above",
                " assigned above",
                " declared above",
                " redeclared",
                " unused",
            ]
            .iter()
            .any(|end| message.ends_with(end)))
}

/// Does a rule body hold the same statement twice?
fn has_identical_statements(text: &str) -> bool {
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with('\t')).collect();
    lines
        .iter()
        .enumerate()
        .any(|(i, l)| lines[i + 1..].contains(l))
}

fn env_number(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn what_the_safety_check_refuses_is_what_opa_refuses() {
    if !opa_available() {
        return;
    }
    // More modules or another seed explore further: POLICYRUN_OPA_SAFETY_MODULES, _SEED.
    let count = env_number("POLICYRUN_OPA_SAFETY_MODULES").unwrap_or(6000);
    let seed = env_number("POLICYRUN_OPA_SAFETY_SEED").unwrap_or(0x9e37_79b9_7f4a_7c15);
    let mut random = Random(seed as u64);
    let modules: Vec<String> = (0..count).map(|_| module(&mut random)).collect();
    let reference = opa_errors(&modules);
    let (mut compared, mut refused, mut accepted, mut other, mut quirk) = (0, 0, 0, 0, 0);
    let mut verdicts = Vec::new();
    let mut wording = Vec::new();
    for (text, errors) in modules.iter().zip(&reference) {
        // Every generated module parses in regorus; one that does not is a generator bug.
        let ours = ours(text).unwrap_or_else(|| panic!("regorus does not parse:\n{text}"));
        // A type error comes from a later stage of OPA's compiler, which policyrun does not
        // reproduce (regorus reports such errors when it evaluates): nothing to compare.
        if errors
            .iter()
            .any(|(_, code, message)| !reproduced(code, message))
        {
            other += 1;
            continue;
        }
        let theirs: BTreeSet<(usize, String)> = errors
            .iter()
            .map(|(line, _, message)| (*line, message.clone()))
            .collect();
        // OPA refuses a body in which two identical statements both wait for a later one
        // (it takes the second for the first once that is placed); policyrun does not
        // reproduce that (docs/policies.md, "Rego safety, as OPA checks it").
        if has_identical_statements(text) && ours.is_empty() && !theirs.is_empty() {
            quirk += 1;
            continue;
        }
        compared += 1;
        if theirs.is_empty() {
            accepted += 1;
        } else {
            refused += 1;
        }
        let shown = format!("{text}--- OPA: {theirs:?}\n--- policyrun: {ours:?}\n");
        if ours.is_empty() != theirs.is_empty() {
            verdicts.push(shown);
        } else if ours != theirs {
            wording.push(shown);
        }
    }
    eprintln!(
        "{} modules: {compared} compared ({refused} refused by OPA, {accepted} accepted), {other} with type errors, {quirk} with identical statements; {} named differently",
        modules.len(),
        wording.len()
    );
    let show = |list: &[String]| {
        list.iter()
            .take(env_number("POLICYRUN_OPA_SAFETY_SHOW").unwrap_or(12))
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    };
    // The verdict must be OPA's for every module: refused or not.
    assert!(
        verdicts.is_empty(),
        "{} of {compared} modules get another verdict than OPA's:\n{}",
        verdicts.len(),
        show(&verdicts)
    );
    // Which variables a refusal names follows how OPA's compiler shares a scratch set of
    // output variables between statements; policyrun reproduces it (see `outputs` in
    // src/policy/rego/safety.rs) but not in every corner: allow one module in 200.
    assert!(
        wording.len() * 200 <= compared,
        "{} of {compared} modules name other variables or lines than OPA:\n{}",
        wording.len(),
        show(&wording)
    );
    // A generator that stopped producing either verdict would make this test vacuous.
    assert!(
        refused >= 1000 && accepted >= 400,
        "{refused} refused, {accepted} accepted"
    );
}

#[test]
fn the_binary_refuses_an_unsafe_module_with_its_place_before_evaluating() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    copy_tree(&manifest_dir().join("testdata/policy-broken/unsafe"), root);
    // A container without `capabilities`: the policy as regorus reads it would pass it.
    std::fs::write(
        root.join("pod.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: apps\nspec:\n  containers:\n  - name: app\n    image: app:1\n",
    )
    .unwrap();
    let run = policyrun(root, &["test", "--output", "json", "pod.yaml"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let outcomes = outcome_list(&run);
    assert_eq!(outcomes.len(), 1, "nothing is evaluated: {outcomes:#?}");
    let error = &outcomes[0];
    assert_eq!(error["status"], "error");
    assert_eq!(error["check"], "load");
    assert_eq!(error["location"]["file"], "policy/main.rego");
    assert_eq!(error["location"]["line"], 9);
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with("var _ is unsafe: it occurs only inside a negated expression"),
        "{message}"
    );

    // The human report names the place too, and `verify` refuses the module the same way.
    let human = policyrun(root, &["test", "pod.yaml"]);
    assert_eq!(human.code, 1);
    assert!(
        format!("{}{}", human.stdout, human.stderr).contains("policy/main.rego:9"),
        "{}{}",
        human.stdout,
        human.stderr
    );
    let verify = policyrun(root, &["verify", "--output", "json"]);
    assert_eq!(verify.code, 1, "{}{}", verify.stdout, verify.stderr);
    assert!(
        verify.stdout.contains("var _ is unsafe"),
        "{}",
        verify.stdout
    );
}

#[test]
fn a_gatekeeper_template_with_an_unsafe_variable_fails_the_run() {
    let dir = support::fixture("policy-gate");
    std::fs::write(
        dir.path().join("gatekeeper/unsafe.yaml"),
        r#"apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sdropall
spec:
  crd:
    spec:
      names:
        kind: K8sDropAll
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sdropall

        violation[{"msg": "drop ALL"}] {
          c := input.review.object.spec.containers[_]
          not c.securityContext.capabilities.drop[_] == "ALL"
        }
"#,
    )
    .unwrap();
    let run = policyrun(dir.path(), &["check"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("var _ is unsafe"),
        "{}{}",
        run.stdout,
        run.stderr
    );
}

/// Evaluates `data.main.deny` of each module (a JSON array of strings on standard input)
/// with one input, printing per module whether it holds a message (or the error).
const OPA_EVAL: &str = r#"
import json, sys
from opa_bindings import OpaEngine, OpaError
job = json.load(sys.stdin)
out = []
for text in job["modules"]:
    engine = OpaEngine()
    try:
        engine.add_policy("t.rego", text)
        result = engine.eval_query("x = data.main.deny", job["input"])
        out.append(bool(result and result[0]["x"]))
    except OpaError as e:
        out.append(str(e))
    engine.close()
json.dump(out, sys.stdout)
"#;

/// Negated expressions over an undefined reference, a bound variable and constants.
fn negations() -> Vec<String> {
    let shapes = [
        "A == B",
        "A != B",
        "A > B",
        "A < 1",
        "startswith(A, \"a\")",
        "count(A) > 0",
        "is_object(A)",
        "f(A)",
        "object.get(A, \"k\", 1) == 1",
        "A in {\"a\"}",
        "\"a\" in A",
        "s[A]",
        "A",
        "A + 1 == 2",
        "A[B] == 1",
        "[A] == [B]",
        "upper(A) == B",
    ];
    let terms = [
        "c.x",
        "c",
        "\"a\"",
        "c.x.y",
        "input.z",
        "[c.x]",
        "{\"k\": c.x}",
    ];
    let mut found = Vec::new();
    for shape in shapes {
        for a in terms {
            for b in terms {
                if !shape.contains('B') && b != terms[0] {
                    continue;
                }
                found.push(shape.replace('A', a).replace('B', b));
            }
        }
    }
    found
}

/// Does `deny` of `module` (package `main`) hold a message for `input`, on `engine`, through
/// the policy stage's path for `policyrun test` documents? `None` for an error.
fn policyrun_holds(module: &str, engine: RegoEngine, input: &Value) -> Option<bool> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.rego"), module).unwrap();
    let settings = Settings {
        dirs: vec![dir.path().to_path_buf()],
        engine,
        ..Settings::default()
    };
    let stage = PolicyStage::new(dir.path(), &settings);
    let documents = [Document {
        subject: "input".to_owned(),
        file: None,
        value: input,
        location: None,
    }];
    let outcomes = support::judge_documents(&stage, &documents);
    let outcome = outcomes.iter().find(|o| o.check == "main.deny")?;
    match outcome.status {
        Status::Passed => Some(false),
        Status::Failed => Some(true),
        _ => None,
    }
}

/// OPA evaluates a negated expression's arguments before the negation (its compiler moves
/// them in front), so an undefined argument fails the whole body; regorus would take the
/// negation as true. policyrun rewrites the modules as OPA's compiler does: every negation
/// gets OPA's verdict on both engines, and exactly the negations where the rewrite matters
/// are warned about as failing open.
#[test]
fn negations_over_undefined_references_get_opas_verdict_on_both_engines() {
    if !opa_available() {
        return;
    }
    let input = serde_json::json!({"c": [{}]});
    let modules: Vec<String> = negations()
        .iter()
        .map(|negation| {
            format!(
                "package main\nimport rego.v1\ns := {{\"a\"}}\nf(v) if v == 1\ndeny contains \"held\" if {{\n\tc := input.c[_]\n\tnot {negation}\n}}\n"
            )
        })
        .collect();
    let opa = run_opa(
        OPA_EVAL,
        &serde_json::json!({"modules": modules, "input": input}),
    );
    let opa = opa.as_array().expect("one answer per module");
    let (mut compared, mut undefined_first) = (0, 0);
    let mut wrong = Vec::new();
    for (text, opa) in modules.iter().zip(opa) {
        let Some(opa) = opa.as_bool() else {
            continue; // OPA's type checker refuses it: nothing to compare.
        };
        compared += 1;
        // Where regorus alone, unrewritten, takes the negation as true and OPA does not:
        // exactly there policyrun warns that the negation fails open.
        let mut plain = Engine::new();
        plain.set_strict_builtin_errors(true);
        plain.add_policy("t.rego".into(), text.clone()).unwrap();
        plain.set_input(regorus::Value::from(input.clone()));
        if let Ok(value) = plain.eval_rule("data.main.deny".into()) {
            let regorus_alone =
                value != regorus::Value::Undefined && value != regorus::Value::new_set();
            let differs = regorus_alone != opa;
            undefined_first += usize::from(differs);
            let warned =
                !policyrun::policy::rego::safety::fail_open_negations(&mut plain).is_empty();
            if warned != differs {
                wrong.push(format!(
                    "{}\n  warned: {warned}, but regorus alone {} OPA",
                    text.lines().nth(6).unwrap_or_default(),
                    if differs {
                        "differs from"
                    } else {
                        "agrees with"
                    }
                ));
            }
        }
        for engine in [RegoEngine::Interpreter, RegoEngine::Vm] {
            let ours = policyrun_holds(text, engine, &input);
            // An error of the interpreter's strict builtins (`upper(c)`) where OPA's
            // compiler-rewritten body failed first is no verdict.
            if ours.is_none() {
                continue;
            }
            if ours != Some(opa) {
                wrong.push(format!(
                    "{}\n  {engine:?}: OPA {opa}, policyrun {ours:?}",
                    text.lines().nth(6).unwrap_or_default()
                ));
            }
        }
    }
    eprintln!(
        "{compared} negations compared, {undefined_first} of which regorus alone evaluates otherwise than OPA"
    );
    assert!(
        wrong.is_empty(),
        "{} negations get another verdict than OPA's, or are warned about wrongly:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    // The corpus must hold negations where the rewrite matters, and ones where it does not.
    assert!(
        undefined_first >= 50 && compared - undefined_first >= 50,
        "{undefined_first} of {compared}"
    );
}
