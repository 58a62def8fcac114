//! Parse errors. (Placeholder shape; the parser work fills in the kinds.)

use crate::{Diagnostic, Span};

/// What went wrong while parsing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The grammar did not match.
    #[error("syntax error")]
    Syntax,
}

/// A parse error: kind, span, and the expected tokens by human name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at {span}")]
pub struct ParseError {
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// Where.
    pub span: Span,
    /// Human names of what would have been accepted.
    pub expected: Vec<String>,
}

impl ParseError {
    /// The stable diagnostic code of this error.
    pub fn code(&self) -> &'static str {
        "EQL0001"
    }

    /// As a renderable diagnostic.
    pub fn to_diagnostic(&self) -> Diagnostic {
        Diagnostic::error(self.code(), self.kind.to_string(), self.span)
    }
}
