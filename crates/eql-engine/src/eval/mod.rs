//! The two evaluators of a compiled query.
//!
//! - [`reference`] walks the AST directly. It is the oracle: simple, close
//!   to the semantics text, and slow. Every optimisation is tested against it.
//! - [`plan`] evaluates the lowered plan IR (`eql_plan::Cond`) over field
//!   slots filled once per event. Rule packs and sessions run on it.

pub(crate) mod plan;
pub(crate) mod reference;
