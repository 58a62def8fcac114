//! The compile-time checks of a query, after parsing (and binding to a
//! mapping) and before lowering: in Elasticsearch, comparisons between two
//! sides that read the event the parser deferred; function names and
//! arities, literal types, regexes and the count of wildcard patterns in
//! every expression ([`check_expr`]), then what the stateful forms need
//! ([`sequence`]). Each failure is a
//! [`Diagnostic`] with a stable code.

mod functions;
mod sequence;

pub use sequence::MAX_SEQUENCE_STEPS;

use crate::regexes::RegexCache;
use eql_syntax::{
    BinaryOp, Diagnostic, Dialect, Expr, ExprKind, Literal, MatchOp, ParseError, ParseErrorKind,
    Query,
};

/// What the checks of a whole query need besides the query.
///
/// ```
/// use eql_plan::{check_query, CheckOptions, RegexCache, DEFAULT_REGEX_SIZE_LIMIT};
/// use eql_syntax::{parse_query, Dialect, ParseOptions};
/// let q = parse_query(r#"any where a : ("x*", "y*", "z*")"#, &ParseOptions::default()).unwrap();
/// let mut regexes = RegexCache::new(DEFAULT_REGEX_SIZE_LIMIT);
/// let err = check_query(&q, &CheckOptions::new(Dialect::Elasticsearch, 2), &mut regexes).unwrap_err();
/// assert_eq!(err.code, "EQL0305");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckOptions {
    /// The dialect the query was parsed in.
    pub dialect: Dialect,
    /// Most wildcard patterns the query may hold (`EQL0305` beyond).
    pub max_wildcard_patterns: usize,
}

impl CheckOptions {
    /// Options for `dialect` allowing `max_wildcard_patterns` patterns.
    pub fn new(dialect: Dialect, max_wildcard_patterns: usize) -> Self {
        CheckOptions {
            dialect,
            max_wildcard_patterns,
        }
    }
}

/// Checks a parsed query: in Elasticsearch, a comparison of two sides that
/// both read the event, which the parser lets through when a side reads
/// only optional `?fields` (`EQL0016`; binding to a mapping folds those it
/// lacks to `null` first); every expression ([`check_expr`], in source
/// order) and its count of wildcard patterns (`EQL0305`), then the
/// stateful forms (`EQL0401`–`EQL0403`). The literal regex patterns are
/// compiled into `regexes`, with its size limit.
///
/// # Errors
///
/// The first failed check, as a diagnostic with its code and span.
pub fn check_query(
    q: &Query,
    opts: &CheckOptions,
    regexes: &mut RegexCache,
) -> Result<(), Diagnostic> {
    if opts.dialect == Dialect::Elasticsearch {
        if let Some(span) = q
            .body
            .step_queries()
            .find_map(|s| s.condition.field_comparison())
        {
            return Err(ParseError::new(ParseErrorKind::FieldComparison, span).to_diagnostic());
        }
    }
    let mut patterns = 0usize;
    for e in q.expressions() {
        check_expr(e, opts.dialect, regexes)?;
        count_patterns(e, &mut patterns, opts.max_wildcard_patterns)?;
    }
    sequence::check_stateful(q)
}

/// Checks one expression and its descendants, in source order: a call's
/// function and arity (`EQL0301`–`EQL0303`) before its arguments, the
/// literal patterns of `regex`/`regex~` and Python `match()` compiled into
/// `regexes` (`EQL0304`), and in Elasticsearch an operator between two
/// literals of incompatible types (`EQL0306`).
///
/// ```
/// use eql_plan::{check_expr, RegexCache, DEFAULT_REGEX_SIZE_LIMIT};
/// use eql_syntax::{parse_expr, Dialect, ParseOptions};
/// let mut regexes = RegexCache::new(DEFAULT_REGEX_SIZE_LIMIT);
/// let e = parse_expr(r#"a regex "(""#, &ParseOptions::default()).unwrap();
/// assert_eq!(check_expr(&e, Dialect::Elasticsearch, &mut regexes).unwrap_err().code, "EQL0304");
/// ```
///
/// # Errors
///
/// The first failed check.
pub fn check_expr(e: &Expr, dialect: Dialect, regexes: &mut RegexCache) -> Result<(), Diagnostic> {
    let py = dialect == Dialect::Python;
    // The child that is not an expression (the variable of `arrayCount`
    // and `arraySearch`), and the children from which on literal strings
    // are regexes, with their (case-insensitive, Python) mode.
    let mut skip = None;
    let mut regex_from = None;
    match &e.kind {
        ExprKind::Call {
            name,
            insensitive,
            args,
        } => {
            functions::check_call(dialect, name, *insensitive, args.len())
                .map_err(|(code, msg)| Diagnostic::error(code, msg, e.span))?;
            let lower = name.to_ascii_lowercase();
            if matches!(lower.as_str(), "arraycount" | "arraysearch") {
                skip = Some(1);
            }
            if py && matches!(lower.as_str(), "match" | "matchlite") {
                regex_from = Some((1, true, true));
            }
        }
        ExprKind::Match {
            op: MatchOp::Regex,
            insensitive,
            ..
        } => regex_from = Some((1, py || *insensitive, py)),
        _ => {}
    }
    for (i, c) in e.children().enumerate() {
        if skip == Some(i) {
            continue;
        }
        check_expr(c, dialect, regexes)?;
        if let (Some((from, ci, python)), ExprKind::Literal(Literal::String(s))) =
            (regex_from, &c.kind)
        {
            if i >= from {
                regexes.compile(s, ci, python).map_err(|err| {
                    Diagnostic::error(
                        "EQL0304",
                        format!("invalid regular expression: {err}"),
                        c.span,
                    )
                })?;
            }
        }
    }
    if let ExprKind::Binary { op, left, right } = &e.kind {
        if !py {
            check_literal_types(*op, left, right, e)?;
        }
    }
    Ok(())
}

/// Adds the wildcard patterns of `e` to `count` (every pattern of the match
/// operators, every pattern argument of `wildcard()`); an error at the
/// pattern list that goes over `max`.
fn count_patterns(e: &Expr, count: &mut usize, max: usize) -> Result<(), Diagnostic> {
    let mut result = Ok(());
    e.walk(&mut |x| {
        let n = match &x.kind {
            ExprKind::Match { patterns, .. } => patterns.len(),
            ExprKind::Call { name, args, .. } if name.eq_ignore_ascii_case("wildcard") => {
                args.len().saturating_sub(1)
            }
            _ => 0,
        };
        *count = count.saturating_add(n);
        if result.is_ok() && *count > max {
            result = Err(Diagnostic::error(
                "EQL0305",
                format!("too many wildcard patterns in one query (limit {max})"),
                x.span,
            ));
        }
        result.is_ok()
    });
    result
}

/// Elasticsearch rejects, at compile time, a comparison or arithmetic
/// between two literals of incompatible types (`1 == "a"`, `"a" + 1`,
/// `true < 2`): `EQL0306`.
fn check_literal_types(
    op: BinaryOp,
    left: &Expr,
    right: &Expr,
    e: &Expr,
) -> Result<(), Diagnostic> {
    use eql_syntax::Literal as L;
    let (ExprKind::Literal(a), ExprKind::Literal(b)) = (&left.kind, &right.kind) else {
        return Ok(());
    };
    if matches!(op, BinaryOp::And | BinaryOp::Or) || matches!(a, L::Null) || matches!(b, L::Null) {
        return Ok(());
    }
    let kind = |l: &L| match l {
        L::Int(_) | L::Float(_) => "number",
        L::String(_) => "string",
        L::Bool(_) => "boolean",
        L::Null => "null",
    };
    let arith = !op.is_comparison();
    let ok = if arith {
        kind(a) == "number" && kind(b) == "number"
    } else {
        kind(a) == kind(b)
    };
    if ok {
        return Ok(());
    }
    Err(Diagnostic::error(
        "EQL0306",
        format!(
            "type mismatch: `{}` between a {} and a {}",
            op.symbol(),
            kind(a),
            kind(b)
        ),
        e.span,
    ))
}
