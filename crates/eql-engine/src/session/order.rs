//! Elasticsearch's order for the stateful rules, whatever order events arrive in.
//!
//! Single-event rules (no pipe, or only pipes whose results do not depend on
//! order) run every hit as it is pushed. The other rules' hits are held as
//! [`Held`] (the caller's handle, the hit and its [`OrderKey`]) and run in key
//! order: all of them at `finish` ([`StreamOrder::Bounded`]), or once the
//! newest timestamp is a window past them ([`StreamOrder::Window`]). Each
//! rule remembers the key of the last hit it ran; a later hit with a smaller
//! key is late and skipped (its event is reported), so a rule's state machine
//! only ever sees its hits in order. A sequence with `maxspan` expires its
//! stale partials just before each of its own hits, on that hit's time: the
//! state a hit meets is the same as if expiry had run on every event.
//!
//! [`StreamOrder::Arrival`] (the Python dialect) holds nothing: `Session::push`
//! runs every hit through `Session::process` as the Python engine does.

use super::rule::{Body, BodySpec, OwnTs, RulePlan, RuleState};
use super::snapshot::{HitSnap, Load};
use super::time::{Stamp, NANOS_PER_MS};
use super::SnapshotError;
use super::{pipes, Counters, Event, FieldPath, Hit, HitKind, Matches, Session, Value};
use crate::StreamOrder;
use smallvec::SmallVec;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::Arc;

/// A tiebreaker value: null first, then numbers, then strings (by bytes).
/// Elasticsearch sorts a keyword tiebreaker by bytes and a numeric one by
/// value; a string of digits is read as a number (a field mapped as a number
/// indexes it so). An array is read as its smallest value (Elasticsearch's
/// ascending sort mode `min`).
#[derive(Clone, Debug)]
pub(crate) enum Tie {
    Null,
    Int(i64),
    Float(f64),
    Str(Arc<str>),
}

impl Tie {
    pub(crate) fn read(v: Option<&Value<'_>>) -> Tie {
        match v {
            Some(Value::Int(i)) => Tie::Int(*i),
            Some(Value::Float(f)) if !f.is_nan() => Tie::Float(*f),
            Some(Value::Bool(b)) => Tie::Int(i64::from(*b)),
            Some(Value::Str(s)) => {
                let t = s.trim();
                if let Ok(i) = t.parse::<i64>() {
                    Tie::Int(i)
                } else if let Some(f) = t
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && t.bytes().any(|b| b.is_ascii_digit()))
                {
                    Tie::Float(f)
                } else {
                    Tie::Str(Arc::from(&**s))
                }
            }
            Some(Value::Array(items)) => items
                .iter()
                .map(|x| Tie::read(Some(x)))
                .filter(|t| !t.is_null())
                .min()
                .unwrap_or(Tie::Null),
            _ => Tie::Null,
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Tie::Null)
    }

    fn rank(&self) -> u8 {
        match self {
            Tie::Null => 0,
            Tie::Int(_) | Tie::Float(_) => 1,
            Tie::Str(_) => 2,
        }
    }
}

impl Ord for Tie {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Tie::Int(a), Tie::Int(b)) => a.cmp(b),
            (Tie::Float(a), Tie::Float(b)) => a.total_cmp(b),
            #[allow(clippy::cast_precision_loss)]
            (Tie::Int(a), Tie::Float(b)) => (*a as f64).total_cmp(b),
            #[allow(clippy::cast_precision_loss)]
            (Tie::Float(a), Tie::Int(b)) => a.total_cmp(&(*b as f64)),
            (Tie::Str(a), Tie::Str(b)) => a.as_bytes().cmp(b.as_bytes()),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}
impl PartialOrd for Tie {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Tie {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Tie {}

/// Where a hit runs among its rule's hits: (timestamp on the rule's clock,
/// the rule's tiebreaker, arrival, position among the event's hits). The
/// arrival is Elasticsearch's implicit `_shard_doc` tiebreaker.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct OrderKey {
    pub(crate) ts: i64,
    pub(crate) tie: Tie,
    pub(crate) arrival: u64,
    pub(crate) seq: u32,
}

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
    tie: TieSource,
    /// The key of the last hit this rule ran.
    released: Option<OrderKey>,
}

/// The ordering state of a session.
pub(super) struct Orderer<H> {
    pub(super) mode: StreamOrder,
    rules: Vec<RuleOrder>,
    /// Tiebreaker fields of rules whose field is not the session's.
    own_tie: Vec<FieldPath>,
    /// [`StreamOrder::Bounded`]: every held hit, in arrival order.
    held: Vec<Held<H>>,
    /// [`StreamOrder::Window`]: held hits, smallest key first.
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
    pub(super) fn new(
        mode: StreamOrder,
        rules: &[RulePlan],
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

    /// True when [`Session::order_hits`] drops every hit of rule `rule` on
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

impl<H: Clone> Session<H> {
    /// Orders the hits of one event (not [`StreamOrder::Arrival`]): runs the
    /// single-event rules' hits now and holds the others, then runs what the
    /// window or the cap releases.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn order_hits(
        &mut self,
        arrival: u64,
        stamp: Stamp,
        tie: &Tie,
        own_ties: &[Tie],
        own: &OwnTs,
        handle: &H,
        hits: &mut Vec<Hit>,
        out: &mut Matches<H>,
    ) -> PushReport {
        let mut report = PushReport::default();
        let bounded = self.ordering.mode == StreamOrder::Bounded;
        for (seq, hit) in hits.drain(..).enumerate() {
            let i = hit.rule as usize;
            let (Some(ro), Some(r)) = (self.ordering.rules.get(i), self.rules.get(i)) else {
                continue;
            };
            let own_clock = r.own_clock(own);
            let timed = ro.timed;
            let ts = match (ro.kind, own_clock, stamp) {
                (Kind::Immediate, ..) => {
                    run_hit(
                        &self.plan.rules,
                        &mut self.rules,
                        &mut self.counters,
                        &hit,
                        handle,
                        arrival,
                        false,
                        out,
                    );
                    continue;
                }
                (_, Some(t), _) | (_, None, Stamp::At(t)) => t,
                // Elasticsearch would not have indexed the event.
                (_, None, Stamp::Bad) | (Kind::Sequence, None, Stamp::Missing) => continue,
                // No time: first in a bounded input, as it comes in a window.
                (_, None, Stamp::Missing) => {
                    if bounded {
                        i64::MIN
                    } else {
                        run_hit(
                            &self.plan.rules,
                            &mut self.rules,
                            &mut self.counters,
                            &hit,
                            handle,
                            arrival,
                            timed,
                            out,
                        );
                        continue;
                    }
                }
            };
            let rule_tie = match ro.tie {
                TieSource::None => Tie::Null,
                TieSource::Session => tie.clone(),
                TieSource::Own(k) => own_ties.get(k).cloned().unwrap_or(Tie::Null),
            };
            if ro.kind == Kind::Sequence && ro.tie != TieSource::None && rule_tie.is_null() {
                report.missing_tiebreaker = true;
                continue;
            }
            let key = OrderKey {
                ts,
                tie: rule_tie,
                arrival,
                seq: seq as u32,
            };
            if ro.released.as_ref().is_some_and(|r| key < *r) {
                report.late = true;
                continue;
            }
            let held = Held {
                key,
                handle: handle.clone(),
                hit,
            };
            if bounded {
                self.ordering.held.push(held);
            } else {
                self.ordering.heap.push(Reverse(held));
            }
        }
        self.release_due(out);
        report
    }

    /// Where `event` orders among the session's timed events: its timestamp
    /// in nanoseconds, read from the session's timestamp field as
    /// [`Session::push`] reads it; `i64::MIN` when it has none (in
    /// [`StreamOrder::Bounded`] such an event's hits run first); `None` when
    /// the field holds no timestamp in its format (the stateful rules skip
    /// the event). A caller that knows the order times of the events still
    /// to come can promise them with [`Session::release_before`].
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Session, SessionOptions};
    /// use serde_json::json;
    /// let q = CompiledQuery::compile("sequence [a where true] [b where true]", &CompileOptions::default()).unwrap();
    /// let s = Session::<u64>::new(&q, SessionOptions::default());
    /// assert_eq!(s.order_time(&json!({"@timestamp": 5})), Some(5_000_000));
    /// assert_eq!(s.order_time(&json!({})), Some(i64::MIN));
    /// assert_eq!(s.order_time(&json!({"@timestamp": "soon"})), None);
    /// ```
    pub fn order_time(&self, event: &dyn Event) -> Option<i64> {
        match Stamp::read(event.get(&self.ts_field).as_ref(), self.ts_format) {
            Stamp::At(t) => Some(t),
            Stamp::Missing => Some(i64::MIN),
            Stamp::Bad => None,
        }
    }

    /// A promise that every event pushed from now on has an
    /// [`order_time`](Session::order_time) of `time` or later (or none at
    /// all). In [`StreamOrder::Bounded`], the held hits that order before
    /// `time` run now, in order, so a bounded input whose timestamps the
    /// caller has read ahead (a file, say) needs to hold only what is
    /// still out of order, not everything until [`Session::finish`]: the
    /// results are the same. The hits of a rule timed by a field of its own
    /// stay held. An event that breaks the promise is late for the rules
    /// that ran past it ([`Matches::late`]). The other orders release hits
    /// by themselves; there this does nothing.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
    /// use serde_json::json;
    /// let q = CompiledQuery::compile("sequence by k [a where true] [b where true]", &CompileOptions::default()).unwrap();
    /// let mut s = Session::<u64>::new(&q, SessionOptions::default());
    /// let mut out = Matches::new();
    /// s.push(1, &json!({"@timestamp": 1, "event": {"category": "a"}, "k": "x"}), &mut out);
    /// s.push(2, &json!({"@timestamp": 2, "event": {"category": "b"}, "k": "x"}), &mut out);
    /// // A bounded session holds both hits: an earlier event may still come.
    /// assert_eq!(out.len(), 0);
    /// // None will: the sequence is found now.
    /// s.release_before(3_000_000, &mut out);
    /// assert_eq!(out.len(), 1);
    /// ```
    pub fn release_before(&mut self, time: i64, out: &mut Matches<H>) {
        if self.ordering.mode != StreamOrder::Bounded || self.finished {
            return;
        }
        let rules = &self.rules;
        let (mut due, rest): (Vec<Held<H>>, Vec<Held<H>>) = std::mem::take(&mut self.ordering.held)
            .into_iter()
            .partition(|h| {
                h.key.ts < time
                    && rules
                        .get(h.hit.rule as usize)
                        .is_some_and(|r| r.ts_slot.is_none())
            });
        self.ordering.held = rest;
        due.sort_unstable();
        for h in due {
            self.release(h, out);
        }
    }

    /// Runs what the cap and the window release.
    fn release_due(&mut self, out: &mut Matches<H>) {
        let o = &mut self.ordering;
        o.peak_held = o.peak_held.max(o.held_len());
        match o.mode {
            StreamOrder::Bounded => {
                if o.held.len() > o.max_held {
                    // Run the oldest half now (at least one): the rest keeps
                    // as much look-back as the cap allows.
                    let mut held = std::mem::take(&mut o.held);
                    held.sort_unstable();
                    let n = (held.len() - o.max_held).max(held.len() / 2);
                    o.overflow += n as u64;
                    let rest = held.split_off(n);
                    self.ordering.held = rest;
                    for h in held {
                        self.release(h, out);
                    }
                }
            }
            StreamOrder::Window { window_ms } => {
                while self.ordering.heap.len() > self.ordering.max_held {
                    self.ordering.overflow += 1;
                    if let Some(Reverse(h)) = self.ordering.heap.pop() {
                        self.release(h, out);
                    }
                }
                let window = i64::try_from(window_ms)
                    .unwrap_or(i64::MAX)
                    .saturating_mul(NANOS_PER_MS);
                let Some(horizon) = self.ordering.max_ts.map(|m| m.saturating_sub(window)) else {
                    return;
                };
                while self
                    .ordering
                    .heap
                    .peek()
                    .is_some_and(|Reverse(h)| h.key.ts <= horizon)
                {
                    if let Some(Reverse(h)) = self.ordering.heap.pop() {
                        self.release(h, out);
                    }
                }
            }
            StreamOrder::Arrival => {}
        }
    }

    /// Runs every held hit, in order (end of input).
    pub(super) fn release_all(&mut self, out: &mut Matches<H>) {
        let mut held = std::mem::take(&mut self.ordering.held);
        held.sort_unstable();
        for h in held {
            self.release(h, out);
        }
        while let Some(Reverse(h)) = self.ordering.heap.pop() {
            self.release(h, out);
        }
    }

    fn release(&mut self, h: Held<H>, out: &mut Matches<H>) {
        let Some(ro) = self.ordering.rules.get_mut(h.hit.rule as usize) else {
            return;
        };
        let timed = ro.timed;
        let arrival = h.key.arrival;
        ro.released = Some(h.key);
        run_hit(
            &self.plan.rules,
            &mut self.rules,
            &mut self.counters,
            &h.hit,
            &h.handle,
            arrival,
            timed,
            out,
        );
    }
}

/// Runs one hit through its rule's state machine and pipes; `expire`: first
/// drop the partials that the hit's time puts past `maxspan`.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_hit<H: Clone>(
    plans: &[RulePlan],
    rules: &mut [RuleState<H>],
    counters: &mut Counters,
    hit: &Hit,
    handle: &H,
    arrival: u64,
    expire: bool,
    out: &mut Matches<H>,
) {
    let i = hit.rule as usize;
    let (Some(r), Some(rp)) = (rules.get_mut(i), plans.get(i)) else {
        return;
    };
    let (body, mut sink) = r.sink(rp, hit.rule, out, counters);
    match (body, &rp.body) {
        (Body::Event, _) => sink.emit(pipes::Res::single(handle.clone(), &hit.caps)),
        (Body::Seq(s), BodySpec::Seq(spec)) => {
            if expire && hit.kind != HitKind::Touch {
                s.expire(spec, hit.ts, &mut sink);
            }
            s.on_hit(spec, hit, handle, &mut sink);
        }
        (Body::Sample(s), BodySpec::Sample(spec)) => {
            s.on_hit(spec, hit, handle, arrival, &mut sink);
        }
        (Body::Join(j), BodySpec::Join(spec)) => j.on_hit(spec, hit, handle, &mut sink),
        // A rule's state is built from its plan, body for body.
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// Snapshots

/// A tiebreaker in a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
enum TieSnap {
    Null,
    Int(i64),
    /// The bits of the float.
    Float(u64),
    Str(String),
}

impl TieSnap {
    fn of(t: &Tie) -> Self {
        match t {
            Tie::Null => TieSnap::Null,
            Tie::Int(i) => TieSnap::Int(*i),
            Tie::Float(f) => TieSnap::Float(f.to_bits()),
            Tie::Str(s) => TieSnap::Str(s.to_string()),
        }
    }

    fn tie(self) -> Tie {
        match self {
            TieSnap::Null => Tie::Null,
            TieSnap::Int(i) => Tie::Int(i),
            TieSnap::Float(bits) => Tie::Float(f64::from_bits(bits)),
            TieSnap::Str(s) => Tie::Str(Arc::from(s)),
        }
    }
}

/// An [`OrderKey`] in a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
struct KeySnap {
    ts: i64,
    tie: TieSnap,
    arrival: u64,
    seq: u32,
}

impl KeySnap {
    fn of(k: &OrderKey) -> Self {
        KeySnap {
            ts: k.ts,
            tie: TieSnap::of(&k.tie),
            arrival: k.arrival,
            seq: k.seq,
        }
    }

    fn key(self) -> OrderKey {
        OrderKey {
            ts: self.ts,
            tie: self.tie.tie(),
            arrival: self.arrival,
            seq: self.seq,
        }
    }
}

/// A held hit in a snapshot.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
struct HeldSnap<H> {
    key: KeySnap,
    handle: H,
    hit: HitSnap,
}

/// The ordering state in a snapshot: what the session has seen of the
/// stream's order, the key of the last hit each rule ran, and the held
/// hits by order key.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub(crate) struct OrderSnap<H> {
    max_ts: Option<i64>,
    max_seen: Option<(i64, TieSnap)>,
    released: Vec<Option<KeySnap>>,
    held: Vec<HeldSnap<H>>,
}

impl<H: Clone> Orderer<H> {
    pub(super) fn save(&self) -> OrderSnap<H> {
        let mut held: Vec<&Held<H>> = self
            .held
            .iter()
            .chain(self.heap.iter().map(|Reverse(h)| h))
            .collect();
        held.sort_unstable();
        OrderSnap {
            max_ts: self.max_ts,
            max_seen: self.max_seen.as_ref().map(|(ts, t)| (*ts, TieSnap::of(t))),
            released: self
                .rules
                .iter()
                .map(|r| r.released.as_ref().map(KeySnap::of))
                .collect(),
            held: held
                .into_iter()
                .map(|h| HeldSnap {
                    key: KeySnap::of(&h.key),
                    handle: h.handle.clone(),
                    hit: HitSnap::of(&h.hit),
                })
                .collect(),
        }
    }

    /// Restores the state of `snap` into a fresh orderer (of the same plan
    /// and options).
    pub(super) fn load(
        &mut self,
        plans: &[RulePlan],
        snap: OrderSnap<H>,
        cx: &Load<'_>,
    ) -> Result<(), SnapshotError> {
        cx.check(
            snap.released.len() == self.rules.len(),
            "ordering states and queries disagree",
        )?;
        cx.within(
            "the reorder buffer",
            "max_held_hits",
            snap.held.len(),
            self.max_held,
        )?;
        cx.check(
            self.mode != StreamOrder::Arrival || snap.held.is_empty(),
            "held hits in arrival order",
        )?;
        self.max_ts = snap.max_ts;
        self.max_seen = snap.max_seen.map(|(ts, t)| (ts, t.tie()));
        for (r, k) in self.rules.iter_mut().zip(snap.released) {
            r.released = k.map(KeySnap::key);
        }
        let mut last: Option<OrderKey> = None;
        for h in snap.held {
            let hit = cx.hit(&h.hit, plans)?;
            let key = h.key.key();
            let ro = self.rules.get(hit.rule as usize);
            cx.check(
                ro.is_some_and(|r| r.kind != Kind::Immediate),
                "a held hit of a rule that holds none",
            )?;
            cx.check(
                ro.and_then(|r| r.released.as_ref())
                    .is_none_or(|r| key >= *r),
                "a held hit behind what its rule already ran",
            )?;
            cx.check(
                key.arrival < cx.arrival,
                "a held hit of an event not pushed",
            )?;
            cx.check(
                last.as_ref().is_none_or(|l| key > *l),
                "held hits out of order",
            )?;
            last = Some(key.clone());
            let held = Held {
                key,
                handle: h.handle,
                hit,
            };
            if self.mode == StreamOrder::Bounded {
                self.held.push(held);
            } else {
                self.heap.push(Reverse(held));
            }
        }
        Ok(())
    }

    /// Calls `f` with every held handle.
    pub(super) fn for_each_handle<'a>(&'a self, f: &mut dyn FnMut(&'a H)) {
        for h in &self.held {
            f(&h.handle);
        }
        for Reverse(h) in &self.heap {
            f(&h.handle);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tie_order() {
        let s = |x: &str| Tie::read(Some(&Value::from(x.to_owned())));
        assert!(Tie::Null < Tie::Int(i64::MIN));
        assert!(Tie::Int(2) < Tie::Float(2.5));
        assert!(Tie::Float(2.5) < Tie::Int(3));
        assert!(Tie::Int(i64::MAX) < s("a"));
        assert_eq!(s("12"), Tie::Int(12));
        assert_eq!(s("1.5"), Tie::Float(1.5));
        assert!(s("B") < s("a"), "strings compare by bytes");
        assert!(
            s("inf").cmp(&Tie::Int(0)) == Ordering::Greater,
            "not a number"
        );
        let arr = Value::Array(vec![Value::Int(5), Value::Null, Value::Int(3)]);
        assert_eq!(Tie::read(Some(&arr)), Tie::Int(3));
        assert!(Tie::read(None).is_null());
    }

    #[test]
    fn keys_order_by_time_then_tie_then_arrival() {
        let k = |ts, tie, arrival| OrderKey {
            ts,
            tie,
            arrival,
            seq: 0,
        };
        assert!(k(1, Tie::Int(9), 9) < k(2, Tie::Null, 0));
        assert!(k(1, Tie::Null, 9) < k(1, Tie::Int(0), 0));
        assert!(k(1, Tie::Int(1), 0) < k(1, Tie::Int(1), 1));
    }
}
