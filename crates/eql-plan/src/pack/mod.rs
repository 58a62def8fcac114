//! A whole rule pack as one plan: rules routed by event category, and a
//! candidate index that fuses the string literals of every rule into one
//! matcher per (category, field, case mode).
//!
//! For each rule the planner derives *witnesses*: sets of atoms (a field
//! holding an exact value, or a value containing a literal) such that the rule
//! can only match an event where at least one atom of each set fires. A rule
//! whose condition is an `and` gets up to two sets, from two different
//! children (the rarest literals of the pack first). At run time the engine
//! evaluates a rule only when its category bucket is selected and either every
//! one of its sets fired or it has none. Negated subtrees give no witness, so
//! the index over-approximates and never misses a match.

use crate::ir::{Cond, FieldId, FieldTable};
use aho_corasick::AhoCorasick;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, HashMap};

mod explain;
mod literals;
mod witness;

pub use literals::regex_required_literals;
use witness::{all_atoms, all_literals, atom_cost, needle_spread, value_number_key, witness_sets};
pub use witness::{number_atom_text, witness, witness_with};

/// A rule's index in its pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub u32);

/// How an atom's text must occur in a field's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Needle {
    /// The whole value.
    Exact,
    /// Anywhere in the value (prefix, suffix and wildcard pieces use this
    /// anchor: weaker, still necessary).
    Contains,
    /// A number equal to the atom's ([`number_atom_text`]), or a string
    /// that reads as one.
    Number,
}

/// One necessary literal of a rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Atom {
    /// The field.
    pub field: FieldId,
    /// Its anchor.
    pub needle: Needle,
    /// The literal (folded when `ci`).
    pub text: String,
    /// Matched against the folded value.
    pub ci: bool,
}

/// One rule of a pack, lowered.
#[derive(Clone, Debug)]
pub struct RulePlan {
    /// Its category (`None` for `any`).
    pub category: Option<String>,
    /// The lowered condition.
    pub cond: Cond,
    /// Sets of atoms: for the rule to match, one atom of *each* set must
    /// fire. Empty when the rule must always be evaluated.
    pub witnesses: Vec<Vec<Atom>>,
}

/// A distinct witness set of a bucket (rules with the same set of atoms,
/// such as `event.type == "start"`, share one): an index into
/// [`Bucket::by_primary`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SetId(pub u32);

/// One ASCII-case-insensitive Aho-Corasick automaton over a field's
/// `Contains` needles of both case modes, with the witness sets each
/// needle serves.
///
/// Invariant: for a value `v`, the sets of every case-sensitive needle
/// occurring in `v` and of every folded needle occurring in `fold(v)` are
/// reported. One pass over an ASCII `v` serves both modes: there `fold` is
/// ASCII lower-casing, so a folded needle occurs in `fold(v)` exactly when
/// the automaton finds it in `v`, and a case-sensitive needle's hit is kept
/// when its bytes in `v` are the needle's own.
#[derive(Clone, Debug)]
pub struct ContainsIndex {
    ac: AhoCorasick,
    needles: Vec<String>,
    /// Per needle: matched against the folded value.
    folded: Vec<bool>,
    /// Some needle is folded.
    any_folded: bool,
    sets: Vec<Vec<SetId>>,
}

impl ContainsIndex {
    /// Reports the sets of the needles found in `text`: the case-sensitive
    /// ones (their bytes checked) when `raw`, the folded ones when `folded`.
    fn scan(&self, text: &str, raw: bool, folded: bool, f: &mut impl FnMut(SetId)) {
        for m in self.ac.find_overlapping_iter(text) {
            let k = m.pattern().as_usize();
            let keep = if self.folded.get(k).copied().unwrap_or(false) {
                folded
            } else {
                raw && self
                    .needles
                    .get(k)
                    .is_some_and(|n| text.as_bytes().get(m.range()) == Some(n.as_bytes()))
            };
            if keep {
                if let Some(ss) = self.sets.get(k) {
                    ss.iter().copied().for_each(&mut *f);
                }
            }
        }
    }
}

/// Exact values, contains-needles and numbers of one field in one bucket,
/// both case modes together.
///
/// Invariant: `hits(v, folded, f)` calls `f` for every witness set with a
/// string atom on this field that `v` satisfies (possibly twice for one
/// set): case-sensitive atoms against `v`, folded ones against `fold(v)`.
#[derive(Clone, Debug, Default)]
pub struct FieldIndex {
    /// The field.
    pub field: FieldId,
    /// Exact values, matched against the value as it is.
    exact: FxHashMap<Box<str>, Vec<SetId>>,
    /// Length bit set of `exact` (bit `min(len, 63)`): a value whose
    /// length has no bit is not hashed.
    exact_lens: u64,
    /// Exact values, matched against the folded value.
    exact_folded: FxHashMap<Box<str>, Vec<SetId>>,
    /// Length bit set of `exact_folded`.
    folded_lens: u64,
    contains: Option<ContainsIndex>,
    /// Numeric atoms, by the key [`FieldIndex::number_hits`] looks up.
    numbers: FxHashMap<u64, Vec<SetId>>,
}

/// The bit of a text length in [`FieldIndex::exact_lens`].
fn len_bit(len: usize) -> u64 {
    1 << len.min(63)
}

/// The sets of `map`'s entry for `v`, when `lens` has `v`'s length.
fn exact_hits(
    map: &FxHashMap<Box<str>, Vec<SetId>>,
    lens: u64,
    v: &str,
    f: &mut impl FnMut(SetId),
) {
    if lens & len_bit(v.len()) != 0 {
        if let Some(ss) = map.get(v) {
            ss.iter().copied().for_each(f);
        }
    }
}

impl FieldIndex {
    /// True when the index has string atoms (exact values or needles), to be
    /// fed the field's strings through [`FieldIndex::hits`].
    pub fn has_strings(&self) -> bool {
        !self.exact.is_empty() || !self.exact_folded.is_empty() || self.contains.is_some()
    }

    /// True when the index has `contains` needles (an automaton to scan
    /// each value with).
    pub fn has_contains(&self) -> bool {
        self.contains.is_some()
    }

    /// True when the index has numeric atoms, to be fed the field's scalars
    /// through [`FieldIndex::number_hits`].
    pub fn has_numbers(&self) -> bool {
        !self.numbers.is_empty()
    }

    /// True when [`FieldIndex::hits`] of a value reads its folded form:
    /// folded exact values, or folded needles and the value is not `ascii`
    /// (an ASCII value serves the needles as it is).
    pub fn needs_folded(&self, ascii: bool) -> bool {
        !self.exact_folded.is_empty()
            || self
                .contains
                .as_ref()
                .is_some_and(|c| c.any_folded && !ascii)
    }

    /// Calls `f` for each witness set with a numeric atom on this field that
    /// fires for the scalar `v`: a number equal to the atom's as the
    /// evaluator compares numbers, or a string that reads as such a number.
    pub fn number_hits(&self, v: &crate::Value<'_>, f: &mut impl FnMut(SetId)) {
        if let Some(ss) = value_number_key(v).and_then(|k| self.numbers.get(&k)) {
            ss.iter().copied().for_each(f);
        }
    }

    /// Calls `f` for each witness set with a string atom on this field that
    /// fires for `v`. `folded` is `fold(v)` when the caller has it (it is
    /// read only when [`FieldIndex::needs_folded`]; without it the index
    /// folds `v` itself).
    pub fn hits(&self, v: &str, folded: Option<&str>, f: &mut impl FnMut(SetId)) {
        exact_hits(&self.exact, self.exact_lens, v, f);
        let own;
        let folded = match folded {
            Some(w) => Some(w),
            None if self.needs_folded(v.is_ascii()) => {
                own = crate::matcher::fold(v);
                Some(&*own)
            }
            None => None,
        };
        if let Some(w) = folded {
            exact_hits(&self.exact_folded, self.folded_lens, w, f);
        }
        if let Some(c) = &self.contains {
            if !c.any_folded || v.is_ascii() {
                c.scan(v, true, true, f);
            } else {
                c.scan(v, true, false, f);
                if let Some(w) = folded {
                    c.scan(w, false, true, f);
                }
            }
        }
    }
}

/// The rules of one category (plus the `any` rules) and their index.
#[derive(Clone, Debug, Default)]
pub struct Bucket {
    /// Every rule of the bucket.
    pub rules: Vec<RuleId>,
    /// Rules without a witness: always evaluated.
    pub always: Vec<RuleId>,
    /// Per (field, case mode): the fused literals of the other rules'
    /// witness sets.
    pub index: Vec<FieldIndex>,
    /// Per witness set: the rules whose *primary* set it is (the one of
    /// their sets that fewest rules of the bucket share), each with its
    /// other set, which must have fired too. A set that fires visits only
    /// these rules, so an atom shared by hundreds of rules as their second
    /// set (`event.type == "start"`) costs one mark, not hundreds.
    pub by_primary: Vec<Vec<(RuleId, Option<SetId>)>>,
    /// Per witness set: every rule that has it (EXPLAIN).
    pub set_rules: Vec<Vec<RuleId>>,
    /// The fields the index and the compiled tests of the rules read,
    /// ascending (generic leaves read the event themselves).
    pub fields: Vec<FieldId>,
    /// The bucket's position in [`PackPlan::buckets`].
    pub id: usize,
}

/// A compiled pack.
#[derive(Clone, Debug)]
pub struct PackPlan {
    /// Every field the pack reads, each once.
    pub fields: FieldTable,
    /// The category field's id.
    pub category_field: FieldId,
    /// The rules, by [`RuleId`].
    pub rules: Vec<RulePlan>,
    buckets: FxHashMap<String, Bucket>,
    /// Events whose category selects no bucket: the `any` rules.
    other: Bucket,
}

impl PackPlan {
    /// Builds the pack: `rules` were lowered against `fields`.
    pub fn new(
        mut fields: FieldTable,
        category_field: &crate::FieldPath,
        rules: Vec<(Option<String>, Cond)>,
    ) -> PackPlan {
        let category_field = fields.intern(category_field);
        // How many rules could use each literal: the witness choice prefers
        // rare ones.
        let mut df: HashMap<(FieldId, bool, Needle, String), u64> = HashMap::new();
        let mut literals = Vec::with_capacity(rules.len());
        for (_, cond) in &rules {
            let mut atoms = Vec::new();
            all_atoms(cond, &mut atoms);
            atoms.sort();
            atoms.dedup();
            for a in atoms {
                *df.entry((a.field, a.ci, a.needle, a.text)).or_default() += 1;
            }
            let mut all = Vec::new();
            all_literals(cond, &mut all);
            literals.push(all);
        }
        let spread = needle_spread(&literals);
        let cost = |a: &Atom| {
            let mut n = df
                .get(&(a.field, a.ci, a.needle, a.text.clone()))
                .copied()
                .unwrap_or(1);
            if a.needle == Needle::Contains {
                let key = (a.field, crate::fold(&a.text).into_owned());
                n = n.max(spread.get(&key).copied().unwrap_or(0));
            }
            atom_cost(a, n)
        };
        let rules: Vec<RulePlan> = rules
            .into_iter()
            .map(|(category, cond)| {
                let witnesses = witness_sets(&cond, &cost);
                RulePlan {
                    category,
                    cond,
                    witnesses,
                }
            })
            .collect();
        let mut by_cat: BTreeMap<String, Vec<RuleId>> = BTreeMap::new();
        let mut any: Vec<RuleId> = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let id = RuleId(i as u32);
            match &r.category {
                Some(c) => by_cat.entry(c.clone()).or_default().push(id),
                None => any.push(id),
            }
        }
        let mut work: Vec<(String, Vec<RuleId>)> = by_cat
            .into_iter()
            .map(|(cat, mut ids)| {
                ids.extend(any.iter().copied());
                ids.sort_unstable();
                (cat, ids)
            })
            .collect();
        let other_id = work.len();
        work.push((String::new(), any));
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let mut built = build_buckets(&rules, work, cores);
        let other = built.pop().map_or_else(Bucket::default, |(_, b)| b);
        debug_assert_eq!(other.id, other_id);
        let buckets: FxHashMap<String, Bucket> = built.into_iter().collect();
        PackPlan {
            fields,
            category_field,
            rules,
            buckets,
            other,
        }
    }

    /// The bucket of a category value (`None`: the `any` rules only).
    pub fn bucket(&self, category: Option<&str>) -> &Bucket {
        category
            .and_then(|c| self.buckets.get(c))
            .unwrap_or(&self.other)
    }

    /// Every bucket, by [`Bucket::id`]: one per category, then the bucket
    /// of the events whose category selects none.
    pub fn buckets(&self) -> Vec<&Bucket> {
        let mut all: Vec<&Bucket> = self.buckets.values().collect();
        all.sort_by_key(|b| b.id);
        all.push(&self.other);
        all
    }

    /// Every field the pack reads.
    pub fn fields(&self) -> &[crate::FieldPath] {
        self.fields.paths()
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True for an empty pack.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// The buckets of `work` (each a category and its rules; bucket `i` gets
/// id `i`), in order. With more than one of `cores` and buckets of many
/// rules in all, they are built on scoped threads, the largest first (a
/// bucket's automata are the costly part of building a pack); where no
/// thread can start, on the caller's. The result is the same either way.
fn build_buckets(
    rules: &[RulePlan],
    work: Vec<(String, Vec<RuleId>)>,
    cores: usize,
) -> Vec<(String, Bucket)> {
    /// Fewer rules than this in all the buckets: one thread.
    const MIN_RULES: usize = 256;
    let total: usize = work.iter().map(|w| w.1.len()).sum();
    let threads = if total < MIN_RULES {
        1
    } else {
        cores.min(work.len())
    };
    // Largest first, each to the thread with the fewest rules so far.
    let mut order: Vec<usize> = (0..work.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(work.get(i).map_or(0, |w| w.1.len())));
    let mut shares: Vec<(usize, Vec<usize>)> = vec![(0, Vec::new()); threads.max(1)];
    for i in order {
        if let Some(least) = shares.iter_mut().min_by_key(|s| s.0) {
            least.0 += work.get(i).map_or(0, |w| w.1.len());
            least.1.push(i);
        }
    }
    let build = |share: &[usize]| -> Vec<(usize, Bucket)> {
        share
            .iter()
            .filter_map(|&i| Some((i, build_bucket(rules, work.get(i)?.1.clone(), i))))
            .collect()
    };
    let mut done = crate::run_shares(shares.len(), |k| {
        shares.get(k).map_or_else(Vec::new, |sh| build(&sh.1))
    });
    done.sort_unstable_by_key(|d| d.0);
    let mut names: Vec<Option<String>> = work.into_iter().map(|w| Some(w.0)).collect();
    done.into_iter()
        .map(|(i, b)| {
            (
                names.get_mut(i).and_then(Option::take).unwrap_or_default(),
                b,
            )
        })
        .collect()
}

/// Per field: exact values (as they are, folded), contains-needles (with
/// their case mode) and numbers → sets.
#[derive(Default)]
struct Literals {
    exact: FxHashMap<Box<str>, Vec<SetId>>,
    exact_folded: FxHashMap<Box<str>, Vec<SetId>>,
    contains: BTreeMap<(String, bool), Vec<SetId>>,
    numbers: FxHashMap<u64, Vec<SetId>>,
}

fn build_bucket(rules: &[RulePlan], ids: Vec<RuleId>, id: usize) -> Bucket {
    let mut always = Vec::new();
    // Each distinct witness set once, with every rule that has it.
    let mut set_of: HashMap<Vec<Atom>, SetId> = HashMap::new();
    let mut set_atoms: Vec<Vec<Atom>> = Vec::new();
    let mut set_rules: Vec<Vec<RuleId>> = Vec::new();
    let mut rule_sets: Vec<(RuleId, Vec<SetId>)> = Vec::new();
    for &id in &ids {
        let Some(r) = rules.get(id.0 as usize) else {
            continue;
        };
        if r.witnesses.is_empty() {
            always.push(id);
            continue;
        }
        let mut mine = Vec::new();
        for atoms in &r.witnesses {
            let mut key = atoms.clone();
            key.sort();
            key.dedup();
            let sid = *set_of.entry(key.clone()).or_insert_with(|| {
                set_atoms.push(key);
                set_rules.push(Vec::new());
                SetId(set_rules.len() as u32 - 1)
            });
            if !mine.contains(&sid) {
                mine.push(sid);
                if let Some(rs) = set_rules.get_mut(sid.0 as usize) {
                    rs.push(id);
                }
            }
        }
        rule_sets.push((id, mine));
    }
    // Each rule hangs off its rarest set; the other one is checked then.
    let mut by_primary: Vec<Vec<(RuleId, Option<SetId>)>> = vec![Vec::new(); set_rules.len()];
    let shared = |s: &SetId| set_rules.get(s.0 as usize).map_or(0, Vec::len);
    for (id, mine) in &rule_sets {
        let Some(&primary) = mine.iter().min_by_key(|s| shared(s)) else {
            continue;
        };
        let second = mine.iter().copied().find(|&s| s != primary);
        if let Some(list) = by_primary.get_mut(primary.0 as usize) {
            list.push((*id, second));
        }
    }
    let index = field_indexes(&set_atoms, &set_rules, &mut always);
    always.sort_unstable();
    always.dedup();
    let mut fields: Vec<FieldId> = index.iter().map(|ix| ix.field).collect();
    for r in &ids {
        if let Some(r) = rules.get(r.0 as usize) {
            r.cond.test_fields(&mut fields);
        }
    }
    fields.sort_unstable();
    fields.dedup();
    Bucket {
        rules: ids,
        always,
        index,
        by_primary,
        set_rules,
        fields,
        id,
    }
}

/// The candidate index of a bucket: per field, its exact values and
/// contains-needles of both case modes, each with the witness sets it
/// fires. The rules of sets whose needles cannot be indexed go to `always`.
fn field_indexes(
    set_atoms: &[Vec<Atom>],
    set_rules: &[Vec<RuleId>],
    always: &mut Vec<RuleId>,
) -> Vec<FieldIndex> {
    let mut per: BTreeMap<FieldId, Literals> = BTreeMap::new();
    for (k, atoms) in set_atoms.iter().enumerate() {
        let sid = SetId(k as u32);
        for a in atoms {
            let e = per.entry(a.field).or_default();
            match a.needle {
                Needle::Exact => {
                    let map = if a.ci {
                        &mut e.exact_folded
                    } else {
                        &mut e.exact
                    };
                    map.entry(a.text.clone().into_boxed_str())
                        .or_default()
                        .push(sid);
                }
                Needle::Contains => e
                    .contains
                    .entry((a.text.clone(), a.ci))
                    .or_default()
                    .push(sid),
                Needle::Number => {
                    // The text came from `number_atom_text`; a text that is
                    // not a number (an atom built by hand) cannot be
                    // indexed: its rules are always evaluated.
                    let key = a
                        .text
                        .parse::<f64>()
                        .ok()
                        .and_then(|x| value_number_key(&crate::Value::Float(x)));
                    match key {
                        Some(key) => e.numbers.entry(key).or_default().push(sid),
                        None => always.extend(set_rules.get(k).into_iter().flatten()),
                    }
                }
            }
        }
    }
    let mut index = Vec::new();
    for (field, mut lit) in per {
        for v in lit
            .exact
            .values_mut()
            .chain(lit.exact_folded.values_mut())
            .chain(lit.numbers.values_mut())
        {
            v.sort_unstable();
            v.dedup();
        }
        let contains = contains_index(lit.contains, set_rules, always);
        let lens =
            |m: &FxHashMap<Box<str>, Vec<SetId>>| m.keys().fold(0, |b, k| b | len_bit(k.len()));
        index.push(FieldIndex {
            field,
            exact_lens: lens(&lit.exact),
            folded_lens: lens(&lit.exact_folded),
            exact: lit.exact,
            exact_folded: lit.exact_folded,
            contains,
            numbers: lit.numbers,
        });
    }
    index
}

/// The automaton of one field's needles (`(text, folded)` → sets), or
/// `None` when there are none or it cannot be built (then their sets'
/// rules go to `always`: never miss).
fn contains_index(
    contains: BTreeMap<(String, bool), Vec<SetId>>,
    set_rules: &[Vec<RuleId>],
    always: &mut Vec<RuleId>,
) -> Option<ContainsIndex> {
    if contains.is_empty() {
        return None;
    }
    let (keys, sets): (Vec<(String, bool)>, Vec<Vec<SetId>>) = contains.into_iter().unzip();
    let (needles, folded): (Vec<String>, Vec<bool>) = keys.into_iter().unzip();
    let built = AhoCorasick::builder()
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .ascii_case_insensitive(true)
        .prefilter(false)
        .build(&needles)
        .or_else(|_| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&needles)
        });
    match built {
        Ok(ac) => Some(ContainsIndex {
            ac,
            any_folded: folded.iter().any(|&f| f),
            needles,
            folded,
            sets,
        }),
        Err(_) => {
            for s in sets.iter().flatten() {
                always.extend(set_rules.get(s.0 as usize).into_iter().flatten());
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` rules over four categories, each with a witness set of an
    /// exact value, a contains-needle or a number on one of three fields
    /// (every 29th with none).
    fn rules(n: u32) -> Vec<RulePlan> {
        (0..n)
            .map(|i| {
                let (needle, text) = match i % 3 {
                    0 => (Needle::Exact, format!("v{}", i % 17)),
                    1 => (Needle::Contains, format!("part{}", i % 23)),
                    _ => (Needle::Number, format!("{}", i % 11)),
                };
                let atom = Atom {
                    field: FieldId(i % 3),
                    needle,
                    text,
                    ci: i % 2 == 0,
                };
                let category = ["process", "file", "network", "registry"][(i % 4) as usize];
                RulePlan {
                    category: Some(category.to_owned()),
                    cond: Cond::Const(true),
                    witnesses: if i % 29 == 0 {
                        Vec::new()
                    } else {
                        vec![vec![atom]]
                    },
                }
            })
            .collect()
    }

    #[test]
    fn buckets_built_on_threads_are_those_built_on_one() {
        let rules = rules(400);
        let work: Vec<(String, Vec<RuleId>)> = ["file", "network", "process", "registry"]
            .iter()
            .map(|c| {
                let ids = (0..400u32)
                    .filter(|&i| {
                        rules.get(i as usize).and_then(|r| r.category.as_deref()) == Some(*c)
                    })
                    .map(RuleId)
                    .collect();
                ((*c).to_owned(), ids)
            })
            .collect();
        let show = |b: Vec<(String, Bucket)>| format!("{b:?}");
        let one = show(build_buckets(&rules, work.clone(), 1));
        assert!(
            one.contains("\"process\"") && one.contains("part22"),
            "{one}"
        );
        for cores in [2, 3, 8] {
            assert_eq!(
                show(build_buckets(&rules, work.clone(), cores)),
                one,
                "{cores} cores"
            );
        }
    }
}
