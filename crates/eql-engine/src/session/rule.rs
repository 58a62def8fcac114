//! One rule's state in a session: its body's state machine, pipes and lineage,
//! and how one event becomes compact hits for it.

use super::snapshot::{BodySnap, Load, RuleSnap};
use super::SnapshotError;
use super::{
    join, lineage, pipes, sample, sequence, Answers, CategoryOf, CompiledQuery, Counters, Dialect,
    EvalCx, Event, Key, Matches, QueryBody, SessionOptions, SmallVec, StepSpec, Value,
};
use lineage::LineageFields;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HitKind {
    /// The event is of a category the rule's steps read (Python maxspan check).
    Touch,
    /// The `until` step matched.
    Until,
    /// Step `i` matched.
    Step(u16),
}

/// One evaluated step match with its key and pipe captures.
#[derive(Clone, Debug)]
pub(crate) struct Hit {
    pub(crate) rule: u32,
    pub(crate) kind: HitKind,
    pub(crate) ts: i64,
    pub(crate) key: Key,
    pub(crate) caps: Vec<(u16, Option<Value<'static>>)>,
}

/// An event's value of each [`Session::own_ts`] field (`None`: missing).
pub(super) type OwnTs = SmallVec<[Option<i64>; 2]>;

/// The state of a rule's body.
pub(super) enum Body<H> {
    Event,
    Seq(sequence::Seq<H>),
    Sample(sample::Sample<H>),
    Join(join::Join<H>),
}

/// A rule's body as compiled.
#[derive(Clone, Debug)]
pub(super) enum BodySpec {
    Event,
    Seq(sequence::SeqSpec),
    Sample(sample::SampleSpec),
    Join(join::JoinSpec),
}

/// The session's pack over every step query (routed by each query's
/// category field), and per rule its queries' spans and answer indexes.
///
/// Invariant: the pack's rule `k` answers index `k` of the session's
/// answers, and `steps` holds those answer indexes.
///
/// The pack itself is built when a session first pushes an event without
/// answers ([`super::SessionPlan::step_pack`]): a caller that answers the
/// step queries itself (`Session::push_answered`, as `scan` does) never
/// pays for it.
#[derive(Clone, Debug)]
pub(super) struct SessionPack {
    pub(super) pack: std::sync::OnceLock<crate::Pack>,
    pub(super) steps: Vec<Vec<(eql_syntax::Span, u32)>>,
    /// The rule of each answer index.
    pub(super) owner: Vec<u32>,
}

/// One rule of a [`super::SessionPlan`]: its compiled query and what a
/// session precomputes from it.
#[derive(Clone, Debug)]
pub(crate) struct RulePlan {
    pub(crate) engine: CompiledQuery,
    pub(super) body: BodySpec,
    pub(crate) pipes: pipes::PipeSpec,
    pub(super) lineage: Option<lineage::LineageSpec>,
    /// The rule's category field is the session's (the first rule's), read
    /// once per event.
    pub(super) session_category: bool,
}

impl RulePlan {
    pub(super) fn new(engine: CompiledQuery) -> Self {
        let q = engine.query();
        let py = engine.opts.dialect == Dialect::Python;
        let body = match &q.body {
            QueryBody::Event(_) => BodySpec::Event,
            QueryBody::Sequence(s) => BodySpec::Seq(sequence::SeqSpec::new(s, py)),
            QueryBody::Sample(s) => BodySpec::Sample(sample::SampleSpec::new(s, py)),
            QueryBody::Join(j) => BodySpec::Join(join::JoinSpec::new(j)),
        };
        RulePlan {
            pipes: pipes::PipeSpec::new(&engine),
            lineage: lineage::LineageSpec::new(q),
            body,
            session_category: false,
            engine,
        }
    }
}

impl RulePlan {
    /// True when the rule's evaluation can give a hit of `kind`.
    pub(super) fn takes(&self, kind: HitKind) -> bool {
        let step = |i: u16, n: usize| usize::from(i) < n;
        match (&self.body, kind) {
            (BodySpec::Event, HitKind::Step(i)) => i == 0,
            (BodySpec::Seq(s), HitKind::Touch) => s.py && s.maxspan.is_some(),
            (BodySpec::Seq(s), HitKind::Until) => s.until.is_some(),
            (BodySpec::Seq(s), HitKind::Step(i)) => step(i, s.steps.len()),
            (BodySpec::Sample(s), HitKind::Step(i)) => step(i, s.steps.len()),
            (BodySpec::Join(j), HitKind::Until) => j.until.is_some(),
            (BodySpec::Join(j), HitKind::Step(i)) => step(i, j.steps.len()),
            _ => false,
        }
    }
}

/// The state of one rule in a session.
pub(super) struct RuleState<H> {
    /// Own timestamp (field and format) when it differs from the session's:
    /// an index into [`Session::own_ts`], read once per event for every rule
    /// that shares it.
    pub(super) ts_slot: Option<usize>,
    pub(super) body: Body<H>,
    pub(super) pipes: pipes::PipeChain<H>,
    pub(super) lineage: Option<lineage::Lineage>,
}

/// Where a rule's results go.
pub(crate) struct Sink<'a, H> {
    pub(crate) rule: u32,
    pub(crate) plan: &'a RulePlan,
    pub(crate) pipes: &'a mut pipes::PipeChain<H>,
    pub(crate) out: &'a mut Matches<H>,
    pub(crate) c: &'a mut Counters,
}

impl<H: Clone> Sink<'_, H> {
    pub(crate) fn emit(&mut self, res: pipes::Res<H>) {
        self.pipes.push(
            &self.plan.pipes,
            &self.plan.engine,
            res,
            self.rule,
            self.out,
            self.c,
        );
    }

    /// Flushes the rule's blocking pipes (end of input).
    pub(crate) fn finish_pipes(&mut self) {
        self.pipes.finish(
            &self.plan.pipes,
            &self.plan.engine,
            self.rule,
            self.out,
            self.c,
        );
    }
}

impl<H: Clone> RuleState<H> {
    pub(super) fn new(plan: &RulePlan, opts: &SessionOptions) -> Self {
        let body = match &plan.body {
            BodySpec::Event => Body::Event,
            BodySpec::Seq(_) => Body::Seq(sequence::Seq::new(opts.limits.clone())),
            BodySpec::Sample(_) => Body::Sample(sample::Sample::new(
                opts.limits.clone(),
                opts.samples_on_completion,
            )),
            BodySpec::Join(_) => Body::Join(join::Join::new(opts.limits.clone())),
        };
        RuleState {
            ts_slot: None,
            pipes: pipes::PipeChain::new(&plan.pipes, opts.limits.max_keys),
            lineage: plan.lineage.as_ref().map(lineage::Lineage::new),
            body,
        }
    }

    /// The event's timestamp on this rule's own clock, when the rule has
    /// one and the event carries it.
    pub(super) fn own_clock(&self, own: &[Option<i64>]) -> Option<i64> {
        own.get(self.ts_slot?).copied().flatten()
    }

    /// Evaluates one event into hits.
    /// `answers`: this rule's step queries already evaluated by the
    /// session's [`crate::Pack`].
    #[allow(clippy::too_many_arguments)]
    pub(super) fn evaluate(
        &mut self,
        plan: &RulePlan,
        lineage_fields: &LineageFields,
        index: u32,
        event: &dyn Event,
        category: Option<&dyn CategoryOf>,
        ts: i64,
        hits: &mut Vec<Hit>,
        answers: Option<Answers<'_>>,
    ) {
        if self.pipes.saturated(&plan.pipes) {
            return;
        }
        let engine = &plan.engine;
        if let (Some(l), Some(spec)) = (self.lineage.as_mut(), &plan.lineage) {
            l.observe(spec, lineage_fields, engine, event);
        }
        let wrapped;
        let event: &dyn Event = match (&self.lineage, &plan.lineage) {
            (Some(state), Some(spec)) => {
                wrapped = lineage::LineageEvent {
                    inner: event,
                    spec,
                    state,
                    fields: lineage_fields,
                };
                &wrapped
            }
            _ => event,
        };
        let cx = EvalCx {
            engine,
            event,
            category,
            answers,
        };
        let mut out = HitWriter {
            hits,
            pipes: &plan.pipes,
            rule: index,
            ts,
        };
        match &plan.body {
            BodySpec::Event => {
                if let QueryBody::Event(q) = &engine.query.body {
                    if cx.step_matches(q) {
                        let caps = out.capture(&cx, 0);
                        out.push(HitKind::Step(0), Key::new(), caps);
                    }
                }
            }
            BodySpec::Seq(s) => sequence_hits(s, &cx, &mut out),
            BodySpec::Join(j) => join_hits(j, &cx, &mut out),
            BodySpec::Sample(s) => sample_hits(s, &cx, &mut out),
        }
    }

    /// The rule's state in a snapshot.
    pub(super) fn save(&self) -> RuleSnap<H> {
        RuleSnap {
            body: match &self.body {
                Body::Event => BodySnap::Event,
                Body::Seq(s) => BodySnap::Seq(s.save()),
                Body::Sample(s) => BodySnap::Sample(s.save()),
                Body::Join(j) => BodySnap::Join(j.save()),
            },
            pipes: self.pipes.save(),
            lineage: self.lineage.as_ref().map(lineage::Lineage::save),
        }
    }

    /// Restores `snap` into this fresh state (built from `plan` and the
    /// session's options), adding what it holds to `c`.
    pub(super) fn load(
        &mut self,
        plan: &RulePlan,
        snap: RuleSnap<H>,
        cx: &Load<'_>,
        c: &mut Counters,
    ) -> Result<(), SnapshotError> {
        let fields = plan.pipes.field_count();
        match (&mut self.body, &plan.body, snap.body) {
            (Body::Event, BodySpec::Event, BodySnap::Event) => {}
            (Body::Seq(s), BodySpec::Seq(spec), BodySnap::Seq(x)) => {
                s.load(spec, x, fields, cx, c)?;
            }
            (Body::Sample(s), BodySpec::Sample(spec), BodySnap::Sample(x)) => {
                s.load(spec, x, fields, cx, c)?;
            }
            (Body::Join(j), BodySpec::Join(spec), BodySnap::Join(x)) => {
                j.load(spec, x, fields, cx, c)?;
            }
            _ => return Err(cx.invalid("a state of another kind than the rule")),
        }
        self.pipes.load(&plan.pipes, snap.pipes, cx)?;
        match (&mut self.lineage, &plan.lineage, snap.lineage) {
            (Some(l), Some(spec), Some(nodes)) => l.load(spec, nodes, cx),
            (None, None, None) => Ok(()),
            _ => Err(cx.invalid("lineage state of a rule without lineage, or none")),
        }
    }

    /// Calls `f` with every handle the rule's state holds.
    pub(super) fn for_each_handle<'a>(&'a self, f: &mut dyn FnMut(&'a H)) {
        match &self.body {
            Body::Event => {}
            Body::Seq(s) => s.for_each_handle(f),
            Body::Sample(s) => s.for_each_handle(f),
            Body::Join(j) => j.for_each_handle(f),
        }
        self.pipes.for_each_handle(f);
    }

    pub(super) fn sink<'a>(
        &'a mut self,
        plan: &'a RulePlan,
        index: u32,
        out: &'a mut Matches<H>,
        c: &'a mut Counters,
    ) -> (&'a mut Body<H>, Sink<'a, H>) {
        (
            &mut self.body,
            Sink {
                rule: index,
                plan,
                pipes: &mut self.pipes,
                out,
                c,
            },
        )
    }
}

/// Where one rule's hits for one event go.
struct HitWriter<'a> {
    hits: &'a mut Vec<Hit>,
    pipes: &'a pipes::PipeSpec,
    rule: u32,
    ts: i64,
}

impl HitWriter<'_> {
    #[inline]
    fn push(&mut self, kind: HitKind, key: Key, caps: Vec<(u16, Option<Value<'static>>)>) {
        self.hits.push(Hit {
            rule: self.rule,
            kind,
            ts: self.ts,
            key,
            caps,
        });
    }

    /// The values the pipes need from the event, entering position `pos`.
    #[inline]
    fn capture(&self, cx: &EvalCx<'_>, pos: u16) -> Vec<(u16, Option<Value<'static>>)> {
        self.pipes.capture(cx.event, pos)
    }

    /// A hit of step `i` per key of `st` when the event matches it, each
    /// with the pipe captures of the step's position.
    #[inline]
    fn step(&mut self, cx: &EvalCx<'_>, i: usize, st: &StepSpec, keys: &mut SmallVec<[Key; 1]>) {
        if cx.step_matches(&st.query) {
            cx.keys(st, keys);
            let caps = self.capture(cx, st.pos);
            for k in keys.drain(..) {
                self.push(HitKind::Step(i as u16), k, caps.clone());
            }
        }
    }
}

/// A sequence's hits: the Python `maxspan` touch, the steps last to first
/// (a missing step captures nothing), and `until` (first in Python, last
/// in Elasticsearch).
fn sequence_hits(s: &sequence::SeqSpec, cx: &EvalCx<'_>, out: &mut HitWriter<'_>) {
    if s.py && s.maxspan.is_some() && s.steps.iter().any(|st| cx.category_matches(&st.query)) {
        out.push(HitKind::Touch, Key::new(), Vec::new());
    }
    // Elasticsearch blocks a transition on an `until` event
    // strictly before the event that makes it (`UntilGroup`):
    // an event that is both completes first, then blocks the
    // sequences it is in. Python checks `until` first.
    let until = s.until.as_ref().filter(|u| cx.step_matches(&u.query));
    let mut until_keys: SmallVec<[Key; 1]> = SmallVec::new();
    if let Some(u) = until {
        cx.keys(u, &mut until_keys);
    }
    if s.py {
        for k in until_keys.drain(..) {
            out.push(HitKind::Until, k, Vec::new());
        }
    }
    let mut keys: SmallVec<[Key; 1]> = SmallVec::new();
    for (i, st) in s.steps.iter().enumerate().rev() {
        if cx.step_matches(&st.query) {
            cx.keys(st, &mut keys);
            let caps = if st.missing {
                Vec::new()
            } else {
                out.capture(cx, st.pos)
            };
            for k in keys.drain(..) {
                out.push(HitKind::Step(i as u16), k, caps.clone());
            }
        }
    }
    for k in until_keys.drain(..) {
        out.push(HitKind::Until, k, Vec::new());
    }
}

/// A join's hits: `until`, then the steps in order.
fn join_hits(j: &join::JoinSpec, cx: &EvalCx<'_>, out: &mut HitWriter<'_>) {
    let mut keys: SmallVec<[Key; 1]> = SmallVec::new();
    if let Some(u) = &j.until {
        if cx.step_matches(&u.query) {
            cx.keys(u, &mut keys);
            for k in keys.drain(..) {
                out.push(HitKind::Until, k, Vec::new());
            }
        }
    }
    for (i, st) in j.steps.iter().enumerate() {
        out.step(cx, i, st, &mut keys);
    }
}

/// A sample's hits: the steps in order (last to first in Python).
fn sample_hits(s: &sample::SampleSpec, cx: &EvalCx<'_>, out: &mut HitWriter<'_>) {
    let mut keys: SmallVec<[Key; 1]> = SmallVec::new();
    let order: Vec<usize> = if s.py {
        (0..s.steps.len()).rev().collect()
    } else {
        (0..s.steps.len()).collect()
    };
    for i in order {
        let Some(st) = s.steps.get(i) else {
            continue;
        };
        out.step(cx, i, st, &mut keys);
    }
}
