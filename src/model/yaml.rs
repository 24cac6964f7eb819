//! YAML documents read as the Kubernetes tooling reads them, so that a manifest gets the
//! verdict `kubectl` and the API server would give it. They read YAML through
//! `sigs.k8s.io/yaml`, which parses with go-yaml v2 (YAML 1.1 resolution) and converts to
//! JSON: `yes`/`no`/`on`/`off`/`y`/`n` are booleans (keys too), `0777` is octal, `_` in numbers is ignored,
//! dates stay strings, `inf` is a string while `.inf` and `.nan` cannot become JSON at all,
//! keys become strings, `<<` merges mappings, tags such as `!!int "3"` convert, unknown
//! tags are refused, and content after a document's value is an error naming its line.
//!
//! The parser is granit-parser (the one `kube` already builds, through serde-saphyr); the
//! value tree is built here, iteratively, with limits on nesting and on what aliases expand
//! to, so no file can exhaust the stack or the memory.

use std::collections::HashMap;

use granit_parser::{Event, Options, Parser, ScalarStyle, Tag};
use serde_json::{Map, Number, Value};

/// How deep collections may nest: far beyond any Kubernetes object or CRD schema, far below
/// what dropping a value (which recurses) could not survive.
pub const MAX_NESTING: usize = 1000;

/// How many values aliases may expand to in one document: a "billion laughs" file is an
/// error, not a process that runs out of memory.
pub const MAX_ALIAS_VALUES: usize = 1_000_000;

/// Why a document could not be read: the line (1-based, within the text given) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub message: String,
}

/// The value of one YAML document (`Null` when it holds nothing but comments). More than one
/// document in `text`, or anything after the document's value, is a problem.
pub fn parse_document(text: &str) -> Result<Value, Problem> {
    parse_document_at(text, 1)
}

/// As [`parse_document`], for a document whose first line is line `first_line` of its file:
/// every line a problem names is the file's.
pub fn parse_document_at(text: &str, first_line: usize) -> Result<Value, Problem> {
    let offset = first_line.saturating_sub(1);
    let mut options = Options::default();
    options.flow_nesting_limit = MAX_NESTING;
    options.block_nesting_limit = MAX_NESTING;
    let mut builder = Builder::default();
    let mut documents = 0;
    for next in Parser::new_from_str_with_options(text, options) {
        let (event, span) = next.map_err(|e| {
            let mut message = e.info();
            if message.contains("expected <document start>") {
                message.push_str(
                    ": content after the document's value (one value per document: is a line indented wrongly, or a `---` missing?)",
                );
            }
            Problem {
                line: e.marker().line().max(1) + offset,
                message,
            }
        })?;
        let line = span.start.line().max(1) + offset;
        let fail = |message: String| Problem { line, message };
        match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err(fail(
                        "a second document where one was expected (separate documents with a `---` line)".into(),
                    ));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let merge = match tag.as_deref() {
                    None => style == ScalarStyle::Plain && text == "<<",
                    Some(tag) => tag_name(tag) == format!("{CORE}merge"),
                };
                if merge {
                    builder.merge_key().map_err(fail)?;
                } else {
                    let value = scalar(&text, style, tag.as_deref()).map_err(fail)?;
                    builder.finish(value, anchor, line)?;
                }
            }
            Event::SequenceStart(_, anchor, tag) => {
                collection_tag(tag.as_deref(), "seq").map_err(fail)?;
                builder
                    .open(Frame::Sequence(Vec::new()), anchor, line)
                    .map_err(fail)?;
            }
            Event::MappingStart(_, anchor, tag) => {
                collection_tag(tag.as_deref(), "map").map_err(fail)?;
                builder.open(Frame::mapping(), anchor, line).map_err(fail)?;
            }
            Event::SequenceEnd | Event::MappingEnd => builder.close(line)?,
            Event::Alias(id) => builder.alias(id, line)?,
            Event::UnresolvedAlias(name) => {
                return Err(fail(format!("alias `*{name}` to no anchor")));
            }
            _ => {}
        }
    }
    Ok(builder.root.unwrap_or(Value::Null))
}

/// A collection being read.
enum Frame {
    Sequence(Vec<Value>),
    Mapping {
        entries: Map<String, Value>,
        /// Each explicit key and the line it stood on, for duplicates.
        lines: HashMap<String, usize>,
        /// The key whose value comes next (`None`: a key comes next).
        key: Option<Key>,
        /// Mappings merged in with `<<`, in order: keys of their own and of earlier merges
        /// win.
        merged: Vec<Map<String, Value>>,
    },
}

impl Frame {
    fn mapping() -> Frame {
        Frame::Mapping {
            entries: Map::new(),
            lines: HashMap::new(),
            key: None,
            merged: Vec::new(),
        }
    }
}

/// A mapping key: a string (and the line it stood on), or the merge key `<<`.
enum Key {
    Named(String, usize),
    Merge,
}

#[derive(Default)]
struct Builder {
    /// Open collections, innermost last, each with its anchor (0: none).
    stack: Vec<(Frame, usize)>,
    anchors: HashMap<usize, Value>,
    root: Option<Value>,
    /// Values aliases have expanded to so far.
    aliased: usize,
}

impl Builder {
    fn open(&mut self, frame: Frame, anchor: usize, line: usize) -> Result<(), String> {
        if let Some((Frame::Mapping { key: None, .. }, _)) = self.stack.last() {
            return Err(
                "a mapping key that is a mapping or a sequence (JSON keys are strings)".into(),
            );
        }
        if self.stack.len() >= MAX_NESTING {
            return Err(format!(
                "collections nested more than {MAX_NESTING} deep (at line {line})"
            ));
        }
        self.stack.push((frame, anchor));
        Ok(())
    }

    fn close(&mut self, line: usize) -> Result<(), Problem> {
        let fail = |message: &str| Problem {
            line,
            message: message.to_owned(),
        };
        let Some((frame, anchor)) = self.stack.pop() else {
            return Err(fail("the end of a collection that was never opened"));
        };
        let value = match frame {
            Frame::Sequence(items) => Value::Array(items),
            Frame::Mapping {
                mut entries,
                merged,
                key,
                ..
            } => {
                if key.is_some() {
                    return Err(fail("a mapping key without a value"));
                }
                for source in merged {
                    for (name, value) in source {
                        entries.entry(name).or_insert(value);
                    }
                }
                Value::Object(entries)
            }
        };
        self.finish(value, anchor, line)
    }

    /// A plain `<<` (or `!!merge`) where a key belongs: the value merges mappings in.
    fn merge_key(&mut self) -> Result<(), String> {
        match self.stack.last_mut() {
            Some((
                Frame::Mapping {
                    key: key @ None, ..
                },
                _,
            )) => {
                *key = Some(Key::Merge);
                Ok(())
            }
            _ => Err("`<<` is a merge key: it stands only as a mapping's key".into()),
        }
    }

    fn alias(&mut self, id: usize, line: usize) -> Result<(), Problem> {
        let fail = |message: String| Problem { line, message };
        let Some(value) = self.anchors.get(&id) else {
            return Err(fail(
                "an alias to a node that is not complete yet (a structure that contains itself)"
                    .into(),
            ));
        };
        self.aliased += count_values(value);
        if self.aliased > MAX_ALIAS_VALUES {
            return Err(fail(format!(
                "aliases expand to more than {MAX_ALIAS_VALUES} values (a document that multiplies itself)"
            )));
        }
        let value = value.clone();
        self.place(value, line)
    }

    /// A complete value: remembered under its anchor, then placed in its parent.
    fn finish(&mut self, value: Value, anchor: usize, line: usize) -> Result<(), Problem> {
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        self.place(value, line)
    }

    fn place(&mut self, value: Value, line: usize) -> Result<(), Problem> {
        let fail = |message: String| Problem { line, message };
        let Some((frame, _)) = self.stack.last_mut() else {
            if self.root.is_some() {
                return Err(fail("a second value after the document's value".into()));
            }
            self.root = Some(value);
            return Ok(());
        };
        match frame {
            Frame::Sequence(items) => items.push(value),
            Frame::Mapping {
                entries,
                lines,
                key,
                merged,
            } => match key.take() {
                None => *key = Some(Key::Named(key_string(value).map_err(fail)?, line)),
                Some(Key::Merge) => match value {
                    Value::Object(map) => merged.push(map),
                    Value::Array(items) => {
                        for item in items {
                            match item {
                                Value::Object(map) => merged.push(map),
                                _ => {
                                    return Err(fail(
                                        "`<<` merges mappings: a list of anything else".into(),
                                    ));
                                }
                            }
                        }
                    }
                    _ => return Err(fail("`<<` merges a mapping or a list of mappings".into())),
                },
                Some(Key::Named(name, key_line)) => {
                    if let Some(first) = lines.get(&name) {
                        return Err(Problem {
                            line: key_line,
                            message: format!("duplicate key `{name}` (first at line {first})"),
                        });
                    }
                    lines.insert(name.clone(), key_line);
                    entries.insert(name, value);
                }
            },
        }
        Ok(())
    }
}

/// A key as `sigs.k8s.io/yaml` turns it into a JSON key.
fn key_string(value: Value) -> Result<String, String> {
    match value {
        Value::String(text) => Ok(text),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        Value::Null => Err("a null mapping key (`~`, `null` or nothing) cannot become JSON".into()),
        Value::Array(_) | Value::Object(_) => {
            Err("a mapping key that is a mapping or a sequence (JSON keys are strings)".into())
        }
    }
}

/// How many values `value` holds, itself included (without recursion).
fn count_values(value: &Value) -> usize {
    let mut count = 0;
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        count += 1;
        match value {
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => pending.extend(map.values()),
            _ => {}
        }
    }
    count
}

/// The YAML core tags, by the suffix after `tag:yaml.org,2002:`.
const CORE: &str = "tag:yaml.org,2002:";

/// The full name of a tag (`tag:yaml.org,2002:int` for `!!int`).
fn tag_name(tag: &Tag) -> String {
    format!("{}{}", tag.handle(), tag.suffix())
}

/// A collection's tag must be the non-specific `!`, or `!!seq`/`!!map` as fits.
fn collection_tag(tag: Option<&Tag>, kind: &str) -> Result<(), String> {
    match tag {
        None => Ok(()),
        Some(tag) if tag_name(tag) == "!" => Ok(()),
        Some(tag) if tag_name(tag) == format!("{CORE}{kind}") => Ok(()),
        Some(tag) => Err(format!(
            "tag `{}` on a {}: only `!!{kind}` can stand there",
            shown_tag(tag),
            if kind == "seq" { "sequence" } else { "mapping" }
        )),
    }
}

fn shown_tag(tag: &Tag) -> String {
    let name = tag_name(tag);
    match name.strip_prefix(CORE) {
        Some(core) => format!("!!{core}"),
        None => name,
    }
}

/// A scalar's value: its tag decides, else a plain scalar is resolved as go-yaml v2 does and
/// a quoted or block scalar is a string.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    let Some(tag) = tag else {
        return match style {
            ScalarStyle::Plain => resolve(text),
            _ => Ok(Value::String(text.to_owned())),
        };
    };
    let name = tag_name(tag);
    let wrong = |what: &str| {
        Err(format!(
            "`{text}` is not {what}, as its tag `{}` says",
            shown_tag(tag)
        ))
    };
    match name.strip_prefix(CORE) {
        _ if name == "!" => Ok(Value::String(text.to_owned())),
        Some("str") | Some("timestamp") => Ok(Value::String(text.to_owned())),
        Some("int") => match resolve(text) {
            Ok(value @ Value::Number(_)) if !is_float_text(text) => Ok(value),
            _ => wrong("an integer"),
        },
        Some("float") => match resolve(text) {
            Ok(Value::Number(number)) => Ok(Value::Number(number)),
            Err(problem) => Err(problem),
            _ => wrong("a number"),
        },
        Some("bool") => match resolve(text) {
            Ok(value @ Value::Bool(_)) => Ok(value),
            _ => wrong("a boolean"),
        },
        Some("null") => match resolve(text) {
            Ok(Value::Null) => Ok(Value::Null),
            _ => wrong("null"),
        },
        Some("binary") => {
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            match data_encoding::BASE64.decode(compact.as_bytes()) {
                Ok(bytes) => String::from_utf8(bytes).map(Value::String).map_err(|_| {
                    "a `!!binary` value that is not UTF-8 text cannot become JSON".into()
                }),
                Err(_) => wrong("base64"),
            }
        }
        _ => Err(format!(
            "unknown tag `{}` (Kubernetes tools read only YAML's own tags, such as `!!str` and `!!int`)",
            shown_tag(tag)
        )),
    }
}

/// Whether a number's text is written as a float (a `!!int` must not be).
fn is_float_text(text: &str) -> bool {
    let plain = text.replace('_', "");
    parse_int(&plain).is_none() && !plain.starts_with("0b") && !plain.starts_with("-0b")
}

/// A plain scalar as go-yaml v2 resolves it (`resolve.go`), in JSON terms.
fn resolve(text: &str) -> Result<Value, String> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Ok(Value::Bool(true));
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Ok(Value::Bool(false));
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => {
            return Err(format!(
                "`{text}` is an infinite or not-a-number float, which JSON cannot hold (quote it for a string)"
            ));
        }
        _ => {}
    }
    let Some(first) = text.chars().next() else {
        return Ok(Value::Null);
    };
    let string = || Ok(Value::String(text.to_owned()));
    match first {
        '0'..='9' | '+' | '-' => {
            let plain = text.replace('_', "");
            if let Some(number) = parse_int(&plain) {
                return Ok(Value::Number(number));
            }
            if is_yaml_float(&plain) {
                return match plain.parse::<f64>() {
                    Ok(float) => Ok(float_value(float)),
                    Err(_) => string(),
                };
            }
            string()
        }
        '.' => match text.parse::<f64>() {
            Ok(float) if float.is_finite() => Ok(float_value(float)),
            _ => string(),
        },
        _ => string(),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint`: an optional sign, then `0x`, `0o`,
/// `0b` or a leading `0` (octal) choose the base.
fn parse_int(text: &str) -> Option<Number> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'+' => (false, &text[1..]),
        b'-' => (true, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = if let Some(rest) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, rest)
    } else if let Some(rest) = digits
        .strip_prefix("0o")
        .or_else(|| digits.strip_prefix("0O"))
    {
        (8, rest)
    } else if let Some(rest) = digits
        .strip_prefix("0b")
        .or_else(|| digits.strip_prefix("0B"))
    {
        (2, rest)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        // i64::MIN's magnitude is one more than i64::MAX.
        return i64::try_from(-i128::from(magnitude)).ok().map(Number::from);
    }
    Some(Number::from(magnitude))
}

/// go-yaml v2's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(text: &str) -> bool {
    let text = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", fraction)) => digits(fraction),
        Some((whole, fraction)) => digits(whole) && (fraction.is_empty() || digits(fraction)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// A float as JSON carries it after `sigs.k8s.io/yaml`: Go writes a float without a
/// fraction as an integer (`3.0` becomes `3`), and the API server reads it as one.
fn float_value(float: f64) -> Value {
    if float.fract() == 0.0 && float.abs() < 9.0e15 {
        return Value::Number(Number::from(float as i64));
    }
    Number::from_f64(float).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(text: &str) -> Value {
        parse_document(text).unwrap_or_else(|p| panic!("{text:?}: {p:?}"))
    }

    fn problem(text: &str) -> Problem {
        parse_document(text).expect_err(text)
    }

    #[test]
    fn plain_scalars_resolve_as_go_yaml_v2_resolves_them() {
        let value = read(
            "a: yes\nb: off\nc: ~\nd: 0777\ne: 0x1F\nf: 1_000\ng: 1.5\nh: 3.0\ni: inf\nj: 2001-12-14\nk: -0b101\nl: 08\nm: .5\nplus: +12\no: 1e3\np: 18446744073709551615\nq: nan\nr: 0o17\ns: n\n",
        );
        assert_eq!(
            value,
            json!({"a": true, "b": false, "c": null, "d": 511, "e": 31, "f": 1000, "g": 1.5,
                "h": 3, "i": "inf", "j": "2001-12-14", "k": -5, "l": 8, "m": 0.5, "plus": 12,
                "o": 1000, "p": 18446744073709551615u64, "q": "nan", "r": 15, "s": false})
        );
        // Quoted and block scalars are strings.
        assert_eq!(
            read("a: 'yes'\nb: \"3\"\nc: |\n  4\n"),
            json!({"a": "yes", "b": "3", "c": "4\n"})
        );
    }

    #[test]
    fn tags_convert_and_unknown_ones_are_refused() {
        assert_eq!(
            read(
                "a: !!int \"4\"\nb: !!str 3\nc: !!bool \"true\"\nd: !!float \"2\"\ne: !!null ''\nf: ! 12\ng: !!binary aGk=\nh: !!str yes\n"
            ),
            json!({"a": 4, "b": "3", "c": true, "d": 2, "e": null, "f": "12", "g": "hi", "h": "yes"})
        );
        assert_eq!(read("!!map {a: !!seq [1]}"), json!({"a": [1]}));
        for (text, line) in [
            ("a: 1\nb: !!int x\n", 2),
            ("a: !!int 1.5\n", 1),
            ("a: !!bool 1\n", 1),
            ("a: !custom x\n", 1),
            ("a: !!seq {b: 1}\n", 1),
        ] {
            let found = problem(text);
            assert_eq!(found.line, line, "{text:?}: {found:?}");
        }
        assert!(
            problem("a: !custom x\n")
                .message
                .contains("unknown tag `!custom`")
        );
    }

    #[test]
    fn content_after_the_value_is_an_error_at_its_line() {
        let trailing = problem("{apiVersion: v1, kind: ConfigMap}\nbogusTopLevel: 1\n");
        assert_eq!(trailing.line, 2, "{trailing:?}");
        let second = problem("a: 1\n--- \nb: 2\n");
        assert!(second.message.contains("second document"), "{second:?}");
    }

    #[test]
    fn floats_json_cannot_hold_are_errors() {
        for text in ["a: .inf\n", "a: -.Inf\n", "a: .nan\n"] {
            assert!(problem(text).message.contains("JSON cannot hold"), "{text}");
        }
        assert_eq!(read("a: '.inf'\n"), json!({"a": ".inf"}));
    }

    #[test]
    fn keys_become_strings_and_duplicates_are_errors() {
        // `y` and `n` are booleans to go-yaml v2, as keys too.
        assert_eq!(
            read("1: a\ntrue: b\nn: c\n1.5: d\n"),
            json!({"1": "a", "true": "b", "false": "c", "1.5": "d"})
        );
        assert!(problem("~: c\n").message.contains("null"));
        let duplicate = problem("a: 1\nb: 2\na: 3\n");
        assert_eq!(duplicate.line, 3);
        assert!(
            duplicate.message.contains("duplicate key `a`"),
            "{duplicate:?}"
        );
        assert!(parse_document("? [a]\n: 1\n").is_err());
        // Lines are the file's when the document starts further down.
        let later = parse_document_at("a: 1\na: 2\n", 10).unwrap_err();
        assert_eq!(later.line, 11);
        assert!(later.message.contains("first at line 10"), "{later:?}");
    }

    #[test]
    fn merges_and_aliases() {
        let value = read(
            "base: &base {a: 1, b: 2}\nmore: &more {c: 3}\nmerged:\n  <<: [*base, *more]\n  b: 9\nsame: *base\n",
        );
        assert_eq!(
            value["merged"],
            json!({"a": 1, "b": 9, "c": 3}),
            "explicit keys win over merged ones"
        );
        assert_eq!(value["same"], json!({"a": 1, "b": 2}));
        assert!(
            problem("a: &a [1, *a]\n")
                .message
                .contains("contains itself")
        );
        // A quoted `<<` is an ordinary key.
        assert_eq!(read("'<<': {a: 1}\n"), json!({"<<": {"a": 1}}));
    }

    #[test]
    fn aliases_that_multiply_and_deep_nesting_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let previous = format!("*a{}", i - 1);
            let row = [previous.as_str(); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{row}]\n"));
        }
        assert!(problem(&text).message.contains("aliases expand"));
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_NESTING + 10),
            "]".repeat(MAX_NESTING + 10)
        );
        assert!(parse_document(&deep).is_err());
    }

    #[test]
    fn an_empty_document_is_null() {
        assert_eq!(read("# only a comment\n"), Value::Null);
        assert_eq!(read(""), Value::Null);
    }
}
