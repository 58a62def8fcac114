//! `sample by`: unordered groups of events sharing a join key.
//!
//! Elasticsearch (`SampleIterator`): a key is sampled when every filter has
//! an event with it. For each key, each filter takes its first
//! `filters + max_samples_per_key − 1` events in index order (the order they
//! were pushed), and a backtracking search over the filters in order picks
//! for each filter its first event not already in the sample; every complete
//! combination is a sample, until `max_samples_per_key` of them. So the
//! events of one sample are distinct and listed in filter order, while two
//! samples of one key may share events. Samples come out at `finish`, by
//! join key in ascending order (null first, numbers by value, strings by
//! bytes), as Elasticsearch's composite aggregation orders them. At most
//! `max_keys` keys are kept: the oldest one past that is sampled from what
//! it has, and at most `max_keys` samples wait for `finish` (past that they
//! are emitted early, in key order among themselves).
//!
//! With `SessionOptions::samples_on_completion` a sample is emitted as soon
//! as each filter has a distinct event for it (each filter keeping as many
//! events as there are filters, an event used by a sample is not used
//! again), which can pick other events than Elasticsearch does.
//!
//! Python: every matching event is appended to the key's list and a sample is
//! emitted at N events; filter identity is ignored (the same event can fill
//! several slots).
//!
//! The state's snapshot is in `snap.rs`.

mod snap;

pub(crate) use snap::SampleSnap;

use super::keys::{key_bytes, Key, KeyAtom, KeyMap};
use super::pipes::Res;
use super::{Hit, HitKind, SessionLimits, Sink, StepSpec};
use eql_plan::Value;
use eql_syntax::Sample as SampleAst;
use std::cmp::Ordering;
use std::collections::VecDeque;

type Cand<H> = (u64, H, Vec<(u16, Option<Value<'static>>)>);

struct Entry<H> {
    /// Per filter: its first events with the key, in index order.
    cands: Vec<Vec<Cand<H>>>,
    /// Samples emitted (`samples_on_completion`).
    done: usize,
    seq: u64,
    bytes: usize,
}

impl<H: Clone> Entry<H> {
    /// Python: one list; a sample is emitted at `n` events.
    #[inline]
    fn take_py(
        &mut self,
        n: usize,
        key: &Key,
        cand: impl FnOnce() -> Cand<H>,
        sink: &mut Sink<'_, H>,
    ) {
        if let Some(list) = self.cands.get_mut(0) {
            list.push(cand());
            if list.len() >= n {
                let mut res = Res::empty();
                res.agg_key = key.iter().map(super::keys::KeyAtom::to_value).collect();
                for (_, hd, caps) in list.drain(..) {
                    res.events.push(hd);
                    res.add_caps(&caps);
                }
                sink.emit(res);
            }
        }
    }

    /// Elasticsearch: keeps the first `cap` events of filter `f` in index
    /// order (`id`: the event's).
    #[inline]
    fn keep_first(&mut self, f: usize, id: u64, cap: usize, cand: impl FnOnce() -> Cand<H>) {
        if let Some(list) = self.cands.get_mut(f) {
            let at = list.partition_point(|c| c.0 < id);
            if at < cap {
                list.insert(at, cand());
                list.truncate(cap);
            }
        }
    }

    /// `samples_on_completion`: adds the event to filter `f` (of `n`) and
    /// emits a sample as soon as every filter has a distinct event, up to
    /// `max_per_key` samples.
    #[inline]
    fn take_completing(
        &mut self,
        f: usize,
        n: usize,
        max_per_key: usize,
        key: &Key,
        cand: impl FnOnce() -> Cand<H>,
        sink: &mut Sink<'_, H>,
    ) {
        if self.done >= max_per_key {
            return;
        }
        if let Some(list) = self.cands.get_mut(f) {
            if list.len() < n {
                list.push(cand());
            }
        }
        let mut pick = vec![usize::MAX; n];
        if assign(&self.cands, 0, &mut pick) {
            let ids: Vec<u64> = pick
                .iter()
                .enumerate()
                .filter_map(|(f, &c)| self.cands.get(f).and_then(|l| l.get(c)).map(|x| x.0))
                .collect();
            let res = sample_of(&self.cands, &pick, key);
            for l in &mut self.cands {
                l.retain(|x| !ids.contains(&x.0));
            }
            self.done += 1;
            if self.done >= max_per_key {
                for l in &mut self.cands {
                    l.clear();
                    l.shrink_to_fit();
                }
            }
            sink.emit(res);
        }
    }
}

/// The compiled shape of a sample (part of a [`super::SessionPlan`]).
#[derive(Clone, Debug)]
pub(crate) struct SampleSpec {
    pub(crate) steps: Vec<StepSpec>,
    pub(crate) py: bool,
}

impl SampleSpec {
    pub(crate) fn new(s: &SampleAst, py: bool) -> Self {
        SampleSpec {
            steps: s
                .steps
                .iter()
                .enumerate()
                .map(|(i, st)| StepSpec::new(&s.by, st, i as u16))
                .collect(),
            py,
        }
    }
}

/// The state of a sample rule.
pub(crate) struct Sample<H> {
    limits: SessionLimits,
    map: KeyMap<Entry<H>>,
    order: VecDeque<(u64, Key)>,
    seq: u64,
    /// Completed samples waiting for `finish` (ES order by join key).
    done: Vec<(Key, Res<H>)>,
    on_completion: bool,
}

impl<H: Clone> Sample<H> {
    pub(crate) fn new(limits: SessionLimits, on_completion: bool) -> Self {
        Sample {
            limits,
            map: KeyMap::default(),
            order: VecDeque::new(),
            seq: 0,
            done: Vec::new(),
            on_completion,
        }
    }

    pub(crate) fn on_hit(
        &mut self,
        spec: &SampleSpec,
        h: &Hit,
        handle: &H,
        id: u64,
        sink: &mut Sink<'_, H>,
    ) {
        let HitKind::Step(i) = h.kind else {
            return;
        };
        let n = spec.steps.len();
        if !self.map.contains_key(&h.key) {
            self.add_key(n, &h.key, spec.py, sink);
        }
        let max_per_key = self.limits.max_samples_per_key;
        let py = spec.py;
        let Some(e) = self.map.get_mut(&h.key) else {
            return;
        };
        let cand = || (id, handle.clone(), h.caps.clone());
        if py {
            e.take_py(n, &h.key, cand, sink);
        } else if !self.on_completion {
            // Elasticsearch: the first hits of each filter in index order,
            // matched at `finish`.
            let cap = n.saturating_add(max_per_key.max(1)).saturating_sub(1);
            e.keep_first(i as usize, id, cap, cand);
        } else {
            e.take_completing(i as usize, n, max_per_key, &h.key, cand, sink);
        }
    }

    /// A new key (filters: `n`), evicting the oldest past `max_keys`.
    fn add_key(&mut self, n: usize, key: &Key, py: bool, sink: &mut Sink<'_, H>) {
        self.seq += 1;
        let bytes = std::mem::size_of::<Entry<H>>() + 2 * key_bytes(key);
        sink.c.add_key(bytes);
        self.map.insert(
            key.clone(),
            Entry {
                cands: (0..n).map(|_| Vec::new()).collect(),
                done: 0,
                seq: self.seq,
                bytes,
            },
        );
        self.order.push_back((self.seq, key.clone()));
        self.evict(py, sink);
    }

    /// Samples a key from the events it has (Elasticsearch mode) and holds
    /// them for `finish`.
    fn close(&mut self, key: Key, e: &Entry<H>) {
        for pick in match_samples(&e.cands, self.limits.max_samples_per_key.max(1)) {
            self.done
                .push((key.clone(), sample_of(&e.cands, &pick, &key)));
        }
    }

    fn evict(&mut self, py: bool, sink: &mut Sink<'_, H>) {
        while self.map.len() > self.limits.max_keys {
            let Some((seq, k)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&k).is_some_and(|e| e.seq == seq) {
                if let Some(e) = self.map.remove(&k) {
                    sink.c.del_key(e.bytes);
                    sink.c.evicted_keys += 1;
                    if !py && !self.on_completion {
                        self.close(k, &e);
                        if self.done.len() >= self.limits.max_keys {
                            // Bounded memory: past `max_keys` held samples,
                            // they are emitted now (in key order among
                            // themselves).
                            self.flush(sink);
                        }
                    }
                }
            }
        }
    }

    /// Emits the held samples by join key (stable within a key).
    fn flush(&mut self, sink: &mut Sink<'_, H>) {
        let mut done = std::mem::take(&mut self.done);
        done.sort_by(|a, b| cmp_keys(&a.0, &b.0).then_with(|| a.0.cmp(&b.0)));
        for (_, res) in done {
            sink.emit(res);
        }
    }

    /// End of input: every key is sampled, and the samples come out by join
    /// key.
    pub(crate) fn finish(&mut self, spec: &SampleSpec, sink: &mut Sink<'_, H>) {
        if !spec.py && !self.on_completion {
            let map = std::mem::take(&mut self.map);
            self.order.clear();
            // Every key's samples, then one flush in key order (at most
            // `max_keys` keys are left, so this stays bounded, and the
            // order does not depend on the map's).
            for (k, e) in map {
                sink.c.del_key(e.bytes);
                self.close(k, &e);
            }
        }
        self.flush(sink);
    }
}

/// The result of one sample: the picked candidate of each filter, in
/// filter order.
fn sample_of<H: Clone>(cands: &[Vec<Cand<H>>], pick: &[usize], key: &Key) -> Res<H> {
    let mut res = Res::empty();
    res.agg_key = key.iter().map(super::keys::KeyAtom::to_value).collect();
    for (f, &c) in pick.iter().enumerate() {
        if let Some((_, hd, caps)) = cands.get(f).and_then(|l| l.get(c)) {
            res.events.push(hd.clone());
            res.add_caps(caps);
        }
    }
    res
}

/// Elasticsearch's `matchSamples`: depth-first over the filters in order,
/// each taking its candidates in order and skipping an event already in the
/// sample; every complete combination is a sample, until `max`. Returns,
/// per sample, the picked candidate of each filter.
fn match_samples<H>(cands: &[Vec<Cand<H>>], max: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    if cands.is_empty() || cands.iter().any(Vec::is_empty) {
        return out;
    }
    // Fewer distinct events than filters: no sample (saves the search).
    let mut ids: Vec<u64> = cands.iter().flatten().map(|c| c.0).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() < cands.len() {
        return out;
    }
    let mut partial = Vec::with_capacity(cands.len());
    samples_from(cands, &mut partial, &mut out, max);
    out
}

/// Extends `partial` (a candidate per filter so far) in every way; true
/// once `out` holds `max` samples.
fn samples_from<H>(
    cands: &[Vec<Cand<H>>],
    partial: &mut Vec<usize>,
    out: &mut Vec<Vec<usize>>,
    max: usize,
) -> bool {
    let f = partial.len();
    let Some(list) = cands.get(f) else {
        return false;
    };
    for (ci, c) in list.iter().enumerate() {
        let used = partial.iter().enumerate().any(|(g, &pc)| {
            cands
                .get(g)
                .and_then(|l| l.get(pc))
                .is_some_and(|x| x.0 == c.0)
        });
        if used {
            continue;
        }
        partial.push(ci);
        if f + 1 == cands.len() {
            out.push(partial.clone());
            if out.len() >= max {
                return true;
            }
        } else if samples_from(cands, partial, out, max) {
            return true;
        }
        partial.pop();
    }
    false
}

/// Elasticsearch's composite-aggregation order of join keys: component by
/// component, null first, then booleans (`false` first), numbers by value,
/// strings by bytes, lists element by element.
fn cmp_keys(a: &Key, b: &Key) -> Ordering {
    for (x, y) in a.iter().zip(b.iter()) {
        let o = cmp_atoms(x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

fn cmp_atoms(a: &KeyAtom, b: &KeyAtom) -> Ordering {
    fn rank(a: &KeyAtom) -> u8 {
        match a {
            KeyAtom::Null => 0,
            KeyAtom::Bool(_) => 1,
            KeyAtom::Int(_) | KeyAtom::Float(_) => 2,
            KeyAtom::Str(_) => 3,
            KeyAtom::List(_) => 4,
        }
    }
    fn num(a: &KeyAtom) -> f64 {
        match a {
            KeyAtom::Int(i) => *i as f64,
            KeyAtom::Float(bits) => f64::from_bits(*bits),
            _ => 0.0,
        }
    }
    match (a, b) {
        (KeyAtom::Bool(x), KeyAtom::Bool(y)) => x.cmp(y),
        (KeyAtom::Int(x), KeyAtom::Int(y)) => x.cmp(y),
        (KeyAtom::Int(_) | KeyAtom::Float(_), KeyAtom::Int(_) | KeyAtom::Float(_)) => {
            num(a).total_cmp(&num(b))
        }
        (KeyAtom::Str(x), KeyAtom::Str(y)) => x.as_bytes().cmp(y.as_bytes()),
        (KeyAtom::List(x), KeyAtom::List(y)) => x
            .iter()
            .zip(y.iter())
            .map(|(l, r)| cmp_atoms(l, r))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Backtracking assignment of distinct events to filters, earliest first.
fn assign<H>(cands: &[Vec<Cand<H>>], f: usize, pick: &mut [usize]) -> bool {
    let Some(list) = cands.get(f) else {
        return true;
    };
    for (ci, c) in list.iter().enumerate() {
        let taken = (0..f).any(|g| {
            pick.get(g)
                .and_then(|&pc| cands.get(g).and_then(|l| l.get(pc)))
                .is_some_and(|x| x.0 == c.0)
        });
        if taken {
            continue;
        }
        if let Some(p) = pick.get_mut(f) {
            *p = ci;
        }
        if assign(cands, f + 1, pick) {
            return true;
        }
    }
    false
}
