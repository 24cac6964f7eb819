//! Which paths a jsonnet source imports as code. jrsonnet asks the import resolver for a file
//! the same way whether the source says `import`, `importstr` or `importbin`, but only
//! `import` parses what it reads, and only a parsed file can overflow the parser's stack by
//! nesting deep. Import paths are string literals, so the kind of every import is in the
//! importing source's tokens: this module reads them with jrsonnet's own lexer and string
//! decoding, so that it sees exactly what the parser will.

use std::collections::HashSet;

use jrsonnet_ir::unescape::unescape;
use jrsonnet_lexer::{Lexer, SyntaxKind, collect_lexed_str_block};

/// The paths one source imports with `import`, as written (relative to the source or an
/// import path), or `Any` when that cannot be told (then every import from it counts as
/// code: a refusal is an error the author can read, a missed check a crashed run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CodeImports {
    Paths(HashSet<String>),
    Any,
}

impl CodeImports {
    /// Whether `requested`, a path this source imports, is imported as code.
    pub(crate) fn includes(&self, requested: &str) -> bool {
        match self {
            CodeImports::Paths(paths) => paths.contains(requested),
            CodeImports::Any => true,
        }
    }
}

/// One `import`, `importstr` or `importbin` of a source, as jsonnet's lexer reads it.
pub(crate) struct ImportSite {
    /// `import` (parsed as code), not `importstr` or `importbin`.
    pub(crate) as_code: bool,
    /// The path, decoded as the parser decodes it; `None` when no string literal follows
    /// (a static error: the source never runs).
    pub(crate) path: Option<String>,
    /// Byte range from the keyword to the end of the literal (of the keyword without one).
    pub(crate) span: (usize, usize),
}

/// Every import of `source`, in order. The parser takes the expression after the keyword
/// and accepts only a string literal, possibly in parentheses.
pub(crate) fn import_sites(source: &str) -> Vec<ImportSite> {
    let mut tokens = Lexer::new(source).filter(|token| {
        !matches!(
            token.kind,
            SyntaxKind::WHITESPACE
                | SyntaxKind::SINGLE_LINE_SLASH_COMMENT
                | SyntaxKind::SINGLE_LINE_HASH_COMMENT
                | SyntaxKind::MULTI_LINE_COMMENT
        )
    });
    let mut sites = Vec::new();
    while let Some(token) = tokens.next() {
        let as_code = match token.kind {
            SyntaxKind::IMPORT_KW => true,
            SyntaxKind::IMPORTSTR_KW | SyntaxKind::IMPORTBIN_KW => false,
            _ => continue,
        };
        let literal = tokens.by_ref().find(|t| t.kind != SyntaxKind::L_PAREN);
        let path = literal.and_then(|t| string_value(t.kind, t.text));
        let end = match (&path, literal) {
            (Some(_), Some(literal)) => literal.range.1,
            _ => token.range.1,
        };
        sites.push(ImportSite {
            as_code,
            path,
            span: (token.range.0 as usize, end as usize),
        });
    }
    sites
}

/// The paths `source` imports as code; anything but a string literal after `import` is a
/// static error and the source never runs, but the import counts as code all the same.
pub(crate) fn code_imports(source: &str) -> CodeImports {
    let mut paths = HashSet::new();
    for site in import_sites(source).into_iter().filter(|s| s.as_code) {
        match site.path {
            Some(path) => {
                paths.insert(path);
            }
            None => return CodeImports::Any,
        }
    }
    CodeImports::Paths(paths)
}

/// Where `source` imports `requested` (with `import`, `importstr` or `importbin`): the byte
/// range from the keyword to the end of the path's literal, as the C++ jsonnet tool marks
/// an import it cannot open. The first such import, if any.
pub(crate) fn import_span(source: &str, requested: &str) -> Option<(usize, usize)> {
    import_sites(source)
        .into_iter()
        .find(|site| site.path.as_deref() == Some(requested))
        .map(|site| site.span)
}

/// The value of a string literal token, decoded as the parser decodes it.
fn string_value(kind: SyntaxKind, text: &str) -> Option<String> {
    match kind {
        SyntaxKind::STRING_DOUBLE | SyntaxKind::STRING_SINGLE => {
            unescape(text.get(1..text.len().checked_sub(1)?)?)
        }
        SyntaxKind::STRING_DOUBLE_VERBATIM => Some(
            text.get(2..text.len().checked_sub(1)?)?
                .replace("\"\"", "\""),
        ),
        SyntaxKind::STRING_SINGLE_VERBATIM => {
            Some(text.get(2..text.len().checked_sub(1)?)?.replace("''", "'"))
        }
        SyntaxKind::STRING_BLOCK => {
            let block = collect_lexed_str_block(text.get(3..)?).ok()?;
            let mut value = block.lines.join("\n");
            if !block.truncate {
                value.push('\n');
            }
            Some(value)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(source: &str) -> Vec<String> {
        match code_imports(source) {
            CodeImports::Paths(paths) => {
                let mut paths: Vec<String> = paths.into_iter().collect();
                paths.sort();
                paths
            }
            CodeImports::Any => vec!["<any>".to_owned()],
        }
    }

    #[test]
    fn only_import_counts_and_every_literal_form_is_decoded() {
        let source = r#"
            local a = import 'a.libsonnet';
            local t = importstr 'text.data';
            local b = importbin "blob.data";
            {
              b: import "b\u002ejson",
              c: (import @'c''q.data').x,
              d: import ('d.data'),
              e: import /* a comment */ # and another
                 'e.data',
              f: import |||
                f.data
              |||,
            }
        "#;
        assert_eq!(
            paths(source),
            [
                "a.libsonnet",
                "b.json",
                "c'q.data",
                "d.data",
                "e.data",
                "f.data\n"
            ]
        );
    }

    #[test]
    fn imports_in_strings_and_comments_are_not_imports() {
        let source =
            "// import 'x'\n/* import 'y' */ { s: \"import 'z'\", t: |||\n  import 'w'\n||| }";
        assert_eq!(paths(source), Vec::<String>::new());
    }

    #[test]
    fn an_import_that_cannot_be_read_counts_as_importing_anything() {
        for source in [
            "import x",
            "import",
            "import 'a' + import std.thisFile",
            "import 'bad \\q escape'",
        ] {
            assert_eq!(code_imports(source), CodeImports::Any, "{source}");
        }
        assert!(CodeImports::Any.includes("anything"));
        assert!(!code_imports("import 'a'").includes("b"));
    }
}
