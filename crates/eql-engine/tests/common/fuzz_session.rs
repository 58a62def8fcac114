//! Decoding and checks of the `session` fuzz target, shared word for word with
//! `crates/eql-engine/tests/fuzz_regressions.rs` (both include this file with
//! `#[path]`; it lives in the engine's tests so that the packaged crate's
//! tests build), so a committed regression replays exactly what the fuzzer
//! ran.
//!
//! Input layout (a missing byte reads as 0):
//!
//! - byte 0, flags: bits 0–1 stream order (`None`, `Window` with the window
//!   of byte 3, `Arrival`, `Bounded`); bit 2 `samples_on_completion`; bit 3 one session per query
//!   (else one session over all of them); bit 4 a query from the input text
//!   follows; bit 5 Endgame lineage fields (`opcode`); bit 6 that text query is
//!   Python; bit 7 `timestamp_field` forced to `@timestamp`.
//! - bytes 1–5, each `b % 9`: `max_partials`, `max_keys`, the reorder
//!   window in milliseconds (a scale, see `WINDOWS`), `max_held_hits`,
//!   `max_samples_per_key`.
//! - byte 6: `1 + b % 4` queries, then one byte each: an index into `QUERIES`.
//! - with flag bit 4: a length byte `n % 64`, then `n` bytes of query text.
//! - the rest, 6 bytes per event (at most `MAX_EVENTS`): see [`event`].
//!
//! Checks, after every push and after `finish`, against what the `SessionLimits`
//! and `SessionStats` documentation promises:
//!
//! - `partials <= rules × max_partials` (the cap is per rule, over partial
//!   sequences and completed ones waiting for a trailing `![...]` check
//!   together);
//! - `keys <= rules × max_keys + partials`: `max_keys` caps, per rule, the
//!   keys held by state that is not a partial sequence; a sequence's key is
//!   held by its live partial sequences, at most one key each;
//! - `held_hits <= max_held_hits`, and 0 after `finish`;
//! - a push's `Matches::late` is empty or that event's handle, and `late`
//!   counts them all; every pushed event (late or not) counts in `events`;
//! - every result's handles were pushed successfully (a late event was
//!   skipped by a stateful rule that had run past it, and may be in other
//!   rules' results); `matches` counts the results;
//! - a push after `finish` is late.
//!
//! And the stream pushed as bytes (`push_json`) gives exactly what it gives
//! pushed as DOMs (`push`): the same results, late events and counters; and
//! so does the stream pushed with its step queries answered by a pack
//! (`push_answered`), each event given as the values the pack captured of
//! the session's `answered_fields` and nothing else.
//!
//! And no panic anywhere.

use eql_engine::{
    CompileOptions, CompiledQuery, Event, FieldPath, LineageOptions, Matches, Pack, PackMatches,
    Session, SessionLimits, SessionOptions, SessionPlan, StreamOrder, Value,
};
use serde_json::{json, Map, Value as Json};
use std::sync::Arc;

/// Interesting stateful queries: Elasticsearch first, then Python.
pub(crate) const QUERIES: &[(bool, &str)] = &[
    (false, "sequence by host.id with maxspan=5s [process where true] [file where true]"),
    (
        false,
        "sequence by host.id with maxspan=2s [process where true] with runs=2 [file where true] until [network where true]",
    ),
    (
        false,
        "sequence by host.id with maxspan=3s ![network where true] [process where true] [file where true]",
    ),
    (
        false,
        "sequence by host.id with maxspan=3s [process where true] ![network where true] [file where true]",
    ),
    (
        false,
        "sequence by host.id with maxspan=3s [process where true] [file where true] ![network where true]",
    ),
    (
        false,
        "sequence by ?user.name with maxspan=10s [process where true] [process where true] [file where true]",
    ),
    (false, "sequence by host.id, ?user.name [process where true] [file where true] | head 3"),
    (false, "sequence with maxspan=1s [any where true] [any where true] | tail 2"),
    (false, "sequence [process where true] by host.id [file where true] by user.name"),
    (false, "sequence by process.pid with maxspan=500ms [process where true] with runs=3"),
    (
        false,
        "sequence by host.id with maxspan=1m ![registry where true] [process where true] ![file where true] [network where true] ![registry where true]",
    ),
    (false, "sample by host.id [process where true] [file where true]"),
    (false, "sample by host.id, ?user.name [any where true] [process where true] [file where true] | head 4"),
    (false, "any where true | tail 3"),
    (false, r#"process where user.name : "a*" | head 2"#),
    (true, r#"sequence by unique_pid [process where subtype == "create"] [file where true] [network where true]"#),
    (
        true,
        r#"sequence with maxspan=2s [process where true] by unique_pid [file where true] by unique_ppid until [process where subtype == "terminate"] by unique_pid"#,
    ),
    (true, "join by user_name [process where true] [file where true] until [network where true]"),
    (true, "join [process where true] by unique_pid [file where true] by unique_ppid"),
    (true, "process where true | unique user_name"),
    (true, "file where true | count user_name"),
    (true, "any where true | unique_count event_type"),
    (true, "process where true | sort pid | head 3"),
    (true, r#"file where descendant of [process where process_name == "a"]"#),
    (true, "network where child of [process where true]"),
    (true, "any where event of [process where pid == 1]"),
    (true, "sequence [process where true] [file where true] fork [network where true]"),
    (true, "sequence by user_name [process where true] [file where true] | unique events[0].pid"),
    (true, "sequence with maxspan=1s [process where true] [process where true] | filter events[0].pid == events[1].ppid"),
    (true, "sequence by unique_pid with maxspan=1s [process where true] [file where true] | tail 2"),
];

/// Reorder windows, in milliseconds.
const WINDOWS: [u64; 9] = [0, 0, 1, 10, 100, 1000, 5000, 60_000, u64::MAX];

/// Most events per input.
const MAX_EVENTS: usize = 256;

/// Counters summed over the sessions of one input (what the regression test
/// asserts was exercised).
#[derive(Clone, Debug, Default)]
pub(crate) struct Summary {
    pub(crate) sessions: usize,
    pub(crate) results: u64,
    pub(crate) late: u64,
    pub(crate) rejected: u64,
    pub(crate) evicted_partials: u64,
    pub(crate) evicted_keys: u64,
    pub(crate) expired: u64,
    pub(crate) held_overflow: u64,
    pub(crate) peak_partials: usize,
    pub(crate) peak_keys: usize,
}

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
}

/// How an event is pushed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Push {
    Dom,
    Json,
    /// Invalid JSON or not an object: `push_json` must fail.
    Bad,
}

/// A decoded stream event: the DOM, its serialized bytes and how to push it.
pub(crate) struct StreamEvent {
    dom: Json,
    bytes: Vec<u8>,
    push: Push,
}

/// Key values: missing (`None`), null, strings, numbers, booleans, arrays.
fn vocab(i: u8) -> Option<Json> {
    Some(match i % 16 {
        0 => return None,
        1 => Json::Null,
        2 | 15 => json!("a"),
        3 => json!("A"),
        4 => json!("b"),
        5 => json!(1),
        6 => json!(2),
        7 => json!(1.0),
        8 => json!(true),
        9 => json!(["a", "b"]),
        10 => json!(["a"]),
        11 => json!([]),
        12 => json!([null, "b"]),
        13 => json!({"x": 1}),
        _ => json!(""),
    })
}

/// Process ids: missing, small ints, null, a digit string, a float.
fn pid(i: u8) -> Option<Json> {
    Some(match i % 8 {
        0 => return None,
        1..=4 => json!(i % 8),
        5 => Json::Null,
        6 => json!("1"),
        _ => json!(1.0),
    })
}

/// Epoch milliseconds as an RFC 3339 string (UTC, millisecond fraction).
fn rfc3339(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// One event from 6 bytes.
///
/// - `e0`: bits 0–2 category (`process`, `file`, `network`, `registry`,
///   missing, `[process, file]`, `7`, `PROCESS`); bits 3–4 push (`push` ×2,
///   `push_json`, bad bytes); bits 5–7 `subtype`/`opcode`.
/// - `e1`: bits 0–2 time step (forward ×3, backward, repeat, missing,
///   unparsable, extreme); bits 3–4 the step's scale (1, 10, 100, 1000 ms);
///   bits 5–6 representation (epoch millis number, RFC 3339, digit string,
///   fractional number).
/// - `e2`: step size (or which unparsable/extreme value).
/// - `e3`: `host.id` (low nibble) and `user.name`/`user_name` (high nibble).
/// - `e4`: bits 0–2 `pid`/`process.pid`, bits 3–5 `ppid`, bits 6–7 `process_name`.
/// - `e5`: `unique_pid` (low nibble) and `unique_ppid` (high nibble).
fn event(b: &[u8; 6], now: &mut i64) -> StreamEvent {
    let [e0, e1, e2, e3, e4, e5] = *b;
    let mut o = Map::new();
    let category = match e0 & 7 {
        0 => Some(json!("process")),
        1 => Some(json!("file")),
        2 => Some(json!("network")),
        3 => Some(json!("registry")),
        4 => None,
        5 => Some(json!(["process", "file"])),
        6 => Some(json!(7)),
        _ => Some(json!("PROCESS")),
    };
    if let Some(c) = category {
        o.insert("event".into(), json!({ "category": c.clone() }));
        o.insert("event_type".into(), c);
    }
    let subtype = match e0 >> 5 {
        0 => Some(json!("create")),
        1 => Some(json!("terminate")),
        2 => Some(json!("fork")),
        3 => None,
        4 => Some(json!("CREATE")),
        5 => Some(json!(1)),
        6 => Some(json!(2)),
        _ => Some(Json::Null),
    };
    if let Some(s) = subtype {
        o.insert("subtype".into(), s.clone());
        o.insert("opcode".into(), s);
    }
    // Timestamps: `@timestamp` in epoch millis / RFC 3339, `timestamp` as
    // Windows FILETIME ticks.
    let scale = [1i64, 10, 100, 1000][usize::from((e1 >> 3) & 3)];
    let step = i64::from(e2) * scale;
    let stamps: Option<(Json, Json)> = match e1 & 7 {
        0..=2 => {
            *now = now.saturating_add(step);
            Some((Json::Null, Json::Null))
        }
        3 => {
            *now = now.saturating_sub(step);
            Some((Json::Null, Json::Null))
        }
        4 => Some((Json::Null, Json::Null)),
        5 => None,
        6 => {
            let v = match e2 % 5 {
                0 => json!("nope"),
                1 => json!(""),
                2 => json!("2024-13-45T99:00:00Z"),
                3 => json!([1, 2]),
                _ => json!({"t": 1}),
            };
            Some((v.clone(), v))
        }
        _ => {
            let v = match e2 % 6 {
                0 => json!(i64::MAX),
                1 => json!(i64::MIN),
                2 => json!(0),
                3 => json!(-5),
                4 => json!(u64::MAX),
                _ => json!(1e300),
            };
            Some((v.clone(), v))
        }
    };
    if let Some((es, py)) = stamps {
        let (es, py) = if es.is_null() {
            let ms = *now;
            let ft = ms
                .saturating_mul(10_000)
                .saturating_add(116_444_736_000_000_000);
            match (e1 >> 5) & 3 {
                0 => (json!(ms), json!(ft)),
                1 => (json!(rfc3339(ms)), json!(ft.to_string())),
                2 => (json!(ms.to_string()), json!(ft.to_string())),
                _ => (json!(ms as f64 + 0.5), json!(ft as f64)),
            }
        } else {
            (es, py)
        };
        o.insert("@timestamp".into(), es);
        o.insert("timestamp".into(), py);
    }
    if let Some(v) = vocab(e3) {
        o.insert("host".into(), json!({ "id": v }));
    }
    if let Some(v) = vocab(e3 >> 4) {
        o.insert("user".into(), json!({ "name": v.clone() }));
        o.insert("user_name".into(), v);
    }
    if let Some(v) = pid(e4) {
        o.insert("process".into(), json!({ "pid": v.clone() }));
        o.insert("pid".into(), v);
    }
    if let Some(v) = pid(e4 >> 3) {
        o.insert("ppid".into(), v);
    }
    match e4 >> 6 {
        0 => {
            o.insert("process_name".into(), json!("a"));
        }
        1 => {
            o.insert("process_name".into(), json!("b"));
        }
        2 => {
            o.insert("process_name".into(), json!("A"));
        }
        _ => {}
    }
    if let Some(v) = pid(e5) {
        o.insert("unique_pid".into(), v);
    }
    if let Some(v) = pid(e5 >> 4) {
        o.insert("unique_ppid".into(), v);
    }
    let dom = Json::Object(o);
    let push = match (e0 >> 3) & 3 {
        0 | 1 => Push::Dom,
        2 => Push::Json,
        _ => Push::Bad,
    };
    let mut bytes = serde_json::to_vec(&dom).unwrap_or_default();
    if push == Push::Bad {
        if e2 % 2 == 0 {
            bytes.pop();
        } else {
            bytes = b"[1, 2]".to_vec();
        }
    }
    StreamEvent { dom, bytes, push }
}

/// What became of a pushed handle.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fate {
    Pushed,
    Late,
    Rejected,
}

/// A decoded input: the plans (one over every query, or one per query),
/// the session options and the events.
pub(crate) struct Decoded {
    pub(crate) plans: Vec<Arc<SessionPlan>>,
    pub(crate) opts: SessionOptions,
    pub(crate) events: Vec<StreamEvent>,
}

/// Decodes one input (see the layout above).
#[allow(clippy::field_reassign_with_default)] // option structs are filled field by field
pub(crate) fn decode(data: &[u8]) -> Decoded {
    let mut b = Bytes(data);
    let flags = b.byte();
    let mut limits = SessionLimits::default();
    limits.max_partials = usize::from(b.byte() % 9);
    limits.max_keys = usize::from(b.byte() % 9);
    let window_ms = WINDOWS[usize::from(b.byte() % 9)];
    limits.max_held_hits = usize::from(b.byte() % 9);
    limits.max_samples_per_key = usize::from(b.byte() % 9);
    let n = 1 + usize::from(b.byte() % 4);
    let mut engines = Vec::new();
    for _ in 0..n {
        let (py, q) = QUERIES[usize::from(b.byte()) % QUERIES.len()];
        engines.push(compile(q, py).unwrap_or_else(|e| panic!("fixed query {q}: {e}")));
    }
    if flags & 16 != 0 {
        let len = usize::from(b.byte() % 64);
        let text = b.take(len);
        if let Ok(text) = std::str::from_utf8(text) {
            if let Ok(e) = compile(text, flags & 64 != 0) {
                engines.push(e);
            }
        }
    }
    let mut now = 1_700_000_000_000i64;
    let events: Vec<StreamEvent> =
        b.0.chunks_exact(6)
            .take(MAX_EVENTS)
            .map(|c| {
                let mut a = [0u8; 6];
                a.copy_from_slice(c);
                event(&a, &mut now)
            })
            .collect();
    let mut opts = SessionOptions::default();
    opts.limits = limits.clone();
    opts.order = match flags & 3 {
        1 => Some(StreamOrder::Window { window_ms }),
        2 => Some(StreamOrder::Arrival),
        3 => Some(StreamOrder::Bounded),
        _ => None,
    };
    opts.lineage = if flags & 32 != 0 {
        LineageOptions::endgame()
    } else {
        LineageOptions::default()
    };
    opts.samples_on_completion = flags & 4 != 0;
    opts.timestamp_field = (flags & 128 != 0).then(|| "@timestamp".to_owned());
    let plans: Vec<Arc<SessionPlan>> = if flags & 8 != 0 {
        engines.into_iter().map(Arc::from).collect()
    } else {
        vec![Arc::new(SessionPlan::new(engines))]
    };
    Decoded {
        plans,
        opts,
        events,
    }
}

/// The event a push gives the session (`None`: bad bytes, refused).
/// Read by `tests/release.rs` only.
#[allow(dead_code)]
pub(crate) fn pushed(ev: &StreamEvent) -> Option<&Json> {
    (!matches!(ev.push, Push::Bad)).then_some(&ev.dom)
}

/// Pushes one decoded event as it says (its DOM, its bytes, or bad bytes,
/// which `push_json` must refuse); true when the session took it.
pub(crate) fn push(s: &mut Session<u32>, h: u32, ev: &StreamEvent, out: &mut Matches<u32>) -> bool {
    match ev.push {
        Push::Dom => s.push(h, &ev.dom, out),
        Push::Json => {
            if let Err(e) = s.push_json(h, &ev.bytes, out) {
                panic!("push_json of a serialized object failed: {e}");
            }
        }
        Push::Bad => {
            assert!(
                s.push_json(h, &ev.bytes, out).is_err(),
                "push_json accepted bad bytes"
            );
            return false;
        }
    }
    true
}

/// Runs one input: decodes it, runs every session and checks it.
pub(crate) fn run(data: &[u8]) -> Summary {
    let Decoded {
        plans,
        opts,
        events,
    } = decode(data);
    let mut sum = Summary::default();
    for plan in &plans {
        let session = Session::new(Arc::clone(plan), opts.clone());
        check(session, plan.len(), &opts.limits, &events, &mut sum);
        bytes_equal_dom(plan, &opts, &events);
    }
    sum
}

/// One pushed event's outcome, as [`bytes_equal_dom`] compares them: a
/// result (rule, handles, join key, count, percent) or a late handle.
#[derive(Debug, PartialEq)]
enum Outcome {
    Result(
        usize,
        Vec<u32>,
        Vec<Value<'static>>,
        Option<u64>,
        Option<f64>,
    ),
    Late(u32),
}

/// An event made of the values a pack captured: a field it did not capture
/// reads as missing.
struct Captured<'a> {
    paths: &'a [FieldPath],
    values: &'a [(u32, Value<'static>)],
}

impl Event for Captured<'_> {
    fn get(&self, path: &FieldPath) -> Option<Value<'_>> {
        let k = self.paths.iter().position(|p| p == path)?;
        self.values
            .iter()
            .find(|(i, _)| *i as usize == k)
            .map(|(_, v)| v.clone())
    }
}

/// How [`bytes_equal_dom`] pushes the stream.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Dom,
    Bytes,
    Answered,
}

/// Pushes the stream through three fresh sessions over `plan`: every event
/// as its DOM (`push`), every event as its bytes (`push_json`, which reads
/// them through a projection, with no DOM), and every event with its step
/// queries answered by a pack over the bytes (`push_answered`), given as
/// the values the same pack captured of the session's `answered_fields`;
/// bad bytes are left out of all three. They must give exactly the same
/// results, late events and counters.
fn bytes_equal_dom(plan: &Arc<SessionPlan>, opts: &SessionOptions, events: &[StreamEvent]) {
    let transcript = |mode: Mode| {
        let mut s = Session::new(Arc::clone(plan), opts.clone());
        let fields = s.answered_fields();
        let steps: Vec<_> = plan.answerable().collect();
        let pack = Pack::from_queries(
            steps
                .iter()
                .filter_map(|&(i, q)| Some((i, plan.query(i)?, q))),
        )
        .capture(&fields);
        let mut hits = PackMatches::new();
        let mut out = Matches::new();
        let mut seen = Vec::new();
        let mut record = |out: &mut Matches<u32>| {
            for m in out.iter() {
                seen.push(Outcome::Result(
                    m.rule,
                    m.events.to_vec(),
                    m.key.to_vec(),
                    m.count,
                    m.percent,
                ));
            }
            seen.extend(out.late().iter().map(|&h| Outcome::Late(h)));
            out.clear();
        };
        for (i, ev) in events.iter().enumerate() {
            let h = i as u32;
            match (ev.push, mode) {
                (Push::Bad, _) => continue,
                (_, Mode::Bytes) => {
                    if let Err(e) = s.push_json(h, &ev.bytes, &mut out) {
                        panic!("push_json of a serialized object failed: {e}");
                    }
                }
                (_, Mode::Answered) => {
                    if let Err(e) = pack.matches_json(&ev.bytes, &mut hits) {
                        panic!("matches_json of a serialized object failed: {e}");
                    }
                    let event = Captured {
                        paths: &fields,
                        values: hits.captured(),
                    };
                    s.push_answered(h, &event, hits.rules(), &mut out);
                }
                (_, Mode::Dom) => s.push(h, &ev.dom, &mut out),
            }
            record(&mut out);
        }
        s.finish(&mut out);
        record(&mut out);
        (seen, s.stats())
    };
    let dom = transcript(Mode::Dom);
    assert_eq!(
        dom,
        transcript(Mode::Bytes),
        "push_json (right) differs from push (left)"
    );
    assert_eq!(
        dom,
        transcript(Mode::Answered),
        "push_answered (right) differs from push (left)"
    );
}

fn compile(q: &str, py: bool) -> Result<CompiledQuery, eql_engine::CompileError> {
    let opts = if py {
        CompileOptions::python()
    } else {
        CompileOptions::default()
    };
    CompiledQuery::compile(q, &opts)
}

/// Pushes the stream through one session, checking after every step.
fn check(
    mut s: Session<u32>,
    rules: usize,
    limits: &SessionLimits,
    events: &[StreamEvent],
    sum: &mut Summary,
) {
    let mut fates: Vec<Fate> = Vec::with_capacity(events.len() + 1);
    let mut out = Matches::new();
    let mut late = 0u64;
    let mut results = 0u64;
    let mut pushed = 0u64;
    for (i, ev) in events.iter().enumerate() {
        let h = i as u32;
        if push(&mut s, h, ev, &mut out) {
            pushed += 1;
            fates.push(Fate::Pushed);
        } else {
            fates.push(Fate::Rejected);
        }
        late += observe(&mut out, &mut fates, Some(h), &mut results);
        invariants(&s, rules, limits, pushed, late, results, "push");
    }
    s.finish(&mut out);
    late += observe(&mut out, &mut fates, None, &mut results);
    invariants(&s, rules, limits, pushed, late, results, "finish");
    assert_eq!(s.stats().held_hits, 0, "finish left hits held");
    // After `finish`, a push is late.
    let h = events.len() as u32;
    s.push(
        h,
        &json!({"@timestamp": 1, "event": {"category": "process"}}),
        &mut out,
    );
    fates.push(Fate::Pushed);
    pushed += 1;
    let n = observe(&mut out, &mut fates, Some(h), &mut results);
    assert_eq!(n, 1, "a push after finish must be late");
    late += n;
    invariants(&s, rules, limits, pushed, late, results, "after finish");

    let st = s.stats();
    sum.sessions += 1;
    sum.results += results;
    sum.late += late;
    sum.rejected += fates.iter().filter(|f| **f == Fate::Rejected).count() as u64;
    sum.evicted_partials += st.evicted_partials;
    sum.evicted_keys += st.evicted_keys;
    sum.expired += st.expired;
    sum.held_overflow += st.held_overflow;
    sum.peak_partials = sum.peak_partials.max(st.peak_partials);
    sum.peak_keys = sum.peak_keys.max(st.peak_keys);
}

/// Reads and empties `out`: the late handles (only `pushed`, the handle just
/// pushed, may be late) and the results (handles of pushed events only).
/// Returns the number of late events.
fn observe(
    out: &mut Matches<u32>,
    fates: &mut [Fate],
    pushed: Option<u32>,
    results: &mut u64,
) -> u64 {
    for &h in out.late() {
        assert_eq!(
            Some(h),
            pushed,
            "late handle {h} is not the event just pushed"
        );
        let f = fates.get_mut(h as usize).expect("late handle in range");
        assert_eq!(*f, Fate::Pushed, "late handle {h}");
        *f = Fate::Late;
    }
    for m in out.iter() {
        for &h in m.events {
            let fate = fates.get(h as usize).copied();
            assert!(
                matches!(fate, Some(Fate::Pushed | Fate::Late)),
                "result of rule {} holds handle {h} ({fate:?}, {} handles so far)",
                m.rule,
                fates.len()
            );
        }
    }
    *results += out.len() as u64;
    let n = out.late().len() as u64;
    out.clear();
    n
}

fn invariants(
    s: &Session<u32>,
    rules: usize,
    limits: &SessionLimits,
    pushed: u64,
    late: u64,
    results: u64,
    at: &str,
) {
    let st = s.stats();
    assert!(
        st.partials <= rules * limits.max_partials,
        "{at}: {} partials over {rules} rules × max_partials {}",
        st.partials,
        limits.max_partials
    );
    assert!(
        st.keys <= rules * limits.max_keys + st.partials,
        "{at}: {} keys over {rules} rules × max_keys {} + {} partials",
        st.keys,
        limits.max_keys,
        st.partials
    );
    assert!(
        st.held_hits <= limits.max_held_hits,
        "{at}: {} held over max_held_hits {}",
        st.held_hits,
        limits.max_held_hits
    );
    assert_eq!(st.events, pushed, "{at}: events");
    assert_eq!(st.late, late, "{at}: late");
    assert_eq!(st.matches, results, "{at}: matches");
}
