//! Tests of the sequence state that look inside it.

use crate::session::Body;
use crate::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions, StreamOrder};
use serde_json::json;

/// A leading missing event that repeats with one key inside `maxspan`
/// keeps one queue entry for it, not one per event.
#[test]
fn leading_missing_queue_stays_small_for_a_repeated_key() {
    let engine = CompiledQuery::compile(
        "sequence by k with maxspan=1h ![a where true] [b where true] [c where true]",
        &CompileOptions::default(),
    )
    .expect("compiles");
    // A stream, so that every event runs as it comes.
    let mut s = Session::<u32>::new(
        &engine,
        SessionOptions {
            order: Some(StreamOrder::Window { window_ms: 0 }),
            ..SessionOptions::default()
        },
    );
    let mut out = Matches::new();
    for i in 0..1000u32 {
        let ev = json!({"@timestamp": 1000 + i64::from(i), "event": {"category": "a"}, "k": "x"});
        s.push(i, &ev, &mut out);
    }
    let Some(Body::Seq(seq)) = s.rules.first().map(|r| &r.body) else {
        panic!("a sequence rule");
    };
    assert!(seq.leading_q.len() <= 18, "{}", seq.leading_q.len());
    assert_eq!(s.stats().keys, 1);
}
