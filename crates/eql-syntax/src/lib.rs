//! EQL (Event Query Language) syntax: text → typed AST with spans, AST → text.
//!
//! This crate parses both dialects the project supports: Elasticsearch EQL (the
//! default, the dialect of Elastic's detection rules) and the Python `eql`
//! (endgame) dialect. The result is a [`Query`] whose every node carries a
//! [`Span`]; printing it with `Display` gives canonical EQL that re-parses to
//! the same tree.
//!
//! ```
//! use eql_syntax::{parse_query, ParseOptions};
//! let q = parse_query(r#"process where process.name : "cmd.exe""#, &ParseOptions::default()).unwrap();
//! assert_eq!(q.to_string(), r#"process where process.name : "cmd.exe""#);
//! ```
//!
//! # Input safety
//!
//! Any text may be given to the parser: it never panics. Nesting depth and
//! length are checked before the grammar runs ([`ParseOptions`]), because pest
//! has no guard against deep recursion.
//!
//! # Errors
//!
//! [`ParseError`] carries a kind, a span, the expected tokens and a stable code.
//! [`ParseError::to_diagnostic`] turns it into a renderable [`Diagnostic`].
//!
//! # Features
//!
//! - `arbitrary`: `arbitrary::Arbitrary` for [`Span`] and [`Query`], and
//!   `AstGen`, a depth- and size-bounded generator of syntax trees that the
//!   parser of a chosen dialect accepts (used by the `roundtrip` fuzz target).
//! - `serde`: `Serialize`/`Deserialize` for [`Diagnostic`], [`Severity`] and
//!   [`Span`]. A diagnostic deserializes only with a code listed in [`CODES`].
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

#[cfg(feature = "arbitrary")]
mod arbitrary;
mod ast;
mod diagnostic;
mod display;
mod error;
mod keyword;
mod parser;
mod span;
mod walk;

#[cfg(feature = "arbitrary")]
pub use arbitrary::AstGen;
pub use ast::*;
pub use diagnostic::{Diagnostic, Severity, CODES};
pub use error::{ParseError, ParseErrorKind};
pub use parser::{parse_expr, parse_query};
pub use span::{LineIndex, Span};

/// Which EQL dialect to parse (and later, to evaluate).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Elasticsearch EQL (default): case-sensitive `==`, `:` and `~` for
    /// insensitive matching, only `head`/`tail` pipes.
    #[default]
    Elasticsearch,
    /// The Python `eql` (endgame) dialect: `=`, single quotes, `join`, extra
    /// pipes, lineage, case-insensitive comparisons.
    Python,
}

/// Parser options, including input limits.
///
/// ```
/// use eql_syntax::{Dialect, ParseOptions};
/// let opts = ParseOptions { dialect: Dialect::Python, ..ParseOptions::default() };
/// assert_eq!(opts.max_depth, 128);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseOptions {
    /// The dialect to accept. Default: Elasticsearch.
    pub dialect: Dialect,
    /// Maximum nesting of parentheses, brackets and unary operators. Default 128.
    pub max_depth: usize,
    /// Maximum query length in bytes. Default 1 MiB.
    pub max_len: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            dialect: Dialect::Elasticsearch,
            max_depth: 128,
            max_len: 1 << 20,
        }
    }
}

impl ParseOptions {
    /// Default options for the Python dialect.
    pub fn python() -> Self {
        ParseOptions {
            dialect: Dialect::Python,
            ..ParseOptions::default()
        }
    }
}
