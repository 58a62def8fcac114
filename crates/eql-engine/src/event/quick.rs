//! A quick, conservative JSON reader into an arena tree ([`read`]), or
//! straight into the values of a set of fields ([`read_flat`]).
//!
//! It reads the common shape of event lines (plain keys and strings,
//! backslash escapes, integers) in one tight loop over the bytes, with no
//! visitor calls, into a [`Node`] tree allocated in a [`Bump`] arena that is
//! reset, not freed, between events. It answers `None` whenever it is not
//! sure to read the text exactly as `serde_json` reads it: malformed text,
//! a `\u` escape it cannot decode alone, nesting deeper than
//! [`MAX_DEPTH`]. The caller then parses the text with another parser,
//! which also names the error.
//!
//! Invariant: when [`read`] answers `Some(node)`, `serde_json` accepts the
//! text, and every path reads the same value from `node` as from the
//! `serde_json::Value` of the text (the same numbers and strings; an
//! object's last member of a repeated key). The unit proptests check it
//! against serde_json; the differential proptests and the `eval_diff` fuzz
//! target check the packs that read their lines through it. Likewise, when
//! [`read_flat`] answers `Some`, `serde_json` accepts the text and each
//! field has one value listed exactly when the walk of the `Value` finds
//! one, and it is that value.

use crate::event::json::{same_key, sorted_object, Tree};
use crate::event::resolve::{same_bytes, KeyHints, Resolver};
use bumpalo::Bump;
use eql_plan::Value;
use smallvec::SmallVec;
use std::borrow::Cow;

/// The deepest nesting read here; deeper text goes to another parser.
pub(crate) const MAX_DEPTH: usize = 64;

/// A JSON value read by [`read`]: strings borrowed from the text (or, when
/// unescaped, from the arena), containers as arena slices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Node<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
    Array(&'a [Node<'a>]),
    /// Members in document order, a repeated key more than once.
    Object(&'a [(&'a str, Node<'a>)]),
}

/// The value of the whole text (a JSON value with blanks around it), or
/// `None` (see the module docs).
/// `scratch` is where escaped strings are unescaped before going to the
/// arena (kept between calls, so that it stops growing).
pub(crate) fn read<'a>(text: &'a str, bump: &'a Bump, scratch: &mut String) -> Option<Node<'a>> {
    whole_text(text, bump, scratch, |r| r.value(0))
}

/// What `read_value` reads from `text` past its leading blanks, when
/// nothing but blanks follows it.
fn whole_text<'a, T>(
    text: &'a str,
    bump: &'a Bump,
    scratch: &mut String,
    read_value: impl FnOnce(&mut Reader<'a>) -> Option<T>,
) -> Option<T> {
    let mut r = Reader {
        text,
        bytes: text.as_bytes(),
        at: 0,
        bump,
        scratch: std::mem::take(scratch),
    };
    r.blanks();
    let v = read_value(&mut r);
    r.blanks();
    let whole = r.at == r.bytes.len();
    *scratch = r.scratch;
    v.filter(|_| whole)
}

/// Reads an event (a JSON object with blanks around it) straight into the
/// values of the paths of `resolver`: `found` gets `(path, value)` for each
/// path the walk finds, the value whole, as [`Event::get`](crate::Event::get)
/// reads it from the tree. Members that no path goes through are checked,
/// not kept. `None` (and `found` to be discarded) for all that [`read`]
/// declines, and for the events whose paths only the tree can resolve: a
/// root that is not an object, a repeated key on a wanted path, a literal
/// dotted key that may lead to a wanted path, an array where a wanted path
/// goes on. The resolver is [`Resolver::direct_ok`].
///
/// `hints` guesses each member's key from the objects read before
/// ([`KeyHints`]); an empty table guesses nothing.
pub(crate) fn read_flat<'a>(
    text: &'a str,
    bump: &'a Bump,
    scratch: &mut String,
    resolver: &Resolver,
    hints: &mut KeyHints,
    found: &mut Vec<(u32, Node<'a>)>,
) -> Option<()> {
    whole_text(text, bump, scratch, |r| match r.peek() {
        Some(b'{') => r.flat_object(1, 0, resolver, hints, found),
        _ => None,
    })
}

/// The arena of [`read`]'s trees and its unescaping buffer, kept between
/// events: a clone starts empty. The mutex makes it `Sync` (a `Bump` is
/// not); it is never locked, only reached through `&mut` ([`Arena::parts`]).
#[derive(Debug, Default)]
pub(crate) struct Arena(std::sync::Mutex<(Bump, String)>);

impl Clone for Arena {
    fn clone(&self) -> Self {
        Arena::default()
    }
}

/// The most bytes an [`Arena`] keeps between events: an arena (or buffer)
/// that one very large line grew past this is freed, not kept.
pub(crate) const ARENA_KEEP_BYTES: usize = 4 << 20;

impl Arena {
    /// The arena, emptied, and the buffer.
    pub(crate) fn parts(&mut self) -> (&Bump, &mut String) {
        let (bump, scratch) = match self.0.get_mut() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        if bump.allocated_bytes() > ARENA_KEEP_BYTES {
            *bump = Bump::new();
        } else {
            bump.reset();
        }
        if scratch.capacity() > ARENA_KEEP_BYTES {
            *scratch = String::new();
        }
        (bump, scratch)
    }
}

/// Bytes that end the plain part of a string: the quote, the backslash,
/// and the control characters `serde_json` rejects inside strings.
static STOPS: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// The first quote or backslash of `rest` (its position and byte); `None`
/// at a control character or the end of the text.
///
/// Eight bytes at a time: in a word, `(w - 0x01..) & !w & 0x80..` flags
/// the bytes that are zero, and `(w - 0x20..) & !w & 0x80..` those below
/// 0x20. A flag can be wrong only above a right one (a borrow carries
/// upwards), so the lowest flag of the three tests is the first byte that
/// passes any of them.
#[inline]
fn stop(rest: &[u8]) -> Option<(usize, u8)> {
    let mut chunks = rest.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let Ok(bytes) = <[u8; 8]>::try_from(c) else {
            break;
        };
        let w = u64::from_le_bytes(bytes);
        let flags = zero_bytes(w ^ (ONES * u64::from(b'"')))
            | zero_bytes(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGH);
        if flags != 0 {
            let n = base + (flags.trailing_zeros() / 8) as usize;
            let b = *rest.get(n)?;
            return (b >= 0x20).then_some((n, b));
        }
        base += 8;
    }
    let (n, &b) = chunks
        .remainder()
        .iter()
        .enumerate()
        .find(|&(_, &b)| STOPS[b as usize])?;
    (b >= 0x20).then_some((base + n, b))
}

/// A byte of ones, in every byte of a word.
const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte of a word.
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` that is zero (a flag can be wrong only
/// above a right one: a borrow carries upwards).
#[inline]
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(ONES) & !w & HIGH
}

/// True when `key` has a dot: eight bytes at a time (keys are short: no
/// `memchr` call), as in [`stop`].
#[inline]
fn has_dot(key: &[u8]) -> bool {
    let mut chunks = key.chunks_exact(8);
    let dot = chunks.any(|c| {
        <[u8; 8]>::try_from(c)
            .is_ok_and(|b| zero_bytes(u64::from_le_bytes(b) ^ (ONES * u64::from(b'.'))) != 0)
    });
    dot || chunks.remainder().contains(&b'.')
}

/// True when a key is written in JSON as its own bytes between quotes: no
/// quote, backslash or control character in it.
fn plain_key(key: &[u8]) -> bool {
    !key.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20)
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    bump: &'a Bump,
    /// Where escaped strings are unescaped before going to the arena.
    scratch: String,
}

impl<'a> Reader<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Skips the blanks `serde_json` skips.
    #[inline]
    fn blanks(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Consumes `b` (after blanks) or fails.
    #[inline]
    fn consume(&mut self, b: u8) -> Option<()> {
        self.blanks();
        (self.peek()? == b).then(|| self.at += 1)
    }

    /// At the opening bracket of a container `depth` deep: steps past it
    /// (and blanks) and, when `close` follows at once, past that too:
    /// true for an empty container. `None` past [`MAX_DEPTH`] or at the
    /// end of the text.
    #[inline]
    fn open(&mut self, depth: usize, close: u8) -> Option<bool> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.at += 1;
        self.blanks();
        let empty = self.peek()? == close;
        if empty {
            self.at += 1;
        }
        Some(empty)
    }

    /// After a member or an item (and blanks): true past a comma (another
    /// one follows), false past `close` (the container ends); `None` at
    /// anything else.
    #[inline]
    fn more(&mut self, close: u8) -> Option<bool> {
        self.blanks();
        let b = self.peek()?;
        if b == b',' || b == close {
            self.at += 1;
            return Some(b == b',');
        }
        None
    }

    fn value(&mut self, depth: usize) -> Option<Node<'a>> {
        match self.peek()? {
            b'"' => self.string().map(Node::Str),
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b't' => self.literal(b"true", Node::Bool(true)),
            b'f' => self.literal(b"false", Node::Bool(false)),
            b'n' => self.literal(b"null", Node::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8], v: Node<'a>) -> Option<Node<'a>> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| {
            self.at = end;
            v
        })
    }

    fn object(&mut self, depth: usize) -> Option<Node<'a>> {
        if self.open(depth, b'}')? {
            return Some(Node::Object(&[]));
        }
        let mut members: SmallVec<[(&'a str, Node<'a>); 16]> = SmallVec::new();
        loop {
            self.blanks();
            if self.peek()? != b'"' {
                return None;
            }
            let k = self.string()?;
            self.consume(b':')?;
            self.blanks();
            let v = self.value(depth)?;
            members.push((k, v));
            if !self.more(b'}')? {
                break;
            }
        }
        Some(Node::Object(self.bump.alloc_slice_copy(&members)))
    }

    fn array(&mut self, depth: usize) -> Option<Node<'a>> {
        if self.open(depth, b']')? {
            return Some(Node::Array(&[]));
        }
        let mut items: SmallVec<[Node<'a>; 8]> = SmallVec::new();
        loop {
            self.blanks();
            items.push(self.value(depth)?);
            if !self.more(b']')? {
                break;
            }
        }
        Some(Node::Array(self.bump.alloc_slice_copy(&items)))
    }

    /// An object at resolver node `node`, at its opening brace: the values of
    /// the paths ending below go to `found` ([`read_flat`]).
    fn flat_object(
        &mut self,
        depth: usize,
        node: u32,
        resolver: &Resolver,
        hints: &mut KeyHints,
        found: &mut Vec<(u32, Node<'a>)>,
    ) -> Option<()> {
        if self.open(depth, b'}')? {
            return Some(());
        }
        // The children met, by ordinal (a bit each for the first 64, a
        // list for the others): a second one is a repeated key.
        let mut met_bits = 0u64;
        let mut met: SmallVec<[usize; 4]> = SmallVec::new();
        // The last child met: the key hint of the next member follows it.
        let mut after = None;
        loop {
            self.blanks();
            if self.peek()? != b'"' {
                return None;
            }
            // The key the hint names, when the member's key is that key's
            // bytes between quotes (a hint names only keys with no quote,
            // backslash or control character, so the bytes are the key).
            let slot = resolver.hint_slot(node, after);
            let guessed = hints.get(slot).and_then(|o| {
                let (k, c) = resolver.child(node, o)?;
                let from = self.at + 1;
                (self.bytes.get(from + k.len()) == Some(&b'"')
                    && self
                        .bytes
                        .get(from..from + k.len())
                        .is_some_and(|b| same_bytes(b, k)))
                .then_some((k, o, c))
            });
            let (key, child) = match guessed {
                Some((k, o, c)) => {
                    self.at += k.len() + 2;
                    (k, Some((o, c)))
                }
                None => (self.string()?.as_bytes(), None),
            };
            self.consume(b':')?;
            self.blanks();
            if has_dot(key) && resolver.dotted_reaches(node, key) {
                return None;
            }
            let child = child.or_else(|| {
                let (o, c) = resolver.direct_child(node, key)?;
                if plain_key(key) {
                    hints.set(slot, o);
                }
                Some((o, c))
            });
            match child {
                None => self.skip(depth)?,
                Some((o, c)) => {
                    after = Some(o);
                    if o < 64 {
                        let bit = 1u64 << o;
                        if met_bits & bit != 0 {
                            return None;
                        }
                        met_bits |= bit;
                    } else if met.contains(&o) {
                        return None;
                    } else {
                        met.push(o);
                    }
                    let ends = resolver.ends(c);
                    if ends.is_empty() {
                        match self.peek()? {
                            b'{' => self.flat_object(depth + 1, c, resolver, hints, found)?,
                            // The walk goes through the items: the tree's.
                            b'[' => return None,
                            // No member: no path below is found.
                            _ => self.skip(depth)?,
                        }
                    } else {
                        // A path ends here, and none goes on (`direct_ok`).
                        let v = self.value(depth)?;
                        for &p in ends {
                            found.push((p, v));
                        }
                    }
                }
            }
            if !self.more(b'}')? {
                return Some(());
            }
        }
    }

    /// Checks a value that no wanted path goes through, as `serde_json`
    /// checks it, and steps over it: nothing is kept.
    fn skip(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' => self.skip_container(depth + 1, b'}', true),
            b'[' => self.skip_container(depth + 1, b']', false),
            b't' => self.literal(b"true", Node::Null).map(drop),
            b'f' => self.literal(b"false", Node::Null).map(drop),
            b'n' => self.literal(b"null", Node::Null).map(drop),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            _ => None,
        }
    }

    /// [`Reader::skip`] of an object (`keyed`) or an array, at its opening
    /// bracket; `close` is its closing one.
    fn skip_container(&mut self, depth: usize, close: u8, keyed: bool) -> Option<()> {
        if self.open(depth, close)? {
            return Some(());
        }
        loop {
            self.blanks();
            if keyed {
                if self.peek()? != b'"' {
                    return None;
                }
                self.skip_string()?;
                self.consume(b':')?;
                self.blanks();
            }
            self.skip(depth)?;
            if !self.more(close)? {
                return Some(());
            }
        }
    }

    /// [`Reader::skip`] of a string, at its opening quote: its escapes are
    /// checked, not decoded (a `\u` escape goes to `serde_json`, as in
    /// [`Reader::escaped`]).
    #[inline]
    fn skip_string(&mut self) -> Option<()> {
        let start = self.at + 1;
        let mut i = start;
        loop {
            let (n, b) = stop(self.bytes.get(i..)?)?;
            i += n;
            if b == b'"' {
                self.at = i + 1;
                return Some(());
            }
            match *self.bytes.get(i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' => return self.by_serde(start).map(drop),
                _ => return None,
            }
        }
    }

    /// A string at the opening quote: borrowed from the text when it has
    /// no escape, else unescaped into the arena.
    #[inline]
    fn string(&mut self) -> Option<&'a str> {
        let start = self.at + 1;
        let (n, b) = stop(self.bytes.get(start..)?)?;
        if b == b'"' {
            self.at = start + n + 1;
            return self.text.get(start..start + n);
        }
        self.escaped(start, start + n)
    }

    /// The rest of a string whose first escape is at `first`, unescaped
    /// into the arena. A `\u` escape goes to `serde_json`, which decodes
    /// (or rejects) the whole string exactly.
    #[inline(never)]
    fn escaped(&mut self, start: usize, first: usize) -> Option<&'a str> {
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        out.push_str(self.text.get(start..first)?);
        let mut i = first;
        let done = loop {
            // At a backslash.
            let c = match *self.bytes.get(i + 1)? {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => break self.by_serde(start),
                _ => break None,
            };
            out.push(c);
            i += 2;
            let Some((n, b)) = self.bytes.get(i..).and_then(stop) else {
                break None;
            };
            out.push_str(self.text.get(i..i + n)?);
            i += n;
            if b == b'"' {
                self.at = i + 1;
                break Some(&*self.bump.alloc_str(&out));
            }
        };
        self.scratch = out;
        done
    }

    /// The string opening at `start - 1`, decoded by `serde_json`.
    fn by_serde(&mut self, start: usize) -> Option<&'a str> {
        // The closing quote: the first quote not escaped.
        let mut i = start;
        loop {
            match *self.bytes.get(i)? {
                b'\\' => i += 2,
                b'"' => break,
                _ => i += 1,
            }
        }
        let s: String = serde_json::from_str(self.text.get(start - 1..=i)?).ok()?;
        self.at = i + 1;
        Some(self.bump.alloc_str(&s))
    }

    /// A number: a short plain integer read here, any other number read by
    /// `serde_json` from its text.
    fn number(&mut self) -> Option<Node<'a>> {
        let start = self.at;
        let mut i = start;
        let neg = self.bytes.get(i) == Some(&b'-');
        if neg {
            i += 1;
        }
        let digits = i;
        while let Some(b'0'..=b'9') = self.bytes.get(i) {
            i += 1;
        }
        let int_end = i;
        if let Some(b'.') = self.bytes.get(i) {
            i += 1;
            while let Some(b'0'..=b'9') = self.bytes.get(i) {
                i += 1;
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = self.bytes.get(i) {
                i += 1;
            }
            while let Some(b'0'..=b'9') = self.bytes.get(i) {
                i += 1;
            }
        }
        self.at = i;
        let n = int_end - digits;
        let first = *self.bytes.get(digits)?;
        // `0`, or 1 to 18 digits without a leading zero, and nothing after:
        // an `i64` either way. `-0` is a float to `serde_json`.
        if i == int_end && (1..=18).contains(&n) && (first != b'0' || (n == 1 && !neg)) {
            let mut v: i64 = 0;
            for &d in self.bytes.get(digits..int_end)? {
                v = v * 10 + i64::from(d - b'0');
            }
            return Some(Node::Int(if neg { -v } else { v }));
        }
        let n: serde_json::Number = serde_json::from_str(self.text.get(start..i)?).ok()?;
        Some(match n.as_i64() {
            Some(v) => Node::Int(v),
            None => Node::Float(n.as_f64()?),
        })
    }
}

impl Tree for Node<'_> {
    fn key(&self, k: &str) -> Option<&Self> {
        match self {
            // The last member with the key, as serde_json keeps it.
            Node::Object(m) => m
                .iter()
                .rev()
                .find(|(kk, _)| same_key(kk, k))
                .map(|(_, v)| v),
            _ => None,
        }
    }
    fn items(&self) -> Option<&[Self]> {
        match self {
            Node::Array(a) => Some(a),
            _ => None,
        }
    }
    fn is_object(&self) -> bool {
        matches!(self, Node::Object(_))
    }
    fn to_value(&self) -> Value<'_> {
        match *self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(b),
            Node::Int(i) => Value::Int(i),
            Node::Float(f) => Value::Float(f),
            Node::Str(s) => Value::Str(Cow::Borrowed(s)),
            Node::Array(a) => Value::Array(a.iter().map(Tree::to_value).collect()),
            Node::Object(m) => sorted_object(m.iter().map(|(k, v)| (*k, v))),
        }
    }
    fn dotted_keys<'s>(&'s self, f: &mut dyn FnMut(&'s str)) {
        if let Node::Object(m) = self {
            for (k, _) in *m {
                if k.contains('.') {
                    f(k);
                }
            }
        }
    }
    fn for_each_member<'s>(&'s self, mut f: impl FnMut(&'s str, &'s Self) -> bool) {
        if let Node::Object(m) = self {
            for (k, v) in *m {
                if !f(k, v) {
                    break;
                }
            }
        }
    }
    fn is_null(&self) -> bool {
        matches!(self, Node::Null)
    }
}

crate::event::json::tree_event!(Node<'_>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::json::json_to_value;

    /// The whole value each reader makes of `text`: the quick one's (when
    /// it reads it) and serde_json's (when it accepts it).
    fn both(text: &str) -> (Option<Value<'static>>, Option<Value<'static>>) {
        let bump = Bump::new();
        let quick = read(text, &bump, &mut String::new()).map(|n| n.to_value().into_owned());
        let serde = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .map(|v| json_to_value(&v).into_owned());
        (quick, serde)
    }

    #[test]
    fn reads_what_serde_json_reads_or_declines() {
        let cases = [
            r#"{"a": 1, "b": [true, false, null], "c": {"d": "x"}}"#,
            r#"{"b": 1, "a": 2, "b": 3}"#,
            r#"{"p": "C:\\Windows\\System32\\cmd.exe", "q": "say \"hi\"\n\t\/\b\f\r"}"#,
            r#"{"n": [0, 1, -1, 10, 123456789012345678, -123456789012345678]}"#,
            r#"{"u": "\u00e9\ud83d\ude00", "k\u0041": 1, "m": "a\\b\u0041"}"#,
            r#"{"lone": "\ud800"}"#,
            r#"{"n": [-0, 1234567890123456789, 9223372036854775807, 9223372036854775808]}"#,
            r#"{"n": [-9223372036854775808, -9223372036854775809, 18446744073709551616]}"#,
            r#"{"n": [1.5, -2.5e3, 1E2, 1e-400, 0.1, 5e-324]}"#,
            r#"{"n": 1e400}"#,
            r#"{"n": 01}"#,
            r#"{"n": 1.}"#,
            r#"{"n": .5}"#,
            r#"{"n": +1}"#,
            r#"{"n": -}"#,
            r#"{"n": 1e}"#,
            r#"{"a": 1,}"#,
            "[1, 2,]",
            r#"{"a" 1}"#,
            r#"{"a": tru}"#,
            r#"{"a": nulll}"#,
            "{\"a\": \"x\u{1}y\"}",
            "{\"a\": \"esc\\\"then\u{1f}\"}",
            "{\"a\": \"tab\there\"}",
            r#"{"a": "\x"}"#,
            r#"{"a": 1} x"#,
            " {\"a\": 1} \n",
            "{}",
            "[]",
            r#""s""#,
            r#"{"a": [], "b": {}, "c": [{}], "d": [[1, [2]]], "e": {"f": {"g": null}}}"#,
            r#"{"a": 1"#,
            r#"{"a": "unterminated"#,
            r#"{"a": "ends in backslash\"#,
            r#"{"a": "\"#,
            "{1: 2}",
            "",
        ];
        for text in cases {
            let (quick, serde) = both(text);
            if quick.is_some() {
                assert_eq!(quick, serde, "{text}");
            }
        }
        // The usual shapes are read here, not declined.
        for text in &cases[..4] {
            let (quick, serde) = both(text);
            assert!(quick.is_some(), "{text}");
            assert_eq!(quick, serde, "{text}");
        }
    }

    #[test]
    fn an_arena_grown_by_a_large_line_is_not_kept() {
        let mut arena = Arena::default();
        let big = format!("[{}0]", "0,".repeat(1 << 20));
        {
            let (bump, scratch) = arena.parts();
            assert!(read(&big, bump, scratch).is_some());
            assert!(bump.allocated_bytes() > ARENA_KEEP_BYTES);
        }
        let (bump, _) = arena.parts();
        assert!(bump.allocated_bytes() <= ARENA_KEEP_BYTES);
        let small = r#"{"a": [1, 2]}"#;
        let (bump, scratch) = arena.parts();
        assert!(read(small, bump, scratch).is_some());
        let kept = bump.allocated_bytes();
        let (bump, _) = arena.parts();
        assert_eq!(
            bump.allocated_bytes(),
            kept,
            "a small arena is reset and kept"
        );
    }

    #[test]
    fn read_flat_reads_the_usual_event_and_declines_what_the_tree_decides() {
        use crate::Event;
        use eql_plan::FieldPath;
        let paths: Vec<FieldPath> = ["event.category", "process.name", "process.args", "host.id"]
            .iter()
            .map(|p| FieldPath::parse_dotted(p))
            .collect();
        let resolver = Resolver::new(paths.clone());
        let usual = r#"{"@timestamp": "2024-01-01T00:00:00Z", "event": {"category": ["process"], "id": 7},
            "process": {"name": "cmd.exe", "args": ["cmd.exe", "/c", null], "pe": {"x": [1, {"y": "\\"}]}},
            "host": {"id": null}, "other": [{"a": "b\n"}, 1.5e3, true]}"#;
        let bump = Bump::new();
        let mut found = Vec::new();
        // Read twice with one table of key hints: the second reading takes
        // the keys the first one learnt.
        let mut hints = KeyHints::default();
        for _ in 0..2 {
            found.clear();
            let h = hints.for_resolver(&resolver);
            assert!(
                read_flat(usual, &bump, &mut String::new(), &resolver, h, &mut found).is_some()
            );
            let dom: serde_json::Value = serde_json::from_str(usual).unwrap_or_default();
            for (i, p) in paths.iter().enumerate() {
                let got = found
                    .iter()
                    .find(|f| f.0 as usize == i)
                    .map(|f| f.1.to_value());
                assert_eq!(got, Event::get(&dom, p), "{p}");
            }
        }
        // A node of more than 64 children: a repeated key among the last
        // ones is found too.
        let many: Vec<FieldPath> = (0..70)
            .map(|i| FieldPath::parse_dotted(&format!("p.k{i}")))
            .collect();
        let wide = Resolver::new(many);
        let once = r#"{"p": {"k69": 1, "k3": 2, "k68": 3}}"#;
        let mut wide_hints = KeyHints::default();
        for _ in 0..2 {
            found.clear();
            let h = wide_hints.for_resolver(&wide);
            assert!(read_flat(once, &bump, &mut String::new(), &wide, h, &mut found).is_some());
            assert_eq!(found.len(), 3);
        }
        // With the hints of `once` and with none, a repeated key declines.
        for twice in [
            r#"{"p": {"k69": 1, "k3": 2, "k69": 3}}"#,
            r#"{"p": {"k3": 1, "k69": 2, "k3": 3}}"#,
            r#"{"p": {"k69": 1, "k69": 2}}"#,
        ] {
            for h in [&mut wide_hints.clone(), &mut KeyHints::default()] {
                found.clear();
                assert!(
                    read_flat(twice, &bump, &mut String::new(), &wide, h, &mut found).is_none(),
                    "{twice}"
                );
            }
        }
        // Each of these changes which value the walk takes: the tree decides.
        for text in [
            r#"{"process": {"name": "a"}, "process.name": "b"}"#,
            r#"{"process": {"name": "a", "name": "b"}}"#,
            r#"{"process": [{"name": "a"}]}"#,
            r#"[{"process": {"name": "a"}}]"#,
            r#"{"process": {"name": "a"}} x"#,
            r#"{"process": {"name"x: "a"}}"#,
            r#"{"process": {"nam": "a"}}}"#,
        ] {
            found.clear();
            let h = hints.for_resolver(&resolver);
            assert!(
                read_flat(text, &bump, &mut String::new(), &resolver, h, &mut found).is_none(),
                "{text}"
            );
        }
    }

    /// A key hint names only a key written as its own bytes: a key with a
    /// backslash is read and looked up every time, so raw bytes that spell
    /// it but escape something else are not taken for it.
    #[test]
    fn a_key_hint_names_only_a_key_written_as_its_bytes() {
        use eql_plan::{FieldPath, PathSegment};
        let path = FieldPath::new(vec![PathSegment::Key("a\\b".to_owned())]);
        let resolver = Resolver::new(vec![path]);
        let bump = Bump::new();
        let mut hints = KeyHints::default();
        let mut found = Vec::new();
        // The key `a\b`, escaped as JSON writes it: found, twice.
        for _ in 0..2 {
            found.clear();
            let h = hints.for_resolver(&resolver);
            let text = r#"{"a\\b": 1}"#;
            assert!(read_flat(text, &bump, &mut String::new(), &resolver, h, &mut found).is_some());
            assert_eq!(found.len(), 1);
        }
        // The bytes `a\b` between quotes: the key `a` and a backspace.
        found.clear();
        let h = hints.for_resolver(&resolver);
        let text = r#"{"a\b": 2}"#;
        assert!(read_flat(text, &bump, &mut String::new(), &resolver, h, &mut found).is_some());
        assert!(found.is_empty(), "{text}");
    }

    #[test]
    fn deep_nesting_is_declined() {
        let bump = Bump::new();
        let ok = format!("{}1{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(read(&ok, &bump, &mut String::new()).is_some());
        let deep = format!(
            "{}1{}",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(read(&deep, &bump, &mut String::new()), None);
    }

    mod differential {
        use super::super::*;
        use crate::event::json::json_to_value;
        use crate::Event;
        use eql_plan::{FieldPath, PathSegment};
        use proptest::prelude::*;
        use serde_json::Value as Json;

        const KEYS: &[&str] = &[
            "a",
            "b",
            "a.b",
            "c",
            "é",
            "q\"t",
            "back\\slash",
            "nl\n",
            "ctl\u{1}",
        ];

        fn json() -> impl Strategy<Value = Json> {
            let leaf = prop_oneof![
                Just(Json::Null),
                any::<bool>().prop_map(Json::from),
                any::<i64>().prop_map(Json::from),
                any::<u64>().prop_map(Json::from),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(Json::from),
                "[a-c\"\\\\/\n\t\u{1}\u{7f}é😀]{0,6}".prop_map(Json::from),
            ];
            leaf.prop_recursive(4, 32, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Json::from),
                    prop::collection::vec((prop::sample::select(KEYS), inner), 0..4).prop_map(
                        |kv| Json::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                    ),
                ]
            })
        }

        /// `v` as text, with blanks between tokens, and each object's
        /// first member written again before the others (serde_json keeps
        /// the last one).
        fn text_of(v: &Json, blank: &str, dup: bool) -> String {
            match v {
                Json::Object(o) => {
                    let mut members: Vec<String> = o
                        .iter()
                        .map(|(k, v)| {
                            format!(
                                "{}{blank}:{blank}{}",
                                Json::from(k.clone()),
                                text_of(v, blank, dup)
                            )
                        })
                        .collect();
                    if let (true, Some((k, _))) = (dup, o.iter().next()) {
                        members.insert(0, format!("{}:[0]", Json::from(k.clone())));
                    }
                    format!(
                        "{{{blank}{}{blank}}}",
                        members.join(&format!("{blank},{blank}"))
                    )
                }
                Json::Array(a) => format!(
                    "[{blank}{}{blank}]",
                    a.iter()
                        .map(|x| text_of(x, blank, dup))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                x => x.to_string(),
            }
        }

        fn path() -> impl Strategy<Value = FieldPath> {
            prop::collection::vec(
                prop_oneof![
                    4 => prop::sample::select(KEYS).prop_map(|k| PathSegment::Key(k.to_owned())),
                    1 => (0u32..2).prop_map(PathSegment::Index),
                ],
                1..4,
            )
            .prop_map(FieldPath::new)
        }

        /// The text of `v` ([`text_of`]) and serde_json's DOM of it.
        fn valid(v: &Json, blank: &str, dup: bool) -> Result<(String, Json), TestCaseError> {
            let text = text_of(v, blank, dup);
            let dom = serde_json::from_str(&text)
                .map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
            Ok((text, dom))
        }

        /// The text of `v` with `edits` (at, replacement, bytes cut) made
        /// to it; `None` when that is not UTF-8.
        fn damaged(v: &Json, edits: Vec<(prop::sample::Index, &str, usize)>) -> Option<String> {
            let mut text = text_of(v, " ", false).into_bytes();
            for (at, with, cut) in edits {
                if text.is_empty() {
                    break;
                }
                let i = at.index(text.len());
                let end = (i + cut).min(text.len());
                text.splice(i..end, with.bytes());
            }
            String::from_utf8(text).ok()
        }

        /// Each path has, in what `read_flat` found, the one value the walk
        /// of `dom` finds, or none when it finds none.
        fn flat_is_the_walk(
            found: &[(u32, Node<'_>)],
            dom: &Json,
            paths: &[FieldPath],
            text: &str,
        ) -> Result<(), TestCaseError> {
            for (i, p) in paths.iter().enumerate() {
                let got: Vec<Value<'static>> = found
                    .iter()
                    .filter(|f| f.0 as usize == i)
                    .map(|f| f.1.to_value().into_owned())
                    .collect();
                let want: Vec<Value<'static>> = Event::get(dom, p)
                    .map(Value::into_owned)
                    .into_iter()
                    .collect();
                prop_assert_eq!(got, want, "path {} in {}", p, text);
            }
            Ok(())
        }

        /// Paths of keys, mostly the first few (so that they often meet
        /// the generated documents' members).
        fn key_path() -> impl Strategy<Value = FieldPath> {
            let key = prop_oneof![
                3 => prop::sample::select(&KEYS[..4]),
                1 => prop::sample::select(KEYS),
            ];
            prop::collection::vec(key.prop_map(|k| PathSegment::Key(k.to_owned())), 1..4)
                .prop_map(FieldPath::new)
        }

        /// `paths` without repeats and without a path that another one goes
        /// on from: paths the flat reader serves.
        fn direct_paths(mut paths: Vec<FieldPath>) -> Vec<FieldPath> {
            paths.sort_by_key(|p| std::cmp::Reverse(p.segments().len()));
            let mut kept: Vec<FieldPath> = Vec::new();
            for p in paths {
                if !kept.iter().any(|k| k.segments().starts_with(p.segments())) {
                    kept.push(p);
                }
            }
            kept
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

            /// The word-at-a-time search finds what a byte-by-byte one finds.
            #[test]
            fn stop_is_the_first_stopping_byte(
                bytes in prop::collection::vec(prop_oneof![
                    Just(b'"'), Just(b'\\'), 0u8..0x20, 0x20u8..=0xff, b'a'..=b'z',
                ], 0..40),
                from in 0usize..8,
            ) {
                let rest = bytes.get(from.min(bytes.len())..).unwrap_or(&[]);
                let want = rest
                    .iter()
                    .position(|&b| STOPS[b as usize])
                    .and_then(|n| rest.get(n).map(|&b| (n, b)))
                    .filter(|&(_, b)| b >= 0x20);
                prop_assert_eq!(stop(rest), want);
            }

            /// Valid text the quick reader reads (it declines none of it),
            /// with serde_json's value, and every path reads as on the DOM.
            #[test]
            fn reads_valid_text_as_serde_json(
                v in json(),
                blank in prop::sample::select(&["", " ", "\n\t\r "][..]),
                dup in any::<bool>(),
                paths in prop::collection::vec(path(), 1..6),
            ) {
                let (text, dom) = valid(&v, blank, dup)?;
                let bump = Bump::new();
                let Some(node) = read(&text, &bump, &mut String::new()) else {
                    return Err(TestCaseError::fail(format!("declined {text}")));
                };
                prop_assert_eq!(node.to_value(), json_to_value(&dom), "{}", text);
                for p in &paths {
                    prop_assert_eq!(
                        Event::get(&node, p).map(Value::into_owned),
                        Event::get(&dom, p).map(Value::into_owned),
                        "path {} in {}", p, text
                    );
                }
                let proj = crate::Projection::new(&paths);
                let (mut got, mut want) = (vec![Vec::new(); paths.len()], vec![Vec::new(); paths.len()]);
                prop_assert!(node.resolve_all(&proj, &mut |i, v| got[i].push(v.into_owned())));
                prop_assert!(dom.resolve_all(&proj, &mut |i, v| want[i].push(v.into_owned())));
                prop_assert_eq!(got, want, "{}", text);
            }

            /// Valid text read straight into the values of some paths: when
            /// the flat reader reads it, each path has one value exactly
            /// when the walk of the DOM finds one, and it is the same.
            #[test]
            fn read_flat_finds_what_the_walk_finds(
                v in json(),
                before in json(),
                blank in prop::sample::select(&["", " ", "\n\t\r "][..]),
                dup in any::<bool>(),
                paths in prop::collection::vec(key_path(), 1..6),
            ) {
                let (text, dom) = valid(&v, blank, dup)?;
                let (other, _) = valid(&before, blank, false)?;
                let paths = direct_paths(paths);
                let resolver = Resolver::new(paths.clone());
                prop_assert!(resolver.direct_ok());
                let bump = Bump::new();
                let mut found = Vec::new();
                // With no key hints; then with the hints learnt from another
                // document and from this one.
                let mut hints = KeyHints::default();
                for learn in [None, Some(&other), Some(&text)] {
                    if let Some(l) = learn {
                        let h = hints.for_resolver(&resolver);
                        let _ = read_flat(l, &bump, &mut String::new(), &resolver, h, &mut Vec::new());
                    }
                    found.clear();
                    if read_flat(&text, &bump, &mut String::new(), &resolver, &mut hints, &mut found).is_some() {
                        flat_is_the_walk(&found, &dom, &paths, &text)?;
                    }
                }
            }

            /// Damaged text: whatever the flat reader reads, serde_json
            /// accepts (the members stepped over are checked, not trusted),
            /// and the values are the walk's.
            #[test]
            fn read_flat_reads_damaged_text_only_as_serde_json_does(
                v in json(),
                edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(
                    &["", "\"", "\\", ",", "}", "]", "{", "[", ":", "0", "-", ".", "e", "u", "\u{1}", " ", "n", "\\u00", "\\ud800", "\\x"][..]
                ), 0usize..3), 1..4),
                paths in prop::collection::vec(key_path(), 1..4),
            ) {
                let Some(text) = damaged(&v, edits.clone()) else { return Ok(()) };
                let paths = direct_paths(paths);
                let resolver = Resolver::new(paths.clone());
                let bump = Bump::new();
                let mut found = Vec::new();
                // The key hints learnt from the text before its damage: a
                // hint never makes the reader take what serde_json rejects.
                let mut hints = KeyHints::default();
                if let Some(whole) = damaged(&v, Vec::new()) {
                    let h = hints.for_resolver(&resolver);
                    let _ = read_flat(&whole, &bump, &mut String::new(), &resolver, h, &mut Vec::new());
                }
                if read_flat(&text, &bump, &mut String::new(), &resolver, &mut hints, &mut found).is_some() {
                    let dom = serde_json::from_str::<Json>(&text);
                    prop_assert!(dom.is_ok(), "read what serde_json rejects: {}", text);
                    let dom = dom.unwrap_or_default();
                    flat_is_the_walk(&found, &dom, &paths, &text)?;
                }
            }

            /// Damaged text: whatever the quick reader reads, serde_json
            /// reads too, to the same value.
            #[test]
            fn reads_damaged_text_only_as_serde_json_does(
                v in json(),
                edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(
                    &["", "\"", "\\", ",", "}", "]", "{", "[", ":", "0", "-", ".", "e", "u", "\u{1}", " ", "n", "\\u00"][..]
                ), 0usize..3), 1..4),
            ) {
                let Some(text) = damaged(&v, edits) else { return Ok(()) };
                let bump = Bump::new();
                if let Some(node) = read(&text, &bump, &mut String::new()) {
                    let dom = serde_json::from_str::<Json>(&text);
                    prop_assert!(dom.is_ok(), "read what serde_json rejects: {}", text);
                    let dom = dom.unwrap_or_default();
                    prop_assert_eq!(node.to_value(), json_to_value(&dom), "{}", text);
                }
            }
        }
    }
}
