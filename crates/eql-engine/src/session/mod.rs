//! Streaming sessions: the mutable state of one ordered event stream.
//!
//! An [`CompiledQuery`] is immutable; a [`Session`] holds what a stream needs between
//! events: partial sequences, sample and join slots, lineage sets, pipe
//! buffers and counters. Events are referred to by a caller-chosen handle `H`,
//! so the session never clones or keeps an event: each event is evaluated
//! once when it is pushed (step conditions, join keys, the few field values a
//! pipe needs), and only the handle plus those key values are kept.
//!
//! Flow of one event (`push.rs`): read its timestamp and tiebreaker →
//! evaluate every rule into compact *hits* (rule, step, key) → single-event
//! rules' hits go to their pipes at once; stateful rules' hits are held and
//! put in Elasticsearch's order ([`StreamOrder`], `order/`) → the rules'
//! state machines → pipes → the caller's [`Matches`].
//!
//! The state is plain data: [`Session::snapshot`] writes it down, and
//! [`Session::restore`] builds a session that goes on from it
//! (`snapshot/`).
//!
//! ```
//! use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
//! use serde_json::json;
//! let engine = CompiledQuery::compile(
//!     r#"sequence by host.id with maxspan=1m [process where true] [file where true]"#,
//!     &CompileOptions::default(),
//! ).unwrap();
//! let mut session = Session::<u64>::new(&engine, SessionOptions::default());
//! let mut out = Matches::new();
//! session.push(1, &json!({"@timestamp": 1000, "event": {"category": "process"}, "host": {"id": "h"}}), &mut out);
//! session.push(2, &json!({"@timestamp": 2000, "event": {"category": "file"}, "host": {"id": "h"}}), &mut out);
//! session.finish(&mut out);
//! assert_eq!(out.iter().map(|m| m.events.to_vec()).collect::<Vec<_>>(), vec![vec![1, 2]]);
//! ```

mod join;
mod keys;
mod lineage;
mod order;
mod pipes;
mod sample;
mod sequence;
mod snapshot;
mod time;

pub use time::TimestampFormat;

use crate::eval::reference::Env;
use crate::{CompiledQuery, Event};
use eql_plan::{FieldPath, Value};
use eql_syntax::{Dialect, EventQuery, Expr, ExprKind, QueryBody, SequenceStep};
pub(crate) use keys::{Key, KeyAtom};
use order::Orderer;
use smallvec::SmallVec;

mod matches;
mod options;
mod plan;
mod push;
mod rule;
mod stats;
mod step;

use lineage::LineageFields;
pub use matches::{Match, Matches, Step};
pub use options::{LineageOptions, SessionLimits, SessionOptions, StreamOrder};
pub use plan::SessionPlan;
use rule::{Body, BodySpec, RuleState};
pub(crate) use rule::{Hit, HitKind, Sink};
pub use snapshot::{SessionSnapshot, SnapshotError};
pub(crate) use stats::Counters;
pub use stats::SessionStats;
use std::sync::Arc;
pub(crate) use step::{Answers, CategoryOf, EvalCx, LazyCategory, StepSpec};

// ---------------------------------------------------------------------------
// The session

/// The mutable state of one ordered event stream over one or more compiled
/// queries: partial sequences, sample and join slots, lineage sets, pipe
/// buffers and counters, fed one event at a time.
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
/// let engine = CompiledQuery::compile("process where true | tail 1", &CompileOptions::default()).unwrap();
/// let mut s = Session::<u32>::new(&engine, SessionOptions::default());
/// let mut out = Matches::new();
/// for i in 0..3 {
///     s.push_json(i, br#"{"event": {"category": "process"}}"#, &mut out).unwrap();
/// }
/// assert!(out.is_empty());
/// s.finish(&mut out);
/// assert_eq!(out.iter().next().unwrap().events, &[2]);
/// ```
pub struct Session<H> {
    plan: Arc<SessionPlan>,
    /// Per rule of the plan, its state.
    rules: Vec<RuleState<H>>,
    /// The order of the stateful rules and their held hits.
    ordering: Orderer<H>,
    event_limits: crate::EventLimits,
    /// Every field the session reads, for [`Session::push_json`]: the
    /// plan's when these options read no other field.
    projection: Arc<crate::Projection>,
    ts_field: FieldPath,
    /// The other (timestamp field, format) pairs rules read, each once per
    /// event ([`RuleState::ts_slot`]).
    own_ts: Vec<(FieldPath, TimestampFormat)>,
    ts_format: TimestampFormat,
    tie_field: Option<FieldPath>,
    lineage: LineageFields,
    arrival: u64,
    scratch: Vec<Hit>,
    pack_hits: crate::PackMatches,
    /// The pack's answers for the current event, by pack index.
    answers: Vec<bool>,
    /// The rules to evaluate for the current event (scratch).
    due: Vec<u32>,
    counters: Counters,
    stats: SessionStats,
    finished: bool,
    /// Keep only the hits this worker owns ([`crate::Shard`]).
    shard: Option<crate::Shard>,
}

impl<H: Clone> Session<H> {
    /// A session running `plan`: a [`CompiledQuery`], a
    /// [`CompiledRuleSet`](crate::CompiledRuleSet) (whose plan is built once,
    /// when it is compiled, and shared), a [`SessionPlan`] over several
    /// queries, or an `Arc<SessionPlan>` shared with other sessions. The
    /// session owns its share of the plan: it is `'static`, and `Send` when
    /// `H` is.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
    /// let query = CompiledQuery::compile("process where true", &CompileOptions::default()).unwrap();
    /// let mut s = Session::new(&query, SessionOptions::default());
    /// let mut out = Matches::new();
    /// s.push(1u64, &serde_json::json!({"event": {"category": "process"}}), &mut out);
    /// assert_eq!(out.len(), 1);
    /// ```
    ///
    /// Several queries: a result's [`Match::rule`] is the query's position
    /// in the plan.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use eql_engine::{CompileOptions, CompiledQuery, Session, SessionOptions, SessionPlan};
    /// let a = CompiledQuery::compile("process where true", &CompileOptions::default()).unwrap();
    /// let b = CompiledQuery::compile("file where true", &CompileOptions::default()).unwrap();
    /// let plan = Arc::new(SessionPlan::new([a, b]));
    /// let s: Session<u64> = Session::new(Arc::clone(&plan), SessionOptions::default());
    /// assert_eq!(s.stats().events, 0);
    /// ```
    pub fn new(plan: impl Into<Arc<SessionPlan>>, opts: SessionOptions) -> Self {
        Session::from_plan(plan.into(), opts)
    }

    fn from_plan(plan: Arc<SessionPlan>, opts: SessionOptions) -> Self {
        let first = plan.rules.first().map(|r| &r.engine.opts);
        let ts_name = opts.timestamp_field.clone().unwrap_or_else(|| {
            first
                .map_or("@timestamp", |o| o.timestamp_field.as_str())
                .to_owned()
        });
        let ts_format = first.map_or(TimestampFormat::Auto, |o| o.timestamp_format);
        let tie_field = first
            .and_then(|o| o.tiebreaker_field.as_deref())
            .map(FieldPath::parse_dotted);
        let py = first.is_some_and(|o| o.dialect == Dialect::Python);
        let order = opts.order.unwrap_or(if py {
            StreamOrder::Arrival
        } else {
            StreamOrder::Bounded
        });
        let mut rules = Vec::with_capacity(plan.rules.len());
        let mut own_ts: Vec<(FieldPath, TimestampFormat)> = Vec::new();
        // The (field, format) of each `own_ts` slot, as the options spell them.
        let mut own_names: Vec<(&str, TimestampFormat)> = Vec::new();
        for p in &plan.rules {
            let mut r = RuleState::new(p, &opts);
            let o = &p.engine.opts;
            if o.timestamp_field != ts_name {
                let own = (o.timestamp_field.as_str(), o.timestamp_format);
                r.ts_slot = Some(match own_names.iter().position(|x| *x == own) {
                    Some(k) => k,
                    None => {
                        own_names.push(own);
                        own_ts.push((FieldPath::parse_dotted(own.0), own.1));
                        own_ts.len() - 1
                    }
                });
            }
            rules.push(r);
        }
        let ts_field = FieldPath::parse_dotted(&ts_name);
        let lineage = LineageFields::new(&opts.lineage);
        let mut extra = vec![&ts_field];
        if plan.lineage {
            extra.extend(lineage.paths());
        }
        let projection = if extra.iter().all(|p| plan.projected.contains(p)) {
            Arc::clone(&plan.projection)
        } else {
            let mut paths = plan.fields.clone();
            paths.extend(extra.into_iter().cloned());
            Arc::new(crate::Projection::new(&paths))
        };
        let tie_name = first.and_then(|o| o.tiebreaker_field.as_deref());
        let ordering = Orderer::new(
            order,
            &plan.rules,
            &ts_name,
            tie_name,
            opts.limits.max_held_hits,
        );
        Session {
            rules,
            ordering,
            event_limits: opts.event_limits,
            projection,
            ts_field,
            own_ts,
            ts_format,
            tie_field,
            lineage,
            arrival: 0,
            scratch: Vec::new(),
            plan,
            pack_hits: crate::PackMatches::new(),
            answers: Vec::new(),
            due: Vec::new(),
            counters: Counters::default(),
            stats: SessionStats::default(),
            finished: false,
            shard: opts.shard,
        }
    }

    /// Pushes one event. Results completed by it (single-event rules, and
    /// stateful rules' hits that the reorder window or the
    /// [`SessionLimits::max_held_hits`] cap releases) are appended to `out`;
    /// an event that a stateful rule had to skip because it came too late
    /// is appended to [`Matches::late`]. In [`StreamOrder::Bounded`] (the
    /// Elasticsearch default) the stateful rules' results come at
    /// [`Session::finish`].
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
    /// let engine = CompiledQuery::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = Session::<u8>::new(&engine, SessionOptions::default());
    /// let mut out = Matches::new();
    /// s.push(1, &serde_json::json!({"@timestamp": "2024-01-01T00:00:00Z"}), &mut out);
    /// assert_eq!(out.len(), 1);
    /// ```
    pub fn push(&mut self, handle: H, event: &dyn Event, out: &mut Matches<H>) {
        self.push_inner(handle, event, None, out);
    }

    /// [`Session::push`] of an event whose step queries the caller has
    /// evaluated: `matched` holds the answer indexes
    /// ([`SessionPlan::answerable`]) of the step queries the event matches,
    /// in any order. The session evaluates no answerable step query itself;
    /// it reads from `event` only [`Session::answered_fields`]. Given the
    /// step queries' true answers (as a [`crate::Pack`] over them gives),
    /// the results are [`Session::push`]'s.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches, Pack, PackMatches, Session, SessionOptions, SessionPlan};
    /// use std::sync::Arc;
    /// let q = CompiledQuery::compile(
    ///     r#"sequence by host.id [process where process.name == "a"] [file where true]"#,
    ///     &CompileOptions::default(),
    /// ).unwrap();
    /// let plan = Arc::new(SessionPlan::new([q]));
    /// // The caller's pack over the answerable step queries, in order.
    /// let steps: Vec<_> = plan.answerable().collect();
    /// let pack = Pack::from_queries(steps.iter().map(|&(i, s)| (i, plan.query(i).unwrap(), s)));
    /// let mut s: Session<u8> = Session::new(Arc::clone(&plan), SessionOptions::default());
    /// let (mut hits, mut out) = (PackMatches::new(), Matches::new());
    /// for (h, line) in [
    ///     br#"{"@timestamp": 1, "event": {"category": "process"}, "process": {"name": "a"}, "host": {"id": "x"}}"#.as_slice(),
    ///     br#"{"@timestamp": 2, "event": {"category": "file"}, "host": {"id": "x"}}"#.as_slice(),
    /// ].into_iter().enumerate() {
    ///     pack.matches_json(line, &mut hits).unwrap();
    ///     let event: serde_json::Value = serde_json::from_slice(line).unwrap();
    ///     s.push_answered(h as u8, &event, hits.rules(), &mut out);
    /// }
    /// s.finish(&mut out);
    /// assert_eq!(out.get(0).map(|m| m.events), Some(&[0u8, 1][..]));
    /// ```
    pub fn push_answered(
        &mut self,
        handle: H,
        event: &dyn Event,
        matched: &[u32],
        out: &mut Matches<H>,
    ) {
        self.push_inner(handle, event, Some(matched), out);
    }

    /// Every field this session reads from an event pushed with
    /// [`Session::push_answered`]: [`SessionPlan::answered_fields`], and the
    /// timestamp and lineage fields of its options.
    pub fn answered_fields(&self) -> Vec<FieldPath> {
        let mut fields = self.plan.answered_fields.clone();
        let mut extra = vec![&self.ts_field];
        if self.plan.lineage {
            extra.extend(self.lineage.paths());
        }
        for p in extra {
            if !fields.contains(p) {
                fields.push(p.clone());
            }
        }
        fields
    }

    /// Pushes one event from its bytes (a JSON object), with the results
    /// [`Session::push`] gives for the same event as a `serde_json::Value`.
    /// No DOM is built: one pass over the bytes keeps only the fields the
    /// session's rules read (conditions, join keys, categories, timestamps,
    /// tiebreakers, pipe and lineage fields), and the rules read them from
    /// that. The bytes are checked as [`crate::parse_event`] checks them,
    /// against [`SessionOptions::event_limits`]; bytes that are not an event
    /// are an [`EventError`](crate::EventError) and change nothing.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, EventErrorKind, Matches, Session, SessionOptions};
    /// let engine = CompiledQuery::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = Session::<u8>::new(&engine, SessionOptions::default());
    /// let mut out = Matches::new();
    /// s.push_json(1, br#"{"@timestamp": 5}"#, &mut out).unwrap();
    /// assert_eq!(out.len(), 1);
    /// let err = s.push_json(2, b"{not json", &mut out).unwrap_err();
    /// assert!(matches!(err.kind, EventErrorKind::Syntax { .. }));
    /// ```
    pub fn push_json(
        &mut self,
        handle: H,
        bytes: &[u8],
        out: &mut Matches<H>,
    ) -> Result<(), crate::EventError> {
        let text = crate::event::input::check_bytes(bytes, &self.event_limits)?;
        let event = self.projection.parse_checked(text)?;
        self.push(handle, &event, out);
        Ok(())
    }

    /// Closes the input: runs the held hits of the stateful rules in order,
    /// emits sequences waiting on trailing missing events, and flushes the
    /// pipes that need the whole input (`tail`, `sort`, `count`,
    /// `unique_count`). Later pushes are late.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
    /// let engine = CompiledQuery::compile("any where true | tail 1", &CompileOptions::default()).unwrap();
    /// let mut s = Session::<u8>::new(&engine, SessionOptions::default());
    /// let mut out = Matches::new();
    /// s.push(1, &serde_json::json!({}), &mut out);
    /// s.push(2, &serde_json::json!({}), &mut out);
    /// s.finish(&mut out);
    /// assert_eq!(out.get(0).map(|m| m.events), Some(&[2u8][..]));
    /// ```
    pub fn finish(&mut self, out: &mut Matches<H>) {
        self.release_all(out);
        let counters = &mut self.counters;
        for (i, (r, rp)) in self.rules.iter_mut().zip(&self.plan.rules).enumerate() {
            let (body, mut sink) = r.sink(rp, i as u32, out, counters);
            match (body, &rp.body) {
                (Body::Seq(s), BodySpec::Seq(spec)) => s.finish(spec, &mut sink),
                (Body::Sample(s), BodySpec::Sample(spec)) => s.finish(spec, &mut sink),
                _ => {}
            }
            sink.finish_pipes();
        }
        self.finished = true;
    }

    /// A snapshot of the counters.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
    /// let engine = CompiledQuery::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = Session::<u8>::new(&engine, SessionOptions::default());
    /// let mut out = Matches::new();
    /// s.push(1, &serde_json::json!({}), &mut out);
    /// assert_eq!((s.stats().events, s.stats().matches), (1, 1));
    /// ```
    pub fn stats(&self) -> SessionStats {
        let c = &self.counters;
        SessionStats {
            matches: c.matches,
            partials: c.partials,
            peak_partials: c.peak_partials,
            keys: c.keys,
            peak_keys: c.peak_keys,
            evicted_partials: c.evicted_partials,
            evicted_keys: c.evicted_keys,
            expired: c.expired,
            held_hits: self.ordering.held_len(),
            peak_held_hits: self.ordering.peak_held,
            held_overflow: self.ordering.overflow,
            state_bytes: c.bytes,
            peak_state_bytes: c.peak_bytes,
            ..self.stats.clone()
        }
    }
}
