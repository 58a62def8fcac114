//! The pest grammar and the conversion from pest pairs to the AST.

use crate::{
    BinaryOp, Category, Dialect, EventQuery, Expr, ExprKind, FieldRef, Join, LineageKind, Literal,
    MatchOp, ParseError, ParseErrorKind, ParseOptions, PathSegment, Pipe, PipeKind, Query,
    QueryBody, Sample, Sequence, SequenceStep, Span, TimeSpan, TimeUnit, UnaryOp,
};
use pest::iterators::Pair;
use pest::Parser as _;

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct EqlParser;

type PResult<T> = Result<T, ParseError>;

/// Parses a whole query.
pub fn parse_query(src: &str, opts: &ParseOptions) -> Result<Query, ParseError> {
    let depth = precheck(src, opts)?;
    let clean = blank_comments(src);
    with_stack(depth, || parse_query_inner(&clean, opts))
}

/// The pest parser uses a lot of stack per nesting level: about 20 KiB in an
/// optimized build (depth 127 overflowed a 2 MiB thread) and far more in an
/// unoptimized one. Nested inputs therefore run on a scoped thread whose
/// stack is sized for the maximum depth, whatever the caller's stack is.
fn with_stack<T: Send>(depth: usize, f: impl FnOnce() -> PResult<T> + Send) -> PResult<T> {
    if depth > INLINE_DEPTH {
        let per_level: usize = if cfg!(debug_assertions) {
            4 << 20
        } else {
            256 << 10
        };
        let size = depth
            .saturating_add(8)
            .saturating_mul(per_level)
            .max(8 << 20);
        std::thread::scope(|s| {
            match std::thread::Builder::new()
                .stack_size(size)
                .spawn_scoped(s, f)
            {
                Ok(h) => match h.join() {
                    Ok(v) => v,
                    Err(p) => std::panic::resume_unwind(p),
                },
                // No thread to be had: report the nesting as too deep here.
                Err(_) => err(
                    ParseErrorKind::TooDeep { max: INLINE_DEPTH },
                    Span::new(0, 0),
                ),
            }
        })
    } else {
        f()
    }
}

/// Nesting parsed on the caller's own stack (about 100 KiB in an optimized
/// build); deeper input gets a thread of its own.
const INLINE_DEPTH: usize = 4;

fn parse_query_inner(src: &str, opts: &ParseOptions) -> Result<Query, ParseError> {
    let mut pairs = EqlParser::parse(Rule::query_main, src).map_err(|e| pest_error(src, &e))?;
    let main = pairs.next().ok_or_else(|| eof(src))?;
    let q = main
        .into_inner()
        .find(|p| p.as_rule() == Rule::query)
        .ok_or_else(|| eof(src))?;
    Conv { opts }.query(q)
}

/// Parses a single expression (used by expression-level tests and folding).
pub fn parse_expr(src: &str, opts: &ParseOptions) -> Result<Expr, ParseError> {
    let depth = precheck(src, opts)?;
    let clean = blank_comments(src);
    with_stack(depth, || parse_expr_inner(&clean, opts))
}

/// Replaces every comment with spaces (newlines kept), byte for byte, so spans
/// are unchanged and pest never sees a comment.
///
/// Why: pest retries its implicit `COMMENT` rule at every token boundary of
/// every backtracking branch, so long nested comments made parsing take minutes
/// on fuzzer input. Runs after `precheck`, which has already rejected
/// unterminated strings and comments.
fn blank_comments(src: &str) -> std::borrow::Cow<'_, str> {
    if !src.contains("//") && !src.contains("/*") {
        return std::borrow::Cow::Borrowed(src);
    }
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for byte in &mut out[from..to] {
            if *byte != b'\n' {
                *byte = b' ';
            }
        }
    };
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                let start = i;
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                blank(&mut out, start, i);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let start = i;
                let mut level = 0usize;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        level += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        level = level.saturating_sub(1);
                        i += 2;
                        if level == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                blank(&mut out, start, i.min(b.len()));
            }
            b'"' if b[i..].starts_with(b"\"\"\"") => {
                i = src
                    .get(i + 3..)
                    .and_then(|rest| rest.find("\"\"\""))
                    .map_or(b.len(), |k| i + 3 + k + 3);
                while i < b.len() && b[i] == b'"' {
                    i += 1;
                }
            }
            q @ (b'"' | b'\'' | b'`') => {
                i += 1;
                while i < b.len() {
                    if b[i] == b'\\' && q != b'`' {
                        i += 2;
                    } else if b[i] == q {
                        i += 1;
                        if q == b'`' && b.get(i) == Some(&b'`') {
                            i += 1;
                            continue;
                        }
                        break;
                    } else {
                        i += 1;
                    }
                }
            }
            _ => i += 1,
        }
    }
    // Whole comments were blanked (they start and end on ASCII delimiters), so
    // no multi-byte character was cut and the result is valid UTF-8; fall back
    // to the original text if it somehow is not.
    match String::from_utf8(out) {
        Ok(s) => std::borrow::Cow::Owned(s),
        Err(_) => std::borrow::Cow::Borrowed(src),
    }
}

fn parse_expr_inner(src: &str, opts: &ParseOptions) -> Result<Expr, ParseError> {
    let mut pairs = EqlParser::parse(Rule::expr_main, src).map_err(|e| pest_error(src, &e))?;
    let main = pairs.next().ok_or_else(|| eof(src))?;
    let e = main
        .into_inner()
        .find(|p| p.as_rule() == Rule::expr)
        .ok_or_else(|| eof(src))?;
    Conv { opts }.expr(e)
}

fn eof(src: &str) -> ParseError {
    let n = src.len() as u32;
    ParseError::new(ParseErrorKind::UnexpectedEof, Span::new(n, n))
}

fn span_of(p: &Pair<'_, Rule>) -> Span {
    let s = p.as_span();
    Span::new(s.start() as u32, s.end() as u32)
}

fn err<T>(kind: ParseErrorKind, span: Span) -> PResult<T> {
    Err(ParseError::new(kind, span))
}

/// Length and depth limits, and unterminated strings, checked before pest runs.
fn precheck(src: &str, opts: &ParseOptions) -> PResult<usize> {
    if src.len() > opts.max_len {
        return err(
            ParseErrorKind::TooLong {
                len: src.len(),
                max: opts.max_len,
            },
            Span::new(0, src.len().min(u32::MAX as usize) as u32),
        );
    }
    let b = src.as_bytes();
    let mut i = 0;
    let mut depth = 0usize;
    let mut unary = 0usize;
    // Binary operators build left-nested trees; bound their number so that
    // printing and dropping the tree stays within the stack.
    let max_ops = opts.max_depth.saturating_mul(32);
    let mut ops = 0usize;
    let mut max_seen = 0usize;
    let too_deep = |at: usize| {
        err(
            ParseErrorKind::TooDeep {
                max: opts.max_depth,
            },
            Span::new(at as u32, at as u32 + 1),
        )
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let start = i;
                let mut level = 0usize;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        level += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        level -= 1;
                        i += 2;
                        if level == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                if level > 0 {
                    return err(
                        ParseErrorKind::UnterminatedComment,
                        Span::new(start as u32, start as u32 + 2),
                    );
                }
                continue;
            }
            b'"' | b'\'' | b'`' => {
                let start = i;
                if c == b'"' && b[i..].starts_with(b"\"\"\"") {
                    match src[i + 3..].find("\"\"\"") {
                        Some(k) => {
                            i += 3 + k + 3;
                            while i < b.len() && b[i] == b'"' {
                                i += 1;
                            }
                        }
                        None => {
                            return err(
                                ParseErrorKind::UnterminatedString,
                                Span::new(start as u32, b.len() as u32),
                            )
                        }
                    }
                } else {
                    let raw = c == b'`' || (start > 0 && b[start - 1] == b'?');
                    i += 1;
                    loop {
                        if i >= b.len() {
                            if c == b'`' {
                                break;
                            }
                            return err(
                                ParseErrorKind::UnterminatedString,
                                Span::new(start as u32, b.len() as u32),
                            );
                        }
                        if b[i] == b'\\' && c != b'`' {
                            i += 2;
                            continue;
                        }
                        if b[i] == c {
                            if c == b'`' && b.get(i + 1) == Some(&b'`') {
                                i += 2;
                                continue;
                            }
                            i += 1;
                            break;
                        }
                        i += 1;
                    }
                    let _ = raw;
                }
                unary = 0;
                continue;
            }
            b'(' | b'[' => {
                depth += 1;
                if depth + unary > opts.max_depth {
                    return too_deep(i);
                }
                unary = 0;
            }
            b')' | b']' => {
                depth = depth.saturating_sub(1);
                unary = 0;
            }
            b'-' | b'+' | b'*' | b'/' | b'%' | b'<' | b'>' | b'=' | b'!' | b':' | b'a' | b'o'
                if (c != b'a' && c != b'o')
                    || ((i == 0 || !is_ident_byte(b[i - 1]))
                        && (b[i..].starts_with(b"and")
                            && !b.get(i + 3).is_some_and(|&x| is_ident_byte(x))
                            || b[i..].starts_with(b"or")
                                && !b.get(i + 2).is_some_and(|&x| is_ident_byte(x)))) =>
            {
                ops += 1;
                if ops > max_ops {
                    return too_deep(i);
                }
                if c == b'-' || c == b'+' {
                    unary += 1;
                    if depth + unary > opts.max_depth {
                        return too_deep(i);
                    }
                } else if c == b'a' || c == b'o' {
                    unary = 0;
                }
            }
            b'n' if b[i..].starts_with(b"not")
                && (i == 0 || !is_ident_byte(b[i - 1]))
                && !b.get(i + 3).is_some_and(|&x| is_ident_byte(x)) =>
            {
                unary += 1;
                if depth + unary > opts.max_depth {
                    return too_deep(i);
                }
                max_seen = max_seen.max(depth + unary);
                i += 3;
                continue;
            }
            c if c.is_ascii_whitespace() => {}
            _ => unary = 0,
        }
        max_seen = max_seen.max(depth + unary);
        i += 1;
    }
    Ok(max_seen)
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'@'
}

const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "like", "regex", "where", "null", "true", "false", "sequence",
    "sample", "join", "by", "with", "until", "maxspan", "runs", "of", "any",
];

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

fn pest_error(src: &str, e: &pest::error::Error<Rule>) -> ParseError {
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
    // A misspelled query keyword as the first word (`sequense by ...`).
    let first: String = src
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let first_start = src.len() - src.trim_start().len();
    let after_first = src[first_start + first.len()..].trim_start();
    if pos >= first_start + first.len() && pos == src.len() - after_first.len() && !first.is_empty()
    {
        for kw in ["sequence", "sample", "join"] {
            if first != kw
                && (first.eq_ignore_ascii_case(kw) || edit_distance(&first, kw) <= 2)
                && first.len() > 3
            {
                return ParseError {
                    kind: ParseErrorKind::UnknownKeyword {
                        found: first.clone(),
                        suggestion: Some(kw.to_string()),
                    },
                    span: Span::new(first_start as u32, (first_start + first.len()) as u32),
                    expected: Vec::new(),
                };
            }
        }
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

/// Levenshtein distance (small strings only).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
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

fn is_kw(r: Rule) -> bool {
    matches!(
        r,
        Rule::kw_where
            | Rule::kw_sequence
            | Rule::kw_sample
            | Rule::kw_join
            | Rule::kw_by
            | Rule::kw_with
            | Rule::kw_maxspan
            | Rule::kw_runs
            | Rule::kw_fork
            | Rule::kw_until
            | Rule::kw_and
            | Rule::kw_or
            | Rule::kw_of
            | Rule::EOI
    )
}

fn inner(p: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    p.into_inner().filter(|x| !is_kw(x.as_rule()))
}

fn first_inner(p: Pair<'_, Rule>) -> PResult<Pair<'_, Rule>> {
    let sp = span_of(&p);
    inner(p)
        .next()
        .ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, sp))
}

struct Conv<'o> {
    opts: &'o ParseOptions,
}

impl Conv<'_> {
    fn es(&self) -> bool {
        self.opts.dialect == Dialect::Elasticsearch
    }

    fn py_only(&self, what: &str, span: Span) -> PResult<()> {
        if self.es() {
            return err(
                ParseErrorKind::Unsupported {
                    what: what.to_string(),
                },
                span,
            );
        }
        Ok(())
    }

    fn query(&self, p: Pair<'_, Rule>) -> PResult<Query> {
        let span = span_of(&p);
        let mut it = inner(p);
        let b = it
            .next()
            .ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))?;
        let body = match b.as_rule() {
            Rule::sequence => QueryBody::Sequence(self.sequence(b)?),
            Rule::sample => QueryBody::Sample(self.sample(b)?),
            Rule::join => {
                self.py_only("`join`", span_of(&b))?;
                QueryBody::Join(self.join(b)?)
            }
            _ => QueryBody::Event(self.event_query(b)?),
        };
        let mut pipes = Vec::new();
        for p in it {
            pipes.push(self.pipe(p)?);
        }
        Ok(Query { body, pipes, span })
    }

    fn pipe(&self, p: Pair<'_, Rule>) -> PResult<Pipe> {
        let span = span_of(&p);
        let mut it = inner(p);
        let n = it
            .next()
            .ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))?;
        let name = n.as_str();
        let all = [
            PipeKind::Head,
            PipeKind::Tail,
            PipeKind::Count,
            PipeKind::Unique,
            PipeKind::UniqueCount,
            PipeKind::Filter,
            PipeKind::Sort,
        ];
        let allowed: &[PipeKind] = if self.es() { &all[..2] } else { &all };
        let kind = match all.iter().find(|k| k.name() == name) {
            Some(k) if allowed.contains(k) => *k,
            Some(_) => {
                return err(
                    ParseErrorKind::Unsupported {
                        what: format!("pipe `{name}`"),
                    },
                    span_of(&n),
                )
            }
            None => {
                let suggestion = allowed
                    .iter()
                    .map(|k| (edit_distance(name, k.name()), k.name()))
                    .filter(|(d, _)| *d <= 2)
                    .min()
                    .map(|(_, k)| k.to_string());
                return err(
                    ParseErrorKind::UnknownPipe {
                        name: name.to_string(),
                        suggestion,
                    },
                    span_of(&n),
                );
            }
        };
        let args = it.map(|e| self.expr(e)).collect::<PResult<Vec<_>>>()?;
        if self.es() && args.len() != 1 {
            return err(
                ParseErrorKind::Unsupported {
                    what: format!("`{name}` without exactly one argument"),
                },
                span,
            );
        }
        Ok(Pipe { kind, args, span })
    }

    fn category(&self, p: Pair<'_, Rule>) -> PResult<Category> {
        let span = span_of(&p);
        let c = first_inner(p)?;
        let name = match c.as_rule() {
            Rule::name => {
                let s = c.as_str();
                if s == "any" {
                    None
                } else {
                    Some(s.to_string())
                }
            }
            _ => match self.string(c)? {
                Literal::String(s) => Some(s),
                _ => None,
            },
        };
        Ok(Category { name, span })
    }

    fn event_query(&self, p: Pair<'_, Rule>) -> PResult<EventQuery> {
        let span = span_of(&p);
        let mut it = inner(p);
        let c = it
            .next()
            .ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))?;
        let category = self.category(c)?;
        let e = it
            .next()
            .ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))?;
        let condition = self.expr(e)?;
        Ok(EventQuery {
            category,
            condition,
            span,
        })
    }

    fn by_clause(&self, p: Pair<'_, Rule>) -> PResult<Vec<Expr>> {
        inner(p).map(|e| self.expr(e)).collect()
    }

    fn timespan(&self, p: Pair<'_, Rule>) -> PResult<TimeSpan> {
        let span = span_of(&p);
        let mut it = inner(p);
        let n = it
            .next()
            .ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))?;
        let value: u64 = n.as_str().parse().map_err(|_| {
            ParseError::new(
                ParseErrorKind::InvalidNumber {
                    text: n.as_str().into(),
                },
                span_of(&n),
            )
        })?;
        let unit = match it.next().map(|u| u.as_str().to_string()).as_deref() {
            Some("ms") => Some(TimeUnit::Millis),
            Some("s") => Some(TimeUnit::Seconds),
            Some("m") => Some(TimeUnit::Minutes),
            Some("h") => Some(TimeUnit::Hours),
            Some("d") => Some(TimeUnit::Days),
            _ => None,
        };
        if unit.is_none() && self.es() {
            return err(ParseErrorKind::MissingMaxspanUnit, span);
        }
        Ok(TimeSpan { value, unit, span })
    }

    fn step(&self, p: Pair<'_, Rule>, sample: bool) -> PResult<SequenceStep> {
        let span = span_of(&p);
        let mut step = SequenceStep {
            query: EventQuery {
                category: Category { name: None, span },
                condition: Expr {
                    kind: ExprKind::Literal(Literal::Null),
                    span,
                },
                span,
            },
            by: Vec::new(),
            runs: None,
            missing: false,
            fork: None,
            span,
        };
        for x in inner(p) {
            match x.as_rule() {
                Rule::missing => {
                    if sample || !self.es() {
                        return err(
                            ParseErrorKind::Unsupported {
                                what: "a missing step `![...]`".into(),
                            },
                            span_of(&x),
                        );
                    }
                    step.missing = true;
                }
                Rule::event_query => step.query = self.event_query(x)?,
                Rule::by_clause => step.by.extend(self.by_clause(x)?),
                Rule::runs_clause => {
                    let sp = span_of(&x);
                    if sample {
                        return err(
                            ParseErrorKind::Unsupported {
                                what: "`runs` in a sample".into(),
                            },
                            sp,
                        );
                    }
                    let n = first_inner(x)?;
                    let value: u64 = n.as_str().parse().unwrap_or(u64::MAX);
                    let ok = if self.es() {
                        (1..=100).contains(&value)
                    } else {
                        value >= 2 && u32::try_from(value).is_ok()
                    };
                    if !ok {
                        let range = if self.es() { "1 to 100" } else { "at least 2" };
                        return err(
                            ParseErrorKind::RunsOutOfRange {
                                value,
                                range: range.into(),
                            },
                            sp,
                        );
                    }
                    step.runs = Some(value as u32);
                }
                Rule::fork_clause => {
                    let sp = span_of(&x);
                    self.py_only("`fork`", sp)?;
                    if sample {
                        return err(
                            ParseErrorKind::Unsupported {
                                what: "`fork` in a sample".into(),
                            },
                            sp,
                        );
                    }
                    let v = x
                        .into_inner()
                        .find(|y| matches!(y.as_rule(), Rule::kw_true | Rule::kw_false));
                    step.fork = Some(v.is_none_or(|y| y.as_rule() == Rule::kw_true));
                }
                _ => {}
            }
        }
        Ok(step)
    }

    fn until(&self, p: Pair<'_, Rule>) -> PResult<SequenceStep> {
        let span = span_of(&p);
        let mut query = None;
        let mut by = Vec::new();
        for x in inner(p) {
            match x.as_rule() {
                Rule::event_query => query = Some(self.event_query(x)?),
                Rule::by_clause => by = self.by_clause(x)?,
                _ => {}
            }
        }
        let query = query.ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))?;
        Ok(SequenceStep {
            query,
            by,
            runs: None,
            missing: false,
            fork: None,
            span,
        })
    }

    fn check_keys(steps: &[SequenceStep], until: Option<&SequenceStep>) -> PResult<()> {
        let Some(first) = steps.first() else {
            return Ok(());
        };
        let expected = first.by.len();
        for s in steps.iter().chain(until) {
            if s.by.len() != expected {
                let sp = s.by.first().map_or(s.span, |e| e.span);
                return err(
                    ParseErrorKind::InconsistentJoinKeys {
                        expected,
                        found: s.by.len(),
                    },
                    sp,
                );
            }
        }
        Ok(())
    }

    fn sequence(&self, p: Pair<'_, Rule>) -> PResult<Sequence> {
        let span = span_of(&p);
        let mut seq = Sequence {
            by: Vec::new(),
            maxspan: None,
            steps: Vec::new(),
            until: None,
            span,
        };
        for x in inner(p) {
            match x.as_rule() {
                Rule::by_clause => {
                    if seq.maxspan.is_some() && self.es() {
                        return err(ParseErrorKind::ByAfterWith, span_of(&x));
                    }
                    seq.by = self.by_clause(x)?;
                }
                Rule::with_clause => {
                    let sp = span_of(&x);
                    let ts = x.into_inner().find(|y| y.as_rule() == Rule::timespan);
                    let ts =
                        ts.ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, sp))?;
                    seq.maxspan = Some(self.timespan(ts)?);
                }
                Rule::step => seq.steps.push(self.step(x, false)?),
                Rule::until_step => seq.until = Some(self.until(x)?),
                _ => {}
            }
        }
        Self::check_keys(&seq.steps, seq.until.as_ref())?;
        Ok(seq)
    }

    fn sample(&self, p: Pair<'_, Rule>) -> PResult<Sample> {
        let span = span_of(&p);
        let mut s = Sample {
            by: Vec::new(),
            steps: Vec::new(),
            span,
        };
        for x in inner(p) {
            match x.as_rule() {
                Rule::by_clause => s.by = self.by_clause(x)?,
                Rule::step => s.steps.push(self.step(x, true)?),
                _ => {}
            }
        }
        Self::check_keys(&s.steps, None)?;
        Ok(s)
    }

    fn join(&self, p: Pair<'_, Rule>) -> PResult<Join> {
        let span = span_of(&p);
        let mut j = Join {
            by: Vec::new(),
            steps: Vec::new(),
            until: None,
            span,
        };
        for x in inner(p) {
            match x.as_rule() {
                Rule::by_clause => j.by = self.by_clause(x)?,
                Rule::step => {
                    let s = self.step(x, false)?;
                    if s.runs.is_some() {
                        return err(
                            ParseErrorKind::Unsupported {
                                what: "`runs` in a join".into(),
                            },
                            s.span,
                        );
                    }
                    j.steps.push(s);
                }
                Rule::until_step => j.until = Some(self.until(x)?),
                _ => {}
            }
        }
        Self::check_keys(&j.steps, j.until.as_ref())?;
        Ok(j)
    }

    fn expr(&self, p: Pair<'_, Rule>) -> PResult<Expr> {
        let span = span_of(&p);
        match p.as_rule() {
            Rule::expr | Rule::primary | Rule::match_rhs => self.expr(first_inner(p)?),
            Rule::or_expr | Rule::and_expr | Rule::add_expr | Rule::mul_expr => {
                self.binary_chain(p)
            }
            Rule::not_expr => {
                let mut it = p.into_inner();
                let a = it
                    .next()
                    .ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))?;
                if a.as_rule() == Rule::kw_not {
                    let b = it
                        .next()
                        .ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))?;
                    let e = self.expr(b)?;
                    Ok(Expr {
                        kind: ExprKind::Unary {
                            op: UnaryOp::Not,
                            expr: Box::new(e),
                        },
                        span,
                    })
                } else {
                    self.expr(a)
                }
            }
            Rule::unary => {
                let mut it = p.into_inner();
                let a = it
                    .next()
                    .ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))?;
                if a.as_rule() == Rule::unary_op {
                    let op = if a.as_str() == "-" {
                        UnaryOp::Neg
                    } else {
                        UnaryOp::Plus
                    };
                    let b = it
                        .next()
                        .ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))?;
                    let e = self.expr(b)?;
                    Ok(Expr {
                        kind: ExprKind::Unary {
                            op,
                            expr: Box::new(e),
                        },
                        span,
                    })
                } else {
                    self.expr(a)
                }
            }
            Rule::cmp_expr => self.cmp(p),
            Rule::postfix => {
                let mut it = p.into_inner();
                let a = it
                    .next()
                    .ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))?;
                let mut e = self.expr(a)?;
                for m in it {
                    let msp = span_of(&m);
                    // `x:f()` is the Python method syntax only with no space
                    // after `:`; `x : f()` is the `:` operator with a call
                    // on its right, which neither dialect accepts.
                    if m.as_str()
                        .get(1..)
                        .is_some_and(|r| r.starts_with(char::is_whitespace))
                    {
                        return err(ParseErrorKind::PatternNotLiteral, msp);
                    }
                    self.py_only("method syntax `x:f()`", msp)?;
                    let (name, insensitive, mut args) = self.call_parts(m)?;
                    args.insert(0, e);
                    e = Expr {
                        kind: ExprKind::Call {
                            name,
                            insensitive,
                            args,
                        },
                        span: Span::new(span.start, msp.end),
                    };
                }
                Ok(e)
            }
            Rule::paren => {
                let mut e = self.expr(first_inner(p)?)?;
                e.span = span;
                Ok(e)
            }
            Rule::call => {
                let (name, insensitive, args) = self.call_parts(p)?;
                Ok(Expr {
                    kind: ExprKind::Call {
                        name,
                        insensitive,
                        args,
                    },
                    span,
                })
            }
            Rule::lineage => {
                self.py_only("lineage `of`", span)?;
                let mut it = inner(p);
                let k = it
                    .next()
                    .ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))?;
                let kind = match k.as_str() {
                    "descendant" => LineageKind::Descendant,
                    "child" => LineageKind::Child,
                    _ => LineageKind::Event,
                };
                let q = it
                    .next()
                    .ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))?;
                let query = self.event_query(q)?;
                Ok(Expr {
                    kind: ExprKind::Lineage {
                        kind,
                        query: Box::new(query),
                    },
                    span,
                })
            }
            Rule::literal => {
                let l = p
                    .into_inner()
                    .next()
                    .ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))?;
                let lit = match l.as_rule() {
                    Rule::kw_null => Literal::Null,
                    Rule::kw_true => Literal::Bool(true),
                    Rule::kw_false => Literal::Bool(false),
                    Rule::number => number(l.as_str(), span)?,
                    _ => self.string(l)?,
                };
                Ok(Expr {
                    kind: ExprKind::Literal(lit),
                    span,
                })
            }
            Rule::field => self.field(p),
            _ => err(
                ParseErrorKind::UnexpectedToken {
                    found: p.as_str().to_string(),
                },
                span,
            ),
        }
    }

    fn call_parts(&self, p: Pair<'_, Rule>) -> PResult<(String, bool, Vec<Expr>)> {
        let mut name = String::new();
        let mut insensitive = false;
        let mut args = Vec::new();
        for x in p.into_inner() {
            match x.as_rule() {
                Rule::name => name = x.as_str().to_string(),
                Rule::tilde => insensitive = true,
                Rule::expr_list => {
                    for e in x.into_inner() {
                        args.push(self.expr(e)?);
                    }
                }
                _ => {}
            }
        }
        Ok((name, insensitive, args))
    }

    fn binary_chain(&self, p: Pair<'_, Rule>) -> PResult<Expr> {
        let span = span_of(&p);
        let mut it = p.into_inner();
        let a = it
            .next()
            .ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))?;
        let mut left = self.expr(a)?;
        while let Some(op) = it.next() {
            let op = match (op.as_rule(), op.as_str()) {
                (Rule::kw_or, _) => BinaryOp::Or,
                (Rule::kw_and, _) => BinaryOp::And,
                (_, "+") => BinaryOp::Add,
                (_, "-") => BinaryOp::Sub,
                (_, "*") => BinaryOp::Mul,
                (_, "/") => BinaryOp::Div,
                _ => BinaryOp::Mod,
            };
            let b = it
                .next()
                .ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))?;
            let right = self.expr(b)?;
            let sp = left.span.to(right.span);
            left = Expr {
                kind: ExprKind::Binary {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                },
                span: sp,
            };
        }
        Ok(left)
    }

    fn cmp(&self, p: Pair<'_, Rule>) -> PResult<Expr> {
        let span = span_of(&p);
        let mut it = p.into_inner();
        let a = it
            .next()
            .ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))?;
        let left = self.expr(a)?;
        let Some(tail) = it.next() else {
            return Ok(left);
        };
        if let Some(second) = it.next() {
            return err(ParseErrorKind::ChainedComparison, span_of(&second));
        }
        let mut t = tail.into_inner();
        let op = t
            .next()
            .ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))?;
        let rhs = t
            .next()
            .ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))?;
        let lb = Box::new(left);
        match op.as_rule() {
            Rule::cmp_op => {
                let o = match op.as_str() {
                    "==" => BinaryOp::Eq,
                    "=" => {
                        if self.es() {
                            return err(ParseErrorKind::SingleEquals, span_of(&op));
                        }
                        BinaryOp::Eq
                    }
                    "!=" => BinaryOp::Ne,
                    "<" => BinaryOp::Lt,
                    "<=" => BinaryOp::Le,
                    ">" => BinaryOp::Gt,
                    _ => BinaryOp::Ge,
                };
                let right = self.expr(rhs)?;
                // ES moves a constant to the right and translates the
                // comparison to a query on the other side: one side must be
                // constant. A side that reads only optional fields may be
                // `null` once a mapping is known: compiling checks those.
                if self.es()
                    && lb.reads_event()
                    && right.reads_event()
                    && lb.reads_required()
                    && right.reads_required()
                {
                    return err(ParseErrorKind::FieldComparison, span);
                }
                Ok(Expr {
                    kind: ExprKind::Binary {
                        op: o,
                        left: lb,
                        right: Box::new(right),
                    },
                    span,
                })
            }
            Rule::in_op => {
                let mut negated = false;
                let mut insensitive = false;
                for x in op.into_inner() {
                    match x.as_rule() {
                        Rule::kw_not => negated = true,
                        Rule::tilde => insensitive = true,
                        _ => {}
                    }
                }
                let list = rhs
                    .into_inner()
                    .map(|e| self.expr(e))
                    .collect::<PResult<Vec<_>>>()?;
                Ok(Expr {
                    kind: ExprKind::In {
                        expr: lb,
                        list,
                        negated,
                        insensitive,
                    },
                    span,
                })
            }
            _ => {
                let mut mop = MatchOp::Colon;
                let mut insensitive = false;
                for x in op.into_inner() {
                    match x.as_rule() {
                        Rule::kw_like => mop = MatchOp::Like,
                        Rule::kw_regex => mop = MatchOp::Regex,
                        Rule::tilde => insensitive = true,
                        _ => {}
                    }
                }
                if mop != MatchOp::Colon || insensitive {
                    // `like`/`regex` exist in both dialects in this implementation.
                }
                let r = first_inner(rhs)?;
                let (patterns, list) = if r.as_rule() == Rule::expr_list {
                    (
                        r.into_inner()
                            .map(|e| self.expr(e))
                            .collect::<PResult<Vec<_>>>()?,
                        true,
                    )
                } else {
                    (vec![self.expr(r)?], false)
                };
                if let Some(p) = patterns
                    .iter()
                    .find(|p| !matches!(p.kind, ExprKind::Literal(_)))
                {
                    return err(ParseErrorKind::PatternNotLiteral, p.span);
                }
                Ok(Expr {
                    kind: ExprKind::Match {
                        expr: lb,
                        op: mop,
                        insensitive,
                        patterns,
                        list,
                    },
                    span,
                })
            }
        }
    }

    fn field(&self, p: Pair<'_, Rule>) -> PResult<Expr> {
        let span = span_of(&p);
        let mut optional = false;
        let mut path = Vec::new();
        for x in p.into_inner() {
            match x.as_rule() {
                Rule::optional => optional = true,
                Rule::segment => {
                    let s = first_inner(x)?;
                    let t = s.as_str();
                    if s.as_rule() == Rule::backtick {
                        path.push(PathSegment::Key(t[1..t.len() - 1].replace("``", "`")));
                    } else {
                        path.push(PathSegment::Key(t.to_string()));
                    }
                }
                Rule::index => {
                    let sp = span_of(&x);
                    self.py_only("array index", sp)?;
                    let n = first_inner(x)?;
                    let v: u32 = n.as_str().parse().map_err(|_| {
                        ParseError::new(
                            ParseErrorKind::InvalidNumber {
                                text: n.as_str().into(),
                            },
                            sp,
                        )
                    })?;
                    path.push(PathSegment::Index(v));
                }
                _ => {}
            }
        }
        Ok(Expr {
            kind: ExprKind::Field(FieldRef { path, optional }),
            span,
        })
    }

    fn string(&self, p: Pair<'_, Rule>) -> PResult<Literal> {
        let span = span_of(&p);
        let t = p.as_str();
        match p.as_rule() {
            Rule::raw_string => Ok(Literal::String(t[3..t.len() - 3].to_string())),
            Rule::dq_string => unescape(&t[1..t.len() - 1], span.start + 1).map(Literal::String),
            Rule::sq_string => {
                self.py_only("single-quoted string", span)?;
                unescape(&t[1..t.len() - 1], span.start + 1).map(Literal::String)
            }
            _ => {
                self.py_only("raw string `?\"...\"`", span)?;
                let q = &t[1..2];
                let body = &t[2..t.len() - 1];
                Ok(Literal::String(body.replace(&format!("\\{q}"), q)))
            }
        }
    }
}

fn number(t: &str, span: Span) -> PResult<Literal> {
    if t.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(v) = t.parse::<i64>() {
            return Ok(Literal::Int(v));
        }
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(Literal::Float(f)),
        _ => err(
            ParseErrorKind::InvalidNumber {
                text: t.to_string(),
            },
            span,
        ),
    }
}

fn unescape(s: &str, base: u32) -> PResult<String> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = it.next() else {
            return err(
                ParseErrorKind::InvalidEscape {
                    escape: "\\".into(),
                },
                Span::new(base + i as u32, base + i as u32 + 1),
            );
        };
        let bad = |end: usize| {
            let end = end.min(s.len());
            err(
                ParseErrorKind::InvalidEscape {
                    escape: s.get(i..end).unwrap_or("\\").to_string(),
                },
                Span::new(base + i as u32, base + end as u32),
            )
        };
        match e {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'u' => {
                if it.next().map(|x| x.1) != Some('{') {
                    return bad(i + 2 + 1);
                }
                let mut hex = String::new();
                let mut closed = false;
                for (_, h) in it.by_ref() {
                    if h == '}' {
                        closed = true;
                        break;
                    }
                    hex.push(h);
                    if hex.len() > 8 {
                        break;
                    }
                }
                let end = i + 3 + hex.len() + usize::from(closed);
                if !closed || hex.len() < 2 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                    return bad(end);
                }
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => return bad(end),
                }
            }
            other => return bad(i + 1 + other.len_utf8()),
        }
    }
    Ok(out)
}
