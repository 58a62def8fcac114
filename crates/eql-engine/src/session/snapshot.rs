//! Checkpoints: a session's state as plain data ([`SessionSnapshot`]), a
//! session rebuilt from it ([`Session::restore`]) that goes on exactly as the
//! one that never stopped, and the oldest handle the state still holds
//! ([`Session::low_watermark`]).
//!
//! The snapshot is the *logical* state, not the memory layout: each state
//! machine writes what decides its future (a sequence its partials in expiry
//! order with their stage and key, its held candidates in completion order;
//! a sample or join its keys in creation order; the reorder buffer its held
//! hits by order key; pipe buffers; lineage sets, sorted), and rebuilds its
//! indexes (slabs, free lists, key maps, links, reference counts, the live
//! counters of [`SessionStats`]) from that on restore, through the same code
//! that builds them while events are pushed. Every index the data holds is
//! checked on the way in, and so are the invariants the state machines rely
//! on, so a snapshot that does not hold is an error, never a panic or a
//! session in a state no stream could have produced.
//!
//! Values (join keys, pipe captures) are written as a flat list of tokens
//! ([`Vals`]), so nesting costs no recursion when a snapshot is read, and a
//! float keeps its bits (NaN included).

use super::keys::{Key, KeyAtom};
use super::pipes::Res;
use super::{
    Counters, Hit, HitKind, Session, SessionLimits, SessionOptions, SessionPlan, StreamOrder, Value,
};
use std::borrow::Cow;
use std::sync::Arc;

/// A session's state at one point of its stream, from [`Session::snapshot`]:
/// partial sequences, sample and join slots, lineage sets, pipe buffers and
/// counters, the hits held to be put in order, and the counters of
/// [`SessionStats`](crate::SessionStats). It holds handles (`H`) and the
/// few values the session keeps of an event (join keys, pipe captures),
/// never an event.
///
/// [`Session::restore`] turns it back into a session over the same compiled
/// queries: the snapshot records its format version
/// ([`SessionSnapshot::VERSION`]), a fingerprint of each query (its
/// canonical text and the compile options that shape a session: dialect,
/// case sensitivity, category, timestamp and tiebreaker fields, timestamp
/// format) and of the session options that shape the state (the stream
/// order, `samples_on_completion` when a rule samples, the timestamp field,
/// the lineage options when a rule uses lineage), and restore rejects a
/// mismatch.
///
/// With the `serde` feature it serializes with any serde format (`H` too
/// must be `Serialize`/`Deserialize`). A snapshot written by another format
/// version either fails to deserialize or is rejected by `restore` with
/// [`SnapshotError::Version`].
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions, SessionSnapshot};
/// use serde_json::json;
/// let q = CompiledQuery::compile("sequence by k [a where true] [b where true]", &CompileOptions::default()).unwrap();
/// let mut s = Session::<u64>::new(&q, SessionOptions::default());
/// let mut out = Matches::new();
/// s.push(1, &json!({"@timestamp": 1, "event": {"category": "a"}, "k": "x"}), &mut out);
/// let snap: SessionSnapshot<u64> = s.snapshot();
/// assert_eq!(snap.version(), SessionSnapshot::<u64>::VERSION);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct SessionSnapshot<H> {
    version: u32,
    /// Fingerprint of each query of the plan.
    queries: Vec<u64>,
    /// Fingerprint of the options that shape the state.
    options: u64,
    state: SessionState<H>,
}

impl<H> SessionSnapshot<H> {
    /// The format version this build writes and reads.
    pub const VERSION: u32 = 1;

    /// The format version of this snapshot.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Session, SessionOptions, SessionSnapshot};
    /// let q = CompiledQuery::compile("any where true", &CompileOptions::default()).unwrap();
    /// let s = Session::<u8>::new(&q, SessionOptions::default());
    /// assert_eq!(s.snapshot().version(), SessionSnapshot::<u8>::VERSION);
    /// ```
    pub fn version(&self) -> u32 {
        self.version
    }
}

/// Why [`Session::restore`] refused a snapshot.
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery, Session, SessionOptions, SnapshotError};
/// let a = CompiledQuery::compile("a where true | tail 1", &CompileOptions::default()).unwrap();
/// let b = CompiledQuery::compile("b where true | tail 1", &CompileOptions::default()).unwrap();
/// let snap = Session::<u8>::new(&a, SessionOptions::default()).snapshot();
/// let err = Session::restore(&b, SessionOptions::default(), snap).err();
/// assert_eq!(err, Some(SnapshotError::QueryMismatch { query: 0 }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The snapshot's format version is not the one this build reads.
    #[error("snapshot format version {found}, this build reads version {expected}")]
    Version {
        /// The snapshot's version.
        found: u32,
        /// [`SessionSnapshot::VERSION`].
        expected: u32,
    },
    /// The snapshot was taken over another number of queries.
    #[error("the snapshot was taken over {found} queries, the plan has {expected}")]
    QueryCount {
        /// Queries of the snapshot.
        found: usize,
        /// Queries of the plan.
        expected: usize,
    },
    /// A query of the plan is not the one the snapshot was taken with (its
    /// text or the compile options that shape a session differ).
    #[error("query {query} of the plan is not the query the snapshot was taken with")]
    QueryMismatch {
        /// Position of the query in the plan.
        query: usize,
    },
    /// The session options that shape the state (the stream order,
    /// `samples_on_completion` when a rule samples, the timestamp field, the
    /// lineage options when a rule uses lineage) are not the snapshot's.
    #[error(
        "the session options that shape the state (order, samples_on_completion, \
         timestamp_field, lineage) differ from the snapshot's"
    )]
    OptionsMismatch,
    /// The snapshot holds more state than the [`SessionLimits`] of the
    /// options allow.
    #[error("{}{what} holds {found}, over SessionLimits::{limit} = {max}", at(.rule.as_ref()))]
    OverLimit {
        /// The rule (position in the plan), or `None` for session-wide state.
        rule: Option<usize>,
        /// What holds too much.
        what: &'static str,
        /// The limit (a field of [`SessionLimits`]).
        limit: &'static str,
        /// How much the snapshot holds.
        found: usize,
        /// The limit's value.
        max: usize,
    },
    /// The snapshot's state does not hold together: an index out of range,
    /// a state of another kind than the rule's, a broken invariant.
    #[error("invalid snapshot: {}{what}", at(.rule.as_ref()))]
    Invalid {
        /// The rule (position in the plan), or `None` for session-wide state.
        rule: Option<usize>,
        /// What is wrong.
        what: &'static str,
    },
}

fn at(rule: Option<&usize>) -> String {
    rule.map(|r| format!("rule {r}: ")).unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Values as flat tokens

/// One token of a [`Vals`] list.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) enum Tok {
    /// An absent value (top level only).
    #[cfg_attr(feature = "serde", serde(rename = "x"))]
    Absent,
    #[cfg_attr(feature = "serde", serde(rename = "n"))]
    Null,
    #[cfg_attr(feature = "serde", serde(rename = "b"))]
    Bool(bool),
    #[cfg_attr(feature = "serde", serde(rename = "i"))]
    Int(i64),
    /// The bits of an `f64`.
    #[cfg_attr(feature = "serde", serde(rename = "f"))]
    Float(u64),
    #[cfg_attr(feature = "serde", serde(rename = "s"))]
    Str(String),
    /// An array of that many values, which follow.
    #[cfg_attr(feature = "serde", serde(rename = "a"))]
    Array(u32),
    /// An object of that many members, which follow as a `Str` name, then
    /// the value.
    #[cfg_attr(feature = "serde", serde(rename = "o"))]
    Object(u32),
}

/// A list of values, each possibly absent, as tokens in pre-order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub(crate) struct Vals(Vec<Tok>);

impl Vals {
    fn push(&mut self, v: &Value<'_>) {
        match v {
            Value::Null => self.0.push(Tok::Null),
            Value::Bool(b) => self.0.push(Tok::Bool(*b)),
            Value::Int(i) => self.0.push(Tok::Int(*i)),
            Value::Float(f) => self.0.push(Tok::Float(f.to_bits())),
            Value::Str(s) => self.0.push(Tok::Str(s.to_string())),
            Value::Array(items) => {
                self.0.push(Tok::Array(items.len() as u32));
                for x in items {
                    self.push(x);
                }
            }
            Value::Object(members) => {
                self.0.push(Tok::Object(members.len() as u32));
                for (k, x) in members {
                    self.0.push(Tok::Str(k.to_string()));
                    self.push(x);
                }
            }
        }
    }

    fn push_atom(&mut self, a: &KeyAtom) {
        match a {
            KeyAtom::Null => self.0.push(Tok::Null),
            KeyAtom::Bool(b) => self.0.push(Tok::Bool(*b)),
            KeyAtom::Int(i) => self.0.push(Tok::Int(*i)),
            KeyAtom::Float(bits) => self.0.push(Tok::Float(*bits)),
            KeyAtom::Str(s) => self.0.push(Tok::Str(s.to_string())),
            KeyAtom::List(items) => {
                self.0.push(Tok::Array(items.len() as u32));
                for x in &**items {
                    self.push_atom(x);
                }
            }
        }
    }

    /// A join key (or any list of key atoms).
    pub(crate) fn of_atoms<'a>(atoms: impl IntoIterator<Item = &'a KeyAtom>) -> Vals {
        let mut v = Vals::default();
        for a in atoms {
            v.push_atom(a);
        }
        v
    }

    /// Values, all present.
    pub(crate) fn of_values<'a>(values: impl IntoIterator<Item = &'a Value<'static>>) -> Vals {
        let mut v = Vals::default();
        for x in values {
            v.push(x);
        }
        v
    }

    /// Values, each possibly absent.
    pub(crate) fn of_options<'a>(
        values: impl IntoIterator<Item = &'a Option<Value<'static>>>,
    ) -> Vals {
        let mut v = Vals::default();
        for x in values {
            match x {
                Some(x) => v.push(x),
                None => v.0.push(Tok::Absent),
            }
        }
        v
    }
}

/// An open container while tokens are decoded.
enum Frame {
    Array(u32, Vec<Value<'static>>),
    Object(
        u32,
        Vec<(Cow<'static, str>, Value<'static>)>,
        Option<String>,
    ),
}

/// Decodes tokens into values, without recursion; `None` when they are
/// not a list of values nested at most `max_depth` deep.
fn decode(toks: &[Tok], max_depth: usize) -> Option<Vec<Option<Value<'static>>>> {
    let mut out = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    for tok in toks {
        if let Some(Frame::Object(_, _, name @ None)) = stack.last_mut() {
            let Tok::Str(s) = tok else {
                return None;
            };
            *name = Some(s.clone());
            continue;
        }
        let mut v = match tok {
            Tok::Absent => {
                if !stack.is_empty() {
                    return None;
                }
                out.push(None);
                continue;
            }
            Tok::Null => Value::Null,
            Tok::Bool(b) => Value::Bool(*b),
            Tok::Int(i) => Value::Int(*i),
            Tok::Float(bits) => Value::Float(f64::from_bits(*bits)),
            Tok::Str(s) => Value::Str(Cow::Owned(s.clone())),
            Tok::Array(n) | Tok::Object(n) if *n > 0 => {
                if stack.len() >= max_depth {
                    return None;
                }
                stack.push(match tok {
                    Tok::Array(_) => Frame::Array(*n, Vec::new()),
                    _ => Frame::Object(*n, Vec::new(), None),
                });
                continue;
            }
            Tok::Array(_) => Value::Array(Vec::new()),
            Tok::Object(_) => Value::Object(Vec::new()),
        };
        // Put the value into its container, closing every container it fills.
        loop {
            match stack.last_mut() {
                None => {
                    out.push(Some(v));
                    break;
                }
                Some(Frame::Array(left, items)) => {
                    items.push(v);
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                }
                Some(Frame::Object(left, members, name)) => {
                    members.push((Cow::Owned(name.take()?), v));
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                }
            }
            v = match stack.pop()? {
                Frame::Array(_, items) => Value::Array(items),
                Frame::Object(_, members, _) => Value::Object(members),
            };
        }
    }
    stack.is_empty().then_some(out)
}

/// A key atom from a decoded value, exactly (the inverse of `push_atom`).
fn atom_of(v: Value<'static>) -> Option<KeyAtom> {
    Some(match v {
        Value::Null => KeyAtom::Null,
        Value::Bool(b) => KeyAtom::Bool(b),
        Value::Int(i) => KeyAtom::Int(i),
        Value::Float(f) => KeyAtom::Float(f.to_bits()),
        Value::Str(s) => KeyAtom::Str(s.into_owned().into_boxed_str()),
        Value::Array(items) => KeyAtom::List(
            items
                .into_iter()
                .map(atom_of)
                .collect::<Option<Vec<_>>>()?
                .into_boxed_slice(),
        ),
        Value::Object(_) => return None,
    })
}

// ---------------------------------------------------------------------------
// Shared pieces of the state

/// A result on its way through a rule's pipes ([`Res`]).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub(crate) struct ResSnap<H> {
    events: Vec<H>,
    caps: Vals,
    count: Option<u64>,
    /// The bits of the share.
    percent: Option<u64>,
    key: Vals,
    missing: Vec<u16>,
}

impl<H: Clone> ResSnap<H> {
    pub(crate) fn of(r: &Res<H>) -> Self {
        ResSnap {
            events: r.events.to_vec(),
            caps: Vals::of_options(&r.caps),
            count: r.count,
            percent: r.percent.map(f64::to_bits),
            key: Vals::of_values(&r.agg_key),
            missing: r.missing.clone(),
        }
    }
}

/// A hit's pipe captures: (capture index, value).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub(crate) struct CapsSnap {
    at: Vec<u16>,
    values: Vals,
}

impl CapsSnap {
    pub(crate) fn of(caps: &[(u16, Option<Value<'static>>)]) -> Self {
        CapsSnap {
            at: caps.iter().map(|c| c.0).collect(),
            values: Vals::of_options(caps.iter().map(|c| &c.1)),
        }
    }
}

/// What a hit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) enum HitKindSnap {
    Touch,
    Until,
    Step(u16),
}

/// A hit held in the reorder buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub(crate) struct HitSnap {
    rule: u32,
    kind: HitKindSnap,
    ts: i64,
    key: Vals,
    caps: CapsSnap,
}

impl HitSnap {
    pub(crate) fn of(h: &Hit) -> Self {
        HitSnap {
            rule: h.rule,
            kind: match h.kind {
                HitKind::Touch => HitKindSnap::Touch,
                HitKind::Until => HitKindSnap::Until,
                HitKind::Step(i) => HitKindSnap::Step(i),
            },
            ts: h.ts,
            key: Vals::of_atoms(&h.key),
            caps: CapsSnap::of(&h.caps),
        }
    }
}

/// Counters that are not derived from the state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub(crate) struct StatsSnap {
    events: u64,
    late: u64,
    out_of_order: u64,
    missing_timestamp: u64,
    bad_timestamp: u64,
    missing_tiebreaker: u64,
    matches: u64,
    peak_partials: u64,
    peak_keys: u64,
    evicted_partials: u64,
    evicted_keys: u64,
    expired: u64,
    peak_state_bytes: u64,
    peak_held_hits: u64,
    held_overflow: u64,
}

/// One rule's state.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub(crate) struct RuleSnap<H> {
    pub(crate) body: BodySnap<H>,
    pub(crate) pipes: Vec<super::pipes::StageSnap<H>>,
    pub(crate) lineage: Option<Vec<super::lineage::NodeSnap>>,
}

/// The state of a rule's body.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) enum BodySnap<H> {
    Event,
    Seq(super::sequence::SeqSnap<H>),
    Sample(super::sample::SampleSnap<H>),
    Join(super::join::JoinSnap<H>),
}

/// The whole state.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
struct SessionState<H> {
    arrival: u64,
    finished: bool,
    stats: StatsSnap,
    order: super::order::OrderSnap<H>,
    rules: Vec<RuleSnap<H>>,
}

// ---------------------------------------------------------------------------
// Reading the state back

/// What restoring one piece of state needs: the limits it must respect and
/// where errors point.
pub(crate) struct Load<'a> {
    pub(crate) limits: &'a SessionLimits,
    /// Deepest value nesting accepted.
    max_depth: usize,
    /// Events pushed before the snapshot: every arrival number is below.
    pub(crate) arrival: u64,
    /// The rule being restored.
    pub(crate) rule: Option<usize>,
}

impl Load<'_> {
    /// An [`SnapshotError::Invalid`] about the current rule.
    pub(crate) fn invalid(&self, what: &'static str) -> SnapshotError {
        SnapshotError::Invalid {
            rule: self.rule,
            what,
        }
    }

    /// `Ok` when `ok`, else [`Load::invalid`].
    pub(crate) fn check(&self, ok: bool, what: &'static str) -> Result<(), SnapshotError> {
        if ok {
            Ok(())
        } else {
            Err(self.invalid(what))
        }
    }

    /// `Ok` when `found` is within `max`, else [`SnapshotError::OverLimit`].
    pub(crate) fn within(
        &self,
        what: &'static str,
        limit: &'static str,
        found: usize,
        max: usize,
    ) -> Result<(), SnapshotError> {
        if found <= max {
            Ok(())
        } else {
            Err(SnapshotError::OverLimit {
                rule: self.rule,
                what,
                limit,
                found,
                max,
            })
        }
    }

    /// Values, each possibly absent.
    pub(crate) fn options(&self, v: &Vals) -> Result<Vec<Option<Value<'static>>>, SnapshotError> {
        decode(&v.0, self.max_depth).ok_or_else(|| self.invalid("malformed values"))
    }

    /// Values, all present.
    pub(crate) fn values(&self, v: &Vals) -> Result<Vec<Value<'static>>, SnapshotError> {
        self.options(v)?
            .into_iter()
            .map(|x| x.ok_or_else(|| self.invalid("an absent value where one is needed")))
            .collect()
    }

    /// Key atoms.
    pub(crate) fn atoms(&self, v: &Vals) -> Result<Vec<KeyAtom>, SnapshotError> {
        self.values(v)?
            .into_iter()
            .map(|x| atom_of(x).ok_or_else(|| self.invalid("an object in a key")))
            .collect()
    }

    /// A join key.
    pub(crate) fn key(&self, v: &Vals) -> Result<Key, SnapshotError> {
        Ok(self.atoms(v)?.into_iter().collect())
    }

    /// A hit's pipe captures, each of one of `fields` captured fields.
    pub(crate) fn caps(
        &self,
        c: &CapsSnap,
        fields: usize,
    ) -> Result<Vec<(u16, Option<Value<'static>>)>, SnapshotError> {
        let values = self.options(&c.values)?;
        self.check(values.len() == c.at.len(), "captures without their index")?;
        self.check(
            c.at.iter().all(|&i| usize::from(i) < fields),
            "a capture of a field the pipes do not read",
        )?;
        Ok(c.at.iter().copied().zip(values).collect())
    }

    /// A result of a rule whose pipes capture `fields` fields.
    pub(crate) fn res<H>(&self, r: ResSnap<H>, fields: usize) -> Result<Res<H>, SnapshotError> {
        let caps = self.options(&r.caps)?;
        self.check(caps.len() <= fields, "more captures than the pipes read")?;
        self.check(
            r.missing.windows(2).all(|w| w[0] < w[1]),
            "missing-step positions out of order",
        )?;
        Ok(Res {
            events: r.events.into_iter().collect(),
            caps,
            count: r.count,
            percent: r.percent.map(f64::from_bits),
            agg_key: self.values(&r.key)?,
            missing: r.missing,
        })
    }

    /// A held hit of rule `rule`, validated against its plan.
    pub(crate) fn hit(
        &self,
        h: &HitSnap,
        plans: &[super::rule::RulePlan],
    ) -> Result<Hit, SnapshotError> {
        let plan = plans
            .get(h.rule as usize)
            .ok_or_else(|| self.invalid("a held hit of a rule the plan does not have"))?;
        let kind = match h.kind {
            HitKindSnap::Touch => HitKind::Touch,
            HitKindSnap::Until => HitKind::Until,
            HitKindSnap::Step(i) => HitKind::Step(i),
        };
        self.check(
            plan.takes(kind),
            "a held hit of a step the rule does not have",
        )?;
        Ok(Hit {
            rule: h.rule,
            kind,
            ts: h.ts,
            key: self.key(&h.key)?,
            caps: self.caps(&h.caps, plan.pipes.field_count())?,
        })
    }
}

// ---------------------------------------------------------------------------
// Fingerprints

/// FNV-1a, 64 bits: stable across builds and platforms.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A query's canonical text and the compile options that shape a session.
fn query_print(q: &crate::CompiledQuery) -> u64 {
    let o = &q.opts;
    fnv(&format!(
        "{}\n{:?}\n{}\n{}\n{}\n{:?}\n{:?}",
        q.query(),
        o.dialect,
        o.case_sensitive,
        o.category_field,
        o.timestamp_field,
        o.timestamp_format,
        o.tiebreaker_field,
    ))
}

impl<H: Clone> Session<H> {
    /// The options that shape this session's state, as they resolved.
    fn options_print(&self) -> u64 {
        use std::fmt::Write;
        let mut text = match self.ordering.mode {
            StreamOrder::Bounded => "bounded".to_owned(),
            StreamOrder::Window { window_ms } => format!("window {window_ms}"),
            StreamOrder::Arrival => "arrival".to_owned(),
        };
        let _ = write!(text, "\n{}", self.ts_field);
        if self.plan.lineage {
            let _ = write!(text, "\n{}", self.lineage.print());
        }
        for r in &self.rules {
            if let super::rule::Body::Sample(s) = &r.body {
                let _ = write!(text, "\nsample {}", s.on_completion());
            }
        }
        // A shard keeps only its worker's hits: a snapshot of one worker is
        // not another's.
        if let Some(shard) = &self.shard {
            let _ = write!(text, "\nshard {shard:?}");
        }
        fnv(&text)
    }

    /// The session's state now, as plain data: see [`SessionSnapshot`].
    /// [`Session::restore`] turns it into a session that goes on exactly as
    /// this one does: the same results, late events and counters for the
    /// same events pushed next.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions};
    /// use serde_json::json;
    /// let q = CompiledQuery::compile("sequence by k [a where true] [b where true]", &CompileOptions::default()).unwrap();
    /// let mut s = Session::<u64>::new(&q, SessionOptions::default());
    /// let mut out = Matches::new();
    /// s.push(1, &json!({"@timestamp": 1, "event": {"category": "a"}, "k": "x"}), &mut out);
    /// // Stop here; later (with the `serde` feature, after storing it anywhere):
    /// let snap = s.snapshot();
    /// let mut s = Session::restore(&q, SessionOptions::default(), snap).unwrap();
    /// s.push(2, &json!({"@timestamp": 2, "event": {"category": "b"}, "k": "x"}), &mut out);
    /// s.finish(&mut out);
    /// assert_eq!(out.get(0).map(|m| m.events), Some(&[1u64, 2][..]));
    /// ```
    pub fn snapshot(&self) -> SessionSnapshot<H> {
        let stats = self.stats();
        let c = &self.counters;
        let wide = |n: usize| n as u64;
        SessionSnapshot {
            version: SessionSnapshot::<H>::VERSION,
            queries: self
                .plan
                .rules
                .iter()
                .map(|r| query_print(&r.engine))
                .collect(),
            options: self.options_print(),
            state: SessionState {
                arrival: self.arrival,
                finished: self.finished,
                stats: StatsSnap {
                    events: stats.events,
                    late: stats.late,
                    out_of_order: stats.out_of_order,
                    missing_timestamp: stats.missing_timestamp,
                    bad_timestamp: stats.bad_timestamp,
                    missing_tiebreaker: stats.missing_tiebreaker,
                    matches: c.matches,
                    peak_partials: wide(c.peak_partials),
                    peak_keys: wide(c.peak_keys),
                    evicted_partials: c.evicted_partials,
                    evicted_keys: c.evicted_keys,
                    expired: c.expired,
                    peak_state_bytes: wide(c.peak_bytes),
                    peak_held_hits: wide(self.ordering.peak_held),
                    held_overflow: self.ordering.overflow,
                },
                order: self.ordering.save(),
                rules: self
                    .rules
                    .iter()
                    .map(super::rule::RuleState::save)
                    .collect(),
            },
        }
    }

    /// A session over `plan` with `opts`, in the state `snapshot` holds:
    /// it goes on exactly as the session the snapshot was taken from.
    ///
    /// `plan` must hold the queries the snapshot was taken over, in the
    /// same order (compiled with the same options), and `opts` the same
    /// stream order, timestamp field, `samples_on_completion` and lineage
    /// options; the other options may change (limits, event limits). The
    /// state must fit `opts.limits`, as the state of a running session
    /// always does; values nested deeper than
    /// `opts.event_limits.max_depth` (at least 128) are refused.
    ///
    /// Every index and invariant of the snapshot is checked: a snapshot that
    /// does not hold together gives [`SnapshotError::Invalid`], never a
    /// panic nor a session in a state no stream could have left.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions, SnapshotError, StreamOrder};
    /// use serde_json::json;
    /// let q = CompiledQuery::compile("sample by k [a where true] [b where true]", &CompileOptions::default()).unwrap();
    /// let mut opts = SessionOptions::default();
    /// opts.order = Some(StreamOrder::Window { window_ms: 0 });
    /// let mut s = Session::<u64>::new(&q, opts.clone());
    /// let mut out = Matches::new();
    /// for (i, k) in ["x", "y", "z"].into_iter().enumerate() {
    ///     s.push(i as u64, &json!({"@timestamp": i, "event": {"category": "a"}, "k": k}), &mut out);
    /// }
    /// assert_eq!(s.stats().keys, 3);
    /// assert!(Session::restore(&q, opts.clone(), s.snapshot()).is_ok());
    /// // Three keys do not fit a limit of two.
    /// let mut small = opts;
    /// small.limits.max_keys = 2;
    /// let err = Session::restore(&q, small, s.snapshot()).err();
    /// assert!(matches!(err, Some(SnapshotError::OverLimit { found: 3, max: 2, .. })));
    /// ```
    pub fn restore(
        plan: impl Into<Arc<SessionPlan>>,
        opts: SessionOptions,
        snapshot: SessionSnapshot<H>,
    ) -> Result<Self, SnapshotError> {
        if snapshot.version != SessionSnapshot::<H>::VERSION {
            return Err(SnapshotError::Version {
                found: snapshot.version,
                expected: SessionSnapshot::<H>::VERSION,
            });
        }
        let plan = plan.into();
        if snapshot.queries.len() != plan.rules.len() {
            return Err(SnapshotError::QueryCount {
                found: snapshot.queries.len(),
                expected: plan.rules.len(),
            });
        }
        for (query, (print, r)) in snapshot.queries.iter().zip(&plan.rules).enumerate() {
            if *print != query_print(&r.engine) {
                return Err(SnapshotError::QueryMismatch { query });
            }
        }
        let limits = opts.limits.clone();
        let max_depth = opts.event_limits.max_depth.max(128);
        let mut s = Session::from_plan(plan, opts);
        if snapshot.options != s.options_print() {
            return Err(SnapshotError::OptionsMismatch);
        }
        let state = snapshot.state;
        let mut cx = Load {
            limits: &limits,
            max_depth,
            arrival: state.arrival,
            rule: None,
        };
        let st = state.stats;
        cx.check(st.events == state.arrival, "events and arrivals disagree")?;
        cx.check(
            state.rules.len() == s.rules.len(),
            "rule states and queries disagree",
        )?;
        let mut c = Counters::default();
        for (i, (snap, (r, rp))) in state
            .rules
            .into_iter()
            .zip(s.rules.iter_mut().zip(&s.plan.rules))
            .enumerate()
        {
            cx.rule = Some(i);
            r.load(rp, snap, &cx, &mut c)?;
        }
        cx.rule = None;
        s.ordering.load(&s.plan.rules, state.order, &cx)?;
        cx.check(
            !state.finished || s.ordering.held_len() == 0,
            "held hits after the end of the input",
        )?;
        let narrow = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let peaks_hold = narrow(st.peak_partials) >= c.partials
            && narrow(st.peak_keys) >= c.keys
            && narrow(st.peak_state_bytes) >= c.bytes
            && narrow(st.peak_held_hits) >= s.ordering.held_len();
        cx.check(peaks_hold, "a peak below the state it holds")?;
        c.peak_partials = narrow(st.peak_partials);
        c.peak_keys = narrow(st.peak_keys);
        c.peak_bytes = narrow(st.peak_state_bytes);
        c.matches = st.matches;
        c.evicted_partials = st.evicted_partials;
        c.evicted_keys = st.evicted_keys;
        c.expired = st.expired;
        s.ordering.peak_held = narrow(st.peak_held_hits);
        s.ordering.overflow = st.held_overflow;
        s.counters = c;
        s.stats.events = st.events;
        s.stats.late = st.late;
        s.stats.out_of_order = st.out_of_order;
        s.stats.missing_timestamp = st.missing_timestamp;
        s.stats.bad_timestamp = st.bad_timestamp;
        s.stats.missing_tiebreaker = st.missing_tiebreaker;
        s.arrival = state.arrival;
        s.finished = state.finished;
        Ok(s)
    }

    /// The smallest handle (by `H`'s order) that the session's state still
    /// holds: in a partial sequence, a sample or join slot, a completed
    /// result waiting for the end of the input or a pipe buffer (`tail`,
    /// `sort`, `unique_count`), or a hit held to be put in order; `None`
    /// when it holds none, or after [`Session::finish`]. Every result the
    /// session emits from now on holds only this handle, greater ones, and
    /// handles of events pushed later. With handles that grow with the
    /// stream (file offsets, line numbers), a consumer that restarts from a
    /// snapshot taken now needs no event before this one: everything
    /// before it may be committed.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Matches, Session, SessionOptions, StreamOrder};
    /// use serde_json::json;
    /// let q = CompiledQuery::compile("sequence by k [a where true] [b where true]", &CompileOptions::default()).unwrap();
    /// let mut opts = SessionOptions::default();
    /// opts.order = Some(StreamOrder::Window { window_ms: 0 });
    /// let mut s = Session::<u64>::new(&q, opts);
    /// let mut out = Matches::new();
    /// s.push(10, &json!({"@timestamp": 1, "event": {"category": "a"}, "k": "x"}), &mut out);
    /// s.push(20, &json!({"@timestamp": 2, "event": {"category": "a"}, "k": "y"}), &mut out);
    /// assert_eq!(s.low_watermark(), Some(&10));
    /// s.push(30, &json!({"@timestamp": 3, "event": {"category": "b"}, "k": "x"}), &mut out);
    /// assert_eq!(out.len(), 1);
    /// assert_eq!(s.low_watermark(), Some(&20));
    /// ```
    pub fn low_watermark(&self) -> Option<&H>
    where
        H: Ord,
    {
        if self.finished {
            return None;
        }
        fn lower<'a, H: Ord>(low: &mut Option<&'a H>, h: &'a H) {
            if low.is_none_or(|l| h < l) {
                *low = Some(h);
            }
        }
        let mut low: Option<&H> = None;
        self.ordering.for_each_handle(&mut |h| lower(&mut low, h));
        for r in &self.rules {
            r.for_each_handle(&mut |h| lower(&mut low, h));
        }
        low
    }
}
