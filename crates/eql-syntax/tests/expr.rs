//! `parse_expr` and a few dialect-specific forms.

use eql_syntax::{parse_expr, parse_query, ExprKind, Literal, ParseOptions};

#[test]
fn parse_expr_basics() {
    let opts = ParseOptions::default();
    let e = parse_expr("1 + 2 * 3", &opts).expect("parses");
    assert_eq!(e.to_string(), "1 + 2 * 3");
    let e = parse_expr("99999999999999999999", &opts).expect("parses");
    assert!(matches!(e.kind, ExprKind::Literal(Literal::Float(_))));
    let e = parse_expr(r#""a\u{41}\n""#, &opts).expect("parses");
    assert_eq!(e.kind, ExprKind::Literal(Literal::String("aA\n".into())));
    let e = parse_expr(r#""""x"""""#, &opts).expect("parses");
    assert_eq!(e.kind, ExprKind::Literal(Literal::String("x\"".into())));
    assert!(parse_expr("1 +", &opts).is_err());
}

#[test]
fn python_forms_round_trip() {
    let opts = ParseOptions::python();
    for (src, printed) in [
        (
            "process where name:length() > 3",
            "process where length(name) > 3",
        ),
        (
            "process where a[0].b = 'x'",
            r#"process where a[0].b == "x""#,
        ),
        (
            r#"process where x == ?"a\b\"c""#,
            r#"process where x == "a\\b\"c""#,
        ),
        (
            "process where child of [p where true]",
            "process where child of [p where true]",
        ),
        (
            "sequence with maxspan=10 by a [p where true] fork [q where true]",
            "sequence by a with maxspan=10 [p where true] fork=true [q where true]",
        ),
    ] {
        let q = parse_query(src, &opts).expect("parses");
        assert_eq!(q.to_string(), printed);
        let again = parse_query(printed, &opts).expect("reparses");
        assert_eq!(again.without_spans(), q.without_spans());
    }
}
