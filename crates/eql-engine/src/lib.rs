//! EQL evaluation over any serde value.
//!
//! Compile a query once, then test events against it: a `serde_json::Value`,
//! any `T: Serialize` through [`SerializeEvent`], or your own type through the
//! [`Event`] trait. The default dialect is Elasticsearch EQL. Events kept
//! in memory and evaluated more than once read fastest as a [`Document`].
//! Sequences, samples, joins, pipes and process lineage need state across
//! events: run them in a streaming [`Session`]
//! (`Session::new(&engine, SessionOptions::default())`).
//!
//! ```
//! use eql_engine::{CompileOptions, CompiledQuery};
//! let engine = CompiledQuery::compile(
//!     r#"process where process.name : "cmd.exe" and not process.parent.name : "explorer.exe""#,
//!     &CompileOptions::default(),
//! )
//! .unwrap();
//! let event = serde_json::json!({"event": {"category": ["process"]}, "process": {"name": "CMD.EXE"}});
//! // `:` folds case, and in the ES dialect `not f : "x"` matches when `f` is missing.
//! assert!(engine.is_match(&event));
//! ```
//!
//! # Input safety
//!
//! Evaluation never panics on any event. Event bytes go through
//! [`parse_event`] / [`EventLines`], which check [`EventLimits`] (line length,
//! nesting depth) before the JSON parser runs, so a huge or deeply nested line
//! is rejected cheaply and never overflows the stack. The library does no I/O
//! on events: the caller reads the bytes.
//!
//! # Errors
//!
//! Compile errors are diagnostics with stable codes. Malformed event bytes are
//! an [`EventError`]: an [`EventErrorKind`] plus the line and byte column.
//! Rule files that do not load are a `RuleLoadError` naming the file.
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
//! - `rules` (default): loading rule packs (Elastic TOML, `.eql`, JSONL) and the shipped pack.
//! - `serde`: `Serialize`/`Deserialize` for [`Value`] (as the JSON it stands
//!   for), [`Diagnostic`] and [`Span`], [`SessionStats`] (missing counters
//!   read as 0), [`SessionSnapshot`] (a session's checkpoint, for
//!   [`Session::restore`]), and with `rules` for `Rule`, `Threat`, `Technique` and
//!   `ThreatRef` (Elastic's rule object shape); `Serialize` for [`Match`]
//!   and [`Matches`] (which borrow from the session's buffer); with `rules`,
//!   `alert_documents`: alert documents as Elastic Security indexes them.
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

pub use eql_plan::{FieldPath, PathSegment, Value};
pub use eql_syntax::{parse_query, Diagnostic, Dialect, ParseOptions, Query, Span};
pub use event::{Event, SerializeEvent};

mod eval;
mod pack;
mod query;
#[cfg(feature = "serde")]
mod serde_impls;
mod session;
pub use eql_syntax::{Expr, ExprKind, Literal, PipeKind, QueryBody};
pub use event::Document;
pub use event::{
    parse_event, parse_event_line, EventError, EventErrorKind, EventLimits, EventLines, JsonType,
};
pub use event::{ProjectedEvent, Projection};
pub use pack::{Pack, PackMatches};
pub use query::{CompileError, CompileOptions, CompiledQuery};
pub use session::{
    LineageOptions, Match, Matches, Session, SessionLimits, SessionOptions, SessionPlan,
    SessionSnapshot, SessionStats, SnapshotError, Step, StreamOrder, TimestampFormat,
};

#[cfg(feature = "rules")]
mod rules;
#[cfg(all(feature = "rules", feature = "serde"))]
pub use rules::{alert_documents, AlertEvent, AlertOptions};
#[cfg(feature = "rules")]
pub use rules::{
    event_index, CompiledRule, CompiledRuleSet, IndexPatterns, IndexRoute, IndexRouter, Rule,
    RuleError, RuleLoadError, RuleSet, Technique, Threat, ThreatRef,
};
