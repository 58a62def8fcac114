//! Elasticsearch's order whatever the arrival order: a bounded session gives
//! the same results for every permutation of its input (every stateful query
//! kind), the same as a stream over the sorted input; a stream with a zero
//! window still gives every single-event result; and the Elastic corpus over
//! the reference events shuffled in windows of 50 gives the sorted file's
//! alerts.
#![allow(missing_docs)]

use eql_engine::{
    CompileOptions, CompiledQuery, Matches, RuleSet, Session, SessionOptions, SessionPlan,
    StreamOrder, TimestampFormat,
};
use proptest::prelude::*;
use serde_json::{json, Value};
mod common;

/// Stateful queries of every kind (Elasticsearch dialect).
const STATEFUL: &[&str] = &[
    "sequence [process where x == 1] [file where true]",
    "sequence by k [process where true] [file where x > 0]",
    "sequence by k with maxspan=3s [process where true] [file where true] [network where true]",
    "sequence by k [process where true] [file where true] until [network where x == 2]",
    "sequence by k with maxspan=5s [process where true] ![network where true] [file where true]",
    "sequence by k with maxspan=4s ![network where x == 0] [process where true] [file where true]",
    "sequence by k with maxspan=4s [process where true] [file where true] ![network where true]",
    "sequence by ?k [process where true] with runs=2 [file where true]",
    "sequence with maxspan=2s [any where x == 2] [any where x == 1] | head 3",
    "sequence by k [file where true] [process where true] | tail 2",
    "sample by k [process where true] [file where x == 1]",
    "sample by k [any where x == 0] [any where x == 1] [network where true]",
    "process where x > 0 | head 4",
    "any where true | tail 3",
];

/// Python `join` (the only join there is), run in a bounded session.
const JOINS: &[&str] = &[
    "join by k [process where true] [file where true]",
    "join by k [process where x == 1] [file where true] until [network where true]",
];

/// Single-event queries: order-independent.
const SINGLE: &[&str] = &[
    "process where x == 1",
    "any where k == \"a\"",
    "file where true",
];

fn engines(queries: &[&str], opts: &CompileOptions) -> Vec<CompiledQuery> {
    queries
        .iter()
        .map(|q| CompiledQuery::compile(q, opts).unwrap_or_else(|e| panic!("{q}: {e}")))
        .collect()
}

fn python() -> CompileOptions {
    let mut opts = CompileOptions::python();
    opts.timestamp_field = "@timestamp".into();
    opts.timestamp_format = TimestampFormat::EpochMillis;
    opts.category_field = "event.category".into();
    opts
}

/// Every result of one session over `order` (indexes into `events`), as
/// (rule, what identifies the result) in emission order: its events; for a
/// `sample`, its join key. Elasticsearch picks a sample's events in index
/// order (each filter reads its first hits as the index stores them, with no
/// sort), so which events a sample holds depends on the input order by
/// design; which keys have a sample does not.
fn results(
    engines: &[CompiledQuery],
    events: &[Value],
    order: &[usize],
    mode: StreamOrder,
) -> Vec<(usize, String)> {
    let mut opts = SessionOptions::default();
    opts.order = Some(mode);
    let mut s: Session<usize> = Session::new(SessionPlan::new(engines.iter().cloned()), opts);
    let mut out = Matches::new();
    let mut all = Vec::new();
    let id = |m: eql_engine::Match<'_, usize>| {
        let sample = matches!(
            engines[m.rule].query().body,
            eql_engine::QueryBody::Sample(_)
        );
        let what = if sample {
            format!("key {:?}", m.key)
        } else {
            format!("{:?}", m.events)
        };
        (m.rule, what)
    };
    for &i in order {
        out.clear();
        s.push(i, &events[i], &mut out);
        all.extend(out.iter().map(id));
    }
    out.clear();
    s.finish(&mut out);
    all.extend(out.iter().map(id));
    all
}

/// Results grouped per rule, each rule's in emission order.
fn per_rule(all: &[(usize, String)], rules: usize) -> Vec<Vec<String>> {
    let mut by = vec![Vec::new(); rules];
    for (r, what) in all {
        by[*r].push(what.clone());
    }
    by
}

/// Events in timestamp order: `(category, k, x)`; with `ties`, pairs of
/// events share a timestamp and a `seq` tiebreaker orders them.
fn stream(spec: &[(usize, Option<&'static str>, i64)], ties: bool) -> Vec<Value> {
    spec.iter()
        .enumerate()
        .map(|(i, (cat, k, x))| {
            let i = i as i64;
            let ts = if ties { (i / 2) * 1000 } else { i * 700 };
            let category = ["process", "file", "network"][*cat];
            let mut e = json!({
                "@timestamp": ts,
                "seq": i,
                "event": {"category": category},
                "x": x,
            });
            if let Some(k) = k {
                e["k"] = json!(k);
            }
            e
        })
        .collect()
}

fn event_spec() -> impl Strategy<Value = (usize, Option<&'static str>, i64)> {
    (
        0..3usize,
        prop::sample::select(vec![Some("a"), Some("b"), None]),
        0..3i64,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    /// A bounded session gives the same results, in the same order, for
    /// every permutation of its input; and each rule gives what a stream
    /// (zero window, or arrival order) gives over the sorted input.
    #[test]
    fn bounded_results_do_not_depend_on_arrival_order(
        (spec, perm) in prop::collection::vec(event_spec(), 1..48)
            .prop_flat_map(|s| {
                let n = s.len();
                (Just(s), Just((0..n).collect::<Vec<usize>>()).prop_shuffle())
            }),
        ties in any::<bool>(),
    ) {
        let mut opts = CompileOptions::default();
        opts.tiebreaker_field = ties.then(|| "seq".to_owned());
        let events = stream(&spec, ties);
        let sorted: Vec<usize> = (0..events.len()).collect();
        let es = engines(STATEFUL, &opts);
        let mut py_opts = python();
        py_opts.tiebreaker_field.clone_from(&opts.tiebreaker_field);
        let py = engines(JOINS, &py_opts);
        for set in [&es, &py] {
            let want = results(set, &events, &sorted, StreamOrder::Bounded);
            let got = results(set, &events, &perm, StreamOrder::Bounded);
            prop_assert_eq!(&got, &want);
            let want = per_rule(&want, set.len());
            let streamed = results(set, &events, &sorted, StreamOrder::Window { window_ms: 0 });
            prop_assert_eq!(per_rule(&streamed, set.len()), want.clone());
            let arrival = results(set, &events, &sorted, StreamOrder::Arrival);
            prop_assert_eq!(per_rule(&arrival, set.len()), want);
        }
    }

    /// A stream with a zero window over shuffled input: the stateful rules
    /// skip late events, but every single-event result is there, and a late
    /// event is reported once.
    #[test]
    fn zero_window_keeps_every_single_event_result(
        (spec, perm) in prop::collection::vec(event_spec(), 1..48)
            .prop_flat_map(|s| {
                let n = s.len();
                (Just(s), Just((0..n).collect::<Vec<usize>>()).prop_shuffle())
            }),
    ) {
        let opts = CompileOptions::default();
        let events = stream(&spec, false);
        let sorted: Vec<usize> = (0..events.len()).collect();
        let mut queries = SINGLE.to_vec();
        queries.extend_from_slice(STATEFUL);
        let all = engines(&queries, &opts);
        let singles = SINGLE.len();
        let mut want: Vec<(usize, String)> = results(&all, &events, &sorted, StreamOrder::Bounded)
            .into_iter()
            .filter(|(r, _)| *r < singles)
            .collect();
        let mut got: Vec<(usize, String)> =
            results(&all, &events, &perm, StreamOrder::Window { window_ms: 0 })
                .into_iter()
                .filter(|(r, _)| *r < singles)
                .collect();
        want.sort();
        got.sort();
        prop_assert_eq!(got, want);
        let mut opts = SessionOptions::default();
        opts.order = Some(StreamOrder::Window { window_ms: 0 });
        let mut s: Session<usize> = Session::new(SessionPlan::new(all.iter().cloned()), opts);
        let mut out = Matches::new();
        let mut late = Vec::new();
        for &i in &perm {
            out.clear();
            s.push(i, &events[i], &mut out);
            late.extend_from_slice(out.late());
        }
        s.finish(&mut out);
        let st = s.stats();
        prop_assert_eq!(st.late, late.len() as u64);
        prop_assert!(st.late <= st.out_of_order);
        let mut dedup = late.clone();
        dedup.sort_unstable();
        dedup.dedup();
        prop_assert_eq!(dedup.len(), late.len());
    }
}

#[test]
fn events_without_a_timestamp() {
    let opts = CompileOptions::default();
    let qs = [
        "file where true",
        "sequence [process where true] [file where true]",
        "file where true | head 5",
        "sample by k [process where true] [file where true]",
    ];
    let all = engines(&qs, &opts);
    let events = [
        json!({"@timestamp": 1000, "event": {"category": "process"}, "k": "a"}),
        json!({"@timestamp": "yesterday", "event": {"category": "file"}, "k": "a"}),
        json!({"event": {"category": "file"}, "k": "a"}),
        json!({"@timestamp": 3000, "event": {"category": "file"}, "k": "a"}),
    ];
    let order: Vec<usize> = (0..events.len()).collect();
    let mut s: Session<usize> = Session::new(
        SessionPlan::new(all.iter().cloned()),
        SessionOptions::default(),
    );
    let mut out = Matches::new();
    let mut got = Vec::new();
    for &i in &order {
        out.clear();
        s.push(i, &events[i], &mut out);
        got.extend(out.iter().map(|m| (m.rule, m.events.to_vec())));
    }
    out.clear();
    s.finish(&mut out);
    got.extend(out.iter().map(|m| (m.rule, m.events.to_vec())));
    got.sort();
    assert_eq!(
        got,
        vec![
            // The single-event rule sees every event, whatever its timestamp.
            (0, vec![1]),
            (0, vec![2]),
            (0, vec![3]),
            // The sequence skips both events without a usable timestamp.
            (1, vec![0, 3]),
            // The pipe skips the unreadable one, orders the absent one first.
            (2, vec![2]),
            (2, vec![3]),
            // The sample needs no timestamp, but not an unreadable one: the
            // first file event in order is the absent-timestamp one.
            (3, vec![0, 2]),
        ]
    );
    let st = s.stats();
    assert_eq!((st.missing_timestamp, st.bad_timestamp), (1, 1));
}

#[test]
fn nanosecond_timestamps_order_and_time_maxspan() {
    let q = "sequence with maxspan=1ms [process where true] [file where true]";
    let engine = CompiledQuery::compile(q, &CompileOptions::default()).unwrap();
    let run = |evs: &[Value]| {
        let mut s = Session::<usize>::new(&engine, SessionOptions::default());
        let mut out = Matches::new();
        for (i, e) in evs.iter().enumerate() {
            s.push(i, e, &mut out);
        }
        s.finish(&mut out);
        out.iter().map(|m| m.events.to_vec()).collect::<Vec<_>>()
    };
    // Arrival order is reversed; nanoseconds order them.
    let evs = [
        json!({"@timestamp": "2024-01-01T00:00:00.000000900Z", "event": {"category": "file"}}),
        json!({"@timestamp": "2024-01-01T00:00:00.000000100Z", "event": {"category": "process"}}),
    ];
    assert_eq!(run(&evs), vec![vec![1, 0]]);
    // maxspan at nanosecond precision: 1 ms is allowed, 1 ms + 1 ns is not.
    for (ms_frac, ok) in [("1.000000", true), ("1.000001", false)] {
        let evs = [
            json!({"@timestamp": "1000", "event": {"category": "process"}}),
            json!({"@timestamp": format!("100{ms_frac}"), "event": {"category": "file"}}),
        ];
        assert_eq!(run(&evs).len(), usize::from(ok), "{ms_frac}");
    }
}

/// Seeded shuffle inside consecutive windows (xorshift; the repository's
/// `benches/scripts/shuffle_windows.py` does the same for files).
fn shuffle_windows<T>(items: &mut [T], window: usize, mut seed: u64) {
    for chunk in items.chunks_mut(window) {
        for i in (1..chunk.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            chunk.swap(i, (seed % (i as u64 + 1)) as usize);
        }
    }
}

#[test]
#[ignore = "needs the shared corpus: set EQL_SHARED"]
fn corpus_alerts_of_a_shuffled_file_equal_the_sorted_file() {
    let corpus = common::shared_file("corpus/detection-rules-eql.jsonl");
    let (all, errors) = RuleSet::from_path(&corpus);
    assert!(errors.is_empty(), "the shared corpus loads: {errors:?}");
    let lines = common::events(20_000);
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_slice(l).expect("reference events are JSON"))
        .collect();
    let (pack, _errors) = all.compile(&CompileOptions::default());
    let run = |order: &[usize], mode: StreamOrder| {
        let mut opts = SessionOptions::default();
        opts.order = Some(mode);
        let mut s = Session::<usize>::new(&pack, opts);
        let mut out = Matches::new();
        let mut alerts = Vec::new();
        for &i in order {
            out.clear();
            s.push(i, &events[i], &mut out);
            alerts.extend(out.iter().map(|m| (m.rule, m.events.to_vec())));
        }
        out.clear();
        s.finish(&mut out);
        alerts.extend(out.iter().map(|m| (m.rule, m.events.to_vec())));
        alerts.sort();
        (alerts, s.stats())
    };
    let sorted: Vec<usize> = (0..events.len()).collect();
    let mut shuffled = sorted.clone();
    shuffle_windows(&mut shuffled, 50, 42);
    let (want, st) = run(&sorted, StreamOrder::Bounded);
    eprintln!("sorted: {} alerts; {st:?}", want.len());
    assert!(want.len() > 1000, "{} alerts", want.len());
    let (got, st) = run(&shuffled, StreamOrder::Bounded);
    eprintln!("shuffled: {} alerts; {st:?}", got.len());
    assert!(st.out_of_order > 10_000);
    assert_eq!((st.late, st.held_overflow), (0, 0));
    assert_eq!(got, want);
    // A stream with a zero window: stateful rules skip late events, every
    // single-event alert stays.
    let (streamed, st) = run(&shuffled, StreamOrder::Window { window_ms: 0 });
    eprintln!("zero window: {} alerts; {st:?}", streamed.len());
    assert!(st.late > 0);
    let single = |a: &Vec<(usize, Vec<usize>)>| -> Vec<(usize, Vec<usize>)> {
        a.iter()
            .filter(|(r, _)| {
                pack.rules().get(*r).is_some_and(|c| {
                    matches!(c.engine.query().body, eql_engine::QueryBody::Event(_))
                })
            })
            .cloned()
            .collect()
    };
    assert_eq!(single(&streamed), single(&want));
}
