//! A sample rule's state in a snapshot ([`SampleSnap`]): its keys in
//! creation order with their candidates, and the samples waiting for
//! `finish`.

use super::{Cand, Entry, Sample, SampleSpec};
use crate::session::keys::key_bytes;
use crate::session::snapshot::{CapsSnap, Load, ResSnap, Vals};
use crate::session::{Counters, SnapshotError};

/// A candidate event of a filter, in a snapshot.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
struct CandSnap<H> {
    id: u64,
    handle: H,
    caps: CapsSnap,
}

/// One key's candidates, in a snapshot.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
struct KeySnap<H> {
    key: Vals,
    cands: Vec<Vec<CandSnap<H>>>,
    done: u64,
}

/// A sample rule's state in a snapshot: its keys in creation order (the
/// order they are evicted in), and the samples waiting for `finish`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub(crate) struct SampleSnap<H> {
    keys: Vec<KeySnap<H>>,
    done: Vec<(Vals, ResSnap<H>)>,
}

impl<H: Clone> Sample<H> {
    /// `SessionOptions::samples_on_completion`, as the sample was built.
    pub(crate) fn on_completion(&self) -> bool {
        self.on_completion
    }

    pub(crate) fn save(&self) -> SampleSnap<H> {
        let keys = self
            .order
            .iter()
            .filter_map(|(seq, k)| {
                let e = self.map.get(k).filter(|e| e.seq == *seq)?;
                Some(KeySnap {
                    key: Vals::of_atoms(k),
                    cands: e
                        .cands
                        .iter()
                        .map(|l| {
                            l.iter()
                                .map(|(id, h, caps)| CandSnap {
                                    id: *id,
                                    handle: h.clone(),
                                    caps: CapsSnap::of(caps),
                                })
                                .collect()
                        })
                        .collect(),
                    done: e.done as u64,
                })
            })
            .collect();
        SampleSnap {
            keys,
            done: self
                .done
                .iter()
                .map(|(k, r)| (Vals::of_atoms(k), ResSnap::of(r)))
                .collect(),
        }
    }

    /// Restores `snap` into this fresh state; `fields`: the pipe captures
    /// of the rule.
    pub(crate) fn load(
        &mut self,
        spec: &SampleSpec,
        snap: SampleSnap<H>,
        fields: usize,
        cx: &Load<'_>,
        c: &mut Counters,
    ) -> Result<(), SnapshotError> {
        let limits = cx.limits;
        cx.within("sample keys", "max_keys", snap.keys.len(), limits.max_keys)?;
        cx.within(
            "samples waiting for the end of the input",
            "max_keys",
            snap.done.len(),
            limits.max_keys,
        )?;
        let n = spec.steps.len();
        let per_key = limits.max_samples_per_key.max(1);
        for (i, k) in snap.keys.into_iter().enumerate() {
            let key = cx.key(&k.key)?;
            cx.check(!self.map.contains_key(&key), "a sample key twice")?;
            cx.check(
                k.cands.len() == n,
                "candidates of filters the sample does not have",
            )?;
            let done = usize::try_from(k.done).unwrap_or(usize::MAX);
            let mut cands = Vec::with_capacity(n);
            for (f, list) in k.cands.into_iter().enumerate() {
                cands.push(self.load_filter(spec, f, list, done, fields, cx)?);
            }
            cx.check(
                done == 0 || (self.on_completion && !spec.py && done <= per_key),
                "more samples of a key than it emitted",
            )?;
            let bytes = std::mem::size_of::<Entry<H>>() + 2 * key_bytes(&key);
            c.add_key(bytes);
            let seq = i as u64 + 1;
            self.order.push_back((seq, key.clone()));
            self.map.insert(
                key,
                Entry {
                    cands,
                    done,
                    seq,
                    bytes,
                },
            );
            self.seq = seq;
        }
        for (k, r) in snap.done {
            self.done.push((cx.key(&k)?, cx.res(r, fields)?));
        }
        Ok(())
    }

    /// Restores the candidates of filter `f` of a key that emitted `done`
    /// samples, checked against what the mode keeps per filter.
    fn load_filter(
        &self,
        spec: &SampleSpec,
        f: usize,
        list: Vec<CandSnap<H>>,
        done: usize,
        fields: usize,
        cx: &Load<'_>,
    ) -> Result<Vec<Cand<H>>, SnapshotError> {
        let n = spec.steps.len();
        let per_key = cx.limits.max_samples_per_key.max(1);
        // What each mode keeps per filter (see `on_hit`).
        let cap = match (spec.py, self.on_completion) {
            (true, _) if f == 0 => n.saturating_sub(1),
            (true, _) => 0,
            (false, false) => n + per_key - 1,
            (false, true) if done >= per_key => 0,
            (false, true) => n,
        };
        cx.within(
            "candidates of a filter",
            "max_samples_per_key",
            list.len(),
            cap,
        )?;
        cx.check(
            list.iter().all(|x| x.id < cx.arrival),
            "a candidate event not pushed",
        )?;
        // Elasticsearch's mode keeps each filter's first events in
        // index order; the others keep them as they run.
        cx.check(
            spec.py || self.on_completion || list.windows(2).all(|w| w[0].id < w[1].id),
            "candidates out of order",
        )?;
        let mut out = Vec::with_capacity(list.len());
        for x in list {
            out.push((x.id, x.handle, cx.caps(&x.caps, fields)?));
        }
        Ok(out)
    }

    /// Calls `f` with every handle the state holds.
    pub(crate) fn for_each_handle<'a>(&'a self, f: &mut dyn FnMut(&'a H)) {
        for e in self.map.values() {
            for (_, h, _) in e.cands.iter().flatten() {
                f(h);
            }
        }
        for (_, r) in &self.done {
            r.events.iter().for_each(&mut *f);
        }
    }
}
