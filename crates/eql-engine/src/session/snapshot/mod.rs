//! Checkpoints: a session's state as plain data ([`SessionSnapshot`]), a
//! session rebuilt from it ([`Session::restore`]) that goes on exactly as the
//! one that never stopped, and the oldest handle the state still holds
//! ([`Session::low_watermark`]).
//!
//! The snapshot is the *logical* state, not the memory layout: each state
//! machine writes what decides its future (a sequence its partials in expiry
//! order with their stage and key, its held candidates in completion order;
//! a sample or join its keys in creation order; the reorder buffer its held
//! hits by order key; pipe buffers; lineage sets, sorted), and rebuilds its
//! indexes (slabs, free lists, key maps, links, reference counts, the live
//! counters of [`SessionStats`]) from that on restore, through the same code
//! that builds them while events are pushed. Every index the data holds is
//! checked on the way in, and so are the invariants the state machines rely
//! on, so a snapshot that does not hold is an error, never a panic or a
//! session in a state no stream could have produced.
//!
//! Values (join keys, pipe captures) are written as a flat list of tokens
//! ([`Vals`]), so nesting costs no recursion when a snapshot is read, and a
//! float keeps its bits (NaN included).
//!
//! The values' tokens are in `vals.rs`, the pieces several state machines
//! write in `shared.rs`, and the checked reading back ([`Load`]) in
//! `load.rs`.

mod load;
mod shared;
mod vals;

pub(crate) use load::Load;
pub(crate) use shared::{BodySnap, CapsSnap, HitSnap, ResSnap, RuleSnap};
pub(crate) use vals::Vals;

use super::{Counters, Session, SessionOptions, SessionPlan, StreamOrder};
use std::sync::Arc;

/// A session's state at one point of its stream, from [`Session::snapshot`]:
/// partial sequences, sample and join slots, lineage sets, pipe buffers and
/// counters, the hits held to be put in order, and the counters of
/// [`SessionStats`](crate::SessionStats). It holds handles (`H`) and the
/// few values the session keeps of an event (join keys, pipe captures),
/// never an event.
///
/// [`Session::restore`] turns it back into a session over the same compiled
/// queries: the snapshot records its format version
/// ([`SessionSnapshot::VERSION`]), a fingerprint of each query (its
/// canonical text and the compile options that shape a session: dialect,
/// case sensitivity, category, timestamp and tiebreaker fields, timestamp
/// format) and of the session options that shape the state (the stream
/// order, `samples_on_completion` when a rule samples, the timestamp field,
/// the lineage options when a rule uses lineage), and restore rejects a
/// mismatch.
///
/// With the `serde` feature it serializes with any serde format (`H` too
/// must be `Serialize`/`Deserialize`). A snapshot written by another format
/// version either fails to deserialize or is rejected by `restore` with
/// [`SnapshotError::Version`].
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions, SessionSnapshot};
/// use serde_json::json;
/// let q = CompiledQuery::compile("sequence by k [a where true] [b where true]", &CompileOptions::default()).unwrap();
/// let mut s = Session::<u64>::new(&q, SessionOptions::default());
/// let mut out = Matches::new();
/// s.push(1, &json!({"@timestamp": 1, "event": {"category": "a"}, "k": "x"}), &mut out);
/// let snap: SessionSnapshot<u64> = s.snapshot();
/// assert_eq!(snap.version(), SessionSnapshot::<u64>::VERSION);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct SessionSnapshot<H> {
    version: u32,
    /// Fingerprint of each query of the plan.
    queries: Vec<u64>,
    /// Fingerprint of the options that shape the state.
    options: u64,
    state: SessionState<H>,
}

impl<H> SessionSnapshot<H> {
    /// The format version this build writes and reads.
    pub const VERSION: u32 = 1;

    /// The format version of this snapshot.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Session, SessionOptions, SessionSnapshot};
    /// let q = CompiledQuery::compile("any where true", &CompileOptions::default()).unwrap();
    /// let s = Session::<u8>::new(&q, SessionOptions::default());
    /// assert_eq!(s.snapshot().version(), SessionSnapshot::<u8>::VERSION);
    /// ```
    pub fn version(&self) -> u32 {
        self.version
    }

    /// [`SnapshotError::QueryCount`] or [`SnapshotError::QueryMismatch`]
    /// unless the snapshot was taken over `plan`'s queries.
    fn check_queries(&self, plan: &SessionPlan) -> Result<(), SnapshotError> {
        if self.queries.len() != plan.rules.len() {
            return Err(SnapshotError::QueryCount {
                found: self.queries.len(),
                expected: plan.rules.len(),
            });
        }
        for (query, (print, r)) in self.queries.iter().zip(&plan.rules).enumerate() {
            if *print != query_print(&r.engine) {
                return Err(SnapshotError::QueryMismatch { query });
            }
        }
        Ok(())
    }
}

/// Why [`Session::restore`] refused a snapshot.
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery, Session, SessionOptions, SnapshotError};
/// let a = CompiledQuery::compile("a where true | tail 1", &CompileOptions::default()).unwrap();
/// let b = CompiledQuery::compile("b where true | tail 1", &CompileOptions::default()).unwrap();
/// let snap = Session::<u8>::new(&a, SessionOptions::default()).snapshot();
/// let err = Session::restore(&b, SessionOptions::default(), snap).err();
/// assert_eq!(err, Some(SnapshotError::QueryMismatch { query: 0 }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The snapshot's format version is not the one this build reads.
    #[error("snapshot format version {found}, this build reads version {expected}")]
    Version {
        /// The snapshot's version.
        found: u32,
        /// [`SessionSnapshot::VERSION`].
        expected: u32,
    },
    /// The snapshot was taken over another number of queries.
    #[error("the snapshot was taken over {found} queries, the plan has {expected}")]
    QueryCount {
        /// Queries of the snapshot.
        found: usize,
        /// Queries of the plan.
        expected: usize,
    },
    /// A query of the plan is not the one the snapshot was taken with (its
    /// text or the compile options that shape a session differ).
    #[error("query {query} of the plan is not the query the snapshot was taken with")]
    QueryMismatch {
        /// Position of the query in the plan.
        query: usize,
    },
    /// The session options that shape the state (the stream order,
    /// `samples_on_completion` when a rule samples, the timestamp field, the
    /// lineage options when a rule uses lineage) are not the snapshot's.
    #[error(
        "the session options that shape the state (order, samples_on_completion, \
         timestamp_field, lineage) differ from the snapshot's"
    )]
    OptionsMismatch,
    /// The snapshot holds more state than the [`SessionLimits`](crate::SessionLimits) of the
    /// options allow.
    #[error("{}{what} holds {found}, over SessionLimits::{limit} = {max}", at(.rule.as_ref()))]
    OverLimit {
        /// The rule (position in the plan), or `None` for session-wide state.
        rule: Option<usize>,
        /// What holds too much.
        what: &'static str,
        /// The limit (a field of [`SessionLimits`](crate::SessionLimits)).
        limit: &'static str,
        /// How much the snapshot holds.
        found: usize,
        /// The limit's value.
        max: usize,
    },
    /// The snapshot's state does not hold together: an index out of range,
    /// a state of another kind than the rule's, a broken invariant.
    #[error("invalid snapshot: {}{what}", at(.rule.as_ref()))]
    Invalid {
        /// The rule (position in the plan), or `None` for session-wide state.
        rule: Option<usize>,
        /// What is wrong.
        what: &'static str,
    },
}

fn at(rule: Option<&usize>) -> String {
    rule.map(|r| format!("rule {r}: ")).unwrap_or_default()
}

/// Counters that are not derived from the state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub(crate) struct StatsSnap {
    events: u64,
    late: u64,
    out_of_order: u64,
    missing_timestamp: u64,
    bad_timestamp: u64,
    missing_tiebreaker: u64,
    matches: u64,
    peak_partials: u64,
    peak_keys: u64,
    evicted_partials: u64,
    evicted_keys: u64,
    expired: u64,
    peak_state_bytes: u64,
    peak_held_hits: u64,
    held_overflow: u64,
}

/// The whole state.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
struct SessionState<H> {
    arrival: u64,
    finished: bool,
    stats: StatsSnap,
    order: super::order::OrderSnap<H>,
    rules: Vec<RuleSnap<H>>,
}

// ---------------------------------------------------------------------------
// Fingerprints

/// FNV-1a, 64 bits: stable across builds and platforms.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A query's canonical text and the compile options that shape a session.
fn query_print(q: &crate::CompiledQuery) -> u64 {
    let o = &q.opts;
    fnv(&format!(
        "{}\n{:?}\n{}\n{}\n{}\n{:?}\n{:?}",
        q.query(),
        o.dialect,
        o.case_sensitive,
        o.category_field,
        o.timestamp_field,
        o.timestamp_format,
        o.tiebreaker_field,
    ))
}

impl<H: Clone> Session<H> {
    /// The options that shape this session's state, as they resolved.
    fn options_print(&self) -> u64 {
        use std::fmt::Write;
        let mut text = match self.ordering.mode {
            StreamOrder::Bounded => "bounded".to_owned(),
            StreamOrder::Window { window_ms } => format!("window {window_ms}"),
            StreamOrder::Arrival => "arrival".to_owned(),
        };
        let _ = write!(text, "\n{}", self.ts_field);
        if self.plan.lineage {
            let _ = write!(text, "\n{}", self.lineage.print());
        }
        for r in &self.rules {
            if let super::rule::Body::Sample(s) = &r.body {
                let _ = write!(text, "\nsample {}", s.on_completion());
            }
        }
        // A shard keeps only its worker's hits: a snapshot of one worker is
        // not another's.
        if let Some(shard) = &self.shard {
            let _ = write!(text, "\nshard {shard:?}");
        }
        fnv(&text)
    }

    /// The session's state now, as plain data: see [`SessionSnapshot`].
    /// [`Session::restore`] turns it into a session that goes on exactly as
    /// this one does: the same results, late events and counters for the
    /// same events pushed next.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
    /// use serde_json::json;
    /// let q = CompiledQuery::compile("sequence by k [a where true] [b where true]", &CompileOptions::default()).unwrap();
    /// let mut s = Session::<u64>::new(&q, SessionOptions::default());
    /// let mut out = Matches::new();
    /// s.push(1, &json!({"@timestamp": 1, "event": {"category": "a"}, "k": "x"}), &mut out);
    /// // Stop here; later (with the `serde` feature, after storing it anywhere):
    /// let snap = s.snapshot();
    /// let mut s = Session::restore(&q, SessionOptions::default(), snap).unwrap();
    /// s.push(2, &json!({"@timestamp": 2, "event": {"category": "b"}, "k": "x"}), &mut out);
    /// s.finish(&mut out);
    /// assert_eq!(out.get(0).map(|m| m.events), Some(&[1u64, 2][..]));
    /// ```
    pub fn snapshot(&self) -> SessionSnapshot<H> {
        let stats = self.stats();
        let c = &self.counters;
        let wide = |n: usize| n as u64;
        SessionSnapshot {
            version: SessionSnapshot::<H>::VERSION,
            queries: self
                .plan
                .rules
                .iter()
                .map(|r| query_print(&r.engine))
                .collect(),
            options: self.options_print(),
            state: SessionState {
                arrival: self.arrival,
                finished: self.finished,
                stats: StatsSnap {
                    events: stats.events,
                    late: stats.late,
                    out_of_order: stats.out_of_order,
                    missing_timestamp: stats.missing_timestamp,
                    bad_timestamp: stats.bad_timestamp,
                    missing_tiebreaker: stats.missing_tiebreaker,
                    matches: c.matches,
                    peak_partials: wide(c.peak_partials),
                    peak_keys: wide(c.peak_keys),
                    evicted_partials: c.evicted_partials,
                    evicted_keys: c.evicted_keys,
                    expired: c.expired,
                    peak_state_bytes: wide(c.peak_bytes),
                    peak_held_hits: wide(self.ordering.peak_held),
                    held_overflow: self.ordering.overflow,
                },
                order: self.ordering.save(),
                rules: self
                    .rules
                    .iter()
                    .map(super::rule::RuleState::save)
                    .collect(),
            },
        }
    }

    /// A session over `plan` with `opts`, in the state `snapshot` holds:
    /// it goes on exactly as the session the snapshot was taken from.
    ///
    /// `plan` must hold the queries the snapshot was taken over, in the
    /// same order (compiled with the same options), and `opts` the same
    /// stream order, timestamp field, `samples_on_completion` and lineage
    /// options; the other options may change (limits, event limits). The
    /// state must fit `opts.limits`, as the state of a running session
    /// always does; values nested deeper than
    /// `opts.event_limits.max_depth` (at least 128) are refused.
    ///
    /// Every index and invariant of the snapshot is checked: a snapshot that
    /// does not hold together gives [`SnapshotError::Invalid`], never a
    /// panic nor a session in a state no stream could have left.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions, SnapshotError, StreamOrder};
    /// use serde_json::json;
    /// let q = CompiledQuery::compile("sample by k [a where true] [b where true]", &CompileOptions::default()).unwrap();
    /// let mut opts = SessionOptions::default();
    /// opts.order = Some(StreamOrder::Window { window_ms: 0 });
    /// let mut s = Session::<u64>::new(&q, opts.clone());
    /// let mut out = Matches::new();
    /// for (i, k) in ["x", "y", "z"].into_iter().enumerate() {
    ///     s.push(i as u64, &json!({"@timestamp": i, "event": {"category": "a"}, "k": k}), &mut out);
    /// }
    /// assert_eq!(s.stats().keys, 3);
    /// assert!(Session::restore(&q, opts.clone(), s.snapshot()).is_ok());
    /// // Three keys do not fit a limit of two.
    /// let mut small = opts;
    /// small.limits.max_keys = 2;
    /// let err = Session::restore(&q, small, s.snapshot()).err();
    /// assert!(matches!(err, Some(SnapshotError::OverLimit { found: 3, max: 2, .. })));
    /// ```
    pub fn restore(
        plan: impl Into<Arc<SessionPlan>>,
        opts: SessionOptions,
        snapshot: SessionSnapshot<H>,
    ) -> Result<Self, SnapshotError> {
        if snapshot.version != SessionSnapshot::<H>::VERSION {
            return Err(SnapshotError::Version {
                found: snapshot.version,
                expected: SessionSnapshot::<H>::VERSION,
            });
        }
        let plan = plan.into();
        snapshot.check_queries(&plan)?;
        let limits = opts.limits.clone();
        let max_depth = opts.event_limits.max_depth.max(128);
        let mut s = Session::from_plan(plan, opts);
        if snapshot.options != s.options_print() {
            return Err(SnapshotError::OptionsMismatch);
        }
        let state = snapshot.state;
        let mut cx = Load {
            limits: &limits,
            max_depth,
            arrival: state.arrival,
            rule: None,
        };
        s.load_state(state, &mut cx)?;
        Ok(s)
    }

    /// Restores `state` into this fresh session: every rule's state, the
    /// held hits, then the counters.
    fn load_state(
        &mut self,
        state: SessionState<H>,
        cx: &mut Load<'_>,
    ) -> Result<(), SnapshotError> {
        let st = state.stats;
        cx.check(st.events == state.arrival, "events and arrivals disagree")?;
        cx.check(
            state.rules.len() == self.rules.len(),
            "rule states and queries disagree",
        )?;
        let mut c = Counters::default();
        for (i, (snap, (r, rp))) in state
            .rules
            .into_iter()
            .zip(self.rules.iter_mut().zip(&self.plan.rules))
            .enumerate()
        {
            cx.rule = Some(i);
            r.load(rp, snap, cx, &mut c)?;
        }
        cx.rule = None;
        self.ordering.load(&self.plan.rules, state.order, cx)?;
        cx.check(
            !state.finished || self.ordering.held_len() == 0,
            "held hits after the end of the input",
        )?;
        self.load_stats(&st, c, cx)?;
        self.arrival = state.arrival;
        self.finished = state.finished;
        Ok(())
    }

    /// Sets the counters: `c` as the restored state added it up, with the
    /// snapshot's peaks (which must hold that state) and totals.
    fn load_stats(
        &mut self,
        st: &StatsSnap,
        mut c: Counters,
        cx: &Load<'_>,
    ) -> Result<(), SnapshotError> {
        let narrow = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let peaks_hold = narrow(st.peak_partials) >= c.partials
            && narrow(st.peak_keys) >= c.keys
            && narrow(st.peak_state_bytes) >= c.bytes
            && narrow(st.peak_held_hits) >= self.ordering.held_len();
        cx.check(peaks_hold, "a peak below the state it holds")?;
        c.peak_partials = narrow(st.peak_partials);
        c.peak_keys = narrow(st.peak_keys);
        c.peak_bytes = narrow(st.peak_state_bytes);
        c.matches = st.matches;
        c.evicted_partials = st.evicted_partials;
        c.evicted_keys = st.evicted_keys;
        c.expired = st.expired;
        self.ordering.peak_held = narrow(st.peak_held_hits);
        self.ordering.overflow = st.held_overflow;
        self.counters = c;
        self.stats.events = st.events;
        self.stats.late = st.late;
        self.stats.out_of_order = st.out_of_order;
        self.stats.missing_timestamp = st.missing_timestamp;
        self.stats.bad_timestamp = st.bad_timestamp;
        self.stats.missing_tiebreaker = st.missing_tiebreaker;
        Ok(())
    }

    /// The smallest handle (by `H`'s order) that the session's state still
    /// holds: in a partial sequence, a sample or join slot, a completed
    /// result waiting for the end of the input or a pipe buffer (`tail`,
    /// `sort`, `unique_count`), or a hit held to be put in order; `None`
    /// when it holds none, or after [`Session::finish`]. Every result the
    /// session emits from now on holds only this handle, greater ones, and
    /// handles of events pushed later. With handles that grow with the
    /// stream (file offsets, line numbers), a consumer that restarts from a
    /// snapshot taken now needs no event before this one: everything
    /// before it may be committed.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions, StreamOrder};
    /// use serde_json::json;
    /// let q = CompiledQuery::compile("sequence by k [a where true] [b where true]", &CompileOptions::default()).unwrap();
    /// let mut opts = SessionOptions::default();
    /// opts.order = Some(StreamOrder::Window { window_ms: 0 });
    /// let mut s = Session::<u64>::new(&q, opts);
    /// let mut out = Matches::new();
    /// s.push(10, &json!({"@timestamp": 1, "event": {"category": "a"}, "k": "x"}), &mut out);
    /// s.push(20, &json!({"@timestamp": 2, "event": {"category": "a"}, "k": "y"}), &mut out);
    /// assert_eq!(s.low_watermark(), Some(&10));
    /// s.push(30, &json!({"@timestamp": 3, "event": {"category": "b"}, "k": "x"}), &mut out);
    /// assert_eq!(out.len(), 1);
    /// assert_eq!(s.low_watermark(), Some(&20));
    /// ```
    pub fn low_watermark(&self) -> Option<&H>
    where
        H: Ord,
    {
        if self.finished {
            return None;
        }
        fn lower<'a, H: Ord>(low: &mut Option<&'a H>, h: &'a H) {
            if low.is_none_or(|l| h < l) {
                *low = Some(h);
            }
        }
        let mut low: Option<&H> = None;
        self.ordering.for_each_handle(&mut |h| lower(&mut low, h));
        for r in &self.rules {
            r.for_each_handle(&mut |h| lower(&mut low, h));
        }
        low
    }
}
