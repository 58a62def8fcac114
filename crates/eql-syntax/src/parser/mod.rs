//! The pest grammar and the conversion from pest pairs to the AST: the entry
//! points here, then by concern the checks before pest runs ([`precheck`]),
//! pest errors turned into diagnostics ([`diagnose`]), and the conversion of
//! queries ([`query`]) and of expressions ([`expr`]).

mod diagnose;
mod expr;
mod precheck;
mod query;

use diagnose::pest_error;
use precheck::precheck;

use crate::{Dialect, Expr, ParseError, ParseErrorKind, ParseOptions, Query, Span};
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
}
