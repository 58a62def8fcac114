//! Any bytes through both dialects' parsers: no panic, and a successful parse
//! must print to text that parses again to the same tree.
#![no_main]
use eql_syntax::{parse_query, ParseOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for opts in [ParseOptions::default(), ParseOptions::python()] {
        if let Ok(q) = parse_query(text, &opts) {
            let printed = q.to_string();
            let again = parse_query(&printed, &opts).expect("printed query must re-parse");
            assert_eq!(again.without_spans(), q.without_spans(), "round-trip changed the tree");
            let _ = q.to_string();
        } else if let Err(e) = parse_query(text, &opts) {
            let _ = e.to_diagnostic().render(text, None);
        }
    }
});
