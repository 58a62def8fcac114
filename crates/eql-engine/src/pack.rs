//! Many single-event queries evaluated together: category routing, the fused
//! candidate index, then exact evaluation of the candidates only.

use crate::eval::plan::{self, FreshSlots, SlotBuf, Slots};
use crate::event::input::{check_bytes, from_serde, json_type, parse_text};
use crate::event::project::{LazyProjected, Projection};
use crate::query::{lower, CompiledQuery};
use crate::{Event, EventError, EventErrorKind, EventLimits};
use eql_plan::{Cond, FieldPath, FieldTable, PackPlan, PathSegment, SetId, Value};
use eql_syntax::{EventQuery, QueryBody};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::fmt;

/// A reusable buffer of matched rule indexes: no allocation per event once
/// warm.
///
/// ```
/// let hits = eql_engine::PackMatches::new();
/// assert!(hits.rules().is_empty());
/// ```
#[derive(Clone, Debug, Default)]
pub struct PackMatches {
    rules: Vec<u32>,
    candidates: Vec<u32>,
    /// Per rule: the epoch in which it became a candidate.
    stamp: Vec<u32>,
    epoch: u32,
    /// Per witness set of the bucket being read: the epoch in which it
    /// fired (one epoch per bucket read).
    set_stamp: Vec<u32>,
    set_epoch: u32,
    /// The sets that fired in the bucket being read.
    fired_sets: Vec<SetId>,
    evaluated: u64,
    /// The field slots' allocation, reused from event to event.
    slot_buf: SlotBuf,
    /// The same per group, for a raw-bytes match.
    slot_bufs: Vec<SlotBuf>,
    /// The values of the pack's captured fields in the last event.
    captured: Vec<(u32, Value<'static>)>,
    /// The captured fields of this event were read with a bucket's fields.
    captured_done: bool,
    /// Sampled per-rule timing, when enabled.
    profile: Option<Box<PackProfile>>,
}

/// Where a pack spends its time, per rule, measured on a sample of events.
///
/// Enabled with [`PackMatches::with_profile`]. On every event the pack counts,
/// per rule, how often it was a candidate (evaluated exactly); on one event
/// in `every` it also reads the clock around each candidate's evaluation
/// (two `Instant::now()` calls per candidate, about 50 ns) and around the
/// whole event. The estimated time of a rule is its sampled time scaled by
/// `events / sampled_events`. With profiling off the pack pays one branch
/// per event.
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
    countdown: u32,
    /// The current event is timed.
    timing: bool,
    /// Events seen.
    pub events: u64,
    /// Events timed.
    pub sampled_events: u64,
    /// Nanoseconds of the timed events, whole (reading the fields, routing,
    /// the candidate index and every evaluation), as seen from
    /// [`Pack::matches`] or [`Pack::matches_json`].
    pub sampled_event_nanos: u64,
    /// Per pack rule: how many times it was evaluated exactly (every event).
    pub evaluated: Vec<u64>,
    /// Per pack rule: how many times it matched (every event).
    pub matched: Vec<u64>,
    /// Per pack rule: nanoseconds of its exact evaluations on timed events.
    pub sampled_nanos: Vec<u64>,
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
        self.sampled_event_nanos += other.sampled_event_nanos;
        add(&mut self.evaluated, &other.evaluated);
        add(&mut self.matched, &other.matched);
        add(&mut self.sampled_nanos, &other.sampled_nanos);
    }

    /// One exact evaluation of pack rule `i`, timed from `t0` on a timed
    /// event.
    fn count(&mut self, i: usize, hit: bool, t0: Option<std::time::Instant>) {
        if let (Some(t0), Some(n)) = (t0, self.sampled_nanos.get_mut(i)) {
            *n += t0.elapsed().as_nanos() as u64;
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
    fn start_event(&mut self, n: usize) -> bool {
        self.events += 1;
        for v in [
            &mut self.evaluated,
            &mut self.matched,
            &mut self.sampled_nanos,
        ] {
            if v.len() < n {
                v.resize(n, 0);
            }
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
    fn profile_start(&mut self, n: usize) -> Option<std::time::Instant> {
        let p = self.profile.as_mut()?;
        p.start_event(n).then(std::time::Instant::now)
    }

    /// Profiling: ends an event started at `t0`.
    fn profile_end(&mut self, t0: Option<std::time::Instant>) {
        if let (Some(t0), Some(p)) = (t0, self.profile.as_mut()) {
            p.sampled_event_nanos += t0.elapsed().as_nanos() as u64;
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

    /// The values of the fields the pack captures ([`Pack::capture`]) in the
    /// last event: (index in the captured paths, the value [`Event::get`]
    /// gives), for each path present, in path order.
    pub fn captured(&self) -> &[(u32, Value<'static>)] {
        &self.captured
    }

    /// Takes the values of the captured fields of the last event
    /// ([`PackMatches::captured`]), leaving none.
    pub fn take_captured(&mut self) -> Vec<(u32, Value<'static>)> {
        std::mem::take(&mut self.captured)
    }

    /// How many rules were evaluated exactly since this buffer was created
    /// (the rest were ruled out by routing or the candidate index).
    pub fn evaluated(&self) -> u64 {
        self.evaluated
    }

    /// Keeps the allocations of `slots` (one per group) for the next event.
    fn give_back(&mut self, slots: SmallVec<[Slots<'_>; 2]>) {
        for (buf, s) in self.slot_bufs.iter_mut().zip(slots) {
            *buf = s.into_buf();
        }
    }

    /// A fresh event epoch for a routed plan of `n` rules.
    fn next_epoch(&mut self, n: usize) {
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
    fn next_set_epoch(&mut self, n: usize) {
        bump(&mut self.set_epoch, &mut self.set_stamp, n);
        self.fired_sets.clear();
    }

    /// Rule `r` is to be evaluated (once per event).
    fn candidate(&mut self, r: u32) {
        if let Some(s) = self.stamp.get_mut(r as usize) {
            if *s != self.epoch {
                *s = self.epoch;
                self.candidates.push(r);
            }
        }
    }
}

/// True for the errors the JSON parser reports (as opposed to the checks
/// that run before it).
fn from_parser(kind: &EventErrorKind) -> bool {
    matches!(
        kind,
        EventErrorKind::Syntax { .. }
            | EventErrorKind::Truncated
            | EventErrorKind::NumberOutOfRange
            | EventErrorKind::NotAnObject { .. }
    ) || matches!(kind, EventErrorKind::TooDeep { max } if *max == 128)
}

/// Advances `epoch` (stamps equal to it mean "this epoch") with room for `n`
/// stamps; on wrap-around every stamp is cleared.
fn bump(epoch: &mut u32, stamps: &mut Vec<u32>, n: usize) {
    if stamps.len() < n {
        stamps.resize(n, 0);
    }
    *epoch = epoch.wrapping_add(1);
    if *epoch == 0 {
        stamps.fill(0);
        *epoch = 1;
    }
}

/// A pack of single-event queries compiled together.
///
/// Rules with another query form (sequences, samples, joins) are not part of
/// a `Pack`; [`Pack::new`] skips them and [`Pack::rule_index`] maps back.
/// Each query is routed by its own `category_field`: queries compiled with
/// different category fields get one routed plan per field.
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery, PackMatches, Pack};
/// let opts = CompileOptions::default();
/// let rules = [
///     r#"process where process.name : "cmd.exe""#,
///     r#"process where process.name : "powershell.exe" and process.args : "*-enc*""#,
///     r#"file where file.extension : ("exe", "dll")"#,
/// ];
/// let engines: Vec<CompiledQuery> = rules.iter().map(|q| CompiledQuery::compile(q, &opts).unwrap()).collect();
/// let pack = Pack::new(&engines);
/// let mut hits = PackMatches::new();
/// let ev = serde_json::json!({"event": {"category": "process"}, "process": {"name": "CMD.EXE"}});
/// pack.matches(&ev, &mut hits);
/// assert_eq!(hits.rules(), &[0]);
/// ```
#[derive(Clone, Debug)]
pub struct Pack {
    /// One routed plan per category field, in order of first use.
    groups: Vec<Group>,
    engines: Vec<CompiledQuery>,
    /// Pack position → index in the slice given to `new`.
    origin: Vec<usize>,
    /// The projection of every field of every group (raw bytes → fields).
    projection: Projection,
    /// The strictest of the queries' [`crate::CompileOptions::event_limits`].
    limits: EventLimits,
    /// How raw bytes go straight into every group's slots, when they can.
    direct: Option<Direct>,
    /// The fields whose values a match also reports ([`Pack::capture`]).
    captures: Vec<FieldPath>,
    /// The captured fields, read whole in one pass over an event.
    capture_read: Projection,
}

/// A raw-bytes match without a tree: one pass over the bytes reads the
/// fields of every group into their slots. The fields read are the paths of
/// keys only (no index) that no other such path goes on from, which is what
/// [`Projection::parse_direct`] serves; every group's category field is one
/// of them. The other fields, and the generic leaves' reads, go to the
/// event ([`Caught`]).
#[derive(Clone, Debug)]
struct Direct {
    /// The paths read.
    read: Projection,
    /// Per path of `read`: (group, field id) of each group that reads it.
    to: Vec<SmallVec<[(u32, u32); 1]>>,
    /// Per path of `read`: a generic leaf reads it, so its whole value is
    /// kept for the leaf.
    whole: Vec<bool>,
    /// Per path of `read`: the path.
    paths: Vec<FieldPath>,
    /// Per path of `read`: its index among the captured paths, if any.
    capture: Vec<Option<u32>>,
    /// Some captured path is not read by the pass (it has an index, or
    /// ends where another path goes on).
    capture_rest: bool,
}

/// The queries of a pack that share one category field, routed by it.
#[derive(Clone, Debug)]
struct Group {
    plan: PackPlan,
    /// The pack position of each of the plan's rules.
    positions: Vec<u32>,
    category: FieldPath,
    /// The category path alone, for [`Event::resolve_all`].
    category_read: Projection,
    /// Per bucket ([`eql_plan::Bucket::id`]): the fields it reads, resolved
    /// together in one pass once the event's category selects it.
    reads: Vec<(Vec<eql_plan::FieldId>, Projection)>,
    /// The fields a raw-bytes match reads straight from the bytes
    /// ([`Direct`]), ascending.
    direct_ids: Vec<u32>,
    /// The slots of a raw-bytes match before the pass: those of
    /// `direct_ids` resolved.
    fresh: FreshSlots,
    /// A field's `null_value` reads explicit nulls, which bulk resolution
    /// leaves out: such groups read their fields one by one.
    reads_nulls: bool,
    /// Each bucket's projection (`reads`) also lists the pack's captured
    /// fields, after its own ([`Group::read_captures`]).
    reads_captures: bool,
}

impl Pack {
    /// Compiles the single-event queries among `engines` into one pack.
    /// Each query keeps its own options (dialect, case folding, category
    /// field, event limits).
    pub fn new<'a>(engines: impl IntoIterator<Item = &'a CompiledQuery>) -> Pack {
        Pack::from_conditions(engines.into_iter().enumerate().filter_map(|(i, e)| {
            match &e.query.body {
                QueryBody::Event(q) => Some((i, e, q)),
                _ => None,
            }
        }))
    }

    /// A pack over any event queries, such as the steps of sequences as well
    /// as single-event rules: each item is (the index [`Pack::rule_index`]
    /// reports, the compiled query the event query belongs to, the event
    /// query). Each query keeps its own options, as in [`Pack::new`].
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Pack, PackMatches, QueryBody};
    /// let opts = CompileOptions::default();
    /// let seq = CompiledQuery::compile(
    ///     r#"sequence by host.id [process where process.name : "cmd.exe"] [file where true]"#, &opts).unwrap();
    /// let QueryBody::Sequence(s) = &seq.query().body else { unreachable!() };
    /// let pack = Pack::from_queries(s.steps.iter().map(|st| (7, &seq, &st.query)));
    /// let mut hits = PackMatches::new();
    /// pack.matches_json(br#"{"event": {"category": "file"}}"#, &mut hits).unwrap();
    /// assert_eq!(hits.rules(), &[1]);
    /// assert_eq!(pack.rule_index(1), Some(7));
    /// ```
    pub fn from_queries<'a>(
        items: impl IntoIterator<Item = (usize, &'a CompiledQuery, &'a EventQuery)>,
    ) -> Pack {
        Pack::from_conditions(items)
    }

    /// A pack over arbitrary event queries (such as the steps of sequences),
    /// each with the engine that owns it and the index `rule_index` reports.
    /// Pack positions follow the order of `items`.
    pub(crate) fn from_conditions<'a>(
        items: impl IntoIterator<Item = (usize, &'a CompiledQuery, &'a EventQuery)>,
    ) -> Pack {
        // Per category field, in order of first use: (field, its fields,
        // its rules, their pack positions).
        type Building = (FieldPath, FieldTable, Vec<(Option<String>, Cond)>, Vec<u32>);
        let mut building: Vec<Building> = Vec::new();
        let mut engines = Vec::new();
        let mut origin = Vec::new();
        let mut limits: Option<EventLimits> = None;
        for (i, e, q) in items {
            let l = &e.opts.event_limits;
            limits = Some(match limits {
                Some(m) => EventLimits {
                    max_line_bytes: m.max_line_bytes.min(l.max_line_bytes),
                    max_depth: m.max_depth.min(l.max_depth),
                },
                None => l.clone(),
            });
            let g = match building.iter().position(|b| b.0 == e.category) {
                Some(g) => g,
                None => {
                    building.push((
                        e.category.clone(),
                        FieldTable::default(),
                        Vec::new(),
                        Vec::new(),
                    ));
                    building.len() - 1
                }
            };
            let Some((_, fields, rules, positions)) = building.get_mut(g) else {
                continue;
            };
            let cond = lower(
                &q.condition,
                &e.opts,
                &e.regexes,
                e.kinds.as_deref(),
                fields,
            );
            rules.push((q.category.name.clone(), cond));
            positions.push(engines.len() as u32);
            engines.push(e.clone());
            origin.push(i);
        }
        let mut groups: Vec<Group> = building
            .into_iter()
            .map(|(category, fields, rules, positions)| {
                Group::new(category, fields, rules, positions)
            })
            .collect();
        let projection = Projection::new(groups.iter().flat_map(|g| g.plan.fields()));
        let direct = Direct::new(&mut groups, &[]);
        Pack {
            groups,
            engines,
            origin,
            projection,
            limits: limits.unwrap_or_default(),
            direct,
            captures: Vec::new(),
            capture_read: Projection::values(&[]),
        }
    }

    /// The same pack, whose matches also report the values of the fields
    /// `paths` ([`PackMatches::captured`]), read in the same pass over the
    /// bytes as the rules' fields: a caller that needs a few more fields of
    /// the events (a session's join keys and timestamps, say) need not read
    /// the bytes again.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, FieldPath, Pack, PackMatches, Value};
    /// let e = CompiledQuery::compile(r#"process where process.name : "cmd.exe""#, &CompileOptions::default()).unwrap();
    /// let pack = Pack::new(&[e]).capture(&[FieldPath::parse_dotted("host.id")]);
    /// let mut hits = PackMatches::new();
    /// pack.matches_json(br#"{"event":{"category":"process"},"process":{"name":"cmd.exe"},"host":{"id":"h1"}}"#, &mut hits).unwrap();
    /// assert_eq!(hits.rules(), &[0]);
    /// assert_eq!(hits.captured(), &[(0, Value::from("h1"))]);
    /// ```
    #[must_use]
    pub fn capture(mut self, paths: &[FieldPath]) -> Pack {
        self.captures = paths.to_vec();
        self.capture_read = Projection::values(&self.captures);
        if let Some(g) = self.groups.first_mut() {
            g.read_captures(&self.captures);
        }
        self.projection = Projection::new(
            self.groups
                .iter()
                .flat_map(|g| g.plan.fields())
                .chain(&self.captures),
        );
        self.direct = Direct::new(&mut self.groups, &self.captures);
        self
    }

    /// The projection of every field the pack reads (raw bytes → fields).
    pub fn projection(&self) -> &Projection {
        &self.projection
    }

    /// [`Pack::matches`] straight from one event's bytes (a JSON object),
    /// with no DOM: only the fields the pack reads are extracted. The bytes
    /// are checked as [`crate::parse_event`] checks them, against the
    /// strictest [`crate::CompileOptions::event_limits`] of the pack's queries.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, PackMatches, Pack};
    /// let opts = CompileOptions::default();
    /// let e = CompiledQuery::compile(r#"file where file.extension : "exe""#, &opts).unwrap();
    /// let pack = Pack::new(&[e]);
    /// let mut hits = PackMatches::new();
    /// pack.matches_json(br#"{"event":{"category":"file"},"file":{"extension":"EXE","size":3}}"#, &mut hits).unwrap();
    /// assert_eq!(hits.rules(), &[0]);
    /// ```
    pub fn matches_json(&self, bytes: &[u8], out: &mut PackMatches) -> Result<(), EventError> {
        let text = check_bytes(bytes, &self.limits)?;
        let t0 = out.profile_start(self.engines.len());
        let r = match self.matches_text(text, out) {
            // The projection pass skips what no rule reads: the full parser
            // names the error exactly as `parse_event` does (or finds none,
            // and the event is matched from its DOM).
            Err(e) if from_parser(&e.kind) => {
                parse_text(text, serde_json::from_str::<serde_json::Value>, json_type)
                    .map(|dom| self.matches_inner(&dom, out))
            }
            r => r,
        };
        out.profile_end(t0);
        r
    }

    /// [`Pack::matches_json`] of text that passed the checks.
    fn matches_text(&self, text: &str, out: &mut PackMatches) -> Result<(), EventError> {
        #[cfg(feature = "simd")]
        if self.limits.max_depth <= crate::event::input::SERDE_DEPTH {
            // A SIMD parse into a DOM, read by the same walk as a
            // `serde_json::Value`. Anything it does not take as one object
            // goes to serde_json, which names the error as `parse_event`
            // does.
            if let Ok(dom) = sonic_rs::from_str::<sonic_rs::Value>(text) {
                if sonic_rs::JsonValueTrait::is_object(&dom) {
                    self.matches_inner(&dom, out);
                    return Ok(());
                }
            }
            return parse_text(text, serde_json::from_str::<serde_json::Value>, json_type)
                .map(|dom| self.matches_inner(&dom, out));
        }
        if let Some(direct) = &self.direct {
            if self.matches_direct(direct, text, out)? {
                return Ok(());
            }
        }
        let ev = self.projection.parse_checked(text)?;
        self.matches_inner(&ev, out);
        Ok(())
    }

    /// Fills [`PackMatches::captured`] from `event`.
    fn capture_from(&self, event: &dyn Event, out: &mut PackMatches) {
        out.captured.clear();
        let captured = &mut out.captured;
        let bulk = event.resolve_all(&self.capture_read, &mut |k, v| {
            if let Ok(k) = u32::try_from(k) {
                captured.push((k, v.into_owned()));
            }
        });
        if bulk {
            captured.sort_unstable_by_key(|c| c.0);
            return;
        }
        for (k, p) in self.captures.iter().enumerate() {
            if let (Some(v), Ok(k)) = (event.get(p), u32::try_from(k)) {
                captured.push((k, v.into_owned()));
            }
        }
    }

    /// Straight from the bytes into every group's slots, when the document
    /// allows it (no dotted or repeated keys on a wanted path); false when
    /// it does not (nothing is matched then). The generic leaves read the
    /// whole values kept for them; the fields not read straight from the
    /// bytes come from the event, parsed only if one of them is read.
    fn matches_direct(
        &self,
        direct: &Direct,
        text: &str,
        out: &mut PackMatches,
    ) -> Result<bool, EventError> {
        let n = self.groups.len();
        if out.slot_bufs.len() < n {
            out.slot_bufs.resize_with(n, SlotBuf::default);
        }
        let (simple, slots, cats, caught) = {
            let mut sink = DirectSlots {
                direct,
                groups: &self.groups,
                slots: self
                    .groups
                    .iter()
                    .zip(&mut out.slot_bufs)
                    .map(|(g, buf)| Slots::with_fresh(std::mem::take(buf), &g.fresh))
                    .collect(),
                cats: smallvec::smallvec![SmallVec::new(); n],
                caught: SmallVec::new(),
                captured: std::mem::take(&mut out.captured),
            };
            sink.captured.clear();
            let simple = direct.read.parse_direct(text, &mut sink);
            out.captured = sink.captured;
            (simple, sink.slots, sink.cats, sink.caught)
        };
        let simple = match simple {
            Ok(simple) => simple,
            Err(e) => {
                out.give_back(slots);
                return Err(from_serde(text, &e));
            }
        };
        if !simple {
            out.give_back(slots);
            return Ok(false);
        }
        let event = Caught {
            direct,
            values: caught,
            lazy: LazyProjected::new(text, &self.projection),
        };
        if direct.capture_rest {
            // Captured paths the pass does not read: from the event.
            for (k, p) in self.captures.iter().enumerate() {
                let Ok(k) = u32::try_from(k) else { continue };
                if direct.capture.contains(&Some(k)) {
                    continue;
                }
                if let Some(v) = event.get(p) {
                    out.captured.push((k, v.into_owned()));
                }
            }
        }
        // The pass reports them in document order.
        out.captured.sort_unstable_by_key(|c| c.0);
        // The slots and categories borrow the text; from here they also
        // borrow `event`, which reads the same text.
        let mut slots: SmallVec<[Slots<'_>; 2]> = slots.into_iter().map(shorter_slots).collect();
        out.rules.clear();
        for ((g, s), c) in self.groups.iter().zip(&mut slots).zip(cats) {
            s.end_pass();
            let c: SmallVec<[Cow<'_, str>; 2]> = c.into_iter().map(shorter_cow).collect();
            g.run(&self.engines, &event, s, c, false, out);
        }
        if n > 1 {
            out.rules.sort_unstable();
        }
        out.give_back(slots);
        Ok(true)
    }

    /// The routed plans, one per category field (EXPLAIN as data; the
    /// [`fmt::Display`] of the pack prints them).
    pub fn plans(&self) -> impl Iterator<Item = &PackPlan> {
        self.groups.iter().map(|g| &g.plan)
    }

    /// Number of rules in the pack.
    pub fn len(&self) -> usize {
        self.engines.len()
    }

    /// True when the pack has no rule.
    pub fn is_empty(&self) -> bool {
        self.engines.is_empty()
    }

    /// The index, in the slice given to [`Pack::new`], of pack rule `i`.
    pub fn rule_index(&self, i: u32) -> Option<usize> {
        self.origin.get(i as usize).copied()
    }

    /// [`Pack::rule_index`] of every pack rule, in pack order.
    #[cfg_attr(not(feature = "rules"), allow(dead_code))]
    pub(crate) fn origin(&self) -> &[usize] {
        &self.origin
    }

    /// The rules matching `event` go into `out` (pack indexes, ascending).
    pub fn matches(&self, event: &dyn Event, out: &mut PackMatches) {
        let t0 = out.profile_start(self.engines.len());
        self.matches_inner(event, out);
        out.profile_end(t0);
    }

    fn matches_inner(&self, event: &dyn Event, out: &mut PackMatches) {
        out.captured.clear();
        out.captured_done = self.captures.is_empty();
        out.rules.clear();
        for g in &self.groups {
            g.matches(&self.engines, event, out);
        }
        if self.groups.len() > 1 {
            out.rules.sort_unstable();
        }
        // The first group reads the captured fields with its bucket's, in
        // the same pass, when the event allows it; else they are read here.
        if !out.captured_done {
            self.capture_from(event, out);
        }
    }
}

/// The EXPLAIN: each routed plan (headed by its category field when the
/// pack routes by several).
impl fmt::Display for Pack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for g in &self.groups {
            if self.groups.len() > 1 {
                writeln!(f, "routed by {}:", g.category)?;
            }
            write!(f, "{}", g.plan)?;
        }
        Ok(())
    }
}

impl Group {
    fn new(
        category: FieldPath,
        fields: FieldTable,
        rules: Vec<(Option<String>, Cond)>,
        positions: Vec<u32>,
    ) -> Group {
        let plan = PackPlan::new(fields, &category, rules);
        let category_read = Projection::new([&category]);
        let reads_nulls = plan.fields.reads_nulls();
        let reads = plan
            .buckets()
            .iter()
            .map(|b| {
                let paths: Vec<&FieldPath> =
                    b.fields.iter().map(|&id| plan.fields.path(id)).collect();
                (b.fields.clone(), Projection::new(paths))
            })
            .collect();
        Group {
            plan,
            positions,
            category,
            category_read,
            reads,
            direct_ids: Vec::new(),
            fresh: FreshSlots::default(),
            reads_nulls,
            reads_captures: false,
        }
    }

    /// Each bucket's projection also reads `captures`, whole, after its own
    /// fields: one pass over an event reads both.
    fn read_captures(&mut self, captures: &[FieldPath]) {
        let plan = &self.plan;
        for ((ids, projection), b) in self.reads.iter_mut().zip(plan.buckets()) {
            let paths = b.fields.iter().map(|&id| plan.fields.path(id));
            *projection = Projection::items_then_values(paths, captures);
            debug_assert_eq!(ids.len(), b.fields.len());
        }
        self.reads_captures = !captures.is_empty();
    }

    /// This group's rules matching `event` go into `out` (pack indexes).
    fn matches(&self, engines: &[CompiledQuery], event: &dyn Event, out: &mut PackMatches) {
        let mut slots = Slots::with_buf(std::mem::take(&mut out.slot_buf), self.plan.fields.len());
        // The category values exactly as the single-rule check reads them:
        // a string, or the strings among an array's items.
        let mut cats: SmallVec<[Cow<'_, str>; 2]> = SmallVec::new();
        let bulk = event.resolve_all(&self.category_read, &mut |_, v| {
            if let Value::Str(s) = v {
                cats.push(s);
            }
        });
        if !bulk {
            cats.extend(
                event
                    .get(&self.category)
                    .into_iter()
                    .flat_map(Value::into_categories),
            );
        }
        self.run(
            engines,
            event,
            &mut slots,
            cats,
            bulk && !self.reads_nulls,
            out,
        );
        out.slot_buf = slots.into_buf();
    }

    /// Routing, the candidate index and exact evaluation, once the category
    /// values `cats` are known. `bulk`: fill each selected bucket's fields
    /// through [`Event::resolve_all`] (else they are already resolved, or
    /// resolved lazily).
    fn run<'e>(
        &self,
        engines: &[CompiledQuery],
        event: &'e dyn Event,
        slots: &mut Slots<'e>,
        cats: SmallVec<[Cow<'e, str>; 2]>,
        bulk: bool,
        out: &mut PackMatches,
    ) {
        out.next_epoch(self.plan.rules.len());
        let mut buckets: SmallVec<[&eql_plan::Bucket; 2]> = SmallVec::new();
        if cats.is_empty() {
            buckets.push(self.plan.bucket(None));
        }
        for c in &cats {
            let b = self.plan.bucket(Some(c));
            if !buckets.iter().any(|x| std::ptr::eq(*x, b)) {
                buckets.push(b);
            }
        }
        for b in &buckets {
            if bulk {
                if let Some((ids, projection)) = self.reads.get(b.id) {
                    let extra =
                        (self.reads_captures && !out.captured_done).then_some(&mut out.captured);
                    let capturing = extra.is_some();
                    if slots.fill(event, projection, ids, &self.plan.fields, extra) && capturing {
                        out.captured.sort_unstable_by_key(|c| c.0);
                        out.captured_done = true;
                    }
                }
            }
            for &r in &b.always {
                out.candidate(r.0);
            }
            // The witness sets that fire for this event...
            out.next_set_epoch(b.by_primary.len());
            for ix in &b.index {
                let (set_stamp, fired, epoch) =
                    (&mut out.set_stamp, &mut out.fired_sets, out.set_epoch);
                let mut mark = |set: SetId| {
                    if let Some(st) = set_stamp.get_mut(set.0 as usize) {
                        if *st != epoch {
                            *st = epoch;
                            fired.push(set);
                        }
                    }
                };
                if ix.has_strings() {
                    slots.strings(ix.field, &self.plan.fields, event, ix.ci, |s| {
                        ix.hits(s, &mut mark);
                    });
                }
                if ix.has_numbers() {
                    slots.scalars_of(ix.field, &self.plan.fields, event, |v| {
                        ix.number_hits(v, &mut mark);
                    });
                }
            }
            // ...then the rules hanging off each one, whose other set (if
            // any) fired too.
            for k in 0..out.fired_sets.len() {
                let Some(set) = out.fired_sets.get(k).copied() else {
                    break;
                };
                for &(r, second) in b.by_primary.get(set.0 as usize).into_iter().flatten() {
                    let ok = second
                        .is_none_or(|s2| out.set_stamp.get(s2.0 as usize) == Some(&out.set_epoch));
                    if ok {
                        out.candidate(r.0);
                    }
                }
            }
        }
        out.candidates.sort_unstable();
        out.evaluated += out.candidates.len() as u64;
        let mut profile = out.profile.take();
        for k in 0..out.candidates.len() {
            let r = out.candidates[k];
            let Some((rule, &position)) = self
                .plan
                .rules
                .get(r as usize)
                .zip(self.positions.get(r as usize))
            else {
                continue;
            };
            let Some(engine) = engines.get(position as usize) else {
                continue;
            };
            let t0 = profile
                .as_ref()
                .is_some_and(|p| p.timing)
                .then(std::time::Instant::now);
            let hit = plan::eval(
                &rule.cond,
                &self.plan.fields,
                slots,
                event,
                &engine.ctx(event),
            );
            if let Some(p) = profile.as_deref_mut() {
                p.count(position as usize, hit, t0);
            }
            if hit {
                out.rules.push(position);
            }
        }
        out.profile = profile;
    }
}

impl Direct {
    /// The raw-bytes reading of `groups` (their `direct_ids` set), or
    /// `None` when some group cannot use it: its category field is not a
    /// path of keys read straight, or a field's `null_value` reads
    /// explicit nulls (which bulk and raw-bytes resolution leave out).
    fn new(groups: &mut [Group], captures: &[FieldPath]) -> Option<Direct> {
        if groups.iter().any(|g| g.reads_nulls) {
            return None;
        }
        let keys_only = |p: &FieldPath| {
            p.segments()
                .iter()
                .all(|s| matches!(s, PathSegment::Key(_)))
        };
        let mut paths: Vec<FieldPath> = Vec::new();
        for p in groups.iter().flat_map(|g| g.plan.fields()).chain(captures) {
            if keys_only(p) && !paths.contains(p) {
                paths.push(p.clone());
            }
        }
        // A path that ends where another goes on is read from the event.
        let ends_inside = |p: &FieldPath| {
            paths.iter().any(|q| {
                q.segments().len() > p.segments().len() && q.segments().starts_with(p.segments())
            })
        };
        let paths: Vec<FieldPath> = paths.iter().filter(|p| !ends_inside(p)).cloned().collect();
        let mut to: Vec<SmallVec<[(u32, u32); 1]>> = vec![SmallVec::new(); paths.len()];
        let mut whole = vec![false; paths.len()];
        for (gi, g) in groups.iter_mut().enumerate() {
            let generic = generic_fields(&g.plan);
            g.direct_ids.clear();
            for (id, p) in g.plan.fields().iter().enumerate() {
                let Some(k) = paths.iter().position(|q| q == p) else {
                    continue;
                };
                let id = u32::try_from(id).ok()?;
                g.direct_ids.push(id);
                if let Some(t) = to.get_mut(k) {
                    t.push((u32::try_from(gi).ok()?, id));
                }
                if generic.get(id as usize).copied().unwrap_or(false) {
                    if let Some(w) = whole.get_mut(k) {
                        *w = true;
                    }
                }
            }
            if !g.direct_ids.contains(&g.plan.category_field.0) {
                return None;
            }
            g.fresh = FreshSlots::new(g.plan.fields.len(), &g.direct_ids);
        }
        let capture: Vec<Option<u32>> = paths
            .iter()
            .map(|p| {
                let k = captures.iter().position(|c| c == p)?;
                u32::try_from(k).ok()
            })
            .collect();
        let capture_rest = capture.iter().flatten().count() < captures.len();
        let read = Projection::new(&paths);
        read.direct().then_some(Direct {
            read,
            to,
            whole,
            paths,
            capture,
            capture_rest,
        })
    }
}

/// The same slots, borrowing for less long.
fn shorter_slots<'a, 'b: 'a>(s: Slots<'b>) -> Slots<'a> {
    s
}

/// The same string, borrowing for less long.
fn shorter_cow<'a, 'b: 'a>(s: Cow<'b, str>) -> Cow<'a, str> {
    s
}

/// Per field of `plan`: a generic leaf reads it.
fn generic_fields(plan: &PackPlan) -> Vec<bool> {
    fn walk(c: &Cond, fields: &FieldTable, out: &mut [bool]) {
        match c {
            Cond::Generic(e) => e.walk(&mut |x| {
                if let eql_syntax::ExprKind::Field(f) = &x.kind {
                    if let Some(id) = fields.get(&FieldPath::new(f.path.clone())) {
                        if let Some(o) = out.get_mut(id.0 as usize) {
                            *o = true;
                        }
                    }
                }
                true
            }),
            Cond::And(cs) | Cond::Or(cs) => cs.iter().for_each(|c| walk(c, fields, out)),
            Cond::Not(c) | Cond::Witnessed(_, c) => walk(c, fields, out),
            Cond::Const(_) | Cond::Test(_) => {}
        }
    }
    let mut out = vec![false; plan.fields.len()];
    for r in &plan.rules {
        walk(&r.cond, &plan.fields, &mut out);
    }
    out
}

/// Where a raw-bytes match puts what the one pass reads.
struct DirectSlots<'d, 't> {
    direct: &'d Direct,
    groups: &'d [Group],
    /// Per group.
    slots: SmallVec<[Slots<'t>; 2]>,
    /// Per group: the category values, as `Group::matches` reads them.
    cats: SmallVec<[SmallVec<[Cow<'t, str>; 2]>; 2]>,
    /// (path of `direct.read`, whole value) of the paths generic leaves read.
    caught: SmallVec<[(u32, Value<'t>); 4]>,
    /// (captured path, value) of the captured paths read.
    captured: Vec<(u32, Value<'static>)>,
}

impl<'t> DirectSlots<'_, 't> {
    /// One item of field `id` of group `g`.
    fn put(&mut self, g: u32, id: u32, item: Value<'t>) {
        let (Some(group), Some(slots)) =
            (self.groups.get(g as usize), self.slots.get_mut(g as usize))
        else {
            return;
        };
        if id == group.plan.category_field.0 {
            if let (Value::Str(s), Some(c)) = (&item, self.cats.get_mut(g as usize)) {
                c.push(s.clone());
            }
        }
        slots.push_item(id as usize, item, &group.plan.fields);
    }
}

impl<'t> crate::event::project::DirectSink<'t> for DirectSlots<'_, 't> {
    fn item(&mut self, path: usize, item: Value<'t>) {
        let Some(to) = self.direct.to.get(path) else {
            return;
        };
        let Some((&(g, id), others)) = to.split_last() else {
            return;
        };
        for &(g, id) in others {
            self.put(g, id, item.clone());
        }
        self.put(g, id, item);
    }

    fn found(&mut self, path: usize, value: &Value<'t>) {
        if let Some(&Some(k)) = self.direct.capture.get(path) {
            self.captured.push((k, value.clone().into_owned()));
        }
        if self.direct.whole.get(path).copied().unwrap_or(false) {
            if let Ok(p) = u32::try_from(path) {
                self.caught.push((p, value.clone()));
            }
        }
    }
}

/// The event a raw-bytes match evaluates generic leaves and the fields not
/// read straight from the bytes on: the whole values kept during the pass
/// for the generic leaves' paths (exactly `walk`'s, since the document had
/// no array, dotted key or repeated key on them), anything else from the
/// projected event, parsed on first use.
struct Caught<'d, 't> {
    direct: &'d Direct,
    values: SmallVec<[(u32, Value<'t>); 4]>,
    lazy: LazyProjected<'t, 'd>,
}

impl Event for Caught<'_, '_> {
    fn get(&self, path: &FieldPath) -> Option<Value<'_>> {
        let kept = self
            .direct
            .paths
            .iter()
            .zip(&self.direct.whole)
            .position(|(p, &w)| w && p.dotted() == path.dotted() && p == path);
        match kept {
            Some(k) => self
                .values
                .iter()
                .find(|(p, _)| *p as usize == k)
                .map(|(_, v)| v.clone()),
            None => self.lazy.get(path),
        }
    }

    fn resolve_all<'s>(
        &'s self,
        projection: &Projection,
        sink: &mut dyn FnMut(usize, Value<'s>),
    ) -> bool {
        self.lazy.resolve_all(projection, sink)
    }
}
