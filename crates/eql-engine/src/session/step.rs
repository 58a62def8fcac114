//! One bracketed step of a stateful query, and how an event is evaluated against it.

use super::{
    keys, CompiledQuery, Dialect, Env, Event, EventQuery, Expr, ExprKind, FieldPath, Key,
    SequenceStep, SmallVec, Value,
};
use std::sync::Arc;

/// One bracketed term, with its keys (query-level keys first). Part of a
/// [`super::SessionPlan`]: it owns its query (shared by the expanded `runs`
/// of one step) and its key expressions.
#[derive(Clone, Debug)]
pub(crate) struct StepSpec {
    pub(crate) query: Arc<EventQuery>,
    pub(crate) keys: Vec<Expr>,
    /// For keys that are plain fields, the path (read without the evaluator).
    pub(crate) key_paths: Vec<Option<FieldPath>>,
    pub(crate) optional: Vec<bool>,
    pub(crate) fork: bool,
    pub(crate) missing: bool,
    /// Position of the step's event in a result.
    pub(crate) pos: u16,
}

impl StepSpec {
    pub(crate) fn new(shared: &[Expr], step: &SequenceStep, pos: u16) -> Self {
        let keys: Vec<Expr> = shared.iter().chain(step.by.iter()).cloned().collect();
        let optional = keys
            .iter()
            .map(|e| matches!(&e.kind, ExprKind::Field(f) if f.optional))
            .collect();
        let key_paths = keys
            .iter()
            .map(|e| match &e.kind {
                ExprKind::Field(f) => Some(FieldPath::new(f.path.clone())),
                _ => None,
            })
            .collect();
        StepSpec {
            query: Arc::new(step.query.clone()),
            key_paths,
            keys,
            optional,
            fork: step.fork.unwrap_or(false),
            missing: step.missing,
            pos,
        }
    }
}

/// Evaluation of step conditions and keys against one event: the one place
/// where the session calls the reference evaluator, so that a compiled
/// predicate can replace it later.
pub(crate) struct EvalCx<'a> {
    pub(crate) engine: &'a CompiledQuery,
    pub(crate) event: &'a dyn Event,
    /// The event's category, read at most once per event for every rule
    /// that uses the session's category field, and only when a step needs
    /// it (`None`: read it here).
    pub(crate) category: Option<&'a (dyn CategoryOf + 'a)>,
    /// Step queries already answered by the session's pack.
    pub(crate) answers: Option<Answers<'a>>,
}

/// An event's category, shared by the rules of one event. A trait object
/// rather than `&LazyCategory<'a>` because the cell inside makes that type
/// invariant in `'a`, and each rule's [`EvalCx`] borrows it for less.
pub(crate) trait CategoryOf {
    /// True when the event's category is `cat`.
    fn is(&self, cat: &str) -> bool;
}

/// The category of one event, read from it the first time a step asks:
/// an event whose steps are all answered by a pack never reads it.
pub(crate) struct LazyCategory<'a> {
    pub(crate) event: &'a dyn Event,
    pub(crate) field: &'a FieldPath,
    pub(crate) value: std::cell::OnceCell<Option<Value<'a>>>,
}

impl CategoryOf for LazyCategory<'_> {
    fn is(&self, cat: &str) -> bool {
        let v = self.value.get_or_init(|| self.event.get(self.field));
        eql_plan::category_matches(Some(cat), v.as_ref())
    }
}

/// A rule's step queries in the session's pack (by query span → pack index)
/// and the pack's answers for the current event.
#[derive(Clone, Copy)]
pub(crate) struct Answers<'a> {
    pub(crate) steps: &'a [(eql_syntax::Span, u32)],
    pub(crate) matched: &'a [bool],
}

impl EvalCx<'_> {
    /// True when the event is of the step's category.
    pub(crate) fn category_matches(&self, q: &EventQuery) -> bool {
        let Some(cat) = q.category.name.as_deref() else {
            return true;
        };
        match self.category {
            Some(c) => c.is(cat),
            None => eql_plan::category_matches(
                Some(cat),
                self.event.get(&self.engine.category).as_ref(),
            ),
        }
    }

    /// True when the event matches the step's query (category and condition).
    pub(crate) fn step_matches(&self, q: &EventQuery) -> bool {
        if let Some(a) = &self.answers {
            if let Some((_, k)) = a.steps.iter().find(|(span, _)| *span == q.span) {
                return a.matched.get(*k as usize).copied().unwrap_or(false);
            }
        }
        self.category_matches(q) && self.engine.condition_matches(q, self.event)
    }

    /// The join keys of the event for `step` (none when it must be dropped).
    pub(crate) fn keys(&self, step: &StepSpec, out: &mut SmallVec<[Key; 1]>) {
        out.clear();
        if step.keys.is_empty() {
            out.push(Key::new());
            return;
        }
        let ctx = self.engine.ctx(self.event);
        let env = Env::new();
        let vals: SmallVec<[Option<Value<'_>>; 2]> = step
            .keys
            .iter()
            .zip(&step.key_paths)
            .map(|(e, path)| match path {
                // A plain field reads the event directly (what `Ctx::eval`
                // does for a field, without its per-call allocations).
                Some(p) => self.engine.read_field(self.event, p),
                None => ctx.eval(e, &env),
            })
            .collect();
        let py = self.engine.opts.dialect == Dialect::Python;
        keys::build_keys(
            &vals,
            &step.optional,
            py,
            py && !self.engine.opts.case_sensitive,
            out,
        );
    }
}
