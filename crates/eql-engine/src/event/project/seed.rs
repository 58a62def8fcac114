//! The serde seeds and visitors that read a projected tree from JSON text:
//! [`Seed`] keeps what a [`Projection`] wants, [`Whole`] keeps everything.

use super::Projection;
use eql_plan::Value;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Projects one value at a trie node.
pub(super) struct Seed<'p> {
    pub(super) proj: &'p Projection,
    pub(super) node: usize,
}

/// Deserializes a whole value (borrowing strings).
pub(crate) struct Whole;

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value<'de>, D::Error> {
        if self.proj.nodes.get(self.node).is_none_or(|n| n.whole) {
            return Whole.deserialize(d);
        }
        d.deserialize_any(ProjVisitor {
            proj: self.proj,
            node: self.node,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Whole {
    type Value = Value<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value<'de>, D::Error> {
        d.deserialize_any(WholeVisitor)
    }
}

/// A member key. Every parse here reads text that is valid UTF-8
/// (`Deserializer::from_str`), where serde_json hands out a key without
/// escapes as a borrowed `&str` with no check and unescapes the others as
/// `String`s (rejecting lone surrogates, as `parse_event` does); most keys
/// are only compared with the trie and then skipped.
pub(super) struct KeyStr<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for KeyStr<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KV;
        impl<'de> Visitor<'de> for KV {
            type Value = KeyStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<KeyStr<'de>, E> {
                Ok(KeyStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyStr<'de>, E> {
                Ok(KeyStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<KeyStr<'de>, E> {
                Ok(KeyStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KV)
    }
}

impl KeyStr<'_> {
    pub(super) fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

macro_rules! scalar_visits {
    () => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value<'de>, E> {
            Ok(Value::Bool(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value<'de>, E> {
            Ok(Value::Int(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value<'de>, E> {
            Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value<'de>, E> {
            Ok(Value::Float(v))
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Value<'de>, E> {
            Ok(Value::Str(Cow::Borrowed(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Value<'de>, E> {
            Ok(Value::Str(Cow::Owned(v.to_owned())))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Value<'de>, E> {
            Ok(Value::Str(Cow::Owned(v)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Value<'de>, E> {
            Ok(Value::Null)
        }
        fn visit_none<E: de::Error>(self) -> Result<Value<'de>, E> {
            Ok(Value::Null)
        }
    };
}

struct WholeVisitor;

impl<'de> Visitor<'de> for WholeVisitor {
    type Value = Value<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    scalar_visits!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value<'de>, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Whole)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value<'de>, A::Error> {
        let mut out = Vec::new();
        while let Some(k) = map.next_key::<KeyStr<'de>>()? {
            let v = map.next_value_seed(Whole)?;
            out.push((k.0, v));
        }
        Ok(object(out))
    }
}

/// An object with the DOM's semantics (`serde_json::Map` without
/// `preserve_order`): one entry per key, the last one, in key order. Every
/// object of a projected tree or a [`crate::Document`] is built here, which
/// is what lets the field walk stop reading an object once it has found
/// every key it wants (`Tree::UNIQUE_KEYS`).
fn object<'de>(mut out: Vec<(Cow<'de, str>, Value<'de>)>) -> Value<'de> {
    if out.len() > 1 {
        out.reverse();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.dedup_by(|a, b| a.0 == b.0);
    }
    Value::Object(out)
}

struct ProjVisitor<'p> {
    proj: &'p Projection,
    node: usize,
}

impl<'de> Visitor<'de> for ProjVisitor<'_> {
    type Value = Value<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    scalar_visits!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value<'de>, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Seed {
            proj: self.proj,
            node: self.node,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value<'de>, A::Error> {
        let mut out = Vec::new();
        while let Some(k) = map.next_key::<KeyStr<'de>>()? {
            match self.proj.step_bytes(self.node, k.bytes()) {
                Some(node) => {
                    let v = map.next_value_seed(Seed {
                        proj: self.proj,
                        node,
                    })?;
                    out.push((k.0, v));
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(object(out))
    }
}
