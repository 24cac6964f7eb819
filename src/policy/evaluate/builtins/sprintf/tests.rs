//! Go's and OPA's `sprintf` outputs, case by case.

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
