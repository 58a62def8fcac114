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
//! An event reaches the sessions as its line (shared, never copied again)
//! with the answers of the rules' step queries, which the packs computed
//! ([`Session::push_answered`]): a worker reads from the line only the
//! fields its sessions read besides their step queries' conditions
//! (timestamps, join keys, pipe fields), once, through one [`Projection`].
//! The partial matches hold the lines, which is all the alerts need.

use super::alert::{Alert, Formatter};
use super::plan::RulePlan;
use eql_engine::{
    Document, Event, EventLimits, FieldPath, Matches, Session, SessionOptions, SessionStats, Step,
    StreamOrder, Value,
};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::cell::OnceCell;
use std::sync::Arc;
use std::time::Instant;

/// An event as the sessions refer to it: its line number and its bytes.
pub(crate) type Handle = (u64, Arc<[u8]>);

/// An event for the sessions.
pub(crate) struct Forward {
    pub(crate) line: u64,
    pub(crate) bytes: Arc<[u8]>,
    /// The stateful rules that need it (positions in
    /// [`super::plan::RulePlan::stateful`]), ascending.
    pub(crate) rules: SmallVec<[u32; 4]>,
    /// (rule position, answer index) of the step queries it matches,
    /// ascending.
    pub(crate) answers: SmallVec<[(u32, u32); 4]>,
    /// The values of the fields the sessions read, captured by the pack
    /// (index in [`RulePlan::captures`], value).
    pub(crate) fields: Vec<(u32, Value<'static>)>,
}

/// An event as the sessions read it: the values the pack captured from its
/// line, which are every field the sessions read with their step queries
/// answered; any other field from the line itself, parsed then (there is
/// none unless a session reads a field its plan does not list).
struct Captured<'a> {
    paths: &'a [FieldPath],
    values: &'a [(u32, Value<'static>)],
    line: &'a [u8],
    limits: &'a EventLimits,
    doc: OnceCell<Option<Document<'a>>>,
}

impl Event for Captured<'_> {
    fn get(&self, path: &FieldPath) -> Option<Value<'_>> {
        match self.paths.iter().position(|p| p == path) {
            Some(k) => self
                .values
                .iter()
                .find(|(i, _)| *i as usize == k)
                .map(|(_, v)| view(v)),
            None => self
                .doc
                .get_or_init(|| Document::parse(self.line, self.limits).ok())
                .as_ref()?
                .get(path),
        }
    }
}

/// `v`, borrowing its strings.
fn view<'a>(v: &'a Value<'static>) -> Value<'a> {
    match v {
        Value::Str(s) => Value::Str(Cow::Borrowed(s)),
        Value::Array(items) => Value::Array(items.iter().map(view).collect()),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_ref()), view(v)))
                .collect(),
        ),
        Value::Null => Value::Null,
        Value::Bool(b) => Value::Bool(*b),
        Value::Int(i) => Value::Int(*i),
        Value::Float(f) => Value::Float(*f),
    }
}

/// One worker's sessions.
pub(crate) struct Stateful {
    /// Per rule this worker holds: its rule set index and its session.
    sessions: Vec<(usize, Session<Handle>)>,
    workers: usize,
    worker: usize,
    matches: Matches<Handle>,
    limits: EventLimits,
    /// The fields the pack captures for the sessions.
    captures: Arc<[FieldPath]>,
    /// Scratch: the answers of one rule.
    answered: Vec<u32>,
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
    /// Worker `worker` of `workers`, over the stateful rules of `plan`.
    pub(crate) fn new(
        plan: &RulePlan,
        workers: usize,
        worker: usize,
        order: Option<StreamOrder>,
        limits: &EventLimits,
        profile_every: u32,
    ) -> Self {
        let workers = workers.max(1);
        let sessions: Vec<(usize, Session<Handle>)> = plan
            .stateful
            .iter()
            .zip(&plan.session_plans)
            .enumerate()
            .filter(|(pos, _)| pos % workers == worker)
            .map(|(_, (&i, session_plan))| {
                let mut opts = SessionOptions::default();
                opts.order = order;
                (i, Session::new(Arc::clone(session_plan), opts))
            })
            .collect();
        Stateful {
            sessions,
            workers,
            worker,
            matches: Matches::new(),
            limits: limits.clone(),
            captures: Arc::from(plan.captures.as_slice()),
            answered: Vec::new(),
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
            let t0 = self.tick();
            let captures = Arc::clone(&self.captures);
            let event = Captured {
                paths: &captures,
                values: &ev.fields,
                line: &ev.bytes,
                limits: &self.limits,
                doc: OnceCell::new(),
            };
            for p in mine {
                let Some((rule, session)) = self.sessions.get_mut(p / self.workers) else {
                    continue;
                };
                self.answered.clear();
                self.answered.extend(
                    ev.answers
                        .iter()
                        .filter(|&&(q, _)| q as usize == p)
                        .map(|&(_, k)| k),
                );
                self.matches.clear();
                session.push_answered(
                    (ev.line, Arc::clone(&ev.bytes)),
                    &event,
                    &self.answered,
                    &mut self.matches,
                );
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

    /// Closes the input; the last alerts go to `out` (in a bounded input,
    /// every stateful rule's alerts). Returns the sessions' ordering counts.
    pub(crate) fn finish(&mut self, fmt: &Formatter, out: &mut Vec<Alert>) -> OrderStats {
        let mut stats = OrderStats::default();
        for (rule, session) in &mut self.sessions {
            self.matches.clear();
            session.finish(&mut self.matches);
            drain(&self.matches, *rule, u64::MAX, fmt, out);
            stats.add_session(&session.stats());
        }
        stats
    }
}

/// The alerts of `matches` (results of rule `rule`, found at line `at`).
fn drain(matches: &Matches<Handle>, rule: usize, at: u64, fmt: &Formatter, out: &mut Vec<Alert>) {
    for (nth, m) in matches.iter().enumerate() {
        let events: Vec<Option<(u64, &[u8])>> = m
            .steps()
            .map(|step| match step {
                Step::Event((l, b)) => Some((*l, &b[..])),
                Step::Missing => None,
            })
            .collect();
        let nth = u32::try_from(nth).unwrap_or(u32::MAX);
        if let Some(a) = fmt.alert(at, rule, nth, &events, m.key) {
            out.push(a);
        }
    }
}
