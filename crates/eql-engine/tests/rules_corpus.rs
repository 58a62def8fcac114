//! Every query of the detection-rules corpus compiles in the ES dialect
//! (function names, arities and regexes are checked by the engine).
#![allow(missing_docs)]

use eql_engine::{CompileOptions, CompiledQuery};

const CORPUS: &str = "/work/shared/corpus/detection-rules-eql.jsonl";

#[test]
fn detection_rules_compile() {
    let Ok(text) = std::fs::read_to_string(CORPUS) else {
        eprintln!("SKIP detection_rules_compile: {CORPUS} not found");
        return;
    };
    if eql_syntax::parse_query("any where true", &eql_syntax::ParseOptions::default()).is_err() {
        eprintln!("SKIP detection_rules_compile: parser not available yet");
        return;
    }
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
    for f in failures.iter().take(20) {
        eprintln!("  {f}");
    }
    assert!(
        failures.is_empty(),
        "{} rules failed to compile",
        failures.len()
    );
}
