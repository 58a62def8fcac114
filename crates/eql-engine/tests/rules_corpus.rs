//! Every query of the detection-rules corpus compiles in the ES dialect
//! (function names, arities and regexes are checked by the engine).
#![allow(missing_docs)]

use eql_engine::{CompileOptions, CompiledQuery};

mod common;

#[test]
#[ignore = "needs the shared corpus: set EQL_SHARED"]
fn detection_rules_compile() {
    let text = common::shared_text("corpus/detection-rules-eql.jsonl");
    let (mut ok, mut total) = (0usize, 0usize);
    let mut failures = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let rule: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(q) = rule["query"].as_str() else {
            continue;
        };
        total += 1;
        match CompiledQuery::compile(q, &CompileOptions::default()) {
            Ok(_) => ok += 1,
            Err(e) => failures.push(format!("{}: {e}", rule["rule_id"])),
        }
    }
    eprintln!("detection rules compiled: {ok}/{total}");
    assert_eq!(total, 1081, "queries in the detection-rules corpus");
    for f in failures.iter().take(20) {
        eprintln!("  {f}");
    }
    assert!(
        failures.is_empty(),
        "{} rules failed to compile",
        failures.len()
    );
}
