//! Reading a file's timestamps ahead, so that a scan in Elasticsearch's
//! order holds only what is still out of order.
//!
//! In [`StreamOrder::Bounded`] a session runs its step hits sorted as
//! Elasticsearch sorts them, so it must hold every hit an earlier event may
//! still come before. Not knowing the rest of the input, it would hold them
//! all until the input ends, and memory would grow with the file. A file can
//! be read twice: before the scan, one quick pass reads the timestamp of
//! every line (found by its key path with sonic-rs's lookup, which steps
//! over the rest of the line, and only the timestamp's value parsed; a line
//! where that cannot be sure goes through a projection of the timestamp
//! fields, as the scan's parser reads it) and keeps, for each run of
//! [`RUN_BYTES`] of the file, the earliest order time of every line that
//! starts in that run or after it. When the scan reaches a run, every
//! stateful rule's session is told that time ([`Session::release_before`]):
//! the hits that order before it cannot be preceded by anything still to
//! come, and run then. The results are the same as holding everything to
//! the end; the held hits are those of the last run or so, plus what the
//! input has out of order. Runs are places in the file, so the pass splits
//! over threads (each reads the lines that start in its share of the bytes),
//! and every thread count releases at the same lines: the first line of each
//! run, whichever events the scan forwards to the sessions.

use super::input::{line_offset, lines, may_hold_u_escape, BlockReader};
use super::plan::RulePlan;
use eql_engine::{
    CompiledQuery, Dialect, EventLimits, FieldPath, PathSegment, Projection, Session,
    SessionOptions, StreamOrder, TimestampFormat,
};
use std::fs::File;
use std::io::{self, BufRead, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

/// Bytes of the file per run: the scan tells the sessions the time ahead
/// once per run (about 300 lines of ECS events).
pub(crate) const RUN_BYTES: u64 = 256 << 10;

/// The least share of the file worth a thread of its own.
const MIN_SHARE: u64 = 8 << 20;

/// A session's clock: its timestamp field and format.
type Clock = (String, TimestampFormat);

fn clock(q: &CompiledQuery) -> Clock {
    let o = q.options();
    (o.timestamp_field.clone(), o.timestamp_format)
}

/// Per clock (a timestamp field and format some stateful rule orders by),
/// per run of [`RUN_BYTES`] of the file: the earliest order time of the
/// lines that start in that run or after it.
#[derive(Debug, Default)]
pub(crate) struct Watermarks {
    clocks: Vec<Clock>,
    runs: Vec<Vec<i64>>,
    /// Per clock: every line's order time is at least the one of each line
    /// before it (lines with no time left out).
    sorted: Vec<bool>,
}

/// The order times of a stretch of lines on one clock, as far as the file's
/// order goes: the first and last time, and whether none is below the one
/// before it.
#[derive(Clone, Copy, Debug)]
struct Stretch {
    first: Option<i64>,
    last: Option<i64>,
    sorted: bool,
}

impl Stretch {
    const EMPTY: Stretch = Stretch {
        first: None,
        last: None,
        sorted: true,
    };

    fn push(&mut self, time: i64) {
        if self.last.is_some_and(|l| time < l) {
            self.sorted = false;
        }
        self.first.get_or_insert(time);
        self.last = Some(time);
    }

    /// This stretch, then `next` after it.
    fn then(self, next: Stretch) -> Stretch {
        let joined = match (self.last, next.first) {
            (Some(l), Some(f)) => l <= f,
            _ => true,
        };
        Stretch {
            first: self.first.or(next.first),
            last: next.last.or(self.last),
            sorted: self.sorted && next.sorted && joined,
        }
    }
}

impl Watermarks {
    /// Reads the order times of the lines of the file at `path` on the
    /// clock of each of `plan`'s stateful rules, on up to `threads` threads,
    /// when their sessions run in [`StreamOrder::Bounded`] (`order`, or the
    /// Elasticsearch dialect's default). `None` otherwise: the sessions then
    /// hold their hits until the input ends.
    pub(crate) fn read(
        path: &Path,
        plan: &RulePlan,
        order: Option<StreamOrder>,
        limits: &EventLimits,
        block_bytes: usize,
        threads: usize,
    ) -> io::Result<Option<Watermarks>> {
        let mut clocks: Vec<(Clock, Arc<eql_engine::SessionPlan>)> = Vec::new();
        for p in &plan.session_plans {
            let Some(q) = p.query(0) else { continue };
            let bounded = match order {
                Some(o) => o == StreamOrder::Bounded,
                None => q.options().dialect == Dialect::Elasticsearch,
            };
            if !bounded {
                return Ok(None);
            }
            let c = clock(q);
            if !clocks.iter().any(|(x, _)| *x == c) {
                clocks.push((c, Arc::clone(p)));
            }
        }
        if clocks.is_empty() {
            return Ok(None);
        }
        let len = std::fs::metadata(path)?.len();
        let parts = u64::try_from(threads.max(1))
            .unwrap_or(1)
            .min(len / MIN_SHARE + 1);
        Self::read_parts(path, clocks, order, limits, block_bytes, parts).map(Some)
    }

    /// [`Watermarks::read`] of `path` on `clocks` (each with the plan of a
    /// session on it), split into `parts` shares of its bytes.
    fn read_parts(
        path: &Path,
        clocks: Vec<(Clock, Arc<eql_engine::SessionPlan>)>,
        order: Option<StreamOrder>,
        limits: &EventLimits,
        block_bytes: usize,
        parts: u64,
    ) -> io::Result<Watermarks> {
        let len = std::fs::metadata(path)?.len();
        let parts = parts.max(1);
        let read = |k: u64| {
            let (from, to) = (len * k / parts, len * (k + 1) / parts);
            read_share(path, (from, to), &clocks, order, limits, block_bytes)
        };
        let shares: Vec<io::Result<Share>> = if parts <= 1 {
            vec![read(0)]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..parts).map(|k| s.spawn(move || read(k))).collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err(io::Error::other("a read-ahead thread failed")))
                    })
                    .collect()
            })
        };
        // The earliest time of each run, per clock, over every share; and
        // the shares' order, one after the other.
        let mut runs: Vec<Vec<i64>> = vec![Vec::new(); clocks.len()];
        let mut order = vec![Stretch::EMPTY; clocks.len()];
        for share in shares {
            let (share_runs, stretches) = share?;
            for (all, mine) in order.iter_mut().zip(stretches) {
                *all = all.then(mine);
            }
            for (all, mine) in runs.iter_mut().zip(share_runs) {
                if all.len() < mine.len() {
                    all.resize(mine.len(), i64::MAX);
                }
                for (a, m) in all.iter_mut().zip(mine) {
                    *a = (*a).min(m);
                }
            }
        }
        // From each run to the end.
        for runs in &mut runs {
            let mut ahead = i64::MAX;
            for m in runs.iter_mut().rev() {
                ahead = ahead.min(*m);
                *m = ahead;
            }
        }
        Ok(Watermarks {
            clocks: clocks.into_iter().map(|(c, _)| c).collect(),
            runs,
            sorted: order.iter().map(|o| o.sorted).collect(),
        })
    }

    /// True when the lines' order times on clock `clock` never go down from
    /// one line to the next (lines with no time left out): the file is in
    /// that clock's order.
    pub(crate) fn sorted(&self, clock: usize) -> bool {
        self.sorted.get(clock).copied().unwrap_or(false)
    }

    /// The clock of a rule's query, when its times were read.
    pub(crate) fn clock_of(&self, q: &CompiledQuery) -> Option<usize> {
        let c = clock(q);
        self.clocks.iter().position(|x| *x == c)
    }

    /// The run of the line that starts at byte `offset` of the file.
    pub(crate) fn run(offset: u64) -> u64 {
        offset / RUN_BYTES
    }

    /// On clock `clock`, the earliest order time from run `run` to the end
    /// of the input (`i64::MAX` past the last line with a time).
    pub(crate) fn ahead_of_run(&self, clock: usize, run: u64) -> i64 {
        usize::try_from(run)
            .ok()
            .and_then(|r| self.runs.get(clock)?.get(r))
            .copied()
            .unwrap_or(i64::MAX)
    }
}

/// What one share of the read-ahead gives, per clock: the earliest order
/// time of each run, and the order of its lines' times.
type Share = (Vec<Vec<i64>>, Vec<Stretch>);

/// Per clock, the earliest order time of each run, over the lines that
/// start at bytes `from..to` of the file ([`share_lines`]), and their order.
fn read_share(
    path: &Path,
    (from, to): (u64, u64),
    clocks: &[(Clock, Arc<eql_engine::SessionPlan>)],
    order: Option<StreamOrder>,
    limits: &EventLimits,
    block_bytes: usize,
) -> io::Result<Share> {
    // One session per clock, to read an event's time as the rules'
    // sessions read it.
    let sessions: Vec<Session<()>> = clocks
        .iter()
        .map(|(_, p)| {
            let mut opts = SessionOptions::default();
            opts.order = order;
            Session::new(Arc::clone(p), opts)
        })
        .collect();
    let fields: Vec<FieldPath> = clocks
        .iter()
        .map(|((f, _), _)| FieldPath::parse_dotted(f))
        .collect();
    let lazy: Vec<Option<Lazy>> = fields.iter().map(Lazy::new).collect();
    let projection = Projection::values(&fields);
    let mut runs: Vec<Vec<i64>> = vec![Vec::new(); clocks.len()];
    let mut order = vec![Stretch::EMPTY; clocks.len()];
    let mut times: Vec<Option<i64>> = vec![None; clocks.len()];
    share_lines(
        path,
        (from, to),
        limits,
        block_bytes,
        &mut |offset, line| {
            if !lazy_times(line, &sessions, &fields, &lazy, &mut times) {
                // The exact reading. A line it rejects the scan reports as bad:
                // the sessions never see it.
                let Ok(event) = projection.parse(line, limits) else {
                    return;
                };
                for (t, session) in times.iter_mut().zip(&sessions) {
                    *t = session.order_time(&event);
                }
            }
            let run = usize::try_from(Watermarks::run(offset)).unwrap_or(usize::MAX);
            for ((time, runs), order) in times.iter().zip(&mut runs).zip(&mut order) {
                // A time that does not read: the sessions skip the event.
                let Some(time) = *time else {
                    continue;
                };
                order.push(time);
                if runs.len() <= run {
                    runs.resize(run + 1, i64::MAX);
                }
                if let Some(m) = runs.get_mut(run) {
                    *m = (*m).min(time);
                }
            }
        },
    )?;
    Ok((runs, order))
}

/// Each clock's order time of `line` (`times`), read without parsing the
/// line: the timestamp is found by its key path ([`Lazy::get`]) and only its
/// value is parsed. False when that cannot tell the times exactly as the
/// session would read them from the parsed line: the caller then parses it.
///
/// A line the quick reading takes but the parser would reject (what it
/// steps over is not checked) gives a time the sessions never see. That
/// time can only lower a run's earliest time, so the sessions hold more,
/// never run a hit before its turn, and can only make the file look out of
/// order, so the scan leaves no step out ([`super::gate`]): the results
/// stay exact.
fn lazy_times(
    line: &[u8],
    sessions: &[Session<()>],
    fields: &[FieldPath],
    lazy: &[Option<Lazy>],
    times: &mut [Option<i64>],
) -> bool {
    // An escaped key may spell a wanted one: only the parser can tell.
    if may_hold_u_escape(line) {
        return false;
    }
    for (((session, field), lazy), time) in sessions.iter().zip(fields).zip(lazy).zip(times) {
        let Some(lazy) = lazy else { return false };
        let value = match lazy.get(line) {
            Quick::Value(v) => Some(Found::Parsed(v)),
            Quick::Text(s) => Some(Found::Text(s)),
            Quick::Absent => None,
            Quick::Unsure => return false,
        };
        *time = session.order_time(&One {
            field,
            value: value.as_ref(),
        });
    }
    true
}

/// An event of one field (`value`, when there is one).
struct One<'a> {
    field: &'a FieldPath,
    value: Option<&'a Found<'a>>,
}

/// The value the quick reading found.
enum Found<'a> {
    Parsed(serde_json::Value),
    /// A string, as written in the line (with no escape).
    Text(&'a str),
}

impl eql_engine::Event for One<'_> {
    fn get(&self, path: &FieldPath) -> Option<eql_engine::Value<'_>> {
        if path != self.field {
            return None;
        }
        // The empty path: the value itself (built once, not per line).
        static ROOT: std::sync::OnceLock<FieldPath> = std::sync::OnceLock::new();
        let root = ROOT.get_or_init(|| FieldPath::new(Vec::new()));
        match self.value? {
            Found::Parsed(v) => eql_engine::Event::get(v, root),
            Found::Text(s) => Some(eql_engine::Value::Str((*s).into())),
        }
    }
}

/// What the quick reading of a line says of a field.
#[derive(Debug, PartialEq)]
enum Quick<'a> {
    /// The field's value, as the walk reads it.
    Value(serde_json::Value),
    /// The field's value, a string with no escape, as written in the line.
    Text(&'a str),
    /// No value found: order the line first.
    Absent,
    /// Only parsing the line can tell.
    Unsure,
}

/// A timestamp field's path, read from a line's text without parsing it.
struct Lazy {
    keys: Vec<String>,
    /// Each key but the last in quotes.
    quoted: Vec<memchr::memmem::Finder<'static>>,
    /// The last key and a quote: after a quote, the last key in quotes;
    /// after a dot, the end of a literal dotted key that may lead the walk
    /// to the field. One search finds both.
    tail: memchr::memmem::Finder<'static>,
    /// The first key after a quote and before a dot: the start of such a
    /// literal dotted key.
    dotted_head: memchr::memmem::Finder<'static>,
    /// The first key in quotes, as written.
    first_quoted: Vec<u8>,
}

impl Lazy {
    /// `None` for a path the quick reading cannot serve: one with an index,
    /// or a key with a character JSON may escape.
    fn new(path: &FieldPath) -> Option<Lazy> {
        let mut keys = Vec::new();
        for s in path.segments() {
            let PathSegment::Key(k) = s else { return None };
            if k.is_empty()
                || k.chars()
                    .any(|c| c == '"' || c == '\\' || c == '/' || c.is_control())
            {
                return None;
            }
            keys.push(k.clone());
        }
        let (first, last) = (keys.first()?, keys.last()?);
        let quoted = keys
            .iter()
            .take(keys.len() - 1)
            .map(|k| memchr::memmem::Finder::new(format!("\"{k}\"").as_bytes()).into_owned())
            .collect();
        let dotted_head =
            memchr::memmem::Finder::new(format!("\"{first}.").as_bytes()).into_owned();
        let tail = memchr::memmem::Finder::new(format!("{last}\"").as_bytes()).into_owned();
        Some(Lazy {
            first_quoted: format!("\"{first}\"").into_bytes(),
            keys,
            quoted,
            tail,
            dotted_head,
        })
    }

    /// The value at the path as the field walk reads it from the parsed
    /// line, or what else the quick reading can say ([`Quick`]).
    ///
    /// A value found by the quick lookup (the first member with each key,
    /// through nested objects) is the walk's when each key of the path is a
    /// member key at most once in the whole line: the first member is then
    /// the last, which the walk takes, and the walk takes nested objects
    /// before any literal dotted key. The caller has made sure no key is
    /// escaped with `\u`. The walk starts at a member whose key is the
    /// path's first key or starts with it and a dot (a literal dotted key),
    /// and ends at one whose key is its last key or ends with a dot and it:
    /// with no member of either kind for the first key, or for the last, in
    /// a whole line, the field is [`Quick::Absent`]. When the lookup finds
    /// nothing otherwise, the walk may still find a value through an array
    /// or a literal dotted key: only the parser can tell.
    fn get<'b>(&self, bytes: &'b [u8]) -> Quick<'b> {
        // Only a line that may be a whole object can be read as one without
        // the lookup: a blank or cut line is for the parser to reject.
        let trimmed = bytes.trim_ascii();
        let whole = trimmed.first() == Some(&b'{') && trimmed.last() == Some(&b'}');
        // A key is followed by its colon; a string value is not.
        let colon_at = |at: usize| {
            bytes
                .get(at..)
                .and_then(|after| after.iter().find(|b| !b.is_ascii_whitespace()))
                == Some(&b':')
        };
        let last = self.quoted.len();
        // The last key first: the most particular, so the likeliest to be
        // missing, which answers at once.
        for i in (0..=last).rev() {
            let (mut keys, mut tails) = (0, 0);
            if let Some(q) = self.quoted.get(i) {
                for at in q.find_iter(bytes) {
                    keys += usize::from(colon_at(at + q.needle().len()));
                }
            } else {
                for at in self.tail.find_iter(bytes) {
                    match at.checked_sub(1).and_then(|b| bytes.get(b)) {
                        Some(b'"') => keys += usize::from(colon_at(at + self.tail.needle().len())),
                        Some(b'.') => tails += 1,
                        _ => {}
                    }
                }
            }
            // No member has the first key, nor starts with it; or none has
            // the last key, nor ends with it: the walk finds nothing (and
            // building the lookup's not-found error costs more than this
            // search).
            let missing =
                || (i == last && tails == 0) || (i == 0 && self.dotted_head.find(bytes).is_none());
            match keys {
                0 if whole && missing() => return Quick::Absent,
                0 | 1 => {}
                _ => return Quick::Unsure,
            }
            // The usual line: a field of one key, the only member of that
            // name, is the line's first member, and its value a string
            // with no escape: that string.
            if let (1, 0, Some(s)) = (keys, last, first_string(bytes)) {
                if s.0 == self.first_quoted {
                    return Quick::Text(s.1);
                }
            }
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Quick::Unsure;
        };
        match sonic_rs::get(text, &self.keys) {
            Ok(found) => {
                serde_json::from_str(found.as_raw_str()).map_or(Quick::Unsure, Quick::Value)
            }
            Err(_) => Quick::Unsure,
        }
    }
}

/// The first member of the object `line` holds when its value is a string
/// with no escape: (its key in quotes, as written; the string). `None` for
/// anything else, which the caller reads another way.
fn first_string(line: &[u8]) -> Option<(&[u8], &str)> {
    let blank = |b: &u8| matches!(b, b' ' | b'\n' | b'\t' | b'\r');
    let at = |i: usize| line.iter().skip(i).position(|b| !blank(b)).map(|n| i + n);
    let open = at(0)?;
    (line.get(open)? == &b'{').then_some(())?;
    let key = at(open + 1)?;
    (line.get(key)? == &b'"').then_some(())?;
    let key_end = key + 1 + line.get(key + 1..)?.iter().position(|&b| b == b'"')?;
    let colon = at(key_end + 1)?;
    (line.get(colon)? == &b':').then_some(())?;
    let value = at(colon + 1)?;
    (line.get(value)? == &b'"').then_some(())?;
    let rest = line.get(value + 1..)?;
    let len = rest
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    (rest.get(len)? == &b'"').then_some(())?;
    let s = std::str::from_utf8(rest.get(..len)?).ok()?;
    Some((line.get(key..=key_end)?, s))
}

/// Calls `f(offset, line)` for each line of the file that starts at bytes
/// `from..to` (the first one at `from`, or just after the end of the line
/// byte `from - 1` is in), as the scan reads lines (a long line left out).
fn share_lines(
    path: &Path,
    (from, to): (u64, u64),
    limits: &EventLimits,
    block_bytes: usize,
    f: &mut dyn FnMut(u64, &[u8]),
) -> io::Result<()> {
    let mut file = File::open(path)?;
    let mut start = from;
    if from > 0 {
        file.seek(SeekFrom::Start(from - 1))?;
    }
    let mut input = io::BufReader::new(file);
    if from > 0 {
        // Past the line that holds byte `from - 1`: its start is in the
        // share before.
        loop {
            let buf = input.fill_buf()?;
            if buf.is_empty() {
                return Ok(());
            }
            let (n, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            input.consume(n);
            start += n as u64;
            if done {
                break;
            }
        }
        start -= 1;
    }
    let mut reader = BlockReader::new(input, block_bytes, limits.max_line_bytes);
    while let Some(block) = reader.next_block()? {
        for (_, line) in lines(&block) {
            let offset = start + line_offset(&block, line);
            if offset >= to {
                return Ok(());
            }
            f(offset, line);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
