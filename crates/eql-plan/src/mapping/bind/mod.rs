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

mod field;
mod verify;

use super::{FieldKind, Mapping};
use eql_syntax::{Diagnostic, Expr, ExprKind, Query, QueryBody, SequenceStep, Span};
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
    if let QueryBody::Event(e) = &mut q.body {
        if e.category.name.is_some() {
            b.implicit(&opts.category_field, e.category.span)?;
        }
        b.condition(&mut e.condition)?;
    }
    b.keys(q.body.keys_mut())?;
    b.steps(q.body.steps_mut(), &opts.category_field)?;
    verify::key_types(mapping, &query.body)?;
    for p in &mut q.pipes {
        b.keys(&mut p.args)?;
    }
    Ok(Bound {
        query: q,
        kinds: b.kinds,
    })
}

/// The state of one binding: the mapping, and the kinds of the fields bound
/// so far.
struct Binder<'m> {
    mapping: &'m Mapping,
    kinds: FieldKinds,
}

impl Binder<'_> {
    fn steps<'s>(
        &mut self,
        steps: impl Iterator<Item = &'s mut SequenceStep>,
        category_field: &str,
    ) -> Result<(), Diagnostic> {
        for st in steps {
            if st.query.category.name.is_some() {
                self.implicit(category_field, st.query.category.span)?;
            }
            self.condition(&mut st.query.condition)?;
            self.keys(&mut st.by)?;
        }
        Ok(())
    }

    fn keys(&mut self, keys: &mut [Expr]) -> Result<(), Diagnostic> {
        keys.iter_mut().try_for_each(|k| self.expr(k, Place::Key))
    }

    fn condition(&mut self, e: &mut Expr) -> Result<(), Diagnostic> {
        self.boolean_operand(e)?;
        self.expr(e, Place::Filter)
    }

    /// Checks and binds `e` from the root down: each node is checked as
    /// written, before its children are bound (the checks read the
    /// operands' mapped fields), and each field is replaced by what it
    /// reads. The first problem met is returned. A lineage relation's query
    /// is left as it is.
    fn expr(&mut self, e: &mut Expr, place: Place) -> Result<(), Diagnostic> {
        e.try_walk_mut(&mut |x| match &x.kind {
            ExprKind::Lineage { .. } => Ok(false),
            ExprKind::Field(f) => {
                let bound = self.field(f, x.span, place)?;
                *x = bound;
                Ok(false)
            }
            _ => {
                self.verify(x)?;
                self.fold_constant(x);
                Ok(true)
            }
        })
    }
}

fn err(code: &'static str, message: String, span: Span) -> Diagnostic {
    Diagnostic::error(code, message, span)
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
