//! Alert documents against the field list of Elastic's alerts index: the
//! seed rule's alerts on the bundled events, and a sequence rule's shell and
//! building-block alerts over the same events.
#![cfg(all(feature = "rules", feature = "serde"))]
#![allow(missing_docs)]

use std::collections::BTreeSet;
use std::time::{Duration, UNIX_EPOCH};

use eql_engine::{
    alert_documents, AlertEvent, AlertOptions, CompileOptions, CompiledRuleSet, Matches, RuleSet,
    Session, SessionOptions,
};
use serde_json::{Map, Value as Json};

/// How a field is mapped in the alerts index.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Keyword,
    Long,
    Float,
    Date,
    Boolean,
    Version,
    /// `flattened`: any object below.
    Flattened,
}
use Kind::{Boolean, Date, Flattened, Float, Keyword, Long, Version};

/// `(field, mapping, may hold an array, every alert carries it)`, taken from
/// Elastic's published alert field maps: the alerting framework's
/// `alertFieldMap`, the rule registry's `technicalRuleFieldMap`, and the
/// security solution's `alertsFieldMap` and `rulesFieldMap` (8.x). The last
/// column is the framework's `required`, plus the fields Kibana's security
/// rules always write (`kibana.alert.ancestors`, `depth`, `original_time`,
/// the rule's severity and risk score); the security maps' `required` on the
/// `original_event.*` fields holds only when the source has the field (see
/// `original_event_follows_the_source`).
const FIELDS: &[(&str, Kind, bool, bool)] = &[
    ("@timestamp", Date, false, true),
    ("event.kind", Keyword, false, true),
    ("event.action", Keyword, false, false),
    ("tags", Keyword, true, false),
    ("ecs.version", Keyword, false, false),
    ("kibana.space_ids", Keyword, true, true),
    ("kibana.version", Version, false, false),
    ("kibana.alert.uuid", Keyword, false, true),
    ("kibana.alert.instance.id", Keyword, false, true),
    ("kibana.alert.status", Keyword, false, true),
    ("kibana.alert.workflow_status", Keyword, false, false),
    ("kibana.alert.workflow_tags", Keyword, true, false),
    ("kibana.alert.workflow_assignee_ids", Keyword, true, false),
    ("kibana.alert.workflow_user", Keyword, false, false),
    ("kibana.alert.workflow_reason", Keyword, false, false),
    ("kibana.alert.reason", Keyword, false, false),
    ("kibana.alert.severity", Keyword, false, true),
    ("kibana.alert.risk_score", Float, false, true),
    ("kibana.alert.start", Date, false, false),
    ("kibana.alert.end", Date, false, false),
    ("kibana.alert.duration.us", Long, false, false),
    ("kibana.alert.intended_timestamp", Date, false, false),
    ("kibana.alert.action_group", Keyword, false, false),
    ("kibana.alert.flapping", Boolean, false, false),
    ("kibana.alert.case_ids", Keyword, true, false),
    ("kibana.alert.url", Keyword, false, false),
    ("kibana.alert.ancestors.depth", Long, false, true),
    ("kibana.alert.ancestors.id", Keyword, false, true),
    ("kibana.alert.ancestors.index", Keyword, false, true),
    ("kibana.alert.ancestors.type", Keyword, false, true),
    ("kibana.alert.ancestors.rule", Keyword, false, false),
    ("kibana.alert.building_block_type", Keyword, false, false),
    ("kibana.alert.depth", Long, false, true),
    ("kibana.alert.group.id", Keyword, false, false),
    ("kibana.alert.group.index", Long, false, false),
    ("kibana.alert.original_time", Date, false, true),
    ("kibana.alert.original_event.action", Keyword, false, false),
    (
        "kibana.alert.original_event.agent_id_status",
        Keyword,
        false,
        false,
    ),
    ("kibana.alert.original_event.category", Keyword, true, false),
    ("kibana.alert.original_event.code", Keyword, false, false),
    ("kibana.alert.original_event.created", Date, false, false),
    ("kibana.alert.original_event.dataset", Keyword, false, false),
    (
        "kibana.alert.original_event.duration",
        Keyword,
        false,
        false,
    ),
    ("kibana.alert.original_event.end", Date, false, false),
    ("kibana.alert.original_event.hash", Keyword, false, false),
    ("kibana.alert.original_event.id", Keyword, false, false),
    ("kibana.alert.original_event.ingested", Date, false, false),
    ("kibana.alert.original_event.kind", Keyword, false, false),
    ("kibana.alert.original_event.module", Keyword, false, false),
    (
        "kibana.alert.original_event.original",
        Keyword,
        false,
        false,
    ),
    ("kibana.alert.original_event.outcome", Keyword, false, false),
    (
        "kibana.alert.original_event.provider",
        Keyword,
        false,
        false,
    ),
    ("kibana.alert.original_event.reason", Keyword, false, false),
    (
        "kibana.alert.original_event.reference",
        Keyword,
        false,
        false,
    ),
    (
        "kibana.alert.original_event.risk_score",
        Float,
        false,
        false,
    ),
    (
        "kibana.alert.original_event.risk_score_norm",
        Float,
        false,
        false,
    ),
    ("kibana.alert.original_event.sequence", Long, false, false),
    ("kibana.alert.original_event.severity", Long, false, false),
    ("kibana.alert.original_event.start", Date, false, false),
    (
        "kibana.alert.original_event.timezone",
        Keyword,
        false,
        false,
    ),
    ("kibana.alert.original_event.type", Keyword, true, false),
    ("kibana.alert.original_event.url", Keyword, false, false),
    ("kibana.alert.rule.uuid", Keyword, false, true),
    ("kibana.alert.rule.name", Keyword, false, true),
    ("kibana.alert.rule.category", Keyword, false, true),
    ("kibana.alert.rule.consumer", Keyword, false, true),
    ("kibana.alert.rule.producer", Keyword, false, true),
    ("kibana.alert.rule.revision", Long, false, true),
    ("kibana.alert.rule.rule_type_id", Keyword, false, true),
    ("kibana.alert.rule.parameters", Flattened, false, false),
    ("kibana.alert.rule.tags", Keyword, true, false),
    ("kibana.alert.rule.execution.uuid", Keyword, false, false),
    ("kibana.alert.rule.author", Keyword, true, false),
    ("kibana.alert.rule.created_at", Date, false, false),
    ("kibana.alert.rule.created_by", Keyword, false, false),
    ("kibana.alert.rule.description", Keyword, false, false),
    ("kibana.alert.rule.enabled", Keyword, false, false),
    ("kibana.alert.rule.from", Keyword, false, false),
    ("kibana.alert.rule.interval", Keyword, false, false),
    ("kibana.alert.rule.license", Keyword, false, false),
    ("kibana.alert.rule.note", Keyword, false, false),
    ("kibana.alert.rule.references", Keyword, true, false),
    ("kibana.alert.rule.rule_id", Keyword, false, true),
    (
        "kibana.alert.rule.rule_name_override",
        Keyword,
        false,
        false,
    ),
    ("kibana.alert.rule.to", Keyword, false, false),
    ("kibana.alert.rule.type", Keyword, false, false),
    ("kibana.alert.rule.updated_at", Date, false, false),
    ("kibana.alert.rule.updated_by", Keyword, false, false),
    ("kibana.alert.rule.version", Keyword, false, true),
    (
        "kibana.alert.rule.building_block_type",
        Keyword,
        false,
        false,
    ),
    ("kibana.alert.rule.false_positives", Keyword, true, false),
    ("kibana.alert.rule.immutable", Keyword, true, false),
    ("kibana.alert.rule.index", Keyword, true, false),
    ("kibana.alert.rule.language", Keyword, true, false),
    ("kibana.alert.rule.max_signals", Long, true, false),
    ("kibana.alert.rule.query", Keyword, true, false),
    (
        "kibana.alert.rule.timestamp_override",
        Keyword,
        false,
        false,
    ),
    ("kibana.alert.rule.threat.framework", Keyword, false, false),
    ("kibana.alert.rule.threat.tactic.id", Keyword, false, false),
    (
        "kibana.alert.rule.threat.tactic.name",
        Keyword,
        false,
        false,
    ),
    (
        "kibana.alert.rule.threat.tactic.reference",
        Keyword,
        false,
        false,
    ),
    (
        "kibana.alert.rule.threat.technique.id",
        Keyword,
        false,
        false,
    ),
    (
        "kibana.alert.rule.threat.technique.name",
        Keyword,
        false,
        false,
    ),
    (
        "kibana.alert.rule.threat.technique.reference",
        Keyword,
        false,
        false,
    ),
    (
        "kibana.alert.rule.threat.technique.subtechnique.id",
        Keyword,
        false,
        false,
    ),
    (
        "kibana.alert.rule.threat.technique.subtechnique.name",
        Keyword,
        false,
        false,
    ),
    (
        "kibana.alert.rule.threat.technique.subtechnique.reference",
        Keyword,
        false,
        false,
    ),
    // Written by Kibana's security rules although the maps do not list
    // them ("these fields don't exist in the mappings" in its source).
    ("kibana.alert.rule.severity", Keyword, false, true),
    ("kibana.alert.rule.risk_score", Float, false, true),
];

fn field(path: &str) -> Option<(Kind, bool, bool)> {
    FIELDS
        .iter()
        .find(|(p, ..)| *p == path)
        .map(|&(_, k, a, r)| (k, a, r))
}

/// Every leaf of `v` under `path`: objects are walked (dotted keys and
/// nested objects alike), arrays of objects item by item; a `flattened`
/// field is one leaf.
fn leaves(path: &str, v: &Json, out: &mut Vec<(String, Json)>) {
    let is_flattened = matches!(field(path), Some((Flattened, ..)));
    match v {
        Json::Object(m) if !is_flattened => {
            for (k, x) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaves(&p, x, out);
            }
        }
        Json::Array(items) if items.iter().any(Json::is_object) && !is_flattened => {
            for x in items {
                leaves(path, x, out);
            }
        }
        _ => out.push((path.to_string(), v.clone())),
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|x| x.iter().all(u8::is_ascii_digit));
    s.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && (s.ends_with('Z') || s[19..].contains(['+', '-']))
}

fn type_ok(kind: Kind, v: &Json) -> bool {
    match kind {
        Keyword | Version => v.is_string(),
        Long => v.is_i64() || v.is_u64(),
        Float => v.is_number(),
        Date => v.as_str().is_some_and(is_date),
        Boolean => v.is_boolean(),
        Flattened => v.is_object(),
    }
}

/// Checks one alert document against the field list; returns its problems.
fn check(doc: &Json) -> Vec<String> {
    let mut problems = Vec::new();
    let mut all = Vec::new();
    leaves("", doc, &mut all);
    let present: BTreeSet<&str> = all.iter().map(|(p, _)| p.as_str()).collect();
    for (path, v) in &all {
        if !(path.starts_with("kibana.") || path == "@timestamp" || path == "event.kind") {
            continue;
        }
        let Some((kind, array, _)) = field(path) else {
            problems.push(format!("{path}: not in the alerts field list"));
            continue;
        };
        match v {
            Json::Array(items) if array || items.is_empty() => {
                for x in items {
                    if !type_ok(kind, x) {
                        problems.push(format!("{path}: item {x} is not a {kind:?}"));
                    }
                }
            }
            Json::Array(_) => problems.push(format!("{path}: an array in a single-valued field")),
            x if !type_ok(kind, x) => problems.push(format!("{path}: {x} is not a {kind:?}")),
            _ => {}
        }
    }
    for (path, _, _, required) in FIELDS {
        if *required && !present.contains(path) {
            problems.push(format!("{path}: required, missing"));
        }
    }
    if doc["event.kind"] != "signal" {
        problems.push("event.kind is not `signal`".into());
    }
    problems
}

/// The source's fields are the alert's (its `@timestamp` as
/// `kibana.alert.original_time`), and its `event.*` fields are also under
/// `kibana.alert.original_event.*`.
fn original_event_follows_the_source(doc: &Json, source: &Json) -> Vec<String> {
    let mut problems = Vec::new();
    let mut src = Vec::new();
    leaves("", source, &mut src);
    let mut got = Vec::new();
    leaves("", doc, &mut got);
    let value_of = |p: &str| got.iter().find(|(q, _)| q == p).map(|(_, v)| v);
    for (path, v) in &src {
        if let Some(rest) = path.strip_prefix("event.") {
            let original = format!("kibana.alert.original_event.{rest}");
            if value_of(&original) != Some(v) {
                problems.push(format!("{original}: expected {v}"));
            }
            if rest != "kind" && value_of(path) != Some(v) {
                problems.push(format!("{path}: expected {v}"));
            }
        } else if path == "@timestamp" {
            // The alert's own time; the source's is `original_time`.
            if value_of("kibana.alert.original_time") != Some(v) {
                problems.push(format!("kibana.alert.original_time: expected {v}"));
            }
        } else if value_of(path) != Some(v) {
            problems.push(format!("{path}: source value {v} not kept"));
        }
    }
    problems
}

fn sample_events() -> Vec<Json> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data/sample-events.ndjson");
    std::fs::read_to_string(path)
        .expect("sample events")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect()
}

/// The alert documents of every result of `set` over `events`.
fn run(set: &CompiledRuleSet, events: &[Json]) -> Vec<(Vec<usize>, Vec<Json>)> {
    let mut session = Session::<usize>::new(set, SessionOptions::default());
    let mut out = Matches::new();
    for (i, e) in events.iter().enumerate() {
        session.push(i, e, &mut out);
    }
    session.finish(&mut out);
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    out.iter()
        .map(|m| {
            let sources: Vec<AlertEvent<'_>> = m
                .events
                .iter()
                .map(|&i| AlertEvent::new(&events[i], format!("sample-events.ndjson:{}", i + 1)))
                .collect();
            let rule = &set.rules()[m.rule].rule;
            (
                m.events.to_vec(),
                alert_documents(rule, &sources, now, &AlertOptions::default()),
            )
        })
        .collect()
}

#[test]
fn seed_rule_alerts_carry_the_documented_fields() {
    let (set, errors) = RuleSet::builtin().compile(&CompileOptions::default());
    assert!(errors.is_empty());
    let events = sample_events();
    let results = run(&set, &events);
    assert_eq!(results.len(), 7);
    let rule = &set.rules()[0].rule;
    for (ids, docs) in &results {
        let [doc] = &docs[..] else {
            panic!("one alert per single-event match")
        };
        let problems = check(doc);
        assert!(problems.is_empty(), "{problems:#?}");
        let source = &events[ids[0]];
        let problems = original_event_follows_the_source(doc, source);
        assert!(problems.is_empty(), "{problems:#?}");
        assert_eq!(doc["@timestamp"], "2027-01-15T08:00:00.000Z");
        assert_eq!(doc["kibana.alert.original_time"], source["@timestamp"]);
        assert_eq!(doc["kibana.alert.rule.name"], rule.name.as_str());
        assert_eq!(
            doc["kibana.alert.rule.rule_id"].as_str(),
            rule.rule_id.as_deref()
        );
        assert_eq!(doc["kibana.alert.rule.version"], "311");
        assert_eq!(doc["kibana.alert.severity"], "high");
        assert_eq!(doc["kibana.alert.risk_score"], 73);
        assert_eq!(doc["kibana.alert.rule.threat"][1]["tactic"]["id"], "TA0002");
        assert_eq!(
            doc["kibana.alert.ancestors"][0]["id"],
            format!("sample-events.ndjson:{}", ids[0] + 1)
        );
        assert!(doc.get("kibana.alert.group.id").is_none());
        // Document metadata never goes into the alert.
        assert!(doc.get("_index").is_none());
    }
    // Ids are unique per alert and stable across runs.
    let ids: BTreeSet<&str> = results
        .iter()
        .map(|(_, d)| d[0]["kibana.alert.uuid"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids.len(), 7);
    let again = run(&set, &events);
    assert_eq!(again[0].1, results[0].1);
}

const SEQUENCE_RULE: &str = r#"[metadata]
maturity = "production"

[rule]
author = ["eql-rs tests"]
description = "A critical process starts, then writes an executable."
index = ["logs-endpoint.events.*"]
language = "eql"
name = "Process start then executable write"
risk_score = 47
rule_id = "00000000-0000-4000-8000-000000000001"
severity = "medium"
type = "eql"
version = 2
query = '''
sequence by host.id with maxspan=1h
  [process where event.type == "start"]
  [file where file.extension : ("exe", "dll")]
'''

[[rule.threat]]
framework = "MITRE ATT&CK"
[rule.threat.tactic]
id = "TA0002"
name = "Execution"
reference = "https://attack.mitre.org/tactics/TA0002/"
[[rule.threat.technique]]
id = "T1059"
name = "Command and Scripting Interpreter"
reference = "https://attack.mitre.org/techniques/T1059/"
[[rule.threat.technique.subtechnique]]
id = "T1059.001"
name = "PowerShell"
reference = "https://attack.mitre.org/techniques/T1059/001/"
"#;

#[test]
fn sequence_alerts_are_a_shell_and_building_blocks() {
    let rule = RuleSet::parse_toml("sequence.toml", SEQUENCE_RULE)
        .expect("fixture loads")
        .expect("an EQL rule");
    let mut rules = RuleSet::new();
    rules.push(rule);
    let (set, errors) = rules.compile(&CompileOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    let events = sample_events();
    let results = run(&set, &events);
    assert!(
        !results.is_empty(),
        "the sequence matches the sample events"
    );
    for (ids, docs) in &results {
        assert_eq!(
            docs.len(),
            ids.len() + 1,
            "one building block per event and a shell"
        );
        let (shell, blocks) = docs.split_last().expect("documents");
        for doc in docs {
            let problems = check(doc);
            assert!(problems.is_empty(), "{problems:#?}");
        }
        let group = shell["kibana.alert.group.id"].as_str().expect("group id");
        assert_eq!(shell["kibana.alert.uuid"], group);
        assert!(shell.get("kibana.alert.group.index").is_none());
        assert!(shell.get("kibana.alert.building_block_type").is_none());
        assert_eq!(
            shell["kibana.alert.ancestors"].as_array().map(Vec::len),
            Some(ids.len())
        );
        assert_eq!(
            shell["kibana.alert.original_time"],
            events[ids[0]]["@timestamp"]
        );
        for (i, (b, &e)) in blocks.iter().zip(ids).enumerate() {
            assert_eq!(b["kibana.alert.group.id"], group);
            assert_eq!(b["kibana.alert.group.index"], i);
            assert_eq!(b["kibana.alert.building_block_type"], "default");
            assert_eq!(
                b["kibana.alert.ancestors"].as_array().map(Vec::len),
                Some(1)
            );
            let problems = original_event_follows_the_source(b, &events[e]);
            assert!(problems.is_empty(), "{problems:#?}");
        }
        // The shell holds what every event shares (the sequence's key).
        let host = &events[ids[0]]["host"]["id"];
        assert_eq!(&shell["host"]["id"], host);
        let uuids: BTreeSet<&str> = docs
            .iter()
            .filter_map(|d| d["kibana.alert.uuid"].as_str())
            .collect();
        assert_eq!(uuids.len(), docs.len());
        assert_eq!(
            shell["kibana.alert.rule.threat"][0]["technique"][0]["subtechnique"][0]["id"],
            "T1059.001"
        );
    }
}

#[test]
fn field_list_has_no_duplicates() {
    let names: BTreeSet<&str> = FIELDS.iter().map(|(p, ..)| *p).collect();
    assert_eq!(names.len(), FIELDS.len());
    // The checker is not vacuous: an invented field and a wrong type fail.
    let mut bad = Map::new();
    bad.insert("kibana.alert.made_up".into(), Json::from(1));
    bad.insert("kibana.alert.depth".into(), Json::from("one"));
    let problems = check(&Json::Object(bad));
    assert!(problems.iter().any(|p| p.contains("made_up")));
    assert!(problems
        .iter()
        .any(|p| p.contains("kibana.alert.depth: \"one\"")));
    assert!(problems
        .iter()
        .any(|p| p.contains("kibana.alert.uuid: required")));
}

/// The alert inputs move across threads and can be shared.
#[test]
fn alert_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<AlertOptions>();
    send_sync::<AlertEvent<'static>>();
}
