//! Raw-bytes projection against DOM lookups on arbitrary JSON. Input: a first
//! line of comma-separated dotted paths, then a JSON document. Whenever
//! serde_json parses the document, the projection must parse it too and
//! resolve every path to exactly the DOM's value.
#![no_main]
use eql_engine::{Event, FieldPath, Projection, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(nl) = data.iter().position(|&b| b == b'\n') else { return };
    let (head, doc) = (&data[..nl], &data[nl + 1..]);
    let Ok(head) = std::str::from_utf8(head) else { return };
    let paths: Vec<FieldPath> = head
        .split(',')
        .filter(|p| !p.is_empty())
        .take(16)
        .map(FieldPath::parse_dotted)
        .collect();
    let proj = Projection::new(&paths);
    let projected = proj.parse(doc);
    let Ok(dom) = serde_json::from_slice::<serde_json::Value>(doc) else { return };
    let Ok(projected) = projected else {
        panic!("the DOM parsed but the projection failed: {:?}", projected.err());
    };
    for p in &paths {
        assert_eq!(
            projected.get(p).map(Value::into_owned),
            Event::get(&dom, p).map(Value::into_owned),
            "path {p}"
        );
    }
});
