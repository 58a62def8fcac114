//! A rule's pipes in a snapshot: each stage's buffer or seen keys
//! ([`StageSnap`]), written in a stable order and restored checked against
//! the pipe it belongs to.

use super::{PipeChain, PipeSpec, Stage, StageSpec};
use crate::session::keys::{Key, KeyHasher, KeyMap, KeySet};
use crate::session::snapshot::{Load, ResSnap, Vals};
use crate::session::SnapshotError;
use std::collections::VecDeque;

/// One pipe stage's state in a snapshot.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) enum StageSnap<H> {
    Head(u64),
    Tail(Vec<ResSnap<H>>),
    Filter,
    /// The keys seen, sorted.
    Unique(Vec<Vals>),
    /// Per key, in first-seen order: the key, its first result and its count.
    UniqueCount(Vec<(Vals, ResSnap<H>, u64)>),
    /// Per key, in first-seen order: the key, the key as shown and its count.
    Count(Vec<(Vals, Vals, u64)>),
    /// The buffered results with their sort values, in arrival order.
    Sort(Vec<(Vals, ResSnap<H>)>),
}

/// The keys of `index` by entry position (`None` where no key points).
fn keys_by_entry(index: &KeyMap<usize>, entries: usize) -> Vec<Option<&Key>> {
    let mut out = vec![None; entries];
    for (k, &i) in index {
        if let Some(slot) = out.get_mut(i) {
            *slot = Some(k);
        }
    }
    out
}

impl<H: Clone> PipeChain<H> {
    pub(crate) fn save(&self) -> Vec<StageSnap<H>> {
        let key = |k: Option<&Key>| k.map(Vals::of_atoms).unwrap_or_default();
        self.stages
            .iter()
            .map(|st| match st {
                Stage::Head { seen } => StageSnap::Head(*seen),
                Stage::Tail { buf } => StageSnap::Tail(buf.iter().map(ResSnap::of).collect()),
                Stage::Filter => StageSnap::Filter,
                Stage::Unique { seen } => {
                    let mut keys: Vec<&Key> = seen.iter().collect();
                    keys.sort_unstable();
                    StageSnap::Unique(keys.into_iter().map(Vals::of_atoms).collect())
                }
                Stage::UniqueCount { index, entries } => StageSnap::UniqueCount(
                    keys_by_entry(index, entries.len())
                        .into_iter()
                        .zip(entries)
                        .map(|(k, (r, n))| (key(k), ResSnap::of(r), *n))
                        .collect(),
                ),
                Stage::Count { index, entries } => StageSnap::Count(
                    keys_by_entry(index, entries.len())
                        .into_iter()
                        .zip(entries)
                        .map(|(k, (shown, n))| (key(k), Vals::of_values(shown), *n))
                        .collect(),
                ),
                Stage::Sort { buf } => StageSnap::Sort(
                    buf.iter()
                        .map(|(vals, r)| (Vals::of_options(vals), ResSnap::of(r)))
                        .collect(),
                ),
            })
            .collect()
    }

    /// Restores `snap` into this fresh chain (built from `spec`).
    pub(crate) fn load(
        &mut self,
        spec: &PipeSpec,
        snap: Vec<StageSnap<H>>,
        cx: &Load<'_>,
    ) -> Result<(), SnapshotError> {
        cx.check(
            snap.len() == spec.stages.len(),
            "pipe states and pipes disagree",
        )?;
        let fields = spec.fields.len();
        let mut stages = Vec::with_capacity(snap.len());
        for (st, sp) in snap.into_iter().zip(&spec.stages) {
            stages.push(match (st, sp) {
                (StageSnap::Head(seen), &StageSpec::Head(n)) => {
                    cx.check(seen <= n, "a head past its count")?;
                    Stage::Head { seen }
                }
                (StageSnap::Tail(buf), &StageSpec::Tail(n)) => {
                    cx.check(buf.len() <= n, "a tail past its count")?;
                    let mut out = VecDeque::with_capacity(buf.len());
                    for r in buf {
                        out.push_back(cx.res(r, fields)?);
                    }
                    Stage::Tail { buf: out }
                }
                (StageSnap::Filter, StageSpec::Filter(_)) => Stage::Filter,
                (StageSnap::Unique(keys), StageSpec::Unique(_)) => {
                    cx.within(
                        "the keys of a unique pipe",
                        "max_keys",
                        keys.len(),
                        self.max_keys.max(1),
                    )?;
                    let mut seen =
                        KeySet::with_capacity_and_hasher(keys.len(), KeyHasher::default());
                    for k in &keys {
                        cx.check(seen.insert(cx.key(k)?), "a unique key twice")?;
                    }
                    Stage::Unique { seen }
                }
                (StageSnap::UniqueCount(items), StageSpec::UniqueCount(_)) => {
                    let mut index =
                        KeyMap::with_capacity_and_hasher(items.len(), KeyHasher::default());
                    let mut entries = Vec::with_capacity(items.len());
                    for (k, r, n) in items {
                        let fresh = index.insert(cx.key(&k)?, entries.len()).is_none();
                        cx.check(fresh, "a counted key twice")?;
                        entries.push((cx.res(r, fields)?, n));
                    }
                    Stage::UniqueCount { index, entries }
                }
                (StageSnap::Count(items), StageSpec::Count(_)) => {
                    let mut index =
                        KeyMap::with_capacity_and_hasher(items.len(), KeyHasher::default());
                    let mut entries = Vec::with_capacity(items.len());
                    for (k, shown, n) in items {
                        let fresh = index.insert(cx.key(&k)?, entries.len()).is_none();
                        cx.check(fresh, "a counted key twice")?;
                        entries.push((cx.values(&shown)?, n));
                    }
                    Stage::Count { index, entries }
                }
                (StageSnap::Sort(items), StageSpec::Sort(_)) => {
                    let mut buf = Vec::with_capacity(items.len());
                    for (vals, r) in items {
                        buf.push((cx.options(&vals)?, cx.res(r, fields)?));
                    }
                    Stage::Sort { buf }
                }
                _ => return Err(cx.invalid("a pipe state of another kind than the pipe")),
            });
        }
        self.stages = stages;
        Ok(())
    }

    /// Calls `f` with every handle the buffers hold.
    pub(crate) fn for_each_handle<'a>(&'a self, f: &mut dyn FnMut(&'a H)) {
        for st in &self.stages {
            match st {
                Stage::Tail { buf } => buf.iter().for_each(|r| r.events.iter().for_each(&mut *f)),
                Stage::UniqueCount { entries, .. } => entries
                    .iter()
                    .for_each(|(r, _)| r.events.iter().for_each(&mut *f)),
                Stage::Sort { buf } => buf
                    .iter()
                    .for_each(|(_, r)| r.events.iter().for_each(&mut *f)),
                Stage::Head { .. } | Stage::Filter | Stage::Unique { .. } | Stage::Count { .. } => {
                }
            }
        }
    }
}
