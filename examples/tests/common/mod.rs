//! What the example tests share: rule sets from query texts, a seeded
//! pseudo-random source for generated events, and the path of an example
//! binary.

#![allow(dead_code)]

use eql_engine::{CompileOptions, CompiledRuleSet, Rule, RuleSet};
use std::path::{Path, PathBuf};

/// `queries` as rules named `rule 0`, `rule 1`, ..., compiled with the
/// default options (every one must compile).
pub(crate) fn compile(queries: &[&str]) -> CompiledRuleSet {
    let mut set = RuleSet::new();
    for (i, q) in queries.iter().enumerate() {
        set.push(Rule {
            name: format!("rule {i}"),
            query: (*q).to_owned(),
            ..Rule::default()
        });
    }
    let (compiled, errors) = set.compile(&CompileOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    compiled
}

/// A xorshift generator: the same seed gives the same events.
pub(crate) struct XorShift(pub(crate) u64);

impl XorShift {
    /// The next number below `m`.
    pub(crate) fn below(&mut self, m: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % m
    }
}

/// The example binary `name`, next to this test's binary
/// (`target/<profile>/deps/test-…` → `target/<profile>/examples/name`);
/// `cargo test` builds it.
pub(crate) fn example_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = dir.join("examples").join(name);
    assert!(
        bin.exists(),
        "{} is missing: `cargo test` builds it (or `cargo build --example {name}`)",
        bin.display()
    );
    bin
}
