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
mod ir;
mod lower;
pub mod mapping;
mod matcher;
mod pack;
mod value;

pub use field::{FieldPath, PathSegment};
pub use ir::{CmpOp, Cond, FieldId, FieldTable, Test, TestOp};
pub use lower::{
    fold_constants, normalize, pushdown, regex_source, run_passes, Lowering, Pass, PASSES,
    REGEX_SIZE_LIMIT,
};
pub use matcher::{fold, Glob, StrSet};
pub use pack::{
    regex_required_literal, witness, witness_with, Atom, Bucket, ContainsIndex, FieldIndex, Needle,
    PackPlan, RuleId, RulePlan, SetId,
};
pub use value::Value;
