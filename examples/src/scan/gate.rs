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
//! they are, a step whose step before was hit counts a hit at the end of
//! the block just before its own, and a step whose step before was never
//! hit is left out, listed with its run ([`BlockGates`]). The writing
//! thread, which takes the blocks in order, knows every hit of the blocks
//! before: when one of them would have kept a listed step in, it evaluates
//! the block again on those hits ([`GateState::again`]), as one thread
//! would, before the sessions see it.
//!
//! Only sequences of the Elasticsearch dialect with no tiebreaker field are
//! gated (a tiebreaker can order an equal-time line before an earlier one),
//! and not a rule whose state was loaded from a saved state, nor a rule that
//! sees every event. A leading missing step, and the first positive step,
//! have no positive step before them and are never left out.

use super::plan::{RulePlan, Target};
use super::stateful::Carry;
use super::watermark::Watermarks;
use eql_engine::{CompiledRuleSet, Dialect, PackMatches, QueryBody};
use std::sync::{Arc, Mutex};

/// One gated step.
#[derive(Debug)]
struct Gated {
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
    /// Per entry of `preds`: the latest run in which it was hit, over the
    /// blocks evaluated; and how far the blocks are checked.
    shared: Mutex<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    last: Vec<Option<u64>>,
    /// Every block below it is checked by the writing thread
    /// ([`GateCheck`]): its hits are all in `last`.
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
        Some(Arc::new(Gates {
            steps,
            preds,
            opens,
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

/// What evaluating one block told about the gates: for the blocks after
/// it, the latest run in which each step some gated step follows was hit;
/// and, to check, each step left out because the step before it was never
/// seen hit while a block before was unchecked: (run, gated step).
#[derive(Debug, Default)]
pub(crate) struct BlockGates {
    block: u64,
    hits: Vec<(usize, u64)>,
    assumed: Vec<(u64, usize)>,
}

impl BlockGates {
    /// True when a step was left out on that assumption: the block is kept
    /// until the writing thread has checked it.
    pub(crate) fn assumed(&self) -> bool {
        !self.assumed.is_empty()
    }
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

/// The hits of the blocks written so far, to check what a block assumed
/// ([`BlockGates`]), on the writing thread.
pub(crate) struct GateCheck {
    gates: Arc<Gates>,
    ahead: Arc<super::stateful::Reread>,
    /// Per entry of [`Gates::preds`]: its latest run with a hit in the
    /// blocks taken so far.
    before: Vec<Option<u64>>,
}

impl GateCheck {
    pub(crate) fn new(gates: Arc<Gates>, ahead: Arc<super::stateful::Reread>) -> Self {
        let n = gates.preds.len();
        GateCheck {
            gates,
            ahead,
            before: vec![None; n],
        }
    }

    /// True when what `block` assumed holds given the hits of every block
    /// before it (all taken, in order, before this call).
    pub(crate) fn holds(&self, block: &BlockGates) -> bool {
        let Some(wm) = self.ahead.watermarks() else {
            return true;
        };
        block.assumed.iter().all(|&(run, g)| {
            let Some(step) = self.gates.steps.get(g) else {
                return false;
            };
            step.leave_out(self.before.get(step.pred).copied().flatten(), run, wm)
        })
    }

    /// The latest hit of each step before a gated one, over the blocks
    /// taken.
    pub(crate) fn before(&self) -> &[Option<u64>] {
        &self.before
    }

    /// Takes in the hits of the next block, checked (its hits are in the
    /// evaluating threads' view: they were shared when it was evaluated,
    /// the last time if it was evaluated again).
    pub(crate) fn take(&mut self, block: &BlockGates) {
        for &(p, run) in &block.hits {
            if let Some(b) = self.before.get_mut(p) {
                *b = (*b).max(Some(run));
            }
        }
        if let Ok(mut shared) = self.gates.shared.lock() {
            shared.checked = shared.checked.max(block.block + 1);
        }
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
    /// What this block told so far ([`BlockGates`]): per entry of
    /// [`Gates::preds`], its latest hit in the block, and the steps left
    /// out while `unknown`.
    block_hits: Vec<Option<u64>>,
    assumed: Vec<(u64, usize)>,
    /// A block evaluated again, on the hits of every block before it
    /// ([`GateState::know`]): nothing is assumed.
    again: bool,
    /// One of several evaluating threads, whose blocks the writing thread
    /// checks ([`GateCheck`]): a block before is known once checked. One
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
            block_hits: vec![None; n],
            assumed: Vec::new(),
            again: false,
            checked: false,
        }
    }

    /// A view for one of several evaluating threads, whose blocks the
    /// writing thread checks ([`GateCheck`]).
    pub(crate) fn checked(gates: Arc<Gates>, ahead: Arc<super::stateful::Reread>) -> Self {
        GateState {
            checked: true,
            ..GateState::new(gates, ahead)
        }
    }

    /// The view of the writing thread, which evaluates a block again when
    /// what it assumed does not hold: told every hit of the blocks before
    /// ([`GateState::know`]), it leaves out what one thread would; it
    /// shares the block's hits.
    pub(crate) fn again(gates: Arc<Gates>, ahead: Arc<super::stateful::Reread>) -> Self {
        GateState {
            again: true,
            ..GateState::new(gates, ahead)
        }
    }

    /// The latest hit of each step before a gated one, over every block
    /// before the next one (a view [`GateState::again`]).
    pub(crate) fn know(&mut self, before: &[Option<u64>]) {
        self.last.clear();
        self.last.extend_from_slice(before);
    }

    /// Block `seq` starts, its first line at byte `first` of the file.
    pub(crate) fn start_block(&mut self, seq: u64, first: u64) {
        self.block = seq;
        self.block_run = Watermarks::run(first);
        self.run = None;
        self.block_hits.iter_mut().for_each(|h| *h = None);
        self.assumed.clear();
        if !self.again {
            self.sync();
        }
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
        for (i, g) in self.gates.steps.iter().enumerate() {
            let known = self.last.get(g.pred).copied().flatten();
            // While a block before is unchecked, a step whose step before
            // was hit counts a hit at the end of the block before this one
            // (exact, for it can only keep more in); one whose step before
            // was never hit is left out on that, to be checked.
            let last = match known {
                Some(l) if self.unknown => Some(l.max(self.block_run)),
                k => k,
            };
            let skip = g.leave_out(last, run, wm);
            if skip && self.unknown && known.is_none() {
                self.assumed.push((run, i));
            }
            if let Some(h) = hits.get_mut(g.entry.0) {
                h.set_skipped(g.entry.1, skip);
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
            if let Some(l) = self.block_hits.get_mut(p) {
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

    /// The block is done: its hits go to the other threads, and what it
    /// told to the writing thread.
    pub(crate) fn end_block(&mut self) -> BlockGates {
        let told = BlockGates {
            block: self.block,
            hits: (self.block_hits.iter().enumerate())
                .filter_map(|(p, h)| Some((p, (*h)?)))
                .collect(),
            assumed: std::mem::take(&mut self.assumed),
        };
        let Ok(mut shared) = self.gates.shared.lock() else {
            return told;
        };
        for (theirs, mine) in shared.last.iter_mut().zip(&self.last) {
            *theirs = (*theirs).max(*mine);
        }
        told
    }
}
