//! Sequences with `![...]` steps against a model of Elasticsearch's missing
//! event check (`TumblingWindow.checkMissingEvents`): the candidates are the
//! results of the same query without its missing steps (ES matches the
//! positive steps as a sequence of their own); the model then looks each
//! candidate up against the whole input, in whole milliseconds with
//! exclusive bounds:
//!
//! * a middle step with an event of the key between its neighbouring
//!   positive events drops the candidate;
//! * `L` = the latest leading-step event before the first positive event,
//!   `T` = the first trailing-step event after the last one; the candidate
//!   is kept when the query's leading step found nothing, or its trailing
//!   step found nothing, or `T − L` (both), `last − L` (leading only),
//!   `T − first` (trailing only) exceeds `maxspan`.

use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
use proptest::prelude::*;
use serde_json::{json, Value as Json};

const MAXSPAN_US: i64 = 5_000;

/// One test event: microseconds since the epoch, category, key.
#[derive(Clone, Debug)]
struct Ev {
    us: i64,
    cat: &'static str,
    key: &'static str,
}

impl Ev {
    fn json(&self) -> Json {
        let (s, frac) = (self.us / 1_000_000, self.us % 1_000_000);
        json!({
            "@timestamp": format!("1970-01-01T00:00:{s:02}.{frac:06}Z"),
            "event": {"category": self.cat},
            "k": self.key,
        })
    }
}

/// Steps of a query shape: `Some(category)` positive, `None` a missing step
/// on category `m`.
const SHAPES: &[&[Option<&str>]] = &[
    &[Some("a"), None, Some("b")],
    &[None, Some("a"), Some("b")],
    &[Some("a"), Some("b"), None],
    &[None, Some("a"), None],
    &[None, Some("a"), None, Some("b"), None],
    &[Some("a"), None, Some("a"), None, Some("b")],
];

fn query(shape: &[Option<&str>], with_missing: bool) -> String {
    let steps: Vec<String> = shape
        .iter()
        .filter_map(|s| match s {
            Some(c) => Some(format!("[{c} where true]")),
            None if with_missing => Some("![m where true]".to_owned()),
            None => None,
        })
        .collect();
    format!(
        "sequence by k with maxspan={}ms {}",
        MAXSPAN_US / 1000,
        steps.join(" ")
    )
}

fn run(q: &str, events: &[Ev]) -> Vec<Vec<usize>> {
    let engine = CompiledQuery::compile(q, &CompileOptions::default())
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    let mut s = Session::<usize>::new(&engine, SessionOptions::default());
    let mut out = Matches::new();
    for (i, e) in events.iter().enumerate() {
        s.push(i, &e.json(), &mut out);
    }
    s.finish(&mut out);
    out.iter().map(|m| m.events.to_vec()).collect()
}

/// The model's verdict on one candidate (indexes of its positive events).
fn kept(shape: &[Option<&str>], events: &[Ev], cand: &[usize]) -> bool {
    let ms = |i: usize| events[i].us.div_euclid(1000);
    let key = events[cand[0]].key;
    let missing = |lo: Option<i64>, hi: Option<i64>| -> Vec<i64> {
        events
            .iter()
            .filter(|e| e.cat == "m" && e.key == key)
            .filter(|e| lo.is_none_or(|l| e.us.div_euclid(1000) > l))
            .filter(|e| hi.is_none_or(|h| e.us.div_euclid(1000) < h))
            .map(|e| e.us)
            .collect()
    };
    let first_pos = shape.iter().position(Option::is_some).unwrap_or(0);
    let last_pos = shape.iter().rposition(Option::is_some).unwrap_or(0);
    // Middle steps: between the positive events around them.
    let mut seen = 0usize;
    for (i, step) in shape.iter().enumerate() {
        if step.is_some() {
            seen += 1;
        } else if i > first_pos && i < last_pos {
            let (p, n) = (cand[seen - 1], cand[seen]);
            if !missing(Some(ms(p)), Some(ms(n))).is_empty() {
                return false;
            }
        }
    }
    let has_leading = first_pos > 0;
    let has_trailing = last_pos + 1 < shape.len();
    let (first, last) = (cand[0], cand[cand.len() - 1]);
    let l = has_leading
        .then(|| missing(None, Some(ms(first))).into_iter().max())
        .flatten();
    let t = has_trailing
        .then(|| missing(Some(ms(last)), None).into_iter().min())
        .flatten();
    if (has_leading && l.is_none()) || (has_trailing && t.is_none()) {
        return true;
    }
    match (l, t) {
        (Some(l), Some(t)) => t - l > MAXSPAN_US,
        (Some(l), None) => events[last].us - l > MAXSPAN_US,
        (None, Some(t)) => t - events[first].us > MAXSPAN_US,
        (None, None) => true,
    }
}

fn events() -> impl Strategy<Value = Vec<Ev>> {
    let one = (
        0i64..1_800,
        prop_oneof![Just("a"), Just("b"), Just("m"), Just("m")],
        prop_oneof![Just("x"), Just("y")],
    );
    prop::collection::vec(one, 0..30).prop_map(|v| {
        let mut us = 1_000_000;
        v.into_iter()
            .map(|(gap, cat, key)| {
                us += gap;
                Ev { us, cat, key }
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn missing_steps_are_checked_as_elasticsearch_does(
        shape in 0..SHAPES.len(),
        evs in events(),
    ) {
        let shape = SHAPES[shape];
        let candidates = run(&query(shape, false), &evs);
        let expected: Vec<Vec<usize>> = candidates
            .into_iter()
            .filter(|c| kept(shape, &evs, c))
            .collect();
        prop_assert_eq!(run(&query(shape, true), &evs), expected);
    }
}
