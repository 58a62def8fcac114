//! The compiled query and its evaluation entry points.
//!
//! This is the reference interpreter: it walks the `eql_syntax` AST directly.

use crate::eval::plan::{self, has_generic, NoFields, Slots};
use crate::eval::reference::functions;
use crate::eval::reference::{Ctx, Env, RegexCache};
use crate::event::input::{check_bytes, from_serde, json_type, parse_text};
use crate::event::project::Projection;
use crate::{Event, EventError, EventLimits};
use eql_plan::{Cond, FieldTable, Lowering};
use eql_plan::{FieldPath, Value};
use eql_syntax::{
    BinaryOp, Diagnostic, Dialect, Expr, ExprKind, MatchOp, ParseOptions, Query, QueryBody,
    SequenceStep, Span,
};

/// Options for compiling a query, including its limits.
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery};
/// let opts = CompileOptions { max_wildcard_patterns: 2, ..CompileOptions::default() };
/// assert_eq!(CompileOptions::default().regex_size_limit, 1 << 20);
/// let err = CompiledQuery::compile(r#"any where a : ("x*", "y*", "z*")"#, &opts).unwrap_err();
/// assert_eq!(err.diagnostic.code, "EQL0305");
/// ```
#[derive(Clone, Debug)]
pub struct CompileOptions {
    /// Dialect. Default: Elasticsearch.
    pub dialect: Dialect,
    /// Python dialect only: compare strings case-sensitively. Default false.
    pub case_sensitive: bool,
    /// Field holding the event category. Default `event.category`.
    pub category_field: String,
    /// Field holding the timestamp. Default `@timestamp`.
    pub timestamp_field: String,
    /// How the timestamp field is read (sessions). Default: auto (epoch
    /// millis or RFC 3339).
    pub timestamp_format: crate::TimestampFormat,
    /// Field ordering events with equal timestamps (sessions), such as
    /// `event.sequence`. Default none (arrival order).
    pub tiebreaker_field: Option<String>,
    /// Compiled-size limit of each `regex`/`regex~` (and Python `match`)
    /// pattern, in bytes of the compiled program (`regex::RegexBuilder::size_limit`).
    /// A literal pattern over the limit is compile error `EQL0304`. Default 1 MiB.
    /// Patterns that are not literals are built during evaluation, with the
    /// default limit, and a pattern over it evaluates as null.
    pub regex_size_limit: usize,
    /// Most wildcard patterns one query may hold: every pattern of `:`,
    /// `like`, `like~`, `regex`, `regex~` and every pattern argument of
    /// `wildcard()`. Each is tried against the field for every event, so this
    /// caps per-event matching work. More is compile error `EQL0305`.
    /// Default 10 000 (the largest Elastic rule has about 2 700 literals).
    pub max_wildcard_patterns: usize,
    /// Limits on event bytes read by [`CompiledQuery::is_match_json`] and
    /// by a [`crate::Pack`] of this query ([`crate::Pack::matches_json`]
    /// applies the strictest of its queries'). Default [`EventLimits::default`].
    pub event_limits: EventLimits,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            dialect: Dialect::Elasticsearch,
            case_sensitive: false,
            category_field: "event.category".into(),
            timestamp_field: "@timestamp".into(),
            timestamp_format: crate::TimestampFormat::Auto,
            tiebreaker_field: None,
            regex_size_limit: 1 << 20,
            max_wildcard_patterns: 10_000,
            event_limits: EventLimits::default(),
        }
    }
}

impl CompileOptions {
    /// Python dialect with the endgame field names (`event_type`, `timestamp`
    /// as Windows FILETIME ticks).
    pub fn python() -> Self {
        CompileOptions {
            dialect: Dialect::Python,
            case_sensitive: false,
            category_field: "event_type".into(),
            timestamp_field: "timestamp".into(),
            timestamp_format: crate::TimestampFormat::FileTime,
            tiebreaker_field: None,
            ..CompileOptions::default()
        }
    }
}

/// A query that failed to parse or check.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{}", diagnostic.message)]
pub struct CompileError {
    /// The rendered-ready diagnostic.
    pub diagnostic: Diagnostic,
}

/// A compiled query.
#[derive(Clone, Debug)]
pub struct CompiledQuery {
    pub(crate) query: Query,
    pub(crate) opts: CompileOptions,
    pub(crate) category: FieldPath,
    pub(crate) regexes: RegexCache,
    /// The lowered condition of a single-event query.
    pub(crate) plan: Option<SinglePlan>,
    /// The lowered conditions of the steps of a sequence, sample or join
    /// (and of `until`), keyed by the step query's span.
    pub(crate) steps: Option<StepPlans>,
}

/// Lowered step conditions sharing one field table.
#[derive(Clone, Debug)]
pub(crate) struct StepPlans {
    fields: FieldTable,
    conds: Vec<(Span, Cond)>,
}

/// A single-event query lowered to the plan IR.
#[derive(Clone, Debug)]
pub(crate) struct SinglePlan {
    pub(crate) fields: FieldTable,
    pub(crate) cond: Cond,
    /// The plan's fields and the category field, for raw bytes.
    pub(crate) projection: Projection,
    /// Raw bytes can go straight into the slots (no generic leaf, and a
    /// projection that allows it).
    pub(crate) direct: bool,
}

fn expr_has_lineage(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Lineage { .. } => true,
        ExprKind::Literal(_) | ExprKind::Field(_) => false,
        ExprKind::Unary { expr, .. } => expr_has_lineage(expr),
        ExprKind::Binary { left, right, .. } => expr_has_lineage(left) || expr_has_lineage(right),
        ExprKind::In { expr, list, .. } => {
            expr_has_lineage(expr) || list.iter().any(expr_has_lineage)
        }
        ExprKind::Match { expr, patterns, .. } => {
            expr_has_lineage(expr) || patterns.iter().any(expr_has_lineage)
        }
        ExprKind::Call { args, .. } => args.iter().any(expr_has_lineage),
    }
}

/// True when any condition of the query uses process lineage.
fn query_has_lineage(q: &Query) -> bool {
    let steps: Vec<&SequenceStep> = match &q.body {
        QueryBody::Event(e) => return expr_has_lineage(&e.condition),
        QueryBody::Sequence(s) => s.steps.iter().chain(s.until.iter()).collect(),
        QueryBody::Sample(s) => s.steps.iter().collect(),
        QueryBody::Join(j) => j.steps.iter().chain(j.until.iter()).collect(),
    };
    steps.iter().any(|st| expr_has_lineage(&st.query.condition))
}

/// Lowers a condition, folding field-free leaves with the reference semantics.
pub(crate) fn lower(
    cond: &Expr,
    opts: &CompileOptions,
    regexes: &RegexCache,
    fields: &mut FieldTable,
) -> Cond {
    let ctx = Ctx {
        dialect: opts.dialect,
        ci: !opts.case_sensitive,
        regexes,
        event: &NoFields,
    };
    let const_eval = |e: &Expr| -> Option<bool> {
        Some(if ctx.py() {
            ctx.eval(e, &Env::new()).is_some_and(|v| ctx.truthy(&v))
        } else {
            ctx.leaf_any(e, &Env::new())
        })
    };
    let mut l = Lowering {
        dialect: opts.dialect,
        fields,
        const_eval: &const_eval,
        python_ci: !opts.case_sensitive,
    };
    l.condition(cond)
}

impl CompiledQuery {
    /// Parses and checks `query`.
    pub fn compile(query: &str, opts: &CompileOptions) -> Result<CompiledQuery, CompileError> {
        let popts = ParseOptions {
            dialect: opts.dialect,
            ..ParseOptions::default()
        };
        let parsed = eql_syntax::parse_query(query, &popts).map_err(|e| CompileError {
            diagnostic: e.to_diagnostic(),
        })?;
        CompiledQuery::from_query(parsed, opts)
    }

    /// Checks an already parsed query.
    pub fn from_query(query: Query, opts: &CompileOptions) -> Result<CompiledQuery, CompileError> {
        let mut regexes = RegexCache::new();
        let mut exprs: Vec<&Expr> = Vec::new();
        match &query.body {
            QueryBody::Event(q) => exprs.push(&q.condition),
            QueryBody::Sequence(s) => {
                exprs.extend(s.by.iter());
                for st in s.steps.iter().chain(s.until.iter()) {
                    exprs.push(&st.query.condition);
                    exprs.extend(st.by.iter());
                }
            }
            QueryBody::Sample(s) => {
                exprs.extend(s.by.iter());
                for st in &s.steps {
                    exprs.push(&st.query.condition);
                    exprs.extend(st.by.iter());
                }
            }
            QueryBody::Join(j) => {
                exprs.extend(j.by.iter());
                for st in j.steps.iter().chain(j.until.iter()) {
                    exprs.push(&st.query.condition);
                    exprs.extend(st.by.iter());
                }
            }
        }
        for p in &query.pipes {
            exprs.extend(p.args.iter());
        }
        let mut patterns = 0usize;
        for e in exprs {
            check_expr(e, opts, &mut regexes)?;
            count_patterns(e, &mut patterns, opts.max_wildcard_patterns)?;
        }
        crate::session::check_query(&query)?;
        let category = FieldPath::parse_dotted(&opts.category_field);
        // Process lineage is answered by the session for the relation node
        // itself (by address), so such queries keep their AST and run on the
        // reference interpreter.
        let lineage = query_has_lineage(&query);
        let plan = match &query.body {
            _ if lineage => None,
            QueryBody::Event(q) => {
                let mut fields = FieldTable::default();
                let cond = lower(&q.condition, opts, &regexes, &mut fields);
                let projection =
                    Projection::new(fields.paths().iter().chain(std::iter::once(&category)));
                let direct = projection.direct() && !has_generic(&cond);
                Some(SinglePlan {
                    fields,
                    cond,
                    projection,
                    direct,
                })
            }
            _ => None,
        };
        let step_queries: Vec<&SequenceStep> = match &query.body {
            QueryBody::Event(_) => Vec::new(),
            QueryBody::Sequence(q) => q.steps.iter().chain(q.until.iter()).collect(),
            QueryBody::Sample(q) => q.steps.iter().collect(),
            QueryBody::Join(q) => q.steps.iter().chain(q.until.iter()).collect(),
        };
        let steps = if step_queries.is_empty() || lineage {
            None
        } else {
            let mut fields = FieldTable::default();
            let conds = step_queries
                .iter()
                .map(|st| {
                    let c = lower(&st.query.condition, opts, &regexes, &mut fields);
                    (st.query.span, c)
                })
                .collect();
            Some(StepPlans { fields, conds })
        };
        Ok(CompiledQuery {
            query,
            opts: opts.clone(),
            category,
            regexes,
            plan,
            steps,
        })
    }

    /// The parsed query.
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// True when the query uses Python process lineage (`descendant of`,
    /// `child of`, `event of`), which needs state across events and is not
    /// evaluated by [`CompiledQuery::is_match`] (it is null there).
    pub fn uses_lineage(&self) -> bool {
        match &self.query.body {
            QueryBody::Event(q) => expr_has_lineage(&q.condition),
            _ => false,
        }
    }

    /// The options it was compiled with.
    pub fn options(&self) -> &CompileOptions {
        &self.opts
    }

    pub(crate) fn ctx<'a>(&'a self, event: &'a dyn Event) -> Ctx<'a> {
        Ctx {
            dialect: self.opts.dialect,
            ci: !self.opts.case_sensitive,
            regexes: &self.regexes,
            event,
        }
    }

    /// True when the event matches (single-event queries; other query forms
    /// always return false). Evaluates the lowered plan.
    pub fn is_match(&self, event: &dyn Event) -> bool {
        let (QueryBody::Event(q), Some(plan)) = (&self.query.body, &self.plan) else {
            return self.is_match_reference(event);
        };
        if !self.category_matches(q, event) {
            return false;
        }
        let mut slots = Slots::new(plan.fields.len());
        plan::eval(
            &plan.cond,
            &plan.fields,
            &mut slots,
            event,
            &self.ctx(event),
        )
    }

    /// [`CompiledQuery::is_match`] straight from one event's bytes (a JSON
    /// object): only the fields the query reads are extracted, and no DOM is
    /// built. The bytes are checked as [`crate::parse_event`] checks them,
    /// against [`CompileOptions::event_limits`].
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, EventErrorKind};
    /// let e = CompiledQuery::compile(r#"process where process.name : "cmd.exe""#, &CompileOptions::default()).unwrap();
    /// let line = br#"{"event":{"category":"process"},"process":{"name":"CMD.EXE","args":["/c","dir"]}}"#;
    /// assert!(e.is_match_json(line).unwrap());
    /// assert_eq!(e.is_match_json(b"{").unwrap_err().kind, EventErrorKind::Truncated);
    /// ```
    pub fn is_match_json(&self, bytes: &[u8]) -> Result<bool, EventError> {
        let text = check_bytes(bytes, &self.opts.event_limits)?;
        match &self.plan {
            Some(plan) => {
                if let (QueryBody::Event(q), true) = (&self.query.body, plan.direct) {
                    // Straight from the bytes into the slots when the
                    // document allows it.
                    let mut slots = Slots::new(plan.fields.len());
                    let category = plan.fields.len();
                    let mut cat_ok = q.category.name.is_none();
                    let simple = plan
                        .projection
                        .parse_direct(text, &mut |i, v| {
                            if i == category {
                                if let (Value::Str(s), Some(c)) = (&v, &q.category.name) {
                                    cat_ok |= s.as_ref() == c.as_str();
                                }
                            } else {
                                slots.push_item(i, v);
                            }
                        })
                        .map_err(|e| from_serde(text, &e))?;
                    if simple {
                        if !cat_ok {
                            return Ok(false);
                        }
                        slots.mark_all_resolved();
                        return Ok(plan::eval(
                            &plan.cond,
                            &plan.fields,
                            &mut slots,
                            &NoFields,
                            &self.ctx(&NoFields),
                        ));
                    }
                }
                Ok(self.is_match(&plan.projection.parse_checked(text)?))
            }
            None => {
                let dom = parse_text(text, serde_json::from_str::<serde_json::Value>, json_type)?;
                Ok(self.is_match(&dom))
            }
        }
    }

    /// The condition (not the category) of a step query of this engine's
    /// sequence, sample or join, through its lowered plan; the reference
    /// interpreter for a query that is not one of its steps.
    pub(crate) fn condition_matches(&self, q: &eql_syntax::EventQuery, event: &dyn Event) -> bool {
        let single = match (&self.query.body, &self.plan) {
            (QueryBody::Event(eq), Some(p)) if eq.span == q.span => Some((&p.fields, &p.cond)),
            _ => None,
        };
        let found = single.or_else(|| {
            self.steps.as_ref().and_then(|sp| {
                sp.conds
                    .iter()
                    .find(|(span, _)| *span == q.span)
                    .map(|(_, c)| (&sp.fields, c))
            })
        });
        match found {
            Some((fields, cond)) => {
                let mut slots = Slots::new(fields.len());
                plan::eval(cond, fields, &mut slots, event, &self.ctx(event))
            }
            None => self.ctx(event).matches(&q.condition),
        }
    }

    pub(crate) fn category_matches(&self, q: &eql_syntax::EventQuery, event: &dyn Event) -> bool {
        if let Some(cat) = &q.category.name {
            return match event.get(&self.category) {
                Some(Value::Str(s)) => s == cat.as_str(),
                Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(cat.as_str())),
                _ => false,
            };
        }
        true
    }

    /// The same answer as [`CompiledQuery::is_match`], computed by the reference
    /// interpreter straight over the AST: the oracle the optimized paths are
    /// tested against. Slower; for tests and differential fuzzing.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery};
    /// let e = CompiledQuery::compile(r#"any where x : "A*""#, &CompileOptions::default()).unwrap();
    /// let ev = serde_json::json!({"x": ["b", "abc"]});
    /// assert_eq!(e.is_match(&ev), e.is_match_reference(&ev));
    /// assert!(e.is_match(&ev));
    /// ```
    pub fn is_match_reference(&self, event: &dyn Event) -> bool {
        let QueryBody::Event(q) = &self.query.body else {
            return false;
        };
        if let Some(cat) = &q.category.name {
            let ok = match event.get(&self.category) {
                Some(Value::Str(s)) => s == cat.as_str(),
                Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(cat.as_str())),
                _ => false,
            };
            if !ok {
                return false;
            }
        }
        self.ctx(event).matches(&q.condition)
    }

    /// Evaluates a standalone expression against an event (three-valued:
    /// `None` is null).
    pub fn eval_expr(
        expr: &Expr,
        opts: &CompileOptions,
        event: &dyn Event,
    ) -> Result<Option<Value<'static>>, CompileError> {
        with_checked_ctx(expr, opts, event, |ctx| ctx.eval(expr, &Env::new()))
    }

    /// Evaluates a standalone expression as a filter (the boolean top level).
    pub fn matches_expr(
        expr: &Expr,
        opts: &CompileOptions,
        event: &dyn Event,
    ) -> Result<bool, CompileError> {
        with_checked_ctx(expr, opts, event, |ctx| ctx.matches(expr))
    }
}

/// Checks a standalone expression, then runs `f` with a reference context
/// over `event`.
fn with_checked_ctx<R>(
    expr: &Expr,
    opts: &CompileOptions,
    event: &dyn Event,
    f: impl FnOnce(&Ctx<'_>) -> R,
) -> Result<R, CompileError> {
    let mut regexes = RegexCache::new();
    check_expr(expr, opts, &mut regexes)?;
    let ctx = Ctx {
        dialect: opts.dialect,
        ci: !opts.case_sensitive,
        regexes: &regexes,
        event,
    };
    Ok(f(&ctx))
}

/// Adds the wildcard patterns of `e` to `count`; an error at the pattern
/// list that goes over `max`.
fn count_patterns(e: &Expr, count: &mut usize, max: usize) -> Result<(), CompileError> {
    let mut add = |n: usize, at: &Expr| {
        *count = count.saturating_add(n);
        if *count > max {
            return Err(CompileError {
                diagnostic: Diagnostic::error(
                    "EQL0305",
                    format!("too many wildcard patterns in one query (limit {max})"),
                    at.span,
                ),
            });
        }
        Ok(())
    };
    match &e.kind {
        ExprKind::Literal(_) | ExprKind::Field(_) => Ok(()),
        ExprKind::Lineage { query, .. } => count_patterns(&query.condition, count, max),
        ExprKind::Unary { expr, .. } => count_patterns(expr, count, max),
        ExprKind::Binary { left, right, .. } => {
            count_patterns(left, count, max)?;
            count_patterns(right, count, max)
        }
        ExprKind::In { expr, list, .. } => {
            count_patterns(expr, count, max)?;
            list.iter().try_for_each(|x| count_patterns(x, count, max))
        }
        ExprKind::Match { expr, patterns, .. } => {
            add(patterns.len(), e)?;
            count_patterns(expr, count, max)?;
            patterns
                .iter()
                .try_for_each(|x| count_patterns(x, count, max))
        }
        ExprKind::Call { name, args, .. } => {
            if name.eq_ignore_ascii_case("wildcard") {
                add(args.len().saturating_sub(1), e)?;
            }
            args.iter().try_for_each(|x| count_patterns(x, count, max))
        }
    }
}

fn compile_regex(
    pat: &str,
    ci: bool,
    python: bool,
    e: &Expr,
    cache: &mut RegexCache,
    size_limit: usize,
) -> Result<(), CompileError> {
    let key = (pat.to_owned(), ci, python);
    if cache.contains_key(&key) {
        return Ok(());
    }
    match regex::RegexBuilder::new(&functions::regex_source(pat, ci, python))
        .size_limit(size_limit)
        .build()
    {
        Ok(re) => {
            cache.insert(key, re);
            Ok(())
        }
        Err(err) => Err(CompileError {
            diagnostic: Diagnostic::error(
                "EQL0304",
                format!("invalid regular expression: {err}"),
                e.span,
            ),
        }),
    }
}

/// Elasticsearch rejects, at compile time, a comparison or arithmetic
/// between two literals of incompatible types (`1 == "a"`, `"a" + 1`,
/// `true < 2`): `EQL0306`.
fn check_literal_types(
    op: BinaryOp,
    left: &Expr,
    right: &Expr,
    e: &Expr,
) -> Result<(), CompileError> {
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
    Err(CompileError {
        diagnostic: Diagnostic::error(
            "EQL0306",
            format!(
                "type mismatch: `{}` between a {} and a {}",
                op.symbol(),
                kind(a),
                kind(b)
            ),
            e.span,
        ),
    })
}

fn check_expr(e: &Expr, opts: &CompileOptions, cache: &mut RegexCache) -> Result<(), CompileError> {
    let py = opts.dialect == Dialect::Python;
    match &e.kind {
        ExprKind::Literal(_) | ExprKind::Field(_) => Ok(()),
        ExprKind::Lineage { query, .. } => check_expr(&query.condition, opts, cache),
        ExprKind::Unary { expr, .. } => check_expr(expr, opts, cache),
        ExprKind::Binary { op, left, right } => {
            check_expr(left, opts, cache)?;
            check_expr(right, opts, cache)?;
            if !py {
                check_literal_types(*op, left, right, e)?;
            }
            Ok(())
        }
        ExprKind::In { expr, list, .. } => {
            check_expr(expr, opts, cache)?;
            list.iter().try_for_each(|x| check_expr(x, opts, cache))
        }
        ExprKind::Match {
            expr,
            op,
            insensitive,
            patterns,
            ..
        } => {
            check_expr(expr, opts, cache)?;
            for p in patterns {
                check_expr(p, opts, cache)?;
                if *op == MatchOp::Regex {
                    if let ExprKind::Literal(eql_syntax::Literal::String(s)) = &p.kind {
                        if py {
                            compile_regex(s, true, true, p, cache, opts.regex_size_limit)?;
                        } else {
                            compile_regex(s, *insensitive, false, p, cache, opts.regex_size_limit)?;
                        }
                    }
                }
            }
            Ok(())
        }
        ExprKind::Call {
            name,
            insensitive,
            args,
        } => {
            functions::check_call(opts.dialect, name, *insensitive, args.len()).map_err(
                |(code, msg)| CompileError {
                    diagnostic: Diagnostic::error(code, msg, e.span),
                },
            )?;
            let lower = name.to_ascii_lowercase();
            let skip_var = matches!(lower.as_str(), "arraycount" | "arraysearch");
            for (i, a) in args.iter().enumerate() {
                if skip_var && i == 1 {
                    continue;
                }
                check_expr(a, opts, cache)?;
                if py && i > 0 && matches!(lower.as_str(), "match" | "matchlite") {
                    if let ExprKind::Literal(eql_syntax::Literal::String(s)) = &a.kind {
                        compile_regex(s, true, true, a, cache, opts.regex_size_limit)?;
                    }
                }
            }
            Ok(())
        }
    }
}
