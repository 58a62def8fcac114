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

mod event;

pub use eql_plan::{FieldPath, PathSegment, Value};
pub use eql_syntax::{Dialect, Diagnostic, ParseOptions, Span};
pub use event::Event;

mod engine;
pub use engine::{CompileError, CompileOptions, Engine};
