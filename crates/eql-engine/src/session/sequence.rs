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
//! Missing events (`![...]`): a middle one drops the partial waiting for the
//! next positive step of the same key; a trailing one holds the completed
//! sequence until `start + maxspan` has passed (then it is emitted, or at
//! `finish`) and drops it when a matching event comes within that window; a
//! leading one remembers its last time per key and rejects a sequence whose
//! last positive event is within `maxspan` of it.

use super::keys::{key_bytes, Key};
use super::pipes::Res;
use super::time::TICKS_PER_MS;
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
    /// In ticks.
    pub(crate) maxspan: Option<i64>,
    has_trailing: bool,
    has_leading: bool,
    /// Python semantics (`maxspan` in whole seconds, checked on every event
    /// of the steps' categories).
    pub(crate) py: bool,
}

#[derive(Clone)]
struct Partial<H> {
    key: u32,
    /// `1..m`: waiting for positive step `stage`; `m`: complete, waiting out
    /// trailing missing events.
    stage: usize,
    start: i64,
    leading: Option<i64>,
    res: Res<H>,
    prev: u32,
    next: u32,
}

struct KeyEntry {
    key: Key,
    slots: smallvec::SmallVec<[u32; 4]>,
    trailing: smallvec::SmallVec<[u32; 2]>,
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
    leading: HashMap<Key, i64>,
    leading_q: VecDeque<(i64, Key)>,
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
                .unwrap_or(i64::MAX / TICKS_PER_MS)
                .saturating_mul(TICKS_PER_MS)
        });
        let has_trailing = roles.contains(&Role::Trailing) && maxspan.is_some();
        let has_leading = roles.contains(&Role::Leading) && maxspan.is_some();
        SeqSpec {
            until: s.until.as_ref().map(|u| StepSpec::new(&s.by, u, 0)),
            steps,
            roles,
            m,
            maxspan,
            has_trailing,
            has_leading,
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
            e.trailing.retain(|t| *t != id);
        }
        self.key_release(p.key, c);
        self.live -= 1;
        c.del_partial(std::mem::size_of::<Partial<H>>());
        Some(p)
    }

    /// Removes a finished partial and returns its result with the join key.
    fn take_result(&mut self, id: u32, c: &mut Counters) -> Option<Res<H>> {
        let key: Vec<eql_plan::Value<'static>> = self
            .part(id)
            .and_then(|p| self.keys.get(p.key as usize))
            .and_then(Option::as_ref)
            .map(|e| e.key.iter().map(super::keys::KeyAtom::to_value).collect())
            .unwrap_or_default();
        let mut p = self.part_remove(id, c)?;
        p.res.agg_key = key;
        Some(p.res)
    }

    fn enforce_cap(&mut self, c: &mut Counters) {
        while self.live > self.limits.max_partials {
            let h = self.head;
            if self.part_remove(h, c).is_none() {
                break;
            }
            c.evicted_partials += 1;
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

    fn complete(&mut self, spec: &SeqSpec, id: u32, ts: i64, sink: &mut Sink<'_, H>) {
        let Some((kid, leading)) = self.part(id).map(|p| (p.key, p.leading)) else {
            return;
        };
        if let (Some(lt), Some(span)) = (leading, spec.maxspan) {
            if lt >= ts.saturating_sub(span) {
                self.part_remove(id, sink.c);
                return;
            }
        }
        if spec.has_trailing {
            let m = spec.m;
            if let Some(p) = self.part_mut(id) {
                p.stage = m;
            }
            if let Some(e) = self.key_entry(kid) {
                e.trailing.push(id);
            }
            return;
        }
        if let Some(res) = self.take_result(id, sink.c) {
            sink.emit(res);
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
            .retain(|(t, k)| live.get(k) == Some(t) && seen.insert(k.clone()));
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
                        if id != NIL {
                            self.part_remove(id, sink.c);
                        }
                    }
                }
                Some(Role::Leading) if spec.has_leading => {
                    if self.leading.insert(h.key.clone(), h.ts).is_none() {
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
                Some(Role::Trailing) => {
                    let Some(span) = spec.maxspan else {
                        return;
                    };
                    if let Some(kid) = self.key_get(&h.key) {
                        let ids: Vec<u32> = self
                            .key_entry(kid)
                            .map(|e| e.trailing.to_vec())
                            .unwrap_or_default();
                        for id in ids {
                            if self
                                .part(id)
                                .is_some_and(|p| h.ts.saturating_sub(p.start) <= span)
                            {
                                self.part_remove(id, sink.c);
                            }
                        }
                    }
                }
                None => {}
            },
        }
    }

    fn start(&mut self, spec: &SeqSpec, h: &Hit, handle: &H, sink: &mut Sink<'_, H>) {
        let leading = if spec.has_leading {
            self.leading.get(&h.key).copied()
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
        self.enforce_cap(sink.c);
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
            p.res.events.push(handle.clone());
            p.res.add_caps(&h.caps);
        }
        if s + 1 >= spec.m {
            self.complete(spec, work, h.ts, sink);
        } else {
            self.place(work, s + 1, sink.c);
        }
        self.enforce_cap(sink.c);
    }

    /// Drops (or, when waiting out trailing missing events, emits) every
    /// partial that started more than `maxspan` before `now`.
    pub(crate) fn expire(&mut self, spec: &SeqSpec, now: i64, sink: &mut Sink<'_, H>) {
        let Some(span) = spec.maxspan else {
            return;
        };
        while let Some(p) = self.part(self.head) {
            if now.saturating_sub(p.start) <= span {
                break;
            }
            let done = p.stage == spec.m && spec.has_trailing;
            let h = self.head;
            if done {
                if let Some(res) = self.take_result(h, sink.c) {
                    sink.emit(res);
                }
            } else if self.part_remove(h, sink.c).is_some() {
                sink.c.expired += 1;
            }
        }
        while let Some((t, _)) = self.leading_q.front() {
            if now.saturating_sub(*t) <= span {
                break;
            }
            if let Some((t, k)) = self.leading_q.pop_front() {
                if self.leading.get(&k) == Some(&t) {
                    self.leading.remove(&k);
                    sink.c
                        .del_key(std::mem::size_of::<Key>() * 2 + 2 * key_bytes(&k));
                }
            }
        }
    }

    /// End of input: sequences waiting out trailing missing events are emitted.
    pub(crate) fn finish(&mut self, spec: &SeqSpec, sink: &mut Sink<'_, H>) {
        if !spec.has_trailing {
            return;
        }
        let mut id = self.head;
        while id != NIL {
            let Some(p) = self.part(id) else {
                break;
            };
            let next = p.next;
            if p.stage == spec.m {
                if let Some(res) = self.take_result(id, sink.c) {
                    sink.emit(res);
                }
            }
            id = next;
        }
    }
}
