//! Elasticsearch's order for the stateful rules, whatever order events arrive in.
//!
//! Single-event rules (no pipe, or only pipes whose results do not depend on
//! order) run every hit as it is pushed. The other rules' hits are held as
//! [`Held`] (the caller's handle, the hit and its [`OrderKey`]) and run in key
//! order: all of them at `finish`, or those before the time a caller
//! promises with `Session::release_before` ([`StreamOrder::Bounded`]), or
//! once the newest timestamp is a window past them ([`StreamOrder::Window`]).
//! The hits a promise can release wait in a heap, smallest key first, so a
//! promise costs what it releases, not what stays held. Each
//! rule remembers the key of the last hit it ran; a later hit with a smaller
//! key is late and skipped (its event is reported), so a rule's state machine
//! only ever sees its hits in order. A sequence with `maxspan` expires its
//! stale partials just before each of its own hits, on that hit's time: the
//! state a hit meets is the same as if expiry had run on every event.
//!
//! [`StreamOrder::Arrival`] (the Python dialect) holds nothing: `Session::push`
//! runs every hit through `Session::process` as the Python engine does.

mod key;
mod release;
mod snap;

pub(crate) use key::Tie;
pub(super) use release::run_hit;
pub(crate) use snap::OrderSnap;

use super::rule::{BodySpec, RulePlan};
use super::time::Stamp;
use super::{Event, FieldPath, Hit};
use crate::StreamOrder;
use key::OrderKey;
use smallvec::SmallVec;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// A held hit.
pub(super) struct Held<H> {
    key: OrderKey,
    handle: H,
    hit: Hit,
}

impl<H> PartialEq for Held<H> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<H> Eq for Held<H> {}
impl<H> PartialOrd for Held<H> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<H> Ord for Held<H> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

/// How a rule's hits are ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Run as pushed: the results do not depend on order.
    Immediate,
    /// A sequence: needs a timestamp (and its tiebreaker, when it has one).
    Sequence,
    /// A sample, a join, or an event query with an order-dependent pipe:
    /// ordered, but runs without a timestamp.
    Other,
}

/// Where a rule reads its tiebreaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TieSource {
    None,
    Session,
    Own(usize),
}

struct RuleOrder {
    kind: Kind,
    /// An Elasticsearch sequence with `maxspan`: expire before each hit.
    timed: bool,
    /// Timed by a field of its own, not the session's: a promise on the
    /// session's clock releases none of its hits.
    own_time: bool,
    tie: TieSource,
    /// The key of the last hit this rule ran.
    released: Option<OrderKey>,
}

impl RuleOrder {
    /// The tiebreaker of this rule's hit on an event whose session
    /// tiebreaker is `session` and own tiebreakers are `own_ties`.
    #[inline]
    fn tie_of(&self, session: &Tie, own_ties: &[Tie]) -> Tie {
        match self.tie {
            TieSource::None => Tie::Null,
            TieSource::Session => session.clone(),
            TieSource::Own(k) => own_ties.get(k).cloned().unwrap_or(Tie::Null),
        }
    }
}

/// The ordering state of a session.
pub(super) struct Orderer<H> {
    pub(super) mode: StreamOrder,
    rules: Vec<RuleOrder>,
    /// Tiebreaker fields of rules whose field is not the session's.
    own_tie: Vec<FieldPath>,
    /// [`StreamOrder::Bounded`]: the held hits of the rules timed by a
    /// field of their own ([`RuleOrder::own_time`]), in arrival order.
    held: Vec<Held<H>>,
    /// The other held hits, smallest key first.
    heap: BinaryHeap<Reverse<Held<H>>>,
    max_held: usize,
    /// Newest session timestamp seen.
    max_ts: Option<i64>,
    /// Greatest (timestamp, tiebreaker) seen, for `out_of_order`.
    max_seen: Option<(i64, Tie)>,
    pub(super) peak_held: usize,
    pub(super) overflow: u64,
}

/// What a push did, for the session's counters.
#[derive(Default)]
pub(super) struct PushReport {
    pub(super) late: bool,
    pub(super) missing_tiebreaker: bool,
}

impl<H: Clone> Orderer<H> {
    /// `session_time`: the session's timestamp field; `session_tie`: its
    /// tiebreaker field.
    pub(super) fn new(
        mode: StreamOrder,
        rules: &[RulePlan],
        session_time: &str,
        session_tie: Option<&str>,
        max_held: usize,
    ) -> Self {
        let mut own_tie: Vec<FieldPath> = Vec::new();
        let rules = rules
            .iter()
            .map(|r| {
                let kind = match &r.body {
                    BodySpec::Event if !r.pipes.needs_order() && r.lineage.is_none() => {
                        Kind::Immediate
                    }
                    BodySpec::Seq(_) => Kind::Sequence,
                    BodySpec::Event | BodySpec::Sample(_) | BodySpec::Join(_) => Kind::Other,
                };
                let tie = match r.engine.opts.tiebreaker_field.as_deref() {
                    None => TieSource::None,
                    Some(f) if Some(f) == session_tie => TieSource::Session,
                    Some(f) => {
                        let path = FieldPath::parse_dotted(f);
                        TieSource::Own(match own_tie.iter().position(|p| *p == path) {
                            Some(k) => k,
                            None => {
                                own_tie.push(path);
                                own_tie.len() - 1
                            }
                        })
                    }
                };
                RuleOrder {
                    kind,
                    timed: matches!(&r.body, BodySpec::Seq(s) if s.maxspan.is_some() && !s.py),
                    own_time: r.engine.opts.timestamp_field != session_time,
                    tie,
                    released: None,
                }
            })
            .collect();
        Orderer {
            mode,
            rules,
            own_tie,
            held: Vec::new(),
            heap: BinaryHeap::new(),
            max_held,
            max_ts: None,
            max_seen: None,
            peak_held: 0,
            overflow: 0,
        }
    }

    /// True when [`Session::order_hits`](super::Session::order_hits) drops every hit of rule `rule` on
    /// an event with session timestamp `stamp` (`own_clock`: the rule read
    /// a time of its own from the event): a sequence with no time, or any
    /// held rule whose time does not read.
    pub(super) fn drops_all(&self, rule: usize, own_clock: bool, stamp: Stamp) -> bool {
        if self.mode == StreamOrder::Arrival || own_clock {
            return false;
        }
        match (self.rules.get(rule).map(|r| r.kind), stamp) {
            (Some(Kind::Immediate) | None, _) | (_, Stamp::At(_)) => false,
            (Some(_), Stamp::Bad) => true,
            (Some(kind), Stamp::Missing) => kind == Kind::Sequence,
        }
    }

    /// Holds `held` until its turn: in the heap, or in arrival order when a
    /// promise on the session's clock cannot release it
    /// ([`StreamOrder::Bounded`], a rule timed by a field of its own).
    #[inline]
    fn hold(&mut self, held: Held<H>) {
        let own_time = self
            .rules
            .get(held.hit.rule as usize)
            .is_some_and(|r| r.own_time);
        if self.mode == StreamOrder::Bounded && own_time {
            self.held.push(held);
        } else {
            self.heap.push(Reverse(held));
        }
    }

    /// Takes every held hit out, smallest key first.
    fn take_all(&mut self) -> Vec<Held<H>> {
        let mut all = std::mem::take(&mut self.held);
        all.extend(
            std::mem::take(&mut self.heap)
                .into_iter()
                .map(|Reverse(h)| h),
        );
        all.sort_unstable();
        all
    }

    /// Hits held now.
    pub(super) fn held_len(&self) -> usize {
        self.held.len() + self.heap.len()
    }

    /// Notes the session timestamp of an arriving event; true when it is out
    /// of order (an earlier event orders after it).
    pub(super) fn observe(&mut self, stamp: Stamp, tie: &Tie) -> bool {
        let Stamp::At(ts) = stamp else {
            return false;
        };
        self.max_ts = Some(self.max_ts.map_or(ts, |m| m.max(ts)));
        match &self.max_seen {
            Some((mts, mtie)) if (ts, tie) < (*mts, mtie) => true,
            _ => {
                self.max_seen = Some((ts, tie.clone()));
                false
            }
        }
    }

    /// The rules' own tiebreakers of an event (empty when no rule has one).
    pub(super) fn own_ties(&self, event: &dyn Event) -> SmallVec<[Tie; 1]> {
        self.own_tie
            .iter()
            .map(|f| Tie::read(event.get(f).as_ref()))
            .collect()
    }
}
