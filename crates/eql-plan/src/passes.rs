//! The optimizer passes over a lowered [`Cond`]: constant folding and
//! normalization, run to a fixed point.

use crate::ir::{Cond, Test, TestOp};
use crate::matcher::StrSet;

/// A named optimizer pass: rewrites a condition in place and reports whether
/// it changed anything.
pub struct Pass {
    /// The pass name, as EXPLAIN prints it.
    pub name: &'static str,
    /// The rewrite.
    pub run: fn(&mut Cond) -> bool,
}

/// The passes, in order: constant folding with boolean simplification, then
/// normalization (nested `and`/`or` flattened, equality tests on one field
/// under an `or` merged into one set).
pub const PASSES: &[Pass] = &[
    Pass {
        name: "fold-constants",
        run: fold_constants,
    },
    Pass {
        name: "normalize",
        run: normalize,
    },
];

/// Runs every pass until none changes anything (bounded), and returns the
/// names of those that did.
pub fn run_passes(c: &mut Cond) -> Vec<&'static str> {
    let mut fired = Vec::new();
    for _ in 0..4 {
        let mut any = false;
        for p in PASSES {
            if (p.run)(c) {
                any = true;
                if !fired.contains(&p.name) {
                    fired.push(p.name);
                }
            }
        }
        if !any {
            break;
        }
    }
    fired
}

/// Constant folding and boolean simplification: `true and x` → `x`,
/// `false and x` → `false`, `not const` → const, one-child `and`/`or`
/// collapsed.
pub fn fold_constants(c: &mut Cond) -> bool {
    let mut changed = false;
    match c {
        Cond::And(_) | Cond::Or(_) => {
            let is_and = matches!(c, Cond::And(_));
            let (Cond::And(cs) | Cond::Or(cs)) = c else {
                return false;
            };
            for x in cs.iter_mut() {
                changed |= fold_constants(x);
            }
            let absorbing = !is_and;
            if cs
                .iter()
                .any(|x| matches!(x, Cond::Const(b) if *b == absorbing))
            {
                *c = Cond::Const(absorbing);
                return true;
            }
            let before = cs.len();
            cs.retain(|x| !matches!(x, Cond::Const(_)));
            changed |= cs.len() != before;
            if cs.is_empty() {
                *c = Cond::Const(is_and);
                return true;
            }
            if cs.len() == 1 {
                let one = cs.pop().unwrap_or(Cond::Const(is_and));
                *c = one;
                return true;
            }
        }
        Cond::Not(inner) => {
            changed |= fold_constants(inner);
            if let Cond::Const(b) = **inner {
                *c = Cond::Const(!b);
                return true;
            }
        }
        Cond::Witnessed(_, inner) => {
            changed |= fold_constants(inner);
            if let Cond::Const(b) = **inner {
                *c = Cond::Const(b);
                return true;
            }
        }
        Cond::Const(_) | Cond::Test(_) | Cond::Generic(_) | Cond::Null { .. } => {}
    }
    changed
}

/// Normalization: flattens nested `and`/`or`, and merges the case-sensitive
/// (or the case-insensitive) equality tests on one field under one `or` into
/// a single set test (`x == "a" or x == "b"` → `x in ("a", "b")`).
pub fn normalize(c: &mut Cond) -> bool {
    let mut changed = false;
    match c {
        Cond::And(cs) | Cond::Or(cs) => {
            for x in cs.iter_mut() {
                changed |= normalize(x);
            }
        }
        Cond::Not(inner) | Cond::Witnessed(_, inner) => changed |= normalize(inner),
        _ => {}
    }
    changed |= flatten(c);
    if let Cond::Or(cs) = c {
        changed |= merge_in_tests(cs);
        if cs.len() == 1 {
            if let Some(one) = cs.pop() {
                *c = one;
            }
            changed = true;
        }
    }
    changed
}

/// Lifts the children of an `and` under an `and` (an `or` under an `or`)
/// into their parent.
fn flatten(c: &mut Cond) -> bool {
    let is_and = matches!(c, Cond::And(_));
    let (Cond::And(cs) | Cond::Or(cs)) = c else {
        return false;
    };
    if !cs
        .iter()
        .any(|x| matches!((x, is_and), (Cond::And(_), true) | (Cond::Or(_), false)))
    {
        return false;
    }
    let old = std::mem::take(cs);
    for x in old {
        match (x, is_and) {
            (Cond::And(inner), true) | (Cond::Or(inner), false) => cs.extend(inner),
            (x, _) => cs.push(x),
        }
    }
    true
}

/// Merges the `in` tests of an `or` on the same (field, case mode) into the
/// first of them.
fn merge_in_tests(cs: &mut Vec<Cond>) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < cs.len() {
        let key = match &cs[i] {
            Cond::Test(Test {
                field,
                op: TestOp::In { ci, .. },
            }) => Some((*field, *ci)),
            _ => None,
        };
        if let Some((f, ci)) = key {
            let mut j = i + 1;
            while j < cs.len() {
                let same = matches!(&cs[j], Cond::Test(Test { field, op: TestOp::In { ci: c2, .. } }) if *field == f && *c2 == ci);
                if same {
                    let other = cs.remove(j);
                    if let (
                        Cond::Test(Test {
                            op:
                                TestOp::In {
                                    strs: s2,
                                    others: o2,
                                    ..
                                },
                            ..
                        }),
                        Cond::Test(Test {
                            op: TestOp::In { strs, others, .. },
                            ..
                        }),
                    ) = (other, &mut cs[i])
                    {
                        // Members are already folded when `ci`.
                        let merged: Vec<&str> =
                            strs.members().into_iter().chain(s2.members()).collect();
                        *strs = StrSet::new(merged, false);
                        others.extend(o2);
                    }
                    changed = true;
                } else {
                    j += 1;
                }
            }
        }
        i += 1;
    }
    changed
}
