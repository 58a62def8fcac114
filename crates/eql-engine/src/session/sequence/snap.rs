//! A sequence rule's state in a snapshot ([`SeqSnap`]): written from the
//! state in expiry and completion order, and restored through the same
//! storage code that builds it while events are pushed.

use super::{Held, Partial, Seq, SeqSpec, NIL};
use crate::session::keys::{key_bytes, Key};
use crate::session::snapshot::{Load, ResSnap, Vals};
use crate::session::{Counters, SnapshotError};

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
        let keys = snap.keys.len();
        for p in snap.parts {
            self.load_part(spec, p, keys, fields, cx, c)?;
        }
        cx.check(
            spec.has_trailing || snap.held.is_empty(),
            "held sequences without a trailing missing step",
        )?;
        for h in snap.held {
            self.load_held(spec, h, keys, fields, cx, c)?;
        }
        cx.check(
            self.keys.iter().flatten().all(|e| e.refs > 0),
            "a join key that nothing holds",
        )?;
        self.load_leading(spec, snap.leading, snap.leading_queue, cx, c)
    }

    /// Restores one partial (its key one of the `keys` restored), linked
    /// at the tail of the list.
    fn load_part(
        &mut self,
        spec: &SeqSpec,
        p: PartSnap<H>,
        keys: usize,
        fields: usize,
        cx: &Load<'_>,
        c: &mut Counters,
    ) -> Result<(), SnapshotError> {
        let stage = p.stage as usize;
        cx.check(
            (p.key as usize) < keys,
            "a partial sequence of an unknown key",
        )?;
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
        Ok(())
    }

    /// Restores one held candidate (its key one of the `keys` restored) at
    /// the back of the held queue.
    fn load_held(
        &mut self,
        spec: &SeqSpec,
        h: HeldSnap<H>,
        keys: usize,
        fields: usize,
        cx: &Load<'_>,
        c: &mut Counters,
    ) -> Result<(), SnapshotError> {
        cx.check((h.key as usize) < keys, "a held sequence of an unknown key")?;
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
        Ok(())
    }

    /// Restores the leading missing events and their expiry queue, which
    /// must hold every one of them.
    fn load_leading(
        &mut self,
        spec: &SeqSpec,
        leading: Vec<LeadSnap>,
        queue: Vec<(i64, Vals)>,
        cx: &Load<'_>,
        c: &mut Counters,
    ) -> Result<(), SnapshotError> {
        cx.check(
            spec.has_leading || (leading.is_empty() && queue.is_empty()),
            "leading missing events without a leading missing step",
        )?;
        for l in leading {
            let key = cx.key(&l.key)?;
            cx.check(!self.leading.contains_key(&key), "a leading key twice")?;
            c.add_key(std::mem::size_of::<Key>() * 2 + 2 * key_bytes(&key));
            self.leading.insert(key, (l.latest, l.earlier));
        }
        for (t, k) in queue {
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
