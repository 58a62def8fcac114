//! `scan --profile`: where the time goes, per rule.
//!
//! Measured by sampling: one event in `every` (per evaluating thread) is
//! timed as a whole and, inside the packs, rule by rule (the clock is read
//! around each exact evaluation of a candidate rule, see
//! [`eql_engine::PackProfile`]); one session push in `every` is timed too.
//! Every event still counts, per rule, how often the rule was evaluated
//! exactly and how often it matched. A rule's time is its mean time per
//! evaluation times its evaluations. The remainder of the packs' time is
//! the JSON pass, routing and the candidate index, shared by every rule.
//! The overhead is two clock reads per evaluation on sampled events and a
//! few counters per candidate on the others. The clock is the wall clock: a
//! sampled event during which the thread was switched out lasts
//! milliseconds, so each mean is a median of means over groups of sampled
//! events ([`eql_engine::SampledTime`]), which such an event cannot skew.

use super::plan::RulePlan;
use super::stateful::Stateful;
use super::Scanner;
use eql_engine::{PackProfile, SampledTime};
use std::io::{self, Write};

/// Sampled timings of a scan: one event in `every` per evaluating thread is
/// timed as a whole and rule by rule inside the packs ([`eql_engine::PackProfile`]),
/// one session push in `every` too; a rule's time is its robust mean time
/// per evaluation times its evaluations.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    /// Per rule: estimated nanoseconds, exact evaluations, matches; summed
    /// over the packs of every plan (one per index routing) and threads.
    rules: Vec<(f64, u64, u64)>,
    /// Estimated nanoseconds in the packs.
    packs_nanos: f64,
    /// One event in this many is timed.
    every: u32,
    session_pushes: u64,
    session_sampled: SampledTime,
}

impl Profile {
    /// The profile of the packs of `plans` (each plan with its packs'
    /// profiles, in its packs' order) over a rule set of `rules` rules.
    pub(crate) fn new<'a>(
        rules: usize,
        plans: impl IntoIterator<Item = (&'a RulePlan, Vec<Option<&'a PackProfile>>)>,
    ) -> Self {
        let mut out = Profile {
            rules: vec![(0.0, 0, 0); rules],
            ..Profile::default()
        };
        for (plan, profiles) in plans {
            for (p, (pack, _)) in profiles.into_iter().zip(&plan.packs) {
                let Some(p) = p else { continue };
                out.every = out.every.max(p.every);
                out.packs_nanos += p.events_nanos();
                for k in 0..p.evaluated.len() {
                    let Some(rule) = pack.rule_index(k as u32) else {
                        continue;
                    };
                    if let Some(r) = out.rules.get_mut(rule) {
                        r.0 += p.rule_nanos(k);
                        r.1 += p.evaluated.get(k).copied().unwrap_or(0);
                        r.2 += p.matched.get(k).copied().unwrap_or(0);
                    }
                }
            }
        }
        out
    }

    /// True when an event was profiled.
    pub(crate) fn is_empty(&self) -> bool {
        self.every == 0 && self.session_pushes == 0
    }

    pub(crate) fn add_sessions(&mut self, st: &Stateful) {
        self.session_pushes += st.pushes;
        self.session_sampled.merge(&st.sampled);
    }

    /// Adds another thread's or input's profile.
    pub fn merge(&mut self, other: &Profile) {
        if self.rules.len() < other.rules.len() {
            self.rules.resize(other.rules.len(), (0.0, 0, 0));
        }
        for (a, b) in self.rules.iter_mut().zip(&other.rules) {
            a.0 += b.0;
            a.1 += b.1;
            a.2 += b.2;
        }
        self.packs_nanos += other.packs_nanos;
        self.every = self.every.max(other.every);
        self.session_pushes += other.session_pushes;
        self.session_sampled.merge(&other.session_sampled);
    }

    /// Writes the `top` costliest rules and the shared costs.
    pub fn write(&self, sc: &Scanner, top: usize, w: &mut dyn Write) -> io::Result<()> {
        let per_rule = &self.rules;
        let packs_total = self.packs_nanos;
        let rules_total: f64 = per_rule.iter().map(|r| r.0).sum();
        let sessions = self.session_sampled.estimate_nanos(self.session_pushes);
        let ms = |ns: f64| ns / 1e6;
        let every = self.every;
        writeln!(
            w,
            "profile (one event in {every} timed; times are estimates for the whole input, summed over threads):"
        )?;
        writeln!(
            w,
            "  packs: {:.1} ms, of which JSON pass, routing and candidate index {:.1} ms and exact evaluation {:.1} ms",
            ms(packs_total),
            ms((packs_total - rules_total).max(0.0)),
            ms(rules_total)
        )?;
        writeln!(
            w,
            "  sessions: {:.1} ms over {} step events (pushed with the packs' answers)",
            ms(sessions),
            self.session_pushes
        )?;
        let mut order: Vec<usize> = (0..per_rule.len()).collect();
        order.sort_by(|&a, &b| per_rule[b].0.total_cmp(&per_rule[a].0));
        writeln!(
            w,
            "  {:>9}  {:>6}  {:>10}  {:>8}  rule",
            "est. ms", "share", "evaluated", "matched"
        )?;
        for &i in order.iter().take(top) {
            let (t, evals, hits) = per_rule[i];
            if evals == 0 {
                break;
            }
            let share = if rules_total > 0.0 {
                100.0 * t / rules_total
            } else {
                0.0
            };
            let name = sc
                .compiled
                .rules()
                .get(i)
                .map_or("?", |r| r.rule.name.as_str());
            let stateful = if sc.index.default_plan().stateful.binary_search(&i).is_ok() {
                " (steps)"
            } else {
                ""
            };
            writeln!(
                w,
                "  {:>9.2}  {:>5.1}%  {evals:>10}  {hits:>8}  {name}{stateful}",
                ms(t),
                share
            )?;
        }
        Ok(())
    }
}
