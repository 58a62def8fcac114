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
//! before the blocks before it are checked by the writing thread. It then
//! sets the gates from the hits it knows (those of the blocks evaluated so
//! far and of its own block's lines), which can leave out a step one thread
//! would keep in. The pack names the candidates it left out of each line
//! ([`eql_engine::PackMatches::left_out`]); the thread keeps, with the
//! line's place, those that a hit it does not know could keep in: a hit
//! in an unchecked block before is no later than the end of the block
//! before its own, and a gated step's own hits can also come from lines
//! matched again. The writing thread, which takes the blocks in input
//! order and so knows every hit before each line, matches those lines
//! again with just the steps that turn out to be open ([`GateFilter`]),
//! adds their hits to the block's step events, and leaves out the hits of
//! the steps one thread would have left out (the hits an evaluating thread
//! read from blocks not yet checked can keep more in): the sessions get
//! the same step events for any number of threads.
//!
//! Only sequences of the Elasticsearch dialect with no tiebreaker field are
//! gated (a tiebreaker can order an equal-time line before an earlier one),
//! and not a rule whose state was loaded from a saved state, nor a rule that
//! sees every event. A leading missing step, and the first positive step,
//! have no positive step before them and are never left out.

use super::eval::{Deferred, Evaluated};
use super::input::Block;
use super::plan::{RulePlan, Target};
use super::stateful::{Carry, Forwarded, LineRef};
use super::watermark::Watermarks;
use eql_engine::{CompiledRuleSet, Dialect, PackMatches, QueryBody};
use smallvec::SmallVec;
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
    /// Each gated step's entry (`Gated::entry`) with its index in `steps`,
    /// ascending.
    by_entry: Vec<((usize, u32), usize)>,
    /// Per entry of `preds`: it is a gated step itself (its hits can come
    /// from lines the writing thread matches again, [`GateFilter`]).
    chained: Vec<bool>,
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
        let mut by_entry: Vec<((usize, u32), usize)> = steps
            .iter()
            .enumerate()
            .map(|(i, g)| (g.entry, i))
            .collect();
        by_entry.sort_unstable();
        let chained = preds
            .iter()
            .map(|p| by_step.binary_search_by_key(p, |b| b.0).is_ok())
            .collect();
        Some(Arc::new(Gates {
            steps,
            preds,
            opens,
            by_step,
            by_entry,
            chained,
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

    /// True when this step is kept in at the lines of run `run` after the
    /// hits `last` (the latest run of each entry of [`Gates::preds`]).
    fn kept(&self, last: &[Option<u64>], run: u64, wm: &Watermarks) -> bool {
        !self.leave_out(last.get(self.pred).copied().flatten(), run, wm)
    }
}

/// The writing thread's view of the gates: it takes the blocks in input
/// order, so it knows every step hit before each line. It matches again
/// the lines whose gated steps an evaluating thread left out on a guess
/// ([`Deferred`]) and that turn out to be open, then leaves out of each
/// block's step events the hits of the steps one thread would have left
/// out (an evaluating thread that did not know every block before its own
/// may have kept more in).
pub(crate) struct GateFilter<'p> {
    gates: Arc<Gates>,
    ahead: Arc<super::stateful::Reread>,
    /// The default plan, whose packs match the deferred lines again.
    plan: &'p RulePlan,
    /// Per pack of `plan`: a match buffer with every entry left out but
    /// those a deferred line is matched again for.
    again: Vec<PackMatches>,
    /// Per entry of [`Gates::preds`]: its latest run with a hit kept, over
    /// the blocks taken so far.
    before: Vec<Option<u64>>,
}

impl<'p> GateFilter<'p> {
    pub(crate) fn new(
        gates: Arc<Gates>,
        ahead: Arc<super::stateful::Reread>,
        plan: &'p RulePlan,
    ) -> Self {
        let n = gates.preds.len();
        let again = plan
            .packs
            .iter()
            .map(|(_, targets)| {
                let mut m = PackMatches::new();
                for i in 0..targets.len() {
                    m.set_skipped(u32::try_from(i).unwrap_or(u32::MAX), true);
                }
                m
            })
            .collect();
        GateFilter {
            gates,
            ahead,
            plan,
            again,
            before: vec![None; n],
        }
    }

    /// Takes block `e`, the next in input order: matches its deferred
    /// lines again with the steps one thread would have kept in, leaves out
    /// of its step events the hits of the steps one thread would have left
    /// out, then marks the block checked and shares its hits.
    pub(crate) fn block(&mut self, e: &mut Evaluated) {
        if let Some(wm) = self.ahead.watermarks() {
            let mut late = Forwarded::default();
            let mut m = Rematch {
                gates: &self.gates,
                wm,
                plan: self.plan,
                again: &mut self.again,
                entries: &e.deferred_entries,
                block: e.block.as_ref(),
            };
            let mut deferred = e.deferred.iter().peekable();
            let (gates, before) = (&self.gates, &mut self.before);
            e.forward.retain_answers(|at, gated, answers| {
                // The deferred lines before this one.
                while let Some(d) = deferred.next_if(|d| d.at < at) {
                    m.line_kept(d, before, &mut late);
                }
                let run = Watermarks::run(at);
                // One thread sets a line's gates before its hits open any.
                let same = deferred
                    .next_if(|d| d.at == at)
                    .map(|d| m.line(d, before, &mut late));
                if gated {
                    answers.retain(|a| gates.gated(*a).is_none_or(|g| g.kept(before, run, wm)));
                }
                note(gates, before, answers, run);
                if let Some(hits) = same {
                    note(gates, before, &hits, run);
                }
            });
            for d in deferred {
                m.line_kept(d, before, &mut late);
            }
            e.forward.merge(&late);
        }
        e.deferred.clear();
        e.deferred_entries.clear();
        e.block = None;
        if let Ok(mut shared) = self.gates.shared.lock() {
            shared.checked = shared.checked.max(e.seq + 1);
            for (theirs, mine) in shared.last.iter_mut().zip(&self.before) {
                *theirs = (*theirs).max(*mine);
            }
        }
    }
}

/// The hits `answers` of a line of run `run`, kept: the steps they are
/// before were last hit there.
fn note(gates: &Gates, before: &mut [Option<u64>], answers: &[(u32, u32)], run: u64) {
    for a in answers {
        if let Ok(p) = gates.preds.binary_search(a) {
            if let Some(b) = before.get_mut(p) {
                *b = Some(run);
            }
        }
    }
}

/// Matching deferred lines again (the writing thread's [`GateFilter`]).
struct Rematch<'a, 'p> {
    gates: &'a Gates,
    wm: &'a Watermarks,
    plan: &'p RulePlan,
    again: &'a mut Vec<PackMatches>,
    /// The block's [`Evaluated::deferred_entries`].
    entries: &'a [(usize, u32)],
    /// The block's lines.
    block: Option<&'a Block>,
}

impl Rematch<'_, '_> {
    /// [`Rematch::line`], its hits then counted in `before`.
    fn line_kept(&mut self, d: &Deferred, before: &mut [Option<u64>], late: &mut Forwarded) {
        let hits = self.line(d, before, late);
        note(self.gates, before, &hits, Watermarks::run(d.at));
    }

    /// Matches deferred line `d` again with those of its left-out steps
    /// that are open after the hits `before`: its hits (ascending) go to
    /// `late`, and are returned.
    fn line(
        &mut self,
        d: &Deferred,
        before: &[Option<u64>],
        late: &mut Forwarded,
    ) -> SmallVec<[(u32, u32); 4]> {
        let mut answers = SmallVec::new();
        let run = Watermarks::run(d.at);
        let open: SmallVec<[(usize, u32); 4]> = self
            .entries
            .get(d.entries.clone())
            .unwrap_or(&[])
            .iter()
            .copied()
            .filter(|&e| self.gates.open(before, run, e, self.wm))
            .collect();
        let line = self.block.and_then(|b| {
            let start = usize::try_from(d.at.checked_sub(b.offset)?).ok()?;
            b.data.get(start..start.checked_add(d.len as usize)?)
        });
        let (false, Some(line)) = (open.is_empty(), line) else {
            return answers;
        };
        for &(p, pos) in &open {
            if let Some(m) = self.again.get_mut(p) {
                m.set_skipped(pos, false);
            }
        }
        for ((pack, targets), m) in self.plan.packs.iter().zip(self.again.iter_mut()) {
            // The line was matched once already: it cannot fail now.
            if pack.matches_json(line, m).is_ok() {
                answers.extend(
                    m.rules()
                        .iter()
                        .filter_map(|&k| match targets.get(k as usize) {
                            Some(&Target::Step(pos, k)) => Some((pos, k)),
                            _ => None,
                        }),
                );
            }
        }
        for &(p, pos) in &open {
            if let Some(m) = self.again.get_mut(p) {
                m.set_skipped(pos, true);
            }
        }
        if let Some(route) = &d.filter {
            let all = &self.plan.stateful;
            answers.retain(|&mut (p, _)| all.get(p as usize).is_some_and(|&r| route.contains(r)));
        }
        let fields = self
            .again
            .first_mut()
            .into_iter()
            .flat_map(PackMatches::drain_captured);
        if answers.is_empty() {
            fields.for_each(drop);
            return answers;
        }
        answers.sort_unstable();
        let mut rules: SmallVec<[u32; 4]> = answers.iter().map(|&(p, _)| p).collect();
        rules.dedup();
        late.push(
            d.line_no,
            d.at,
            true,
            LineRef::At(d.at, d.len),
            &rules,
            &answers,
            fields,
        );
        answers
    }
}

impl Gates {
    /// The gated step `step` ((stateful rule position, answer index)), if
    /// it is one.
    fn gated(&self, step: (u32, u32)) -> Option<&Gated> {
        let at = self.by_step.binary_search_by_key(&step, |b| b.0).ok()?;
        self.steps.get(self.by_step.get(at)?.1)
    }

    /// The gated step at `entry` (pack, position in the pack).
    fn at_entry(&self, entry: (usize, u32)) -> Option<&Gated> {
        let at = self.by_entry.binary_search_by_key(&entry, |b| b.0).ok()?;
        self.steps.get(self.by_entry.get(at)?.1)
    }

    /// True when the gated step at `entry` is kept in at the lines of run
    /// `run` after the hits `last` (per entry of `preds`); true for an
    /// entry that is no gated step.
    fn open(&self, last: &[Option<u64>], run: u64, entry: (usize, u32), wm: &Watermarks) -> bool {
        self.at_entry(entry).is_none_or(|g| g.kept(last, run, wm))
    }
}

/// The word of `bits` that holds the bit of entry (`p`, `pos`).
fn word(bits: &mut [Vec<u64>], p: usize, pos: u32) -> Option<&mut u64> {
    bits.get_mut(p)?.get_mut(pos as usize / 64)
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
    /// `unknown` was true at some line of this block: the gates are set
    /// from the hits known, and the candidates they leave out that a hit
    /// not known yet could keep in are deferred to the writing thread
    /// ([`GateState::recheck`]).
    deferring: bool,
    /// The entries (pack, position) of the gated steps left out of the
    /// lines of the current run that a hit not known yet could keep in.
    uncertain: Vec<(usize, u32)>,
    /// The same entries as bits: per pack, bit `pos` of word `pos / 64`
    /// (every line asks [`GateState::recheck`] of each entry it left out).
    uncertain_bits: Vec<Vec<u64>>,
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
        // A word for every gated step's entry.
        let mut uncertain_bits: Vec<Vec<u64>> = Vec::new();
        for &(p, pos) in gates.by_entry.iter().map(|(e, _)| e) {
            if uncertain_bits.len() <= p {
                uncertain_bits.resize_with(p + 1, Vec::new);
            }
            if let Some(bits) = uncertain_bits.get_mut(p) {
                bits.resize(bits.len().max(pos as usize / 64 + 1), 0);
            }
        }
        GateState {
            gates,
            ahead,
            last: vec![None; n],
            block: 0,
            block_run: 0,
            unknown: false,
            deferring: false,
            uncertain: Vec::new(),
            uncertain_bits,
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
        self.deferring = false;
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
        #[cfg(test)]
        if self.checked && tests::BLIND.load(std::sync::atomic::Ordering::Relaxed) {
            // Every block before counts as unchecked, and none of their
            // hits is known: the writing thread must find them all.
            self.unknown = self.block > 0;
            self.deferring |= self.unknown;
            return;
        }
        self.deferring |= self.unknown;
        for (mine, theirs) in self.last.iter_mut().zip(&shared.last) {
            *mine = (*mine).max(*theirs);
        }
    }

    /// The line at byte `at` of the file comes next: the gates are set for
    /// its run in `hits` (the default plan's match buffers), from the hits
    /// known so far.
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
        for &(p, pos) in &self.uncertain {
            if let Some(w) = word(&mut self.uncertain_bits, p, pos) {
                *w = 0;
            }
        }
        self.uncertain.clear();
        for g in &self.gates.steps {
            let known = self.last.get(g.pred).copied().flatten();
            let out = g.leave_out(known, run, wm);
            if let Some(h) = hits.get_mut(g.entry.0) {
                h.set_skipped(g.entry.1, out);
            }
            // A hit in an unchecked block before is no later than the end
            // of the block before this one; a gated step's hits can also
            // come from lines the writing thread matches again, in this
            // block too.
            let uncertain = self.deferring
                && out
                && (self.gates.chained.get(g.pred) == Some(&true)
                    || self.unknown
                        && !g.leave_out(
                            Some(known.map_or(self.block_run, |l| l.max(self.block_run))),
                            run,
                            wm,
                        ));
            if uncertain {
                self.uncertain.push(g.entry);
                let (p, pos) = g.entry;
                if let Some(w) = word(&mut self.uncertain_bits, p, pos) {
                    *w |= 1 << (pos % 64);
                }
            }
        }
    }

    /// True when some step left out of the lines of the current run may
    /// have to be matched again ([`GateState::recheck`]).
    pub(crate) fn defers(&self) -> bool {
        !self.uncertain.is_empty()
    }

    /// True when the gated step at `entry` (pack, position), left out of
    /// the current line, is to be matched again by the writing thread once
    /// it knows every hit before the line.
    pub(crate) fn recheck(&self, (p, pos): (usize, u32)) -> bool {
        self.uncertain_bits
            .get(p)
            .and_then(|bits| bits.get(pos as usize / 64))
            .is_some_and(|w| w & (1 << (pos % 64)) != 0)
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

#[cfg(test)]
pub(crate) mod tests {
    use crate::scan::{ScanOptions, ScanSummary, Scanner};
    use eql_engine::{CompileOptions, Rule, RuleSet};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Evaluating threads that know no hit of the blocks before their own
    /// ([`super::GateState::sync`]): the scan's results must not change.
    pub(crate) static BLIND: AtomicBool = AtomicBool::new(false);

    /// Events in time order, a second apart, over two hosts: a rare first
    /// step about once in 3 000 lines (about four of the read-ahead's
    /// runs) and once near the end of each 1 MiB block (so that a block's
    /// first lines can only learn of it from the block before), and the
    /// later steps' events all along.
    fn events(n: u64) -> Vec<u8> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        let mut out = Vec::new();
        for i in 0..n {
            let (cat, name) = match next(3000) {
                _ if i % 3600 == 3300 => ("process", "rare.exe"),
                0 => ("process", "rare.exe"),
                1..=999 => ("process", "cmd.exe"),
                1000..=1999 => ("file", "cmd.exe"),
                _ => ("network", "cmd.exe"),
            };
            let line = serde_json::json!({
                "@timestamp": 1_700_000_000_000u64 + i * 1000,
                "event": {"category": cat},
                "host": {"id": format!("h{}", next(2))},
                "process": {"name": name},
                "pad": "x".repeat(200),
            });
            out.extend_from_slice(line.to_string().as_bytes());
            out.push(b'\n');
        }
        out
    }

    /// The writing thread matches again the lines whose gated steps an
    /// evaluating thread left out on a guess: with evaluating threads that
    /// know no hit of any block before their own, every step hit that a
    /// gate opened by an earlier block lets in is found there, a later
    /// step's too (a three-step sequence's third step, opened by a second
    /// step's hit found there). The output, and the events the sessions
    /// get, are those of one thread.
    #[test]
    fn steps_left_out_on_a_guess_are_matched_again_by_the_writing_thread() {
        let mut set = RuleSet::new();
        for (k, query) in [
            r#"sequence by host.id with maxspan=30s [process where process.name == "rare.exe"] [file where true] [network where true]"#,
            r#"sequence by host.id with maxspan=20s [process where process.name == "rare.exe"] [network where true]"#,
            r#"sequence by host.id [process where process.name == "rare.exe"] [file where true] [process where true]"#,
        ]
        .into_iter()
        .enumerate()
        {
            set.push(Rule {
                name: format!("rule {k}"),
                query: query.to_owned(),
                ..Rule::default()
            });
        }
        let (compiled, errors) = set.compile(&CompileOptions::default());
        assert!(errors.is_empty(), "{errors:?}");
        let path =
            std::env::temp_dir().join(format!("eql-gate-blind-{}.ndjson", std::process::id()));
        std::fs::write(&path, events(16_000)).expect("writes the events");
        let scan = |threads| {
            let scanner = Scanner::new(
                compiled.clone(),
                ScanOptions {
                    threads,
                    ..ScanOptions::default()
                },
            );
            let (mut out, mut summary) = (Vec::new(), ScanSummary::default());
            let r = scanner.scan_path(&path, "events", &mut out, &mut |_| {}, &mut summary);
            (r.map_err(|e| e.to_string()), out, summary.step_events)
        };
        let one = scan(1);
        BLIND.store(true, Ordering::Relaxed);
        let blind = [scan(2), scan(3)];
        BLIND.store(false, Ordering::Relaxed);
        let _ = std::fs::remove_file(&path);
        assert!(one.0.is_ok(), "{:?}", one.0);
        for rule in ["rule 0", "rule 1", "rule 2"] {
            let name = format!("\"{rule}\"");
            assert!(
                one.1.windows(name.len()).any(|w| w == name.as_bytes()),
                "{rule} has alerts"
            );
        }
        for (k, got) in blind.iter().enumerate() {
            assert!(got.0.is_ok(), "{:?}", got.0);
            assert!(got.1 == one.1, "{} threads: the output differs", k + 2);
            assert_eq!(got.2, one.2, "{} threads: events to the sessions", k + 2);
        }
    }
}
