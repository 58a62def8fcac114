//! Later sequence steps left unevaluated while nothing can precede them.
//!
//! Most of a corpus's step hits are hits of steps a sequence can only use
//! after an earlier step: the second step of "file written by Office, then
//! run" matches every process start, and it is worth evaluating only when
//! some Office file write can still be waiting for it. A step after a
//! positive one (say step `p`, the latest before it) can change a partial
//! sequence only if an event that orders before it matched step `p` no more
//! than `maxspan` before it: a positive step extends the partial that step
//! `p` left, and the event of a missing step (`![…]`) between or after the
//! positive ones can only discard a partial or a candidate whose last event
//! so far matched step `p`. When the
//! read-ahead shows that a file is in its order (every line's order time at
//! least the one of the line before), the events that order before a line
//! are the lines before it, so the scan can tell from the step hits it has
//! already seen: the pack leaves such a step out
//! ([`eql_engine::PackMatches::set_skipped`]) while no line so far has hit
//! step `p`, or while the latest such hit is more than `maxspan` before
//! the earliest time still to come. The results are those of evaluating
//! every step; the sessions just get fewer hits that could change nothing.
//! A candidate waiting for a trailing missing event is emitted once the
//! time still to come is past its window ([`eql_engine::Session::release_before`]),
//! not at the rule's next hit, so when it comes out does not depend on
//! the hits left out either.
//!
//! Times are bounded by the read-ahead's runs ([`Watermarks`]): a line of
//! run `r` has a time of at least [`Watermarks::ahead_of_run`]`(r)`, and in
//! a file in order a line of run `r` has a time of at most that of run
//! `r + 1`. With several evaluating threads a thread may evaluate a block
//! before the blocks before it are checked by the writing thread. Until
//! they are, every gated step counts a hit at the end of the block just
//! before its own (a hit in those blocks can be no later): the thread
//! leaves out only what it would leave out after such a hit, and so keeps
//! in every step one thread would keep in, and some more. The writing
//! thread, which takes the blocks in input order, then leaves out of each
//! block's step events the hits of the steps one thread would have left
//! out ([`GateFilter`]): the sessions get the same step events for any
//! number of threads.
//!
//! Only sequences of the Elasticsearch dialect with no tiebreaker field are
//! gated (a tiebreaker can order an equal-time line before an earlier one),
//! and not a rule whose state was loaded from a saved state, nor a rule that
//! sees every event. A leading missing step, and the first positive step,
//! have no positive step before them and are never left out.

use super::plan::{RulePlan, Target};
use super::stateful::{Carry, Forwarded};
use super::watermark::Watermarks;
use eql_engine::{CompiledRuleSet, Dialect, PackMatches, QueryBody};
use std::sync::{Arc, Mutex};

/// One gated step.
#[derive(Debug)]
struct Gated {
    /// The step: (stateful rule position, answer index).
    step: (u32, u32),
    /// The step before it ([`Gates::preds`] index).
    pred: usize,
    /// Its entry in the default plan's packs: (pack, position).
    entry: (usize, u32),
    /// Its sequence's `maxspan` on the clock, when it has one.
    span: Option<i64>,
    /// Its rule's clock ([`Watermarks::clock_of`]).
    clock: usize,
}

/// The gated steps of a scan of a file.
#[derive(Debug)]
pub(crate) struct Gates {
    steps: Vec<Gated>,
    /// The steps some gated step follows: (stateful rule position, answer
    /// index), ascending.
    preds: Vec<(u32, u32)>,
    /// Per entry of `preds`: the gated steps that follow it.
    opens: Vec<Vec<usize>>,
    /// Each gated step (`Gated::step`) with its index in `steps`,
    /// ascending.
    by_step: Vec<((u32, u32), usize)>,
    /// Per entry of `preds`: the latest run in which it was hit, over the
    /// blocks evaluated (by any thread, with more steps in than one thread
    /// would keep: a view that can only keep more in); and how far the
    /// blocks are checked.
    shared: Mutex<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    last: Vec<Option<u64>>,
    /// Every block below it is checked by the writing thread
    /// ([`GateFilter`]): its hits are all in `last`.
    checked: u64,
}

impl Gates {
    /// The gates of a scan of the default plan `plan` over a file whose
    /// times were read ahead (`ahead`); `None` when no step can be gated.
    pub(crate) fn new(
        plan: &RulePlan,
        compiled: &CompiledRuleSet,
        ahead: &Watermarks,
        carry: &Carry,
    ) -> Option<Arc<Gates>> {
        // Each gated step with the step before it.
        let mut found: Vec<((u32, u32), Gated)> = Vec::new();
        for (pos, &rule) in plan.stateful.iter().enumerate() {
            let Ok(pos) = u32::try_from(pos) else {
                continue;
            };
            let Some(q) = compiled.rules().get(rule).map(|r| &r.engine) else {
                continue;
            };
            let o = q.options();
            let QueryBody::Sequence(s) = &q.query().body else {
                continue;
            };
            let Some(clock) = ahead.clock_of(q) else {
                continue;
            };
            if o.dialect != Dialect::Elasticsearch
                || o.tiebreaker_field.is_some()
                || !ahead.sorted(clock)
                || carry.contains_key(&rule)
                || plan.every_event.contains(&pos)
            {
                continue;
            }
            // Order times are in nanoseconds, as the sessions keep them.
            let span = s.maxspan.map(|t| {
                i64::try_from(t.millis())
                    .unwrap_or(i64::MAX)
                    .saturating_mul(1_000_000)
            });
            // Each step after a positive one, gated by the latest positive
            // step before it (a missing step is no partial's last event).
            // The answer index of step `k` is `k` (the steps come first).
            let mut before = None;
            for (k, st) in s.steps.iter().enumerate() {
                let Ok(k) = u32::try_from(k) else { continue };
                if let (Some(p), Some(entry)) = (before, entry_of(plan, pos, k)) {
                    let step = Gated {
                        step: (pos, k),
                        pred: 0,
                        entry,
                        span,
                        clock,
                    };
                    found.push(((pos, p), step));
                }
                if !st.missing {
                    before = Some(k);
                }
            }
        }
        if found.is_empty() {
            return None;
        }
        let mut preds: Vec<(u32, u32)> = found.iter().map(|f| f.0).collect();
        preds.sort_unstable();
        preds.dedup();
        let mut opens = vec![Vec::new(); preds.len()];
        let mut steps = Vec::new();
        for (pred, mut step) in found {
            let Ok(pred) = preds.binary_search(&pred) else {
                continue;
            };
            if let Some(o) = opens.get_mut(pred) {
                o.push(steps.len());
            }
            step.pred = pred;
            steps.push(step);
        }
        let shared = Shared {
            last: vec![None; preds.len()],
            ..Shared::default()
        };
        let mut by_step: Vec<((u32, u32), usize)> =
            steps.iter().enumerate().map(|(i, g)| (g.step, i)).collect();
        by_step.sort_unstable();
        Some(Arc::new(Gates {
            steps,
            preds,
            opens,
            by_step,
            shared: Mutex::new(shared),
        }))
    }
}

/// The entry (pack, position) of answer `k` of stateful rule `pos` in
/// `plan`'s packs.
fn entry_of(plan: &RulePlan, pos: u32, k: u32) -> Option<(usize, u32)> {
    plan.packs.iter().enumerate().find_map(|(p, (_, targets))| {
        let at = targets.iter().position(|t| *t == Target::Step(pos, k))?;
        Some((p, u32::try_from(at).ok()?))
    })
}

impl Gated {
    /// True when this step can be left out at the lines of run `run` when
    /// the step before it was last hit in run `last`.
    fn leave_out(&self, last: Option<u64>, run: u64, wm: &Watermarks) -> bool {
        match last {
            None => true,
            // The hit's time is at most the next run's earliest; the
            // line's at least its own run's.
            Some(l) => self.span.is_some_and(|span| {
                let earliest = wm.ahead_of_run(self.clock, run);
                let hit = wm.ahead_of_run(self.clock, l.saturating_add(1));
                earliest.saturating_sub(hit) > span
            }),
        }
    }
}

/// The writing thread's view of the gates: it takes the blocks in input
/// order, so it knows every step hit before each line, and leaves out of
/// each block's step events the hits of the steps one thread would have
/// left out (an evaluating thread that did not know every block before
/// its own kept more in).
pub(crate) struct GateFilter {
    gates: Arc<Gates>,
    ahead: Arc<super::stateful::Reread>,
    /// Per entry of [`Gates::preds`]: its latest run with a hit kept, over
    /// the blocks taken so far.
    before: Vec<Option<u64>>,
}

impl GateFilter {
    pub(crate) fn new(gates: Arc<Gates>, ahead: Arc<super::stateful::Reread>) -> Self {
        let n = gates.preds.len();
        GateFilter {
            gates,
            ahead,
            before: vec![None; n],
        }
    }

    /// Takes block `seq`, the next in input order, whose step events are
    /// `forward`: leaves out the hits of the steps one thread would have
    /// left out, then marks the block checked.
    pub(crate) fn block(&mut self, seq: u64, forward: &mut Forwarded) {
        if let Some(wm) = self.ahead.watermarks() {
            let (gates, before) = (&self.gates, &mut self.before);
            forward.retain_answers(|at, gated, answers| {
                let run = Watermarks::run(at);
                // One thread sets a line's gates before its hits open any.
                if gated {
                    answers.retain(|a| {
                        gates.gated(*a).is_none_or(|g| {
                            !g.leave_out(before.get(g.pred).copied().flatten(), run, wm)
                        })
                    });
                }
                for a in answers.iter() {
                    if let Ok(p) = gates.preds.binary_search(a) {
                        if let Some(b) = before.get_mut(p) {
                            *b = Some(run);
                        }
                    }
                }
            });
        }
        if let Ok(mut shared) = self.gates.shared.lock() {
            shared.checked = shared.checked.max(seq + 1);
        }
    }
}

impl Gates {
    /// The gated step `step` ((stateful rule position, answer index)), if
    /// it is one.
    fn gated(&self, step: (u32, u32)) -> Option<&Gated> {
        let at = self.by_step.binary_search_by_key(&step, |b| b.0).ok()?;
        self.steps.get(self.by_step.get(at)?.1)
    }
}

/// One evaluating thread's view of the gates.
pub(crate) struct GateState {
    gates: Arc<Gates>,
    ahead: Arc<super::stateful::Reread>,
    /// Per entry of [`Gates::preds`]: the latest run with a hit this thread
    /// knows of.
    last: Vec<Option<u64>>,
    /// The block being evaluated, and the run of its first line.
    block: u64,
    block_run: u64,
    /// A block before this one is not checked yet (with several threads).
    unknown: bool,
    /// The run of the last line seen.
    run: Option<u64>,
    /// One of several evaluating threads, whose blocks the writing thread
    /// checks ([`GateFilter`]): a block before is known once checked. One
    /// thread alone evaluates the blocks in order and knows them all.
    checked: bool,
}

impl GateState {
    pub(crate) fn new(gates: Arc<Gates>, ahead: Arc<super::stateful::Reread>) -> Self {
        let n = gates.preds.len();
        GateState {
            gates,
            ahead,
            last: vec![None; n],
            block: 0,
            block_run: 0,
            unknown: false,
            run: None,
            checked: false,
        }
    }

    /// A view for one of several evaluating threads, whose blocks the
    /// writing thread checks ([`GateFilter`]).
    pub(crate) fn checked(gates: Arc<Gates>, ahead: Arc<super::stateful::Reread>) -> Self {
        GateState {
            checked: true,
            ..GateState::new(gates, ahead)
        }
    }

    /// Block `seq` starts, its first line at byte `first` of the file.
    pub(crate) fn start_block(&mut self, seq: u64, first: u64) {
        self.block = seq;
        self.block_run = Watermarks::run(first);
        self.run = None;
        self.sync();
    }

    /// Takes in what the other threads have shared, and whether every block
    /// before this one is checked.
    fn sync(&mut self) {
        let Ok(shared) = self.gates.shared.lock() else {
            // A thread failed: gate nothing from now on.
            self.unknown = true;
            self.last.iter_mut().for_each(|l| *l = Some(u64::MAX));
            return;
        };
        self.unknown = self.checked && shared.checked < self.block;
        for (mine, theirs) in self.last.iter_mut().zip(&shared.last) {
            *mine = (*mine).max(*theirs);
        }
    }

    /// The line at byte `at` of the file comes next: the gates are set for
    /// its run in `hits` (the default plan's match buffers).
    pub(crate) fn line(&mut self, at: u64, hits: &mut [PackMatches]) {
        let run = Watermarks::run(at);
        if self.run == Some(run) {
            return;
        }
        self.run = Some(run);
        if self.unknown {
            self.sync();
        }
        let Some(wm) = self.ahead.watermarks() else {
            return;
        };
        for g in &self.gates.steps {
            let known = self.last.get(g.pred).copied().flatten();
            // While a block before is unchecked, every step counts a hit at
            // the end of the block before this one, the latest an
            // unchecked block can hold: it keeps in all one thread would.
            let last = if self.unknown {
                Some(known.map_or(self.block_run, |l| l.max(self.block_run)))
            } else {
                known
            };
            if let Some(h) = hits.get_mut(g.entry.0) {
                h.set_skipped(g.entry.1, g.leave_out(last, run, wm));
            }
        }
    }

    /// The current line hit the steps `hits` ((stateful rule position,
    /// answer index), as forwarded to the sessions): the steps after them
    /// open in `buffers`.
    pub(crate) fn hits(&mut self, hits: &[(u32, u32)], buffers: &mut [PackMatches]) {
        let Some(run) = self.run else { return };
        for h in hits {
            let Ok(p) = self.gates.preds.binary_search(h) else {
                continue;
            };
            if let Some(l) = self.last.get_mut(p) {
                *l = Some(run);
            }
            for &g in self.gates.opens.get(p).into_iter().flatten() {
                if let Some(g) = self.gates.steps.get(g) {
                    if let Some(b) = buffers.get_mut(g.entry.0) {
                        b.set_skipped(g.entry.1, false);
                    }
                }
            }
        }
    }

    /// The block is done: its hits go to the other threads.
    pub(crate) fn end_block(&mut self) {
        let Ok(mut shared) = self.gates.shared.lock() else {
            return;
        };
        for (theirs, mine) in shared.last.iter_mut().zip(&self.last) {
            *theirs = (*theirs).max(*mine);
        }
    }
}
