//! The errors of loading and compiling rules.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::CompileError;

/// Why a rule file (or one line of a JSONL file) could not be loaded.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuleLoadError {
    /// Reading the file or directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: Arc<std::io::Error>,
    },
    /// The TOML is malformed.
    #[error("{}:{line}: invalid TOML: {message}", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// Parser message.
        message: String,
    },
    /// A JSONL line is malformed or not an object.
    #[error("{}:{line}: invalid JSON: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Parser message.
        message: String,
    },
    /// A required field (`query`) is missing.
    #[error("{}:{line}: missing required field `{field}`", path.display())]
    MissingField {
        /// The file.
        path: PathBuf,
        /// 1-based line of the table (or JSONL object) that lacks it.
        line: usize,
        /// Field name.
        field: String,
    },
    /// A field has the wrong type.
    #[error("{}:{line}: field `{field}` must be {expected}", path.display())]
    WrongType {
        /// The file.
        path: PathBuf,
        /// 1-based line of the value.
        line: usize,
        /// Dotted field path, with array positions (`rule.threat[1].tactic.id`).
        field: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The file extension is not `.toml`, `.eql`, `.jsonl` or `.ndjson`.
    #[error("{}: unsupported rule file (expected .toml, .eql, .jsonl or .ndjson)", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
    },
}

impl RuleLoadError {
    /// The file (or directory) the error is about.
    pub fn path(&self) -> &Path {
        match self {
            RuleLoadError::Io { path, .. }
            | RuleLoadError::Toml { path, .. }
            | RuleLoadError::Json { path, .. }
            | RuleLoadError::MissingField { path, .. }
            | RuleLoadError::WrongType { path, .. }
            | RuleLoadError::Unsupported { path } => path,
        }
    }

    /// The 1-based line the error is on, when it is about a line.
    pub fn line(&self) -> Option<usize> {
        match self {
            RuleLoadError::Toml { line, .. }
            | RuleLoadError::Json { line, .. }
            | RuleLoadError::MissingField { line, .. }
            | RuleLoadError::WrongType { line, .. } => Some(*line),
            RuleLoadError::Io { .. } | RuleLoadError::Unsupported { .. } => None,
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        RuleLoadError::Io {
            path: path.to_path_buf(),
            source: Arc::new(source),
        }
    }
}

/// A rule that failed to compile.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RuleError {
    /// File the rule came from.
    pub file: PathBuf,
    /// 1-based line where the query starts.
    pub line: usize,
    /// Rule name.
    pub rule: String,
    /// The diagnostic rendered against the query text.
    pub rendered: String,
    /// The underlying error.
    pub error: CompileError,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: rule `{}` failed to compile:\n{}",
            self.file.display(),
            self.line,
            self.rule,
            self.rendered
        )
    }
}

impl std::error::Error for RuleError {}

/// Renders a diagnostic so that its line numbers are those of the rule file:
/// the query text is preceded by `line - 1` empty lines and spans are shifted.
pub(crate) fn render_at(error: &CompileError, query: &str, file: &Path, line: usize) -> String {
    let pad = line.saturating_sub(1);
    let Ok(shift) = u32::try_from(pad) else {
        return error
            .diagnostic
            .render(query, Some(&file.display().to_string()));
    };
    let shifted = |mut span: crate::Span| {
        span.start = span.start.saturating_add(shift);
        span.end = span.end.saturating_add(shift);
        span
    };
    let mut diag = error.diagnostic.clone();
    diag.span = shifted(diag.span);
    for (span, _) in &mut diag.labels {
        *span = shifted(*span);
    }
    let mut source = "\n".repeat(pad);
    source.push_str(query);
    diag.render(&source, Some(&file.display().to_string()))
}
