//! `expressions.jsonl` `kind == "fold"` cases of the Python corpus, evaluated
//! in the Python dialect against an empty event.
#![allow(missing_docs)]

use eql_engine::{CompileOptions, CompiledQuery, Dialect, ParseOptions, Value};
use serde_json::{json, Value as Json};

mod common;

/// Cases known to fail, kept exact so that a fix (or a regression) is noticed.
const KNOWN_FAILING: &[&str] = &[];

fn to_json(v: Option<&Value<'_>>) -> Json {
    match v {
        None | Some(Value::Null) => Json::Null,
        Some(Value::Bool(b)) => json!(b),
        Some(Value::Int(i)) => json!(i),
        Some(Value::Float(f)) => json!(f),
        Some(Value::Str(s)) => json!(s.as_ref()),
        Some(Value::Array(a)) => Json::Array(a.iter().map(|x| to_json(Some(x))).collect()),
        Some(Value::Object(o)) => Json::Object(
            o.iter()
                .map(|(k, x)| (k.to_string(), to_json(Some(x))))
                .collect(),
        ),
    }
}

fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        _ => a == b,
    }
}

#[test]
#[ignore = "needs the shared corpus: set EQL_SHARED"]
fn python_fold_cases() {
    let text = common::shared_text("corpus/eql-py/expressions.jsonl");
    let (mut pass, mut total) = (0usize, 0usize);
    let mut failing = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Json = serde_json::from_str(line).unwrap();
        if case["kind"] != "fold" {
            continue;
        }
        let expr_text = case["expression"].as_str().unwrap();
        let expected = if case["expected_is_null"] == true {
            Json::Null
        } else {
            case["expected"].clone()
        };
        let modes: Vec<&str> = case["applies_to_modes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Json::as_str)
            .collect();
        for mode in modes {
            total += 1;
            let mut opts = CompileOptions::python();
            opts.dialect = Dialect::Python;
            opts.case_sensitive = mode == "case_sensitive";
            let label = format!("{expr_text} [{mode}]");
            let got = match eql_syntax::parse_expr(expr_text, &ParseOptions::python()) {
                Ok(x) => match CompiledQuery::eval_expr(&x, &opts, &json!({})) {
                    Ok(v) => to_json(v.as_ref()),
                    Err(e) => {
                        failing.push(format!("{label}: compile error {e}"));
                        continue;
                    }
                },
                Err(e) => {
                    failing.push(format!("{label}: parse error {e:?}"));
                    continue;
                }
            };
            if same(&got, &expected) {
                pass += 1;
            } else {
                failing.push(format!("{label}: expected {expected} got {got}"));
            }
        }
    }
    eprintln!("python fold cases: {pass}/{total} passed");
    assert!(total > 0, "no fold cases in expressions.jsonl");
    for f in &failing {
        eprintln!("  FAIL {f}");
    }
    let names: Vec<String> = failing
        .iter()
        .map(|f| f.split(": ").next().unwrap_or("").to_owned())
        .collect();
    let known: Vec<String> = KNOWN_FAILING.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(
        names, known,
        "failing set differs from the documented known-failing list"
    );
}
