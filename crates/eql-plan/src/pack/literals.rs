//! The required literals of a `regex`/`regex~` pattern: a set of strings one
//! of which every match contains, read from the regex crate's own parse of
//! the pattern as the engine compiles it.
//!
//! Each node of the parse gets the finite set of strings it matches, when
//! that set is small (`exact`), and the best set of strings one of which
//! each of its matches contains (`required`). A concatenation multiplies the
//! exact sets of consecutive children (`\.(exe|dll)` gives `{".exe",
//! ".dll"}`), an alternation unions its children's sets, and a repetition
//! of at least `n` contains `n` repeats (`[ ]{20,}` contains 20 spaces).
//!
//! For `regex~` the sets are folded as [`crate::fold`] folds the event's
//! value: char by char (the regex matched some char of each position's case
//! class, and `fold` lower-cases each char alone), with the one
//! context-dependent mapping of `str::to_lowercase`, `Σ`, read as both `σ`
//! and `ς`. The case classes come from the regex crate's parse with its
//! `(?i)`, so a class such as `[sSſ]` gives both `s` and `ſ`: the set never
//! assumes that `fold` and the regex engine agree on which chars are equal.

use crate::regexes::regex_source;
use regex_syntax::hir::{Class, ClassUnicode, Hir, HirKind, Repetition};
use std::collections::BTreeSet;

/// The most strings a set may hold (beyond, a node has no exact set, and a
/// required set is not used).
const MAX_SET: usize = 64;

/// The most chars a class may have to be read as a set of strings.
const MAX_CLASS: usize = 8;

type Set = BTreeSet<String>;

/// What one node of the parse matches.
struct Info {
    /// Exactly the strings the node matches, when that set is small.
    exact: Option<Set>,
    /// A set of non-empty strings one of which every match contains.
    required: Option<Set>,
}

/// A set of literals one of which every match of the `regex` (or, with
/// `ci`, `regex~`) pattern `src` contains, folded by [`crate::fold`] when
/// `ci` (to be looked for in the folded value); `None` when no useful set is
/// known. The pattern is read as the engine compiles it
/// ([`crate::regex_source`]: anchored, `.` matching any char).
///
/// ```
/// use eql_plan::regex_required_literals;
/// let lits = |p, ci| regex_required_literals(p, ci).unwrap_or_default();
/// // Of equally good literals, the last (the leading one is generic).
/// assert_eq!(lits(r"C:\\Windows\\.*\\cmd\.exe", false), ["\\cmd.exe"]);
/// assert_eq!(lits(r".*\.(exe|dll)", false), [".dll", ".exe"]);
/// assert_eq!(lits(".*[ ]{3,}.*", false), ["   "]);
/// // `regex~`: folded, and `s` also stands for the long s that matches it.
/// assert_eq!(lits("PowerShell.*", true), ["powershell", "powerſhell"]);
/// assert_eq!(lits("[a-z]+", false), Vec::<String>::new());
/// ```
pub fn regex_required_literals(src: &str, ci: bool) -> Option<Vec<String>> {
    let hir = regex_syntax::Parser::new()
        .parse(&regex_source(src, ci, false))
        .ok()?;
    let info = info(&hir, ci);
    let best = best([info.required, info.exact.filter(usable)])?;
    Some(best.into_iter().collect())
}

/// A set can serve as a required set: not empty, small, and no member is
/// empty (the empty string is in every value).
fn usable(s: &Set) -> bool {
    !s.is_empty() && s.len() <= MAX_SET && s.iter().all(|m| !m.is_empty())
}

/// How often a set is likely to fire (lower is better): short literals
/// occur in most values.
fn score(s: &Set) -> usize {
    s.iter()
        .map(|m| match m.len() {
            0 => 1000,
            1 => 30,
            2 => 10,
            3 => 3,
            _ => 1,
        })
        .sum()
}

/// The usable set with the best score; of equal scores the last, as for
/// wildcard pieces (in paths and command lines the later literals name what
/// the rule is about, the leading ones are generic).
fn best(sets: impl IntoIterator<Item = Option<Set>>) -> Option<Set> {
    sets.into_iter()
        .flatten()
        .filter(usable)
        .fold(None, |acc: Option<Set>, s| match acc {
            Some(a) if score(&a) < score(&s) => Some(a),
            _ => Some(s),
        })
}

/// The strings `c` stands for in the folded value: itself, or with `ci` its
/// lower case (`Σ` as both of its lower cases).
fn fold_char(c: char, ci: bool) -> Set {
    if !ci {
        return Set::from([c.to_string()]);
    }
    if c == 'Σ' {
        return Set::from(["σ".to_owned(), "ς".to_owned()]);
    }
    Set::from([c.to_lowercase().collect::<String>()])
}

/// Every concatenation of a member of `a` with a member of `b`, or `None`
/// when there would be too many.
fn product(a: &Set, b: &Set) -> Option<Set> {
    if a.len().saturating_mul(b.len()) > MAX_SET {
        return None;
    }
    Some(
        a.iter()
            .flat_map(|x| b.iter().map(move |y| format!("{x}{y}")))
            .collect(),
    )
}

/// `s` repeated `n` times, as a set product, or `None` when too large.
fn power(s: &Set, n: u32) -> Option<Set> {
    let mut out = Set::from([String::new()]);
    for _ in 0..n {
        out = product(&out, s)?;
        if out.iter().map(String::len).sum::<usize>() > 4096 {
            return None;
        }
    }
    Some(out)
}

/// The exact and required sets of `hir`, with `ci` folded.
fn info(hir: &Hir, ci: bool) -> Info {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Info::exact_only(Some(Set::from([String::new()]))),
        HirKind::Literal(l) => Info::exact_only(std::str::from_utf8(&l.0).ok().and_then(|s| {
            s.chars().try_fold(Set::from([String::new()]), |acc, c| {
                product(&acc, &fold_char(c, ci))
            })
        })),
        HirKind::Class(Class::Unicode(cls)) => Info::exact_only(class_set(cls, ci)),
        HirKind::Class(Class::Bytes(_)) => Info::exact_only(None),
        HirKind::Capture(c) => info(&c.sub, ci),
        HirKind::Repetition(r) => repetition_info(r, ci),
        HirKind::Concat(subs) => concat_info(subs, ci),
        HirKind::Alternation(subs) => alternation_info(subs, ci),
    }
}

impl Info {
    fn exact_only(exact: Option<Set>) -> Info {
        Info {
            required: None,
            exact,
        }
    }
}

/// The chars of a class (folded), or `None` when it has more than
/// `MAX_CLASS`.
fn class_set(cls: &ClassUnicode, ci: bool) -> Option<Set> {
    let mut n = 0usize;
    let mut set = Set::new();
    for r in cls.ranges() {
        n += (r.end() as usize).saturating_sub(r.start() as usize) + 1;
        if n > MAX_CLASS {
            return None;
        }
        for c in r.start()..=r.end() {
            set.extend(fold_char(c, ci));
        }
    }
    Some(set)
}

/// A repetition of at least `min` contains `min` repeats of its child; it
/// is exact when it repeats exactly `min` times (or is an optional exact
/// child).
fn repetition_info(r: &Repetition, ci: bool) -> Info {
    let sub = info(&r.sub, ci);
    if r.min == 0 {
        let exact = match (r.max, sub.exact) {
            (Some(1), Some(mut e)) => {
                e.insert(String::new());
                Some(e)
            }
            _ => None,
        };
        return Info::exact_only(exact);
    }
    let repeated = sub.exact.as_ref().and_then(|e| power(e, r.min));
    let exact = if r.max == Some(r.min) {
        repeated.clone()
    } else {
        None
    };
    Info {
        required: best([repeated, sub.exact, sub.required]),
        exact,
    }
}

/// A concatenation: the run, the product of the exact sets of the children
/// since the last child without one, and the best of the runs and the
/// children's required sets.
fn concat_info(subs: &[Hir], ci: bool) -> Info {
    let mut run = Some(Set::from([String::new()]));
    let mut whole = true;
    let mut candidates: Vec<Option<Set>> = Vec::new();
    for sub in subs {
        let child = info(sub, ci);
        match (run.take(), child.exact) {
            (Some(so_far), Some(set)) => match product(&so_far, &set) {
                Some(longer) => run = Some(longer),
                None => {
                    whole = false;
                    candidates.push(Some(so_far));
                    candidates.push(Some(set.clone()));
                    run = Some(set);
                }
            },
            (so_far, set) => {
                whole = false;
                candidates.push(so_far);
                candidates.push(set);
                candidates.push(child.required);
                run = Some(Set::from([String::new()]));
            }
        }
    }
    let exact = if whole { run.clone() } else { None };
    candidates.push(run);
    Info {
        required: best(candidates),
        exact,
    }
}

/// An alternation: the union of its children's sets, when each has one.
fn alternation_info(subs: &[Hir], ci: bool) -> Info {
    let mut exact = Some(Set::new());
    let mut required = Some(Set::new());
    for i in subs.iter().map(|s| info(s, ci)) {
        let mine = best([i.required, i.exact.clone().filter(usable)]);
        match (&mut required, mine) {
            (Some(all), Some(m)) => all.extend(m),
            _ => required = None,
        }
        match (&mut exact, i.exact) {
            (Some(all), Some(e)) => all.extend(e),
            _ => exact = None,
        }
    }
    Info {
        exact: exact.filter(|e| e.len() <= MAX_SET),
        required: required.filter(usable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fold;
    use proptest::prelude::*;

    fn lits(p: &str, ci: bool) -> Vec<String> {
        regex_required_literals(p, ci).unwrap_or_default()
    }

    #[test]
    fn literal_runs_classes_and_repetitions() {
        assert_eq!(lits("abc", false), ["abc"]);
        assert_eq!(lits(".*foo.*bar.*", false), ["bar"]);
        assert_eq!(lits(".*[ ]{20,}.*", false), [" ".repeat(20)]);
        assert_eq!(lits("[Ee]xe", false), ["Exe", "exe"]);
        assert_eq!(lits("(ab|cd)x+", false), ["ab", "cd"]);
        assert_eq!(lits("(ab|.*)x", false), ["x"]);
        assert_eq!(lits("a?bcd", false), ["abcd", "bcd"]);
        assert!(lits("a|.*", false).is_empty());
        assert!(lits(".*", false).is_empty());
        assert!(lits("(", false).is_empty());
        // A pattern that escapes the anchoring group is read as compiled:
        // `^(?:a)|(?:b)$`, a value starting with `a` or ending with `b`.
        assert_eq!(lits("a)|(?:b", false), ["a", "b"]);
    }

    #[test]
    fn case_insensitive_sets_are_folded_with_every_case_variant() {
        assert_eq!(lits("[A-Z]:\\\\:.+", true), [":\\:"]);
        assert_eq!(lits("CMD\\.EXE", true), ["cmd.exe"]);
        // The Kelvin sign folds to `k`; the long s does not fold to `s`.
        assert_eq!(lits("kk", true), ["kk"]);
        assert_eq!(lits("ss", true), ["ss", "sſ", "ſs", "ſſ"]);
        // Σ lower-cases to σ or ς depending on what follows it in the value.
        assert_eq!(lits("xΣy", true), ["xςy", "xσy"]);
    }

    /// Every value the regex matches contains one of its required literals
    /// (in its folded form for `regex~`).
    fn sound(pattern: &str, ci: bool, value: &str) -> Result<(), TestCaseError> {
        let Ok(re) = regex::Regex::new(&regex_source(pattern, ci, false)) else {
            return Ok(());
        };
        if !re.is_match(value) {
            return Ok(());
        }
        if let Some(lits) = regex_required_literals(pattern, ci) {
            let v = if ci {
                fold(value).into_owned()
            } else {
                value.to_owned()
            };
            prop_assert!(
                lits.iter().any(|l| v.contains(l.as_str())),
                "{pattern:?} (ci {ci}) matches {value:?} but it contains none of {lits:?}"
            );
        }
        Ok(())
    }

    fn piece() -> impl Strategy<Value = String> {
        prop::sample::select(
            &[
                "a", "b", "ab", "S", "s", "ſ", "k", "K", "Σ", "σ", "ς", "İ", "i", ".", ".*", ".+",
                "[ab]", "[sS]", "[^a]", "(a|bc)", "(a|.*)", "b?", "a{2}", "[ ]{2,}", " ", "x*",
                "\\.", "(?i:a)", "(?-i:s)", "^", "$",
            ][..],
        )
        .prop_map(str::to_owned)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        #[test]
        fn required_literals_are_in_every_match(
            pattern in prop::collection::vec(piece(), 1..6).prop_map(|p| p.concat()),
            value in "[abSsſkKΣσςİix. ]{0,10}",
            ci: bool,
        ) {
            sound(&pattern, ci, &value)?;
        }

        /// Values built to match: the pattern's pieces, instantiated.
        #[test]
        fn required_literals_are_in_matches_built_from_the_pattern(
            pieces in prop::collection::vec(
                prop::sample::select(&["ab", "S", "s", "ſ", "K", "k", "Σ", "σ", "ς", "İ", "x", " "][..]),
                1..6,
            ),
            upper in prop::collection::vec(any::<bool>(), 6),
            ci: bool,
        ) {
            let pattern: String = pieces.concat();
            let value: String = pieces
                .iter()
                .zip(&upper)
                .map(|(p, u)| if *u { p.to_uppercase() } else { (*p).to_owned() })
                .collect::<Vec<_>>()
                .concat();
            sound(&pattern, ci, &value)?;
            sound(&format!(".*{pattern}.*"), ci, &format!("zz{value}zz"))?;
        }
    }
}
