//! Rule packs over the reference events, each with its baselines in the same
//! run:
//!
//! - `pack300`: the 300-rule reference pack (`gen_rules.py --seed 7 -n 300`),
//!   from raw bytes and from a DOM, beside `serde_json::from_slice::<Value>`,
//!   the reference interpreter and the peer tau-engine 1.16 (the generator's
//!   tau twin of every rule, optimised; both run every rule on every event
//!   over the DOM, on the first 2 000 events because they are slow, with the
//!   pack over the same 2 000 events beside them; the bench prints whether
//!   the pack and tau agree on the number of matches), plus the memory floor
//!   of the DOM:
//!   reading `event.category` alone, and every field the pack reads, with no
//!   evaluation;
//! - `python300`: the same 300 rules compiled in the Python dialect, the pack
//!   against the Python reference interpreter on the first 2 000 events;
//! - `corpus`: the single-event rules of the Elastic detection-rules corpus;
//! - `scaling`: 1, 10, 100 and 1 000 rules of the reference generator.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use eql_bench::{
    corpus_queries, interleaved_ratio, parse_all, reference_events, reference_rules,
    reference_tau_rules,
};
use eql_engine::{
    CompileOptions, CompiledQuery, Document, Event, EventLimits, FieldPath, Pack, PackMatches,
};
use std::hint::black_box;

fn compile(queries: &[String], opts: &CompileOptions) -> Vec<CompiledQuery> {
    queries
        .iter()
        .filter_map(|q| CompiledQuery::compile(q, opts).ok())
        .collect()
}

fn run_dom<E: Event>(pack: &Pack, dom: &[E], hits: &mut PackMatches) -> usize {
    let mut n = 0;
    for v in dom {
        pack.matches(v, hits);
        n += hits.rules().len();
    }
    n
}

/// Every tau rule on every event (tau-engine has no pack: a caller runs each
/// rule), as chainsaw does.
fn run_tau(rules: &[tau_engine::Rule], events: &[serde_json::Value]) -> usize {
    events
        .iter()
        .map(|v| rules.iter().filter(|r| r.matches(v)).count())
        .sum()
}

/// Every rule through the reference interpreter on every event.
fn run_reference<E: Event>(engines: &[CompiledQuery], events: &[E]) -> usize {
    events
        .iter()
        .map(|v| engines.iter().filter(|e| e.is_match_reference(v)).count())
        .sum()
}

fn run_bytes(pack: &Pack, lines: &[Vec<u8>], hits: &mut PackMatches) -> usize {
    let mut n = 0;
    for l in lines {
        if pack.matches_json(l, hits).is_ok() {
            n += hits.rules().len();
        }
    }
    n
}

/// Interleaved ratios of the pack over `what` against `base`, a baseline that
/// runs every rule on the `few` events: the pack over the same `few`, and
/// over `all` (cold).
fn versus<E: Event>(
    what: &str,
    name: &str,
    pack: &Pack,
    few: &[E],
    all: &[E],
    base: &mut dyn FnMut(),
) {
    let mut hits = PackMatches::new();
    interleaved_ratio(
        &format!("pack300: {what} -> pack vs {name}, same 2 000 events"),
        7,
        few.len(),
        &mut *base,
        few.len(),
        || {
            black_box(run_dom(pack, few, &mut hits));
        },
    );
    interleaved_ratio(
        &format!("pack300: {what} -> pack (100k events) vs {name} (2 000 events)"),
        7,
        few.len(),
        &mut *base,
        all.len(),
        || {
            black_box(run_dom(pack, all, &mut hits));
        },
    );
}

fn packs(c: &mut Criterion) {
    let lines = reference_events();
    let dom: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    let limits = EventLimits::default();
    let parse_docs = || -> Vec<Document<'_>> {
        lines
            .iter()
            .filter_map(|l| Document::parse(l, &limits).ok())
            .collect()
    };
    let docs = parse_docs();
    let opts = CompileOptions::default();
    let mut hits = PackMatches::new();

    let rules300 = reference_rules(300);
    {
        let engines = compile(&rules300, &opts);
        let pack = Pack::new(&engines);
        let mut g = c.benchmark_group("pack300");
        g.sample_size(10);
        g.throughput(Throughput::Elements(lines.len() as u64));
        g.bench_function("baseline: serde_json::from_slice::<Value>", |b| {
            b.iter(|| parse_all(&lines));
        });
        g.bench_function("raw bytes -> pack", |b| {
            b.iter(|| run_bytes(&pack, &lines, &mut hits));
        });
        g.bench_function("DOM -> pack", |b| {
            b.iter(|| run_dom(&pack, &dom, &mut hits));
        });
        g.bench_function("baseline: Document::parse", |b| {
            b.iter(|| parse_docs().len());
        });
        g.bench_function("Document -> pack", |b| {
            b.iter(|| run_dom(&pack, &docs, &mut hits));
        });
        // The memory floor of a pre-parsed DOM: reading fields from 100k
        // cold events, without evaluating anything.
        let category = eql_engine::Projection::new([&FieldPath::parse_dotted("event.category")]);
        g.bench_function("floor: DOM -> read event.category only", |b| {
            b.iter(|| {
                let mut n = 0usize;
                for v in &dom {
                    v.resolve_all(&category, &mut |_, _| n += 1);
                }
                n
            });
        });
        g.bench_function("floor: DOM -> read every field the pack reads", |b| {
            b.iter(|| {
                let mut n = 0usize;
                for v in &dom {
                    v.resolve_all(pack.projection(), &mut |_, _| n += 1);
                }
                n
            });
        });
        g.bench_function("floor: Document -> read every field the pack reads", |b| {
            b.iter(|| {
                let mut n = 0usize;
                for v in &docs {
                    v.resolve_all(pack.projection(), &mut |_, _| n += 1);
                }
                n
            });
        });
        let few = &dom[..dom.len().min(2000)];
        let few_docs = &docs[..docs.len().min(2000)];
        g.throughput(Throughput::Elements(few.len() as u64));
        g.bench_function("DOM -> pack, the reference's 2 000 events", |b| {
            b.iter(|| run_dom(&pack, few, &mut hits));
        });
        g.bench_function("DOM -> reference interpreter, every rule", |b| {
            b.iter(|| run_reference(&engines, few));
        });
        g.bench_function("Document -> pack, the reference's 2 000 events", |b| {
            b.iter(|| run_dom(&pack, few_docs, &mut hits));
        });
        g.bench_function("Document -> reference interpreter, every rule", |b| {
            b.iter(|| run_reference(&engines, few_docs));
        });
        // The peer: tau-engine 1.16 with its optimiser, on the same DOMs.
        let tau: Vec<tau_engine::Rule> = reference_tau_rules(300)
            .iter()
            .filter_map(|t| tau_engine::Rule::from_str(t).ok())
            .map(|r| r.optimise(tau_engine::Optimisations::default()))
            .collect();
        if tau.len() == engines.len() {
            // Same logic, same events: the same number of matches.
            let ours = run_dom(&pack, few, &mut hits);
            let theirs = run_tau(&tau, few);
            println!(
                "agreement pack300 vs tau-engine on {} events: {ours} matches vs {theirs}",
                few.len()
            );
            g.bench_function("DOM -> tau-engine 1.16 (optimised), every rule", |b| {
                b.iter(|| run_tau(&tau, few));
            });
        } else {
            eprintln!(
                "bench: {} of 300 tau rules loaded; tau baseline skipped",
                tau.len()
            );
        }
        g.finish();
        interleaved_ratio(
            "pack300: raw bytes -> pack vs serde_json::from_slice::<Value>",
            7,
            lines.len(),
            || parse_all(&lines),
            lines.len(),
            || {
                black_box(run_bytes(&pack, &lines, &mut hits));
            },
        );
        // The pack against a baseline that runs every rule on the first
        // 2 000 events: on those same events, and over all the cold events;
        // over DOMs, and over `Document`s with the reference reading the same
        // `Document`s (like for like, in the representation built for reads).
        versus(
            "DOM",
            "the reference interpreter",
            &pack,
            few,
            &dom,
            &mut || {
                black_box(run_reference(&engines, few));
            },
        );
        versus(
            "Document",
            "the reference interpreter over Documents",
            &pack,
            few_docs,
            &docs,
            &mut || {
                black_box(run_reference(&engines, few_docs));
            },
        );
        interleaved_ratio(
            "pack300: Document::parse vs serde_json::from_slice::<Value>",
            5,
            lines.len(),
            || parse_all(&lines),
            lines.len(),
            || {
                black_box(parse_docs().len());
            },
        );
        if tau.len() == engines.len() {
            versus(
                "DOM",
                "tau-engine 1.16 (optimised)",
                &pack,
                few,
                &dom,
                &mut || {
                    black_box(run_tau(&tau, few));
                },
            );
        }
    }

    // The same 300 rules in the Python dialect (`==` and `in` fold case
    // there, so the matches differ from ES): the pack evaluates its leaves
    // with the reference semantics and uses their necessary literals as
    // witnesses, against the Python reference on the same 2 000 events.
    {
        let mut py_opts = CompileOptions::python();
        py_opts.category_field = "event.category".into();
        let engines = compile(&rules300, &py_opts);
        let pack = Pack::new(&engines);
        let few = &dom[..dom.len().min(2000)];
        let mut g = c.benchmark_group("python300");
        g.sample_size(10);
        g.throughput(Throughput::Elements(few.len() as u64));
        g.bench_function(
            "DOM -> pack (Python dialect), the reference's 2 000 events",
            |b| {
                b.iter(|| run_dom(&pack, few, &mut hits));
            },
        );
        g.bench_function("DOM -> Python reference interpreter, every rule", |b| {
            b.iter(|| run_reference(&engines, few));
        });
        g.finish();
        interleaved_ratio(
            "python300: DOM -> pack vs the Python reference interpreter, same 2 000 events",
            5,
            few.len(),
            || {
                black_box(run_reference(&engines, few));
            },
            few.len(),
            || {
                black_box(run_dom(&pack, few, &mut hits));
            },
        );
    }

    {
        let queries = corpus_queries();
        let engines = compile(&queries, &opts);
        let pack = Pack::new(&engines);
        let mut g = c.benchmark_group(format!("corpus{}", pack.len()));
        g.sample_size(10);
        g.throughput(Throughput::Elements(lines.len() as u64));
        g.bench_function("raw bytes -> pack", |b| {
            b.iter(|| run_bytes(&pack, &lines, &mut hits));
        });
        g.bench_function("DOM -> pack", |b| {
            b.iter(|| run_dom(&pack, &dom, &mut hits));
        });
        g.finish();
    }

    {
        let rules = reference_rules(1000);
        let mut g = c.benchmark_group("scaling");
        g.sample_size(10);
        g.throughput(Throughput::Elements(lines.len() as u64));
        let mut packs_by_n = Vec::new();
        for n in [1usize, 10, 100, 1000] {
            let engines = compile(&rules[..n.min(rules.len())], &opts);
            let pack = Pack::new(&engines);
            packs_by_n.push(pack.clone());
            g.bench_with_input(BenchmarkId::new("raw bytes", n), &pack, |b, pack| {
                b.iter(|| run_bytes(pack, &lines, &mut hits));
            });
            g.bench_with_input(BenchmarkId::new("DOM", n), &pack, |b, pack| {
                b.iter(|| run_dom(pack, &dom, &mut hits));
            });
            g.bench_with_input(BenchmarkId::new("Document", n), &pack, |b, pack| {
                b.iter(|| run_dom(pack, &docs, &mut hits));
            });
        }
        g.finish();
        if let (Some(one), Some(all)) = (packs_by_n.first(), packs_by_n.last()) {
            let mut other = PackMatches::new();
            interleaved_ratio(
                "scaling, raw bytes: cost(1000 rules) / cost(1 rule)",
                5,
                lines.len(),
                || {
                    black_box(run_bytes(all, &lines, &mut hits));
                },
                lines.len(),
                || {
                    black_box(run_bytes(one, &lines, &mut other));
                },
            );
            interleaved_ratio(
                "scaling, DOM: cost(1000 rules) / cost(1 rule)",
                5,
                dom.len(),
                || {
                    black_box(run_dom(all, &dom, &mut hits));
                },
                dom.len(),
                || {
                    black_box(run_dom(one, &dom, &mut other));
                },
            );
            interleaved_ratio(
                "scaling, Document: cost(1000 rules) / cost(1 rule)",
                5,
                docs.len(),
                || {
                    black_box(run_dom(all, &docs, &mut hits));
                },
                docs.len(),
                || {
                    black_box(run_dom(one, &docs, &mut other));
                },
            );
        }
    }
}

criterion_group!(benches, packs);
criterion_main!(benches);
