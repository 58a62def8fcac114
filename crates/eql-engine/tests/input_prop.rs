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
