//! A session's results: the caller-owned [`Matches`] buffer.

use super::{pipes, Value};

#[derive(Clone, Debug)]
pub(super) struct Item {
    pub(super) rule: u32,
    pub(super) events: (u32, u32),
    pub(super) values: (u32, u32),
    pub(super) count: Option<u64>,
    pub(super) percent: Option<f64>,
    pub(super) missing: (u32, u32),
}

/// A buffer of results that the caller owns and reuses: [`Session::push`](crate::Session::push) and
/// [`Session::finish`](crate::Session::finish) append to it, [`Matches::clear`] empties it and keeps
/// its capacity.
///
/// ```
/// use eql_engine::Matches;
/// let mut m: Matches<u64> = Matches::new();
/// assert!(m.is_empty());
/// m.clear();
/// ```
#[derive(Clone, Debug)]
pub struct Matches<H> {
    pub(super) handles: Vec<H>,
    pub(super) values: Vec<Value<'static>>,
    pub(super) items: Vec<Item>,
    pub(super) late: Vec<H>,
    /// Placeholder positions of every result ([`Match::missing`]).
    pub(super) missing: Vec<u16>,
}

impl<H> Default for Matches<H> {
    fn default() -> Self {
        Matches {
            handles: Vec::new(),
            values: Vec::new(),
            items: Vec::new(),
            late: Vec::new(),
            missing: Vec::new(),
        }
    }
}

/// One result: the rule that matched and the handles of its events, in step
/// order (one handle for a single-event query).
///
/// A sequence with `![...]` steps has one entry per step, as Elasticsearch
/// returns it: [`Match::events`] holds the events that matched and
/// [`Match::missing`] the positions of the placeholders (the steps whose
/// event is absent); [`Match::steps`] walks both in step order.
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
/// let engine = CompiledQuery::compile("any where true", &CompileOptions::default()).unwrap();
/// let mut s = Session::<&str>::new(&engine, SessionOptions::default());
/// let mut out = Matches::new();
/// s.push("a", &serde_json::json!({}), &mut out);
/// let m = out.iter().next().unwrap();
/// assert_eq!((m.rule, m.events), (0, &["a"][..]));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Match<'a, H> {
    /// Index of the rule in the session (0 for a one-query session).
    pub rule: usize,
    /// Handles of the events, in order (placeholders of `![...]` steps
    /// left out: see [`Match::missing`]).
    pub events: &'a [H],
    /// Python `count`/`unique_count` pipes: the count.
    pub count: Option<u64>,
    /// Python `count`/`unique_count` pipes: the share of the total.
    pub percent: Option<f64>,
    /// The join key values of a sequence, sample or join (as compared:
    /// lowercased in the Python dialect's case-insensitive mode); for the
    /// Python `count` pipe, the counted key (and no events). Empty otherwise.
    pub key: &'a [Value<'static>],
    /// Positions, in step order and ascending, of the `![...]` steps: each
    /// is an entry of the result without an event (Elasticsearch's
    /// `"missing": true`). Empty for every other result.
    pub missing: &'a [u16],
}

/// One entry of a result in step order: see [`Match::steps`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<'a, H> {
    /// The handle of the event that matched the step.
    Event(&'a H),
    /// The placeholder of a `![...]` step: no event.
    Missing,
}

impl<'a, H> Match<'a, H> {
    /// The result's entries in step order: one per step of the query (a
    /// step with `runs=N` counts N times), the steps `![...]` as
    /// [`Step::Missing`].
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions, Step};
    /// use serde_json::json;
    /// let q = CompiledQuery::compile(
    ///     "sequence with maxspan=1m [a where true] ![b where true] [c where true]",
    ///     &CompileOptions::default(),
    /// ).unwrap();
    /// let mut s = Session::<u32>::new(&q, SessionOptions::default());
    /// let mut out = Matches::new();
    /// s.push(1, &json!({"@timestamp": 1000, "event": {"category": "a"}}), &mut out);
    /// s.push(2, &json!({"@timestamp": 2000, "event": {"category": "c"}}), &mut out);
    /// s.finish(&mut out);
    /// let m = out.get(0).unwrap();
    /// assert_eq!((m.events, m.missing), (&[1, 2][..], &[1][..]));
    /// let steps: Vec<Step<'_, u32>> = m.steps().collect();
    /// assert_eq!(steps, [Step::Event(&1), Step::Missing, Step::Event(&2)]);
    /// ```
    pub fn steps(&self) -> impl Iterator<Item = Step<'a, H>> + 'a {
        let (events, missing) = (self.events, self.missing);
        let mut ev = events.iter();
        let mut next_missing = missing.iter().peekable();
        (0..events.len() + missing.len()).filter_map(move |pos| {
            if next_missing.next_if(|&&m| usize::from(m) == pos).is_some() {
                Some(Step::Missing)
            } else {
                ev.next().map(Step::Event)
            }
        })
    }
}

impl<H> Matches<H> {
    /// An empty buffer.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
    /// let engine = CompiledQuery::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = Session::<u8>::new(&engine, SessionOptions::default());
    /// let mut out = Matches::new();
    /// s.push(7, &serde_json::json!({}), &mut out);
    /// assert_eq!(out.len(), 1);
    /// ```
    pub fn new() -> Self {
        Matches::default()
    }

    /// Empties the buffer (results and late events), keeping its capacity.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
    /// let engine = CompiledQuery::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = Session::<u8>::new(&engine, SessionOptions::default());
    /// let mut out = Matches::new();
    /// s.push(7, &serde_json::json!({}), &mut out);
    /// out.clear();
    /// assert!(out.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.handles.clear();
        self.values.clear();
        self.items.clear();
        self.late.clear();
        self.missing.clear();
    }

    /// Number of results.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
    /// let engine = CompiledQuery::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = Session::<u8>::new(&engine, SessionOptions::default());
    /// let mut out = Matches::new();
    /// s.push(1, &serde_json::json!({}), &mut out);
    /// s.push(2, &serde_json::json!({}), &mut out);
    /// assert_eq!(out.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there is no result.
    ///
    /// ```
    /// assert!(eql_engine::Matches::<u8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The `i`-th result.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
    /// let engine = CompiledQuery::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = Session::<u8>::new(&engine, SessionOptions::default());
    /// let mut out = Matches::new();
    /// s.push(9, &serde_json::json!({}), &mut out);
    /// assert_eq!(out.get(0).map(|m| m.events), Some(&[9u8][..]));
    /// assert!(out.get(1).is_none());
    /// ```
    pub fn get(&self, i: usize) -> Option<Match<'_, H>> {
        let it = self.items.get(i)?;
        Some(Match {
            rule: it.rule as usize,
            events: self
                .handles
                .get(it.events.0 as usize..it.events.1 as usize)
                .unwrap_or(&[]),
            count: it.count,
            percent: it.percent,
            key: self
                .values
                .get(it.values.0 as usize..it.values.1 as usize)
                .unwrap_or(&[]),
            missing: self
                .missing
                .get(it.missing.0 as usize..it.missing.1 as usize)
                .unwrap_or(&[]),
        })
    }

    /// The results, in emission order.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
    /// let engine = CompiledQuery::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = Session::<u8>::new(&engine, SessionOptions::default());
    /// let mut out = Matches::new();
    /// s.push(1, &serde_json::json!({}), &mut out);
    /// assert_eq!(out.iter().count(), 1);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = Match<'_, H>> + '_ {
        (0..self.items.len()).filter_map(move |i| self.get(i))
    }

    /// Events that came too late for a stateful rule: later than the reorder
    /// window ([`StreamOrder::Window`](crate::StreamOrder::Window)) or than
    /// what [`SessionLimits::max_held_hits`](crate::SessionLimits::max_held_hits) forced to run
    /// early, behind a hit that rule had already run. That rule skipped the
    /// event; single-event rules and the stateful rules that had not run
    /// past it still saw it. Events pushed after `finish` are late too (and
    /// not evaluated at all).
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions, StreamOrder};
    /// let engine = CompiledQuery::compile(
    ///     "sequence [a where true] [b where true]",
    ///     &CompileOptions::default(),
    /// ).unwrap();
    /// let mut stream = SessionOptions::default();
    /// stream.order = Some(StreamOrder::Window { window_ms: 0 });
    /// let mut s = Session::<u8>::new(&engine, stream);
    /// let mut out = Matches::new();
    /// s.push(1, &serde_json::json!({"@timestamp": 2000, "event": {"category": "b"}}), &mut out);
    /// s.push(2, &serde_json::json!({"@timestamp": 1000, "event": {"category": "a"}}), &mut out);
    /// assert_eq!(out.late(), &[2]);
    /// ```
    pub fn late(&self) -> &[H] {
        &self.late
    }

    pub(super) fn push_result(&mut self, rule: u32, res: pipes::Res<H>) {
        let e0 = self.handles.len() as u32;
        self.handles.extend(res.events);
        let v0 = self.values.len() as u32;
        self.values.extend(res.agg_key);
        let m0 = self.missing.len() as u32;
        self.missing.extend(res.missing);
        self.items.push(Item {
            rule,
            events: (e0, self.handles.len() as u32),
            values: (v0, self.values.len() as u32),
            count: res.count,
            percent: res.percent,
            missing: (m0, self.missing.len() as u32),
        });
    }
}
