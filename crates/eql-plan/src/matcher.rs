//! Compiled string tests: case folding, wildcard globs and string sets.
//!
//! These are the building blocks the lowering puts in a [`crate::Test`]. They
//! reproduce the reference interpreter's semantics exactly: a case-insensitive
//! test compares `fold(value)` with `fold(pattern)`, where [`fold`] is full
//! Unicode lower-casing (`str::to_lowercase`), not ASCII-only folding.

use rustc_hash::FxHashSet;
use std::borrow::Cow;

/// Full-Unicode case folding used by every case-insensitive test (ASCII fast
/// path: no allocation when the text is already lower-case ASCII).
///
/// ```
/// assert_eq!(eql_plan::fold("CMD.EXE"), "cmd.exe");
/// assert_eq!(eql_plan::fold("ÄRGER"), "ärger");
/// ```
pub fn fold(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            Cow::Borrowed(s)
        }
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// A wildcard pattern compiled once: `*` matches any run of characters
/// (including none) and, when `question` is set, `?` matches exactly one
/// character; every other character matches itself.
///
/// Invariant: `Glob::new(p, q).is_match(s)` equals the reference interpreter's
/// char-by-char glob of `s` against `p`. The pattern is stored as given: the
/// caller folds both sides for a case-insensitive test.
///
/// ```
/// use eql_plan::Glob;
/// let g = Glob::new("c:\\windows\\*\\cmd.exe", true);
/// assert!(g.is_match("c:\\windows\\system32\\cmd.exe"));
/// assert!(!g.is_match("d:\\windows\\system32\\cmd.exe"));
/// assert!(Glob::new("a?c", true).is_match("abc"));
/// assert!(!Glob::new("a?c", false).is_match("abc"));
/// ```
#[derive(Clone, Debug)]
pub struct Glob {
    pattern: Box<str>,
    question: bool,
    kind: GlobKind,
}

#[derive(Clone, Debug)]
enum GlobKind {
    /// No wildcard: the whole string.
    Exact,
    /// Only `*` wildcards: an anchored first piece, an anchored last piece and
    /// the pieces between, found left to right.
    Pieces {
        first: Box<str>,
        middle: Vec<memchr::memmem::Finder<'static>>,
        middle_len: usize,
        last: Box<str>,
    },
    /// `?` present: the general char-by-char algorithm.
    Chars(Box<[char]>),
}

impl Glob {
    /// Compiles `pattern`; `question` makes `?` a one-character wildcard.
    pub fn new(pattern: &str, question: bool) -> Glob {
        let has_q = question && pattern.contains('?');
        let kind = if has_q {
            GlobKind::Chars(pattern.chars().collect())
        } else if !pattern.contains('*') {
            GlobKind::Exact
        } else {
            let parts: Vec<&str> = pattern.split('*').collect();
            let first = parts.first().copied().unwrap_or("");
            let last = parts.last().copied().unwrap_or("");
            let inner = if parts.len() > 2 {
                &parts[1..parts.len() - 1]
            } else {
                &[][..]
            };
            let middle: Vec<memchr::memmem::Finder<'static>> = inner
                .iter()
                .filter(|p| !p.is_empty())
                .map(|p| memchr::memmem::Finder::new(p.as_bytes()).into_owned())
                .collect();
            let middle_len = inner.iter().map(|p| p.len()).sum();
            GlobKind::Pieces {
                first: first.into(),
                middle,
                middle_len,
                last: last.into(),
            }
        };
        Glob {
            pattern: pattern.into(),
            question,
            kind,
        }
    }

    /// The pattern as given.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// True when the pattern contains no wildcard at all.
    pub fn is_exact(&self) -> bool {
        matches!(self.kind, GlobKind::Exact) || (!self.question && !self.pattern.contains('*'))
    }

    /// The longest literal piece every match must contain (empty for `*`);
    /// of equal-length pieces, the last.
    ///
    /// ```
    /// use eql_plan::Glob;
    /// assert_eq!(Glob::new("c:\\users\\*\\desktop\\*", true).required_literal(), "\\desktop\\");
    /// assert_eq!(Glob::new("*\\appdata\\roaming\\*.exe", true).required_literal(), "\\appdata\\roaming\\");
    /// assert_eq!(Glob::new("*", true).required_literal(), "");
    /// ```
    pub fn required_literal(&self) -> &str {
        required_piece(&self.pattern, self.question)
    }

    /// Tests `s`.
    pub fn is_match(&self, s: &str) -> bool {
        match &self.kind {
            GlobKind::Exact => s == &*self.pattern,
            GlobKind::Pieces {
                first,
                middle,
                middle_len,
                last,
            } => {
                // An empty piece is not compared: `memcmp` of zero bytes at
                // an empty string's dangling address costs about 40 ns on
                // some CPUs (a masked load that faults, suppressed in
                // microcode), more than the rest of the test.
                if s.len() < first.len() + last.len() + middle_len
                    || (!first.is_empty() && !s.starts_with(&**first))
                    || (!last.is_empty() && !s.ends_with(&**last))
                {
                    return false;
                }
                let mut rest = &s.as_bytes()[first.len()..s.len() - last.len()];
                for f in middle {
                    match f.find(rest) {
                        Some(i) => rest = &rest[i + f.needle().len()..],
                        None => return false,
                    }
                }
                true
            }
            GlobKind::Chars(p) => glob_chars(s, p),
        }
    }
}

/// The longest piece of `pattern` between wildcards (`*`, and `?` when
/// `question`): a literal every match contains (empty for `*`).
///
/// Of pieces of equal length the *last* wins: in paths and command lines the
/// leading piece is the generic one (`C:\Users\` in
/// `C:\Users\*\Desktop\*`), the later ones name what the rule is about,
/// so they fire on fewer events as witnesses.
pub(crate) fn required_piece(pattern: &str, question: bool) -> &str {
    let mut best = "";
    for piece in pattern.split(|c| c == '*' || (question && c == '?')) {
        if piece.len() >= best.len() {
            best = piece;
        }
    }
    best
}

/// `*`/`?` matching of `s` against the pattern's chars, with no allocation
/// for ASCII text (one byte is one char) and a stack buffer for short other
/// text.
fn glob_chars(s: &str, p: &[char]) -> bool {
    if s.is_ascii() {
        let b = s.as_bytes();
        return glob_at(
            b.len(),
            |i, c| b.get(i).is_some_and(|&x| char::from(x) == c),
            p,
        );
    }
    let cs: smallvec::SmallVec<[char; 128]> = s.chars().collect();
    glob_at(cs.len(), |i, c| cs.get(i) == Some(&c), p)
}

/// The wildcard match over a text of `n` chars, where `at(i, c)` tells
/// whether char `i` is `c`: `*` any run (backtracking to the last star),
/// `?` exactly one char.
fn glob_at(n: usize, at: impl Fn(usize, char) -> bool, p: &[char]) -> bool {
    let (mut i, mut j) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < n {
        let pj = p.get(j).copied();
        if pj == Some('*') {
            star = Some((j, i));
            j += 1;
        } else if pj.is_some_and(|c| c == '?' || at(i, c)) {
            i += 1;
            j += 1;
        } else if let Some((sj, si)) = star {
            j = sj + 1;
            i = si + 1;
            star = Some((sj, si + 1));
        } else {
            return false;
        }
    }
    while p.get(j) == Some(&'*') {
        j += 1;
    }
    j == p.len()
}

/// A set of strings, folded at build time when it is case-insensitive.
///
/// Invariant: `contains(v)` is true exactly when some member `m` satisfies
/// `v == m` (case-sensitive) or `fold(v) == fold(m)` (case-insensitive); the
/// caller passes the already folded value for the latter.
///
/// ```
/// use eql_plan::StrSet;
/// let set = StrSet::new(["A.exe", "b.exe"], true);
/// assert!(set.contains("a.exe"));
/// assert!(!set.contains("c.exe"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct StrSet {
    small: Vec<Box<str>>,
    large: FxHashSet<Box<str>>,
}

/// Up to this many members are compared one by one; more go into a hash set.
const SMALL_SET: usize = 4;

impl StrSet {
    /// Builds the set; `ci` folds each member.
    pub fn new<'a>(items: impl IntoIterator<Item = &'a str>, ci: bool) -> StrSet {
        let mut all: Vec<Box<str>> = items
            .into_iter()
            .map(|s| {
                if ci {
                    fold(s).into_owned().into_boxed_str()
                } else {
                    s.into()
                }
            })
            .collect();
        all.sort();
        all.dedup();
        if all.len() <= SMALL_SET {
            StrSet {
                small: all,
                large: FxHashSet::default(),
            }
        } else {
            StrSet {
                small: Vec::new(),
                large: all.into_iter().collect(),
            }
        }
    }

    /// Membership of an (already folded, for a folded set) value.
    pub fn contains(&self, v: &str) -> bool {
        if self.large.is_empty() {
            let b = v.as_bytes();
            self.small.iter().any(|m| {
                let m = m.as_bytes();
                m.len() == b.len() && m.first() == b.first() && m == b
            })
        } else {
            self.large.contains(v)
        }
    }

    /// The members, sorted (folded for a case-insensitive set).
    pub fn members(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .small
            .iter()
            .chain(self.large.iter())
            .map(|s| &**s)
            .collect();
        out.sort_unstable();
        out
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.small.len() + self.large.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One network of `cidrMatch`, parsed once: `addr/bits` or a lone address
/// (all its bits).
///
/// Invariant: [`Cidr::parse`] and [`Cidr::contains`] are the dynamic
/// (unmapped) `cidrMatch` semantics of both the reference interpreter and
/// the compiled test: a network of one family never contains an address of
/// the other; a prefix length that does not read as a number means the whole
/// address, one over the width is clamped to it.
///
/// ```
/// use eql_plan::Cidr;
/// let net = Cidr::parse("10.0.0.0/8").unwrap();
/// assert!(net.contains("10.1.2.3".parse().unwrap()));
/// assert!(!net.contains("11.0.0.1".parse().unwrap()));
/// assert!(!net.contains("::ffff:10.0.0.1".parse().unwrap()));
/// assert!(Cidr::parse("fe80::/10").unwrap().contains("fe80::1".parse().unwrap()));
/// assert!(Cidr::parse("not an address").is_none());
/// assert_eq!(Cidr::address(" 10.0.0.1 "), "10.0.0.1".parse().ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// The network's address in the high bits (IPv4 shifted left by 96).
    net: u128,
    mask: u128,
    v4: bool,
}

impl Cidr {
    /// The network `cidr` names; `None` when its address does not parse.
    pub fn parse(cidr: &str) -> Option<Cidr> {
        let (addr, bits) = match cidr.split_once('/') {
            Some((a, b)) => (a, b.trim().parse::<u32>().ok()),
            None => (cidr, None),
        };
        let (net, v4) = high_bits(addr.trim().parse().ok()?);
        let width = if v4 { 32 } else { 128 };
        let bits = bits.unwrap_or(width).min(width);
        let mask = if bits == 0 {
            0
        } else {
            u128::MAX << (128 - bits)
        };
        Some(Cidr {
            net: net & mask,
            mask,
            v4,
        })
    }

    /// The address a `cidrMatch` value reads as: the text, spaces around it
    /// trimmed, as an IPv4 or IPv6 address.
    pub fn address(text: &str) -> Option<std::net::IpAddr> {
        text.trim().parse().ok()
    }

    /// True when `ip` is in this network (and of its family).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let (i, v4) = high_bits(ip);
        v4 == self.v4 && i & self.mask == self.net
    }
}

/// An address in the high bits of a `u128`, and whether it is IPv4.
fn high_bits(ip: std::net::IpAddr) -> (u128, bool) {
    match ip {
        std::net::IpAddr::V4(a) => (u128::from(u32::from(a)) << 96, true),
        std::net::IpAddr::V6(a) => (u128::from(a), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn glob_pieces_agree_with_chars(s in "[ab*?]{0,8}", p in "[ab*?]{0,6}", q: bool) {
            let fast = Glob::new(&p, q).is_match(&s);
            let chars: Vec<char> = p.chars().collect();
            let slow = if q { glob_chars(&s, &chars) } else {
                // `?` literal: the char algorithm with `?` never special.
                let s2: Vec<char> = s.chars().map(|c| if c == '?' { '\u{1}' } else { c }).collect();
                let p2: Vec<char> = chars.iter().map(|&c| if c == '?' { '\u{1}' } else { c }).collect();
                glob_chars(&s2.iter().collect::<String>(), &p2)
            };
            prop_assert_eq!(fast, slow);
        }
    }

    /// The textbook algorithm over collected chars, for comparison.
    fn glob_vec(s: &str, p: &[char]) -> bool {
        let s: Vec<char> = s.chars().collect();
        glob_at(s.len(), |i, c| s.get(i) == Some(&c), p)
    }

    proptest! {
        #[test]
        fn glob_chars_ascii_and_unicode_paths_agree(s in "[aσΣ*?.]{0,8}", p in "[aσ*?.]{0,6}") {
            let chars: Vec<char> = p.chars().collect();
            prop_assert_eq!(glob_chars(&s, &chars), glob_vec(&s, &chars));
            // The same text over ASCII only takes the byte path.
            let ascii: String = s.chars().map(|c| if c.is_ascii() { c } else { 'x' }).collect();
            prop_assert_eq!(glob_chars(&ascii, &chars), glob_vec(&ascii, &chars));
        }
    }

    #[test]
    fn question_mark_is_one_char_not_one_byte() {
        let p: Vec<char> = "a?c".chars().collect();
        assert!(glob_chars("aσc", &p));
        assert!(glob_chars("abc", &p));
        assert!(!glob_chars("ac", &p));
        assert!(!glob_chars("aσσc", &p));
    }

    #[test]
    fn overlapping_anchors() {
        assert!(!Glob::new("ab*ba", true).is_match("aba"));
        assert!(Glob::new("ab*ba", true).is_match("abba"));
        assert!(Glob::new("*", true).is_match(""));
        assert!(Glob::new("a*b*c", true).is_match("abc"));
        assert!(!Glob::new("a*b*c", true).is_match("acb"));
    }
}
