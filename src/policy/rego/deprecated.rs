//! OPA's deprecated built-ins, which Rego v0 modules may still call (OPA refuses them in v1
//! modules) and regorus does not have: `re_match`, `net.cidr_overlap`, `set_diff`, `all`,
//! `any` and the `cast_*` functions. A library written for OPA years ago uses them, and one
//! such call made the whole library unusable. Each call in a v0 module is rewritten, in the
//! source, into what OPA defines it as — the same built-in under its current name, or an
//! expression of current built-ins — on the same lines (only columns after it on its line
//! move), so both of regorus' engines evaluate it.

use std::collections::HashSet;

use regorus::Engine;
use regorus::unstable::{Expr, Parser, Rule as AstRule, RuleHead};

use super::walk::each_expression;

/// What a deprecated built-in is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Now {
    /// The same built-in under another name.
    Renamed(&'static str),
    /// `set_diff(a, b)`: `a - b`.
    Difference,
    /// `all(c)`: every item of the array or set is `true`.
    All,
    /// `any(c)`: some item of the array or set is `true`.
    Any,
    /// `cast_array(c)`: the items of an array or set (a set's in its order), as an array.
    ToArray,
    /// `cast_set(c)`: the items of an array or set, as a set.
    ToSet,
    /// `cast_string`, `cast_boolean`, `cast_null`, `cast_object`: the value itself (OPA
    /// checks the type when it compiles).
    Same,
}

const DEPRECATED: &[(&str, Now)] = &[
    ("re_match", Now::Renamed("regex.match")),
    ("net.cidr_overlap", Now::Renamed("net.cidr_contains")),
    ("set_diff", Now::Difference),
    ("all", Now::All),
    ("any", Now::Any),
    ("cast_array", Now::ToArray),
    ("cast_set", Now::ToSet),
    ("cast_string", Now::Same),
    ("cast_boolean", Now::Same),
    ("cast_null", Now::Same),
    ("cast_object", Now::Same),
];

/// Whether `name` is one of OPA's deprecated built-ins, and its current name where it has one.
pub(crate) fn deprecated(name: &str) -> Option<Option<&'static str>> {
    DEPRECATED
        .iter()
        .find(|(old, _)| *old == name)
        .map(|(_, now)| match now {
            Now::Renamed(current) => Some(*current),
            _ => None,
        })
}

/// One call to rewrite: the byte range of the whole call and where its name ends (its
/// arguments are read from the text between: the parser's spans of a string or a call
/// argument are not its text).
struct Call {
    /// Which call of the module it is: its comprehension variables are its own.
    index: usize,
    span: (usize, usize),
    name_end: usize,
    now: Now,
}

/// `text`, a Rego v0 module as regorus reads it (after `super::opa::prepare`), with every
/// deprecated built-in call rewritten; as it is when it does not parse (the load says why).
/// A Rego v1 module is never given here: OPA refuses the calls there, and so does the load.
pub(crate) fn rewrite_v0(name: &str, text: &str) -> String {
    let mut scratch = Engine::new();
    scratch.set_rego_v0(true);
    if scratch
        .add_policy(name.to_owned(), text.to_owned())
        .is_err()
    {
        return text.to_owned();
    }
    let modules = scratch.get_modules().clone();
    let Some(module) = modules.first() else {
        return text.to_owned();
    };
    // A function the package defines under a deprecated name is the one its calls mean.
    let mut defined = HashSet::new();
    for rule in &module.policy {
        if let AstRule::Spec {
            head: RuleHead::Func { refr, .. },
            ..
        } = rule.as_ref()
            && let Ok(parts) = Parser::get_path_ref_components(refr)
        {
            defined.insert(parts.iter().map(|p| p.text()).collect::<Vec<_>>().join("."));
        }
    }
    let mut calls = Vec::new();
    for rule in &module.policy {
        each_expression(rule, &mut |expr| {
            let Expr::Call { span, fcn, .. } = expr else {
                return;
            };
            let Ok(parts) = Parser::get_path_ref_components(fcn) else {
                return;
            };
            let called = parts.iter().map(|p| p.text()).collect::<Vec<_>>().join(".");
            if defined.contains(&called) {
                return;
            }
            if let Some((_, now)) = DEPRECATED.iter().find(|(old, _)| *old == called) {
                calls.push(Call {
                    index: calls.len(),
                    span: (span.start as usize, span.end as usize),
                    name_end: fcn.span().end as usize,
                    now: *now,
                });
            }
        });
    }
    if calls.is_empty() {
        return text.to_owned();
    }
    apply(text, calls)
}

/// Replaces the calls, innermost and last first, shifting the ranges of the calls that
/// contain a replaced one.
fn apply(text: &str, mut calls: Vec<Call>) -> String {
    let mut text = text.to_owned();
    calls.sort_by_key(|c| std::cmp::Reverse((c.span.0, usize::MAX - c.span.1)));
    let mut pending: std::collections::VecDeque<Call> = calls.into();
    while let Some(call) = pending.pop_front() {
        let (start, end) = call.span;
        let Some(replacement) = replacement(&text, &call) else {
            continue;
        };
        if text.get(start..end).is_none() {
            continue;
        }
        text.replace_range(start..end, &replacement);
        let delta = replacement.len() as isize - (end - start) as isize;
        // Every call still to come starts before this one: those around it end later.
        for other in &mut pending {
            if other.span.1 >= end {
                other.span.1 = (other.span.1 as isize + delta) as usize;
            }
        }
    }
    text
}

/// The text a call becomes, from the (already rewritten) text of its arguments.
fn replacement(text: &str, call: &Call) -> Option<String> {
    let arguments = split_arguments(text.get(call.name_end..call.span.1)?)?;
    let argument = |i: usize| -> Option<&str> { arguments.get(i).map(|a| a.trim()) };
    // Names no policy is likely to use, and none that policyrun reserves: a comprehension's
    // own variables.
    let (item, collection) = (
        format!("__deprecated_item_{}", call.index),
        format!("__deprecated_collection_{}", call.index),
    );
    let items = |c: &str| format!("{collection} := {c}; {item} := {collection}[_]");
    Some(match call.now {
        Now::Renamed(current) => format!("{current}{}", text.get(call.name_end..call.span.1)?),
        Now::Difference => format!("(({}) - ({}))", argument(0)?, argument(1)?),
        Now::All => format!(
            "(count([{item} | {}; {item} != true]) == 0)",
            items(argument(0)?)
        ),
        Now::Any => format!(
            "(count([{item} | {}; {item} == true]) > 0)",
            items(argument(0)?)
        ),
        Now::ToArray => format!("[{item} | {}]", items(argument(0)?)),
        Now::ToSet => format!("{{{item} | {}}}", items(argument(0)?)),
        Now::Same => format!("({})", argument(0)?),
    })
}

/// The arguments of `( a, b )` (the text after a call's name), split at the commas outside
/// brackets, braces, parentheses, strings and comments; `None` when it is not such a list.
fn split_arguments(list: &str) -> Option<Vec<&str>> {
    let inner = list.trim().strip_prefix('(')?.strip_suffix(')')?;
    let bytes = inner.as_bytes();
    let mut arguments = Vec::new();
    let (mut depth, mut start, mut at) = (0usize, 0usize, 0usize);
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
            }
            b'`' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'`' {
                    at += 1;
                }
            }
            b'#' => {
                while at < bytes.len() && bytes[at] != b'\n' {
                    at += 1;
                }
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.checked_sub(1)?,
            b',' if depth == 0 => {
                arguments.push(&inner[start..at]);
                start = at + 1;
            }
            _ => {}
        }
        at += 1;
    }
    if depth != 0 {
        return None;
    }
    if !inner[start..].trim().is_empty() {
        arguments.push(&inner[start..]);
    }
    Some(arguments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(module: &str, rule: &str) -> String {
        let rewritten = rewrite_v0("m.rego", module);
        let mut engine = Engine::new();
        engine.set_rego_v0(true);
        engine
            .add_policy("m.rego".into(), rewritten.clone())
            .unwrap_or_else(|e| panic!("{e}\n{rewritten}"));
        engine
            .eval_rule(format!("data.p.{rule}"))
            .unwrap_or_else(|e| panic!("{e}\n{rewritten}"))
            .to_json_str()
            .unwrap()
            .split_whitespace()
            .collect()
    }

    #[test]
    fn deprecated_built_ins_mean_what_opa_defines_them_as() {
        let module = r#"package p
a = v { v := re_match("^a", "abc") }
b = v { v := net.cidr_overlap("10.0.0.0/8", "10.1.2.3") }
c = v { v := set_diff({1, 2, 3}, {2}) }
d = v { v := all([true, true]) }
e = v { v := all({true, false}) }
f = v { v := any([false, true]) }
g = v { v := any(set()) }
h = v { v := cast_array({2, 1}) }
i = v { v := cast_set([1, 1, 2]) }
j = v { v := cast_string("s") }
k = v { v := all([x | x := [1, 2][_]; x > 0]) }
l = v { v := count(cast_set(cast_array({3, 1}))) }"#;
        for (rule, expected) in [
            ("a", "true"),
            ("b", "true"),
            ("c", "[1,3]"),
            ("d", "true"),
            ("e", "false"),
            ("f", "true"),
            ("g", "false"),
            ("h", "[1,2]"),
            ("i", "[1,2]"),
            ("j", "\"s\""),
            ("k", "false"),
            ("l", "2"),
        ] {
            assert_eq!(value(module, rule), expected, "{rule}");
        }
    }

    #[test]
    fn lines_stay_and_own_functions_are_left_alone() {
        let module = "package p\nx { re_match(\n  \"^a\",\n  \"abc\") }\ny = 1\n";
        let rewritten = rewrite_v0("m.rego", module);
        assert_eq!(rewritten.lines().count(), module.lines().count());
        assert!(rewritten.contains("regex.match("), "{rewritten}");
        // A package's own `all` is what its calls mean.
        let own = "package p\nall(x) = 7\ny = v { v := all([false]) }\n";
        assert_eq!(rewrite_v0("m.rego", own), own);
    }
}
