//! Every `sequence` and `sample` rule of the Elastic detection-rules corpus
//! compiles and runs in one Session over generated reference events without
//! error. Needs the shared corpus (ignored by default).
#![allow(missing_docs)]

use eql_engine::{CompileOptions, Matches, RuleSet, Session, SessionOptions};
mod common;
use common::{events, shared_file};

#[test]
#[ignore = "needs the shared corpus: set EQL_SHARED"]
fn sequence_and_sample_rules_run_in_a_session() {
    let corpus = shared_file("corpus/detection-rules-eql.jsonl");
    let (all, errors) = RuleSet::from_path(&corpus);
    assert!(
        errors.is_empty(),
        "the detection-rules corpus loads: {errors:?}"
    );
    let lines = events(20_000);
    let mut pack = RuleSet::new();
    for r in &all {
        let head = r.query.trim_start().to_ascii_lowercase();
        if head.starts_with("sequence") || head.starts_with("sample") {
            pack.push(r.clone());
        }
    }
    assert!(
        pack.len() > 100,
        "expected the corpus' ~200 sequence rules, found {}",
        pack.len()
    );
    let (compiled, errors) = pack.compile(&CompileOptions::default());
    for e in &errors {
        eprintln!("{e}");
    }
    assert!(
        errors.is_empty(),
        "{} sequence/sample rules failed to compile",
        errors.len()
    );
    let mut session = Session::<u32>::new(&compiled, SessionOptions::default());
    let mut out = Matches::new();
    let mut alerts = vec![0usize; compiled.len()];
    for (i, l) in lines.iter().enumerate() {
        out.clear();
        session
            .push_json(i as u32, l, &mut out)
            .expect("reference events are JSON objects");
        for m in out.iter() {
            alerts[m.rule] += 1;
        }
    }
    out.clear();
    session.finish(&mut out);
    for m in out.iter() {
        alerts[m.rule] += 1;
    }
    let st = session.stats();
    let fired = alerts.iter().filter(|&&n| n > 0).count();
    eprintln!(
        "{} sequence/sample rules over {} events: {} results from {fired} rules; {st:?}",
        compiled.len(),
        lines.len(),
        alerts.iter().sum::<usize>()
    );
    assert_eq!(st.events, lines.len() as u64);
    assert_eq!(st.late, 0, "generated events are in time order");
}
