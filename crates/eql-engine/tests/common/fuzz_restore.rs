//! Decoding and checks of the `restore` fuzz target, shared with
//! `crates/eql-engine/tests/snapshot.rs` (both include this file with
//! `#[path]`), over the `session` target's streams (`fuzz_session.rs`).
//!
//! Input layout: byte 0 bit 0 picks the mode.
//!
//! - 0, *raw*: the rest is a snapshot's bytes (JSON), restored over a plan
//!   of every query of `fuzz_session::QUERIES`; byte 0 bits 1–2 pick the
//!   stream order. A snapshot that restores then runs a fixed stream to
//!   `finish`.
//! - 1, *mutated*: bytes 1–2 say where to split the stream (in 1/65536ths,
//!   past the end: after `finish`), byte 3 the number of edits `n % 5`, then
//!   4 bytes per edit (a position in the snapshot's JSON bytes, little
//!   endian, `b % 4`: flip the bits of the byte, set it, delete it,
//!   truncate there; the byte), then a `session` target input. The stream
//!   runs to the split, is snapshotted to JSON, edited and restored. With
//!   no edit the restored session must give exactly what the session that
//!   never stopped gives ([`split_run`]).
//!
//! Checks: no panic; a snapshot that restores runs on within the caps its
//! limits promise (`partials`, `keys`, `held_hits`, none held after
//! `finish`).

use eql_engine::{
    CompiledQuery, Matches, Session, SessionOptions, SessionPlan, SessionSnapshot, SessionStats,
    StreamOrder, Value,
};
use serde_json::json;
use std::sync::Arc;

#[path = "fuzz_session.rs"]
pub(crate) mod session;

/// What a session gives, in order: results, late handles, and its counters
/// after every push and at the end.
#[derive(Debug, PartialEq)]
pub(crate) enum Seen {
    Result {
        rule: usize,
        events: Vec<u32>,
        missing: Vec<u16>,
        key: Vec<Value<'static>>,
        count: Option<u64>,
        percent: Option<u64>,
    },
    Late(u32),
    Stats(SessionStats),
}

pub(crate) fn record(s: &Session<u32>, out: &mut Matches<u32>, seen: &mut Vec<Seen>) {
    for m in out.iter() {
        seen.push(Seen::Result {
            rule: m.rule,
            events: m.events.to_vec(),
            missing: m.missing.to_vec(),
            key: m.key.to_vec(),
            count: m.count,
            percent: m.percent.map(f64::to_bits),
        });
    }
    seen.extend(out.late().iter().map(|&h| Seen::Late(h)));
    seen.push(Seen::Stats(s.stats()));
    out.clear();
}

/// The same queries compiled with `unique_pid` as their tiebreaker field
/// (the stream's `unique_pid` is missing, null, an integer, a digit string
/// or a float: every kind of tiebreaker).
pub(crate) fn with_tiebreaker(plan: &SessionPlan) -> Arc<SessionPlan> {
    let queries = (0..plan.len()).filter_map(|i| plan.query(i)).map(|q| {
        let mut opts = q.options().clone();
        opts.tiebreaker_field = Some("unique_pid".to_owned());
        CompiledQuery::from_query(q.query().clone(), &opts).expect("recompiles")
    });
    Arc::new(SessionPlan::new(queries))
}

/// What the state held when it was snapshotted, and what came after.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Split {
    pub(crate) partials: bool,
    pub(crate) keys: bool,
    pub(crate) held: bool,
    pub(crate) results_after: bool,
    pub(crate) restored: usize,
}

/// Runs the stream through `plan` twice: once whole, once snapshotted
/// after `split` events (after `finish` when `split` is past the end),
/// written to JSON, read back, restored and run on. Both must see the
/// same; the restored session must snapshot to the same snapshot.
pub(crate) fn split_run(
    plan: &Arc<SessionPlan>,
    opts: &SessionOptions,
    events: &[session::StreamEvent],
    split: usize,
) -> Split {
    let run = |split: Option<usize>, info: &mut Split| {
        let mut s: Session<u32> = Session::new(Arc::clone(plan), opts.clone());
        let mut out = Matches::new();
        let mut seen = Vec::new();
        let mut cut = |s: Session<u32>, seen: &[Seen]| -> Session<u32> {
            let snap = s.snapshot();
            let st = s.stats();
            info.partials = st.partials > 0;
            info.keys = st.keys > 0;
            info.held = st.held_hits > 0;
            info.restored = seen.len();
            let bytes = serde_json::to_vec(&snap).expect("a snapshot serializes");
            drop(s);
            let back: SessionSnapshot<u32> =
                serde_json::from_slice(&bytes).expect("a snapshot deserializes");
            assert_eq!(back, snap, "JSON round trip");
            let r = Session::restore(Arc::clone(plan), opts.clone(), back)
                .unwrap_or_else(|e| panic!("restore: {e}"));
            assert_eq!(r.snapshot(), snap, "a restored session snapshots the same");
            assert_eq!(r.stats(), st, "restored counters");
            r
        };
        for (i, ev) in events.iter().enumerate() {
            if split == Some(i) {
                s = cut(s, &seen);
            }
            session::push(&mut s, i as u32, ev, &mut out);
            record(&s, &mut out, &mut seen);
        }
        if split == Some(events.len()) {
            s = cut(s, &seen);
        }
        s.finish(&mut out);
        record(&s, &mut out, &mut seen);
        if split.is_some_and(|k| k > events.len()) {
            s = cut(s, &seen);
        }
        let h = events.len() as u32;
        s.push(
            h,
            &json!({"@timestamp": 1, "event": {"category": "process"}}),
            &mut out,
        );
        record(&s, &mut out, &mut seen);
        seen
    };
    let mut info = Split::default();
    let whole = run(None, &mut Split::default());
    let split_seen = run(Some(split), &mut info);
    if let Some(at) =
        (0..whole.len().max(split_seen.len())).find(|&i| whole.get(i) != split_seen.get(i))
    {
        panic!(
            "restored after {split} events: at {at}, whole run {:?}, restored {:?}",
            &whole[at.saturating_sub(1)..whole.len().min(at + 2)],
            &split_seen[at.saturating_sub(1)..split_seen.len().min(at + 2)],
        );
    }
    info.results_after = whole
        .iter()
        .skip(info.restored)
        .any(|s| matches!(s, Seen::Result { .. }));
    info
}

/// Runs every plan of one fuzz input, split at `split` (a fraction of the
/// stream, in 1/256ths, past the end: after `finish`).
pub(crate) fn check_input(data: &[u8], split: u16, tie: bool) -> Vec<Split> {
    let d = session::decode(data);
    let at = (usize::from(split) * (d.events.len() + 2)) / 256;
    d.plans
        .iter()
        .map(|plan| {
            let plan = if tie {
                with_tiebreaker(plan)
            } else {
                Arc::clone(plan)
            };
            split_run(&plan, &d.opts, &d.events, at)
        })
        .collect()
}

/// A fuzz input: the header (no query from text, so every later byte is an
/// event) and the event bytes.
pub(crate) fn input(head: &[u8], events: &[u8]) -> Vec<u8> {
    let mut data = head.to_vec();
    if let Some(flags) = data.first_mut() {
        *flags &= !16;
    }
    data.extend_from_slice(events);
    data
}

/// The caps a session's counters stay within (as `fuzz_session.rs` checks
/// them).
fn within_caps(s: &Session<u32>, rules: usize, opts: &SessionOptions) {
    let st = s.stats();
    let l = &opts.limits;
    assert!(st.partials <= 2 * rules * l.max_partials, "{st:?}");
    assert!(st.keys <= rules * l.max_keys + st.partials, "{st:?}");
    assert!(st.held_hits <= l.max_held_hits, "{st:?}");
    let _ = s.low_watermark();
}

/// Runs a restored session over `events` to `finish`, checking the caps.
fn run_on(
    mut s: Session<u32>,
    rules: usize,
    opts: &SessionOptions,
    events: &[session::StreamEvent],
) {
    let mut out = Matches::new();
    within_caps(&s, rules, opts);
    for (i, ev) in events.iter().enumerate() {
        session::push(&mut s, 1_000_000 + i as u32, ev, &mut out);
        out.clear();
        within_caps(&s, rules, opts);
    }
    s.finish(&mut out);
    within_caps(&s, rules, opts);
    assert_eq!(s.stats().held_hits, 0, "finish left hits held");
}

/// Runs one input (see the layout above); true when a snapshot restored.
pub(crate) fn run(data: &[u8]) -> bool {
    let Some((&mode, rest)) = data.split_first() else {
        return false;
    };
    if mode & 1 == 0 {
        raw(mode, rest)
    } else {
        mutated(rest)
    }
}

/// The plan of the raw mode: every query of the `session` target.
pub(crate) fn raw_plan() -> Arc<SessionPlan> {
    Arc::new(SessionPlan::new(session::QUERIES.iter().map(|(py, q)| {
        let opts = if *py {
            eql_engine::CompileOptions::python()
        } else {
            eql_engine::CompileOptions::default()
        };
        CompiledQuery::compile(q, &opts).unwrap_or_else(|e| panic!("fixed query {q}: {e}"))
    })))
}

/// The session options of the raw mode.
fn raw_opts(mode: u8) -> SessionOptions {
    let mut opts = SessionOptions::default();
    opts.order = match (mode >> 1) & 3 {
        1 => Some(StreamOrder::Window { window_ms: 1000 }),
        2 => Some(StreamOrder::Arrival),
        3 => Some(StreamOrder::Bounded),
        _ => None,
    };
    opts
}

/// `n` events of the `session` target from a seed (xorshift).
fn stream(n: usize, mut seed: u64) -> Vec<session::StreamEvent> {
    let mut bytes = vec![0u8; 11];
    for _ in 0..n * 6 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        bytes.push(seed as u8);
    }
    session::decode(&bytes).events
}

/// A raw-mode input holding a real snapshot: every query of the plan over
/// 24 events of `seed`, in the stream order `mode` picks.
pub(crate) fn raw_seed(mode: u8, seed: u64) -> Vec<u8> {
    let plan = raw_plan();
    let mode = mode & !1;
    let mut s: Session<u32> = Session::new(plan, raw_opts(mode));
    let mut out = Matches::new();
    for (i, ev) in stream(24, seed).iter().enumerate() {
        session::push(&mut s, i as u32, ev, &mut out);
        out.clear();
    }
    let mut data = vec![mode];
    data.extend(serde_json::to_vec(&s.snapshot()).expect("a snapshot serializes"));
    data
}

fn raw(mode: u8, bytes: &[u8]) -> bool {
    let Ok(snap) = serde_json::from_slice::<SessionSnapshot<u32>>(bytes) else {
        return false;
    };
    let plan = raw_plan();
    let opts = raw_opts(mode);
    let Ok(s) = Session::restore(Arc::clone(&plan), opts.clone(), snap) else {
        return false;
    };
    run_on(s, plan.len(), &opts, &stream(20, 7));
    true
}

fn mutated(data: &[u8]) -> bool {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let split = u16::from_le_bytes([byte(0), byte(1)]);
    let edits: Vec<[u8; 4]> = (0..usize::from(byte(2) % 5))
        .map(|k| {
            let at = 3 + 4 * k;
            [byte(at), byte(at + 1), byte(at + 2), byte(at + 3)]
        })
        .collect();
    let input = data.get(3 + 4 * edits.len()..).unwrap_or_default();
    let d = session::decode(input);
    let Some(plan) = d.plans.first() else {
        return false;
    };
    let at = (usize::from(split) * (d.events.len() + 2)) >> 16;
    if edits.is_empty() {
        split_run(plan, &d.opts, &d.events, at);
        return true;
    }
    let mut s: Session<u32> = Session::new(Arc::clone(plan), d.opts.clone());
    let mut out = Matches::new();
    for (i, ev) in d.events.iter().take(at).enumerate() {
        session::push(&mut s, i as u32, ev, &mut out);
        out.clear();
    }
    if at > d.events.len() {
        s.finish(&mut out);
    }
    let mut bytes = serde_json::to_vec(&s.snapshot()).expect("a snapshot serializes");
    for [lo, hi, kind, b] in edits {
        if bytes.is_empty() {
            break;
        }
        let pos = usize::from(u16::from_le_bytes([lo, hi])) % bytes.len();
        match kind % 4 {
            0 => bytes[pos] ^= b.max(1),
            1 => bytes[pos] = b,
            2 => {
                bytes.remove(pos);
            }
            _ => bytes.truncate(pos),
        }
    }
    let Ok(snap) = serde_json::from_slice::<SessionSnapshot<u32>>(&bytes) else {
        return false;
    };
    let Ok(r) = Session::restore(Arc::clone(plan), d.opts.clone(), snap) else {
        return false;
    };
    run_on(
        r,
        plan.len(),
        &d.opts,
        d.events.get(at..).unwrap_or_default(),
    );
    true
}
