//! Index routing: which rules see a line's event.
//!
//! A rule applies only to the events of the indices its `index` patterns
//! match ([`eql_engine::IndexPatterns`]); a rule with no patterns applies
//! everywhere. An event's index is the one it names for itself
//! ([`event_index`]: `_index`, else `data_stream.{type,dataset,namespace}`),
//! else the input's (`--index`), else none (then every rule applies).
//!
//! Routing is precomputed: each distinct set of applicable rules gets a
//! [`RulePlan`] of its own (packs over those rules only), built when an
//! index name that routes to it is first seen and shared by every thread,
//! so a rule filtered out costs nothing per event. Each evaluating thread
//! keeps its own name → plan table and asks the shared one (a lock) only
//! for a name it has not seen.
//!
//! Reading the index costs a skim over the line (strings jumped over with
//! `memchr`, nothing converted) that picks the top-level members that can
//! name an index; only those are parsed, and [`event_index`] reads them.
//! It is paid only by lines whose bytes could name an index (they hold
//! `_index`, `data_stream` or a `\u` escape, which could spell either),
//! and only when some rule has index patterns. The caches are bounded, since index names
//! come from event data: past [`MAX_PLANS`] distinct rule sets, the events
//! of further sets are evaluated by the plan of every rule and the results
//! of the rules that do not apply are dropped (correct, and no faster than
//! no routing); past [`MAX_NAMES`] names, a thread asks the shared table
//! (a lock) for each event of a name it did not keep.

use super::input::may_hold_u_escape;
use super::plan::RulePlan;
use eql_engine::{event_index, CompiledRuleSet, IndexRoute, IndexRouter, PackMatches};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// Distinct rule sets that get a plan of their own.
pub(crate) const MAX_PLANS: usize = 64;
/// Index names each evaluating thread remembers.
pub(crate) const MAX_NAMES: usize = 1024;
/// Index names listed in [`IndexPlans::seen`].
const MAX_SEEN: usize = 4096;

/// The plans of a scan's rules, per index.
pub(crate) struct IndexPlans {
    /// Some rule has index patterns: lines that name an index are routed.
    routed: bool,
    /// The route of the input's index (`--index`), if named.
    input: Option<IndexRoute>,
    /// The plan of the events that name no index.
    default: Arc<RulePlan>,
    shared: Mutex<Shared>,
}

struct Shared {
    router: IndexRouter,
    /// Plans by their rules (positions, ascending).
    plans: HashMap<Vec<u32>, Arc<RulePlan>>,
    /// The index names events named, with their routes.
    seen: BTreeMap<String, IndexRoute>,
}

/// How the events of one index are evaluated.
enum Routed {
    /// By a plan of the rules that apply.
    Plan(Arc<RulePlan>),
    /// By the plan of every rule, keeping only the results of the rules of
    /// this route.
    Filter(Arc<RulePlan>, Arc<IndexRoute>),
}

impl IndexPlans {
    /// The plans of `compiled`, for inputs of index `input` (none: events
    /// that name no index see every rule).
    pub(crate) fn new(compiled: &CompiledRuleSet, input: Option<&str>) -> Self {
        let mut shared = Shared {
            router: IndexRouter::new(compiled),
            plans: HashMap::new(),
            seen: BTreeMap::new(),
        };
        let routed = compiled.iter().any(|r| !r.rule.index_patterns().is_empty());
        let input = input.map(|name| shared.router.route(name).clone());
        let default = match &input {
            Some(route) => shared.plan(compiled, route.rules()),
            None => shared.plan(compiled, &all_rules(compiled)),
        };
        IndexPlans {
            routed,
            input,
            default,
            shared: Mutex::new(shared),
        }
    }

    /// The plan of the events that name no index (the input's index, or
    /// every rule). Every plan has the same [`RulePlan::stateful`].
    pub(crate) fn default_plan(&self) -> &RulePlan {
        &self.default
    }

    /// The route of the input's index, when `--index` named it.
    pub(crate) fn input_route(&self) -> Option<&IndexRoute> {
        self.input.as_ref()
    }

    /// The index names events named so far, with their routes, by name
    /// (the first few thousand names).
    pub(crate) fn seen(&self) -> Vec<IndexRoute> {
        self.lock().seen.values().cloned().collect()
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // The shared tables are left consistent at every step: a panic in
        // another thread does not spoil them.
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The index `line` names, if routing is on and it names one.
    fn line_index(&self, line: &[u8]) -> Option<String> {
        if !self.routed || !may_name_index(line) {
            return None;
        }
        line_index(line)
    }

    /// How the events of index `name` are evaluated.
    fn resolve(&self, compiled: &CompiledRuleSet, name: &str) -> Routed {
        let mut sh = self.lock();
        let route = sh.router.route(name).clone();
        if sh.seen.len() < MAX_SEEN && !sh.seen.contains_key(name) {
            sh.seen.insert(name.to_owned(), route.clone());
        }
        if sh.plans.contains_key(route.rules()) || sh.plans.len() < MAX_PLANS {
            Routed::Plan(sh.plan(compiled, route.rules()))
        } else {
            let all = sh.plan(compiled, &all_rules(compiled));
            Routed::Filter(all, Arc::new(route))
        }
    }
}

/// The positions of every rule of `compiled`.
fn all_rules(compiled: &CompiledRuleSet) -> Vec<u32> {
    (0..compiled.len() as u32).collect()
}

impl Shared {
    /// The plan of the rules at `rules` (positions, ascending), built on
    /// first use.
    fn plan(&mut self, compiled: &CompiledRuleSet, rules: &[u32]) -> Arc<RulePlan> {
        let plan = self.plans.entry(rules.to_vec()).or_insert_with(|| {
            Arc::new(RulePlan::new(compiled, |i| {
                u32::try_from(i).is_ok_and(|i| rules.binary_search(&i).is_ok())
            }))
        });
        Arc::clone(plan)
    }
}

/// One evaluating thread's plans: a slot per plan it has used, with its
/// packs' match buffers.
pub(crate) struct Routes<'p> {
    plans: &'p IndexPlans,
    compiled: &'p CompiledRuleSet,
    profile_every: u32,
    /// Index name → slot, and the route to filter by (a plan of every rule).
    names: HashMap<String, (usize, Option<Arc<IndexRoute>>)>,
    /// Slot 0: the default plan.
    slots: Vec<(Arc<RulePlan>, Vec<PackMatches>)>,
    /// The current line's filter.
    filter: Option<Arc<IndexRoute>>,
}

impl<'p> Routes<'p> {
    pub(crate) fn new(
        plans: &'p IndexPlans,
        compiled: &'p CompiledRuleSet,
        profile_every: u32,
    ) -> Self {
        let mut routes = Routes {
            plans,
            compiled,
            profile_every,
            names: HashMap::new(),
            slots: Vec::new(),
            filter: None,
        };
        routes.slot_of(&plans.default);
        routes
    }

    /// The slot of `plan`, added on first use.
    fn slot_of(&mut self, plan: &Arc<RulePlan>) -> usize {
        if let Some(i) = self.slots.iter().position(|(p, _)| Arc::ptr_eq(p, plan)) {
            return i;
        }
        let every = self.profile_every;
        let hits = plan
            .packs
            .iter()
            .map(|_| {
                if every > 0 {
                    PackMatches::with_profile(every)
                } else {
                    PackMatches::new()
                }
            })
            .collect();
        self.slots.push((Arc::clone(plan), hits));
        self.slots.len() - 1
    }

    /// What evaluates `line`: a plan, its match buffers, the route whose
    /// rules alone count (when the plan is every rule's), and whether the
    /// plan is the default one (its buffers are [`Routes::default_hits`]).
    pub(crate) fn route(
        &mut self,
        line: &[u8],
    ) -> (
        &RulePlan,
        &mut [PackMatches],
        Option<&Arc<IndexRoute>>,
        bool,
    ) {
        let (slot, filter) = match self.plans.line_index(line) {
            None => (0, None),
            Some(name) => match self.names.get(&name) {
                Some((slot, filter)) => (*slot, filter.clone()),
                None => {
                    let (slot, filter) = match self.plans.resolve(self.compiled, &name) {
                        Routed::Plan(plan) => (self.slot_of(&plan), None),
                        Routed::Filter(all, route) => (self.slot_of(&all), Some(route)),
                    };
                    if self.names.len() < MAX_NAMES {
                        self.names.insert(name, (slot, filter.clone()));
                    }
                    (slot, filter)
                }
            },
        };
        self.filter = filter;
        let (plan, hits) = &mut self.slots[slot];
        (plan, hits, self.filter.as_ref(), slot == 0)
    }

    /// The match buffers of the default plan's packs.
    pub(crate) fn default_hits(&mut self) -> &mut [PackMatches] {
        self.slots.first_mut().map_or(&mut [], |(_, h)| &mut h[..])
    }

    /// Each plan used, with its packs' match buffers (their profiles).
    pub(crate) fn slots(&self) -> impl Iterator<Item = (&RulePlan, &[PackMatches])> {
        self.slots.iter().map(|(p, h)| (&**p, &h[..]))
    }
}

/// False when `line` cannot name an index: it holds neither `_index` nor
/// `data_stream`, nor a `\u` escape ([`may_hold_u_escape`]), which could spell
/// either. Both names hold an underscore, which event lines hold few of:
/// one pass for it, and a look at each.
fn may_name_index(line: &[u8]) -> bool {
    let named = memchr::memchr_iter(b'_', line).any(|i| {
        line.get(i..).is_some_and(|r| r.starts_with(b"_index"))
            || i.checked_sub(4)
                .and_then(|from| line.get(from..))
                .is_some_and(|r| r.starts_with(b"data_stream"))
    });
    named || may_hold_u_escape(line)
}

/// The index a line's event names for itself ([`event_index`]), read from
/// the top-level members that can name it; `None` also when the line is not
/// a JSON object (the packs report it).
fn line_index(line: &[u8]) -> Option<String> {
    let members = index_members(line)?;
    let dom: serde_json::Value = serde_json::from_slice(&members).ok()?;
    event_index(&dom)
}

/// The top-level members of a JSON object text whose key can name an index
/// (`_index`, `data_stream` and `data_stream.*`, and any key spelled with
/// an escape, which could be either), as one JSON object text, in order (a
/// repeated key keeps its last value, as in the whole object); `None` when
/// there are none or the text is not an object.
fn index_members(line: &[u8]) -> Option<Vec<u8>> {
    let mut i = skip_ws(line, 0);
    if line.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut out = Vec::new();
    loop {
        i = skip_ws(line, i);
        match line.get(i)? {
            b'}' => break,
            b'"' => {}
            _ => return None,
        }
        let key_start = i;
        let key_end = string_end(line, i)?;
        let key = line.get(key_start + 1..key_end - 1)?;
        i = skip_ws(line, key_end);
        if line.get(i) != Some(&b':') {
            return None;
        }
        let value_start = skip_ws(line, i + 1);
        i = value_end(line, value_start)?;
        if key == b"_index" || key.starts_with(b"data_stream") || key.contains(&b'\\') {
            out.push(if out.is_empty() { b'{' } else { b',' });
            out.extend_from_slice(line.get(key_start..key_end)?);
            out.push(b':');
            out.extend_from_slice(line.get(value_start..i)?);
        }
        i = skip_ws(line, i);
        match line.get(i)? {
            b',' => i += 1,
            b'}' => break,
            _ => return None,
        }
    }
    if out.is_empty() {
        return None;
    }
    out.push(b'}');
    Some(out)
}

fn skip_ws(line: &[u8], mut i: usize) -> usize {
    while matches!(line.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The end (past the closing quote) of the string starting at `i`.
fn string_end(line: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        let k = j + memchr::memchr2(b'"', b'\\', line.get(j..)?)?;
        if line.get(k) == Some(&b'\\') {
            j = k + 2;
        } else {
            return Some(k + 1);
        }
    }
}

/// The end of the value starting at `i`.
fn value_end(line: &[u8], i: usize) -> Option<usize> {
    match line.get(i)? {
        b'"' => string_end(line, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match line.get(j)? {
                    b'"' => {
                        j = string_end(line, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let rest = line.get(i..)?;
            let n = rest
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(rest.len());
            Some(i + n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// JSON text of objects whose keys can name an index, spelled plainly
    /// or with a `\u` escape, with strings that hold quotes, backslashes and
    /// brackets, nested, with whitespace between tokens.
    fn text() -> impl Strategy<Value = String> {
        let ws = prop::sample::select(vec!["", " ", "\n", "\t ", "\r\n"]);
        let string = prop::sample::select(vec![
            r#""logs""#,
            r#""a\"b""#,
            r#""x\\""#,
            r#""{[""#,
            r#""]}\\\"""#,
            r#""endpoint.events.file""#,
            r#""d\u00e9fault""#,
        ])
        .prop_map(str::to_owned);
        let scalar = prop_oneof![
            string.clone(),
            prop::sample::select(vec!["1", "-2.5e3", "true", "null", "false"])
                .prop_map(str::to_owned),
        ];
        let key = prop::sample::select(vec![
            r#""_index""#,
            r#""\u005findex""#,
            r#""data_stream""#,
            r#""data_stream.type""#,
            r#""data_stream.dataset""#,
            r#""data_stream.namespace""#,
            r#""data_str\u0065am""#,
            r#""_ind\u0065x""#,
            r#""\\u005findex""#,
            r#""\\\u005findex""#,
            r#""type""#,
            r#""dataset""#,
            r#""namespace""#,
            r#""a\"_index""#,
            r#""host""#,
        ]);
        let leaf = scalar.boxed();
        let value = leaf.prop_recursive(4, 48, 6, move |inner| {
            let member = (key.clone(), ws.clone(), inner.clone());
            prop_oneof![
                prop::collection::vec(member, 0..6).prop_map(|ms| {
                    let body: Vec<String> = ms
                        .iter()
                        .map(|(k, w, v)| format!("{w}{k}{w}:{w}{v}{w}"))
                        .collect();
                    format!("{{{}}}", body.join(","))
                }),
                prop::collection::vec(inner, 0..4).prop_map(|xs| format!("[{}]", xs.join(" , "))),
            ]
        });
        value.prop_filter("an object", |t| t.starts_with('{'))
    }

    proptest! {
        #[test]
        fn the_skim_reads_the_index_the_whole_event_names(t in text()) {
            let dom: serde_json::Value = serde_json::from_str(&t).expect("the generator writes JSON");
            prop_assert_eq!(line_index(t.as_bytes()), event_index(&dom), "{}", t);
        }

        /// The look that lets most lines skip the skim misses no line that
        /// names an index.
        #[test]
        fn no_line_that_names_an_index_is_passed_over(t in text()) {
            let dom: serde_json::Value = serde_json::from_str(&t).expect("the generator writes JSON");
            if event_index(&dom).is_some() {
                prop_assert!(may_name_index(t.as_bytes()), "{}", t);
            }
        }
    }

    #[test]
    fn members_that_name_an_index_are_found_at_the_top_level_only() {
        let line = br#"{"a": {"_index": "no"}, "s": "\"_index\": \"no\"", "data_stream": {"type": "logs", "dataset": "x", "namespace": "y"}}"#;
        assert_eq!(line_index(line).as_deref(), Some("logs-x-y"));
        let line = br#" { "n" : [1, {"]": "["}], "_index" : "idx" , "_index": "last" } "#;
        assert_eq!(line_index(line).as_deref(), Some("last"));
        assert_eq!(line_index(br#"{"x": 1}"#), None);
        assert_eq!(line_index(br#"[{"_index": "a"}]"#), None);
        assert_eq!(line_index(br#"{"_index": "a""#), None);
    }
}
