//! The field walk over a projected tree: [`Tree`] for [`Value`], and
//! `Event` for the types that hold one ([`ProjectedEvent`],
//! [`crate::Document`]).

use super::ProjectedEvent;
use crate::event::json::Tree;
use eql_plan::Value;
use std::borrow::Cow;

/// `v` with every string borrowed from it: a copy that allocates only for
/// arrays and objects, never for strings.
fn borrowed<'s>(v: &'s Value<'_>) -> Value<'s> {
    match v {
        Value::Null => Value::Null,
        Value::Bool(b) => Value::Bool(*b),
        Value::Int(i) => Value::Int(*i),
        Value::Float(f) => Value::Float(*f),
        Value::Str(s) => Value::Str(Cow::Borrowed(s)),
        Value::Array(a) => Value::Array(a.iter().map(borrowed).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (Cow::Borrowed(&**k), borrowed(v)))
                .collect(),
        ),
    }
}

impl Tree for Value<'_> {
    fn key(&self, k: &str) -> Option<&Self> {
        match self {
            Value::Object(o) => o
                .iter()
                .rev()
                .find(|(kk, _)| crate::event::json::same_key(kk, k))
                .map(|(_, v)| v),
            _ => None,
        }
    }
    fn items(&self) -> Option<&[Self]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
    fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }
    fn to_value(&self) -> Value<'_> {
        borrowed(self)
    }
    fn dotted_keys<'s>(&'s self, f: &mut dyn FnMut(&'s str)) {
        if let Value::Object(o) = self {
            for (k, _) in o {
                if k.contains('.') {
                    f(k);
                }
            }
        }
    }
    /// Every object of a projected tree is built by `object`.
    const UNIQUE_KEYS: bool = true;
    fn for_each_member<'s>(&'s self, mut f: impl FnMut(&'s str, &'s Self) -> bool) {
        if let Value::Object(o) = self {
            for (k, v) in o {
                if !f(k, v) {
                    break;
                }
            }
        }
    }
    fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// `Event` for a type whose `root` field is a `Value` tree: the field walk
/// and the one-pass resolver over that tree.
macro_rules! value_tree_event {
    ($t:ident) => {
        impl crate::Event for $t<'_> {
            fn get(&self, path: &eql_plan::FieldPath) -> Option<eql_plan::Value<'_>> {
                crate::event::json::walk(&self.root, path.segments())
            }

            fn resolve_all<'s>(
                &'s self,
                projection: &crate::Projection,
                sink: &mut dyn FnMut(usize, eql_plan::Value<'s>),
            ) -> bool {
                projection.resolver().resolve(&self.root, sink);
                true
            }
        }
    };
}
pub(crate) use value_tree_event;

value_tree_event!(ProjectedEvent);
