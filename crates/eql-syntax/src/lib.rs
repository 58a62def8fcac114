//! Parse EQL (Event Query Language) text into a typed syntax tree, and print
//! it back.
//!
//! Most programs use this crate through `eql-engine`, which parses, checks
//! and runs queries; use it directly to read, rewrite or lint queries:
//! [`parse_query`] gives a [`Query`] whose every node carries its [`Span`] in
//! the text, and `Display` prints canonical EQL that parses back to the same
//! tree.
//!
//! ```
//! use eql_syntax::{parse_query, ParseOptions, QueryBody};
//! let text = r#"sequence by host.id [process where process.name : "cmd.exe"] [network where true]"#;
//! let query = parse_query(text, &ParseOptions::default()).unwrap();
//! let QueryBody::Sequence(seq) = &query.body else { panic!("a sequence") };
//! assert_eq!(seq.steps.len(), 2);
//! assert_eq!(query.to_string(), text);
//! ```
//!
//! Both dialects are parsed: Elasticsearch EQL (the default, the dialect of
//! Elastic's detection rules) and the Python `eql` dialect
//! ([`ParseOptions::python`]: `=`, single quotes, `join`, lineage, more
//! pipes). A query that does not parse is a [`ParseError`]; its
//! [`Diagnostic`] renders the line with a caret under the problem:
//!
//! ```
//! use eql_syntax::{parse_query, ParseOptions};
//! let text = "process where process.name == ";
//! let err = parse_query(text, &ParseOptions::default()).unwrap_err();
//! let report = err.to_diagnostic().render(text, Some("rule.eql"));
//! assert!(report.starts_with("error[EQL0002]: unexpected end of input"));
//! assert!(report.contains("--> rule.eql:1:31"));
//! ```
//!
//! # Input safety
//!
//! Any text may be given to the parser: it never panics. Nesting depth and
//! length are checked before the grammar runs ([`ParseOptions::max_depth`],
//! [`ParseOptions::max_len`]), because the generated parser recurses once per
//! nesting level and has no guard of its own.
//!
//! # Errors
//!
//! [`ParseError`] carries a [`ParseErrorKind`], a span, the expected tokens
//! and a stable code (`EQL0001`…, never reused).
//! [`ParseError::to_diagnostic`] turns it into a [`Diagnostic`], which later
//! stages (checks, rule loading) also use.
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
/// let mut opts = ParseOptions::default();
/// opts.dialect = Dialect::Python;
/// assert_eq!(opts.max_depth, 128);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
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
