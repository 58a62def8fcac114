//! EQL planning: the compile-time checks of a parsed query, its lowering to
//! a condition plan with optimizer passes, and a whole rule pack planned as
//! one.
//!
//! The stages, in the order the engine runs them on a parsed
//! [`eql_syntax::Query`]:
//!
//! - **Checks** ([`check_query`], [`check_expr`]): function names and
//!   arities, literal types, regexes (compiled into a [`RegexCache`] with the
//!   query's size limit), the count of wildcard patterns, and what sequences
//!   need. A failure is an [`eql_syntax::Diagnostic`] with a stable code.
//! - **Lowering** ([`Lowering`]): a `where` condition becomes a [`Cond`]
//!   over the fields of a [`FieldTable`], with compiled [`Test`]s at the
//!   leaves that compare one field with literals; [`run_passes`] folds
//!   constants and normalizes it.
//! - **Packs** ([`PackPlan`]): the conditions of many rules routed by event
//!   category, with a candidate index ([`Bucket`], [`FieldIndex`]) fusing
//!   their string literals; its `Display` is the EXPLAIN.
//!
//! Evaluation is the engine's (`eql-engine`); a [`Value`] is what a field,
//! a literal or a function gives.
//!
//! ```
//! use eql_plan::{check_query, CheckOptions, Cond, FieldTable, Lowering, RegexCache};
//! use eql_syntax::{parse_query, Dialect, ParseOptions, QueryBody};
//! let q = parse_query(r#"process where process.name == "cmd.exe""#, &ParseOptions::default()).unwrap();
//! let mut regexes = RegexCache::new(eql_plan::DEFAULT_REGEX_SIZE_LIMIT);
//! check_query(&q, &CheckOptions::new(Dialect::Elasticsearch, 10_000), &mut regexes).unwrap();
//! let QueryBody::Event(e) = &q.body else { unreachable!() };
//! let mut fields = FieldTable::default();
//! let cond = Lowering {
//!     dialect: Dialect::Elasticsearch,
//!     fields: &mut fields,
//!     const_eval: &|_| None,
//!     python_ci: false,
//!     regexes: &regexes,
//!     kinds: None,
//! }
//! .condition(&e.condition);
//! assert!(matches!(cond, Cond::Test(_)));
//! assert_eq!(fields.len(), 1);
//! ```
//!
//! # Input safety
//!
//! Checking, lowering and planning never panic on any parsed query; the
//! regex size and the number of wildcard patterns are limits the caller
//! sets.
//!
//! # Errors
//!
//! A check that fails is an [`eql_syntax::Diagnostic`] with a stable code
//! and the span of the problem (`eql-engine` wraps it in its `CompileError`
//! with the line and column). An index mapping that does not parse is a
//! [`mapping::MappingError`]. Lowering cannot fail: whatever it cannot
//! compile stays a generic leaf ([`Cond::Generic`]) that the engine
//! evaluates with the reference semantics.
//!
//! # Features
//!
//! - `serde`: `Serialize`/`Deserialize` for [`Value`] (as the JSON it stands
//!   for; deserialized strings are owned) and, through eql-syntax, for
//!   diagnostics and spans.
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

mod check;
mod field;
mod ir;
mod lower;
pub mod mapping;
mod matcher;
mod must_not;
mod pack;
mod passes;
mod regexes;
mod shares;
mod value;

pub use check::{check_expr, check_query, CheckOptions, MAX_SEQUENCE_STEPS};
pub use field::{FieldPath, PathSegment};
pub use ir::{CmpOp, Cond, FieldId, FieldTable, Test, TestOp};
pub use lower::Lowering;
pub use matcher::{fold, Cidr, Glob, StrSet};
pub use must_not::{complement_order, must_not_leaf, null_check, pushdown};
pub use pack::{
    number_atom_text, regex_required_literals, witness, witness_with, Atom, Bucket, ContainsIndex,
    FieldIndex, Needle, PackPlan, RuleId, RulePlan, SetId,
};
pub use passes::{fold_constants, normalize, run_passes, Pass, PASSES};
pub use regexes::{regex_source, RegexCache, DEFAULT_REGEX_SIZE_LIMIT};
pub use shares::run_shares;
pub use value::{category_matches, Value};
