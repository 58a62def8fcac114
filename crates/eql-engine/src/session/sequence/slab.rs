//! The sequence state's storage: join keys interned into reference-counted
//! `KeyEntry`s, and partials in a slab threaded on the list ordered by
//! their start time, with the slot of each stage of a key.

use super::{KeyEntry, Partial, Seq, SeqSpec, NIL};
use crate::session::keys::{key_bytes, Key, KeyAtom};
use crate::session::pipes::Res;
use crate::session::{Counters, Sink};

impl<H: Clone> Seq<H> {
    // ---- keys ----------------------------------------------------------

    pub(super) fn key_get(&self, k: &Key) -> Option<u32> {
        self.map.get(k).copied()
    }

    pub(super) fn key_entry(&mut self, kid: u32) -> Option<&mut KeyEntry> {
        self.keys.get_mut(kid as usize).and_then(Option::as_mut)
    }

    pub(super) fn key_intern(&mut self, spec: &SeqSpec, k: &Key, c: &mut Counters) -> u32 {
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

    pub(super) fn key_release(&mut self, kid: u32, c: &mut Counters) {
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

    pub(super) fn part(&self, id: u32) -> Option<&Partial<H>> {
        self.parts.get(id as usize).and_then(Option::as_ref)
    }

    pub(super) fn part_mut(&mut self, id: u32) -> Option<&mut Partial<H>> {
        self.parts.get_mut(id as usize).and_then(Option::as_mut)
    }

    /// Stores a partial, linked after `after` (or at the tail).
    pub(super) fn part_add(&mut self, mut p: Partial<H>, after: u32, c: &mut Counters) -> u32 {
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

    pub(super) fn part_remove(&mut self, id: u32, c: &mut Counters) -> Option<Partial<H>> {
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
    pub(super) fn take_result(
        &mut self,
        spec: &SeqSpec,
        id: u32,
        c: &mut Counters,
    ) -> Option<Res<H>> {
        let key: Vec<eql_plan::Value<'static>> = self
            .part(id)
            .and_then(|p| self.keys.get(p.key as usize))
            .and_then(Option::as_ref)
            .map(|e| e.key.iter().map(KeyAtom::to_value).collect())
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
    pub(super) fn enforce_cap(&mut self, sink: &mut Sink<'_, H>) {
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
    pub(super) fn place(&mut self, id: u32, stage: usize, c: &mut Counters) {
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
}
