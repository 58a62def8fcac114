//! The optimized paths against the reference interpreter: input is a query
//! line, then one JSON event. For both dialects, when the query compiles and
//! the event is JSON: the lowered plan, the raw-bytes projection, a pack
//! (the query among a few fixed rules) and the reference and the pack over a
//! `Document` of the same bytes must all give the reference's answer.
#![no_main]
use eql_engine::{CompileOptions, Dialect, Document, CompiledQuery, EventLimits, PackMatches, Pack};
use libfuzzer_sys::fuzz_target;

const COMPANIONS: &[&str] = &[
    r#"process where process.name : ("cmd.exe", "*.ps1") and not user.name == "SYSTEM""#,
    r#"any where x : "a*b" or x in ("c", 1)"#,
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some((query, event)) = text.split_once('\n') else {
        return;
    };
    let Ok(dom) = serde_json::from_str::<serde_json::Value>(event) else {
        return;
    };
    // A `Document` exists exactly when the DOM is an object (within the limits).
    let doc = Document::parse(event.as_bytes(), &EventLimits::default()).ok();
    if doc.is_none() && dom.is_object() && event.len() < 1 << 20 {
        panic!("Document::parse rejected an object that serde_json accepts: {event}");
    }
    for dialect in [Dialect::Elasticsearch, Dialect::Python] {
        let opts = if dialect == Dialect::Python {
            CompileOptions::python()
        } else {
            CompileOptions::default()
        };
        let Ok(engine) = CompiledQuery::compile(query, &opts) else {
            continue;
        };
        let reference = engine.is_match_reference(&dom);
        assert_eq!(
            engine.is_match(&dom),
            reference,
            "plan vs reference: {query} / {event}"
        );
        if let Some(doc) = &doc {
            assert_eq!(
                engine.is_match_reference(doc),
                reference,
                "reference over a Document vs over the DOM: {query} / {event}"
            );
        }
        // From bytes: the reference's answer for an event (an object within
        // the limits, exactly when there is a `Document`), else an error.
        assert_eq!(
            engine.is_match_json(event.as_bytes()).ok(),
            doc.is_some().then_some(reference),
            "raw bytes vs reference: {query} / {event}"
        );
        let mut engines = vec![engine];
        engines.extend(
            COMPANIONS
                .iter()
                .filter_map(|q| CompiledQuery::compile(q, &opts).ok()),
        );
        let expected: Vec<u32> = engines
            .iter()
            .enumerate()
            .filter(|(_, e)| e.is_match_reference(&dom))
            .map(|(i, _)| i as u32)
            .collect();
        let pack = Pack::new(&engines);
        let mut hits = PackMatches::new();
        pack.matches(&dom, &mut hits);
        assert_eq!(
            hits.rules(),
            &expected[..],
            "pack vs reference: {query} / {event}"
        );
        if let Some(doc) = &doc {
            pack.matches(doc, &mut hits);
            assert_eq!(
                hits.rules(),
                &expected[..],
                "pack over a Document vs reference: {query} / {event}"
            );
        }
        // Twice: the second reading takes the key hints the first learnt.
        for _ in 0..2 {
            match pack.matches_json(event.as_bytes(), &mut hits) {
                Ok(()) => assert_eq!(
                    hits.rules(),
                    &expected[..],
                    "pack bytes vs reference: {query} / {event}"
                ),
                Err(e) => assert!(
                    doc.is_none(),
                    "pack bytes rejected an event with a Document ({e}): {query} / {event}"
                ),
            }
        }
    }
});
