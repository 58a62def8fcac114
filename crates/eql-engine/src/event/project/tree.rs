//! The field walk over a projected tree: [`Tree`] for [`Value`], `Event`
//! for the types that hold one ([`ProjectedEvent`], [`crate::Document`]),
//! and [`LazyProjected`], which parses its tree only when a field is read.

use super::{ProjectedEvent, Projection};
use crate::event::json::Tree;
use crate::Event;
use eql_plan::{FieldPath, Value};
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

/// An event read from text that passed
/// [`check_bytes`](crate::event::input::check_bytes), through a
/// [`Projection`], parsed into a [`ProjectedEvent`] only when a field is
/// first read: for a match that usually reads every field straight from the
/// bytes ([`Projection::parse_direct`]) and the event itself only for the
/// few rules that need it.
pub(crate) struct LazyProjected<'t, 'p> {
    text: &'t str,
    projection: &'p Projection,
    tree: std::cell::OnceCell<Option<ProjectedEvent<'t>>>,
}

impl<'t, 'p> LazyProjected<'t, 'p> {
    pub(crate) fn new(text: &'t str, projection: &'p Projection) -> Self {
        LazyProjected {
            text,
            projection,
            tree: std::cell::OnceCell::new(),
        }
    }

    /// The projected event; `None` when the text does not parse, which
    /// cannot happen once [`Projection::parse_direct`] has read it.
    fn tree(&self) -> Option<&ProjectedEvent<'t>> {
        self.tree
            .get_or_init(|| self.projection.parse_checked(self.text).ok())
            .as_ref()
    }
}

impl Event for LazyProjected<'_, '_> {
    fn get(&self, path: &FieldPath) -> Option<Value<'_>> {
        self.tree()?.get(path)
    }

    fn resolve_all<'s>(
        &'s self,
        projection: &Projection,
        sink: &mut dyn FnMut(usize, Value<'s>),
    ) -> bool {
        if let Some(t) = self.tree() {
            t.resolve_all(projection, sink)
        } else {
            true
        }
    }
}
