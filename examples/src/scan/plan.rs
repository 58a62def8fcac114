//! How the rules of a scan are split: single-event rules answered straight
//! from the bytes by a routed [`Pack`], and stateful rules run in sessions,
//! which see only the events that match one of their step queries.

use eql_engine::{CompiledRuleSet, Dialect, EventQuery, Pack, QueryBody};

/// What a pack entry stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A single-event rule (its index): a match is an alert.
    Alert(u32),
    /// A step query of a stateful rule (its position in
    /// [`RulePlan::stateful`]): a match sends the event to its session.
    Step(u32),
}

/// The packs of one rule set and what their entries stand for.
pub(crate) struct RulePlan {
    /// One pack per category field (rules with `event_category_override`
    /// route on another field), with each pack entry's target.
    pub(crate) packs: Vec<(Pack, Vec<Target>)>,
    /// The stateful rules (sequences, samples, joins, and single-event
    /// rules with pipes or process lineage), by index, ascending.
    pub(crate) stateful: Vec<usize>,
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
        // Per category field, in order of first use: (rule, query) items.
        type Items<'a> = Vec<(usize, &'a eql_engine::CompiledQuery, &'a EventQuery, Target)>;
        let mut groups: Vec<(String, Items<'_>)> = Vec::new();
        let mut stateful = Vec::new();
        let mut every_event = Vec::new();
        for (i, rule) in compiled.iter().enumerate() {
            let on = applies(i);
            let e = &rule.engine;
            let q = e.query();
            let single = matches!(q.body, QueryBody::Event(_)) && q.pipes.is_empty();
            let queries: Vec<&EventQuery> = q.body.step_queries().collect();
            let target = if single && !e.uses_lineage() {
                Target::Alert(i as u32)
            } else {
                let pos = stateful.len() as u32;
                stateful.push(i);
                let py_maxspan = e.options().dialect == Dialect::Python
                    && matches!(&q.body, QueryBody::Sequence(s) if s.maxspan.is_some());
                if e.uses_lineage() || py_maxspan {
                    if on {
                        every_event.push(pos);
                    }
                    continue;
                }
                Target::Step(pos)
            };
            if !on {
                continue;
            }
            let field = e.options().category_field.clone();
            let g = match groups.iter().position(|(f, _)| *f == field) {
                Some(g) => g,
                None => {
                    groups.push((field, Vec::new()));
                    groups.len() - 1
                }
            };
            if let Some((_, items)) = groups.get_mut(g) {
                items.extend(queries.into_iter().map(|query| (i, e, query, target)));
            }
        }
        if groups.is_empty() {
            // The lines are checked all the same.
            groups.push((String::new(), Vec::new()));
        }
        let packs = groups
            .into_iter()
            .map(|(_, items)| {
                let targets = items.iter().map(|x| x.3).collect();
                let pack = Pack::from_queries(items.iter().map(|&(i, e, q, _)| (i, e, q)));
                (pack, targets)
            })
            .collect();
        RulePlan {
            packs,
            stateful,
            every_event,
        }
    }
}
