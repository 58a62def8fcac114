//! `parse_event` against plain `serde_json`: on any bytes it never panics, and
//! with the default limits it accepts exactly the objects `serde_json` accepts
//! (the depth scan and `serde_json`'s own limit agree), with the same value.

use eql_engine::{parse_event, EventErrorKind, EventLimits};
use proptest::prelude::*;
use serde_json::Value;

/// JSON-ish text: brackets, strings, escapes, numbers, whitespace.
fn jsonish() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("{"),
            Just("}"),
            Just("["),
            Just("]"),
            Just("\""),
            Just("\\"),
            Just(":"),
            Just(","),
            Just("\"a\""),
            Just("\"k\":"),
            Just("1"),
            Just("-0"),
            Just("1e999"),
            Just("true"),
            Just(" "),
            Just("{\"a\":"),
            Just("é"),
        ],
        0..300,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn agrees_with_serde_json(text in jsonish()) {
        let ours = parse_event(text.as_bytes(), &EventLimits::default());
        let theirs = serde_json::from_str::<Value>(&text);
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(e), Ok(b)) => prop_assert!(
                !b.is_object() && matches!(e.kind, EventErrorKind::NotAnObject { .. }),
                "{text}: {e}"
            ),
            (Ok(_), Err(e)) => prop_assert!(false, "{text}: accepted, serde_json says {e}"),
            (Err(_), Err(_)) => {}
        }
    }

    #[test]
    fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200), depth in 0usize..200, max in 0usize..300) {
        let mut limits = EventLimits::default();
        limits.max_line_bytes = max;
        limits.max_depth = depth;
        let _ = parse_event(&bytes, &limits);
    }
}

/// A pack that reads `a` and `k` (so some of the text is read, the rest
/// skipped) and matches most objects.
fn pack(limits: &EventLimits) -> eql_engine::Pack {
    let mut opts = eql_engine::CompileOptions::default();
    opts.event_limits = limits.clone();
    let rules = ["any where a == 1 or k == \"a\"", "any where true"];
    let engines: Vec<eql_engine::CompiledQuery> = rules
        .iter()
        .map(|q| eql_engine::CompiledQuery::compile(q, &opts).expect("compiles"))
        .collect();
    eql_engine::Pack::new(&engines)
}

proptest! {
    /// `Pack::matches_json` from bytes: the error `parse_event` gives, or
    /// the matches of the pack over the DOM. The one difference allowed: a
    /// number beyond `f64` in a member no rule reads is skipped unconverted.
    #[test]
    fn pack_matches_json_agrees_with_parse_event(text in jsonish(), depth in 1usize..140, max in 0usize..400) {
        let mut limits = EventLimits::default();
        limits.max_line_bytes = max;
        limits.max_depth = depth;
        let pack = pack(&limits);
        let mut hits = eql_engine::PackMatches::new();
        let ours = pack.matches_json(text.as_bytes(), &mut hits);
        match (ours, parse_event(text.as_bytes(), &limits)) {
            (Ok(()), Ok(dom)) => {
                let got = hits.rules().to_vec();
                pack.matches(&dom, &mut hits);
                prop_assert_eq!(got, hits.rules().to_vec());
            }
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (Ok(()), Err(b)) => prop_assert!(
                b.kind == EventErrorKind::NumberOutOfRange && text.contains("1e999"),
                "{text}: accepted, parse_event says {b}"
            ),
            (Err(a), Ok(_)) => prop_assert!(false, "{text}: rejected ({a}), parse_event accepts"),
        }
    }
}
