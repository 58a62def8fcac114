//! `Session::push_json` against `Session::push`: random event streams (the
//! `session` fuzz target's decoding, `tests/common/fuzz_session.rs`) through every
//! stateful query kind of both dialects, with random options and limits,
//! pushed once as DOMs and once as bytes, give exactly the same results,
//! late events and counters (and the target's other checks hold).

use proptest::prelude::*;

#[path = "common/fuzz_session.rs"]
mod session_fuzz;

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn push_json_equals_push(
        head in prop::collection::vec(any::<u8>(), 11),
        events in prop::collection::vec(any::<u8>(), 0..(6 * 120)),
    ) {
        // Without a query from the input text (flag bit 4), so that every
        // byte after the header is an event.
        let mut data = head;
        if let Some(flags) = data.first_mut() {
            *flags &= !16;
        }
        data.extend(events);
        let sum = session_fuzz::run(&data);
        prop_assert!(sum.sessions >= 1);
    }
}
