//! The immutable half of a session: the compiled queries and everything a
//! session precomputes from them, built once and shared by every session
//! through an `Arc`.

use super::lineage::LineageFields;
use super::rule::{BodySpec, RulePlan, SessionPack};
use super::LineageOptions;
use crate::{CompiledQuery, Dialect, Projection};
use eql_plan::FieldPath;
use eql_syntax::{EventQuery, ExprKind};
use std::collections::HashSet;
use std::sync::Arc;

/// The queries a [`Session`](crate::Session) runs, with what sessions
/// precompute from them: the grouping of every step query into routed packs
/// (one per category field), the shape of each sequence, sample, join, pipe
/// chain and lineage relation. Immutable, `Send + Sync`, and shared by
/// sessions through an `Arc`, so starting a session costs no compilation.
///
/// A result's [`Match::rule`](crate::Match::rule) is the query's position in
/// the plan.
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery, SessionPlan};
/// let a = CompiledQuery::compile("process where true", &CompileOptions::default()).unwrap();
/// let b = CompiledQuery::compile("file where true", &CompileOptions::default()).unwrap();
/// let plan = SessionPlan::new([a, b]);
/// assert_eq!(plan.len(), 2);
/// assert_eq!(plan.query(1).map(|q| q.query().to_string()), Some("file where true".to_owned()));
/// ```
#[derive(Clone, Debug)]
pub struct SessionPlan {
    pub(super) rules: Vec<RulePlan>,
    /// Every step query of the rules as packs (several rules only).
    pub(super) pack: Option<SessionPack>,
    /// Rules evaluated on every event, ascending: those with a step query
    /// the packs do not answer, and Python sequences with `maxspan`. The
    /// others run only on an event where one of their answers fired.
    pub(super) always: Vec<u32>,
    /// Rules with `maxspan` (checked for expiry on every released event).
    pub(super) timed: Vec<u32>,
    /// The category field most rules read (the first rule's).
    pub(super) category_field: Option<FieldPath>,
    /// Every field the rules read from an event, each once: conditions,
    /// join keys, categories, timestamps, tiebreakers, pipe captures.
    pub(super) fields: Vec<FieldPath>,
    /// Some rule uses process lineage (its session reads the lineage fields).
    pub(super) lineage: bool,
    /// The projection a session with default options reads event bytes
    /// with: `fields`, and the default lineage fields when `lineage`.
    pub(super) projection: Arc<Projection>,
    /// The paths of `projection`.
    pub(super) projected: Vec<FieldPath>,
    /// Per rule, the step queries a caller can answer
    /// ([`Session::push_answered`](crate::Session::push_answered)): (query
    /// span, answer index). Every step query of a rule without process
    /// lineage, numbered rule by rule in [`QueryBody::step_queries`] order.
    pub(super) answer_steps: Vec<Vec<(eql_syntax::Span, u32)>>,
    /// The rule of each answer index.
    pub(super) answer_owner: Vec<u32>,
    /// Rules evaluated on every event pushed with its answers: those with
    /// no answerable step query, and Python sequences with `maxspan`.
    pub(super) always_answered: Vec<u32>,
    /// Every field the rules read from an event pushed with its answers:
    /// `fields` without the conditions of the answerable step queries, and
    /// the default lineage fields when `lineage`.
    pub(super) answered_fields: Vec<FieldPath>,
}

impl SessionPlan {
    /// The session's pack over every step query, built on first use.
    pub(super) fn step_pack<'a>(&'a self, p: &'a SessionPack) -> &'a crate::Pack {
        p.pack.get_or_init(|| build_step_pack(&self.rules))
    }

    /// The plan of a session over `queries`, in order.
    ///
    /// A session's timestamp field, its format and tiebreaker (which drive
    /// the reorder window and `SessionStats::out_of_order`) are the first
    /// query's, and the first query's dialect chooses the default
    /// [`StreamOrder`](crate::StreamOrder). A query compiled with another
    /// `timestamp_field` orders and times its steps and its `maxspan` by that
    /// field (by the session's timestamp on an event that lacks it), and with
    /// another `tiebreaker_field` breaks ties by it; one compiled with
    /// another `category_field` reads its categories from that field. Every
    /// query gives the results it gives in a session of its own over the
    /// same stream as long as the events carry its timestamp field (the
    /// multi-rule session proptest checks this).
    pub fn new(queries: impl IntoIterator<Item = CompiledQuery>) -> SessionPlan {
        let mut rules: Vec<RulePlan> = queries.into_iter().map(RulePlan::new).collect();
        let first_category = rules.first().map(|r| r.engine.category.clone());
        for r in &mut rules {
            r.session_category = first_category.as_ref() == Some(&r.engine.category);
        }
        let timed = rules
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(&r.body, BodySpec::Seq(s) if s.maxspan.is_some() && !s.py))
            .map(|(i, _)| i as u32)
            .collect();
        let pack = pack_of(&rules);
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
                let touches = matches!(&r.body, BodySpec::Seq(s) if s.py && s.maxspan.is_some());
                !answered || touches
            })
            .map(|(i, _)| i as u32)
            .collect();
        let (answer_steps, answer_owner) = answer_table(&rules);
        let always_answered = rules
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                let touches = matches!(&r.body, BodySpec::Seq(s) if s.py && s.maxspan.is_some());
                answer_steps.get(*i).is_none_or(Vec::is_empty) || touches
            })
            .map(|(i, _)| i as u32)
            .collect();
        let fields = read_fields(&rules, &[]);
        let mut answered_fields = read_fields(&rules, &answer_steps);
        let lineage = rules.iter().any(|r| r.lineage.is_some());
        let mut projected = fields.clone();
        if lineage {
            let defaults = LineageFields::new(&LineageOptions::default());
            for p in defaults.paths() {
                for list in [&mut projected, &mut answered_fields] {
                    if !list.contains(p) {
                        list.push(p.clone());
                    }
                }
            }
        }
        SessionPlan {
            rules,
            pack,
            always,
            timed,
            category_field: first_category,
            fields,
            lineage,
            projection: Arc::new(Projection::new(&projected)),
            projected,
            answer_steps,
            answer_owner,
            always_answered,
            answered_fields,
        }
    }

    /// Number of queries.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when the plan has no query.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The `i`-th query.
    pub fn query(&self, i: usize) -> Option<&CompiledQuery> {
        self.rules.get(i).map(|r| &r.engine)
    }

    /// The step queries a caller can answer for
    /// [`Session::push_answered`](crate::Session::push_answered), as (query
    /// position in the plan, step query); an answer index is a position in
    /// this list. They are every step query
    /// ([`QueryBody::step_queries`](eql_syntax::QueryBody::step_queries), in
    /// that order) of every query without process lineage, query by query.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, SessionPlan};
    /// let q = CompiledQuery::compile(
    ///     "sequence by host.id [process where true] [file where true]",
    ///     &CompileOptions::default(),
    /// ).unwrap();
    /// let plan = SessionPlan::new([q]);
    /// let steps: Vec<String> = plan.answerable().map(|(_, s)| s.to_string()).collect();
    /// assert_eq!(steps, ["process where true", "file where true"]);
    /// ```
    pub fn answerable(&self) -> impl Iterator<Item = (usize, &EventQuery)> {
        self.answer_steps
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.is_empty())
            .flat_map(move |(i, _)| {
                self.rules
                    .get(i)
                    .into_iter()
                    .flat_map(move |r| r.engine.query.body.step_queries().map(move |q| (i, q)))
            })
    }

    /// Every field a session reads from an event pushed with
    /// [`Session::push_answered`](crate::Session::push_answered) when its
    /// options read no other (a [`SessionOptions`](crate::SessionOptions)
    /// timestamp field, lineage fields other than the default ones):
    /// categories, timestamps, tiebreakers, join keys, pipe captures, the
    /// default lineage fields when a query uses process lineage, and the
    /// conditions of the queries with no answerable step query. A caller can read only these
    /// from an event, for instance through a
    /// [`Projection`](crate::Projection).
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, FieldPath, SessionPlan};
    /// let q = CompiledQuery::compile(
    ///     r#"sequence by host.id [process where process.name == "a"] [file where true]"#,
    ///     &CompileOptions::default(),
    /// ).unwrap();
    /// let plan = SessionPlan::new([q]);
    /// let fields = plan.answered_fields();
    /// assert!(fields.contains(&FieldPath::parse_dotted("host.id")));
    /// assert!(!fields.contains(&FieldPath::parse_dotted("process.name")));
    /// ```
    pub fn answered_fields(&self) -> &[FieldPath] {
        &self.answered_fields
    }
}

/// A plan with no query.
impl Default for SessionPlan {
    fn default() -> Self {
        SessionPlan::new([])
    }
}

/// A one-query plan (a copy of the query).
impl From<&CompiledQuery> for Arc<SessionPlan> {
    fn from(query: &CompiledQuery) -> Self {
        Arc::new(SessionPlan::new([query.clone()]))
    }
}

/// A one-query plan.
impl From<CompiledQuery> for Arc<SessionPlan> {
    fn from(query: CompiledQuery) -> Self {
        Arc::new(SessionPlan::new([query]))
    }
}

/// The rule set's plan, built when it was compiled (shared, not copied).
#[cfg(feature = "rules")]
impl From<&crate::CompiledRuleSet> for Arc<SessionPlan> {
    fn from(rules: &crate::CompiledRuleSet) -> Self {
        Arc::clone(rules.plan())
    }
}

/// Every field the rules read from an event, each once, in order of first
/// use: each rule's category, timestamp and tiebreaker fields, every field of
/// its conditions (lineage relations included; none for a rule whose step
/// queries are in `answered`) and join keys, and the fields its pipes
/// capture.
fn read_fields(rules: &[RulePlan], answered: &[Vec<(eql_syntax::Span, u32)>]) -> Vec<FieldPath> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut add = |p: FieldPath| {
        if seen.insert(p.clone()) {
            out.push(p);
        }
    };
    for (i, r) in rules.iter().enumerate() {
        let e = &r.engine;
        let conditions = answered.get(i).is_none_or(Vec::is_empty);
        // A rule whose step queries are all answered reads the category
        // only for the Python `maxspan` touch (`sequence_hits`).
        if conditions || e.opts.dialect == Dialect::Python {
            add(e.category.clone());
        }
        add(FieldPath::parse_dotted(&e.opts.timestamp_field));
        if let Some(t) = &e.opts.tiebreaker_field {
            add(FieldPath::parse_dotted(t));
        }
        // Conditions (lineage relations' queries included) and join keys;
        // the pipes' fields come from the pipes, without `events[i]`.
        let body = &e.query().body;
        let exprs = body
            .keys()
            .iter()
            .chain(
                body.step_queries()
                    .filter(|_| conditions)
                    .map(|q| &q.condition),
            )
            .chain(body.steps().flat_map(|st| &st.by));
        for x in exprs {
            x.walk(&mut |x| {
                if let ExprKind::Field(f) = &x.kind {
                    add(FieldPath::new(f.path.clone()));
                }
                true
            });
        }
        for f in r.pipes.fields() {
            add(f.clone());
        }
    }
    out
}

/// The step queries of the rules without process lineage: per rule, (query
/// span, answer index), numbered rule by rule in `step_queries` order; and
/// the rule of each answer index. The session's pack (`pack_of`) numbers its
/// rules the same way.
fn answer_table(rules: &[RulePlan]) -> (Vec<Vec<(eql_syntax::Span, u32)>>, Vec<u32>) {
    let mut steps: Vec<Vec<(eql_syntax::Span, u32)>> = vec![Vec::new(); rules.len()];
    let mut owner = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        if !answerable(r) {
            continue;
        }
        for q in r.engine.query.body.step_queries() {
            if let Some(s) = steps.get_mut(i) {
                s.push((q.span, owner.len() as u32));
            }
            owner.push(i as u32);
        }
    }
    (steps, owner)
}

/// A rule whose step queries a pack (the session's or the caller's)
/// answers: one without process lineage, with a compiled condition.
fn answerable(r: &RulePlan) -> bool {
    let e = &r.engine;
    r.lineage.is_none() && (e.plan.is_some() || e.steps.is_some())
}

/// The step queries of the rules without process lineage, in answer order:
/// (rule, its compiled query, the step query).
fn step_items(rules: &[RulePlan]) -> Vec<(usize, &CompiledQuery, &EventQuery)> {
    let mut items = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        if answerable(r) {
            let e = &r.engine;
            items.extend(e.query.body.step_queries().map(|q| (i, e, q)));
        }
    }
    items
}

/// Numbers the step queries of the rules (without process lineage) for one
/// pack when there are several rules; the pack itself is built on first use
/// ([`build_step_pack`]).
fn pack_of(rules: &[RulePlan]) -> Option<SessionPack> {
    if rules.len() < 2 {
        return None;
    }
    let mut steps: Vec<Vec<(eql_syntax::Span, u32)>> = vec![Vec::new(); rules.len()];
    let items = step_items(rules);
    for (k, &(i, _, q)) in items.iter().enumerate() {
        if let Some(s) = steps.get_mut(i) {
            s.push((q.span, k as u32));
        }
    }
    let owner = items.iter().map(|&(i, _, _)| i as u32).collect();
    Some(SessionPack {
        pack: std::sync::OnceLock::new(),
        steps,
        owner,
    })
}

/// The pack over [`step_items`]: its rule `k` is answer `k`.
fn build_step_pack(rules: &[RulePlan]) -> crate::Pack {
    crate::Pack::from_conditions(step_items(rules))
}
