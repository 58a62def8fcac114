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

    fn build(&self, pat: &str, ci: bool, python: bool) -> Result<Regex, regex::Error> {
        regex::RegexBuilder::new(&regex_source(pat, ci, python))
            .size_limit(self.size_limit)
            .build()
    }
}
