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

mod direct;
mod seed;
mod tree;

pub(crate) use seed::Whole;
pub(crate) use tree::value_tree_event;

use crate::event::input::{check_bytes, parse_text, EventError, EventLimits};
use crate::event::resolve::Resolver;
use eql_plan::{FieldPath, PathSegment, Value};
use seed::Seed;
use serde::de::DeserializeSeed;
use std::borrow::Cow;

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
    /// [`Projection::read_flat`] can serve these paths.
    direct: bool,
    /// Told apart from every other projection built in this process (a
    /// clone keeps it: it has the same paths), so that a reader can keep
    /// what it precomputed for it.
    id: u32,
}

/// The next [`Projection::id`].
static NEXT_ID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

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

    /// Compiles paths whose values
    /// [`Event::resolve_all`](crate::Event::resolve_all) reports whole: once
    /// per path found, exactly the value [`Event::get`](crate::Event::get)
    /// returns for it (`null`, objects and arrays included), instead of its
    /// items.
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
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// This projection's identity ([`Projection::id`] field docs).
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// True when [`Projection::read_flat`] can serve these paths.
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
