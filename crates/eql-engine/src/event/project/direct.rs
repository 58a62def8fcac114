//! Resolving a projection's paths straight from JSON text, with no tree
//! built in between: the quick reader's [`read_flat`] through the
//! projection's resolver.

use super::Projection;
use crate::event::input::{check_bytes, EventError, EventLimits};
use crate::event::quick::{read_flat, Node};
use crate::event::resolve::KeyHints;
use crate::Event;
use bumpalo::Bump;
use eql_plan::Value;
use std::borrow::Cow;

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
        let bump = Bump::new();
        let mut found = Vec::new();
        if self.read_flat(text, &bump, &mut found) {
            for (p, v) in &found {
                self.resolver
                    .report_value(*p as usize, v, &mut |i, item| sink(i, rebase(text, item)));
            }
        } else {
            // The tree's items borrow from the tree: hand out owned copies.
            let tree = self.parse_checked(text)?;
            tree.resolve_all(self, &mut |i, v| sink(i, v.into_owned()));
        }
        Ok(())
    }

    /// Reads `text` (which has passed [`check_bytes`]) straight into the
    /// values of the paths ([`read_flat`]): true when it did, every value
    /// the walk finds listed in `found` with its path. False when the paths
    /// or the document need the tree ([`Projection::parse_checked`], which
    /// also names the error of text that is not JSON).
    pub(crate) fn read_flat<'a>(
        &self,
        text: &'a str,
        bump: &'a Bump,
        found: &mut Vec<(u32, Node<'a>)>,
    ) -> bool {
        self.direct
            && read_flat(
                text,
                bump,
                &mut String::new(),
                &self.resolver,
                &mut KeyHints::default(),
                found,
            )
            .is_some()
    }
}

/// `v` with its strings borrowed from `text` where they are slices of it
/// (a string without escapes), else owned (an unescaped one, in an arena).
fn rebase<'de>(text: &'de str, v: Value<'_>) -> Value<'de> {
    let string = |s: Cow<'_, str>| -> Cow<'de, str> {
        let at = (s.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
        match text.get(at..at.wrapping_add(s.len())) {
            Some(t) if std::ptr::eq(t.as_ptr(), s.as_ptr()) => Cow::Borrowed(t),
            _ => Cow::Owned(s.into_owned()),
        }
    };
    match v {
        Value::Null => Value::Null,
        Value::Bool(b) => Value::Bool(b),
        Value::Int(i) => Value::Int(i),
        Value::Float(f) => Value::Float(f),
        Value::Str(s) => Value::Str(string(s)),
        Value::Array(items) => Value::Array(items.into_iter().map(|x| rebase(text, x)).collect()),
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .map(|(k, x)| (string(k), rebase(text, x)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eql_plan::FieldPath;

    /// Strings without escapes come out borrowed from the bytes; whole
    /// values (a projection of values) come out whole, as `resolve_all`
    /// reports them.
    #[test]
    fn plain_strings_are_borrowed_and_values_come_whole() {
        let limits = EventLimits::default();
        let items = Projection::new(&[FieldPath::parse_dotted("a")]);
        let bytes = br#"{"a": ["x", "y\n", null], "b": 1}"#;
        let mut got = Vec::new();
        assert!(items
            .resolve_json(bytes, &limits, &mut |i, v| got.push((i, v)))
            .is_ok());
        assert!(
            matches!(&got[..], [(0, Value::Str(Cow::Borrowed("x"))), (0, Value::Str(Cow::Owned(y)))] if y == "y\n")
        );
        let values = Projection::values(&[FieldPath::parse_dotted("a")]);
        let mut got = Vec::new();
        assert!(values
            .resolve_json(bytes, &limits, &mut |i, v| got.push((i, v.into_owned())))
            .is_ok());
        let dom: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
        let mut want = Vec::new();
        assert!(dom.resolve_all(&values, &mut |i, v| want.push((i, v.into_owned()))));
        assert_eq!(got, want);
        assert_eq!(got.len(), 1);
    }
}
