//! `scan --profile`: where the time goes, per rule.
//!
//! Measured by sampling: one event in `every` (per evaluating thread) is
//! timed as a whole and, inside the packs, rule by rule (the clock is read
//! around each exact evaluation of a candidate rule, see
//! [`eql_engine::PackProfile`]); one session push in `every` is timed too.
//! Every event still counts, per rule, how often the rule was evaluated
//! exactly and how often it matched. A rule's time is its sampled time
//! scaled by events / sampled events. The remainder of the packs' time is
//! the JSON pass, routing and the candidate index, shared by every rule.
//! The overhead is two clock reads per evaluation on sampled events and a
//! few counters per candidate on the others. The clock is the wall clock: on
//! a loaded machine a sampled event during which the thread was switched out
//! inflates its rules (and the scaling multiplies it), so read the figures
//! from a quiet machine, or as a ranking.

use super::stateful::Stateful;
use super::Scanner;
use eql_engine::PackProfile;
use std::io::{self, Write};

/// Sampled timings of a scan: one event in `every` per evaluating thread is
/// timed as a whole and rule by rule inside the packs ([`eql_engine::PackProfile`]),
/// one session push in `every` too; a rule's time is its sampled time scaled
/// by events / sampled events.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    /// Per pack of the scan's plan, summed over threads.
    packs: Vec<PackProfile>,
    session_pushes: u64,
    session_sampled: u64,
    session_sampled_nanos: u64,
}

/// Scales a sampled time to every event.
fn scale(nanos: u64, all: u64, sampled: u64) -> f64 {
    if sampled == 0 {
        0.0
    } else {
        nanos as f64 * all as f64 / sampled as f64
    }
}

impl Profile {
    pub(crate) fn new(packs: Vec<PackProfile>) -> Self {
        Profile {
            packs,
            ..Profile::default()
        }
    }

    pub(crate) fn add_sessions(&mut self, st: &Stateful) {
        self.session_pushes += st.pushes;
        self.session_sampled += st.sampled_pushes;
        self.session_sampled_nanos += st.sampled_nanos;
    }

    /// Adds another thread's or input's profile.
    pub fn merge(&mut self, other: &Profile) {
        if self.packs.len() < other.packs.len() {
            self.packs.resize(other.packs.len(), PackProfile::default());
        }
        for (a, b) in self.packs.iter_mut().zip(&other.packs) {
            a.merge(b);
        }
        self.session_pushes += other.session_pushes;
        self.session_sampled += other.session_sampled;
        self.session_sampled_nanos += other.session_sampled_nanos;
    }

    /// Writes the `top` costliest rules and the shared costs.
    pub fn write(&self, sc: &Scanner, top: usize, w: &mut dyn Write) -> io::Result<()> {
        // Per rule: (estimated ns, evaluations, matches).
        let mut per_rule = vec![(0f64, 0u64, 0u64); sc.compiled.len()];
        let mut packs_total = 0f64;
        let mut rules_total = 0f64;
        for (p, (pack, _)) in self.packs.iter().zip(&sc.plan.packs) {
            packs_total += scale(p.sampled_event_nanos, p.events, p.sampled_events);
            for (k, &nanos) in p.sampled_nanos.iter().enumerate() {
                let Some(rule) = pack.rule_index(k as u32) else {
                    continue;
                };
                let t = scale(nanos, p.events, p.sampled_events);
                rules_total += t;
                if let Some(r) = per_rule.get_mut(rule) {
                    r.0 += t;
                    r.1 += p.evaluated.get(k).copied().unwrap_or(0);
                    r.2 += p.matched.get(k).copied().unwrap_or(0);
                }
            }
        }
        let sessions = scale(
            self.session_sampled_nanos,
            self.session_pushes,
            self.session_sampled,
        );
        let ms = |ns: f64| ns / 1e6;
        let every = self.packs.first().map_or(0, |p| p.every);
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
            let stateful = if sc.plan.stateful.binary_search(&i).is_ok() {
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
