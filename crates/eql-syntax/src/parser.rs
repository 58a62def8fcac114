//! Placeholder parser; replaced by the pest grammar.

use crate::{Expr, ParseError, ParseErrorKind, ParseOptions, Query, Span};

/// Parses a whole query.
pub fn parse_query(_src: &str, _opts: &ParseOptions) -> Result<Query, ParseError> {
    Err(ParseError { kind: ParseErrorKind::Syntax, span: Span::DUMMY, expected: Vec::new() })
}

/// Parses a single expression (used by expression-level tests and folding).
pub fn parse_expr(_src: &str, _opts: &ParseOptions) -> Result<Expr, ParseError> {
    Err(ParseError { kind: ParseErrorKind::Syntax, span: Span::DUMMY, expected: Vec::new() })
}
