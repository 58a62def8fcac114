//! Alert documents in the shape Elastic Security writes to its alerts index
//! (`.alerts-security.alerts-<space>`), so they can be indexed next to
//! Kibana's and read with the same views.
//!
//! An alert is one JSON object with dotted top-level keys, as Kibana writes
//! it: `@timestamp` (when the alert was made), `event.kind: "signal"`, the
//! `kibana.alert.*` fields (the rule's metadata under `kibana.alert.rule.*`,
//! `kibana.alert.severity`, `kibana.alert.risk_score`,
//! `kibana.alert.original_time`, the source documents in
//! `kibana.alert.ancestors`), the source event's own fields, and its
//! `event.*` fields both flattened as `event.*` and kept as
//! `kibana.alert.original_event.*`. A sequence gives one building-block
//! alert per event (`kibana.alert.building_block_type: "default"`,
//! `kibana.alert.group.index` its position) and a shell alert holding what
//! the events share, all tied by `kibana.alert.group.id` (the shell's id).
//!
//! Ids are deterministic: a 128-bit FNV-1a hash of the source documents'
//! ids and indices and the rule's id (Kibana uses SHA-256 of the same
//! inputs), so the same match always gives the same alert ids.
//!
//! [`alert_documents`] gives the documents as JSON values;
//! [`write_alert_documents`] writes the same documents as NDJSON, taking the
//! source event's members from its bytes as they were read when the caller
//! has them ([`AlertEvent::with_bytes`]), so numbers, escapes and key order
//! inside each member are the event's own.

mod doc;
mod fields;
mod id;
mod reason;
mod time;

use std::io::{self, Write};
use std::time::SystemTime;

use serde_json::{json, Map, Value as Json};

use super::{event_index, Rule};
use doc::Doc;
use fields::alert_fields;
use id::{alert_id, rule_uuid};
use time::iso_time;

/// Settings of the alert documents.
///
/// ```
/// let opts = eql_engine::AlertOptions::default();
/// assert_eq!(opts.space_id, "default");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct AlertOptions {
    /// The Kibana space (`kibana.space_ids`); default `default`.
    pub space_id: String,
    /// `kibana.version`, written when set; default none.
    pub kibana_version: Option<String>,
}

impl Default for AlertOptions {
    fn default() -> Self {
        AlertOptions {
            space_id: "default".into(),
            kibana_version: None,
        }
    }
}

/// One source document of an alert: the event and where it is stored.
///
/// ```
/// use eql_engine::AlertEvent;
/// let ev = serde_json::json!({"_index": "logs-x-default", "host": {"name": "h"}});
/// let source = AlertEvent::new(&ev, "events.ndjson:1");
/// assert_eq!((source.id.as_str(), source.index.as_str()), ("events.ndjson:1", "logs-x-default"));
/// ```
#[derive(Clone, Debug)]
pub struct AlertEvent<'a> {
    /// The event as JSON: the alert reads its fields from it.
    pub event: &'a Json,
    /// The document's id (`_id` in Elasticsearch; for events read from a
    /// file, `file:line` say).
    pub id: String,
    /// The index or data stream the document is in (may be empty).
    pub index: String,
    /// The bytes `event` was read from (one JSON object), when the caller
    /// has them: [`write_alert_documents`] writes the event's members from
    /// them as they were read. `None` writes them from `event`.
    pub raw: Option<&'a [u8]>,
}

impl<'a> AlertEvent<'a> {
    /// `event` with id `id`, in the index the event names for itself
    /// ([`event_index`]: `_index`, else its `data_stream.*`), else in `""`.
    pub fn new(event: &'a Json, id: impl Into<String>) -> Self {
        AlertEvent {
            event,
            id: id.into(),
            index: event_index(event).unwrap_or_default(),
            raw: None,
        }
    }

    /// The same event with the bytes it was read from: one JSON object
    /// whose members are those of `event` (`event` may lack members it
    /// could not hold, a number beyond `f64` say; they are written all the
    /// same).
    ///
    /// ```
    /// use eql_engine::AlertEvent;
    /// let bytes = br#"{"size": 1.50}"#;
    /// let ev: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    /// let source = AlertEvent::new(&ev, "1").with_bytes(bytes);
    /// assert_eq!(source.raw, Some(&bytes[..]));
    /// ```
    #[must_use]
    pub fn with_bytes(mut self, raw: &'a [u8]) -> Self {
        self.raw = Some(raw);
        self
    }
}

/// The alert documents of one result of `rule`: one alert for a single
/// event; for several events (a sequence), one building-block alert per
/// event followed by the shell alert. `now` is the alert's `@timestamp`.
///
/// ```
/// use eql_engine::{alert_documents, AlertEvent, AlertOptions, RuleSet};
/// use std::time::{Duration, UNIX_EPOCH};
/// let set = RuleSet::builtin();
/// let rule = &set.rules()[0];
/// let ev = serde_json::json!({"@timestamp": "2024-05-01T10:00:00.000Z", "event": {"category": ["file"]}, "host": {"name": "h"}});
/// let now = UNIX_EPOCH + Duration::from_millis(1_714_557_600_000);
/// let docs = alert_documents(rule, &[AlertEvent::new(&ev, "e1")], now, &AlertOptions::default());
/// let a = &docs[0];
/// assert_eq!(a["@timestamp"], "2024-05-01T10:00:00.000Z");
/// assert_eq!(a["event.kind"], "signal");
/// assert_eq!(a["kibana.alert.rule.name"], rule.name.as_str());
/// assert_eq!(a["kibana.alert.original_event.category"], serde_json::json!(["file"]));
/// assert_eq!(a["host"]["name"], "h");
/// ```
pub fn alert_documents(
    rule: &Rule,
    events: &[AlertEvent<'_>],
    now: SystemTime,
    opts: &AlertOptions,
) -> Vec<Json> {
    documents(rule, events, now, opts)
        .iter()
        .map(Doc::to_json)
        .collect()
}

/// Writes the documents of [`alert_documents`] to `out`, one JSON object a
/// line (keys sorted, as `serde_json` writes a [`serde_json::Map`]). The
/// members an alert carries from a source event that has its bytes
/// ([`AlertEvent::with_bytes`]) are written from them as they were read.
///
/// ```
/// use eql_engine::{write_alert_documents, AlertEvent, AlertOptions, RuleSet};
/// use std::time::UNIX_EPOCH;
/// let set = RuleSet::builtin();
/// let bytes = br#"{"event": {"category": ["file"]}, "file": {"size": 1.50, "name": "a\u00e9.exe"}}"#;
/// let ev: serde_json::Value = serde_json::from_slice(bytes).unwrap();
/// let mut out = Vec::new();
/// let sources = [AlertEvent::new(&ev, "e1").with_bytes(bytes)];
/// write_alert_documents(&set.rules()[0], &sources, UNIX_EPOCH, &AlertOptions::default(), &mut out)?;
/// let text = String::from_utf8(out).unwrap();
/// assert!(text.contains(r#""file":{"size": 1.50, "name": "a\u00e9.exe"}"#));
/// assert!(text.ends_with('\n'));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_alert_documents(
    rule: &Rule,
    events: &[AlertEvent<'_>],
    now: SystemTime,
    opts: &AlertOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    for doc in documents(rule, events, now, opts) {
        doc.write(out)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// The documents of one result (see [`alert_documents`]).
fn documents<'s, 'a>(
    rule: &Rule,
    events: &'s [AlertEvent<'a>],
    now: SystemTime,
    opts: &AlertOptions,
) -> Vec<Doc<'s, 'a>> {
    let now = iso_time(now);
    let rule_uuid = rule_uuid(rule);
    match events {
        [] => Vec::new(),
        [one] => {
            let mut doc = base_document(rule, one, &rule_uuid, &now, opts);
            let uuid = alert_id(&rule_uuid, std::slice::from_ref(one), None);
            set_ids(&mut doc.fields, &uuid);
            vec![doc]
        }
        _ => sequence_documents(rule, events, &rule_uuid, &now, opts),
    }
}

/// The building blocks of a sequence, then its shell.
fn sequence_documents<'s, 'a>(
    rule: &Rule,
    events: &'s [AlertEvent<'a>],
    rule_uuid: &str,
    now: &str,
    opts: &AlertOptions,
) -> Vec<Doc<'s, 'a>> {
    let group = alert_id(rule_uuid, events, None);
    let mut docs = Vec::with_capacity(events.len() + 1);
    for (i, ev) in events.iter().enumerate() {
        let mut doc = base_document(rule, ev, rule_uuid, now, opts);
        let f = &mut doc.fields;
        set_ids(f, &alert_id(rule_uuid, events, Some(i)));
        f.insert("kibana.alert.building_block_type".into(), json!("default"));
        f.insert("kibana.alert.group.id".into(), json!(group));
        f.insert("kibana.alert.group.index".into(), json!(i));
        docs.push(doc);
    }
    // The shell: what the building blocks share, then its own alert fields.
    let shared = docs.split_first().and_then(|(first, rest)| {
        rest.iter()
            .try_fold(first.to_json(), |acc, d| intersect(&acc, &d.to_json()))
    });
    let mut shell = match shared {
        Some(Json::Object(m)) => m,
        _ => Map::new(),
    };
    for key in [
        "kibana.alert.building_block_type",
        "kibana.alert.group.index",
    ] {
        shell.remove(key);
    }
    let fields = alert_fields(rule, events, rule_uuid, now, opts);
    shell.extend(fields);
    if let Some(bb) = &rule.building_block_type {
        shell.insert("kibana.alert.building_block_type".into(), json!(bb));
    }
    set_ids(&mut shell, &group);
    shell.insert("kibana.alert.group.id".into(), json!(group));
    docs.push(Doc {
        fields: shell,
        source: None,
    });
    docs
}

fn set_ids(doc: &mut Map<String, Json>, uuid: &str) {
    doc.insert("kibana.alert.uuid".into(), json!(uuid));
    doc.insert("kibana.alert.instance.id".into(), json!(uuid));
}

/// One event's alert without its ids: the source's other members (carried
/// as they are), its `event.*` fields, then the alert fields.
fn base_document<'s, 'a>(
    rule: &Rule,
    ev: &'s AlertEvent<'a>,
    rule_uuid: &str,
    now: &str,
    opts: &AlertOptions,
) -> Doc<'s, 'a> {
    let mut doc = Map::new();
    let mut event_fields = Map::new();
    if let Json::Object(source) = ev.event {
        for (k, v) in source {
            if k == "event" {
                if let Json::Object(e) = v {
                    flatten_into("event", e, &mut event_fields);
                }
            } else if k.starts_with("event.") {
                event_fields.insert(k.clone(), v.clone());
            }
        }
    }
    for (k, v) in &event_fields {
        doc.insert(k.clone(), v.clone());
        if let Some(rest) = k.strip_prefix("event.") {
            doc.insert(format!("kibana.alert.original_event.{rest}"), v.clone());
        }
    }
    doc.extend(alert_fields(
        rule,
        std::slice::from_ref(ev),
        rule_uuid,
        now,
        opts,
    ));
    if let Some(bb) = &rule.building_block_type {
        doc.insert("kibana.alert.building_block_type".into(), json!(bb));
    }
    Doc {
        fields: doc,
        source: Some(ev),
    }
}

/// `prefix.key` for every member of `obj`, objects flattened (arrays kept).
fn flatten_into(prefix: &str, obj: &Map<String, Json>, out: &mut Map<String, Json>) {
    for (k, v) in obj {
        let key = format!("{prefix}.{k}");
        match v {
            Json::Object(inner) => flatten_into(&key, inner, out),
            _ => {
                out.insert(key, v.clone());
            }
        }
    }
}

/// What two documents share, as Kibana merges a sequence's building blocks
/// into its shell: objects member by member, equal values as they are,
/// arrays (or an array and a value) by their common items; `None` when
/// nothing is shared.
fn intersect(left: &Json, right: &Json) -> Option<Json> {
    match (left, right) {
        (Json::Object(lm), Json::Object(rm)) => {
            let shared: Map<String, Json> = lm
                .iter()
                .filter_map(|(key, lv)| {
                    let rv = rm.get(key)?;
                    intersect(lv, rv).map(|v| (key.clone(), v))
                })
                .collect();
            (!shared.is_empty()).then_some(Json::Object(shared))
        }
        (Json::Array(la), Json::Array(ra)) => Some(common(la, ra)),
        (Json::Array(items), one) | (one, Json::Array(items)) => {
            Some(common(items, std::slice::from_ref(one)))
        }
        _ if left == right => Some(left.clone()),
        _ => None,
    }
}

/// The distinct items of `x` that are in `y`, in `x`'s order.
fn common(x: &[Json], y: &[Json]) -> Json {
    let mut out: Vec<Json> = Vec::new();
    for v in x {
        if y.contains(v) && !out.contains(v) {
            out.push(v.clone());
        }
    }
    Json::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersection_as_kibana_merges() {
        let a = json!({"host": {"name": "h", "ip": ["1", "2"]}, "x": 1, "y": [1, 2]});
        let b = json!({"host": {"name": "h", "ip": ["2", "3"]}, "x": 2, "y": 2});
        assert_eq!(
            intersect(&a, &b),
            Some(json!({"host": {"name": "h", "ip": ["2"]}, "y": [2]}))
        );
        assert_eq!(intersect(&json!({"a": 1}), &json!({"a": 2})), None);
    }
}
