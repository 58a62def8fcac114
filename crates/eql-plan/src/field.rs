//! Field paths, split once at compile time.

use std::fmt;

pub use eql_syntax::PathSegment;

/// A field path as the engine reads it: segments split at compile time, plus
/// the dotted name for documents that use literal dotted keys.
///
/// ```
/// use eql_plan::FieldPath;
/// let p = FieldPath::parse_dotted("process.parent.name");
/// assert_eq!(p.segments().len(), 3);
/// assert_eq!(p.dotted(), "process.parent.name");
/// ```
#[derive(Clone, Debug, Eq)]
pub struct FieldPath {
    segments: Box<[PathSegment]>,
    dotted: Box<str>,
    /// Every segment is a non-empty key with no `.`, `[` or `]`: the
    /// dotted name then spells the segments in exactly one way.
    plain: bool,
}

/// Equal segments: the dotted names are compared first (one comparison
/// rejects almost every other path), then the segments, unless both paths
/// are plain (two paths can share a dotted name: `` `a.b` `` and `a.b`, or
/// `a` and `` ``.a ``; two plain paths cannot).
impl PartialEq for FieldPath {
    fn eq(&self, other: &Self) -> bool {
        self.dotted == other.dotted
            && ((self.plain && other.plain) || self.segments == other.segments)
    }
}

/// The dotted name alone, a function of the segments: equal paths hash
/// alike, in one string.
impl std::hash::Hash for FieldPath {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.dotted.hash(state);
    }
}

impl FieldPath {
    /// From segments.
    pub fn new(segments: Vec<PathSegment>) -> Self {
        let dotted = eql_syntax::FieldRef {
            path: segments.clone(),
            optional: false,
        }
        .dotted();
        let plain = segments.iter().all(|s| match s {
            PathSegment::Key(k) => !k.is_empty() && !k.contains(['.', '[', ']']),
            PathSegment::Index(_) => false,
        });
        FieldPath {
            segments: segments.into_boxed_slice(),
            dotted: dotted.into_boxed_str(),
            plain,
        }
    }

    /// Splits `a.b.c` at dots (no escapes, no indexes): for configuration such
    /// as the category or timestamp field.
    pub fn parse_dotted(s: &str) -> Self {
        FieldPath::new(
            s.split('.')
                .map(|k| PathSegment::Key(k.to_owned()))
                .collect(),
        )
    }

    /// The segments.
    pub fn segments(&self) -> &[PathSegment] {
        &self.segments
    }

    /// The dotted name, `a.b[0].c`.
    pub fn dotted(&self) -> &str {
        &self.dotted
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dotted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn segment() -> impl Strategy<Value = PathSegment> {
        // Keys that spell other paths' dotted names: dots, brackets, empty.
        let keys = vec!["", "a", "b", "a.b", ".a", "a.", "a[0]", "[0]", "0"];
        prop_oneof![
            4 => prop::sample::select(keys).prop_map(|k| PathSegment::Key(k.to_owned())),
            1 => (0u32..2).prop_map(PathSegment::Index),
        ]
    }

    proptest! {
        /// Paths are equal exactly when their segments are, whichever
        /// shortcut the comparison takes; equal paths hash alike.
        #[test]
        fn equality_is_segment_equality(
            a in prop::collection::vec(segment(), 0..4),
            b in prop::collection::vec(segment(), 0..4),
        ) {
            let pa = FieldPath::new(a.clone());
            // Another path, and the one that splits `a`'s dotted name at
            // its dots: the same name, often other segments.
            let respelled = FieldPath::parse_dotted(pa.dotted());
            for pb in [FieldPath::new(b.clone()), respelled] {
                prop_assert_eq!(pa == pb, a.as_slice() == pb.segments());
                if pa == pb {
                    let hash = |p: &FieldPath| {
                        use std::hash::{BuildHasher, BuildHasherDefault};
                        BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
                            .hash_one(p)
                    };
                    prop_assert_eq!(hash(&pa), hash(&pb));
                }
            }
            prop_assert!(pa == FieldPath::new(a.clone()));
        }
    }

    #[test]
    fn paths_sharing_a_dotted_name_differ() {
        let key = |k: &str| PathSegment::Key(k.to_owned());
        let pairs = [
            (vec![key("a.b")], vec![key("a"), key("b")]),
            (vec![key(""), key("a")], vec![key("a")]),
            (vec![key("a[0]")], vec![key("a"), PathSegment::Index(0)]),
        ];
        for (x, y) in pairs {
            let (px, py) = (FieldPath::new(x), FieldPath::new(y));
            assert_eq!(px.dotted(), py.dotted());
            assert_ne!(px, py);
        }
        assert_eq!(
            FieldPath::parse_dotted("process.parent.name"),
            FieldPath::new(vec![key("process"), key("parent"), key("name")])
        );
    }
}
