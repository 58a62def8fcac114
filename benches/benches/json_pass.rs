//! The JSON pass alone: extracting the fields rules read from raw event bytes,
//! with serde_json (the engine's `Projection`) and with a SIMD parser
//! (sonic-rs's `get_many`, which skips what it does not want with SIMD).
//!
//! Both sides extract the same paths from the same lines: the 5 fields of the
//! seed rule plus the category, and the fields of the 300-rule pack. sonic-rs
//! only locates each wanted value (a lazy slice of the bytes); the projection
//! also decodes it into a typed value, so the comparison favours sonic-rs.
//! Every line is checked by both (`get_many` validates what it skips).
//!
//! sonic-rs resolves nested paths only: an ECS document written with dotted
//! keys (`{"process.name": ...}`), which Elasticsearch and the projection read
//! as the same field, is invisible to it. That, and `EventLimits`, would have to
//! be rebuilt around it before it could replace the projection.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use eql_bench::{
    corpus_queries, interleaved_ratio, parse_all, reference_events, reference_rules, SEED_RULE,
};
use eql_engine::{
    CompileOptions, CompiledQuery, EventLimits, FieldPath, Pack, PackMatches, PathSegment,
    Projection,
};
use std::hint::black_box;

/// The sonic-rs tree of `paths` (keys only; the paths rules read have no
/// array index).
fn pointer_tree(paths: &[FieldPath]) -> sonic_rs::PointerTree {
    let mut tree = sonic_rs::PointerTree::new();
    for p in paths {
        let keys: Vec<&str> = p
            .segments()
            .iter()
            .filter_map(|s| match s {
                PathSegment::Key(k) => Some(k.as_str()),
                PathSegment::Index(_) => None,
            })
            .collect();
        tree.add_path(keys);
    }
    tree
}

fn projection_pass(projection: &Projection, lines: &[Vec<u8>], limits: &EventLimits) -> usize {
    lines
        .iter()
        .filter(|l| projection.parse(l, limits).is_ok())
        .count()
}

fn sonic_pass(tree: &sonic_rs::PointerTree, lines: &[Vec<u8>]) -> usize {
    lines
        .iter()
        .filter(|l| {
            sonic_rs::get_many(l.as_slice(), tree)
                .map(|vals| black_box(vals.iter().flatten().count()))
                .is_ok()
        })
        .count()
}

fn json_pass(c: &mut Criterion) {
    let lines = reference_events();
    let limits = EventLimits::default();
    let opts = CompileOptions::default();
    let seed = CompiledQuery::compile(SEED_RULE, &opts).expect("the seed rule compiles");
    let pack300: Vec<CompiledQuery> = reference_rules(300)
        .iter()
        .map(|q| CompiledQuery::compile(q, &opts).expect("the reference rules compile"))
        .collect();
    let pack = Pack::new(&pack300);
    let seed_pack = Pack::new([&seed]);
    let sets: [(&str, Vec<FieldPath>); 2] = [
        (
            "seed rule",
            seed_pack
                .plans()
                .flat_map(|p| p.fields().to_vec())
                .collect(),
        ),
        (
            "pack300",
            pack.plans().flat_map(|p| p.fields().to_vec()).collect(),
        ),
    ];
    let mut g = c.benchmark_group("json_pass");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.sample_size(10);
    g.bench_function("baseline: serde_json::from_slice::<Value>", |b| {
        b.iter(|| parse_all(&lines));
    });
    g.bench_function("sonic_rs::from_slice::<sonic_rs::Value>", |b| {
        b.iter(|| {
            for l in &lines {
                black_box(sonic_rs::from_slice::<sonic_rs::Value>(l).ok());
            }
        });
    });
    for (name, paths) in &sets {
        let projection = Projection::new(paths);
        let tree = pointer_tree(paths);
        assert_eq!(
            projection_pass(&projection, &lines, &limits),
            sonic_pass(&tree, &lines),
            "both passes accept the same lines"
        );
        g.bench_function(
            format!("{name}: {} fields, Projection::parse", paths.len()),
            |b| {
                b.iter(|| projection_pass(&projection, &lines, &limits));
            },
        );
        g.bench_function(
            format!("{name}: {} fields, sonic_rs::get_many", paths.len()),
            |b| {
                b.iter(|| sonic_pass(&tree, &lines));
            },
        );
    }
    g.finish();
    for (name, paths) in &sets {
        let projection = Projection::new(paths);
        let tree = pointer_tree(paths);
        interleaved_ratio(
            &format!("{name}: Projection::parse vs sonic_rs::get_many"),
            7,
            lines.len(),
            || {
                sonic_pass(&tree, &lines);
            },
            lines.len(),
            || {
                projection_pass(&projection, &lines, &limits);
            },
        );
    }
    let corpus: Vec<CompiledQuery> = corpus_queries()
        .iter()
        .filter_map(|q| CompiledQuery::compile(q, &opts).ok())
        .collect();
    let corpus_pack = Pack::new(&corpus);
    for (name, p) in [
        ("seed rule", &seed_pack),
        ("pack300", &pack),
        ("corpus", &corpus_pack),
    ] {
        let mut hits = PackMatches::new();
        let mut a = 0usize;
        let mut b = 0usize;
        for l in &lines {
            if p.matches_json(l, &mut hits).is_ok() {
                a += hits.rules().len();
            }
            if let Ok(v) = sonic_rs::from_slice::<sonic_rs::Value>(l) {
                p.matches(&v, &mut hits);
                b += hits.rules().len();
            }
        }
        assert_eq!(a, b, "{name}: the same matches both ways");
        let mut hits2 = PackMatches::new();
        interleaved_ratio(
            &format!("{name}: sonic DOM -> pack vs raw bytes -> pack ({a} matches)"),
            7,
            lines.len(),
            || {
                for l in &lines {
                    black_box(p.matches_json(l, &mut hits).ok());
                }
            },
            lines.len(),
            || {
                for l in &lines {
                    if let Ok(v) = sonic_rs::from_slice::<sonic_rs::Value>(l) {
                        p.matches(&v, &mut hits2);
                    }
                }
            },
        );
    }
    interleaved_ratio(
        "sonic_rs::from_slice::<Value> vs serde_json::from_slice::<Value>",
        7,
        lines.len(),
        || parse_all(&lines),
        lines.len(),
        || {
            for l in &lines {
                black_box(sonic_rs::from_slice::<sonic_rs::Value>(l).ok());
            }
        },
    );
}

criterion_group!(benches, json_pass);
criterion_main!(benches);
