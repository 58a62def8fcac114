//! CompiledQuery-level behaviour over parsed queries: categories, JSON paths,
//! multi-valued fields, compile errors and out-of-scope query forms.
#![allow(missing_docs)]

use eql_engine::{CompileOptions, CompiledQuery, Dialect, Pack, PackMatches};
use serde_json::json;

fn es(q: &str) -> CompiledQuery {
    CompiledQuery::compile(q, &CompileOptions::default()).unwrap()
}

#[test]
fn categories_and_paths() {
    let nested = json!({"event": {"category": "process"}, "process": {"name": "cmd.exe", "args": ["a", "/c"]}});
    let dotted = json!({"event.category": ["process", "file"], "process.name": "CMD.EXE"});
    let objs = json!({"event": {"category": "network"}, "dns": {"answers": [{"name": "a.com"}, {"name": "b.org"}]}});

    assert!(es(r#"process where process.name == "cmd.exe""#).is_match(&nested));
    assert!(!es(r#"file where process.name == "cmd.exe""#).is_match(&nested));
    assert!(es(r#"file where process.name : "cmd.exe""#).is_match(&dotted));
    assert!(!es(r#"process where process.name == "cmd.exe""#).is_match(&dotted));
    assert!(es(r#"any where process.args == "/c""#).is_match(&nested));
    assert!(es(r#"any where process.args : "/C""#).is_match(&nested));
    assert!(!es(r#"any where process.args != "/c""#).is_match(&nested));
    assert!(es(r#"any where dns.answers.name : "*.org""#).is_match(&objs));
    assert!(es(r#"any where not dns.answers.name : "*.net""#).is_match(&objs));
    assert!(es(r#"any where process.name != "x""#).is_match(&objs));
    assert!(!es("any where not process.pid > 3").is_match(&objs));
    assert!(es("any where length(process.name) == 7").is_match(&nested));
    assert!(es(r#"any where process.name regex~ "C.D\\.exe""#).is_match(&dotted));
    assert!(es(r#"any where startsWith~(process.name, "cmd")"#).is_match(&dotted));
    assert!(!es(r#"any where startsWith(process.name, "cmd")"#).is_match(&dotted));
}

#[test]
fn python_dialect_queries() {
    let py = CompileOptions::python();
    let ev = json!({"event_type": "process", "process_name": "CMD.exe", "args": ["x", "Y"]});
    let q = |s: &str| CompiledQuery::compile(s, &py).unwrap();
    assert!(q(r#"process where process_name == "cmd.exe""#).is_match(&ev));
    assert!(q(r#"process where process_name == "c*.EXE""#).is_match(&ev));
    assert!(q(r#"process where arrayContains(args, "y")"#).is_match(&ev));
    assert!(q(r#"process where arraySearch(args, a, a == "x")"#).is_match(&ev));
    assert!(!q(r#"process where missing != "a""#).is_match(&ev));
    let mut cs = CompileOptions::python();
    cs.case_sensitive = true;
    assert!(
        !CompiledQuery::compile(r#"process where process_name == "cmd.exe""#, &cs)
            .unwrap()
            .is_match(&ev)
    );
}

#[test]
fn compile_errors_and_out_of_scope_forms() {
    let opts = CompileOptions::default();
    let err = CompiledQuery::compile("any where nope(x)", &opts).unwrap_err();
    assert_eq!(err.diagnostic.code, "EQL0301");
    assert!(CompiledQuery::compile("any where length(x, y)", &opts).is_err());
    assert!(CompiledQuery::compile("any where length~(x) > 1", &opts).is_err());
    assert!(CompiledQuery::compile(r#"any where x regex "(""#, &opts).is_err());
    let seq = CompiledQuery::compile("sequence [any where true] [any where true]", &opts).unwrap();
    assert!(!seq.is_match(&json!({})));
    let mut py = CompileOptions::python();
    py.dialect = Dialect::Python;
    assert!(CompiledQuery::compile("any where arrayCount(x, y, y == 1) > 0", &py).is_ok());
}

/// An array of objects reports its fields interleaved (`a.b`, `a.c`, `a.b`,
/// ...) when read from raw bytes: the pack's slots must still hold each
/// field's items, in order, as the DOM and the reference give them.
#[test]
fn interleaved_array_items_from_raw_bytes() {
    let opts = CompileOptions::default();
    let rules = [
        r#"any where a.b == "z" and a.c == "y""#,
        r#"any where a.b : "X" and a.c : "W" and a.d == 3"#,
        r#"any where a.c == "q""#,
        r#"any where a.b == "x" and not a.c == "w""#,
    ];
    let engines: Vec<CompiledQuery> = rules.iter().map(|q| es(q)).collect();
    let pack = Pack::new(&engines, &opts);
    let line =
        br#"{"a":[{"b":"x","c":"y","d":1},{"b":"z","c":"w","d":3},{"d":2,"c":"v","b":"u"}]}"#;
    let dom: serde_json::Value = serde_json::from_slice(line).expect("valid JSON");
    let expected: Vec<u32> = (0u32..)
        .zip(&engines)
        .filter(|(_, e)| e.is_match_reference(&dom))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(expected, [0, 1]);
    let mut hits = PackMatches::new();
    pack.matches_json(line, &mut hits).expect("valid JSON");
    assert_eq!(hits.rules(), expected);
    pack.matches(&dom, &mut hits);
    assert_eq!(hits.rules(), expected);
    for (e, want) in engines.iter().zip([true, true, false, false]) {
        assert_eq!(e.is_match_json(line).expect("valid JSON"), want);
    }
}
