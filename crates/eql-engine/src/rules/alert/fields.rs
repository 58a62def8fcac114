//! The alert's own fields and its rule's (`kibana.alert.*`,
//! `kibana.alert.rule.*`).

use serde_json::{json, Map, Value as Json};

use super::reason::reason;
use super::time::original_time;
use super::{AlertEvent, AlertOptions};
use crate::rules::Rule;

/// `kibana.alert.rule.category` of an EQL rule.
const CATEGORY: &str = "Event Correlation Rule";
/// `kibana.alert.rule.rule_type_id` of an EQL rule.
const RULE_TYPE_ID: &str = "siem.eqlRule";
/// `kibana.alert.rule.consumer` and `producer` of detection rules.
const CONSUMER: &str = "siem";

/// The `kibana.*` and `event.kind` fields of an alert over `events`.
pub(super) fn alert_fields(
    rule: &Rule,
    events: &[AlertEvent<'_>],
    rule_uuid: &str,
    now: &str,
    opts: &AlertOptions,
) -> Map<String, Json> {
    let mut f = Map::new();
    put_alert_fields(&mut f, rule, events, now, opts);
    put_rule_fields(&mut f, rule, rule_uuid);
    f
}

/// The alert's own fields (`@timestamp`, `event.kind`, the `kibana.*`
/// fields outside `kibana.alert.rule.*`), and the severity and risk score
/// both as the alert's and as the rule's.
fn put_alert_fields(
    f: &mut Map<String, Json>,
    rule: &Rule,
    events: &[AlertEvent<'_>],
    now: &str,
    opts: &AlertOptions,
) {
    let mut put = |k: &str, v: Json| {
        f.insert(k.to_string(), v);
    };
    put("@timestamp", json!(now));
    put("event.kind", json!("signal"));
    put("kibana.space_ids", json!([opts.space_id]));
    if let Some(v) = &opts.kibana_version {
        put("kibana.version", json!(v));
    }
    let ancestors: Vec<Json> = events
        .iter()
        .map(|e| json!({"id": e.id, "index": e.index, "depth": 0, "type": "event"}))
        .collect();
    put("kibana.alert.ancestors", Json::Array(ancestors));
    put("kibana.alert.depth", json!(1));
    if let Some(t) = events.first().and_then(|e| original_time(e.event)) {
        put("kibana.alert.original_time", json!(t));
    }
    put("kibana.alert.status", json!("active"));
    put("kibana.alert.workflow_status", json!("open"));
    put("kibana.alert.workflow_tags", json!([]));
    put("kibana.alert.workflow_assignee_ids", json!([]));
    put("kibana.alert.intended_timestamp", json!(now));
    put("kibana.alert.reason", json!(reason(rule, events)));
    if let Some(s) = &rule.severity {
        put("kibana.alert.severity", json!(s));
        put("kibana.alert.rule.severity", json!(s));
    }
    if let Some(r) = rule.risk_score {
        put("kibana.alert.risk_score", json!(r));
        put("kibana.alert.rule.risk_score", json!(r));
    }
}

/// The rule's fields (`kibana.alert.rule.*`, but its severity and risk
/// score).
fn put_rule_fields(f: &mut Map<String, Json>, rule: &Rule, rule_uuid: &str) {
    let mut put = |k: &str, v: Json| {
        f.insert(k.to_string(), v);
    };
    put("kibana.alert.rule.uuid", json!(rule_uuid));
    put("kibana.alert.rule.name", json!(rule.name));
    put("kibana.alert.rule.category", json!(CATEGORY));
    put("kibana.alert.rule.consumer", json!(CONSUMER));
    put("kibana.alert.rule.producer", json!(CONSUMER));
    put("kibana.alert.rule.rule_type_id", json!(RULE_TYPE_ID));
    put("kibana.alert.rule.revision", json!(0));
    put(
        "kibana.alert.rule.type",
        json!(rule.rule_type.as_deref().unwrap_or("eql")),
    );
    put(
        "kibana.alert.rule.language",
        json!(rule.language.as_deref().unwrap_or("eql")),
    );
    put("kibana.alert.rule.query", json!(rule.query));
    put("kibana.alert.rule.index", json!(rule.index));
    put("kibana.alert.rule.tags", json!(rule.tags));
    put("kibana.alert.rule.author", json!(rule.author));
    put("kibana.alert.rule.references", json!(rule.references));
    put(
        "kibana.alert.rule.false_positives",
        json!(rule.false_positives),
    );
    put("kibana.alert.rule.threat", json!(rule.threat));
    put("kibana.alert.rule.to", json!("now"));
    let optional = [
        ("kibana.alert.rule.rule_id", &rule.rule_id),
        ("kibana.alert.rule.description", &rule.description),
        ("kibana.alert.rule.from", &rule.from),
        ("kibana.alert.rule.interval", &rule.interval),
        ("kibana.alert.rule.license", &rule.license),
        ("kibana.alert.rule.note", &rule.note),
        (
            "kibana.alert.rule.timestamp_override",
            &rule.timestamp_override,
        ),
        (
            "kibana.alert.rule.building_block_type",
            &rule.building_block_type,
        ),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            put(k, json!(v));
        }
    }
    if let Some(v) = rule.version {
        put("kibana.alert.rule.version", json!(v.to_string()));
    }
    if let Some(v) = rule.max_signals {
        put("kibana.alert.rule.max_signals", json!(v));
    }
    put("kibana.alert.rule.parameters", parameters(rule));
}

/// `kibana.alert.rule.parameters`: the rule's own parameters, as in its
/// rule object (without the fields Kibana keeps in the rule's
/// configuration: name, tags, interval).
fn parameters(rule: &Rule) -> Json {
    let mut p = match serde_json::to_value(rule) {
        Ok(Json::Object(m)) => m,
        _ => Map::new(),
    };
    for key in [
        "name",
        "tags",
        "interval",
        "source",
        "line",
        "metadata",
        "transform",
        "maturity",
        "deprecation_date",
    ] {
        p.remove(key);
    }
    p.entry("to").or_insert(json!("now"));
    Json::Object(p)
}
