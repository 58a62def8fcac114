//! Regular expressions of `regex`/`regex~` and Python `match()`: the source
//! they compile to, and the one place they are built, with the query's
//! compiled-size limit.

use regex::Regex;
use std::borrow::Cow;
use std::collections::HashMap;

/// The default compiled-size limit of each regex, in bytes of the compiled
/// program (`regex::RegexBuilder::size_limit`): 1 MiB.
pub const DEFAULT_REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The regex source the engine compiles for `regex`/`regex~` (ES: anchored at
/// both ends; Python `match`: anchored at the start only).
///
/// ```
/// assert_eq!(eql_plan::regex_source("a.c", true, false), "(?is)^(?:a.c)$");
/// ```
pub fn regex_source(pat: &str, ci: bool, python: bool) -> String {
    let flags = if ci { "(?is)" } else { "(?s)" };
    if python {
        format!("{flags}^(?:{pat})")
    } else {
        format!("{flags}^(?:{pat})$")
    }
}

/// The regexes of one query: the literal patterns compiled by the checks,
/// keyed by (pattern, case-insensitive, Python), and the compiled-size limit
/// that every regex of the query is built with, literal or not.
///
/// ```
/// use eql_plan::RegexCache;
/// let mut cache = RegexCache::new(eql_plan::DEFAULT_REGEX_SIZE_LIMIT);
/// cache.compile("a.c", false, false).unwrap();
/// assert_eq!(cache.is_match("abc", "a.c", false, false), Some(true));
/// // Not compiled beforehand: built on the spot, with the same limit.
/// assert_eq!(cache.is_match("ABC", "a.c", true, false), Some(true));
/// assert_eq!(cache.is_match("x", "(", false, false), None);
/// assert!(RegexCache::new(10).compile("a{1000}", false, false).is_err());
/// ```
#[derive(Clone, Debug)]
pub struct RegexCache {
    size_limit: usize,
    compiled: HashMap<(String, bool, bool), Regex>,
}

impl RegexCache {
    /// An empty cache whose regexes are built with `size_limit`.
    pub fn new(size_limit: usize) -> Self {
        RegexCache {
            size_limit,
            compiled: HashMap::new(),
        }
    }

    /// The compiled-size limit its regexes are built with.
    pub fn size_limit(&self) -> usize {
        self.size_limit
    }

    /// Builds `pat` and keeps it (nothing to do when it is kept already).
    ///
    /// # Errors
    ///
    /// The pattern does not compile, or its program is over the size limit.
    pub fn compile(&mut self, pat: &str, ci: bool, python: bool) -> Result<(), regex::Error> {
        let key = (pat.to_owned(), ci, python);
        if !self.compiled.contains_key(&key) {
            let re = self.build(pat, ci, python)?;
            self.compiled.insert(key, re);
        }
        Ok(())
    }

    /// The kept regex of `pat`, or one built now with the size limit;
    /// `None` when it does not compile.
    pub fn get(&self, pat: &str, ci: bool, python: bool) -> Option<Cow<'_, Regex>> {
        match self.compiled.get(&(pat.to_owned(), ci, python)) {
            Some(re) => Some(Cow::Borrowed(re)),
            None => self.build(pat, ci, python).ok().map(Cow::Owned),
        }
    }

    /// Whether `s` matches `pat`; `None` (null) when the pattern does not
    /// compile.
    pub fn is_match(&self, s: &str, pat: &str, ci: bool, python: bool) -> Option<bool> {
        self.get(pat, ci, python).map(|re| re.is_match(s))
    }

    /// The regex the plan evaluates for the `regex`/`regex~` pattern `pat`:
    /// `is_match` gives the same answer as the anchored form
    /// ([`regex_source`]) on every string, but a `.*` that starts or ends
    /// the pattern is dropped together with its anchor. `.*foo.*` is then
    /// searched as `foo`, which the regex crate finds with its literal
    /// prefilter and stops at, instead of running its automaton over the
    /// whole value to reach the end anchor; `C:\\Windows\\.*` stops after
    /// its prefix. Built with the cache's size limit (the anchored form when
    /// the search form does not build); `None` when the pattern does not
    /// compile.
    ///
    /// ```
    /// use eql_plan::RegexCache;
    /// let cache = RegexCache::new(eql_plan::DEFAULT_REGEX_SIZE_LIMIT);
    /// let re = cache.search_form(".*foo.*bar.*", false).unwrap();
    /// assert!(re.is_match("a foo b bar c"));
    /// assert!(!re.is_match("a bar b foo c"));
    /// let re = cache.search_form("C:\\\\Windows\\\\.*", true).unwrap();
    /// assert!(re.is_match("c:\\windows\\x.exe"));
    /// assert!(!re.is_match("d:\\c:\\windows\\x.exe"));
    /// ```
    pub fn search_form(&self, pat: &str, ci: bool) -> Option<Regex> {
        if let Some(src) = search_source(pat, ci) {
            if let Ok(re) = regex::RegexBuilder::new(&src)
                .size_limit(self.size_limit)
                .build()
            {
                return Some(re);
            }
        }
        self.get(pat, ci, false).map(Cow::into_owned)
    }

    fn build(&self, pat: &str, ci: bool, python: bool) -> Result<Regex, regex::Error> {
        regex::RegexBuilder::new(&regex_source(pat, ci, python))
            .size_limit(self.size_limit)
            .build()
    }
}

/// The source of [`RegexCache::search_form`]: the anchored form's parse with
/// a leading `^.*` and a trailing `.*$` dropped (`.` matches every char
/// there), printed back; `None` when there is nothing to drop or the pattern
/// does not parse.
fn search_source(pat: &str, ci: bool) -> Option<String> {
    use regex_syntax::hir::{Hir, HirKind, Look};
    let is_any_star = |h: &Hir| match h.kind() {
        HirKind::Repetition(r) => {
            r.min == 0 && r.max.is_none() && *r.sub == Hir::dot(regex_syntax::hir::Dot::AnyChar)
        }
        _ => false,
    };
    let hir = regex_syntax::Parser::new()
        .parse(&regex_source(pat, ci, false))
        .ok()?;
    // `^`, the pattern's own parts, `$`: a pattern that closes the
    // anchoring group itself (`a)|(b`) has another shape and is kept.
    let HirKind::Concat(top) = hir.kind() else {
        return None;
    };
    let [start, inner @ .., end] = top.as_slice() else {
        return None;
    };
    if start.kind() != &HirKind::Look(Look::Start) || end.kind() != &HirKind::Look(Look::End) {
        return None;
    }
    let mut parts: Vec<Hir> = match inner {
        [one] => match one.kind() {
            HirKind::Concat(subs) => subs.clone(),
            _ => vec![one.clone()],
        },
        more => more.to_vec(),
    };
    let leading = parts.first().is_some_and(is_any_star);
    if leading {
        parts.remove(0);
    }
    let trailing = parts.last().is_some_and(is_any_star);
    if trailing {
        parts.pop();
    }
    if !leading && !trailing {
        return None;
    }
    if !leading {
        parts.insert(0, Hir::look(Look::Start));
    }
    if !trailing {
        parts.push(Hir::look(Look::End));
    }
    Some(Hir::concat(parts).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dot_stars_at_the_ends_are_dropped() {
        let all = RegexCache::new(DEFAULT_REGEX_SIZE_LIMIT).search_form(".*", false);
        assert!(all.is_some_and(|re| re.is_match("") && re.is_match("a\nb")));
        assert!(search_source("a.*b", false).is_none());
        assert!(search_source("a)|(?:b.*", false).is_none());
        let src = search_source(".*foo.*", false).unwrap_or_default();
        assert!(!src.contains('^') && !src.contains('$'), "{src}");
    }

    fn piece() -> impl Strategy<Value = String> {
        prop::sample::select(
            &[
                "a", "b", "S", "s", "ſ", "K", "Σ", ".", ".*", ".*?", ".+", "[ab]", "[^a]",
                "(a|.*)", "b?", "\\b", "^", "$", "(?-s:.)*", "\\n", "(?i:a)", "a)|(?:b",
            ][..],
        )
        .prop_map(str::to_owned)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        /// The search form answers as the anchored form on every value.
        #[test]
        fn the_search_form_matches_as_the_anchored_form(
            pattern in prop::collection::vec(piece(), 1..6).prop_map(|p| p.concat()),
            values in prop::collection::vec("[abSsſKkΣσ \\n.]{0,8}", 8),
            ci: bool,
        ) {
            let cache = RegexCache::new(DEFAULT_REGEX_SIZE_LIMIT);
            let Some(anchored) = cache.get(&pattern, ci, false) else { return Ok(()) };
            let search = cache.search_form(&pattern, ci);
            prop_assert!(search.is_some());
            let search = search.unwrap_or_else(|| anchored.clone().into_owned());
            for v in &values {
                prop_assert_eq!(search.is_match(v), anchored.is_match(v), "{:?} ci {} on {:?}", pattern, ci, v);
            }
        }
    }
}
