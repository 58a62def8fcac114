//! Run EQL (Event Query Language) queries and detection rules over events.
//!
//! The five things a program handles:
//!
//! - a **query** is compiled once ([`CompiledQuery::compile`]) and then tested
//!   against events;
//! - a **rule set** ([`RuleSet`]) is loaded from Elastic detection-rule TOML,
//!   `.eql` or JSONL files and compiled in one go ([`RuleSet::compile`]);
//! - an **event** is anything that implements [`Event`]: a
//!   `serde_json::Value`, a [`Document`] parsed from bytes, any
//!   `T: Serialize` through [`SerializeEvent`], or a type of your own;
//! - a **session** ([`Session`]) runs queries that need more than one event
//!   (sequences, samples, joins, pipes, process lineage): it is started
//!   with [`Session::new`], owns its compiled queries, events are pushed in,
//!   and results come out in a [`Matches`] buffer that the caller owns;
//! - a **result** ([`Match`]) names the rule and the caller's handles of its
//!   events.
//!
//! One event against one query:
//!
//! ```
//! use eql_engine::{CompileOptions, CompiledQuery};
//! let query = CompiledQuery::compile(
//!     r#"process where process.name : "cmd.exe" and not process.parent.name : "explorer.exe""#,
//!     &CompileOptions::default(),
//! )?;
//! let event = serde_json::json!({"event": {"category": ["process"]}, "process": {"name": "CMD.EXE"}});
//! // `:` folds case, and in the ES dialect `not f : "x"` matches when `f` is missing.
//! assert!(query.is_match(&event));
//! # Ok::<(), eql_engine::CompileError>(())
//! ```
//!
//! A sequence over two events: each event is pushed with a handle of the
//! caller's choice (here its line number), and the match lists the handles
//! of its events in step order.
//!
//! ```
//! use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions, Value};
//! use serde_json::json;
//! let query = CompiledQuery::compile(
//!     r#"sequence by host.id with maxspan=1m
//!          [process where process.name : "cmd.exe"]
//!          [network where destination.port == 4444]"#,
//!     &CompileOptions::default(),
//! )?;
//! let events = [
//!     json!({"@timestamp": "2024-05-01T10:00:00Z", "event": {"category": "process"},
//!            "host": {"id": "h1"}, "process": {"name": "cmd.exe"}}),
//!     json!({"@timestamp": "2024-05-01T10:00:30Z", "event": {"category": "network"},
//!            "host": {"id": "h1"}, "destination": {"port": 4444}}),
//! ];
//! let mut session = Session::<u32>::new(&query, SessionOptions::default());
//! let mut out = Matches::new();
//! for (line, event) in (1..).zip(&events) {
//!     session.push(line, event, &mut out);
//! }
//! session.finish(&mut out);
//! assert_eq!(out.len(), 1);
//! let found = out.iter().next().unwrap();
//! assert_eq!(found.events, &[1, 2]);
//! assert_eq!(found.key, &[Value::from("h1")]);
//! # Ok::<(), eql_engine::CompileError>(())
//! ```
//!
//! A rule set: every rule runs in one session, single-event and sequence
//! rules alike, and [`Match::rule`] indexes the compiled rules. A file or a
//! directory of them loads with [`RuleSet::from_path`], a JSONL text with
//! [`RuleSet::parse_jsonl`]; [`RuleSet::builtin`] is the pack shipped with
//! the crate. A load error does not stop the rest: each is returned beside
//! the rules that loaded.
//!
//! ```
//! use eql_engine::{CompileOptions, Matches, RuleSet, Session, SessionOptions};
//! use serde_json::json;
//! let (rules, load_errors) = RuleSet::parse_jsonl(
//!     "rules.jsonl",
//!     concat!(
//!         r#"{"name": "cmd", "query": "process where process.name : \"cmd.exe\""}"#,
//!         "\n",
//!         r#"{"name": "cmd, then port 4444", "query": "sequence by host.id [process where process.name : \"cmd.exe\"] [network where destination.port == 4444]"}"#,
//!     ),
//! );
//! assert!(load_errors.is_empty());
//! let (compiled, errors) = rules.compile(&CompileOptions::default());
//! assert!(errors.is_empty());
//! let events = [
//!     json!({"@timestamp": 1_000, "event": {"category": "process"},
//!            "host": {"id": "h1"}, "process": {"name": "CMD.EXE"}}),
//!     json!({"@timestamp": 2_000, "event": {"category": "network"},
//!            "host": {"id": "h1"}, "destination": {"port": 4444}}),
//! ];
//! let mut session = Session::<usize>::new(&compiled, SessionOptions::default());
//! let mut out = Matches::new();
//! for (i, event) in events.iter().enumerate() {
//!     session.push(i, event, &mut out);
//! }
//! session.finish(&mut out);
//! let fired: Vec<(&str, &[usize])> = out
//!     .iter()
//!     .map(|m| (compiled.rules()[m.rule].rule.name.as_str(), m.events))
//!     .collect();
//! assert_eq!(fired, [("cmd", &[0][..]), ("cmd, then port 4444", &[0, 1][..])]);
//! ```
//!
//! The default dialect is Elasticsearch EQL; [`CompileOptions::python`]
//! selects the Python `eql` dialect. Many single-event queries over the same
//! events run fastest together as a [`Pack`], which routes each event by its
//! category and skips the rules whose required literals the event lacks.
//! `docs/semantics.md` in the repository describes the semantics of both
//! dialects.
//!
//! # Input safety
//!
//! Neither compiling nor evaluating panics, whatever the query text, event
//! or rule file. Event bytes go through [`parse_event`] / [`EventLines`] /
//! [`Pack::matches_json`], [`CompiledQuery::is_match_json`] and
//! [`Session::push_json`], which check [`EventLimits`] (line length, nesting depth) before the JSON
//! parser runs, so a huge or deeply nested line is rejected cheaply and never
//! overflows the stack. [`CompileOptions`] caps the regex size and the number
//! of wildcard patterns of a query, and [`SessionLimits`] bounds a session's
//! state (partial sequences, keys, hits held for ordering, samples per key);
//! what was dropped is counted in [`SessionStats`]. The library does no I/O
//! on events: the caller reads the bytes.
//!
//! # Errors
//!
//! A query that does not compile is a [`CompileError`]: a [`Diagnostic`] with
//! a stable code, displayed as `EQL0301 at 1:15: unknown function ...` and
//! rendered against the query text with a caret. Malformed event bytes are
//! an [`EventError`] (an [`EventErrorKind`] with the line and byte column)
//! from every entry point that reads bytes. A rule file that does not load is a
//! [`RuleLoadError`] naming the file (and line); a rule that does not
//! compile is a [`RuleError`] with the diagnostic rendered at the rule's
//! line in its file.
//!
//! # Threads
//!
//! Compile once, share everywhere: the compiled types are immutable, and
//! every method on them takes `&self`. Mutable state lives in values each
//! thread owns: a [`Session`] per stream, a [`PackMatches`] or [`Matches`]
//! buffer per caller. A session owns an `Arc` of its [`SessionPlan`], so it
//! is `'static` and moves to another thread. `tests/send_sync.rs` asserts
//! this table.
//!
//! | types | `Send` | `Sync` |
//! |---|---|---|
//! | [`CompiledQuery`], [`CompiledRuleSet`], [`CompiledRule`], [`Pack`], [`SessionPlan`], [`Projection`] | yes | yes |
//! | [`RuleSet`], [`Rule`], [`Threat`], [`Technique`], [`ThreatRef`] | yes | yes |
//! | [`CompileOptions`], [`ParseOptions`], [`SessionOptions`], [`SessionLimits`], [`LineageOptions`], [`EventLimits`], [`StreamOrder`], [`TimestampFormat`], [`Dialect`] | yes | yes |
//! | [`PackMatches`], [`SessionStats`] | yes | yes |
//! | [`Session<H>`](Session), [`Matches<H>`](Matches), [`Match<'_, H>`](Match), [`SessionSnapshot<H>`](SessionSnapshot) | when `H` is | when `H` is |
//! | [`Value`], [`FieldPath`], [`PathSegment`], [`Document`], [`ProjectedEvent`], [`SerializeEvent`], [`EventLines`] | yes | yes |
//! | [`Query`], [`QueryBody`], [`Expr`], [`ExprKind`], [`Literal`], [`PipeKind`], [`Span`], [`Diagnostic`] | yes | yes |
//! | [`CompileError`], [`EventError`], [`EventErrorKind`], [`JsonType`], [`RuleError`], [`RuleLoadError`], [`SnapshotError`] | yes | yes |
//! | [`Event`] (a trait) | as the implementing type | as the implementing type |
//!
//! ```
//! use std::sync::Arc;
//! use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions, SessionPlan};
//! let query = CompiledQuery::compile("sequence [process where true] [file where true]", &CompileOptions::default()).unwrap();
//! let plan = Arc::new(SessionPlan::new([query]));
//! let mut session = Session::new(Arc::clone(&plan), SessionOptions::default());
//! let worker = std::thread::spawn(move || {
//!     let mut out = Matches::new();
//!     session.push(1u64, &serde_json::json!({"@timestamp": 1, "event": {"category": "process"}}), &mut out);
//!     session.push(2, &serde_json::json!({"@timestamp": 2, "event": {"category": "file"}}), &mut out);
//!     session.finish(&mut out);
//!     out.len()
//! });
//! assert_eq!(worker.join().unwrap(), 1);
//! ```
//!
//! # Features
//!
//! - `rules` (default): [`RuleSet`] and rule loading (Elastic TOML, `.eql`,
//!   JSONL) and the shipped pack; pulls in `toml`.
//! - `simd` (default): [`Event`] for `sonic_rs::Value`, events parsed by
//!   sonic-rs (a SIMD JSON parser), read exactly as a `serde_json::Value` is
//!   (same fields). The bytes entry points do not depend on it:
//!   [`Pack::matches_json`] reads each line with the engine's own quick
//!   reader into an arena tree, and with `serde_json` the lines that reader
//!   declines.
//! - `serde`: `Serialize`/`Deserialize` for [`Value`] (as the JSON it stands
//!   for), [`Diagnostic`] and [`Span`], [`SessionStats`] (missing counters
//!   read as 0), [`SessionSnapshot`] (a session's checkpoint, for
//!   [`Session::restore`]), and with `rules` for `Rule`, `Threat`, `Technique` and
//!   `ThreatRef` (Elastic's rule object shape); `Serialize` for [`Match`]
//!   and [`Matches`] (which borrow from the session's buffer); with `rules`,
//!   `alert_documents` and `write_alert_documents`: alert documents as Elastic
//!   Security indexes them.
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

mod event;

pub use eql_plan::mapping::{self, Mapping, MappingError};
pub use eql_plan::{FieldPath, PathSegment, Value};
pub use eql_syntax::{parse_query, Diagnostic, Dialect, ParseOptions, Query, Span};
pub use event::{Event, SerializeEvent};

mod eval;
mod pack;
mod query;
mod route;
#[cfg(feature = "serde")]
mod serde_impls;
mod session;
pub use eql_syntax::{EventQuery, Expr, ExprKind, Literal, PipeKind, QueryBody};
pub use event::Document;
pub use event::{
    parse_event, parse_event_line, EventError, EventErrorKind, EventLimits, EventLines, JsonType,
};
pub use event::{ProjectedEvent, Projection};
pub use pack::{Pack, PackMatches, PackProfile, SampledTime};
pub use query::{CompileError, CompileOptions, CompiledQuery};
pub use route::{Placement, Routing, RuleRoute, Shard};
pub use session::{
    LineageOptions, Match, Matches, Session, SessionLimits, SessionOptions, SessionPlan,
    SessionSnapshot, SessionStats, SnapshotError, Step, StreamOrder, TimestampFormat,
};

#[cfg(feature = "rules")]
mod rules;
#[cfg(all(feature = "rules", feature = "serde"))]
pub use rules::{alert_documents, write_alert_documents, AlertEvent, AlertOptions};
#[cfg(feature = "rules")]
pub use rules::{
    ecs_mapping, event_index, CompiledRule, CompiledRuleSet, IndexPatterns, IndexRoute,
    IndexRouter, Rule, RuleError, RuleLoadError, RuleSet, Technique, Threat, ThreatRef,
    RULES_PER_COMPILE_THREAD,
};
