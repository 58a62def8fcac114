//! CompiledQuery-level behaviour over parsed queries: categories, JSON paths,
//! multi-valued fields, compile errors and out-of-scope query forms.
#![allow(missing_docs)]

use eql_engine::{CompileOptions, CompiledQuery, Dialect, Pack, PackMatches, Rule, RuleSet};
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
    let rules = [
        r#"any where a.b == "z" and a.c == "y""#,
        r#"any where a.b : "X" and a.c : "W" and a.d == 3"#,
        r#"any where a.c == "q""#,
        r#"any where a.b == "x" and not a.c == "w""#,
    ];
    let engines: Vec<CompiledQuery> = rules.iter().map(|q| es(q)).collect();
    let pack = Pack::new(&engines);
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

/// Queries compiled with different category fields in one pack: each is
/// routed by its own field, from a DOM and from bytes, and the results come
/// in pack order.
#[test]
fn a_pack_routes_each_query_by_its_own_category_field() {
    let mut kind = CompileOptions::default();
    kind.category_field = "kind".into();
    let queries = [
        (r#"process where name == "a""#, CompileOptions::default()),
        (r#"process where name == "a""#, kind.clone()),
        (r#"file where name == "a""#, kind),
        (
            "sequence [process where true] [file where true]",
            CompileOptions::default(),
        ),
        (r#"file where name : "A""#, CompileOptions::default()),
    ];
    let engines: Vec<CompiledQuery> = queries
        .iter()
        .map(|(q, o)| CompiledQuery::compile(q, o).expect("compiles"))
        .collect();
    let pack = Pack::new(&engines);
    assert_eq!(pack.len(), 4);
    assert_eq!(pack.rule_index(3), Some(4));
    // The EXPLAIN names both routing fields.
    let explain = pack.to_string();
    assert!(explain.contains("routed by event.category"), "{explain}");
    assert!(explain.contains("routed by kind"), "{explain}");
    let mut hits = PackMatches::new();
    for (event, want) in [
        (
            json!({"event": {"category": "process"}, "kind": "file", "name": "a"}),
            vec![0, 2],
        ),
        (
            json!({"event": {"category": "file"}, "kind": "process", "name": "a"}),
            vec![1, 3],
        ),
        (
            json!({"event": {"category": ["file", "process"]}, "name": "a"}),
            vec![0, 3],
        ),
        (
            json!({"kind": ["file", "process"], "name": "a"}),
            vec![1, 2],
        ),
    ] {
        let expected: Vec<u32> = engines
            .iter()
            .filter(|e| matches!(e.query().body, eql_engine::QueryBody::Event(_)))
            .zip(0u32..)
            .filter(|(e, _)| e.is_match_reference(&event))
            .map(|(_, i)| i)
            .collect();
        assert_eq!(expected, want, "{event}");
        pack.matches(&event, &mut hits);
        assert_eq!(hits.rules(), want, "{event}");
        let bytes = serde_json::to_vec(&event).expect("serializes");
        pack.matches_json(&bytes, &mut hits).expect("an object");
        assert_eq!(hits.rules(), want, "{event} from bytes");
    }
}

/// A compiled rule set matches through its routed pack: the single-event
/// rules that match, by rule index; a sequence rule is never among them.
#[test]
fn a_rule_set_matches_its_single_event_rules_through_the_pack() {
    let mut set = RuleSet::new();
    for q in [
        r#"process where process.name : "cmd.exe""#,
        "sequence [process where true] [process where true]",
        r#"process where process.name : "*.exe""#,
        "file where true",
    ] {
        set.push(Rule {
            query: q.into(),
            ..Rule::default()
        });
    }
    let (rules, errors) = set.compile(&CompileOptions::default());
    assert!(errors.is_empty());
    let mut hits = PackMatches::new();
    for event in [
        json!({"event": {"category": "process"}, "process": {"name": "CMD.EXE"}}),
        json!({"event": {"category": "process"}, "process": {"name": "a.exe"}}),
        json!({"event": {"category": ["file", "process"]}, "process": {"name": "cmd.exe"}}),
        json!({"event": {"category": "network"}}),
    ] {
        let expected: Vec<u32> = (0u32..)
            .zip(rules.rules())
            .filter(|(_, r)| {
                matches!(r.engine.query().body, eql_engine::QueryBody::Event(_))
                    && r.engine.is_match_reference(&event)
            })
            .map(|(i, _)| i)
            .collect();
        rules.matches(&event, &mut hits);
        assert_eq!(hits.rules(), expected, "{event}");
        let bytes = serde_json::to_vec(&event).expect("serializes");
        rules.matches_json(&bytes, &mut hits).expect("an object");
        assert_eq!(hits.rules(), expected, "{event} from bytes");
    }
}
