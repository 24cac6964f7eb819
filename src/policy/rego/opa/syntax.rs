//! Where regorus' parser reads a module otherwise than OPA's, the text is changed before it
//! is parsed so that regorus reads what OPA reads:
//!
//! - **A term followed by `(` after a space or line break is no call in OPA**: its parser
//!   continues a reference or call only with a `(`, `[` or `.` that follows the term
//!   directly, and ends an expression at a line break. `input.spread` on one line and
//!   `(input.max - input.min) < input.spread` on the next are two expressions for OPA;
//!   regorus reads a call of `input.spread`. A `;` after the term makes regorus end the
//!   expression there too (where OPA refuses the module, regorus then refuses it too). On one
//!   line (`count ([1])`) OPA refuses the module, and so does policyrun.
//! - **Chained rule bodies** (`deny[msg] { input.a; msg := "a" } { input.b; msg := "b" }`) are
//!   for OPA as many definitions of the rule, each with the same head. regorus refuses them
//!   for a set rule ("else cannot be used with set rules") and evaluates them as `else`
//!   branches for any other rule. Each chained body gets a copy of the head, on the line
//!   where the body starts.

use std::path::PathBuf;

use regorus::unstable::{Lexer, Module, Parser, Rule, Source, Token, TokenKind};

use super::super::problem::{self, Problem};

/// Words before which a `(` never calls anything.
const KEYWORDS: &[&str] = &[
    "not", "if", "else", "some", "every", "in", "contains", "with", "as", "default", "import",
    "package",
];

/// The module's text as OPA's parser would read it, ready for regorus' parser in the given
/// dialect; a problem where OPA refuses what regorus would read otherwise.
pub fn prepare(name: &str, text: &str, v0: bool) -> Result<String, Problem> {
    let mut text = end_expressions_before_parentheses(name, text)?;
    if !v0 {
        text = without_rego_v1_import(name, text);
    }
    split_chained_bodies(name, text, v0)
}

/// The text without `import rego.v1`, which says nothing to regorus' v1 parser and makes
/// `v1` a name of the module there: a variable `v1` (`some v1 in xs`) then fails the whole
/// module ("var `v1` used before definition below"). OPA binds no name with it. The import
/// becomes spaces, so every place keeps its line and column.
fn without_rego_v1_import(name: &str, mut text: String) -> String {
    let tokens = tokens(name, &text);
    let mut blanks = Vec::new();
    for (i, window) in tokens.windows(4).enumerate() {
        let words: Vec<&str> = window.iter().map(|t| t.1.text()).collect();
        let aliased = tokens.get(i + 4).is_some_and(|t| t.1.text() == "as");
        if words == ["import", "rego", ".", "v1"] && !aliased {
            blanks.push((window[0].1.start as usize, window[3].1.end as usize));
        }
    }
    for (start, end) in blanks {
        text.replace_range(start..end, &" ".repeat(end - start));
    }
    text
}

/// Every token of a text, or `None` where the lexer stops (the parser reports that).
fn tokens(name: &str, text: &str) -> Vec<Token> {
    let Ok(source) = Source::from_contents(name.to_owned(), text.to_owned()) else {
        return Vec::new();
    };
    let mut lexer = Lexer::new(&source);
    let mut found = Vec::new();
    while let Ok(token) = lexer.next_token() {
        if token.0 == TokenKind::Eof {
            break;
        }
        found.push(token);
    }
    found
}

/// Puts a `;` after every term that a `(` follows on a later line, and refuses a `(` after a
/// space on the same line (see the module's header).
fn end_expressions_before_parentheses(name: &str, text: &str) -> Result<String, Problem> {
    let tokens = tokens(name, text);
    let mut inserts = Vec::new();
    for pair in tokens.windows(2) {
        let (before, paren) = (&pair[0], &pair[1]);
        if paren.0 != TokenKind::Symbol || paren.1.text() != "(" {
            continue;
        }
        if before.1.end as usize >= paren.1.start as usize {
            continue; // `f(`: a call, as in OPA
        }
        let ends_term = match before.0 {
            TokenKind::Ident => !KEYWORDS.contains(&before.1.text()),
            TokenKind::Symbol => matches!(before.1.text(), "]" | ")"),
            _ => false,
        };
        if !ends_term {
            continue;
        }
        if before.1.line == paren.1.line {
            return Err(Problem {
                file: PathBuf::from(name),
                line: Some(paren.1.line as usize),
                column: Some(paren.1.col as usize),
                message: format!(
                    "`{} (` with a space before `(` is no call in OPA, which refuses the module (\"unexpected ( token\"); write `{}(` for a call",
                    before.1.text(),
                    before.1.text()
                ),
                detail: None,
            });
        }
        inserts.push(before.1.end as usize);
    }
    if inserts.is_empty() {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len() + inserts.len());
    let mut at = 0;
    for insert in inserts {
        out.push_str(&text[at..insert]);
        out.push(';');
        at = insert;
    }
    out.push_str(&text[at..]);
    Ok(out)
}

/// The module as regorus' parser reads it in the given dialect, or the parser's error text.
fn parse(name: &str, text: &str, v0: bool) -> Result<Module, String> {
    let source =
        Source::from_contents(name.to_owned(), text.to_owned()).map_err(|e| e.to_string())?;
    let mut parser = Parser::new(&source).map_err(|e| e.to_string())?;
    if !v0 {
        parser.enable_rego_v1().map_err(|e| e.to_string())?;
    }
    parser.parse().map_err(|e| e.to_string())
}

/// The regorus error for a chained body of a set rule.
const SET_RULE_ELSE: &str = "else cannot be used with set rules";

/// Gives every chained rule body a copy of its rule's head (see the module's header).
fn split_chained_bodies(name: &str, mut text: String, v0: bool) -> Result<String, Problem> {
    // A chained body is a `{` right after a `}`: without one, nothing to parse for.
    let tokens = tokens(name, &text);
    if !tokens
        .windows(2)
        .any(|pair| pair[0].1.text() == "}" && pair[1].1.text() == "{")
    {
        return Ok(text);
    }
    // Each round separates one chained body; a module has fewer than it has `{`.
    let rounds = text.matches('{').count() + 1;
    for _ in 0..rounds {
        let split = match parse(name, &text, v0) {
            Ok(module) => module.policy.iter().find_map(|rule| chained(&text, rule)),
            Err(message) => {
                if !message.contains(SET_RULE_ELSE) {
                    return Ok(text); // regorus' own error, reported where the module is added
                }
                chained_set_rule(name, &text, &message, v0)
            }
        };
        let Some((at, head, with_if)) = split else {
            return Ok(text);
        };
        let copy = one_line_head(name, &head).map_err(|why| Problem {
            file: PathBuf::from(name),
            line: Some(line_of(&text, at)),
            column: None,
            message: format!("cannot give this chained rule body the rule's head: {why}"),
            detail: None,
        })?;
        let keyword = if with_if { " if " } else { " " };
        text.insert_str(at, &format!("{copy}{keyword}"));
    }
    Ok(text)
}

/// The first chained body of a rule parsed without error: its offset, the rule's head text
/// and whether the rule's first body started with `if`.
fn chained(text: &str, rule: &regorus::unstable::Ref<Rule>) -> Option<(usize, String, bool)> {
    let Rule::Spec { span, bodies, .. } = rule.as_ref() else {
        return None;
    };
    let first = bodies.first()?;
    let body = bodies.iter().skip(1).find(|b| !b.is_else)?;
    let start = span.start as usize;
    let first_start = first.span.start as usize;
    Some((
        body.span.start as usize,
        text[start..first_start].trim_end().to_owned(),
        text[first_start..].starts_with("if"),
    ))
}

/// A set rule's chained body, which regorus refuses: the rule up to that body parses, and
/// gives the head.
fn chained_set_rule(
    name: &str,
    text: &str,
    message: &str,
    v0: bool,
) -> Option<(usize, String, bool)> {
    let (_, (line, column)) = problem::engine_error(message);
    let brace = tokens(name, text)
        .into_iter()
        .find(|t| t.1.line as usize == line && t.1.col as usize == column)?;
    if brace.1.text() != "{" {
        return None; // an `else` on a set rule: OPA refuses it too
    }
    let at = brace.1.start as usize;
    let module = parse(name, &text[..at], v0).ok()?;
    let rule = module.policy.last()?;
    let Rule::Spec { span, bodies, .. } = rule.as_ref() else {
        return None;
    };
    let first_start = bodies.first()?.span.start as usize;
    Some((
        at,
        text[span.start as usize..first_start].trim_end().to_owned(),
        text[first_start..].starts_with("if"),
    ))
}

/// A rule head on one line without comments, to be copied in front of a chained body.
fn one_line_head(name: &str, head: &str) -> Result<String, String> {
    if !head.contains(['\n', '\r', '#']) {
        return Ok(head.to_owned());
    }
    let mut parts = Vec::new();
    for token in tokens(name, head) {
        let (start, end) = match token.0 {
            // The lexer places a string at its contents; the quotes are one byte each.
            TokenKind::String | TokenKind::RawString => {
                (token.1.start as usize - 1, token.1.end as usize + 1)
            }
            _ => (token.1.start as usize, token.1.end as usize),
        };
        let part = &head[start..end];
        if part.contains('\n') {
            return Err("its head holds a raw string that spans lines".into());
        }
        parts.push(part.to_owned());
    }
    Ok(parts.join(" "))
}

fn line_of(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(text: &str, v0: bool) -> String {
        prepare("m.rego", text, v0).unwrap()
    }

    #[test]
    fn a_parenthesis_on_the_next_line_starts_an_expression() {
        let text =
            "package p\nr if {\n\tinput.spread\n\t(input.max - input.min) < input.spread\n}\n";
        assert_eq!(
            prepared(text, false),
            "package p\nr if {\n\tinput.spread;\n\t(input.max - input.min) < input.spread\n}\n"
        );
        // A comment between them changes nothing; calls, keywords and operators stay.
        let text =
            "package p\nr if {\n\tx.y # c\n\t(1) > 0\n\tf(1)\n\tnot\n\t(a)\n\tx := 1 +\n\t(2)\n}\n";
        assert_eq!(
            prepared(text, false),
            "package p\nr if {\n\tx.y; # c\n\t(1) > 0\n\tf(1)\n\tnot\n\t(a)\n\tx := 1 +\n\t(2)\n}\n"
        );
    }

    #[test]
    fn a_parenthesis_after_a_space_on_the_same_line_is_refused_as_opa_refuses_it() {
        let problem = prepare("m.rego", "package p\nr if count ([1]) == 1\n", false).unwrap_err();
        assert_eq!((problem.line, problem.column), (Some(2), Some(12)));
        assert!(problem.message.contains("`count (`"), "{}", problem.message);
    }

    #[test]
    fn chained_bodies_get_the_head_on_their_own_line() {
        let v0 = "package main\ndeny[msg] { input.a; msg := \"a\" } { input.b; msg := \"b\" }\n";
        assert_eq!(
            prepared(v0, true),
            "package main\ndeny[msg] { input.a; msg := \"a\" } deny[msg] { input.b; msg := \"b\" }\n"
        );
        let v1 = "package main\np := 5 if {\n\tinput.z\n} {\n\tinput.b\n} {\n\tinput.c\n}\n";
        assert_eq!(
            prepared(v1, false),
            "package main\np := 5 if {\n\tinput.z\n} p := 5 if {\n\tinput.b\n} p := 5 if {\n\tinput.c\n}\n"
        );
        // An `else` is no chained body; a head over lines comes on one line, without comments.
        let text = "package main\nf(x) := 1 { x == 1 } else := 2 { x == 2 }\nq[{\"k\": 1, # c\n  \"v\": 2}] { true } { false }\n";
        assert_eq!(
            prepared(text, true),
            "package main\nf(x) := 1 { x == 1 } else := 2 { x == 2 }\nq[{\"k\": 1, # c\n  \"v\": 2}] { true } q [ { \"k\" : 1 , \"v\" : 2 } ] { false }\n"
        );
    }

    #[test]
    fn a_module_without_either_is_unchanged() {
        let text = "package p\nr contains x if {\n\tsome x in input.a\n\tnot x == \"b\"\n}\n";
        assert_eq!(prepared(text, false), text);
    }

    #[test]
    fn the_rego_v1_import_becomes_spaces_for_the_v1_parser_only() {
        let text = "package p\nimport rego.v1\nimport rego.v1 as r\nr if { some v1 in input.s }\n";
        assert_eq!(
            prepared(text, false),
            "package p\n              \nimport rego.v1 as r\nr if { some v1 in input.s }\n"
        );
        assert_eq!(prepared(text, true), text);
    }
}
