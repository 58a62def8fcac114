//! The single-event rules of the Elastic detection-rules corpus as one pack
//! over the reference events, alone (the `pack` bench builds every other
//! pack and its baselines first):
//!
//! - `corpusN/raw bytes -> pack` and `corpusN/Document -> pack`;
//! - printed: the rules evaluated exactly per event (the rest are ruled out
//!   by routing and the candidate index), the rules the index cannot rule
//!   out (no witness), and the matches;
//! - an interleaved ratio of the raw-bytes pack against
//!   `serde_json::from_slice::<Value>` over the same lines.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use eql_bench::{corpus_queries, interleaved_ratio, parse_all, reference_events};
use eql_engine::{CompileOptions, CompiledQuery, Document, Event, EventLimits, Pack, PackMatches};
use std::hint::black_box;

fn run_bytes(pack: &Pack, lines: &[Vec<u8>], hits: &mut PackMatches) -> usize {
    let mut n = 0;
    for l in lines {
        if pack.matches_json(l, hits).is_ok() {
            n += hits.rules().len();
        }
    }
    n
}

fn run_events<E: Event>(pack: &Pack, events: &[E], hits: &mut PackMatches) -> usize {
    let mut n = 0;
    for v in events {
        pack.matches(v, hits);
        n += hits.rules().len();
    }
    n
}

fn corpus(c: &mut Criterion) {
    let lines = reference_events();
    let limits = EventLimits::default();
    let docs: Vec<Document<'_>> = lines
        .iter()
        .filter_map(|l| Document::parse(l, &limits).ok())
        .collect();
    let opts = CompileOptions::default();
    let engines: Vec<CompiledQuery> = corpus_queries()
        .iter()
        .filter_map(|q| CompiledQuery::compile(q, &opts).ok())
        .collect();
    let pack = Pack::new(&engines);
    let mut hits = PackMatches::new();

    let matches = run_bytes(&pack, &lines, &mut hits);
    let unwitnessed = pack
        .plans()
        .flat_map(|p| &p.rules)
        .filter(|r| r.witnesses.is_empty())
        .count();
    println!(
        "corpus{}: {:.3} rules evaluated per event, {unwitnessed} rules without a witness, {matches} matches over {} events",
        pack.len(),
        hits.evaluated() as f64 / lines.len().max(1) as f64,
        lines.len()
    );

    let mut g = c.benchmark_group(format!("corpus{}", pack.len()));
    g.sample_size(10);
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("raw bytes -> pack", |b| {
        b.iter(|| run_bytes(&pack, &lines, &mut hits));
    });
    g.bench_function("Document -> pack", |b| {
        b.iter(|| run_events(&pack, &docs, &mut hits));
    });
    g.finish();
    interleaved_ratio(
        &format!(
            "corpus{}: raw bytes -> pack vs serde_json::from_slice::<Value>",
            pack.len()
        ),
        5,
        lines.len(),
        || parse_all(&lines),
        lines.len(),
        || {
            black_box(run_bytes(&pack, &lines, &mut hits));
        },
    );
}

criterion_group!(benches, corpus);
criterion_main!(benches);
