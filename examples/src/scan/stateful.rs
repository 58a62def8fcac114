//! Everything `scan` asks of [`Session`]s, in one place.
//!
//! Each worker runs one session over all the stateful rules, with its
//! [`Shard`] of a [`Routing`]: every worker is given every event that
//! matches a step query (in input order), evaluates it, and keeps only the
//! hits it owns (by join key, or the whole rule). So the workers' clocks,
//! reorder buffers and lateness are the same as one session's, and their
//! results together are one session's, whatever the number of workers.
//!
//! An event reaches the sessions as its line (shared, never copied again);
//! the partial matches hold those lines, which is all the alerts need.

use super::alert::{Alert, Formatter};
use eql_engine::{
    CompiledRuleSet, Document, EventLimits, Matches, Routing, Session, SessionLimits,
    SessionOptions, Shard,
};
use std::sync::Arc;
use std::time::Instant;

/// An event as the sessions refer to it: its line number and its bytes.
pub(crate) type Handle = (u64, Arc<[u8]>);

/// An event for the sessions.
pub(crate) type Forward = (u64, Arc<[u8]>);

/// One worker's share of the stateful rules.
pub(crate) struct Stateful<'c> {
    session: Session<'c, Handle>,
    matches: Matches<Handle>,
    /// Session rule index → rule set index.
    rules: &'c [usize],
    limits: EventLimits,
    /// Events found late by the session.
    pub(crate) late: u64,
    /// Profiling: one push in `every` is timed (0: off).
    every: u32,
    countdown: u32,
    pub(crate) pushes: u64,
    pub(crate) sampled_pushes: u64,
    pub(crate) sampled_nanos: u64,
}

/// The session options of a scan.
fn session_options(reorder_window_ms: u64, shard: Shard) -> SessionOptions {
    SessionOptions {
        limits: SessionLimits {
            reorder_window_ms,
            ..SessionLimits::default()
        },
        shard: Some(shard),
        ..SessionOptions::default()
    }
}

impl<'c> Stateful<'c> {
    /// Worker `worker` of `routing` (built over `rules`, in order).
    pub(crate) fn new(
        compiled: &'c CompiledRuleSet,
        rules: &'c [usize],
        routing: &Arc<Routing>,
        worker: usize,
        reorder_window_ms: u64,
        limits: &EventLimits,
        profile_every: u32,
    ) -> Self {
        let engines = rules
            .iter()
            .filter_map(|&i| compiled.rules().get(i))
            .map(|r| &r.engine);
        let opts = session_options(reorder_window_ms, Shard::new(Arc::clone(routing), worker));
        Stateful {
            session: Session::new(engines, opts),
            matches: Matches::new(),
            rules,
            limits: limits.clone(),
            late: 0,
            every: profile_every,
            countdown: 0,
            pushes: 0,
            sampled_pushes: 0,
            sampled_nanos: 0,
        }
    }

    /// The routing of `rules` over `workers` workers.
    pub(crate) fn routing(compiled: &CompiledRuleSet, rules: &[usize], workers: usize) -> Routing {
        Routing::new(
            rules
                .iter()
                .filter_map(|&i| compiled.rules().get(i))
                .map(|r| &r.engine),
            workers,
        )
    }

    /// Pushes the events of one block; their alerts go to `out`.
    pub(crate) fn push(&mut self, events: &[Forward], fmt: &Formatter, out: &mut Vec<Alert>) {
        for (line, bytes) in events {
            // The line passed the checks already; parsing it again cannot
            // fail, and if it did the event would be skipped.
            let Ok(doc) = Document::parse(bytes, &self.limits) else {
                continue;
            };
            self.matches.clear();
            let t0 = self.tick();
            self.session
                .push((*line, Arc::clone(bytes)), &doc, &mut self.matches);
            if let Some(t0) = t0 {
                self.sampled_nanos += t0.elapsed().as_nanos() as u64;
            }
            self.drain(*line, fmt, out);
        }
    }

    /// Profiling: counts a push; the clock when this one is timed.
    fn tick(&mut self) -> Option<Instant> {
        self.pushes += 1;
        if self.every == 0 {
            return None;
        }
        if self.countdown == 0 {
            self.countdown = self.every - 1;
            self.sampled_pushes += 1;
            Some(Instant::now())
        } else {
            self.countdown -= 1;
            None
        }
    }

    /// Closes the input; the last alerts go to `out`.
    pub(crate) fn finish(&mut self, fmt: &Formatter, out: &mut Vec<Alert>) {
        self.matches.clear();
        self.session.finish(&mut self.matches);
        self.drain(u64::MAX, fmt, out);
    }

    fn drain(&mut self, at: u64, fmt: &Formatter, out: &mut Vec<Alert>) {
        self.late += self.matches.late().len() as u64;
        for m in self.matches.iter() {
            let Some(&rule) = self.rules.get(m.rule) else {
                continue;
            };
            let events: Vec<(u64, &[u8])> = m.events.iter().map(|(l, b)| (*l, &b[..])).collect();
            if let Some(a) = fmt.alert(at, rule, &events, m.key) {
                out.push(a);
            }
        }
    }
}
