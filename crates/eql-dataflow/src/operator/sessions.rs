//! The session stage: step events held until the frontier passes their
//! epoch, then run in order through one session per rule on the worker
//! that owns them.

use super::{Found, Line, Output, Routed, Totals};
use crate::plan::{Release, Rules};
use eql_engine::{
    Document, Matches, Routing, RuleRoute, Session, SessionOptions, Shard, Step, StreamOrder,
};
use std::collections::btree_map::{BTreeMap, Entry};
use std::sync::Arc;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;
use timely::ExchangeData;

/// One worker's sessions: one per stateful rule it has seen a step event
/// of.
struct Owner<H> {
    rules: Arc<Rules>,
    /// Per stateful rule split by key, the routing of its shards (over the
    /// rule alone: the owner of a key is the same for every rule).
    shards: Vec<Option<Arc<Routing>>>,
    worker: usize,
    sessions: Vec<Option<Session<Line<H>>>>,
    matches: Matches<Line<H>>,
    /// Step events of [`Release::Held`] rules, waiting for the end of the
    /// input.
    held: Vec<Routed<H>>,
}

impl<H: Clone + Ord> Owner<H> {
    fn new(rules: Arc<Rules>, worker: usize, peers: usize) -> Self {
        let shards = rules
            .stateful
            .iter()
            .map(|s| {
                let q = s.plan.query(0)?;
                let r = Routing::new([q], peers);
                (r.rule(0) == Some(RuleRoute::ByKey)).then(|| Arc::new(r))
            })
            .collect();
        Owner {
            sessions: rules.stateful.iter().map(|_| None).collect(),
            rules,
            shards,
            worker,
            matches: Matches::new(),
            held: Vec::new(),
        }
    }

    /// Runs one step event through the sessions of its rules.
    fn run(&mut self, ev: &Routed<H>, give: &mut impl FnMut(Output<H>)) {
        let rules = &*self.rules;
        let doc = if ev.rules.len() > 1 {
            Document::parse(&ev.line.bytes, &rules.limits).ok()
        } else {
            None
        };
        for &p in &ev.rules {
            let (Some(sr), Some(slot)) = (
                rules.stateful.get(p as usize),
                self.sessions.get_mut(p as usize),
            ) else {
                continue;
            };
            let session = slot.get_or_insert_with(|| {
                let mut o = SessionOptions::default();
                o.order = Some(match sr.release {
                    Release::Time => StreamOrder::Window { window_ms: 0 },
                    Release::Held => StreamOrder::Bounded,
                    Release::Arrival => StreamOrder::Arrival,
                });
                o.limits = rules.session_limits.clone();
                o.event_limits = rules.limits.clone();
                o.shard = self
                    .shards
                    .get(p as usize)
                    .cloned()
                    .flatten()
                    .map(|r| Shard::new(r, self.worker));
                Session::new(Arc::clone(&sr.plan), o)
            });
            self.matches.clear();
            match &doc {
                Some(d) => session.push(ev.line.clone(), d, &mut self.matches),
                None => {
                    // The route stage checked the bytes: this cannot fail.
                    let _ = session.push_json(ev.line.clone(), &ev.line.bytes, &mut self.matches);
                }
            }
            for f in found(&self.matches, sr.rule) {
                give(Output::Found(f));
            }
        }
    }

    /// The end of the input: the held step events in handle order, then
    /// every session finishes. Adds the sessions' counts to `totals`.
    fn finish(&mut self, totals: &mut Totals, give: &mut impl FnMut(Output<H>)) {
        let mut held = std::mem::take(&mut self.held);
        held.sort_by(|a, b| a.line.handle.cmp(&b.line.handle));
        for ev in &held {
            self.run(ev, give);
        }
        for (p, slot) in self.sessions.iter_mut().enumerate() {
            let (Some(session), Some(sr)) = (slot, self.rules.stateful.get(p)) else {
                continue;
            };
            self.matches.clear();
            session.finish(&mut self.matches);
            for f in found(&self.matches, sr.rule) {
                give(Output::Found(f));
            }
            let st = session.stats();
            totals.late += st.late;
            totals.bad_timestamp += st.bad_timestamp;
            totals.held_overflow += st.held_overflow;
        }
    }
}

/// The session stage: step events held until the frontier passes their
/// epoch, then run in order through one session per rule.
pub(super) fn sessions<H>(
    routed: Stream<'_, u64, Vec<Routed<H>>>,
    rules: Arc<Rules>,
    worker: usize,
    peers: usize,
) -> Stream<'_, u64, Vec<Output<H>>>
where
    H: ExchangeData + Clone + Ord,
{
    routed.unary_frontier::<CapacityContainerBuilder<Vec<Output<H>>>, _, _, _>(
        Exchange::new(|r: &Routed<H>| u64::from(r.dest)),
        "EqlSessions",
        move |default_cap, _info| {
            let mut retained = Some(default_cap);
            let mut stash: BTreeMap<u64, (Capability<u64>, Vec<Routed<H>>)> = BTreeMap::new();
            // Step events waiting, in `stash` and in `owner.held`.
            let mut waiting = 0u64;
            let mut owner = Owner::new(rules, worker, peers);
            let mut totals = Totals::default();
            move |(input, frontier), output| {
                input.for_each_stamp(|cap, data| {
                    let Some(&t) = cap.least() else {
                        return;
                    };
                    let slot = match stash.entry(t) {
                        Entry::Occupied(e) => e.into_mut(),
                        Entry::Vacant(e) => {
                            let Some(c) = cap.retain_least(0) else {
                                return;
                            };
                            e.insert((c, Vec::new()))
                        }
                    };
                    for container in data {
                        waiting += container.len() as u64;
                        totals.received += container.len() as u64;
                        slot.1.append(container);
                    }
                });
                totals.peak_held = totals.peak_held.max(waiting);
                let frontier = frontier.frontier();
                while let Some(first) = stash.first_entry() {
                    if frontier.less_equal(first.key()) {
                        break;
                    }
                    let (cap, mut events) = first.remove();
                    events.sort_by(|a, b| (a.ts, &a.line.handle).cmp(&(b.ts, &b.line.handle)));
                    let mut out = output.session(&cap);
                    for ev in events {
                        if ev.held {
                            owner.held.push(ev);
                        } else {
                            waiting = waiting.saturating_sub(1);
                            owner.run(&ev, &mut |o| out.give(o));
                        }
                    }
                }
                match frontier.first() {
                    None => {
                        if let Some(c) = retained.take() {
                            let mut out = output.session(&c);
                            owner.finish(&mut totals, &mut |o| out.give(o));
                            out.give(Output::Totals(totals));
                        }
                    }
                    Some(t) => {
                        if let Some(c) = retained.as_mut() {
                            if c.time() < t {
                                c.downgrade(t);
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The results in `matches`, of rule `rule`.
fn found<H: Clone>(matches: &Matches<Line<H>>, rule: u32) -> impl Iterator<Item = Found<H>> + '_ {
    matches.iter().map(move |m| Found {
        rule: rule as usize,
        events: m
            .steps()
            .map(|s| match s {
                Step::Event(l) => Some(l.clone()),
                Step::Missing => None,
            })
            .collect(),
        key: m.key.to_vec(),
    })
}
