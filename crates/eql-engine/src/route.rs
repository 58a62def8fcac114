//! Which worker owns which piece of a stateful rule's work, so that the
//! rules of one stream can run on several threads (or machines) and give
//! the results one [`Session`](crate::Session) gives.
//!
//! A sequence, sample or join keeps its state per join key, and keys never
//! meet: the work of one key can run anywhere as long as every hit of that
//! key goes to the same place. [`Routing`] decides, per rule:
//!
//! - [`RuleRoute::ByKey`]: every step has a join key and nothing reads
//!   across keys. A hit goes to the worker [`Routing::key_owner`] names,
//!   from a hash of the key's values, the same for every rule, so the hits
//!   of one key, whatever the rule, meet on one worker.
//! - [`RuleRoute::Owner`]: one worker holds all of the rule's state. That is
//!   so for rules without join keys, rules with pipes (`head`, `tail`,
//!   `count`, `unique`, `filter` and `sort` read the results of every key),
//!   rules with process lineage, and Python sequences with `maxspan` (whose
//!   expiry follows every event of their categories). Owners are spread
//!   over the workers by rule index.
//!
//! A worker's session applies the routing through [`Shard`] in
//! [`SessionOptions::shard`](crate::SessionOptions::shard): it evaluates
//! every event it is given and keeps only the hits it owns. Given the same
//! events in the same order, the union of the workers' results is what one
//! session over all the rules gives, as long as no
//! [`SessionLimits`](crate::SessionLimits) bound evicts state (each worker
//! counts only its own keys against the bounds).
//!
//! A worker need not be given every event: [`Placement`] names, for an event
//! and a rule, the workers that keep a hit of it, so that each event can be
//! sent only where it is needed (over threads, processes or machines); the
//! workers' results together are the same.
//!
//! ```
//! use eql_engine::{CompileOptions, CompiledQuery, Matches, Routing, Session, SessionOptions, Shard};
//! use std::sync::Arc;
//! let q = CompiledQuery::compile(
//!     "sequence by host.id [process where true] [file where true]",
//!     &CompileOptions::default(),
//! ).unwrap();
//! let routing = Arc::new(Routing::new([&q], 2));
//! let events: Vec<serde_json::Value> = ["a", "b", "c", "a", "b", "c"]
//!     .iter()
//!     .enumerate()
//!     .map(|(t, h)| {
//!         let category = if t < 3 { "process" } else { "file" };
//!         serde_json::json!({"@timestamp": t, "event": {"category": category}, "host": {"id": h}})
//!     })
//!     .collect();
//! let mut per_worker = Vec::new();
//! for worker in 0..2 {
//!     let mut opts = SessionOptions::default();
//!     opts.shard = Some(Shard::new(Arc::clone(&routing), worker));
//!     let mut s: Session<usize> = Session::new(&q, opts);
//!     let mut out = Matches::new();
//!     for (i, e) in events.iter().enumerate() {
//!         s.push(i, e, &mut out);
//!     }
//!     s.finish(&mut out);
//!     per_worker.push(out.len());
//! }
//! // Each key's sequence is found once, by the worker that owns the key.
//! assert_eq!(per_worker.iter().sum::<usize>(), 3);
//! ```

use crate::session::{EvalCx, Key, StepSpec};
use crate::{CompiledQuery, Event};
use eql_plan::{FieldPath, Value};
use eql_syntax::{Dialect, ExprKind, QueryBody};
use smallvec::SmallVec;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// How one rule's work is placed by a [`Routing`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleRoute {
    /// Each hit goes to the owner of its join key.
    ByKey,
    /// One worker (its index) holds the whole rule.
    Owner(usize),
}

/// The placement of a list of rules over a number of workers.
///
/// A rule whose every step has a join key and that has no pipe is
/// [`RuleRoute::ByKey`]: each hit goes to the worker [`Routing::key_owner`]
/// names from its key's values, the same for every rule. Any other rule (no
/// join key; pipes, which read every key's results; process lineage; a
/// Python sequence with `maxspan`, whose expiry follows every event of its
/// categories) is [`RuleRoute::Owner`] of one worker, by rule index. A
/// worker's session applies it through [`Shard`]: given the same events in
/// the same order as the other workers, it keeps only the hits it owns, and
/// the workers' results together are one session's, unless a
/// [`SessionLimits`](crate::SessionLimits) bound evicts state (each worker
/// counts only its own keys against the bounds).
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery, RuleRoute, Routing, Value};
/// let opts = CompileOptions::default();
/// let keyed = CompiledQuery::compile("sequence by user.name [process where true] [file where true]", &opts).unwrap();
/// let global = CompiledQuery::compile("sequence [process where true] [file where true]", &opts).unwrap();
/// let r = Routing::new([&keyed, &global], 4);
/// assert_eq!(r.rule(0), Some(RuleRoute::ByKey));
/// assert_eq!(r.rule(1), Some(RuleRoute::Owner(1)));
/// let w = r.key_owner(&[Value::from("alice")]);
/// assert!(w < 4);
/// assert_eq!(w, r.key_owner(&[Value::from("alice".to_owned())]));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routing {
    workers: usize,
    rules: Vec<RuleRoute>,
}

impl Routing {
    /// The placement of `queries` (in this order: the rule indexes of
    /// [`Routing::rule`] and of the sessions that use it) over `workers`
    /// workers (at least one).
    pub fn new<'a>(queries: impl IntoIterator<Item = &'a CompiledQuery>, workers: usize) -> Self {
        let workers = workers.max(1);
        let rules = queries
            .into_iter()
            .enumerate()
            .map(|(i, q)| {
                if by_key(q) {
                    RuleRoute::ByKey
                } else {
                    RuleRoute::Owner(i % workers)
                }
            })
            .collect();
        Routing { workers, rules }
    }

    /// The number of workers.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// How rule `rule` is placed.
    pub fn rule(&self, rule: usize) -> Option<RuleRoute> {
        self.rules.get(rule).copied()
    }

    /// The worker that owns a join key, given as the values
    /// [`Match::key`](crate::Match::key) reports: a hash of the values (the
    /// same on every run of the same build), modulo the number of workers.
    pub fn key_owner(&self, key: &[Value<'_>]) -> usize {
        let key: Key = key
            .iter()
            .map(|v| crate::session::KeyAtom::from_value(v, false, false))
            .collect();
        self.owner_of_key(&key)
    }

    fn owner_of_key(&self, key: &Key) -> usize {
        let mut h = rustc_hash::FxHasher::default();
        key.hash(&mut h);
        // The high bits of FxHash mix best.
        ((h.finish() >> 32) % self.workers as u64) as usize
    }

    /// True when `worker` owns the hit of rule `rule` with join key `key`.
    pub(crate) fn owns(&self, worker: usize, rule: usize, key: &Key) -> bool {
        match self.rules.get(rule) {
            Some(RuleRoute::ByKey) => self.owner_of_key(key) == worker,
            Some(RuleRoute::Owner(w)) => *w == worker,
            None => worker == 0,
        }
    }
}

/// True when the rule's state can be split by join key.
fn by_key(q: &CompiledQuery) -> bool {
    if !q.query.pipes.is_empty() || q.steps.is_none() {
        // Pipes read every key's results; lineage rules keep no step plans.
        return false;
    }
    let py = q.opts.dialect == Dialect::Python;
    match &q.query.body {
        QueryBody::Event(_) => false,
        QueryBody::Sequence(s) => {
            !(py && s.maxspan.is_some())
                && s.steps
                    .iter()
                    .chain(s.until.iter())
                    .all(|st| !s.by.is_empty() || !st.by.is_empty())
        }
        QueryBody::Sample(s) => s
            .steps
            .iter()
            .all(|st| !s.by.is_empty() || !st.by.is_empty()),
        QueryBody::Join(j) => j
            .steps
            .iter()
            .chain(j.until.iter())
            .all(|st| !j.by.is_empty() || !st.by.is_empty()),
    }
}

/// One worker's share of a [`Routing`], for
/// [`SessionOptions::shard`](crate::SessionOptions::shard): the session
/// keeps only the hits this worker owns. The routing must have been built
/// over the session's queries, in the session's order.
///
/// ```
/// use eql_engine::{Routing, Shard};
/// use std::sync::Arc;
/// let s = Shard::new(Arc::new(Routing::new([], 2)), 1);
/// assert_eq!(s.worker(), 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shard {
    routing: Arc<Routing>,
    worker: usize,
}

impl Shard {
    /// Worker `worker` of `routing`.
    pub fn new(routing: Arc<Routing>, worker: usize) -> Self {
        Shard { routing, worker }
    }

    /// This worker's index.
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// The routing.
    pub fn routing(&self) -> &Routing {
        &self.routing
    }

    /// True when this worker owns the hit of rule `rule` with join key `key`.
    pub(crate) fn owns(&self, rule: usize, key: &Key) -> bool {
        self.routing.owns(self.worker, rule, key)
    }
}

/// Where one event must go for a stateful rule: the workers whose
/// [`Shard`] keeps a hit of the rule from it. A worker that reads events
/// and sends each one only to the sessions that need it (over threads,
/// processes or machines) asks it for every stateful rule the event is a
/// step event of.
///
/// A [`RuleRoute::Owner`] rule's events go to its owner. A
/// [`RuleRoute::ByKey`] rule's event goes to the owners
/// ([`Routing::key_owner`]) of its join keys under each distinct list of
/// join-key expressions of the rule's steps (`until` included), whether or
/// not that step's condition holds: a worker that owns none of the hits the
/// event gives drops them. Most rules key every step alike (`sequence by
/// host.id`), so an event goes to one worker per such rule; an event whose
/// key is null (Elasticsearch drops it) goes nowhere. Given the events
/// [`Placement::owners`] names, in the same order as one session would see
/// them, each worker's sharded session gives that worker's share of the
/// one session's results.
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery, Placement};
/// let opts = CompileOptions::default();
/// let keyed = CompiledQuery::compile("sequence by host.id [process where true] [file where true]", &opts).unwrap();
/// let global = CompiledQuery::compile("sequence [process where true] [file where true]", &opts).unwrap();
/// let p = Placement::new([&keyed, &global], 4);
/// let event = serde_json::json!({"event": {"category": "file"}, "host": {"id": "h1"}});
/// let mut to = Vec::new();
/// p.owners(0, &event, &mut to);
/// assert_eq!(to, [p.routing().key_owner(&["h1".into()])]);
/// p.owners(1, &event, &mut to);
/// assert_eq!(to, [1]);
/// // A null key: Elasticsearch drops the event, so it goes nowhere.
/// p.owners(0, &serde_json::json!({"event": {"category": "file"}}), &mut to);
/// assert!(to.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct Placement {
    routing: Arc<Routing>,
    /// Per rule, for a [`RuleRoute::ByKey`] rule: its query and one step
    /// per distinct list of join-key expressions.
    keyed: Vec<Option<(CompiledQuery, Vec<StepSpec>)>>,
    /// Every field a join key reads.
    fields: Vec<FieldPath>,
}

impl Placement {
    /// The placement of `queries` (in this order, as for [`Routing::new`])
    /// over `workers` workers.
    pub fn new<'a>(queries: impl IntoIterator<Item = &'a CompiledQuery>, workers: usize) -> Self {
        let queries: Vec<&CompiledQuery> = queries.into_iter().collect();
        let routing = Arc::new(Routing::new(queries.iter().copied(), workers));
        let mut fields: Vec<FieldPath> = Vec::new();
        let keyed = queries
            .iter()
            .enumerate()
            .map(|(i, q)| {
                if routing.rule(i) != Some(RuleRoute::ByKey) {
                    return None;
                }
                let body = &q.query.body;
                let shared = body.keys();
                let mut steps: Vec<StepSpec> = Vec::new();
                for st in body.steps() {
                    let spec = StepSpec::new(shared, st, 0);
                    if steps.iter().all(|s| s.keys != spec.keys) {
                        for k in &spec.keys {
                            k.walk(&mut |x| {
                                if let ExprKind::Field(f) = &x.kind {
                                    let p = FieldPath::new(f.path.clone());
                                    if !fields.contains(&p) {
                                        fields.push(p);
                                    }
                                }
                                true
                            });
                        }
                        steps.push(spec);
                    }
                }
                Some(((*q).clone(), steps))
            })
            .collect();
        Placement {
            routing,
            keyed,
            fields,
        }
    }

    /// The routing, for the workers' [`Shard`]s.
    pub fn routing(&self) -> &Arc<Routing> {
        &self.routing
    }

    /// Every field [`Placement::owners`] reads from an event (the join
    /// keys' fields), for a [`Projection`](crate::Projection) that parses
    /// only those.
    pub fn fields(&self) -> &[FieldPath] {
        &self.fields
    }

    /// The workers that must see `event` for rule `rule`, ascending and
    /// each once, into `out` (cleared first).
    pub fn owners(&self, rule: usize, event: &dyn Event, out: &mut Vec<usize>) {
        out.clear();
        let Some(Some((engine, steps))) = self.keyed.get(rule) else {
            out.push(match self.routing.rule(rule) {
                Some(RuleRoute::Owner(w)) => w,
                _ => 0,
            });
            return;
        };
        let cx = EvalCx {
            engine,
            event,
            category: None,
            answers: None,
        };
        let mut keys: SmallVec<[Key; 1]> = SmallVec::new();
        for st in steps {
            cx.keys(st, &mut keys);
            out.extend(keys.iter().map(|k| self.routing.owner_of_key(k)));
        }
        out.sort_unstable();
        out.dedup();
    }
}
