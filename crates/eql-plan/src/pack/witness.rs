//! Witnesses: the sets of atoms one of which fires whenever a condition
//! holds, the candidate index's keys.

use super::literals::regex_required_literals;
use super::{Atom, Needle};
use crate::ir::{Cond, FieldId, Test, TestOp};
use crate::matcher::StrSet;
use crate::{fold, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
        Cond::Const(true) | Cond::Not(_) | Cond::Generic(_) | Cond::Null { .. } => None,
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
pub(super) fn witness_sets(c: &Cond, cost: &dyn Fn(&Atom) -> u64) -> Vec<Vec<Atom>> {
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
pub(super) fn all_atoms(c: &Cond, out: &mut Vec<Atom>) {
    match c {
        Cond::Test(t) => out.extend(test_witness(t).unwrap_or_default()),
        Cond::Witnessed(atoms, _) => out.extend(atoms.iter().cloned()),
        Cond::And(cs) | Cond::Or(cs) => cs.iter().for_each(|x| all_atoms(x, out)),
        Cond::Const(_) | Cond::Not(_) | Cond::Generic(_) | Cond::Null { .. } => {}
    }
}

/// Every literal a condition compares a field with, negated or not (as
/// atoms): what the pack's rules say about the values of each field.
pub(super) fn all_literals(c: &Cond, out: &mut Vec<Atom>) {
    match c {
        Cond::Test(t) => out.extend(test_witness(t).unwrap_or_default()),
        Cond::Witnessed(atoms, inner) => {
            out.extend(atoms.iter().cloned());
            all_literals(inner, out);
        }
        Cond::And(cs) | Cond::Or(cs) => cs.iter().for_each(|x| all_literals(x, out)),
        Cond::Not(inner) => all_literals(inner, out),
        Cond::Const(_) | Cond::Generic(_) | Cond::Null { .. } => {}
    }
}

/// For each contains-needle among `rules` (each rule's literals, from
/// [`all_literals`]): how many (rule, literal) pairs on the same field
/// contain it, folded. The literals of a pack sample the values of a field,
/// each about as often as it occurs (the count of an exact atom is its
/// rarity estimate), so a needle inside many of them (`.exe` in the process
/// names of hundreds of rules) fires about as often as all of them
/// together, however few rules test it as a needle.
pub(super) fn needle_spread(rules: &[Vec<Atom>]) -> HashMap<(FieldId, String), u64> {
    let mut needles: BTreeMap<FieldId, BTreeSet<String>> = BTreeMap::new();
    for a in rules.iter().flatten() {
        if a.needle == Needle::Contains {
            needles
                .entry(a.field)
                .or_default()
                .insert(fold(&a.text).into_owned());
        }
    }
    // The distinct (rule, literal) pairs of each field that has needles.
    let mut pairs: BTreeMap<FieldId, BTreeSet<(usize, String)>> = BTreeMap::new();
    for (r, atoms) in rules.iter().enumerate() {
        for a in atoms {
            if a.needle != Needle::Number && needles.contains_key(&a.field) {
                pairs
                    .entry(a.field)
                    .or_default()
                    .insert((r, fold(&a.text).into_owned()));
            }
        }
    }
    let mut spread = HashMap::new();
    for (field, set) in needles {
        let set: Vec<String> = set.into_iter().collect();
        // Built once per pack, used on each literal once: the cheapest
        // automaton to build.
        let Ok(ac) = aho_corasick::AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
            .prefilter(false)
            .build(&set)
        else {
            continue;
        };
        // Per needle: the last pair counted, and the count.
        let mut seen: Vec<(usize, u64)> = vec![(usize::MAX, 0); set.len()];
        for (k, (_, text)) in pairs.get(&field).into_iter().flatten().enumerate() {
            for m in ac.find_overlapping_iter(text) {
                if let Some(s) = seen.get_mut(m.pattern().as_usize()) {
                    if s.0 != k {
                        *s = (k, s.1 + 1);
                    }
                }
            }
        }
        for (needle, (_, n)) in set.into_iter().zip(seen) {
            spread.insert((field, needle), n);
        }
    }
    spread
}

/// The cost of an atom that `df` rules of the pack share: a literal many
/// rules test (`host.os.type == "windows"`) is likely common in events too,
/// so rare literals make better witnesses; short contains-needles fire often,
/// and small numbers (counts, ports) are common values.
pub(super) fn atom_cost(a: &Atom, df: u64) -> u64 {
    let base = match a.needle {
        Needle::Exact => 2,
        Needle::Number => 3,
        Needle::Contains => match a.text.len() {
            0 | 1 => 40,
            2 => 30,
            3 => 20,
            _ => 3,
        },
    };
    base * df.max(1)
}

/// The text of a numeric atom: the number as the evaluator compares numbers
/// (an `f64`: `num_cmp` reads an integer as `f64` against a float; equal
/// integers give equal `f64`s), `-0` as `0`, in Rust's shortest round-trip
/// form. `None` for NaN, which equals nothing.
///
/// ```
/// use eql_plan::{number_atom_text, Value};
/// assert_eq!(number_atom_text(&Value::Int(4624)).as_deref(), Some("4624"));
/// assert_eq!(number_atom_text(&Value::Float(4624.0)).as_deref(), Some("4624"));
/// assert_eq!(number_atom_text(&Value::Float(-0.0)).as_deref(), Some("0"));
/// assert_eq!(number_atom_text(&Value::Bool(true)), None);
/// ```
pub fn number_atom_text(v: &Value<'_>) -> Option<String> {
    number_key(v).map(|k| f64::from_bits(k).to_string())
}

/// The key of a number in the candidate index (see [`number_atom_text`]):
/// the bits of its `f64`, with `-0` as `0`; `None` for NaN and non-numbers.
pub(super) fn number_key(v: &Value<'_>) -> Option<u64> {
    let x = match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        _ => return None,
    };
    if x.is_nan() {
        None
    } else if x == 0.0 {
        Some(0f64.to_bits())
    } else {
        Some(x.to_bits())
    }
}

/// The key a scalar value of an event looks up among numeric atoms: a
/// number's, or that of a string which reads as a number (surrounding
/// whitespace ignored). The evaluator compares numbers with numbers only;
/// reading numeric strings too keeps the index from ever being stricter than
/// a comparison that coerces them.
pub(super) fn value_number_key(v: &Value<'_>) -> Option<u64> {
    match v {
        Value::Str(s) => {
            let t = s.trim();
            let first = *t.as_bytes().first()?;
            if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
                return None;
            }
            number_key(&Value::Float(t.parse().ok()?))
        }
        v => number_key(v),
    }
}

fn test_witness(t: &Test) -> Option<Vec<Atom>> {
    // An exact atom per member of a string set.
    let exact_atoms = |set: &StrSet, ci: bool| -> Vec<Atom> {
        set.members()
            .into_iter()
            .map(|s| Atom {
                field: t.field,
                needle: Needle::Exact,
                text: s.to_owned(),
                ci,
            })
            .collect()
    };
    match &t.op {
        TestOp::In { strs, others, ci } => {
            let mut atoms = exact_atoms(strs, *ci);
            // Numbers compare with numbers only (case plays no part);
            // booleans give no atom.
            for o in others {
                atoms.push(Atom {
                    field: t.field,
                    needle: Needle::Number,
                    text: number_atom_text(o)?,
                    ci: false,
                });
            }
            if atoms.is_empty() {
                return None;
            }
            Some(atoms)
        }
        TestOp::Glob { exact, globs, ci } => {
            let mut atoms = exact_atoms(exact, *ci);
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
            // `regex~`: the literals are folded as the index folds values,
            // with every case variant the regex engine accepts.
            let mut atoms = Vec::new();
            for src in sources {
                for lit in regex_required_literals(src, *ci)? {
                    atoms.push(Atom {
                        field: t.field,
                        needle: Needle::Contains,
                        text: lit,
                        ci: *ci,
                    });
                }
            }
            Some(atoms)
        }
        TestOp::Cmp { .. } | TestOp::Cidr { .. } | TestOp::Typed(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn atom(text: &str, needle: Needle) -> Atom {
        Atom {
            field: FieldId(0),
            needle,
            text: text.to_owned(),
            ci: true,
        }
    }

    #[test]
    fn a_needle_inside_many_literals_spreads_over_them() {
        let rules = vec![
            vec![
                atom("cmd.exe", Needle::Exact),
                atom("net.exe", Needle::Exact),
            ],
            vec![atom("cmd.exe", Needle::Exact)],
            vec![atom(".EXE", Needle::Contains)],
            vec![atom("rare-tool", Needle::Contains)],
            vec![Atom {
                field: FieldId(1),
                ..atom("x.exe", Needle::Exact)
            }],
        ];
        let spread = needle_spread(&rules);
        // Three (rule, literal) pairs of field 0 hold `.exe`, and the needle
        // itself; the other field's literal does not count.
        assert_eq!(spread.get(&(FieldId(0), ".exe".to_owned())), Some(&4));
        assert_eq!(spread.get(&(FieldId(0), "rare-tool".to_owned())), Some(&1));
        assert_eq!(spread.len(), 2);
    }
}
