//! Parse errors with stable codes.

use crate::{Diagnostic, Span};

/// What went wrong while parsing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The grammar did not match at a token.
    #[error("unexpected `{found}`")]
    UnexpectedToken {
        /// The token found.
        found: String,
    },
    /// The input ended too early.
    #[error("unexpected end of input")]
    UnexpectedEof,
    /// A string literal has no closing quote.
    #[error("unterminated string")]
    UnterminatedString,
    /// An unknown escape sequence in a string.
    #[error("invalid escape sequence `{escape}`")]
    InvalidEscape {
        /// The escape as written.
        escape: String,
    },
    /// `1 < x < 3`.
    #[error("comparisons cannot be chained")]
    ChainedComparison,
    /// `=` in the Elasticsearch dialect.
    #[error("compare with == instead of =")]
    SingleEquals,
    /// `maxspan=5` without a unit.
    #[error("maxspan needs a time unit (ms, s, m, h or d)")]
    MissingMaxspanUnit,
    /// `runs=N` outside the accepted range.
    #[error("runs={value} is out of range ({range})")]
    RunsOutOfRange {
        /// The value written.
        value: u64,
        /// The accepted range, as text.
        range: String,
    },
    /// Steps with different numbers of join keys.
    #[error("inconsistent join keys: expected {expected} key(s), found {found}")]
    InconsistentJoinKeys {
        /// Keys in the first step.
        expected: usize,
        /// Keys in the offending step.
        found: usize,
    },
    /// `sequence with maxspan=.. by ..` in the Elasticsearch dialect.
    #[error("`by` must come before `with`")]
    ByAfterWith,
    /// An unknown pipe name.
    #[error("unknown pipe `{name}`")]
    UnknownPipe {
        /// The name written.
        name: String,
        /// A close known pipe.
        suggestion: Option<String>,
    },
    /// A word that looks like a misspelled or wrongly-cased keyword.
    #[error("unknown keyword `{found}`")]
    UnknownKeyword {
        /// The word written.
        found: String,
        /// The keyword probably meant.
        suggestion: Option<String>,
    },
    /// Nesting deeper than `max_depth`.
    #[error("query nested too deeply (limit {max})")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// Longer than `max_len`.
    #[error("query too long ({len} bytes, limit {max})")]
    TooLong {
        /// The length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A malformed number.
    #[error("invalid number `{text}`")]
    InvalidNumber {
        /// The text.
        text: String,
    },
    /// A comparison neither side of which is a constant (`x == y`,
    /// `length(a) == length(b)`, `a + 1 < b`) in the Elasticsearch dialect,
    /// which compares what an event holds only with a constant.
    #[error("comparisons against fields are not supported: one side must be a constant")]
    FieldComparison,
    /// The right side of `:`, `like` or `regex` is not a literal or a
    /// parenthesized list of literals (`x : y`, `x : concat("a", "b")`; also
    /// `x : f(y)` with a space after `:`, which is not the Python method
    /// syntax `x:f(y)`).
    #[error("the right side of `:`, `like` and `regex` must be a literal or a parenthesized list of literals")]
    PatternNotLiteral,
    /// A `/*` comment with no closing `*/`.
    #[error("unterminated comment")]
    UnterminatedComment,
    /// A construct of the other dialect.
    #[error("{what} is not supported in this dialect")]
    Unsupported {
        /// What was written.
        what: String,
    },
}

impl ParseErrorKind {
    /// The stable code of this kind.
    pub fn code(&self) -> &'static str {
        match self {
            ParseErrorKind::UnexpectedToken { .. } => "EQL0001",
            ParseErrorKind::UnexpectedEof => "EQL0002",
            ParseErrorKind::UnterminatedString => "EQL0003",
            ParseErrorKind::InvalidEscape { .. } => "EQL0004",
            ParseErrorKind::ChainedComparison => "EQL0005",
            ParseErrorKind::SingleEquals => "EQL0006",
            ParseErrorKind::MissingMaxspanUnit => "EQL0007",
            ParseErrorKind::RunsOutOfRange { .. } => "EQL0008",
            ParseErrorKind::InconsistentJoinKeys { .. } => "EQL0009",
            ParseErrorKind::ByAfterWith => "EQL0010",
            ParseErrorKind::UnknownPipe { .. } => "EQL0011",
            ParseErrorKind::UnknownKeyword { .. } => "EQL0012",
            ParseErrorKind::TooDeep { .. } => "EQL0013",
            ParseErrorKind::TooLong { .. } => "EQL0014",
            ParseErrorKind::InvalidNumber { .. } => "EQL0015",
            ParseErrorKind::FieldComparison => "EQL0016",
            ParseErrorKind::Unsupported { .. } => "EQL0017",
            ParseErrorKind::UnterminatedComment => "EQL0018",
            ParseErrorKind::PatternNotLiteral => "EQL0019",
        }
    }
}

/// A parse error: kind, span, and the expected tokens by human name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at {span}")]
#[non_exhaustive]
pub struct ParseError {
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// Where.
    pub span: Span,
    /// Human names of what would have been accepted.
    pub expected: Vec<String>,
}

impl ParseError {
    /// An error with no expected tokens.
    pub fn new(kind: ParseErrorKind, span: Span) -> Self {
        ParseError {
            kind,
            span,
            expected: Vec::new(),
        }
    }

    /// The stable diagnostic code of this error.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// As a renderable diagnostic.
    pub fn to_diagnostic(&self) -> Diagnostic {
        let mut d = Diagnostic::error(self.code(), self.kind.to_string(), self.span);
        match &self.kind {
            ParseErrorKind::UnknownPipe {
                suggestion: Some(s),
                ..
            }
            | ParseErrorKind::UnknownKeyword {
                suggestion: Some(s),
                ..
            } => {
                d = d.with_note(format!("did you mean `{s}`?"));
            }
            ParseErrorKind::UnknownKeyword {
                suggestion: None, ..
            } => {
                d = d.with_note("keywords are lowercase");
            }
            _ => {}
        }
        if !self.expected.is_empty() {
            let list = match self.expected.as_slice() {
                [one] => one.clone(),
                [init @ .., last] => format!("{} or {last}", init.join(", ")),
                [] => String::new(),
            };
            d = d.with_note(format!("expected {list}"));
        }
        d
    }
}
