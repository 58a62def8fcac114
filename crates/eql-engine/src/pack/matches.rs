//! The reusable result buffer of a pack match, and its sampled profile.

use super::SampledTime;
use crate::eval::plan::SlotBuf;
use eql_plan::{SetId, Value};

/// A reusable buffer of matched rule indexes: no allocation per event once
/// warm.
///
/// It also keeps a bounded memo of the candidate index's answers for string
/// values the pack scans with its `contains` automata (4 096 entries, each
/// value at most 256 bytes, so about 1.5 MB at most, allocated on first
/// use): a value seen again is answered without scanning it again. And it
/// keeps the arena into which [`crate::Pack::matches_json`] reads each
/// event's JSON, reset (not freed) from one event to the next; an arena that
/// one very large line grew past 4 MiB is freed instead.
///
/// ```
/// let hits = eql_engine::PackMatches::new();
/// assert!(hits.rules().is_empty());
/// ```
#[derive(Clone, Debug, Default)]
pub struct PackMatches {
    pub(super) rules: Vec<u32>,
    pub(super) candidates: Vec<u32>,
    /// Per rule: the epoch in which it became a candidate.
    pub(super) stamp: Vec<u32>,
    pub(super) epoch: u32,
    /// Per witness set of the bucket being read: the epoch in which it
    /// fired (one epoch per bucket read).
    pub(super) set_stamp: Vec<u32>,
    pub(super) set_epoch: u32,
    /// The sets that fired in the bucket being read.
    pub(super) fired_sets: Vec<SetId>,
    pub(super) evaluated: u64,
    /// The field slots' allocations, one per group, reused from event to
    /// event.
    pub(super) slot_bufs: Vec<SlotBuf>,
    /// The allocation of the captured values an event's pass reads, kept
    /// between events.
    pub(super) whole_buf: Vec<(u32, Value<'static>)>,
    /// The values of the pack's captured fields in the last event.
    pub(super) captured: Vec<(u32, Value<'static>)>,
    /// The captured fields of this event were read with a bucket's fields.
    pub(super) captured_done: bool,
    /// Sampled per-rule timing, when enabled.
    pub(super) profile: Option<Box<PackProfile>>,
    /// The candidate index's answers for recently seen string values.
    pub(super) memo: super::memo::HitMemo,
    /// The arena of the quick JSON reader's trees.
    pub(super) arena: crate::event::quick::Arena,
    /// The values [`crate::event::quick::read_flat`] reads (emptied
    /// between events; the values borrow from the arena and the text).
    pub(super) flat_buf: Vec<(u32, crate::event::quick::Node<'static>)>,
    /// The quick reader's guesses of the next member's key, learnt from
    /// the events before (the shape of the stream's events).
    pub(super) key_hints: crate::event::resolve::KeyHints,
    /// The pack rules left out of matching ([`PackMatches::set_skipped`]):
    /// bit `i % 64` of word `i / 64`.
    pub(super) skipped: Vec<u64>,
    /// The rules left out ([`PackMatches::set_skipped`]) that were
    /// candidates of the last event ([`PackMatches::left_out`]).
    pub(super) left_out: Vec<u32>,
}

/// Where a pack spends its time, per rule, measured on a sample of events.
///
/// Enabled with [`PackMatches::with_profile`]. On every event the pack counts,
/// per rule, how often it was a candidate (evaluated exactly); on one event
/// in `every` it also reads the clock around each candidate's evaluation
/// (two `Instant::now()` calls per candidate, about 50 ns) and around the
/// whole event. The estimated time of a rule is its robust mean cost per
/// evaluation ([`SampledTime`]) times how often it was evaluated, and the
/// pack's is its mean cost per timed event times `events`. With profiling
/// off the pack pays one branch per event.
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery, Pack, PackMatches};
/// let opts = CompileOptions::default();
/// let e = CompiledQuery::compile(r#"process where process.name : "cmd.exe""#, &opts).unwrap();
/// let pack = Pack::new(&[e]);
/// let mut hits = PackMatches::with_profile(1);
/// let ev = serde_json::json!({"event": {"category": "process"}, "process": {"name": "cmd.exe"}});
/// pack.matches(&ev, &mut hits);
/// let p = hits.profile().unwrap();
/// assert_eq!((p.events, p.sampled_events, p.evaluated[0]), (1, 1, 1));
/// ```
#[derive(Clone, Debug, Default)]
pub struct PackProfile {
    /// One event in `every` is timed.
    pub every: u32,
    pub(super) countdown: u32,
    /// The current event is timed.
    pub(super) timing: bool,
    /// Events seen.
    pub events: u64,
    /// Events timed.
    pub sampled_events: u64,
    /// The timed events, whole (reading the fields, routing, the candidate
    /// index and every evaluation), as seen from
    /// [`Pack::matches`](super::Pack::matches) or [`Pack::matches_json`](super::Pack::matches_json).
    pub sampled_events_time: SampledTime,
    /// Per pack rule: how many times it was evaluated exactly (every event).
    pub evaluated: Vec<u64>,
    /// Per pack rule: how many times it matched (every event).
    pub matched: Vec<u64>,
    /// Per pack rule: its exact evaluations on timed events, grouped by
    /// the timed event's number.
    pub sampled: Vec<SampledTime>,
}

impl PackProfile {
    /// Adds the counts of `other` (another thread's profile of the same pack).
    pub fn merge(&mut self, other: &PackProfile) {
        fn add(a: &mut Vec<u64>, b: &[u64]) {
            if a.len() < b.len() {
                a.resize(b.len(), 0);
            }
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        self.every = self.every.max(other.every);
        self.events += other.events;
        self.sampled_events += other.sampled_events;
        self.sampled_events_time.merge(&other.sampled_events_time);
        add(&mut self.evaluated, &other.evaluated);
        add(&mut self.matched, &other.matched);
        if self.sampled.len() < other.sampled.len() {
            self.sampled
                .resize(other.sampled.len(), SampledTime::default());
        }
        for (a, b) in self.sampled.iter_mut().zip(&other.sampled) {
            a.merge(b);
        }
    }

    /// The estimated nanoseconds of the exact evaluations of pack rule `i`
    /// over every event.
    pub fn rule_nanos(&self, i: usize) -> f64 {
        let n = self.evaluated.get(i).copied().unwrap_or(0);
        self.sampled.get(i).map_or(0.0, |t| t.estimate_nanos(n))
    }

    /// The estimated nanoseconds of the pack over every event.
    pub fn events_nanos(&self) -> f64 {
        self.sampled_events_time.estimate_nanos(self.events)
    }

    /// One exact evaluation of pack rule `i`, timed from `t0` on a timed
    /// event.
    pub(super) fn count(&mut self, i: usize, hit: bool, t0: Option<std::time::Instant>) {
        if let (Some(t0), Some(t)) = (t0, self.sampled.get_mut(i)) {
            t.add(self.sampled_events, t0.elapsed().as_nanos() as u64);
        }
        if let Some(n) = self.evaluated.get_mut(i) {
            *n += 1;
        }
        if hit {
            if let Some(n) = self.matched.get_mut(i) {
                *n += 1;
            }
        }
    }

    /// Starts an event: true when this one is timed.
    pub(super) fn start_event(&mut self, n: usize) -> bool {
        self.events += 1;
        for v in [&mut self.evaluated, &mut self.matched] {
            if v.len() < n {
                v.resize(n, 0);
            }
        }
        if self.sampled.len() < n {
            self.sampled.resize(n, SampledTime::default());
        }
        self.timing = self.countdown == 0;
        if self.timing {
            self.countdown = self.every.max(1) - 1;
            self.sampled_events += 1;
        } else {
            self.countdown -= 1;
        }
        self.timing
    }
}

impl PackMatches {
    /// Profiling: starts an event of a pack of `n` rules; the clock when it
    /// is timed.
    pub(super) fn profile_start(&mut self, n: usize) -> Option<std::time::Instant> {
        let p = self.profile.as_mut()?;
        p.start_event(n).then(std::time::Instant::now)
    }

    /// Profiling: ends an event started at `t0`.
    pub(super) fn profile_end(&mut self, t0: Option<std::time::Instant>) {
        if let (Some(t0), Some(p)) = (t0, self.profile.as_mut()) {
            let sample = p.sampled_events;
            p.sampled_events_time
                .add(sample, t0.elapsed().as_nanos() as u64);
        }
    }
}

impl PackMatches {
    /// An empty buffer.
    pub fn new() -> Self {
        PackMatches::default()
    }

    /// An empty buffer that profiles the pack: see [`PackProfile`]; one
    /// event in `every` is timed.
    pub fn with_profile(every: u32) -> Self {
        PackMatches {
            profile: Some(Box::new(PackProfile {
                every: every.max(1),
                ..PackProfile::default()
            })),
            ..PackMatches::default()
        }
    }

    /// The profile, when enabled by [`PackMatches::with_profile`].
    pub fn profile(&self) -> Option<&PackProfile> {
        self.profile.as_deref()
    }

    /// The indexes (into the pack) of the rules that matched the last event,
    /// ascending.
    pub fn rules(&self) -> &[u32] {
        &self.rules
    }

    /// The values of the fields the pack captures ([`Pack::capture`](super::Pack::capture)) in the
    /// last event: (index in the captured paths, the value [`crate::Event::get`]
    /// gives), for each path present, in path order.
    pub fn captured(&self) -> &[(u32, Value<'static>)] {
        &self.captured
    }

    /// Moves out the values of the captured fields of the last event
    /// ([`PackMatches::captured`]), leaving none; the buffer keeps its
    /// allocation for the next event.
    pub fn drain_captured(&mut self) -> std::vec::Drain<'_, (u32, Value<'static>)> {
        self.captured.drain(..)
    }

    /// Leaves pack rule `i` out of the next events matched with this buffer
    /// (`skipped`), or takes it back in: a rule left out is neither
    /// evaluated nor reported, even when it would match. Every rule is in
    /// by default. A caller that knows a rule's matches cannot matter for a
    /// while (a later step of a sequence with nothing for it to extend, say)
    /// saves its evaluation.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Pack, PackMatches};
    /// let opts = CompileOptions::default();
    /// let e = CompiledQuery::compile(r#"process where process.name : "cmd.exe""#, &opts).unwrap();
    /// let pack = Pack::new(&[e]);
    /// let ev = br#"{"event": {"category": "process"}, "process": {"name": "cmd.exe"}}"#;
    /// let mut hits = PackMatches::new();
    /// hits.set_skipped(0, true);
    /// pack.matches_json(ev, &mut hits).unwrap();
    /// assert!(hits.rules().is_empty() && hits.is_skipped(0));
    /// hits.set_skipped(0, false);
    /// pack.matches_json(ev, &mut hits).unwrap();
    /// assert_eq!(hits.rules(), &[0]);
    /// ```
    pub fn set_skipped(&mut self, i: u32, skipped: bool) {
        let (word, bit) = ((i / 64) as usize, 1u64 << (i % 64));
        if self.skipped.len() <= word {
            if !skipped {
                return;
            }
            self.skipped.resize(word + 1, 0);
        }
        if let Some(w) = self.skipped.get_mut(word) {
            if skipped {
                *w |= bit;
            } else {
                *w &= !bit;
            }
        }
    }

    /// The rules left out ([`PackMatches::set_skipped`]) that the last
    /// event made candidates, in no particular order: the only ones that
    /// could have matched it. A caller that left rules out on a guess it must check
    /// later matches the event again with just these in.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Pack, PackMatches};
    /// let opts = CompileOptions::default();
    /// let q = |t: &str| CompiledQuery::compile(t, &opts).unwrap();
    /// let pack = Pack::new(&[
    ///     q(r#"process where process.name : "cmd.exe""#),
    ///     q(r#"process where process.name : "bash""#),
    /// ]);
    /// let ev = br#"{"event": {"category": "process"}, "process": {"name": "cmd.exe"}}"#;
    /// let mut hits = PackMatches::new();
    /// hits.set_skipped(0, true);
    /// hits.set_skipped(1, true);
    /// pack.matches_json(ev, &mut hits).unwrap();
    /// // Rule 1 could not match: the candidate index ruled it out.
    /// assert_eq!((hits.rules(), hits.left_out()), (&[][..], &[0][..]));
    /// ```
    pub fn left_out(&self) -> &[u32] {
        &self.left_out
    }

    /// True when pack rule `i` is left out ([`PackMatches::set_skipped`]).
    #[inline]
    pub fn is_skipped(&self, i: u32) -> bool {
        self.skipped
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    /// How many rules were evaluated exactly since this buffer was created
    /// (the rest were ruled out by routing or the candidate index).
    pub fn evaluated(&self) -> u64 {
        self.evaluated
    }

    /// A fresh event epoch for a routed plan of `n` rules.
    pub(super) fn next_epoch(&mut self, n: usize) {
        bump(&mut self.epoch, &mut self.stamp, n);
        self.candidates.clear();
    }

    /// Maps the matched pack indexes through `to` (ascending to ascending).
    #[cfg_attr(not(feature = "rules"), allow(dead_code))]
    pub(crate) fn map_rules(&mut self, to: &[usize]) {
        for r in &mut self.rules {
            if let Some(&i) = to.get(*r as usize) {
                *r = i as u32;
            }
        }
    }

    /// A fresh set epoch for reading a bucket with `n` witness sets.
    pub(super) fn next_set_epoch(&mut self, n: usize) {
        bump(&mut self.set_epoch, &mut self.set_stamp, n);
        self.fired_sets.clear();
    }

    /// Rule `r` is to be evaluated (once per event).
    pub(super) fn candidate(&mut self, r: u32) {
        if let Some(s) = self.stamp.get_mut(r as usize) {
            if *s != self.epoch {
                *s = self.epoch;
                self.candidates.push(r);
            }
        }
    }
}

/// Advances `epoch` (stamps equal to it mean "this epoch") with room for `n`
/// stamps; on wrap-around every stamp is cleared.
pub(super) fn bump(epoch: &mut u32, stamps: &mut Vec<u32>, n: usize) {
    if stamps.len() < n {
        stamps.resize(n, 0);
    }
    *epoch = epoch.wrapping_add(1);
    if *epoch == 0 {
        stamps.fill(0);
        *epoch = 1;
    }
}
