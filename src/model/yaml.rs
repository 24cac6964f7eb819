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

use granit_parser::{Event, Options, Parser, ScalarStyle, StructureStyle, Tag};
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
                // `<<` merges only where a key stands; as a value it is the text `<<`.
                if merge && builder.expects_key() {
                    builder.merge_key().map_err(fail)?;
                    continue;
                }
                // libyaml (YAML 1.1, which Kubernetes tools parse with) lets no plain scalar
                // start with `:` inside `[...]` or `{...}`; YAML 1.2 reads `[::]` as a mapping.
                if style == ScalarStyle::Plain && text.starts_with(':') && builder.in_flow() {
                    return Err(fail(format!(
                        "a plain scalar `{text}` that starts with `:` inside `[...]` or `{{...}}` (quote it)"
                    )));
                }
                let resolved = scalar(&text, style, tag.as_deref()).map_err(fail)?;
                if builder.expects_key() {
                    if anchor != 0 {
                        let value = resolved.clone().value().unwrap_or(Value::Null);
                        builder.anchors.insert(anchor, value);
                    }
                    let name = resolved.key().map_err(fail)?;
                    builder.key(name, line);
                } else {
                    let value = resolved.value().map_err(fail)?;
                    builder.finish(value, anchor, line)?;
                }
            }
            // As in go-yaml v2, a collection's tag changes nothing.
            Event::SequenceStart(style, anchor, _) => {
                builder
                    .open(Frame::Sequence(Vec::new()), anchor, line)
                    .map_err(fail)?;
                builder.styles.push(style);
            }
            Event::MappingStart(style, anchor, _) => {
                builder.open(Frame::mapping(), anchor, line).map_err(fail)?;
                builder.styles.push(style);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                builder.close(line)?;
                builder.styles.pop();
            }
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
        /// Each explicit key and the line it stood on, for duplicates (which go-yaml v2 lets
        /// the last win, and the API server's strict field validation refuses).
        lines: HashMap<String, usize>,
        /// The key whose value comes next (`None`: a key comes next).
        key: Option<Key>,
    },
}

impl Frame {
    fn mapping() -> Frame {
        Frame::Mapping {
            entries: Map::new(),
            lines: HashMap::new(),
            key: None,
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
    /// The style of each open collection, innermost last.
    styles: Vec<StructureStyle>,
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
            Frame::Mapping { entries, key, .. } => {
                if key.is_some() {
                    return Err(fail("a mapping key without a value"));
                }
                Value::Object(entries)
            }
        };
        self.finish(value, anchor, line)
    }

    /// Whether the next node is inside `[...]` or `{...}`.
    fn in_flow(&self) -> bool {
        self.styles.contains(&StructureStyle::Flow)
    }

    /// Whether the next scalar is a mapping's key.
    fn expects_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some((Frame::Mapping { key: None, .. }, _))
        )
    }

    /// A mapping's key, as JSON writes it.
    fn key(&mut self, name: String, line: usize) {
        if let Some((Frame::Mapping { key, .. }, _)) = self.stack.last_mut() {
            *key = Some(Key::Named(name, line));
        }
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
            } => match key.take() {
                None => *key = Some(Key::Named(key_string(value).map_err(fail)?, line)),
                // As go-yaml v2 merges: where `<<` stands, every merged key is set (over a
                // key before it); keys after it are set over them; of a list of mappings,
                // the first wins.
                Some(Key::Merge) => match value {
                    Value::Object(map) => entries.extend(map),
                    Value::Array(items) => {
                        let mut maps = Vec::with_capacity(items.len());
                        for item in items {
                            match item {
                                Value::Object(map) => maps.push(map),
                                _ => {
                                    return Err(fail(
                                        "`<<` merges mappings: a list of anything else".into(),
                                    ));
                                }
                            }
                        }
                        for map in maps.into_iter().rev() {
                            entries.extend(map);
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

/// A key as `sigs.k8s.io/yaml` turns it into a JSON key, from an alias's value.
fn key_string(value: Value) -> Result<String, String> {
    match value {
        Value::String(text) => Ok(text),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        Value::Null => Err(NULL_KEY.into()),
        Value::Array(_) | Value::Object(_) => {
            Err("a mapping key that is a mapping or a sequence (JSON keys are strings)".into())
        }
    }
}

const NULL_KEY: &str = "a null mapping key (`~`, `null` or nothing) cannot become JSON";

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

fn shown_tag(tag: &Tag) -> String {
    let name = tag_name(tag);
    match name.strip_prefix(CORE) {
        Some(core) => format!("!!{core}"),
        None => name,
    }
}

/// A scalar as go-yaml v2 resolves it, before it becomes a JSON value or key: a float keeps
/// being one (a key formats it as Go formats a float), and so does one JSON cannot hold (a
/// key can be `.inf`, a value cannot).
#[derive(Debug, Clone, PartialEq)]
enum Resolved {
    Null,
    Bool(bool),
    Int(Number),
    Float(f64),
    Str(String),
}

impl Resolved {
    fn value(self) -> Result<Value, String> {
        Ok(match self {
            Resolved::Null => Value::Null,
            Resolved::Bool(flag) => Value::Bool(flag),
            Resolved::Int(number) => Value::Number(number),
            Resolved::Float(float) if float.is_finite() => float_value(float),
            Resolved::Float(_) => {
                return Err(
                    "an infinite or not-a-number float (`.inf`, `.nan`), which JSON cannot hold (quote it for a string)"
                        .into(),
                );
            }
            Resolved::Str(text) => Value::String(text),
        })
    }

    /// The key `sigs.k8s.io/yaml` makes of it.
    fn key(self) -> Result<String, String> {
        Ok(match self {
            Resolved::Null => return Err(NULL_KEY.into()),
            Resolved::Bool(flag) => flag.to_string(),
            Resolved::Int(number) => number.to_string(),
            Resolved::Float(float) => go_float_key(float),
            Resolved::Str(text) => text,
        })
    }
}

/// A scalar's resolution: its tag decides, else a plain scalar is resolved as go-yaml v2 does
/// and a quoted or block scalar is a string. As in go-yaml v2, a tag it does not know (a
/// local `!custom`, `!!set`) leaves the text a string.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Resolved, String> {
    let Some(tag) = tag else {
        return Ok(match style {
            ScalarStyle::Plain => resolve(text),
            _ => Resolved::Str(text.to_owned()),
        });
    };
    let name = tag_name(tag);
    let wrong = |what: &str| {
        Err(format!(
            "`{text}` is not {what}, as its tag `{}` says",
            shown_tag(tag)
        ))
    };
    match name.strip_prefix(CORE) {
        Some("int") => match resolve(text) {
            resolved @ Resolved::Int(_) => Ok(resolved),
            _ => wrong("an integer"),
        },
        Some("float") => match resolve(text) {
            // go-yaml v2 turns a signed 64-bit integer into a float, not a larger one.
            Resolved::Int(number) if number.is_i64() => {
                Ok(Resolved::Float(number.as_f64().unwrap_or(f64::NAN)))
            }
            resolved @ Resolved::Float(_) => Ok(resolved),
            _ => wrong("a number"),
        },
        Some("bool") => match resolve(text) {
            resolved @ Resolved::Bool(_) => Ok(resolved),
            _ => wrong("a boolean"),
        },
        Some("null") => match resolve(text) {
            Resolved::Null => Ok(Resolved::Null),
            _ => wrong("null"),
        },
        Some("timestamp") if is_timestamp(text) => Ok(Resolved::Str(text.to_owned())),
        Some("timestamp") => wrong("a timestamp"),
        Some("merge") => Ok(Resolved::Str(text.to_owned())),
        Some("binary") => {
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            match data_encoding::BASE64.decode(compact.as_bytes()) {
                Ok(bytes) => Ok(Resolved::Str(go_json_text(&bytes))),
                Err(_) => wrong("base64"),
            }
        }
        _ => Ok(Resolved::Str(text.to_owned())),
    }
}

/// Bytes as Go's `encoding/json` writes them into a string: every byte that does not begin a
/// valid UTF-8 character becomes U+FFFD on its own.
fn go_json_text(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                text.push_str(valid);
                break;
            }
            Err(error) => {
                let (valid, after) = rest.split_at(error.valid_up_to());
                text.push_str(std::str::from_utf8(valid).unwrap_or_default());
                text.push(char::REPLACEMENT_CHARACTER);
                rest = &after[1..];
            }
        }
    }
    text
}

/// go-yaml v2's timestamps: `2006-1-2`, then `T`, `t` or a space and `15:4:5`, a fraction,
/// and (after `T` or `t`) `Z` or an offset.
fn is_timestamp(text: &str) -> bool {
    let digits = |s: &str, min: usize, max: usize| {
        (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    let (date, rest) = match text.find(['T', 't', ' ']) {
        Some(at) => (&text[..at], Some((&text[at..at + 1], &text[at + 1..]))),
        None => (text, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let date_ok = parts.len() == 3
        && digits(parts[0], 4, 4)
        && digits(parts[1], 1, 2)
        && digits(parts[2], 1, 2);
    let Some((separator, time)) = rest else {
        return date_ok;
    };
    let (clock, zone) = if separator == " " {
        (time, "")
    } else {
        match time.find(['Z', '+', '-']) {
            Some(at) => (&time[..at], &time[at..]),
            None => (time, ""),
        }
    };
    let (clock, fraction) = match clock.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (clock, None),
    };
    let fields: Vec<&str> = clock.split(':').collect();
    let clock_ok = fields.len() == 3 && fields.iter().all(|f| digits(f, 1, 2));
    let fraction_ok = fraction.is_none_or(|f| digits(f, 1, 9));
    let zone_ok = zone.is_empty()
        || zone == "Z"
        || zone
            .strip_prefix(['+', '-'])
            .and_then(|z| z.split_once(':'))
            .is_some_and(|(h, m)| digits(h, 2, 2) && digits(m, 2, 2));
    date_ok && clock_ok && fraction_ok && zone_ok
}

/// A float key as `sigs.k8s.io/yaml` writes it: Go's `FormatFloat(f, 'g', -1, 32)` (the
/// shortest digits of the float rounded to 32 bits, with an exponent below 1e-4 or from
/// 1e6 on), and `.inf`, `-.inf`, `.nan`.
fn go_float_key(float: f64) -> String {
    if float.is_nan() {
        return ".nan".into();
    }
    if float.is_infinite() {
        return if float > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let single = float as f32;
    if single == 0.0 {
        return if single.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Rust's `{:e}` gives the shortest digits that read back as this f32: `1.5e3`.
    let scientific = format!("{single:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if !(-4..6).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        return format!(
            "{sign}{first}{fraction}e{exponent_sign}{:02}",
            exponent.unsigned_abs()
        );
    }
    let point = exponent + 1;
    let text = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        format!("{whole}.{fraction}")
    };
    format!("{sign}{text}")
}

/// A plain scalar as go-yaml v2 resolves it (`resolve.go`).
fn resolve(text: &str) -> Resolved {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Resolved::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Resolved::Bool(false);
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    let string = || Resolved::Str(text.to_owned());
    match text.as_bytes().first() {
        Some(b'0'..=b'9' | b'+' | b'-') => {
            let plain = text.replace('_', "");
            if let Some(number) = parse_int(&plain) {
                return Resolved::Int(number);
            }
            // Go's ParseFloat refuses what overflows: the text stays a string.
            match plain.parse::<f64>() {
                Ok(float) if is_yaml_float(&plain) && float.is_finite() => Resolved::Float(float),
                _ => string(),
            }
        }
        Some(b'.') => match text.parse::<f64>() {
            Ok(float) if float.is_finite() => Resolved::Float(float),
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
/// fraction and below 1e21 as an integer (`3.0` and `1e16` become `3` and
/// `10000000000000000`), and the API server reads it as one.
fn float_value(float: f64) -> Value {
    // 2^64: the first float past u64::MAX (`u64::MAX as f64` rounds up to it).
    const TWO_TO_64: f64 = 18_446_744_073_709_551_616.0;
    if float.fract() == 0.0 && float.abs() < 1e21 {
        if (0.0..TWO_TO_64).contains(&float) {
            return Value::Number(Number::from(float as u64));
        }
        if float < 0.0 && float >= i64::MIN as f64 {
            return Value::Number(Number::from(float as i64));
        }
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
    fn core_tags_convert_and_others_keep_the_text() {
        assert_eq!(
            read(
                "a: !!int \"4\"\nb: !!str 3\nc: !!bool \"true\"\nd: !!float \"2\"\ne: !!null ''\nf: ! 12\ng: !!binary aGk=\nh: !!str yes\ni: !!timestamp 2001-12-14\n"
            ),
            json!({"a": 4, "b": "3", "c": true, "d": 2, "e": null, "f": "12", "g": "hi",
                "h": "yes", "i": "2001-12-14"})
        );
        // As go-yaml v2: a tag it does not know leaves a scalar's text, and a collection's
        // tag changes nothing.
        assert_eq!(
            read("a: !custom x\nb: !!set 1\nc: !!seq {d: 1}\ne: !x [1]\n"),
            json!({"a": "x", "b": "1", "c": {"d": 1}, "e": [1]})
        );
        for (text, line) in [
            ("a: 1\nb: !!int x\n", 2),
            ("a: !!int 1.5\n", 1),
            ("a: !!bool 1\n", 1),
            ("a: !!null x\n", 1),
            ("a: !!timestamp -0\n", 1),
            ("a: !!binary '!!!'\n", 1),
        ] {
            let found = problem(text);
            assert_eq!(found.line, line, "{text:?}: {found:?}");
        }
    }

    #[test]
    fn binary_that_is_no_text_is_written_as_go_writes_it() {
        // 0xff, then "hi", then a truncated four-byte character.
        assert_eq!(
            read("a: !!binary /2hp8J+Y\n"),
            json!({"a": "\u{fffd}hi\u{fffd}\u{fffd}\u{fffd}"})
        );
    }

    #[test]
    fn float_keys_are_written_as_go_writes_them() {
        assert_eq!(
            read(
                "1.5: a\n1e3: b\n1e16: c\n.inf: d\n-.inf: e\n0.0001: f\n0.00001: g\n123456.5: h\n"
            ),
            json!({"1.5": "a", "1000": "b", "1e+16": "c", ".inf": "d", "-.inf": "e",
                "0.0001": "f", "1e-05": "g", "123456.5": "h"})
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
            "base: &base {a: 1, b: 2}\nmore: &more {c: 3, a: 7}\nmerged:\n  <<: [*base, *more]\n  b: 9\nbefore:\n  b: 9\n  <<: *base\nsame: *base\n",
        );
        assert_eq!(
            value["merged"],
            json!({"a": 1, "b": 9, "c": 3}),
            "a key after `<<` is set over the merged ones; the first merged mapping wins"
        );
        assert_eq!(
            value["before"],
            json!({"a": 1, "b": 2}),
            "as in go-yaml v2, `<<` sets its keys over a key before it"
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
