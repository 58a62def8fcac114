//! Parsing the whole Elastic detection-rules corpus.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use eql_bench::corpus_queries;
use eql_engine::ParseOptions;
use std::hint::black_box;

fn parse_corpus(c: &mut Criterion) {
    let queries = corpus_queries();
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
