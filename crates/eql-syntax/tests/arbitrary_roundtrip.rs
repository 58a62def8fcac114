//! The `arbitrary` AST generator (feature `arbitrary`): every generated tree,
//! printed, parses back to itself in its dialect. The fuzz target `roundtrip`
//! runs the same check on fuzzer bytes; this test runs it on a fixed
//! pseudo-random stream so a generator or printer regression fails `cargo test`.
#![cfg(feature = "arbitrary")]

use arbitrary::Unstructured;
use eql_syntax::{parse_query, AstGen, Dialect, ParseOptions};

/// xorshift64*: deterministic bytes, no extra dependency.
fn bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

#[test]
fn generated_queries_round_trip() {
    for (dialect, opts) in [
        (Dialect::Elasticsearch, ParseOptions::default()),
        (Dialect::Python, ParseOptions::python()),
    ] {
        let gen = AstGen::new(dialect);
        for seed in 1..=400u64 {
            let data = bytes(seed, 64 + (seed as usize % 7) * 128);
            let q = gen
                .query(&mut Unstructured::new(&data))
                .expect("generation never fails");
            let text = q.to_string();
            let again = parse_query(&text, &opts).unwrap_or_else(|e| {
                panic!(
                    "{dialect:?} seed {seed}: printed tree does not parse:\n{}",
                    e.to_diagnostic().render(&text, None)
                )
            });
            assert_eq!(again.without_spans(), q, "{dialect:?} seed {seed}: {text}");
            assert_eq!(again.to_string(), text, "{dialect:?} seed {seed}");
        }
    }
}
