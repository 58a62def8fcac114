//! Pest errors turned into [`ParseError`]s: the expected tokens by name, and
//! a suggestion for a misspelled or wrongly cased keyword.

use super::Rule;
use crate::keyword::KEYWORDS;
use crate::{ParseError, ParseErrorKind, Span};

fn rule_name(r: Rule) -> Option<&'static str> {
    Some(match r {
        Rule::kw_where => "`where`",
        Rule::kw_sequence => "`sequence`",
        Rule::kw_sample => "`sample`",
        Rule::kw_join => "`join`",
        Rule::kw_by => "`by`",
        Rule::kw_with => "`with`",
        Rule::kw_maxspan => "`maxspan`",
        Rule::kw_runs => "`runs`",
        Rule::kw_fork => "`fork`",
        Rule::kw_until => "`until`",
        Rule::kw_and => "`and`",
        Rule::kw_or => "`or`",
        Rule::kw_not => "`not`",
        Rule::kw_in | Rule::in_op => "`in`",
        Rule::kw_like => "`like`",
        Rule::kw_regex => "`regex`",
        Rule::kw_of => "`of`",
        Rule::kw_null | Rule::kw_true | Rule::kw_false | Rule::literal => "a literal",
        Rule::query | Rule::event_query => "a query",
        Rule::category => "an event category",
        Rule::name => "a name",
        Rule::step => "a sequence step `[`",
        Rule::timespan | Rule::uint_lit => "an integer",
        Rule::time_unit => "a time unit",
        Rule::pipe => "`|`",
        Rule::expr
        | Rule::or_expr
        | Rule::and_expr
        | Rule::not_expr
        | Rule::cmp_expr
        | Rule::add_expr
        | Rule::mul_expr
        | Rule::unary
        | Rule::postfix
        | Rule::primary
        | Rule::expr_list
        | Rule::lone_literal
        | Rule::match_rhs => "an expression",
        Rule::cmp_tail | Rule::cmp_op => "an operator",
        Rule::match_op | Rule::colon => "`:`",
        Rule::add_op | Rule::mul_op => "an operator",
        Rule::number => "a number",
        Rule::raw_string | Rule::dq_string | Rule::sq_string | Rule::py_raw => "a string",
        Rule::field | Rule::segment => "a field",
        Rule::EOI => "end of input",
        Rule::tilde => "`~`",
        _ => return None,
    })
}

pub(super) fn pest_error(src: &str, e: &pest::error::Error<Rule>) -> ParseError {
    let pos = match e.location {
        pest::error::InputLocation::Pos(p) | pest::error::InputLocation::Span((p, _)) => p,
    };
    let mut expected: Vec<String> = Vec::new();
    if let pest::error::ErrorVariant::ParsingError { positives, .. } = &e.variant {
        for r in positives {
            if let Some(n) = rule_name(*r) {
                if !expected.iter().any(|x| x == n) {
                    expected.push(n.to_string());
                }
            }
        }
    }
    expected.sort();
    let rest = src.get(pos..).unwrap_or("");
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if let Some(e) = misspelled_query_form(src, pos) {
        return e;
    }
    let span_end = |len: usize| Span::new(pos as u32, (pos + len) as u32);
    if !word.is_empty() {
        let lower = word.to_ascii_lowercase();
        if lower != word && KEYWORDS.contains(&lower.as_str()) {
            return ParseError {
                kind: ParseErrorKind::UnknownKeyword {
                    found: word.clone(),
                    suggestion: Some(lower),
                },
                span: span_end(word.len()),
                expected,
            };
        }
        if expected
            .iter()
            .any(|x| x.starts_with('`') && x != "`~`" && x != "`|`")
        {
            if let Some(kw) = KEYWORDS
                .iter()
                .find(|k| word.len() > 3 && edit_distance(&word, k) == 1)
            {
                return ParseError {
                    kind: ParseErrorKind::UnknownKeyword {
                        found: word.clone(),
                        suggestion: Some((*kw).to_string()),
                    },
                    span: span_end(word.len()),
                    expected,
                };
            }
        }
        return ParseError {
            kind: ParseErrorKind::UnexpectedToken {
                found: word.clone(),
            },
            span: span_end(word.len()),
            expected,
        };
    }
    match rest.chars().next() {
        None => ParseError {
            kind: ParseErrorKind::UnexpectedEof,
            span: span_end(0),
            expected,
        },
        Some(c) => ParseError {
            kind: ParseErrorKind::UnexpectedToken {
                found: c.to_string(),
            },
            span: span_end(c.len_utf8()),
            expected,
        },
    }
}

/// A misspelled query keyword as the first word (`sequense by ...`), when
/// the error is at the word after it.
fn misspelled_query_form(src: &str, pos: usize) -> Option<ParseError> {
    let first: String = src
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let first_start = src.len() - src.trim_start().len();
    let after_first = src[first_start + first.len()..].trim_start();
    if first.is_empty()
        || first.len() <= 3
        || pos < first_start + first.len()
        || pos != src.len() - after_first.len()
    {
        return None;
    }
    let kw = ["sequence", "sample", "join"].into_iter().find(|kw| {
        first != *kw && (first.eq_ignore_ascii_case(kw) || edit_distance(&first, kw) <= 2)
    })?;
    Some(ParseError {
        kind: ParseErrorKind::UnknownKeyword {
            found: first.clone(),
            suggestion: Some(kw.to_string()),
        },
        span: Span::new(first_start as u32, (first_start + first.len()) as u32),
        expected: Vec::new(),
    })
}

/// Levenshtein distance (small strings only).
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let v = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
            cur.push(v);
        }
        prev = cur;
    }
    prev[b.len()]
}
