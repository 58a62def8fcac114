//! The `serde` feature: rules serialize in Elastic's rule shape and come
//! back equal, values as the JSON they stand for, diagnostics with a known
//! code, session stats and results.
#![cfg(all(feature = "rules", feature = "serde"))]
#![allow(missing_docs)]

mod common;

use eql_engine::{
    CompileOptions, CompiledQuery, Diagnostic, Matches, Rule, RuleSet, Session, SessionOptions,
    SessionStats, Value,
};
use proptest::prelude::*;
use serde_json::{json, Value as Json};

#[test]
fn seed_rule_serializes_in_elastic_shape_and_round_trips() {
    let set = RuleSet::builtin();
    let rule = &set.rules()[0];
    let json = serde_json::to_value(rule).unwrap();
    assert_eq!(json["type"], "eql");
    assert_eq!(json["rule_id"], "e94262f2-c1e9-4d3f-a907-aeab16712e1a");
    assert_eq!(json["threat"][0]["tactic"]["id"], "TA0005");
    assert_eq!(json["threat"][0]["technique"][0]["id"], "T1211");
    // No sub-techniques: the key is left out, as in Elastic's rule objects.
    assert!(json["threat"][0]["technique"][0]
        .get("subtechnique")
        .is_none());
    // Unset fields are left out; `extra` sits beside the known fields.
    assert!(json.get("tiebreaker_field").is_none());
    assert_eq!(json["metadata"]["creation_date"], "2020/08/19");
    assert!(json.get("extra").is_none());
    let back: Rule = serde_json::from_value(json).unwrap();
    assert_eq!(&back, rule);
}

#[test]
fn a_rule_object_deserializes_with_unknown_fields_kept() {
    let rule: Rule = serde_json::from_value(json!({
        "name": "n",
        "query": "process where true",
        "type": "eql",
        "risk_score": 21,
        "threat": [{"framework": "MITRE ATT&CK", "tactic": {"id": "TA0002", "name": "Execution", "reference": "r"},
                    "technique": [{"id": "T1059", "name": "x", "reference": "y",
                                   "subtechnique": [{"id": "T1059.001", "name": "PowerShell", "reference": "z"}]}]}],
        "setup": "s",
        "required_fields": [{"name": "process.name", "type": "keyword"}]
    }))
    .unwrap();
    assert_eq!(rule.rule_type.as_deref(), Some("eql"));
    assert_eq!(rule.risk_score, Some(21));
    assert_eq!(
        rule.threat[0].techniques[0].subtechniques[0].id,
        "T1059.001"
    );
    assert_eq!(rule.extra["setup"], "s");
    assert_eq!(rule.extra["required_fields"][0]["name"], "process.name");
    assert_eq!(rule.extra.len(), 2);
}

/// Every corpus rule serializes to an object holding each field of its
/// JSONL line with the same value, and deserializes back to itself.
#[test]
#[ignore = "needs the shared corpus: set EQL_SHARED"]
fn corpus_rules_serialize_to_their_own_fields() {
    let path = common::shared().join("corpus/detection-rules-eql.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let (set, errors) = RuleSet::parse_jsonl(&path, &text);
    assert!(errors.is_empty());
    assert_eq!(set.len(), 1081);
    for (rule, line) in set
        .iter()
        .zip(text.lines().filter(|l| !l.trim().is_empty()))
    {
        let original: Json = serde_json::from_str(line).unwrap();
        let json = serde_json::to_value(rule).unwrap();
        for (k, v) in original.as_object().unwrap() {
            assert_eq!(&json[k], v, "{}: field {k}", rule.name);
        }
        let back: Rule = serde_json::from_value(json).unwrap();
        assert_eq!(&back, rule);
    }
}

fn values() -> impl Strategy<Value = Value<'static>> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        // Decimal floats: serde_json's default float parser is exact on
        // these (not on every f64; its `float_roundtrip` feature is).
        (any::<i32>(), 0i32..8).prop_map(|(m, e)| Value::Float(f64::from(m) / 10f64.powi(e))),
        ".{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z.]{0,4}", inner), 0..4).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.into(), v)).collect())
            }),
        ]
    })
}

proptest! {
    /// A value (finite floats) comes back equal through JSON, and a JSON DOM
    /// deserializes to the value the engine reads from that DOM.
    #[test]
    fn values_round_trip_through_json(v in values()) {
        let text = serde_json::to_string(&v).unwrap();
        let back: Value<'static> = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&back, &v);
        let dom: Json = serde_json::from_str(&text).unwrap();
        let via_dom: Value<'static> = serde_json::from_value(dom.clone()).unwrap();
        let holder = json!({ "x": dom });
        let read = eql_engine::Event::get(&holder, &eql_engine::FieldPath::parse_dotted("x"));
        prop_assert_eq!(read.map(Value::into_owned), Some(via_dom));
    }
}

#[test]
fn diagnostics_round_trip_and_unknown_codes_are_refused() {
    let err = CompiledQuery::compile("process where foo(", &CompileOptions::default()).unwrap_err();
    let d = &err.diagnostic;
    let json = serde_json::to_value(d).unwrap();
    assert_eq!(json["code"], d.code);
    assert_eq!(json["severity"], "error");
    assert_eq!(json["span"]["start"], d.span.start);
    let back: Diagnostic = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(&back, d);
    let mut unknown = json;
    unknown["code"] = json!("EQL9999");
    let e = serde_json::from_value::<Diagnostic>(unknown).unwrap_err();
    assert!(
        e.to_string().contains("unknown diagnostic code `EQL9999`"),
        "{e}"
    );
}

/// Every code literal in the crates' sources is in `eql_syntax::CODES`, so
/// every diagnostic the crates make deserializes.
#[test]
fn every_emitted_code_is_registered() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut stack = vec![root];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs")
                || !path.to_string_lossy().contains("/src/")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, _) in text.match_indices("\"EQL") {
                let code = &text[i + 1..(i + 8).min(text.len())];
                if code.len() == 7 && code[3..].bytes().all(|b| b.is_ascii_digit()) {
                    assert!(
                        eql_syntax::CODES.contains(&code),
                        "{}: {code}",
                        path.display()
                    );
                    seen += 1;
                }
            }
        }
    }
    assert!(seen >= eql_syntax::CODES.len(), "{seen}");
}

#[test]
fn session_stats_and_matches_serialize() {
    let engine = CompiledQuery::compile(
        "sequence by host.id [process where true] [file where true]",
        &CompileOptions::default(),
    )
    .unwrap();
    let mut s = Session::<String>::new(&engine, SessionOptions::default());
    let mut out = Matches::new();
    let ev =
        |t: i64, c: &str| json!({"@timestamp": t, "event": {"category": c}, "host": {"id": "h1"}});
    s.push("a".into(), &ev(1, "process"), &mut out);
    s.push("b".into(), &ev(2, "file"), &mut out);
    s.push("c".into(), &ev(0, "file"), &mut out);
    // Bounded input (the default): stateful results come at `finish`, in
    // timestamp order, and no event is late.
    s.finish(&mut out);
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(
        json,
        json!({"matches": [{"rule": 0, "events": ["a", "b"], "key": ["h1"]}], "late": []})
    );
    let stats = s.stats();
    let back: SessionStats = serde_json::from_value(serde_json::to_value(&stats).unwrap()).unwrap();
    assert_eq!(back, stats);
    assert_eq!(serde_json::to_value(&stats).unwrap()["events"], 3);
    // Counters missing from the input read as 0 (a newer or older writer).
    let partial: SessionStats = serde_json::from_value(json!({"events": 5})).unwrap();
    assert_eq!((partial.events, partial.matches), (5, 0));
}
