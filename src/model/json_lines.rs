//! The line of a JSON pointer in a JSON text. Findings about a generated object must land on
//! the line of the generated file a person opens and fixes, but the parsed value the checks
//! read has forgotten where its parts were: this scanner reads the text again, once, for
//! the pointers a report wants.

use std::collections::{HashMap, HashSet};

use crate::model::outcome::pointer_segment;

/// The 1-based line where the value `pointer` (RFC 6901) names starts in `text`; `None`
/// when the text is not JSON or holds nothing there. The whole text is `""`.
pub fn line_of(text: &str, pointer: &str) -> Option<usize> {
    lines_of(text, &[pointer])[0]
}

/// The line of the deepest value on the way to `pointer` that the text holds: a finding
/// about a field that is missing (or that a check added, as a default) is placed on the
/// object that lacks it.
pub fn nearest_line(text: &str, pointer: &str) -> Option<usize> {
    let mut ancestors = vec![""];
    ancestors.extend(
        pointer
            .char_indices()
            .filter(|&(_, c)| c == '/')
            .skip(1)
            .map(|(at, _)| &pointer[..at]),
    );
    if !pointer.is_empty() {
        ancestors.push(pointer);
    }
    lines_of(text, &ancestors).into_iter().flatten().last()
}

/// [`line_of`] for several pointers in one pass over the text, so that the objects of a
/// large List cost one reading of its file, not one per object. Only the containers on the
/// way to a wanted pointer are entered; the rest is skipped. With duplicate keys the last
/// one counts, as it does when the text is parsed.
pub fn lines_of(text: &str, pointers: &[&str]) -> Vec<Option<usize>> {
    let mut wanted: HashMap<&str, usize> = HashMap::new();
    let mut on_the_way: HashSet<&str> = HashSet::new();
    for (index, pointer) in pointers.iter().enumerate() {
        if !pointer.is_empty() && !pointer.starts_with('/') {
            continue;
        }
        wanted.insert(pointer, index);
        on_the_way.extend(
            pointer
                .char_indices()
                .filter(|&(_, c)| c == '/')
                .map(|(at, _)| &pointer[..at]),
        );
    }
    let mut found = vec![None; pointers.len()];
    let mut scanner = Scanner {
        text: text.as_bytes(),
        at: 0,
        line: 1,
    };
    let mut walk = Walk {
        wanted: &wanted,
        on_the_way: &on_the_way,
        found: HashMap::new(),
        pointer: String::new(),
    };
    scanner.space();
    let walked = walk.value(&mut scanner, 0);
    scanner.space();
    // A value cut short, or text after it: not JSON, so no line is trusted.
    if walked.is_none() || scanner.at != text.len() {
        return found;
    }
    for (pointer, line) in walk.found {
        // Several equal pointers in the request each get the line.
        for (index, wanted) in pointers.iter().enumerate() {
            if *wanted == pointer {
                found[index] = Some(line);
            }
        }
    }
    found
}

/// Deeper than this, the text is not one the gate produced (serde_json refuses to parse
/// past 128 levels): give up rather than recurse.
const MAX_DEPTH: usize = 512;

/// A position in the text and its line.
struct Scanner<'t> {
    text: &'t [u8],
    at: usize,
    line: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn space(&mut self) {
        while let Some(byte) = self.peek() {
            match byte {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => return,
            }
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek() == Some(byte)).then(|| self.at += 1)
    }

    /// A string, decoded; the scanner stands on its opening quote. A raw newline cannot be
    /// inside a JSON string, so the line does not move.
    fn string(&mut self) -> Option<String> {
        self.expect(b'"')?;
        let mut bytes = Vec::new();
        loop {
            let byte = self.peek()?;
            self.at += 1;
            match byte {
                b'"' => return String::from_utf8(bytes).ok(),
                b'\\' => {
                    let escape = self.peek()?;
                    self.at += 1;
                    let plain = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    };
                    let mut buffer = [0; 4];
                    bytes.extend_from_slice(plain.encode_utf8(&mut buffer).as_bytes());
                }
                byte if byte < 0x20 => return None,
                byte => bytes.push(byte),
            }
        }
    }

    /// The character of `\uXXXX` (the scanner past the `u`), a surrogate pair read whole;
    /// a lone surrogate becomes U+FFFD, as serde_json would refuse it anyway.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) && self.text[self.at..].starts_with(b"\\u") {
            let saved = self.at;
            self.at += 2;
            let second = self.hex4()?;
            if (0xDC00..0xE000).contains(&second) {
                let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                return char::from_u32(code);
            }
            self.at = saved;
        }
        Some(char::from_u32(first).unwrap_or('\u{FFFD}'))
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.at..self.at + 4)?;
        let digits = std::str::from_utf8(digits).ok()?;
        let value = u32::from_str_radix(digits, 16).ok()?;
        self.at += 4;
        Some(value)
    }

    /// Past one value without looking inside it (strings aside, brackets are only counted).
    fn skip(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            self.space();
            match self.peek()? {
                b'"' => {
                    self.string()?;
                }
                b'{' | b'[' => {
                    depth += 1;
                    self.at += 1;
                }
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    self.at += 1;
                }
                b',' | b':' if depth > 0 => self.at += 1,
                _ => {
                    // A number, `true`, `false` or `null`: up to the next delimiter.
                    let start = self.at;
                    while let Some(byte) = self.peek() {
                        if matches!(byte, b',' | b'}' | b']' | b':' | b'"')
                            || byte.is_ascii_whitespace()
                        {
                            break;
                        }
                        self.at += 1;
                    }
                    if self.at == start {
                        return None;
                    }
                }
            }
            if depth == 0 {
                return Some(());
            }
        }
    }
}

/// What the walk looks for and what it found, with the pointer of the value it is at.
struct Walk<'p> {
    wanted: &'p HashMap<&'p str, usize>,
    on_the_way: &'p HashSet<&'p str>,
    found: HashMap<String, usize>,
    pointer: String,
}

impl Walk<'_> {
    /// The value the scanner stands on (whitespace before it already read).
    fn value(&mut self, scanner: &mut Scanner, depth: usize) -> Option<()> {
        if self.wanted.contains_key(self.pointer.as_str()) {
            self.found.insert(self.pointer.clone(), scanner.line);
        }
        if depth > MAX_DEPTH || !self.on_the_way.contains(self.pointer.as_str()) {
            return scanner.skip();
        }
        match scanner.peek()? {
            b'{' => {
                scanner.at += 1;
                scanner.space();
                if scanner.expect(b'}').is_some() {
                    return Some(());
                }
                loop {
                    scanner.space();
                    let key = scanner.string()?;
                    scanner.space();
                    scanner.expect(b':')?;
                    scanner.space();
                    self.member(&pointer_segment(&key), scanner, depth)?;
                    scanner.space();
                    if scanner.expect(b'}').is_some() {
                        return Some(());
                    }
                    scanner.expect(b',')?;
                }
            }
            b'[' => {
                scanner.at += 1;
                scanner.space();
                if scanner.expect(b']').is_some() {
                    return Some(());
                }
                for index in 0usize.. {
                    scanner.space();
                    self.member(&index.to_string(), scanner, depth)?;
                    scanner.space();
                    if scanner.expect(b']').is_some() {
                        break;
                    }
                    scanner.expect(b',')?;
                }
                Some(())
            }
            _ => scanner.skip(),
        }
    }

    fn member(&mut self, segment: &str, scanner: &mut Scanner, depth: usize) -> Option<()> {
        let length = self.pointer.len();
        self.pointer.push('/');
        self.pointer.push_str(segment);
        let walked = self.value(scanner, depth + 1);
        self.pointer.truncate(length);
        walked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value, json};

    /// Where serde_json's pretty printer puts every value, computed from the value alone:
    /// a scalar or an empty container takes one line, any other container a line to open,
    /// its members' lines and a line to close.
    fn reference_lines(value: &Value, pointer: &str, line: usize, out: &mut Vec<(String, usize)>) {
        out.push((pointer.to_owned(), line));
        let mut next = line + 1;
        let mut member = |segment: String, value: &Value, next: &mut usize| {
            let inner = format!("{pointer}/{segment}");
            reference_lines(value, &inner, *next, out);
            *next += printed_lines(value);
        };
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    member(pointer_segment(key), value, &mut next);
                }
            }
            Value::Array(items) => {
                for (index, value) in items.iter().enumerate() {
                    member(index.to_string(), value, &mut next);
                }
            }
            _ => {}
        }
    }

    fn printed_lines(value: &Value) -> usize {
        match value {
            Value::Object(map) if !map.is_empty() => {
                2 + map.values().map(printed_lines).sum::<usize>()
            }
            Value::Array(items) if !items.is_empty() => {
                2 + items.iter().map(printed_lines).sum::<usize>()
            }
            _ => 1,
        }
    }

    /// A small deterministic generator (splitmix64): the test needs variety, not quality.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn key(&mut self) -> String {
            // Keys a pointer must escape or a JSON text must escape, and plain ones.
            const PIECES: &[&str] = &[
                "a", "name", "/", "~", "~1", "~0", "\"", "\\", "\n", "\t", "\u{1}", "é", "😀", "0",
                "01", "items", " ", "\u{7f}", "a/b", "}", "]", ",", ":",
            ];
            (0..self.below(4))
                .map(|_| PIECES[self.below(PIECES.len() as u64) as usize])
                .collect()
        }

        fn value(&mut self, depth: usize) -> Value {
            // The top is a container (what is there to point into otherwise), the deepest
            // levels scalars.
            let kind = match depth {
                0 => 4 + self.below(3),
                1..=4 => self.below(7),
                _ => self.below(4),
            };
            match kind {
                0 => Value::Null,
                1 => Value::Bool(self.below(2) == 0),
                2 => json!(self.next() as i64 >> self.below(60)),
                3 => Value::String(self.key()),
                4 | 5 => {
                    let mut map = Map::new();
                    for _ in 0..self.below(5) {
                        map.insert(self.key(), self.value(depth + 1));
                    }
                    Value::Object(map)
                }
                _ => Value::Array((0..self.below(5)).map(|_| self.value(depth + 1)).collect()),
            }
        }
    }

    #[test]
    fn every_pointer_of_random_pretty_printed_values_is_on_its_line() {
        let mut random = Random(28);
        let mut checked = 0;
        for _ in 0..500 {
            let value = random.value(0);
            let text = serde_json::to_string_pretty(&value).unwrap();
            let mut expected = Vec::new();
            reference_lines(&value, "", 1, &mut expected);
            assert_eq!(text.lines().count(), printed_lines(&value), "{text}");
            let pointers: Vec<&str> = expected.iter().map(|(p, _)| p.as_str()).collect();
            let found = lines_of(&text, &pointers);
            for ((pointer, line), found) in expected.iter().zip(&found) {
                assert_eq!(*found, Some(*line), "{pointer:?} in\n{text}");
                assert_eq!(line_of(&text, pointer), Some(*line));
                // The pointer names the value it found.
                assert!(value.pointer(pointer).is_some(), "{pointer:?}");
                checked += 1;
            }
            // The same value printed on one line: every pointer is on line 1.
            let compact = serde_json::to_string(&value).unwrap();
            for pointer in &pointers {
                assert_eq!(line_of(&compact, pointer), Some(1));
            }
        }
        assert!(checked > 2000, "only {checked} pointers checked");
    }

    #[test]
    fn lists_in_lists_and_escaped_keys() {
        let text = r#"{
  "apiVersion": "v1",
  "items": [
    {
      "kind": "List",
      "items": [
        { "kind": "A" },
        {
          "kind": "B",
          "metadata": { "annotations": { "a/b~c": "x", "\"q\u00e9\"": 1, "\ud83d\ude00": 2 } }
        }
      ]
    }
  ],
  "kind": "List"
}
"#;
        assert_eq!(line_of(text, ""), Some(1));
        assert_eq!(line_of(text, "/items/0"), Some(4));
        assert_eq!(line_of(text, "/items/0/items/0"), Some(7));
        assert_eq!(line_of(text, "/items/0/items/1"), Some(8));
        assert_eq!(line_of(text, "/items/0/items/1/kind"), Some(9));
        let annotations = "/items/0/items/1/metadata/annotations";
        assert_eq!(line_of(text, &format!("{annotations}/a~1b~0c")), Some(10));
        assert_eq!(line_of(text, &format!("{annotations}/\"qé\"")), Some(10));
        assert_eq!(line_of(text, &format!("{annotations}/😀")), Some(10));
        assert_eq!(line_of(text, "/kind"), Some(15));
        // Not there: an index past the end, a leading zero, a key that is not one.
        assert_eq!(line_of(text, "/items/1"), None);
        assert_eq!(line_of(text, "/items/00"), None);
        assert_eq!(line_of(text, "/items/0/items/1/spec"), None);
        assert_eq!(line_of(text, "no-slash"), None);
        // The nearest: the object a missing field belongs in.
        assert_eq!(
            nearest_line(text, "/items/0/items/1/spec/replicas"),
            Some(8)
        );
        assert_eq!(nearest_line(text, "/items/0/items/1/kind"), Some(9));
        assert_eq!(nearest_line(text, "/missing"), Some(1));
        assert_eq!(nearest_line(text, ""), Some(1));
        let many = lines_of(text, &["/kind", "/items/0/items/0", "/kind", "/nope"]);
        assert_eq!(many, vec![Some(15), Some(7), Some(15), None]);
    }

    #[test]
    fn the_last_of_duplicate_keys_counts_and_broken_text_finds_nothing() {
        let text = "{\n\"a\": 1,\n\"a\": {\n\"b\": 2}\n}";
        assert_eq!(line_of(text, "/a"), Some(3));
        assert_eq!(line_of(text, "/a/b"), Some(4));
        assert_eq!(line_of("{\"a\": [1, 2", "/a/1"), None);
        assert_eq!(line_of("{\"a\": \"\\x\"}", "/a"), None);
        assert_eq!(line_of("", ""), None);
        assert_eq!(line_of("  \n 7", ""), Some(2));
    }
}
