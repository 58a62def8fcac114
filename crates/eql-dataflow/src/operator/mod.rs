//! The operator: a route stage on the worker where each event is (checks,
//! single-event rules, placement of step events), an exchange by join key,
//! and a session stage that releases step events as the frontier passes
//! their epoch (`route.rs` and `sessions.rs`).

mod route;
mod sessions;

#[cfg(doc)]
use crate::plan::Release;
use crate::plan::Rules;
use eql_engine::{EventError, Placement, Value};
#[cfg(doc)]
use eql_engine::{Shard, StreamOrder};
use route::route;
use serde::{Deserialize, Serialize};
use sessions::sessions;
use std::sync::Arc;
use timely::dataflow::operators::Concat;
use timely::dataflow::Stream;
use timely::ExchangeData;

/// An event entering the operator: the caller's handle (such as its file
/// and line) and its bytes, one JSON object.
///
/// Handles order the step events of one timestamp (they play the part of
/// Elasticsearch's `_shard_doc` tiebreaker) and, for rules run in
/// [`StreamOrder::Arrival`], all of them: give handles in input order (a
/// line number, or (file, line)).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Line<H> {
    /// The caller's handle.
    pub handle: H,
    /// The event's bytes.
    pub bytes: Arc<[u8]>,
}

/// One result of one rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Found<H> {
    /// The rule's index (its position among the queries of [`Rules::new`]).
    pub rule: usize,
    /// The events of the result in step order, `None` for a missing
    /// (`![...]`) step; one event for a single-event rule.
    pub events: Vec<Option<Line<H>>>,
    /// The join key's values (empty when the rule has none).
    pub key: Vec<Value<'static>>,
}

/// What the operator emits.
#[derive(Clone, Debug, PartialEq)]
pub enum Output<H> {
    /// A result.
    Found(Found<H>),
    /// A line that is not an event, reported by the worker that read it
    /// (the other lines, and the other workers, carry on).
    Bad {
        /// The line's handle.
        handle: H,
        /// What is wrong with it.
        error: EventError,
    },
    /// Counts of one stage of one worker, once, when its input ends; the
    /// sum over every [`Output::Totals`] is the run's.
    Totals(Totals),
}

/// Counts of a run, summed with [`Totals::add`].
///
/// ```
/// use eql_dataflow::Totals;
/// let (mut a, mut b) = (Totals::default(), Totals::default());
/// (a.events, a.peak_held) = (2, 5);
/// (b.events, b.peak_held) = (3, 4);
/// a.add(&b);
/// assert_eq!((a.events, a.peak_held), (5, 5));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Totals {
    /// Lines read as events.
    pub events: u64,
    /// Lines that are not events.
    pub bad_lines: u64,
    /// Step events sent to a session stage (one per event, worker and
    /// epoch), counting those that stay on their worker.
    pub routed: u64,
    /// Step events a worker's sessions received (its share of `routed`).
    pub received: u64,
    /// Most step events one worker held at once, waiting for the frontier
    /// to pass their epoch (a maximum, not a sum).
    pub peak_held: u64,
    /// Step events a stateful rule skipped because it had already run past
    /// them (an event behind the promise of its input), summed over the
    /// sessions ([`eql_engine::SessionStats::late`]).
    pub late: u64,
    /// Step events whose timestamp does not read, summed over the sessions
    /// ([`eql_engine::SessionStats::bad_timestamp`]).
    pub bad_timestamp: u64,
    /// Step matches run before their turn because a rule held more than
    /// `SessionLimits::max_held_hits` ([`eql_engine::SessionStats::held_overflow`]).
    pub held_overflow: u64,
}

impl Totals {
    /// Adds another stage's or worker's counts.
    pub fn add(&mut self, o: &Totals) {
        self.events += o.events;
        self.bad_lines += o.bad_lines;
        self.routed += o.routed;
        self.received += o.received;
        self.peak_held = self.peak_held.max(o.peak_held);
        self.late += o.late;
        self.bad_timestamp += o.bad_timestamp;
        self.held_overflow += o.held_overflow;
    }
}

/// A step event on its way to the worker that holds its sessions.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Routed<H> {
    /// The worker it goes to.
    dest: u32,
    /// Its time on the clock of its rules (`None`: it has none that reads,
    /// or its rules run in arrival order).
    ts: Option<i64>,
    /// For rules whose sessions hold their hits to the end of the input
    /// ([`Release::Held`]): it waits for the end too.
    held: bool,
    line: Line<H>,
    /// The stateful rules (positions) it is for, ascending.
    rules: Vec<u32>,
}

/// Runs `rules` over `events` and emits their results, the lines that are
/// not events, and each stage's [`Totals`].
///
/// An event's timely time is a promise of its input: no event of a later
/// time on that input has an earlier timestamp, in the epochs of
/// [`Rules::epoch`] (a bounded input that promises nothing sends every
/// event at time 0 and drops its capability at its end).
///
/// - On the worker where the event is, its bytes are checked and the
///   single-event rules evaluated (one routed pack pass, no DOM); their
///   results are emitted at the event's time, with no exchange.
/// - The same pass names the stateful rules the event is a step event of.
///   For each, [`Placement`] names the workers that own its hits (the owner
///   of its join key, or the rule's one owner), and the event is sent to
///   each at the epoch of its timestamp on the rule's clock (not before the
///   event's own time).
/// - A worker holds the step events it receives until the frontier has
///   passed their epoch, then runs each epoch's events, sorted by
///   (timestamp, handle), through one session per rule
///   ([`StreamOrder::Window`] of 0 ms: as they come, with the timestamp
///   rules of [`StreamOrder::Bounded`]); sessions of rules split by key
///   keep only the hits their worker owns ([`Shard`]). Every rule thus sees
///   its step events in Elasticsearch's order, with no reorder window.
///   Samples (which pick each key's events by arrival, whatever their
///   time) and rules with a tiebreaker field take their step events by
///   handle and hold them to the end of the input, sorting them there as a
///   bounded session does; rules in [`StreamOrder::Arrival`] take their
///   step events by handle.
/// - When the input ends, the sessions finish (samples, pipes, pending
///   sequences) and each stage emits its [`Totals`].
///
/// `rules` must have been planned for the number of workers of the scope
/// ([`Rules::workers`]); otherwise the placement is planned again here.
pub fn rule_pack<'scope, H>(
    events: Stream<'scope, u64, Vec<Line<H>>>,
    rules: &Arc<Rules>,
) -> Stream<'scope, u64, Vec<Output<H>>>
where
    H: ExchangeData + Clone + Ord,
{
    let scope = events.scope();
    let peers = scope.peers();
    let placement = if rules.workers() == peers {
        rules.placement.clone()
    } else {
        Placement::new(rules.stateful.iter().filter_map(|s| s.plan.query(0)), peers)
    };
    let (found, routed) = route(events, Arc::clone(rules), placement);
    let held = sessions(routed, Arc::clone(rules), scope.index(), peers);
    found.concat(held)
}
