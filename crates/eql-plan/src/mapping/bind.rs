//! A query checked against a mapping, as Elasticsearch's EQL analyzer and
//! verifier check it, and prepared for evaluation:
//!
//! - every field must be in the mapping (`Unknown column [x]`, EQL0307),
//!   except an optional `?x`, which Elasticsearch folds to `null` in a
//!   condition (so `?x == ?y` holds) and reads as null as a join key;
//! - objects, `nested` fields and their children, unsupported types and
//!   fields mapped with conflicting types cannot be used (EQL0308);
//! - a `text` field is compared through its `keyword` multi-field, and
//!   without one it cannot be used; a `keyword` with a `normalizer` cannot
//!   be compared exactly (EQL0309);
//! - a literal compared with a field must read as the field's type (a date
//!   for a `date`, a number for a `long`, ...), and the members of an `in`
//!   must be of a compatible type (EQL0310);
//! - `:`, `like`, `regex` and the string functions need a string field, and
//!   `cidrMatch` an `ip` field (EQL0311);
//! - a condition that is a bare field must be a `boolean` one (EQL0312);
//! - the join keys of a sequence or sample must have compatible types at
//!   each position (EQL0313).
//!
//! The bound query reads each field where the document holds it (an alias's
//! target, a multi-field's parent), a `constant_keyword` with a value is that
//! value in conditions, and [`FieldKinds`] tells the evaluator how to read
//! and compare each field.

use super::{FieldKind, MappedField, Mapping, Usability};
use eql_syntax::{
    BinaryOp, Diagnostic, Expr, ExprKind, FieldRef, Literal, MatchOp, PathSegment, Query,
    QueryBody, SequenceStep, Span, UnaryOp,
};
use std::collections::HashMap;

/// How the fields of a bound query are read: the kind of each document
/// field (by dotted path) that the query reads through the mapping.
///
/// ```
/// use eql_plan::mapping::{bind, BindOptions, Mapping};
/// let m = Mapping::from_json(&serde_json::json!({"properties": {
///     "@timestamp": {"type": "date"}, "event": {"properties": {"category": {"type": "keyword"}}},
///     "pid": {"type": "long"}}})).unwrap();
/// let q = eql_syntax::parse_query("process where pid == 4", &Default::default()).unwrap();
/// let bound = bind(&q, &m, &BindOptions::default()).unwrap();
/// assert!(!bound.kinds.get("pid").unwrap().is_string());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldKinds {
    by_path: HashMap<String, FieldKind>,
}

impl FieldKinds {
    /// The kind of the document field at dotted path `path`.
    pub fn get(&self, path: &str) -> Option<&FieldKind> {
        self.by_path.get(path)
    }

    /// True when no field has a kind.
    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.by_path.len()
    }

    /// Every (path, kind).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &FieldKind)> {
        self.by_path.iter().map(|(p, k)| (p.as_str(), k))
    }
}

/// The fields a query implicitly reads. The category field must be mapped
/// when the query names a category (Elasticsearch's `Unknown column
/// [event.category]`); the timestamp and tiebreaker fields are read from the
/// events as they are (Elasticsearch runs samples over indices without
/// them).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct BindOptions {
    /// The category field.
    pub category_field: String,
    /// The timestamp field.
    pub timestamp_field: String,
    /// The tiebreaker field, if any.
    pub tiebreaker_field: Option<String>,
}

impl Default for BindOptions {
    fn default() -> Self {
        BindOptions {
            category_field: "event.category".into(),
            timestamp_field: "@timestamp".into(),
            tiebreaker_field: None,
        }
    }
}

/// A query bound to a mapping.
#[derive(Clone, Debug)]
pub struct Bound {
    /// The query, reading each field where the document holds it.
    pub query: Query,
    /// How each field it reads is read and compared.
    pub kinds: FieldKinds,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A condition: a missing optional field is a `null` literal.
    Filter,
    /// A join key or pipe argument: a missing optional field reads as null.
    Key,
}

/// Checks `query` against `mapping` and binds its fields (see the module
/// documentation); the first problem as a diagnostic.
///
/// ```
/// use eql_plan::mapping::{bind, BindOptions, Mapping};
/// let m = Mapping::from_json(&serde_json::json!({"properties": {
///     "@timestamp": {"type": "date"}, "event": {"properties": {"category": {"type": "keyword"}}},
///     "md5": {"type": "keyword"}}})).unwrap();
/// let q = |s| eql_syntax::parse_query(s, &Default::default()).unwrap();
/// let err = bind(&q("process where md4 == \"x\""), &m, &BindOptions::default()).unwrap_err();
/// assert_eq!((err.code, err.message.as_str()), ("EQL0307", "Unknown column [md4], did you mean [md5]?"));
/// // An optional field the mapping lacks is null in a condition.
/// let bound = bind(&q("process where ?x == ?y"), &m, &BindOptions::default()).unwrap();
/// assert_eq!(bound.query.to_string(), "process where null == null");
/// ```
pub fn bind(query: &Query, mapping: &Mapping, opts: &BindOptions) -> Result<Bound, Diagnostic> {
    let mut b = Binder {
        mapping,
        kinds: FieldKinds::default(),
    };
    let mut q = query.clone();
    match &mut q.body {
        QueryBody::Event(e) => {
            if e.category.name.is_some() {
                b.implicit(&opts.category_field, e.category.span)?;
            }
            e.condition = b.condition(&e.condition)?;
        }
        QueryBody::Sequence(s) => {
            s.by = b.keys(&s.by)?;
            b.steps(
                s.steps.iter_mut().chain(s.until.as_mut()),
                &opts.category_field,
            )?;
            check_key_types(mapping, "Sequence", &query.body)?;
        }
        QueryBody::Sample(s) => {
            s.by = b.keys(&s.by)?;
            b.steps(s.steps.iter_mut(), &opts.category_field)?;
            check_key_types(mapping, "Sample", &query.body)?;
        }
        QueryBody::Join(j) => {
            j.by = b.keys(&j.by)?;
            b.steps(
                j.steps.iter_mut().chain(j.until.as_mut()),
                &opts.category_field,
            )?;
        }
    }
    for p in &mut q.pipes {
        p.args = b.keys(&p.args)?;
    }
    Ok(Bound {
        query: q,
        kinds: b.kinds,
    })
}

struct Binder<'m> {
    mapping: &'m Mapping,
    kinds: FieldKinds,
}

fn err(code: &'static str, message: String, span: Span) -> Diagnostic {
    Diagnostic::error(code, message, span)
}

/// Elasticsearch's name of a field's data type, as its messages print it.
fn data_type(type_name: &str) -> String {
    match type_name {
        "keyword" | "wildcard" | "constant_keyword" => "KEYWORD".into(),
        "date" | "date_nanos" => "DATETIME".into(),
        t => t.to_ascii_uppercase(),
    }
}

/// The family for join-key compatibility: strings, numbers, dates, or the
/// type itself.
fn family(type_name: &str) -> &str {
    match type_name {
        "keyword" | "wildcard" | "constant_keyword" | "text" | "match_only_text" => "string",
        "long" | "integer" | "short" | "byte" | "unsigned_long" | "double" | "float"
        | "half_float" | "scaled_float" => "number",
        "date" | "date_nanos" => "date",
        t => t,
    }
}

fn literal_type(l: &Literal) -> &'static str {
    match l {
        Literal::Null => "null",
        Literal::Bool(_) => "boolean",
        Literal::Int(i) if i32::try_from(*i).is_ok() => "integer",
        Literal::Int(_) => "long",
        Literal::Float(_) => "double",
        Literal::String(_) => "keyword",
    }
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// The string functions whose first argument must be a string.
const STRING_FUNCTIONS: &[&str] = &[
    "between",
    "endswith",
    "indexof",
    "length",
    "number",
    "startswith",
    "stringcontains",
    "substring",
];

impl Binder<'_> {
    /// A field the query reads implicitly must be mapped.
    fn implicit(&mut self, name: &str, span: Span) -> Result<(), Diagnostic> {
        if self.mapping.get(name).is_none() {
            return Err(err("EQL0307", format!("Unknown column [{name}]"), span));
        }
        Ok(())
    }

    fn steps<'s>(
        &mut self,
        steps: impl Iterator<Item = &'s mut SequenceStep>,
        category_field: &str,
    ) -> Result<(), Diagnostic> {
        for st in steps {
            if st.query.category.name.is_some() {
                self.implicit(category_field, st.query.category.span)?;
            }
            st.query.condition = self.condition(&st.query.condition)?;
            st.by = self.keys(&st.by)?;
        }
        Ok(())
    }

    fn keys(&mut self, keys: &[Expr]) -> Result<Vec<Expr>, Diagnostic> {
        keys.iter().map(|k| self.expr(k, Place::Key)).collect()
    }

    fn condition(&mut self, e: &Expr) -> Result<Expr, Diagnostic> {
        self.boolean_operand(e)?;
        self.expr(e, Place::Filter)
    }

    /// A bare field used as a condition must be a boolean one.
    fn boolean_operand(&self, e: &Expr) -> Result<(), Diagnostic> {
        if let ExprKind::Field(f) = &e.kind {
            if let Some(mf) = self.mapping.get(&f.dotted()) {
                if mf.kind().is_some() && mf.type_name() != "boolean" || mf.is_text() {
                    return Err(err(
                        "EQL0312",
                        format!(
                            "Condition expression needs to be boolean, found [{}]",
                            data_type(mf.type_name())
                        ),
                        e.span,
                    ));
                }
            }
        }
        Ok(())
    }

    /// The mapped field `e` names directly, if it is a field.
    fn mapped(&self, e: &Expr) -> Option<&MappedField> {
        match &e.kind {
            ExprKind::Field(f) => self.mapping.get(&f.dotted()),
            _ => None,
        }
    }

    /// The kind a field expression is compared with (a `text` field's
    /// through its exact subfield).
    fn kind_of(&self, e: &Expr) -> Option<(&MappedField, &FieldKind)> {
        let mf = self.mapped(e)?;
        let mf = match mf.exact() {
            Some(exact) => self.mapping.get(exact)?,
            None => mf,
        };
        Some((mf, mf.kind()?))
    }

    fn no_normalizer(&self, field: &Expr, whole: &Expr) -> Result<(), Diagnostic> {
        if let Some(mf) = self.mapped(field) {
            if mf.is_normalized() {
                return Err(err(
                    "EQL0309",
                    format!(
                        "[{whole}] cannot operate on first argument field of data type [keyword]: \
                         Normalized keyword field cannot be used for exact match operations"
                    ),
                    whole.span,
                ));
            }
        }
        Ok(())
    }

    fn expr(&mut self, e: &Expr, place: Place) -> Result<Expr, Diagnostic> {
        let kind = match &e.kind {
            ExprKind::Literal(_) | ExprKind::Lineage { .. } => return Ok(e.clone()),
            ExprKind::Field(f) => return self.field(f, e.span, place),
            ExprKind::Unary { op, expr } => {
                if *op == UnaryOp::Not {
                    self.boolean_operand(expr)?;
                }
                ExprKind::Unary {
                    op: *op,
                    expr: Box::new(self.expr(expr, place)?),
                }
            }
            ExprKind::Binary { op, left, right } => {
                if matches!(op, BinaryOp::And | BinaryOp::Or) {
                    self.boolean_operand(left)?;
                    self.boolean_operand(right)?;
                }
                if op.is_comparison() {
                    self.comparison(*op, left, right, e)?;
                }
                let mut l = self.expr(left, place)?;
                let mut r = self.expr(right, place)?;
                if op.is_comparison() {
                    // A constant_keyword folded to its value compares as a
                    // keyword with the other literal.
                    for (side, other) in [(left, &mut r), (right, &mut l)] {
                        let constant = self.mapped(side).and_then(MappedField::constant);
                        if let (Some(_), ExprKind::Literal(lit)) = (constant, &mut other.kind) {
                            let text = match &*lit {
                                Literal::Float(f) => Some(super::kind::java_double(*f)),
                                Literal::Int(_) | Literal::Bool(_) => Some(lit.to_string()),
                                _ => None,
                            };
                            if let Some(text) = text {
                                *lit = Literal::String(text);
                            }
                        }
                    }
                }
                ExprKind::Binary {
                    op: *op,
                    left: Box::new(l),
                    right: Box::new(r),
                }
            }
            ExprKind::In {
                expr,
                list,
                negated,
                insensitive,
            } => {
                self.in_list(expr, list, e)?;
                ExprKind::In {
                    expr: Box::new(self.expr(expr, place)?),
                    list: list
                        .iter()
                        .map(|x| self.expr(x, place))
                        .collect::<Result<_, _>>()?,
                    negated: *negated,
                    insensitive: *insensitive,
                }
            }
            ExprKind::Match {
                expr,
                op,
                insensitive,
                patterns,
                list,
            } => {
                if let Some((mf, kind)) = self.kind_of(expr) {
                    if !kind.is_string() {
                        let name = match op {
                            MatchOp::Colon => ":",
                            MatchOp::Like => "like",
                            MatchOp::Regex => "regex",
                        };
                        let hint = if *op == MatchOp::Colon {
                            "; consider using [==] instead"
                        } else {
                            ""
                        };
                        return Err(err(
                            "EQL0311",
                            format!(
                                "first argument of [{name}] must be [string], found value [{}] type [{}]{hint}",
                                expr,
                                mf.type_name()
                            ),
                            e.span,
                        ));
                    }
                }
                self.no_normalizer(expr, e)?;
                ExprKind::Match {
                    expr: Box::new(self.expr(expr, place)?),
                    op: *op,
                    insensitive: *insensitive,
                    patterns: patterns
                        .iter()
                        .map(|x| self.expr(x, place))
                        .collect::<Result<_, _>>()?,
                    list: *list,
                }
            }
            ExprKind::Call {
                name,
                insensitive,
                args,
            } => {
                let lower = name.to_ascii_lowercase();
                if let Some(first) = args.first() {
                    if let Some((mf, kind)) = self.kind_of(first) {
                        let want = if lower == "cidrmatch" {
                            (!kind.is_ip()).then_some("ip")
                        } else if STRING_FUNCTIONS.contains(&lower.as_str()) {
                            (!kind.is_string()).then_some("string")
                        } else {
                            None
                        };
                        if let Some(want) = want {
                            return Err(err(
                                "EQL0311",
                                format!(
                                    "first argument of [{e}] must be [{want}], found value [{first}] type [{}]",
                                    mf.type_name()
                                ),
                                e.span,
                            ));
                        }
                    }
                }
                ExprKind::Call {
                    name: name.clone(),
                    insensitive: *insensitive,
                    args: args
                        .iter()
                        .map(|x| self.expr(x, place))
                        .collect::<Result<_, _>>()?,
                }
            }
        };
        Ok(Expr { kind, span: e.span })
    }

    /// `field op literal`: the literal must read as the field's type.
    fn comparison(
        &self,
        op: BinaryOp,
        left: &Expr,
        right: &Expr,
        whole: &Expr,
    ) -> Result<(), Diagnostic> {
        use super::Rel;
        let (field, lit, flipped) = match (&left.kind, &right.kind) {
            (ExprKind::Field(_), ExprKind::Literal(l)) => (left, l, false),
            (ExprKind::Literal(l), ExprKind::Field(_)) => (right, l, true),
            _ => return Ok(()),
        };
        if matches!(lit, Literal::Null) {
            return Ok(());
        }
        self.no_normalizer(field, whole)?;
        let Some((mf, kind)) = self.kind_of(field) else {
            return Ok(());
        };
        if mf.constant().is_some() {
            return Ok(());
        }
        let rel = match op {
            BinaryOp::Lt => Rel::Lt,
            BinaryOp::Le => Rel::Le,
            BinaryOp::Gt => Rel::Gt,
            BinaryOp::Ge => Rel::Ge,
            _ => Rel::Eq,
        };
        let rel = if flipped { rel.flip() } else { rel };
        kind.operand(rel, lit).map(|_| ()).map_err(|why| {
            err(
                "EQL0310",
                format!(
                    "[{whole}] cannot compare field [{field}] of type [{}]: {why}",
                    mf.type_name()
                ),
                whole.span,
            )
        })
    }

    /// `field in (literals...)`: members of a type compatible with the
    /// field's (strings for string, date, IP and version fields, numbers for
    /// numeric fields, booleans for boolean fields) that read as its type.
    fn in_list(&self, expr: &Expr, list: &[Expr], whole: &Expr) -> Result<(), Diagnostic> {
        self.no_normalizer(expr, whole)?;
        let Some((mf, kind)) = self.kind_of(expr) else {
            return Ok(());
        };
        if mf.constant().is_some() {
            return Ok(());
        }
        let ty = mf.type_name();
        let mut lits = Vec::new();
        for (i, m) in list.iter().enumerate() {
            let ExprKind::Literal(l) = &m.kind else {
                continue;
            };
            if matches!(l, Literal::Null) {
                continue;
            }
            let compatible = match family(ty) {
                "number" => matches!(l, Literal::Int(_) | Literal::Float(_)),
                "boolean" => matches!(l, Literal::Bool(_)),
                _ => matches!(l, Literal::String(_)),
            };
            if !compatible {
                return Err(err(
                    "EQL0310",
                    format!(
                        "{} argument of [{whole}] must be [{ty}], found value [{m}] type [{}]",
                        ordinal(i + 1),
                        literal_type(l)
                    ),
                    m.span,
                ));
            }
            lits.push(l);
        }
        if lits.is_empty() {
            return Ok(());
        }
        kind.members(&lits).map(|_| ()).map_err(|why| {
            err(
                "EQL0310",
                format!("[{whole}] cannot compare field [{expr}] of type [{ty}]: {why}"),
                whole.span,
            )
        })
    }

    fn field(&mut self, f: &FieldRef, span: Span, place: Place) -> Result<Expr, Diagnostic> {
        let keep = || {
            Ok(Expr {
                kind: ExprKind::Field(f.clone()),
                span,
            })
        };
        if f.path.iter().any(|s| matches!(s, PathSegment::Index(_))) {
            return keep();
        }
        let name = f.dotted();
        let Some(mf) = self.mapping.get(&name) else {
            if !f.optional {
                let similar = self.mapping.similar(&name);
                let hint = match similar.as_slice() {
                    [] => String::new(),
                    [one] => format!(", did you mean [{one}]?"),
                    many => format!(", did you mean any of [{}]?", many.join(", ")),
                };
                return Err(err(
                    "EQL0307",
                    format!("Unknown column [{name}]{hint}"),
                    span,
                ));
            }
            return match place {
                Place::Filter => Ok(Expr {
                    kind: ExprKind::Literal(Literal::Null),
                    span,
                }),
                Place::Key => {
                    self.record(&name, &name, FieldKind::absent(), span)?;
                    keep()
                }
            };
        };
        if let Usability::No(why) = mf.usable() {
            return Err(err("EQL0308", why, span));
        }
        let typed = if mf.is_text() {
            let exact = match &mf.class {
                super::Class::Text { exact } => exact.clone(),
                _ => Vec::new(),
            };
            match exact.as_slice() {
                [one] => self.mapping.get(one).unwrap_or(mf),
                [] => {
                    return Err(err(
                        "EQL0309",
                        format!(
                            "[{name}] cannot be used: field of data type [{}]: No keyword/multi-field \
                             defined exact matches for [{name}]; define one or use MATCH/QUERY instead",
                            mf.type_name()
                        ),
                        span,
                    ))
                }
                _ => {
                    return Err(err(
                        "EQL0309",
                        format!(
                            "[{name}] cannot be used: Multiple exact keyword candidates available \
                             for [{name}]; specify which one to use"
                        ),
                        span,
                    ))
                }
            }
        } else {
            mf
        };
        if let (Place::Filter, Some(c)) = (place, mf.constant()) {
            return Ok(Expr {
                kind: ExprKind::Literal(Literal::String(c.to_owned())),
                span,
            });
        }
        let Some(kind) = typed.kind() else {
            return Err(err(
                "EQL0308",
                format!("Cannot use field [{name}] type [{}]", mf.type_name()),
                span,
            ));
        };
        let source = mf.source().to_owned();
        self.record(&name, &source, kind.clone(), span)?;
        Ok(Expr {
            kind: ExprKind::Field(FieldRef {
                path: source
                    .split('.')
                    .map(|s| PathSegment::Key(s.to_owned()))
                    .collect(),
                optional: f.optional,
            }),
            span,
        })
    }

    fn record(
        &mut self,
        name: &str,
        source: &str,
        kind: FieldKind,
        span: Span,
    ) -> Result<(), Diagnostic> {
        match self.kinds.by_path.get(source) {
            Some(k) if *k != kind => Err(err(
                "EQL0308",
                format!(
                    "Cannot use field [{name}]: the query reads the value of [{source}] \
                     as two different types"
                ),
                span,
            )),
            Some(_) => Ok(()),
            None => {
                self.kinds.by_path.insert(source.to_owned(), kind);
                Ok(())
            }
        }
    }
}

/// The join keys at each position must have compatible types in every
/// step (Elasticsearch's `Sequence key [b] type [keyword] is incompatible
/// with key [a] type [long]`).
fn check_key_types(mapping: &Mapping, what: &str, body: &QueryBody) -> Result<(), Diagnostic> {
    if !matches!(body, QueryBody::Sequence(_) | QueryBody::Sample(_)) {
        return Ok(());
    }
    let outer = body.keys();
    let steps: Vec<&SequenceStep> = body.steps().collect();
    let keys = |st: &SequenceStep| -> Vec<Expr> { outer.iter().chain(&st.by).cloned().collect() };
    let ty = |e: &Expr| -> Option<String> {
        let ExprKind::Field(f) = &e.kind else {
            return None;
        };
        let mf = mapping.get(&f.dotted())?;
        mf.kind()
            .is_some()
            .then(|| mf.type_name().to_owned())
            .or_else(|| mf.is_text().then(|| "text".to_owned()))
    };
    let Some(first) = steps.first() else {
        return Ok(());
    };
    let first_keys = keys(first);
    for st in steps.iter().skip(1) {
        for (a, b) in first_keys.iter().zip(keys(st)) {
            if let (Some(ta), Some(tb)) = (ty(a), ty(&b)) {
                if family(&ta) != family(&tb) {
                    return Err(err(
                        "EQL0313",
                        format!("{what} key [{b}] type [{tb}] is incompatible with key [{a}] type [{ta}]"),
                        b.span,
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapping() -> Mapping {
        Mapping::from_json(&json!({"properties": {
            "@timestamp": {"type": "date"},
            "event": {"properties": {"category": {"type": "keyword"}, "kind": {"type": "constant_keyword", "value": "alert"}}},
            "pid": {"type": "long"},
            "ppid": {"type": "long"},
            "md5": {"type": "keyword"},
            "norm": {"type": "keyword", "normalizer": "lowercase"},
            "ok": {"type": "boolean"},
            "ip": {"type": "ip"},
            "v": {"type": "version"},
            "hostname": {"type": "text"},
            "tags": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
            "cat": {"type": "alias", "path": "event.category"},
            "obj": {"properties": {"x": {"type": "keyword"}}},
            "geo": {"type": "geo_point"}
        }}))
        .unwrap()
    }

    fn check(q: &str) -> Result<Bound, Diagnostic> {
        let q = eql_syntax::parse_query(q, &eql_syntax::ParseOptions::default()).unwrap();
        bind(&q, &mapping(), &BindOptions::default())
    }

    fn error(q: &str) -> (&'static str, String) {
        let e = check(q).unwrap_err();
        (e.code, e.message)
    }

    #[test]
    fn the_verifier_errors_of_elasticsearch() {
        assert_eq!(
            error("any where xxx == 1"),
            ("EQL0307", "Unknown column [xxx]".into())
        );
        assert_eq!(
            error("any where pib == 1").1,
            "Unknown column [pib], did you mean any of [pid, ppid]?"
        );
        assert_eq!(
            error("any where obj == 1").1,
            "Cannot use field [obj] type [object] only its subfields"
        );
        assert_eq!(
            error("any where geo == 1").1,
            "Cannot use field [geo] with unsupported type [geo_point]"
        );
        assert_eq!(error("any where hostname == \"x\"").0, "EQL0309");
        assert_eq!(error("any where norm == \"x\"").0, "EQL0309");
        assert_eq!(error("any where pid == \"abc\"").0, "EQL0310");
        assert_eq!(error("any where @timestamp == \"2020-02-41\"").0, "EQL0310");
        assert_eq!(
            error("any where pid in (1, \"string\")").1,
            "2nd argument of [pid in (1, \"string\")] must be [long], found value [\"string\"] type [keyword]"
        );
        assert_eq!(
            error("any where pid : 123").1,
            "first argument of [:] must be [string], found value [pid] type [long]; consider using [==] instead"
        );
        assert_eq!(error("any where startsWith(pid, \"1\")").0, "EQL0311");
        assert_eq!(
            error("any where cidrMatch(md5, \"10.0.0.0/8\")").0,
            "EQL0311"
        );
        assert_eq!(
            error("any where pid").1,
            "Condition expression needs to be boolean, found [LONG]"
        );
        assert_eq!(
            error("any where true and @timestamp").1,
            "Condition expression needs to be boolean, found [DATETIME]"
        );
        assert_eq!(
            error("sequence [process where true] by pid [process where true] by md5").1,
            "Sequence key [md5] type [keyword] is incompatible with key [pid] type [long]"
        );
    }

    #[test]
    fn what_binding_accepts_and_rewrites() {
        let b = check("process where cat == \"x\" and tags : \"a*\" and ok and ?nope == null and pid == \"42\"").unwrap();
        assert_eq!(
            b.query.to_string(),
            "process where event.category == \"x\" and tags : \"a*\" and ok and null == null and pid == \"42\""
        );
        assert!(b.kinds.get("tags").unwrap().is_keyword());
        assert!(b.kinds.get("event.category").unwrap().is_keyword());
        // A constant_keyword is its value in a condition.
        let b = check("any where event.kind == \"alert\" and event.kind != 1").unwrap();
        assert_eq!(
            b.query.to_string(),
            "any where \"alert\" == \"alert\" and \"alert\" != \"1\""
        );
        // An optional key the mapping lacks stays a field that reads as null.
        let b = check("sequence by ?x [process where true] [process where true]").unwrap();
        assert!(b.kinds.get("x").unwrap().is_absent());
        assert!(check("sequence [process where true] by tags [process where true] by md5").is_ok());
        assert!(
            check("any where ip == \"10.0.0.0/8\" and v > \"1.2\" and ip in (\"::1\")").is_ok()
        );
    }

    #[test]
    fn the_implicit_fields_must_be_mapped() {
        let m =
            Mapping::from_json(&json!({"properties": {"@timestamp": {"type": "date"}}})).unwrap();
        let q = eql_syntax::parse_query("foo where true", &eql_syntax::ParseOptions::default())
            .unwrap();
        let e = bind(&q, &m, &BindOptions::default()).unwrap_err();
        assert_eq!(e.message, "Unknown column [event.category]");
        let q = eql_syntax::parse_query("any where true", &eql_syntax::ParseOptions::default())
            .unwrap();
        assert!(bind(&q, &m, &BindOptions::default()).is_ok());
    }
}
