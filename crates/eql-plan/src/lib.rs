//! EQL planning: checks, lowering and optimizer passes.
//!
//! Turns a parsed [`eql_syntax::Query`] (or a whole rule pack of them) into an
//! immutable, checked `Plan` that the engine evaluates.
//!
//! # Input safety
//!
//! Compiling never panics on any query; limits are configuration.
//!
//! # Errors
//!
//! Semantic errors are [`eql_syntax::Diagnostic`]s with stable codes and spans.
//!
//! # Features
//!
//! None.
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

mod field;
mod value;

pub use field::{FieldPath, PathSegment};
pub use value::Value;
