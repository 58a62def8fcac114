//! Any text through parse + compile + evaluation over a fixed event, and a
//! streaming Session over a few copies of it: no panic.
#![no_main]
use eql_engine::{CompileOptions, Dialect, CompiledQuery, Matches, Session, SessionOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let event = serde_json::json!({
        "event": {"category": ["process"], "type": "start"},
        "process": {"name": "cmd.exe", "pid": 4, "args": ["a", "b"]},
        "@timestamp": "2024-01-01T00:00:00Z"
    });
    for dialect in [Dialect::Elasticsearch, Dialect::Python] {
        let mut opts = CompileOptions::default();
        opts.dialect = dialect;
        if let Ok(engine) = CompiledQuery::compile(text, &opts) {
            let _ = engine.is_match(&event);
            let mut session = Session::<u8>::new(&engine, SessionOptions::default());
            let mut out = Matches::new();
            for i in 0..3 {
                session.push(i, &event, &mut out);
            }
            session.finish(&mut out);
        }
    }
});
