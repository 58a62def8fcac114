//! The compiled query and its evaluation entry points (placeholder; being written).

use crate::Event;
use eql_syntax::{Diagnostic, Dialect};

/// Options for compiling a query.
#[derive(Clone, Debug)]
pub struct CompileOptions {
    /// Dialect. Default: Elasticsearch.
    pub dialect: Dialect,
    /// Python dialect only: compare strings case-sensitively. Default false.
    pub case_sensitive: bool,
    /// Field holding the event category. Default `event.category`.
    pub category_field: String,
    /// Field holding the timestamp. Default `@timestamp`.
    pub timestamp_field: String,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            dialect: Dialect::Elasticsearch,
            case_sensitive: false,
            category_field: "event.category".into(),
            timestamp_field: "@timestamp".into(),
        }
    }
}

/// A query that failed to parse or check.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{}", diagnostic.message)]
pub struct CompileError {
    /// The rendered-ready diagnostic.
    pub diagnostic: Diagnostic,
}

/// A compiled single-event query.
#[derive(Clone, Debug)]
pub struct Engine {
    _private: (),
}

impl Engine {
    /// Parses and checks `query`.
    pub fn compile(_query: &str, _opts: &CompileOptions) -> Result<Engine, CompileError> {
        Ok(Engine { _private: () })
    }

    /// True when the event matches (single-event queries).
    pub fn is_match(&self, _event: &dyn Event) -> bool {
        false
    }
}
