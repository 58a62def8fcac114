//! A stream where every event opens a new join key stays under the configured
//! cap, counts its evictions and keeps its state small. 1M events in release
//! builds, 100k in debug builds.
#![allow(missing_docs)]

use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions, StreamOrder};
use serde_json::json;

#[test]
fn a_new_key_per_event_stays_under_the_cap() {
    let n: u64 = if cfg!(debug_assertions) {
        100_000
    } else {
        1_000_000
    };
    let cap = 10_000usize;
    let engine = CompiledQuery::compile(
        r#"sequence by process.entity_id with maxspan=5m [process where event.type == "start"] [file where event.type == "creation"]"#,
        &CompileOptions::default(),
    )
    .unwrap();
    // A stream (in-order input): every hit runs as it comes.
    let mut opts = SessionOptions::default();
    opts.limits.max_partials = cap;
    opts.order = Some(StreamOrder::Window { window_ms: 0 });
    let mut s = Session::<u64>::new(&engine, opts);
    let mut out = Matches::new();
    // All within one maxspan window (1 ms apart over 1000 s would exceed 5m;
    // 100 µs apart keeps 1M events inside 100 s), so only the cap bounds state.
    let mut ev = json!({"@timestamp": 0, "event": {"category": "process", "type": "start"}, "process": {"entity_id": ""}});
    for i in 0..n {
        ev["@timestamp"] = json!(1_700_000_000_000u64 + i / 10);
        ev["process"]["entity_id"] = json!(format!("e{i}"));
        s.push(i, &ev, &mut out);
    }
    s.finish(&mut out);
    let st = s.stats();
    eprintln!(
        "{n} events, one new key each, cap {cap}: live partials {}, peak {}, keys {}, evicted {}, state bytes {} (peak {})",
        st.partials, st.peak_partials, st.keys, st.evicted_partials, st.state_bytes, st.peak_state_bytes
    );
    assert!(out.is_empty());
    assert_eq!(st.partials, cap);
    assert!(st.peak_partials <= cap + 1);
    assert!(st.keys <= cap);
    assert_eq!(st.evicted_partials, n - cap as u64);
    // Entries and key values only: well under 1 KiB per live partial.
    assert!(
        st.peak_state_bytes < cap * 1024,
        "state {} bytes",
        st.peak_state_bytes
    );
}
