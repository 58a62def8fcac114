//! Pipes over results: `head`, `tail` (both dialects), and Python's `filter`,
//! `unique`, `unique_count`, `count`, `sort`.
//!
//! A result is a list of handles, so a pipe cannot read its events again. At
//! compile time the chain lists every field its expressions read, per result
//! position (`events[1].pid` reads `pid` of position 1; a bare field reads
//! position 0); those values are captured when an event enters a result and
//! the pipe expressions are evaluated over them (`PipeView`). Streaming stages
//! (`head`, `filter`, `unique`) pass results on at once; blocking ones
//! (`tail`, `sort`, `count`, `unique_count`) buffer until `finish`.

use super::keys::{Key, KeyAtom};
use super::snapshot::{Load, ResSnap, Vals};
use super::Matches;
use super::{Counters, SnapshotError};
use crate::eval::reference::Env;
use crate::{CompiledQuery, Event};
use eql_plan::{FieldPath, Value};
use eql_syntax::{Dialect, Expr, ExprKind, Literal, PathSegment, PipeKind};
use smallvec::SmallVec;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet, VecDeque};

/// One result travelling through the pipes.
#[derive(Clone, Debug)]
pub(crate) struct Res<H> {
    pub(crate) events: SmallVec<[H; 4]>,
    /// Captured field values, indexed like `PipeChain::spec`.
    pub(crate) caps: Vec<Option<Value<'static>>>,
    pub(crate) count: Option<u64>,
    pub(crate) percent: Option<f64>,
    pub(crate) agg_key: Vec<Value<'static>>,
    /// Positions of `![...]` steps in the result, ascending (see
    /// [`crate::Match::missing`]).
    pub(crate) missing: Vec<u16>,
}

impl<H> Res<H> {
    pub(crate) fn empty() -> Self {
        Res {
            events: SmallVec::new(),
            caps: Vec::new(),
            count: None,
            percent: None,
            agg_key: Vec::new(),
            missing: Vec::new(),
        }
    }

    pub(crate) fn add_caps(&mut self, caps: &[(u16, Option<Value<'static>>)]) {
        for (i, v) in caps {
            let i = *i as usize;
            if self.caps.len() <= i {
                self.caps.resize(i + 1, None);
            }
            if let Some(slot) = self.caps.get_mut(i) {
                slot.clone_from(v);
            }
        }
    }

    pub(crate) fn single(h: H, caps: &[(u16, Option<Value<'static>>)]) -> Self {
        let mut r = Res::empty();
        r.events.push(h);
        r.add_caps(caps);
        r
    }
}

/// One stage as compiled.
#[derive(Clone, Debug)]
enum StageSpec {
    Head(u64),
    Tail(usize),
    Filter(Expr),
    Unique(Vec<Expr>),
    UniqueCount(Vec<Expr>),
    Count(Vec<Expr>),
    Sort(Vec<Expr>),
}

/// One stage's state.
enum Stage<H> {
    Head {
        seen: u64,
    },
    Tail {
        buf: VecDeque<Res<H>>,
    },
    Filter,
    Unique {
        seen: HashSet<Key>,
    },
    UniqueCount {
        index: HashMap<Key, usize>,
        entries: Vec<(Res<H>, u64)>,
    },
    Count {
        index: HashMap<Key, usize>,
        entries: Vec<(Vec<Value<'static>>, u64)>,
    },
    Sort {
        buf: Vec<(Vec<Option<Value<'static>>>, Res<H>)>,
    },
}

/// The pipes of one rule as compiled (part of a [`super::SessionPlan`]):
/// the fields captured per result position, and the stages.
#[derive(Clone, Debug)]
pub(crate) struct PipeSpec {
    fields: Vec<(u16, FieldPath)>,
    stages: Vec<StageSpec>,
    fold: bool,
}

/// The state of one rule's pipes.
pub(crate) struct PipeChain<H> {
    stages: Vec<Stage<H>>,
    max_keys: usize,
}

/// `events[i].rest` → `(i, rest)`; anything else reads position 0.
fn split_events(segs: &[PathSegment]) -> (u16, &[PathSegment]) {
    if let [PathSegment::Key(k), PathSegment::Index(i), rest @ ..] = segs {
        if k == "events" && !rest.is_empty() {
            return (*i as u16, rest);
        }
    }
    (0, segs)
}

fn count_arg(args: &[Expr], default: u64) -> u64 {
    match args.first().map(|a| &a.kind) {
        Some(ExprKind::Literal(Literal::Int(n))) => u64::try_from(*n).unwrap_or(0),
        _ => default,
    }
}

/// A result's captured values seen as an event.
struct PipeView<'a> {
    spec: &'a [(u16, FieldPath)],
    caps: &'a [Option<Value<'static>>],
    count: Option<u64>,
    percent: Option<f64>,
}

impl Event for PipeView<'_> {
    fn get(&self, path: &FieldPath) -> Option<Value<'_>> {
        let (pos, rest) = split_events(path.segments());
        if pos == 0 {
            if let [PathSegment::Key(k)] = rest {
                match (k.as_str(), self.count, self.percent) {
                    ("count", Some(c), _) => return Some(Value::Int(c as i64)),
                    ("percent", _, Some(p)) => return Some(Value::Float(p)),
                    _ => {}
                }
            }
        }
        let idx = self
            .spec
            .iter()
            .position(|(p, f)| *p == pos && f.segments() == rest)?;
        self.caps.get(idx)?.clone()
    }
}

/// Python sort order: numbers, then strings, ...; within a type the natural order.
#[allow(clippy::many_single_char_names)]
fn cmp_values(a: &Value<'_>, b: &Value<'_>) -> Ordering {
    fn rank(v: &Value<'_>) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int(_) | Value::Float(_) => 2,
            Value::Str(_) => 3,
            Value::Array(_) => 4,
            Value::Object(_) => 5,
        }
    }
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            crate::eval::reference::num_cmp(a, b).unwrap_or(Ordering::Equal)
        }
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let o = cmp_values(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

fn empty_like(v: &Value<'_>) -> Value<'static> {
    match v {
        Value::Bool(_) => Value::Bool(false),
        Value::Int(_) => Value::Int(0),
        Value::Float(_) => Value::Float(0.0),
        Value::Str(_) => Value::Str(String::new().into()),
        Value::Array(_) => Value::Array(Vec::new()),
        Value::Object(_) => Value::Object(Vec::new()),
        Value::Null => Value::Null,
    }
}

impl PipeSpec {
    pub(crate) fn new(engine: &CompiledQuery) -> Self {
        let q = engine.query();
        let mut fields: Vec<(u16, FieldPath)> = Vec::new();
        for f in q.pipes.iter().flat_map(|p| &p.args).flat_map(Expr::fields) {
            let (pos, rest) = split_events(&f.path);
            let fp = FieldPath::new(rest.to_vec());
            if !fields.iter().any(|(p, g)| *p == pos && *g == fp) {
                fields.push((pos, fp));
            }
        }
        let py = engine.opts.dialect == Dialect::Python;
        let stages = q
            .pipes
            .iter()
            .map(|p| match p.kind {
                PipeKind::Head => StageSpec::Head(count_arg(&p.args, 50)),
                PipeKind::Tail => StageSpec::Tail(count_arg(&p.args, 50) as usize),
                PipeKind::Filter => match p.args.first() {
                    Some(e) => StageSpec::Filter(e.clone()),
                    None => StageSpec::Head(u64::MAX),
                },
                PipeKind::Unique => StageSpec::Unique(p.args.clone()),
                PipeKind::UniqueCount => StageSpec::UniqueCount(p.args.clone()),
                PipeKind::Count => StageSpec::Count(p.args.clone()),
                PipeKind::Sort => StageSpec::Sort(p.args.clone()),
            })
            .collect();
        PipeSpec {
            fields,
            stages,
            fold: py && !engine.opts.case_sensitive,
        }
    }

    /// True when the chain's output depends on the order its results come
    /// in: `head`, `tail` and `unique` keep the first or last ones,
    /// `unique_count` reports the first result per key and `sort` is stable.
    /// `filter` looks at one result and `count` reports sorted totals, so a
    /// chain of those two only (or no pipe) gives the same results in any order.
    pub(crate) fn needs_order(&self) -> bool {
        self.stages
            .iter()
            .any(|s| !matches!(s, StageSpec::Filter(_) | StageSpec::Count(_)))
    }

    /// How many fields the chain captures (the captures' index range).
    pub(crate) fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// The fields captured from events (at any position).
    pub(crate) fn fields(&self) -> impl Iterator<Item = &FieldPath> {
        self.fields.iter().map(|(_, f)| f)
    }

    /// The values the pipes need from an event entering position `pos`.
    pub(crate) fn capture(
        &self,
        event: &dyn Event,
        pos: u16,
    ) -> Vec<(u16, Option<Value<'static>>)> {
        if self.fields.is_empty() {
            return Vec::new();
        }
        self.fields
            .iter()
            .enumerate()
            .filter(|(_, (p, _))| *p == pos)
            .map(|(i, (_, f))| (i as u16, event.get(f).map(Value::into_owned)))
            .collect()
    }

    fn view<'a, H>(&'a self, res: &'a Res<H>) -> PipeView<'a> {
        PipeView {
            spec: &self.fields,
            caps: &res.caps,
            count: res.count,
            percent: res.percent,
        }
    }

    fn values<H>(
        &self,
        engine: &CompiledQuery,
        keys: &[Expr],
        res: &Res<H>,
    ) -> Vec<Option<Value<'static>>> {
        let view = self.view(res);
        let ctx = engine.ctx(&view);
        let env = Env::new();
        keys.iter()
            .map(|k| {
                ctx.eval(k, &env).map(|v| match v {
                    Value::Str(s) if self.fold => {
                        Value::Str(crate::eval::reference::functions::fold(&s).into())
                    }
                    v => v,
                })
            })
            .collect()
    }

    fn key<H>(&self, engine: &CompiledQuery, keys: &[Expr], res: &Res<H>) -> Key {
        self.values(engine, keys, res)
            .iter()
            .map(|v| {
                v.as_ref()
                    .map_or(KeyAtom::Null, |v| KeyAtom::from_value(v, true, false))
            })
            .collect()
    }
}

impl<H: Clone> PipeChain<H> {
    pub(crate) fn new(spec: &PipeSpec, max_keys: usize) -> Self {
        let stages = spec
            .stages
            .iter()
            .map(|s| match s {
                StageSpec::Head(_) => Stage::Head { seen: 0 },
                StageSpec::Tail(_) => Stage::Tail {
                    buf: VecDeque::new(),
                },
                StageSpec::Filter(_) => Stage::Filter,
                StageSpec::Unique(_) => Stage::Unique {
                    seen: HashSet::new(),
                },
                StageSpec::UniqueCount(_) => Stage::UniqueCount {
                    index: HashMap::new(),
                    entries: Vec::new(),
                },
                StageSpec::Count(_) => Stage::Count {
                    index: HashMap::new(),
                    entries: Vec::new(),
                },
                StageSpec::Sort(_) => Stage::Sort { buf: Vec::new() },
            })
            .collect();
        PipeChain { stages, max_keys }
    }

    /// True when a leading `head` is full: the rule can stop evaluating.
    pub(crate) fn saturated(&self, spec: &PipeSpec) -> bool {
        matches!(
            (spec.stages.first(), self.stages.first()),
            (Some(StageSpec::Head(n)), Some(Stage::Head { seen })) if seen >= n
        )
    }

    pub(crate) fn push(
        &mut self,
        spec: &PipeSpec,
        engine: &CompiledQuery,
        res: Res<H>,
        rule: u32,
        out: &mut Matches<H>,
        c: &mut Counters,
    ) {
        self.run(spec, engine, res, 0, rule, out, c);
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        spec: &PipeSpec,
        engine: &CompiledQuery,
        mut res: Res<H>,
        from: usize,
        rule: u32,
        out: &mut Matches<H>,
        c: &mut Counters,
    ) {
        for (k, stage_spec) in spec.stages.iter().enumerate().skip(from) {
            let (mut key, mut sort_vals, mut pass) = (None, None, None);
            match stage_spec {
                StageSpec::Unique(keys) | StageSpec::UniqueCount(keys) | StageSpec::Count(keys) => {
                    key = Some(spec.key(engine, keys, &res));
                }
                StageSpec::Sort(keys) => sort_vals = Some(spec.values(engine, keys, &res)),
                StageSpec::Filter(e) => pass = Some(engine.ctx(&spec.view(&res)).matches(e)),
                StageSpec::Head(_) | StageSpec::Tail(_) => {}
            }
            let max_keys = self.max_keys;
            let Some(stage) = self.stages.get_mut(k) else {
                break;
            };
            match (stage, stage_spec) {
                (Stage::Head { seen }, &StageSpec::Head(n)) => {
                    if *seen >= n {
                        return;
                    }
                    *seen += 1;
                }
                (Stage::Tail { buf }, &StageSpec::Tail(n)) => {
                    if n > 0 {
                        buf.push_back(res);
                        if buf.len() > n {
                            buf.pop_front();
                        }
                    }
                    return;
                }
                (Stage::Filter, _) => {
                    if pass != Some(true) {
                        return;
                    }
                }
                (Stage::Unique { seen }, _) => {
                    let key = key.unwrap_or_default();
                    if seen.contains(&key) {
                        return;
                    }
                    if seen.len() >= max_keys {
                        // Bounded memory over exactness: past the cap the
                        // set starts again (counted per forgotten key).
                        c.evicted_keys += seen.len() as u64;
                        seen.clear();
                    }
                    seen.insert(key);
                }
                (Stage::UniqueCount { index, entries }, _) => {
                    let key = key.unwrap_or_default();
                    let add = res.count.unwrap_or(1);
                    if let Some(&i) = index.get(&key) {
                        if let Some(e) = entries.get_mut(i) {
                            e.1 += add;
                        }
                    } else {
                        index.insert(key, entries.len());
                        res.count = None;
                        entries.push((res, add));
                    }
                    return;
                }
                (Stage::Count { index, entries }, StageSpec::Count(keys)) => {
                    let key = key.unwrap_or_default();
                    if let Some(&i) = index.get(&key) {
                        if let Some(e) = entries.get_mut(i) {
                            e.1 += 1;
                        }
                    } else {
                        index.insert(key.clone(), entries.len());
                        let shown = if keys.is_empty() {
                            vec![Value::Str("totals".into())]
                        } else {
                            key.iter().map(KeyAtom::to_value).collect()
                        };
                        entries.push((shown, 1));
                    }
                    return;
                }
                (Stage::Sort { buf }, _) => {
                    buf.push((sort_vals.unwrap_or_default(), res));
                    return;
                }
                // The state is built from the spec, stage by stage.
                _ => return,
            }
        }
        c.matches += 1;
        out.push_result(rule, res);
    }

    /// Flushes the blocking stages in order.
    pub(crate) fn finish(
        &mut self,
        spec: &PipeSpec,
        engine: &CompiledQuery,
        rule: u32,
        out: &mut Matches<H>,
        c: &mut Counters,
    ) {
        for k in 0..self.stages.len() {
            let batch: Vec<Res<H>> = match self.stages.get_mut(k) {
                Some(Stage::Tail { buf }) => buf.drain(..).collect(),
                Some(Stage::Sort { buf }) => {
                    let mut items = std::mem::take(buf);
                    let width = items.first().map_or(0, |x| x.0.len());
                    let empties: Vec<Value<'static>> = (0..width)
                        .map(|i| {
                            items
                                .iter()
                                .find_map(|(vals, _)| {
                                    vals.get(i).and_then(|v| v.as_ref()).map(empty_like)
                                })
                                .unwrap_or(Value::Null)
                        })
                        .collect();
                    let norm = |vals: &[Option<Value<'static>>], i: usize| -> Value<'static> {
                        match vals.get(i) {
                            Some(Some(v)) => v.clone(),
                            _ => empties.get(i).cloned().unwrap_or(Value::Null),
                        }
                    };
                    items.sort_by(|a, b| {
                        for i in 0..width {
                            let o = cmp_values(&norm(&a.0, i), &norm(&b.0, i));
                            if o != Ordering::Equal {
                                return o;
                            }
                        }
                        Ordering::Equal
                    });
                    items.into_iter().map(|x| x.1).collect()
                }
                Some(Stage::UniqueCount { entries, index }) => {
                    index.clear();
                    let total: u64 = entries.iter().map(|e| e.1).sum();
                    entries
                        .drain(..)
                        .map(|(mut r, n)| {
                            r.count = Some(n);
                            r.percent = Some(n as f64 / total.max(1) as f64);
                            r
                        })
                        .collect()
                }
                Some(Stage::Count { entries, index }) => {
                    index.clear();
                    let total: u64 = entries.iter().map(|e| e.1).sum();
                    let mut es: Vec<(Vec<Value<'static>>, u64)> = std::mem::take(entries);
                    es.sort_by(|a, b| {
                        a.1.cmp(&b.1).then_with(|| {
                            cmp_values(&Value::Array(a.0.clone()), &Value::Array(b.0.clone()))
                        })
                    });
                    es.into_iter()
                        .map(|(key, n)| {
                            let mut r = Res::empty();
                            r.agg_key = key;
                            r.count = Some(n);
                            r.percent = Some(n as f64 / total.max(1) as f64);
                            r
                        })
                        .collect()
                }
                _ => continue,
            };
            for r in batch {
                self.run(spec, engine, r, k + 1, rule, out, c);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Snapshots

/// One pipe stage's state in a snapshot.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) enum StageSnap<H> {
    Head(u64),
    Tail(Vec<ResSnap<H>>),
    Filter,
    /// The keys seen, sorted.
    Unique(Vec<Vals>),
    /// Per key, in first-seen order: the key, its first result and its count.
    UniqueCount(Vec<(Vals, ResSnap<H>, u64)>),
    /// Per key, in first-seen order: the key, the key as shown and its count.
    Count(Vec<(Vals, Vals, u64)>),
    /// The buffered results with their sort values, in arrival order.
    Sort(Vec<(Vals, ResSnap<H>)>),
}

/// The keys of `index` by entry position (`None` where no key points).
fn keys_by_entry(index: &HashMap<Key, usize>, entries: usize) -> Vec<Option<&Key>> {
    let mut out = vec![None; entries];
    for (k, &i) in index {
        if let Some(slot) = out.get_mut(i) {
            *slot = Some(k);
        }
    }
    out
}

impl<H: Clone> PipeChain<H> {
    pub(crate) fn save(&self) -> Vec<StageSnap<H>> {
        let key = |k: Option<&Key>| k.map(Vals::of_atoms).unwrap_or_default();
        self.stages
            .iter()
            .map(|st| match st {
                Stage::Head { seen } => StageSnap::Head(*seen),
                Stage::Tail { buf } => StageSnap::Tail(buf.iter().map(ResSnap::of).collect()),
                Stage::Filter => StageSnap::Filter,
                Stage::Unique { seen } => {
                    let mut keys: Vec<&Key> = seen.iter().collect();
                    keys.sort_unstable();
                    StageSnap::Unique(keys.into_iter().map(Vals::of_atoms).collect())
                }
                Stage::UniqueCount { index, entries } => StageSnap::UniqueCount(
                    keys_by_entry(index, entries.len())
                        .into_iter()
                        .zip(entries)
                        .map(|(k, (r, n))| (key(k), ResSnap::of(r), *n))
                        .collect(),
                ),
                Stage::Count { index, entries } => StageSnap::Count(
                    keys_by_entry(index, entries.len())
                        .into_iter()
                        .zip(entries)
                        .map(|(k, (shown, n))| (key(k), Vals::of_values(shown), *n))
                        .collect(),
                ),
                Stage::Sort { buf } => StageSnap::Sort(
                    buf.iter()
                        .map(|(vals, r)| (Vals::of_options(vals), ResSnap::of(r)))
                        .collect(),
                ),
            })
            .collect()
    }

    /// Restores `snap` into this fresh chain (built from `spec`).
    pub(crate) fn load(
        &mut self,
        spec: &PipeSpec,
        snap: Vec<StageSnap<H>>,
        cx: &Load<'_>,
    ) -> Result<(), SnapshotError> {
        cx.check(
            snap.len() == spec.stages.len(),
            "pipe states and pipes disagree",
        )?;
        let fields = spec.fields.len();
        let mut stages = Vec::with_capacity(snap.len());
        for (st, sp) in snap.into_iter().zip(&spec.stages) {
            stages.push(match (st, sp) {
                (StageSnap::Head(seen), &StageSpec::Head(n)) => {
                    cx.check(seen <= n, "a head past its count")?;
                    Stage::Head { seen }
                }
                (StageSnap::Tail(buf), &StageSpec::Tail(n)) => {
                    cx.check(buf.len() <= n, "a tail past its count")?;
                    let mut out = VecDeque::with_capacity(buf.len());
                    for r in buf {
                        out.push_back(cx.res(r, fields)?);
                    }
                    Stage::Tail { buf: out }
                }
                (StageSnap::Filter, StageSpec::Filter(_)) => Stage::Filter,
                (StageSnap::Unique(keys), StageSpec::Unique(_)) => {
                    cx.within(
                        "the keys of a unique pipe",
                        "max_keys",
                        keys.len(),
                        self.max_keys.max(1),
                    )?;
                    let mut seen = HashSet::with_capacity(keys.len());
                    for k in &keys {
                        cx.check(seen.insert(cx.key(k)?), "a unique key twice")?;
                    }
                    Stage::Unique { seen }
                }
                (StageSnap::UniqueCount(items), StageSpec::UniqueCount(_)) => {
                    let mut index = HashMap::with_capacity(items.len());
                    let mut entries = Vec::with_capacity(items.len());
                    for (k, r, n) in items {
                        let fresh = index.insert(cx.key(&k)?, entries.len()).is_none();
                        cx.check(fresh, "a counted key twice")?;
                        entries.push((cx.res(r, fields)?, n));
                    }
                    Stage::UniqueCount { index, entries }
                }
                (StageSnap::Count(items), StageSpec::Count(_)) => {
                    let mut index = HashMap::with_capacity(items.len());
                    let mut entries = Vec::with_capacity(items.len());
                    for (k, shown, n) in items {
                        let fresh = index.insert(cx.key(&k)?, entries.len()).is_none();
                        cx.check(fresh, "a counted key twice")?;
                        entries.push((cx.values(&shown)?, n));
                    }
                    Stage::Count { index, entries }
                }
                (StageSnap::Sort(items), StageSpec::Sort(_)) => {
                    let mut buf = Vec::with_capacity(items.len());
                    for (vals, r) in items {
                        buf.push((cx.options(&vals)?, cx.res(r, fields)?));
                    }
                    Stage::Sort { buf }
                }
                _ => return Err(cx.invalid("a pipe state of another kind than the pipe")),
            });
        }
        self.stages = stages;
        Ok(())
    }

    /// Calls `f` with every handle the buffers hold.
    pub(crate) fn for_each_handle<'a>(&'a self, f: &mut dyn FnMut(&'a H)) {
        for st in &self.stages {
            match st {
                Stage::Tail { buf } => buf.iter().for_each(|r| r.events.iter().for_each(&mut *f)),
                Stage::UniqueCount { entries, .. } => entries
                    .iter()
                    .for_each(|(r, _)| r.events.iter().for_each(&mut *f)),
                Stage::Sort { buf } => buf
                    .iter()
                    .for_each(|(_, r)| r.events.iter().for_each(&mut *f)),
                Stage::Head { .. } | Stage::Filter | Stage::Unique { .. } | Stage::Count { .. } => {
                }
            }
        }
    }
}
