//! Event access: how the engine reads fields from the embedder's events.

use crate::project::{ProjectedEvent, Projection};
use eql_plan::{FieldPath, Value};

/// Something the engine can read fields from.
///
/// `get` returns `None` when the field is *missing*, which is distinct from a
/// present JSON `null` (`Some(Value::Null)`). Arrays are returned as
/// [`Value::Array`].
///
/// Implemented for `serde_json::Value`, for raw JSON bytes (through
/// projection), and for any `T: Serialize` through [`crate::SerializeEvent`].
pub trait Event {
    /// Reads one field.
    fn get(&self, path: &FieldPath) -> Option<Value<'_>>;

    /// Bulk access: the event reduced to the fields of `projection`, when
    /// that is cheaper than reading many fields one by one. A rule pack calls
    /// it once per event and then reads every field from the result. The
    /// default (`None`) means "read me field by field". The result must
    /// resolve every projected path exactly as [`Event::get`] does.
    fn project<'s>(&'s self, projection: &Projection) -> Option<ProjectedEvent<'s>> {
        let _ = projection;
        None
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
/// use eql_engine::{CompileOptions, Engine, SerializeEvent};
/// #[derive(serde::Serialize)]
/// struct Proc { name: &'static str }
/// #[derive(serde::Serialize)]
/// struct Ev { event: Cat, process: Proc }
/// #[derive(serde::Serialize)]
/// struct Cat { category: &'static str }
///
/// let engine = Engine::compile(r#"process where process.name : "CMD.exe""#, &CompileOptions::default()).unwrap();
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

    fn project<'s>(&'s self, projection: &Projection) -> Option<ProjectedEvent<'s>> {
        Some(projection.project_dom(&self.dom))
    }
}
