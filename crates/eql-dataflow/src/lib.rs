//! EQL rule packs as a [timely dataflow](timely) operator: the rules of
//! [`eql_engine`] on many worker threads and many processes (machines),
//! with the results one session over the whole input gives.
//!
//! The shape of EQL decides the dataflow:
//!
//! - a single-event rule needs nothing but the event: it runs on the worker
//!   that read it, with no exchange;
//! - a sequence, sample or join keeps its state per join key, and keys never
//!   meet: each step event goes to the worker that owns its key
//!   ([`eql_engine::Placement`]), so every key's state lives on one worker;
//!   a rule with no key (or with pipes or process lineage) has one owner;
//! - Elasticsearch runs a sequence over its events sorted by timestamp:
//!   events carry their timestamp's epoch as their timely time, and a
//!   worker runs a step event once the frontier has passed its epoch, when
//!   no earlier one can still come. The frontier gives the order, with no
//!   reorder window to guess.
//!
//! [`rule_pack`] builds the operator in a dataflow; [`Rules`] is the plan its
//! workers share.
//!
//! ```
//! use eql_dataflow::{rule_pack, Line, Options, Output, Rules};
//! use eql_engine::{CompileOptions, CompiledQuery};
//! use std::sync::{Arc, Mutex};
//! use timely::dataflow::operators::{Inspect, ToStream};
//!
//! let opts = CompileOptions::default();
//! let queries = [
//!     CompiledQuery::compile(r#"process where process.name == "cmd.exe""#, &opts).unwrap(),
//!     CompiledQuery::compile("sequence by host.id [process where true] [file where true]", &opts).unwrap(),
//! ];
//! let rules = Arc::new(Rules::new(queries, 2, &Options::default()));
//! let found = Arc::new(Mutex::new(Vec::new()));
//! let sink = Arc::clone(&found);
//! timely::execute(timely::Config::process(2), move |worker| {
//!     let (rules, sink) = (Arc::clone(&rules), Arc::clone(&sink));
//!     let me = worker.index() as u64;
//!     worker.dataflow::<u64, _, _>(move |scope| {
//!         // Each worker reads its own events (here: one each); a bounded
//!         // input sends them at time 0.
//!         let lines = [
//!             r#"{"@timestamp": 1, "event": {"category": "process"}, "process": {"name": "cmd.exe"}, "host": {"id": "h"}}"#,
//!             r#"{"@timestamp": 2, "event": {"category": "file"}, "host": {"id": "h"}}"#,
//!         ];
//!         let events = vec![Line { handle: me, bytes: Arc::from(lines[me as usize].as_bytes()) }];
//!         rule_pack(events.to_stream(scope).container::<Vec<_>>(), &rules).inspect(move |o| {
//!             if let Output::Found(f) = o {
//!                 sink.lock().unwrap().push((f.rule, f.events.len()));
//!             }
//!         });
//!     });
//! })
//! .unwrap();
//! let mut found = found.lock().unwrap().clone();
//! found.sort();
//! // The single-event rule on worker 0, the sequence across both workers' events.
//! assert_eq!(found, [(0, 1), (1, 2)]);
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::print_stdout
    )
)]

mod operator;
mod plan;

pub use operator::{rule_pack, Found, Line, Output, Totals};
pub use plan::{Options, Rules};
