//! Every corpus query parses and round-trips through Display.

use eql_syntax::{parse_query, ParseOptions};
use std::path::PathBuf;

fn corpus(rel: &str) -> Option<Vec<String>> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(rel);
    let Ok(text) = std::fs::read_to_string(&p) else {
        eprintln!("corpus file {} absent; skipping", p.display());
        return None;
    };
    Some(
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json line");
                v["query"].as_str().expect("query field").to_string()
            })
            .collect(),
    )
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
fn detection_rules_es() {
    let Some(qs) = corpus("detection-rules-eql.jsonl") else {
        return;
    };
    assert_eq!(qs.len(), 1081);
    check_all(&qs, &ParseOptions::default());
}

#[test]
fn eql_py_python() {
    let Some(qs) = corpus("eql-py/queries.jsonl") else {
        return;
    };
    assert_eq!(qs.len(), 241);
    check_all(&qs, &ParseOptions::python());
}
