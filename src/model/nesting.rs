//! Refuses jsonnet sources nested deeper than the parsers can take, before they see them.
//! jrsonnet's parser and evaluator and libjsonnet's formatter recurse once per level of the
//! syntax tree; a pull request can write a file of a few hundred kilobytes that nests a
//! hundred thousand levels (`[[[[…`, `-----1`, `1+1+1…`, `a.a.a…`), which aborted the
//! process with a stack overflow or kept the formatter busy for minutes. No hand-written
//! source comes near the limit; a generated one that does gets an error naming its place.
//!
//! The depth is estimated from tokens, without parsing: every open bracket is a level, and
//! within a bracket every operator, `if` and `function` since the last `,`, `;` or `:` adds
//! one (a chain of them nests in the tree), as does every `local` and `assert` (each holds
//! the rest of the expression after its `;`). Strings, text blocks and comments are skipped.
//! The estimate is never below the true nesting of brackets and operator chains.

/// The deepest estimate accepted. Sources nested 50,000 levels parse on the workers'
/// stacks; hand-written jsonnet stays below a hundred.
pub(crate) const LIMIT: usize = 10_000;

/// Where a source first goes deeper than [`LIMIT`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TooDeep {
    pub line: usize,
    pub column: usize,
}

impl TooDeep {
    pub(crate) fn message(&self) -> String {
        format!(
            "nested more than {LIMIT} levels deep (brackets, operator chains, locals); refused before parsing, which would recurse once per level"
        )
    }
}

/// One open bracket (or the top level): what it adds to the depth.
#[derive(Default)]
struct Level {
    /// Operators, `if`s and `function`s since the last separator.
    chain: usize,
    /// `local`s and `assert`s in this bracket.
    held: usize,
}

/// Checks `source` (jsonnet, or JSON) against [`LIMIT`].
pub(crate) fn check(source: &[u8]) -> Result<(), TooDeep> {
    let mut scan = Scan {
        source,
        at: 0,
        line: 1,
        line_start: 0,
    };
    let mut levels = vec![Level::default()];
    let mut depth = 0usize;
    while let Some(byte) = scan.peek(0) {
        // Where this token starts, for the error.
        let (line, column) = (scan.line, scan.at - scan.line_start + 1);
        match byte {
            b'"' | b'\'' => scan.quoted(byte),
            b'@' if matches!(scan.peek(1), Some(b'"' | b'\'')) => {
                scan.advance(1);
                scan.verbatim();
            }
            b'|' if scan.peek(1) == Some(b'|') && scan.peek(2) == Some(b'|') => scan.text_block(),
            b'#' => scan.line_comment(),
            b'/' if scan.peek(1) == Some(b'/') => scan.line_comment(),
            b'/' if scan.peek(1) == Some(b'*') => scan.block_comment(),
            b'(' | b'[' | b'{' => {
                scan.advance(1);
                levels.push(Level::default());
                depth += 1;
            }
            b')' | b']' | b'}' => {
                scan.advance(1);
                if levels.len() > 1 {
                    let closed = levels.pop().unwrap_or_default();
                    depth -= 1 + closed.chain + closed.held;
                }
            }
            b',' | b';' | b':' => {
                scan.advance(1);
                if let Some(level) = levels.last_mut() {
                    depth -= level.chain;
                    level.chain = 0;
                }
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let word = scan.word();
                if let Some(level) = levels.last_mut() {
                    match word {
                        b"local" | b"assert" => {
                            level.held += 1;
                            depth += 1;
                        }
                        b"if" | b"function" => {
                            level.chain += 1;
                            depth += 1;
                        }
                        _ => {}
                    }
                }
            }
            b'0'..=b'9' => {
                // Digits, a fraction and an exponent: no operator inside a number.
                while scan
                    .peek(0)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
                {
                    scan.advance(1);
                }
            }
            b'+' | b'-' | b'*' | b'/' | b'%' | b'!' | b'~' | b'<' | b'>' | b'=' | b'&' | b'|'
            | b'^' | b'.' => {
                scan.advance(1);
                if let Some(level) = levels.last_mut() {
                    level.chain += 1;
                    depth += 1;
                }
            }
            _ => scan.advance(1),
        }
        if depth > LIMIT {
            return Err(TooDeep { line, column });
        }
    }
    Ok(())
}

/// A cursor over the source that keeps count of lines.
struct Scan<'a> {
    source: &'a [u8],
    at: usize,
    line: usize,
    line_start: usize,
}

impl Scan<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.source.get(self.at + ahead).copied()
    }

    fn advance(&mut self, n: usize) {
        for _ in 0..n {
            if self.peek(0) == Some(b'\n') {
                self.line += 1;
                self.line_start = self.at + 1;
            }
            if self.at < self.source.len() {
                self.at += 1;
            }
        }
    }

    fn word(&mut self) -> &[u8] {
        let start = self.at;
        while self
            .peek(0)
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            self.advance(1);
        }
        &self.source[start..self.at]
    }

    /// `"…"` or `'…'` with backslash escapes.
    fn quoted(&mut self, quote: u8) {
        self.advance(1);
        while let Some(byte) = self.peek(0) {
            self.advance(1);
            if byte == b'\\' {
                self.advance(1);
            } else if byte == quote {
                return;
            }
        }
    }

    /// `@"…"` or `@'…'` (the cursor on the quote), where a doubled quote stands for one.
    fn verbatim(&mut self) {
        let Some(quote) = self.peek(0) else { return };
        self.advance(1);
        while let Some(byte) = self.peek(0) {
            self.advance(1);
            if byte == quote {
                if self.peek(0) == Some(quote) {
                    self.advance(1);
                } else {
                    return;
                }
            }
        }
    }

    /// `|||` to the line whose first non-blank characters are `|||`.
    fn text_block(&mut self) {
        self.advance(3);
        loop {
            // To the start of the next line.
            while let Some(byte) = self.peek(0) {
                self.advance(1);
                if byte == b'\n' {
                    break;
                }
            }
            if self.peek(0).is_none() {
                return;
            }
            let mut ahead = 0;
            while matches!(self.peek(ahead), Some(b' ' | b'\t')) {
                ahead += 1;
            }
            if self.peek(ahead) == Some(b'|')
                && self.peek(ahead + 1) == Some(b'|')
                && self.peek(ahead + 2) == Some(b'|')
            {
                self.advance(ahead + 3);
                return;
            }
        }
    }

    fn line_comment(&mut self) {
        while let Some(byte) = self.peek(0) {
            if byte == b'\n' {
                return;
            }
            self.advance(1);
        }
    }

    fn block_comment(&mut self) {
        self.advance(2);
        while let Some(byte) = self.peek(0) {
            self.advance(1);
            if byte == b'*' && self.peek(0) == Some(b'/') {
                self.advance(1);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn too_deep(source: &str) -> Option<(usize, usize)> {
        check(source.as_bytes()).err().map(|e| (e.line, e.column))
    }

    #[test]
    fn every_shape_of_deep_nesting_is_refused() {
        let n = LIMIT + 10;
        for source in [
            format!("{}{}", "[".repeat(n), "]".repeat(n)),
            format!("{}1", "-".repeat(n)),
            format!("1{}", "+1".repeat(n)),
            format!("local x = {{a: x}}; x{}", ".a".repeat(n)),
            format!("{}1", "local a = 1; ".repeat(n)),
            format!("{}1", "assert true; ".repeat(n)),
            format!("{} 0", "if true then 1 else ".repeat(n)),
            format!("{} 0", "function(x)".repeat(n)),
            format!("{}{}", "{a:".repeat(n), "}".repeat(n)),
        ] {
            assert!(too_deep(&source).is_some(), "{}…", &source[..40]);
        }
    }

    #[test]
    fn ordinary_sources_pass() {
        let lib = include_str!("../../lib/kube.libsonnet");
        assert_eq!(too_deep(lib), None);
        // Long, flat: many fields, many elements, long strings of operators in strings.
        let flat = format!(
            "{{ {} }}",
            (0..50_000)
                .map(|i| format!("f{i}: {i} + 1"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert_eq!(too_deep(&flat), None);
        let list = format!("[{}]", vec!["-1.5e3"; 50_000].join(", "));
        assert_eq!(too_deep(&list), None);
    }

    #[test]
    fn strings_text_blocks_and_comments_do_not_count() {
        let n = LIMIT + 10;
        let noise = "[(-+.".repeat(n);
        for source in [
            format!("'{noise}'"),
            format!("\"{noise}\\\"{noise}\""),
            format!("@'{noise}''{noise}'"),
            format!("|||\n  {noise}\n  {noise}\n|||"),
            format!("// {noise}\n1"),
            format!("# {noise}\n1"),
            format!("/* {noise}\n{noise} */ 1"),
        ] {
            assert_eq!(too_deep(&source), None, "{}…", &source[..20]);
        }
    }

    #[test]
    fn the_place_is_where_the_limit_is_crossed() {
        let source = format!("{{\n  a: {}", "[".repeat(LIMIT + 5));
        // The brace is one level, so the LIMIT-th bracket crosses; line 2 starts `  a: `.
        assert_eq!(too_deep(&source), Some((2, 5 + LIMIT)));
    }
}
