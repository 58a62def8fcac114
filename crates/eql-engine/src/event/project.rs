//! Raw JSON bytes → only the fields a query or pack reads, with no DOM.
//!
//! A [`Projection`] is compiled once from the field paths (a trie). Reading an
//! event runs one serde `DeserializeSeed` pass over the bytes: members whose
//! key can lead to a wanted path are kept (strings borrowed from the input when
//! they have no escapes), everything else is skipped with `IgnoredAny`. The
//! result is a small pruned tree that the same field walk as the DOM reads
//! ([`crate::event::json`]), so a projected event resolves every wanted path exactly as
//! `serde_json::Value` would: nested keys first, then literal dotted keys,
//! arrays of objects flattened.

use crate::event::input::{check_bytes, from_serde, parse_text, EventError, EventLimits};
use crate::event::json::Tree;
use crate::event::resolve::Resolver;
use crate::Event;
use eql_plan::{FieldPath, PathSegment, Value};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::fmt;

#[derive(Clone, Debug, Default)]
struct Node {
    /// Keep the whole value (a wanted path ends here, or at an index below).
    whole: bool,
    /// Few per node: a linear scan beats hashing here.
    children: Vec<(Box<str>, usize)>,
    /// A child's own name contains a dot (a quoted field segment).
    dotted_child: bool,
}

impl Node {
    fn child(&self, key: &str) -> Option<usize> {
        self.child_bytes(key.as_bytes())
    }

    fn child_bytes(&self, key: &[u8]) -> Option<usize> {
        self.children
            .iter()
            .find(|(k, _)| {
                let k = k.as_bytes();
                k.len() == key.len() && k.first() == key.first() && k == key
            })
            .map(|(_, n)| *n)
    }
}

/// The compiled set of paths to extract from raw JSON.
///
/// ```
/// use eql_engine::{Event, EventLimits, FieldPath, Projection, Value};
/// let p = Projection::new(&[FieldPath::parse_dotted("process.name")]);
/// let bytes = br#"{"process": {"name": "cmd.exe", "pid": 4}, "big": [1, 2, 3]}"#;
/// let ev = p.parse(bytes, &EventLimits::default()).unwrap();
/// assert_eq!(ev.get(&FieldPath::parse_dotted("process.name")), Some(Value::from("cmd.exe")));
/// // Skipped members are not in the projection.
/// assert_eq!(ev.get(&FieldPath::parse_dotted("process.pid")), None);
/// ```
#[derive(Clone, Debug)]
pub struct Projection {
    nodes: Vec<Node>,
    resolver: Resolver,
    /// [`Projection::parse_direct`] can serve these paths.
    direct: bool,
}

impl Projection {
    /// Compiles the paths to extract.
    pub fn new<'p>(paths: impl IntoIterator<Item = &'p FieldPath>) -> Projection
    where
        FieldPath: 'p,
    {
        Self::build(paths.into_iter().cloned().collect(), Resolver::new)
    }

    /// A projection of `items` (reported as [`Projection::new`]'s) followed
    /// by `values` (reported whole, as [`Projection::values`]'), one pass
    /// for both: path `items.len() + k` is `values[k]`.
    pub(crate) fn items_then_values<'p>(
        items: impl IntoIterator<Item = &'p FieldPath>,
        values: &[FieldPath],
    ) -> Projection {
        let mut paths: Vec<FieldPath> = items.into_iter().cloned().collect();
        let whole_from = paths.len();
        paths.extend_from_slice(values);
        Self::build(paths, |p| Resolver::with_whole_from(p, whole_from))
    }

    /// Compiles paths whose values [`Event::resolve_all`] reports whole:
    /// once per path found, exactly the value [`Event::get`] returns for it
    /// (`null`, objects and arrays included), instead of its items.
    ///
    /// ```
    /// use eql_engine::{Event, FieldPath, Projection, Value};
    /// let p = Projection::values(&[FieldPath::parse_dotted("a.b"), FieldPath::parse_dotted("c")]);
    /// let ev = serde_json::json!({"a": {"b": ["x", null]}, "c": null});
    /// let mut got = Vec::new();
    /// assert!(ev.resolve_all(&p, &mut |i, v| got.push((i, v))));
    /// got.sort_by_key(|g| g.0);
    /// assert_eq!(got, [(0, Value::Array(vec![Value::from("x"), Value::Null])), (1, Value::Null)]);
    /// ```
    pub fn values<'p>(paths: impl IntoIterator<Item = &'p FieldPath>) -> Projection
    where
        FieldPath: 'p,
    {
        Self::build(paths.into_iter().cloned().collect(), |p| {
            Resolver::with_whole_from(p, 0)
        })
    }

    fn build(
        paths: Vec<FieldPath>,
        resolver: impl FnOnce(Vec<FieldPath>) -> Resolver,
    ) -> Projection {
        let mut nodes = vec![Node::default()];
        for path in &paths {
            let mut at = 0usize;
            for seg in path.segments() {
                match seg {
                    // An index keeps the same node: items are projected with
                    // the array's node, which also serves flattening.
                    PathSegment::Index(_) => {}
                    PathSegment::Key(k) => {
                        let existing = nodes.get(at).and_then(|n| n.child(k));
                        at = match existing {
                            Some(n) => n,
                            None => {
                                let n = nodes.len();
                                nodes.push(Node::default());
                                if let Some(parent) = nodes.get_mut(at) {
                                    parent.children.push((k.as_str().into(), n));
                                    parent.dotted_child |= k.contains('.');
                                }
                                n
                            }
                        };
                    }
                }
            }
            if let Some(n) = nodes.get_mut(at) {
                n.whole = true;
            }
        }
        let resolver = resolver(paths);
        Projection {
            nodes,
            direct: resolver.direct_ok(),
            resolver,
        }
    }

    /// True when [`Projection::parse_direct`] can serve these paths.
    pub(crate) fn direct(&self) -> bool {
        self.direct
    }

    /// The one-pass resolver over the same paths.
    pub(crate) fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// Parses one event (a JSON object), keeping only what the paths need,
    /// with the checks and errors of [`crate::parse_event`]: length, UTF-8
    /// and nesting limits first, then the parser, which rejects trailing
    /// characters.
    ///
    /// ```
    /// use eql_engine::{EventErrorKind, EventLimits, FieldPath, Projection};
    /// let p = Projection::new(&[FieldPath::parse_dotted("a")]);
    /// let err = p.parse(b"[1]", &EventLimits::default()).unwrap_err();
    /// assert!(matches!(err.kind, EventErrorKind::NotAnObject { .. }));
    /// ```
    pub fn parse<'de>(
        &self,
        bytes: &'de [u8],
        limits: &EventLimits,
    ) -> Result<ProjectedEvent<'de>, EventError> {
        self.parse_checked(check_bytes(bytes, limits)?)
    }

    /// [`Projection::parse`] of text that passed [`check_bytes`].
    pub(crate) fn parse_checked<'de>(
        &self,
        text: &'de str,
    ) -> Result<ProjectedEvent<'de>, EventError> {
        parse_text(
            text,
            |text| {
                // The text is valid UTF-8: strings are not validated again.
                let mut de = serde_json::Deserializer::from_str(text);
                let root = Seed {
                    proj: self,
                    node: 0,
                }
                .deserialize(&mut de)?;
                de.end()?;
                Ok(ProjectedEvent { root })
            },
            |ev| crate::event::document::json_type(&ev.root),
        )
    }

    /// Prunes a DOM the same way [`Projection::parse`] prunes bytes: the
    /// result holds only the members that can lead to a wanted path, borrows
    /// every string from `dom`, and resolves each wanted path exactly as
    /// `dom` does. Reading many fields from the small result is cheaper than
    /// searching the DOM's maps once per field.
    ///
    /// ```
    /// use eql_engine::{Event, FieldPath, Projection};
    /// let ab = FieldPath::parse_dotted("a.b");
    /// let p = Projection::new(&[ab.clone()]);
    /// let dom = serde_json::json!({"a": {"b": 1, "c": 2}, "d": 3});
    /// let ev = p.project_dom(&dom);
    /// assert_eq!(ev.get(&ab), Event::get(&dom, &ab));
    /// assert_eq!(ev.get(&FieldPath::parse_dotted("d")), None);
    /// ```
    pub fn project_dom<'d>(&self, dom: &'d serde_json::Value) -> ProjectedEvent<'d> {
        ProjectedEvent {
            root: self.prune(dom, 0),
        }
    }

    fn prune<'d>(&self, v: &'d serde_json::Value, node: usize) -> Value<'d> {
        use serde_json::Value as J;
        if self.nodes.get(node).is_none_or(|n| n.whole) {
            return crate::event::json::json_to_value(v);
        }
        match v {
            J::Object(o) => Value::Object(
                o.iter()
                    .filter_map(|(k, c)| {
                        let next = self.step(node, k)?;
                        Some((Cow::Borrowed(k.as_str()), self.prune(c, next)))
                    })
                    .collect(),
            ),
            J::Array(items) => Value::Array(items.iter().map(|c| self.prune(c, node)).collect()),
            scalar => crate::event::json::json_to_value(scalar),
        }
    }

    /// The node reached from `node` by a (possibly dotted) key; `WHOLE` when
    /// the key can lead to a wanted path in two ways (keep all of it).
    fn step(&self, node: usize, key: &str) -> Option<usize> {
        self.step_bytes(node, key.as_bytes())
    }

    fn step_bytes(&self, node: usize, key: &[u8]) -> Option<usize> {
        let n = self.nodes.get(node)?;
        let exact = n.child_bytes(key);
        if exact.is_some() && !n.dotted_child {
            return exact;
        }
        let dotted = if key.contains(&b'.') {
            let mut at = Some(node);
            for part in key.split(|&b| b == b'.') {
                at = at.and_then(|a| self.nodes.get(a)?.child_bytes(part));
            }
            at
        } else {
            None
        };
        match (exact, dotted) {
            (Some(a), Some(b)) if a != b => Some(WHOLE),
            (Some(a), _) | (None, Some(a)) => Some(a),
            (None, None) => None,
        }
    }
}

/// A node index that does not exist: the value is kept whole.
const WHOLE: usize = usize::MAX;

/// An event read from raw bytes through a [`Projection`]: only the projected
/// fields are present.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectedEvent<'de> {
    root: Value<'de>,
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
        self.clone()
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

/// An event read from text that passed [`check_bytes`], through a
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

/// Projects one value at a trie node.
struct Seed<'p> {
    proj: &'p Projection,
    node: usize,
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
struct KeyStr<'de>(Cow<'de, str>);

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
    fn bytes(&self) -> &[u8] {
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
        sink: &mut dyn DirectSink<'de>,
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

/// Where [`Projection::parse_direct`] reports what it reads.
pub(crate) trait DirectSink<'de> {
    /// One item of path `path` (the items [`Event::resolve_all`] reports).
    fn item(&mut self, path: usize, item: Value<'de>);
    /// The whole value of path `path`, as `walk` returns it, before its
    /// items; not called for a path that is missing.
    fn found(&mut self, path: usize, value: &Value<'de>) {
        let _ = (path, value);
    }
}

impl<'de, F: FnMut(usize, Value<'de>)> DirectSink<'de> for F {
    fn item(&mut self, path: usize, item: Value<'de>) {
        self(path, item);
    }
}

/// Reads one value at a trie node for [`Projection::parse_direct`].
struct DirectSeed<'p, 's, 'de> {
    resolver: &'p Resolver,
    node: u32,
    sink: &'s mut dyn DirectSink<'de>,
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
            for &p in ends {
                self.sink.found(p as usize, &value);
            }
            let mut report = |item: Value<'de>| {
                if matches!(item, Value::Null | Value::Object(_)) {
                    return;
                }
                if let Some((&last, others)) = ends.split_last() {
                    for &p in others {
                        self.sink.item(p as usize, item.clone());
                    }
                    self.sink.item(last as usize, item);
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
