//! `Event` for `serde_json::Value`: nested paths, ES-style flattening of arrays
//! of objects, literal dotted keys and array indexes.

use crate::Event;
use eql_plan::{FieldPath, PathSegment, Value};
use serde_json::Value as Json;
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

fn walk<'a>(v: &'a Json, segs: &[PathSegment]) -> Option<Value<'a>> {
    let Some((first, rest)) = segs.split_first() else {
        return Some(json_to_value(v));
    };
    match (first, v) {
        (PathSegment::Key(k), Json::Object(obj)) => {
            if let Some(child) = obj.get(k.as_str()) {
                if let Some(found) = walk(child, rest) {
                    return Some(found);
                }
            }
            // Literal dotted keys: the longest prefix first.
            let keys: Vec<&str> = segs
                .iter()
                .map_while(|s| match s {
                    PathSegment::Key(k) => Some(k.as_str()),
                    PathSegment::Index(_) => None,
                })
                .collect();
            for n in (2..=keys.len()).rev() {
                let joined = keys[..n].join(".");
                if let Some(child) = obj.get(&joined) {
                    if let Some(found) = walk(child, &segs[n..]) {
                        return Some(found);
                    }
                }
            }
            None
        }
        (PathSegment::Key(_), Json::Array(items)) => {
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
        (PathSegment::Index(i), Json::Array(items)) => {
            items.get(*i as usize).and_then(|c| walk(c, rest))
        }
        _ => None,
    }
}

impl Event for Json {
    fn get(&self, path: &FieldPath) -> Option<Value<'_>> {
        walk(self, path.segments())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
