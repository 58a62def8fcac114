//! Replays every input in `fuzz/regressions/parse/` through both dialects.
//! Each once crashed or stalled the `parse` fuzz target; now each must parse or
//! fail with an error, print and re-parse stably, and finish promptly.

use eql_syntax::{parse_query, ParseOptions};
use std::path::Path;

#[test]
fn replay_parse_regressions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/parse");
    let entries = std::fs::read_dir(&dir).expect("fuzz/regressions/parse is in the tree");
    let mut n = 0;
    for entry in entries {
        let path = entry.expect("readable dir entry").path();
        let bytes = std::fs::read(&path).expect("readable regression file");
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        for opts in [ParseOptions::default(), ParseOptions::python()] {
            if let Ok(q) = parse_query(text, &opts) {
                let again = parse_query(&q.to_string(), &opts).unwrap_or_else(|e| {
                    panic!("{}: printed query does not re-parse: {e}", path.display())
                });
                assert_eq!(
                    again.without_spans(),
                    q.without_spans(),
                    "{}",
                    path.display()
                );
            }
        }
        n += 1;
    }
    assert!(n > 0, "no regression inputs found in {}", dir.display());
}

/// Comments are blanked before pest runs; a query full of long nested comments
/// between 30 levels of parentheses once took minutes.
#[test]
fn nested_comments_between_parens_parse() {
    let q = format!(
        "process where {}x == 1{}",
        format!("( /*{}*/ ", "/* x */ ".repeat(150)).repeat(30),
        ")".repeat(30)
    );
    let parsed = parse_query(&q, &ParseOptions::default()).expect("valid query");
    assert_eq!(parsed.to_string(), "process where x == 1");
}
