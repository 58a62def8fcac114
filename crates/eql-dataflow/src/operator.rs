//! The operator: a route stage on the worker where each event is (checks,
//! single-event rules, placement of step events), an exchange by join key,
//! and a session stage that releases step events as the frontier passes
//! their epoch.

use crate::plan::{Release, Rules, Target};
use eql_engine::{
    Document, Event, EventError, Matches, PackMatches, Placement, Routing, RuleRoute, Session,
    SessionOptions, Shard, Step, StreamOrder, Value,
};
use serde::{Deserialize, Serialize};
use std::collections::btree_map::{BTreeMap, Entry};
use std::sync::Arc;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::{Operator, OutputBuilder};
use timely::dataflow::operators::{Capability, Concat};
use timely::dataflow::Stream;
use timely::ExchangeData;

/// An event entering the operator: the caller's handle (such as its file
/// and line) and its bytes, one JSON object.
///
/// Handles order the step events of one timestamp (they play the part of
/// Elasticsearch's `_shard_doc` tiebreaker) and, for rules run in
/// [`StreamOrder::Arrival`], all of them: give handles in input order (a
/// line number, or (file, line)).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Line<H> {
    /// The caller's handle.
    pub handle: H,
    /// The event's bytes.
    pub bytes: Arc<[u8]>,
}

/// One result of one rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Found<H> {
    /// The rule's index (its position among the queries of [`Rules::new`]).
    pub rule: usize,
    /// The events of the result in step order, `None` for a missing
    /// (`![...]`) step; one event for a single-event rule.
    pub events: Vec<Option<Line<H>>>,
    /// The join key's values (empty when the rule has none).
    pub key: Vec<Value<'static>>,
}

/// What the operator emits.
#[derive(Clone, Debug, PartialEq)]
pub enum Output<H> {
    /// A result.
    Found(Found<H>),
    /// A line that is not an event, reported by the worker that read it
    /// (the other lines, and the other workers, carry on).
    Bad {
        /// The line's handle.
        handle: H,
        /// What is wrong with it.
        error: EventError,
    },
    /// Counts of one stage of one worker, once, when its input ends; the
    /// sum over every [`Output::Totals`] is the run's.
    Totals(Totals),
}

/// Counts of a run, summed with [`Totals::add`].
///
/// ```
/// use eql_dataflow::Totals;
/// let (mut a, mut b) = (Totals::default(), Totals::default());
/// (a.events, a.peak_held) = (2, 5);
/// (b.events, b.peak_held) = (3, 4);
/// a.add(&b);
/// assert_eq!((a.events, a.peak_held), (5, 5));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Totals {
    /// Lines read as events.
    pub events: u64,
    /// Lines that are not events.
    pub bad_lines: u64,
    /// Step events sent to a session stage (one per event, worker and
    /// epoch), counting those that stay on their worker.
    pub routed: u64,
    /// Step events a worker's sessions received (its share of `routed`).
    pub received: u64,
    /// Most step events one worker held at once, waiting for the frontier
    /// to pass their epoch (a maximum, not a sum).
    pub peak_held: u64,
    /// Step events a stateful rule skipped because it had already run past
    /// them (an event behind the promise of its input), summed over the
    /// sessions ([`eql_engine::SessionStats::late`]).
    pub late: u64,
    /// Step events whose timestamp does not read, summed over the sessions
    /// ([`eql_engine::SessionStats::bad_timestamp`]).
    pub bad_timestamp: u64,
    /// Step matches run before their turn because a rule held more than
    /// `SessionLimits::max_held_hits` ([`eql_engine::SessionStats::held_overflow`]).
    pub held_overflow: u64,
}

impl Totals {
    /// Adds another stage's or worker's counts.
    pub fn add(&mut self, o: &Totals) {
        self.events += o.events;
        self.bad_lines += o.bad_lines;
        self.routed += o.routed;
        self.received += o.received;
        self.peak_held = self.peak_held.max(o.peak_held);
        self.late += o.late;
        self.bad_timestamp += o.bad_timestamp;
        self.held_overflow += o.held_overflow;
    }
}

/// A step event on its way to the worker that holds its sessions.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Routed<H> {
    /// The worker it goes to.
    dest: u32,
    /// Its time on the clock of its rules (`None`: it has none that reads,
    /// or its rules run in arrival order).
    ts: Option<i64>,
    /// For rules whose sessions hold their hits to the end of the input
    /// ([`Release::Held`]): it waits for the end too.
    held: bool,
    line: Line<H>,
    /// The stateful rules (positions) it is for, ascending.
    rules: Vec<u32>,
}

/// An event's timestamp on one clock, read as a session reads it.
#[derive(Clone, Copy)]
enum Stamp {
    At(i64),
    /// Absent or null.
    Missing,
    /// Present, not a timestamp in the clock's format.
    Bad,
}

/// One destination of one event.
struct Group {
    dest: u32,
    epoch: u64,
    ts: Option<i64>,
    held: bool,
    rules: Vec<u32>,
}

/// Runs `rules` over `events` and emits their results, the lines that are
/// not events, and each stage's [`Totals`].
///
/// An event's timely time is a promise of its input: no event of a later
/// time on that input has an earlier timestamp, in the epochs of
/// [`Rules::epoch`] (a bounded input that promises nothing sends every
/// event at time 0 and drops its capability at its end).
///
/// - On the worker where the event is, its bytes are checked and the
///   single-event rules evaluated (one routed pack pass, no DOM); their
///   results are emitted at the event's time, with no exchange.
/// - The same pass names the stateful rules the event is a step event of.
///   For each, [`Placement`] names the workers that own its hits (the owner
///   of its join key, or the rule's one owner), and the event is sent to
///   each at the epoch of its timestamp on the rule's clock (not before the
///   event's own time).
/// - A worker holds the step events it receives until the frontier has
///   passed their epoch, then runs each epoch's events, sorted by
///   (timestamp, handle), through one session per rule
///   ([`StreamOrder::Window`] of 0 ms: as they come, with the timestamp
///   rules of [`StreamOrder::Bounded`]); sessions of rules split by key
///   keep only the hits their worker owns ([`Shard`]). Every rule thus sees
///   its step events in Elasticsearch's order, with no reorder window.
///   Samples (which pick each key's events by arrival, whatever their
///   time) and rules with a tiebreaker field take their step events by
///   handle and hold them to the end of the input, sorting them there as a
///   bounded session does; rules in [`StreamOrder::Arrival`] take their
///   step events by handle.
/// - When the input ends, the sessions finish (samples, pipes, pending
///   sequences) and each stage emits its [`Totals`].
///
/// `rules` must have been planned for the number of workers of the scope
/// ([`Rules::workers`]); otherwise the placement is planned again here.
pub fn rule_pack<'scope, H>(
    events: Stream<'scope, u64, Vec<Line<H>>>,
    rules: &Arc<Rules>,
) -> Stream<'scope, u64, Vec<Output<H>>>
where
    H: ExchangeData + Clone + Ord,
{
    let scope = events.scope();
    let peers = scope.peers();
    let placement = if rules.workers() == peers {
        rules.placement.clone()
    } else {
        Placement::new(rules.stateful.iter().filter_map(|s| s.plan.query(0)), peers)
    };
    let (found, routed) = route(events, Arc::clone(rules), placement);
    let held = sessions(routed, Arc::clone(rules), scope.index(), peers);
    found.concat(held)
}

/// The route stage: checks, single-event rules, placement.
type RouteOut<'scope, H> = (
    Stream<'scope, u64, Vec<Output<H>>>,
    Stream<'scope, u64, Vec<Routed<H>>>,
);

fn route<H>(
    events: Stream<'_, u64, Vec<Line<H>>>,
    rules: Arc<Rules>,
    placement: Placement,
) -> RouteOut<'_, H>
where
    H: ExchangeData + Clone + Ord,
{
    let mut builder = OperatorBuilder::new("EqlRoute".to_owned(), events.scope());
    let mut input = builder.new_input(events, Pipeline);
    let (found_out, found) = builder.new_output::<Vec<Output<H>>>();
    let (routed_out, routed) = builder.new_output::<Vec<Routed<H>>>();
    let mut found_out: OutputBuilder<u64, CapacityContainerBuilder<Vec<Output<H>>>> =
        OutputBuilder::from(found_out);
    let mut routed_out: OutputBuilder<u64, CapacityContainerBuilder<Vec<Routed<H>>>> =
        OutputBuilder::from(routed_out);
    builder.build(move |caps| {
        // Output 0's capability, kept at the input frontier, for the totals.
        let mut retained = caps.into_iter().next();
        let mut totals = Totals::default();
        let mut hits = PackMatches::new();
        let mut singles: Vec<u32> = Vec::new();
        let mut stateful: Vec<u32> = Vec::new();
        let mut owners: Vec<usize> = Vec::new();
        let mut groups: Vec<Group> = Vec::new();
        let mut batch: Vec<(u64, Routed<H>)> = Vec::new();
        move |frontiers| {
            let mut found_out = found_out.activate();
            let mut routed_out = routed_out.activate();
            input.for_each_stamp(|cap, data| {
                let Some(&t_in) = cap.least() else {
                    return;
                };
                let mut found = found_out.session(&cap);
                for container in data {
                    for line in container.drain(..) {
                        if let Err(error) = rules.pack.matches_json(&line.bytes, &mut hits) {
                            totals.bad_lines += 1;
                            found.give(Output::Bad {
                                handle: line.handle,
                                error,
                            });
                            continue;
                        }
                        totals.events += 1;
                        singles.clear();
                        stateful.clear();
                        for &k in hits.rules() {
                            match rules.targets.get(k as usize) {
                                Some(Target::Single(r)) => singles.push(*r),
                                Some(Target::Step(p)) => stateful.push(*p),
                                None => {}
                            }
                        }
                        singles.dedup();
                        for &rule in &singles {
                            found.give(Output::Found(Found {
                                rule: rule as usize,
                                events: vec![Some(line.clone())],
                                key: Vec::new(),
                            }));
                        }
                        stateful.extend_from_slice(&rules.every_event);
                        if stateful.is_empty() {
                            continue;
                        }
                        stateful.sort_unstable();
                        stateful.dedup();
                        place(
                            &rules,
                            &mut totals,
                            &placement,
                            t_in,
                            &line,
                            &stateful,
                            &mut owners,
                            &mut groups,
                        );
                        for g in groups.drain(..) {
                            batch.push((
                                g.epoch,
                                Routed {
                                    dest: g.dest,
                                    ts: g.ts,
                                    held: g.held,
                                    line: line.clone(),
                                    rules: g.rules,
                                },
                            ));
                        }
                    }
                }
                drop(found);
                totals.routed += batch.len() as u64;
                batch.sort_by_key(|(epoch, _)| *epoch);
                // One capability and one output session per epoch.
                let mut it = batch.drain(..).peekable();
                while let Some((epoch, first)) = it.next() {
                    let c = cap.delayed(&epoch, 1);
                    let mut s = routed_out.session(&c);
                    s.give(first);
                    while let Some((_, r)) = it.next_if(|(e, _)| *e == epoch) {
                        s.give(r);
                    }
                }
            });
            let frontier = frontiers[0].frontier();
            match frontier.first() {
                None => {
                    if let Some(c) = retained.take() {
                        found_out.session(&c).give(Output::Totals(totals));
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
    });
    (found, routed)
}

/// Groups the destinations of one event's step matches: (worker, epoch,
/// timestamp) → the rules.
#[allow(clippy::too_many_arguments)]
fn place<H>(
    rules: &Rules,
    totals: &mut Totals,
    placement: &Placement,
    t_in: u64,
    line: &Line<H>,
    stateful: &[u32],
    owners: &mut Vec<usize>,
    groups: &mut Vec<Group>,
) {
    // The pack pass checked the bytes; this parse reads only the join keys
    // and the timestamps (and cannot fail where the pack's did not).
    let Ok(ev) = rules.projection.parse(&line.bytes, &rules.limits) else {
        return;
    };
    let stamps: Vec<Stamp> = rules
        .clocks
        .iter()
        .map(|(field, format)| match ev.get(field) {
            None | Some(Value::Null) => Stamp::Missing,
            Some(v) => format.read_nanos(&v).map_or(Stamp::Bad, Stamp::At),
        })
        .collect();
    for &p in stateful {
        let Some(sr) = rules.stateful.get(p as usize) else {
            continue;
        };
        let ts = match (sr.release, stamps.get(sr.clock)) {
            (Release::Arrival, _) => None,
            (Release::Time, Some(Stamp::At(t))) => Some(*t),
            (Release::Held, Some(Stamp::At(_))) => None,
            // In Elasticsearch's order a rule skips an event whose timestamp
            // does not read, and a sequence one without a timestamp: its
            // session would (and would count the first kind).
            (_, Some(Stamp::Bad)) => {
                totals.bad_timestamp += 1;
                continue;
            }
            (_, Some(Stamp::Missing)) if sr.sequence => continue,
            (_, _) => None,
        };
        // Never before the event's own time (an event behind its input's
        // promise is late for its rules, which count it).
        let epoch = ts.map_or(t_in, |t| rules.epoch(t).max(t_in));
        let held = sr.release == Release::Held;
        placement.owners(p as usize, &ev, owners);
        for &w in owners.iter() {
            let dest = w as u32;
            match groups
                .iter_mut()
                .find(|g| g.dest == dest && g.epoch == epoch && g.ts == ts && g.held == held)
            {
                Some(g) => g.rules.push(p),
                None => groups.push(Group {
                    dest,
                    epoch,
                    ts,
                    held,
                    rules: vec![p],
                }),
            }
        }
    }
}

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
fn sessions<H>(
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
