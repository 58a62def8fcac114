//! The reference interpreter: a tree-walking evaluator over the `eql_syntax` AST.
//!
//! `eval` is three-valued (`None` = null / missing). `matches` is the boolean
//! top level: in the ES dialect it reproduces the document-level (Lucene)
//! semantics of negation and multi-valued fields; in the Python dialect it is
//! Kleene logic followed by a truthiness test.
//!
//! With an index mapping ([`FieldKinds`] of a bound query), a field reads the
//! values Elasticsearch would have indexed for it ([`normalize`]), and a
//! comparison of a field with a literal compares them with the literal as the
//! field's type reads it ([`FieldKind::operand`]): dates as instants, IPs as
//! addresses and networks, versions in version order, numbers from strings,
//! keywords from numbers.

pub(crate) mod functions;
mod text;
use crate::Event;
use eql_plan::mapping::{FieldKind, FieldKinds, Members, Operand, Rel};
use eql_plan::{FieldPath, Value};
use eql_syntax::{
    BinaryOp, Dialect, Expr, ExprKind, FieldRef, Literal, MatchOp, PathSegment, UnaryOp,
};
use std::cmp::Ordering;

/// An owned runtime value; `None` is null.
pub(crate) type V = Option<Value<'static>>;

/// Evaluation context.
pub(crate) struct Ctx<'a> {
    pub dialect: Dialect,
    /// Python dialect: fold case for string comparisons.
    pub ci: bool,
    pub regexes: &'a eql_plan::RegexCache,
    pub event: &'a dyn Event,
    /// With a mapping: the kinds of the fields the query reads.
    pub kinds: Option<&'a FieldKinds>,
}

/// Variable bindings (array function variables, ES multi-value substitution).
pub(crate) type Env = Vec<(String, Value<'static>)>;

/// Whether a comparison is one of a mapped field with a literal.
enum Typed {
    /// It is not.
    No,
    /// It is, with this three-valued result.
    Is(Option<bool>),
}

impl Ctx<'_> {
    pub(crate) fn py(&self) -> bool {
        self.dialect == Dialect::Python
    }

    fn field(&self, f: &FieldRef, env: &Env) -> V {
        let dotted = if env.is_empty() {
            String::new()
        } else {
            f.dotted()
        };
        for (name, val) in env.iter().rev() {
            if *name == dotted {
                return Some(val.clone());
            }
            if let Some(PathSegment::Key(k)) = f.path.first() {
                if k == name {
                    return walk_value(val, &f.path[1..]);
                }
            }
        }
        let path = FieldPath::new(f.path.clone());
        let v = self.event.get(&path);
        if let Some(kind) = self.kind(f) {
            return normalize(kind, v).map(Value::into_owned);
        }
        let v = v?.into_owned();
        if v.is_null() {
            None
        } else {
            Some(v)
        }
    }

    /// The mapped kind of a field, when the query is bound to a mapping.
    fn kind(&self, f: &FieldRef) -> Option<&FieldKind> {
        self.kinds?.get(&f.dotted())
    }

    /// `left rel right` where one side is a field with a mapped kind and
    /// the other a non-null literal: compared as the field's type does.
    fn typed_cmp(&self, rel: Rel, left: &Expr, right: &Expr, env: &Env) -> Typed {
        let (f, field, lit, rel) = match (&left.kind, &right.kind) {
            (ExprKind::Field(f), ExprKind::Literal(l)) => (f, left, l, rel),
            (ExprKind::Literal(l), ExprKind::Field(f)) => (f, right, l, rel.flip()),
            _ => return Typed::No,
        };
        if matches!(lit, Literal::Null) {
            return Typed::No;
        }
        let Some(kind) = self.kind(f) else {
            return Typed::No;
        };
        let Ok(operand) = kind.operand(rel, lit) else {
            return Typed::Is(None);
        };
        let Some(v) = self.eval(field, env) else {
            return Typed::Is(None);
        };
        Typed::Is(match operand {
            Operand::Test(t) => Some(t.test(&v)),
            Operand::Value(x) => match rel {
                Rel::Eq => self.equal(&v, &x, false),
                _ => self.compare(&v, &x).map(|ord| match rel {
                    Rel::Lt => ord == Ordering::Less,
                    Rel::Le => ord != Ordering::Greater,
                    Rel::Gt => ord == Ordering::Greater,
                    _ => ord != Ordering::Less,
                }),
            },
        })
    }

    /// Three-valued evaluation.
    pub(crate) fn eval(&self, e: &Expr, env: &Env) -> V {
        match &e.kind {
            ExprKind::Literal(l) => Value::from_literal(l),
            ExprKind::Field(f) => self.field(f, env),
            ExprKind::Unary { op, expr } => {
                let v = self.eval(expr, env);
                match op {
                    UnaryOp::Not => Some(Value::Bool(!self.truthy(&v?))),
                    UnaryOp::Neg => match v? {
                        Value::Int(i) => i.checked_neg().map(Value::Int),
                        Value::Float(f) => Some(Value::Float(-f)),
                        _ => None,
                    },
                    UnaryOp::Plus => match v? {
                        x @ (Value::Int(_) | Value::Float(_)) => Some(x),
                        _ => None,
                    },
                }
            }
            ExprKind::Binary { op, left, right } => self.binary(*op, left, right, env),
            ExprKind::In {
                expr,
                list,
                negated,
                insensitive,
            } => {
                let r = self.in_set(expr, list, *insensitive, env);
                if *negated { r.map(|b| !b) } else { r }.map(Value::Bool)
            }
            ExprKind::Match {
                expr,
                op,
                insensitive,
                patterns,
                ..
            } => self
                .match_op(expr, *op, *insensitive, patterns, env)
                .map(Value::Bool),
            ExprKind::Call {
                name,
                insensitive,
                args,
            } => functions::call(self, name, *insensitive, args, env),
            ExprKind::Lineage { .. } => self.event.lineage(e).map(Value::Bool),
        }
    }

    #[allow(clippy::unused_self)]
    pub(crate) fn truthy(&self, v: &Value<'_>) -> bool {
        match v {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
        }
    }

    fn binary(&self, op: BinaryOp, left: &Expr, right: &Expr, env: &Env) -> V {
        match op {
            BinaryOp::And => {
                let l = self.eval(left, env).map(|v| self.truthy(&v));
                if l == Some(false) {
                    return Some(Value::Bool(false));
                }
                let r = self.eval(right, env).map(|v| self.truthy(&v));
                match (l, r) {
                    (_, Some(false)) => Some(Value::Bool(false)),
                    (Some(true), Some(true)) => Some(Value::Bool(true)),
                    _ => None,
                }
            }
            BinaryOp::Or => {
                let l = self.eval(left, env).map(|v| self.truthy(&v));
                if l == Some(true) {
                    return Some(Value::Bool(true));
                }
                let r = self.eval(right, env).map(|v| self.truthy(&v));
                match (l, r) {
                    (_, Some(true)) => Some(Value::Bool(true)),
                    (Some(false), Some(false)) => Some(Value::Bool(false)),
                    _ => None,
                }
            }
            BinaryOp::Eq | BinaryOp::Ne => {
                let is_null_lit = |e: &Expr| matches!(e.kind, ExprKind::Literal(Literal::Null));
                let eq = if is_null_lit(right) {
                    Some(self.eval(left, env).is_none())
                } else if is_null_lit(left) {
                    Some(self.eval(right, env).is_none())
                } else if let Typed::Is(typed) = self.typed_cmp(Rel::Eq, left, right, env) {
                    typed
                } else if let Some(pat) = self.py_wildcard_literal(left, right) {
                    let (other, pat) = pat;
                    match self.eval(other, env)? {
                        Value::Str(s) => Some(functions::glob(&s, pat, self.ci, false)),
                        _ => return None,
                    }
                } else {
                    let l = self.eval(left, env)?;
                    let r = self.eval(right, env)?;
                    self.equal(&l, &r, self.py() && self.ci)
                };
                let eq = eq?;
                Some(Value::Bool(if op == BinaryOp::Eq { eq } else { !eq }))
            }
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                let rel = match op {
                    BinaryOp::Lt => Rel::Lt,
                    BinaryOp::Le => Rel::Le,
                    BinaryOp::Gt => Rel::Gt,
                    _ => Rel::Ge,
                };
                if let Typed::Is(typed) = self.typed_cmp(rel, left, right, env) {
                    return typed.map(Value::Bool);
                }
                let l = self.eval(left, env)?;
                let r = self.eval(right, env)?;
                let ord = self.compare(&l, &r)?;
                Some(Value::Bool(match op {
                    BinaryOp::Lt => ord == Ordering::Less,
                    BinaryOp::Le => ord != Ordering::Greater,
                    BinaryOp::Gt => ord == Ordering::Greater,
                    _ => ord != Ordering::Less,
                }))
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
                let l = self.eval(left, env)?;
                let r = self.eval(right, env)?;
                functions::arith(self.py(), op, &l, &r)
            }
        }
    }

    /// Python native: `x == "a*b"` is `wildcard(x, "a*b")`.
    fn py_wildcard_literal<'e>(
        &self,
        left: &'e Expr,
        right: &'e Expr,
    ) -> Option<(&'e Expr, &'e str)> {
        if !self.py() {
            return None;
        }
        if let ExprKind::Literal(Literal::String(s)) = &right.kind {
            if s.contains('*') {
                return Some((left, s));
            }
        }
        if let ExprKind::Literal(Literal::String(s)) = &left.kind {
            if s.contains('*') {
                return Some((right, s));
            }
        }
        None
    }

    /// Type-strict equality; `None` on a type mismatch.
    pub(crate) fn equal(&self, a: &Value<'_>, b: &Value<'_>, ci: bool) -> Option<bool> {
        match (a, b) {
            (Value::Str(x), Value::Str(y)) => Some(if ci {
                functions::fold(x) == functions::fold(y)
            } else {
                x == y
            }),
            (Value::Bool(x), Value::Bool(y)) => Some(x == y),
            (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
                Some(num_cmp(a, b)? == Ordering::Equal)
            }
            (Value::Array(x), Value::Array(y)) if self.py() => {
                if x.len() != y.len() {
                    return Some(false);
                }
                for (p, q) in x.iter().zip(y) {
                    if self.equal(p, q, ci) != Some(true) {
                        return Some(false);
                    }
                }
                Some(true)
            }
            _ => None,
        }
    }

    fn compare(&self, a: &Value<'_>, b: &Value<'_>) -> Option<Ordering> {
        match (a, b) {
            (Value::Str(x), Value::Str(y)) => Some(if self.py() && self.ci {
                functions::fold(x).cmp(&functions::fold(y))
            } else {
                x.as_ref().cmp(y.as_ref())
            }),
            (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => num_cmp(a, b),
            (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
            _ => None,
        }
    }

    fn in_set(&self, expr: &Expr, list: &[Expr], insensitive: bool, env: &Env) -> Option<bool> {
        let ci = insensitive || (self.py() && self.ci);
        let v = self.eval(expr, env);
        let Some(v) = v else {
            if list
                .iter()
                .any(|e| matches!(e.kind, ExprKind::Literal(Literal::Null)))
            {
                return Some(true);
            }
            return None;
        };
        // A mapped field against literals: each member read as the type does.
        if let (ExprKind::Field(f), true) = (
            &expr.kind,
            list.iter().all(|m| matches!(m.kind, ExprKind::Literal(_))),
        ) {
            if let Some(kind) = self.kind(f) {
                let lits: Vec<&Literal> = list
                    .iter()
                    .filter_map(|m| match &m.kind {
                        ExprKind::Literal(l) if !matches!(l, Literal::Null) => Some(l),
                        _ => None,
                    })
                    .collect();
                return match kind.members(&lits) {
                    Ok(Members::Test(t)) => Some(t.test(&v)),
                    Ok(Members::Values(vs)) => {
                        Some(vs.iter().any(|x| self.equal(&v, x, ci) == Some(true)))
                    }
                    Err(_) => None,
                };
            }
        }
        for m in list {
            if let Some(mv) = self.eval(m, env) {
                if self.equal(&v, &mv, ci) == Some(true) {
                    return Some(true);
                }
            }
        }
        Some(false)
    }

    fn match_op(
        &self,
        expr: &Expr,
        op: MatchOp,
        insensitive: bool,
        patterns: &[Expr],
        env: &Env,
    ) -> Option<bool> {
        let Value::Str(s) = self.eval(expr, env)? else {
            return None;
        };
        let mut any_pattern = false;
        for p in patterns {
            let Some(Value::Str(pat)) = self.eval(p, env) else {
                continue;
            };
            any_pattern = true;
            let hit = if self.py() {
                match op {
                    MatchOp::Colon | MatchOp::Like => functions::glob(&s, &pat, self.ci, false),
                    MatchOp::Regex => self.regexes.is_match(&s, &pat, true, true)?,
                }
            } else {
                match op {
                    MatchOp::Colon => functions::glob(&s, &pat, true, true),
                    MatchOp::Like => functions::glob(&s, &pat, insensitive, true),
                    MatchOp::Regex => self.regexes.is_match(&s, &pat, insensitive, false)?,
                }
            };
            if hit {
                return Some(true);
            }
        }
        if any_pattern {
            Some(false)
        } else {
            None
        }
    }

    // ---- ES boolean top level ------------------------------------------

    /// True when the condition selects the event.
    pub(crate) fn matches(&self, e: &Expr) -> bool {
        let env = Env::new();
        if self.py() {
            return self.eval(e, &env).is_some_and(|v| self.truthy(&v));
        }
        self.es_matches(e, &env)
    }

    fn es_matches(&self, e: &Expr, env: &Env) -> bool {
        if let Some(p) = must_not_leaf(e) {
            return !self.leaf_any(&p, env);
        }
        match &e.kind {
            ExprKind::Binary {
                op: BinaryOp::And,
                left,
                right,
            } => self.es_matches(left, env) && self.es_matches(right, env),
            ExprKind::Binary {
                op: BinaryOp::Or,
                left,
                right,
            } => self.es_matches(left, env) || self.es_matches(right, env),
            ExprKind::Unary {
                op: UnaryOp::Not,
                expr,
            } => self.es_not(expr, env),
            _ => self.leaf_any(e, env),
        }
    }

    fn es_not(&self, e: &Expr, env: &Env) -> bool {
        if let Some(n) = complement_order(e) {
            return self.leaf_any(&n, env);
        }
        match &e.kind {
            ExprKind::Binary {
                op: BinaryOp::And,
                left,
                right,
            } => self.es_not(left, env) || self.es_not(right, env),
            ExprKind::Binary {
                op: BinaryOp::Or,
                left,
                right,
            } => self.es_not(left, env) && self.es_not(right, env),
            ExprKind::Unary {
                op: UnaryOp::Not,
                expr,
            } => self.es_matches(expr, env),
            _ if pushdown(e) => !self.es_matches(e, env),
            _ => self.leaf_any(&e.negated(), env),
        }
    }

    /// Any-value semantics: a leaf over an array-valued field is true when it
    /// holds for any element. `field == null` and `field != null` are ES's
    /// `IsNull`/`IsNotNull` (an `exists` query): they test whether the field's
    /// whole value holds an indexed value ([`holds_value`]).
    pub(crate) fn leaf_any(&self, e: &Expr, env: &Env) -> bool {
        if let Some((f, eq)) = null_check(e) {
            let exists = self.field(f, env).is_some_and(|v| holds_value(&v));
            return exists != eq;
        }
        for f in e.fields() {
            if let Some(Value::Array(items)) = self.field(f, env) {
                let name = f.dotted();
                let mut env2 = env.clone();
                env2.push((name, Value::Null));
                for item in items {
                    if let Some(last) = env2.last_mut() {
                        last.1 = item;
                    }
                    if self.leaf_any(e, &env2) {
                        return true;
                    }
                }
                return false;
            }
        }
        self.eval(e, env).is_some_and(|v| self.truthy(&v))
    }
}

/// True when `v` holds a value Elasticsearch would index, as its `exists`
/// query sees it: any scalar (an empty string too); not `null`, and not an
/// array or object whose items and members hold none (`[]`, `[null]`,
/// `[[]]`, `{}`, `{"a": null}`).
pub(crate) fn holds_value(v: &Value<'_>) -> bool {
    match v {
        Value::Null => false,
        Value::Array(items) => items.iter().any(holds_value),
        Value::Object(members) => members.iter().any(|(_, m)| holds_value(m)),
        _ => true,
    }
}

// Leaves that ES translates to Lucene queries (negation is `must_not`): one
// rule shared with the lowering, so the two cannot drift.
use eql_plan::{complement_order, must_not_leaf, null_check, pushdown};

/// A field's value as a mapped kind reads it: each scalar as the type
/// indexes it ([`FieldKind::normalize`]), an array item by item (nested
/// arrays flattened) with the values that do not fit left out; `None` when
/// missing, null without a `null_value`, or no value fits.
pub(crate) fn normalize<'e>(kind: &FieldKind, v: Option<Value<'e>>) -> Option<Value<'e>> {
    fn flatten<'e>(kind: &FieldKind, v: Value<'e>, out: &mut Vec<Value<'e>>) {
        match v {
            Value::Array(items) => items.into_iter().for_each(|x| flatten(kind, x, out)),
            x => out.extend(kind.normalize(x)),
        }
    }
    match v? {
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for x in items {
                flatten(kind, x, &mut out);
            }
            (!out.is_empty()).then_some(Value::Array(out))
        }
        x => kind.normalize(x),
    }
}

pub(crate) fn num_cmp(a: &Value<'_>, b: &Value<'_>) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Float(y)) => (*x as f64).partial_cmp(y),
        (Value::Float(x), Value::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        _ => None,
    }
}

pub(crate) fn walk_value(v: &Value<'static>, segs: &[PathSegment]) -> V {
    let Some((first, rest)) = segs.split_first() else {
        return if v.is_null() { None } else { Some(v.clone()) };
    };
    match (first, v) {
        (PathSegment::Key(k), Value::Object(o)) => o
            .iter()
            .find(|(kk, _)| kk == k)
            .and_then(|(_, c)| walk_value(c, rest)),
        (PathSegment::Index(i), Value::Array(a)) => {
            a.get(*i as usize).and_then(|c| walk_value(c, rest))
        }
        _ => None,
    }
}
