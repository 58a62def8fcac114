//! Test vectors of the dialect semantics (`docs/semantics.md`), in both
//! dialects, over hand-built ASTs (independent of the parser) and over parsed
//! queries.
#![allow(missing_docs)]

use eql_engine::{CompileOptions, CompiledQuery, Dialect, Expr, ExprKind, Literal, Span, Value};
use eql_syntax::{BinaryOp, FieldRef, MatchOp, PathSegment, UnaryOp};
use serde_json::json;

fn e(kind: ExprKind) -> Expr {
    Expr {
        kind,
        span: Span::DUMMY,
    }
}
fn field(name: &str) -> Expr {
    e(ExprKind::Field(FieldRef {
        path: vec![PathSegment::Key(name.into())],
        optional: false,
    }))
}
fn s(v: &str) -> Expr {
    e(ExprKind::Literal(Literal::String(v.into())))
}
fn int(v: i64) -> Expr {
    e(ExprKind::Literal(Literal::Int(v)))
}
fn null() -> Expr {
    e(ExprKind::Literal(Literal::Null))
}
fn bin(op: BinaryOp, l: Expr, r: Expr) -> Expr {
    e(ExprKind::Binary {
        op,
        left: Box::new(l),
        right: Box::new(r),
    })
}
fn not(x: Expr) -> Expr {
    e(ExprKind::Unary {
        op: UnaryOp::Not,
        expr: Box::new(x),
    })
}
fn m(x: Expr, op: MatchOp, insensitive: bool, p: &str) -> Expr {
    e(ExprKind::Match {
        expr: Box::new(x),
        op,
        insensitive,
        patterns: vec![s(p)],
        list: false,
    })
}
fn in_(x: Expr, list: Vec<Expr>, negated: bool) -> Expr {
    e(ExprKind::In {
        expr: Box::new(x),
        list,
        negated,
        insensitive: false,
    })
}
fn call(name: &str, args: Vec<Expr>) -> Expr {
    e(ExprKind::Call {
        name: name.into(),
        insensitive: false,
        args,
    })
}

fn opts(d: Dialect) -> CompileOptions {
    let mut opts = CompileOptions::default();
    opts.dialect = d;
    opts
}

fn matches(d: Dialect, x: &Expr, ev: &serde_json::Value) -> bool {
    CompiledQuery::matches_expr(x, &opts(d), ev).unwrap()
}
fn value(d: Dialect, x: &Expr) -> Option<Value<'static>> {
    CompiledQuery::eval_expr(x, &opts(d), &json!({})).unwrap()
}

const ES: Dialect = Dialect::Elasticsearch;
const PY: Dialect = Dialect::Python;

/// (expression, event, ES match, PY match)
fn filter_vectors() -> Vec<(&'static str, Expr, serde_json::Value, bool, bool)> {
    vec![
        (
            "x == \"ABC\"",
            bin(BinaryOp::Eq, field("x"), s("ABC")),
            json!({"x":"abc"}),
            false,
            true,
        ),
        (
            "x : \"a?c\"",
            m(field("x"), MatchOp::Colon, false, "a?c"),
            json!({"x":"ABC"}),
            true,
            false,
        ),
        (
            "x : \"a*\"",
            m(field("x"), MatchOp::Colon, false, "a*"),
            json!({"x":"ABC"}),
            true,
            true,
        ),
        (
            "x like~ \"a*\"",
            m(field("x"), MatchOp::Like, true, "a*"),
            json!({"x":"ABC"}),
            true,
            true,
        ),
        (
            "x like \"a*\"",
            m(field("x"), MatchOp::Like, false, "a*"),
            json!({"x":"ABC"}),
            false,
            true,
        ),
        (
            "x regex \"a\"",
            m(field("x"), MatchOp::Regex, false, "a"),
            json!({"x":"ABC"}),
            false,
            true,
        ),
        (
            "x regex~ \"a.*\"",
            m(field("x"), MatchOp::Regex, true, "a.*"),
            json!({"x":"ABC"}),
            true,
            true,
        ),
        (
            "x != \"a\" {}",
            bin(BinaryOp::Ne, field("x"), s("a")),
            json!({}),
            true,
            false,
        ),
        (
            "not x : \"a\" {}",
            not(m(field("x"), MatchOp::Colon, false, "a")),
            json!({}),
            true,
            false,
        ),
        (
            "x not in (\"a\") {}",
            in_(field("x"), vec![s("a")], true),
            json!({}),
            true,
            false,
        ),
        (
            "x == \"a\" [a,b]",
            bin(BinaryOp::Eq, field("x"), s("a")),
            json!({"x":["a","b"]}),
            true,
            false,
        ),
        (
            "x != \"a\" [a,b]",
            bin(BinaryOp::Ne, field("x"), s("a")),
            json!({"x":["a","b"]}),
            false,
            false,
        ),
        (
            "length(x) > 3",
            bin(BinaryOp::Gt, call("length", vec![field("x")]), int(3)),
            json!({"x":["abcd","b"]}),
            true,
            false,
        ),
        (
            "x in (\"A\")",
            in_(field("x"), vec![s("A")], false),
            json!({"x":"a"}),
            false,
            true,
        ),
        (
            "\"B\" < \"a\"",
            bin(BinaryOp::Lt, s("B"), s("a")),
            json!({}),
            true,
            false,
        ),
        (
            "stringContains(x, \"a\") {}",
            call("stringContains", vec![field("x"), s("a")]),
            json!({}),
            false,
            false,
        ),
        (
            "cidrMatch(x, ...) {}",
            call("cidrMatch", vec![field("x"), s("10.0.0.0/8")]),
            json!({}),
            false,
            false,
        ),
        (
            "not (exit > -1) {}",
            not(bin(BinaryOp::Gt, field("exit"), int(-1))),
            json!({}),
            false,
            false,
        ),
        (
            "x == null {}",
            bin(BinaryOp::Eq, field("x"), null()),
            json!({}),
            true,
            true,
        ),
    ]
}

#[test]
fn section10_filters_hand_built() {
    let mut bad = Vec::new();
    for (name, x, ev, es, py) in filter_vectors() {
        if matches(ES, &x, &ev) != es {
            bad.push(format!("ES {name}"));
        }
        if matches(PY, &x, &ev) != py {
            bad.push(format!("PY {name}"));
        }
    }
    assert!(bad.is_empty(), "failing: {bad:?}");
}

fn sv(v: &str) -> Option<Value<'static>> {
    Some(Value::Str(v.to_owned().into()))
}

#[test]
fn section10_values_hand_built() {
    let neg7 = || {
        e(ExprKind::Unary {
            op: UnaryOp::Neg,
            expr: Box::new(int(7)),
        })
    };
    let cases: Vec<(&str, Expr, Option<Value<'static>>, Option<Value<'static>>)> = vec![
        (
            "-7 / 2",
            bin(BinaryOp::Div, neg7(), int(2)),
            Some(Value::Int(-3)),
            Some(Value::Int(-4)),
        ),
        (
            "-7 % 3",
            bin(BinaryOp::Mod, neg7(), int(3)),
            Some(Value::Int(-1)),
            Some(Value::Int(2)),
        ),
        (
            "7 % -3",
            bin(BinaryOp::Mod, int(7), int(-3)),
            Some(Value::Int(1)),
            Some(Value::Int(-2)),
        ),
        ("7 / 0", bin(BinaryOp::Div, int(7), int(0)), None, None),
        (
            "between abc x c",
            call("between", vec![s("abc"), s("x"), s("c")]),
            sv(""),
            None,
        ),
        (
            "between abc '' c",
            call("between", vec![s("abc"), s(""), s("c")]),
            sv("abc"),
            sv("ab"),
        ),
        (
            "stringContains abc ''",
            call("stringContains", vec![s("abc"), s("")]),
            Some(Value::Bool(false)),
            Some(Value::Bool(true)),
        ),
        (
            "indexOf -6",
            call(
                "indexOf",
                vec![s("subdomain.example.com"), s("."), neg7_plus1()],
            ),
            Some(Value::Int(9)),
            Some(Value::Int(17)),
        ),
        (
            "number deadbeef 16",
            call("number", vec![s("deadbeef"), int(16)]),
            Some(Value::Int(3_735_928_559)),
            None,
        ),
        (
            "number 1e3",
            call("number", vec![s("1e3")]),
            Some(Value::Float(1000.0)),
            None,
        ),
        (
            "concat a null",
            call("concat", vec![s("a"), null()]),
            None,
            None,
        ),
        (
            "concat a 1 2.5 true",
            call(
                "concat",
                vec![
                    s("a"),
                    int(1),
                    e(ExprKind::Literal(Literal::Float(2.5))),
                    e(ExprKind::Literal(Literal::Bool(true))),
                ],
            ),
            sv("a12.5true"),
            sv("a12.5true"),
        ),
    ];
    let mut bad = Vec::new();
    for (name, x, es, py) in cases {
        let got_es = value(ES, &x);
        if got_es != es {
            bad.push(format!("ES {name}: {got_es:?}"));
        }
        let got_py = value(PY, &x);
        if got_py != py {
            bad.push(format!("PY {name}: {got_py:?}"));
        }
    }
    assert!(bad.is_empty(), "failing: {bad:?}");
}

fn neg7_plus1() -> Expr {
    e(ExprKind::Unary {
        op: UnaryOp::Neg,
        expr: Box::new(int(6)),
    })
}

#[test]
fn unknown_function_is_a_compile_error() {
    let x = call("nope", vec![int(1)]);
    let err = CompiledQuery::eval_expr(&x, &opts(ES), &json!({})).unwrap_err();
    assert_eq!(err.diagnostic.code, "EQL0301");
    let x = call("length", vec![]);
    assert!(CompiledQuery::eval_expr(&x, &opts(ES), &json!({})).is_err());
    let x = call("arrayContains", vec![field("x"), s("a")]);
    assert!(CompiledQuery::eval_expr(&x, &opts(ES), &json!({})).is_err());
    assert!(CompiledQuery::eval_expr(&x, &opts(PY), &json!({})).is_ok());
}

/// The same filter vectors through the parser (`any where <expr>`), once it
/// parses them.
#[test]
fn section10_filters_parsed() {
    let texts: &[(&str, serde_json::Value, bool, bool)] = &[
        (r#"x == "ABC""#, json!({"x":"abc"}), false, true),
        (r#"x : "a?c""#, json!({"x":"ABC"}), true, false),
        (r#"x : "a*""#, json!({"x":"ABC"}), true, true),
        (r#"x like~ "a*""#, json!({"x":"ABC"}), true, true),
        (r#"x like "a*""#, json!({"x":"ABC"}), false, true),
        (r#"x regex "a""#, json!({"x":"ABC"}), false, true),
        (r#"x regex~ "a.*""#, json!({"x":"ABC"}), true, true),
        (r#"x != "a""#, json!({}), true, false),
        (r#"not x : "a""#, json!({}), true, false),
        (r#"x not in ("a")"#, json!({}), true, false),
        (r#"x == "a""#, json!({"x":["a","b"]}), true, false),
        (r#"x != "a""#, json!({"x":["a","b"]}), false, false),
        (r"length(x) > 3", json!({"x":["abcd","b"]}), true, false),
        (r#"x in ("A")"#, json!({"x":"a"}), false, true),
        (r#""B" < "a""#, json!({}), true, false),
        (r#"stringContains(x, "a")"#, json!({}), false, false),
        (r#"cidrMatch(x, "10.0.0.0/8")"#, json!({}), false, false),
    ];
    let mut bad = Vec::new();
    for (text, ev, es, py) in texts {
        for (d, want) in [(ES, *es), (PY, *py)] {
            let q = format!("any where {text}");
            match CompiledQuery::compile(&q, &opts(d)) {
                Ok(engine) => {
                    if engine.is_match(ev) != want {
                        bad.push(format!("{d:?} {text}"));
                    }
                }
                Err(err) => bad.push(format!("{d:?} {text}: compile error {err}")),
            }
        }
    }
    assert!(bad.is_empty(), "failing: {bad:?}");
}

/// ES rewrites `x == null` and `x != null` to `IsNull`/`IsNotNull`, an
/// `exists` query: a field exists when it holds an indexed value. `null`,
/// `[]`, `[null]` (and objects holding no value) index nothing, so the field
/// counts as missing; any scalar, the empty string too, exists. The
/// reference, the plan and the raw-bytes path all answer so.
#[test]
fn es_null_checks_are_exists_queries() {
    let missing = [
        json!({}),
        json!({"x": null}),
        json!({"x": []}),
        json!({"x": [null]}),
        json!({"x": [[], [null]]}),
        json!({"x": {}}),
        json!({"x": {"y": null}}),
    ];
    let present = [
        json!({"x": 1}),
        json!({"x": ""}),
        json!({"x": false}),
        json!({"x": [null, 1]}),
        json!({"x": [[1]]}),
        json!({"x": {"y": "a"}}),
    ];
    let opts = CompileOptions::default();
    let is_null = CompiledQuery::compile("any where x == null", &opts).unwrap();
    let not_null = CompiledQuery::compile("any where x != null", &opts).unwrap();
    let not_is_null = CompiledQuery::compile("any where not null == x", &opts).unwrap();
    let mut bad = Vec::new();
    for (events, absent) in [(&missing[..], true), (&present[..], false)] {
        for ev in events {
            let bytes = serde_json::to_vec(ev).unwrap();
            for (q, want) in [
                (&is_null, absent),
                (&not_null, !absent),
                (&not_is_null, !absent),
            ] {
                let got = (
                    q.is_match_reference(ev),
                    q.is_match(ev),
                    q.is_match_json(&bytes).unwrap(),
                );
                if got != (want, want, want) {
                    bad.push(format!("{} on {ev}: {got:?}, want {want}", q.query()));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}
