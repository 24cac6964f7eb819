//! `to_number` as OPA computes it: a string becomes a number only when Go's
//! `strconv.ParseFloat` reads all of it (no space around it, no `inf` or `nan`); regorus reads
//! `"   80"` as 80, where OPA fails — and a message built with `sprintf("%5d", ...)` has
//! such spaces.

use regorus::Value;

pub(super) fn to_number(value: &Value) -> Result<Value, String> {
    match value {
        Value::Null => Ok(Value::from(0u64)),
        Value::Bool(b) => Ok(Value::from(u64::from(*b))),
        Value::Number(_) => Ok(value.clone()),
        Value::String(s) => parse(s).ok_or_else(|| {
            format!("could not parse string as number: to_number: strconv.ParseFloat: parsing {s:?}: invalid syntax")
        }),
        _ => Err(
            "to_number: operand 1 must be one of {null, boolean, number, string}".to_owned(),
        ),
    }
}

/// A decimal number as Go's `ParseFloat` reads one: a sign, digits with at most one point
/// (digits on at least one side), an exponent.
fn parse(text: &str) -> Option<Value> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(whole) && digits(fraction) && !(whole.is_empty() && fraction.is_empty())) {
        return None;
    }
    if let Some(exponent) = exponent {
        let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        if exponent.is_empty() || !digits(exponent) {
            return None;
        }
    }
    // As JSON: a leading `+` dropped, a bare point given its zero.
    let negative = text.starts_with('-');
    let whole = if whole.is_empty() { "0" } else { whole };
    let mut json = String::new();
    if negative {
        json.push('-');
    }
    json.push_str(whole);
    if !fraction.is_empty() {
        json.push('.');
        json.push_str(fraction);
    }
    if let Some(at) = unsigned.find(['e', 'E']) {
        json.push_str(&unsigned[at..]);
    }
    Value::from_json_str(&json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_numbers_only_as_go_reads_them() {
        let number = |s: &str| to_number(&Value::from(s)).ok().map(|v| v.to_string());
        assert_eq!(number("80"), Some("80".into()));
        assert_eq!(number("-1.5"), Some("-1.5".into()));
        assert_eq!(number("+2"), Some("2".into()));
        assert_eq!(number(".5"), Some("0.5".into()));
        assert_eq!(number("1e3"), Some("1000".into()));
        for bad in [
            "   80", "80 ", "", "1_000", "inf", "NaN", "0x10", "1.2.3", "e5", ".",
        ] {
            assert_eq!(number(bad), None, "{bad:?}");
        }
        assert_eq!(to_number(&Value::Null).unwrap(), Value::from(0u64));
        assert_eq!(to_number(&Value::from(true)).unwrap(), Value::from(1u64));
    }
}
