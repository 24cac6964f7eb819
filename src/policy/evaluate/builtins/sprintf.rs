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

use super::go_text::{append_float, can_backquote, go_quote, is_print, quote_char, to_base};

/// One argument of `sprintf`, as OPA converts it for Go.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
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
    pub(crate) fn of(value: &Value) -> Arg {
        match value {
            Value::String(s) => Arg::Str(s.to_string()),
            Value::Number(_) => number_arg(value),
            other => Arg::Str(rego_text(other)),
        }
    }
}

/// `sprintf(format, values)` for Rego values: the text, or why the call fails (the format is
/// no string or the values no array — OPA's operand type errors).
pub(crate) fn sprintf(format: &Value, values: &Value) -> Result<Value, String> {
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
pub(crate) fn rego_text(value: &Value) -> String {
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
pub(crate) fn go_sprintf(format: &str, args: &[Arg]) -> String {
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

#[cfg(test)]
mod tests;
