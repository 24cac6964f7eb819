//! Go's `fmt` conversions of one value to text, before any width, flag or padding applies:
//! quoted strings, integers in a base, and floats in Go's `%e`, `%f`, `%g`, `%b` and `%x`
//! forms. [`super::sprintf`] formats OPA's `sprintf` with them.

/// Go's `strconv.Quote` (`ascii`: `QuoteToASCII`).
pub(crate) fn go_quote(s: &str, ascii: bool) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        quote_char(&mut out, c, '"', ascii);
    }
    out.push('"');
    out
}

pub(super) fn quote_char(out: &mut String, c: char, quote: char, ascii: bool) {
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
pub(super) fn is_print(c: char) -> bool {
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

pub(super) fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c != '`' && c != '\u{FEFF}' && (c == '\t' || !c.is_control()))
}

/// A non-negative decimal number's digits in another base.
pub(super) fn to_base(decimal: &str, base: u32) -> String {
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

/// Decimal digits of `v` (no sign) and the position of the decimal point: shortest when
/// `significant` is `None`, else rounded to that many significant digits (trailing zeros
/// trimmed, as Go's decimal does).
pub(super) fn decimal_digits(v: f64, significant: Option<usize>) -> (Vec<u8>, i32) {
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
pub(super) fn append_float(v: f64, verb: char, prec: Option<usize>) -> String {
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

pub(super) fn fmt_e(neg: bool, d: &[u8], dp: i32, prec: usize, e: char) -> String {
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

pub(super) fn fmt_f(neg: bool, d: &[u8], dp: i32, prec: usize) -> String {
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
pub(super) fn mantissa_exponent(v: f64) -> (u64, i32) {
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
pub(super) fn fmt_b(v: f64) -> String {
    let (mant, exp) = mantissa_exponent(v);
    let exp = exp - 52;
    let sign = if v.is_sign_negative() { "-" } else { "" };
    let esign = if exp >= 0 { "+" } else { "" };
    format!("{sign}{mant}p{esign}{exp}")
}

/// `%x`: hexadecimal mantissa and binary exponent (`-0x1.yyyyp±dd`).
pub(super) fn fmt_x(v: f64, prec: Option<usize>, verb: char) -> String {
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
