//! How the rules of a scan are split: single-event rules answered straight
//! from the bytes by a routed [`Pack`], and stateful rules run in sessions,
//! which see only the events that match one of their step queries.

use eql_engine::{CompiledRuleSet, Dialect, EventQuery, Pack, QueryBody};

/// What a pack entry stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A single-event rule (its index): a match is an alert.
    Alert(u32),
    /// A step query of a stateful rule: a match sends the event to the
    /// sessions.
    Step,
}

/// The packs of one rule set and what their entries stand for.
pub(crate) struct RulePlan {
    /// One pack per category field (rules with `event_category_override`
    /// route on another field), with each pack entry's target.
    pub(crate) packs: Vec<(Pack, Vec<Target>)>,
    /// The stateful rules (sequences, samples, joins, and single-event
    /// rules with pipes or process lineage), by index, ascending.
    pub(crate) stateful: Vec<usize>,
    /// Some stateful rule must see every event: its steps use process
    /// lineage, or it is a Python sequence with `maxspan`.
    pub(crate) every_event: bool,
}

impl RulePlan {
    pub(crate) fn new(compiled: &CompiledRuleSet) -> Self {
        // Per category field, in order of first use: (rule, query) items.
        type Items<'a> = Vec<(usize, &'a eql_engine::CompiledQuery, &'a EventQuery, Target)>;
        let mut groups: Vec<(String, Items<'_>)> = Vec::new();
        let mut stateful = Vec::new();
        let mut every_event = false;
        for (i, rule) in compiled.iter().enumerate() {
            let e = &rule.engine;
            let q = e.query();
            let single = matches!(q.body, QueryBody::Event(_)) && q.pipes.is_empty();
            let queries: Vec<&EventQuery> = match &q.body {
                QueryBody::Event(ev) => vec![ev],
                QueryBody::Sequence(s) => s
                    .steps
                    .iter()
                    .chain(s.until.iter())
                    .map(|st| &st.query)
                    .collect(),
                QueryBody::Sample(s) => s.steps.iter().map(|st| &st.query).collect(),
                QueryBody::Join(j) => j
                    .steps
                    .iter()
                    .chain(j.until.iter())
                    .map(|st| &st.query)
                    .collect(),
            };
            let target = if single && !e.uses_lineage() {
                Target::Alert(i as u32)
            } else {
                stateful.push(i);
                let py_maxspan = e.options().dialect == Dialect::Python
                    && matches!(&q.body, QueryBody::Sequence(s) if s.maxspan.is_some());
                if e.uses_lineage() || py_maxspan {
                    every_event = true;
                    continue;
                }
                Target::Step
            };
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
        let packs = groups
            .into_iter()
            .filter_map(|(_, items)| {
                let opts = items.first()?.1.options().clone();
                let targets = items.iter().map(|x| x.3).collect();
                let pack = Pack::from_queries(items.iter().map(|&(i, e, q, _)| (i, e, q)), &opts);
                Some((pack, targets))
            })
            .collect();
        RulePlan {
            packs,
            stateful,
            every_event,
        }
    }
}
