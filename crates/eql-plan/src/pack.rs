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

use crate::ir::{Cond, FieldId, FieldTable, Test, TestOp};
use aho_corasick::AhoCorasick;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};

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

/// One rule's witness set that an atom belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hit {
    /// The rule.
    pub rule: RuleId,
    /// Which of its witness sets (0 or 1).
    pub set: u8,
}

/// An Aho-Corasick automaton over `Contains` needles, with the rules each
/// needle serves.
///
/// Invariant: for a value `v` (folded when the index is case-insensitive),
/// `rules_in(v)` lists every rule that has an atom whose text occurs in `v`.
#[derive(Clone, Debug)]
pub struct ContainsIndex {
    ac: AhoCorasick,
    needles: Vec<String>,
    rules: Vec<Vec<Hit>>,
}

/// Exact values and contains-needles of one field in one bucket, for one
/// case mode.
///
/// Invariant: `hits(v, f)` calls `f` for every rule with an atom on this
/// field and case mode that `v` satisfies (and possibly twice for one rule).
#[derive(Clone, Debug, Default)]
pub struct FieldIndex {
    /// The field.
    pub field: FieldId,
    /// Matched against the folded value.
    pub ci: bool,
    exact: FxHashMap<Box<str>, Vec<Hit>>,
    /// Length bit set of the exact values (bit `min(len, 63)`): a value whose
    /// length has no bit is not hashed.
    exact_lens: u64,
    contains: Option<ContainsIndex>,
}

/// The bit of a text length in [`FieldIndex::exact_lens`].
fn len_bit(len: usize) -> u64 {
    1 << len.min(63)
}

impl FieldIndex {
    /// Calls `f` for each (rule, witness set) with an atom on this field
    /// that fires for `v`.
    pub fn hits(&self, v: &str, f: &mut impl FnMut(Hit)) {
        if self.exact_lens & len_bit(v.len()) != 0 {
            if let Some(rs) = self.exact.get(v) {
                rs.iter().copied().for_each(&mut *f);
            }
        }
        if let Some(c) = &self.contains {
            for m in c.ac.find_overlapping_iter(v) {
                if let Some(rs) = c.rules.get(m.pattern().as_usize()) {
                    rs.iter().copied().for_each(&mut *f);
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
    /// Per (field, case mode): the fused literals of the other rules.
    pub index: Vec<FieldIndex>,
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
        for (_, cond) in &rules {
            let mut atoms = Vec::new();
            all_atoms(cond, &mut atoms);
            atoms.sort();
            atoms.dedup();
            for a in atoms {
                *df.entry((a.field, a.ci, a.needle, a.text)).or_default() += 1;
            }
        }
        let cost = |a: &Atom| {
            let n = df
                .get(&(a.field, a.ci, a.needle, a.text.clone()))
                .copied()
                .unwrap_or(1);
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
        let buckets: FxHashMap<String, Bucket> = by_cat
            .into_iter()
            .enumerate()
            .map(|(id, (cat, mut ids))| {
                ids.extend(any.iter().copied());
                ids.sort_unstable();
                (cat, build_bucket(&rules, ids, id))
            })
            .collect();
        let other = build_bucket(&rules, any, buckets.len());
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

/// Per (field, case mode): exact values and contains-needles → rules.
type Literals = (FxHashMap<Box<str>, Vec<Hit>>, BTreeMap<String, Vec<Hit>>);

fn build_bucket(rules: &[RulePlan], ids: Vec<RuleId>, id: usize) -> Bucket {
    let mut always = Vec::new();
    // (field, ci) → (exact map, contains needles → rules)
    let mut per: BTreeMap<(FieldId, bool), Literals> = BTreeMap::new();
    for &id in &ids {
        let Some(r) = rules.get(id.0 as usize) else {
            continue;
        };
        if r.witnesses.is_empty() {
            always.push(id);
        }
        for (set, atoms) in r.witnesses.iter().enumerate() {
            let hit = Hit {
                rule: id,
                set: set as u8,
            };
            for a in atoms {
                let e = per.entry((a.field, a.ci)).or_default();
                match a.needle {
                    Needle::Exact => {
                        e.0.entry(a.text.clone().into_boxed_str())
                            .or_default()
                            .push(hit);
                    }
                    Needle::Contains => e.1.entry(a.text.clone()).or_default().push(hit),
                }
            }
        }
    }
    let mut index = Vec::new();
    for ((field, ci), (mut exact, contains)) in per {
        for v in exact.values_mut() {
            v.sort_unstable();
            v.dedup();
        }
        let contains = if contains.is_empty() {
            None
        } else {
            let needles: Vec<String> = contains.keys().cloned().collect();
            let rules: Vec<Vec<Hit>> = contains.into_values().collect();
            let built = AhoCorasick::builder()
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .prefilter(false)
                .build(&needles)
                .or_else(|_| AhoCorasick::new(&needles));
            if let Ok(ac) = built {
                Some(ContainsIndex { ac, needles, rules })
            } else {
                // Cannot index: evaluate these rules always (never miss).
                for hs in rules {
                    always.extend(hs.iter().map(|h| h.rule));
                }
                None
            }
        };
        let exact_lens = exact.keys().fold(0, |m, k| m | len_bit(k.len()));
        index.push(FieldIndex {
            field,
            ci,
            exact,
            exact_lens,
            contains,
        });
    }
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
        fields,
        id,
    }
}

/// A necessary condition for `c`: a set of atoms of which one fires whenever
/// `c` holds, or `None` when no such set is known. Under an `and`, the child
/// with the cheapest atoms is chosen (see [`witness_with`]).
pub fn witness(c: &Cond) -> Option<Vec<Atom>> {
    witness_with(c, &|a| atom_cost(a, 1))
}

/// [`witness`] with a cost per atom: under an `and`, the child whose atoms
/// cost least in total gives the witness.
pub fn witness_with(c: &Cond, cost: &dyn Fn(&Atom) -> u64) -> Option<Vec<Atom>> {
    match c {
        Cond::Const(false) => Some(Vec::new()),
        Cond::Const(true) | Cond::Not(_) | Cond::Generic(_) => None,
        Cond::Test(t) => test_witness(t),
        Cond::Witnessed(atoms, _) => Some(atoms.clone()),
        Cond::Or(cs) => {
            let mut all = Vec::new();
            for x in cs {
                all.extend(witness_with(x, cost)?);
            }
            all.sort();
            all.dedup();
            Some(all)
        }
        Cond::And(cs) => cs
            .iter()
            .filter_map(|x| witness_with(x, cost))
            .min_by_key(|w| w.iter().map(cost).sum::<u64>()),
    }
}

/// Up to two independent witness sets: for an `and`, the two cheapest
/// children that have one; otherwise the condition's single witness.
fn witness_sets(c: &Cond, cost: &dyn Fn(&Atom) -> u64) -> Vec<Vec<Atom>> {
    if let Cond::And(cs) = c {
        let mut ws: Vec<(u64, Vec<Atom>)> = cs
            .iter()
            .filter_map(|x| witness_with(x, cost))
            .map(|w| (w.iter().map(cost).sum::<u64>(), w))
            .collect();
        ws.sort_by_key(|(c, _)| *c);
        return ws.into_iter().take(2).map(|(_, w)| w).collect();
    }
    witness_with(c, cost).into_iter().collect()
}

/// Every atom a condition could use as a witness (its positive tests).
fn all_atoms(c: &Cond, out: &mut Vec<Atom>) {
    match c {
        Cond::Test(t) => out.extend(test_witness(t).unwrap_or_default()),
        Cond::Witnessed(atoms, _) => out.extend(atoms.iter().cloned()),
        Cond::And(cs) | Cond::Or(cs) => cs.iter().for_each(|x| all_atoms(x, out)),
        Cond::Const(_) | Cond::Not(_) | Cond::Generic(_) => {}
    }
}

/// The cost of an atom that `df` rules of the pack share: a literal many
/// rules test (`host.os.type == "windows"`) is likely common in events too,
/// so rare literals make better witnesses; short contains-needles fire often.
fn atom_cost(a: &Atom, df: u64) -> u64 {
    let base = match a.needle {
        Needle::Exact => 2,
        Needle::Contains if a.text.len() >= 4 => 3,
        Needle::Contains => 20,
    };
    base * df.max(1)
}

fn test_witness(t: &Test) -> Option<Vec<Atom>> {
    match &t.op {
        TestOp::In { strs, others, ci } => {
            if !others.is_empty() || strs.is_empty() {
                return None;
            }
            Some(
                strs.members()
                    .into_iter()
                    .map(|s| Atom {
                        field: t.field,
                        needle: Needle::Exact,
                        text: s.to_owned(),
                        ci: *ci,
                    })
                    .collect(),
            )
        }
        TestOp::Glob { exact, globs, ci } => {
            let mut atoms: Vec<Atom> = exact
                .members()
                .into_iter()
                .map(|s| Atom {
                    field: t.field,
                    needle: Needle::Exact,
                    text: s.to_owned(),
                    ci: *ci,
                })
                .collect();
            for g in globs {
                let lit = g.required_literal();
                if lit.is_empty() {
                    return None;
                }
                atoms.push(Atom {
                    field: t.field,
                    needle: Needle::Contains,
                    text: lit.to_owned(),
                    ci: *ci,
                });
            }
            Some(atoms)
        }
        TestOp::Regex { sources, ci, .. } => {
            // Case-insensitive regexes fold by Unicode simple case folding,
            // which differs from `fold`: no witness rather than a wrong one.
            if *ci {
                return None;
            }
            let mut atoms = Vec::new();
            for src in sources {
                let lit = regex_required_literal(src)?;
                atoms.push(Atom {
                    field: t.field,
                    needle: Needle::Contains,
                    text: lit,
                    ci: false,
                });
            }
            Some(atoms)
        }
        TestOp::Cmp { .. } => None,
    }
}

/// The longest literal (at least 3 bytes) that every match of the
/// case-sensitive pattern `src` contains, from the regex crate's own parse;
/// `None` when there is none.
///
/// ```
/// assert_eq!(eql_plan::regex_required_literal(r"C:\\Windows\\.*\.exe").as_deref(), Some("C:\\Windows\\"));
/// assert_eq!(eql_plan::regex_required_literal("(abc|abd)x"), None);
/// assert_eq!(eql_plan::regex_required_literal("(?i)powershell"), None);
/// ```
pub fn regex_required_literal(src: &str) -> Option<String> {
    use regex_syntax::hir::{Hir, HirKind};
    fn required(h: &Hir, out: &mut Vec<String>) {
        match h.kind() {
            HirKind::Literal(l) => {
                if let Ok(s) = std::str::from_utf8(&l.0) {
                    out.push(s.to_owned());
                }
            }
            HirKind::Concat(subs) => {
                let mut run = String::new();
                for s in subs {
                    match s.kind() {
                        HirKind::Literal(l) => match std::str::from_utf8(&l.0) {
                            Ok(t) => run.push_str(t),
                            Err(_) => out.push(std::mem::take(&mut run)),
                        },
                        _ => {
                            out.push(std::mem::take(&mut run));
                            required(s, out);
                        }
                    }
                }
                out.push(run);
            }
            HirKind::Capture(c) => required(&c.sub, out),
            HirKind::Repetition(r) if r.min >= 1 => required(&r.sub, out),
            _ => {}
        }
    }
    let hir = regex_syntax::ParserBuilder::new()
        .dot_matches_new_line(true)
        .build()
        .parse(src)
        .ok()?;
    let mut lits = Vec::new();
    required(&hir, &mut lits);
    lits.into_iter()
        .filter(|l| l.len() >= 3)
        .max_by_key(String::len)
}

impl fmt::Display for PackPlan {
    /// EXPLAIN: routed buckets, fused matchers with their needles, the rules
    /// always evaluated, and each rule's lowered condition.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |id: FieldId| self.fields.path(id).dotted().to_owned();
        writeln!(
            f,
            "pack: {} rules, {} fields",
            self.rules.len(),
            self.fields.len()
        )?;
        writeln!(
            f,
            "fields: {}",
            self.fields
                .paths()
                .iter()
                .map(crate::FieldPath::dotted)
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        writeln!(f, "routing on {}:", name(self.category_field))?;
        let mut cats: Vec<(&String, &Bucket)> = self.buckets.iter().collect();
        cats.sort_by(|a, b| a.0.cmp(b.0));
        let other = String::from("(other)");
        cats.push((&other, &self.other));
        for (cat, b) in cats {
            writeln!(
                f,
                "  bucket {cat}: {} rules, {} always evaluated {:?}",
                b.rules.len(),
                b.always.len(),
                b.always.iter().map(|r| r.0).collect::<Vec<_>>()
            )?;
            for ix in &b.index {
                let mut exact: Vec<(&str, Vec<u32>)> = ix
                    .exact
                    .iter()
                    .map(|(k, v)| (&**k, v.iter().map(|h| h.rule.0).collect()))
                    .collect();
                exact.sort();
                let mut s = String::new();
                for (k, v) in exact.iter().take(8) {
                    let _ = write!(s, "{k:?}→{v:?} ");
                }
                if exact.len() > 8 {
                    let _ = write!(s, "… ({} values)", exact.len());
                }
                writeln!(
                    f,
                    "    matcher {}{}: exact[{}] {}",
                    name(ix.field),
                    if ix.ci { " (folded)" } else { "" },
                    exact.len(),
                    s.trim_end()
                )?;
                if let Some(c) = &ix.contains {
                    let mut s = String::new();
                    for (n, rs) in c.needles.iter().zip(&c.rules).take(8) {
                        let _ = write!(
                            s,
                            "{n:?}→{:?} ",
                            rs.iter().map(|r| r.rule.0).collect::<Vec<_>>()
                        );
                    }
                    if c.needles.len() > 8 {
                        let _ = write!(s, "… ({} needles)", c.needles.len());
                    }
                    writeln!(
                        f,
                        "      aho-corasick contains[{}] {}",
                        c.needles.len(),
                        s.trim_end()
                    )?;
                }
            }
        }
        for (i, r) in self.rules.iter().enumerate() {
            writeln!(
                f,
                "rule {i} ({}): witness {}",
                r.category.as_deref().unwrap_or("any"),
                if r.witnesses.is_empty() {
                    "none (always evaluated)".to_owned()
                } else {
                    r.witnesses
                        .iter()
                        .map(|w| format!("{} atoms", w.len()))
                        .collect::<Vec<_>>()
                        .join(" and ")
                }
            )?;
            let mut s = String::new();
            r.cond.explain(&self.fields, 1, &mut s);
            f.write_str(&s)?;
        }
        Ok(())
    }
}
