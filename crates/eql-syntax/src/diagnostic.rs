//! Diagnostics as plain data, with a plain-text renderer.
//!
//! Every layer (parser, checker, rule loader) reports problems as a
//! [`Diagnostic`]: a stable code that is never reused, a severity, a message,
//! a primary span, secondary labels and notes. [`Diagnostic::render`] prints
//! the line, the column and a caret under the problem.

use crate::{LineIndex, Span};
use std::fmt::Write as _;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The query is rejected.
    Error,
    /// The query is accepted but probably wrong.
    Warning,
}

/// A problem found in a query, ready to render.
///
/// ```
/// use eql_syntax::{Diagnostic, Severity, Span};
/// let d = Diagnostic::error("EQL0001", "unexpected end of input", Span::new(14, 14));
/// let text = d.render("process where ", None);
/// assert!(text.starts_with("error[EQL0001]: unexpected end of input"));
/// assert!(text.contains("1:15"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
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
