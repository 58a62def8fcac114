//! One event through a session: its clock (timestamp, tiebreaker, the
//! rules' own timestamps), the rules due for it (from the session's pack or
//! the caller's answers), their hits, and the state machines, at once
//! ([`StreamOrder::Arrival`]) or through the reorder buffer (`order/`).

use super::order::{self, Tie};
use super::rule::{Body, BodySpec, OwnTs};
use super::time::{self, Stamp};
use super::{Answers, CategoryOf, Event, Hit, LazyCategory, Matches, Session, StreamOrder};

impl<H: Clone> Session<H> {
    /// [`Session::push`], with the step queries' answers when `given`.
    pub(super) fn push_inner(
        &mut self,
        handle: H,
        event: &dyn Event,
        given: Option<&[u32]>,
        out: &mut Matches<H>,
    ) {
        self.stats.events += 1;
        let arrival = self.arrival;
        self.arrival += 1;
        if self.finished {
            // The input is closed: nothing more is evaluated.
            self.stats.late += 1;
            out.late.push(handle);
            return;
        }
        let (stamp, tie) = self.read_clock(event);
        // The time of hits that have none of their own: the Python engine's
        // 0; a stateful rule orders or skips them by `stamp` (order/).
        let ts = stamp.at().unwrap_or(0);
        let own_ties = self.ordering.own_ties(event);
        let mut hits = std::mem::take(&mut self.scratch);
        hits.clear();
        // Rules timed by another field than the session's read it here, once
        // per event: for their steps, and for their `maxspan` expiry.
        let own: OwnTs = self
            .own_ts
            .iter()
            .map(|(field, format)| event.get(field).and_then(|v| time::parse_ts(&v, *format)))
            .collect();
        let mut due = std::mem::take(&mut self.due);
        due.clear();
        self.find_due(event, given, &mut due);
        self.evaluate_due(event, &due, given.is_some(), stamp, &own, &mut hits);
        self.due = due;
        if let Some(shard) = &self.shard {
            hits.retain(|h| shard.owns(h.rule as usize, &h.key));
        }
        if self.ordering.mode == StreamOrder::Arrival {
            self.process(ts, arrival, &handle, &hits, &own, out);
        } else {
            let report = self.order_hits(
                arrival, stamp, &tie, &own_ties, &own, &handle, &mut hits, out,
            );
            if report.missing_tiebreaker {
                self.stats.missing_tiebreaker += 1;
            }
            if report.late {
                self.stats.late += 1;
                out.late.push(handle);
            }
        }
        hits.clear();
        self.scratch = hits;
    }

    /// Reads the event's timestamp and tiebreaker, counting a missing or bad
    /// timestamp and an event out of order.
    #[inline]
    fn read_clock(&mut self, event: &dyn Event) -> (Stamp, Tie) {
        let stamp = Stamp::read(event.get(&self.ts_field).as_ref(), self.ts_format);
        match stamp {
            Stamp::At(_) => {}
            Stamp::Missing => self.stats.missing_timestamp += 1,
            Stamp::Bad => self.stats.bad_timestamp += 1,
        }
        let tie = Tie::read(self.tie_field.as_ref().and_then(|f| event.get(f)).as_ref());
        if self.ordering.observe(stamp, &tie) {
            self.stats.out_of_order += 1;
        }
        (stamp, tie)
    }

    /// The rules to evaluate for the event, ascending, into `due`, with
    /// their step queries' answers in `self.answers`: every step query of
    /// every rule in one pass of the pack (routing, candidate index), or the
    /// caller's answers when `given`.
    #[inline]
    fn find_due(&mut self, event: &dyn Event, given: Option<&[u32]>, due: &mut Vec<u32>) {
        let plan = &*self.plan;
        if let Some(matched) = given {
            due.extend_from_slice(&plan.always_answered);
            self.answers.clear();
            self.answers.resize(plan.answer_owner.len(), false);
            for &k in matched {
                let k = k as usize;
                if let (Some(a), Some(&i)) = (self.answers.get_mut(k), plan.answer_owner.get(k)) {
                    *a = true;
                    due.push(i);
                }
            }
            due.sort_unstable();
            due.dedup();
        } else if let Some(p) = &plan.pack {
            due.extend_from_slice(&plan.always);
            self.answers.clear();
            let pack = plan.step_pack(p);
            self.answers.resize(pack.len(), false);
            pack.matches(event, &mut self.pack_hits);
            for &k in self.pack_hits.rules() {
                let k = k as usize;
                if let Some(a) = self.answers.get_mut(k) {
                    *a = true;
                }
                // A rule the pack answers runs only when one of its step
                // queries matched.
                if let Some(&i) = p.owner.get(k) {
                    due.push(i);
                }
            }
            if due.len() > plan.always.len() {
                due.sort_unstable();
                due.dedup();
            }
        } else {
            due.extend_from_slice(&plan.always);
        }
    }

    /// Evaluates the `due` rules over the event into `hits`; `given`: the
    /// step queries' answers came from the caller.
    #[inline]
    fn evaluate_due(
        &mut self,
        event: &dyn Event,
        due: &[u32],
        given: bool,
        stamp: Stamp,
        own: &[Option<i64>],
        hits: &mut Vec<Hit>,
    ) {
        let plan = &*self.plan;
        let ts = stamp.at().unwrap_or(0);
        let category = plan.category_field.as_ref().map(|field| LazyCategory {
            event,
            field,
            value: std::cell::OnceCell::new(),
        });
        // The answers, from the caller or the session's pack (numbered
        // alike), when there are some.
        let answered = given || plan.pack.is_some();
        for &i in due {
            let i = i as usize;
            let (Some(r), Some(rp)) = (self.rules.get_mut(i), plan.rules.get(i)) else {
                continue;
            };
            let cat: Option<&dyn CategoryOf> = if rp.session_category {
                category.as_ref().map(|c| c as &dyn CategoryOf)
            } else {
                None
            };
            let steps = plan
                .answer_steps
                .get(i)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let answers = (answered && !steps.is_empty()).then_some(Answers {
                steps,
                matched: &self.answers,
            });
            let own_clock = r.own_clock(own);
            if rp.lineage.is_none() && self.ordering.drops_all(i, own_clock.is_some(), stamp) {
                // Every hit this event gives the rule would be dropped
                // for its time (`order_hits`): nothing to evaluate.
                continue;
            }
            let ts = own_clock.unwrap_or(ts);
            r.evaluate(rp, &self.lineage, i as u32, event, cat, ts, hits, answers);
        }
    }

    /// Runs the state machines over one event as it arrives
    /// ([`StreamOrder::Arrival`]): every `maxspan` expiry on its time, then its hits.
    fn process(
        &mut self,
        ts: i64,
        arrival: u64,
        handle: &H,
        hits: &[Hit],
        own: &[Option<i64>],
        out: &mut Matches<H>,
    ) {
        let counters = &mut self.counters;
        let plan = &*self.plan;
        for &ri in &plan.timed {
            let (Some(r), Some(rp)) =
                (self.rules.get_mut(ri as usize), plan.rules.get(ri as usize))
            else {
                continue;
            };
            // `maxspan` runs on the rule's own clock, as its steps do.
            let now = r.own_clock(own).unwrap_or(ts);
            let (body, mut sink) = r.sink(rp, ri, out, counters);
            if let (Body::Seq(s), BodySpec::Seq(spec)) = (body, &rp.body) {
                s.expire(spec, now, &mut sink);
            }
        }
        for h in hits {
            order::run_hit(
                &plan.rules,
                &mut self.rules,
                &mut self.counters,
                h,
                handle,
                arrival,
                false,
                out,
            );
        }
    }
}
