//! Values (join keys, pipe captures) as a flat list of tokens ([`Vals`]):
//! written in pre-order, and decoded without recursion, so that nesting
//! costs no stack when a snapshot is read; a float keeps its bits (NaN
//! included).

use crate::session::keys::KeyAtom;
use crate::session::Value;
use std::borrow::Cow;
/// One token of a [`Vals`] list.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) enum Tok {
    /// An absent value (top level only).
    #[cfg_attr(feature = "serde", serde(rename = "x"))]
    Absent,
    #[cfg_attr(feature = "serde", serde(rename = "n"))]
    Null,
    #[cfg_attr(feature = "serde", serde(rename = "b"))]
    Bool(bool),
    #[cfg_attr(feature = "serde", serde(rename = "i"))]
    Int(i64),
    /// The bits of an `f64`.
    #[cfg_attr(feature = "serde", serde(rename = "f"))]
    Float(u64),
    #[cfg_attr(feature = "serde", serde(rename = "s"))]
    Str(String),
    /// An array of that many values, which follow.
    #[cfg_attr(feature = "serde", serde(rename = "a"))]
    Array(u32),
    /// An object of that many members, which follow as a `Str` name, then
    /// the value.
    #[cfg_attr(feature = "serde", serde(rename = "o"))]
    Object(u32),
}

/// A list of values, each possibly absent, as tokens in pre-order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub(crate) struct Vals(pub(super) Vec<Tok>);

impl Vals {
    fn push(&mut self, v: &Value<'_>) {
        match v {
            Value::Null => self.0.push(Tok::Null),
            Value::Bool(b) => self.0.push(Tok::Bool(*b)),
            Value::Int(i) => self.0.push(Tok::Int(*i)),
            Value::Float(f) => self.0.push(Tok::Float(f.to_bits())),
            Value::Str(s) => self.0.push(Tok::Str(s.to_string())),
            Value::Array(items) => {
                self.0.push(Tok::Array(items.len() as u32));
                for x in items {
                    self.push(x);
                }
            }
            Value::Object(members) => {
                self.0.push(Tok::Object(members.len() as u32));
                for (k, x) in members {
                    self.0.push(Tok::Str(k.to_string()));
                    self.push(x);
                }
            }
        }
    }

    fn push_atom(&mut self, a: &KeyAtom) {
        match a {
            KeyAtom::Null => self.0.push(Tok::Null),
            KeyAtom::Bool(b) => self.0.push(Tok::Bool(*b)),
            KeyAtom::Int(i) => self.0.push(Tok::Int(*i)),
            KeyAtom::Float(bits) => self.0.push(Tok::Float(*bits)),
            KeyAtom::Str(s) => self.0.push(Tok::Str(s.to_string())),
            KeyAtom::List(items) => {
                self.0.push(Tok::Array(items.len() as u32));
                for x in &**items {
                    self.push_atom(x);
                }
            }
        }
    }

    /// A join key (or any list of key atoms).
    pub(crate) fn of_atoms<'a>(atoms: impl IntoIterator<Item = &'a KeyAtom>) -> Vals {
        let mut v = Vals::default();
        for a in atoms {
            v.push_atom(a);
        }
        v
    }

    /// Values, all present.
    pub(crate) fn of_values<'a>(values: impl IntoIterator<Item = &'a Value<'static>>) -> Vals {
        let mut v = Vals::default();
        for x in values {
            v.push(x);
        }
        v
    }

    /// Values, each possibly absent.
    pub(crate) fn of_options<'a>(
        values: impl IntoIterator<Item = &'a Option<Value<'static>>>,
    ) -> Vals {
        let mut v = Vals::default();
        for x in values {
            match x {
                Some(x) => v.push(x),
                None => v.0.push(Tok::Absent),
            }
        }
        v
    }
}

/// An open container while tokens are decoded.
enum Frame {
    Array(u32, Vec<Value<'static>>),
    Object(
        u32,
        Vec<(Cow<'static, str>, Value<'static>)>,
        Option<String>,
    ),
}

/// Decodes tokens into values, without recursion; `None` when they are
/// not a list of values nested at most `max_depth` deep.
pub(super) fn decode(toks: &[Tok], max_depth: usize) -> Option<Vec<Option<Value<'static>>>> {
    let mut out = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    for tok in toks {
        if let Some(Frame::Object(_, _, name @ None)) = stack.last_mut() {
            let Tok::Str(s) = tok else {
                return None;
            };
            *name = Some(s.clone());
            continue;
        }
        let mut v = match tok {
            Tok::Absent => {
                if !stack.is_empty() {
                    return None;
                }
                out.push(None);
                continue;
            }
            Tok::Null => Value::Null,
            Tok::Bool(b) => Value::Bool(*b),
            Tok::Int(i) => Value::Int(*i),
            Tok::Float(bits) => Value::Float(f64::from_bits(*bits)),
            Tok::Str(s) => Value::Str(Cow::Owned(s.clone())),
            Tok::Array(n) | Tok::Object(n) if *n > 0 => {
                if stack.len() >= max_depth {
                    return None;
                }
                stack.push(match tok {
                    Tok::Array(_) => Frame::Array(*n, Vec::new()),
                    _ => Frame::Object(*n, Vec::new(), None),
                });
                continue;
            }
            Tok::Array(_) => Value::Array(Vec::new()),
            Tok::Object(_) => Value::Object(Vec::new()),
        };
        // Put the value into its container, closing every container it fills.
        loop {
            match stack.last_mut() {
                None => {
                    out.push(Some(v));
                    break;
                }
                Some(Frame::Array(left, items)) => {
                    items.push(v);
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                }
                Some(Frame::Object(left, members, name)) => {
                    members.push((Cow::Owned(name.take()?), v));
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                }
            }
            v = match stack.pop()? {
                Frame::Array(_, items) => Value::Array(items),
                Frame::Object(_, members, _) => Value::Object(members),
            };
        }
    }
    stack.is_empty().then_some(out)
}

/// A key atom from a decoded value, exactly (the inverse of `push_atom`).
pub(super) fn atom_of(v: Value<'static>) -> Option<KeyAtom> {
    Some(match v {
        Value::Null => KeyAtom::Null,
        Value::Bool(b) => KeyAtom::Bool(b),
        Value::Int(i) => KeyAtom::Int(i),
        Value::Float(f) => KeyAtom::Float(f.to_bits()),
        Value::Str(s) => KeyAtom::Str(s.into_owned().into_boxed_str()),
        Value::Array(items) => KeyAtom::List(
            items
                .into_iter()
                .map(atom_of)
                .collect::<Option<Vec<_>>>()?
                .into_boxed_slice(),
        ),
        Value::Object(_) => return None,
    })
}
