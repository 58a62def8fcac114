//! The per-block work that runs in parallel: every line is checked and its
//! single-event rules evaluated straight from its bytes (the packs' one
//! projection pass: no DOM), and the lines that the stateful rules need are
//! set aside for the sessions.

use super::alert::{Alert, Formatter};
use super::index::Routes;
use super::input::{lines, Block};
use super::plan::{RulePlan, Target};
use super::stateful::Forward;
use eql_engine::{EventError, EventErrorKind, EventLimits, PackProfile};
use smallvec::SmallVec;
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
    pub(crate) forward: Vec<Forward>,
}

/// One worker's evaluator.
pub(crate) struct Evaluator<'p> {
    /// The plans by index, with their match buffers.
    routes: Routes<'p>,
    limits: EventLimits,
    /// Scratch: the single-event rules that matched the current line.
    matched: Vec<u32>,
    /// Scratch: the stateful rules (positions) the current line is for.
    stateful: SmallVec<[u32; 4]>,
}

impl<'p> Evaluator<'p> {
    pub(crate) fn new(routes: Routes<'p>, limits: &EventLimits) -> Self {
        Evaluator {
            routes,
            limits: limits.clone(),
            matched: Vec::new(),
            stateful: SmallVec::new(),
        }
    }

    /// Each plan used, with the profiles of its packs (when profiling).
    pub(crate) fn profiles(&self) -> Vec<(&RulePlan, Vec<Option<&PackProfile>>)> {
        self.routes
            .slots()
            .map(|(plan, hits)| (plan, hits.iter().map(|h| h.profile()).collect()))
            .collect()
    }

    /// Checks and evaluates every line of `block`.
    pub(crate) fn block(&mut self, block: &Block, fmt: &Formatter) -> Evaluated {
        let mut out = Evaluated {
            seq: block.seq,
            bytes: block.input_bytes,
            ..Evaluated::default()
        };
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
            self.line(line_no, line, fmt, &mut out);
        }
        out
    }

    fn line(&mut self, line_no: u64, line: &[u8], fmt: &Formatter, out: &mut Evaluated) {
        self.matched.clear();
        self.stateful.clear();
        // The plan of the rules that apply to the line's index.
        let (plan, hits, filter) = self.routes.route(line);
        for ((pack, targets), hits) in plan.packs.iter().zip(hits) {
            if let Err(mut e) = pack.matches_json(line, hits) {
                e.line = Some(line_no);
                out.bad.push(e);
                return;
            }
            for &k in hits.rules() {
                match targets.get(k as usize) {
                    Some(Target::Alert(rule)) => self.matched.push(*rule),
                    Some(Target::Step(pos)) => self.stateful.push(*pos),
                    None => {}
                }
            }
        }
        out.events += 1;
        if let Some(route) = filter {
            self.matched.retain(|&r| route.contains(r as usize));
        }
        if plan.packs.len() > 1 {
            self.matched.sort_unstable();
        }
        for &rule in &self.matched {
            if let Some(a) = fmt.alert(line_no, rule as usize, 0, &[Some((None, line_no, line))], &[]) {
                out.alerts.push(a);
            }
        }
        self.stateful.extend_from_slice(&plan.every_event);
        if let Some(route) = filter {
            let rules = &plan.stateful;
            self.stateful
                .retain(|p| rules.get(*p as usize).is_some_and(|&r| route.contains(r)));
        }
        if !self.stateful.is_empty() {
            self.stateful.sort_unstable();
            self.stateful.dedup();
            out.forward.push(Forward {
                line: line_no,
                bytes: Arc::from(line),
                rules: self.stateful.clone(),
            });
        }
    }
}
