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

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::value::RawValue;
use serde_json::{json, Map, Value as Json};

use super::{event_index, Rule};

/// `kibana.alert.rule.category` of an EQL rule.
const CATEGORY: &str = "Event Correlation Rule";
/// `kibana.alert.rule.rule_type_id` of an EQL rule.
const RULE_TYPE_ID: &str = "siem.eqlRule";
/// `kibana.alert.rule.consumer` and `producer` of detection rules.
const CONSUMER: &str = "siem";

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

/// An alert document before it is written: its own fields (the alert's,
/// and the source's `event.*` fields), and the source event whose other
/// members it carries (none for a sequence's shell).
struct Doc<'s, 'a> {
    fields: Map<String, Json>,
    source: Option<&'s AlertEvent<'a>>,
}

/// True for a member of a source event that an alert carries as it is: not
/// `event` (flattened into `event.*` and `kibana.alert.original_event.*`)
/// and not document metadata or an alert namespace.
fn carried(key: &str) -> bool {
    key != "event" && !key.starts_with("event.") && !is_reserved(key)
}

impl Doc<'_, '_> {
    /// The document as one JSON object: the carried source members, then
    /// its own fields over them.
    fn to_json(&self) -> Json {
        let mut out = Map::new();
        if let Some(Json::Object(source)) = self.source.map(|s| s.event) {
            for (k, v) in source {
                if carried(k) {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        out.extend(self.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        Json::Object(out)
    }

    /// Writes the document as one JSON object, keys in the order of
    /// [`Doc::to_json`]'s (sorted), the carried source members from the
    /// source's bytes when it has them.
    fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        let members = self
            .source
            .and_then(|s| s.raw)
            .and_then(|b| serde_json::from_slice::<BTreeMap<String, &RawValue>>(b).ok());
        let Some(members) = members else {
            return serde_json::to_writer(&mut *out, &self.to_json()).map_err(io::Error::from);
        };
        let mut source = members
            .iter()
            .filter(|(k, _)| carried(k) && !self.fields.contains_key(*k))
            .peekable();
        let mut fields = self.fields.iter().peekable();
        out.write_all(b"{")?;
        let mut first = true;
        loop {
            let from_source = match (source.peek(), fields.peek()) {
                (Some((a, _)), Some((b, _))) => a < b,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            if from_source {
                if let Some((k, v)) = source.next() {
                    serde_json::to_writer(&mut *out, k)?;
                    out.write_all(b":")?;
                    out.write_all(v.get().as_bytes())?;
                }
            } else if let Some((k, v)) = fields.next() {
                serde_json::to_writer(&mut *out, k)?;
                out.write_all(b":")?;
                serde_json::to_writer(&mut *out, v)?;
            }
        }
        out.write_all(b"}")
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

/// Source keys that never go into an alert: document metadata and the
/// alert namespaces themselves.
fn is_reserved(key: &str) -> bool {
    matches!(key, "_id" | "_index" | "kibana" | "signal")
        || key.starts_with("kibana.")
        || key.starts_with("signal.")
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

/// The `kibana.*` and `event.kind` fields of an alert over `events`.
fn alert_fields(
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

/// The rule's id in Kibana (`kibana.alert.rule.uuid`): its `id` when the
/// rule object has one (an exported rule), else its `rule_id`, else a hash
/// of its name.
fn rule_uuid(rule: &Rule) -> String {
    if let Some(Json::String(id)) = rule.extra.get("id") {
        return id.clone();
    }
    rule.rule_id
        .clone()
        .unwrap_or_else(|| hex(fnv1a128(&[rule.name.as_bytes()])))
}

/// An alert's id: the hash of its source documents' ids and indices and
/// the rule's id; a building block's also hashes its position.
fn alert_id(rule_uuid: &str, events: &[AlertEvent<'_>], block: Option<usize>) -> String {
    let mut parts: Vec<&[u8]> = Vec::with_capacity(events.len() * 2 + 2);
    for e in events {
        parts.push(e.id.as_bytes());
        parts.push(e.index.as_bytes());
    }
    parts.push(rule_uuid.as_bytes());
    let pos = block.map(|i| i.to_string());
    if let Some(p) = &pos {
        parts.push(p.as_bytes());
    }
    hex(fnv1a128(&parts))
}

/// FNV-1a, 128 bits, over the parts with a 0xff separator after each (no
/// UTF-8 text holds 0xff, so distinct part lists hash distinct byte strings).
fn fnv1a128(parts: &[&[u8]]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut h = OFFSET;
    for part in parts {
        for &b in part.iter().chain(std::iter::once(&0xff)) {
            h ^= u128::from(b);
            h = h.wrapping_mul(PRIME);
        }
    }
    h
}

fn hex(h: u128) -> String {
    format!("{h:032x}")
}

/// The source event's `@timestamp` as an ISO 8601 string: a string is kept
/// as it is, a number is read as epoch milliseconds.
fn original_time(event: &Json) -> Option<String> {
    let ts = event.get("@timestamp")?;
    match ts {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => n.as_i64().map(iso_millis),
        _ => None,
    }
}

/// `now` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
fn iso_time(now: SystemTime) -> String {
    let ms = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    };
    iso_millis(ms)
}

/// Epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (proleptic Gregorian, UTC).
fn iso_millis(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (h, m, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

/// `kibana.alert.reason`: what happened where, in Kibana's words.
fn reason(rule: &Rule, events: &[AlertEvent<'_>]) -> String {
    let get = |ev: &Json, path: &str| -> Option<String> {
        let v = ev
            .get(path)
            .or_else(|| path.split('.').try_fold(ev, |cur, part| cur.get(part)))?;
        match v {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            Json::Array(items) => items.first().and_then(|x| x.as_str()).map(str::to_owned),
            _ => None,
        }
    };
    let mut words: Vec<String> = Vec::new();
    if let Some(ev) = events.last().map(|e| e.event) {
        match get(ev, "event.category") {
            Some(c) => words.push(format!("{c} event")),
            None => words.push("event".into()),
        }
        let mut parts = Vec::new();
        for (label, path) in [
            ("process", "process.name"),
            ("parent process", "process.parent.name"),
            ("file", "file.name"),
        ] {
            if let Some(v) = get(ev, path) {
                parts.push(format!("{label} {v}"));
            }
        }
        for (label, ip, port) in [
            ("source", "source.ip", "source.port"),
            ("destination", "destination.ip", "destination.port"),
        ] {
            if let Some(v) = get(ev, ip) {
                match get(ev, port) {
                    Some(p) => parts.push(format!("{label} {v}:{p}")),
                    None => parts.push(format!("{label} {v}")),
                }
            }
        }
        if !parts.is_empty() {
            words.push(format!("with {},", parts.join(", ")));
        }
        if let Some(u) = get(ev, "user.name") {
            words.push(format!("by {u}"));
        }
        if let Some(h) = get(ev, "host.name") {
            words.push(format!("on {h}"));
        }
    }
    words.push(format!(
        "created {} alert {}.",
        rule.severity.as_deref().unwrap_or("unknown"),
        rule.name
    ));
    words.join(" ")
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
    fn iso_dates() {
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_millis(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(iso_millis(1_714_557_600_000), "2024-05-01T10:00:00.000Z");
        assert_eq!(iso_millis(-1), "1969-12-31T23:59:59.999Z");
    }

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

    #[test]
    fn ids_depend_on_every_input() {
        let ev = json!({});
        let one = [AlertEvent::new(&ev, "a")];
        let other = [AlertEvent::new(&ev, "b")];
        assert_ne!(alert_id("r", &one, None), alert_id("r", &other, None));
        assert_ne!(alert_id("r", &one, None), alert_id("s", &one, None));
        assert_ne!(alert_id("r", &one, None), alert_id("r", &one, Some(0)));
        assert_eq!(alert_id("r", &one, None), alert_id("r", &one, None));
        assert_eq!(alert_id("r", &one, None).len(), 32);
    }
}
