//! Every corpus query parses and round-trips through Display. Needs the
//! shared corpus (`EQL_SHARED`, else the `shared` folder beside the
//! workspace): ignored by default, failing when run without it.

use eql_syntax::{parse_query, ParseOptions};
use std::path::PathBuf;

/// The queries of a JSONL file of the shared corpus; panics when it is absent.
fn corpus(rel: &str) -> Vec<String> {
    let shared = std::env::var_os("EQL_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    );
    let p = shared.join("corpus").join(rel);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| {
        panic!(
            "needs the shared corpus: {}: {e} (set EQL_SHARED to the shared folder)",
            p.display()
        )
    });
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            v["query"].as_str().expect("query field").to_string()
        })
        .collect()
}

fn check_all(queries: &[String], opts: &ParseOptions) {
    let mut failures = Vec::new();
    for q in queries {
        match parse_query(q, opts) {
            Ok(ast) => {
                let printed = ast.to_string();
                match parse_query(&printed, opts) {
                    Ok(again) => {
                        if again.without_spans() != ast.without_spans() {
                            failures.push(format!("round-trip changed tree:\n{q}\n=> {printed}"));
                        } else if again.to_string() != printed {
                            failures.push(format!("print not stable:\n{printed}"));
                        }
                    }
                    Err(e) => failures.push(format!(
                        "reprint fails:\n{q}\n=> {printed}\n{}",
                        e.to_diagnostic().render(&printed, None)
                    )),
                }
            }
            Err(e) => failures.push(format!("{q}\n{}", e.to_diagnostic().render(q, None))),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
#[ignore = "needs the shared corpus: set EQL_SHARED"]
fn detection_rules_es() {
    let qs = corpus("detection-rules-eql.jsonl");
    assert_eq!(qs.len(), 1081);
    check_all(&qs, &ParseOptions::default());
}

#[test]
#[ignore = "needs the shared corpus: set EQL_SHARED"]
fn eql_py_python() {
    let qs = corpus("eql-py/queries.jsonl");
    assert_eq!(qs.len(), 241);
    check_all(&qs, &ParseOptions::python());
}
