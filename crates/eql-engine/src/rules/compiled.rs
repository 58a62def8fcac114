//! Compiled rules: each rule with its compiled query, the routed pack of
//! the single-event rules and the session plan of them all.

use std::sync::{Arc, OnceLock};

use super::Rule;
use crate::{CompiledQuery, Event, EventError, Pack, PackMatches, SessionPlan};

/// A rule with its compiled query.
#[derive(Clone, Debug)]
pub struct CompiledRule {
    /// The rule's metadata.
    pub rule: Rule,
    /// The compiled query.
    pub engine: CompiledQuery,
}

impl CompiledRule {
    /// True when the event matches this rule's (single-event) query.
    pub fn is_match(&self, event: &dyn Event) -> bool {
        self.engine.is_match(event)
    }
}

/// Compiled rules, ready to test events: the routed [`Pack`] of the
/// single-event rules ([`CompiledRuleSet::matches`]) and the plan every
/// [`crate::Session`] over them shares (every rule, stateful ones
/// included), both built once, here.
///
/// ```
/// use eql_engine::{CompileOptions, Matches, PackMatches, RuleSet, Session, SessionOptions};
/// let (rules, errors) = RuleSet::builtin().compile(&CompileOptions::default());
/// assert!(errors.is_empty());
/// // Single-event rules, event by event:
/// let mut hits = PackMatches::new();
/// rules.matches(&serde_json::json!({"event": {"category": "process"}}), &mut hits);
/// // Every rule, sequences included, over a stream:
/// let mut session = Session::new(&rules, SessionOptions::default());
/// let mut out = Matches::new();
/// session.push(1u64, &serde_json::json!({"event": {"category": "process"}}), &mut out);
/// session.finish(&mut out);
/// ```
#[derive(Clone, Debug)]
pub struct CompiledRuleSet {
    rules: Vec<CompiledRule>,
    /// The single-event rules' pack, built by the first `matches`: a
    /// caller that runs the rules some other way (sessions, its own packs)
    /// never pays for it.
    pack: OnceLock<Pack>,
    plan: Arc<SessionPlan>,
}

impl Default for CompiledRuleSet {
    fn default() -> Self {
        CompiledRuleSet::new(Vec::new())
    }
}

impl CompiledRuleSet {
    pub(crate) fn new(rules: Vec<CompiledRule>) -> Self {
        let plan = Arc::new(SessionPlan::new(rules.iter().map(|r| r.engine.clone())));
        CompiledRuleSet {
            rules,
            pack: OnceLock::new(),
            plan,
        }
    }

    /// The single-event rules' pack.
    fn pack(&self) -> &Pack {
        self.pack
            .get_or_init(|| Pack::new(self.rules.iter().map(|r| &r.engine)))
    }

    /// The plan sessions over these rules run ([`crate::Session::new`]
    /// takes the rule set itself).
    pub(crate) fn plan(&self) -> &Arc<SessionPlan> {
        &self.plan
    }

    /// The compiled rules.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// Number of compiled rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when no rule compiled.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Iterates over the compiled rules.
    pub fn iter(&self) -> std::slice::Iter<'_, CompiledRule> {
        self.rules.iter()
    }

    /// The single-event rules that match `event` go into `out`: their
    /// indexes in [`CompiledRuleSet::rules`], ascending, through the routed
    /// pack (category routing, the candidate index, then exact evaluation
    /// of the candidates only). Sequences, samples and joins need state
    /// across events, and pipes and process lineage need the stream: run
    /// them in a [`crate::Session`] (`Session::new(&rule_set, options)`).
    ///
    /// ```
    /// use eql_engine::{CompileOptions, PackMatches, Rule, RuleSet};
    /// let mut set = RuleSet::new();
    /// for q in [r#"process where process.name : "cmd.exe""#, "sequence [process where true] [file where true]", "file where true"] {
    ///     set.push(Rule { query: q.into(), ..Rule::default() });
    /// }
    /// let (rules, _) = set.compile(&CompileOptions::default());
    /// let mut hits = PackMatches::new();
    /// let event = serde_json::json!({"event": {"category": ["process", "file"]}, "process": {"name": "CMD.exe"}});
    /// rules.matches(&event, &mut hits);
    /// assert_eq!(hits.rules(), &[0, 2]);
    /// ```
    pub fn matches(&self, event: &dyn Event, out: &mut PackMatches) {
        let pack = self.pack();
        pack.matches(event, out);
        out.map_rules(pack.origin());
    }

    /// [`CompiledRuleSet::matches`] straight from one event's bytes (a
    /// JSON object), with no DOM, checked as [`crate::parse_event`] checks
    /// them against the rules' [`crate::CompileOptions::event_limits`].
    ///
    /// ```
    /// use eql_engine::{CompileOptions, EventErrorKind, PackMatches, RuleSet};
    /// let (rules, _) = RuleSet::builtin().compile(&CompileOptions::default());
    /// let mut hits = PackMatches::new();
    /// rules.matches_json(br#"{"event": {"category": "process"}}"#, &mut hits).unwrap();
    /// let err = rules.matches_json(b"[1]", &mut hits).unwrap_err();
    /// assert!(matches!(err.kind, EventErrorKind::NotAnObject { .. }));
    /// ```
    pub fn matches_json(&self, bytes: &[u8], out: &mut PackMatches) -> Result<(), EventError> {
        let pack = self.pack();
        pack.matches_json(bytes, out)?;
        out.map_rules(pack.origin());
        Ok(())
    }
}

impl<'a> IntoIterator for &'a CompiledRuleSet {
    type Item = &'a CompiledRule;
    type IntoIter = std::slice::Iter<'a, CompiledRule>;
    fn into_iter(self) -> Self::IntoIter {
        self.rules.iter()
    }
}

/// A compiled set from compiled rules (a subset of another set, say: see
/// [`CompiledRuleSet::subset`]).
impl FromIterator<CompiledRule> for CompiledRuleSet {
    fn from_iter<I: IntoIterator<Item = CompiledRule>>(rules: I) -> Self {
        CompiledRuleSet::new(rules.into_iter().collect())
    }
}
