//! Replays every input in `fuzz/regressions/parse/` and
//! `fuzz/regressions/roundtrip/` through both dialects. Each once crashed or
//! stalled a fuzz target; now each must parse or fail with an error, print and
//! re-parse stably, and finish promptly.

use eql_syntax::{parse_query, ParseOptions, Query};
use std::path::{Path, PathBuf};

fn regression_files(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("readable dir entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    files
}

/// Print → parse gives the same tree, and printing again gives the same text.
fn assert_round_trip(q: &Query, opts: &ParseOptions, origin: &Path) {
    let printed = q.to_string();
    let again = parse_query(&printed, opts).unwrap_or_else(|e| {
        panic!(
            "{}: printed query does not re-parse:\n{}",
            origin.display(),
            e.to_diagnostic().render(&printed, None)
        )
    });
    assert_eq!(
        again.without_spans(),
        q.without_spans(),
        "{}: {printed}",
        origin.display()
    );
    assert_eq!(again.to_string(), printed, "{}", origin.display());
}

/// The `roundtrip` target's input format: byte 0 picks the mode (even: text;
/// odd: `AstGen` bytes, bit 1 for Python).
#[test]
fn replay_roundtrip_regressions() {
    for path in regression_files("roundtrip") {
        let bytes = std::fs::read(&path).expect("readable regression file");
        let Some((&mode, rest)) = bytes.split_first() else {
            continue;
        };
        if mode % 2 == 0 {
            let Ok(text) = std::str::from_utf8(rest) else {
                continue;
            };
            for opts in [ParseOptions::default(), ParseOptions::python()] {
                if let Ok(q) = parse_query(text, &opts) {
                    assert_round_trip(&q, &opts, &path);
                }
            }
        } else {
            #[cfg(feature = "arbitrary")]
            {
                let (dialect, opts) = if mode & 2 == 0 {
                    (eql_syntax::Dialect::Elasticsearch, ParseOptions::default())
                } else {
                    (eql_syntax::Dialect::Python, ParseOptions::python())
                };
                let q = eql_syntax::AstGen::new(dialect)
                    .query(&mut arbitrary::Unstructured::new(rest))
                    .expect("generation never fails");
                assert_round_trip(&q, &opts, &path);
            }
        }
    }
}

#[test]
fn replay_parse_regressions() {
    let mut n = 0;
    for path in regression_files("parse") {
        let bytes = std::fs::read(&path).expect("readable regression file");
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        for opts in [ParseOptions::default(), ParseOptions::python()] {
            if let Ok(q) = parse_query(text, &opts) {
                assert_round_trip(&q, &opts, &path);
            }
        }
        n += 1;
    }
    assert!(
        n > 0,
        "no regression inputs found in fuzz/regressions/parse"
    );
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
