//! The queries of a pack that share one category field: routing, the
//! candidate index and exact evaluation.

use crate::eval::plan::{self, SlotBuf, Slots};
use crate::event::project::Projection;
use crate::query::CompiledQuery;
use crate::Event;
use eql_plan::{Bucket, Cond, FieldIndex, FieldPath, FieldTable, PackPlan, SetId, Value};
use smallvec::SmallVec;
use std::borrow::Cow;

use super::memo::MemoField;
use super::PackMatches;

/// The queries of a pack that share one category field, routed by it.
#[derive(Clone, Debug)]
pub(super) struct Group {
    pub(super) plan: PackPlan,
    /// The pack position of each of the plan's rules.
    pub(super) positions: Vec<u32>,
    pub(super) category: FieldPath,
    /// Per bucket ([`eql_plan::Bucket::id`]): the fields it reads, resolved
    /// together in one pass once the event's category selects it.
    pub(super) reads: Vec<(Vec<eql_plan::FieldId>, Projection)>,
    /// A field's `null_value` reads explicit nulls, which bulk resolution
    /// leaves out: such groups read their fields one by one.
    pub(super) reads_nulls: bool,
    /// Each bucket's projection (`reads`) also lists the pack's captured
    /// fields, after its own ([`Group::read_captures`]).
    pub(super) reads_captures: bool,
    /// Per bucket, per field id: the positions in the bucket's index of
    /// the entries on that field (a filled event visits only the entries
    /// of the fields it holds).
    pub(super) index_at: Vec<Vec<SmallVec<[u32; 2]>>>,
    /// This group's identity in a [`PackMatches`]' memo of index answers
    /// (unique in the process; a clone has the same plan, so it may share
    /// it).
    pub(super) memo_id: u64,
}

/// The next [`Group::memo_id`].
static NEXT_MEMO_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Group {
    pub(super) fn new(
        category: FieldPath,
        fields: FieldTable,
        rules: Vec<(Option<String>, Cond)>,
        positions: Vec<u32>,
    ) -> Group {
        let plan = PackPlan::new(fields, &category, rules);
        let reads_nulls = plan.fields.reads_nulls();
        let reads = plan
            .buckets()
            .iter()
            .map(|b| {
                let paths: Vec<&FieldPath> =
                    b.fields.iter().map(|&id| plan.fields.path(id)).collect();
                (b.fields.clone(), Projection::new(paths))
            })
            .collect();
        let index_at = plan
            .buckets()
            .iter()
            .map(|b| {
                let mut at: Vec<SmallVec<[u32; 2]>> = vec![SmallVec::new(); plan.fields.len()];
                for (k, ix) in b.index.iter().enumerate() {
                    if let (Some(a), Ok(k)) = (at.get_mut(ix.field.0 as usize), u32::try_from(k)) {
                        a.push(k);
                    }
                }
                at
            })
            .collect();
        Group {
            plan,
            index_at,
            positions,
            category,
            reads,
            reads_nulls,
            reads_captures: false,
            memo_id: NEXT_MEMO_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Each bucket's projection also reads `captures`, whole, after its own
    /// fields: one pass over an event reads both.
    pub(super) fn read_captures(&mut self, captures: &[FieldPath]) {
        let plan = &self.plan;
        for ((ids, projection), b) in self.reads.iter_mut().zip(plan.buckets()) {
            let paths = b.fields.iter().map(|&id| plan.fields.path(id));
            *projection = Projection::items_then_values(paths, captures);
            debug_assert_eq!(ids.len(), b.fields.len());
        }
        self.reads_captures = !captures.is_empty();
    }

    /// This group's rules matching `event`, whose category values are
    /// `cats`, go into `out` (pack indexes), its slots in the allocations
    /// of `buf`, which it returns. The captured fields this group's pass
    /// reads go onto `whole`, borrowed from the event (the caller copies
    /// out those the event needs).
    pub(super) fn matches<'e>(
        &self,
        engines: &[CompiledQuery],
        event: &'e dyn Event,
        cats: SmallVec<[Cow<'e, str>; 2]>,
        buf: SlotBuf,
        whole: &mut Vec<(u32, Value<'e>)>,
        out: &mut PackMatches,
    ) -> SlotBuf {
        let mut slots = Slots::with_buf(buf, self.plan.fields.len());
        // The fill reads the bucket's fields in one pass when the event
        // can; else they are read one by one as the index needs them.
        self.run(engines, event, &mut slots, cats, !self.reads_nulls, out);
        if slots.holds_whole() {
            out.captured_done = true;
            slots.drain_whole(whole);
        }
        slots.into_buf()
    }

    /// Routing, the candidate index and exact evaluation, once the category
    /// values `cats` are known. `bulk`: fill each selected bucket's fields
    /// through [`Event::resolve_all`] (else they are already resolved, or
    /// resolved lazily).
    pub(super) fn run<'e>(
        &self,
        engines: &[CompiledQuery],
        event: &'e dyn Event,
        slots: &mut Slots<'e>,
        cats: SmallVec<[Cow<'e, str>; 2]>,
        bulk: bool,
        out: &mut PackMatches,
    ) {
        out.next_epoch(self.plan.rules.len());
        for b in &self.buckets(&cats) {
            // A bucket with no rule has nothing to find, unless its pass
            // is the one that reads the captured fields.
            let captures_here = self.reads_captures && !out.captured_done;
            if b.rules.is_empty() && !captures_here {
                continue;
            }
            let filled = bulk && self.fill(b, event, slots, out);
            for &r in &b.always {
                out.candidate(r.0);
            }
            // The witness sets that fire for this event, then the rules
            // hanging off each one.
            self.fire_sets(b, event, slots, filled, out);
            fired_candidates(b, out);
        }
        self.evaluate(engines, event, slots, out);
    }

    /// The buckets the category values `cats` select, each once (the
    /// bucket of no category when there is none).
    #[inline]
    fn buckets(&self, cats: &[Cow<'_, str>]) -> SmallVec<[&Bucket; 2]> {
        let mut buckets: SmallVec<[&Bucket; 2]> = SmallVec::new();
        if cats.is_empty() {
            buckets.push(self.plan.bucket(None));
        }
        for c in cats {
            let b = self.plan.bucket(Some(c));
            if !buckets.iter().any(|x| std::ptr::eq(*x, b)) {
                buckets.push(b);
            }
        }
        buckets
    }

    /// Resolves bucket `b`'s fields in one pass (and the pack's captured
    /// fields with them, the first time): true when every one of them is
    /// resolved.
    #[inline]
    fn fill<'e>(
        &self,
        b: &Bucket,
        event: &'e dyn Event,
        slots: &mut Slots<'e>,
        out: &mut PackMatches,
    ) -> bool {
        let Some((ids, projection)) = self.reads.get(b.id) else {
            return false;
        };
        // The captured fields are read with the first bucket's, and
        // copied out once the event's matches are known.
        let capturing = self.reads_captures && !out.captured_done && !slots.holds_whole();
        slots.fill(event, projection, ids, &self.plan.fields, capturing)
    }

    /// The witness sets of bucket `b` that fire for this event go into
    /// `out.fired_sets`. `filled`: every field of the bucket is resolved,
    /// so only the entries of the fields holding items can fire.
    #[inline]
    fn fire_sets<'e>(
        &self,
        b: &Bucket,
        event: &'e dyn Event,
        slots: &mut Slots<'e>,
        filled: bool,
        out: &mut PackMatches,
    ) {
        out.next_set_epoch(b.by_primary.len());
        if filled {
            let mut held: SmallVec<[u32; 64]> = SmallVec::new();
            slots.filled(&mut held);
            let at = self.index_at.get(b.id);
            for f in held {
                for &k in at.and_then(|a| a.get(f as usize)).into_iter().flatten() {
                    if let Some(ix) = b.index.get(k as usize) {
                        self.fire_index(b, k as usize, ix, event, slots, out);
                    }
                }
            }
        } else {
            for (k, ix) in b.index.iter().enumerate() {
                self.fire_index(b, k, ix, event, slots, out);
            }
        }
    }

    /// The witness sets that entry `k` of bucket `b`'s index (`ix`) fires
    /// for this event go into `out.fired_sets`.
    #[inline]
    fn fire_index<'e>(
        &self,
        b: &Bucket,
        k: usize,
        ix: &FieldIndex,
        event: &'e dyn Event,
        slots: &mut Slots<'e>,
        out: &mut PackMatches,
    ) {
        let (set_stamp, fired, epoch, memo) = (
            &mut out.set_stamp,
            &mut out.fired_sets,
            out.set_epoch,
            &mut out.memo,
        );
        let mut mark = |set: SetId| {
            if let Some(st) = set_stamp.get_mut(set.0 as usize) {
                if *st != epoch {
                    *st = epoch;
                    fired.push(set);
                }
            }
        };
        if ix.has_contains() {
            // The automaton's scan is the costly part: answer repeated
            // values from the memo (each value folds itself when its
            // index needs the folded form).
            let field = MemoField {
                group: self.memo_id,
                bucket: b.id as u32,
                index: k as u32,
            };
            slots.strings(
                ix.field,
                &self.plan.fields,
                event,
                |_| false,
                |s, _| {
                    memo.hits(field, s, |f| ix.hits(s, None, &mut |x| f(x)), &mut mark);
                },
            );
        } else if ix.has_strings() {
            let wants = |ascii: bool| ix.needs_folded(ascii);
            slots.strings(ix.field, &self.plan.fields, event, wants, |s, folded| {
                ix.hits(s, folded, &mut mark);
            });
        }
        if ix.has_numbers() {
            slots.scalars_of(ix.field, &self.plan.fields, event, |v| {
                ix.number_hits(v, &mut mark);
            });
        }
    }

    /// Exact evaluation of the candidates, in rule order: the matching
    /// rules' pack positions go into `out.rules`.
    #[inline]
    fn evaluate<'e>(
        &self,
        engines: &[CompiledQuery],
        event: &'e dyn Event,
        slots: &mut Slots<'e>,
        out: &mut PackMatches,
    ) {
        out.candidates.sort_unstable();
        let mut profile = out.profile.take();
        for k in 0..out.candidates.len() {
            let r = out.candidates[k];
            let Some((rule, &position)) = self
                .plan
                .rules
                .get(r as usize)
                .zip(self.positions.get(r as usize))
            else {
                continue;
            };
            if out.is_skipped(position) {
                out.left_out.push(position);
                continue;
            }
            out.evaluated += 1;
            let Some(engine) = engines.get(position as usize) else {
                continue;
            };
            let t0 = profile
                .as_ref()
                .is_some_and(|p| p.timing)
                .then(std::time::Instant::now);
            let hit = plan::eval(
                &rule.cond,
                &self.plan.fields,
                slots,
                event,
                &engine.ctx(event),
            );
            if let Some(p) = profile.as_deref_mut() {
                p.count(position as usize, hit, t0);
            }
            if hit {
                out.rules.push(position);
            }
        }
        out.profile = profile;
    }
}

/// The rules hanging off each fired witness set of bucket `b` whose other
/// set (if any) fired too become candidates.
#[inline]
fn fired_candidates(b: &Bucket, out: &mut PackMatches) {
    for k in 0..out.fired_sets.len() {
        let Some(set) = out.fired_sets.get(k).copied() else {
            break;
        };
        for &(r, second) in b.by_primary.get(set.0 as usize).into_iter().flatten() {
            let ok =
                second.is_none_or(|s2| out.set_stamp.get(s2.0 as usize) == Some(&out.set_epoch));
            if ok {
                out.candidate(r.0);
            }
        }
    }
}
