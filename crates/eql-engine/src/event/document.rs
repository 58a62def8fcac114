//! [`Document`]: a pre-parsed event laid out for field reads.
//!
//! `serde_json::Value` keeps each object in a B-tree whose nodes, keys and
//! strings are separate allocations: reading one field follows several
//! pointers, and a rule pack that reads a handful of fields per event spends
//! most of its time waiting on those loads. A `Document` holds the same data
//! as one small tree of vectors: each object is one array of members sorted
//! by key (one entry per key, the last one, as in `serde_json::Map`), and the
//! strings of events parsed from bytes are borrowed from those bytes when they
//! have no escapes. Every path resolves exactly as it does on the
//! `serde_json::Value` of the same bytes (nested keys, literal dotted keys,
//! arrays of objects flattened); the differential tests check it.
//!
//! Parse events into `Document`s when they are evaluated more than once (many
//! packs, or the same events kept in memory); for one pass over raw bytes,
//! [`crate::Pack::matches_json`] reads only the fields the pack needs and is
//! faster still.

use crate::event::input::{parse_checked, EventError, EventLimits, JsonType};
use crate::event::json::json_to_value;
use crate::event::project::Whole;
use eql_plan::Value;
use serde::de::DeserializeSeed;

/// A pre-parsed event: the whole JSON object as a compact tree that borrows
/// its strings from the input bytes when it can.
///
/// ```
/// use eql_engine::{CompileOptions, Document, CompiledQuery, EventLimits};
/// let bytes = br#"{"event": {"category": "process"}, "process": {"name": "cmd.exe"}}"#;
/// let doc = Document::parse(bytes, &EventLimits::default())?;
/// let engine = CompiledQuery::compile(r#"process where process.name : "CMD.EXE""#, &CompileOptions::default()).unwrap();
/// assert!(engine.is_match(&doc));
/// // Not an object, too deep, too long or malformed: a typed error, never a panic.
/// assert!(Document::parse(b"[1]", &EventLimits::default()).is_err());
/// # Ok::<(), eql_engine::EventError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Document<'de> {
    root: Value<'de>,
}

impl<'de> Document<'de> {
    /// Parses one event (a JSON object) with the checks and errors of
    /// [`crate::parse_event`]: length and nesting limits first, then the
    /// parser, which rejects trailing characters and numbers beyond `f64`.
    pub fn parse(bytes: &'de [u8], limits: &EventLimits) -> Result<Document<'de>, EventError> {
        parse_checked(
            bytes,
            limits,
            |text| {
                let mut de = serde_json::Deserializer::from_str(text);
                let root = Whole.deserialize(&mut de)?;
                de.end()?;
                Ok(Document { root })
            },
            |doc| json_type(&doc.root),
        )
    }

    /// The same tree built from a `serde_json::Value`, borrowing its strings.
    ///
    /// ```
    /// use eql_engine::{Document, Event, FieldPath};
    /// let dom = serde_json::json!({"a": {"b": [1, 2]}});
    /// let doc = Document::from_json(&dom);
    /// let ab = FieldPath::parse_dotted("a.b");
    /// assert_eq!(doc.get(&ab), Event::get(&dom, &ab));
    /// ```
    pub fn from_json(dom: &'de serde_json::Value) -> Document<'de> {
        Document {
            root: json_to_value(dom),
        }
    }

    /// The document, owning every string (for keeping it past its bytes).
    ///
    /// ```
    /// use eql_engine::{Document, Event, EventLimits, FieldPath, Value};
    /// let doc = {
    ///     let bytes = br#"{"a": "x"}"#.to_vec();
    ///     Document::parse(&bytes, &EventLimits::default()).unwrap().into_owned()
    /// };
    /// assert_eq!(doc.get(&FieldPath::parse_dotted("a")), Some(Value::from("x")));
    /// ```
    pub fn into_owned(self) -> Document<'static> {
        Document {
            root: self.root.into_owned(),
        }
    }

    /// The root object.
    ///
    /// ```
    /// use eql_engine::{Document, EventLimits, Value};
    /// let doc = Document::parse(br#"{"b": 1, "a": 2, "b": 3}"#, &EventLimits::default()).unwrap();
    /// // Members sorted by key, the last of a repeated key kept, as in `serde_json::Value`.
    /// let Value::Object(members) = doc.root() else { unreachable!() };
    /// assert_eq!(members[..], [("a".into(), Value::Int(2)), ("b".into(), Value::Int(3))]);
    /// ```
    pub fn root(&self) -> &Value<'de> {
        &self.root
    }
}

pub(crate) fn json_type(v: &Value<'_>) -> Option<JsonType> {
    Some(match v {
        Value::Object(_) => return None,
        Value::Null => JsonType::Null,
        Value::Bool(_) => JsonType::Bool,
        Value::Int(_) | Value::Float(_) => JsonType::Number,
        Value::Str(_) => JsonType::String,
        Value::Array(_) => JsonType::Array,
    })
}

crate::event::project::value_tree_event!(Document);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::input::EventErrorKind;
    use crate::{Event, FieldPath};

    fn limits() -> EventLimits {
        EventLimits::default()
    }

    #[test]
    fn resolves_like_the_dom() {
        let text = r#"{"a": {"b": 1, "c.d": "x"}, "e": [{"f": 1}, {"f": [2, 3]}], "n": null,
            "s": "esc\"aped", "a.b": 9, "big": 18446744073709551615, "z": {"z": 1}, "z": 2}"#;
        let dom: serde_json::Value = serde_json::from_str(text).unwrap();
        let doc = Document::parse(text.as_bytes(), &limits()).unwrap();
        for p in [
            "a.b", "a.c.d", "e.f", "n", "s", "big", "z", "z.z", "missing", "a",
        ] {
            let path = FieldPath::parse_dotted(p);
            assert_eq!(doc.get(&path), Event::get(&dom, &path), "{p}");
            assert_eq!(
                Document::from_json(&dom).get(&path),
                Event::get(&dom, &path),
                "{p}"
            );
        }
    }

    #[test]
    fn errors_are_typed() {
        let kind = |b: &[u8]| Document::parse(b, &limits()).unwrap_err().kind;
        assert_eq!(
            kind(b"\"s\""),
            EventErrorKind::NotAnObject {
                found: JsonType::String
            }
        );
        assert_eq!(kind(b"{\"a\": 1"), EventErrorKind::Truncated);
        assert_eq!(kind(b"{\"a\": 1e999}"), EventErrorKind::NumberOutOfRange);
        assert_eq!(kind(b"  "), EventErrorKind::Empty);
        assert!(matches!(kind(b"{} x"), EventErrorKind::Syntax { .. }));
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(
            kind(deep.as_bytes()),
            EventErrorKind::TooDeep { .. }
        ));
    }
}
