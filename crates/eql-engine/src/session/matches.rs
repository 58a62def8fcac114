//! A session's results: the caller-owned [`Matches`] buffer.

use super::{pipes, Value};

#[derive(Clone, Debug)]
pub(super) struct Item {
    pub(super) rule: u32,
    pub(super) events: (u32, u32),
    pub(super) values: (u32, u32),
    pub(super) count: Option<u64>,
    pub(super) percent: Option<f64>,
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
}

impl<H> Default for Matches<H> {
    fn default() -> Self {
        Matches {
            handles: Vec::new(),
            values: Vec::new(),
            items: Vec::new(),
            late: Vec::new(),
        }
    }
}

/// One result: the rule that matched and the handles of its events, in step
/// order (one handle for a single-event query).
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
    /// Handles of the events, in order.
    pub events: &'a [H],
    /// Python `count`/`unique_count` pipes: the count.
    pub count: Option<u64>,
    /// Python `count`/`unique_count` pipes: the share of the total.
    pub percent: Option<f64>,
    /// The join key values of a sequence, sample or join (as compared:
    /// lowercased in the Python dialect's case-insensitive mode); for the
    /// Python `count` pipe, the counted key (and no events). Empty otherwise.
    pub key: &'a [Value<'static>],
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

    /// Events that arrived later than the reorder window allows; they were
    /// not evaluated.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
    /// let engine = CompiledQuery::compile("any where true", &CompileOptions::default()).unwrap();
    /// let mut s = Session::<u8>::new(&engine, SessionOptions::default());
    /// let mut out = Matches::new();
    /// s.push(1, &serde_json::json!({"@timestamp": 2000}), &mut out);
    /// s.push(2, &serde_json::json!({"@timestamp": 1000}), &mut out);
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
        self.items.push(Item {
            rule,
            events: (e0, self.handles.len() as u32),
            values: (v0, self.values.len() as u32),
            count: res.count,
            percent: res.percent,
        });
    }
}
