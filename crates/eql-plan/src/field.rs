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
}

/// Equal segments: the dotted names are compared first (one comparison
/// rejects almost every other path), then the segments (two paths can share
/// a dotted name: `` `a.b` `` and `a.b`).
impl PartialEq for FieldPath {
    fn eq(&self, other: &Self) -> bool {
        self.dotted == other.dotted && self.segments == other.segments
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
        FieldPath {
            segments: segments.into_boxed_slice(),
            dotted: dotted.into_boxed_str(),
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
