//! Join keys: owned, hashable copies of the key values of one event.
//!
//! ES compares keys exactly and by type (`"A"` ≠ `"a"`, `1` ≠ `1.0`), drops
//! an event whose key is null unless the key is a `?optional` field, and fans
//! an array-valued key out into one key per element (a cartesian product over
//! several keys). Python folds strings to lowercase (in case-insensitive mode),
//! lets null keys join each other and keeps arrays whole.

use eql_plan::Value;
use smallvec::SmallVec;

/// One key value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum KeyAtom {
    Null,
    Bool(bool),
    Int(i64),
    /// Bits of a float (`-0.0` normalised to `0.0`).
    Float(u64),
    Str(Box<str>),
    List(Box<[KeyAtom]>),
}

/// A composite join key.
pub(crate) type Key = SmallVec<[KeyAtom; 2]>;

/// The hasher of every map and set keyed by join keys: randomly seeded, so
/// keys chosen by whoever writes the events cannot make them collide (as
/// std's SipHash), and several times faster on short strings.
pub(crate) type KeyHasher = ahash::RandomState;

/// A map keyed by join keys.
pub(crate) type KeyMap<V> = std::collections::HashMap<Key, V, KeyHasher>;

/// A set of join keys.
pub(crate) type KeySet = std::collections::HashSet<Key, KeyHasher>;

impl KeyAtom {
    /// Converts a value; `py` normalises integral floats to integers (Python
    /// `1 == 1.0`) and `fold` lowercases strings.
    pub(crate) fn from_value(v: &Value<'_>, py: bool, fold: bool) -> KeyAtom {
        match v {
            Value::Null => KeyAtom::Null,
            Value::Bool(b) => KeyAtom::Bool(*b),
            Value::Int(i) => KeyAtom::Int(*i),
            Value::Float(f) => {
                if py && f.fract() == 0.0 && f.abs() < 9.0e15 {
                    KeyAtom::Int(*f as i64)
                } else if *f == 0.0 {
                    KeyAtom::Float(0f64.to_bits())
                } else {
                    KeyAtom::Float(f.to_bits())
                }
            }
            Value::Str(s) => {
                if fold {
                    KeyAtom::Str(crate::eval::reference::functions::fold(s).into_boxed_str())
                } else {
                    KeyAtom::Str(s.as_ref().into())
                }
            }
            Value::Array(a) => {
                KeyAtom::List(a.iter().map(|x| Self::from_value(x, py, fold)).collect())
            }
            Value::Object(o) => KeyAtom::List(
                o.iter()
                    .flat_map(|(k, v)| {
                        [
                            KeyAtom::Str(k.as_ref().into()),
                            Self::from_value(v, py, fold),
                        ]
                    })
                    .collect(),
            ),
        }
    }

    /// Back to a runtime value (for reporting keys).
    pub(crate) fn to_value(&self) -> Value<'static> {
        match self {
            KeyAtom::Null => Value::Null,
            KeyAtom::Bool(b) => Value::Bool(*b),
            KeyAtom::Int(i) => Value::Int(*i),
            KeyAtom::Float(f) => Value::Float(f64::from_bits(*f)),
            KeyAtom::Str(s) => Value::Str(s.to_string().into()),
            KeyAtom::List(l) => Value::Array(l.iter().map(KeyAtom::to_value).collect()),
        }
    }

    /// Approximate heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            KeyAtom::Str(s) => s.len(),
            KeyAtom::List(l) => {
                l.len() * std::mem::size_of::<KeyAtom>()
                    + l.iter().map(KeyAtom::heap_bytes).sum::<usize>()
            }
            _ => 0,
        }
    }
}

/// Heap bytes of a key (beyond its inline size). A function of the key's
/// values alone (its length, not its capacity), so that a key read back from
/// a snapshot counts what the original counted.
pub(crate) fn key_bytes(k: &Key) -> usize {
    let spilled = if k.len() > k.inline_size() {
        k.len() * std::mem::size_of::<KeyAtom>()
    } else {
        0
    };
    spilled + k.iter().map(KeyAtom::heap_bytes).sum::<usize>()
}

/// Builds the keys of one event from the evaluated key values (`None` = null
/// or missing; `optional[i]` = written `?field`). Returns no key when the
/// event must be dropped.
pub(crate) fn build_keys(
    vals: &[Option<Value<'_>>],
    optional: &[bool],
    py: bool,
    fold: bool,
    out: &mut SmallVec<[Key; 1]>,
) {
    out.clear();
    if py {
        out.push(
            vals.iter()
                .map(|v| {
                    v.as_ref()
                        .map_or(KeyAtom::Null, |v| KeyAtom::from_value(v, true, fold))
                })
                .collect(),
        );
        return;
    }
    out.push(Key::new());
    for (i, v) in vals.iter().enumerate() {
        let opt = optional.get(i).copied().unwrap_or(false);
        let mut choices: SmallVec<[KeyAtom; 2]> = match v {
            None | Some(Value::Null) => {
                if opt {
                    smallvec::smallvec![KeyAtom::Null]
                } else {
                    SmallVec::new()
                }
            }
            Some(Value::Array(items)) => {
                let mut c: SmallVec<[KeyAtom; 2]> = SmallVec::new();
                for it in items {
                    if !it.is_null() {
                        let a = KeyAtom::from_value(it, false, false);
                        if !c.contains(&a) {
                            c.push(a);
                        }
                    }
                }
                if c.is_empty() && opt {
                    c.push(KeyAtom::Null);
                }
                c
            }
            Some(v) => smallvec::smallvec![KeyAtom::from_value(v, false, false)],
        };
        if choices.is_empty() {
            out.clear();
            return;
        }
        if choices.len() == 1 {
            // The last key takes the atom itself; the others a copy.
            let Some(c) = choices.pop() else { continue };
            let n = out.len();
            for k in out.iter_mut().take(n.saturating_sub(1)) {
                k.push(c.clone());
            }
            if let Some(k) = out.last_mut() {
                k.push(c);
            }
        } else {
            let prev: SmallVec<[Key; 1]> = std::mem::take(out);
            for k in &prev {
                for c in &choices {
                    let mut k2 = k.clone();
                    k2.push(c.clone());
                    out.push(k2);
                }
            }
        }
    }
}
