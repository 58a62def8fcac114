//! Sequences in a streaming Session over pre-parsed reference events: the
//! reference workload keyed by `process.entity_id` (many short-lived keys) and
//! by `host.id` (few long-lived keys), beside single-event matching of the
//! first step (the baseline), in one run; and the same session from raw
//! bytes (`push_json`, one projection pass and no DOM) beside a DOM parse of
//! the same bytes followed by `push`, and beside `serde_json::from_slice`
//! alone. The peak state after one pass is printed, to show it stays flat.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use eql_bench::reference_events;
use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
use std::hint::black_box;

const BY_ENTITY: &str = r#"sequence by process.entity_id with maxspan=5m [process where event.type == "start"] [file where event.type == "creation"]"#;
const BY_HOST: &str = r#"sequence by host.id with maxspan=5m [process where event.type == "start"] [file where event.type == "creation"]"#;
const FIRST_STEP: &str = r#"process where event.type == "start""#;

fn pass(
    engine: &CompiledQuery,
    dom: &[serde_json::Value],
    out: &mut Matches<u32>,
) -> (usize, eql_engine::SessionStats) {
    let mut s = Session::<u32>::new(engine, SessionOptions::default());
    let mut n = 0usize;
    for (i, v) in dom.iter().enumerate() {
        out.clear();
        s.push(i as u32, v, out);
        n += out.len();
    }
    out.clear();
    s.finish(out);
    (n + out.len(), s.stats())
}

/// [`pass`] from the raw lines: `push_json`, or (`dom`) a `serde_json`
/// DOM of each line, then `push`.
fn pass_bytes(
    engine: &CompiledQuery,
    lines: &[Vec<u8>],
    dom: bool,
    out: &mut Matches<u32>,
) -> usize {
    let mut s = Session::<u32>::new(engine, SessionOptions::default());
    let mut n = 0usize;
    for (i, l) in lines.iter().enumerate() {
        out.clear();
        if dom {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(l) {
                s.push(i as u32, &v, out);
            }
        } else if s.push_json(i as u32, l, out).is_err() {
            continue;
        }
        n += out.len();
    }
    out.clear();
    s.finish(out);
    n + out.len()
}

fn sequence(c: &mut Criterion) {
    let lines = reference_events();
    let dom: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect();
    let compile = |q: &str| CompiledQuery::compile(q, &CompileOptions::default());
    let (Ok(by_entity), Ok(by_host), Ok(first)) =
        (compile(BY_ENTITY), compile(BY_HOST), compile(FIRST_STEP))
    else {
        eprintln!("sequence bench queries do not compile");
        return;
    };
    let mut out = Matches::new();
    for (name, e) in [
        ("by process.entity_id", &by_entity),
        ("by host.id", &by_host),
    ] {
        let (results, st) = pass(e, &dom, &mut out);
        eprintln!(
            "sequence {name}: {} events, {results} results; live partials {} (peak {}), keys {} (peak {}), state bytes {} (peak {}), expired {}, evicted {}",
            dom.len(), st.partials, st.peak_partials, st.keys, st.peak_keys, st.state_bytes, st.peak_state_bytes, st.expired, st.evicted_partials
        );
    }
    let (from_bytes, from_dom) = (
        pass_bytes(&by_entity, &lines, false, &mut out),
        pass(&by_entity, &dom, &mut out).0,
    );
    if from_bytes != from_dom {
        eprintln!("sequence: push_json gives {from_bytes} results, push {from_dom}");
    }
    let mut g = c.benchmark_group("sequence");
    g.throughput(Throughput::Elements(dom.len() as u64));
    g.sample_size(10);
    g.bench_function("baseline: first step as a single-event query", |b| {
        b.iter(|| dom.iter().filter(|v| first.is_match(*v)).count());
    });
    g.bench_function("first step as a single-event query in a Session", |b| {
        b.iter(|| black_box(pass(&first, &dom, &mut out).0));
    });
    g.bench_function("sequence by process.entity_id (DOM -> Session)", |b| {
        b.iter(|| black_box(pass(&by_entity, &dom, &mut out).0));
    });
    g.bench_function("sequence by host.id (DOM -> Session)", |b| {
        b.iter(|| black_box(pass(&by_host, &dom, &mut out).0));
    });
    g.bench_function("baseline: serde_json::from_slice::<Value>", |b| {
        b.iter(|| {
            lines
                .iter()
                .filter(|l| serde_json::from_slice::<serde_json::Value>(l).is_ok())
                .count()
        });
    });
    g.bench_function(
        "sequence by process.entity_id (raw bytes -> Session::push_json)",
        |b| b.iter(|| black_box(pass_bytes(&by_entity, &lines, false, &mut out))),
    );
    g.bench_function(
        "sequence by process.entity_id (raw bytes -> serde_json DOM -> Session::push)",
        |b| b.iter(|| black_box(pass_bytes(&by_entity, &lines, true, &mut out))),
    );
    g.finish();
}

criterion_group!(benches, sequence);
criterion_main!(benches);
