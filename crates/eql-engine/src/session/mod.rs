//! Streaming sessions: the mutable state of one ordered event stream.
//!
//! An [`CompiledQuery`] is immutable; a [`Session`] holds what a stream needs between
//! events: partial sequences, sample and join slots, lineage sets, pipe
//! buffers and counters. Events are referred to by a caller-chosen handle `H`,
//! so the session never clones or keeps an event: each event is evaluated
//! once when it is pushed (step conditions, join keys, the few field values a
//! pipe needs), and only the handle plus those key values are kept.
//!
//! Flow of one event: read its timestamp and tiebreaker → evaluate every rule
//! into compact *hits* (rule, step, key) → single-event rules' hits go to
//! their pipes at once; stateful rules' hits are held and put in
//! Elasticsearch's order ([`StreamOrder`], `order.rs`) → the rules' state
//! machines → pipes → the caller's [`Matches`].
//!
//! ```
//! use eql_engine::{CompileOptions, CompiledQuery, Matches};
//! use serde_json::json;
//! let engine = CompiledQuery::compile(
//!     r#"sequence by host.id with maxspan=1m [process where true] [file where true]"#,
//!     &CompileOptions::default(),
//! ).unwrap();
//! let mut session = engine.session::<u64>();
//! let mut out = Matches::new();
//! session.push(1, &json!({"@timestamp": 1000, "event": {"category": "process"}, "host": {"id": "h"}}), &mut out);
//! session.push(2, &json!({"@timestamp": 2000, "event": {"category": "file"}, "host": {"id": "h"}}), &mut out);
//! session.finish(&mut out);
//! assert_eq!(out.iter().map(|m| m.events.to_vec()).collect::<Vec<_>>(), vec![vec![1, 2]]);
//! ```

mod join;
mod keys;
mod lineage;
mod order;
mod pipes;
mod sample;
mod sequence;
mod time;

pub use time::TimestampFormat;

use crate::eval::reference::Env;
use crate::{CompiledQuery, Event};
use eql_plan::{FieldPath, Value};
use eql_syntax::{Dialect, EventQuery, Expr, ExprKind, QueryBody, SequenceStep};
pub(crate) use keys::{Key, KeyAtom};
use order::{Orderer, Tie};
use smallvec::SmallVec;
use time::Stamp;

mod matches;
mod options;
mod rule;
mod stats;
mod step;

pub use matches::{Match, Matches, Step};
pub use options::{LineageOptions, SessionLimits, SessionOptions, StreamOrder};
use rule::{Body, OwnTs, PackGroup, RuleState, SessionPack};
pub(crate) use rule::{Hit, HitKind, Sink};
pub(crate) use stats::Counters;
pub use stats::SessionStats;
pub(crate) use step::{Answers, EvalCx, StepSpec};

// ---------------------------------------------------------------------------
// The session

/// Errors of [`Session::push_json`].
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery, Matches};
/// let engine = CompiledQuery::compile("any where true", &CompileOptions::default()).unwrap();
/// let mut s = engine.session::<u64>();
/// assert!(s.push_json(1, b"{not json", &mut Matches::new()).is_err());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The bytes are not valid JSON.
    #[error("invalid JSON event: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON is valid but not an object.
    #[error("a JSON event must be an object")]
    NotAnObject,
}

/// The mutable state of one ordered event stream over one or more compiled
/// queries: partial sequences, sample and join slots, lineage sets, pipe
/// buffers and counters, fed one event at a time.
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery, Matches};
/// let engine = CompiledQuery::compile("process where true | tail 1", &CompileOptions::default()).unwrap();
/// let mut s = engine.session::<u32>();
/// let mut out = Matches::new();
/// for i in 0..3 {
///     s.push_json(i, br#"{"event": {"category": "process"}}"#, &mut out).unwrap();
/// }
/// assert!(out.is_empty());
/// s.finish(&mut out);
/// assert_eq!(out.iter().next().unwrap().events, &[2]);
/// ```
pub struct Session<'e, H> {
    rules: Vec<RuleState<'e, H>>,
    /// Rules with `maxspan` (checked for expiry on every event, in arrival order).
    timed: Vec<u32>,
    /// The order of the stateful rules and their held hits.
    ordering: Orderer<H>,
    ts_field: FieldPath,
    /// The other (timestamp field, format) pairs rules read, each once per
    /// event ([`Rule::ts_slot`]).
    own_ts: Vec<(FieldPath, TimestampFormat)>,
    ts_format: TimestampFormat,
    tie_field: Option<FieldPath>,
    /// The category field most rules read (the first rule's).
    category_field: Option<FieldPath>,
    arrival: u64,
    scratch: Vec<Hit>,
    /// Every step query of the rules as one [`crate::Pack`].
    pack: Option<SessionPack>,
    pack_hits: crate::PackMatches,
    /// The pack's answers for the current event, by pack index.
    answers: Vec<bool>,
    /// Rules evaluated on every event, ascending: those with a step query
    /// the packs do not answer, and Python sequences with `maxspan`. The
    /// others run only on an event where one of their answers fired.
    always: Vec<u32>,
    /// The rules to evaluate for the current event (scratch).
    due: Vec<u32>,
    counters: Counters,
    stats: SessionStats,
    finished: bool,
    /// Keep only the hits this worker owns ([`crate::Shard`]).
    shard: Option<crate::Shard>,
}

impl CompiledQuery {
    /// A streaming session over this query with default [`SessionOptions`].
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery};
    /// let engine = CompiledQuery::compile("any where true", &CompileOptions::default()).unwrap();
    /// let _s = engine.session::<u64>();
    /// ```
    pub fn session<H: Clone>(&self) -> Session<'_, H> {
        Session::new(std::iter::once(self), SessionOptions::default())
    }

    /// A streaming session with explicit options.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, SessionOptions};
    /// let engine = CompiledQuery::compile("any where true", &CompileOptions::default()).unwrap();
    /// let _s = engine.session_with::<u64>(SessionOptions::default());
    /// ```
    pub fn session_with<H: Clone>(&self, opts: SessionOptions) -> Session<'_, H> {
        Session::new(std::iter::once(self), opts)
    }
}

#[cfg(feature = "rules")]
impl crate::CompiledRuleSet {
    /// A streaming session running every rule of the pack; a result's
    /// [`Match::rule`] is the rule's index in [`crate::CompiledRuleSet::rules`].
    ///
    /// ```
    /// use eql_engine::{CompileOptions, Matches, RuleSet, SessionOptions};
    /// let (pack, _) = RuleSet::builtin().compile(&CompileOptions::default());
    /// let mut s = pack.session::<u64>(SessionOptions::default());
    /// s.finish(&mut Matches::new());
    /// ```
    pub fn session<H: Clone>(&self, opts: SessionOptions) -> Session<'_, H> {
        Session::new(self.iter().map(|r| &r.engine), opts)
    }
}

impl<'e, H: Clone> Session<'e, H> {
    /// Groups the step queries of the rules (without process lineage) into
    /// one pack per category field when there are several rules.
    fn pack_of(rules: &[RuleState<'e, H>]) -> Option<SessionPack> {
        if rules.len() < 2 {
            return None;
        }
        let mut steps: Vec<Vec<(eql_syntax::Span, u32)>> = vec![Vec::new(); rules.len()];
        // Per category field, in order of first use: the queries of its pack.
        let mut groups: Vec<PackGroup<'e>> = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let e = r.engine;
            if r.lineage.is_some() || (e.plan.is_none() && e.steps.is_none()) {
                continue;
            }
            let queries = e.query.body.step_queries();
            let field = e.opts.category_field.as_str();
            let g = match groups.iter().position(|(f, _)| *f == field) {
                Some(g) => g,
                None => {
                    groups.push((field, Vec::new()));
                    groups.len() - 1
                }
            };
            if let Some((_, items)) = groups.get_mut(g) {
                items.extend(queries.into_iter().map(|q| (i, e, q)));
            }
        }
        let mut owner = Vec::new();
        let mut packs = Vec::with_capacity(groups.len());
        let mut offsets = Vec::with_capacity(groups.len());
        let mut total = 0u32;
        for (_, items) in groups {
            let Some(&(_, first, _)) = items.first() else {
                continue;
            };
            // A rule's queries are all in one group, in order.
            for (k, &(i, _, q)) in items.iter().enumerate() {
                if let Some(s) = steps.get_mut(i) {
                    s.push((q.span, total + k as u32));
                }
                owner.push(i as u32);
            }
            let pack = crate::Pack::from_conditions(items, &first.opts);
            offsets.push(total);
            total += pack.len() as u32;
            packs.push(pack);
        }
        Some(SessionPack {
            packs,
            offsets,
            total: total as usize,
            steps,
            owner,
        })
    }

    /// A session over several compiled queries; a result's [`Match::rule`] is
    /// the query's position in `engines`. The session's timestamp field, its
    /// format and tiebreaker (which drive the reorder window and
    /// `SessionStats::out_of_order`) are the first query's, and the first
    /// query's dialect chooses the default [`StreamOrder`]. A query compiled
    /// with another `timestamp_field` orders and times its steps and its
    /// `maxspan` by that field (by the session's timestamp on an event that
    /// lacks it), and with another `tiebreaker_field` breaks ties by it; one
    /// compiled with another `category_field` reads its categories from that
    /// field. Every query gives the results it gives in a session of its own
    /// over the same stream as long as the events carry its timestamp field
    /// (the multi-rule session proptest checks this).
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Session, SessionOptions};
    /// let a = CompiledQuery::compile("process where true", &CompileOptions::default()).unwrap();
    /// let b = CompiledQuery::compile("file where true", &CompileOptions::default()).unwrap();
    /// let s: Session<'_, u64> = Session::new([&a, &b], SessionOptions::default());
    /// assert_eq!(s.stats().events, 0);
    /// ```
    pub fn new(engines: impl IntoIterator<Item = &'e CompiledQuery>, opts: SessionOptions) -> Self {
        let engines: Vec<&CompiledQuery> = engines.into_iter().collect();
        let first = engines.first().map(|e| &e.opts);
        let ts_name = opts.timestamp_field.clone().unwrap_or_else(|| {
            first
                .map_or("@timestamp", |o| o.timestamp_field.as_str())
                .to_owned()
        });
        let ts_format = first.map_or(TimestampFormat::Auto, |o| o.timestamp_format);
        let tie_field = first
            .and_then(|o| o.tiebreaker_field.as_deref())
            .map(FieldPath::parse_dotted);
        let py = engines
            .first()
            .is_some_and(|e| e.opts.dialect == Dialect::Python);
        let order = opts.order.unwrap_or(if py {
            StreamOrder::Arrival
        } else {
            StreamOrder::Bounded
        });
        let mut rules = Vec::with_capacity(engines.len());
        let mut timed = Vec::new();
        let mut own_ts: Vec<(FieldPath, TimestampFormat)> = Vec::new();
        for (i, e) in engines.iter().enumerate() {
            let mut r = RuleState::new(e, &opts);
            r.session_category = engines.first().is_some_and(|f| f.category == e.category);
            if e.opts.timestamp_field != ts_name {
                let own = (
                    FieldPath::parse_dotted(&e.opts.timestamp_field),
                    e.opts.timestamp_format,
                );
                r.ts_slot = Some(match own_ts.iter().position(|x| *x == own) {
                    Some(k) => k,
                    None => {
                        own_ts.push(own);
                        own_ts.len() - 1
                    }
                });
            }
            if matches!(&r.body, Body::Seq(s) if s.spec.maxspan.is_some() && !s.py) {
                timed.push(i as u32);
            }
            rules.push(r);
        }
        let pack = Self::pack_of(&rules);
        let always = rules
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                let answered = pack
                    .as_ref()
                    .is_some_and(|p| p.steps.get(*i).is_some_and(|s| !s.is_empty()));
                // A rule whose every step query the packs answer pushes a
                // hit only when one of them matched; a Python sequence with
                // `maxspan` also notes every event of its steps' categories.
                let touches = matches!(&r.body, Body::Seq(s) if s.py && s.spec.maxspan.is_some());
                !answered || touches
            })
            .map(|(i, _)| i as u32)
            .collect();
        let tie_name = first.and_then(|o| o.tiebreaker_field.as_deref());
        let ordering = Orderer::new(order, &rules, tie_name, opts.limits.max_held_hits);
        Session {
            rules,
            timed,
            ordering,
            ts_field: FieldPath::parse_dotted(&ts_name),
            own_ts,
            ts_format,
            tie_field,
            category_field: engines.first().map(|e| e.category.clone()),
            arrival: 0,
            scratch: Vec::new(),
            pack,
            pack_hits: crate::PackMatches::new(),
            answers: Vec::new(),
            always,
            due: Vec::new(),
            counters: Counters::default(),
            stats: SessionStats::default(),
            finished: false,
            shard: opts.shard,
        }
    }

    /// Pushes one event. Results completed by it (single-event rules, and
    /// stateful rules' hits that the reorder window or the
    /// [`SessionLimits::max_held_hits`] cap releases) are appended to `out`;
    /// an event that a stateful rule had to skip because it came too late
    /// is appended to [`Matches::late`]. In [`StreamOrder::Bounded`] (the
    /// Elasticsearch default) the stateful rules' results come at
    /// [`Session::finish`].
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches};
    /// let engine = CompiledQuery::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = engine.session::<u8>();
    /// let mut out = Matches::new();
    /// s.push(1, &serde_json::json!({"@timestamp": "2024-01-01T00:00:00Z"}), &mut out);
    /// assert_eq!(out.len(), 1);
    /// ```
    pub fn push(&mut self, handle: H, event: &dyn Event, out: &mut Matches<H>) {
        self.stats.events += 1;
        let arrival = self.arrival;
        self.arrival += 1;
        if self.finished {
            // The input is closed: nothing more is evaluated.
            self.stats.late += 1;
            out.late.push(handle);
            return;
        }
        let stamp = Stamp::read(event.get(&self.ts_field).as_ref(), self.ts_format);
        match stamp {
            Stamp::At(_) => {}
            Stamp::Missing => self.stats.missing_timestamp += 1,
            Stamp::Bad => self.stats.bad_timestamp += 1,
        }
        let tie = Tie::read(self.tie_field.as_ref().and_then(|f| event.get(f)).as_ref());
        if self.ordering.observe(stamp, &tie) {
            self.stats.out_of_order += 1;
        }
        // The time of hits that have none of their own: the Python engine's
        // 0; a stateful rule orders or skips them by `stamp` (order.rs).
        let ts = stamp.at().unwrap_or(0);
        let own_ties = self.ordering.own_ties(event);
        let mut hits = std::mem::take(&mut self.scratch);
        hits.clear();
        let category = self.category_field.as_ref().map(|f| event.get(f));
        // Rules timed by another field than the session's read it here, once
        // per event: for their steps, and for their `maxspan` expiry.
        let own: OwnTs = self
            .own_ts
            .iter()
            .map(|(field, format)| event.get(field).and_then(|v| time::parse_ts(&v, *format)))
            .collect();
        // Every step query of every rule: one pass of the pack (routing,
        // candidate index), then the rules read their answers.
        let mut due = std::mem::take(&mut self.due);
        due.clear();
        due.extend_from_slice(&self.always);
        if let Some(p) = &self.pack {
            self.answers.clear();
            self.answers.resize(p.total, false);
            for (pack, &offset) in p.packs.iter().zip(&p.offsets) {
                pack.matches(event, &mut self.pack_hits);
                for &k in self.pack_hits.rules() {
                    let k = offset as usize + k as usize;
                    if let Some(a) = self.answers.get_mut(k) {
                        *a = true;
                    }
                    // A rule the packs answer runs only when one of its
                    // step queries matched.
                    if let Some(&i) = p.owner.get(k) {
                        due.push(i);
                    }
                }
            }
            if due.len() > self.always.len() {
                due.sort_unstable();
                due.dedup();
            }
        }
        for &i in &due {
            let i = i as usize;
            let Some(r) = self.rules.get_mut(i) else {
                continue;
            };
            let cat = if r.session_category {
                category.as_ref()
            } else {
                None
            };
            let answers = self.pack.as_ref().and_then(|p| {
                let steps = p.steps.get(i).map(Vec::as_slice).unwrap_or_default();
                (!steps.is_empty()).then_some(Answers {
                    steps,
                    matched: &self.answers,
                })
            });
            let ts = r.own_clock(&own).unwrap_or(ts);
            r.evaluate(i as u32, event, cat, ts, &mut hits, answers);
        }
        self.due = due;
        if let Some(shard) = &self.shard {
            hits.retain(|h| shard.owns(h.rule as usize, &h.key));
        }
        if self.ordering.mode == StreamOrder::Arrival {
            self.process(ts, arrival, &handle, &hits, &own, out);
        } else {
            let report = self.order_hits(
                arrival, stamp, &tie, &own_ties, &own, &handle, &mut hits, out,
            );
            if report.missing_tiebreaker {
                self.stats.missing_tiebreaker += 1;
            }
            if report.late {
                self.stats.late += 1;
                out.late.push(handle);
            }
        }
        hits.clear();
        self.scratch = hits;
    }

    /// Parses one JSON object (`serde_json` for now) and pushes it.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches};
    /// let engine = CompiledQuery::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = engine.session::<u8>();
    /// let mut out = Matches::new();
    /// s.push_json(1, br#"{"@timestamp": 5}"#, &mut out).unwrap();
    /// assert_eq!(out.len(), 1);
    /// ```
    pub fn push_json(
        &mut self,
        handle: H,
        bytes: &[u8],
        out: &mut Matches<H>,
    ) -> Result<(), PushError> {
        let v: serde_json::Value = serde_json::from_slice(bytes)?;
        if !v.is_object() {
            return Err(PushError::NotAnObject);
        }
        self.push(handle, &v, out);
        Ok(())
    }

    /// Runs the state machines over one event as it arrives
    /// ([`StreamOrder::Arrival`]): every `maxspan` expiry on its time, then its hits.
    fn process(
        &mut self,
        ts: i64,
        arrival: u64,
        handle: &H,
        hits: &[Hit],
        own: &[Option<i64>],
        out: &mut Matches<H>,
    ) {
        let counters = &mut self.counters;
        for &ri in &self.timed {
            if let Some(r) = self.rules.get_mut(ri as usize) {
                // `maxspan` runs on the rule's own clock, as its steps do.
                let now = r.own_clock(own).unwrap_or(ts);
                let (body, mut sink) = r.sink(ri, out, counters);
                if let Body::Seq(s) = body {
                    s.expire(now, &mut sink);
                }
            }
        }
        for h in hits {
            order::run_hit(
                &mut self.rules,
                &mut self.counters,
                h,
                handle,
                arrival,
                false,
                out,
            );
        }
    }

    /// Closes the input: runs the held hits of the stateful rules in order,
    /// emits sequences waiting on trailing missing events, and flushes the
    /// pipes that need the whole input (`tail`, `sort`, `count`,
    /// `unique_count`). Later pushes are late.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches};
    /// let engine = CompiledQuery::compile("any where true | tail 1", &CompileOptions::default()).unwrap();
    /// let mut s = engine.session::<u8>();
    /// let mut out = Matches::new();
    /// s.push(1, &serde_json::json!({}), &mut out);
    /// s.push(2, &serde_json::json!({}), &mut out);
    /// s.finish(&mut out);
    /// assert_eq!(out.get(0).map(|m| m.events), Some(&[2u8][..]));
    /// ```
    pub fn finish(&mut self, out: &mut Matches<H>) {
        self.release_all(out);
        let counters = &mut self.counters;
        for (i, r) in self.rules.iter_mut().enumerate() {
            let (body, mut sink) = r.sink(i as u32, out, counters);
            match body {
                Body::Seq(s) => s.finish(&mut sink),
                Body::Sample(s) => s.finish(&mut sink),
                Body::Event(_) | Body::Join(_) => {}
            }
            sink.pipes.finish(i as u32, sink.out, sink.c);
        }
        self.finished = true;
    }

    /// A snapshot of the counters.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches};
    /// let engine = CompiledQuery::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = engine.session::<u8>();
    /// let mut out = Matches::new();
    /// s.push(1, &serde_json::json!({}), &mut out);
    /// assert_eq!((s.stats().events, s.stats().matches), (1, 1));
    /// ```
    pub fn stats(&self) -> SessionStats {
        let c = &self.counters;
        SessionStats {
            matches: c.matches,
            partials: c.partials,
            peak_partials: c.peak_partials,
            keys: c.keys,
            peak_keys: c.peak_keys,
            evicted_partials: c.evicted_partials,
            evicted_keys: c.evicted_keys,
            expired: c.expired,
            held_hits: self.ordering.held_len(),
            peak_held_hits: self.ordering.peak_held,
            held_overflow: self.ordering.overflow,
            state_bytes: c.bytes,
            peak_state_bytes: c.peak_bytes,
            ..self.stats.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Body;
    use crate::{CompileOptions, CompiledQuery, Matches, SessionOptions, StreamOrder};
    use serde_json::json;

    /// A leading missing event that repeats with one key inside `maxspan`
    /// keeps one queue entry for it, not one per event.
    #[test]
    fn leading_missing_queue_stays_small_for_a_repeated_key() {
        let engine = CompiledQuery::compile(
            "sequence by k with maxspan=1h ![a where true] [b where true] [c where true]",
            &CompileOptions::default(),
        )
        .expect("compiles");
        // A stream, so that every event runs as it comes.
        let mut s = engine.session_with::<u32>(SessionOptions {
            order: Some(StreamOrder::Window { window_ms: 0 }),
            ..SessionOptions::default()
        });
        let mut out = Matches::new();
        for i in 0..1000u32 {
            let ev =
                json!({"@timestamp": 1000 + i64::from(i), "event": {"category": "a"}, "k": "x"});
            s.push(i, &ev, &mut out);
        }
        let Some(Body::Seq(seq)) = s.rules.first().map(|r| &r.body) else {
            panic!("a sequence rule");
        };
        assert!(seq.leading_queue_len() <= 18, "{}", seq.leading_queue_len());
        assert_eq!(s.stats().keys, 1);
    }
}
