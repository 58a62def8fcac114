//! `kibana.alert.reason`.

use serde_json::Value as Json;

use super::AlertEvent;
use crate::rules::Rule;

/// `kibana.alert.reason`: what happened where, in Kibana's words.
pub(super) fn reason(rule: &Rule, events: &[AlertEvent<'_>]) -> String {
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
