//! The operator against the engine: over any number of workers, any split
//! of the events among them and any order of each worker's events, its
//! results are those of one session per rule over every event in line
//! order (Elasticsearch's order for a bounded input); an input that keeps
//! its promise of timestamp order releases results before it ends, and an
//! event behind its input's promise is late.

use eql_dataflow::{rule_pack, Line, Options, Output, Rules, Totals};
use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions, Step};
use proptest::prelude::*;
use std::sync::{Arc, Mutex};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::core::UnorderedInput;
use timely::dataflow::operators::{Inspect, Probe};
use timely::dataflow::ProbeHandle;

const RULES: &[&str] = &[
    r#"process where process.name == "cmd.exe""#,
    r#"sequence by host.id [process where process.name == "cmd.exe"] [network where true]"#,
    r"sequence by host.id with maxspan=3s [process where true] [file where true] [network where true]",
    r"sequence [authentication where true] by user.name [process where true] by process.user",
    r#"sequence by host.id with maxspan=4s [process where process.name == "a.exe"] ![file where true] [network where true]"#,
    r"sequence by user.name [authentication where true] [process where true] until [file where true]",
    r"sample by host.id [network where true] [file where true]",
    r#"sequence [process where process.name == "a.exe"] [process where process.name == "b.exe"]"#,
    r"network where true | head 3",
    r"sequence by tags [process where true] [network where true]",
];

/// Python rules: the order of the input, process lineage, `join`.
const PY_RULES: &[&str] = &[
    r"sequence by user.name [process where true] [network where true]",
    r"sequence with maxspan=2s [process where true] [file where true]",
    r#"network where descendant of [process where process.name == "cmd.exe"]"#,
    r"join by host.id [process where true] [file where true]",
    r"sample by host.id [network where true] [file where true]",
    r"process where true | unique user.name",
];

fn queries() -> Vec<CompiledQuery> {
    RULES
        .iter()
        .map(|q| CompiledQuery::compile(q, &CompileOptions::default()).expect("compiles"))
        .collect()
}

fn py_queries() -> Vec<CompiledQuery> {
    PY_RULES
        .iter()
        .map(|q| CompiledQuery::compile(q, &CompileOptions::python()).expect("compiles"))
        .collect()
}

/// `n` lines: events over a few hosts and users at timestamps with ties,
/// some without a timestamp, and a few lines that are not events. Line `i`
/// has handle `i`.
fn lines(seed: u64, n: usize) -> Vec<String> {
    let mut x = seed | 1;
    let mut next = |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let cats = ["process", "network", "file", "authentication"];
    let names = ["cmd.exe", "a.exe", "b.exe"];
    (0..n)
        .map(|_| {
            if next(40) == 0 {
                return "{\"not json".to_owned();
            }
            let cat = cats[next(4) as usize];
            let mut e = serde_json::json!({
                "event": {"category": cat},
                "event_type": cat,
                "host": {"id": format!("h{}", next(4))},
                "user": {"name": format!("u{}", next(3))},
                "process": {"name": names[next(3) as usize], "user": format!("u{}", next(3))},
                "tags": [format!("t{}", next(3)), format!("t{}", next(3))],
                "pid": next(6),
                "ppid": next(6),
                "subtype": if next(4) == 0 { "terminate" } else { "create" },
            });
            if next(25) != 0 {
                // Half-second steps in [0, 20 s): many ties, within maxspan.
                e["@timestamp"] = serde_json::json!(1_700_000_000_000u64 + next(40) * 500);
            }
            e.to_string()
        })
        .collect()
}

/// A result: (rule, the handles of its events, `None` for a missing step).
type Res = (usize, Vec<Option<usize>>);

/// One session per rule, every line pushed in line order.
fn oracle(queries: &[CompiledQuery], lines: &[String]) -> Vec<Res> {
    let mut out = Vec::new();
    for (rule, q) in queries.iter().enumerate() {
        let mut s: Session<usize> = Session::new(q, SessionOptions::default());
        let mut m = Matches::new();
        for (i, l) in lines.iter().enumerate() {
            let _ = s.push_json(i, l.as_bytes(), &mut m);
        }
        s.finish(&mut m);
        for r in m.iter() {
            let events = r
                .steps()
                .map(|st| match st {
                    Step::Event(h) => Some(*h),
                    Step::Missing => None,
                })
                .collect();
            out.push((rule, events));
        }
    }
    out.sort();
    out
}

/// What a dataflow run gave: the results, the bad lines' handles, the
/// totals.
#[derive(Default)]
struct Run {
    found: Vec<Res>,
    bad: Vec<usize>,
    totals: Totals,
}

/// Runs the operator on `workers` threads; line `i` is read by worker
/// `owner(i)`, in the order `order` gives each worker's lines. With
/// `in_order`, each worker sends its lines in timestamp order and moves its
/// capability to the epoch of each line it has sent (a promise it keeps).
fn dataflow(
    queries: &[CompiledQuery],
    lines: &[String],
    workers: usize,
    owner: fn(usize, usize) -> usize,
    reverse: bool,
    in_order: bool,
) -> Run {
    let rules = Arc::new(Rules::new(queries.to_vec(), workers, &Options::default()));
    let lines: Arc<Vec<String>> = Arc::new(lines.to_vec());
    let run = Arc::new(Mutex::new(Run::default()));
    let shared = Arc::clone(&run);
    timely::execute(timely::Config::process(workers), move |worker| {
        let (me, peers) = (worker.index(), worker.peers());
        let probe = ProbeHandle::new();
        let sink = Arc::clone(&shared);
        let plan = Arc::clone(&rules);
        let (mut input, cap) = worker.dataflow::<u64, _, _>(|scope| {
            let ((input, cap), stream) =
                scope.new_unordered_input::<CapacityContainerBuilder<Vec<Line<usize>>>>();
            rule_pack(stream, &plan)
                .inspect(move |o| {
                    let mut r = sink.lock().expect("lock");
                    match o {
                        Output::Found(f) => {
                            let ev = f.events.iter().map(|e| e.as_ref().map(|l| l.handle));
                            r.found.push((f.rule, ev.collect()));
                        }
                        Output::Bad { handle, .. } => r.bad.push(*handle),
                        Output::Totals(t) => r.totals.add(t),
                    }
                })
                .probe_with(&probe);
            (input, cap)
        });
        let mut mine: Vec<(Option<u64>, usize)> = (0..lines.len())
            .filter(|&i| owner(i, peers) == me)
            .map(|i| (rules.event_epoch(lines[i].as_bytes()), i))
            .collect();
        if reverse {
            mine.reverse();
        }
        if in_order {
            // Lines without a timestamp first: they promise nothing.
            mine.sort_by_key(|&(epoch, i)| (epoch, i));
        }
        let mut cap = cap;
        for (epoch, i) in mine {
            input.activate().session(&cap).give(Line {
                handle: i,
                bytes: Arc::from(lines[i].as_bytes()),
            });
            if let Some(e) = epoch.filter(|e| in_order && *e > *cap.time()) {
                cap.downgrade(&e);
            }
            worker.step();
        }
        drop(cap);
        while !probe.done() {
            worker.step();
        }
    })
    .expect("timely runs");
    let mut r = std::mem::take(&mut *run.lock().expect("lock"));
    r.found.sort();
    r.bad.sort_unstable();
    r
}

fn by_modulo(i: usize, peers: usize) -> usize {
    i % peers
}

fn by_halves(i: usize, peers: usize) -> usize {
    (i * 7 / 3) % peers
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn results_are_one_session_per_rule_whatever_the_workers(
        seed in any::<u64>(),
        workers in 1usize..4,
        halves in any::<bool>(),
        reverse in any::<bool>(),
        in_order in any::<bool>(),
    ) {
        let qs = queries();
        let lines = lines(seed, 160);
        let expected = oracle(&qs, &lines);
        let owner = if halves { by_halves } else { by_modulo };
        let run = dataflow(&qs, &lines, workers, owner, reverse, in_order);
        prop_assert_eq!(&run.found, &expected);
        let bad: Vec<usize> = lines.iter().enumerate()
            .filter(|(_, l)| l.starts_with("{\"not"))
            .map(|(i, _)| i)
            .collect();
        prop_assert_eq!(&run.bad, &bad);
        prop_assert_eq!(run.totals.events, (lines.len() - bad.len()) as u64);
        prop_assert_eq!(run.totals.late, 0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Python rules run in the order of the input: a bounded input's
    /// handles.
    #[test]
    fn python_rules_run_in_handle_order(
        seed in any::<u64>(),
        workers in 1usize..4,
        halves in any::<bool>(),
        reverse in any::<bool>(),
    ) {
        let qs = py_queries();
        let lines = lines(seed, 160);
        let expected = oracle(&qs, &lines);
        let owner = if halves { by_halves } else { by_modulo };
        let run = dataflow(&qs, &lines, workers, owner, reverse, false);
        prop_assert_eq!(&run.found, &expected);
    }
}

/// The generated events give results of every kind of rule, so that the
/// differential test above compares something.
#[test]
fn the_generated_events_exercise_every_rule() {
    for (qs, texts) in [(queries(), RULES), (py_queries(), PY_RULES)] {
        let found = oracle(&qs, &lines(7, 400));
        for (rule, text) in texts.iter().enumerate() {
            assert!(
                found.iter().any(|(r, _)| *r == rule),
                "rule {rule} ({text}) found nothing"
            );
        }
    }
}

fn event(ts_ms: u64, category: &str) -> String {
    serde_json::json!({"@timestamp": ts_ms, "event": {"category": category}, "host": {"id": "h"}})
        .to_string()
}

/// One worker, a two-step sequence: the first step at 1 s (event 0), the
/// second at 2 s (event 1). Sends the events `before` at time 0, moves its
/// capability to the epoch of `promise_ms`, steps until every epoch before
/// it is out, then sends the events `after`. Returns what came out before
/// the input ended, and the run.
fn promise_run(before: &[usize], promise_ms: i64, after: &[usize]) -> (Vec<Res>, Run) {
    let q = CompiledQuery::compile(
        "sequence by host.id [process where true] [file where true]",
        &CompileOptions::default(),
    )
    .expect("compiles");
    let rules = Arc::new(Rules::new([q], 1, &Options::default()));
    let events: Arc<Vec<String>> = Arc::new(vec![event(1_000, "process"), event(2_000, "file")]);
    let (before, after) = (before.to_vec(), after.to_vec());
    let run = Arc::new(Mutex::new(Run::default()));
    let early = Arc::new(Mutex::new(Vec::new()));
    let (shared, early2) = (Arc::clone(&run), Arc::clone(&early));
    timely::execute(timely::Config::thread(), move |worker| {
        let probe = ProbeHandle::new();
        let sink = Arc::clone(&shared);
        let plan = Arc::clone(&rules);
        let (mut input, mut cap) = worker.dataflow::<u64, _, _>(|scope| {
            let ((input, cap), stream) =
                scope.new_unordered_input::<CapacityContainerBuilder<Vec<Line<usize>>>>();
            rule_pack(stream, &plan)
                .inspect(move |o| {
                    let mut r = sink.lock().expect("lock");
                    match o {
                        Output::Found(f) => {
                            let ev = f.events.iter().map(|e| e.as_ref().map(|l| l.handle));
                            r.found.push((f.rule, ev.collect()));
                        }
                        Output::Bad { handle, .. } => r.bad.push(*handle),
                        Output::Totals(t) => r.totals.add(t),
                    }
                })
                .probe_with(&probe);
            (input, cap)
        });
        let line = |i: usize| Line {
            handle: i,
            bytes: Arc::from(events[i].as_bytes()),
        };
        input
            .activate()
            .session(&cap)
            .give_iterator(before.iter().map(|&i| line(i)));
        let t = plan.epoch(promise_ms * 1_000_000);
        cap.downgrade(&t);
        while probe.less_than(&t) {
            worker.step();
        }
        early2
            .lock()
            .expect("lock")
            .extend(shared.lock().expect("lock").found.iter().cloned());
        input
            .activate()
            .session(&cap)
            .give_iterator(after.iter().map(|&i| line(i)));
        drop(cap);
        while !probe.done() {
            worker.step();
        }
    })
    .expect("timely runs");
    let early = std::mem::take(&mut *early.lock().expect("lock"));
    let r = std::mem::take(&mut *run.lock().expect("lock"));
    (early, r)
}

#[test]
fn a_kept_promise_releases_results_before_the_input_ends() {
    let both = vec![(0, vec![Some(0), Some(1)])];
    // Both events, then the promise that nothing before 3 s is to come: the
    // sequence is out before the input ends.
    let (early, run) = promise_run(&[0, 1], 3_000, &[]);
    assert_eq!(early, both);
    assert_eq!(run.found, both);
    // The first step, a promise of 1.5 s (its epoch runs, the sequence stays
    // open), then the second: found at the end, nothing late.
    let (early, run) = promise_run(&[0], 1_500, &[1]);
    assert!(early.is_empty());
    assert_eq!(run.found, both);
    assert_eq!(run.totals.late, 0);
}

#[test]
fn an_event_behind_its_inputs_promise_is_late() {
    // The second step, then a promise of 3 s: its epoch runs. The first step
    // (1 s) then comes behind the promise: late, skipped.
    let (_, run) = promise_run(&[1], 3_000, &[0]);
    assert!(run.found.is_empty());
    assert_eq!(run.totals.late, 1);
}
