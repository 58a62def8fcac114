//! Alert documents against the field list of Elastic's alerts index: the
//! seed rule's alerts on the bundled events, and a sequence rule's shell and
//! building-block alerts over the same events.
#![cfg(all(feature = "rules", feature = "serde"))]
#![allow(missing_docs)]

use std::collections::BTreeSet;
use std::time::{Duration, UNIX_EPOCH};

use eql_engine::{
    alert_documents, write_alert_documents, AlertEvent, AlertOptions, CompileOptions,
    CompiledRuleSet, Matches, RuleSet, Session, SessionOptions,
};
use serde_json::{Map, Value as Json};

#[path = "common/alert_fields.rs"]
mod alert_fields;
use alert_fields::{check, original_event_follows_the_source, FIELDS};

/// The bundled events' lines.
fn sample_lines() -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data/sample-events.ndjson");
    std::fs::read_to_string(path)
        .expect("sample events")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

fn sample_events() -> Vec<Json> {
    sample_lines()
        .iter()
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

/// The written documents are the documents, with the source members taken
/// from the events' bytes as they were read: the bundled lines, and the
/// same lines with numbers spelled in ways a DOM does not keep.
#[test]
fn written_documents_are_the_documents_with_the_source_bytes() {
    let mut rules = RuleSet::builtin();
    rules.push(
        RuleSet::parse_toml("sequence.toml", SEQUENCE_RULE)
            .expect("fixture loads")
            .expect("an EQL rule"),
    );
    let (set, errors) = rules.compile(&CompileOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let opts = AlertOptions::default();
    // `1.50` and `1e2` read as 1.5 and 100.0: only the bytes keep them.
    let lines: Vec<String> = sample_lines()
        .into_iter()
        .map(|l| l.replacen('{', r#"{"size_as_sent": 1.50, "count": 1e2, "#, 1))
        .collect();
    let events: Vec<Json> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let mut shells = 0;
    for (ids, docs) in run(&set, &events) {
        // Rule 0 is the single-event seed rule, rule 1 the sequence.
        let rule = &set.rules()[usize::from(ids.len() > 1)].rule;
        let sources: Vec<AlertEvent<'_>> = ids
            .iter()
            .map(|&i| {
                AlertEvent::new(&events[i], format!("sample-events.ndjson:{}", i + 1))
                    .with_bytes(lines[i].as_bytes())
            })
            .collect();
        let mut out = Vec::new();
        write_alert_documents(rule, &sources, now, &opts, &mut out).expect("written");
        let text = String::from_utf8(out).expect("UTF-8");
        let written: Vec<&str> = text.lines().collect();
        assert_eq!(written.len(), docs.len());
        for (line, doc) in written.iter().zip(&docs) {
            let parsed: Json = serde_json::from_str(line).expect("a written document is JSON");
            assert_eq!(&parsed, doc);
            // The keys come in the order serde_json writes the document.
            assert_eq!(
                serde_json::to_string(&parsed).ok().map(|s| s.len()),
                serde_json::to_string(doc).ok().map(|s| s.len())
            );
            if doc.get("kibana.alert.group.index").is_some() || ids.len() == 1 {
                assert!(line.contains(r#""count":1e2"#), "{line}");
                assert!(line.contains(r#""size_as_sent":1.50"#), "{line}");
            } else {
                // The shell carries what its events share, as values.
                shells += 1;
                assert!(line.contains(r#""count":100.0"#), "{line}");
            }
        }
        // Each carried member is the event's own bytes.
        let first = &lines[ids[0]];
        let host_start = first.find(r#""host":"#).expect("a host member");
        let host_end = first[host_start..].find('}').expect("host ends") + host_start;
        assert!(written[0].contains(&first[host_start..=host_end]));
    }
    assert!(shells > 0, "the sequence rule fired");
}

/// The alert inputs move across threads and can be shared.
#[test]
fn alert_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<AlertOptions>();
    send_sync::<AlertEvent<'static>>();
}
