//! Event access: how the engine reads fields from the embedder's events.

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
}
