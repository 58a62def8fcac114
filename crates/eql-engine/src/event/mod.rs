//! Event access: how the engine reads fields from the embedder's events.

pub(crate) mod document;
pub(crate) mod flat;
pub(crate) mod input;
pub(crate) mod json;
pub(crate) mod project;
pub(crate) mod quick;
pub(crate) mod resolve;
#[cfg(feature = "simd")]
pub(crate) mod sonic;

pub use document::Document;
pub use input::{
    parse_event, parse_event_line, EventError, EventErrorKind, EventLimits, EventLines, JsonType,
};
pub use project::{ProjectedEvent, Projection};

use eql_plan::{FieldPath, Value};

/// Something the engine can read fields from.
///
/// `get` returns `None` when the field is *missing*, which is distinct from a
/// present JSON `null` (`Some(Value::Null)`). Arrays are returned as
/// [`Value::Array`].
///
/// Implemented for `serde_json::Value`, for [`crate::Document`], for raw JSON
/// bytes (through projection), and for any `T: Serialize` through
/// [`crate::SerializeEvent`].
pub trait Event {
    /// Reads one field.
    fn get(&self, path: &FieldPath) -> Option<Value<'_>>;

    /// Bulk access: every path of `projection` resolved in one pass.
    ///
    /// Calls `sink(i, item)` for path `i` (its index among the paths given
    /// to [`Projection::new`]) with each item of the value [`Event::get`]
    /// returns for it: the value itself, or each item when it is an array.
    /// Items that are `null` or objects are not reported, and a missing field
    /// reports nothing. Returns `false`, without calling `sink`, when the
    /// event does not support it (the default): the caller then reads field
    /// by field. A rule pack calls it once per event.
    ///
    /// For a projection made by [`Projection::values`], `sink` gets each
    /// path's value whole instead, once per path found: exactly what `get`
    /// returns, `null`, objects and arrays included.
    ///
    /// ```
    /// use eql_engine::{Event, FieldPath, Projection, Value};
    /// let p = Projection::new(&[FieldPath::parse_dotted("a.b"), FieldPath::parse_dotted("c")]);
    /// let ev = serde_json::json!({"a": {"b": ["x", null, 2]}, "c": {"d": 1}});
    /// let mut got = Vec::new();
    /// assert!(ev.resolve_all(&p, &mut |i, v| got.push((i, v))));
    /// assert_eq!(got, [(0, Value::from("x")), (0, Value::Int(2))]);
    /// ```
    fn resolve_all<'s>(
        &'s self,
        projection: &Projection,
        sink: &mut dyn FnMut(usize, Value<'s>),
    ) -> bool {
        let _ = (projection, sink);
        false
    }

    /// Python process lineage (`descendant of [...]` and the like): the
    /// session answers it for the relation node `relation`; `None` (null)
    /// everywhere else. Not meant to be implemented by embedders.
    #[doc(hidden)]
    fn lineage(&self, _relation: &eql_syntax::Expr) -> Option<bool> {
        None
    }
}

/// Any `T: Serialize` as an event: serialized once into a JSON DOM, then read
/// exactly like a `serde_json::Value`, so a user struct gives the same results
/// as the JSON it serializes to.
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery, SerializeEvent};
/// #[derive(serde::Serialize)]
/// struct Proc { name: &'static str }
/// #[derive(serde::Serialize)]
/// struct Ev { event: Cat, process: Proc }
/// #[derive(serde::Serialize)]
/// struct Cat { category: &'static str }
///
/// let engine = CompiledQuery::compile(r#"process where process.name : "CMD.exe""#, &CompileOptions::default()).unwrap();
/// let ev = SerializeEvent::new(&Ev { event: Cat { category: "process" }, process: Proc { name: "cmd.exe" } }).unwrap();
/// assert!(engine.is_match(&ev));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SerializeEvent {
    dom: serde_json::Value,
}

impl SerializeEvent {
    /// Serializes `value` (fails only where `serde_json::to_value` fails, such
    /// as a map with non-string keys).
    pub fn new<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        Ok(SerializeEvent {
            dom: serde_json::to_value(value)?,
        })
    }
}

impl Event for SerializeEvent {
    fn get(&self, path: &FieldPath) -> Option<Value<'_>> {
        Event::get(&self.dom, path)
    }

    fn resolve_all<'s>(
        &'s self,
        projection: &Projection,
        sink: &mut dyn FnMut(usize, Value<'s>),
    ) -> bool {
        self.dom.resolve_all(projection, sink)
    }
}
