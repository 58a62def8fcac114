//! Holding a session's hits and running them in order: the [`Session`]
//! methods that order one event's hits and release what is due, and
//! [`run_hit`], which runs one hit through its rule.

use super::super::rule::{Body, BodySpec, OwnTs, RulePlan, RuleState};
use super::super::time::{Stamp, NANOS_PER_MS};
use super::super::{pipes, Counters, Event, Hit, HitKind, Matches, Session};
use super::key::{OrderKey, Tie};
use super::{Held, Kind, PushReport, TieSource};
use crate::StreamOrder;
use std::cmp::Reverse;

impl<H: Clone> Session<H> {
    /// Orders the hits of one event (not [`StreamOrder::Arrival`]): runs the
    /// single-event rules' hits now and holds the others, then runs what the
    /// window or the cap releases.
    #[allow(clippy::too_many_arguments)]
    pub(in crate::session) fn order_hits(
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
                    self.run_now(&hit, handle, arrival, false, out);
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
                        self.run_now(&hit, handle, arrival, timed, out);
                        continue;
                    }
                }
            };
            let rule_tie = ro.tie_of(tie, own_ties);
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
            self.ordering.hold(Held {
                key,
                handle: handle.clone(),
                hit,
            });
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
    ///
    /// // A candidate waiting for a trailing missing event comes out once
    /// // the promised time is past its window, with no later event.
    /// let q = CompiledQuery::compile(
    ///     "sequence by k with maxspan=1s [a where true] ![b where true]",
    ///     &CompileOptions::default(),
    /// ).unwrap();
    /// let mut s = Session::<u64>::new(&q, SessionOptions::default());
    /// let mut out = Matches::new();
    /// s.push(1, &json!({"@timestamp": 0, "event": {"category": "a"}, "k": "x"}), &mut out);
    /// s.release_before(1_000_000_000, &mut out);
    /// // Within a second of it, a `b` may still come.
    /// assert_eq!(out.len(), 0);
    /// s.release_before(1_000_000_001, &mut out);
    /// assert_eq!(out.len(), 1);
    /// ```
    pub fn release_before(&mut self, time: i64, out: &mut Matches<H>) {
        if self.ordering.mode != StreamOrder::Bounded || self.finished {
            return;
        }
        self.release_held_before(time, out);
        self.expire_before(time, out);
    }

    /// The held hits that order before `time` run, in order (the hits of a
    /// rule timed by a field of its own are not in the heap).
    fn release_held_before(&mut self, time: i64, out: &mut Matches<H>) {
        while self
            .ordering
            .heap
            .peek()
            .is_some_and(|Reverse(h)| h.key.ts < time)
        {
            if let Some(Reverse(h)) = self.ordering.heap.pop() {
                self.release(h, out);
            }
        }
    }

    /// Every sequence with `maxspan` on the session's clock does what its
    /// next hit would do first, since that hit comes at `time` or later:
    /// it drops the partials that started more than `maxspan` before
    /// `time`, and a candidate waiting for a trailing missing event is
    /// emitted once `time` is past its window (no event still to come can
    /// fall in it). The results are those the next hit would give; they
    /// come here, at the promise, whether the rule has a next hit or not.
    fn expire_before(&mut self, time: i64, out: &mut Matches<H>) {
        let rules = self.plan.rules.iter().zip(self.rules.iter_mut());
        for (i, ((rp, r), ro)) in rules.zip(&self.ordering.rules).enumerate() {
            if !ro.timed || r.ts_slot.is_some() {
                continue;
            }
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            let (body, mut sink) = r.sink(rp, index, out, &mut self.counters);
            if let (Body::Seq(s), BodySpec::Seq(spec)) = (body, &rp.body) {
                s.expire(spec, time, &mut sink);
            }
        }
    }

    /// Runs what the cap and the window release.
    fn release_due(&mut self, out: &mut Matches<H>) {
        let o = &mut self.ordering;
        o.peak_held = o.peak_held.max(o.held_len());
        match o.mode {
            StreamOrder::Bounded => {
                if o.held_len() > o.max_held {
                    // Run the oldest half now (at least one): the rest keeps
                    // as much look-back as the cap allows.
                    let mut held = o.take_all();
                    let n = (held.len() - o.max_held).max(held.len() / 2);
                    o.overflow += n as u64;
                    for h in held.split_off(n) {
                        o.hold(h);
                    }
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
    pub(in crate::session) fn release_all(&mut self, out: &mut Matches<H>) {
        for h in self.ordering.take_all() {
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
        self.run_now(&h.hit, &h.handle, arrival, timed, out);
    }

    /// [`run_hit`] over this session's rules.
    #[inline]
    fn run_now(&mut self, hit: &Hit, handle: &H, arrival: u64, expire: bool, out: &mut Matches<H>) {
        run_hit(
            &self.plan.rules,
            &mut self.rules,
            &mut self.counters,
            hit,
            handle,
            arrival,
            expire,
            out,
        );
    }
}

/// Runs one hit through its rule's state machine and pipes; `expire`: first
/// drop the partials that the hit's time puts past `maxspan`.
#[allow(clippy::too_many_arguments)]
pub(in crate::session) fn run_hit<H: Clone>(
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
