//! The seed rule over the reference events, beside the cost of building a
//! `serde_json::Value` DOM from the same bytes (the baseline), in one run.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use eql_bench::{reference_events, SEED_RULE};
use eql_engine::{CompileOptions, Engine};
use std::hint::black_box;

fn seed_rule(c: &mut Criterion) {
    let Some(lines) = reference_events() else {
        return;
    };
    let engine = match Engine::compile(SEED_RULE, &CompileOptions::default()) {
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
        b.iter(|| {
            for l in &lines {
                black_box(serde_json::from_slice::<serde_json::Value>(l).ok());
            }
        });
    });
    g.bench_function("bytes -> Value -> match", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for l in &lines {
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(l) {
                    n += usize::from(engine.is_match(&v));
                }
            }
            black_box(n)
        });
    });
    g.bench_function("DOM -> match", |b| {
        b.iter(|| dom.iter().filter(|v| engine.is_match(*v)).count());
    });
    g.finish();
}

criterion_group!(benches, seed_rule);
criterion_main!(benches);
