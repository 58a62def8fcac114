//! Witnesses: the sets of atoms one of which fires whenever a condition
//! holds, the candidate index's keys.

use super::{Atom, Needle};
use crate::ir::{Cond, Test, TestOp};

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
        Cond::Const(_) | Cond::Not(_) | Cond::Generic(_) => {}
    }
}

/// The cost of an atom that `df` rules of the pack share: a literal many
/// rules test (`host.os.type == "windows"`) is likely common in events too,
/// so rare literals make better witnesses; short contains-needles fire often.
pub(super) fn atom_cost(a: &Atom, df: u64) -> u64 {
    let base = match a.needle {
        Needle::Exact => 2,
        Needle::Contains if a.text.len() >= 4 => 3,
        Needle::Contains => 20,
    };
    base * df.max(1)
}

fn test_witness(t: &Test) -> Option<Vec<Atom>> {
    let exact_atom = |s: &str, ci: bool| Atom {
        field: t.field,
        needle: Needle::Exact,
        text: s.to_owned(),
        ci,
    };
    match &t.op {
        TestOp::In { strs, others, ci } => {
            if !others.is_empty() || strs.is_empty() {
                return None;
            }
            Some(
                strs.members()
                    .into_iter()
                    .map(|s| exact_atom(s, *ci))
                    .collect(),
            )
        }
        TestOp::Glob { exact, globs, ci } => {
            let mut atoms: Vec<Atom> = exact
                .members()
                .into_iter()
                .map(|s| exact_atom(s, *ci))
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
        TestOp::Cmp { .. } | TestOp::Typed(_) => None,
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
