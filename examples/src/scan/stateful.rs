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
//! [`StreamOrder::Bounded`] a rule's session holds the hits of its steps
//! and runs them sorted as Elasticsearch sorts them (so its results are
//! Elasticsearch's): when the input ends, or, for a file whose timestamps
//! were read ahead ([`Watermarks`]), once no line still to come orders
//! before them; in [`StreamOrder::Window`] the window
//! runs on the newest timestamp among the rule's step events. The ordering
//! counts ([`OrderStats`]) are summed over the rules' sessions: an event is
//! counted once per stateful rule that saw it.
//!
//! An event reaches the sessions as its line (shared, never copied again)
//! with the answers of the rules' step queries, which the packs computed
//! ([`Session::push_answered`]) and the values of the other fields the
//! sessions read (timestamps, join keys, pipe fields), which the pack
//! captured in the same pass ([`eql_engine::Pack::capture`]): the sessions
//! parse nothing. The partial matches and held hits refer to their events'
//! lines by [`LineRef`]: where the line is in the input file when it can be
//! read again (memory then does not grow with the lines held), else the
//! line itself. The alerts read the lines from there.

use super::alert::{Alert, EventLine, Formatter};
use super::plan::RulePlan;
use super::watermark::Watermarks;
use eql_engine::{
    Document, Event, EventLimits, FieldPath, Matches, SampledTime, Session, SessionOptions,
    SessionStats, Step, StreamOrder, Value,
};
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::cell::OnceCell;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// An event as the sessions refer to it: the input it was read from, its
/// line number and its line. A saved state ([`super::state`]) holds these,
/// so an alert of a sequence that spans two inputs names each event's own.
#[derive(Clone, Debug)]
pub(crate) struct Handle {
    pub(crate) input: Arc<str>,
    pub(crate) line: u64,
    pub(crate) bytes: LineRef,
}

/// The stateful rules' sessions carried from one input to the next (and
/// through a state file): each rule's snapshot, by rule set index.
pub(crate) type Carry = std::collections::HashMap<usize, eql_engine::SessionSnapshot<Handle>>;

/// Where an event's line is.
#[derive(Clone, Debug)]
pub(crate) enum LineRef {
    /// The line itself (an input that cannot be read again).
    Bytes(Arc<[u8]>),
    /// Its place in the input file ([`Reread`]): (byte offset, length).
    At(u64, u32),
}

/// The input file, opened a second time to read the lines of the stateful
/// rules' alerts again ([`LineRef::At`]), with its timestamps read ahead
/// when the sessions can use them ([`Watermarks`]).
pub(crate) struct Reread {
    file: Mutex<File>,
    ahead: Option<Watermarks>,
}

impl Reread {
    pub(crate) fn new(file: File, ahead: Option<Watermarks>) -> Self {
        Reread {
            file: Mutex::new(file),
            ahead,
        }
    }

    /// The file's times read ahead, when they were.
    pub(crate) fn watermarks(&self) -> Option<&Watermarks> {
        self.ahead.as_ref()
    }

    /// The bytes of line `line` (its number, for the error) at `at`.
    fn read(&self, line: u64, at: u64, len: u32) -> io::Result<Vec<u8>> {
        let mut f = self
            .file
            .lock()
            .map_err(|_| io::Error::other("the input file's reader failed"))?;
        let mut buf = vec![0; len as usize];
        f.seek(SeekFrom::Start(at))
            .and_then(|_| f.read_exact(&mut buf))
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("line {line} could not be read again (did the input change?): {e}"),
                )
            })?;
        Ok(buf)
    }

    /// The line `r` refers to.
    fn line<'a>(this: Option<&Self>, line: u64, r: &'a LineRef) -> io::Result<Cow<'a, [u8]>> {
        match (r, this) {
            (LineRef::Bytes(b), _) => Ok(Cow::Borrowed(&b[..])),
            (LineRef::At(at, len), Some(this)) => this.read(line, *at, *len).map(Cow::Owned),
            (LineRef::At(..), None) => Err(io::Error::other(format!(
                "line {line} is not at hand: the input cannot be read again"
            ))),
        }
    }
}

/// An event for the sessions: its lists are runs of its block's
/// [`Forwarded`] vectors.
pub(crate) struct Forward {
    pub(crate) line: u64,
    pub(crate) bytes: LineRef,
    /// Its line's byte offset in the input.
    at: u64,
    /// Its line was evaluated with the gates set ([`super::gate`]): by the
    /// default plan, in a scan with gated steps.
    gated: bool,
    /// The stateful rules that need it (positions in
    /// [`super::plan::RulePlan::stateful`]), ascending.
    rules: Range<u32>,
    /// (rule position, answer index) of the step queries it matches,
    /// ascending.
    answers: Range<u32>,
    /// The values of the fields the sessions read, captured by the pack
    /// (index in [`RulePlan::captures`], value), in index order.
    fields: Range<u32>,
}

/// The events of one block for the sessions, in order. Their lists share
/// three vectors of the block, so forwarding an event allocates nothing
/// of its own but the strings of its captured values.
#[derive(Default)]
pub(crate) struct Forwarded {
    pub(crate) events: Vec<Forward>,
    rules: Vec<u32>,
    answers: Vec<(u32, u32)>,
    fields: Vec<(u32, Value<'static>)>,
    /// In a file read ahead: each run of the read-ahead ([`Watermarks::run`])
    /// that starts in the block, with the number of its first line, in
    /// order. The sessions learn the earliest time still to come at these
    /// lines, whichever events are forwarded.
    runs: Vec<(u64, u64)>,
}

/// The run of `v` from `start` to its end.
fn run_from<T>(v: &[T], start: usize) -> Range<u32> {
    let at = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    at(start)..at(v.len())
}

/// The items of `v` in `r` (none when `r` is out of bounds).
fn run<'v, T>(v: &'v [T], r: &Range<u32>) -> &'v [T] {
    v.get(r.start as usize..r.end as usize).unwrap_or(&[])
}

impl Forwarded {
    /// Adds the event of line `line` at byte `at` of the input, read from
    /// `bytes`, evaluated with the gates set or not (`gated`), for the
    /// stateful `rules` (ascending), with the step `answers` it matches and
    /// its captured `fields`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push(
        &mut self,
        line: u64,
        at: u64,
        gated: bool,
        bytes: LineRef,
        rules: &[u32],
        answers: &[(u32, u32)],
        fields: impl IntoIterator<Item = (u32, Value<'static>)>,
    ) {
        let (r, a, f) = (self.rules.len(), self.answers.len(), self.fields.len());
        self.rules.extend_from_slice(rules);
        self.answers.extend_from_slice(answers);
        self.fields.extend(fields);
        self.events.push(Forward {
            line,
            bytes,
            at,
            gated,
            rules: run_from(&self.rules, r),
            answers: run_from(&self.answers, a),
            fields: run_from(&self.fields, f),
        });
    }

    /// The stateful rules event `ev` is for.
    fn rules(&self, ev: &Forward) -> &[u32] {
        run(&self.rules, &ev.rules)
    }

    /// The step answers of event `ev`.
    fn answers(&self, ev: &Forward) -> &[(u32, u32)] {
        run(&self.answers, &ev.answers)
    }

    /// The captured fields of event `ev`.
    fn fields(&self, ev: &Forward) -> &[(u32, Value<'static>)] {
        run(&self.fields, &ev.fields)
    }

    /// Line `line` starts run `run` of the read-ahead (a run of the file
    /// that the lines before it in the block are not in).
    pub(crate) fn run_starts(&mut self, run: u64, line: u64) {
        if self.runs.last().is_none_or(|&(r, _)| r != run) {
            self.runs.push((run, line));
        }
    }

    /// Lets `f` remove step answers from each event in order, given the
    /// event's byte offset and whether it was gated: a rule left with no
    /// answer no longer gets the event (a rule that had none, one that
    /// sees every event, still does), and an event left for no rule is
    /// not forwarded. Captured fields stay.
    pub(crate) fn retain_answers(&mut self, mut f: impl FnMut(u64, bool, &mut Vec<(u32, u32)>)) {
        let (mut rules, mut answers) = (Vec::new(), Vec::new());
        let mut mine: Vec<(u32, u32)> = Vec::new();
        let mut events = std::mem::take(&mut self.events);
        events.retain_mut(|ev| {
            let before = run(&self.answers, &ev.answers);
            mine.clear();
            mine.extend_from_slice(before);
            f(ev.at, ev.gated, &mut mine);
            let (r, a) = (rules.len(), answers.len());
            rules.extend(run(&self.rules, &ev.rules).iter().copied().filter(|&p| {
                let had = before.iter().any(|&(q, _)| q == p);
                !had || mine.iter().any(|&(q, _)| q == p)
            }));
            answers.extend_from_slice(&mine);
            ev.rules = run_from(&rules, r);
            ev.answers = run_from(&answers, a);
            !ev.rules.is_empty()
        });
        self.events = events;
        self.rules = rules;
        self.answers = answers;
    }

    /// Adds the events of `other`, more events of the same block's lines,
    /// in order: an event of a line already here gets the rules, step
    /// answers and captured fields it did not have. The events of lines
    /// `other` does not have keep their lists where they are; the lists of
    /// the others are appended.
    pub(crate) fn merge(&mut self, other: &Forwarded) {
        if other.events.is_empty() {
            return;
        }
        let mine = std::mem::take(&mut self.events);
        let mut events = Vec::with_capacity(mine.len() + other.events.len());
        let mut theirs = other.events.iter().peekable();
        let (mut rules, mut answers, mut fields) = (Vec::new(), Vec::new(), Vec::new());
        for ev in mine {
            while let Some(b) = theirs.next_if(|b| b.line < ev.line) {
                let (r, a, f) = (other.rules(b), other.answers(b), other.fields(b));
                events.push(self.append(b, b.gated, r, a, f));
            }
            let Some(b) = theirs.next_if(|b| b.line == ev.line) else {
                events.push(ev);
                continue;
            };
            // The union of both events' lists.
            rules.clear();
            rules.extend_from_slice(self.rules(&ev));
            rules.extend_from_slice(other.rules(b));
            rules.sort_unstable();
            rules.dedup();
            answers.clear();
            answers.extend_from_slice(self.answers(&ev));
            answers.extend_from_slice(other.answers(b));
            answers.sort_unstable();
            answers.dedup();
            fields.clear();
            fields.extend_from_slice(other.fields(b));
            for f in self.fields(&ev) {
                if other.fields(b).iter().all(|g| g.0 != f.0) {
                    fields.push(f.clone());
                }
            }
            fields.sort_by_key(|f| f.0);
            events.push(self.append(&ev, ev.gated || b.gated, &rules, &answers, &fields));
        }
        for b in theirs {
            let (r, a, f) = (other.rules(b), other.answers(b), other.fields(b));
            events.push(self.append(b, b.gated, r, a, f));
        }
        self.events = events;
    }

    /// The event of `ev`'s line with the lists `rules`, `answers` and
    /// `fields` appended to this block's.
    fn append(
        &mut self,
        ev: &Forward,
        gated: bool,
        rules: &[u32],
        answers: &[(u32, u32)],
        fields: &[(u32, Value<'static>)],
    ) -> Forward {
        let (r, a, f) = (self.rules.len(), self.answers.len(), self.fields.len());
        self.rules.extend_from_slice(rules);
        self.answers.extend_from_slice(answers);
        self.fields.extend_from_slice(fields);
        Forward {
            line: ev.line,
            bytes: ev.bytes.clone(),
            at: ev.at,
            gated,
            rules: run_from(&self.rules, r),
            answers: run_from(&self.answers, a),
            fields: run_from(&self.fields, f),
        }
    }

    /// Empties the block, keeping its allocations.
    pub(crate) fn clear(&mut self) {
        self.events.clear();
        self.rules.clear();
        self.answers.clear();
        self.fields.clear();
        self.runs.clear();
    }
}

/// An event as the sessions read it: the values the pack captured from its
/// line, which are every field the sessions read with their step queries
/// answered; any other field from the line itself, parsed then (there is
/// none unless a session reads a field its plan does not list).
struct Captured<'a> {
    /// Each captured path's index in [`RulePlan::captures`].
    paths: &'a FxHashMap<FieldPath, u32>,
    values: &'a [(u32, Value<'static>)],
    line: (u64, &'a LineRef),
    reread: Option<&'a Reread>,
    limits: &'a EventLimits,
    doc: OnceCell<Option<Document<'static>>>,
}

impl Event for Captured<'_> {
    fn get(&self, path: &FieldPath) -> Option<Value<'_>> {
        match self.paths.get(path) {
            // The values come in index order ([`eql_engine::PackMatches::captured`]).
            Some(&k) => self
                .values
                .binary_search_by_key(&k, |(i, _)| *i)
                .ok()
                .and_then(|at| self.values.get(at))
                .map(|(_, v)| view(v)),
            None => self
                .doc
                .get_or_init(|| {
                    let bytes = Reread::line(self.reread, self.line.0, self.line.1).ok()?;
                    Document::parse(&bytes, self.limits)
                        .ok()
                        .map(Document::into_owned)
                })
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
    captures: Arc<FxHashMap<FieldPath, u32>>,
    /// Scratch: the answers of one rule.
    answered: Vec<u32>,
    /// The input file, when its lines can be read again.
    reread: Option<Arc<Reread>>,
    /// The input being read.
    input: Arc<str>,
    /// Per session, its clock among the times read ahead ([`Watermarks`]).
    clocks: Vec<Option<usize>>,
    /// The run of the file ([`Watermarks`]) of the last event pushed.
    run: u64,
    /// Profiling: one event in `every` is timed (0: off).
    every: u32,
    countdown: u32,
    pub(crate) pushes: u64,
    /// The timed pushes, grouped by their number.
    pub(crate) sampled: SampledTime,
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
    /// The most step matches each rule held at once, summed over the rules
    /// ([`SessionStats::peak_held_hits`]).
    pub peak_held: u64,
}

impl OrderStats {
    /// Adds a session's counts.
    fn add_session(&mut self, st: &SessionStats) {
        self.late += st.late;
        self.out_of_order += st.out_of_order;
        self.held_overflow += st.held_overflow;
        self.bad_timestamp += st.bad_timestamp;
        self.peak_held += st.peak_held_hits as u64;
    }

    /// Adds another worker's or input's counts.
    pub(crate) fn add(&mut self, o: &OrderStats) {
        self.late += o.late;
        self.out_of_order += o.out_of_order;
        self.held_overflow += o.held_overflow;
        self.bad_timestamp += o.bad_timestamp;
        self.peak_held += o.peak_held;
    }
}

impl Stateful {
    /// Worker `worker` of `workers`, over the stateful rules of `plan`,
    /// reading `input`; a rule with a snapshot in `carry` goes on from it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        plan: &RulePlan,
        workers: usize,
        worker: usize,
        order: Option<StreamOrder>,
        limits: &EventLimits,
        profile_every: u32,
        reread: Option<Arc<Reread>>,
        input: &str,
        carry: &Carry,
    ) -> Self {
        let workers = workers.max(1);
        let ahead = reread.as_deref().and_then(|r| r.ahead.as_ref());
        let mut clocks = Vec::new();
        let sessions: Vec<(usize, Session<Handle>)> = plan
            .stateful
            .iter()
            .zip(&plan.session_plans)
            .enumerate()
            .filter(|(pos, _)| pos % workers == worker)
            .map(|(_, (&i, session_plan))| {
                clocks.push(ahead.and_then(|a| a.clock_of(session_plan.query(0)?)));
                let mut opts = SessionOptions::default();
                opts.order = order;
                // A carried snapshot was checked against this rule when it
                // was loaded ([`super::state`]); a fresh session is the
                // fallback that cannot happen.
                let session = carry
                    .get(&i)
                    .and_then(|snap| {
                        Session::restore(Arc::clone(session_plan), opts.clone(), snap.clone()).ok()
                    })
                    .unwrap_or_else(|| Session::new(Arc::clone(session_plan), opts));
                (i, session)
            })
            .collect();
        Stateful {
            sessions,
            workers,
            worker,
            matches: Matches::new(),
            limits: limits.clone(),
            captures: Arc::new(
                plan.captures
                    .iter()
                    .zip(0..)
                    .map(|(p, k)| (p.clone(), k))
                    .collect(),
            ),
            answered: Vec::new(),
            reread,
            input: Arc::from(input),
            clocks,
            run: 0,
            every: profile_every,
            countdown: 0,
            pushes: 0,
            sampled: SampledTime::default(),
        }
    }

    /// Pushes the events of one block into the sessions of this worker's
    /// rules; their alerts go to `out`. An error is a line of an alert that
    /// could not be read again.
    pub(crate) fn push(
        &mut self,
        block: &Forwarded,
        fmt: &Formatter,
        out: &mut Vec<Alert>,
    ) -> io::Result<()> {
        let mut runs = block.runs.iter().peekable();
        for ev in &block.events {
            // The runs that start at or before this event's line: what they
            // release is found at their first line.
            while let Some(&(run, line)) = runs.next_if(|&&(_, line)| line <= ev.line) {
                self.read_ahead(run, line, fmt, out)?;
            }
            let (workers, worker) = (self.workers, self.worker);
            let mine = block
                .rules(ev)
                .iter()
                .map(|&p| p as usize)
                .filter(move |p| p % workers == worker);
            let mut mine = mine.peekable();
            if mine.peek().is_none() {
                continue;
            }
            let t0 = self.tick();
            let captures = Arc::clone(&self.captures);
            let reread = self.reread.clone();
            let event = Captured {
                paths: &captures,
                values: block.fields(ev),
                line: (ev.line, &ev.bytes),
                reread: reread.as_deref(),
                limits: &self.limits,
                doc: OnceCell::new(),
            };
            for p in mine {
                let Some((rule, session)) = self.sessions.get_mut(p / self.workers) else {
                    continue;
                };
                // The event's answers are ascending by rule: this rule's
                // are one run of them.
                let answers = block.answers(ev);
                let from = answers.partition_point(|&(q, _)| (q as usize) < p);
                self.answered.clear();
                self.answered.extend(
                    answers
                        .get(from..)
                        .unwrap_or(&[])
                        .iter()
                        .take_while(|&&(q, _)| q as usize == p)
                        .map(|&(_, k)| k),
                );
                self.matches.clear();
                let handle = Handle {
                    input: Arc::clone(&self.input),
                    line: ev.line,
                    bytes: ev.bytes.clone(),
                };
                session.push_answered(handle, &event, &self.answered, &mut self.matches);
                drain(&self.matches, *rule, ev.line, fmt, reread.as_deref(), out)?;
            }
            if let Some(t0) = t0 {
                let sample = self.sampled.samples();
                self.sampled.add(sample, t0.elapsed().as_nanos() as u64);
            }
        }
        for &(run, line) in runs {
            self.read_ahead(run, line, fmt, out)?;
        }
        Ok(())
    }

    /// At line `line`, the first of run `run` of the file, tells every
    /// session the earliest time still to come
    /// ([`Session::release_before`]); what that releases is found at that
    /// line. The runs come from the input alone ([`Forwarded::run_starts`]),
    /// not from the events forwarded (which depend on the steps left out
    /// and so on the threads): the alerts and their order are the same
    /// for any number of threads.
    fn read_ahead(
        &mut self,
        run: u64,
        line: u64,
        fmt: &Formatter,
        out: &mut Vec<Alert>,
    ) -> io::Result<()> {
        if run <= self.run {
            return Ok(());
        }
        self.run = run;
        let Some(ahead) = self.reread.as_deref().and_then(|r| r.ahead.as_ref()) else {
            return Ok(());
        };
        for ((rule, session), clock) in self.sessions.iter_mut().zip(&self.clocks) {
            let Some(clock) = *clock else { continue };
            self.matches.clear();
            session.release_before(ahead.ahead_of_run(clock, run), &mut self.matches);
            drain(&self.matches, *rule, line, fmt, self.reread.as_deref(), out)?;
        }
        Ok(())
    }

    /// Profiling: counts an event; the clock when this one is timed.
    fn tick(&mut self) -> Option<Instant> {
        self.pushes += 1;
        if self.every == 0 {
            return None;
        }
        if self.countdown == 0 {
            self.countdown = self.every - 1;
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
    ) -> io::Result<OrderStats> {
        let mut stats = OrderStats::default();
        for (rule, session) in &mut self.sessions {
            if keep_open {
                carry.insert(*rule, session.snapshot());
            } else {
                carry.remove(rule);
                self.matches.clear();
                session.finish(&mut self.matches);
                drain(
                    &self.matches,
                    *rule,
                    u64::MAX,
                    fmt,
                    self.reread.as_deref(),
                    out,
                )?;
            }
            stats.add_session(&session.stats());
        }
        Ok(stats)
    }
}

/// The plan and options of rule `rule`'s session, as a state file is
/// checked against them: the same as [`Stateful::new`] gives it.
pub(crate) fn session_setup(
    rule: &eql_engine::CompiledRule,
    order: Option<StreamOrder>,
) -> (Arc<eql_engine::SessionPlan>, SessionOptions) {
    let mut opts = SessionOptions::default();
    opts.order = order;
    (
        Arc::new(eql_engine::SessionPlan::new([rule.engine.clone()])),
        opts,
    )
}

/// An event's input, line number and line, as read for an alert.
type LineRead<'a> = (&'a str, u64, Cow<'a, [u8]>);

/// The alerts of `matches` (results of rule `rule`, found at line `at`),
/// their lines read from `reread` when they are not at hand.
fn drain(
    matches: &Matches<Handle>,
    rule: usize,
    at: u64,
    fmt: &Formatter,
    reread: Option<&Reread>,
    out: &mut Vec<Alert>,
) -> io::Result<()> {
    for (nth, m) in matches.iter().enumerate() {
        let lines: Vec<Option<LineRead<'_>>> = m
            .steps()
            .map(|step| match step {
                Step::Event(h) => {
                    Reread::line(reread, h.line, &h.bytes).map(|b| Some((&*h.input, h.line, b)))
                }
                Step::Missing => Ok(None),
            })
            .collect::<io::Result<_>>()?;
        let events: Vec<Option<EventLine<'_>>> = lines
            .iter()
            .map(|e| e.as_ref().map(|(f, l, b)| (Some(*f), *l, &b[..])))
            .collect();
        let nth = u32::try_from(nth).unwrap_or(u32::MAX);
        if let Some(a) = fmt.alert(at, rule, nth, &events, m.key) {
            out.push(a);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event as (line, gated, rules, answers, captured field indexes).
    type Seen = (u64, bool, Vec<u32>, Vec<(u32, u32)>, Vec<u32>);

    fn event(f: &Forwarded, ev: &Forward) -> Seen {
        (
            ev.line,
            ev.gated,
            f.rules(ev).to_vec(),
            f.answers(ev).to_vec(),
            f.fields(ev).iter().map(|(k, _)| *k).collect(),
        )
    }

    /// Merging a block's late step hits: lines of either list come in line
    /// order, and a line of both gets the union of their rules, answers
    /// and captured fields; the block's runs stay.
    #[test]
    fn merged_step_events_keep_line_order_and_join_a_lines_answers() {
        let at = |line: u64| LineRef::At(line * 100, 10);
        let v = |s: &str| Value::Str(Cow::Owned(s.to_owned()));
        let mut first = Forwarded::default();
        first.run_starts(0, 1);
        first.push(2, 200, true, at(2), &[0], &[(0, 0)], [(1, v("a"))]);
        first.push(
            5,
            500,
            false,
            at(5),
            &[1, 3],
            &[(1, 0), (3, 1)],
            [(0, v("b"))],
        );
        let mut late = Forwarded::default();
        late.push(1, 100, true, at(1), &[2], &[(2, 1)], [(2, v("c"))]);
        late.push(
            5,
            500,
            true,
            at(5),
            &[1, 2],
            &[(1, 1), (2, 1)],
            [(0, v("b")), (4, v("d"))],
        );
        late.push(7, 700, true, at(7), &[0], &[(0, 1)], []);
        first.merge(&late);
        let got: Vec<_> = first.events.iter().map(|e| event(&first, e)).collect();
        assert_eq!(
            got,
            vec![
                (1, true, vec![2], vec![(2, 1)], vec![2]),
                (2, true, vec![0], vec![(0, 0)], vec![1]),
                (
                    5,
                    true,
                    vec![1, 2, 3],
                    vec![(1, 0), (1, 1), (2, 1), (3, 1)],
                    vec![0, 4]
                ),
                (7, true, vec![0], vec![(0, 1)], vec![]),
            ]
        );
        assert_eq!(first.runs, vec![(0, 1)]);
        // Nothing to merge: nothing changes.
        let before: Vec<_> = first.events.iter().map(|e| event(&first, e)).collect();
        first.merge(&Forwarded::default());
        let after: Vec<_> = first.events.iter().map(|e| event(&first, e)).collect();
        assert_eq!(before, after);
    }
}
