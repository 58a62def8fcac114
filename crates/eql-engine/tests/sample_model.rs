//! `sample` in a session against a direct model of Elasticsearch's
//! `SampleIterator`, written over the whole input at once: the keys every
//! filter has an event for, in ascending key order (null first, numbers by
//! value, strings by bytes); per key each filter's first
//! `filters + max_samples_per_key − 1` events in input order; a depth-first
//! search over the filters in order, each taking its first event not already
//! in the sample, every complete combination up to `max_samples_per_key`.

use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
use proptest::prelude::*;
use serde_json::{json, Value as Json};
use std::cmp::Ordering;

const FILTERS: &[&str] = &["x", "y", "z"];

/// A key value of the model: `None` is null.
#[derive(Clone, Debug, PartialEq)]
enum K {
    Null,
    Num(i64),
    Str(String),
}

fn key_of(event: &Json, optional: bool) -> Option<K> {
    match event.get("k") {
        Some(Json::String(s)) => Some(K::Str(s.clone())),
        Some(Json::Number(n)) => n.as_i64().map(K::Num),
        _ if optional => Some(K::Null),
        _ => None,
    }
}

fn cmp_k(a: &K, b: &K) -> Ordering {
    match (a, b) {
        (K::Num(x), K::Num(y)) => x.cmp(y),
        (K::Str(x), K::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
        _ => {
            let rank = |k: &K| match k {
                K::Null => 0,
                K::Num(_) => 1,
                K::Str(_) => 2,
            };
            rank(a).cmp(&rank(b))
        }
    }
}

fn dfs(lists: &[Vec<usize>], partial: &mut Vec<usize>, out: &mut Vec<Vec<usize>>, max: usize) {
    let Some(list) = lists.get(partial.len()) else {
        return;
    };
    for &e in list {
        if out.len() >= max {
            return;
        }
        if partial.contains(&e) {
            continue;
        }
        partial.push(e);
        if partial.len() == lists.len() {
            out.push(partial.clone());
        } else {
            dfs(lists, partial, out, max);
        }
        partial.pop();
    }
}

/// The samples the model gives, as event numbers (1-based).
fn model(events: &[Json], filters: usize, optional: bool, per_key: usize) -> Vec<Vec<usize>> {
    let mut keys: Vec<K> = Vec::new();
    for e in events {
        if let Some(k) = key_of(e, optional) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    keys.sort_by(cmp_k);
    let cap = filters + per_key - 1;
    let mut out = Vec::new();
    for key in keys {
        let lists: Vec<Vec<usize>> = FILTERS[..filters]
            .iter()
            .map(|f| {
                events
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| {
                        e.get(*f) == Some(&json!(1)) && key_of(e, optional).as_ref() == Some(&key)
                    })
                    .map(|(i, _)| i + 1)
                    .take(cap)
                    .collect()
            })
            .collect();
        if lists.iter().any(Vec::is_empty) {
            continue;
        }
        let mut found = Vec::new();
        dfs(&lists, &mut Vec::new(), &mut found, per_key);
        out.extend(found);
    }
    out
}

fn session(events: &[Json], filters: usize, optional: bool, per_key: usize) -> Vec<Vec<usize>> {
    let steps: Vec<String> = FILTERS[..filters]
        .iter()
        .map(|f| format!("[any where {f} == 1]"))
        .collect();
    let q = format!(
        "sample by {}k {}",
        if optional { "?" } else { "" },
        steps.join(" ")
    );
    let engine = CompiledQuery::compile(&q, &CompileOptions::default())
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    let mut opts = SessionOptions::default();
    opts.limits.max_samples_per_key = per_key;
    let mut s = Session::<usize>::new(&engine, opts);
    let mut out = Matches::new();
    for (i, e) in events.iter().enumerate() {
        s.push(i + 1, e, &mut out);
    }
    s.finish(&mut out);
    out.iter().map(|m| m.events.to_vec()).collect()
}

fn event() -> impl Strategy<Value = Json> {
    let key = prop_oneof![
        Just(json!("a")),
        Just(json!("B")),
        Just(json!("b")),
        Just(json!(2)),
        Just(json!(10)),
        Just(json!(-3)),
        Just(Json::Null),
    ];
    (key, any::<bool>(), 0u8..4, 0u8..4, 0u8..4).prop_map(|(k, has_k, x, y, z)| {
        let mut e = json!({"@timestamp": 1000, "event": {"category": "e"}});
        if has_k {
            e["k"] = k;
        }
        // A filter matches about one event in two.
        for (f, v) in FILTERS.iter().zip([x, y, z]) {
            if v < 2 {
                e[*f] = json!(1);
            }
        }
        e
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn samples_are_those_of_the_model(
        events in prop::collection::vec(event(), 0..24),
        filters in 1usize..=3,
        optional in any::<bool>(),
        per_key in 1usize..=4,
    ) {
        prop_assert_eq!(
            session(&events, filters, optional, per_key),
            model(&events, filters, optional, per_key)
        );
    }
}
