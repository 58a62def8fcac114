//! An alert document before it is written, and writing it: as a JSON
//! value, or as text with the source event's members as they were read.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::value::RawValue;
use serde_json::{Map, Value as Json};

use super::AlertEvent;

/// An alert document before it is written: its own fields (the alert's,
/// and the source's `event.*` fields), and the source event whose other
/// members it carries (none for a sequence's shell).
pub(super) struct Doc<'s, 'a> {
    pub(super) fields: Map<String, Json>,
    pub(super) source: Option<&'s AlertEvent<'a>>,
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
    pub(super) fn to_json(&self) -> Json {
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
    pub(super) fn write(&self, out: &mut dyn Write) -> io::Result<()> {
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

/// Source keys that never go into an alert: document metadata and the
/// alert namespaces themselves.
fn is_reserved(key: &str) -> bool {
    matches!(key, "_id" | "_index" | "kibana" | "signal")
        || key.starts_with("kibana.")
        || key.starts_with("signal.")
}
