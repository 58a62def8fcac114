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

use super::keys::{key_bytes, Key};
use super::pipes::Res;
use super::snapshot::{Load, ResSnap, Vals};
use super::time::NANOS_PER_MS;
use super::SnapshotError;
use super::{Counters, Hit, HitKind, SessionLimits, Sink, StepSpec};
use eql_syntax::Sequence;
use std::collections::{HashMap, VecDeque};

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
    map: HashMap<Key, u32>,
    keys: Vec<Option<KeyEntry>>,
    free_keys: Vec<u32>,
    parts: Vec<Option<Partial<H>>>,
    free_parts: Vec<u32>,
    head: u32,
    tail: u32,
    live: usize,
    /// Per key: the latest leading missing event, and the latest one in an
    /// earlier millisecond.
    leading: HashMap<Key, (i64, Option<i64>)>,
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
            let ms = t
                .value
                .saturating_mul(t.unit.map_or(1000, eql_syntax::TimeUnit::millis));
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
            map: HashMap::new(),
            keys: Vec::new(),
            free_keys: Vec::new(),
            parts: Vec::new(),
            free_parts: Vec::new(),
            head: NIL,
            tail: NIL,
            live: 0,
            leading: HashMap::new(),
            leading_q: VecDeque::new(),
            held: VecDeque::new(),
            held_base: 0,
        }
    }

    // ---- keys ----------------------------------------------------------

    fn key_get(&self, k: &Key) -> Option<u32> {
        self.map.get(k).copied()
    }

    fn key_entry(&mut self, kid: u32) -> Option<&mut KeyEntry> {
        self.keys.get_mut(kid as usize).and_then(Option::as_mut)
    }

    fn key_intern(&mut self, spec: &SeqSpec, k: &Key, c: &mut Counters) -> u32 {
        if let Some(kid) = self.map.get(k) {
            return *kid;
        }
        let bytes = std::mem::size_of::<KeyEntry>() + 2 * key_bytes(k) + std::mem::size_of::<Key>();
        let entry = KeyEntry {
            key: k.clone(),
            slots: smallvec::smallvec![NIL; spec.m.max(1)],
            trailing: smallvec::SmallVec::new(),
            refs: 0,
            bytes,
        };
        c.add_key(bytes);
        let kid = if let Some(kid) = self.free_keys.pop() {
            if let Some(slot) = self.keys.get_mut(kid as usize) {
                *slot = Some(entry);
            }
            kid
        } else {
            self.keys.push(Some(entry));
            (self.keys.len() - 1) as u32
        };
        self.map.insert(k.clone(), kid);
        kid
    }

    fn key_release(&mut self, kid: u32, c: &mut Counters) {
        let Some(e) = self.key_entry(kid) else {
            return;
        };
        e.refs = e.refs.saturating_sub(1);
        if e.refs == 0 {
            if let Some(e) = self.keys.get_mut(kid as usize).and_then(Option::take) {
                self.map.remove(&e.key);
                c.del_key(e.bytes);
                self.free_keys.push(kid);
            }
        }
    }

    // ---- partials ------------------------------------------------------

    fn part(&self, id: u32) -> Option<&Partial<H>> {
        self.parts.get(id as usize).and_then(Option::as_ref)
    }

    fn part_mut(&mut self, id: u32) -> Option<&mut Partial<H>> {
        self.parts.get_mut(id as usize).and_then(Option::as_mut)
    }

    /// Stores a partial, linked after `after` (or at the tail).
    fn part_add(&mut self, mut p: Partial<H>, after: u32, c: &mut Counters) -> u32 {
        let prev = if after == NIL { self.tail } else { after };
        let next = self.part(prev).map_or(NIL, |x| x.next);
        p.prev = prev;
        p.next = next;
        let kid = p.key;
        let id = if let Some(id) = self.free_parts.pop() {
            if let Some(slot) = self.parts.get_mut(id as usize) {
                *slot = Some(p);
            }
            id
        } else {
            self.parts.push(Some(p));
            (self.parts.len() - 1) as u32
        };
        if let Some(x) = self.part_mut(prev) {
            x.next = id;
        } else {
            self.head = id;
        }
        if let Some(x) = self.part_mut(next) {
            x.prev = id;
        } else {
            self.tail = id;
        }
        if let Some(e) = self.key_entry(kid) {
            e.refs += 1;
        }
        self.live += 1;
        c.add_partial(std::mem::size_of::<Partial<H>>());
        id
    }

    fn part_remove(&mut self, id: u32, c: &mut Counters) -> Option<Partial<H>> {
        let p = self.parts.get_mut(id as usize).and_then(Option::take)?;
        self.free_parts.push(id);
        if let Some(x) = self.part_mut(p.prev) {
            x.next = p.next;
        } else {
            self.head = p.next;
        }
        if let Some(x) = self.part_mut(p.next) {
            x.prev = p.prev;
        } else {
            self.tail = p.prev;
        }
        if let Some(e) = self.key_entry(p.key) {
            if let Some(s) = e.slots.get_mut(p.stage) {
                if *s == id {
                    *s = NIL;
                }
            }
        }
        self.key_release(p.key, c);
        self.live -= 1;
        c.del_partial(std::mem::size_of::<Partial<H>>());
        Some(p)
    }

    /// Removes a finished partial and returns its result with the join key.
    fn take_result(&mut self, spec: &SeqSpec, id: u32, c: &mut Counters) -> Option<Res<H>> {
        let key: Vec<eql_plan::Value<'static>> = self
            .part(id)
            .and_then(|p| self.keys.get(p.key as usize))
            .and_then(Option::as_ref)
            .map(|e| e.key.iter().map(super::keys::KeyAtom::to_value).collect())
            .unwrap_or_default();
        let mut p = self.part_remove(id, c)?;
        p.res.agg_key = key;
        p.res.missing.clone_from(&spec.missing_pos);
        Some(p.res)
    }

    /// Keeps the live partials and the completed candidates held for their
    /// trailing check within `max_partials` together: the oldest live
    /// partials go first, then the oldest held candidates, each counted as
    /// evicted.
    fn enforce_cap(&mut self, sink: &mut Sink<'_, H>) {
        while self.live + self.held.len() > self.limits.max_partials {
            if self.live > 0 {
                let h = self.head;
                if self.part_remove(h, sink.c).is_none() {
                    break;
                }
            } else if self.held.is_empty() {
                break;
            } else {
                self.pop_held(false, sink);
            }
            sink.c.evicted_partials += 1;
        }
    }

    /// Puts a detached partial into the slot of `stage`, replacing (most
    /// recent wins) what was there.
    fn place(&mut self, id: u32, stage: usize, c: &mut Counters) {
        let Some(kid) = self.part(id).map(|p| p.key) else {
            return;
        };
        let old = self
            .key_entry(kid)
            .and_then(|e| e.slots.get(stage).copied())
            .unwrap_or(NIL);
        if old != NIL && old != id {
            self.part_remove(old, c);
        }
        if let Some(e) = self.key_entry(kid) {
            if let Some(s) = e.slots.get_mut(stage) {
                *s = id;
            }
        }
        if let Some(p) = self.part_mut(id) {
            p.stage = stage;
        }
    }

    /// A candidate has all its positive events (the last at `ts`): checked
    /// against the missing steps, then emitted, dropped or held.
    fn complete(&mut self, spec: &SeqSpec, id: u32, ts: i64, sink: &mut Sink<'_, H>) {
        let Some((start, leading, doomed)) = self.part(id).map(|p| (p.start, p.leading, p.doomed))
        else {
            return;
        };
        if doomed {
            self.part_remove(id, sink.c);
            return;
        }
        let span = spec.maxspan.unwrap_or(i64::MAX);
        match (spec.has_leading, spec.has_trailing) {
            (true, false) if leading.is_some_and(|l| ts.saturating_sub(l) <= span) => {
                self.part_remove(id, sink.c);
            }
            (_, false) => {
                if let Some(res) = self.take_result(spec, id, sink.c) {
                    sink.emit(res);
                }
            }
            (false, true) => self.hold(spec, id, ts, start, None, sink),
            (true, true) => match leading {
                Some(l) => self.hold(spec, id, ts, l, None, sink),
                None => self.hold(spec, id, ts, start, Some(true), sink),
            },
        }
    }

    /// Moves a completed partial (last positive event at `last`) to the
    /// held queue.
    fn hold(
        &mut self,
        spec: &SeqSpec,
        id: u32,
        last: i64,
        from: i64,
        verdict: Option<bool>,
        sink: &mut Sink<'_, H>,
    ) {
        let Some(kid) = self.part(id).map(|p| p.key) else {
            return;
        };
        // The held entry keeps the key alive for the trailing events.
        if let Some(e) = self.key_entry(kid) {
            e.refs += 1;
        }
        let Some(res) = self.take_result(spec, id, sink.c) else {
            self.key_release(kid, sink.c);
            return;
        };
        let n = self.held_base + self.held.len() as u64;
        if verdict.is_none() {
            if let Some(e) = self.key_entry(kid) {
                e.trailing.push(n);
            }
        }
        self.held.push_back(Held {
            key: kid,
            res,
            after: ms_floor(last).saturating_add(NANOS_PER_MS),
            from,
            verdict,
        });
        sink.c.add_partial(std::mem::size_of::<Held<H>>());
        self.enforce_cap(sink);
        self.flush_held(spec, Some(last), sink);
    }

    /// Removes the front held candidate, emitting it when `keep`.
    fn pop_held(&mut self, keep: bool, sink: &mut Sink<'_, H>) {
        let Some(h) = self.held.pop_front() else {
            return;
        };
        let n = self.held_base;
        self.held_base += 1;
        if let Some(e) = self.key_entry(h.key) {
            e.trailing.retain(|x| *x != n);
        }
        self.key_release(h.key, sink.c);
        sink.c.del_partial(std::mem::size_of::<Held<H>>());
        if keep {
            sink.emit(h.res);
        }
    }

    /// Emits or drops the held candidates at the front that are decided:
    /// by their first trailing event, by time (`now` more than `maxspan`
    /// after their reference: any later trailing event is too), or by the
    /// end of the input (`now` = `None`: no trailing event came).
    fn flush_held(&mut self, spec: &SeqSpec, now: Option<i64>, sink: &mut Sink<'_, H>) {
        let span = spec.maxspan.unwrap_or(i64::MAX);
        while let Some(h) = self.held.front() {
            let keep = match (h.verdict, now) {
                (Some(v), _) => v,
                (None, None) => true,
                (None, Some(now)) if now.saturating_sub(h.from) > span => true,
                (None, Some(_)) => break,
            };
            self.pop_held(keep, sink);
        }
    }

    /// Drops the queue entries that no longer match their key's time (the
    /// key was seen again, or forgotten), keeping one entry per live key, so
    /// that the queue stays proportional to the live keys even when the same
    /// key repeats within `maxspan`.
    fn compact_leading(&mut self) {
        if self.leading_q.len() <= 2 * self.leading.len() + 16 {
            return;
        }
        let live = &self.leading;
        let mut seen: std::collections::HashSet<Key> = std::collections::HashSet::new();
        self.leading_q
            .retain(|(t, k)| live.get(k).map(|x| x.0) == Some(*t) && seen.insert(k.clone()));
    }

    /// Entries of the leading-missing queue (tests).
    #[cfg(test)]
    pub(crate) fn leading_queue_len(&self) -> usize {
        self.leading_q.len()
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
                Some(Role::Middle(s)) => {
                    if let Some(kid) = self.key_get(&h.key) {
                        let id = self
                            .key_entry(kid)
                            .and_then(|e| e.slots.get(s).copied())
                            .unwrap_or(NIL);
                        if let Some(p) = self.part_mut(id) {
                            if p.mid.is_none() && ms_floor(h.ts) > ms_floor(p.last) {
                                p.mid = Some(h.ts);
                            }
                        }
                    }
                }
                Some(Role::Leading) if spec.has_leading => {
                    if let Some(x) = self.leading.get_mut(&h.key) {
                        if ms_floor(h.ts) > ms_floor(x.0) {
                            x.1 = Some(x.0);
                        }
                        x.0 = h.ts;
                    } else {
                        self.leading.insert(h.key.clone(), (h.ts, None));
                        sink.c
                            .add_key(std::mem::size_of::<Key>() * 2 + 2 * key_bytes(&h.key));
                    }
                    self.leading_q.push_back((h.ts, h.key.clone()));
                    self.compact_leading();
                    while self.leading.len() > self.limits.max_keys {
                        let Some((_, k)) = self.leading_q.pop_front() else {
                            break;
                        };
                        if self.leading.remove(&k).is_some() {
                            sink.c
                                .del_key(std::mem::size_of::<Key>() * 2 + 2 * key_bytes(&k));
                            sink.c.evicted_keys += 1;
                        }
                    }
                }
                Some(Role::Leading) => {}
                Some(Role::Trailing) => self.on_trailing(spec, h, sink),
                None => {}
            },
        }
    }

    /// An event of a trailing missing step: the first one after a held
    /// candidate of its key decides it.
    fn on_trailing(&mut self, spec: &SeqSpec, h: &Hit, sink: &mut Sink<'_, H>) {
        let span = spec.maxspan.unwrap_or(i64::MAX);
        let Some(kid) = self.key_get(&h.key) else {
            return;
        };
        let waiting: smallvec::SmallVec<[u64; 2]> = self
            .key_entry(kid)
            .map(|e| e.trailing.clone())
            .unwrap_or_default();
        let base = self.held_base;
        let at = |n: u64| usize::try_from(n.saturating_sub(base)).unwrap_or(usize::MAX);
        let mut decided = false;
        for n in waiting {
            if let Some(x) = self.held.get_mut(at(n)) {
                if x.verdict.is_none() && h.ts >= x.after {
                    x.verdict = Some(h.ts.saturating_sub(x.from) > span);
                    decided = true;
                }
            }
        }
        if !decided {
            return;
        }
        let held = &self.held;
        if let Some(e) = self.keys.get_mut(kid as usize).and_then(Option::as_mut) {
            e.trailing
                .retain(|n| held.get(at(*n)).is_some_and(|x| x.verdict.is_none()));
        }
        self.flush_held(spec, Some(h.ts), sink);
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

// ---------------------------------------------------------------------------
// Snapshots

/// A partial sequence in a snapshot; `key` indexes [`SeqSnap::keys`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
struct PartSnap<H> {
    key: u32,
    stage: u32,
    start: i64,
    last: i64,
    mid: Option<i64>,
    doomed: bool,
    leading: Option<i64>,
    res: ResSnap<H>,
}

/// A completed candidate waiting for its trailing check, in a snapshot.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
struct HeldSnap<H> {
    key: u32,
    after: i64,
    from: i64,
    verdict: Option<bool>,
    res: ResSnap<H>,
}

/// The latest leading missing events of one key, in a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
struct LeadSnap {
    key: Vals,
    latest: i64,
    earlier: Option<i64>,
}

/// A sequence rule's state in a snapshot: its join keys, its partials in
/// expiry order (the list's), its held candidates in completion order,
/// and its leading missing events (by key, and in the order they expire).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub(crate) struct SeqSnap<H> {
    keys: Vec<Vals>,
    parts: Vec<PartSnap<H>>,
    held: Vec<HeldSnap<H>>,
    leading: Vec<LeadSnap>,
    leading_queue: Vec<(i64, Vals)>,
}

impl<H: Clone> Seq<H> {
    pub(crate) fn save(&self) -> SeqSnap<H> {
        let mut table = vec![u32::MAX; self.keys.len()];
        let mut keys = Vec::new();
        for (kid, e) in self.keys.iter().enumerate() {
            if let (Some(e), Some(t)) = (e, table.get_mut(kid)) {
                *t = keys.len() as u32;
                keys.push(Vals::of_atoms(&e.key));
            }
        }
        let at = |kid: u32| table.get(kid as usize).copied().unwrap_or(u32::MAX);
        let mut parts = Vec::with_capacity(self.live);
        let mut id = self.head;
        while let Some(p) = self.part(id) {
            if parts.len() >= self.parts.len() {
                break;
            }
            parts.push(PartSnap {
                key: at(p.key),
                stage: p.stage as u32,
                start: p.start,
                last: p.last,
                mid: p.mid,
                doomed: p.doomed,
                leading: p.leading,
                res: ResSnap::of(&p.res),
            });
            id = p.next;
        }
        let mut leading: Vec<(&Key, &(i64, Option<i64>))> = self.leading.iter().collect();
        leading.sort_unstable_by(|a, b| a.0.cmp(b.0));
        SeqSnap {
            keys,
            parts,
            held: self
                .held
                .iter()
                .map(|h| HeldSnap {
                    key: at(h.key),
                    after: h.after,
                    from: h.from,
                    verdict: h.verdict,
                    res: ResSnap::of(&h.res),
                })
                .collect(),
            leading: leading
                .into_iter()
                .map(|(k, &(latest, earlier))| LeadSnap {
                    key: Vals::of_atoms(k),
                    latest,
                    earlier,
                })
                .collect(),
            leading_queue: self
                .leading_q
                .iter()
                .map(|(t, k)| (*t, Vals::of_atoms(k)))
                .collect(),
        }
    }

    /// Restores `snap` into this fresh state; `fields`: the pipe captures
    /// of the rule.
    pub(crate) fn load(
        &mut self,
        spec: &SeqSpec,
        snap: SeqSnap<H>,
        fields: usize,
        cx: &Load<'_>,
        c: &mut Counters,
    ) -> Result<(), SnapshotError> {
        let limits = cx.limits;
        cx.within(
            "partial sequences",
            "max_partials",
            snap.parts.len(),
            limits.max_partials,
        )?;
        cx.within(
            "sequences waiting for a trailing missing event",
            "max_partials",
            snap.held.len(),
            limits.max_partials,
        )?;
        cx.within(
            "leading missing events",
            "max_keys",
            snap.leading.len(),
            limits.max_keys,
        )?;
        for k in &snap.keys {
            let key = cx.key(k)?;
            cx.check(!self.map.contains_key(&key), "a join key twice")?;
            self.key_intern(spec, &key, c);
        }
        let known = |kid: u32| (kid as usize) < snap.keys.len();
        for p in snap.parts {
            let stage = p.stage as usize;
            cx.check(known(p.key), "a partial sequence of an unknown key")?;
            cx.check(
                stage >= 1 && stage < spec.m,
                "a partial sequence at a stage the sequence does not have",
            )?;
            let res = cx.res(p.res, fields)?;
            cx.check(
                res.events.len() == stage,
                "a partial sequence whose events are not its stage's",
            )?;
            let taken = self
                .key_entry(p.key)
                .and_then(|e| e.slots.get(stage).copied())
                .is_some_and(|id| id != NIL);
            cx.check(!taken, "two partial sequences in one slot")?;
            let part = Partial {
                key: p.key,
                stage,
                start: p.start,
                last: p.last,
                mid: p.mid,
                doomed: p.doomed,
                leading: p.leading,
                res,
                prev: NIL,
                next: NIL,
            };
            let id = self.part_add(part, NIL, c);
            self.place(id, stage, c);
        }
        cx.check(
            spec.has_trailing || snap.held.is_empty(),
            "held sequences without a trailing missing step",
        )?;
        for h in snap.held {
            cx.check(known(h.key), "a held sequence of an unknown key")?;
            let res = cx.res(h.res, fields)?;
            cx.check(
                res.events.len() == spec.m,
                "a held sequence that is not complete",
            )?;
            let n = self.held.len() as u64;
            if let Some(e) = self.key_entry(h.key) {
                e.refs += 1;
                if h.verdict.is_none() {
                    e.trailing.push(n);
                }
            }
            self.held.push_back(Held {
                key: h.key,
                res,
                after: h.after,
                from: h.from,
                verdict: h.verdict,
            });
            c.add_partial(std::mem::size_of::<Held<H>>());
        }
        cx.check(
            self.keys.iter().flatten().all(|e| e.refs > 0),
            "a join key that nothing holds",
        )?;
        cx.check(
            spec.has_leading || (snap.leading.is_empty() && snap.leading_queue.is_empty()),
            "leading missing events without a leading missing step",
        )?;
        for l in snap.leading {
            let key = cx.key(&l.key)?;
            cx.check(!self.leading.contains_key(&key), "a leading key twice")?;
            c.add_key(std::mem::size_of::<Key>() * 2 + 2 * key_bytes(&key));
            self.leading.insert(key, (l.latest, l.earlier));
        }
        for (t, k) in snap.leading_queue {
            self.leading_q.push_back((t, cx.key(&k)?));
        }
        let queued: std::collections::HashSet<(i64, &Key)> =
            self.leading_q.iter().map(|(t, k)| (*t, k)).collect();
        cx.check(
            self.leading.iter().all(|(k, x)| queued.contains(&(x.0, k))),
            "a leading missing event that never expires",
        )?;
        Ok(())
    }

    /// Calls `f` with every handle the state holds.
    pub(crate) fn for_each_handle<'a>(&'a self, f: &mut dyn FnMut(&'a H)) {
        for p in self.parts.iter().flatten() {
            p.res.events.iter().for_each(&mut *f);
        }
        for h in &self.held {
            h.res.events.iter().for_each(&mut *f);
        }
    }
}
