//! Python `join`: unordered; the first event per (key, position) is kept; the
//! join is emitted (events in position order) when every position is filled,
//! and then the key is forgotten; an `until` event forgets its key.

use super::keys::{key_bytes, Key, KeyMap};
use super::pipes::Res;
use super::snapshot::{CapsSnap, Load, Vals};
use super::{Counters, SnapshotError};
use super::{Hit, HitKind, SessionLimits, Sink, StepSpec};
use eql_plan::Value;
use eql_syntax::Join as JoinAst;
use std::collections::VecDeque;

type Slot<H> = Option<(H, Vec<(u16, Option<Value<'static>>)>)>;

struct Entry<H> {
    slots: Vec<Slot<H>>,
    seq: u64,
    bytes: usize,
}

/// The compiled shape of a join (part of a [`super::SessionPlan`]).
#[derive(Clone, Debug)]
pub(crate) struct JoinSpec {
    pub(crate) steps: Vec<StepSpec>,
    pub(crate) until: Option<StepSpec>,
}

impl JoinSpec {
    pub(crate) fn new(j: &JoinAst) -> Self {
        JoinSpec {
            steps: j
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| StepSpec::new(&j.by, s, i as u16))
                .collect(),
            until: j.until.as_ref().map(|u| StepSpec::new(&j.by, u, 0)),
        }
    }
}

/// The state of a join rule.
pub(crate) struct Join<H> {
    limits: SessionLimits,
    map: KeyMap<Entry<H>>,
    /// Keys by creation, for eviction (stale entries are skipped).
    order: VecDeque<(u64, Key)>,
    seq: u64,
}

impl<H: Clone> Join<H> {
    pub(crate) fn new(limits: SessionLimits) -> Self {
        Join {
            limits,
            map: KeyMap::default(),
            order: VecDeque::new(),
            seq: 0,
        }
    }

    pub(crate) fn on_hit(&mut self, spec: &JoinSpec, h: &Hit, handle: &H, sink: &mut Sink<'_, H>) {
        match h.kind {
            HitKind::Until => {
                if let Some(e) = self.map.remove(&h.key) {
                    sink.c.del_key(e.bytes);
                }
            }
            HitKind::Step(i) => {
                let n = spec.steps.len();
                if !self.map.contains_key(&h.key) {
                    self.seq += 1;
                    let bytes = std::mem::size_of::<Entry<H>>()
                        + n * std::mem::size_of::<Slot<H>>()
                        + 2 * key_bytes(&h.key);
                    sink.c.add_key(bytes);
                    self.map.insert(
                        h.key.clone(),
                        Entry {
                            slots: vec![None; n],
                            seq: self.seq,
                            bytes,
                        },
                    );
                    self.order.push_back((self.seq, h.key.clone()));
                    self.evict(sink);
                }
                let Some(e) = self.map.get_mut(&h.key) else {
                    return;
                };
                if let Some(slot @ None) = e.slots.get_mut(i as usize) {
                    *slot = Some((handle.clone(), h.caps.clone()));
                }
                if e.slots.iter().all(Option::is_some) {
                    if let Some(e) = self.map.remove(&h.key) {
                        sink.c.del_key(e.bytes);
                        let mut res = Res::empty();
                        res.agg_key = h.key.iter().map(super::keys::KeyAtom::to_value).collect();
                        for (hd, caps) in e.slots.into_iter().flatten() {
                            res.events.push(hd);
                            res.add_caps(&caps);
                        }
                        sink.emit(res);
                    }
                }
            }
            HitKind::Touch => {}
        }
    }

    fn evict(&mut self, sink: &mut Sink<'_, H>) {
        while self.map.len() > self.limits.max_keys {
            let Some((seq, k)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&k).is_some_and(|e| e.seq == seq) {
                if let Some(e) = self.map.remove(&k) {
                    sink.c.del_key(e.bytes);
                    sink.c.evicted_keys += 1;
                }
            }
        }
        if self.order.len() > 2 * self.map.len() + 16 {
            let map = &self.map;
            self.order
                .retain(|(s, k)| map.get(k).is_some_and(|e| e.seq == *s));
        }
    }
}

// ---------------------------------------------------------------------------
// Snapshots

/// One key's slots, in a snapshot.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
struct KeySnap<H> {
    key: Vals,
    slots: Vec<Option<(H, CapsSnap)>>,
}

/// A join rule's state in a snapshot: its keys in creation order (the
/// order they are evicted in).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub(crate) struct JoinSnap<H> {
    keys: Vec<KeySnap<H>>,
}

impl<H: Clone> Join<H> {
    pub(crate) fn save(&self) -> JoinSnap<H> {
        JoinSnap {
            keys: self
                .order
                .iter()
                .filter_map(|(seq, k)| {
                    let e = self.map.get(k).filter(|e| e.seq == *seq)?;
                    Some(KeySnap {
                        key: Vals::of_atoms(k),
                        slots: e
                            .slots
                            .iter()
                            .map(|s| s.as_ref().map(|(h, caps)| (h.clone(), CapsSnap::of(caps))))
                            .collect(),
                    })
                })
                .collect(),
        }
    }

    /// Restores `snap` into this fresh state; `fields`: the pipe captures
    /// of the rule.
    pub(crate) fn load(
        &mut self,
        spec: &JoinSpec,
        snap: JoinSnap<H>,
        fields: usize,
        cx: &Load<'_>,
        c: &mut Counters,
    ) -> Result<(), SnapshotError> {
        cx.within("join keys", "max_keys", snap.keys.len(), cx.limits.max_keys)?;
        let n = spec.steps.len();
        for (i, k) in snap.keys.into_iter().enumerate() {
            let key = cx.key(&k.key)?;
            cx.check(!self.map.contains_key(&key), "a join key twice")?;
            cx.check(k.slots.len() == n, "slots of steps the join does not have")?;
            let filled = k.slots.iter().filter(|s| s.is_some()).count();
            // A key is made by its first event and emitted at its last.
            cx.check(filled >= 1 && filled < n, "a join key empty or complete")?;
            let mut slots = Vec::with_capacity(n);
            for s in k.slots {
                slots.push(match s {
                    Some((h, caps)) => Some((h, cx.caps(&caps, fields)?)),
                    None => None,
                });
            }
            let bytes = std::mem::size_of::<Entry<H>>()
                + n * std::mem::size_of::<Slot<H>>()
                + 2 * key_bytes(&key);
            c.add_key(bytes);
            let seq = i as u64 + 1;
            self.order.push_back((seq, key.clone()));
            self.map.insert(key, Entry { slots, seq, bytes });
            self.seq = seq;
        }
        Ok(())
    }

    /// Calls `f` with every handle the state holds.
    pub(crate) fn for_each_handle<'a>(&'a self, f: &mut dyn FnMut(&'a H)) {
        for e in self.map.values() {
            for (h, _) in e.slots.iter().flatten() {
                f(h);
            }
        }
    }
}
