//! The keywords of the grammar (`grammar.pest`), written once for the
//! parser's diagnostics, the printer's quoting and the tree generator.

/// Every keyword: the words the grammar's `keyword` rule reserves first
/// ([`RESERVED`]), then the words of the query forms and their clauses (its
/// `kw_*` rules, `fork` among them), and `any`, the category of every event.
/// A name that is one of these is quoted when printed, and a wrongly cased
/// or misspelled one gets a suggestion (the first close one in this order).
pub(crate) const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "like", "regex", "where", "null", "true", "false", "sequence",
    "sample", "join", "by", "with", "until", "maxspan", "runs", "of", "any", "fork",
];

/// The words of the grammar's `keyword` rule: never a bare field, call or
/// method name.
#[cfg(any(test, feature = "arbitrary"))]
pub(crate) const RESERVED: &[&str] = KEYWORDS.split_at(10).0;

#[cfg(test)]
mod tests {
    use super::{KEYWORDS, RESERVED};

    const GRAMMAR: &str = include_str!("grammar.pest");

    /// The quoted words of a grammar line.
    fn words(line: &str) -> Vec<&str> {
        line.split('"').skip(1).step_by(2).collect()
    }

    #[test]
    fn reserved_words_are_the_keyword_rule() {
        let rule = GRAMMAR
            .lines()
            .find(|l| l.starts_with("keyword "))
            .map(words)
            .unwrap_or_default();
        assert_eq!(rule, RESERVED);
    }

    #[test]
    fn every_kw_rule_is_a_keyword_and_back() {
        let kw: Vec<&str> = GRAMMAR
            .lines()
            .filter(|l| l.starts_with("kw_"))
            .flat_map(words)
            .collect();
        assert!(kw.contains(&"fork"));
        for w in &kw {
            assert!(KEYWORDS.contains(w), "`{w}` is a grammar keyword");
        }
        for w in KEYWORDS {
            assert!(kw.contains(w) || *w == "any", "`{w}` is not in the grammar");
        }
    }
}
