//! `sprintf` as OPA computes it: OPA hands the format and the arguments to Go's
//! `fmt.Sprintf`, whose answer to a format that does not fit its arguments is text, never an
//! error — `%!v(MISSING)` for an argument too few, `%!d(string=100m)` for a verb of another
//! type, `%!(EXTRA int64=2)` for one too many. regorus fails the rule on the first and
//! drops text on the second (`"cpu limit "`), so a policy's message, or whether it has one,
//! depends on the engine. This is Go's `fmt` for the four kinds of arguments OPA passes:
//! an integer (`int64`, `*big.Int` beyond it), a `float64`, a string, and the Rego text of
//! anything else (`["a", 1]`, `{"k": 1}`, `true`, `null`).
//!
//! A number is an integer for OPA when its text is (`1`, `1.0`); regorus keeps the value, not
//! the text, so an integral value is taken as an integer. (OPA passes a number written with
//! an exponent and no decimal point, `1e3`, as its text: regorus cannot know that text.)

use regorus::Value;

/// One argument of `sprintf`, as OPA converts it for Go.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Int(i64),
    /// An integer beyond `int64`, as decimal digits (with `-` when negative).
    Big(String),
    Float(f64),
    Str(String),
}

impl Arg {
    fn type_name(&self) -> &'static str {
        match self {
            Arg::Int(_) => "int64",
            Arg::Big(_) => "*big.Int",
            Arg::Float(_) => "float64",
            Arg::Str(_) => "string",
        }
    }

    /// The argument OPA makes of a Rego value.
    pub fn of(value: &Value) -> Arg {
        match value {
            Value::String(s) => Arg::Str(s.to_string()),
            Value::Number(_) => number_arg(value),
            other => Arg::Str(rego_text(other)),
        }
    }
}

/// `sprintf(format, values)` for Rego values: the text, or why the call fails (the format is
/// no string or the values no array — OPA's operand type errors).
pub fn sprintf(format: &Value, values: &Value) -> Result<Value, String> {
    let Value::String(format) = format else {
        return Err(format!(
            "sprintf: operand 1 must be string but got {}",
            type_name(format)
        ));
    };
    let Value::Array(values) = values else {
        return Err(format!(
            "sprintf: operand 2 must be array but got {}",
            type_name(values)
        ));
    };
    let args: Vec<Arg> = values.iter().map(Arg::of).collect();
    Ok(Value::from(go_sprintf(format, &args).as_str()))
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Set(_) => "set",
        Value::Object(_) => "object",
        Value::Undefined => "undefined",
    }
}

/// A number as OPA passes it: an integer (by value, see the module's header) as `int64` or
/// `*big.Int`, anything else as `float64`.
fn number_arg(value: &Value) -> Arg {
    let Ok(number) = value.as_number() else {
        return Arg::Str(rego_text(value));
    };
    let text = number.format_decimal();
    if let Ok(i) = text.parse::<i64>() {
        return Arg::Int(i);
    }
    let digits = text.strip_prefix('-').unwrap_or(&text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Arg::Big(text);
    }
    Arg::Float(number.as_f64().unwrap_or(f64::NAN))
}

/// A value written as Rego writes it (OPA's `Term.String()`): strings quoted as Go quotes
/// them, object keys and set elements in OPA's order, the empty set as `set()`.
pub fn rego_text(value: &Value) -> String {
    let mut out = String::new();
    write_rego(value, &mut out);
    out
}

fn write_rego(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::String(s) => out.push_str(&go_quote(s, false)),
        Value::Number(_) => out.push_str(&number_text(value)),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_rego(item, out);
            }
            out.push(']');
        }
        Value::Set(items) => {
            if items.is_empty() {
                out.push_str("set()");
                return;
            }
            let mut sorted: Vec<&Value> = items.iter().collect();
            sorted.sort_by(|a, b| opa_order(a, b));
            out.push('{');
            for (i, item) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_rego(item, out);
            }
            out.push('}');
        }
        Value::Object(fields) => {
            let mut sorted: Vec<(&Value, &Value)> = fields.iter().collect();
            sorted.sort_by(|a, b| opa_order(a.0, b.0));
            out.push('{');
            for (i, (key, item)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_rego(key, out);
                out.push_str(": ");
                write_rego(item, out);
            }
            out.push('}');
        }
        Value::Undefined => out.push_str("<undefined>"),
    }
}

/// A number's text: an integer in decimal, a fraction as its shortest decimal; a number
/// read as a fraction keeps its `.0` (JSON's `2.0` is `2.0` for OPA too).
fn number_text(value: &Value) -> String {
    let Ok(number) = value.as_number() else {
        return "0".to_owned();
    };
    let text = number.format_decimal();
    let read_as_fraction = format!("{number:?}").starts_with("Float(");
    match number.as_f64() {
        Some(f) if read_as_fraction && f.fract() == 0.0 && f.abs() < 1e16 => format!("{f:.1}"),
        Some(f) if read_as_fraction => format!("{f}"),
        _ => text,
    }
}

/// OPA's order of values: null, booleans, numbers, strings, arrays, objects, sets.
fn opa_order(a: &Value, b: &Value) -> std::cmp::Ordering {
    let rank = |v: &Value| match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
        Value::Set(_) => 6,
        Value::Undefined => 7,
    };
    rank(a).cmp(&rank(b)).then_with(|| a.cmp(b))
}

// ---- Go's fmt ----------------------------------------------------------------------------------

#[derive(Default, Clone, Copy)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

/// Go's `fmt.Sprintf(format, args...)`.
pub fn go_sprintf(format: &str, args: &[Arg]) -> String {
    let bytes = format.as_bytes();
    let end = bytes.len();
    let mut out = String::new();
    let mut arg_num = 0usize;
    let mut reordered = false;
    let mut i = 0usize;
    while i < end {
        let mut good = true;
        let start = i;
        while i < end && bytes[i] != b'%' {
            i += 1;
        }
        out.push_str(&format[start..i]);
        if i >= end {
            break;
        }
        i += 1; // past the `%`
        let mut f = Flags::default();
        while i < end {
            match bytes[i] {
                b'#' => f.sharp = true,
                b'0' => f.zero = !f.minus, // zeros only on the left
                b'+' => f.plus = true,
                b'-' => {
                    f.minus = true;
                    f.zero = false;
                }
                b' ' => f.space = true,
                _ => break,
            }
            i += 1;
        }
        // An argument index, then the width.
        let index = arg_number(arg_num, bytes, i, args.len());
        reordered |= index.bracket;
        good &= index.good;
        (arg_num, i) = (index.arg, index.next);
        let mut after_index = index.found;
        if i < end && bytes[i] == b'*' {
            i += 1;
            let (num, is_int, next) = int_from_arg(args, arg_num);
            arg_num = next;
            if !is_int {
                out.push_str("%!(BADWIDTH)");
            } else if num < 0 {
                f.wid = Some(num.unsigned_abs() as usize);
                f.minus = true;
                f.zero = false;
            } else {
                f.wid = Some(num as usize);
            }
            after_index = false;
        } else {
            let (num, is_num, next) = parse_num(bytes, i, end);
            i = next;
            if is_num {
                f.wid = Some(num);
                if after_index {
                    good = false;
                }
            }
        }
        // The precision.
        if i + 1 < end && bytes[i] == b'.' {
            i += 1;
            if after_index {
                good = false;
            }
            let index = arg_number(arg_num, bytes, i, args.len());
            reordered |= index.bracket;
            good &= index.good;
            (arg_num, i) = (index.arg, index.next);
            after_index = index.found;
            if i < end && bytes[i] == b'*' {
                i += 1;
                let (num, is_int, next) = int_from_arg(args, arg_num);
                arg_num = next;
                // A negative precision is none at all, and as bad as no number.
                f.prec = (is_int && num >= 0).then_some(num as usize);
                if f.prec.is_none() {
                    out.push_str("%!(BADPREC)");
                }
                after_index = false;
            } else {
                let (num, is_num, next) = parse_num(bytes, i, end);
                i = next;
                f.prec = Some(if is_num { num } else { 0 });
            }
        }
        if !after_index {
            let index = arg_number(arg_num, bytes, i, args.len());
            reordered |= index.bracket;
            good &= index.good;
            (arg_num, i) = (index.arg, index.next);
        }
        if i >= end {
            out.push_str("%!(NOVERB)");
            break;
        }
        let verb = format[i..].chars().next().unwrap_or('?');
        i += verb.len_utf8();
        if verb == '%' {
            // A percent sign takes no argument and ignores width and precision.
            out.push('%');
        } else if !good {
            out.push_str(&format!("%!{verb}(BADINDEX)"));
        } else if arg_num >= args.len() {
            out.push_str(&format!("%!{verb}(MISSING)"));
        } else {
            if verb == 'v' {
                f.sharp_v = f.sharp;
                f.sharp = false;
                f.plus_v = f.plus;
                f.plus = false;
            }
            print_arg(&mut out, &args[arg_num], verb, &mut f);
            arg_num += 1;
        }
    }
    if !reordered && arg_num < args.len() {
        out.push_str("%!(EXTRA ");
        for (n, arg) in args[arg_num..].iter().enumerate() {
            if n > 0 {
                out.push_str(", ");
            }
            out.push_str(arg.type_name());
            out.push('=');
            print_arg(&mut out, arg, 'v', &mut Flags::default());
        }
        out.push(')');
    }
    out
}

/// What Go's `argNumber` finds at one place of the format.
struct Index {
    /// The argument to use next.
    arg: usize,
    /// Where the format goes on.
    next: usize,
    /// An index `[n]` was there and parsed.
    found: bool,
    /// A `[` was there (Go's `reordered`: no complaint about extra arguments then).
    bracket: bool,
    /// The index, if any, is one of the arguments (Go's `goodArgNum`).
    good: bool,
}

/// Go's `argNumber`: an explicit `[n]` at `i`, as a zero-based index.
fn arg_number(arg_num: usize, format: &[u8], i: usize, count: usize) -> Index {
    if i >= format.len() || format[i] != b'[' {
        return Index {
            arg: arg_num,
            next: i,
            found: false,
            bracket: false,
            good: true,
        };
    }
    let (index, wid, ok) = parse_arg_number(&format[i..]);
    if ok && index.is_some_and(|n| n < count) {
        return Index {
            arg: index.unwrap_or(0),
            next: i + wid,
            found: true,
            bracket: true,
            good: true,
        };
    }
    Index {
        arg: arg_num,
        next: i + wid,
        found: ok,
        bracket: true,
        good: false,
    }
}

/// Go's `parseArgNumber`: `[n]` (one-based) as an index (`None` for `[0]`), the bytes it
/// takes, and whether it parsed.
fn parse_arg_number(format: &[u8]) -> (Option<usize>, usize, bool) {
    if format.len() < 3 {
        return (None, 1, false);
    }
    for i in 1..format.len() {
        if format[i] == b']' {
            let (width, ok, next) = parse_num(format, 1, i);
            if !ok || next != i {
                return (None, i + 1, false);
            }
            return (width.checked_sub(1), i + 1, true);
        }
    }
    (None, 1, false)
}

/// Go's `parsenum`: decimal digits from `start`, at most up to a million.
fn parse_num(s: &[u8], start: usize, end: usize) -> (usize, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let mut num = 0usize;
    let mut is_num = false;
    let mut i = start;
    while i < end && s[i].is_ascii_digit() {
        if num > 1_000_000 {
            return (0, false, end);
        }
        num = num * 10 + (s[i] - b'0') as usize;
        is_num = true;
        i += 1;
    }
    (num, is_num, i)
}

/// Go's `intFromArg`: the argument at `arg_num` as a width or precision.
fn int_from_arg(args: &[Arg], arg_num: usize) -> (i64, bool, usize) {
    if arg_num >= args.len() {
        return (0, false, arg_num);
    }
    let (mut num, mut is_int) = match &args[arg_num] {
        Arg::Int(i) => (*i, true),
        _ => (0, false),
    };
    if !(-1_000_000..=1_000_000).contains(&num) {
        num = 0;
        is_int = false;
    }
    (num, is_int, arg_num + 1)
}

fn print_arg(out: &mut String, arg: &Arg, verb: char, f: &mut Flags) {
    match verb {
        'T' => {
            fmt_s(out, arg.type_name(), f);
            return;
        }
        'p' => {
            bad_verb(out, arg, verb, f);
            return;
        }
        _ => {}
    }
    match arg {
        Arg::Int(i) => fmt_integer_arg(out, *i, verb, f, arg),
        Arg::Big(digits) => fmt_big(out, digits, verb, f),
        Arg::Float(v) => fmt_float_arg(out, *v, verb, f, arg),
        Arg::Str(s) => match verb {
            'v' => {
                if f.sharp_v {
                    fmt_q(out, s, f)
                } else {
                    fmt_s(out, s, f)
                }
            }
            's' => fmt_s(out, s, f),
            'x' => fmt_sx(out, s, f, false),
            'X' => fmt_sx(out, s, f, true),
            'q' => fmt_q(out, s, f),
            _ => bad_verb(out, arg, verb, f),
        },
    }
}

fn bad_verb(out: &mut String, arg: &Arg, verb: char, f: &mut Flags) {
    out.push_str("%!");
    out.push(verb);
    out.push('(');
    out.push_str(arg.type_name());
    out.push('=');
    print_arg(out, arg, 'v', f);
    out.push(')');
}

fn write_padding(out: &mut String, n: usize, f: &Flags) {
    let pad = if f.zero { '0' } else { ' ' };
    for _ in 0..n {
        out.push(pad);
    }
}

/// Go's `pad`: the text, padded to the width (in runes).
fn pad(out: &mut String, text: &str, f: &Flags) {
    let Some(wid) = f.wid.filter(|w| *w > 0) else {
        out.push_str(text);
        return;
    };
    let width = wid.saturating_sub(text.chars().count());
    if !f.minus {
        write_padding(out, width, f);
        out.push_str(text);
    } else {
        out.push_str(text);
        write_padding(out, width, f);
    }
}

fn truncate(s: &str, f: &Flags) -> String {
    match f.prec {
        Some(prec) => s.chars().take(prec).collect(),
        None => s.to_owned(),
    }
}

fn fmt_s(out: &mut String, s: &str, f: &Flags) {
    pad(out, &truncate(s, f), f);
}

fn fmt_sx(out: &mut String, s: &str, f: &Flags, upper: bool) {
    let digits: &[u8] = if upper {
        b"0123456789ABCDEFX"
    } else {
        b"0123456789abcdefx"
    };
    let bytes = s.as_bytes();
    let mut length = bytes.len();
    if let Some(prec) = f.prec {
        length = length.min(prec);
    }
    let mut width = 2 * length;
    if width > 0 {
        if f.space {
            if f.sharp {
                width *= 2;
            }
            width += length - 1;
        } else if f.sharp {
            width += 2;
        }
    } else {
        if let Some(wid) = f.wid {
            write_padding(out, wid, f);
        }
        return;
    }
    if let Some(wid) = f.wid
        && wid > width
        && !f.minus
    {
        write_padding(out, wid - width, f);
    }
    if f.sharp {
        out.push('0');
        out.push(digits[16] as char);
    }
    for (i, c) in bytes[..length].iter().enumerate() {
        if f.space && i > 0 {
            out.push(' ');
            if f.sharp {
                out.push('0');
                out.push(digits[16] as char);
            }
        }
        out.push(digits[(c >> 4) as usize] as char);
        out.push(digits[(c & 0xf) as usize] as char);
    }
    if let Some(wid) = f.wid
        && wid > width
        && f.minus
    {
        write_padding(out, wid - width, f);
    }
}

fn fmt_q(out: &mut String, s: &str, f: &Flags) {
    let s = truncate(s, f);
    if f.sharp && can_backquote(&s) {
        pad(out, &format!("`{s}`"), f);
        return;
    }
    pad(out, &go_quote(&s, f.plus), f);
}

fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c != '`' && c != '\u{FEFF}' && (c == '\t' || !c.is_control()))
}

/// Go's `strconv.Quote` (`ascii`: `QuoteToASCII`).
pub fn go_quote(s: &str, ascii: bool) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        quote_char(&mut out, c, '"', ascii);
    }
    out.push('"');
    out
}

fn quote_char(out: &mut String, c: char, quote: char, ascii: bool) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if ascii {
        if c.is_ascii() && is_print(c) {
            out.push(c);
            return;
        }
    } else if is_print(c) {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// Go's `unicode.IsPrint`, closely enough: no control, format or separator characters other
/// than the ASCII space, no private use or noncharacters.
fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    let u = c as u32;
    !(c.is_control()
        || c.is_whitespace()
        || matches!(u, 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E
            | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0xFEFF
            | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF | 0xFDD0..=0xFDEF | 0xF0000..=0x10FFFF)
        || u & 0xFFFE == 0xFFFE)
}

fn fmt_integer_arg(out: &mut String, i: i64, verb: char, f: &mut Flags, arg: &Arg) {
    let negative = i < 0;
    let u = i.unsigned_abs();
    match verb {
        'v' | 'd' => fmt_integer(out, u, negative, 10, verb, f, false),
        'b' => fmt_integer(out, u, negative, 2, verb, f, false),
        'o' | 'O' => fmt_integer(out, u, negative, 8, verb, f, false),
        'x' => fmt_integer(out, u, negative, 16, verb, f, false),
        'X' => fmt_integer(out, u, negative, 16, verb, f, true),
        'c' => pad(out, &rune_of(i).to_string(), f),
        'q' => {
            let r = rune_of(i);
            let mut quoted = String::from("'");
            if r == '\'' || r == '\\' {
                quoted.push('\\');
                quoted.push(r);
            } else {
                quote_char(&mut quoted, r, '\'', f.plus);
            }
            quoted.push('\'');
            pad(out, &quoted, f);
        }
        'U' => fmt_unicode(out, i, f),
        _ => bad_verb(out, arg, verb, f),
    }
}

/// The rune Go's `%c` makes of an integer: U+FFFD where it is none.
fn rune_of(i: i64) -> char {
    u32::try_from(i)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or('\u{FFFD}')
}

fn fmt_unicode(out: &mut String, i: i64, f: &Flags) {
    let u = i as u64;
    let mut prec = 4;
    if let Some(p) = f.prec
        && p > 4
    {
        prec = p;
    }
    let mut text = format!("{u:X}");
    while text.len() < prec {
        text.insert(0, '0');
    }
    let mut text = format!("U+{text}");
    if f.sharp
        && u <= 0x10FFFF
        && let Some(c) = char::from_u32(u as u32)
        && is_print(c)
    {
        text.push_str(&format!(" '{c}'"));
    }
    let flags = Flags { zero: false, ..*f };
    pad(out, &text, &flags);
}

/// Go's `fmt.fmtInteger`.
fn fmt_integer(
    out: &mut String,
    mut u: u64,
    negative: bool,
    base: u64,
    verb: char,
    f: &Flags,
    upper: bool,
) {
    let digits: &[u8] = if upper {
        b"0123456789ABCDEFX"
    } else {
        b"0123456789abcdefx"
    };
    let mut prec = 0usize;
    if let Some(p) = f.prec {
        prec = p;
        if p == 0 && u == 0 {
            let flags = Flags { zero: false, ..*f };
            write_padding(out, f.wid.unwrap_or(0), &flags);
            return;
        }
    } else if f.zero && !f.minus && f.wid.is_some() {
        prec = f.wid.unwrap_or(0);
        if negative || f.plus || f.space {
            prec = prec.saturating_sub(1);
        }
    }
    let mut buf: Vec<u8> = Vec::new();
    loop {
        buf.push(digits[(u % base) as usize]);
        u /= base;
        if u == 0 {
            break;
        }
    }
    while buf.len() < prec {
        buf.push(b'0');
    }
    if f.sharp {
        match base {
            2 => {
                buf.push(b'b');
                buf.push(b'0');
            }
            8 if buf.last() != Some(&b'0') => buf.push(b'0'),
            16 => {
                buf.push(digits[16]);
                buf.push(b'0');
            }
            _ => {}
        }
    }
    if verb == 'O' {
        buf.push(b'o');
        buf.push(b'0');
    }
    if negative {
        buf.push(b'-');
    } else if f.plus {
        buf.push(b'+');
    } else if f.space {
        buf.push(b' ');
    }
    buf.reverse();
    let text = String::from_utf8(buf).unwrap_or_default();
    let flags = Flags { zero: false, ..*f };
    pad(out, &text, &flags);
}

/// `*big.Int`'s `Format`.
fn fmt_big(out: &mut String, decimal: &str, verb: char, f: &Flags) {
    let base = match verb {
        'b' => 2,
        'o' | 'O' => 8,
        'd' | 's' | 'v' => 10,
        'x' | 'X' => 16,
        _ => {
            out.push_str(&format!("%!{verb}(big.Int={decimal})"));
            return;
        }
    };
    let (neg, magnitude) = match decimal.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, decimal),
    };
    let sign = if neg {
        "-"
    } else if f.plus {
        "+"
    } else if f.space {
        " "
    } else {
        ""
    };
    let mut prefix = "";
    if f.sharp || f.sharp_v {
        prefix = match verb {
            'b' => "0b",
            'o' => "0",
            'x' => "0x",
            'X' => "0X",
            _ => "",
        };
    }
    if verb == 'O' {
        prefix = "0o";
    }
    let mut digits = to_base(magnitude, base);
    if verb == 'X' {
        digits = digits.to_uppercase();
    }
    let mut zeros = 0;
    if let Some(prec) = f.prec {
        if digits.len() < prec {
            zeros = prec - digits.len();
        } else if digits == "0" && prec == 0 {
            return;
        }
    }
    let length = sign.len() + prefix.len() + zeros + digits.len();
    let (mut left, mut right) = (0, 0);
    if let Some(wid) = f.wid
        && length < wid
    {
        let d = wid - length;
        if f.minus {
            right = d;
        } else if f.zero && f.prec.is_none() {
            zeros = d;
        } else {
            left = d;
        }
    }
    out.push_str(&" ".repeat(left));
    out.push_str(sign);
    out.push_str(prefix);
    out.push_str(&"0".repeat(zeros));
    out.push_str(&digits);
    out.push_str(&" ".repeat(right));
}

/// A non-negative decimal number's digits in another base.
fn to_base(decimal: &str, base: u32) -> String {
    if base == 10 {
        return decimal.to_owned();
    }
    let mut digits: Vec<u32> = decimal.bytes().map(|b| u32::from(b - b'0')).collect();
    let mut out = Vec::new();
    while !(digits.is_empty() || digits.iter().all(|d| *d == 0)) {
        let mut remainder = 0;
        let mut next = Vec::with_capacity(digits.len());
        for d in &digits {
            let value = remainder * 10 + d;
            let q = value / base;
            remainder = value % base;
            if !next.is_empty() || q != 0 {
                next.push(q);
            }
        }
        out.push(std::char::from_digit(remainder, base).unwrap_or('0'));
        digits = next;
    }
    if out.is_empty() {
        out.push('0');
    }
    out.iter().rev().collect()
}

fn fmt_float_arg(out: &mut String, v: f64, verb: char, f: &mut Flags, arg: &Arg) {
    match verb {
        'v' => fmt_float(out, v, 'g', None, f),
        'b' | 'g' | 'G' | 'x' | 'X' => fmt_float(out, v, verb, None, f),
        'f' | 'e' | 'E' | 'F' => fmt_float(out, v, verb, Some(6), f),
        _ => bad_verb(out, arg, verb, f),
    }
}

/// Go's `fmt.fmtFloat`: `prec` `None` is strconv's shortest.
fn fmt_float(out: &mut String, v: f64, verb: char, prec: Option<usize>, f: &Flags) {
    let prec = f.prec.or(prec);
    let verb = if verb == 'F' { 'f' } else { verb };
    let formatted = append_float(v, verb, prec);
    // With a sign in front, always.
    let mut num: Vec<char> = if formatted.starts_with(['-', '+']) {
        formatted.chars().collect()
    } else {
        std::iter::once('+').chain(formatted.chars()).collect()
    };
    if f.space && num[0] == '+' && !f.plus {
        num[0] = ' ';
    }
    if num.get(1).is_some_and(|c| *c == 'I' || *c == 'N') {
        let flags = Flags { zero: false, ..*f };
        if num[1] == 'N' && !f.space && !f.plus {
            num.remove(0);
        }
        pad(out, &num.iter().collect::<String>(), &flags);
        return;
    }
    if f.sharp && verb != 'b' {
        let mut digits: i64 = 0;
        if matches!(verb, 'v' | 'g' | 'G' | 'x') {
            digits = prec.map_or(6, |p| p as i64);
        }
        let mut tail: Vec<char> = Vec::new();
        let mut has_point = false;
        let mut saw_nonzero = false;
        let mut i = 1;
        while i < num.len() {
            match num[i] {
                '.' => has_point = true,
                'p' | 'P' => {
                    tail.extend_from_slice(&num[i..]);
                    num.truncate(i);
                    break;
                }
                'e' | 'E' if verb != 'x' && verb != 'X' => {
                    tail.extend_from_slice(&num[i..]);
                    num.truncate(i);
                    break;
                }
                c => {
                    if c != '0' {
                        saw_nonzero = true;
                    }
                    if saw_nonzero {
                        digits -= 1;
                    }
                }
            }
            i += 1;
        }
        if !has_point {
            if num.len() == 2 && num[1] == '0' {
                digits -= 1;
            }
            num.push('.');
        }
        while digits > 0 {
            num.push('0');
            digits -= 1;
        }
        num.extend(tail);
    }
    if f.plus || num[0] != '+' {
        if f.zero && !f.minus && f.wid.is_some_and(|w| w > num.len()) {
            out.push(num[0]);
            write_padding(out, f.wid.unwrap_or(0) - num.len(), f);
            out.extend(&num[1..]);
            return;
        }
        pad(out, &num.iter().collect::<String>(), f);
        return;
    }
    pad(out, &num[1..].iter().collect::<String>(), f);
}

/// Decimal digits of `v` (no sign) and the position of the decimal point: shortest when
/// `significant` is `None`, else rounded to that many significant digits (trailing zeros
/// trimmed, as Go's decimal does).
fn decimal_digits(v: f64, significant: Option<usize>) -> (Vec<u8>, i32) {
    let v = v.abs();
    if v == 0.0 {
        return (Vec::new(), 0);
    }
    let text = match significant {
        None => format!("{v:e}"),
        Some(n) => format!("{:.*e}", n.max(1) - 1, v),
    };
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    (digits, exponent + 1)
}

/// Go's `strconv.AppendFloat(v, verb, prec, 64)` (`prec` `None` is -1).
fn append_float(v: f64, verb: char, prec: Option<usize>) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let neg = v.is_sign_negative();
    match verb {
        'b' => fmt_b(v),
        'x' | 'X' => fmt_x(v, prec, verb),
        'f' => {
            let p = prec.unwrap_or_else(|| {
                let (d, dp) = decimal_digits(v, None);
                (d.len() as i32 - dp).max(0) as usize
            });
            let text = format!("{:.*}", p, v.abs());
            if neg { format!("-{text}") } else { text }
        }
        'e' | 'E' => {
            let (digits, dp, p) = match prec {
                None => {
                    let (d, dp) = decimal_digits(v, None);
                    let p = d.len().saturating_sub(1);
                    (d, dp, p)
                }
                Some(p) => {
                    let (d, dp) = decimal_digits(v, Some(p + 1));
                    (d, dp, p)
                }
            };
            fmt_e(neg, &digits, dp, p, verb)
        }
        _ => {
            // 'g', 'G'
            let shortest = prec.is_none();
            let (digits, dp, mut p) = match prec {
                None => {
                    let (d, dp) = decimal_digits(v, None);
                    let p = d.len();
                    (d, dp, p)
                }
                Some(p) => {
                    let p = p.max(1);
                    let (d, dp) = decimal_digits(v, Some(p));
                    (d, dp, p)
                }
            };
            let nd = digits.len() as i32;
            let mut eprec = p as i32;
            if eprec > nd && nd >= dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = dp - 1;
            let e = if verb == 'G' { 'E' } else { 'e' };
            if exp < -4 || exp >= eprec {
                if p as i32 > nd {
                    p = nd as usize;
                }
                return fmt_e(neg, &digits, dp, p.saturating_sub(1), e);
            }
            if p as i32 > dp {
                p = nd as usize;
            }
            fmt_f(neg, &digits, dp, (p as i32 - dp).max(0) as usize)
        }
    }
}

fn fmt_e(neg: bool, d: &[u8], dp: i32, prec: usize, e: char) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push(d.first().map_or('0', |c| *c as char));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(d.get(i).map_or('0', |c| *c as char));
        }
    }
    out.push(e);
    let mut exp = if d.is_empty() { 0 } else { dp - 1 };
    if exp < 0 {
        out.push('-');
        exp = -exp;
    } else {
        out.push('+');
    }
    if exp < 10 {
        out.push_str(&format!("0{exp}"));
    } else {
        out.push_str(&exp.to_string());
    }
    out
}

fn fmt_f(neg: bool, d: &[u8], dp: i32, prec: usize) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if dp > 0 {
        for i in 0..dp as usize {
            out.push(d.get(i).map_or('0', |c| *c as char));
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            let j = dp + i as i32 - 1;
            let c = if j >= 0 { d.get(j as usize) } else { None };
            out.push(c.map_or('0', |c| *c as char));
        }
    }
    out
}

/// The float's mantissa (with its leading bit) and binary exponent, as strconv reads them.
fn mantissa_exponent(v: f64) -> (u64, i32) {
    let bits = v.to_bits();
    let mut exp = ((bits >> 52) & 0x7ff) as i32;
    let mut mant = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1u64 << 52;
    }
    exp -= 1023;
    (mant, exp)
}

/// `%b`: decimal mantissa, `p`, binary exponent.
fn fmt_b(v: f64) -> String {
    let (mant, exp) = mantissa_exponent(v);
    let exp = exp - 52;
    let sign = if v.is_sign_negative() { "-" } else { "" };
    let esign = if exp >= 0 { "+" } else { "" };
    format!("{sign}{mant}p{esign}{exp}")
}

/// `%x`: hexadecimal mantissa and binary exponent (`-0x1.yyyyp±dd`).
fn fmt_x(v: f64, prec: Option<usize>, verb: char) -> String {
    let (mut mant, mut exp) = mantissa_exponent(v);
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if let Some(p) = prec
        && p < 15
    {
        let shift = (p * 4) as u32;
        let extra = (mant << shift) & ((1u64 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex: &[u8] = if verb == 'X' {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    out.push('0');
    out.push(verb);
    out.push((b'0' + ((mant >> 60) & 1) as u8) as char);
    mant <<= 4;
    match prec {
        None if mant != 0 => {
            out.push('.');
            while mant != 0 {
                out.push(hex[((mant >> 60) & 15) as usize] as char);
                mant <<= 4;
            }
        }
        Some(p) if p > 0 => {
            out.push('.');
            for _ in 0..p {
                out.push(hex[((mant >> 60) & 15) as usize] as char);
                mant <<= 4;
            }
        }
        _ => {}
    }
    out.push(if verb == 'X' { 'P' } else { 'p' });
    if exp < 0 {
        out.push('-');
        exp = -exp;
    } else {
        out.push('+');
    }
    if exp < 100 {
        out.push_str(&format!("{exp:02}"));
    } else {
        out.push_str(&exp.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(format: &str, args: &[Arg]) -> String {
        go_sprintf(format, args)
    }

    /// Each expectation is what OPA v1.20 answers for `sprintf(format, args)`.
    #[test]
    fn formats_as_go_does_for_opa() {
        let s = |v: &str| Arg::Str(v.to_owned());
        let cases: Vec<(&str, Vec<Arg>, &str)> = vec![
            (
                "%v is not allowed: %v",
                vec![s("x")],
                "x is not allowed: %!v(MISSING)",
            ),
            (
                "cpu limit %d",
                vec![s("100m")],
                "cpu limit %!d(string=100m)",
            ),
            ("%s", vec![Arg::Int(5)], "%!s(int64=5)"),
            (
                "%05s|%-05d|%05d",
                vec![s("ab"), Arg::Int(3), Arg::Int(-3)],
                "000ab|3    |-0003",
            ),
            ("%d", vec![Arg::Float(2.5)], "%!d(float64=2.5)"),
            ("%x", vec![Arg::Float(2.5)], "0x1.4p+01"),
            ("%b", vec![Arg::Float(2.5)], "5629499534213120p-51"),
            ("%q", vec![Arg::Int(443)], "'ƻ'"),
            ("%U", vec![Arg::Int(80)], "U+0050"),
            ("%#U", vec![Arg::Int(80)], "U+0050 'P'"),
            ("%c", vec![Arg::Int(-1)], "\u{FFFD}"),
            ("%t", vec![s("true")], "%!t(string=true)"),
            ("%T", vec![Arg::Int(1)], "int64"),
            ("%p", vec![Arg::Int(1)], "%!p(int64=1)"),
            (
                "%5.1f|%e|%g",
                vec![
                    Arg::Float(3.25159),
                    Arg::Float(1234.5678),
                    Arg::Float(0.00001234),
                ],
                "  3.3|1.234568e+03|1.234e-05",
            ),
            ("%z %!", vec![Arg::Int(1)], "%!z(int64=1) %!!(MISSING)"),
            ("%[2]v %[1]v", vec![Arg::Int(1)], "%!v(BADINDEX) 1"),
            ("%*d", vec![s("x"), Arg::Int(3)], "%!(BADWIDTH)3"),
            ("%.*f", vec![Arg::Int(2), Arg::Float(3.25159)], "3.25"),
            ("%.*f", vec![Arg::Int(-1)], "%!(BADPREC)%!f(MISSING)"),
            ("%", vec![], "%!(NOVERB)"),
            (
                "%v",
                vec![Arg::Int(1), Arg::Int(2), s("x")],
                "1%!(EXTRA int64=2, string=x)",
            ),
            ("%#v", vec![s("a")], "\"a\""),
            ("%#x", vec![s("hi")], "0x6869"),
            ("% x", vec![s("hi")], "68 69"),
            ("%x", vec![Arg::Int(-255)], "-ff"),
            (
                "%o %O %#o",
                vec![Arg::Int(8), Arg::Int(8), Arg::Int(8)],
                "10 0o10 010",
            ),
            ("%5t|", vec![Arg::Int(3)], "%!t(int64=    3)|"),
            ("%#t", vec![Arg::Float(2.5)], "%!t(float64=2.50000)"),
            (
                "%v",
                vec![Arg::Float(1.2345678901234567e19)],
                "1.2345678901234567e+19",
            ),
            (
                "%d",
                vec![Arg::Big("100000000000000000000".into())],
                "100000000000000000000",
            ),
        ];
        for (format, args, expected) in cases {
            assert_eq!(go(format, &args), expected, "{format} {args:?}");
        }
    }

    #[test]
    fn values_become_the_arguments_opa_passes() {
        let value = |json: &str| Value::from_json_str(json).unwrap();
        assert_eq!(Arg::of(&value("1.0")), Arg::Int(1));
        assert_eq!(Arg::of(&value("2.5")), Arg::Float(2.5));
        assert_eq!(
            Arg::of(&value(r#"{"b": 1, "a": [1.5, "x\ny"]}"#)),
            Arg::Str(r#"{"a": [1.5, "x\ny"], "b": 1}"#.replace("x\ny", "x\\ny"))
        );
        assert_eq!(Arg::of(&value("null")), Arg::Str("null".into()));
        let set = Value::from_json_str("[]").unwrap();
        let _ = set;
    }
}
