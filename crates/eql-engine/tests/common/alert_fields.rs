//! The field list of Elastic Security's alerts index and a checker of alert
//! documents against it; shared by the library's alert tests
//! (`crates/eql-engine/tests/alerts.rs`) and `scan --format ecs`'s
//! (`examples/tests/scan.rs`), which include this file with `#[path]`.
#![allow(dead_code)]

use serde_json::Value as Json;
use std::collections::BTreeSet;

/// How a field is mapped in the alerts index.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Keyword,
    Long,
    Float,
    Date,
    Boolean,
    Version,
    /// `flattened`: any object below.
    Flattened,
}
pub(crate) use Kind::{Boolean, Date, Flattened, Float, Keyword, Long, Version};

/// `(field, mapping, may hold an array, every alert carries it)`, taken from
/// Elastic's published alert field maps: the alerting framework's
/// `alertFieldMap`, the rule registry's `technicalRuleFieldMap`, and the
/// security solution's `alertsFieldMap` and `rulesFieldMap` (8.x). The last
/// column is the framework's `required`, plus the fields Kibana's security
/// rules always write (`kibana.alert.ancestors`, `depth`, `original_time`,
/// the rule's severity and risk score); the security maps' `required` on the
/// `original_event.*` fields holds only when the source has the field (see
/// `original_event_follows_the_source`).
pub(crate) const FIELDS: &[(&str, Kind, bool, bool)] = &[
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

pub(crate) fn field(path: &str) -> Option<(Kind, bool, bool)> {
    FIELDS
        .iter()
        .find(|(p, ..)| *p == path)
        .map(|&(_, k, a, r)| (k, a, r))
}

/// Every leaf of `v` under `path`: objects are walked (dotted keys and
/// nested objects alike), arrays of objects item by item; a `flattened`
/// field is one leaf.
pub(crate) fn leaves(path: &str, v: &Json, out: &mut Vec<(String, Json)>) {
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

pub(crate) fn is_date(s: &str) -> bool {
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

pub(crate) fn type_ok(kind: Kind, v: &Json) -> bool {
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
pub(crate) fn check(doc: &Json) -> Vec<String> {
    let mut problems = Vec::new();
    let mut all = Vec::new();
    leaves("", doc, &mut all);
    let present: BTreeSet<&str> = all.iter().map(|(p, _)| p.as_str()).collect();
    for (path, v) in &all {
        if !(path.starts_with("kibana.") || path == "@timestamp" || path == "event.kind") {
            continue;
        }
        let Some((kind, array, _)) = field(path) else {
            // An empty array where the list has an object (a rule's
            // `threat` when it has none) holds no field.
            let object = format!("{path}.");
            if *v == Json::Array(Vec::new()) && FIELDS.iter().any(|(p, ..)| p.starts_with(&object))
            {
                continue;
            }
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
pub(crate) fn original_event_follows_the_source(doc: &Json, source: &Json) -> Vec<String> {
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
