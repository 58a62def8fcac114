//! Event input: bytes → one JSON object, with limits checked before parsing.
//!
//! An embedder reads events however it likes (files, sockets, a queue); this
//! module does no I/O. It takes the bytes of one event, usually one NDJSON
//! line, and either returns the `serde_json::Value` object or an
//! [`EventError`] whose [`EventErrorKind`] says what was wrong and where (the
//! input line when the caller passes it, and the byte column).
//!
//! The checks run cheapest first, so hostile input costs little:
//!
//! 1. length against [`EventLimits::max_line_bytes`]: O(1), before any byte
//!    is read, so a 100 MB line is rejected without being scanned;
//! 2. UTF-8 validity, one pass;
//! 3. nesting depth against [`EventLimits::max_depth`], one pass that tracks
//!    strings and counts `[`/`{`, so a deeply nested line never reaches the
//!    recursive parser (no stack overflow, in debug builds too);
//! 4. `serde_json` parsing, then "is it an object".
//!
//! # Numbers
//!
//! Numbers are parsed by `serde_json` without `arbitrary_precision`:
//! integers that fit `i64`/`u64` stay integers, every other number becomes
//! the nearest `f64` (so `2^64` and `1e300` are floats, and `-0` is the float
//! `-0.0`, which compares equal to `0`). A number too large for `f64`
//! (`1e999`) is rejected as [`EventErrorKind::NumberOutOfRange`] rather than
//! silently turned into infinity. JSON has no NaN or infinity literals, so
//! `NaN` is a syntax error and `"NaN"` is an ordinary string: compared with a
//! number it follows the dialect's null rules like any other string (no match,
//! never a panic). `arbitrary_precision` was rejected: it would make every
//! number a string in the DOM and slow every comparison, for exactness that
//! detection rules do not need.

use serde_json::Value as Json;
use std::fmt;

/// Limits applied to each event before and while it is parsed.
///
/// ```
/// use eql_engine::EventLimits;
/// let mut limits = EventLimits::default();
/// limits.max_line_bytes = 1 << 20;
/// assert_eq!(limits.max_depth, 128);
/// assert_eq!(EventLimits::default().max_line_bytes, 16 << 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventLimits {
    /// Longest accepted event, in bytes (without the line terminator).
    /// Longer input is [`EventErrorKind::TooLarge`], decided from the length
    /// alone. Default 16 MiB.
    pub max_line_bytes: usize,
    /// Nesting limit for arrays and objects: input whose containers nest
    /// `max_depth` deep or deeper is [`EventErrorKind::TooDeep`]. Default 128,
    /// which lets 127 levels through, exactly `serde_json`'s own recursion
    /// limit; that limit also caps larger settings (reported as `TooDeep` too).
    pub max_depth: usize,
}

impl Default for EventLimits {
    fn default() -> Self {
        EventLimits {
            max_line_bytes: 16 << 20,
            max_depth: 128,
        }
    }
}

/// The kind of JSON value found where an object was expected.
///
/// ```
/// use eql_engine::{parse_event, EventErrorKind, EventLimits, JsonType};
/// let err = parse_event(b"[1, 2]", &EventLimits::default()).unwrap_err();
/// assert_eq!(err.kind, EventErrorKind::NotAnObject { found: JsonType::Array });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JsonType {
    /// `null`
    Null,
    /// `true` / `false`
    Bool,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
}

impl fmt::Display for JsonType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JsonType::Null => "null",
            JsonType::Bool => "a boolean",
            JsonType::Number => "a number",
            JsonType::String => "a string",
            JsonType::Array => "an array",
        })
    }
}

/// What was wrong with an event's bytes.
///
/// ```
/// use eql_engine::{parse_event, EventErrorKind, EventLimits};
/// let err = parse_event(b"{\"a\": ", &EventLimits::default()).unwrap_err();
/// assert!(matches!(err.kind, EventErrorKind::Truncated));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventErrorKind {
    /// Nothing but whitespace.
    #[error("empty event")]
    Empty,
    /// The bytes are not UTF-8 (`column` is the first bad byte).
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// The JSON ends in the middle of a value.
    #[error("truncated JSON")]
    Truncated,
    /// Malformed JSON (`serde_json`'s message, without its position).
    #[error("invalid JSON: {message}")]
    Syntax {
        /// What the JSON parser expected or found.
        message: String,
    },
    /// A number outside the range of `f64`, such as `1e999`.
    #[error("number out of range")]
    NumberOutOfRange,
    /// Valid JSON, but not an object.
    #[error("not a JSON object (found {found})")]
    NotAnObject {
        /// What was found instead.
        found: JsonType,
    },
    /// Longer than [`EventLimits::max_line_bytes`]; never parsed.
    #[error("event too large ({len} bytes, limit {max})")]
    TooLarge {
        /// The length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Nested at least [`EventLimits::max_depth`] deep; never parsed.
    #[error("event nested too deeply (limit {max})")]
    TooDeep {
        /// The limit that applied.
        max: usize,
    },
}

/// An event that could not be read, with its position.
///
/// ```
/// use eql_engine::{parse_event_line, EventErrorKind, EventLimits};
/// let err = parse_event_line(b"{\"a\": tru}", &EventLimits::default(), 7).unwrap_err();
/// assert_eq!(err.line, Some(7));
/// assert_eq!(err.column, Some(10));
/// assert!(matches!(err.kind, EventErrorKind::Syntax { .. }));
/// assert_eq!(err.to_string(), "line 7, column 10: invalid JSON: expected ident");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventError {
    /// What was wrong.
    pub kind: EventErrorKind,
    /// The 1-based input line, when the caller gave it.
    pub line: Option<u64>,
    /// The 1-based byte position in the event's bytes where the problem was
    /// found, when known (the column, for a one-line event).
    pub column: Option<u64>,
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "line {l}, column {c}: ")?,
            (Some(l), None) => write!(f, "line {l}: ")?,
            (None, Some(c)) => write!(f, "column {c}: ")?,
            (None, None) => {}
        }
        write!(f, "{}", self.kind)
    }
}

impl std::error::Error for EventError {}

impl EventError {
    fn new(kind: EventErrorKind, column: Option<usize>) -> Self {
        EventError {
            kind,
            line: None,
            column: column.map(|c| c as u64),
        }
    }

    /// An error of `kind` at input line `line`, with no column: for a reader
    /// that rejects a line before parsing it (one it did not keep whole
    /// because it is over [`EventLimits::max_line_bytes`], say).
    ///
    /// ```
    /// use eql_engine::{EventError, EventErrorKind, JsonType};
    /// let e = EventError::at_line(EventErrorKind::NotAnObject { found: JsonType::Array }, 7);
    /// assert_eq!((e.line, e.column), (Some(7), None));
    /// ```
    pub fn at_line(kind: EventErrorKind, line: u64) -> Self {
        EventError {
            kind,
            line: Some(line),
            column: None,
        }
    }
}

/// Parses one event: the bytes must hold exactly one JSON object (surrounding
/// whitespace is fine) within `limits`.
///
/// ```
/// use eql_engine::{parse_event, CompileOptions, CompiledQuery, EventLimits};
/// let event = parse_event(br#"{"event": {"category": "process"}, "process": {"name": "cmd.exe"}}"#, &EventLimits::default())?;
/// let engine = CompiledQuery::compile(r#"process where process.name : "CMD.EXE""#, &CompileOptions::default()).unwrap();
/// assert!(engine.is_match(&event));
/// # Ok::<(), eql_engine::EventError>(())
/// ```
pub fn parse_event(bytes: &[u8], limits: &EventLimits) -> Result<Json, EventError> {
    parse_checked(bytes, limits, serde_json::from_str::<Json>, json_type)
}

pub(crate) fn json_type(value: &Json) -> Option<JsonType> {
    Some(match value {
        Json::Object(_) => return None,
        Json::Null => JsonType::Null,
        Json::Bool(_) => JsonType::Bool,
        Json::Number(_) => JsonType::Number,
        Json::String(_) => JsonType::String,
        Json::Array(_) => JsonType::Array,
    })
}

/// The checks of [`parse_event`] around any parser of the text: `parse`
/// builds the value, `not_object` names its type when it is not an object.
pub(crate) fn parse_checked<'a, T>(
    bytes: &'a [u8],
    limits: &EventLimits,
    parse: impl FnOnce(&'a str) -> Result<T, serde_json::Error>,
    not_object: impl FnOnce(&T) -> Option<JsonType>,
) -> Result<T, EventError> {
    parse_text(check_bytes(bytes, limits)?, parse, not_object)
}

/// The checks of [`parse_event`] that run before any parser, cheapest first:
/// length, UTF-8, blank, nesting depth. Returns the text.
pub(crate) fn check_bytes<'a>(
    bytes: &'a [u8],
    limits: &EventLimits,
) -> Result<&'a str, EventError> {
    if bytes.len() > limits.max_line_bytes {
        return Err(EventError::new(
            EventErrorKind::TooLarge {
                len: bytes.len(),
                max: limits.max_line_bytes,
            },
            None,
        ));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| EventError::new(EventErrorKind::InvalidUtf8, Some(e.valid_up_to() + 1)))?;
    if text.trim_ascii().is_empty() {
        return Err(EventError::new(EventErrorKind::Empty, None));
    }
    if let Some(at) = too_deep(bytes, limits.max_depth) {
        return Err(EventError::new(
            EventErrorKind::TooDeep {
                max: limits.max_depth,
            },
            Some(at + 1),
        ));
    }
    Ok(text)
}

/// The rest of [`parse_event`] once [`check_bytes`] accepted `text`: the
/// parser, its errors as [`EventError`]s, then "is it an object".
pub(crate) fn parse_text<'a, T>(
    text: &'a str,
    parse: impl FnOnce(&'a str) -> Result<T, serde_json::Error>,
    not_object: impl FnOnce(&T) -> Option<JsonType>,
) -> Result<T, EventError> {
    let value = parse(text).map_err(|e| from_serde(text, &e))?;
    let Some(found) = not_object(&value) else {
        return Ok(value);
    };
    let first = text.bytes().position(|b| !b.is_ascii_whitespace());
    Err(EventError::new(
        EventErrorKind::NotAnObject { found },
        first.map(|i| i + 1),
    ))
}

/// [`parse_event`] for input line `line` (1-based): errors carry the line.
///
/// ```
/// use eql_engine::{parse_event_line, EventErrorKind, EventLimits};
/// let err = parse_event_line(b"\xff{}", &EventLimits::default(), 3).unwrap_err();
/// assert_eq!((err.kind, err.line, err.column), (EventErrorKind::InvalidUtf8, Some(3), Some(1)));
/// ```
pub fn parse_event_line(bytes: &[u8], limits: &EventLimits, line: u64) -> Result<Json, EventError> {
    parse_event(bytes, limits).map_err(|mut e| {
        e.line = Some(line);
        e
    })
}

/// Splits a buffer of NDJSON into events: one item per non-blank line, with
/// its 1-based line number. `\n` ends a line and a trailing `\r` is dropped.
/// A bad line is an `Err` item and the iteration goes on, so valid lines are
/// never lost.
///
/// ```
/// use eql_engine::{EventErrorKind, EventLimits, EventLines};
/// let buf = b"{\"a\": 1}\n\n[2]\r\n{\"a\": 3}";
/// let items: Vec<_> = EventLines::new(buf, &EventLimits::default()).collect();
/// assert_eq!(items.len(), 3);
/// assert_eq!(items[0].0, 1);
/// assert_eq!(items[1].1.as_ref().unwrap_err().line, Some(3));
/// assert!(matches!(items[1].1.as_ref().unwrap_err().kind, EventErrorKind::NotAnObject { .. }));
/// assert_eq!(items[2].1.as_ref().unwrap()["a"], 3);
/// ```
#[derive(Clone, Debug)]
pub struct EventLines<'a> {
    rest: &'a [u8],
    line: u64,
    limits: EventLimits,
}

impl<'a> EventLines<'a> {
    /// Iterates over the lines of `buf`.
    ///
    /// ```
    /// use eql_engine::{EventLimits, EventLines};
    /// assert_eq!(EventLines::new(b"", &EventLimits::default()).count(), 0);
    /// ```
    pub fn new(buf: &'a [u8], limits: &EventLimits) -> Self {
        EventLines {
            rest: buf,
            line: 0,
            limits: limits.clone(),
        }
    }
}

impl Iterator for EventLines<'_> {
    type Item = (u64, Result<Json, EventError>);

    fn next(&mut self) -> Option<Self::Item> {
        while !self.rest.is_empty() {
            let (line, rest) = match self.rest.iter().position(|&b| b == b'\n') {
                Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
                None => (self.rest, &self.rest[self.rest.len()..]),
            };
            self.rest = rest;
            self.line += 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.trim_ascii().is_empty() {
                continue;
            }
            return Some((self.line, parse_event_line(line, &self.limits, self.line)));
        }
        None
    }
}

/// The byte offset of the first `[`/`{` (outside strings) that opens the
/// `max_depth`-th nested container, if any.
fn too_deep(bytes: &[u8], max_depth: usize) -> Option<usize> {
    // Fast path for ordinary events: fewer opening brackets in all (strings
    // included) than the limit cannot nest that deep. The string-aware scan
    // below runs only when it fails.
    if opening_brackets(bytes) < max_depth {
        return None;
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth >= max_depth {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// The number of `[` and `{` bytes. `b | 0x20 == b'{'` holds exactly for
/// `[` (0x5B) and `{` (0x7B), and a byte counter per chunk of at most 255
/// bytes cannot overflow: the loop has no branch and vectorizes, which a
/// `filter(..).count()` into a `usize` does not.
fn opening_brackets(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|chunk| {
            let mut n = 0u8;
            for &b in chunk {
                n += u8::from((b | 0x20) == b'{');
            }
            usize::from(n)
        })
        .sum()
}

/// `serde_json`'s depth limit: 128 levels fail, 127 parse.
pub(crate) const SERDE_DEPTH: usize = 128;

/// A parser error on checked text as an [`EventError`].
pub(crate) fn from_serde(text: &str, e: &serde_json::Error) -> EventError {
    let column = byte_position(text, e.line(), e.column());
    let full = e.to_string();
    // serde_json's Display appends " at line L column C"; the position is ours to report.
    let message = match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    };
    let kind = if e.classify() == serde_json::error::Category::Eof {
        EventErrorKind::Truncated
    } else if message == "recursion limit exceeded" {
        EventErrorKind::TooDeep { max: SERDE_DEPTH }
    } else if message == "number out of range" {
        EventErrorKind::NumberOutOfRange
    } else {
        EventErrorKind::Syntax { message }
    };
    EventError::new(kind, column)
}

/// Turns serde_json's 1-based (line, column) into a 1-based byte position in
/// `text` (serde_json counts columns in bytes).
fn byte_position(text: &str, line: usize, column: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let mut start = 0usize;
    for _ in 1..line {
        start += text.get(start..)?.find('\n')? + 1;
    }
    Some(start + column.max(1))
}

#[cfg(test)]
mod tests {
    use super::opening_brackets;

    /// The branch-free count agrees with the obvious one, for every byte
    /// value and across chunk boundaries.
    #[test]
    fn opening_brackets_counts_exactly_the_brackets() {
        let all: Vec<u8> = (0..=255u8).cycle().take(256 * 7 + 13).collect();
        for len in [0, 1, 254, 255, 256, 511, 1000, all.len()] {
            let bytes = &all[..len];
            let naive = bytes.iter().filter(|&&b| b == b'[' || b == b'{').count();
            assert_eq!(opening_brackets(bytes), naive, "{len}");
        }
        assert_eq!(opening_brackets(&[b'['; 1000]), 1000);
    }
}
