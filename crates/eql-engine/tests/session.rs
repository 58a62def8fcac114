//! The streaming session, rule by rule of the semantics reference (sections
//! 5 and 6): the ES sequence state machine, missing events, keys, samples,
//! ordering, and the bounds.
#![allow(missing_docs)]

use eql_engine::{
    CompileOptions, CompiledQuery, Matches, Session, SessionOptions, SessionPlan, SessionStats,
    Step, StreamOrder,
};
use serde_json::{json, Value};

/// An ECS-ish event: `(id, millis, category, extra fields)`.
fn ev(t: i64, cat: &str, extra: &Value) -> Value {
    let mut v = json!({"@timestamp": t, "event": {"category": cat}});
    if let (Some(o), Some(x)) = (v.as_object_mut(), extra.as_object()) {
        for (k, val) in x {
            o.insert(k.clone(), val.clone());
        }
    }
    v
}

fn run_with(
    query: &str,
    opts: &CompileOptions,
    sopts: SessionOptions,
    events: &[Value],
) -> (Vec<Vec<usize>>, Vec<usize>, SessionStats) {
    let engine = CompiledQuery::compile(query, opts).unwrap_or_else(|e| panic!("{query}: {e}"));
    let mut s = Session::<usize>::new(&engine, sopts);
    let mut out = Matches::new();
    for (i, e) in events.iter().enumerate() {
        s.push(i + 1, e, &mut out);
    }
    s.finish(&mut out);
    let got = out.iter().map(|m| m.events.to_vec()).collect();
    (got, out.late().to_vec(), s.stats())
}

fn run(query: &str, events: &[Value]) -> Vec<Vec<usize>> {
    run_with(
        query,
        &CompileOptions::default(),
        SessionOptions::default(),
        events,
    )
    .0
}

/// Each result in step order: `Some(event number)`, `None` for the
/// placeholder of a `![...]` step.
fn run_steps(query: &str, events: &[Value]) -> Vec<Vec<Option<usize>>> {
    let engine = CompiledQuery::compile(query, &CompileOptions::default())
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    let mut s = Session::<usize>::new(&engine, SessionOptions::default());
    let mut out = Matches::new();
    for (i, e) in events.iter().enumerate() {
        s.push(i + 1, e, &mut out);
    }
    s.finish(&mut out);
    out.iter()
        .map(|m| {
            m.steps()
                .map(|st| match st {
                    Step::Event(&i) => Some(i),
                    Step::Missing => None,
                })
                .collect()
        })
        .collect()
}

fn k(v: &str) -> Value {
    json!({"k": v})
}

#[test]
fn most_recent_wins() {
    // Two starts for one key: the later one is kept (ES trimBefore / PY overwrite).
    let q = "sequence by k [process where true] [file where true]";
    let evs = [
        ev(1, "process", &k("a")),
        ev(2, "process", &k("a")),
        ev(3, "file", &k("a")),
    ];
    assert_eq!(run(q, &evs), vec![vec![2, 3]]);
}

#[test]
fn keys_are_separate_and_exact() {
    let q = "sequence by k [process where true] [file where true]";
    let evs = [
        ev(1, "process", &k("a")),
        ev(2, "process", &k("b")),
        ev(3, "file", &k("A")),
        ev(4, "file", &k("b")),
        ev(5, "file", &k("a")),
    ];
    // "A" does not join "a" in ES (exact, case-sensitive).
    assert_eq!(run(q, &evs), vec![vec![2, 4], vec![1, 5]]);
    // Type matters: 1 and "1" differ.
    let evs = [
        ev(1, "process", &json!({"k": 1})),
        ev(2, "file", &json!({"k": "1"})),
    ];
    assert!(run(q, &evs).is_empty());
}

#[test]
fn ordinals_strictly_increase_and_an_event_ends_one_and_starts_another() {
    let q = "sequence [any where true] [any where true]";
    let evs = [
        ev(1, "x", &json!({})),
        ev(2, "x", &json!({})),
        ev(3, "x", &json!({})),
    ];
    // Event 2 completes [1,2] and starts [2,3]; it never fills both stages of one sequence.
    assert_eq!(run(q, &evs), vec![vec![1, 2], vec![2, 3]]);
    let q3 = "sequence [any where true] [any where true] [any where true]";
    assert_eq!(run(q3, &evs), vec![vec![1, 2, 3]]);
}

#[test]
fn maxspan_is_inclusive_from_the_first_event() {
    let q = "sequence with maxspan=1s [process where true] [file where true] [file where true]";
    let ok = [
        ev(0, "process", &json!({})),
        ev(400, "file", &json!({})),
        ev(1000, "file", &json!({})),
    ];
    assert_eq!(run(q, &ok), vec![vec![1, 2, 3]]);
    // Measured from the first event, not the previous one.
    let late = [
        ev(0, "process", &json!({})),
        ev(900, "file", &json!({})),
        ev(1001, "file", &json!({})),
    ];
    assert!(run(q, &late).is_empty());
    let (_, _, st) = run_with(
        q,
        &CompileOptions::default(),
        SessionOptions::default(),
        &late,
    );
    assert_eq!(st.expired, 1);
}

#[test]
fn until_blocks_only_between_steps() {
    let q = "sequence by k [a where true] [b where true] until [c where true]";
    let (a, b, c) = (
        |t| ev(t, "a", &k("x")),
        |t| ev(t, "b", &k("x")),
        |t| ev(t, "c", &k("x")),
    );
    assert_eq!(run(q, &[a(1), b(2)]), vec![vec![1, 2]]);
    assert_eq!(
        run(q, &[a(1), b(2), c(3)]),
        vec![vec![1, 2]],
        "until after completion: no effect"
    );
    assert!(run(q, &[a(1), c(2), b(3)]).is_empty(), "A, C, B: blocked");
    assert_eq!(
        run(q, &[c(1), a(2), b(3)]),
        vec![vec![2, 3]],
        "until before the start: no effect"
    );
    // Another key's until does not block.
    assert_eq!(run(q, &[a(1), ev(2, "c", &k("y")), b(3)]), vec![vec![1, 3]]);
}

#[test]
fn runs_repeat_a_step() {
    let q = "sequence [process where true] with runs=3 [file where true]";
    let evs = [
        ev(1, "process", &json!({})),
        ev(2, "process", &json!({})),
        ev(3, "file", &json!({})),
        ev(4, "process", &json!({})),
        ev(5, "process", &json!({})),
        ev(6, "process", &json!({})),
        ev(7, "file", &json!({})),
    ];
    assert_eq!(run(q, &evs), vec![vec![4, 5, 6, 7]]);
}

#[test]
fn middle_missing_event() {
    let q = "sequence by k with maxspan=10s [a where true] ![m where true] [b where true]";
    let evs = [ev(1, "a", &k("x")), ev(2, "b", &k("x"))];
    assert_eq!(run(q, &evs), vec![vec![1, 2]]);
    let evs = [
        ev(1, "a", &k("x")),
        ev(2, "m", &k("x")),
        ev(3, "b", &k("x")),
    ];
    assert!(run(q, &evs).is_empty());
    let evs = [
        ev(1, "a", &k("x")),
        ev(2, "m", &k("other")),
        ev(3, "b", &k("x")),
    ];
    assert_eq!(run(q, &evs), vec![vec![1, 3]]);
    // A missing event before the start does not matter.
    let evs = [
        ev(1, "m", &k("x")),
        ev(2, "a", &k("x")),
        ev(3, "b", &k("x")),
    ];
    assert_eq!(run(q, &evs), vec![vec![2, 3]]);
}

#[test]
fn trailing_missing_event() {
    let q = "sequence by k with maxspan=10s [a where true] [b where true] ![m where true]";
    // Completed at finish when nothing came.
    assert_eq!(
        run(q, &[ev(0, "a", &k("x")), ev(1000, "b", &k("x"))]),
        vec![vec![1, 2]]
    );
    // A trailing event within maxspan of the start cancels it (inclusive).
    let evs = [
        ev(0, "a", &k("x")),
        ev(1000, "b", &k("x")),
        ev(10_000, "m", &k("x")),
    ];
    assert!(run(q, &evs).is_empty());
    // After the window it does not; the result is emitted when time passes the window.
    let evs = [
        ev(0, "a", &k("x")),
        ev(1000, "b", &k("x")),
        ev(10_001, "m", &k("x")),
    ];
    let engine = CompiledQuery::compile(q, &CompileOptions::default()).unwrap();
    let mut s = Session::<usize>::new(&engine, window(0));
    let mut out = Matches::new();
    s.push(1, &evs[0], &mut out);
    s.push(2, &evs[1], &mut out);
    assert!(out.is_empty(), "held until the window passes");
    s.push(3, &evs[2], &mut out);
    assert_eq!(
        out.iter().map(|m| m.events.to_vec()).collect::<Vec<_>>(),
        vec![vec![1, 2]]
    );
}

#[test]
fn leading_missing_event() {
    let q = "sequence by k with maxspan=10s ![m where true] [a where true] [b where true]";
    assert_eq!(
        run(q, &[ev(100, "a", &k("x")), ev(200, "b", &k("x"))]),
        vec![vec![1, 2]]
    );
    let evs = [
        ev(0, "m", &k("x")),
        ev(100, "a", &k("x")),
        ev(200, "b", &k("x")),
    ];
    assert!(run(q, &evs).is_empty());
    // Longer than maxspan before the last positive event: it does not count.
    let evs = [
        ev(0, "m", &k("x")),
        ev(20_000, "a", &k("x")),
        ev(20_100, "b", &k("x")),
    ];
    assert_eq!(run(q, &evs), vec![vec![2, 3]]);
    // Another key's missing event does not count.
    let evs = [
        ev(0, "m", &k("y")),
        ev(100, "a", &k("x")),
        ev(200, "b", &k("x")),
    ];
    assert_eq!(run(q, &evs), vec![vec![2, 3]]);
}

#[test]
fn null_keys_drop_the_event_unless_optional() {
    let q = "sequence by k [a where true] [b where true]";
    let evs = [ev(1, "a", &json!({})), ev(2, "b", &json!({}))];
    assert!(run(q, &evs).is_empty());
    let evs = [
        ev(1, "a", &json!({"k": null})),
        ev(2, "b", &json!({"k": null})),
    ];
    assert!(run(q, &evs).is_empty());
    let q = "sequence by ?k [a where true] [b where true]";
    let evs = [ev(1, "a", &json!({})), ev(2, "b", &json!({"k": null}))];
    assert_eq!(run(q, &evs), vec![vec![1, 2]]);
}

#[test]
fn python_keys_fold_case_and_nulls_join() {
    let q = "sequence by k [a where true] [b where true]";
    let py = py();
    let evs = [ev(1, "a", &k("A")), ev(2, "b", &k("a"))];
    assert_eq!(
        run_with(q, &py, SessionOptions::default(), &evs).0,
        vec![vec![1, 2]]
    );
    let evs = [ev(1, "a", &json!({})), ev(2, "b", &json!({}))];
    assert_eq!(
        run_with(q, &py, SessionOptions::default(), &evs).0,
        vec![vec![1, 2]]
    );
}

#[test]
fn array_keys_fan_out() {
    let q = "sequence by k [a where true] [b where true]";
    let evs = [ev(1, "a", &json!({"k": ["x", "y"]})), ev(2, "b", &k("y"))];
    assert_eq!(run(q, &evs), vec![vec![1, 2]]);
    let evs = [ev(1, "a", &k("x")), ev(2, "b", &json!({"k": ["z", "x"]}))];
    assert_eq!(run(q, &evs), vec![vec![1, 2]]);
}

#[test]
fn sample_takes_distinct_events_per_filter() {
    let q = "sample by k [any where x == 1] [any where y == 1]";
    // One event matching both filters cannot fill both.
    let evs = [ev(1, "e", &json!({"k": "a", "x": 1, "y": 1}))];
    assert!(run(q, &evs).is_empty());
    let evs = [
        ev(1, "e", &json!({"k": "a", "x": 1, "y": 1})),
        ev(2, "e", &json!({"k": "a", "y": 1})),
    ];
    assert_eq!(run(q, &evs), vec![vec![1, 2]]);
    // Backtracking: the first event goes to the filter the second cannot fill.
    let evs = [
        ev(1, "e", &json!({"k": "a", "x": 1, "y": 1})),
        ev(2, "e", &json!({"k": "a", "x": 1})),
    ];
    assert_eq!(run(q, &evs), vec![vec![2, 1]]);
    // Unordered; one sample per key by default (max_samples_per_key = 1).
    let evs = [
        ev(1, "e", &json!({"k": "a", "y": 1})),
        ev(2, "e", &json!({"k": "a", "x": 1})),
        ev(3, "e", &json!({"k": "a", "y": 1})),
        ev(4, "e", &json!({"k": "a", "x": 1})),
    ];
    assert_eq!(run(q, &evs), vec![vec![2, 1]]);
    let two = samples_per_key(2);
    // Two samples of one key may share an event: filter 1 takes 2, then 4;
    // filter 2 takes 1, then 3, in depth-first order.
    assert_eq!(
        run_with(q, &CompileOptions::default(), two, &evs).0,
        vec![vec![2, 1], vec![2, 3]]
    );
}

fn window(window_ms: u64) -> SessionOptions {
    let mut opts = SessionOptions::default();
    opts.order = Some(StreamOrder::Window { window_ms });
    opts
}

#[test]
fn reorder_window_and_late_events() {
    let q = "sequence [a where true] [b where true]";
    // b arrives before a but within the window: reordered.
    let evs = [
        ev(2000, "b", &json!({})),
        ev(1500, "a", &json!({})),
        ev(2500, "b", &json!({})),
    ];
    let (got, late, st) = run_with(q, &CompileOptions::default(), window(1000), &evs);
    assert_eq!(got, vec![vec![2, 1]]);
    assert!(late.is_empty());
    assert!(st.peak_held_hits >= 1);
    assert_eq!(st.out_of_order, 1);
    // Bounded input (the default): sorted at `finish`, whatever the window.
    let (got, late, st) = run_with(
        q,
        &CompileOptions::default(),
        SessionOptions::default(),
        &evs,
    );
    assert_eq!(got, vec![vec![2, 1]]);
    assert!(late.is_empty());
    assert_eq!((st.late, st.out_of_order, st.held_hits), (0, 1, 0));
    // A zero window: the out-of-order event is late for the sequence:
    // reported, counted, not seen by it.
    let (got, late, st) = run_with(q, &CompileOptions::default(), window(0), &evs);
    assert!(got.is_empty());
    assert_eq!(late, vec![2]);
    assert_eq!(st.late, 1);
    // Later than the window, but the sequence has not run past it yet: still in order.
    let evs = [
        ev(5000, "b", &json!({})),
        ev(1000, "a", &json!({})),
        ev(6000, "b", &json!({})),
    ];
    let (got, late, _) = run_with(q, &CompileOptions::default(), window(1000), &evs);
    assert_eq!(got, vec![vec![2, 1]]);
    assert!(late.is_empty());
    // Later than the window, after the sequence ran b@5000: late.
    let evs = [
        ev(5000, "b", &json!({})),
        ev(7000, "b", &json!({})),
        ev(1000, "a", &json!({})),
        ev(8000, "b", &json!({})),
    ];
    let (got, late, _) = run_with(q, &CompileOptions::default(), window(1000), &evs);
    assert!(got.is_empty());
    assert_eq!(late, vec![3]);
}

#[test]
fn late_events_still_reach_single_event_rules() {
    let single = CompiledQuery::compile("a where true", &CompileOptions::default()).unwrap();
    let seq = CompiledQuery::compile(
        "sequence [a where true] [b where true]",
        &CompileOptions::default(),
    )
    .unwrap();
    let evs = [
        ev(5000, "b", &json!({})),
        ev(1000, "a", &json!({})),
        ev(6000, "a", &json!({})),
    ];
    let mut s = Session::new(SessionPlan::new([single.clone(), seq.clone()]), window(0));
    let mut out = Matches::new();
    let mut got = Vec::new();
    for (i, e) in evs.iter().enumerate() {
        out.clear();
        s.push(i + 1, e, &mut out);
        got.extend(out.iter().map(|m| (m.rule, m.events.to_vec())));
        if i == 1 {
            // The sequence skipped it; the single-event rule saw it at once.
            assert_eq!(out.late(), &[2]);
        }
    }
    s.finish(&mut out);
    assert_eq!(got, vec![(0, vec![2]), (0, vec![3])]);
    assert_eq!(s.stats().late, 1);
}

#[test]
fn tiebreaker_orders_equal_timestamps() {
    let q = "sequence [a where true] [b where true]";
    let mut opts = CompileOptions::default();
    opts.tiebreaker_field = Some("seq".into());
    let evs = [
        ev(100, "b", &json!({"seq": 2})),
        ev(100, "a", &json!({"seq": 1})),
    ];
    assert_eq!(run_with(q, &opts, window(10), &evs).0, vec![vec![2, 1]]);
    assert_eq!(
        run_with(q, &opts, SessionOptions::default(), &evs).0,
        vec![vec![2, 1]]
    );
    // Without the tiebreaker, equal timestamps keep arrival order: b, a.
    assert!(run(q, &evs).is_empty());
    // An event without the tiebreaker never takes part in the sequence
    // (Elasticsearch filters the sequence queries on it).
    let evs = [ev(100, "a", &json!({})), ev(200, "b", &json!({"seq": 2}))];
    let (got, _, st) = run_with(q, &opts, SessionOptions::default(), &evs);
    assert!(got.is_empty());
    assert_eq!(st.missing_tiebreaker, 1);
}

#[test]
fn rfc3339_timestamps_and_maxspan() {
    let q = "sequence with maxspan=2s [a where true] [b where true]";
    let evs = [
        json!({"@timestamp": "2024-05-01T10:00:00.000Z", "event": {"category": "a"}}),
        json!({"@timestamp": "2024-05-01T10:00:02.000Z", "event": {"category": "b"}}),
        json!({"@timestamp": "2024-05-01T10:00:03.000Z", "event": {"category": "a"}}),
        json!({"@timestamp": "2024-05-01T10:00:05.001Z", "event": {"category": "b"}}),
    ];
    assert_eq!(run(q, &evs), vec![vec![1, 2]]);
}

#[test]
fn caps_evict_and_count() {
    let q = "sequence by k [a where true] [b where true]";
    let evs: Vec<Value> = (0..100)
        .map(|i| ev(i, "a", &k(&format!("key{i}"))))
        .collect();
    let mut capped = SessionOptions::default();
    capped.limits.max_partials = 10;
    let (_, _, st) = run_with(q, &CompileOptions::default(), capped, &evs);
    assert_eq!(st.partials, 10);
    assert_eq!(st.peak_partials, 11.min(st.peak_partials).max(10));
    assert_eq!(st.evicted_partials, 90);
    assert!(st.keys <= 10);
    assert!(st.state_bytes > 0);
}

#[test]
fn head_and_tail_count_sequences() {
    let q = "sequence [any where true] [any where true]";
    let evs: Vec<Value> = (0..6).map(|i| ev(i, "x", &json!({}))).collect();
    assert_eq!(
        run(&format!("{q} | head 2"), &evs),
        vec![vec![1, 2], vec![2, 3]]
    );
    assert_eq!(
        run(&format!("{q} | tail 2"), &evs),
        vec![vec![4, 5], vec![5, 6]]
    );
    assert_eq!(
        run(&format!("{q} | tail 3 | head 1"), &evs),
        vec![vec![3, 4]]
    );
    assert!(run(&format!("{q} | head 0"), &evs).is_empty());
}

#[test]
fn python_fork_copies_the_partial() {
    let py = py();
    let q = "sequence [a where true] [b where true] fork [c where true]";
    let evs = [
        ev(1, "a", &json!({})),
        ev(2, "b", &json!({})),
        ev(3, "b", &json!({})),
        ev(4, "c", &json!({})),
    ];
    // Without fork the second b would take nothing; with fork both continue.
    let (got, _, _) = run_with(q, &py, SessionOptions::default(), &evs);
    assert_eq!(got, vec![vec![1, 3, 4]]);
    let q = "sequence [a where true] fork [b where true] [c where true]";
    let (got, _, _) = run_with(q, &py, SessionOptions::default(), &evs);
    // `fork` on the first term has no effect (Python starts sequences there).
    assert_eq!(got, vec![vec![1, 2, 4]]);
}

#[test]
fn push_json_and_many_rules() {
    let a = CompiledQuery::compile("process where true", &CompileOptions::default()).unwrap();
    let b = CompiledQuery::compile(
        "sequence [process where true] [file where true]",
        &CompileOptions::default(),
    )
    .unwrap();
    let mut s = Session::new(SessionPlan::new([a, b]), SessionOptions::default());
    let mut out = Matches::new();
    s.push_json(
        10u32,
        br#"{"@timestamp": 1, "event": {"category": "process"}}"#,
        &mut out,
    )
    .unwrap();
    s.push_json(
        11,
        br#"{"@timestamp": 2, "event": {"category": "file"}}"#,
        &mut out,
    )
    .unwrap();
    assert!(s.push_json(12, b"[1]", &mut out).is_err());
    s.finish(&mut out);
    let got: Vec<(usize, Vec<u32>)> = out.iter().map(|m| (m.rule, m.events.to_vec())).collect();
    assert_eq!(got, vec![(0, vec![10]), (1, vec![10, 11])]);
}

#[test]
fn missing_events_need_maxspan() {
    let e = CompiledQuery::compile(
        "sequence [a where true] ![b where true]",
        &CompileOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.diagnostic.code, "EQL0401");
    assert!(CompiledQuery::compile(
        "sequence with maxspan=1s [a where true] ![b where true]",
        &CompileOptions::default()
    )
    .is_ok());
}

#[test]
fn samples_come_in_key_order_at_finish() {
    let q = "sample by k [any where x == 1] [any where y == 1]";
    let evs = [
        ev(1, "e", &json!({"k": "b", "x": 1})),
        ev(2, "e", &json!({"k": "b", "y": 1})),
        ev(3, "e", &json!({"k": "a", "y": 1})),
        ev(4, "e", &json!({"k": "a", "x": 1})),
    ];
    assert_eq!(run(q, &evs), vec![vec![4, 3], vec![1, 2]]);
    let mut streaming = SessionOptions::default();
    streaming.samples_on_completion = true;
    assert_eq!(
        run_with(q, &CompileOptions::default(), streaming, &evs).0,
        vec![vec![1, 2], vec![4, 3]]
    );
}

#[test]
fn huge_runs_are_a_compile_error() {
    let py = CompileOptions::python();
    let e = CompiledQuery::compile(
        "sequence [process where true] with runs=4000000000 [file where true]",
        &py,
    )
    .unwrap_err();
    assert_eq!(e.diagnostic.code, "EQL0403");
}

#[test]
fn results_carry_their_join_keys() {
    let engine = CompiledQuery::compile(
        "sequence by k [a where true] [b where true]",
        &CompileOptions::default(),
    )
    .unwrap();
    let mut s = Session::<u8>::new(&engine, SessionOptions::default());
    let mut out = Matches::new();
    s.push(1, &ev(1, "a", &k("x")), &mut out);
    s.push(2, &ev(2, "b", &k("x")), &mut out);
    s.finish(&mut out);
    let m = out.iter().next().unwrap();
    assert_eq!(m.key, &[eql_engine::Value::from("x".to_owned())]);
}

fn py() -> CompileOptions {
    let mut opts = CompileOptions::python();
    opts.timestamp_format = eql_engine::TimestampFormat::EpochMillis;
    opts.timestamp_field = "@timestamp".into();
    opts.category_field = "event.category".into();
    opts
}

#[test]
fn python_join_keeps_the_first_event_per_position_and_until_forgets() {
    let q = "join by k [a where true] [b where true] until [c where true]";
    let evs = [
        ev(1, "b", &k("x")),
        ev(2, "b", &k("x")),
        ev(3, "a", &k("X")),
        ev(4, "a", &k("y")),
        ev(5, "c", &k("y")),
        ev(6, "b", &k("y")),
    ];
    // Unordered, first event per position, keys folded; `until` forgets key y.
    assert_eq!(
        run_with(q, &py(), SessionOptions::default(), &evs).0,
        vec![vec![3, 1]]
    );
}

#[test]
fn python_count_and_unique_count_pipes() {
    let evs = [
        ev(1, "a", &json!({"n": "x"})),
        ev(2, "a", &json!({"n": "y"})),
        ev(3, "a", &json!({"n": "X"})),
    ];
    let engine = CompiledQuery::compile("a where true | unique_count n", &py()).unwrap();
    let mut s = Session::<u8>::new(&engine, SessionOptions::default());
    let mut out = Matches::new();
    for (i, e) in evs.iter().enumerate() {
        s.push(i as u8 + 1, e, &mut out);
    }
    s.finish(&mut out);
    let got: Vec<(Vec<u8>, Option<u64>)> =
        out.iter().map(|m| (m.events.to_vec(), m.count)).collect();
    assert_eq!(got, vec![(vec![1], Some(2)), (vec![2], Some(1))]);
    let engine = CompiledQuery::compile("a where true | count n", &py()).unwrap();
    let mut s = Session::<u8>::new(&engine, SessionOptions::default());
    let mut out = Matches::new();
    for (i, e) in evs.iter().enumerate() {
        s.push(i as u8 + 1, e, &mut out);
    }
    s.finish(&mut out);
    let got: Vec<(Vec<eql_engine::Value<'static>>, Option<u64>, usize)> = out
        .iter()
        .map(|m| (m.key.to_vec(), m.count, m.events.len()))
        .collect();
    assert_eq!(
        got,
        vec![
            (vec![eql_engine::Value::from("y".to_owned())], Some(1), 0),
            (vec![eql_engine::Value::from("x".to_owned())], Some(2), 0)
        ]
    );
}

#[test]
fn held_hits_overflow_is_counted() {
    // `head` makes an event query order-dependent: its hits are held.
    let q = "any where true | head 10";
    let capped = |order| {
        let mut opts = SessionOptions::default();
        opts.order = Some(order);
        opts.limits.max_held_hits = 2;
        opts
    };
    let evs: Vec<Value> = (0..5).map(|i| ev(i, "x", &json!({}))).collect();
    let w = capped(StreamOrder::Window {
        window_ms: 1_000_000,
    });
    let (got, late, st) = run_with(q, &CompileOptions::default(), w, &evs);
    assert_eq!(got.len(), 5);
    assert!(late.is_empty());
    assert_eq!(st.held_overflow, 3);
    assert_eq!(st.peak_held_hits, 3);
    // Bounded: past the cap the oldest half runs early; in-order input stays exact.
    let (got, late, st) = run_with(
        q,
        &CompileOptions::default(),
        capped(StreamOrder::Bounded),
        &evs,
    );
    assert_eq!(got, (1..=5).map(|i| vec![i]).collect::<Vec<_>>());
    assert!(late.is_empty());
    assert!(st.held_overflow > 0);
    // ... and an event behind what already ran is late, reported.
    let evs = [
        ev(10, "x", &json!({})),
        ev(20, "x", &json!({})),
        ev(30, "x", &json!({})),
        ev(5, "x", &json!({})),
    ];
    let (got, late, st) = run_with(
        q,
        &CompileOptions::default(),
        capped(StreamOrder::Bounded),
        &evs,
    );
    assert_eq!(got, vec![vec![1], vec![2], vec![3]]);
    assert_eq!(late, vec![4]);
    assert_eq!(st.late, 1);
}

#[test]
fn pushes_after_finish_are_late() {
    let engine = CompiledQuery::compile("a where true", &py()).unwrap();
    let mut s = Session::<u8>::new(&engine, SessionOptions::default());
    let mut out = Matches::new();
    s.finish(&mut out);
    s.push(1, &ev(1, "a", &json!({})), &mut out);
    assert!(out.is_empty());
    assert_eq!(out.late(), &[1]);
}

#[test]
fn the_ordering_timestamp_field_can_be_chosen() {
    let q = "sequence with maxspan=1s [a where true] [b where true]";
    let evs = [
        json!({"t": 0, "event": {"category": "a"}}),
        json!({"t": 5000, "event": {"category": "b"}}),
    ];
    // Without a timestamp an event takes no part in a sequence.
    let (got, _, st) = run_with(
        q,
        &CompileOptions::default(),
        SessionOptions::default(),
        &evs,
    );
    assert_eq!((got.len(), st.missing_timestamp), (0, 2));
    let mut by_t = SessionOptions::default();
    by_t.timestamp_field = Some("t".into());
    let (got, _, st) = run_with(q, &CompileOptions::default(), by_t, &evs);
    assert_eq!((got.len(), st.missing_timestamp), (0, 0));
}

#[test]
fn missing_steps_are_placeholders_in_step_order() {
    let (a, b, c) = (
        |t| ev(t, "a", &json!({})),
        |t| ev(t, "b", &json!({})),
        |t| ev(t, "c", &json!({})),
    );
    // Middle, leading and trailing steps each leave one entry without an event.
    let q = "sequence with maxspan=1m [a where true] ![m where true] [b where true]";
    assert_eq!(
        run_steps(q, &[a(1000), b(2000)]),
        vec![vec![Some(1), None, Some(2)]]
    );
    let q =
        "sequence with maxspan=1m ![m where true] [a where true] [b where true] ![n where true]";
    assert_eq!(
        run_steps(q, &[a(1000), b(2000)]),
        vec![vec![None, Some(1), Some(2), None]]
    );
    // `runs=2` on a missing step: two placeholders.
    let q = "sequence with maxspan=1m [a where true] ![m where true] with runs=2 [b where true] [c where true]";
    assert_eq!(
        run_steps(q, &[a(1000), b(2000), c(3000)]),
        vec![vec![Some(1), None, None, Some(2), Some(3)]]
    );
    // The placeholders travel through the pipes with their result.
    let q = "sequence with maxspan=1m [a where true] ![m where true] [b where true] | tail 1";
    assert_eq!(
        run_steps(q, &[a(1000), b(2000), a(3000), b(4000)]),
        vec![vec![Some(3), None, Some(4)]]
    );
    // Results without missing steps have none.
    let q = "sequence [a where true] [b where true]";
    assert_eq!(
        run_steps(q, &[a(1000), b(2000)]),
        vec![vec![Some(1), Some(2)]]
    );
}

#[test]
fn an_until_event_blocks_only_what_comes_after_it() {
    // Elasticsearch: the `until` event nearest before the candidate event
    // blocks the transition when it lies between the sequence's previous
    // event and the candidate, both ends included; the candidate itself is
    // not before itself.
    let q =
        "sequence by k [a where true] [b where true] [c where true] until [any where u == true]";
    let e = |t, cat, u: bool| ev(t, cat, &json!({"k": "x", "u": u}));
    assert_eq!(
        run(q, &[e(1, "a", false), e(2, "b", false), e(3, "c", true)]),
        vec![vec![1, 2, 3]],
        "the completing event is also an until event"
    );
    assert!(
        run(q, &[e(1, "a", false), e(2, "b", true), e(3, "c", false)]).is_empty(),
        "a middle event that is an until event blocks the next step"
    );
    assert!(
        run(q, &[e(1, "a", true), e(2, "b", false), e(3, "c", false)]).is_empty(),
        "a first event that is an until event blocks the next step"
    );
    // The blocked sequence is gone; a later start is not blocked.
    assert_eq!(
        run(
            q,
            &[
                e(1, "a", true),
                e(2, "a", false),
                e(3, "b", false),
                e(4, "c", false)
            ]
        ),
        vec![vec![2, 3, 4]]
    );
}

#[test]
fn leading_and_trailing_missing_steps_together() {
    // With both, a candidate is kept when there is no leading event (L)
    // before it, or no trailing event (T) after it, or T − L > maxspan.
    let q = "sequence by k with maxspan=10s ![m where true] [a where true] ![m where true]";
    let m = |t| ev(t, "m", &k("x"));
    let a = |t| ev(t, "a", &k("x"));
    assert_eq!(
        run_steps(q, &[m(1000), a(2000)]),
        vec![vec![None, Some(2), None]],
        "L close before, no T"
    );
    assert_eq!(
        run_steps(q, &[a(2000), m(3000)]),
        vec![vec![None, Some(1), None]],
        "no L, T close after"
    );
    assert!(
        run(q, &[m(1000), a(2000), m(11_000)]).is_empty(),
        "T − L = maxspan: dropped (inclusive)"
    );
    assert_eq!(
        run(q, &[m(1000), a(2000), m(11_001)]),
        vec![vec![2]],
        "T − L > maxspan: kept"
    );
    // Only the first trailing event counts.
    assert_eq!(
        run(q, &[m(0), a(5000), m(10_001), m(10_002)]),
        vec![vec![2]]
    );
}

#[test]
fn missing_events_are_checked_at_millisecond_bounds() {
    // Elasticsearch queries the missing steps with exclusive millisecond
    // ranges around the positive events: an event in the same millisecond
    // as the bound does not count.
    let e = |ms: i64, us: i64, cat: &str| {
        ev(
            0,
            cat,
            &json!({"@timestamp": format!("1970-01-01T00:00:{:02}.{:03}{:03}Z", ms / 1000, ms % 1000, us)}),
        )
    };
    let q = "sequence with maxspan=1m [a where true] ![m where true] [b where true]";
    assert_eq!(
        run(q, &[e(1, 0, "a"), e(1, 500, "m"), e(3, 0, "b")]),
        vec![vec![1, 3]],
        "in the millisecond of the previous event"
    );
    assert_eq!(
        run(q, &[e(1, 0, "a"), e(3, 0, "m"), e(3, 500, "b")]),
        vec![vec![1, 3]],
        "in the millisecond of the next event"
    );
    assert!(run(q, &[e(1, 0, "a"), e(2, 0, "m"), e(3, 0, "b")]).is_empty());
    let q = "sequence with maxspan=1m [a where true] [b where true] ![m where true]";
    assert_eq!(
        run(q, &[e(1, 0, "a"), e(2, 0, "b"), e(2, 300, "m")]),
        vec![vec![1, 2]],
        "trailing, in the millisecond of the last event"
    );
    assert!(run(q, &[e(1, 0, "a"), e(2, 0, "b"), e(3, 0, "m")]).is_empty());
    let q = "sequence with maxspan=1m ![m where true] [a where true] [b where true]";
    assert_eq!(
        run(q, &[e(1, 0, "m"), e(1, 400, "a"), e(2, 0, "b")]),
        vec![vec![2, 3]],
        "leading, in the millisecond of the first event"
    );
    assert!(run(q, &[e(0, 900, "m"), e(1, 400, "a"), e(2, 0, "b")]).is_empty());
}

#[test]
fn a_candidate_with_a_middle_missing_event_still_replaces_older_partials() {
    // The positive steps match as a sequence of their own (the latest
    // partial wins), and the missing steps are checked on the completed
    // candidate: `a2 m b2` makes a doomed candidate that replaces `a1 b1`.
    let q = "sequence by k with maxspan=1m [a where true] ![m where true] [b where true] [c where true]";
    let x = |t, cat| ev(t, cat, &k("x"));
    assert!(run(
        q,
        &[
            x(1, "a"),
            x(2, "b"),
            x(3, "a"),
            x(4, "m"),
            x(5, "b"),
            x(6, "c")
        ]
    )
    .is_empty());
    assert_eq!(
        run(q, &[x(1, "a"), x(2, "b"), x(3, "a"), x(4, "m"), x(6, "c")]),
        vec![vec![1, 2, 5]],
        "without b the doomed partial never moves up"
    );
}

#[test]
fn held_candidates_leave_in_completion_order() {
    // Key x completes first and waits for its trailing check; key y's
    // candidate needs no wait (no leading event) but comes out after x's.
    let q = "sequence by k with maxspan=10s ![m where true] [a where true] ![m where true]";
    let evs = [
        ev(0, "m", &k("x")),
        ev(1000, "a", &k("x")),
        ev(2000, "a", &k("y")),
    ];
    assert_eq!(run(q, &evs), vec![vec![2], vec![3]]);
}

fn samples_per_key(n: usize) -> SessionOptions {
    let mut opts = SessionOptions::default();
    opts.limits.max_samples_per_key = n;
    opts
}

#[test]
fn each_filter_takes_its_first_event_not_already_in_the_sample() {
    let q = "sample by k [any where x == 1] [any where y == 1]";
    let both = |k: &str| ev(0, "e", &json!({"k": k, "x": 1, "y": 1}));
    // Two events matching both filters: the first goes to the first filter,
    // whatever order the filters' hits arrive in.
    assert_eq!(run(q, &[both("a"), both("a")]), vec![vec![1, 2]]);
    // A later event cannot take the place of an earlier one.
    let evs = [
        both("a"),
        ev(0, "e", &json!({"k": "a", "y": 1})),
        ev(0, "e", &json!({"k": "a", "x": 1})),
    ];
    assert_eq!(run(q, &evs), vec![vec![1, 2]]);
    // Every combination in depth-first order, up to max_samples_per_key.
    let evs = [
        ev(0, "e", &json!({"k": "a", "x": 1})),
        ev(0, "e", &json!({"k": "a", "x": 1})),
        ev(0, "e", &json!({"k": "a", "y": 1})),
        ev(0, "e", &json!({"k": "a", "x": 1})),
    ];
    let opts = CompileOptions::default();
    assert_eq!(
        run_with(q, &opts, samples_per_key(2), &evs).0,
        vec![vec![1, 3], vec![2, 3]]
    );
    assert_eq!(
        run_with(q, &opts, samples_per_key(10), &evs).0,
        vec![vec![1, 3], vec![2, 3], vec![4, 3]]
    );
    // One event alone cannot fill both filters, however many samples are allowed.
    assert!(run_with(q, &opts, samples_per_key(3), &[both("a")])
        .0
        .is_empty());
}

#[test]
fn samples_come_out_in_composite_key_order() {
    // Null (an optional key) first, numbers by value, strings by bytes.
    let q = "sample by ?k [any where x == 1] [any where y == 1]";
    let pair = |k: Value| {
        [
            ev(0, "e", &json!({"k": k.clone(), "x": 1})),
            ev(0, "e", &json!({"k": k, "y": 1})),
        ]
    };
    let evs: Vec<Value> = [json!("a"), json!("B"), json!(null)]
        .into_iter()
        .flat_map(pair)
        .collect();
    assert_eq!(run(q, &evs), vec![vec![5, 6], vec![3, 4], vec![1, 2]]);
    let evs: Vec<Value> = [json!(10), json!(2), json!(-1.5)]
        .into_iter()
        .flat_map(pair)
        .collect();
    assert_eq!(run(q, &evs), vec![vec![5, 6], vec![3, 4], vec![1, 2]]);
}
