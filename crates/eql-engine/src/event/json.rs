//! `Event` for `serde_json::Value`: nested paths, ES-style flattening of arrays
//! of objects, literal dotted keys and array indexes.

use eql_plan::{PathSegment, Value};
use serde_json::Value as Json;
use smallvec::SmallVec;
use std::borrow::Cow;

/// Converts a JSON value to a runtime value (borrowing strings).
pub(crate) fn json_to_value(v: &Json) -> Value<'_> {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else {
                Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => Value::Str(Cow::Borrowed(s)),
        Json::Array(a) => Value::Array(a.iter().map(json_to_value).collect()),
        Json::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_str()), json_to_value(v)))
                .collect(),
        ),
    }
}

/// An object's members (`key`, node) as a runtime value, as a
/// `serde_json::Map` holds them: keys in order, the last of a repeated key.
/// For the trees that keep an object's members as written.
pub(crate) fn sorted_object<'a, T: Tree + 'a>(
    members: impl Iterator<Item = (&'a str, &'a T)>,
) -> Value<'a> {
    let mut members: Vec<(&'a str, &'a T)> = members.collect();
    members.sort_by(|a, b| a.0.cmp(b.0));
    let mut out: Vec<(Cow<'a, str>, Value<'a>)> = Vec::with_capacity(members.len());
    for (i, &(k, v)) in members.iter().enumerate() {
        if members.get(i + 1).is_some_and(|next| next.0 == k) {
            continue;
        }
        out.push((Cow::Borrowed(k), v.to_value()));
    }
    Value::Object(out)
}

/// A JSON-shaped tree the field walk can read: `serde_json::Value`, or the
/// pruned tree of a raw-bytes projection. One walk serves both, so they
/// resolve every path identically.
pub(crate) trait Tree: Sized {
    /// The member `k` of an object (the last one when a key repeats).
    fn key(&self, k: &str) -> Option<&Self>;
    /// The items of an array.
    fn items(&self) -> Option<&[Self]>;
    /// True for an object.
    fn is_object(&self) -> bool;
    /// The node as a runtime value.
    fn to_value(&self) -> Value<'_>;
    /// Calls `f` with each member key of an object that contains a dot.
    fn dotted_keys<'s>(&'s self, f: &mut dyn FnMut(&'s str));
    /// Calls `f` with each member of an object, in order (a repeated key
    /// more than once; the last one is the one `key` returns), until `f`
    /// returns false.
    fn for_each_member<'s>(&'s self, f: impl FnMut(&'s str, &'s Self) -> bool);
    /// True when an object never repeats a key (a map), so that a reader
    /// may stop once it has found every key it wants.
    const UNIQUE_KEYS: bool = false;
    /// True for a JSON `null`.
    fn is_null(&self) -> bool;
    /// Reads one byte of the node's own storage (an object's first member,
    /// an array's first item, a string's first byte), so that the cache
    /// misses of several nodes overlap instead of following one another.
    fn touch(&self) {}
}

impl Tree for Json {
    fn key(&self, k: &str) -> Option<&Self> {
        self.as_object()?.get(k)
    }
    fn items(&self) -> Option<&[Self]> {
        self.as_array().map(Vec::as_slice)
    }
    fn is_object(&self) -> bool {
        self.is_object()
    }
    fn to_value(&self) -> Value<'_> {
        json_to_value(self)
    }
    fn dotted_keys<'s>(&'s self, f: &mut dyn FnMut(&'s str)) {
        if let Some(o) = self.as_object() {
            for k in o.keys() {
                if k.contains('.') {
                    f(k);
                }
            }
        }
    }
    fn for_each_member<'s>(&'s self, mut f: impl FnMut(&'s str, &'s Self) -> bool) {
        if let Some(o) = self.as_object() {
            for (k, v) in o {
                if !f(k, v) {
                    break;
                }
            }
        }
    }
    // `serde_json::Map` is a map: a repeated key in the text keeps the last.
    const UNIQUE_KEYS: bool = true;
    fn is_null(&self) -> bool {
        self.is_null()
    }
    #[inline]
    fn touch(&self) {
        match self {
            Json::Object(o) => {
                std::hint::black_box(o.keys().next().map(String::len));
            }
            Json::Array(a) => {
                std::hint::black_box(a.first().map(|x| matches!(x, Json::Null)));
            }
            Json::String(s) => {
                std::hint::black_box(s.as_bytes().first());
            }
            _ => {}
        }
    }
}

/// Key equality with cheap rejections first (length, first and last byte)
/// before the full comparison.
#[inline]
pub(crate) fn same_key(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.first() == b.first() && a.last() == b.last() && a == b
}

/// Resolves a path: nested objects first, then literal dotted keys (longest
/// prefix first); arrays of objects are flattened; indexes select items.
pub(crate) fn walk<'a, T: Tree>(v: &'a T, segs: &[PathSegment]) -> Option<Value<'a>> {
    let Some((first, rest)) = segs.split_first() else {
        return Some(v.to_value());
    };
    match first {
        PathSegment::Key(k) if v.is_object() => {
            if let Some(child) = v.key(k) {
                if let Some(found) = walk(child, rest) {
                    return Some(found);
                }
            }
            // Literal dotted keys: the longest prefix first. Scanning the
            // keys that contain a dot costs no allocation when there is none.
            let mut found: SmallVec<[(usize, &str); 2]> = SmallVec::new();
            v.dotted_keys(&mut |key| {
                if let Some(n) = dotted_prefix(key, segs) {
                    found.push((n, key));
                }
            });
            found.sort_by_key(|f| std::cmp::Reverse(f.0));
            for (n, key) in found {
                if let Some(child) = v.key(key) {
                    if let Some(found) = walk(child, &segs[n..]) {
                        return Some(found);
                    }
                }
            }
            None
        }
        PathSegment::Key(_) => {
            let items = v.items()?;
            let mut out = Vec::new();
            for item in items {
                if !item.is_object() {
                    continue;
                }
                match walk(item, segs) {
                    Some(Value::Array(inner)) => out.extend(inner),
                    Some(Value::Null) | None => {}
                    Some(x) => out.push(x),
                }
            }
            if out.is_empty() {
                None
            } else {
                Some(Value::Array(out))
            }
        }
        PathSegment::Index(i) => v.items()?.get(*i as usize).and_then(|c| walk(c, rest)),
    }
}

/// When `key` is the first `n ≥ 2` key segments of `segs` joined by dots,
/// that `n`.
fn dotted_prefix(key: &str, segs: &[PathSegment]) -> Option<usize> {
    let mut rest = key;
    for (i, seg) in segs.iter().enumerate() {
        let PathSegment::Key(k) = seg else {
            return None;
        };
        let tail = rest.strip_prefix(k.as_str())?;
        if tail.is_empty() {
            return (i >= 1).then_some(i + 1);
        }
        rest = tail.strip_prefix('.')?;
    }
    None
}

/// `Event` for a [`Tree`]: fields through [`walk`], bulk reads through the
/// projection's resolver.
macro_rules! tree_event {
    ($t:ty) => {
        impl $crate::Event for $t {
            fn get(&self, path: &eql_plan::FieldPath) -> Option<eql_plan::Value<'_>> {
                $crate::event::json::walk(self, path.segments())
            }

            fn resolve_all<'s>(
                &'s self,
                projection: &$crate::event::project::Projection,
                sink: &mut dyn FnMut(usize, eql_plan::Value<'s>),
            ) -> bool {
                projection.resolver().resolve(self, sink);
                true
            }
        }
    };
}
pub(crate) use tree_event;

tree_event!(Json);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;
    use eql_plan::FieldPath;
    use serde_json::json;

    fn get(v: &Json, p: &str) -> Option<Value<'static>> {
        Event::get(v, &FieldPath::parse_dotted(p)).map(Value::into_owned)
    }

    #[test]
    fn paths() {
        let v = json!({"a": {"b": 1}, "c.d": "x", "e": [{"f": 1}, {"f": [2, 3]}], "n": null, "p": {"q.r": 5}});
        assert_eq!(get(&v, "a.b"), Some(Value::Int(1)));
        assert_eq!(get(&v, "c.d"), Some(Value::from("x")));
        assert_eq!(
            get(&v, "e.f"),
            Some(Value::Array(vec![
                Value::Int(1),
                Value::Int(2),
                Value::Int(3)
            ]))
        );
        assert_eq!(get(&v, "n"), Some(Value::Null));
        assert_eq!(get(&v, "zz"), None);
        assert_eq!(get(&v, "p.q.r"), Some(Value::Int(5)));
        let idx = FieldPath::new(vec![
            PathSegment::Key("e".into()),
            PathSegment::Index(1),
            PathSegment::Key("f".into()),
        ]);
        assert_eq!(
            Event::get(&v, &idx).map(Value::into_owned),
            Some(Value::Array(vec![Value::Int(2), Value::Int(3)]))
        );
    }
}
