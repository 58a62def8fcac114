//! Many single-event queries evaluated together: category routing, the fused
//! candidate index, then exact evaluation of the candidates only.

mod group;
mod matches;
mod memo;
mod sampled;

use crate::eval::plan::{recycle, SlotBuf};
use crate::event::flat::{FlatEvent, FlatPlan};
use crate::event::input::{check_bytes, json_type, parse_text};
use crate::event::json::Tree;
use crate::event::project::Projection;
use crate::event::quick;
use crate::query::{lower, CompiledQuery};
use crate::{Event, EventError, EventErrorKind, EventLimits};
use eql_plan::{Cond, FieldPath, FieldTable, PackPlan, Value};
use eql_syntax::{EventQuery, QueryBody};
use smallvec::{smallvec, SmallVec};
use std::borrow::Cow;
use std::fmt;

use group::Group;
pub use matches::{PackMatches, PackProfile};
pub use sampled::SampledTime;

/// True for the errors the JSON parser reports (as opposed to the checks
/// that run before it).
fn from_parser(kind: &EventErrorKind) -> bool {
    matches!(
        kind,
        EventErrorKind::Syntax { .. }
            | EventErrorKind::Truncated
            | EventErrorKind::NumberOutOfRange
            | EventErrorKind::NotAnObject { .. }
    ) || matches!(kind, EventErrorKind::TooDeep { max } if *max == 128)
}

/// A pack of single-event queries compiled together.
///
/// Rules with another query form (sequences, samples, joins) are not part of
/// a `Pack`; [`Pack::new`] skips them and [`Pack::rule_index`] maps back.
/// Each query is routed by its own `category_field`: queries compiled with
/// different category fields get one routed plan per field.
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery, PackMatches, Pack};
/// let opts = CompileOptions::default();
/// let rules = [
///     r#"process where process.name : "cmd.exe""#,
///     r#"process where process.name : "powershell.exe" and process.args : "*-enc*""#,
///     r#"file where file.extension : ("exe", "dll")"#,
/// ];
/// let engines: Vec<CompiledQuery> = rules.iter().map(|q| CompiledQuery::compile(q, &opts).unwrap()).collect();
/// let pack = Pack::new(&engines);
/// let mut hits = PackMatches::new();
/// let ev = serde_json::json!({"event": {"category": "process"}, "process": {"name": "CMD.EXE"}});
/// pack.matches(&ev, &mut hits);
/// assert_eq!(hits.rules(), &[0]);
/// ```
#[derive(Clone, Debug)]
pub struct Pack {
    /// One routed plan per category field, in order of first use.
    groups: Vec<Group>,
    /// The groups' category fields, read together in one pass.
    category_read: Projection,
    engines: Vec<CompiledQuery>,
    /// Pack position → index in the slice given to `new`.
    origin: Vec<usize>,
    /// The projection of every field of every group (raw bytes → fields).
    projection: Projection,
    /// The strictest of the queries' [`crate::CompileOptions::event_limits`].
    limits: EventLimits,
    /// The fields whose values a match also reports ([`Pack::capture`]).
    captures: Vec<FieldPath>,
    /// The captured fields, read whole in one pass over an event.
    capture_read: Projection,
    /// Which captured fields an event needs ([`Pack::capture_only`]); all
    /// of them when `None`.
    capture_needs: Option<Box<CaptureNeeds>>,
    /// The fields of `projection` read straight from an event's text, for
    /// the projections above (`None` when the flat reader cannot serve
    /// them).
    flat: Option<Box<FlatPlan>>,
}

/// The captured fields an event needs, by what it matched
/// ([`Pack::capture_only`]), as bit sets over the indexes in
/// [`Pack::capture`]'s paths (bit `k % 64` of word `k / 64`).
#[derive(Clone, Debug)]
struct CaptureNeeds {
    /// Needed for every event.
    always: Vec<u64>,
    /// Per pack rule: needed when the event matches it (each as long as
    /// `always`).
    per_rule: Vec<Vec<u64>>,
}

/// The set of the indexes in `items` below `len`, as [`CaptureNeeds`] keeps
/// them.
fn bit_set(items: &[u32], len: usize) -> Vec<u64> {
    let mut words = vec![0u64; len.div_ceil(64)];
    for &k in items {
        if let Some(w) = words.get_mut(k as usize / 64) {
            if (k as usize) < len {
                *w |= 1 << (k % 64);
            }
        }
    }
    words
}

impl CaptureNeeds {
    /// The captured fields an event matching `rules` needs.
    fn wanted(&self, rules: &[u32]) -> SmallVec<[u64; 4]> {
        let mut want: SmallVec<[u64; 4]> = SmallVec::from_slice(&self.always);
        for &r in rules {
            if let Some(need) = self.per_rule.get(r as usize) {
                for (w, n) in want.iter_mut().zip(need) {
                    *w |= n;
                }
            }
        }
        want
    }

    /// True when `want` ([`CaptureNeeds::wanted`]) holds captured field `k`.
    fn holds(want: &[u64], k: u32) -> bool {
        want.get(k as usize / 64)
            .is_some_and(|w| w & (1 << (k % 64)) != 0)
    }

    /// Keeps in `out.captured` only what an event matching `out.rules`
    /// needs.
    fn keep_wanted(&self, out: &mut PackMatches) {
        let want = self.wanted(&out.rules);
        out.captured.retain(|(k, _)| Self::holds(&want, *k));
    }
}

impl Pack {
    /// Compiles the single-event queries among `engines` into one pack.
    /// Each query keeps its own options (dialect, case folding, category
    /// field, event limits).
    pub fn new<'a>(engines: impl IntoIterator<Item = &'a CompiledQuery>) -> Pack {
        Pack::from_conditions(engines.into_iter().enumerate().filter_map(|(i, e)| {
            match &e.query.body {
                QueryBody::Event(q) => Some((i, e, q)),
                _ => None,
            }
        }))
    }

    /// A pack over any event queries, such as the steps of sequences as well
    /// as single-event rules: each item is (the index [`Pack::rule_index`]
    /// reports, the compiled query the event query belongs to, the event
    /// query). Each query keeps its own options, as in [`Pack::new`].
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Pack, PackMatches, QueryBody};
    /// let opts = CompileOptions::default();
    /// let seq = CompiledQuery::compile(
    ///     r#"sequence by host.id [process where process.name : "cmd.exe"] [file where true]"#, &opts).unwrap();
    /// let QueryBody::Sequence(s) = &seq.query().body else { unreachable!() };
    /// let pack = Pack::from_queries(s.steps.iter().map(|st| (7, &seq, &st.query)));
    /// let mut hits = PackMatches::new();
    /// pack.matches_json(br#"{"event": {"category": "file"}}"#, &mut hits).unwrap();
    /// assert_eq!(hits.rules(), &[1]);
    /// assert_eq!(pack.rule_index(1), Some(7));
    /// ```
    pub fn from_queries<'a>(
        items: impl IntoIterator<Item = (usize, &'a CompiledQuery, &'a EventQuery)>,
    ) -> Pack {
        Pack::from_conditions(items)
    }

    /// A pack over arbitrary event queries (such as the steps of sequences),
    /// each with the engine that owns it and the index `rule_index` reports.
    /// Pack positions follow the order of `items`.
    pub(crate) fn from_conditions<'a>(
        items: impl IntoIterator<Item = (usize, &'a CompiledQuery, &'a EventQuery)>,
    ) -> Pack {
        // Per category field, in order of first use: (field, its fields,
        // its rules, their pack positions).
        type Building = (FieldPath, FieldTable, Vec<(Option<String>, Cond)>, Vec<u32>);
        let mut building: Vec<Building> = Vec::new();
        let mut engines = Vec::new();
        let mut origin = Vec::new();
        let mut limits: Option<EventLimits> = None;
        for (i, e, q) in items {
            let l = &e.opts.event_limits;
            limits = Some(match limits {
                Some(m) => EventLimits {
                    max_line_bytes: m.max_line_bytes.min(l.max_line_bytes),
                    max_depth: m.max_depth.min(l.max_depth),
                },
                None => l.clone(),
            });
            let g = match building.iter().position(|b| b.0 == e.category) {
                Some(g) => g,
                None => {
                    building.push((
                        e.category.clone(),
                        FieldTable::default(),
                        Vec::new(),
                        Vec::new(),
                    ));
                    building.len() - 1
                }
            };
            let Some((_, fields, rules, positions)) = building.get_mut(g) else {
                continue;
            };
            let cond = lower(
                &q.condition,
                &e.opts,
                &e.regexes,
                e.kinds.as_deref(),
                fields,
            );
            rules.push((q.category.name.clone(), cond));
            positions.push(engines.len() as u32);
            engines.push(e.clone());
            origin.push(i);
        }
        let groups: Vec<Group> = building
            .into_iter()
            .map(|(category, fields, rules, positions)| {
                Group::new(category, fields, rules, positions)
            })
            .collect();
        let projection = Projection::new(groups.iter().flat_map(|g| g.plan.fields()));
        let category_read = Projection::new(groups.iter().map(|g| &g.category));
        let mut pack = Pack {
            category_read,
            groups,
            engines,
            origin,
            projection,
            limits: limits.unwrap_or_default(),
            captures: Vec::new(),
            capture_read: Projection::values(&[]),
            capture_needs: None,
            flat: None,
        };
        pack.flat = pack.flat_plan();
        pack
    }

    /// The [`FlatPlan`] of every field the pack reads, answering each
    /// projection it resolves events through.
    fn flat_plan(&self) -> Option<Box<FlatPlan>> {
        let mut read: Vec<&Projection> = vec![&self.category_read, &self.capture_read];
        read.extend(
            self.groups
                .iter()
                .flat_map(|g| g.reads.iter().map(|r| &r.1)),
        );
        FlatPlan::new(self.projection.resolver().paths(), &read).map(Box::new)
    }

    /// The same pack, whose matches also report the values of the fields
    /// `paths` ([`PackMatches::captured`]), read in the same pass over the
    /// bytes as the rules' fields: a caller that needs a few more fields of
    /// the events (a session's join keys and timestamps, say) need not read
    /// the bytes again.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, FieldPath, Pack, PackMatches, Value};
    /// let e = CompiledQuery::compile(r#"process where process.name : "cmd.exe""#, &CompileOptions::default()).unwrap();
    /// let pack = Pack::new(&[e]).capture(&[FieldPath::parse_dotted("host.id")]);
    /// let mut hits = PackMatches::new();
    /// pack.matches_json(br#"{"event":{"category":"process"},"process":{"name":"cmd.exe"},"host":{"id":"h1"}}"#, &mut hits).unwrap();
    /// assert_eq!(hits.rules(), &[0]);
    /// assert_eq!(hits.captured(), &[(0, Value::from("h1"))]);
    /// ```
    #[must_use]
    pub fn capture(mut self, paths: &[FieldPath]) -> Pack {
        self.captures = paths.to_vec();
        self.capture_read = Projection::values(&self.captures);
        if let Some(g) = self.groups.first_mut() {
            g.read_captures(&self.captures);
        }
        self.projection = Projection::new(
            self.groups
                .iter()
                .flat_map(|g| g.plan.fields())
                .chain(&self.captures),
        );
        self.flat = self.flat_plan();
        self
    }

    /// The same pack, capturing for each event only the fields it needs
    /// (indexes in the paths given to [`Pack::capture`], called first):
    /// those of `always`, and those of `per_rule[i]` when the event matches
    /// pack rule `i`. They are still read in the pass over the event that
    /// reads the rules' fields, but only the needed ones are copied out of
    /// it, once the event's matches are known. Indexes out of range are
    /// ignored.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, FieldPath, Pack, PackMatches, Value};
    /// let opts = CompileOptions::default();
    /// let qs = [r#"process where process.name : "cmd.exe""#, r#"file where true"#];
    /// let engines: Vec<CompiledQuery> = qs.iter().map(|q| CompiledQuery::compile(q, &opts).unwrap()).collect();
    /// let paths = ["@timestamp", "host.id", "file.path"].map(FieldPath::parse_dotted);
    /// // Every event needs its timestamp; rule 1's events, their file path too.
    /// let pack = Pack::new(&engines).capture(&paths).capture_only(&[0], &[vec![], vec![2]]);
    /// let mut hits = PackMatches::new();
    /// let ev = br#"{"@timestamp":"t","event":{"category":"file"},"host":{"id":"h"},"file":{"path":"p"}}"#;
    /// pack.matches_json(ev, &mut hits).unwrap();
    /// assert_eq!(hits.rules(), &[1]);
    /// assert_eq!(hits.captured(), &[(0, Value::from("t")), (2, Value::from("p"))]);
    /// ```
    #[must_use]
    pub fn capture_only(mut self, always: &[u32], per_rule: &[Vec<u32>]) -> Pack {
        let len = self.captures.len();
        self.capture_needs = Some(Box::new(CaptureNeeds {
            always: bit_set(always, len),
            per_rule: per_rule.iter().map(|r| bit_set(r, len)).collect(),
        }));
        self
    }

    /// The projection of every field the pack reads (raw bytes → fields).
    pub fn projection(&self) -> &Projection {
        &self.projection
    }

    /// [`Pack::matches`] straight from one event's bytes (a JSON object),
    /// with no DOM: only the fields the pack reads are extracted. The bytes
    /// are checked as [`crate::parse_event`] checks them, against the
    /// strictest [`crate::CompileOptions::event_limits`] of the pack's queries.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, PackMatches, Pack};
    /// let opts = CompileOptions::default();
    /// let e = CompiledQuery::compile(r#"file where file.extension : "exe""#, &opts).unwrap();
    /// let pack = Pack::new(&[e]);
    /// let mut hits = PackMatches::new();
    /// pack.matches_json(br#"{"event":{"category":"file"},"file":{"extension":"EXE","size":3}}"#, &mut hits).unwrap();
    /// assert_eq!(hits.rules(), &[0]);
    /// ```
    pub fn matches_json(&self, bytes: &[u8], out: &mut PackMatches) -> Result<(), EventError> {
        let text = check_bytes(bytes, &self.limits)?;
        let t0 = out.profile_start(self.engines.len());
        let r = match self.matches_text(text, out) {
            // The projection pass skips what no rule reads: the full parser
            // names the error exactly as `parse_event` does (or finds none,
            // and the event is matched from its DOM).
            Err(e) if from_parser(&e.kind) => {
                parse_text(text, serde_json::from_str::<serde_json::Value>, json_type)
                    .map(|dom| self.matches_inner(&dom, out))
            }
            r => r,
        };
        out.profile_end(t0);
        r
    }

    /// [`Pack::matches_json`] of text that passed the checks.
    fn matches_text(&self, text: &str, out: &mut PackMatches) -> Result<(), EventError> {
        // The usual line: read by the quick reader straight into the
        // values of the pack's fields, else into a tree, in the buffer's
        // arena (reset, not freed, from event to event).
        let mut arena = std::mem::take(&mut out.arena);
        let (bump, scratch) = arena.parts();
        let mut found = recycle(std::mem::take(&mut out.flat_buf));
        let flat = self.flat.as_deref().filter(|plan| {
            let hints = out.key_hints.for_resolver(plan.resolver());
            quick::read_flat(text, bump, scratch, plan.resolver(), hints, &mut found).is_some()
        });
        let done = match flat {
            Some(plan) => {
                self.matches_inner(&FlatEvent::new(&found, plan, text), out);
                true
            }
            None => match quick::read(text, bump, scratch) {
                Some(tree) if tree.is_object() => {
                    self.matches_inner(&tree, out);
                    true
                }
                _ => false,
            },
        };
        out.flat_buf = recycle(found);
        out.arena = arena;
        if done {
            return Ok(());
        }
        // Anything else (nesting past the quick reader's depth, or text
        // that is not an event, whose error serde_json names): serde_json's
        // pass over the bytes into the pruned tree of the pack's fields.
        let ev = self.projection.parse_checked(text)?;
        self.matches_inner(&ev, out);
        Ok(())
    }

    /// Fills [`PackMatches::captured`] from `event`.
    fn capture_from(&self, event: &dyn Event, out: &mut PackMatches) {
        out.captured.clear();
        let captured = &mut out.captured;
        let bulk = event.resolve_all(&self.capture_read, &mut |k, v| {
            if let Ok(k) = u32::try_from(k) {
                captured.push((k, v.into_owned()));
            }
        });
        if bulk {
            captured.sort_unstable_by_key(|c| c.0);
            return;
        }
        for (k, p) in self.captures.iter().enumerate() {
            if let (Some(v), Ok(k)) = (event.get(p), u32::try_from(k)) {
                captured.push((k, v.into_owned()));
            }
        }
    }

    /// The routed plans, one per category field (EXPLAIN as data; the
    /// [`fmt::Display`] of the pack prints them).
    pub fn plans(&self) -> impl Iterator<Item = &PackPlan> {
        self.groups.iter().map(|g| &g.plan)
    }

    /// Number of rules in the pack.
    pub fn len(&self) -> usize {
        self.engines.len()
    }

    /// True when the pack has no rule.
    pub fn is_empty(&self) -> bool {
        self.engines.is_empty()
    }

    /// The index, in the slice given to [`Pack::new`], of pack rule `i`.
    pub fn rule_index(&self, i: u32) -> Option<usize> {
        self.origin.get(i as usize).copied()
    }

    /// [`Pack::rule_index`] of every pack rule, in pack order.
    #[cfg_attr(not(feature = "rules"), allow(dead_code))]
    pub(crate) fn origin(&self) -> &[usize] {
        &self.origin
    }

    /// The rules matching `event` go into `out` (pack indexes, ascending).
    pub fn matches(&self, event: &dyn Event, out: &mut PackMatches) {
        let t0 = out.profile_start(self.engines.len());
        self.matches_inner(event, out);
        out.profile_end(t0);
    }

    fn matches_inner(&self, event: &dyn Event, out: &mut PackMatches) {
        out.captured.clear();
        out.captured_done = self.captures.is_empty();
        out.rules.clear();
        out.left_out.clear();
        let n = self.groups.len();
        if out.slot_bufs.len() < n {
            out.slot_bufs.resize_with(n, SlotBuf::default);
        }
        // The captured fields the first group reads with its bucket's, in
        // the same pass, stay borrowed until every group has matched: then
        // only those the event's matches need are copied.
        let mut whole = recycle(std::mem::take(&mut out.whole_buf));
        // Every group's category values, exactly as the single-rule check
        // reads them: a string, or the strings among an array's items.
        let mut cats: SmallVec<[SmallVec<[Cow<'_, str>; 2]>; 2]> = smallvec![SmallVec::new(); n];
        let bulk = event.resolve_all(&self.category_read, &mut |i, v| {
            if let (Some(c), Value::Str(s)) = (cats.get_mut(i), v) {
                c.push(s);
            }
        });
        if !bulk {
            for (c, g) in cats.iter_mut().zip(&self.groups) {
                c.clear();
                c.extend(
                    event
                        .get(&g.category)
                        .into_iter()
                        .flat_map(Value::into_categories),
                );
            }
        }
        for ((g, k), cats) in self.groups.iter().zip(0..).zip(cats) {
            let buf = out
                .slot_bufs
                .get_mut(k)
                .map(std::mem::take)
                .unwrap_or_default();
            let buf = g.matches(&self.engines, event, cats, buf, &mut whole, out);
            if let Some(b) = out.slot_bufs.get_mut(k) {
                *b = buf;
            }
        }
        if n > 1 {
            out.rules.sort_unstable();
        }
        if out.captured_done {
            let want = self.capture_needs.as_deref().map(|c| c.wanted(&out.rules));
            out.captured.extend(
                whole
                    .drain(..)
                    .filter(|(k, _)| want.as_ref().is_none_or(|w| CaptureNeeds::holds(w, *k)))
                    .map(|(k, v)| (k, v.into_owned())),
            );
            out.captured.sort_unstable_by_key(|c| c.0);
        } else {
            // The event did not allow one pass: the captured fields are
            // read here.
            self.capture_from(event, out);
            if let Some(needs) = &self.capture_needs {
                needs.keep_wanted(out);
            }
        }
        out.whole_buf = recycle(whole);
    }
}

/// The EXPLAIN: each routed plan (headed by its category field when the
/// pack routes by several).
impl fmt::Display for Pack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for g in &self.groups {
            if self.groups.len() > 1 {
                writeln!(f, "routed by {}:", g.category)?;
            }
            write!(f, "{}", g.plan)?;
        }
        Ok(())
    }
}
