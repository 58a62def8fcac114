//! Everything `scan` asks of [`Session`]s, in one place.
//!
//! Each stateful rule runs in a session of its own, fed, in input order,
//! with the events that match one of its step queries (every event, for a
//! rule that needs them all). A rule's session is held by one worker
//! (rule position modulo the number of workers); a worker handles only the
//! rules it holds. Since what a rule's session sees does not depend on the
//! number of workers or on the other rules, neither do its results, its
//! clock, its reorder buffer or which events are late.
//!
//! The order ([`StreamOrder`]) applies to each rule's own step events: in
//! [`StreamOrder::Bounded`] a rule's session holds every hit of its steps
//! and runs them sorted as Elasticsearch sorts them when the input ends (so
//! its results are Elasticsearch's); in [`StreamOrder::Window`] the window
//! runs on the newest timestamp among the rule's step events. The ordering
//! counts ([`OrderStats`]) are summed over the rules' sessions: an event is
//! counted once per stateful rule that saw it.
//!
//! An event reaches the sessions as its line (shared, never copied again),
//! parsed once per worker that needs it; the partial matches hold the
//! lines, which is all the alerts need.

use super::alert::{Alert, Formatter};
use eql_engine::{
    CompiledRuleSet, Document, EventLimits, Matches, Session, SessionOptions, SessionPlan,
    SessionStats, Step, StreamOrder,
};
use smallvec::SmallVec;
use std::sync::Arc;
use std::time::Instant;

/// An event as the sessions refer to it: the input it was read from, its
/// line number and its bytes. A saved state ([`super::state`]) holds these,
/// so an alert of a sequence that spans two inputs names each event's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Handle {
    pub(crate) input: Arc<str>,
    pub(crate) line: u64,
    pub(crate) bytes: Arc<[u8]>,
}

/// The stateful rules' sessions carried from one input to the next (and
/// through a state file): each rule's snapshot, by rule set index.
pub(crate) type Carry = std::collections::HashMap<usize, eql_engine::SessionSnapshot<Handle>>;

/// An event for the sessions.
pub(crate) struct Forward {
    pub(crate) line: u64,
    pub(crate) bytes: Arc<[u8]>,
    /// The stateful rules that need it (positions in
    /// [`super::plan::RulePlan::stateful`]), ascending.
    pub(crate) rules: SmallVec<[u32; 4]>,
}

/// One worker's sessions.
pub(crate) struct Stateful {
    /// Per rule this worker holds: its rule set index and its session.
    sessions: Vec<(usize, Session<Handle>)>,
    workers: usize,
    worker: usize,
    matches: Matches<Handle>,
    limits: EventLimits,
    /// The input being read.
    input: Arc<str>,
    /// Profiling: one event in `every` is timed (0: off).
    every: u32,
    countdown: u32,
    pub(crate) pushes: u64,
    pub(crate) sampled_pushes: u64,
    pub(crate) sampled_nanos: u64,
}

/// How far from timestamp order the stateful rules' step events came,
/// summed over the rules' sessions (an event counts once per stateful rule
/// that saw it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderStats {
    /// Step events a rule skipped because it had already run past them
    /// ([`SessionStats::late`]).
    pub late: u64,
    /// Step events that came after one that orders after them
    /// ([`SessionStats::out_of_order`]).
    pub out_of_order: u64,
    /// Step matches run before their turn because a rule held more than
    /// `SessionLimits::max_held_hits` ([`SessionStats::held_overflow`]).
    pub held_overflow: u64,
    /// Step events whose timestamp does not read ([`SessionStats::bad_timestamp`]).
    pub bad_timestamp: u64,
}

impl OrderStats {
    /// Adds a session's counts.
    fn add_session(&mut self, st: &SessionStats) {
        self.late += st.late;
        self.out_of_order += st.out_of_order;
        self.held_overflow += st.held_overflow;
        self.bad_timestamp += st.bad_timestamp;
    }

    /// Adds another worker's or input's counts.
    pub(crate) fn add(&mut self, o: &OrderStats) {
        self.late += o.late;
        self.out_of_order += o.out_of_order;
        self.held_overflow += o.held_overflow;
        self.bad_timestamp += o.bad_timestamp;
    }
}

impl Stateful {
    /// Worker `worker` of `workers`, over the stateful rules `rules`,
    /// reading `input`; a rule with a snapshot in `carry` goes on from it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        compiled: &CompiledRuleSet,
        rules: &[usize],
        workers: usize,
        worker: usize,
        order: Option<StreamOrder>,
        limits: &EventLimits,
        profile_every: u32,
        input: &str,
        carry: &Carry,
    ) -> Self {
        let workers = workers.max(1);
        let sessions = rules
            .iter()
            .enumerate()
            .filter(|(pos, _)| pos % workers == worker)
            .filter_map(|(_, &i)| {
                let rule = compiled.rules().get(i)?;
                let (plan, opts) = session_setup(rule, order);
                // A carried snapshot was checked against this plan when it
                // was loaded ([`super::state`]); a fresh session is the
                // fallback that cannot happen.
                let session = carry
                    .get(&i)
                    .and_then(|snap| Session::restore(plan.clone(), opts.clone(), snap.clone()).ok())
                    .unwrap_or_else(|| Session::new(plan, opts));
                Some((i, session))
            })
            .collect();
        Stateful {
            sessions,
            workers,
            worker,
            matches: Matches::new(),
            limits: limits.clone(),
            input: Arc::from(input),
            every: profile_every,
            countdown: 0,
            pushes: 0,
            sampled_pushes: 0,
            sampled_nanos: 0,
        }
    }

    /// Pushes the events of one block into the sessions of this worker's
    /// rules; their alerts go to `out`.
    pub(crate) fn push(&mut self, events: &[Forward], fmt: &Formatter, out: &mut Vec<Alert>) {
        for ev in events {
            let (workers, worker) = (self.workers, self.worker);
            let mine = ev
                .rules
                .iter()
                .map(|&p| p as usize)
                .filter(move |p| p % workers == worker);
            let mut mine = mine.peekable();
            if mine.peek().is_none() {
                continue;
            }
            // The line passed the checks already; parsing it again cannot
            // fail, and if it did the event would be skipped.
            let Ok(doc) = Document::parse(&ev.bytes, &self.limits) else {
                continue;
            };
            let t0 = self.tick();
            for p in mine {
                let Some((rule, session)) = self.sessions.get_mut(p / self.workers) else {
                    continue;
                };
                self.matches.clear();
                let handle = Handle {
                    input: Arc::clone(&self.input),
                    line: ev.line,
                    bytes: Arc::clone(&ev.bytes),
                };
                session.push(handle, &doc, &mut self.matches);
                drain(&self.matches, *rule, ev.line, fmt, out);
            }
            if let Some(t0) = t0 {
                self.sampled_nanos += t0.elapsed().as_nanos() as u64;
            }
        }
    }

    /// Profiling: counts an event; the clock when this one is timed.
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

    /// Ends the input. When the stream ends with it (`keep_open` false),
    /// the last alerts go to `out` (in a bounded input, every stateful
    /// rule's alerts) and the rules leave `carry`; else each rule's session
    /// is saved in `carry`, to go on with the next input. Returns the
    /// sessions' ordering counts.
    pub(crate) fn end(
        &mut self,
        keep_open: bool,
        fmt: &Formatter,
        out: &mut Vec<Alert>,
        carry: &mut Carry,
    ) -> OrderStats {
        let mut stats = OrderStats::default();
        for (rule, session) in &mut self.sessions {
            if keep_open {
                carry.insert(*rule, session.snapshot());
            } else {
                carry.remove(rule);
                self.matches.clear();
                session.finish(&mut self.matches);
                drain(&self.matches, *rule, u64::MAX, fmt, out);
            }
            stats.add_session(&session.stats());
        }
        stats
    }
}

/// The plan and options of rule `rule`'s session: the same for a new
/// session and for one restored from a snapshot.
pub(crate) fn session_setup(
    rule: &eql_engine::CompiledRule,
    order: Option<StreamOrder>,
) -> (Arc<SessionPlan>, SessionOptions) {
    let mut opts = SessionOptions::default();
    opts.order = order;
    (Arc::new(SessionPlan::new([rule.engine.clone()])), opts)
}

/// The alerts of `matches` (results of rule `rule`, found at line `at`).
fn drain(matches: &Matches<Handle>, rule: usize, at: u64, fmt: &Formatter, out: &mut Vec<Alert>) {
    for (nth, m) in matches.iter().enumerate() {
        let events: Vec<Option<(Option<&str>, u64, &[u8])>> = m
            .steps()
            .map(|step| match step {
                Step::Event(h) => Some((Some(&*h.input), h.line, &h.bytes[..])),
                Step::Missing => None,
            })
            .collect();
        let nth = u32::try_from(nth).unwrap_or(u32::MAX);
        if let Some(a) = fmt.alert(at, rule, nth, &events, m.key) {
            out.push(a);
        }
    }
}
