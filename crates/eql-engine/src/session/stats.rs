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
#[non_exhaustive]
pub struct SessionStats {
    /// Events pushed.
    pub events: u64,
    /// Events later than the reorder window (returned in [`Matches::late`](crate::Matches::late)).
    pub late: u64,
    /// Events without a readable timestamp (ordered as if at the newest time seen).
    pub missing_timestamp: u64,
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
    /// Events held by the reorder buffer now.
    pub reorder_buffered: usize,
    /// Highest value of `reorder_buffered`.
    pub peak_reorder_buffered: usize,
    /// Events processed early because the reorder buffer was full.
    pub reorder_overflow: u64,
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
