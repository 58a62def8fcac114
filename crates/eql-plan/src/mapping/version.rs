//! Software versions as Elasticsearch's `version` field orders them.
//!
//! A valid version is `N(.N)*` (any number of numeric parts, no leading
//! zeros), an optional pre-release `-id(.id)*` and optional build metadata
//! `+id(.id)*`, ids made of `[0-9A-Za-z-]`. Valid versions sort before invalid
//! ones; among valid versions the numeric parts compare numerically part by
//! part (a version that is a prefix of another sorts first: `1.2 < 1.2.0`), a
//! pre-release sorts before its release, pre-release ids compare numerically
//! when both are numbers, as text otherwise, numbers before text, and fewer ids
//! first; build metadata breaks the remaining ties as text. Invalid versions
//! sort among themselves as text. Equality is equality of the strings.

use std::cmp::Ordering;

/// The ordering key of a version string.
///
/// ```
/// use eql_plan::mapping::VersionKey;
/// let k = |s| VersionKey::new(s);
/// assert!(k("1.2.4") < k("1.11.3"));
/// assert!(k("1.2.4-SNAPSHOT") < k("1.2.4"));
/// assert!(k("1.11.3") < k("bad"));
/// assert!(k("1.0.0-alpha") < k("1.0.0-alpha.1"));
/// assert!(k("1.0.0-2") < k("1.0.0-10"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionKey {
    valid: Option<Valid>,
    text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Valid {
    /// Numeric parts, as digit strings without leading zeros.
    main: Vec<String>,
    pre: Option<Vec<String>>,
    build: String,
}

fn is_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
}

fn is_num(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

fn cmp_num(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl VersionKey {
    /// The key of `s`.
    pub fn new(s: &str) -> VersionKey {
        VersionKey {
            valid: parse(s),
            text: s.to_owned(),
        }
    }

    /// True when `s` is a valid version (it sorts before every invalid one).
    pub fn is_valid(&self) -> bool {
        self.valid.is_some()
    }
}

fn parse(s: &str) -> Option<Valid> {
    let (rest, build) = match s.split_once('+') {
        Some((r, b)) => {
            if !b.split('.').all(is_id) {
                return None;
            }
            (r, b.to_owned())
        }
        None => (s, String::new()),
    };
    let (main, pre) = match rest.split_once('-') {
        Some((m, p)) => {
            let ids: Vec<String> = p.split('.').map(str::to_owned).collect();
            if !ids.iter().all(|x| is_id(x)) {
                return None;
            }
            (m, Some(ids))
        }
        None => (rest, None),
    };
    let mut parts = Vec::new();
    for p in main.split('.') {
        if !is_num(p) || (p.len() > 1 && p.starts_with('0')) {
            return None;
        }
        parts.push(p.to_owned());
    }
    Some(Valid {
        main: parts,
        pre,
        build,
    })
}

fn cmp_pre(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (is_num(x), is_num(y)) {
            (true, true) => cmp_num(x.trim_start_matches('0'), y.trim_start_matches('0')),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

impl Ord for VersionKey {
    fn cmp(&self, other: &Self) -> Ordering {
        match (&self.valid, &other.valid) {
            (Some(a), Some(b)) => {
                for (x, y) in a.main.iter().zip(&b.main) {
                    let o = cmp_num(x, y);
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                a.main
                    .len()
                    .cmp(&b.main.len())
                    .then_with(|| match (&a.pre, &b.pre) {
                        (None, None) => Ordering::Equal,
                        (Some(_), None) => Ordering::Less,
                        (None, Some(_)) => Ordering::Greater,
                        (Some(x), Some(y)) => cmp_pre(x, y),
                    })
                    .then_with(|| a.build.cmp(&b.build))
                    .then_with(|| self.text.cmp(&other.text))
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => self.text.cmp(&other.text),
        }
    }
}

impl PartialOrd for VersionKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_as_semver_with_any_number_of_parts_then_invalid_ones() {
        let sorted = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.2",
            "1.2.0",
            "1.2.3.4",
            "1.11.3",
            "2.0.0",
            "10.0.0",
            "01.2.3",
            "1.2.alpha.4",
            "bad",
        ];
        for w in sorted.windows(2) {
            assert!(
                VersionKey::new(w[0]) < VersionKey::new(w[1]),
                "{} < {}",
                w[0],
                w[1]
            );
        }
        assert!(!VersionKey::new("01.2.3").is_valid());
        assert!(VersionKey::new("1.0.0+build.5").is_valid());
        assert!(!VersionKey::new("1.0.0+").is_valid());
        assert!(!VersionKey::new("").is_valid());
    }
}
