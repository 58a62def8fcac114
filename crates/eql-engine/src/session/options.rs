//! Session options: state bounds, stream order, process lineage.

use super::Value;
use crate::EventLimits;

/// Bounds on the state of a session. Reaching a bound is counted
/// ([`SessionStats`](crate::SessionStats)), never an error or a panic.
///
/// ```
/// use eql_engine::SessionLimits;
/// let l = SessionLimits::default();
/// assert_eq!(l.max_partials, 100_000);
/// assert_eq!(l.max_held_hits, 2_000_000);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionLimits {
    /// Most partial sequences kept per rule; the one that started first is
    /// evicted. A sequence with a trailing `![...]` step also keeps at most
    /// as many completed sequences waiting for that check; the oldest is
    /// dropped. Both count in `SessionStats::partials`. Default 100 000.
    pub max_partials: usize,
    /// Most join keys kept per rule by state that is not a partial sequence
    /// (join slots, samples, leading missing events, `unique` pipes); the
    /// oldest key is evicted. Default 100 000.
    pub max_keys: usize,
    /// Most step matches (*hits*) that stateful rules hold to put them in
    /// order ([`StreamOrder::Bounded`] and [`StreamOrder::Window`]); single-event
    /// rules hold nothing. A held hit is about 200 bytes (160 plus its join
    /// key's strings) and the caller's handle `H`, which keeps whatever it
    /// owns. Past the cap, the oldest half of the held hits (by order) runs
    /// before the end of the input, counted in `SessionStats::held_overflow`;
    /// the rest still sorts, so input that is out of order by less than that
    /// look-back keeps exact results, and a hit that arrives behind one its
    /// rule already ran is late (`SessionStats::late`,
    /// [`Matches::late`](crate::Matches::late)). Default 2 000 000 (about
    /// 400 MB): the Elastic detection rules hold 2.8 hits per event of the
    /// reference event mix, so a file of some 700 000 such events is sorted
    /// whole.
    pub max_held_hits: usize,
    /// `sample`: samples per join key (Elasticsearch `max_samples_per_key`;
    /// two samples of one key may share events). Default 1; 0 counts as 1.
    pub max_samples_per_key: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            max_partials: 100_000,
            max_keys: 100_000,
            max_held_hits: 2_000_000,
            max_samples_per_key: 1,
        }
    }
}

/// In which order a session runs the stateful rules (sequences, samples,
/// joins, and event queries with an order-dependent pipe: `head`, `tail`,
/// `unique`, `unique_count`, `sort`). Single-event rules (with no pipe, or
/// only `filter` and `count`, whose results do not depend on order) see every
/// event as it is pushed, in every mode.
///
/// Elasticsearch sorts the events of a sequence by timestamp, then by the
/// tiebreaker field when one is set, then by its implicit tiebreaker, the
/// `_shard_doc` sort value of its point-in-time search: the shard, then the
/// document's position in the shard, which for one file loaded with one bulk
/// request is the line order. Here the arrival order (push order) plays that
/// part, so a file gives Elasticsearch's results when pushed in line order.
///
/// ```
/// use eql_engine::StreamOrder;
/// assert_eq!(StreamOrder::window(), StreamOrder::Window { window_ms: 60_000 });
/// assert_ne!(StreamOrder::Bounded, StreamOrder::Arrival);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamOrder {
    /// Bounded input (a file, a batch: [`Session::finish`](crate::Session::finish)
    /// closes it): the stateful rules' hits are held and run at `finish`,
    /// sorted by (timestamp, tiebreaker, arrival), each rule on its own
    /// timestamp and tiebreaker fields. The results are those of the sorted
    /// input whatever the order the events arrive in, so a stateful rule
    /// emits its results at `finish`. Memory: the held hits, at most
    /// [`SessionLimits::max_held_hits`]. The default for Elasticsearch queries.
    Bounded,
    /// Unbounded stream: the stateful rules' hits are held until the newest
    /// timestamp seen is `window_ms` past theirs, then run in (timestamp,
    /// tiebreaker, arrival) order; a hit older than one its rule already
    /// ran is *late*: skipped by that rule, counted (`SessionStats::late`)
    /// and its event returned in [`Matches::late`](crate::Matches::late).
    /// Single-event rules still see late events. [`StreamOrder::window`]
    /// gives the default window.
    Window {
        /// How far behind the newest timestamp an event may arrive and still
        /// be put in order, in milliseconds (0: in-order input).
        window_ms: u64,
    },
    /// As pushed, with no sorting and no lateness, as the Python engine
    /// streams events. The default for Python queries.
    Arrival,
}

impl StreamOrder {
    /// The default reorder window of [`StreamOrder::Window`]: 60 s. Events of
    /// several hosts reach a collector out of order by their shippers' batch
    /// and flush intervals (Beats and Elastic Agent flush every few seconds)
    /// plus queueing in between; Elastic Security schedules its rules with 1
    /// minute of look-back by default (every 5 minutes over the last 6) to
    /// cover the same ingest delay. Late events are counted, so a stream that
    /// needs more shows it.
    pub const DEFAULT_WINDOW_MS: u64 = 60_000;

    /// [`StreamOrder::Window`] with [`StreamOrder::DEFAULT_WINDOW_MS`].
    ///
    /// ```
    /// use eql_engine::StreamOrder;
    /// assert!(matches!(StreamOrder::window(), StreamOrder::Window { window_ms: 60_000 }));
    /// ```
    pub const fn window() -> Self {
        StreamOrder::Window {
            window_ms: Self::DEFAULT_WINDOW_MS,
        }
    }
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
/// let o = SessionOptions { order: Some(StreamOrder::window()), ..SessionOptions::default() };
/// assert_eq!(o.limits.max_keys, 100_000);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionOptions {
    /// State bounds.
    pub limits: SessionLimits,
    /// Processing order of the stateful rules. Default (`None`):
    /// [`StreamOrder::Bounded`] for Elasticsearch queries,
    /// [`StreamOrder::Arrival`] for Python ones (the Python engine does not
    /// sort); decided by the first query.
    pub order: Option<StreamOrder>,
    /// Process-lineage fields (Python dialect).
    pub lineage: LineageOptions,
    /// Elasticsearch `sample`: emit each sample as soon as every filter has
    /// a distinct event for it, instead of sampling at
    /// [`Session::finish`](crate::Session::finish), which picks the events
    /// and orders the samples by join key as Elasticsearch does (a sample
    /// emitted early can hold other events). Default false.
    pub samples_on_completion: bool,
    /// Field whose timestamp orders the stream (and stands in for a rule's
    /// own timestamp field when an event lacks it). Default: the first
    /// query's `timestamp_field`.
    pub timestamp_field: Option<String>,
    /// Limits on the event bytes [`Session::push_json`](crate::Session::push_json)
    /// reads. Default [`EventLimits::default`].
    pub event_limits: EventLimits,
}
