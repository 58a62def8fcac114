//! How the rules of a scan are split: single-event rules answered straight
//! from the bytes by a routed [`Pack`], and stateful rules run in sessions,
//! which see only the events that match one of their step queries.

use eql_engine::{CompiledRuleSet, Dialect, EventQuery, FieldPath, Pack, QueryBody, SessionPlan};
use std::sync::Arc;

/// What a pack entry stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A single-event rule (its index): a match is an alert.
    Alert(u32),
    /// A step query of a stateful rule: (the rule's position in
    /// [`RulePlan::stateful`], the query's answer index in the rule's
    /// [`SessionPlan::answerable`]). A match sends the event to the rule's
    /// session with that answer.
    Step(u32, u32),
}

/// The packs of one rule set and what their entries stand for.
pub(crate) struct RulePlan {
    /// The pack of every single-event rule and step query (each routed by
    /// its own category field), with each pack entry's target.
    pub(crate) packs: Vec<(Pack, Vec<Target>)>,
    /// The stateful rules (sequences, samples, joins, and single-event
    /// rules with pipes or process lineage), by index, ascending.
    pub(crate) stateful: Vec<usize>,
    /// The session plan of each stateful rule (same positions), shared by
    /// every worker and scan.
    pub(crate) session_plans: Vec<Arc<SessionPlan>>,
    /// The fields the sessions read from an event besides their step
    /// queries' conditions ([`SessionPlan::answered_fields`]): the pack
    /// captures them ([`Pack::capture`]) in its pass over each line.
    pub(crate) captures: Vec<FieldPath>,
    /// The stateful rules (positions in `stateful`) that see every event:
    /// their steps use process lineage, or they are Python sequences with
    /// `maxspan` (whose expiry follows every event of their categories).
    pub(crate) every_event: Vec<u32>,
}

impl RulePlan {
    /// The plan of the rules for which `applies(index)` is true (see
    /// `super::index`): the others get no pack entry, but every stateful
    /// rule keeps its position in [`RulePlan::stateful`], so that the plans
    /// of all indices share the sessions.
    pub(crate) fn new(compiled: &CompiledRuleSet, applies: impl Fn(usize) -> bool) -> Self {
        // (rule, query) items of every rule, whatever its category field:
        // the pack routes each by its own, in one pass over the bytes.
        let mut items: Vec<(usize, &eql_engine::CompiledQuery, &EventQuery, Target)> = Vec::new();
        let mut stateful = Vec::new();
        let mut every_event = Vec::new();
        let session_plans: Vec<Arc<SessionPlan>> = compiled
            .iter()
            .filter(|rule| stateful_rule(&rule.engine))
            .map(|rule| Arc::new(SessionPlan::new([rule.engine.clone()])))
            .collect();
        for (i, rule) in compiled.iter().enumerate() {
            let on = applies(i);
            let e = &rule.engine;
            let q = e.query();
            if !stateful_rule(e) {
                if !on {
                    continue;
                }
                items.extend(
                    q.body
                        .step_queries()
                        .map(|query| (i, e, query, Target::Alert(i as u32))),
                );
                continue;
            }
            let pos = stateful.len() as u32;
            stateful.push(i);
            let py_maxspan = e.options().dialect == Dialect::Python
                && matches!(&q.body, QueryBody::Sequence(s) if s.maxspan.is_some());
            if !on {
                continue;
            }
            if e.uses_lineage() || py_maxspan {
                every_event.push(pos);
            }
            // The step queries the session takes answers for; a rule with
            // none (process lineage) evaluates its own, on every event.
            if let Some(plan) = session_plans.get(pos as usize) {
                items.extend(
                    plan.answerable()
                        .enumerate()
                        .map(|(k, (_, query))| (i, e, query, Target::Step(pos, k as u32))),
                );
            }
        }
        let mut captures: Vec<FieldPath> = Vec::new();
        for f in session_plans.iter().flat_map(|p| p.answered_fields()) {
            if !captures.contains(f) {
                captures.push(f.clone());
            }
        }
        // Each event captures only the fields of the sessions it goes to:
        // those of the rules that take every event, and those of the rules
        // whose step queries it matches.
        // Per stateful rule: the indexes of its fields among the captures.
        let fields: Vec<Vec<u32>> = session_plans
            .iter()
            .map(|plan| {
                plan.answered_fields()
                    .iter()
                    .filter_map(|f| captures.iter().position(|c| c == f))
                    .filter_map(|k| u32::try_from(k).ok())
                    .collect()
            })
            .collect();
        let fields_of = |pos: u32| fields.get(pos as usize).map_or(&[][..], |f| &f[..]);
        let always: Vec<u32> = every_event
            .iter()
            .flat_map(|&p| fields_of(p))
            .copied()
            .collect();
        let per_rule: Vec<Vec<u32>> = items
            .iter()
            .map(|x| match x.3 {
                Target::Step(pos, _) => fields_of(pos).to_vec(),
                Target::Alert(_) => Vec::new(),
            })
            .collect();
        let targets = items.iter().map(|x| x.3).collect();
        let pack = Pack::from_queries(items.iter().map(|&(i, e, q, _)| (i, e, q)))
            .capture(&captures)
            .capture_only(&always, &per_rule);
        RulePlan {
            packs: vec![(pack, targets)],
            stateful,
            session_plans,
            captures,
            every_event,
        }
    }
}

/// True for a rule that runs in a session: not a single-event query without
/// pipes and process lineage.
fn stateful_rule(e: &eql_engine::CompiledQuery) -> bool {
    let q = e.query();
    let single = matches!(q.body, QueryBody::Event(_)) && q.pipes.is_empty();
    !single || e.uses_lineage()
}
