//! What the workers share: the rules split into single-event rules and
//! stateful ones, one routed pack over the single-event queries and every
//! step query, the placement of the stateful rules' events over the
//! workers, and how each stateful rule's step events are put in order.

use eql_engine::{
    CompiledQuery, Dialect, Event, EventLimits, EventQuery, FieldPath, Pack, Placement, Projection,
    QueryBody, SessionLimits, SessionPlan, StreamOrder, TimestampFormat,
};
use std::sync::Arc;

/// How an operator runs its rules.
///
/// ```
/// use eql_dataflow::Options;
/// let o = Options::default();
/// assert_eq!(o.epoch_ms, 1_000);
/// assert!(o.order.is_none());
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Options {
    /// The stateful rules' order. `None` (the default): each rule's
    /// dialect's default, Elasticsearch's order for Elasticsearch rules and
    /// the order of the input for Python ones. [`StreamOrder::Bounded`] and
    /// [`StreamOrder::Window`] both mean Elasticsearch's order here, which
    /// the frontier gives without a window; [`StreamOrder::Arrival`] runs
    /// each rule's step events in the order of their handles.
    pub order: Option<StreamOrder>,
    /// Width of an epoch, the timely time of a step event, in milliseconds
    /// of event time (at least 1). Wider epochs mean fewer distinct times
    /// for timely to track and release step events in larger batches.
    /// Default 1 000.
    pub epoch_ms: u64,
    /// State bounds of every session.
    pub session_limits: SessionLimits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            order: None,
            epoch_ms: 1_000,
            session_limits: SessionLimits::default(),
        }
    }
}

/// What a pack entry stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A single-event rule (its index): a match is a result.
    Single(u32),
    /// A step query of a stateful rule (its position in
    /// [`Rules::stateful`]): a match sends the event to the rule's session.
    Step(u32),
}

/// How a stateful rule's step events are put in order before its session
/// sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Release {
    /// By (timestamp, handle), released as the frontier passes their epoch:
    /// the session runs them as they come (`Window` of 0 ms, which applies
    /// the timestamp rules of `Bounded`).
    Time,
    /// By handle, into a session that holds its hits to the end of the
    /// input and sorts them there (`Bounded`): samples, which pick each
    /// key's events by arrival (Elasticsearch's index order) whatever their
    /// time, and rules that break ties with a tiebreaker field.
    Held,
    /// By handle, released as the frontier of the input passes: the order
    /// of the input ([`StreamOrder::Arrival`]).
    Arrival,
}

/// One stateful rule.
#[derive(Debug)]
pub(crate) struct StatefulRule {
    /// Its index among the rules.
    pub(crate) rule: u32,
    /// Its session's plan (built once, shared by every worker's session).
    pub(crate) plan: Arc<SessionPlan>,
    pub(crate) release: Release,
    /// Its clock: an index into [`Rules::clocks`].
    pub(crate) clock: usize,
    /// A sequence: in Elasticsearch's order it skips an event without a
    /// timestamp (every rule skips one whose timestamp does not read).
    pub(crate) sequence: bool,
}

/// The rules an operator runs, planned once and shared by every worker
/// (it is `Send + Sync`): the single-event rules and the step queries of
/// the stateful rules in one routed [`Pack`], and the [`Placement`] of the
/// stateful rules' events over the workers.
///
/// A rule's index (in [`crate::Found::rule`]) is its position in the
/// queries given to [`Rules::new`].
///
/// ```
/// use eql_dataflow::{Options, Rules};
/// use eql_engine::{CompileOptions, CompiledQuery};
/// let opts = CompileOptions::default();
/// let queries = [
///     CompiledQuery::compile("process where true", &opts).unwrap(),
///     CompiledQuery::compile("sequence by host.id [process where true] [file where true]", &opts).unwrap(),
/// ];
/// let rules = Rules::new(queries, 4, &Options::default());
/// assert_eq!((rules.len(), rules.stateful_len(), rules.workers()), (2, 1, 4));
/// ```
#[derive(Debug)]
pub struct Rules {
    pub(crate) pack: Pack,
    pub(crate) targets: Vec<Target>,
    pub(crate) stateful: Vec<StatefulRule>,
    /// Stateful rules (positions) that see every event: process lineage,
    /// and Python sequences with `maxspan` (whose expiry follows every
    /// event of their categories).
    pub(crate) every_event: Vec<u32>,
    pub(crate) placement: Placement,
    /// The distinct (timestamp field, format) pairs of the stateful rules.
    pub(crate) clocks: Vec<(FieldPath, TimestampFormat)>,
    /// Every field the route stage reads for the stateful rules: join keys
    /// and timestamps.
    pub(crate) projection: Projection,
    /// The timestamp fields alone.
    clock_projection: Projection,
    pub(crate) limits: EventLimits,
    /// Epoch width in nanoseconds (1 ..= `i64::MAX`).
    pub(crate) epoch_ns: i64,
    pub(crate) session_limits: SessionLimits,
    len: usize,
}

impl StatefulRule {
    /// Rule `i` (`q`), put in `order` (`None`: its dialect's), on its clock
    /// among `clocks` (added when new).
    fn new(
        i: usize,
        q: &CompiledQuery,
        order: Option<StreamOrder>,
        clocks: &mut Vec<(FieldPath, TimestampFormat)>,
    ) -> Self {
        let o = q.options();
        let clock = (
            FieldPath::parse_dotted(&o.timestamp_field),
            o.timestamp_format,
        );
        let clock = match clocks.iter().position(|c| *c == clock) {
            Some(k) => k,
            None => {
                clocks.push(clock);
                clocks.len() - 1
            }
        };
        let default = if o.dialect == Dialect::Python {
            StreamOrder::Arrival
        } else {
            StreamOrder::Bounded
        };
        let sample = matches!(q.query().body, QueryBody::Sample(_));
        let release = match order.unwrap_or(default) {
            StreamOrder::Arrival => Release::Arrival,
            _ if sample || o.tiebreaker_field.is_some() => Release::Held,
            _ => Release::Time,
        };
        StatefulRule {
            rule: i as u32,
            plan: Arc::new(SessionPlan::new([q.clone()])),
            release,
            clock,
            sequence: matches!(q.query().body, QueryBody::Sequence(_)),
        }
    }
}

/// The pack over the single-event queries and the stateful rules' step
/// queries, with the target of each of its entries; the indexes of the
/// stateful rules (in `queries`), and those of them (positions) that see
/// every event.
fn pack_targets(queries: &[CompiledQuery]) -> (Pack, Vec<Target>, Vec<usize>, Vec<u32>) {
    let mut items: Vec<(usize, &CompiledQuery, &EventQuery)> = Vec::new();
    let mut targets = Vec::new();
    let mut stateful_idx: Vec<usize> = Vec::new();
    let mut every_event = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        let query = q.query();
        let single = matches!(query.body, QueryBody::Event(_)) && query.pipes.is_empty();
        let target = if single && !q.uses_lineage() {
            Target::Single(i as u32)
        } else {
            let pos = stateful_idx.len() as u32;
            stateful_idx.push(i);
            let py_maxspan = q.options().dialect == Dialect::Python
                && matches!(&query.body, QueryBody::Sequence(s) if s.maxspan.is_some());
            if q.uses_lineage() || py_maxspan {
                every_event.push(pos);
                continue;
            }
            Target::Step(pos)
        };
        for eq in query.body.step_queries() {
            items.push((targets.len(), q, eq));
            targets.push(target);
        }
    }
    (
        Pack::from_queries(items),
        targets,
        stateful_idx,
        every_event,
    )
}

/// The strictest event limits of the queries (the shortest line, the
/// shallowest nesting).
fn event_limits(queries: &[CompiledQuery]) -> EventLimits {
    queries
        .iter()
        .map(|q| q.options().event_limits.clone())
        .reduce(|a, b| {
            let mut m = a;
            m.max_line_bytes = m.max_line_bytes.min(b.max_line_bytes);
            m.max_depth = m.max_depth.min(b.max_depth);
            m
        })
        .unwrap_or_default()
}

impl Rules {
    /// Plans `queries` (in this order: their indexes are the rules') for
    /// `workers` workers (every worker of every process of the dataflow).
    pub fn new(
        queries: impl IntoIterator<Item = CompiledQuery>,
        workers: usize,
        opts: &Options,
    ) -> Self {
        let queries: Vec<CompiledQuery> = queries.into_iter().collect();
        let (pack, targets, stateful_idx, every_event) = pack_targets(&queries);
        let placement =
            Placement::new(stateful_idx.iter().filter_map(|&i| queries.get(i)), workers);
        let mut clocks: Vec<(FieldPath, TimestampFormat)> = Vec::new();
        let stateful = stateful_idx
            .iter()
            .filter_map(|&i| {
                Some(StatefulRule::new(
                    i,
                    queries.get(i)?,
                    opts.order,
                    &mut clocks,
                ))
            })
            .collect();
        let mut fields: Vec<FieldPath> = placement.fields().to_vec();
        for (f, _) in &clocks {
            if !fields.contains(f) {
                fields.push(f.clone());
            }
        }
        let limits = event_limits(&queries);
        let clock_projection = Projection::new(clocks.iter().map(|(f, _)| f));
        Rules {
            clock_projection,
            pack,
            targets,
            stateful,
            every_event,
            placement,
            clocks,
            projection: Projection::new(&fields),
            limits,
            epoch_ns: i64::try_from(opts.epoch_ms.max(1).saturating_mul(1_000_000))
                .unwrap_or(i64::MAX),
            session_limits: opts.session_limits.clone(),
            len: queries.len(),
        }
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there is no rule.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of stateful rules (sequences, samples, joins, and event
    /// queries with pipes or process lineage).
    pub fn stateful_len(&self) -> usize {
        self.stateful.len()
    }

    /// The number of workers the rules are placed over.
    pub fn workers(&self) -> usize {
        self.placement.routing().workers()
    }

    /// The epoch (timely time) of an event time in nanoseconds since the
    /// Unix epoch: the time cut into epochs of [`Options::epoch_ms`] (from
    /// the Unix epoch, so that epochs of a second are wall-clock seconds),
    /// shifted so that the order of the `i64` times is that of the `u64`
    /// epochs.
    ///
    /// ```
    /// use eql_dataflow::{Options, Rules};
    /// let rules = Rules::new([], 1, &Options::default());
    /// assert!(rules.epoch(-1) < rules.epoch(0));
    /// assert_eq!(rules.epoch(1_000_000), rules.epoch(999_000_000));
    /// assert!(rules.epoch(999_000_000) < rules.epoch(1_000_000_000));
    /// ```
    pub fn epoch(&self, nanos: i64) -> u64 {
        (nanos.div_euclid(self.epoch_ns) as u64) ^ (1 << 63)
    }

    /// The least epoch of an event's timestamps on the stateful rules'
    /// clocks; `None` when none reads (or there is no stateful rule, or the
    /// bytes are not an event). An input in timestamp order can promise,
    /// once it has sent the event, that no later event has an earlier
    /// epoch: it can move its capability there.
    ///
    /// ```
    /// use eql_dataflow::{Options, Rules};
    /// use eql_engine::{CompileOptions, CompiledQuery};
    /// let seq = CompiledQuery::compile("sequence [a where true] [b where true]", &CompileOptions::default()).unwrap();
    /// let rules = Rules::new([seq], 1, &Options::default());
    /// let e = rules.event_epoch(br#"{"@timestamp": "2024-03-01T00:00:01.500Z"}"#);
    /// assert_eq!(e, Some(rules.epoch(1_709_251_201_500_000_000)));
    /// assert_eq!(rules.event_epoch(br#"{"x": 1}"#), None);
    /// ```
    pub fn event_epoch(&self, bytes: &[u8]) -> Option<u64> {
        let ev = self.clock_projection.parse(bytes, &self.limits).ok()?;
        self.clocks
            .iter()
            .filter_map(|(field, format)| format.read_nanos(&ev.get(field)?))
            .map(|t| self.epoch(t))
            .min()
    }
}
