//! Parsing the whole Elastic detection-rules corpus.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use eql_bench::shared_dir;
use eql_engine::ParseOptions;
use std::hint::black_box;

fn parse_corpus(c: &mut Criterion) {
    let path = shared_dir().join("corpus/detection-rules-eql.jsonl");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("bench: {} absent, skipping", path.display());
        return;
    };
    let queries: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v.get("query").and_then(|q| q.as_str()).map(str::to_owned))
        .collect();
    let opts = ParseOptions::default();
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(queries.len() as u64));
    g.bench_function("detection-rules corpus", |b| {
        b.iter(|| {
            queries
                .iter()
                .filter(|q| eql_engine::parse_query(q, &opts).is_ok())
                .count()
        });
    });
    g.finish();
    black_box(());
}

criterion_group!(benches, parse_corpus);
criterion_main!(benches);
