//! Every single-event query of the Elastic detection-rules corpus, over
//! generated reference events and the bundled sample events: the lowered plan,
//! the raw-bytes path and the whole corpus as one pack give exactly the
//! reference interpreter's answers. Needs the shared corpus (ignored by
//! default).

mod common;

use common::{events, shared_text};
use eql_engine::{
    CompileOptions, CompiledQuery, Document, EventLimits, Pack, PackMatches, QueryBody,
};

#[test]
#[ignore = "needs the shared corpus: set EQL_SHARED"]
fn corpus_queries_plan_and_pack_equal_reference() {
    let text = shared_text("corpus/detection-rules-eql.jsonl");
    let n = if cfg!(debug_assertions) { 300 } else { 5_000 };
    let mut lines = events(n);
    let sample = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/data/sample-events.ndjson"
    ))
    .expect("bundled sample events");
    lines.extend(
        sample
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec),
    );
    let opts = CompileOptions::default();
    let engines: Vec<CompiledQuery> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|r| CompiledQuery::compile(r.get("query")?.as_str()?, &opts).ok())
        .filter(|e| matches!(e.query().body, QueryBody::Event(_)))
        .collect();
    assert!(
        engines.len() > 800,
        "{} single-event queries",
        engines.len()
    );
    let pack = Pack::new(&engines);
    let mut hits = PackMatches::new();
    let (mut pairs, mut matched) = (0u64, 0u64);
    for (k, line) in lines.iter().enumerate() {
        let dom: serde_json::Value = serde_json::from_slice(line).expect("generated JSON");
        let mut expected = Vec::new();
        for (i, e) in engines.iter().enumerate() {
            let reference = e.is_match_reference(&dom);
            assert_eq!(e.is_match(&dom), reference, "plan: {}", e.query());
            // Per-rule raw bytes re-parse the line for each rule: every 8th event.
            if k % 8 == 0 {
                assert_eq!(
                    e.is_match_json(line).ok(),
                    Some(reference),
                    "bytes: {}",
                    e.query()
                );
            }
            if reference {
                expected.push(i as u32);
            }
            pairs += 1;
        }
        matched += expected.len() as u64;
        pack.matches(&dom, &mut hits);
        assert_eq!(hits.rules(), &expected[..], "pack over the DOM");
        pack.matches_json(line, &mut hits).expect("valid JSON");
        assert_eq!(hits.rules(), &expected[..], "pack over raw bytes");
        let doc = Document::parse(line, &EventLimits::default()).expect("an object");
        pack.matches(&doc, &mut hits);
        assert_eq!(hits.rules(), &expected[..], "pack over a Document");
    }
    eprintln!(
        "{} queries x {} events = {pairs} pairs, {matched} matches, 0 mismatches",
        engines.len(),
        lines.len()
    );
    assert!(matched > 0, "the events exercise some rules");
}
