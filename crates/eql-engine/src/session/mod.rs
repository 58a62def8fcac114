//! Streaming sessions: the mutable state of one ordered event stream.
//!
//! An [`Engine`] is immutable; a [`Session`] holds what a stream needs between
//! events: partial sequences, sample and join slots, lineage sets, pipe
//! buffers and counters. Events are referred to by a caller-chosen handle `H`,
//! so the session never clones or keeps an event: each event is evaluated
//! once when it is pushed (step conditions, join keys, the few field values a
//! pipe needs), and only the handle plus those key values are kept.
//!
//! Flow of one event: read its timestamp and tiebreaker → late check → evaluate
//! every rule into compact *hits* (rule, step, key) → reorder buffer (a
//! min-heap on the ordinal, only when a reorder window is configured) →
//! the rules' state machines → pipes → the caller's [`Matches`].
//!
//! ```
//! use eql_engine::{CompileOptions, Engine, Matches};
//! use serde_json::json;
//! let engine = Engine::compile(
//!     r#"sequence by host.id with maxspan=1m [process where true] [file where true]"#,
//!     &CompileOptions::default(),
//! ).unwrap();
//! let mut session = engine.session::<u64>();
//! let mut out = Matches::new();
//! session.push(1, &json!({"@timestamp": 1000, "event": {"category": "process"}, "host": {"id": "h"}}), &mut out);
//! session.push(2, &json!({"@timestamp": 2000, "event": {"category": "file"}, "host": {"id": "h"}}), &mut out);
//! session.finish(&mut out);
//! assert_eq!(out.iter().map(|m| m.events.to_vec()).collect::<Vec<_>>(), vec![vec![1, 2]]);
//! ```

mod join;
mod keys;
mod lineage;
mod pipes;
mod sample;
mod sequence;
mod time;

pub use time::TimestampFormat;

use crate::eval::Env;
use crate::{Engine, Event};
use eql_plan::{FieldPath, Value};
use eql_syntax::{Dialect, EventQuery, Expr, ExprKind, QueryBody, SequenceStep};
use keys::Key;
use smallvec::SmallVec;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use time::{Ordinal, TICKS_PER_MS};

// ---------------------------------------------------------------------------
// Options

/// Bounds on the state of a session. Reaching a bound is a counted eviction
/// ([`SessionStats`]), never an error or a panic.
///
/// ```
/// use eql_engine::Limits;
/// let l = Limits::default();
/// assert_eq!(l.max_partials, 100_000);
/// assert_eq!(l.reorder_window_ms, 0);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most partial sequences (and pending trailing-missing completions) kept
    /// per rule; the one that started first is evicted. Default 100 000.
    pub max_partials: usize,
    /// Most join keys kept per rule by state that is not a partial sequence
    /// (join slots, samples, leading missing events, `unique` pipes); the
    /// oldest key is evicted. Default 100 000.
    pub max_keys: usize,
    /// Events whose timestamp is at most this many milliseconds behind the
    /// newest one seen are reordered; events older than what was already
    /// processed are *late*: counted and returned in [`Matches::late`],
    /// never evaluated. Default 0 (in-order input; ties keep arrival order).
    pub reorder_window_ms: u64,
    /// Most events held by the reorder buffer; past it the oldest is
    /// processed early. Default 100 000.
    pub max_reorder_events: usize,
    /// `sample`: samples per join key (Elasticsearch `max_samples_per_key`). Default 1.
    pub max_samples_per_key: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
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

/// Options of a [`Session`].
///
/// ```
/// use eql_engine::{SessionOptions, StreamOrder};
/// let o = SessionOptions { order: Some(StreamOrder::Arrival), ..SessionOptions::default() };
/// assert_eq!(o.limits.max_keys, 100_000);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionOptions {
    /// State bounds.
    pub limits: Limits,
    /// Processing order. Default (`None`): by timestamp for Elasticsearch
    /// queries, by arrival for Python ones (the Python engine does not sort).
    pub order: Option<StreamOrder>,
    /// Process-lineage fields (Python dialect).
    pub lineage: LineageOptions,
    /// Elasticsearch `sample`: emit each sample as soon as it is complete,
    /// instead of holding them for [`Session::finish`], which emits them in
    /// join-key order as Elasticsearch does. Default false.
    pub samples_on_completion: bool,
    /// Field whose timestamp orders the stream (and stands in for a rule's
    /// own timestamp field when an event lacks it). Default: the first
    /// query's `timestamp_field`.
    pub timestamp_field: Option<String>,
}

// ---------------------------------------------------------------------------
// Results

#[derive(Clone, Debug)]
struct Item {
    rule: u32,
    events: (u32, u32),
    values: (u32, u32),
    count: Option<u64>,
    percent: Option<f64>,
}

/// A buffer of results that the caller owns and reuses: [`Session::push`] and
/// [`Session::finish`] append to it, [`Matches::clear`] empties it and keeps
/// its capacity.
///
/// ```
/// use eql_engine::Matches;
/// let mut m: Matches<u64> = Matches::new();
/// assert!(m.is_empty());
/// m.clear();
/// ```
#[derive(Clone, Debug)]
pub struct Matches<H> {
    handles: Vec<H>,
    values: Vec<Value<'static>>,
    items: Vec<Item>,
    late: Vec<H>,
}

impl<H> Default for Matches<H> {
    fn default() -> Self {
        Matches {
            handles: Vec::new(),
            values: Vec::new(),
            items: Vec::new(),
            late: Vec::new(),
        }
    }
}

/// One result: the rule that matched and the handles of its events, in step
/// order (one handle for a single-event query).
///
/// ```
/// use eql_engine::{CompileOptions, Engine, Matches};
/// let engine = Engine::compile("any where true", &CompileOptions::default()).unwrap();
/// let mut s = engine.session::<&str>();
/// let mut out = Matches::new();
/// s.push("a", &serde_json::json!({}), &mut out);
/// let m = out.iter().next().unwrap();
/// assert_eq!((m.rule, m.events), (0, &["a"][..]));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Match<'a, H> {
    /// Index of the rule in the session (0 for a one-query session).
    pub rule: usize,
    /// Handles of the events, in order.
    pub events: &'a [H],
    /// Python `count`/`unique_count` pipes: the count.
    pub count: Option<u64>,
    /// Python `count`/`unique_count` pipes: the share of the total.
    pub percent: Option<f64>,
    /// The join key values of a sequence, sample or join (as compared:
    /// lowercased in the Python dialect's case-insensitive mode); for the
    /// Python `count` pipe, the counted key (and no events). Empty otherwise.
    pub key: &'a [Value<'static>],
}

impl<H> Matches<H> {
    /// An empty buffer.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, Engine, Matches};
    /// let engine = Engine::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = engine.session::<u8>();
    /// let mut out = Matches::new();
    /// s.push(7, &serde_json::json!({}), &mut out);
    /// assert_eq!(out.len(), 1);
    /// ```
    pub fn new() -> Self {
        Matches::default()
    }

    /// Empties the buffer (results and late events), keeping its capacity.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, Engine, Matches};
    /// let engine = Engine::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = engine.session::<u8>();
    /// let mut out = Matches::new();
    /// s.push(7, &serde_json::json!({}), &mut out);
    /// out.clear();
    /// assert!(out.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.handles.clear();
        self.values.clear();
        self.items.clear();
        self.late.clear();
    }

    /// Number of results.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, Engine, Matches};
    /// let engine = Engine::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = engine.session::<u8>();
    /// let mut out = Matches::new();
    /// s.push(1, &serde_json::json!({}), &mut out);
    /// s.push(2, &serde_json::json!({}), &mut out);
    /// assert_eq!(out.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there is no result.
    ///
    /// ```
    /// assert!(eql_engine::Matches::<u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The `i`-th result.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, Engine, Matches};
    /// let engine = Engine::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = engine.session::<u8>();
    /// let mut out = Matches::new();
    /// s.push(9, &serde_json::json!({}), &mut out);
    /// assert_eq!(out.get(0).map(|m| m.events), Some(&[9u8][..]));
    /// assert!(out.get(1).is_none());
    /// ```
    pub fn get(&self, i: usize) -> Option<Match<'_, H>> {
        let it = self.items.get(i)?;
        Some(Match {
            rule: it.rule as usize,
            events: self
                .handles
                .get(it.events.0 as usize..it.events.1 as usize)
                .unwrap_or(&[]),
            count: it.count,
            percent: it.percent,
            key: self
                .values
                .get(it.values.0 as usize..it.values.1 as usize)
                .unwrap_or(&[]),
        })
    }

    /// The results, in emission order.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, Engine, Matches};
    /// let engine = Engine::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = engine.session::<u8>();
    /// let mut out = Matches::new();
    /// s.push(1, &serde_json::json!({}), &mut out);
    /// assert_eq!(out.iter().count(), 1);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = Match<'_, H>> + '_ {
        (0..self.items.len()).filter_map(move |i| self.get(i))
    }

    /// Events that arrived later than the reorder window allows; they were
    /// not evaluated.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, Engine, Matches};
    /// let engine = Engine::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = engine.session::<u8>();
    /// let mut out = Matches::new();
    /// s.push(1, &serde_json::json!({"@timestamp": 2000}), &mut out);
    /// s.push(2, &serde_json::json!({"@timestamp": 1000}), &mut out);
    /// assert_eq!(out.late(), &[2]);
    /// ```
    pub fn late(&self) -> &[H] {
        &self.late
    }

    fn push_result(&mut self, rule: u32, res: pipes::Res<H>) {
        let e0 = self.handles.len() as u32;
        self.handles.extend(res.events);
        let v0 = self.values.len() as u32;
        self.values.extend(res.agg_key);
        self.items.push(Item {
            rule,
            events: (e0, self.handles.len() as u32),
            values: (v0, self.values.len() as u32),
            count: res.count,
            percent: res.percent,
        });
    }
}

// ---------------------------------------------------------------------------
// Statistics

/// Counters of a session (a snapshot from [`Session::stats`]).
///
/// ```
/// use eql_engine::{CompileOptions, Engine};
/// let engine = Engine::compile("any where true", &CompileOptions::default()).unwrap();
/// let s = engine.session::<u64>();
/// assert_eq!(s.stats().events, 0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// Events pushed.
    pub events: u64,
    /// Events later than the reorder window (returned in [`Matches::late`]).
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
    /// a `unique` pipe is not counted here; it is capped by `Limits::max_keys`
    /// on its own (it starts over when full).
    pub keys: usize,
    /// Highest value of `keys`.
    pub peak_keys: usize,
    /// Partial sequences evicted by [`Limits::max_partials`].
    pub evicted_partials: u64,
    /// Keys evicted by [`Limits::max_keys`].
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
    fn add_bytes(&mut self, bytes: usize) {
        self.bytes += bytes;
        self.peak_bytes = self.peak_bytes.max(self.bytes);
    }
}

// ---------------------------------------------------------------------------
// Hits: what one event means for one rule

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HitKind {
    /// The event is of a category the rule's steps read (Python maxspan check).
    Touch,
    /// The `until` step matched.
    Until,
    /// Step `i` matched.
    Step(u16),
}

/// One evaluated step match with its key and pipe captures.
#[derive(Clone, Debug)]
pub(crate) struct Hit {
    pub(crate) rule: u32,
    pub(crate) kind: HitKind,
    pub(crate) ts: i64,
    pub(crate) key: Key,
    pub(crate) caps: Vec<(u16, Option<Value<'static>>)>,
}

struct Record<H> {
    ord: Ordinal,
    handle: H,
    hits: Vec<Hit>,
    /// The event's own timestamps ([`Session::own_ts`]).
    own: OwnTs,
}

/// The step queries of one category field, for its pack: the field, and
/// (rule, engine, query) per pack index.
type PackGroup<'e> = (&'e str, Vec<(usize, &'e Engine, &'e EventQuery)>);

/// An event's value of each [`Session::own_ts`] field (`None`: missing).
type OwnTs = SmallVec<[Option<i64>; 2]>;

impl<H> PartialEq for Record<H> {
    fn eq(&self, other: &Self) -> bool {
        self.ord == other.ord
    }
}
impl<H> Eq for Record<H> {}
impl<H> PartialOrd for Record<H> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<H> Ord for Record<H> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.ord.cmp(&other.ord)
    }
}

// ---------------------------------------------------------------------------
// Steps

/// One bracketed term, with its keys (query-level keys first).
pub(crate) struct StepSpec<'e> {
    pub(crate) query: &'e EventQuery,
    pub(crate) keys: Vec<&'e Expr>,
    /// For keys that are plain fields, the path (read without the evaluator).
    pub(crate) key_paths: Vec<Option<FieldPath>>,
    pub(crate) optional: Vec<bool>,
    pub(crate) fork: bool,
    pub(crate) missing: bool,
    /// Position of the step's event in a result.
    pub(crate) pos: u16,
}

impl<'e> StepSpec<'e> {
    pub(crate) fn new(shared: &'e [Expr], step: &'e SequenceStep, pos: u16) -> Self {
        let keys: Vec<&Expr> = shared.iter().chain(step.by.iter()).collect();
        let optional = keys
            .iter()
            .map(|e| matches!(&e.kind, ExprKind::Field(f) if f.optional))
            .collect();
        let key_paths = keys
            .iter()
            .map(|e| match &e.kind {
                ExprKind::Field(f) => Some(FieldPath::new(f.path.clone())),
                _ => None,
            })
            .collect();
        StepSpec {
            query: &step.query,
            key_paths,
            keys,
            optional,
            fork: step.fork.unwrap_or(false),
            missing: step.missing,
            pos,
        }
    }
}

/// Evaluation of step conditions and keys against one event: the one place
/// where the session calls the reference evaluator, so that a compiled
/// predicate can replace it later.
pub(crate) struct EvalCx<'a> {
    pub(crate) engine: &'a Engine,
    pub(crate) event: &'a dyn Event,
    /// The event's category, read once per event for every rule that uses
    /// the session's category field (`None`: read it here).
    pub(crate) category: Option<&'a Option<Value<'a>>>,
    /// Step queries already answered by the session's pack.
    pub(crate) answers: Option<Answers<'a>>,
}

/// A rule's step queries in the session's pack (by query span → pack index)
/// and the pack's answers for the current event.
#[derive(Clone, Copy)]
pub(crate) struct Answers<'a> {
    pub(crate) steps: &'a [(eql_syntax::Span, u32)],
    pub(crate) matched: &'a [bool],
}

impl EvalCx<'_> {
    /// True when the event is of the step's category.
    pub(crate) fn category_matches(&self, q: &EventQuery) -> bool {
        let Some(cat) = &q.category.name else {
            return true;
        };
        let own;
        let value = if let Some(v) = self.category {
            v
        } else {
            own = self.event.get(&self.engine.category);
            &own
        };
        match value {
            Some(Value::Str(s)) => s == cat.as_str(),
            Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(cat.as_str())),
            _ => false,
        }
    }

    /// True when the event matches the step's query (category and condition).
    pub(crate) fn step_matches(&self, q: &EventQuery) -> bool {
        if let Some(a) = &self.answers {
            if let Some((_, k)) = a.steps.iter().find(|(span, _)| *span == q.span) {
                return a.matched.get(*k as usize).copied().unwrap_or(false);
            }
        }
        self.category_matches(q) && self.engine.condition_matches(q, self.event)
    }

    /// The join keys of the event for `step` (none when it must be dropped).
    pub(crate) fn keys(&self, step: &StepSpec<'_>, out: &mut SmallVec<[Key; 1]>) {
        out.clear();
        if step.keys.is_empty() {
            out.push(Key::new());
            return;
        }
        let ctx = self.engine.ctx(self.event);
        let env = Env::new();
        let vals: SmallVec<[Option<Value<'_>>; 2]> = step
            .keys
            .iter()
            .zip(&step.key_paths)
            .map(|(e, path)| match path {
                // A plain field reads the event directly (what `Ctx::eval`
                // does for a field, without its per-call allocations).
                Some(p) => self.event.get(p).filter(|v| !v.is_null()),
                None => ctx.eval(e, &env),
            })
            .collect();
        let py = self.engine.opts.dialect == Dialect::Python;
        keys::build_keys(
            &vals,
            &step.optional,
            py,
            py && !self.engine.opts.case_sensitive,
            out,
        );
    }
}

// ---------------------------------------------------------------------------
// Compile-time checks of the stateful forms

/// Most steps of a sequence once `runs` are expanded (Python accepts any `runs`).
const MAX_SEQUENCE_STEPS: u64 = 10_000;

/// Checks what the state machines need and the parser does not check: a
/// missing step `![...]` needs `with maxspan` (EQL0401), a sequence needs
/// at least one step that is not missing (EQL0402) and at most
/// 10 000 steps after `runs` expansion (EQL0403).
pub(crate) fn check_query(q: &eql_syntax::Query) -> Result<(), crate::CompileError> {
    let QueryBody::Sequence(s) = &q.body else {
        return Ok(());
    };
    let err = |code: &'static str, msg: &str, span| {
        Err(crate::CompileError {
            diagnostic: eql_syntax::Diagnostic::error(code, msg.to_owned(), span),
        })
    };
    if let Some(m) = s.steps.iter().find(|st| st.missing) {
        if s.maxspan.is_none() {
            return err(
                "EQL0401",
                "a missing event `![...]` needs `with maxspan`",
                m.span,
            );
        }
    }
    let expanded: u64 = s
        .steps
        .iter()
        .map(|st| u64::from(st.runs.unwrap_or(1).max(1)))
        .sum();
    if expanded > MAX_SEQUENCE_STEPS {
        return err(
            "EQL0403",
            "a sequence may have at most 10000 steps after `runs` expansion",
            s.span,
        );
    }
    if s.steps.iter().all(|st| st.missing) {
        return err(
            "EQL0402",
            "a sequence needs at least one step that is not missing",
            s.span,
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Rules

enum Body<'e, H> {
    Event(&'e EventQuery),
    Seq(sequence::Seq<'e, H>),
    Sample(sample::Sample<'e, H>),
    Join(join::Join<'e, H>),
}

/// The session's packs over every step query (one per category field, in
/// order of first use), and per rule its queries' spans and answer indexes.
///
/// Invariant: pack `p`'s rule `k` answers index `offsets[p] + k` of the
/// session's answers, and `steps` holds those answer indexes.
struct SessionPack {
    packs: Vec<crate::Pack>,
    offsets: Vec<u32>,
    /// Number of answers (every pack's rules).
    total: usize,
    steps: Vec<Vec<(eql_syntax::Span, u32)>>,
    /// The rule of each answer index.
    owner: Vec<u32>,
}

struct Rule<'e, H> {
    engine: &'e Engine,
    /// Own timestamp (field and format) when it differs from the session's:
    /// an index into [`Session::own_ts`], read once per event for every rule
    /// that shares it.
    ts_slot: Option<usize>,
    /// The rule's category field is the session's, read once per event.
    session_category: bool,
    body: Body<'e, H>,
    pipes: pipes::PipeChain<'e, H>,
    lineage: Option<lineage::Lineage<'e>>,
}

/// Where a rule's results go.
pub(crate) struct Sink<'a, 'e, H> {
    pub(crate) rule: u32,
    pub(crate) pipes: &'a mut pipes::PipeChain<'e, H>,
    pub(crate) out: &'a mut Matches<H>,
    pub(crate) c: &'a mut Counters,
}

impl<H: Clone> Sink<'_, '_, H> {
    pub(crate) fn emit(&mut self, res: pipes::Res<H>) {
        self.pipes.push(res, self.rule, self.out, self.c);
    }
}

impl<'e, H: Clone> Rule<'e, H> {
    fn new(engine: &'e Engine, opts: &SessionOptions) -> Self {
        let q = engine.query();
        let py = engine.opts.dialect == Dialect::Python;
        let body = match &q.body {
            QueryBody::Event(e) => Body::Event(e),
            QueryBody::Sequence(s) => Body::Seq(sequence::Seq::new(s, py, opts.limits.clone())),
            QueryBody::Sample(s) => Body::Sample(sample::Sample::new(
                s,
                py,
                opts.limits.clone(),
                opts.samples_on_completion,
            )),
            QueryBody::Join(j) => Body::Join(join::Join::new(j, opts.limits.clone())),
        };
        Rule {
            engine,
            ts_slot: None,
            session_category: false,
            pipes: pipes::PipeChain::new(engine, opts.limits.max_keys),
            lineage: lineage::Lineage::new(q, &opts.lineage),
            body,
        }
    }

    /// The event's timestamp on this rule's own clock, when the rule has
    /// one and the event carries it.
    fn own_clock(&self, own: &[Option<i64>]) -> Option<i64> {
        own.get(self.ts_slot?).copied().flatten()
    }

    fn capture(&self, cx: &EvalCx<'_>, pos: u16) -> Vec<(u16, Option<Value<'static>>)> {
        self.pipes.capture(cx.event, pos)
    }

    /// Evaluates one event into hits.
    /// `answers`: this rule's step queries already evaluated by the
    /// session's [`crate::Pack`].
    fn evaluate(
        &mut self,
        index: u32,
        event: &dyn Event,
        category: Option<&Option<Value<'_>>>,
        ts: i64,
        hits: &mut Vec<Hit>,
        answers: Option<Answers<'_>>,
    ) {
        if self.pipes.saturated() {
            return;
        }
        if let Some(l) = self.lineage.as_mut() {
            l.observe(self.engine, event);
        }
        let wrapped;
        let event: &dyn Event = match &self.lineage {
            Some(l) => {
                wrapped = lineage::LineageEvent {
                    inner: event,
                    lineage: l,
                };
                &wrapped
            }
            None => event,
        };
        let cx = EvalCx {
            engine: self.engine,
            event,
            category,
            answers,
        };
        let mut keys: SmallVec<[Key; 1]> = SmallVec::new();
        let mut push = |kind: HitKind, key: Key, caps: Vec<(u16, Option<Value<'static>>)>| {
            hits.push(Hit {
                rule: index,
                kind,
                ts,
                key,
                caps,
            });
        };
        match &self.body {
            Body::Event(q) => {
                if cx.step_matches(q) {
                    push(HitKind::Step(0), Key::new(), self.capture(&cx, 0));
                }
            }
            Body::Seq(s) => {
                if s.py
                    && s.spec.maxspan.is_some()
                    && s.spec.steps.iter().any(|st| cx.category_matches(st.query))
                {
                    push(HitKind::Touch, Key::new(), Vec::new());
                }
                if let Some(u) = &s.spec.until {
                    if cx.step_matches(u.query) {
                        cx.keys(u, &mut keys);
                        for k in keys.drain(..) {
                            push(HitKind::Until, k, Vec::new());
                        }
                    }
                }
                for (i, st) in s.spec.steps.iter().enumerate().rev() {
                    if cx.step_matches(st.query) {
                        cx.keys(st, &mut keys);
                        let caps = if st.missing {
                            Vec::new()
                        } else {
                            self.capture(&cx, st.pos)
                        };
                        for k in keys.drain(..) {
                            push(HitKind::Step(i as u16), k, caps.clone());
                        }
                    }
                }
            }
            Body::Join(j) => {
                if let Some(u) = &j.until {
                    if cx.step_matches(u.query) {
                        cx.keys(u, &mut keys);
                        for k in keys.drain(..) {
                            push(HitKind::Until, k, Vec::new());
                        }
                    }
                }
                for (i, st) in j.steps.iter().enumerate() {
                    if cx.step_matches(st.query) {
                        cx.keys(st, &mut keys);
                        let caps = self.capture(&cx, st.pos);
                        for k in keys.drain(..) {
                            push(HitKind::Step(i as u16), k, caps.clone());
                        }
                    }
                }
            }
            Body::Sample(s) => {
                let order: Vec<usize> = if s.py {
                    (0..s.steps.len()).rev().collect()
                } else {
                    (0..s.steps.len()).collect()
                };
                for i in order {
                    let st = &s.steps[i];
                    if cx.step_matches(st.query) {
                        cx.keys(st, &mut keys);
                        let caps = self.capture(&cx, st.pos);
                        for k in keys.drain(..) {
                            push(HitKind::Step(i as u16), k, caps.clone());
                        }
                    }
                }
            }
        }
    }

    fn sink<'a>(
        &'a mut self,
        index: u32,
        out: &'a mut Matches<H>,
        c: &'a mut Counters,
    ) -> (&'a mut Body<'e, H>, Sink<'a, 'e, H>) {
        (
            &mut self.body,
            Sink {
                rule: index,
                pipes: &mut self.pipes,
                out,
                c,
            },
        )
    }
}

// ---------------------------------------------------------------------------
// The session

/// Errors of [`Session::push_json`].
///
/// ```
/// use eql_engine::{CompileOptions, Engine, Matches};
/// let engine = Engine::compile("any where true", &CompileOptions::default()).unwrap();
/// let mut s = engine.session::<u64>();
/// assert!(s.push_json(1, b"{not json", &mut Matches::new()).is_err());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The bytes are not valid JSON.
    #[error("invalid JSON event: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON is valid but not an object.
    #[error("a JSON event must be an object")]
    NotAnObject,
}

/// The mutable state of one ordered event stream over one or more compiled
/// queries. See the [module documentation](self) for the flow.
///
/// ```
/// use eql_engine::{CompileOptions, Engine, Matches};
/// let engine = Engine::compile("process where true | tail 1", &CompileOptions::default()).unwrap();
/// let mut s = engine.session::<u32>();
/// let mut out = Matches::new();
/// for i in 0..3 {
///     s.push_json(i, br#"{"event": {"category": "process"}}"#, &mut out).unwrap();
/// }
/// assert!(out.is_empty());
/// s.finish(&mut out);
/// assert_eq!(out.iter().next().unwrap().events, &[2]);
/// ```
pub struct Session<'e, H> {
    rules: Vec<Rule<'e, H>>,
    /// Rules with `maxspan` (checked for expiry on every released event).
    timed: Vec<u32>,
    order: StreamOrder,
    limits: Limits,
    ts_field: FieldPath,
    /// The other (timestamp field, format) pairs rules read, each once per
    /// event ([`Rule::ts_slot`]).
    own_ts: Vec<(FieldPath, TimestampFormat)>,
    ts_format: TimestampFormat,
    tie_field: Option<FieldPath>,
    /// The category field most rules read (the first rule's).
    category_field: Option<FieldPath>,
    arrival: u64,
    max_ts: Option<i64>,
    released: Option<Ordinal>,
    heap: BinaryHeap<Reverse<Record<H>>>,
    scratch: Vec<Hit>,
    /// Every step query of the rules as one [`crate::Pack`].
    pack: Option<SessionPack>,
    pack_hits: crate::Hits,
    /// The pack's answers for the current event, by pack index.
    answers: Vec<bool>,
    /// Rules evaluated on every event, ascending: those with a step query
    /// the packs do not answer, and Python sequences with `maxspan`. The
    /// others run only on an event where one of their answers fired.
    always: Vec<u32>,
    /// The rules to evaluate for the current event (scratch).
    due: Vec<u32>,
    counters: Counters,
    stats: SessionStats,
    finished: bool,
}

impl Engine {
    /// A streaming session over this query with default [`SessionOptions`].
    ///
    /// ```
    /// use eql_engine::{CompileOptions, Engine};
    /// let engine = Engine::compile("any where true", &CompileOptions::default()).unwrap();
    /// let _s = engine.session::<u64>();
    /// ```
    pub fn session<H: Clone>(&self) -> Session<'_, H> {
        Session::new(std::iter::once(self), SessionOptions::default())
    }

    /// A streaming session with explicit options.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, Engine, SessionOptions};
    /// let engine = Engine::compile("any where true", &CompileOptions::default()).unwrap();
    /// let _s = engine.session_with::<u64>(SessionOptions::default());
    /// ```
    pub fn session_with<H: Clone>(&self, opts: SessionOptions) -> Session<'_, H> {
        Session::new(std::iter::once(self), opts)
    }
}

#[cfg(feature = "rules")]
impl crate::CompiledRuleSet {
    /// A streaming session running every rule of the pack; a result's
    /// [`Match::rule`] is the rule's index in [`crate::CompiledRuleSet::rules`].
    ///
    /// ```
    /// use eql_engine::{CompileOptions, Matches, RuleSet, SessionOptions};
    /// let (pack, _) = RuleSet::builtin().compile(&CompileOptions::default());
    /// let mut s = pack.session::<u64>(SessionOptions::default());
    /// s.finish(&mut Matches::new());
    /// ```
    pub fn session<H: Clone>(&self, opts: SessionOptions) -> Session<'_, H> {
        Session::new(self.iter().map(|r| &r.engine), opts)
    }
}

impl<'e, H: Clone> Session<'e, H> {
    /// Groups the step queries of the rules (without process lineage) into
    /// one pack per category field when there are several rules.
    fn pack_of(rules: &[Rule<'e, H>]) -> Option<SessionPack> {
        if rules.len() < 2 {
            return None;
        }
        let mut steps: Vec<Vec<(eql_syntax::Span, u32)>> = vec![Vec::new(); rules.len()];
        // Per category field, in order of first use: the queries of its pack.
        let mut groups: Vec<PackGroup<'e>> = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let e = r.engine;
            if r.lineage.is_some() || (e.plan.is_none() && e.steps.is_none()) {
                continue;
            }
            let queries: Vec<&EventQuery> = match &e.query.body {
                QueryBody::Event(q) => vec![q],
                QueryBody::Sequence(s) => s
                    .steps
                    .iter()
                    .chain(s.until.iter())
                    .map(|st| &st.query)
                    .collect(),
                QueryBody::Sample(s) => s.steps.iter().map(|st| &st.query).collect(),
                QueryBody::Join(j) => j
                    .steps
                    .iter()
                    .chain(j.until.iter())
                    .map(|st| &st.query)
                    .collect(),
            };
            let field = e.opts.category_field.as_str();
            let g = match groups.iter().position(|(f, _)| *f == field) {
                Some(g) => g,
                None => {
                    groups.push((field, Vec::new()));
                    groups.len() - 1
                }
            };
            if let Some((_, items)) = groups.get_mut(g) {
                items.extend(queries.into_iter().map(|q| (i, e, q)));
            }
        }
        let mut owner = Vec::new();
        let mut packs = Vec::with_capacity(groups.len());
        let mut offsets = Vec::with_capacity(groups.len());
        let mut total = 0u32;
        for (_, items) in groups {
            let Some(&(_, first, _)) = items.first() else {
                continue;
            };
            // A rule's queries are all in one group, in order.
            for (k, &(i, _, q)) in items.iter().enumerate() {
                if let Some(s) = steps.get_mut(i) {
                    s.push((q.span, total + k as u32));
                }
                owner.push(i as u32);
            }
            let pack = crate::Pack::from_conditions(items, &first.opts);
            offsets.push(total);
            total += pack.len() as u32;
            packs.push(pack);
        }
        Some(SessionPack {
            packs,
            offsets,
            total: total as usize,
            steps,
            owner,
        })
    }

    /// A session over several compiled queries; a result's [`Match::rule`] is
    /// the query's position in `engines`. The timestamp field, its format and
    /// the tiebreaker that order the stream are the first query's. A query
    /// compiled with another `timestamp_field` times its steps and its
    /// `maxspan` by that field (by the ordering timestamp on an event that
    /// lacks it); one compiled with another `category_field` reads its
    /// categories from that field. Every query gives the results it gives
    /// in a session of its own over the same stream as long as the events
    /// carry its timestamp field and the ordering timestamp orders them as
    /// that field would (the multi-rule session proptest checks this).
    ///
    /// ```
    /// use eql_engine::{CompileOptions, Engine, Session, SessionOptions};
    /// let a = Engine::compile("process where true", &CompileOptions::default()).unwrap();
    /// let b = Engine::compile("file where true", &CompileOptions::default()).unwrap();
    /// let s: Session<'_, u64> = Session::new([&a, &b], SessionOptions::default());
    /// assert_eq!(s.stats().events, 0);
    /// ```
    pub fn new(engines: impl IntoIterator<Item = &'e Engine>, opts: SessionOptions) -> Self {
        let engines: Vec<&Engine> = engines.into_iter().collect();
        let first = engines.first().map(|e| &e.opts);
        let ts_name = opts.timestamp_field.clone().unwrap_or_else(|| {
            first
                .map_or("@timestamp", |o| o.timestamp_field.as_str())
                .to_owned()
        });
        let ts_format = first.map_or(TimestampFormat::Auto, |o| o.timestamp_format);
        let tie_field = first
            .and_then(|o| o.tiebreaker_field.as_deref())
            .map(FieldPath::parse_dotted);
        let py = engines
            .first()
            .is_some_and(|e| e.opts.dialect == Dialect::Python);
        let order = opts.order.unwrap_or(if py {
            StreamOrder::Arrival
        } else {
            StreamOrder::Timestamp
        });
        let mut rules = Vec::with_capacity(engines.len());
        let mut timed = Vec::new();
        let mut own_ts: Vec<(FieldPath, TimestampFormat)> = Vec::new();
        for (i, e) in engines.iter().enumerate() {
            let mut r = Rule::new(e, &opts);
            r.session_category = engines.first().is_some_and(|f| f.category == e.category);
            if e.opts.timestamp_field != ts_name {
                let own = (
                    FieldPath::parse_dotted(&e.opts.timestamp_field),
                    e.opts.timestamp_format,
                );
                r.ts_slot = Some(match own_ts.iter().position(|x| *x == own) {
                    Some(k) => k,
                    None => {
                        own_ts.push(own);
                        own_ts.len() - 1
                    }
                });
            }
            if matches!(&r.body, Body::Seq(s) if s.spec.maxspan.is_some() && !s.py) {
                timed.push(i as u32);
            }
            rules.push(r);
        }
        let pack = Self::pack_of(&rules);
        let always = rules
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                let answered = pack
                    .as_ref()
                    .is_some_and(|p| p.steps.get(*i).is_some_and(|s| !s.is_empty()));
                // A rule whose every step query the packs answer pushes a
                // hit only when one of them matched; a Python sequence with
                // `maxspan` also notes every event of its steps' categories.
                let touches = matches!(&r.body, Body::Seq(s) if s.py && s.spec.maxspan.is_some());
                !answered || touches
            })
            .map(|(i, _)| i as u32)
            .collect();
        Session {
            rules,
            timed,
            order,
            limits: opts.limits,
            ts_field: FieldPath::parse_dotted(&ts_name),
            own_ts,
            ts_format,
            tie_field,
            category_field: engines.first().map(|e| e.category.clone()),
            arrival: 0,
            max_ts: None,
            released: None,
            heap: BinaryHeap::new(),
            scratch: Vec::new(),
            pack,
            pack_hits: crate::Hits::new(),
            answers: Vec::new(),
            always,
            due: Vec::new(),
            counters: Counters::default(),
            stats: SessionStats::default(),
            finished: false,
        }
    }

    /// Pushes one event. Results completed by it (or by events released from
    /// the reorder buffer) are appended to `out`; a late event is appended to
    /// [`Matches::late`].
    ///
    /// ```
    /// use eql_engine::{CompileOptions, Engine, Matches};
    /// let engine = Engine::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = engine.session::<u8>();
    /// let mut out = Matches::new();
    /// s.push(1, &serde_json::json!({"@timestamp": "2024-01-01T00:00:00Z"}), &mut out);
    /// assert_eq!(out.len(), 1);
    /// ```
    pub fn push(&mut self, handle: H, event: &dyn Event, out: &mut Matches<H>) {
        self.stats.events += 1;
        let arrival = self.arrival;
        self.arrival += 1;
        let ts = event
            .get(&self.ts_field)
            .and_then(|v| time::parse_ts(&v, self.ts_format));
        let ts = if let Some(t) = ts {
            t
        } else {
            self.stats.missing_timestamp += 1;
            self.max_ts.or(self.released.map(|r| r.ts)).unwrap_or(0)
        };
        let (tie_missing, tie) = match self.tie_field.as_ref().and_then(|f| event.get(f)) {
            Some(Value::Int(i)) => (false, i),
            Some(Value::Float(f)) => (false, f as i64),
            Some(Value::Str(s)) => s.parse::<i64>().map_or((true, 0), |i| (false, i)),
            _ => (true, 0),
        };
        let ord = Ordinal {
            ts,
            tie_missing,
            tie,
            arrival,
        };
        if self.finished {
            // The input is closed: nothing more is evaluated.
            self.stats.late += 1;
            out.late.push(handle);
            return;
        }
        if self.order == StreamOrder::Timestamp {
            let window = i64::try_from(self.limits.reorder_window_ms)
                .unwrap_or(i64::MAX / TICKS_PER_MS)
                .saturating_mul(TICKS_PER_MS);
            let too_old = self.max_ts.is_some_and(|m| ts < m.saturating_sub(window));
            if too_old || self.released.is_some_and(|r| ord < r) {
                self.stats.late += 1;
                out.late.push(handle);
                return;
            }
            self.max_ts = Some(self.max_ts.map_or(ts, |m| m.max(ts)));
        }
        let mut hits = std::mem::take(&mut self.scratch);
        hits.clear();
        let category = self.category_field.as_ref().map(|f| event.get(f));
        // Rules timed by another field than the session's read it here, once
        // per event: for their steps, and for their `maxspan` expiry.
        let own: OwnTs = self
            .own_ts
            .iter()
            .map(|(field, format)| event.get(field).and_then(|v| time::parse_ts(&v, *format)))
            .collect();
        // Every step query of every rule: one pass of the pack (routing,
        // candidate index), then the rules read their answers.
        let mut due = std::mem::take(&mut self.due);
        due.clear();
        due.extend_from_slice(&self.always);
        if let Some(p) = &self.pack {
            self.answers.clear();
            self.answers.resize(p.total, false);
            for (pack, &offset) in p.packs.iter().zip(&p.offsets) {
                pack.matches(event, &mut self.pack_hits);
                for &k in self.pack_hits.rules() {
                    let k = offset as usize + k as usize;
                    if let Some(a) = self.answers.get_mut(k) {
                        *a = true;
                    }
                    // A rule the packs answer runs only when one of its
                    // step queries matched.
                    if let Some(&i) = p.owner.get(k) {
                        due.push(i);
                    }
                }
            }
            if due.len() > self.always.len() {
                due.sort_unstable();
                due.dedup();
            }
        }
        for &i in &due {
            let i = i as usize;
            let Some(r) = self.rules.get_mut(i) else {
                continue;
            };
            let cat = if r.session_category {
                category.as_ref()
            } else {
                None
            };
            let answers = self.pack.as_ref().and_then(|p| {
                let steps = p.steps.get(i).map(Vec::as_slice).unwrap_or_default();
                (!steps.is_empty()).then_some(Answers {
                    steps,
                    matched: &self.answers,
                })
            });
            let ts = r.own_clock(&own).unwrap_or(ts);
            r.evaluate(i as u32, event, cat, ts, &mut hits, answers);
        }
        self.due = due;
        let window = i64::try_from(self.limits.reorder_window_ms)
            .unwrap_or(i64::MAX / TICKS_PER_MS)
            .saturating_mul(TICKS_PER_MS);
        let horizon = self.max_ts.unwrap_or(ts).saturating_sub(window);
        if self.order == StreamOrder::Arrival || (self.heap.is_empty() && ts <= horizon) {
            self.process(ord, &handle, &hits, &own, out);
            self.scratch = hits;
        } else {
            self.heap.push(Reverse(Record {
                ord,
                handle,
                hits,
                own,
            }));
            while self.heap.len() > self.limits.max_reorder_events {
                self.stats.reorder_overflow += 1;
                self.release_one(out);
            }
            while self.heap.peek().is_some_and(|r| r.0.ord.ts <= horizon) {
                self.release_one(out);
            }
            self.stats.peak_reorder_buffered =
                self.stats.peak_reorder_buffered.max(self.heap.len());
        }
    }

    /// Parses one JSON object (`serde_json` for now) and pushes it.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, Engine, Matches};
    /// let engine = Engine::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = engine.session::<u8>();
    /// let mut out = Matches::new();
    /// s.push_json(1, br#"{"@timestamp": 5}"#, &mut out).unwrap();
    /// assert_eq!(out.len(), 1);
    /// ```
    pub fn push_json(
        &mut self,
        handle: H,
        bytes: &[u8],
        out: &mut Matches<H>,
    ) -> Result<(), PushError> {
        let v: serde_json::Value = serde_json::from_slice(bytes)?;
        if !v.is_object() {
            return Err(PushError::NotAnObject);
        }
        self.push(handle, &v, out);
        Ok(())
    }

    fn release_one(&mut self, out: &mut Matches<H>) {
        if let Some(Reverse(rec)) = self.heap.pop() {
            self.process(rec.ord, &rec.handle, &rec.hits, &rec.own, out);
        }
    }

    /// Runs the state machines over one released event.
    fn process(
        &mut self,
        ord: Ordinal,
        handle: &H,
        hits: &[Hit],
        own: &[Option<i64>],
        out: &mut Matches<H>,
    ) {
        if self.order == StreamOrder::Timestamp {
            self.released = Some(ord);
        }
        let counters = &mut self.counters;
        for &ri in &self.timed {
            if let Some(r) = self.rules.get_mut(ri as usize) {
                // `maxspan` runs on the rule's own clock, as its steps do.
                let now = r.own_clock(own).unwrap_or(ord.ts);
                let (body, mut sink) = r.sink(ri, out, counters);
                if let Body::Seq(s) = body {
                    s.expire(now, &mut sink);
                }
            }
        }
        for h in hits {
            let Some(r) = self.rules.get_mut(h.rule as usize) else {
                continue;
            };
            let (body, mut sink) = r.sink(h.rule, out, counters);
            match body {
                Body::Event(_) => sink.emit(pipes::Res::single(handle.clone(), &h.caps)),
                Body::Seq(s) => s.on_hit(h, handle, &mut sink),
                Body::Sample(s) => s.on_hit(h, handle, ord.arrival, &mut sink),
                Body::Join(j) => j.on_hit(h, handle, &mut sink),
            }
        }
    }

    /// Closes the input: releases the reorder buffer, emits sequences waiting
    /// on trailing missing events, and flushes the pipes that need the whole
    /// input (`tail`, `sort`, `count`, `unique_count`). Later pushes are late.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, Engine, Matches};
    /// let engine = Engine::compile("any where true | tail 1", &CompileOptions::default()).unwrap();
    /// let mut s = engine.session::<u8>();
    /// let mut out = Matches::new();
    /// s.push(1, &serde_json::json!({}), &mut out);
    /// s.push(2, &serde_json::json!({}), &mut out);
    /// s.finish(&mut out);
    /// assert_eq!(out.get(0).map(|m| m.events), Some(&[2u8][..]));
    /// ```
    pub fn finish(&mut self, out: &mut Matches<H>) {
        while !self.heap.is_empty() {
            self.release_one(out);
        }
        let counters = &mut self.counters;
        for (i, r) in self.rules.iter_mut().enumerate() {
            let (body, mut sink) = r.sink(i as u32, out, counters);
            match body {
                Body::Seq(s) => s.finish(&mut sink),
                Body::Sample(s) => s.finish(&mut sink),
                Body::Event(_) | Body::Join(_) => {}
            }
            sink.pipes.finish(i as u32, sink.out, sink.c);
        }
        self.finished = true;
    }

    /// A snapshot of the counters.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, Engine, Matches};
    /// let engine = Engine::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = engine.session::<u8>();
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
            reorder_buffered: self.heap.len(),
            state_bytes: c.bytes,
            peak_state_bytes: c.peak_bytes,
            ..self.stats.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Body;
    use crate::{CompileOptions, Engine, Matches};
    use serde_json::json;

    /// A leading missing event that repeats with one key inside `maxspan`
    /// keeps one queue entry for it, not one per event.
    #[test]
    fn leading_missing_queue_stays_small_for_a_repeated_key() {
        let engine = Engine::compile(
            "sequence by k with maxspan=1h ![a where true] [b where true] [c where true]",
            &CompileOptions::default(),
        )
        .expect("compiles");
        let mut s = engine.session::<u32>();
        let mut out = Matches::new();
        for i in 0..1000u32 {
            let ev =
                json!({"@timestamp": 1000 + i64::from(i), "event": {"category": "a"}, "k": "x"});
            s.push(i, &ev, &mut out);
        }
        let Some(Body::Seq(seq)) = s.rules.first().map(|r| &r.body) else {
            panic!("a sequence rule");
        };
        assert!(seq.leading_queue_len() <= 18, "{}", seq.leading_queue_len());
        assert_eq!(s.stats().keys, 1);
    }
}
