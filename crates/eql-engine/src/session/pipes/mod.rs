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
//!
//! What each stage does with a result and at the end of the input is in
//! `stage.rs`, the chain's snapshot in `snap.rs`.

mod snap;
mod stage;

pub(crate) use snap::StageSnap;

use super::keys::{Key, KeyAtom, KeyMap, KeySet};
use super::Counters;
use super::Matches;
use crate::eval::reference::Env;
use crate::{CompiledQuery, Event};
use eql_plan::{FieldPath, Value};
use eql_syntax::{Dialect, Expr, ExprKind, Literal, PathSegment, PipeKind};
use smallvec::SmallVec;
use std::collections::VecDeque;

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
        seen: KeySet,
    },
    UniqueCount {
        index: KeyMap<usize>,
        entries: Vec<(Res<H>, u64)>,
    },
    Count {
        index: KeyMap<usize>,
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
                    seen: KeySet::default(),
                },
                StageSpec::UniqueCount(_) => Stage::UniqueCount {
                    index: KeyMap::default(),
                    entries: Vec::new(),
                },
                StageSpec::Count(_) => Stage::Count {
                    index: KeyMap::default(),
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

    /// Runs `res` through the stages from `from` on: to `out` when every
    /// stage passes it on.
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
            let probe = stage::Probe::of(spec, stage_spec, engine, &res);
            let max_keys = self.max_keys;
            let Some(stage) = self.stages.get_mut(k) else {
                break;
            };
            match stage.take(stage_spec, probe, res, max_keys, c) {
                Some(next) => res = next,
                None => return,
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
            let Some(batch) = self.stages.get_mut(k).and_then(Stage::flush) else {
                continue;
            };
            for r in batch {
                self.run(spec, engine, r, k + 1, rule, out, c);
            }
        }
    }
}
