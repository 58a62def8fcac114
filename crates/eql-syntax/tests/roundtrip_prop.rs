//! Random expression trees: print → parse → print is stable and preserves the tree.

use eql_syntax::{
    parse_query, BinaryOp, Expr, ExprKind, FieldRef, Literal, MatchOp, ParseOptions, PathSegment,
    Span, UnaryOp,
};
use proptest::prelude::*;

fn e(kind: ExprKind) -> Expr {
    Expr {
        kind,
        span: Span::DUMMY,
    }
}

fn literal() -> impl Strategy<Value = Expr> {
    prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Bool),
        (0i64..1_000_000).prop_map(Literal::Int),
        (0.0f64..1e6).prop_map(Literal::Float),
        "[a-z \\\\\"\\n\\t\u{1}é*?]{0,8}".prop_map(Literal::String),
    ]
    .prop_map(|l| e(ExprKind::Literal(l)))
}

fn field() -> impl Strategy<Value = Expr> {
    (
        proptest::collection::vec("[a-z_@][a-z0-9_]{0,5}|[a-z `.]{1,5}", 1..4),
        any::<bool>(),
    )
        .prop_map(|(segs, optional)| {
            e(ExprKind::Field(FieldRef {
                path: segs.into_iter().map(PathSegment::Key).collect(),
                optional,
            }))
        })
}

fn string_lit() -> impl Strategy<Value = Expr> {
    "[a-z*]{0,5}".prop_map(|s| e(ExprKind::Literal(Literal::String(s))))
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![literal(), field()];
    leaf.prop_recursive(4, 32, 4, |inner| {
        let bin_ops = prop_oneof![
            Just(BinaryOp::Or),
            Just(BinaryOp::And),
            Just(BinaryOp::Eq),
            Just(BinaryOp::Ne),
            Just(BinaryOp::Lt),
            Just(BinaryOp::Ge),
            Just(BinaryOp::Add),
            Just(BinaryOp::Sub),
            Just(BinaryOp::Mul),
            Just(BinaryOp::Div),
            Just(BinaryOp::Mod),
        ];
        prop_oneof![
            (bin_ops, inner.clone(), inner.clone()).prop_map(|(op, l, r)| {
                // ES compares what an event holds only with a constant:
                // with no constant side, the right one becomes a literal.
                let r = if op.is_comparison() && l.reads_event() && r.reads_event() {
                    e(ExprKind::Literal(Literal::Int(1)))
                } else {
                    r
                };
                e(ExprKind::Binary {
                    op,
                    left: Box::new(l),
                    right: Box::new(r),
                })
            }),
            (
                prop_oneof![Just(UnaryOp::Not), Just(UnaryOp::Neg), Just(UnaryOp::Plus)],
                inner.clone()
            )
                .prop_map(|(op, x)| e(ExprKind::Unary {
                    op,
                    expr: Box::new(x)
                })),
            (
                inner.clone(),
                proptest::collection::vec(inner.clone(), 1..3),
                any::<bool>(),
                any::<bool>()
            )
                .prop_map(|(x, list, negated, insensitive)| e(ExprKind::In {
                    expr: Box::new(x),
                    list,
                    negated,
                    insensitive
                })),
            (
                inner.clone(),
                prop_oneof![
                    Just(MatchOp::Colon),
                    Just(MatchOp::Like),
                    Just(MatchOp::Regex)
                ],
                any::<bool>(),
                proptest::collection::vec(string_lit(), 1..3),
                any::<bool>()
            )
                .prop_map(|(x, op, ins, patterns, list)| {
                    let list = list || patterns.len() > 1;
                    let insensitive = ins && op != MatchOp::Colon;
                    e(ExprKind::Match {
                        expr: Box::new(x),
                        op,
                        insensitive,
                        patterns,
                        list,
                    })
                }),
            (
                "[a-zA-Z][a-zA-Z0-9]{0,6}",
                any::<bool>(),
                proptest::collection::vec(inner, 0..3)
            )
                .prop_filter("not a keyword", |(n, _, _)| ![
                    "and", "or", "not", "in", "like", "regex", "null", "true", "false", "where"
                ]
                .contains(&n.as_str()))
                .prop_map(|(name, insensitive, args)| e(ExprKind::Call {
                    name,
                    insensitive,
                    args
                })),
        ]
    })
}

proptest! {
    #[test]
    fn print_parse_print(x in expr()) {
        let opts = ParseOptions::default();
        let src = format!("process where {x}");
        let q = parse_query(&src, &opts).map_err(|err| TestCaseError::fail(format!("{src}\n{}", err.to_diagnostic().render(&src, None))))?;
        let printed = q.to_string();
        prop_assert_eq!(&printed, &src);
        let again = parse_query(&printed, &opts).map_err(|err| TestCaseError::fail(format!("{err}")))?;
        prop_assert_eq!(again.without_spans(), q.without_spans());
        if let eql_syntax::QueryBody::Event(ev) = &q.body {
            prop_assert_eq!(ev.condition.without_spans(), x.without_spans());
        }
    }
}
