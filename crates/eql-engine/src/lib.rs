//! EQL evaluation over any serde value.
//!
//! # Input safety
//!
//! Evaluation never panics on any event.
//!
//! # Errors
//!
//! Compile errors are diagnostics; malformed event bytes are errors naming the line.
//!
//! # Features
//!
//! - `rules` (default): loading rule packs (Elastic TOML, `.eql`, JSONL) and the shipped pack.
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

mod engine;
mod eval;
mod functions;
mod json;
pub use engine::{CompileError, CompileOptions, Engine};
pub use eql_syntax::{Expr, ExprKind, Literal, PipeKind, QueryBody};

#[cfg(feature = "rules")]
mod rules;
#[cfg(feature = "rules")]
pub use rules::{
    CompiledRule, CompiledRuleSet, Rule, RuleError, RuleLoadError, RuleSet, Technique, Threat,
    ThreatRef,
};
