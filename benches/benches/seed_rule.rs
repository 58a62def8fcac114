//! The seed rule (rule 0 of the reference pack) over the reference events.
//!
//! In one run: the baselines (`serde_json::from_slice::<Value>` of the same
//! bytes, and skipping them with `IgnoredAny`), then the engine from raw bytes
//! (projection, no DOM), from a pre-parsed DOM, and the reference interpreter
//! over the DOM.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use eql_bench::{interleaved_ratio, parse_all, reference_events, SEED_RULE};
use eql_engine::{CompileOptions, CompiledQuery};
use std::hint::black_box;

fn seed_rule(c: &mut Criterion) {
    let lines = reference_events();
    let engine = match CompiledQuery::compile(SEED_RULE, &CompileOptions::default()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("seed rule does not compile: {e}");
            return;
        }
    };
    let dom: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    let mut g = c.benchmark_group("seed_rule");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.sample_size(10);
    g.bench_function("baseline: serde_json::from_slice::<Value>", |b| {
        b.iter(|| parse_all(&lines));
    });
    g.bench_function("baseline: skip with IgnoredAny", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(serde_json::from_slice::<serde::de::IgnoredAny>(l).ok());
            }
        });
    });
    g.bench_function("raw bytes -> match (projection)", |b| {
        b.iter(|| {
            lines
                .iter()
                .filter(|l| engine.is_match_json(l).unwrap_or(false))
                .count()
        });
    });
    g.bench_function("DOM -> match (plan)", |b| {
        b.iter(|| dom.iter().filter(|v| engine.is_match(*v)).count());
    });
    g.bench_function("DOM -> match (reference interpreter)", |b| {
        b.iter(|| dom.iter().filter(|v| engine.is_match_reference(*v)).count());
    });
    g.finish();
    interleaved_ratio(
        "seed rule: raw bytes -> match vs serde_json::from_slice::<Value>",
        9,
        lines.len(),
        || parse_all(&lines),
        lines.len(),
        || {
            black_box(
                lines
                    .iter()
                    .filter(|l| engine.is_match_json(l).unwrap_or(false))
                    .count(),
            );
        },
    );
}

criterion_group!(benches, seed_rule);
criterion_main!(benches);
