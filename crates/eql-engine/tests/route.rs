//! `Routing` and `Shard`: workers that each keep the hits they own give,
//! together, exactly the results of one session over all the rules.

use eql_engine::{
    CompileOptions, CompiledQuery, Matches, Placement, Routing, RuleRoute, Session, SessionOptions,
    SessionPlan, Shard, Value,
};
use proptest::prelude::*;
use std::sync::Arc;

const RULES: &[&str] = &[
    "sequence by host [a where true] [b where true]",
    "sequence by host with maxspan=5s [a where true] [b where true] [c where true]",
    "sequence [a where true] by host [b where true] by peer",
    "sequence by host [a where true] until [c where true]",
    "sample by host [a where true] [b where true]",
    "sequence [a where true] [b where true]",
    "sequence by host [a where true] [b where true] | head 3",
    "a where true",
];

fn compiled() -> Vec<CompiledQuery> {
    RULES
        .iter()
        .map(|q| CompiledQuery::compile(q, &CompileOptions::default()).expect("compiles"))
        .collect()
}

fn event(ts: i64, cat: u8, host: u8, peer: u8, array: bool) -> serde_json::Value {
    let cat = ["a", "b", "c"][cat as usize % 3];
    let host = if array {
        serde_json::json!([format!("h{host}"), format!("h{}", host + 1)])
    } else {
        serde_json::json!(format!("h{host}"))
    };
    serde_json::json!({"@timestamp": ts, "event": {"category": cat}, "host": host, "peer": format!("h{peer}")})
}

/// (rule, event handles) of every result, sorted.
fn run(
    qs: &[CompiledQuery],
    opts: SessionOptions,
    events: &[serde_json::Value],
) -> Vec<(usize, Vec<usize>)> {
    let mut s: Session<usize> = Session::new(SessionPlan::new(qs.iter().cloned()), opts);
    let mut m = Matches::new();
    for (i, e) in events.iter().enumerate() {
        s.push(i, e, &mut m);
    }
    s.finish(&mut m);
    let mut out: Vec<(usize, Vec<usize>)> = m.iter().map(|r| (r.rule, r.events.to_vec())).collect();
    out.sort();
    out
}

#[test]
fn placement_follows_keys_pipes_and_lineage() {
    let qs = compiled();
    let r = Routing::new(qs.iter(), 3);
    let got: Vec<RuleRoute> = (0..qs.len()).filter_map(|i| r.rule(i)).collect();
    use RuleRoute::{ByKey, Owner};
    assert_eq!(
        got,
        [
            ByKey,
            ByKey,
            ByKey,
            ByKey,
            ByKey,
            Owner(2),
            Owner(0),
            Owner(1)
        ]
    );
    // The owner of a key depends on its values only.
    let k = [Value::from("h1")];
    assert_eq!(r.key_owner(&k), Routing::new([], 3).key_owner(&k));
    let owners: std::collections::BTreeSet<usize> =
        (0..50).map(|i| r.key_owner(&[Value::Int(i)])).collect();
    assert_eq!(owners.len(), 3, "keys spread over every worker");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sharded_sessions_together_give_one_sessions_results(
        raw in prop::collection::vec((0u8..3, 0u8..4, 0u8..4, prop::bool::weighted(0.1), 0i64..3000), 1..120),
        workers in 1usize..5,
    ) {
        let qs = compiled();
        let mut ts = 0i64;
        let events: Vec<serde_json::Value> = raw
            .iter()
            .map(|&(c, h, p, arr, dt)| {
                ts += dt;
                event(ts, c, h, p, arr)
            })
            .collect();
        let whole = run(&qs, SessionOptions::default(), &events);
        let routing = Arc::new(Routing::new(qs.iter(), workers));
        let mut parts = Vec::new();
        for w in 0..workers {
            let mut opts = SessionOptions::default();
            opts.shard = Some(Shard::new(Arc::clone(&routing), w));
            parts.extend(run(&qs, opts, &events));
        }
        parts.sort();
        prop_assert_eq!(parts, whole);
    }

    /// Each worker given only the events `Placement` sends it (for any of
    /// the rules), in order: the workers together still give one session's
    /// results.
    #[test]
    fn workers_given_only_their_placed_events_give_one_sessions_results(
        raw in prop::collection::vec((0u8..3, 0u8..4, 0u8..4, prop::bool::weighted(0.1), 0i64..3000), 1..120),
        workers in 1usize..5,
    ) {
        let qs = compiled();
        let mut ts = 0i64;
        let events: Vec<serde_json::Value> = raw
            .iter()
            .map(|&(c, h, p, arr, dt)| {
                ts += dt;
                event(ts, c, h, p, arr)
            })
            .collect();
        let whole = run(&qs, SessionOptions::default(), &events);
        let placement = Placement::new(qs.iter(), workers);
        let mut parts = Vec::new();
        let mut to = Vec::new();
        for w in 0..workers {
            let mut opts = SessionOptions::default();
            opts.shard = Some(Shard::new(Arc::clone(placement.routing()), w));
            let mine: Vec<(usize, &serde_json::Value)> = events
                .iter()
                .enumerate()
                .filter(|(_, e)| {
                    (0..qs.len()).any(|r| {
                        placement.owners(r, *e, &mut to);
                        to.contains(&w)
                    })
                })
                .collect();
            let mut s: Session<usize> = Session::new(SessionPlan::new(qs.iter().cloned()), opts);
            let mut m = Matches::new();
            for (i, e) in mine {
                s.push(i, e, &mut m);
            }
            s.finish(&mut m);
            parts.extend(m.iter().map(|r| (r.rule, r.events.to_vec())));
        }
        parts.sort();
        prop_assert_eq!(parts, whole);
    }
}
