//! Print → parse is stable, in two modes chosen by the first byte:
//!
//! - even: the rest is text. A query that parses (either dialect) prints to
//!   text that parses to the same tree (spans ignored) and prints identically.
//! - odd: the rest drives `eql_syntax::AstGen` (feature `arbitrary`), which
//!   builds a bounded tree the dialect's parser accepts; its printed text must
//!   parse back to exactly that tree.
#![no_main]
use eql_syntax::{parse_query, AstGen, Dialect, ParseOptions, Query};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fn check(q: &Query, opts: &ParseOptions, origin: &str) {
    let printed = q.to_string();
    let again = match parse_query(&printed, opts) {
        Ok(again) => again,
        Err(e) => panic!(
            "{origin}: printed query does not re-parse ({:?}):\n{}",
            opts.dialect,
            e.to_diagnostic().render(&printed, None)
        ),
    };
    assert_eq!(
        again.without_spans(),
        q.without_spans(),
        "{origin}: round-trip changed the tree of {printed}"
    );
    assert_eq!(again.to_string(), printed, "{origin}: printing is not stable");
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else { return };
        for opts in [ParseOptions::default(), ParseOptions::python()] {
            if let Ok(q) = parse_query(text, &opts) {
                check(&q, &opts, "text");
            }
        }
    } else {
        let (dialect, opts) = if mode & 2 == 0 {
            (Dialect::Elasticsearch, ParseOptions::default())
        } else {
            (Dialect::Python, ParseOptions::python())
        };
        let mut u = Unstructured::new(rest);
        if let Ok(q) = AstGen::new(dialect).query(&mut u) {
            check(&q, &opts, "ast");
        }
    }
});
