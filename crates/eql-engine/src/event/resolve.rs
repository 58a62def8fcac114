//! Every field of a projection resolved in one pass over an event.
//!
//! On pre-parsed events the cost of reading fields is memory latency: each
//! DOM is cold in the cache, and every B-tree node, key string and value
//! reached is a miss. Reading sixteen fields one by one searches from the
//! root each time, comparing keys with `memcmp` (reading each key's bytes),
//! and scans every key of an object for literal dotted keys whenever a field
//! is missing. The resolver walks the event once instead, guided by the trie
//! of the wanted paths. Each object on the way is read member by member and
//! each member key is matched by *length* first (stored inline in the map's
//! node), so a key's bytes are read only when a wanted child has its length.
//! Keys are scanned for dots only in an object where a wanted path was not
//! found through nested members, because only then can a dotted key change
//! the result.
//!
//! Invariant: for every path `p`, the items reported for `p` are exactly the
//! items of `json::walk(event, p)` (its value, or the items of the array it
//! returns), nulls and objects left out. At an object, `walk` takes the
//! nested member when the rest of the path resolves below it, and otherwise
//! the literal dotted keys. The resolver resolves below the nested members
//! first, then hands every path that is still unresolved and has a candidate
//! dotted key to `walk` itself, from that object. A segment that itself
//! contains a dot (a quoted field name) is a child like any other, since
//! `walk` reads it as one literal key; a member key is a candidate dotted key
//! for a child when it is the child's key, a dot and more. An array on the
//! way, a path with an index, and a root that is not an object also go to
//! `walk`.

use crate::event::json::{walk, Tree};
use eql_plan::{FieldPath, PathSegment, Value};
use smallvec::{smallvec, SmallVec};

#[derive(Clone, Debug, Default)]
struct RNode {
    /// Child keys; the position is the child's ordinal.
    keys: Vec<Box<[u8]>>,
    /// The node of each child.
    nodes: Vec<u32>,
    /// Bit `min(len, 63)` set for the length of each child key: a member
    /// whose length has no bit is no child (most members of an object).
    len_bits: u64,
    /// For a node with many children, once the trie is built: the
    /// children's ordinals ordered by key length (lengths over 63 counted
    /// as 63), so a member is compared only with the keys of its length...
    by_len: Vec<u32>,
    /// ... which are `by_len[len_start[l]..len_start[l + 1]]` for length
    /// `l` (65 entries; empty for a node compared child by child).
    len_start: Vec<u32>,
    /// Paths that end here.
    ends: Vec<u32>,
    /// Every path ending at or passing below this node.
    under: Vec<u32>,
    /// Number of key segments from the root to this node.
    depth: u32,
    /// Where this node's key hints start in a [`KeyHints`] table: one for
    /// the first member of an object here, then one after each child.
    hint_base: u32,
}

impl RNode {
    /// The child named `key`. Reads `key`'s bytes only when a child has its
    /// length.
    #[inline]
    fn ordinal(&self, key: &str) -> Option<usize> {
        self.ordinal_bytes(key.as_bytes())
    }

    #[inline]
    fn ordinal_bytes(&self, key: &[u8]) -> Option<usize> {
        if !self.may_have(key.len()) {
            return None;
        }
        if !self.len_start.is_empty() {
            let b = key.len().min(63);
            let (Some(&from), Some(&to)) = (self.len_start.get(b), self.len_start.get(b + 1))
            else {
                return None;
            };
            let same = self.by_len.get(from as usize..to as usize).unwrap_or(&[]);
            return same
                .iter()
                .map(|&o| o as usize)
                .find(|&o| self.keys.get(o).is_some_and(|k| same_bytes(k, key)));
        }
        self.keys.iter().position(|k| same_bytes(k, key))
    }

    /// Builds [`RNode::by_len`] and [`RNode::len_start`] when the node has
    /// more than [`LINEAR_CHILDREN`] children.
    fn index_children(&mut self) {
        if self.keys.len() <= LINEAR_CHILDREN {
            return;
        }
        let bucket = |k: &[u8]| k.len().min(63);
        let mut by_len: Vec<(usize, u32)> = (0..self.keys.len() as u32)
            .filter_map(|o| Some((bucket(self.keys.get(o as usize)?), o)))
            .collect();
        by_len.sort_unstable();
        self.len_start = (0..=64)
            .map(|l| by_len.partition_point(|&(b, _)| b < l) as u32)
            .collect();
        self.by_len = by_len.into_iter().map(|(_, o)| o).collect();
    }

    /// False when no child key has length `len`.
    #[inline]
    fn may_have(&self, len: usize) -> bool {
        self.len_bits & (1 << len.min(63)) != 0
    }
}

/// The most children a node compares a member key with one by one.
const LINEAR_CHILDREN: usize = 8;

/// Byte equality of two short keys, inline (no `memcmp` call): the length
/// and first byte reject almost every non-match; a match is compared eight
/// bytes at a time.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() || a.first() != b.first() {
        return false;
    }
    let (mut x, mut y) = (a.chunks_exact(8), b.chunks_exact(8));
    let words = x.by_ref().zip(y.by_ref()).all(|(p, q)| {
        <[u8; 8]>::try_from(p).ok().map(u64::from_ne_bytes)
            == <[u8; 8]>::try_from(q).ok().map(u64::from_ne_bytes)
    });
    words && x.remainder().iter().zip(y.remainder()).all(|(p, q)| p == q)
}

/// True when `key` is `child`, a dot, and more: `walk` may read a path
/// through `child` from the literal key `key`.
#[inline]
fn dotted_under(key: &[u8], child: &[u8]) -> bool {
    key.len() > child.len() && key.starts_with(child) && key.get(child.len()) == Some(&b'.')
}

/// The most children a trie node can have for `seen` to stay on the stack.
const SEEN_INLINE: usize = 16;

/// A bit per path: resolved (found, possibly `null`) or not yet, and how
/// many are.
struct Found(SmallVec<[u64; 4]>, usize);

impl Found {
    fn new(n: usize) -> Found {
        Found(smallvec![0; n.div_ceil(64)], 0)
    }
    fn set(&mut self, p: u32) {
        if let Some(w) = self.0.get_mut(p as usize / 64) {
            let bit = 1 << (p % 64);
            if *w & bit == 0 {
                *w |= bit;
                self.1 += 1;
            }
        }
    }
    /// Number of paths resolved.
    fn count(&self) -> usize {
        self.1
    }
    fn get(&self, p: u32) -> bool {
        self.0
            .get(p as usize / 64)
            .is_some_and(|w| w & (1 << (p % 64)) != 0)
    }
}

/// The compiled trie of a projection's paths, for one-pass resolution.
#[derive(Clone, Debug)]
pub(crate) struct Resolver {
    nodes: Vec<RNode>,
    /// Paths with an index: always `walk`ed.
    slow: Vec<u32>,
    paths: Vec<FieldPath>,
    /// The paths from this index on are reported whole, once, as `walk`
    /// returns them (`null`, objects and arrays included), instead of their
    /// items.
    whole_from: usize,
    /// The size of a [`KeyHints`] table for this trie.
    hints: usize,
}

/// Which child of a trie node followed which in the last objects read, so
/// that a reader of events of one shape can compare a member's key with
/// the key it expects instead of looking it up ([`Resolver::hint_slot`]).
/// A hint is only a guess: the reader checks the key's bytes against the
/// child it names, and a table made for another trie, or for no trie yet,
/// only guesses wrong. It lives with the reader's buffers.
#[derive(Clone, Default)]
pub(crate) struct KeyHints(Vec<u32>);

/// A summary: the table's size, not its slots.
impl std::fmt::Debug for KeyHints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyHints")
            .field("slots", &self.0.len())
            .finish_non_exhaustive()
    }
}

/// No hint in a slot.
const NO_HINT: u32 = u32::MAX;

impl KeyHints {
    /// The table, sized for `resolver` (emptied when it was not).
    pub(crate) fn for_resolver(&mut self, resolver: &Resolver) -> &mut Self {
        if self.0.len() != resolver.hints {
            self.0.clear();
            self.0.resize(resolver.hints, NO_HINT);
        }
        self
    }

    /// The child ordinal guessed for slot `slot`.
    #[inline]
    pub(crate) fn get(&self, slot: usize) -> Option<usize> {
        self.0
            .get(slot)
            .copied()
            .filter(|&o| o != NO_HINT)
            .map(|o| o as usize)
    }

    /// Guess child `o` for slot `slot` next time.
    #[inline]
    pub(crate) fn set(&mut self, slot: usize, o: usize) {
        if let Some(h) = self.0.get_mut(slot) {
            *h = u32::try_from(o).unwrap_or(NO_HINT);
        }
    }
}

impl Resolver {
    pub(crate) fn new(paths: Vec<FieldPath>) -> Resolver {
        let n = paths.len();
        Self::with_whole_from(paths, n)
    }

    /// A resolver that reports the items of the paths before `whole_from`
    /// and, from there on, each path's value whole: exactly what
    /// `walk(event, path)` returns, once per path it finds.
    pub(crate) fn with_whole_from(paths: Vec<FieldPath>, whole_from: usize) -> Resolver {
        let mut nodes = vec![RNode::default()];
        let mut slow = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            let Ok(p) = u32::try_from(i) else { break };
            let plain = path
                .segments()
                .iter()
                .all(|s| matches!(s, PathSegment::Key(_)));
            if !plain {
                slow.push(p);
                continue;
            }
            let mut at = 0usize;
            if let Some(root) = nodes.get_mut(0) {
                root.under.push(p);
            }
            for seg in path.segments() {
                let PathSegment::Key(k) = seg else { break };
                let existing = nodes.get(at).and_then(|n| n.ordinal(k));
                let next = match existing.and_then(|o| nodes.get(at)?.nodes.get(o).copied()) {
                    Some(n) => n as usize,
                    None => {
                        let n = nodes.len();
                        let depth = nodes.get(at).map_or(0, |x| x.depth + 1);
                        nodes.push(RNode {
                            depth,
                            ..RNode::default()
                        });
                        if let Some(parent) = nodes.get_mut(at) {
                            parent.keys.push(k.as_bytes().into());
                            parent.nodes.push(n as u32);
                            parent.len_bits |= 1 << k.len().min(63);
                        }
                        n
                    }
                };
                at = next;
                if let Some(node) = nodes.get_mut(at) {
                    node.under.push(p);
                }
            }
            if let Some(node) = nodes.get_mut(at) {
                node.ends.push(p);
            }
        }
        nodes.iter_mut().for_each(RNode::index_children);
        let mut hints = 0u32;
        for n in &mut nodes {
            n.hint_base = hints;
            hints = hints.saturating_add(u32::try_from(n.keys.len() + 1).unwrap_or(u32::MAX));
        }
        Resolver {
            nodes,
            slow,
            paths,
            whole_from,
            hints: hints as usize,
        }
    }

    /// The slot of a [`KeyHints`] table for the member of an object at node
    /// `n` that follows its child `after` (`None`: its first member).
    #[inline]
    pub(crate) fn hint_slot(&self, n: u32, after: Option<usize>) -> usize {
        self.nodes.get(n as usize).map_or(usize::MAX, |x| {
            x.hint_base as usize + after.map_or(0, |o| o + 1)
        })
    }

    /// Child `o` of node `n`: its key and its node.
    #[inline]
    pub(crate) fn child(&self, n: u32, o: usize) -> Option<(&[u8], u32)> {
        let node = self.nodes.get(n as usize)?;
        Some((node.keys.get(o)?, *node.nodes.get(o)?))
    }

    /// True when [`Resolver::direct_child`] can serve every path: no path
    /// with an index, and no path ending where another goes on.
    pub(crate) fn direct_ok(&self) -> bool {
        self.slow.is_empty()
            && self
                .nodes
                .iter()
                .all(|n| n.ends.is_empty() || n.keys.is_empty())
    }

    /// The paths, in order.
    pub(crate) fn paths(&self) -> &[FieldPath] {
        &self.paths
    }

    /// The index of the first path reported whole.
    pub(crate) fn whole_from(&self) -> usize {
        self.whole_from
    }

    /// Reports `v`, the value of path `p` as the walk finds it, as
    /// [`Resolver::resolve`] reports it: whole for a path from `whole_from`
    /// on, else its items (`null`s and objects left out).
    pub(crate) fn report_value<'a, T: Tree>(
        &self,
        p: usize,
        v: &'a T,
        sink: &mut dyn FnMut(usize, Value<'a>),
    ) {
        if p >= self.whole_from {
            sink(p, v.to_value());
            return;
        }
        match v.items() {
            Some(items) => {
                for item in items {
                    if !(item.is_object() || item.is_null()) {
                        sink(p, item.to_value());
                    }
                }
            }
            None => {
                if !(v.is_object() || v.is_null()) {
                    sink(p, v.to_value());
                }
            }
        }
    }

    /// The child of node `n` named `key`: (ordinal, node).
    pub(crate) fn direct_child(&self, n: u32, key: &[u8]) -> Option<(usize, u32)> {
        let node = self.nodes.get(n as usize)?;
        let o = node.ordinal_bytes(key)?;
        Some((o, *node.nodes.get(o)?))
    }

    /// True when `key` (a member key of an object at node `n`) is a child's
    /// key followed by a dot and more: a literal dotted key that `walk` may
    /// take for a path through that child.
    pub(crate) fn dotted_reaches(&self, n: u32, key: &[u8]) -> bool {
        self.nodes
            .get(n as usize)
            .is_some_and(|node| node.keys.iter().any(|c| dotted_under(key, c)))
    }

    /// The paths ending at node `n`.
    pub(crate) fn ends(&self, n: u32) -> &[u32] {
        self.nodes.get(n as usize).map_or(&[], |x| &x.ends)
    }

    /// Reports the items of every path's value: `sink(path index, item)`;
    /// for a path from `whole_from` on, its value once, whole.
    ///
    /// Breadth-first: all the objects of one trie level are visited before
    /// any of the next, and each node is touched as soon as it is found, so
    /// the cache misses of independent branches (`event`, `host`,
    /// `process`...) overlap instead of following one another.
    pub(crate) fn resolve<'a, T: Tree>(&self, root: &'a T, sink: &mut dyn FnMut(usize, Value<'a>)) {
        let mut found = Found::new(self.paths.len());
        if root.is_object() {
            // Every object visited, in breadth-first order, with its node.
            let mut objects: SmallVec<[(&'a T, u32); 16]> = smallvec![(root, 0)];
            // Values at nodes where paths end, reported once every level is
            // read (their storage has been touched by then).
            let mut leaves: SmallVec<[(&'a T, u32); 16]> = SmallVec::new();
            // Per object visited: whether it may hold a literal dotted key.
            let mut dots: SmallVec<[bool; 16]> = SmallVec::new();
            let mut start = 0;
            while start < objects.len() {
                let end = objects.len();
                for k in start..end {
                    let Some(&(o, n)) = objects.get(k) else { break };
                    let dot =
                        self.members(o, n as usize, &mut objects, &mut leaves, &mut found, sink);
                    dots.push(dot);
                }
                start = end;
            }
            for &(v, _) in &leaves {
                if let Some(items) = v.items() {
                    items.iter().for_each(Tree::touch);
                }
            }
            for &(v, c) in &leaves {
                self.report(v, c as usize, &mut found, sink);
            }
            // Literal dotted keys, deepest objects first: a path found below
            // needs no look at the keys above. None when every path is
            // resolved (the usual case).
            if found.count() < self.paths.len() - self.slow.len() {
                for (&(o, n), &dot) in objects.iter().zip(&dots).rev() {
                    if dot {
                        self.dotted(o, n as usize, &mut found, sink);
                    }
                }
            }
        } else if let Some(node) = self.nodes.first() {
            for &p in &node.under {
                self.walk_from(root, p, 0, &mut found, sink);
            }
        }
        for &p in &self.slow {
            self.walk_from(root, p, 0, &mut found, sink);
        }
    }

    /// `walk` of path `p` from a node at `depth`, its items reported.
    fn walk_from<'a, T: Tree>(
        &self,
        v: &'a T,
        p: u32,
        depth: u32,
        found: &mut Found,
        sink: &mut dyn FnMut(usize, Value<'a>),
    ) {
        let Some(path) = self.paths.get(p as usize) else {
            return;
        };
        let segs = path.segments().get(depth as usize..).unwrap_or(&[]);
        let Some(value) = walk(v, segs) else { return };
        found.set(p);
        if p as usize >= self.whole_from {
            sink(p as usize, value);
            return;
        }
        for item in value.into_items() {
            sink(p as usize, item);
        }
    }

    /// Reads the members of `o`, an object at trie node `n`: child objects
    /// go to `objects` (the next level), values where paths end to
    /// `leaves`, and arrays on the way are walked. False when `o` has no
    /// member key with a dot (then no literal dotted key can resolve a path
    /// there).
    fn members<'a, T: Tree>(
        &self,
        o: &'a T,
        n: usize,
        objects: &mut SmallVec<[(&'a T, u32); 16]>,
        leaves: &mut SmallVec<[(&'a T, u32); 16]>,
        found: &mut Found,
        sink: &mut dyn FnMut(usize, Value<'a>),
    ) -> bool {
        let Some(node) = self.nodes.get(n) else {
            return false;
        };
        if node.keys.is_empty() {
            return false;
        }
        // The value of each child, on the stack for the usual small nodes.
        let mut inline: [Option<&'a T>; SEEN_INLINE] = [None; SEEN_INLINE];
        let mut spilled: Vec<Option<&'a T>>;
        let seen: &mut [Option<&'a T>] = if node.keys.len() <= SEEN_INLINE {
            &mut inline
        } else {
            spilled = vec![None; node.keys.len()];
            &mut spilled
        };
        // With unique keys, the members after the last wanted child need no
        // look (a map's members are distinct).
        let mut missing = node.keys.len();
        let mut dot = false;
        let mut stopped = false;
        o.for_each_member(|k, v| {
            // Keys are short: a plain loop, not a `memchr` call.
            dot = dot || k.bytes().any(|b| b == b'.');
            if node.may_have(k.len()) {
                // Start the value's miss before the key's bytes are compared:
                // both are then in flight at once.
                v.touch();
                if let Some(i) = node.ordinal(k) {
                    // The last member wins, as in `Tree::key`.
                    if let Some(s) = seen.get_mut(i) {
                        if s.is_none() {
                            missing -= 1;
                        }
                        *s = Some(v);
                    }
                }
            }
            stopped = T::UNIQUE_KEYS && missing == 0;
            !stopped
        });
        for (i, &c) in node.nodes.iter().enumerate() {
            let Some(&Some(v)) = seen.get(i) else {
                continue;
            };
            let Some(child) = self.nodes.get(c as usize) else {
                continue;
            };
            if !child.ends.is_empty() {
                leaves.push((v, c));
            }
            if child.keys.is_empty() {
                continue;
            }
            if v.is_object() {
                objects.push((v, c));
            } else if v.items().is_some() {
                for &p in &child.under {
                    if !child.ends.contains(&p) {
                        self.walk_from(v, p, child.depth, found, sink);
                    }
                }
            }
        }
        dot || stopped
    }

    /// Reports `v`, the value at node `c`, for the paths ending there.
    fn report<'a, T: Tree>(
        &self,
        v: &'a T,
        c: usize,
        found: &mut Found,
        sink: &mut dyn FnMut(usize, Value<'a>),
    ) {
        let Some(node) = self.nodes.get(c) else {
            return;
        };
        for &p in &node.ends {
            found.set(p);
            self.report_value(p as usize, v, sink);
        }
    }

    /// At `o`, an object at node `n`: the paths still unresolved below a
    /// child that a literal dotted key may reach are resolved by `walk` from
    /// `o`. The keys are scanned once, and only when some path is still
    /// unresolved.
    fn dotted<'a, T: Tree>(
        &self,
        o: &'a T,
        n: usize,
        found: &mut Found,
        sink: &mut dyn FnMut(usize, Value<'a>),
    ) {
        let Some(node) = self.nodes.get(n) else {
            return;
        };
        let mut dotted: Option<SmallVec<[bool; 16]>> = None;
        for (i, &c) in node.nodes.iter().enumerate() {
            let Some(child) = self.nodes.get(c as usize) else {
                continue;
            };
            if child.under.iter().all(|&p| found.get(p)) {
                continue;
            }
            let d = dotted.get_or_insert_with(|| {
                let mut d: SmallVec<[bool; 16]> = smallvec![false; node.keys.len()];
                o.dotted_keys(&mut |k| {
                    for (c, x) in node.keys.iter().zip(d.iter_mut()) {
                        if dotted_under(k.as_bytes(), c) {
                            *x = true;
                        }
                    }
                });
                d
            });
            if d.get(i).copied().unwrap_or(false) {
                for &p in &child.under {
                    if !found.get(p) {
                        self.walk_from(o, p, node.depth, found, sink);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;
    use serde_json::json;

    fn items(v: Option<Value<'_>>) -> Vec<Value<'static>> {
        v.into_iter()
            .flat_map(Value::into_items)
            .map(Value::into_owned)
            .collect()
    }

    #[test]
    fn equals_walk_on_awkward_documents() {
        let paths: Vec<FieldPath> = [
            "a.b", "a.b.c", "a", "c.d", "e.f", "n", "p.q.r", "x.y", "s", "a.z",
        ]
        .iter()
        .map(|p| FieldPath::parse_dotted(p))
        .chain([FieldPath::new(vec![
            PathSegment::Key("e".into()),
            PathSegment::Index(1),
            PathSegment::Key("f".into()),
        ])])
        .collect();
        let r = Resolver::new(paths.clone());
        let docs = [
            json!({"a": {"b": 1, "z": [1, [2, 3], null, {"k": 1}]}, "c.d": "x", "e": [{"f": 1}, {"f": [2, 3]}], "n": null,
                   "p": {"q.r": 5}, "x": 3, "s": "str"}),
            json!({"a": {"b": {"c": "deep"}}, "a.b": "shadowed", "a.b.c": "dotted"}),
            json!({"a": {"b": null}, "a.b": "dotted wins only when nested is missing"}),
            json!({"a": 5, "a.b": 7}),
            json!({"a": [{"b": 1}, {"b": null}, 4]}),
            json!([{"a": {"b": 1}}, {"s": "x"}]),
            json!("scalar"),
        ];
        for doc in &docs {
            let mut got: Vec<Vec<Value<'static>>> = vec![vec![]; paths.len()];
            r.resolve(doc, &mut |i, v| got[i].push(v.into_owned()));
            for (i, p) in paths.iter().enumerate() {
                assert_eq!(got[i], items(Event::get(doc, p)), "{} in {doc}", p.dotted());
            }
        }
    }

    #[test]
    fn a_node_with_many_children_finds_each_by_its_length() {
        // 20 children under `p`, several of each length, and dotted keys.
        let names = [
            "a",
            "b",
            "ab",
            "ba",
            "cc",
            "abc",
            "bca",
            "cab",
            "name",
            "args",
            "pid",
            "ppid",
            "parent",
            "executable",
            "command_line",
            "entity_id",
            "hash",
            "user",
            "x.y",
            "title",
        ];
        // Keys of 63 bytes and more share the last length bucket.
        let long = [
            "k".repeat(63),
            "k".repeat(64),
            "l".repeat(64),
            "k".repeat(70),
        ];
        let names: Vec<&str> = names
            .into_iter()
            .chain(long.iter().map(String::as_str))
            .collect();
        let paths: Vec<FieldPath> = names
            .iter()
            .map(|n| {
                FieldPath::new(vec![
                    PathSegment::Key("p".into()),
                    PathSegment::Key((*n).into()),
                ])
            })
            .collect();
        let r = Resolver::new(paths.clone());
        assert!(r.nodes.iter().any(|n| n.by_len.len() == names.len()));
        let mut members = serde_json::Map::new();
        for (i, n) in names.iter().enumerate().filter(|(i, _)| i % 3 != 1) {
            members.insert((*n).to_owned(), json!(i));
        }
        members.insert("abd".into(), json!("same length, no child"));
        members.insert("x".into(), json!({"y": "nested under a dotted child"}));
        let docs = [
            json!({ "p": members }),
            json!({"p": {}}),
            json!({"p.name": "dotted"}),
        ];
        for doc in &docs {
            let mut got: Vec<Vec<Value<'static>>> = vec![vec![]; paths.len()];
            r.resolve(doc, &mut |i, v| got[i].push(v.into_owned()));
            for (i, p) in paths.iter().enumerate() {
                assert_eq!(got[i], items(Event::get(doc, p)), "{} in {doc}", p.dotted());
            }
        }
    }
}
