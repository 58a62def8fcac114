//! The per-block work that runs in parallel: every line is checked and its
//! single-event rules evaluated straight from its bytes (the packs' one
//! projection pass: no DOM), and the lines that the stateful rules need are
//! set aside for the sessions.

use super::alert::{Alert, Formatter};
use super::gate::GateState;
use super::index::Routes;
use super::input::{line_offset, lines, Block};
use super::plan::{RulePlan, Target};
use super::stateful::{Forwarded, LineRef};
use super::watermark::Watermarks;
use eql_engine::IndexRoute;
use eql_engine::{EventError, EventErrorKind, EventLimits, PackMatches, PackProfile};
use smallvec::SmallVec;
use std::ops::Range;
use std::sync::Arc;

/// What one block gave.
#[derive(Default)]
pub(crate) struct Evaluated {
    pub(crate) seq: u64,
    pub(crate) events: u64,
    pub(crate) bytes: u64,
    /// The bad lines, in order.
    pub(crate) bad: Vec<EventError>,
    /// The single-event rules' alerts, in (line, rule) order.
    pub(crate) alerts: Vec<Alert>,
    /// The events for the sessions, in order.
    pub(crate) forward: Forwarded,
    /// How many events the sessions got, once [`Evaluated::forward`] is
    /// final.
    pub(crate) step_events: u64,
    /// The lines whose gated steps were left out on a guess
    /// ([`GateState::recheck`]), in order.
    pub(crate) deferred: Vec<Deferred>,
    /// Their steps' entries: (pack, position in the pack).
    pub(crate) deferred_entries: Vec<(usize, u32)>,
    /// The block, while it has deferred lines.
    pub(crate) block: Option<Block>,
}

/// One worker's evaluator.
pub(crate) struct Evaluator<'p> {
    /// The plans by index, with their match buffers.
    routes: Routes<'p>,
    limits: EventLimits,
    /// Scratch: the single-event rules that matched the current line.
    matched: Vec<u32>,
    /// Scratch: the (stateful rule position, answer index) of each step
    /// query the current line matches.
    stateful: SmallVec<[(u32, u32); 4]>,
    /// Scratch: the stateful rules that need the current line.
    rules: SmallVec<[u32; 16]>,
    /// An empty [`Forwarded`] whose allocations the next block reuses.
    spare: Forwarded,
    /// The sessions refer to lines by their place in the input
    /// ([`LineRef::At`]), which can be read again.
    at: bool,
    /// The later sequence steps left out while nothing can precede them.
    gate: Option<GateState>,
}

/// A line whose gated steps were left out on a guess: the writing thread
/// matches it again with those that turn out to be open
/// ([`super::gate::GateFilter`]).
pub(crate) struct Deferred {
    pub(crate) line_no: u64,
    /// Its byte offset in the input, and its length.
    pub(crate) at: u64,
    pub(crate) len: u32,
    /// The route whose rules alone count, when its plan is every rule's.
    pub(crate) filter: Option<Arc<IndexRoute>>,
    /// Its steps' entries in [`Evaluated::deferred_entries`].
    pub(crate) entries: Range<usize>,
}

impl<'p> Evaluator<'p> {
    /// `at`: the input can be read again ([`LineRef::At`]); `gate`: the
    /// steps to leave out while nothing can precede them (a file in order).
    pub(crate) fn new(
        routes: Routes<'p>,
        limits: &EventLimits,
        at: bool,
        gate: Option<GateState>,
    ) -> Self {
        Evaluator {
            routes,
            limits: limits.clone(),
            matched: Vec::new(),
            stateful: SmallVec::new(),
            rules: SmallVec::new(),
            spare: Forwarded::default(),
            at,
            gate: gate.filter(|_| at),
        }
    }

    /// Each plan used, with the profiles of its packs (when profiling).
    pub(crate) fn profiles(&self) -> Vec<(&RulePlan, Vec<Option<&PackProfile>>)> {
        self.routes
            .slots()
            .map(|(plan, hits)| (plan, hits.iter().map(|h| h.profile()).collect()))
            .collect()
    }

    /// Hands back an emptied [`Evaluated::forward`] for the next block to
    /// fill.
    pub(crate) fn recycle(&mut self, spare: Forwarded) {
        self.spare = spare;
    }

    /// Checks and evaluates every line of `block`.
    pub(crate) fn block(&mut self, block: &Block, fmt: &Formatter) -> Evaluated {
        let mut out = Evaluated {
            seq: block.seq,
            bytes: block.input_bytes,
            forward: std::mem::take(&mut self.spare),
            ..Evaluated::default()
        };
        if let Some(g) = &mut self.gate {
            let first = lines(block)
                .next()
                .map_or(0, |(_, l)| line_offset(block, l));
            g.start_block(block.seq, first);
        }
        let mut too_long = block.too_long.iter().peekable();
        for (line_no, line) in lines(block) {
            if let Some(&&(n, len)) = too_long.peek() {
                if n == line_no {
                    too_long.next();
                    out.bad.push(EventError::at_line(
                        EventErrorKind::TooLarge {
                            len,
                            max: self.limits.max_line_bytes,
                        },
                        line_no,
                    ));
                    continue;
                }
            }
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            let at = line_offset(block, line);
            if self.at {
                out.forward.run_starts(Watermarks::run(at), line_no);
            }
            self.line(line_no, at, line, fmt, &mut out);
        }
        if let Some(g) = &mut self.gate {
            g.end_block();
        }
        out
    }

    /// One line, at input position `at`, with the gates set for it before
    /// and its step hits opening them after.
    fn line(&mut self, line_no: u64, at: u64, line: &[u8], fmt: &Formatter, out: &mut Evaluated) {
        if let Some(g) = &mut self.gate {
            g.line(at, self.routes.default_hits());
        }
        self.evaluate_line(line_no, at, line, fmt, out);
        if let (Some(g), false) = (&mut self.gate, self.stateful.is_empty()) {
            g.hits(&self.stateful, self.routes.default_hits());
        }
    }

    /// One line, at input position `at`: its alerts, and its step hits
    /// (`self.stateful`) forwarded.
    fn evaluate_line(
        &mut self,
        line_no: u64,
        at: u64,
        line: &[u8],
        fmt: &Formatter,
        out: &mut Evaluated,
    ) {
        self.matched.clear();
        self.stateful.clear();
        // The plan of the rules that apply to the line's index.
        let (plan, all_hits, filter, default) = self.routes.route(line);
        // The gates are set in the default plan's buffers only.
        let gated = self.gate.is_some() && default;
        for ((pack, targets), hits) in plan.packs.iter().zip(all_hits.iter_mut()) {
            if let Err(mut e) = pack.matches_json(line, hits) {
                e.line = Some(line_no);
                out.bad.push(e);
                return;
            }
            for &k in hits.rules() {
                match targets.get(k as usize) {
                    Some(Target::Alert(rule)) => self.matched.push(*rule),
                    Some(&Target::Step(pos, k)) => self.stateful.push((pos, k)),
                    None => {}
                }
            }
        }
        out.events += 1;
        if let Some(g) = self.gate.as_ref().filter(|g| gated && g.defers()) {
            let from = out.deferred_entries.len();
            for (p, hits) in all_hits.iter().enumerate() {
                out.deferred_entries.extend(
                    hits.left_out()
                        .iter()
                        .map(|&pos| (p, pos))
                        .filter(|&e| g.recheck(e)),
                );
            }
            let entries = from..out.deferred_entries.len();
            if let (false, Ok(len)) = (entries.is_empty(), u32::try_from(line.len())) {
                out.deferred.push(Deferred {
                    line_no,
                    at,
                    len,
                    filter: filter.cloned(),
                    entries,
                });
            }
        }
        if let Some(route) = filter {
            self.matched.retain(|&r| route.contains(r as usize));
        }
        if plan.packs.len() > 1 {
            self.matched.sort_unstable();
        }
        for &rule in &self.matched {
            if let Some(a) = fmt.alert(
                line_no,
                rule as usize,
                0,
                &[Some((None, line_no, line))],
                &[],
            ) {
                out.alerts.push(a);
            }
        }
        if let Some(route) = filter {
            let rules = &plan.stateful;
            self.stateful
                .retain(|&mut (p, _)| rules.get(p as usize).is_some_and(|&r| route.contains(r)));
        }
        if !self.stateful.is_empty() || !plan.every_event.is_empty() {
            self.stateful.sort_unstable();
            let rules = &mut self.rules;
            rules.clear();
            rules.extend(self.stateful.iter().map(|&(p, _)| p));
            rules.extend_from_slice(&plan.every_event);
            if let Some(route) = filter {
                let all = &plan.stateful;
                rules.retain(|p| all.get(*p as usize).is_some_and(|&r| route.contains(r)));
            }
            rules.sort_unstable();
            rules.dedup();
            if rules.is_empty() {
                return;
            }
            let bytes = match u32::try_from(line.len()) {
                Ok(len) if self.at => LineRef::At(at, len),
                _ => LineRef::Bytes(Arc::from(line)),
            };
            let fields = all_hits
                .first_mut()
                .into_iter()
                .flat_map(PackMatches::drain_captured);
            out.forward
                .push(line_no, at, gated, bytes, rules, &self.stateful, fields);
        }
    }
}
