//! Nesting up to the limit parses, prints and round-trips without overflowing the stack.

use eql_syntax::{parse_query, ParseOptions};

#[test]
fn nesting_within_limit() {
    let opts = ParseOptions::default();
    for n in [1usize, 16, 64, 127] {
        for src in [
            format!("process where {}true{}", "(".repeat(n), ")".repeat(n)),
            format!(
                "process where {}true{}",
                "not (".repeat(n / 2),
                ")".repeat(n / 2)
            ),
            format!(
                "sequence [a where true] [b where {}x == 1{}]",
                "(".repeat(n),
                ")".repeat(n)
            ),
            format!("process where {}1 == 1", "- ".repeat(n)),
        ] {
            let q = parse_query(&src, &opts).expect("within the depth limit");
            let printed = q.to_string();
            let again = parse_query(&printed, &opts).expect("reprint parses");
            assert_eq!(again.without_spans(), q.without_spans());
        }
    }
}

#[test]
fn long_operator_chains_are_rejected_not_overflowing() {
    let opts = ParseOptions::default();
    let ok = format!("process where {}", vec!["a == 1"; 500].join(" or "));
    let q = parse_query(&ok, &opts).expect("500-term chain parses");
    assert_eq!(q.to_string(), ok);
    let long = format!("process where {}", vec!["a == 1"; 100_000].join(" or "));
    assert_eq!(
        parse_query(&long, &opts)
            .expect_err("too many operators")
            .code(),
        "EQL0013"
    );
}
