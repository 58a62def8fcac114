//! The compiled query and its evaluation entry points.
//!
//! Compiling parses, runs `eql_plan`'s checks, and lowers the conditions to
//! plans; the plan evaluator answers `is_match`, and the reference
//! interpreter (`eval::reference`) the leaves a plan keeps generic.

use crate::eval::plan::{self, has_generic, NoFields, Slots};
use crate::eval::reference::{Ctx, Env};
use crate::event::input::{check_bytes, json_type, parse_text};
use crate::event::project::Projection;
use crate::{Event, EventError, EventLimits};
use eql_plan::mapping::{FieldKinds, Mapping};
use eql_plan::{category_matches, CheckOptions, Cond, FieldTable, Lowering, RegexCache};
use eql_plan::{FieldPath, Value};
use eql_syntax::{Diagnostic, Dialect, Expr, ParseOptions, Query, QueryBody, SequenceStep, Span};
use std::sync::Arc;

/// Options for compiling a query, including its limits.
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery};
/// let mut opts = CompileOptions::default();
/// opts.max_wildcard_patterns = 2;
/// assert_eq!(CompileOptions::default().regex_size_limit, 1 << 20);
/// let err = CompiledQuery::compile(r#"any where a : ("x*", "y*", "z*")"#, &opts).unwrap_err();
/// assert_eq!(err.diagnostic.code, "EQL0305");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CompileOptions {
    /// Dialect. Default: Elasticsearch.
    pub dialect: Dialect,
    /// Python dialect only: compare strings case-sensitively. Default false.
    pub case_sensitive: bool,
    /// Field holding the event category. Default `event.category`.
    pub category_field: String,
    /// Field holding the timestamp. Default `@timestamp`.
    pub timestamp_field: String,
    /// How the timestamp field is read (sessions): the unit of a number and
    /// whether strings may be ISO-8601. Default: auto (epoch milliseconds or
    /// ISO-8601, as an Elasticsearch `date` field reads them).
    pub timestamp_format: crate::TimestampFormat,
    /// Field ordering events with equal timestamps (sessions), such as
    /// `event.sequence`. Default none (arrival order).
    pub tiebreaker_field: Option<String>,
    /// Compiled-size limit of each `regex`/`regex~` (and Python `match`)
    /// pattern, in bytes of the compiled program (`regex::RegexBuilder::size_limit`).
    /// A literal pattern over the limit is compile error `EQL0304`. Default 1 MiB
    /// ([`eql_plan::DEFAULT_REGEX_SIZE_LIMIT`]). Patterns that are not
    /// literals are built during evaluation with the same limit, and a
    /// pattern over it evaluates as null.
    pub regex_size_limit: usize,
    /// Most wildcard patterns one query may hold: every pattern of `:`,
    /// `like`, `like~`, `regex`, `regex~` and every pattern argument of
    /// `wildcard()`. Each is tried against the field for every event, so this
    /// caps per-event matching work. More is compile error `EQL0305`.
    /// Default 10 000 (the largest Elastic rule has about 2 700 literals).
    pub max_wildcard_patterns: usize,
    /// The Elasticsearch mapping of the indices the events come from
    /// (Elasticsearch dialect). With one, fields are typed as the mapping
    /// types them rather than from the JSON values, and the query is checked
    /// against it as Elasticsearch's verifier checks it: see
    /// [`eql_plan::mapping`] and [`CompileOptions::with_mapping`]. Default
    /// none (dynamic typing). The Python dialect ignores it.
    pub mapping: Option<Arc<Mapping>>,
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
            regex_size_limit: eql_plan::DEFAULT_REGEX_SIZE_LIMIT,
            max_wildcard_patterns: 10_000,
            mapping: None,
            event_limits: EventLimits::default(),
        }
    }
}

impl CompileOptions {
    /// These options with the index mapping `mapping`.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery, Mapping};
    /// let mapping = Mapping::from_slice(br#"{"mappings": {"properties": {
    ///     "@timestamp": {"type": "date"},
    ///     "event": {"properties": {"category": {"type": "keyword"}}},
    ///     "process": {"properties": {"pid": {"type": "long"}}}}}}"#).unwrap();
    /// let opts = CompileOptions::default().with_mapping(mapping);
    /// // `pid` is a long: the string "4" in an event is the number 4.
    /// let q = CompiledQuery::compile("process where process.pid == 4", &opts).unwrap();
    /// assert!(q.is_match(&serde_json::json!({"event": {"category": "process"}, "process": {"pid": "4"}})));
    /// // A field the mapping does not have is an error, as in Elasticsearch...
    /// let err = CompiledQuery::compile("process where process.ppid == 4", &opts).unwrap_err();
    /// assert_eq!(err.diagnostic.code, "EQL0307");
    /// // ...unless optional: then it is null.
    /// assert!(CompiledQuery::compile("process where ?process.ppid == null", &opts).is_ok());
    /// ```
    #[must_use]
    pub fn with_mapping(mut self, mapping: Mapping) -> Self {
        self.mapping = Some(Arc::new(mapping));
        self
    }

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

/// A query that failed to parse or check: a diagnostic with a stable code,
/// and where it is in the query text.
///
/// `Display` gives one line, `CODE at LINE:COLUMN: message`;
/// [`Diagnostic::render`] over the query text shows the line with a caret
/// under the problem, and the notes.
///
/// ```
/// use eql_engine::{CompileOptions, CompiledQuery};
/// let text = "process where nope(x)";
/// let err = CompiledQuery::compile(text, &CompileOptions::default()).unwrap_err();
/// assert_eq!(err.diagnostic.code, "EQL0301");
/// assert_eq!(err.line_col, Some((1, 15)));
/// assert!(err.to_string().starts_with("EQL0301 at 1:15: "));
/// assert!(err.diagnostic.render(text, None).contains("^"));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CompileError {
    /// The rendered-ready diagnostic.
    pub diagnostic: Diagnostic,
    /// 1-based line and column (counted in bytes, as
    /// [`eql_syntax::LineIndex`] counts them) of the diagnostic's span in the
    /// query text. `None` for a query checked from its AST
    /// ([`CompiledQuery::from_query`]) until [`CompileError::located`] is
    /// given the text; `Display` then names the span's byte range.
    pub line_col: Option<(u32, u32)>,
}

impl CompileError {
    pub(crate) fn new(diagnostic: Diagnostic) -> Self {
        CompileError {
            diagnostic,
            line_col: None,
        }
    }

    /// Locates the error in `text`, the query text its spans refer to.
    #[must_use]
    pub fn located(mut self, text: &str) -> Self {
        let start = self.diagnostic.span.start.min(text.len() as u32);
        self.line_col = Some(eql_syntax::LineIndex::new(text).line_col(start));
        self
    }
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = &self.diagnostic;
        match self.line_col {
            Some((line, col)) => write!(f, "{} at {line}:{col}: {}", d.code, d.message),
            None => write!(f, "{} at bytes {}: {}", d.code, d.span, d.message),
        }
    }
}

impl std::error::Error for CompileError {}

/// A compiled query.
#[derive(Clone, Debug)]
pub struct CompiledQuery {
    pub(crate) query: Arc<Query>,
    pub(crate) opts: CompileOptions,
    pub(crate) category: FieldPath,
    pub(crate) regexes: Arc<RegexCache>,
    /// The lowered condition of a single-event query (shared by clones:
    /// every pack and session plan over the query holds one).
    pub(crate) plan: Option<Arc<SinglePlan>>,
    /// The lowered conditions of the steps of a sequence, sample or join
    /// (and of `until`), keyed by the step query's span.
    pub(crate) steps: Option<Arc<StepPlans>>,
    /// With a mapping: how each field the query reads is read and compared.
    pub(crate) kinds: Option<Arc<FieldKinds>>,
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

/// True when any condition of the query uses process lineage.
fn query_has_lineage(q: &Query) -> bool {
    q.body.step_queries().any(|s| s.condition.has_lineage())
}

/// Lowers a condition, folding field-free leaves with the reference semantics.
pub(crate) fn lower(
    cond: &Expr,
    opts: &CompileOptions,
    regexes: &RegexCache,
    kinds: Option<&FieldKinds>,
    fields: &mut FieldTable,
) -> Cond {
    let ctx = Ctx {
        dialect: opts.dialect,
        ci: !opts.case_sensitive,
        regexes,
        event: &NoFields,
        kinds: None,
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
        regexes,
        kinds,
    };
    l.condition(cond)
}

impl CompiledQuery {
    /// Parses and checks `query`.
    pub fn compile(query: &str, opts: &CompileOptions) -> Result<CompiledQuery, CompileError> {
        let mut popts = ParseOptions::default();
        popts.dialect = opts.dialect;
        let parsed = eql_syntax::parse_query(query, &popts)
            .map_err(|e| CompileError::new(e.to_diagnostic()).located(query))?;
        CompiledQuery::from_query(parsed, opts).map_err(|e| e.located(query))
    }

    /// Checks an already parsed query.
    ///
    /// With a mapping ([`CompileOptions::mapping`], Elasticsearch dialect),
    /// the query is first bound to it ([`eql_plan::mapping::bind`]): checked
    /// as Elasticsearch's verifier checks it, each field read where the
    /// document holds it (an alias's target, a multi-field's parent) and an
    /// optional field the mapping lacks folded to `null` in conditions.
    /// [`CompiledQuery::query`] is then the bound query, and
    /// [`CompiledQuery::options`] name the category, timestamp and tiebreaker
    /// fields the document holds.
    pub fn from_query(query: Query, opts: &CompileOptions) -> Result<CompiledQuery, CompileError> {
        let (query, kinds, opts) = bind_mapping(query, opts)?;
        let opts = &opts;
        let kinds = kinds.map(Arc::new);
        let mut regexes = RegexCache::new(opts.regex_size_limit);
        let check = CheckOptions::new(opts.dialect, opts.max_wildcard_patterns);
        eql_plan::check_query(&query, &check, &mut regexes).map_err(CompileError::new)?;
        let category = FieldPath::parse_dotted(&opts.category_field);
        // Process lineage is answered by the session for the relation node
        // itself (by address), so such queries keep their AST and run on the
        // reference interpreter.
        let lineage = query_has_lineage(&query);
        let plan = match &query.body {
            _ if lineage => None,
            QueryBody::Event(q) => {
                let mut fields = FieldTable::default();
                let cond = lower(&q.condition, opts, &regexes, kinds.as_deref(), &mut fields);
                let projection =
                    Projection::new(fields.paths().iter().chain(std::iter::once(&category)));
                // Raw bytes straight into the slots skip nulls, which a
                // `null_value` reads.
                let direct = projection.direct() && !has_generic(&cond) && !fields.reads_nulls();
                Some(SinglePlan {
                    fields,
                    cond,
                    projection,
                    direct,
                })
            }
            _ => None,
        };
        let step_queries: Vec<&SequenceStep> = query.body.steps().collect();
        let steps = if step_queries.is_empty() || lineage {
            None
        } else {
            let mut fields = FieldTable::default();
            let conds = step_queries
                .iter()
                .map(|st| {
                    let c = lower(
                        &st.query.condition,
                        opts,
                        &regexes,
                        kinds.as_deref(),
                        &mut fields,
                    );
                    (st.query.span, c)
                })
                .collect();
            Some(StepPlans { fields, conds })
        };
        Ok(CompiledQuery {
            query: Arc::new(query),
            opts: opts.clone(),
            category,
            regexes: Arc::new(regexes),
            plan: plan.map(Arc::new),
            steps: steps.map(Arc::new),
            kinds,
        })
    }

    /// The parsed query (with a mapping, bound to it: see
    /// [`CompiledQuery::from_query`]).
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// True when a condition of the query (the query of a single-event rule,
    /// or any step of a sequence, sample or join) uses Python process lineage
    /// (`descendant of`, `child of`, `event of`), which needs state across
    /// events: [`CompiledQuery::is_match`] does not evaluate it (it is null
    /// there), and a session evaluates such a rule on every event.
    ///
    /// ```
    /// use eql_engine::{CompileOptions, CompiledQuery};
    /// let opts = CompileOptions::python();
    /// let q = CompiledQuery::compile(r#"sequence [process where true] [file where descendant of [process where name == "a"]]"#, &opts).unwrap();
    /// assert!(q.uses_lineage());
    /// ```
    pub fn uses_lineage(&self) -> bool {
        query_has_lineage(&self.query)
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
            kinds: self.kinds.as_deref(),
        }
    }

    /// The value of the document field `path` as the query reads it: with a
    /// mapping, normalized as the field's type indexes it
    /// ([`eql_plan::mapping::FieldKind::normalize`]; an array item by item,
    /// values that do not fit the type left out); raw without one. `None`
    /// when missing or null.
    pub(crate) fn read_field<'e>(
        &self,
        event: &'e dyn Event,
        path: &FieldPath,
    ) -> Option<Value<'e>> {
        let v = event.get(path);
        match self.kinds.as_deref().and_then(|k| k.get(path.dotted())) {
            None => v.filter(|v| !v.is_null()),
            Some(kind) => crate::eval::reference::normalize(kind, v),
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
                    let bump = bumpalo::Bump::new();
                    let mut found = Vec::new();
                    if plan.projection.read_flat(text, &bump, &mut found) {
                        let mut slots = Slots::new(plan.fields.len());
                        let category = plan.fields.len();
                        let mut cat_ok = q.category.name.is_none();
                        let resolver = plan.projection.resolver();
                        for (p, v) in &found {
                            resolver.report_value(*p as usize, v, &mut |i, v| {
                                if i == category {
                                    if let (Value::Str(s), Some(c)) = (&v, &q.category.name) {
                                        cat_ok |= s.as_ref() == c.as_str();
                                    }
                                } else {
                                    slots.push_item(i, v, &plan.fields);
                                }
                            });
                        }
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
        q.category.name.is_none()
            || category_matches(
                q.category.name.as_deref(),
                event.get(&self.category).as_ref(),
            )
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
        self.category_matches(q, event) && self.ctx(event).matches(&q.condition)
    }

    /// Evaluates a standalone expression against an event (three-valued:
    /// `None` is null). Fields are typed dynamically: the mapping of `opts`
    /// is not applied.
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
    let mut regexes = RegexCache::new(opts.regex_size_limit);
    eql_plan::check_expr(expr, opts.dialect, &mut regexes).map_err(CompileError::new)?;
    let ctx = Ctx {
        dialect: opts.dialect,
        ci: !opts.case_sensitive,
        regexes: &regexes,
        event,
        kinds: None,
    };
    Ok(f(&ctx))
}

/// Binds `query` to the options' mapping (Elasticsearch dialect): the bound
/// query, the kinds of its fields, and the options with the category,
/// timestamp and tiebreaker fields resolved to the document fields that hold
/// them. Without a mapping, the query and options as given.
fn bind_mapping(
    query: Query,
    opts: &CompileOptions,
) -> Result<(Query, Option<FieldKinds>, CompileOptions), CompileError> {
    let (Some(mapping), Dialect::Elasticsearch) = (&opts.mapping, opts.dialect) else {
        return Ok((query, None, opts.clone()));
    };
    let mut bopts = eql_plan::mapping::BindOptions::default();
    bopts.category_field.clone_from(&opts.category_field);
    bopts.timestamp_field.clone_from(&opts.timestamp_field);
    bopts.tiebreaker_field.clone_from(&opts.tiebreaker_field);
    let bound = eql_plan::mapping::bind(&query, mapping, &bopts).map_err(CompileError::new)?;
    let mut opts = opts.clone();
    opts.category_field = mapping.source_of(&opts.category_field).to_owned();
    opts.timestamp_field = mapping.source_of(&opts.timestamp_field).to_owned();
    opts.tiebreaker_field = opts
        .tiebreaker_field
        .as_deref()
        .map(|t| mapping.source_of(t).to_owned());
    Ok((bound.query, Some(bound.kinds), opts))
}
