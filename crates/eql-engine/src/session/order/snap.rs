//! The ordering state in a snapshot.

use super::super::rule::RulePlan;
use super::super::snapshot::{HitSnap, Load};
use super::super::SnapshotError;
use super::key::{OrderKey, Tie};
use super::{Held, Kind, Orderer};
use crate::StreamOrder;
use std::cmp::Reverse;
use std::sync::Arc;

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
    pub(in crate::session) fn save(&self) -> OrderSnap<H> {
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
    pub(in crate::session) fn load(
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
            self.hold(Held {
                key,
                handle: h.handle,
                hit,
            });
        }
        Ok(())
    }

    /// Calls `f` with every held handle.
    pub(in crate::session) fn for_each_handle<'a>(&'a self, f: &mut dyn FnMut(&'a H)) {
        for h in &self.held {
            f(&h.handle);
        }
        for Reverse(h) in &self.heap {
            f(&h.handle);
        }
    }
}
