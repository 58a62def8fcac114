//! Checkpoints. A session snapshotted at any point of its stream, written to
//! JSON, read back and restored goes on exactly as the session that never
//! stopped: the same results, late events and counters after every push and
//! at `finish` (random streams of the `session` fuzz target's decoding,
//! `tests/common/fuzz_session.rs`: sequences with keys, `maxspan`, `until`
//! and `![...]` steps, samples, Python joins and lineage, `head`/`tail` and
//! the Python pipes, in every stream order with out-of-order input, small
//! limits, and optionally a tiebreaker field). A restored session snapshots
//! to the same snapshot. Corrupted bytes, another version, another plan or
//! other options, and a state over the limits are typed errors. The low
//! watermark is a bound on every handle a later result holds.
#![cfg(feature = "serde")]
#![allow(missing_docs)]
// Option structs are filled field by field, as code outside the crate fills
// `#[non_exhaustive]` ones.
#![allow(clippy::field_reassign_with_default)]

#[path = "common/fuzz_restore.rs"]
#[allow(dead_code)]
mod fuzz_restore;

use fuzz_restore::{check_input, input, session as session_fuzz, Split};

mod common;

use eql_engine::{
    CompileOptions, CompiledQuery, Matches, Session, SessionOptions, SessionPlan, SessionSnapshot,
    SnapshotError, StreamOrder,
};
use proptest::prelude::*;
use serde_json::json;
use std::sync::Arc;

/// Events in the decoder's layout, biased towards sequences that meet
/// their keys within `maxspan`: a known category, `host.id` `"a"` or `"b"`,
/// time forward by 0–3 s (now and then backward).
fn dense_events() -> impl Strategy<Value = Vec<u8>> {
    let one = (
        0u8..4,
        prop::bool::weighted(0.15),
        0u8..4,
        any::<bool>(),
        any::<[u8; 2]>(),
    )
        .prop_map(|(cat, back, step, b, rest)| {
            // Time step kind (forward 0, backward 3), scale 1000 ms.
            let e1 = (3 << 3) | if back { 3 } else { 0 };
            let e3 = if b { 4 } else { 2 };
            vec![cat, e1, step, e3, rest[0], rest[1]]
        });
    prop::collection::vec(one, 0..80).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_restored_session_goes_on_as_one_that_never_stopped(
        head in prop::collection::vec(any::<u8>(), 11),
        events in prop::collection::vec(any::<u8>(), 0..(6 * 100)),
        split in 0u16..256,
        tie in any::<bool>(),
    ) {
        let splits = check_input(&input(&head, &events), split, tie);
        prop_assert!(!splits.is_empty());
    }

    /// The same over streams where sequences with `![...]` steps, `until`,
    /// `runs` and samples keep meeting their keys.
    #[test]
    fn a_restored_sequence_goes_on_as_one_that_never_stopped(
        flags in 0u8..8,
        limits in prop::collection::vec(2u8..9, 5),
        queries in prop::sample::subsequence(vec![1u8, 2, 3, 4, 10, 11, 12, 16, 17, 26], 4),
        events in dense_events(),
        split in 0u16..256,
    ) {
        let mut head = vec![flags];
        head.extend(limits);
        head.push(3);
        head.extend(queries);
        let splits = check_input(&input(&head, &events), split, false);
        prop_assert!(!splits.is_empty());
    }
}

/// The stream generator reaches the states worth restoring: over fixed
/// pseudo-random inputs, snapshots hold partial sequences, join keys and
/// held hits, and results come after the restore, in every order mode.
#[test]
fn restores_cover_live_state() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut total = Split::default();
    let mut counts = [0usize; 4];
    for i in 0..96u32 {
        // Mostly known categories and forward time, limits of 3 and more.
        let mut head: Vec<u8> = (0..11).map(|_| next() as u8).collect();
        head[0] = (head[0] & !3) | (i % 4) as u8;
        for b in &mut head[1..6] {
            *b = 3 + *b % 6;
        }
        let events: Vec<u8> = (0..60 * 6)
            .map(|k| {
                let b = next() as u8;
                match k % 6 {
                    0 => b & 0b1110_0111 & !4,
                    1 => b & 0b0110_0011 & !3 | (b % 3),
                    _ => b,
                }
            })
            .collect();
        for s in check_input(&input(&head, &events), 128, i % 8 == 0) {
            counts[(i % 4) as usize] += usize::from(s.results_after);
            total.partials |= s.partials;
            total.keys |= s.keys;
            total.held |= s.held;
            total.results_after |= s.results_after;
        }
    }
    assert!(
        total.partials && total.keys && total.held && total.results_after,
        "{total:?}"
    );
    assert!(
        counts.iter().all(|&n| n > 0),
        "results after a restore per order mode: {counts:?}"
    );
}

/// The `restore` fuzz target's checks over its committed seeds (each a real
/// snapshot that must restore; `EQL_WRITE_SEEDS=1` writes them again after
/// a format change) and over pseudo-random inputs of both modes.
#[test]
fn restore_fuzz_target_seeds_and_inputs() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/restore");
    for (k, mode) in [0u8, 2, 4, 6].into_iter().enumerate() {
        let path = dir.join(format!("raw-{k}.json"));
        if std::env::var_os("EQL_WRITE_SEEDS").is_some() {
            std::fs::create_dir_all(&dir).expect("seed folder");
            std::fs::write(&path, fuzz_restore::raw_seed(mode, 40 + k as u64)).expect("seed");
        }
        let seed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            fuzz_restore::run(&seed),
            "{} does not restore",
            path.display()
        );
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut restored = 0;
    for i in 0..64u32 {
        let mut data: Vec<u8> = (0..400)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        // Mutated mode, no query text; a quarter without an edit.
        data[0] = 1;
        data[3] = if i % 4 == 0 { 0 } else { data[3] };
        let flags = 4 + 4 * usize::from(data[3] % 5);
        data[flags] &= !16;
        restored += usize::from(fuzz_restore::run(&data));
    }
    assert!(restored >= 16, "{restored} of 64 restored");
}

// ---------------------------------------------------------------------------
// Refusals

const QUERIES: &[&str] = &[
    "sequence by k with maxspan=10s [process where true] [file where true] ![network where true]",
    "sample by k [process where true] [file where true]",
    "any where true | tail 3",
];

fn plan() -> Arc<SessionPlan> {
    Arc::new(SessionPlan::new(QUERIES.iter().map(|q| {
        CompiledQuery::compile(q, &CompileOptions::default()).expect("compiles")
    })))
}

fn stream_opts() -> SessionOptions {
    let mut o = SessionOptions::default();
    o.order = Some(StreamOrder::Window { window_ms: 5_000 });
    o
}

/// A session in the middle of a stream: partials, sample keys, held hits,
/// a tail buffer.
fn busy() -> (Session<u64>, Vec<serde_json::Value>) {
    let events: Vec<serde_json::Value> = (0..40u64)
        .map(|i| {
            let cat = ["process", "file", "network"][(i % 3) as usize];
            json!({"@timestamp": 1_000 * i - 700 * (i % 2), "event": {"category": cat}, "k": format!("k{}", i % 5)})
        })
        .collect();
    let mut s = Session::new(plan(), stream_opts());
    let mut out = Matches::new();
    for (i, e) in events.iter().enumerate().take(30) {
        s.push(i as u64, e, &mut out);
    }
    (s, events)
}

/// Restores `bytes`; a snapshot that restores must run the rest of the
/// stream and `finish` within its limits.
fn try_restore(bytes: &[u8], rest: &[serde_json::Value]) -> Result<(), String> {
    let snap: SessionSnapshot<u64> = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let opts = stream_opts();
    let mut s = Session::restore(plan(), opts.clone(), snap).map_err(|e| e.to_string())?;
    let mut out = Matches::new();
    for (i, e) in rest.iter().enumerate() {
        s.push(100 + i as u64, e, &mut out);
    }
    s.finish(&mut out);
    let st = s.stats();
    // Per rule: partials, and as many sequences waiting for a trailing event.
    assert!(st.partials <= 2 * QUERIES.len() * opts.limits.max_partials);
    assert!(st.keys <= QUERIES.len() * opts.limits.max_keys + st.partials);
    assert_eq!(st.held_hits, 0);
    Ok(())
}

#[test]
fn corrupted_bytes_are_errors_or_consistent_sessions() {
    let (s, events) = busy();
    let st = s.stats();
    assert!(st.partials > 0 && st.keys > 0 && st.held_hits > 0, "{st:?}");
    let bytes = serde_json::to_vec(&s.snapshot()).expect("serializes");
    let rest = &events[30..];
    assert_eq!(try_restore(&bytes, rest), Ok(()));
    // Every truncation is an error.
    for n in (0..bytes.len()).step_by(7) {
        assert!(try_restore(&bytes[..n], rest).is_err(), "truncated at {n}");
    }
    // A flipped byte is an error or a session that still holds together.
    let mut refused = 0;
    let mut flips = 0;
    for at in (0..bytes.len()).step_by(3) {
        for mask in [0x01u8, 0x08, 0x20, 0x80] {
            let mut b = bytes.clone();
            b[at] ^= mask;
            flips += 1;
            refused += usize::from(try_restore(&b, rest).is_err());
        }
    }
    assert!(refused * 2 > flips, "{refused} of {flips} flips refused");
}

#[test]
fn indexes_out_of_range_are_invalid() {
    let (s, _) = busy();
    let json = serde_json::to_value(s.snapshot()).expect("serializes");
    let restore = |v: &serde_json::Value| {
        let snap: SessionSnapshot<u64> = serde_json::from_value(v.clone()).expect("deserializes");
        Session::restore(plan(), stream_opts(), snap).err()
    };
    let seq = &json["state"]["rules"][0]["body"]["Seq"];
    assert!(
        seq["parts"].as_array().is_some_and(|p| !p.is_empty()),
        "{seq}"
    );
    let invalid = |e: Option<SnapshotError>| matches!(e, Some(SnapshotError::Invalid { .. }));
    // A partial sequence pointing past the key table.
    let mut v = json.clone();
    v["state"]["rules"][0]["body"]["Seq"]["parts"][0]["key"] = json!(1_000_000);
    assert!(invalid(restore(&v)));
    // At a stage the sequence does not have.
    let mut v = json.clone();
    v["state"]["rules"][0]["body"]["Seq"]["parts"][0]["stage"] = json!(7);
    assert!(invalid(restore(&v)));
    // A held hit of a rule the plan does not have, of a step its rule lacks.
    let mut v = json.clone();
    v["state"]["order"]["held"][0]["hit"]["rule"] = json!(9);
    assert!(invalid(restore(&v)));
    let mut v = json.clone();
    v["state"]["order"]["held"][0]["hit"]["kind"] = json!({"Step": 40});
    assert!(invalid(restore(&v)));
    // The state of a sample where the rule is a sequence.
    let mut v = json.clone();
    v["state"]["rules"][0]["body"] = json["state"]["rules"][1]["body"].clone();
    assert!(invalid(restore(&v)));
    // A malformed value (an array that says it holds more than follows).
    let mut v = json.clone();
    v["state"]["rules"][0]["body"]["Seq"]["keys"][0] = json!([{"a": 3}, {"s": "x"}]);
    assert!(invalid(restore(&v)));
    // Counters that disagree with the state.
    let mut v = json.clone();
    v["state"]["stats"]["peak_partials"] = json!(0);
    assert!(invalid(restore(&v)));
    // An unknown field.
    let mut v = json.clone();
    v["state"]["extra"] = json!(1);
    assert!(serde_json::from_value::<SessionSnapshot<u64>>(v).is_err());
}

#[test]
fn another_version_plan_or_options_is_refused() {
    let (s, _) = busy();
    let mut json = serde_json::to_value(s.snapshot()).expect("serializes");
    json["version"] = json!(SessionSnapshot::<u64>::VERSION + 1);
    let snap: SessionSnapshot<u64> = serde_json::from_value(json).expect("deserializes");
    assert_eq!(
        Session::restore(plan(), stream_opts(), snap).err(),
        Some(SnapshotError::Version {
            found: SessionSnapshot::<u64>::VERSION + 1,
            expected: SessionSnapshot::<u64>::VERSION
        })
    );
    let fewer = Arc::new(SessionPlan::new(QUERIES[..2].iter().map(|q| {
        CompiledQuery::compile(q, &CompileOptions::default()).expect("compiles")
    })));
    assert_eq!(
        Session::restore(fewer, stream_opts(), s.snapshot()).err(),
        Some(SnapshotError::QueryCount {
            found: 3,
            expected: 2
        })
    );
    // Same text, another dialect; the same query with another tiebreaker.
    let mut py = CompileOptions::python();
    py.timestamp_field = "@timestamp".into();
    py.category_field = "event.category".into();
    let mut tie = CompileOptions::default();
    tie.tiebreaker_field = Some("seq".into());
    for (i, opts) in [(1, py), (2, tie)] {
        let other = Arc::new(SessionPlan::new(QUERIES.iter().enumerate().map(
            |(k, q)| {
                let o = if k == i {
                    opts.clone()
                } else {
                    CompileOptions::default()
                };
                CompiledQuery::compile(q, &o).expect("compiles")
            },
        )));
        assert_eq!(
            Session::restore(other, stream_opts(), s.snapshot()).err(),
            Some(SnapshotError::QueryMismatch { query: i })
        );
    }
    // Another order, another timestamp field, samples on completion.
    let mut bounded = stream_opts();
    bounded.order = Some(StreamOrder::Bounded);
    let mut ts = stream_opts();
    ts.timestamp_field = Some("ts".into());
    let mut early = stream_opts();
    early.samples_on_completion = true;
    // One worker's share of the rules is not another's.
    let p = plan();
    let routing = Arc::new(eql_engine::Routing::new(
        (0..p.len()).filter_map(|i| p.query(i)),
        2,
    ));
    let mut shard = stream_opts();
    shard.shard = Some(eql_engine::Shard::new(routing, 1));
    for o in [bounded, ts, early, shard] {
        assert_eq!(
            Session::restore(plan(), o, s.snapshot()).err(),
            Some(SnapshotError::OptionsMismatch)
        );
    }
    // Limits may change as long as the state fits them.
    let mut roomy = stream_opts();
    roomy.limits.max_partials *= 2;
    roomy.event_limits.max_line_bytes /= 2;
    assert!(Session::restore(plan(), roomy, s.snapshot()).is_ok());
}

#[test]
fn a_state_over_the_limits_is_refused() {
    let (s, _) = busy();
    let st = s.stats();
    let mut tight = stream_opts();
    tight.limits.max_held_hits = st.held_hits - 1;
    assert!(matches!(
        Session::restore(plan(), tight, s.snapshot()).err(),
        Some(SnapshotError::OverLimit {
            rule: None,
            limit: "max_held_hits",
            ..
        })
    ));
    let mut tight = stream_opts();
    tight.limits.max_keys = 1;
    assert!(matches!(
        Session::restore(plan(), tight, s.snapshot()).err(),
        Some(SnapshotError::OverLimit {
            limit: "max_keys",
            ..
        })
    ));
    let mut tight = stream_opts();
    tight.limits.max_partials = 0;
    assert!(matches!(
        Session::restore(plan(), tight, s.snapshot()).err(),
        Some(SnapshotError::OverLimit {
            rule: Some(0),
            limit: "max_partials",
            ..
        })
    ));
}

/// A value nested deeper than the event limits allow is refused; one within
/// them comes back whole.
#[test]
fn deep_values_round_trip_within_the_depth_limit() {
    let q = CompiledQuery::compile(
        "sequence [process where true] [file where true]",
        &CompileOptions::python(),
    )
    .expect("compiles");
    let q = Arc::new(SessionPlan::new([q]));
    let deep = |n: usize| {
        let mut v = json!("x");
        for _ in 0..n {
            v = json!([v]);
        }
        v
    };
    let run = |depth: usize| {
        let mut s = Session::<u32>::new(Arc::clone(&q), SessionOptions::default());
        let mut out = Matches::new();
        s.push(
            0,
            &json!({"event_type": "process", "timestamp": 1, "pid": deep(depth)}),
            &mut out,
        );
        // The pid is no key nor capture: put the depth into a join key.
        let k = CompiledQuery::compile(
            "sequence by pid [process where true] [file where true]",
            &CompileOptions::python(),
        )
        .expect("compiles");
        let kp = Arc::new(SessionPlan::new([k]));
        let mut s = Session::<u32>::new(Arc::clone(&kp), SessionOptions::default());
        s.push(
            0,
            &json!({"event_type": "process", "timestamp": 1, "pid": deep(depth)}),
            &mut out,
        );
        let bytes = serde_json::to_vec(&s.snapshot()).expect("serializes");
        let snap: SessionSnapshot<u32> =
            serde_json::from_slice(&bytes).expect("no recursion limit");
        Session::restore(kp, SessionOptions::default(), snap).map(|r| r.snapshot() == s.snapshot())
    };
    assert_eq!(run(100), Ok(true));
    assert!(matches!(run(300), Err(SnapshotError::Invalid { .. })));
}

// ---------------------------------------------------------------------------
// Low watermark

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// No result emitted after the watermark is read holds an older event
    /// than the watermark (none at all when it is `None`).
    #[test]
    fn no_later_result_holds_an_event_below_the_watermark(
        head in prop::collection::vec(any::<u8>(), 11),
        events in prop::collection::vec(any::<u8>(), 0..(6 * 100)),
    ) {
        let d = session_fuzz::decode(&input(&head, &events));
        for plan in &d.plans {
            let mut s: Session<u32> = Session::new(Arc::clone(plan), d.opts.clone());
            let mut out = Matches::new();
            // (events pushed so far, watermark then)
            let mut marks: Vec<(u32, Option<u32>)> = Vec::new();
            let check = |out: &mut Matches<u32>, marks: &[(u32, Option<u32>)]| {
                for m in out.iter() {
                    for &h in m.events {
                        for &(pushed, low) in marks {
                            // Only events already pushed when the mark was read.
                            if h < pushed {
                                assert!(low.is_some_and(|l| h >= l),
                                    "rule {} emitted {h} after the watermark {low:?} at {pushed}", m.rule);
                            }
                        }
                    }
                }
                out.clear();
            };
            for (i, ev) in d.events.iter().enumerate() {
                session_fuzz::push(&mut s, i as u32, ev, &mut out);
                check(&mut out, &marks);
                marks.push((i as u32 + 1, s.low_watermark().copied()));
            }
            s.finish(&mut out);
            check(&mut out, &marks);
            prop_assert_eq!(s.low_watermark(), None);
        }
    }
}

#[test]
fn watermark_is_the_oldest_held_event() {
    let q = CompiledQuery::compile(
        "sequence by k [a where true] [b where true] | tail 5",
        &CompileOptions::default(),
    )
    .expect("compiles");
    let mut opts = SessionOptions::default();
    opts.order = Some(StreamOrder::Window { window_ms: 1_000 });
    let mut s = Session::<u64>::new(&q, opts);
    let mut out = Matches::new();
    let ev = |t: i64, c: &str, k: &str| json!({"@timestamp": t, "event": {"category": c}, "k": k});
    assert_eq!(s.low_watermark(), None);
    s.push(7, &ev(10_000, "a", "x"), &mut out);
    // Held in the reorder window.
    assert_eq!(s.low_watermark(), Some(&7));
    s.push(8, &ev(20_000, "a", "y"), &mut out);
    // 7 now runs and starts a partial sequence; 8 is held.
    assert_eq!(s.low_watermark(), Some(&7));
    s.push(9, &ev(30_000, "b", "x"), &mut out);
    // 7 and 9 complete into the `tail` buffer, which holds them to the end.
    assert_eq!(s.low_watermark(), Some(&7));
    s.finish(&mut out);
    assert_eq!(out.get(0).map(|m| m.events), Some(&[7u64, 9][..]));
    assert_eq!(s.low_watermark(), None);

    // Without a blocking pipe, a completed sequence frees its events.
    let q = CompiledQuery::compile(
        "sequence by k [a where true] [b where true]",
        &CompileOptions::default(),
    )
    .expect("compiles");
    let mut opts = SessionOptions::default();
    opts.order = Some(StreamOrder::Window { window_ms: 0 });
    let mut s = Session::<u64>::new(&q, opts);
    s.push(1, &ev(1_000, "a", "x"), &mut out);
    s.push(2, &ev(2_000, "a", "y"), &mut out);
    s.push(3, &ev(3_000, "b", "x"), &mut out);
    assert_eq!(s.low_watermark(), Some(&2));
    s.push(4, &ev(4_000, "b", "y"), &mut out);
    assert_eq!(s.low_watermark(), None);
}

/// The Elastic detection rules over the reference events, in both bounded
/// and windowed order: snapshotted half way, written to JSON and restored,
/// the session gives the alerts and counters of the run that never stopped.
#[test]
#[ignore = "needs the shared corpus: set EQL_SHARED"]
fn corpus_session_restored_half_way_gives_the_same_alerts() {
    let corpus = common::shared_file("corpus/detection-rules-eql.jsonl");
    let (all, errors) = eql_engine::RuleSet::from_path(&corpus);
    assert!(errors.is_empty(), "the shared corpus loads: {errors:?}");
    let (pack, _errors) = all.compile(&CompileOptions::default());
    let events: Vec<serde_json::Value> = common::events(20_000)
        .iter()
        .map(|l| serde_json::from_slice(l).expect("reference events are JSON"))
        .collect();
    for order in [StreamOrder::Bounded, StreamOrder::window()] {
        let mut opts = SessionOptions::default();
        opts.order = Some(order);
        let run = |split: Option<usize>| {
            let mut s = Session::<u32>::new(&pack, opts.clone());
            let mut out = Matches::new();
            let mut alerts = Vec::new();
            for (i, e) in events.iter().enumerate() {
                if split == Some(i) {
                    let bytes = serde_json::to_vec(&s.snapshot()).expect("serializes");
                    eprintln!(
                        "{order:?}: snapshot after {i} events: {} bytes, {:?}",
                        bytes.len(),
                        s.stats()
                    );
                    let snap = serde_json::from_slice(&bytes).expect("deserializes");
                    s = Session::restore(&pack, opts.clone(), snap).expect("restores");
                }
                s.push(i as u32, e, &mut out);
                alerts.extend(out.iter().map(|m| (m.rule, m.events.to_vec())));
                out.clear();
            }
            s.finish(&mut out);
            alerts.extend(out.iter().map(|m| (m.rule, m.events.to_vec())));
            (alerts, s.stats())
        };
        let whole = run(None);
        assert!(whole.0.len() > 1000, "{} alerts", whole.0.len());
        assert_eq!(run(Some(events.len() / 2)), whole, "{order:?}");
    }
}
