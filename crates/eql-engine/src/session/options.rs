//! Session options: state bounds, stream order, process lineage.

use super::Value;
use crate::EventLimits;

/// Bounds on the state of a session. Reaching a bound is a counted eviction
/// ([`SessionStats`](crate::SessionStats)), never an error or a panic.
///
/// ```
/// use eql_engine::SessionLimits;
/// let l = SessionLimits::default();
/// assert_eq!(l.max_partials, 100_000);
/// assert_eq!(l.reorder_window_ms, 0);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionLimits {
    /// Most partial sequences (and pending trailing-missing completions) kept
    /// per rule; the one that started first is evicted. Default 100 000.
    pub max_partials: usize,
    /// Most join keys kept per rule by state that is not a partial sequence
    /// (join slots, samples, leading missing events, `unique` pipes); the
    /// oldest key is evicted. Default 100 000.
    pub max_keys: usize,
    /// Events whose timestamp is at most this many milliseconds behind the
    /// newest one seen are reordered; events older than what was already
    /// processed are *late*: counted and returned in [`Matches::late`](crate::Matches::late),
    /// never evaluated. Default 0 (in-order input; ties keep arrival order).
    pub reorder_window_ms: u64,
    /// Most events held by the reorder buffer; past it the oldest is
    /// processed early. Default 100 000.
    pub max_reorder_events: usize,
    /// `sample`: samples per join key (Elasticsearch `max_samples_per_key`). Default 1.
    pub max_samples_per_key: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            max_partials: 100_000,
            max_keys: 100_000,
            reorder_window_ms: 0,
            max_reorder_events: 100_000,
            max_samples_per_key: 1,
        }
    }
}

/// In which order a session processes events.
///
/// ```
/// use eql_engine::StreamOrder;
/// assert_ne!(StreamOrder::Timestamp, StreamOrder::Arrival);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamOrder {
    /// By (timestamp, tiebreaker, arrival), as Elasticsearch orders hits.
    Timestamp,
    /// As pushed, as the Python engine streams events (no lateness).
    Arrival,
}

/// Python process-lineage tracking (`descendant of`, `child of`, `event of`).
///
/// ```
/// use eql_engine::LineageOptions;
/// assert_eq!(LineageOptions::endgame().subtype_field, "opcode");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LineageOptions {
    /// Process id field. Default `pid`.
    pub pid_field: String,
    /// Parent process id field. Default `ppid`.
    pub ppid_field: String,
    /// Field telling creation from termination. Default `subtype`.
    pub subtype_field: String,
    /// Values of `subtype_field` that create a process. Default `create`, `fork`.
    pub create_values: Vec<Value<'static>>,
    /// Values of `subtype_field` that end a process. Default `terminate`.
    pub terminate_values: Vec<Value<'static>>,
    /// Category of process events. Default `process`.
    pub process_category: String,
}

impl Default for LineageOptions {
    fn default() -> Self {
        LineageOptions {
            pid_field: "pid".into(),
            ppid_field: "ppid".into(),
            subtype_field: "subtype".into(),
            create_values: vec![
                Value::from("create".to_owned()),
                Value::from("fork".to_owned()),
            ],
            terminate_values: vec![Value::from("terminate".to_owned())],
            process_category: "process".into(),
        }
    }
}

impl LineageOptions {
    /// Endgame sensor data (Python EQL `data_source: endgame`): `opcode` 1, 3, 9
    /// create and 2, 4 terminate.
    ///
    /// ```
    /// use eql_engine::{LineageOptions, Value};
    /// assert!(LineageOptions::endgame().create_values.contains(&Value::Int(3)));
    /// ```
    pub fn endgame() -> Self {
        LineageOptions {
            subtype_field: "opcode".into(),
            create_values: vec![Value::Int(1), Value::Int(3), Value::Int(9)],
            terminate_values: vec![Value::Int(2), Value::Int(4)],
            ..LineageOptions::default()
        }
    }
}

/// Options of a [`Session`](crate::Session).
///
/// ```
/// use eql_engine::{SessionOptions, StreamOrder};
/// let o = SessionOptions { order: Some(StreamOrder::Arrival), ..SessionOptions::default() };
/// assert_eq!(o.limits.max_keys, 100_000);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionOptions {
    /// State bounds.
    pub limits: SessionLimits,
    /// Processing order. Default (`None`): by timestamp for Elasticsearch
    /// queries, by arrival for Python ones (the Python engine does not sort).
    pub order: Option<StreamOrder>,
    /// Process-lineage fields (Python dialect).
    pub lineage: LineageOptions,
    /// Elasticsearch `sample`: emit each sample as soon as it is complete,
    /// instead of holding them for [`Session::finish`](crate::Session::finish), which emits them in
    /// join-key order as Elasticsearch does. Default false.
    pub samples_on_completion: bool,
    /// Field whose timestamp orders the stream (and stands in for a rule's
    /// own timestamp field when an event lacks it). Default: the first
    /// query's `timestamp_field`.
    pub timestamp_field: Option<String>,
    /// Limits on the event bytes [`Session::push_json`](crate::Session::push_json)
    /// reads. Default [`EventLimits::default`].
    pub event_limits: EventLimits,
}
