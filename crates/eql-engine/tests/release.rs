//! `Session::release_before`: a bounded session told, at random points of
//! its stream, the earliest order time of the events still to come gives
//! every rule the same results, in the same order, as a session that holds
//! every hit until `finish`, and no event is late (random streams of the
//! `session` fuzz target's decoding, `tests/common/fuzz_session.rs`, in
//! `StreamOrder::Bounded` with out-of-order time, missing and bad
//! timestamps).
#![allow(missing_docs)]
#![allow(clippy::field_reassign_with_default)]

#[path = "common/fuzz_session.rs"]
#[allow(dead_code)]
mod session;

use eql_engine::{
    CompiledQuery, Matches, Session, SessionLimits, SessionOptions, SessionPlan, StreamOrder, Value,
};
use proptest::prelude::*;
use std::sync::Arc;

/// One result as a rule gives it.
type Found = (Vec<u32>, Vec<u16>, Vec<Value<'static>>, Option<u64>);

/// Per rule, its results in order; and the late handles.
fn run(
    plan: &Arc<SessionPlan>,
    opts: &SessionOptions,
    events: &[session::StreamEvent],
    cuts: &[bool],
) -> (Vec<Vec<Found>>, Vec<u32>, usize) {
    let mut s: Session<u32> = Session::new(Arc::clone(plan), opts.clone());
    let mut out = Matches::new();
    let mut per_rule: Vec<Vec<Found>> = vec![Vec::new(); plan.len()];
    let mut late = Vec::new();
    let mut releases = 0;
    let collect = |out: &mut Matches<u32>, per_rule: &mut Vec<Vec<Found>>, late: &mut Vec<u32>| {
        for m in out.iter() {
            if let Some(r) = per_rule.get_mut(m.rule) {
                r.push((
                    m.events.to_vec(),
                    m.missing.to_vec(),
                    m.key.to_vec(),
                    m.count,
                ));
            }
        }
        late.extend_from_slice(out.late());
        out.clear();
    };
    for (i, ev) in events.iter().enumerate() {
        if cuts.get(i).copied().unwrap_or(false) {
            let time = events[i..]
                .iter()
                .filter_map(session::pushed)
                .filter_map(|e| s.order_time(e))
                .min()
                .unwrap_or(i64::MAX);
            s.release_before(time, &mut out);
            releases += out.len();
            collect(&mut out, &mut per_rule, &mut late);
        }
        session::push(&mut s, i as u32, ev, &mut out);
        collect(&mut out, &mut per_rule, &mut late);
    }
    s.finish(&mut out);
    collect(&mut out, &mut per_rule, &mut late);
    late.sort_unstable();
    (per_rule, late, releases)
}

/// The same queries with `unique_pid` as their tiebreaker field (missing,
/// null, an integer, a digit string or a float in the stream).
fn with_tiebreaker(plan: &SessionPlan) -> Arc<SessionPlan> {
    let queries = (0..plan.len()).filter_map(|i| plan.query(i)).map(|q| {
        let mut opts = q.options().clone();
        opts.tiebreaker_field = Some("unique_pid".to_owned());
        CompiledQuery::from_query(q.query().clone(), &opts).expect("recompiles")
    });
    Arc::new(SessionPlan::new(queries))
}

fn check(data: &[u8], cuts: &[bool], tie: bool) -> usize {
    let mut d = session::decode(data);
    if tie {
        d.plans = d.plans.iter().map(|p| with_tiebreaker(p)).collect();
    }
    d.opts.order = Some(StreamOrder::Bounded);
    // The cap on held hits runs hits early by itself: out of the way here.
    d.opts.limits.max_held_hits = SessionLimits::default().max_held_hits;
    let mut early = 0;
    for plan in &d.plans {
        let whole = run(plan, &d.opts, &d.events, &[]);
        let released = run(plan, &d.opts, &d.events, cuts);
        assert_eq!(released.0, whole.0, "results per rule");
        assert_eq!(released.1, whole.1, "late events");
        early += released.2;
    }
    early
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn released_early_as_held_to_the_end(
        head in prop::collection::vec(any::<u8>(), 11),
        events in prop::collection::vec(any::<u8>(), 0..(6 * 100)),
        cuts in prop::collection::vec(any::<bool>(), 100),
        tie: bool,
    ) {
        let mut data = head;
        if let Some(flags) = data.first_mut() {
            // No query from text: every later byte is an event.
            *flags &= !16;
        }
        data.extend(events);
        check(&data, &cuts, tie);
    }
}

/// The streams reach results that are released before `finish`.
#[test]
fn some_results_come_before_finish() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut early = 0;
    for _ in 0..64 {
        let mut data: Vec<u8> = (0..11).map(|_| next() as u8).collect();
        data[0] &= !16;
        data.extend((0..60 * 6).map(|_| next() as u8));
        let cuts: Vec<bool> = (0..60).map(|k| k % 7 == 0).collect();
        early += check(&data, &cuts, early % 2 == 1);
    }
    assert!(early > 0, "no result came before finish");
}

/// A session whose rules read two clocks: a promise on the session's
/// clock releases the hits of the rule on `@timestamp` as their time
/// passes, and none of the hits of the rule timed by its own field `t2`
/// (they run at `finish`); every result is the one a session that holds
/// everything to the end gives, in the same order. The stream goes back in
/// time twice, as files laid end to end do.
#[test]
fn a_promise_releases_only_the_hits_on_the_sessions_clock() {
    use eql_engine::CompileOptions;
    use serde_json::json;
    let base = CompileOptions::default();
    let mut own = CompileOptions::default();
    own.timestamp_field = "t2".into();
    let query = "sequence by k with maxspan=5s [a where true] [b where true]";
    let plan = Arc::new(SessionPlan::new([
        CompiledQuery::compile(query, &base).expect("compiles"),
        CompiledQuery::compile(query, &own).expect("compiles"),
    ]));
    // Three runs of the same 40 seconds: `a` then `b` a second later, per
    // key; `t2` runs backwards so the two clocks disagree.
    let events: Vec<serde_json::Value> = (0..3)
        .flat_map(|copy| {
            (0..40i64).map(move |i| {
                json!({
                    "@timestamp": i * 1000 + copy,
                    "t2": (40 - i) * 1000 + copy,
                    "event": {"category": if i % 2 == 0 { "a" } else { "b" }},
                    "k": format!("h{}", (i / 2) % 3),
                })
            })
        })
        .collect();
    let mut opts = SessionOptions::default();
    opts.order = Some(StreamOrder::Bounded);
    let run = |promise: bool| {
        let mut s: Session<u32> = Session::new(Arc::clone(&plan), opts.clone());
        let mut out = Matches::new();
        // (rule, events, released before finish)
        let mut found: Vec<(usize, Vec<u32>, bool)> = Vec::new();
        for (i, ev) in events.iter().enumerate() {
            if promise {
                let time = events[i..]
                    .iter()
                    .filter_map(|e| s.order_time(e))
                    .min()
                    .unwrap_or(i64::MAX);
                s.release_before(time, &mut out);
            }
            s.push(i as u32, ev, &mut out);
            found.extend(out.iter().map(|m| (m.rule, m.events.to_vec(), true)));
            assert!(out.late().is_empty(), "no event is late");
            out.clear();
        }
        s.finish(&mut out);
        found.extend(out.iter().map(|m| (m.rule, m.events.to_vec(), false)));
        found
    };
    let whole = run(false);
    let promised = run(true);
    let strip = |f: &[(usize, Vec<u32>, bool)], rule: usize| -> Vec<Vec<u32>> {
        f.iter()
            .filter(|m| m.0 == rule)
            .map(|m| m.1.clone())
            .collect()
    };
    for rule in 0..2 {
        assert_eq!(strip(&promised, rule), strip(&whole, rule), "rule {rule}");
    }
    assert!(!strip(&whole, 0).is_empty() && !strip(&whole, 1).is_empty());
    assert!(whole.iter().all(|m| !m.2), "held to the end");
    let early = |rule: usize| promised.iter().filter(|m| m.0 == rule && m.2).count();
    assert!(
        early(0) > 0,
        "the promise released the session clock's hits"
    );
    assert_eq!(early(1), 0, "a promise on another clock releases nothing");
}
