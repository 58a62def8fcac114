//! Session counters.

/// Counters of a session (a snapshot from [`Session::stats`](crate::Session::stats)).
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery, Session, SessionOptions};
/// let engine = CompiledQuery::compile("any where true", &CompileOptions::default()).unwrap();
/// let s = Session::<u64>::new(&engine, SessionOptions::default());
/// assert_eq!(s.stats().events, 0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default)
)]
#[non_exhaustive]
pub struct SessionStats {
    /// Events pushed.
    pub events: u64,
    /// Events that a stateful rule skipped because it had already run past
    /// them (later than the reorder window, or behind what
    /// `SessionLimits::max_held_hits` forced out early), and events pushed
    /// after [`Session::finish`](crate::Session::finish); each is returned in
    /// [`Matches::late`](crate::Matches::late). Single-event rules still saw
    /// the first kind.
    pub late: u64,
    /// Events that arrived after an event that orders after them (a greater
    /// timestamp, or an equal one and a greater tiebreaker): how far from
    /// sorted the input is. Counted in every mode; they are put in order
    /// unless also `late`.
    pub out_of_order: u64,
    /// Events without the timestamp field (or with `null`). Sequences skip
    /// them (Elasticsearch's sequence queries filter on the timestamp);
    /// samples and pipes order them first in [`StreamOrder::Bounded`](crate::StreamOrder::Bounded),
    /// at the newest time seen in a window, and the Python dialect at time 0.
    pub missing_timestamp: u64,
    /// Events whose timestamp does not read in the `TimestampFormat` (Elasticsearch
    /// would not index them): every stateful rule skips them, single-event
    /// rules see them; the Python dialect puts them at time 0.
    pub bad_timestamp: u64,
    /// Events without the tiebreaker field of a sequence that has one: that
    /// sequence skips them, as Elasticsearch's sequence queries filter on it.
    pub missing_tiebreaker: u64,
    /// Results emitted.
    pub matches: u64,
    /// Live partial sequences (all rules).
    pub partials: usize,
    /// Highest value of `partials`.
    pub peak_partials: usize,
    /// Live join keys (all rules; sequences, samples, joins). The key set of
    /// a `unique` pipe is not counted here; it is capped by `SessionLimits::max_keys`
    /// on its own (it starts over when full).
    pub keys: usize,
    /// Highest value of `keys`.
    pub peak_keys: usize,
    /// Partial sequences evicted by [`SessionLimits::max_partials`](crate::SessionLimits::max_partials).
    pub evicted_partials: u64,
    /// Keys evicted by [`SessionLimits::max_keys`](crate::SessionLimits::max_keys).
    pub evicted_keys: u64,
    /// Partial sequences dropped because `maxspan` passed.
    pub expired: u64,
    /// Hits (step matches of stateful rules) held to be put in order now.
    pub held_hits: usize,
    /// Highest value of `held_hits`.
    pub peak_held_hits: usize,
    /// Hits processed before their turn because `held_hits` reached
    /// [`SessionLimits::max_held_hits`](crate::SessionLimits::max_held_hits): when it is not 0, the
    /// order is only as good as that many hits of look-back, and hits that
    /// then arrive behind it are `late`.
    pub held_overflow: u64,
    /// Approximate bytes of sequence/sample/join state (entries and key values;
    /// not pipe buffers).
    pub state_bytes: usize,
    /// Highest value of `state_bytes`.
    pub peak_state_bytes: usize,
}

/// Counters the state machines update.
#[derive(Clone, Debug, Default)]
pub(crate) struct Counters {
    pub(crate) matches: u64,
    pub(crate) partials: usize,
    pub(crate) peak_partials: usize,
    pub(crate) keys: usize,
    pub(crate) peak_keys: usize,
    pub(crate) evicted_partials: u64,
    pub(crate) evicted_keys: u64,
    pub(crate) expired: u64,
    pub(crate) bytes: usize,
    pub(crate) peak_bytes: usize,
}

impl Counters {
    pub(crate) fn add_partial(&mut self, bytes: usize) {
        self.partials += 1;
        self.peak_partials = self.peak_partials.max(self.partials);
        self.add_bytes(bytes);
    }
    pub(crate) fn del_partial(&mut self, bytes: usize) {
        self.partials = self.partials.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(bytes);
    }
    pub(crate) fn add_key(&mut self, bytes: usize) {
        self.keys += 1;
        self.peak_keys = self.peak_keys.max(self.keys);
        self.add_bytes(bytes);
    }
    pub(crate) fn del_key(&mut self, bytes: usize) {
        self.keys = self.keys.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(bytes);
    }
    pub(super) fn add_bytes(&mut self, bytes: usize) {
        self.bytes += bytes;
        self.peak_bytes = self.peak_bytes.max(self.bytes);
    }
}
