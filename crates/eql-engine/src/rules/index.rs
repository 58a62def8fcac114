//! Index patterns: which rules apply to the events of which index.
//!
//! A rule's `index` list is Elasticsearch multi-target syntax: each entry is
//! a comma-separated list of expressions, `*` matches any run of characters,
//! and an expression starting with `-` excludes the names it matches from
//! those included by the expressions before it (a later inclusion can bring
//! a name back). A rule with no patterns applies to every index.
//!
//! Routing is precomputed per index name: [`CompiledRuleSet::for_index`]
//! gives the rules that apply to one index as a compiled set of their own
//! (run a session over it and a rule filtered out costs nothing per event);
//! [`CompiledRuleSet::route`] gives the same answer as a list of positions
//! (the EXPLAIN line `index NAME: K of N rules apply`); [`IndexRouter`]
//! caches routes by index name for a stream whose events name their own
//! index ([`event_index`]).

use std::collections::HashMap;
use std::fmt;

use eql_plan::{FieldPath, Value};

use super::{CompiledRule, CompiledRuleSet, Rule};
use crate::Event;

/// One expression of an index pattern list.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Expr {
    /// `-pattern`: removes matching names included so far.
    exclude: bool,
    /// The pattern, `*` wildcards allowed.
    pattern: String,
}

/// A rule's index patterns, parsed.
///
/// ```
/// use eql_engine::IndexPatterns;
/// let p = IndexPatterns::parse(["logs-endpoint.events.*,-logs-endpoint.events.network-*", "winlogbeat-*"]);
/// assert!(p.matches("logs-endpoint.events.file-default"));
/// assert!(!p.matches("logs-endpoint.events.network-default"));
/// assert!(p.matches("winlogbeat-8.12.0"));
/// assert!(!p.matches("logs-aws.cloudtrail-default"));
/// // No patterns: every index.
/// assert!(IndexPatterns::parse(Vec::<String>::new()).matches("anything"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexPatterns {
    exprs: Vec<Expr>,
}

impl IndexPatterns {
    /// Parses a rule's `index` entries. Each entry may hold several
    /// comma-separated expressions; blanks around them are ignored and empty
    /// ones are dropped. A `-` expression with nothing before it has nothing
    /// to exclude from, so it is read as a name starting with `-`, as
    /// Elasticsearch reads it.
    pub fn parse<S: AsRef<str>>(entries: impl IntoIterator<Item = S>) -> Self {
        let mut exprs = Vec::new();
        for entry in entries {
            for raw in entry.as_ref().split(',') {
                let raw = raw.trim();
                if raw.is_empty() {
                    continue;
                }
                let expr = match raw.strip_prefix('-') {
                    Some(rest) if !exprs.is_empty() => Expr {
                        exclude: true,
                        pattern: rest.to_string(),
                    },
                    _ => Expr {
                        exclude: false,
                        pattern: raw.to_string(),
                    },
                };
                exprs.push(expr);
            }
        }
        IndexPatterns { exprs }
    }

    /// True when there is no pattern (the rule applies to every index).
    pub fn is_empty(&self) -> bool {
        self.exprs.is_empty()
    }

    /// True when events of index `name` are in the rule's scope.
    pub fn matches(&self, name: &str) -> bool {
        if self.exprs.is_empty() {
            return true;
        }
        let mut included = false;
        for e in &self.exprs {
            // An exclusion only matters for a name included so far, and an
            // inclusion only for one that is not.
            if e.exclude == included && wildcard_match(&e.pattern, name) {
                included = !e.exclude;
            }
        }
        included
    }
}

/// `*`-only glob match over bytes (index names have no other metacharacter).
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut si) = (0usize, 0usize);
    // Position after the last `*` seen and the name position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                pi += 1;
                star = Some((pi, si));
            }
            Some(&c) if c == s[si] => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                // Let the last `*` swallow one more byte and retry.
                Some((sp, ss)) => {
                    pi = sp;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

impl Rule {
    /// The rule's [`Rule::index`] entries, parsed.
    ///
    /// ```
    /// let rule = eql_engine::Rule { index: vec!["logs-endpoint.events.file-*".into()], ..Default::default() };
    /// assert!(rule.index_patterns().matches("logs-endpoint.events.file-default"));
    /// ```
    pub fn index_patterns(&self) -> IndexPatterns {
        IndexPatterns::parse(&self.index)
    }
}

/// The index an event names for itself: its `_index` field when that is a
/// string, else `data_stream.type`-`data_stream.dataset`-`data_stream.namespace`
/// (the name of the data stream that holds it) when all three are strings.
///
/// ```
/// use serde_json::json;
/// use eql_engine::event_index;
/// let ev = json!({"data_stream": {"type": "logs", "dataset": "endpoint.events.file", "namespace": "default"}});
/// assert_eq!(event_index(&ev).as_deref(), Some("logs-endpoint.events.file-default"));
/// assert_eq!(event_index(&json!({"_index": "winlogbeat-8"})).as_deref(), Some("winlogbeat-8"));
/// assert_eq!(event_index(&json!({"host": {"name": "a"}})), None);
/// ```
pub fn event_index(event: &dyn Event) -> Option<String> {
    let read = |path: &str| match event.get(&FieldPath::parse_dotted(path)) {
        Some(Value::Str(s)) => Some(s.into_owned()),
        _ => None,
    };
    if let Some(index) = read("_index") {
        return Some(index);
    }
    let kind = read("data_stream.type")?;
    let dataset = read("data_stream.dataset")?;
    let namespace = read("data_stream.namespace")?;
    Some(format!("{kind}-{dataset}-{namespace}"))
}

/// The rules of a [`CompiledRuleSet`] that apply to one index; its
/// `Display` is the EXPLAIN line `index NAME: K of N rules apply`.
///
/// ```
/// use eql_engine::{CompileOptions, RuleSet};
/// let (pack, _) = RuleSet::builtin().compile(&CompileOptions::default());
/// let route = pack.route("logs-aws.cloudtrail-default");
/// assert!(route.is_empty());
/// assert_eq!(route.to_string(), "index logs-aws.cloudtrail-default: 0 of 1 rules apply");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexRoute {
    index: String,
    rules: Vec<u32>,
    total: usize,
}

impl IndexRoute {
    /// The index name.
    pub fn index(&self) -> &str {
        &self.index
    }

    /// Positions (in [`CompiledRuleSet::rules`]) of the rules that apply, ascending.
    pub fn rules(&self) -> &[u32] {
        &self.rules
    }

    /// True when rule `i` (a position in [`CompiledRuleSet::rules`]) applies.
    pub fn contains(&self, i: usize) -> bool {
        u32::try_from(i).is_ok_and(|i| self.rules.binary_search(&i).is_ok())
    }

    /// Number of rules that apply.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when no rule applies.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Number of rules in the set the route was computed for.
    pub fn total(&self) -> usize {
        self.total
    }
}

impl fmt::Display for IndexRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "index {}: {} of {} rules apply",
            self.index,
            self.rules.len(),
            self.total
        )
    }
}

fn route_of(patterns: &[IndexPatterns], index: &str) -> IndexRoute {
    IndexRoute {
        index: index.to_string(),
        rules: patterns
            .iter()
            .enumerate()
            .filter(|(_, p)| p.matches(index))
            .map(|(i, _)| i as u32)
            .collect(),
        total: patterns.len(),
    }
}

impl CompiledRuleSet {
    /// The rules whose index patterns match `index`.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, RuleSet};
    /// let (pack, _) = RuleSet::builtin().compile(&CompileOptions::default());
    /// assert_eq!(pack.route("logs-endpoint.events.file-default").rules(), &[0]);
    /// ```
    pub fn route(&self, index: &str) -> IndexRoute {
        let patterns: Vec<IndexPatterns> = self.iter().map(|r| r.rule.index_patterns()).collect();
        route_of(&patterns, index)
    }

    /// The rules whose index patterns match `index`, as a compiled set of
    /// their own: a session over it never evaluates the others.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, RuleSet};
    /// let (pack, _) = RuleSet::builtin().compile(&CompileOptions::default());
    /// assert_eq!(pack.for_index("logs-endpoint.events.file-default").len(), 1);
    /// assert!(pack.for_index("logs-aws.cloudtrail-default").is_empty());
    /// ```
    pub fn for_index(&self, index: &str) -> CompiledRuleSet {
        self.subset(|_, r| r.rule.index_patterns().matches(index))
    }

    /// The rules for which `keep(position, rule)` is true, in order, as a
    /// compiled set of their own (nothing is compiled again).
    ///
    /// ```
    /// use eql_engine::{CompileOptions, RuleSet};
    /// let (pack, _) = RuleSet::builtin().compile(&CompileOptions::default());
    /// let high = pack.subset(|_, r| r.rule.severity.as_deref() == Some("high"));
    /// assert_eq!(high.len(), 1);
    /// ```
    pub fn subset(&self, mut keep: impl FnMut(usize, &CompiledRule) -> bool) -> CompiledRuleSet {
        self.iter()
            .enumerate()
            .filter(|(i, r)| keep(*i, r))
            .map(|(_, r)| r.clone())
            .collect()
    }
}

/// Routes by index name for a stream whose events come from several
/// indices: each rule's patterns are parsed once, and the route of each
/// index name is computed on its first use and kept (up to a bound, so that
/// event data cannot grow the cache without limit; past it, routes are
/// computed and not kept).
///
/// ```
/// use eql_engine::{CompileOptions, IndexRouter, RuleSet};
/// use serde_json::json;
/// let (pack, _) = RuleSet::builtin().compile(&CompileOptions::default());
/// let mut router = IndexRouter::new(&pack);
/// let ev = json!({"data_stream": {"type": "logs", "dataset": "aws.cloudtrail", "namespace": "default"}});
/// assert!(router.route_event(&ev).is_some_and(|r| r.is_empty()));
/// // An event that names no index: every rule applies.
/// assert!(router.route_event(&json!({})).is_none());
/// assert!(router.route("logs-endpoint.events.file-default").contains(0));
/// ```
#[derive(Clone, Debug)]
pub struct IndexRouter {
    patterns: Vec<IndexPatterns>,
    routes: HashMap<String, IndexRoute>,
    max_cached: usize,
    /// Scratch for a route computed past the cache bound.
    uncached: Option<IndexRoute>,
}

impl IndexRouter {
    /// Default bound of [`IndexRouter::with_max_cached`]: 4 096 index names.
    pub const DEFAULT_MAX_CACHED: usize = 4096;

    /// A router over `set`'s rules (positions as in [`CompiledRuleSet::rules`]).
    pub fn new(set: &CompiledRuleSet) -> Self {
        IndexRouter {
            patterns: set.iter().map(|r| r.rule.index_patterns()).collect(),
            routes: HashMap::new(),
            max_cached: Self::DEFAULT_MAX_CACHED,
            uncached: None,
        }
    }

    /// Keeps at most `max` routes ([`IndexRouter::DEFAULT_MAX_CACHED`] by default).
    #[must_use]
    pub fn with_max_cached(mut self, max: usize) -> Self {
        self.max_cached = max;
        self
    }

    /// The route of index `index`.
    pub fn route(&mut self, index: &str) -> &IndexRoute {
        if self.routes.contains_key(index) {
            return &self.routes[index];
        }
        let route = route_of(&self.patterns, index);
        if self.routes.len() < self.max_cached {
            self.routes.entry(index.to_string()).or_insert(route)
        } else {
            self.uncached.insert(route)
        }
    }

    /// The route of the index `event` names ([`event_index`]); `None` when
    /// it names none (then every rule applies).
    pub fn route_event(&mut self, event: &dyn Event) -> Option<&IndexRoute> {
        let index = event_index(event)?;
        Some(self.route(&index))
    }

    /// Number of routes kept.
    pub fn cached(&self) -> usize {
        self.routes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(entries: &[&str]) -> IndexPatterns {
        IndexPatterns::parse(entries)
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("*", "abc"));
        assert!(wildcard_match("a*c", "abbbc"));
        assert!(wildcard_match("a*c", "ac"));
        assert!(!wildcard_match("a*c", "acb"));
        assert!(wildcard_match("*a*b*", "xxaxxbxx"));
        assert!(!wildcard_match("*a*b*", "xxbxxaxx"));
        assert!(wildcard_match("abc", "abc"));
        assert!(!wildcard_match("abc", "abcd"));
        assert!(!wildcard_match("abcd", "abc"));
        assert!(wildcard_match("a**", "a"));
        // Backtracking past a partial match.
        assert!(wildcard_match("*aab", "aaab"));
        assert!(wildcard_match("logs-*-default", "logs-a-b-default"));
        // Case matters (index names are lowercase).
        assert!(!wildcard_match("Logs-*", "logs-x"));
    }

    #[test]
    fn data_stream_patterns() {
        let file = p(&["logs-endpoint.events.file-*"]);
        assert!(file.matches("logs-endpoint.events.file-default"));
        assert!(!file.matches("logs-endpoint.events.process-default"));
        // No `-` after `file`: matches `file` and `files`, as ES does.
        let loose = p(&["logs-endpoint.events.file*"]);
        assert!(loose.matches("logs-endpoint.events.files-x"));
        let any_endpoint = p(&["logs-endpoint.events.*"]);
        assert!(any_endpoint.matches("logs-endpoint.events.process-default"));
        assert!(!any_endpoint.matches("logs-endpoint.alerts-default"));
        let s1 = p(&["logs-sentinel_one_cloud_funnel.*"]);
        assert!(s1.matches("logs-sentinel_one_cloud_funnel.event-default"));
    }

    #[test]
    fn exclusions_apply_to_what_precedes() {
        let x = p(&["logs-*,-logs-aws*"]);
        assert!(x.matches("logs-endpoint.events.file-default"));
        assert!(!x.matches("logs-aws.cloudtrail-default"));
        // The same as separate entries.
        assert_eq!(x, p(&["logs-*", "-logs-aws*"]));
        // A later inclusion brings a name back.
        let back = p(&["logs-*", "-logs-aws*", "logs-aws.cloudtrail-*"]);
        assert!(back.matches("logs-aws.cloudtrail-default"));
        assert!(!back.matches("logs-aws.guardduty-default"));
        // An exclusion does not include anything by itself.
        let only_excl = p(&["winlogbeat-*", "-logs-*"]);
        assert!(!only_excl.matches("filebeat-1"));
        assert!(only_excl.matches("winlogbeat-1"));
        // A leading `-` has nothing to exclude from: a literal name.
        let leading = p(&["-logs-*"]);
        assert!(!leading.matches("logs-x"));
        assert!(leading.matches("-logs-x"));
    }

    #[test]
    fn no_patterns_apply_everywhere() {
        let none = p(&[]);
        assert!(none.is_empty());
        assert!(none.matches("logs-aws.cloudtrail-default"));
        assert!(none.matches(""));
        // Blank entries are no patterns either.
        assert!(p(&[" ", ","]).is_empty());
    }

    #[test]
    fn blanks_around_expressions_are_ignored() {
        let x = p(&[" logs-a-* , -logs-a-b "]);
        assert!(x.matches("logs-a-c"));
        assert!(!x.matches("logs-a-b"));
    }

    #[test]
    fn router_bounds_its_cache() {
        let set = CompiledRuleSet::default();
        let mut router = IndexRouter::new(&set).with_max_cached(2);
        for name in ["a", "b", "c", "d", "a"] {
            assert_eq!(router.route(name).index(), name);
        }
        assert_eq!(router.cached(), 2);
    }
}
