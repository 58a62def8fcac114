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
