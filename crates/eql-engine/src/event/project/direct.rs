//! Resolving a projection's paths straight from JSON text, with no tree
//! built in between ([`Projection::parse_direct`]).

use super::seed::{KeyStr, Whole};
use super::Projection;
use crate::event::input::{check_bytes, from_serde, EventError, EventLimits};
use crate::event::resolve::Resolver;
use crate::Event;
use eql_plan::Value;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use smallvec::SmallVec;
use std::fmt;

impl Projection {
    /// Every path resolved straight from one JSON document's bytes:
    /// `sink(path index, item)` gets the items [`Event::resolve_all`] reports
    /// for [`Projection::parse`]'s result, usually without building it.
    ///
    /// Errors are [`Projection::parse`]'s.
    ///
    /// ```
    /// use eql_engine::{EventLimits, FieldPath, Projection, Value};
    /// let p = Projection::new(&[FieldPath::parse_dotted("a.b"), FieldPath::parse_dotted("c")]);
    /// let limits = EventLimits::default();
    /// let mut got = Vec::new();
    /// let bytes = br#"{"a": {"b": ["x", null, 2]}, "c": {"d": 1}, "e": 5}"#;
    /// p.resolve_json(bytes, &limits, &mut |i, v| got.push((i, v))).unwrap();
    /// assert_eq!(got, [(0, Value::from("x")), (0, Value::Int(2))]);
    /// assert!(p.resolve_json(b"{", &limits, &mut |_, _| ()).is_err());
    /// ```
    pub fn resolve_json<'de>(
        &self,
        bytes: &'de [u8],
        limits: &EventLimits,
        sink: &mut dyn FnMut(usize, Value<'de>),
    ) -> Result<(), EventError> {
        let text = check_bytes(bytes, limits)?;
        let mut items = Vec::new();
        if self
            .parse_direct(text, &mut |i, v| items.push((i, v)))
            .map_err(|e| from_serde(text, &e))?
        {
            for (i, v) in items {
                sink(i, v);
            }
        } else {
            // The tree's items borrow from the tree: hand out owned copies.
            let tree = self.parse_checked(text)?;
            tree.resolve_all(self, &mut |i, v| sink(i, v.into_owned()));
        }
        Ok(())
    }

    /// Parses one JSON document straight into `sink(path index, item)`, the
    /// items [`Event::resolve_all`] would report for the projected event,
    /// with no tree built in between.
    ///
    /// `text` has passed [`check_bytes`]. Returns `Ok(false)` when this
    /// document needs the tree (then nothing reported through `sink` may be
    /// used; call [`Projection::parse_checked`]): a root that is not an
    /// object (the tree parse reports it), a literal dotted key or a
    /// repeated key on a wanted path, or an array where a wanted path goes
    /// on, since those change which value `walk` picks. Projections with an
    /// index segment, or a path that ends where another goes on, always need
    /// the tree. A syntax error is the one the tree parse would report.
    pub(crate) fn parse_direct<'de>(
        &self,
        text: &'de str,
        sink: &mut dyn FnMut(usize, Value<'de>),
    ) -> Result<bool, serde_json::Error> {
        if !self.direct || !text.trim_ascii_start().starts_with('{') {
            return Ok(false);
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let mut simple = true;
        DirectSeed {
            resolver: &self.resolver,
            node: 0,
            sink,
            simple: &mut simple,
        }
        .deserialize(&mut de)?;
        de.end()?;
        Ok(simple)
    }
}

/// Reads one value at a trie node for [`Projection::parse_direct`].
struct DirectSeed<'p, 's, 'de> {
    resolver: &'p Resolver,
    node: u32,
    /// `sink(path index, item)`: the items [`Event::resolve_all`] reports.
    sink: &'s mut dyn FnMut(usize, Value<'de>),
    /// Cleared when the document needs the tree.
    simple: &'s mut bool,
}

impl<'de> DeserializeSeed<'de> for DirectSeed<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if !*self.simple {
            <IgnoredAny as de::Deserialize>::deserialize(d)?;
            return Ok(());
        }
        let ends = self.resolver.ends(self.node);
        if !ends.is_empty() {
            // A leaf (`direct_ok`: no children here): its whole value,
            // then its items (`Value::into_items`, without its allocation for
            // a scalar).
            let value = Whole.deserialize(d)?;
            let mut report = |item: Value<'de>| {
                if matches!(item, Value::Null | Value::Object(_)) {
                    return;
                }
                if let Some((&last, others)) = ends.split_last() {
                    for &p in others {
                        (self.sink)(p as usize, item.clone());
                    }
                    (self.sink)(last as usize, item);
                }
            };
            match value {
                Value::Array(items) => items.into_iter().for_each(report),
                item => report(item),
            }
            return Ok(());
        }
        d.deserialize_any(DirectVisitor { seed: self })
    }
}

struct DirectVisitor<'p, 's, 'de> {
    seed: DirectSeed<'p, 's, 'de>,
}

impl<'de> Visitor<'de> for DirectVisitor<'_, '_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    // A scalar where a path goes on: nothing below it.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // Arrays of objects are flattened by `walk`: the tree handles them.
        *self.seed.simple = false;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let DirectSeed {
            resolver,
            node,
            sink,
            simple,
        } = self.seed;
        let mut seen: SmallVec<[bool; 16]> = SmallVec::new();
        seen.resize(resolver.children(node), false);
        while let Some(k) = map.next_key::<KeyStr<'de>>()? {
            if !*simple {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if k.bytes().contains(&b'.') && resolver.dotted_reaches(node, k.bytes()) {
                // A literal dotted key on a wanted path.
                *simple = false;
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            match resolver.direct_child(node, k.bytes()) {
                Some((ordinal, child)) => {
                    match seen.get_mut(ordinal) {
                        // A repeated key: the last one wins in `walk`.
                        Some(s) if *s => *simple = false,
                        Some(s) => *s = true,
                        None => {}
                    }
                    map.next_value_seed(DirectSeed {
                        resolver,
                        node: child,
                        sink: &mut *sink,
                        simple: &mut *simple,
                    })?;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}
