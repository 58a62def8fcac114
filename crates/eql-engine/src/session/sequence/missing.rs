//! The missing steps (`![...]`) of a sequence: a completed candidate
//! checked against them, the candidates held for their trailing check, and
//! the events of the leading, middle and trailing missing steps (see the
//! parent module for the rules).

use super::{ms_floor, Held, Seq, SeqSpec, NIL};
use crate::session::keys::{key_bytes, Key};
use crate::session::time::NANOS_PER_MS;
use crate::session::{Hit, Sink};

impl<H: Clone> Seq<H> {
    /// A candidate has all its positive events (the last at `ts`): checked
    /// against the missing steps, then emitted, dropped or held.
    pub(super) fn complete(&mut self, spec: &SeqSpec, id: u32, ts: i64, sink: &mut Sink<'_, H>) {
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
    pub(super) fn pop_held(&mut self, keep: bool, sink: &mut Sink<'_, H>) {
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
    pub(super) fn flush_held(&mut self, spec: &SeqSpec, now: Option<i64>, sink: &mut Sink<'_, H>) {
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
        let mut seen = crate::session::keys::KeySet::default();
        self.leading_q
            .retain(|(t, k)| live.get(k).map(|x| x.0) == Some(*t) && seen.insert(k.clone()));
    }

    // ---- events of the missing steps ----------------------------------

    /// An event of a middle missing step: noted by the partial of its key
    /// waiting for positive step `s`, when it is past the partial's last
    /// event's millisecond.
    #[inline]
    pub(super) fn on_middle(&mut self, s: usize, h: &Hit) {
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

    /// An event of a leading missing step: the latest of its key (and the
    /// latest in an earlier millisecond), queued to expire, within
    /// `max_keys` keys.
    pub(super) fn on_leading(&mut self, h: &Hit, sink: &mut Sink<'_, H>) {
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

    /// An event of a trailing missing step: the first one after a held
    /// candidate of its key decides it.
    pub(super) fn on_trailing(&mut self, spec: &SeqSpec, h: &Hit, sink: &mut Sink<'_, H>) {
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
}
