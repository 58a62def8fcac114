//! Alert output. An alert carries its events' lines exactly as they were
//! read (they are valid JSON objects: the line checks passed), never a DOM
//! serialized again.
//!
//! NDJSON alerts have their keys in alphabetical order: `event` (the last
//! event of the match), `events` (every event of a sequence, sample or join,
//! each with its `source`, and `{"missing": true}` for each `![...]` step),
//! `join_keys`, `name`, `risk_score`, `rule_id`,
//! `severity`, `source` (`file` and `line` of the last event), `threat`.
//!
//! ECS alerts are Elastic Security's alert documents
//! ([`eql_engine::write_alert_documents`]): one per single-event match; for a
//! sequence, sample or join, one building-block alert per event (a
//! `![...]` step has none) and then the shell alert. A source event's id is
//! `FILE:LINE`, its index the one it names for itself, else the input's
//! ([`super::ScanOptions::index`]); its members are carried from its line's
//! bytes.

use super::ScanOptions;
use eql_engine::{write_alert_documents, AlertEvent, AlertOptions, CompiledRuleSet, Rule, Value};
use serde_json::json;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::SystemTime;

/// Alert output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One JSON alert per match, in a shape of this tool's own: the rule,
    /// the events' lines as they were read, their file and line, the join
    /// keys.
    Ndjson,
    /// Elastic Security alert documents, one a line: what Kibana writes to
    /// its `.alerts-security.alerts-*` indices.
    Ecs,
    /// One human-readable line per alert.
    Table,
}

/// One formatted alert and where it goes in the output.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Alert {
    /// The input line whose reading produced it (`u64::MAX`: the end of the
    /// input).
    pub at: u64,
    /// The rule's index in the rule set.
    pub rule: u32,
    /// Its position among the alerts of this rule found at `at` (the order
    /// the session gave them: Elasticsearch's order at the end of a
    /// bounded input).
    pub nth: u32,
    /// The formatted alert, with its line end.
    pub text: Vec<u8>,
}

/// The parts of each rule's alerts that do not depend on the event.
struct RuleText {
    /// `"name":…,"risk_score":…,"rule_id":…,"severity":…,`
    head: String,
    /// `"threat":[…]}`
    tail: String,
    /// Table: severity, risk score, name.
    table: String,
}

/// Formats alerts for one input.
pub struct Formatter {
    format: Format,
    /// The input's name as a JSON string.
    file: String,
    name: String,
    rules: Vec<RuleText>,
    /// [`Format::Ecs`]: the rules, the alerts' time, the input's index.
    ecs: Vec<Rule>,
    now: SystemTime,
    index: Option<String>,
    alert_opts: AlertOptions,
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

/// An event of an alert: the input it was read from (`None`: the
/// formatter's own), its line number and its line.
pub type EventLine<'a> = (Option<&'a str>, u64, &'a [u8]);

impl Formatter {
    /// The formatter of the alerts of `compiled` found in the input named
    /// `input`, in the format and with the alert options of `opts`.
    pub fn new(opts: &ScanOptions, compiled: &CompiledRuleSet, input: &str) -> Self {
        let format = opts.format;
        let rules = compiled
            .iter()
            .map(|c| {
                let r = &c.rule;
                let threat: Vec<serde_json::Value> = r
                    .threat
                    .iter()
                    .map(|t| {
                        json!({
                            "framework": t.framework,
                            "tactic": {"id": t.tactic.id, "name": t.tactic.name},
                            "techniques": t.techniques.iter()
                                .map(|x| json!({"id": x.id, "name": x.name}))
                                .collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                let head = format!(
                    "\"name\":{},\"risk_score\":{},\"rule_id\":{},\"severity\":{},",
                    json_str(&r.name),
                    json!(r.risk_score),
                    json!(r.rule_id),
                    json!(r.severity),
                );
                let tail = format!("\"threat\":{}}}", serde_json::Value::Array(threat));
                let table = format!(
                    "{:<8} {:<3} {}",
                    r.severity.as_deref().unwrap_or("-"),
                    r.risk_score
                        .map_or_else(|| "-".to_string(), |s| s.to_string()),
                    r.name,
                );
                RuleText { head, tail, table }
            })
            .collect();
        let ecs = if format == Format::Ecs {
            compiled.iter().map(|c| c.rule.clone()).collect()
        } else {
            Vec::new()
        };
        Formatter {
            format,
            file: json_str(input),
            name: input.to_owned(),
            rules,
            ecs,
            now: opts.alert_time.unwrap_or_else(SystemTime::now),
            index: opts.index.clone(),
            alert_opts: AlertOptions::default(),
        }
    }

    /// The name of the input the alerts are found in.
    pub fn input(&self) -> &str {
        &self.name
    }

    /// The `nth` alert of rule `rule` found at line `at`, on the entries
    /// `events` in step order ((file, line, bytes) of an event, the file
    /// `None` for this formatter's input; `None` for a `![...]` step; the
    /// last event completes the match) with join keys `keys`.
    pub fn alert(
        &self,
        at: u64,
        rule: usize,
        nth: u32,
        events: &[Option<EventLine<'_>>],
        keys: &[Value<'_>],
    ) -> Option<Alert> {
        let r = self.rules.get(rule)?;
        let &last = events.iter().rev().find_map(Option::as_ref)?;
        let event = last.2;
        let mut text = Vec::with_capacity(event.len() + r.head.len() + r.tail.len() + 64);
        match self.format {
            Format::Ndjson => self.write_ndjson(&mut text, r, events, last, keys),
            Format::Ecs => self.write_ecs(&mut text, rule, events)?,
            Format::Table => self.write_table(&mut text, r, events, last),
        }
        Some(Alert {
            at,
            rule: rule as u32,
            nth,
            text,
        })
    }
    /// [`Format::Ndjson`]: the alert of rule text `r` whose last event is
    /// `last`.
    fn write_ndjson(
        &self,
        text: &mut Vec<u8>,
        r: &RuleText,
        events: &[Option<EventLine<'_>>],
        last: EventLine<'_>,
        keys: &[Value<'_>],
    ) {
        let (from, line, event) = last;
        // The quoted file of an event that came from an earlier input.
        let file_of = |f: Option<&str>| f.map_or_else(|| self.file.clone(), json_str);
        text.extend_from_slice(b"{\"event\":");
        text.extend_from_slice(event);
        text.push(b',');
        if events.len() > 1 {
            text.extend_from_slice(b"\"events\":[");
            for (i, entry) in events.iter().enumerate() {
                if i > 0 {
                    text.push(b',');
                }
                let Some((f, l, e)) = entry else {
                    text.extend_from_slice(b"{\"missing\":true}");
                    continue;
                };
                text.extend_from_slice(b"{\"event\":");
                text.extend_from_slice(e);
                let _ = write!(
                    text,
                    ",\"source\":{{\"file\":{},\"line\":{l}}}}}",
                    file_of(*f)
                );
            }
            text.extend_from_slice(b"],");
        }
        if !keys.is_empty() {
            let keys: Vec<serde_json::Value> = keys.iter().map(to_json).collect();
            let _ = write!(text, "\"join_keys\":{},", serde_json::Value::Array(keys));
        }
        text.extend_from_slice(r.head.as_bytes());
        let _ = write!(
            text,
            "\"source\":{{\"file\":{},\"line\":{line}}},",
            file_of(from)
        );
        text.extend_from_slice(r.tail.as_bytes());
        text.push(b'\n');
    }

    /// [`Format::Ecs`]: the alert documents of rule `rule`; `None` when
    /// the formatter has no such rule.
    fn write_ecs(
        &self,
        text: &mut Vec<u8>,
        rule: usize,
        events: &[Option<EventLine<'_>>],
    ) -> Option<()> {
        let rule = self.ecs.get(rule)?;
        let name_of = |f: Option<&str>| f.map_or_else(|| self.name.clone(), str::to_owned);
        let doms: Vec<(Option<&str>, u64, &[u8], serde_json::Value)> = events
            .iter()
            .flatten()
            .map(|&(f, l, b)| (f, l, b, dom(b)))
            .collect();
        let sources: Vec<AlertEvent<'_>> = doms
            .iter()
            .map(|(f, l, b, d)| {
                let mut ev = AlertEvent::new(d, format!("{}:{l}", name_of(*f))).with_bytes(b);
                if let (true, Some(index)) = (ev.index.is_empty(), &self.index) {
                    ev.index.clone_from(index);
                }
                ev
            })
            .collect();
        // Writing to a `Vec` does not fail.
        let _ = write_alert_documents(rule, &sources, self.now, &self.alert_opts, text);
        Some(())
    }

    /// [`Format::Table`]: the line of rule text `r` whose last event is
    /// `last`.
    fn write_table(
        &self,
        text: &mut Vec<u8>,
        r: &RuleText,
        events: &[Option<EventLine<'_>>],
        last: EventLine<'_>,
    ) {
        let (_, line, event) = last;
        let dom: serde_json::Value =
            serde_json::from_slice(event).unwrap_or(serde_json::Value::Null);
        let get = |p: &str| field(&dom, p).unwrap_or("-").to_string();
        let lines = if events.len() > 1 {
            events
                .iter()
                .map(|e| e.map_or_else(|| "-".to_owned(), |(_, l, _)| l.to_string()))
                .collect::<Vec<_>>()
                .join(",")
        } else {
            line.to_string()
        };
        let _ = writeln!(
            text,
            "{} | {}:{} | {} host={} process={} file={}",
            r.table,
            self.name,
            lines,
            get("@timestamp"),
            get("host.name"),
            get("process.name"),
            get("file.path"),
        );
    }
}

/// A line (it passed the checks: one JSON object) as a DOM to read fields
/// from; a member the DOM cannot hold (a number beyond `f64`, in a field no
/// rule reads) is left out of it, not out of the alert, which takes the
/// members from the bytes.
fn dom(line: &[u8]) -> serde_json::Value {
    if let Ok(v) = serde_json::from_slice(line) {
        return v;
    }
    let members: BTreeMap<String, &RawValue> = serde_json::from_slice(line).unwrap_or_default();
    serde_json::Value::Object(
        members
            .into_iter()
            .filter_map(|(k, v)| Some((k, serde_json::from_str(v.get()).ok()?)))
            .collect(),
    )
}

fn to_json(v: &Value<'_>) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Float(f) => json!(f),
        Value::Str(s) => json!(s),
        Value::Array(a) => serde_json::Value::Array(a.iter().map(to_json).collect()),
        Value::Object(o) => {
            serde_json::Value::Object(o.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect())
        }
    }
}

/// Reads a string field by dotted path, nested or flat (`"host.name"` key).
fn field<'a>(event: &'a serde_json::Value, path: &str) -> Option<&'a str> {
    if let Some(v) = event.get(path).and_then(serde_json::Value::as_str) {
        return Some(v);
    }
    let mut cur = event;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    cur.as_str()
}
