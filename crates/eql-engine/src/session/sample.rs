//! `sample by`: unordered groups of events sharing a join key.
//!
//! Elasticsearch: one *distinct* event per filter (an event matching several
//! filters fills only one of them; the assignment backtracks), events listed
//! in filter order, at most `max_samples_per_key` samples per key. Each filter
//! keeps at most as many candidates per key as there are filters, which is
//! enough for a distinct assignment to exist whenever one exists over all the
//! events seen. Completed samples are held (handles only) and emitted at
//! `finish` in join-key order, as Elasticsearch orders them (at most
//! `max_keys` are held; past that they are emitted early); with
//! `SessionOptions::samples_on_completion` they are emitted as they complete.
//!
//! Python: every matching event is appended to the key's list and a sample is
//! emitted at N events; filter identity is ignored (the same event can fill
//! several slots).

use super::keys::{key_bytes, Key};
use super::pipes::Res;
use super::{Hit, HitKind, SessionLimits, Sink, StepSpec};
use eql_plan::Value;
use eql_syntax::Sample as SampleAst;
use std::collections::{HashMap, VecDeque};

type Cand<H> = (u64, H, Vec<(u16, Option<Value<'static>>)>);

struct Entry<H> {
    cands: Vec<Vec<Cand<H>>>,
    done: usize,
    seq: u64,
    bytes: usize,
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
    map: HashMap<Key, Entry<H>>,
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
            map: HashMap::new(),
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
            self.seq += 1;
            let bytes = std::mem::size_of::<Entry<H>>() + 2 * key_bytes(&h.key);
            sink.c.add_key(bytes);
            self.map.insert(
                h.key.clone(),
                Entry {
                    cands: (0..n).map(|_| Vec::new()).collect(),
                    done: 0,
                    seq: self.seq,
                    bytes,
                },
            );
            self.order.push_back((self.seq, h.key.clone()));
            self.evict(sink);
        }
        let max_per_key = self.limits.max_samples_per_key;
        let py = spec.py;
        let Some(e) = self.map.get_mut(&h.key) else {
            return;
        };
        if py {
            // One list; emitted at N events.
            if let Some(list) = e.cands.get_mut(0) {
                list.push((id, handle.clone(), h.caps.clone()));
                if list.len() >= n {
                    let mut res = Res::empty();
                    res.agg_key = h.key.iter().map(super::keys::KeyAtom::to_value).collect();
                    for (_, hd, caps) in list.drain(..) {
                        res.events.push(hd);
                        res.add_caps(&caps);
                    }
                    sink.emit(res);
                }
            }
            return;
        }
        if e.done >= max_per_key {
            return;
        }
        if let Some(list) = e.cands.get_mut(i as usize) {
            if list.len() < n {
                list.push((id, handle.clone(), h.caps.clone()));
            }
        }
        let mut pick = vec![usize::MAX; n];
        if assign(&e.cands, 0, &mut pick) {
            let ids: Vec<u64> = pick
                .iter()
                .enumerate()
                .filter_map(|(f, &c)| e.cands.get(f).and_then(|l| l.get(c)).map(|x| x.0))
                .collect();
            let mut res = Res::empty();
            res.agg_key = h.key.iter().map(super::keys::KeyAtom::to_value).collect();
            for (f, &c) in pick.iter().enumerate() {
                if let Some((_, hd, caps)) = e.cands.get(f).and_then(|l| l.get(c)) {
                    res.events.push(hd.clone());
                    res.add_caps(caps);
                }
            }
            for l in &mut e.cands {
                l.retain(|x| !ids.contains(&x.0));
            }
            e.done += 1;
            if e.done >= max_per_key {
                for l in &mut e.cands {
                    l.clear();
                    l.shrink_to_fit();
                }
            }
            if self.on_completion {
                sink.emit(res);
            } else {
                self.done.push((h.key.clone(), res));
                if self.done.len() >= self.limits.max_keys {
                    // Bounded memory: past `max_keys` held samples, they are
                    // emitted now (in key order among themselves).
                    self.finish(sink);
                }
            }
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
    }

    /// End of input: the held samples, by join key (stable within a key).
    pub(crate) fn finish(&mut self, sink: &mut Sink<'_, H>) {
        let mut done = std::mem::take(&mut self.done);
        done.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, res) in done {
            sink.emit(res);
        }
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
