//! Diagnostics as plain data, with a plain-text renderer.
//!
//! Every layer (parser, checker, rule loader) reports problems as a
//! [`Diagnostic`]: a stable code that is never reused, a severity, a message,
//! a primary span, secondary labels and notes. [`Diagnostic::render`] prints
//! the line, the column and a caret under the problem.

use crate::{LineIndex, Span};
use std::fmt::Write as _;

/// Every diagnostic code the project's crates emit, ascending. Codes are
/// never reused: a code leaves this list never, a new one is appended.
/// `EQL00xx` are syntax errors (this crate), `EQL03xx` compile-time checks
/// and `EQL04xx` session checks (eql-engine).
pub const CODES: &[&str] = &[
    "EQL0001", "EQL0002", "EQL0003", "EQL0004", "EQL0005", "EQL0006", "EQL0007", "EQL0008",
    "EQL0009", "EQL0010", "EQL0011", "EQL0012", "EQL0013", "EQL0014", "EQL0015", "EQL0016",
    "EQL0017", "EQL0018", "EQL0019", "EQL0301", "EQL0302", "EQL0303", "EQL0304", "EQL0305",
    "EQL0306", "EQL0307", "EQL0308", "EQL0309", "EQL0310", "EQL0311", "EQL0312", "EQL0313",
    "EQL0401", "EQL0402", "EQL0403",
];

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum Severity {
    /// The query is rejected.
    Error,
    /// The query is accepted but probably wrong.
    Warning,
}

/// A problem found in a query, ready to render.
///
/// With the `serde` feature it serializes as an object with the fields
/// below (`labels` as `[span, message]` pairs); deserializing checks that
/// the code is one of [`CODES`].
///
/// ```
/// use eql_syntax::{Diagnostic, Severity, Span};
/// let d = Diagnostic::error("EQL0001", "unexpected end of input", Span::new(14, 14));
/// let text = d.render("process where ", None);
/// assert!(text.starts_with("error[EQL0001]: unexpected end of input"));
/// assert!(text.contains("1:15"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Diagnostic {
    /// Stable code, `EQL` + four digits. Codes are never reused.
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// One-line message.
    pub message: String,
    /// Where the problem is.
    pub span: Span,
    /// Secondary spans with their own short messages.
    pub labels: Vec<(Span, String)>,
    /// Extra lines: expected tokens, did-you-mean suggestions, hints.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error with no labels or notes.
    pub fn error(code: &'static str, message: impl Into<String>, span: Span) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            span,
            labels: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Adds a note line.
    #[must_use]
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Adds a secondary label.
    #[must_use]
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.labels.push((span, message.into()));
        self
    }

    /// Renders as plain text: the header, `--> origin:line:col`, the source
    /// line, a caret line under the span, then the labels and notes.
    pub fn render(&self, source: &str, origin: Option<&str>) -> String {
        let mut out = String::new();
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{sev}[{}]: {}", self.code, self.message);
        render_snippet(&mut out, source, origin, self.span, "");
        for (span, msg) in &self.labels {
            render_snippet(&mut out, source, origin, *span, msg);
        }
        for note in &self.notes {
            let _ = writeln!(out, "  = {note}");
        }
        out
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Diagnostic {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// The serialized form, with the code as any string.
        #[derive(serde::Deserialize)]
        struct Repr {
            code: String,
            severity: Severity,
            message: String,
            span: Span,
            #[serde(default)]
            labels: Vec<(Span, String)>,
            #[serde(default)]
            notes: Vec<String>,
        }
        let r = Repr::deserialize(d)?;
        let Some(code) = CODES.iter().copied().find(|c| *c == r.code) else {
            return Err(serde::de::Error::custom(format!(
                "unknown diagnostic code `{}`",
                r.code
            )));
        };
        Ok(Diagnostic {
            code,
            severity: r.severity,
            message: r.message,
            span: r.span,
            labels: r.labels,
            notes: r.notes,
        })
    }
}

fn render_snippet(out: &mut String, source: &str, origin: Option<&str>, span: Span, label: &str) {
    let index = LineIndex::new(source);
    let start = span.start.min(source.len() as u32);
    let (line, col) = index.line_col(start);
    let _ = writeln!(
        out,
        "  --> {}{line}:{col}",
        origin.map(|o| format!("{o}:")).unwrap_or_default()
    );
    let line_start = index.line_start(line).unwrap_or(0) as usize;
    let rest = source.get(line_start..).unwrap_or("");
    let text = rest.split('\n').next().unwrap_or("").trim_end_matches('\r');
    let gutter = line.to_string();
    let pad = " ".repeat(gutter.len());
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(out, "{gutter} | {text}");
    // Caret under the span, counted in characters of the line, clipped to the line.
    let start_in_line = (start as usize).saturating_sub(line_start).min(text.len());
    let end_in_line = (span.end as usize)
        .saturating_sub(line_start)
        .clamp(start_in_line, text.len());
    let lead = text
        .get(..start_in_line)
        .map_or(start_in_line, |s| s.chars().count());
    let width = text
        .get(start_in_line..end_in_line)
        .map_or(1, |s| s.chars().count())
        .max(1);
    let label = if label.is_empty() {
        String::new()
    } else {
        format!(" {label}")
    };
    let _ = writeln!(
        out,
        "{pad} | {}{}{label}",
        " ".repeat(lead),
        "^".repeat(width)
    );
}
