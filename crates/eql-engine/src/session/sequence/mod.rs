//! The sequence state machine.
//!
//! Layout (per rule): join keys are interned into `KeyEntry`s that exist only
//! while something refers to them; each entry has one slot per stage holding
//! the most recent partial sequence waiting for that stage (most recent wins:
//! Elasticsearch's `trimBefore` keeps only the latest candidate, and with
//! ordered input the older ones could never complete first). Partials live in
//! a slab and are threaded on an intrusive list ordered by their start time,
//! so `maxspan` expiry and cap eviction pop from the head in O(1) and never
//! scan the keys. A partial holds its handles and the pipe captures only.
//!
//! Per event the steps are visited last-to-first (the hits arrive in that
//! order), so an event can complete one sequence and start or advance another
//! but never fill two stages of one sequence; ordinals are strictly
//! increasing because events are released in ordinal order.
//!
//! Missing events (`![...]`), as Elasticsearch checks them (`TumblingWindow`
//! `checkMissingEvents`): the positive steps match as a sequence of their
//! own, and a completed candidate is then checked against the events of the
//! missing steps with the same key (a missing step's own `by` keys compare
//! positionally with the sequence's), in whole milliseconds (as a `date`
//! field holds them) with both bounds exclusive:
//!
//! * middle (between positive steps P and N): an event after P's millisecond
//!   and before N's discards the candidate. The partial notes the first such
//!   event while it waits for N and is marked doomed when N comes, but goes
//!   on as usual (it still replaces older partials) and is dropped when it
//!   completes;
//! * leading (before the first positive step): the latest event before the
//!   first positive event's millisecond, `L` (per key: the latest time and
//!   the latest one in an earlier millisecond, forgotten after `maxspan`);
//! * trailing (after the last positive step): the first event after the last
//!   positive event's millisecond, `T`.
//!
//! A candidate is kept when there is no `L` nor `T`, or the query has a
//! leading step and no `L`, or a trailing step and no `T`; else when `T − L`
//! (leading and trailing steps), `last − L` (leading only) or `T − first`
//! (trailing only) exceeds `maxspan`. With a trailing step every completed
//! candidate waits in completion order (`held`) until its `T` comes, or time
//! passes its reference plus `maxspan`, or the input ends; results leave in
//! completion order, as Elasticsearch orders them (by their last event).

//!
//! The state's storage (keys and the partials' slab) is in `slab.rs`, the
//! missing steps in `missing.rs`, and its snapshot in `snap.rs`.

mod missing;
mod slab;
mod snap;
#[cfg(test)]
mod tests;

pub(crate) use snap::SeqSnap;

use super::keys::{key_bytes, Key, KeyMap};
use super::pipes::Res;
use super::time::NANOS_PER_MS;
use super::{Hit, HitKind, SessionLimits, Sink, StepSpec};
use eql_syntax::Sequence;
use std::collections::VecDeque;

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Pos(usize),
    Leading,
    Middle(usize),
    Trailing,
}

/// The compiled shape of a sequence (part of a [`super::SessionPlan`]).
#[derive(Clone, Debug)]
pub(crate) struct SeqSpec {
    pub(crate) steps: Vec<StepSpec>,
    pub(crate) until: Option<StepSpec>,
    roles: Vec<Role>,
    /// Number of positive steps.
    m: usize,
    /// In nanoseconds.
    pub(crate) maxspan: Option<i64>,
    has_trailing: bool,
    has_leading: bool,
    /// Positions of the `![...]` steps (placeholders in a result).
    missing_pos: Vec<u16>,
    /// Python semantics (`maxspan` in whole seconds, checked on every event
    /// of the steps' categories).
    pub(crate) py: bool,
}

#[derive(Clone)]
struct Partial<H> {
    key: u32,
    /// `1..m`: waiting for positive step `stage`.
    stage: usize,
    start: i64,
    /// Time of the last positive event.
    last: i64,
    /// First event of a middle missing step after `last`'s millisecond,
    /// while waiting for the next positive step.
    mid: Option<i64>,
    /// A middle missing step had an event: dropped on completion.
    doomed: bool,
    leading: Option<i64>,
    res: Res<H>,
    prev: u32,
    next: u32,
}

struct KeyEntry {
    key: Key,
    slots: smallvec::SmallVec<[u32; 4]>,
    /// Numbers of the held candidates of this key still waiting for their
    /// first trailing event.
    trailing: smallvec::SmallVec<[u64; 2]>,
    refs: u32,
    bytes: usize,
}

/// The state of a sequence rule.
pub(crate) struct Seq<H> {
    limits: SessionLimits,
    map: KeyMap<u32>,
    keys: Vec<Option<KeyEntry>>,
    free_keys: Vec<u32>,
    parts: Vec<Option<Partial<H>>>,
    free_parts: Vec<u32>,
    head: u32,
    tail: u32,
    live: usize,
    /// Per key: the latest leading missing event, and the latest one in an
    /// earlier millisecond.
    leading: KeyMap<(i64, Option<i64>)>,
    leading_q: VecDeque<(i64, Key)>,
    /// Completed candidates waiting for their trailing check, in completion
    /// order; `held_base` numbers the front one.
    held: VecDeque<Held<H>>,
    held_base: u64,
}

/// A completed candidate waiting for its first trailing missing event.
struct Held<H> {
    key: u32,
    res: Res<H>,
    /// A trailing event counts from this time on (the millisecond after
    /// the last positive event's).
    after: i64,
    /// Kept when the first trailing event is more than `maxspan` after this
    /// (the first positive event, or `L`).
    from: i64,
    verdict: Option<bool>,
}

/// The start of the millisecond of `t` (missing events are checked in
/// whole milliseconds).
fn ms_floor(t: i64) -> i64 {
    t.div_euclid(NANOS_PER_MS).saturating_mul(NANOS_PER_MS)
}

impl SeqSpec {
    pub(crate) fn new(s: &Sequence, py: bool) -> Self {
        let mut steps = Vec::new();
        let mut pos = 0u16;
        for st in &s.steps {
            // The expanded runs of one step share its query.
            let spec = StepSpec::new(&s.by, st, pos);
            for _ in 0..st.runs.unwrap_or(1).max(1) {
                steps.push(StepSpec {
                    pos,
                    ..spec.clone()
                });
                if !st.missing {
                    pos = pos.saturating_add(1);
                }
            }
        }
        let m = pos as usize;
        let first_pos = steps.iter().position(|s| !s.missing);
        let last_pos = steps.iter().rposition(|s| !s.missing);
        let mut roles = Vec::with_capacity(steps.len());
        let mut next_pos = 0usize;
        for (i, st) in steps.iter().enumerate() {
            roles.push(if !st.missing {
                next_pos += 1;
                Role::Pos(next_pos - 1)
            } else if first_pos.is_none_or(|f| i < f) {
                Role::Leading
            } else if last_pos.is_some_and(|l| i > l) {
                Role::Trailing
            } else {
                Role::Middle(next_pos)
            });
        }
        let maxspan = s.maxspan.map(|t| {
            let ms = t.millis();
            let ms = if py { (ms / 1000) * 1000 } else { ms };
            i64::try_from(ms)
                .unwrap_or(i64::MAX / NANOS_PER_MS)
                .saturating_mul(NANOS_PER_MS)
        });
        let has_trailing = roles.contains(&Role::Trailing) && maxspan.is_some();
        let has_leading = roles.contains(&Role::Leading) && maxspan.is_some();
        let missing_pos = steps
            .iter()
            .enumerate()
            .filter(|(_, st)| st.missing)
            .map(|(i, _)| u16::try_from(i).unwrap_or(u16::MAX))
            .collect();
        SeqSpec {
            until: s.until.as_ref().map(|u| StepSpec::new(&s.by, u, 0)),
            steps,
            roles,
            m,
            maxspan,
            has_trailing,
            has_leading,
            missing_pos,
            py,
        }
    }
}

impl<H: Clone> Seq<H> {
    pub(crate) fn new(limits: SessionLimits) -> Self {
        Seq {
            limits,
            map: KeyMap::default(),
            keys: Vec::new(),
            free_keys: Vec::new(),
            parts: Vec::new(),
            free_parts: Vec::new(),
            head: NIL,
            tail: NIL,
            live: 0,
            leading: KeyMap::default(),
            leading_q: VecDeque::new(),
            held: VecDeque::new(),
            held_base: 0,
        }
    }

    // ---- events --------------------------------------------------------

    pub(crate) fn on_hit(&mut self, spec: &SeqSpec, h: &Hit, handle: &H, sink: &mut Sink<'_, H>) {
        match h.kind {
            HitKind::Touch => self.expire(spec, h.ts, sink),
            HitKind::Until => {
                if let Some(kid) = self.key_get(&h.key) {
                    for s in 1..spec.m {
                        let id = self
                            .key_entry(kid)
                            .and_then(|e| e.slots.get(s).copied())
                            .unwrap_or(NIL);
                        if id != NIL {
                            self.part_remove(id, sink.c);
                        }
                    }
                }
            }
            HitKind::Step(i) => match spec.roles.get(i as usize).copied() {
                Some(Role::Pos(0)) => self.start(spec, h, handle, sink),
                Some(Role::Pos(s)) => self.advance(spec, i as usize, s, h, handle, sink),
                Some(Role::Middle(s)) => self.on_middle(s, h),
                Some(Role::Leading) if spec.has_leading => self.on_leading(h, sink),
                Some(Role::Leading) => {}
                Some(Role::Trailing) => self.on_trailing(spec, h, sink),
                None => {}
            },
        }
    }

    fn start(&mut self, spec: &SeqSpec, h: &Hit, handle: &H, sink: &mut Sink<'_, H>) {
        // The latest leading missing event before this event's millisecond.
        let leading = if spec.has_leading {
            self.leading.get(&h.key).and_then(|&(latest, earlier)| {
                if latest < ms_floor(h.ts) {
                    Some(latest)
                } else {
                    earlier
                }
            })
        } else {
            None
        };
        let kid = self.key_intern(spec, &h.key, sink.c);
        let mut res = Res::empty();
        res.events.push(handle.clone());
        res.add_caps(&h.caps);
        let p = Partial {
            key: kid,
            stage: 0,
            start: h.ts,
            last: h.ts,
            mid: None,
            doomed: false,
            leading,
            res,
            prev: NIL,
            next: NIL,
        };
        let id = self.part_add(p, NIL, sink.c);
        if spec.m <= 1 {
            self.complete(spec, id, h.ts, sink);
        } else {
            self.place(id, 1, sink.c);
        }
        self.enforce_cap(sink);
    }

    fn advance(
        &mut self,
        spec: &SeqSpec,
        step: usize,
        s: usize,
        h: &Hit,
        handle: &H,
        sink: &mut Sink<'_, H>,
    ) {
        let Some(kid) = self.key_get(&h.key) else {
            return;
        };
        let id = self
            .key_entry(kid)
            .and_then(|e| e.slots.get(s).copied())
            .unwrap_or(NIL);
        let Some(start) = self.part(id).map(|p| p.start) else {
            return;
        };
        if let Some(span) = spec.maxspan {
            if h.ts.saturating_sub(start) > span {
                self.part_remove(id, sink.c);
                sink.c.expired += 1;
                return;
            }
        }
        let fork = spec.steps.get(step).is_some_and(|st| st.fork);
        let work = if fork {
            let Some(mut copy) = self.part(id).cloned() else {
                return;
            };
            copy.stage = 0;
            self.part_add(copy, id, sink.c)
        } else {
            if let Some(e) = self.key_entry(kid) {
                if let Some(x) = e.slots.get_mut(s) {
                    *x = NIL;
                }
            }
            id
        };
        if let Some(p) = self.part_mut(work) {
            p.stage = 0;
            p.doomed |= p.mid.is_some_and(|t| t < ms_floor(h.ts));
            p.mid = None;
            p.last = h.ts;
            p.res.events.push(handle.clone());
            p.res.add_caps(&h.caps);
        }
        if s + 1 >= spec.m {
            self.complete(spec, work, h.ts, sink);
        } else {
            self.place(work, s + 1, sink.c);
        }
        self.enforce_cap(sink);
    }

    /// Drops every partial that started more than `maxspan` before `now`,
    /// and emits the held candidates that time has decided.
    pub(crate) fn expire(&mut self, spec: &SeqSpec, now: i64, sink: &mut Sink<'_, H>) {
        let Some(span) = spec.maxspan else {
            return;
        };
        while let Some(p) = self.part(self.head) {
            if now.saturating_sub(p.start) <= span {
                break;
            }
            let h = self.head;
            if self.part_remove(h, sink.c).is_some() {
                sink.c.expired += 1;
            }
        }
        while let Some((t, _)) = self.leading_q.front() {
            if now.saturating_sub(*t) <= span {
                break;
            }
            if let Some((t, k)) = self.leading_q.pop_front() {
                if self.leading.get(&k).map(|x| x.0) == Some(t) {
                    self.leading.remove(&k);
                    sink.c
                        .del_key(std::mem::size_of::<Key>() * 2 + 2 * key_bytes(&k));
                }
            }
        }
        self.flush_held(spec, Some(now), sink);
    }

    /// End of input: the held candidates that no trailing event came for
    /// are emitted.
    pub(crate) fn finish(&mut self, spec: &SeqSpec, sink: &mut Sink<'_, H>) {
        self.flush_held(spec, None, sink);
    }
}
