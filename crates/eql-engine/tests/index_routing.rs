//! Index patterns: the shipped seed rule runs for the endpoint file index and
//! not for CloudTrail, a routed subset runs like the whole set on its own
//! index, and the corpus rules route as their patterns say.
#![cfg(feature = "rules")]
#![allow(missing_docs)]

mod common;

use eql_engine::{
    event_index, CompileOptions, CompiledRuleSet, IndexRouter, Matches, RuleSet, Session,
    SessionOptions,
};

const FILE: &str = "logs-endpoint.events.file-default";
const PROCESS: &str = "logs-endpoint.events.process-default";
const CLOUDTRAIL: &str = "logs-aws.cloudtrail-default";

fn sample_events() -> Vec<serde_json::Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data/sample-events.ndjson");
    let text = std::fs::read_to_string(path).expect("sample events");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON event"))
        .collect()
}

fn alerts(set: &CompiledRuleSet, events: &[serde_json::Value]) -> Vec<(usize, usize)> {
    let mut session = Session::<usize>::new(set, SessionOptions::default());
    let mut out = Matches::new();
    for (i, e) in events.iter().enumerate() {
        session.push(i, e, &mut out);
    }
    session.finish(&mut out);
    out.iter().map(|m| (m.rule, m.events[0])).collect()
}

#[test]
fn seed_rule_applies_to_the_file_index_and_not_to_cloudtrail() {
    let (pack, errors) = RuleSet::builtin().compile(&CompileOptions::default());
    assert!(errors.is_empty());
    assert_eq!(pack.len(), 1);
    let seed = &pack.rules()[0].rule;
    assert!(seed.index_patterns().matches(FILE));
    assert!(!seed.index_patterns().matches(CLOUDTRAIL));
    assert_eq!(pack.route(FILE).rules(), &[0]);
    assert!(pack.route(CLOUDTRAIL).is_empty());
    assert_eq!(pack.for_index(FILE).len(), 1);
    assert!(pack.for_index(CLOUDTRAIL).is_empty());

    // The routed subset gives the whole set's alerts on the events of its
    // index; the CloudTrail subset gives none.
    let events = sample_events();
    let whole = alerts(&pack, &events);
    let expected = events
        .iter()
        .filter(|e| e["labels"]["expect_alert"].as_bool() == Some(true))
        .count();
    assert_eq!(whole.len(), expected);
    assert_eq!(alerts(&pack.for_index(FILE), &events), whole);
    assert!(alerts(&pack.for_index(CLOUDTRAIL), &events).is_empty());
}

#[test]
fn router_reads_the_index_from_each_event() {
    let (pack, _) = RuleSet::builtin().compile(&CompileOptions::default());
    let mut router = IndexRouter::new(&pack);
    let file = serde_json::json!({"data_stream": {"type": "logs", "dataset": "endpoint.events.file", "namespace": "default"}});
    let trail = serde_json::json!({"_index": ".ds-logs-aws.cloudtrail-default-2024.01.01-000001"});
    assert_eq!(event_index(&file).as_deref(), Some(FILE));
    assert!(router.route_event(&file).is_some_and(|r| r.contains(0)));
    assert!(router.route_event(&trail).is_some_and(|r| !r.contains(0)));
    assert_eq!(router.cached(), 2);
    // `_index` wins over `data_stream`.
    let both = serde_json::json!({"_index": "winlogbeat-8", "data_stream": {"type": "logs", "dataset": "x", "namespace": "y"}});
    assert_eq!(event_index(&both).as_deref(), Some("winlogbeat-8"));
    // An incomplete data_stream names no index.
    let partial = serde_json::json!({"data_stream": {"type": "logs", "dataset": "x"}});
    assert_eq!(event_index(&partial), None);
}

/// An independent reading of the corpus's patterns, which are all plain
/// names or a prefix followed by one `*` (checked here), with no exclusion.
fn corpus_pattern_matches(pattern: &str, name: &str) -> Option<bool> {
    if pattern.starts_with('-') {
        return None;
    }
    match pattern.find('*') {
        None => Some(pattern == name),
        Some(k) if k + 1 == pattern.len() => Some(name.starts_with(&pattern[..k])),
        Some(_) => None,
    }
}

#[test]
#[ignore = "needs the shared corpus: set EQL_SHARED"]
fn corpus_rules_route_by_their_patterns() {
    let path = common::shared().join("corpus/detection-rules-eql.jsonl");
    let (set, errors) = RuleSet::from_path(&path);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(set.len(), 1081);
    let (pack, errors) = set.compile(&CompileOptions::default());
    assert!(errors.is_empty());
    for name in [PROCESS, FILE, CLOUDTRAIL] {
        let route = pack.route(name);
        // The same count from the raw JSON patterns, read independently
        // (rules whose patterns the simple reading cannot decide are
        // compared one by one with the library's answer instead).
        let mut expected = 0;
        for (i, r) in pack.iter().enumerate() {
            let answers: Vec<Option<bool>> = r
                .rule
                .index
                .iter()
                .map(|p| corpus_pattern_matches(p, name))
                .collect();
            let hit = if answers.iter().any(Option::is_none) {
                route.contains(i)
            } else {
                answers.contains(&Some(true))
            };
            if hit {
                expected += 1;
            }
            assert_eq!(
                hit,
                route.contains(i),
                "{}: {:?}",
                r.rule.name,
                r.rule.index
            );
        }
        assert_eq!(route.len(), expected);
        assert_eq!(pack.for_index(name).len(), route.len());
        eprintln!("{route}");
    }
}

/// The routing types and load errors move across threads and can be shared.
#[test]
fn routing_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<eql_engine::IndexPatterns>();
    send_sync::<eql_engine::IndexRoute>();
    send_sync::<IndexRouter>();
    send_sync::<eql_engine::RuleLoadError>();
    send_sync::<CompiledRuleSet>();
}
