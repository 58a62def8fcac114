//! The route stage, on the worker where each event is: its bytes checked,
//! the single-event rules' results emitted, and its step events placed on
//! the workers that own their rules' hits, at their epoch.

use super::{Found, Line, Output, Routed, Totals};
use crate::plan::{Release, Rules, Target};
use eql_engine::{Event, PackMatches, Placement, Value};
use std::sync::Arc;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::Stream;
use timely::ExchangeData;

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

/// The route stage's outputs: results (and bad lines, totals), and step
/// events to exchange.
type RouteOut<'scope, H> = (
    Stream<'scope, u64, Vec<Output<H>>>,
    Stream<'scope, u64, Vec<Routed<H>>>,
);

/// The route stage: checks, single-event rules, placement.
pub(super) fn route<H>(
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
        let mut router = Router::new();
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
                        router.line(&rules, &placement, t_in, line, &mut |o| found.give(o));
                    }
                }
                drop(found);
                let batch = &mut router.batch;
                router.totals.routed += batch.len() as u64;
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
                        found_out.session(&c).give(Output::Totals(router.totals));
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

/// The route stage's counts and scratch, kept across its activations.
struct Router<H> {
    totals: Totals,
    hits: PackMatches,
    singles: Vec<u32>,
    /// The stateful rules (positions) the current event is a step event of.
    stateful: Vec<u32>,
    owners: Vec<usize>,
    groups: Vec<Group>,
    /// Step events to send, with their epochs.
    batch: Vec<(u64, Routed<H>)>,
}

impl<H: Clone> Router<H> {
    fn new() -> Self {
        Router {
            totals: Totals::default(),
            hits: PackMatches::new(),
            singles: Vec::new(),
            stateful: Vec::new(),
            owners: Vec::new(),
            groups: Vec::new(),
            batch: Vec::new(),
        }
    }

    /// One line of input time `t_in`: checked and matched by the pack in
    /// one pass; the single-event rules' results (or the line's error) go
    /// to `give`, its step events to `batch`.
    fn line(
        &mut self,
        rules: &Rules,
        placement: &Placement,
        t_in: u64,
        line: Line<H>,
        give: &mut impl FnMut(Output<H>),
    ) {
        if let Err(error) = rules.pack.matches_json(&line.bytes, &mut self.hits) {
            self.totals.bad_lines += 1;
            give(Output::Bad {
                handle: line.handle,
                error,
            });
            return;
        }
        self.totals.events += 1;
        self.singles.clear();
        self.stateful.clear();
        for &k in self.hits.rules() {
            match rules.targets.get(k as usize) {
                Some(Target::Single(r)) => self.singles.push(*r),
                Some(Target::Step(p)) => self.stateful.push(*p),
                None => {}
            }
        }
        self.singles.dedup();
        for &rule in &self.singles {
            give(Output::Found(Found {
                rule: rule as usize,
                events: vec![Some(line.clone())],
                key: Vec::new(),
            }));
        }
        self.stateful.extend_from_slice(&rules.every_event);
        if self.stateful.is_empty() {
            return;
        }
        self.stateful.sort_unstable();
        self.stateful.dedup();
        self.place(rules, placement, t_in, &line);
        for g in self.groups.drain(..) {
            self.batch.push((
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

    /// Groups the destinations of the event's step matches (`stateful`):
    /// (worker, epoch, timestamp) → the rules, into `groups`.
    fn place(&mut self, rules: &Rules, placement: &Placement, t_in: u64, line: &Line<H>) {
        let Router {
            totals,
            stateful,
            owners,
            groups,
            ..
        } = self;
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
        for &p in stateful.iter() {
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
}
