//! The pest grammar and the conversion from pest pairs to the AST: the entry
//! points here, then by concern what runs before pest ([`precheck`]),
//! pest errors turned into diagnostics ([`diagnose`]), and the conversion of
//! queries ([`query`]) and of expressions ([`expr`]).

mod diagnose;
mod expr;
mod precheck;
mod query;

use diagnose::pest_error;
use precheck::{blank_comments, precheck};

use crate::{Dialect, Expr, ParseError, ParseErrorKind, ParseOptions, Query, Span};
use pest::iterators::Pair;
use pest::Parser as _;

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct EqlParser;

type PResult<T> = Result<T, ParseError>;

/// Parses a whole query.
pub fn parse_query(src: &str, opts: &ParseOptions) -> Result<Query, ParseError> {
    parse_with(src, opts, Rule::query_main, Rule::query, Conv::query)
}

/// Parses a single expression (used by expression-level tests and folding).
pub fn parse_expr(src: &str, opts: &ParseOptions) -> Result<Expr, ParseError> {
    parse_with(src, opts, Rule::expr_main, Rule::expr, Conv::expr)
}

/// The checks before pest, then pest from rule `main` (on a thread of its
/// own for deep input), then `conv` of its `inner` pair.
fn parse_with<'o, T: Send>(
    src: &str,
    opts: &'o ParseOptions,
    main: Rule,
    inner: Rule,
    conv: impl FnOnce(&Conv<'o>, Pair<'_, Rule>) -> PResult<T> + Send,
) -> PResult<T> {
    let depth = precheck(src, opts)?;
    let clean = blank_comments(src);
    let src = clean.as_ref();
    with_stack(depth, || {
        let mut pairs = EqlParser::parse(main, src).map_err(|e| pest_error(src, &e))?;
        let top = pairs.next().ok_or_else(|| eof(src))?;
        let p = top
            .into_inner()
            .find(|p| p.as_rule() == inner)
            .ok_or_else(|| eof(src))?;
        conv(&Conv { opts }, p)
    })
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

fn eof(src: &str) -> ParseError {
    let n = src.len() as u32;
    ParseError::new(ParseErrorKind::UnexpectedEof, Span::new(n, n))
}

/// The span of `p`'s text up to its last token. pest's span of a
/// compound rule also takes in the blanks it skipped after its last part
/// (looking for an operator that did not come). The text pest reads has its
/// comments blanked ([`blank_comments`]), so those blanks are all the trivia
/// there is, and no token ends with one (strings end with their quote).
fn span_of(p: &Pair<'_, Rule>) -> Span {
    let s = p.as_span();
    let content = p
        .as_str()
        .trim_end_matches([' ', '\t', '\r', '\n', '\u{0C}']);
    Span::new(s.start() as u32, (s.start() + content.len()) as u32)
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
    next_pair(&mut inner(p), sp)
}

/// The next pair of `it`; past the end, `UnexpectedEof` at `span`.
fn next_pair<'i>(
    it: &mut impl Iterator<Item = Pair<'i, Rule>>,
    span: Span,
) -> PResult<Pair<'i, Rule>> {
    it.next()
        .ok_or_else(|| ParseError::new(ParseErrorKind::UnexpectedEof, span))
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
