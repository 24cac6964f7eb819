//! policyrun reads YAML as the Kubernetes tooling does (`src/model/yaml.rs`); the reference is
//! that tooling's own reader: go-yaml v2 (Debian's `golang-gopkg-yaml.v2-dev`, 2.4.0) with the
//! conversion `sigs.k8s.io/yaml` makes, in `scripts/yaml-reference/main.go`, built here with
//! Debian's Go. Documents are generated over what YAML lets a manifest say — every spelling of
//! booleans, nulls, integers in every base, floats and their specials, dates, quoted, block and
//! tagged scalars, keys of every type, flow and block collections, anchors, aliases and
//! merges, duplicate keys, content after a document's value — and both readers must give the
//! same JSON, or both refuse. Two differences are policyrun's on purpose, both stricter:
//! a duplicate key (go-yaml v2 keeps the last; the API server's strict field validation
//! refuses it) and content after a document's value (go-yaml v2 never reads past the value
//! and drops it silently) are errors.
//!
//! Without Go and the library the test skips with a note; with `CI` set it fails instead
//! (`.ci/run` installs both). `POLICYRUN_YAML_CASES=N` generates more documents.

use crate::support;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use policyrun::model::yaml::parse_document;
use serde_json::Value;

/// The reference built into the test's temporary directory, or why it cannot be.
fn reference() -> Result<PathBuf, String> {
    let go = Command::new("go").arg("version").output();
    if !go.is_ok_and(|o| o.status.success()) {
        return Err("no `go` on PATH".into());
    }
    let library = PathBuf::from("/usr/share/gocode/src/gopkg.in/yaml.v2");
    if !library.is_dir() {
        return Err(format!("no go-yaml v2 source in {}", library.display()));
    }
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("yaml-reference");
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(support::manifest_dir().join("scripts/yaml-reference"))
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env(
            "GOCACHE",
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("go-cache"),
        )
        .env("GOFLAGS", "")
        .output()
        .map_err(|e| format!("cannot run go: {e}"))?;
    if !built.status.success() {
        return Err(format!(
            "go build failed: {}",
            String::from_utf8_lossy(&built.stderr)
        ));
    }
    Ok(out)
}

/// splitmix64, as the other generators here.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Plain scalars that land in every class of go-yaml v2's resolution, and next to its edges.
const PLAIN: &[&str] = &[
    "yes",
    "Yes",
    "YES",
    "no",
    "No",
    "NO",
    "y",
    "Y",
    "n",
    "N",
    "on",
    "On",
    "ON",
    "off",
    "Off",
    "OFF",
    "true",
    "True",
    "TRUE",
    "false",
    "False",
    "FALSE",
    "tRue",
    "yEs",
    "null",
    "Null",
    "NULL",
    "nUll",
    "~",
    "0",
    "-0",
    "+0",
    "00",
    "01",
    "0777",
    "08",
    "0778",
    "0x1F",
    "0X1f",
    "0x",
    "0xg",
    "-0x1F",
    "0o17",
    "0O17",
    "0o8",
    "0b101",
    "0B101",
    "-0b101",
    "0b2",
    "0b",
    "+12",
    "-12",
    "1_000",
    "1__0",
    "_1",
    "1_",
    "0_7",
    "1_000.5",
    "1.5",
    "1.",
    ".5",
    "-.5",
    "+.5",
    ".",
    "..",
    "1.2.3",
    "1e3",
    "1E3",
    "1e-3",
    "1.5e+10",
    "1e",
    "e5",
    "1e400",
    "-1e400",
    "3.0",
    "-3.0",
    "1e16",
    "1e20",
    "1e21",
    "1e22",
    "0.1",
    "123456789012345678901234",
    ".inf",
    ".Inf",
    ".INF",
    "+.inf",
    "-.inf",
    "-.Inf",
    ".nan",
    ".NaN",
    ".NAN",
    ".naN",
    "inf",
    "-inf",
    "nan",
    "NaN",
    "Infinity",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10",
    "12:30:00",
    "1:20",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "hello",
    "with space",
    "a-b",
    "=",
    "<<x",
    "x<<",
    "@",
    "`",
    "%",
    "0.0.0.0",
    "v1",
    "1.35",
    "1.10",
    "0.50",
    "+",
    "-",
    "--",
    "- x",
    "::",
    "a:b",
    "http://x",
    "foo#bar",
];

/// Keys, plain, quoted and of other types.
const KEYS: &[&str] = &[
    "a",
    "b",
    "c",
    "name",
    "y",
    "n",
    "on",
    "yes",
    "no",
    "1",
    "0x10",
    "0777",
    "1.5",
    "1e3",
    "true",
    "True",
    "null",
    "~",
    "'q'",
    "\"d\"",
    "-1",
    ".5",
    ".inf",
    "2001-12-14",
    "'y'",
    "? c",
    "\"\"",
];

const TAGS: &[&str] = &[
    "!!str",
    "!!int",
    "!!float",
    "!!bool",
    "!!null",
    "!!binary",
    "!!timestamp",
    "!",
    "!custom",
    "!<tag:yaml.org,2002:str>",
    "!!map",
    "!!seq",
    "!!merge",
    "!!set",
];

struct Generator {
    rng: Rng,
    anchors: Vec<String>,
    /// Anchors on mappings, for merges.
    mapping_anchors: Vec<String>,
    next_anchor: usize,
    /// The document being generated has a duplicate key (after keys became JSON strings:
    /// `y` and `on` are both `true`), on purpose.
    duplicate: bool,
    /// The document being generated has content after its value, on purpose.
    trailing: bool,
    /// The document being generated merges with `<<`: go-yaml v2 sets merged keys over
    /// earlier ones and converts the result only then, so an invalid value a merge
    /// overrides (a null key, `.inf`) is never seen; policyrun refuses it where it stands.
    merged: bool,
}

impl Generator {
    fn scalar(&mut self) -> String {
        let plain = self.rng.pick(PLAIN);
        match self.rng.below(10) {
            0 => format!("'{}'", plain.replace('\'', "''")),
            1 => format!("\"{}\"", plain.replace('\\', "\\\\").replace('"', "\\\"")),
            2 => {
                let tag = self.rng.pick(TAGS);
                let value = if tag == "!!binary" && self.rng.chance(60) {
                    *self.rng_pick_binary()
                } else {
                    plain
                };
                if self.rng.chance(30) {
                    format!("{tag} \"{value}\"")
                } else {
                    format!("{tag} {value}")
                }
            }
            _ => plain.to_owned(),
        }
    }

    fn rng_pick_binary(&mut self) -> &'static &'static str {
        const BINARY: &[&str] = &["aGk=", "aGVsbG8=", "/w==", "!!!", ""];
        &BINARY[self.rng.below(BINARY.len())]
    }

    fn anchor(&mut self, mapping: bool) -> String {
        if !self.rng.chance(15) {
            return String::new();
        }
        self.next_anchor += 1;
        let name = format!("x{}", self.next_anchor);
        if mapping {
            self.mapping_anchors.push(name.clone());
        }
        format!("&{name} ")
    }

    /// A value in flow style (inside `[...]` or `{...}`, or after `key: `).
    fn flow(&mut self, depth: usize) -> String {
        match self.rng.below(if depth > 2 { 4 } else { 7 }) {
            0 if !self.anchors.is_empty() => format!("*{}", self.rng_anchor()),
            4 => {
                let anchor = self.anchor(false);
                let items: Vec<String> = (0..self.rng.below(4))
                    .map(|_| self.flow(depth + 1))
                    .collect();
                format!("{anchor}[{}]", items.join(", "))
            }
            5 | 6 => {
                let anchor = self.anchor(true);
                let mut used = Vec::new();
                let entries: Vec<String> = (0..self.rng.below(4))
                    .map(|_| {
                        let key = self.key(&mut used);
                        format!("{key}: {}", self.flow(depth + 1))
                    })
                    .collect();
                let text = format!("{anchor}{{{}}}", entries.join(", "));
                if !anchor.is_empty() {
                    self.anchors.push(anchor[1..anchor.len() - 1].to_owned());
                }
                text
            }
            _ => {
                let anchor = self.anchor(false);
                let text = format!("{anchor}{}", self.scalar());
                if !anchor.is_empty() {
                    self.anchors.push(anchor[1..anchor.len() - 1].to_owned());
                }
                text
            }
        }
    }

    fn rng_anchor(&mut self) -> String {
        let i = self.rng.below(self.anchors.len());
        self.anchors[i].clone()
    }

    /// A key for a mapping that has `used` (their JSON keys): one of another JSON key, but
    /// for a duplicate on purpose now and then.
    fn key(&mut self, used: &mut Vec<String>) -> String {
        for attempt in 0..6 {
            let key = match self.rng.pick(KEYS) {
                // An explicit key is spelled without `?` here.
                "? c" => "c",
                key => key,
            };
            // What the key becomes in JSON, as both readers agree on single keys.
            let json = parse_document(&format!("{key}: 1"))
                .ok()
                .and_then(|v| v.as_object().and_then(|m| m.keys().next().cloned()));
            let Some(json) = json else {
                return key.to_owned();
            };
            if !used.contains(&json) {
                used.push(json);
                return key.to_owned();
            }
            if attempt == 5 || self.rng.chance(10) {
                self.duplicate = true;
                return key.to_owned();
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// A block mapping at `indent`.
    fn mapping(&mut self, indent: usize, depth: usize) -> String {
        let pad = " ".repeat(indent);
        let mut out = String::new();
        let mut used = Vec::new();
        for _ in 0..1 + self.rng.below(5) {
            if !self.mapping_anchors.is_empty() && self.rng.chance(10) {
                let i = self.rng.below(self.mapping_anchors.len());
                let merged = if self.rng.chance(30) && self.mapping_anchors.len() > 1 {
                    let j = self.rng.below(self.mapping_anchors.len());
                    format!(
                        "[*{}, *{}]",
                        self.mapping_anchors[i], self.mapping_anchors[j]
                    )
                } else {
                    format!("*{}", self.mapping_anchors[i])
                };
                out.push_str(&format!("{pad}<<: {merged}\n"));
                self.merged = true;
                continue;
            }
            let key = self.key(&mut used);
            match self.rng.below(if depth > 2 { 5 } else { 9 }) {
                5 => {
                    out.push_str(&format!("{pad}{key}:\n"));
                    out.push_str(&self.mapping(indent + 2, depth + 1));
                }
                6 => {
                    out.push_str(&format!("{pad}{key}:\n"));
                    for _ in 0..1 + self.rng.below(3) {
                        out.push_str(&format!("{pad}- {}\n", self.flow(depth + 1)));
                    }
                }
                7 => {
                    let style = self.rng.pick(&["|", ">", "|-", ">+", "|2"]);
                    out.push_str(&format!(
                        "{pad}{key}: {style}\n{pad}    {}\n{pad}    second\n",
                        self.rng.pick(PLAIN)
                    ));
                }
                8 => {
                    let anchor = self.anchor(true);
                    out.push_str(&format!("{pad}{key}: {anchor}\n"));
                    out.push_str(&self.mapping(indent + 2, depth + 1));
                    if !anchor.is_empty() {
                        self.anchors.push(anchor[1..anchor.len() - 1].to_owned());
                    }
                }
                _ => out.push_str(&format!("{pad}{key}: {}\n", self.flow(depth))),
            }
        }
        out
    }

    fn document(&mut self) -> String {
        self.anchors.clear();
        self.mapping_anchors.clear();
        self.duplicate = false;
        self.trailing = false;
        self.merged = false;
        let mut text = match self.rng.below(10) {
            0 => format!("{}\n", self.flow(0)),
            1 => format!("- {}\n- {}\n", self.flow(0), self.flow(0)),
            _ => self.mapping(0, 0),
        };
        if self.rng.chance(5) {
            self.trailing = true;
            text.push_str(
                self.rng
                    .pick(&["trailing: 1\n", "- item\n", "  indented: 2\n"]),
            );
        }
        text
    }
}

/// JSON values equal as data: numbers by value, whichever of integer and float each reader
/// chose for it (serde_json reads `-9223372036854775808` as a float, policyrun as an integer).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || (x.as_f64().is_some() && x.as_f64() == y.as_f64())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// Where policyrun may refuse a document go-yaml v2 reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stricter {
    No,
    /// A duplicate key or content after the value: refused whatever else it holds.
    Anywhere,
    /// A merge may override a value that cannot become JSON: refused for that value.
    ConvertingMerged,
}

/// What policyrun says of a value that cannot become JSON.
const CONVERSION_ERRORS: &[&str] = &[
    "null mapping key",
    "infinite or not-a-number",
    "a mapping key that is a mapping or a sequence",
];

#[test]
fn yaml_reads_as_go_yaml_v2_and_sigs_k8s_io_yaml_read_it() {
    let reference = match reference() {
        Ok(path) => path,
        Err(why) => {
            let ci = std::env::var_os("CI").is_some();
            assert!(
                !ci,
                "the YAML reference is required under CI (apt-get install golang-go golang-gopkg-yaml.v2-dev): {why}"
            );
            eprintln!("skipped: the YAML reference is not available: {why}");
            return;
        }
    };
    let cases: usize = std::env::var("POLICYRUN_YAML_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let mut generator = Generator {
        rng: Rng(19),
        anchors: Vec::new(),
        mapping_anchors: Vec::new(),
        next_anchor: 0,
        duplicate: false,
        trailing: false,
        merged: false,
    };
    // Each document with whether policyrun is stricter on it on purpose (a duplicate key,
    // content after its value, an invalid value a merge overrides): there policyrun
    // refuses what go-yaml v2 reads.
    let generated: Vec<(String, Stricter)> = (0..cases)
        .map(|_| {
            let document = generator.document();
            let stricter = if generator.duplicate || generator.trailing {
                Stricter::Anywhere
            } else if generator.merged {
                Stricter::ConvertingMerged
            } else {
                Stricter::No
            };
            (document, stricter)
        })
        .collect();
    let documents: Vec<&String> = generated.iter().map(|(d, _)| d).collect();
    let mut child = Command::new(&reference)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = Vec::new();
    for document in &documents {
        input.extend_from_slice(document.as_bytes());
        input.push(0);
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(output.status.success(), "the reference failed");
    let answers: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(answers.len(), documents.len());
    let (mut same_value, mut both_refuse, mut stricter, mut grammar) = (0, 0, 0, 0);
    let mut differences = Vec::new();
    for ((document, on_purpose), answer) in generated.iter().zip(&answers) {
        let ours = parse_document(document);
        match (&ours, answer.get("json"), answer.get("error")) {
            (Ok(value), Some(theirs), None) if same_json(value, theirs) => same_value += 1,
            (Err(_), None, Some(_)) => both_refuse += 1,
            (Err(_), Some(_), None) if *on_purpose == Stricter::Anywhere => stricter += 1,
            (Err(problem), Some(_), None)
                if *on_purpose == Stricter::ConvertingMerged
                    && CONVERSION_ERRORS
                        .iter()
                        .any(|e| problem.message.contains(e)) =>
            {
                stricter += 1
            }
            // The one place the two grammars differ: YAML 1.2 (granit-parser) lets no plain
            // scalar start with `-` before a flow indicator (`[-, b]`); libyaml (YAML 1.1)
            // reads the string `-`.
            (Err(problem), Some(_), None) if problem.message.contains("cannot start with '-'") => {
                grammar += 1
            }
            _ => differences.push(format!(
                "--- document:\n{document}--- policyrun: {ours:?}\n--- go-yaml v2: {answer}\n"
            )),
        }
    }
    eprintln!(
        "yaml reference: {} documents: {same_value} same value, {both_refuse} refused by both, {stricter} refused by policyrun only on purpose (duplicate keys, content after the value, invalid values a merge overrides), {grammar} refused for a plain `-` before a flow indicator",
        documents.len()
    );
    assert!(
        differences.is_empty(),
        "{} of {} documents read differently:\n{}",
        differences.len(),
        documents.len(),
        differences
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The generator reaches all three outcomes.
    assert!(same_value > cases / 4 && both_refuse > 0 && stricter > 0);
}
