//! One rule's state in a session: its body's state machine, pipes and lineage,
//! and how one event becomes compact hits for it.

use super::{
    join, lineage, pipes, sample, sequence, Answers, CompiledQuery, Counters, Dialect, EvalCx,
    Event, EventQuery, Key, Matches, QueryBody, SessionOptions, SmallVec, Value,
};

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

/// The step queries of one category field, for its pack: the field, and
/// (rule, engine, query) per pack index.
pub(super) type PackGroup<'e> = (&'e str, Vec<(usize, &'e CompiledQuery, &'e EventQuery)>);

/// An event's value of each [`Session::own_ts`] field (`None`: missing).
pub(super) type OwnTs = SmallVec<[Option<i64>; 2]>;

pub(super) enum Body<'e, H> {
    Event(&'e EventQuery),
    Seq(sequence::Seq<'e, H>),
    Sample(sample::Sample<'e, H>),
    Join(join::Join<'e, H>),
}

/// The session's packs over every step query (one per category field, in
/// order of first use), and per rule its queries' spans and answer indexes.
///
/// Invariant: pack `p`'s rule `k` answers index `offsets[p] + k` of the
/// session's answers, and `steps` holds those answer indexes.
pub(super) struct SessionPack {
    pub(super) packs: Vec<crate::Pack>,
    pub(super) offsets: Vec<u32>,
    /// Number of answers (every pack's rules).
    pub(super) total: usize,
    pub(super) steps: Vec<Vec<(eql_syntax::Span, u32)>>,
    /// The rule of each answer index.
    pub(super) owner: Vec<u32>,
}

pub(super) struct RuleState<'e, H> {
    pub(super) engine: &'e CompiledQuery,
    /// Own timestamp (field and format) when it differs from the session's:
    /// an index into [`Session::own_ts`], read once per event for every rule
    /// that shares it.
    pub(super) ts_slot: Option<usize>,
    /// The rule's category field is the session's, read once per event.
    pub(super) session_category: bool,
    pub(super) body: Body<'e, H>,
    pub(super) pipes: pipes::PipeChain<'e, H>,
    pub(super) lineage: Option<lineage::Lineage<'e>>,
}

/// Where a rule's results go.
pub(crate) struct Sink<'a, 'e, H> {
    pub(crate) rule: u32,
    pub(crate) pipes: &'a mut pipes::PipeChain<'e, H>,
    pub(crate) out: &'a mut Matches<H>,
    pub(crate) c: &'a mut Counters,
}

impl<H: Clone> Sink<'_, '_, H> {
    pub(crate) fn emit(&mut self, res: pipes::Res<H>) {
        self.pipes.push(res, self.rule, self.out, self.c);
    }
}

impl<'e, H: Clone> RuleState<'e, H> {
    pub(super) fn new(engine: &'e CompiledQuery, opts: &SessionOptions) -> Self {
        let q = engine.query();
        let py = engine.opts.dialect == Dialect::Python;
        let body = match &q.body {
            QueryBody::Event(e) => Body::Event(e),
            QueryBody::Sequence(s) => Body::Seq(sequence::Seq::new(s, py, opts.limits.clone())),
            QueryBody::Sample(s) => Body::Sample(sample::Sample::new(
                s,
                py,
                opts.limits.clone(),
                opts.samples_on_completion,
            )),
            QueryBody::Join(j) => Body::Join(join::Join::new(j, opts.limits.clone())),
        };
        RuleState {
            engine,
            ts_slot: None,
            session_category: false,
            pipes: pipes::PipeChain::new(engine, opts.limits.max_keys),
            lineage: lineage::Lineage::new(q, &opts.lineage),
            body,
        }
    }

    /// The event's timestamp on this rule's own clock, when the rule has
    /// one and the event carries it.
    pub(super) fn own_clock(&self, own: &[Option<i64>]) -> Option<i64> {
        own.get(self.ts_slot?).copied().flatten()
    }

    pub(super) fn capture(&self, cx: &EvalCx<'_>, pos: u16) -> Vec<(u16, Option<Value<'static>>)> {
        self.pipes.capture(cx.event, pos)
    }

    /// Evaluates one event into hits.
    /// `answers`: this rule's step queries already evaluated by the
    /// session's [`crate::Pack`].
    pub(super) fn evaluate(
        &mut self,
        index: u32,
        event: &dyn Event,
        category: Option<&Option<Value<'_>>>,
        ts: i64,
        hits: &mut Vec<Hit>,
        answers: Option<Answers<'_>>,
    ) {
        if self.pipes.saturated() {
            return;
        }
        if let Some(l) = self.lineage.as_mut() {
            l.observe(self.engine, event);
        }
        let wrapped;
        let event: &dyn Event = match &self.lineage {
            Some(l) => {
                wrapped = lineage::LineageEvent {
                    inner: event,
                    lineage: l,
                };
                &wrapped
            }
            None => event,
        };
        let cx = EvalCx {
            engine: self.engine,
            event,
            category,
            answers,
        };
        let mut keys: SmallVec<[Key; 1]> = SmallVec::new();
        let mut push = |kind: HitKind, key: Key, caps: Vec<(u16, Option<Value<'static>>)>| {
            hits.push(Hit {
                rule: index,
                kind,
                ts,
                key,
                caps,
            });
        };
        match &self.body {
            Body::Event(q) => {
                if cx.step_matches(q) {
                    push(HitKind::Step(0), Key::new(), self.capture(&cx, 0));
                }
            }
            Body::Seq(s) => {
                if s.py
                    && s.spec.maxspan.is_some()
                    && s.spec.steps.iter().any(|st| cx.category_matches(st.query))
                {
                    push(HitKind::Touch, Key::new(), Vec::new());
                }
                // Elasticsearch blocks a transition on an `until` event
                // strictly before the event that makes it (`UntilGroup`):
                // an event that is both completes first, then blocks the
                // sequences it is in. Python checks `until` first.
                let until = s.spec.until.as_ref().filter(|u| cx.step_matches(u.query));
                let mut until_keys: SmallVec<[Key; 1]> = SmallVec::new();
                if let Some(u) = until {
                    cx.keys(u, &mut until_keys);
                }
                if s.py {
                    for k in until_keys.drain(..) {
                        push(HitKind::Until, k, Vec::new());
                    }
                }
                for (i, st) in s.spec.steps.iter().enumerate().rev() {
                    if cx.step_matches(st.query) {
                        cx.keys(st, &mut keys);
                        let caps = if st.missing {
                            Vec::new()
                        } else {
                            self.capture(&cx, st.pos)
                        };
                        for k in keys.drain(..) {
                            push(HitKind::Step(i as u16), k, caps.clone());
                        }
                    }
                }
                for k in until_keys.drain(..) {
                    push(HitKind::Until, k, Vec::new());
                }
            }
            Body::Join(j) => {
                if let Some(u) = &j.until {
                    if cx.step_matches(u.query) {
                        cx.keys(u, &mut keys);
                        for k in keys.drain(..) {
                            push(HitKind::Until, k, Vec::new());
                        }
                    }
                }
                for (i, st) in j.steps.iter().enumerate() {
                    if cx.step_matches(st.query) {
                        cx.keys(st, &mut keys);
                        let caps = self.capture(&cx, st.pos);
                        for k in keys.drain(..) {
                            push(HitKind::Step(i as u16), k, caps.clone());
                        }
                    }
                }
            }
            Body::Sample(s) => {
                let order: Vec<usize> = if s.py {
                    (0..s.steps.len()).rev().collect()
                } else {
                    (0..s.steps.len()).collect()
                };
                for i in order {
                    let st = &s.steps[i];
                    if cx.step_matches(st.query) {
                        cx.keys(st, &mut keys);
                        let caps = self.capture(&cx, st.pos);
                        for k in keys.drain(..) {
                            push(HitKind::Step(i as u16), k, caps.clone());
                        }
                    }
                }
            }
        }
    }

    pub(super) fn sink<'a>(
        &'a mut self,
        index: u32,
        out: &'a mut Matches<H>,
        c: &'a mut Counters,
    ) -> (&'a mut Body<'e, H>, Sink<'a, 'e, H>) {
        (
            &mut self.body,
            Sink {
                rule: index,
                pipes: &mut self.pipes,
                out,
                c,
            },
        )
    }
}
