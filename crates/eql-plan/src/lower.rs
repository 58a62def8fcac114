//! Lowering: an AST condition to a [`Cond`], and the optimizer passes over it.
//!
//! In the Elasticsearch dialect the lowering mirrors how ES translates a
//! condition to a Lucene query: `and`/`or` stay, `not` is pushed through them
//! (De Morgan) down to the leaves, order comparisons flip under `not`, and the
//! leaves that compare one field with literals become compiled [`Test`]s. Every
//! other leaf is kept as [`Cond::Generic`] and evaluated with the reference
//! semantics, so the lowering never changes a result: it only moves work to
//! compile time. In the Python dialect (Kleene logic over nulls) the condition
//! is split only at `and`/`or` (exact for truthiness), every other subtree
//! stays a generic leaf, and a leaf with necessary literals carries them as
//! [`Cond::Witnessed`] for the pack's candidate index.

use crate::ir::{CmpOp, Cond, FieldTable, Test, TestOp};
use crate::mapping::{FieldKind, FieldKinds, Members, Operand, Rel};
use crate::matcher::{fold, required_piece, Glob, StrSet};
use crate::{FieldPath, Value};
use eql_syntax::{BinaryOp, Dialect, Expr, ExprKind, Literal, MatchOp, UnaryOp};

/// The regex source the engine compiles for `regex`/`regex~` (ES: anchored at
/// both ends; Python `match`: anchored at the start only).
///
/// ```
/// assert_eq!(eql_plan::regex_source("a.c", true, false), "(?is)^(?:a.c)$");
/// ```
pub fn regex_source(pat: &str, ci: bool, python: bool) -> String {
    let flags = if ci { "(?is)" } else { "(?s)" };
    if python {
        format!("{flags}^(?:{pat})")
    } else {
        format!("{flags}^(?:{pat})$")
    }
}

/// The compiled-size limit of each regex (bytes), for untrusted patterns.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Lowering context.
pub struct Lowering<'a> {
    /// The dialect.
    pub dialect: Dialect,
    /// Where field ids come from (shared across a pack).
    pub fields: &'a mut FieldTable,
    /// Evaluates a leaf that reads no field (constant folding); `None` when it
    /// cannot be decided at compile time.
    pub const_eval: &'a dyn Fn(&Expr) -> Option<bool>,
    /// Python dialect: strings compare case-insensitively (the default
    /// mode; `CompileOptions::case_sensitive` turns it off). Unused in ES.
    pub python_ci: bool,
    /// The kinds of the fields of a query bound to an index mapping
    /// ([`crate::mapping::bind`]): a compiled test on such a field reads its
    /// normalized values and compares them with the literal as the mapped
    /// type does. `None` without a mapping.
    pub kinds: Option<&'a FieldKinds>,
}

impl<'a> Lowering<'a> {
    /// Lowers a boolean condition (the `where` clause).
    pub fn condition(&mut self, e: &Expr) -> Cond {
        let c = if self.dialect == Dialect::Python {
            if has_lineage(e) {
                // The session answers lineage by the node's address: the
                // condition stays one leaf.
                self.generic(e)
            } else {
                self.py(e)
            }
        } else {
            self.pos(e)
        };
        let mut c = c;
        run_passes(&mut c);
        c
    }

    fn generic(&mut self, e: &Expr) -> Cond {
        if !reads_state(e) {
            if let Some(b) = (self.const_eval)(e) {
                return Cond::Const(b);
            }
        }
        self.intern_all(e);
        Cond::Generic(Box::new(e.clone()))
    }

    /// Python: `and`/`or` are kept as plan nodes and every other subtree is
    /// one generic leaf, with its necessary literals when it has some.
    ///
    /// Under Kleene logic an `and` is truthy exactly when both sides are,
    /// and an `or` when one side is, so evaluating the sides' truthiness
    /// two-valued gives the reference's result; `not` is not split (`not
    /// null` is null, not true).
    fn py(&mut self, e: &Expr) -> Cond {
        match &e.kind {
            ExprKind::Binary {
                op: BinaryOp::And,
                left,
                right,
            } => Cond::And(vec![self.py(left), self.py(right)]),
            ExprKind::Binary {
                op: BinaryOp::Or,
                left,
                right,
            } => Cond::Or(vec![self.py(left), self.py(right)]),
            _ => {
                let leaf = self.generic(e);
                match (&leaf, self.py_witness(e)) {
                    (Cond::Generic(_), Some(atoms)) => Cond::Witnessed(atoms, Box::new(leaf)),
                    _ => leaf,
                }
            }
        }
    }

    /// The necessary literals of a Python leaf, following the reference's
    /// semantics: `f == "s"` (a wildcard when `s` has a `*`), `f in ("s",
    /// ...)` with string members only, and `f : ...` / `f like ...` with
    /// string patterns (`*` the only wildcard). Strings compare after `fold`
    /// in the case-insensitive mode (and `in~` always). A field that does
    /// not hold a matching string makes the leaf false or null, so it
    /// cannot select the event. `None` for every other leaf.
    fn py_witness(&mut self, e: &Expr) -> Option<Vec<crate::pack::Atom>> {
        use crate::pack::{Atom, Needle};
        let ci = self.python_ci;
        let atom =
            |fields: &mut FieldTable, f: &eql_syntax::FieldRef, pat: &str, ci: bool, star: bool| {
                let text = if ci {
                    fold(pat).into_owned()
                } else {
                    pat.to_owned()
                };
                let field = fields.intern(&FieldPath::new(f.path.clone()));
                if star && text.contains('*') {
                    // Python wildcards: `*` only, `?` is literal.
                    let piece = required_piece(&text, false);
                    if piece.is_empty() {
                        return None;
                    }
                    return Some(Atom {
                        field,
                        needle: Needle::Contains,
                        text: piece.to_owned(),
                        ci,
                    });
                }
                Some(Atom {
                    field,
                    needle: Needle::Exact,
                    text,
                    ci,
                })
            };
        let string = |x: &Expr| match &x.kind {
            ExprKind::Literal(Literal::String(s)) => Some(s.clone()),
            _ => None,
        };
        match &e.kind {
            ExprKind::Binary {
                op: BinaryOp::Eq,
                left,
                right,
            } => {
                let (f, s) = match (&left.kind, &right.kind) {
                    (ExprKind::Field(f), _) => (f, string(right)?),
                    (_, ExprKind::Field(f)) => (f, string(left)?),
                    _ => return None,
                };
                Some(vec![atom(self.fields, f, &s, ci, true)?])
            }
            ExprKind::In {
                expr,
                list,
                negated: false,
                insensitive,
            } => {
                let ExprKind::Field(f) = &expr.kind else {
                    return None;
                };
                let ci = ci || *insensitive;
                list.iter()
                    .map(|m| atom(self.fields, f, &string(m)?, ci, false))
                    .collect()
            }
            ExprKind::Match {
                expr,
                op: MatchOp::Colon | MatchOp::Like,
                patterns,
                ..
            } => {
                let ExprKind::Field(f) = &expr.kind else {
                    return None;
                };
                patterns
                    .iter()
                    .map(|p| atom(self.fields, f, &string(p)?, ci, true))
                    .collect()
            }
            _ => None,
        }
    }

    /// Interns every field an expression reads, so that a projection of the
    /// plan's fields serves generic leaves too.
    fn intern_all(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Field(f) => {
                self.fields.intern(&FieldPath::new(f.path.clone()));
            }
            ExprKind::Literal(_) => {}
            ExprKind::Lineage { query, .. } => self.intern_all(&query.condition),
            ExprKind::Unary { expr, .. } => self.intern_all(expr),
            ExprKind::Binary { left, right, .. } => {
                self.intern_all(left);
                self.intern_all(right);
            }
            ExprKind::In { expr, list, .. } => {
                self.intern_all(expr);
                for x in list {
                    self.intern_all(x);
                }
            }
            ExprKind::Match { expr, patterns, .. } => {
                self.intern_all(expr);
                for x in patterns {
                    self.intern_all(x);
                }
            }
            ExprKind::Call { args, .. } => {
                for x in args {
                    self.intern_all(x);
                }
            }
        }
    }

    fn pos(&mut self, e: &Expr) -> Cond {
        match &e.kind {
            ExprKind::Binary {
                op: BinaryOp::And,
                left,
                right,
            } => Cond::And(vec![self.pos(left), self.pos(right)]),
            ExprKind::Binary {
                op: BinaryOp::Or,
                left,
                right,
            } => Cond::Or(vec![self.pos(left), self.pos(right)]),
            ExprKind::Unary {
                op: UnaryOp::Not,
                expr,
            } => self.neg(expr),
            ExprKind::Binary {
                op: BinaryOp::Ne,
                left,
                right,
            } if pushdown(e) => {
                let eq = Expr {
                    kind: ExprKind::Binary {
                        op: BinaryOp::Eq,
                        left: left.clone(),
                        right: right.clone(),
                    },
                    span: e.span,
                };
                negate(self.leaf(&eq))
            }
            ExprKind::In {
                expr,
                list,
                negated: true,
                insensitive,
            } if pushdown(e) => {
                let p = Expr {
                    kind: ExprKind::In {
                        expr: expr.clone(),
                        list: list.clone(),
                        negated: false,
                        insensitive: *insensitive,
                    },
                    span: e.span,
                };
                negate(self.leaf(&p))
            }
            _ => self.leaf(e),
        }
    }

    fn neg(&mut self, e: &Expr) -> Cond {
        match &e.kind {
            ExprKind::Binary {
                op: BinaryOp::And,
                left,
                right,
            } => Cond::Or(vec![self.neg(left), self.neg(right)]),
            ExprKind::Binary {
                op: BinaryOp::Or,
                left,
                right,
            } => Cond::And(vec![self.neg(left), self.neg(right)]),
            ExprKind::Unary {
                op: UnaryOp::Not,
                expr,
            } => self.pos(expr),
            ExprKind::Binary { op, left, right }
                if op.is_comparison() && !matches!(op, BinaryOp::Eq | BinaryOp::Ne) =>
            {
                let flipped = match op {
                    BinaryOp::Lt => BinaryOp::Ge,
                    BinaryOp::Le => BinaryOp::Gt,
                    BinaryOp::Gt => BinaryOp::Le,
                    _ => BinaryOp::Lt,
                };
                let n = Expr {
                    kind: ExprKind::Binary {
                        op: flipped,
                        left: left.clone(),
                        right: right.clone(),
                    },
                    span: e.span,
                };
                self.leaf(&n)
            }
            _ if pushdown(e) => negate(self.pos(e)),
            _ => {
                let n = Expr {
                    kind: ExprKind::Unary {
                        op: UnaryOp::Not,
                        expr: Box::new(e.clone()),
                    },
                    span: e.span,
                };
                self.leaf(&n)
            }
        }
    }

    /// A leaf with any-value semantics: a compiled test when it compares one
    /// field with literals, a generic leaf otherwise.
    fn leaf(&mut self, e: &Expr) -> Cond {
        self.test(e).map_or_else(|| self.generic(e), Cond::Test)
    }

    /// The field of a compiled test, claimed for reading its values as the
    /// mapping types them (raw without one), with its kind; `None` when `e`
    /// is not a field or the field's slot is read another way by another
    /// test of the pack (the leaf then stays generic).
    fn field_id(&mut self, e: &Expr) -> Option<(crate::FieldId, Option<&'a FieldKind>)> {
        let ExprKind::Field(f) = &e.kind else {
            return None;
        };
        let path = FieldPath::new(f.path.clone());
        let kind = self.kinds.and_then(|k| k.get(path.dotted()));
        let id = self.fields.intern(&path);
        self.fields.claim(id, kind).then_some((id, kind))
    }

    fn test(&mut self, e: &Expr) -> Option<Test> {
        match &e.kind {
            ExprKind::Binary { op, left, right } => {
                let (field, lit, flipped) = match (&left.kind, &right.kind) {
                    (ExprKind::Field(_), ExprKind::Literal(l)) => (left, l, false),
                    (ExprKind::Literal(l), ExprKind::Field(_)) => (right, l, true),
                    _ => return None,
                };
                let value = literal(lit)?;
                let (field, kind) = self.field_id(field)?;
                let value = match kind {
                    None => value,
                    Some(k) => {
                        let rel = match op {
                            BinaryOp::Eq => Rel::Eq,
                            BinaryOp::Lt => Rel::Lt,
                            BinaryOp::Le => Rel::Le,
                            BinaryOp::Gt => Rel::Gt,
                            BinaryOp::Ge => Rel::Ge,
                            _ => return None,
                        };
                        let rel = if flipped { rel.flip() } else { rel };
                        match k.operand(rel, lit).ok()? {
                            Operand::Value(v) => v,
                            Operand::Test(t) => {
                                return Some(Test {
                                    field,
                                    op: TestOp::Typed(t),
                                })
                            }
                        }
                    }
                };
                let op = match op {
                    BinaryOp::Eq => {
                        return Some(Test {
                            field,
                            op: in_op(std::slice::from_ref(&value), false),
                        })
                    }
                    BinaryOp::Lt => CmpOp::Lt,
                    BinaryOp::Le => CmpOp::Le,
                    BinaryOp::Gt => CmpOp::Gt,
                    BinaryOp::Ge => CmpOp::Ge,
                    _ => return None,
                };
                let op = if flipped {
                    match op {
                        CmpOp::Lt => CmpOp::Gt,
                        CmpOp::Le => CmpOp::Ge,
                        CmpOp::Gt => CmpOp::Lt,
                        CmpOp::Ge => CmpOp::Le,
                    }
                } else {
                    op
                };
                Some(Test {
                    field,
                    op: TestOp::Cmp { op, value },
                })
            }
            ExprKind::In {
                expr,
                list,
                negated: false,
                insensitive,
            } => {
                let mut values = Vec::with_capacity(list.len());
                let mut lits = Vec::with_capacity(list.len());
                for x in list {
                    match &x.kind {
                        ExprKind::Literal(l) => {
                            values.push(literal(l)?);
                            lits.push(l);
                        }
                        _ => return None,
                    }
                }
                let (field, kind) = self.field_id(expr)?;
                let op = match kind.map(|k| k.members(&lits)) {
                    None => in_op(&values, *insensitive),
                    Some(Ok(Members::Values(v))) => in_op(&v, *insensitive),
                    Some(Ok(Members::Test(t))) => TestOp::Typed(t),
                    Some(Err(_)) => return None,
                };
                Some(Test { field, op })
            }
            ExprKind::Match {
                expr,
                op,
                insensitive,
                patterns,
                ..
            } => {
                let mut pats = Vec::with_capacity(patterns.len());
                for p in patterns {
                    match &p.kind {
                        ExprKind::Literal(Literal::String(s)) => pats.push(s.as_str()),
                        _ => return None,
                    }
                }
                if pats.is_empty() {
                    return None;
                }
                let (field, kind) = self.field_id(expr)?;
                if kind.is_some_and(|k| !k.is_string()) {
                    return None;
                }
                let op = match op {
                    MatchOp::Colon | MatchOp::Like => {
                        let ci = *op == MatchOp::Colon || *insensitive;
                        let mut exact = Vec::new();
                        let mut globs = Vec::new();
                        for p in pats {
                            let p = if ci { fold(p) } else { p.into() };
                            let g = Glob::new(&p, true);
                            if g.is_exact() {
                                exact.push(p.into_owned());
                            } else {
                                globs.push(g);
                            }
                        }
                        TestOp::Glob {
                            exact: StrSet::new(exact.iter().map(String::as_str), false),
                            globs,
                            ci,
                        }
                    }
                    MatchOp::Regex => {
                        let mut res = Vec::new();
                        let mut sources = Vec::new();
                        for p in pats {
                            let src = regex_source(p, *insensitive, false);
                            let re = regex::RegexBuilder::new(&src)
                                .size_limit(REGEX_SIZE_LIMIT)
                                .build()
                                .ok()?;
                            res.push(re);
                            sources.push(p.to_owned());
                        }
                        TestOp::Regex {
                            res,
                            sources,
                            ci: *insensitive,
                        }
                    }
                };
                Some(Test { field, op })
            }
            _ => None,
        }
    }
}

fn in_op(values: &[Value<'static>], ci: bool) -> TestOp {
    let strs = StrSet::new(values.iter().filter_map(Value::as_str), ci);
    let others = values
        .iter()
        .filter(|v| !matches!(v, Value::Str(_)))
        .cloned()
        .collect();
    TestOp::In { strs, others, ci }
}

/// A non-null literal as a value (`null` leaves stay generic: their
/// semantics differ from a missing field's).
fn literal(l: &Literal) -> Option<Value<'static>> {
    match l {
        Literal::Null => None,
        Literal::Bool(b) => Some(Value::Bool(*b)),
        Literal::Int(i) => Some(Value::Int(*i)),
        Literal::Float(f) => Some(Value::Float(*f)),
        Literal::String(s) => Some(Value::Str(s.clone().into())),
    }
}

fn negate(c: Cond) -> Cond {
    match c {
        Cond::Const(b) => Cond::Const(!b),
        c => Cond::Not(Box::new(c)),
    }
}

/// Leaves that ES translates to Lucene queries (negation is `must_not`).
/// Must stay identical to the reference interpreter's rule.
pub fn pushdown(e: &Expr) -> bool {
    let is_field = |x: &Expr| matches!(x.kind, ExprKind::Field(_));
    let is_lit = |x: &Expr| matches!(x.kind, ExprKind::Literal(_));
    match &e.kind {
        ExprKind::Binary {
            op: BinaryOp::Eq | BinaryOp::Ne,
            left,
            right,
        } => (is_field(left) && is_lit(right)) || (is_lit(left) && is_field(right)),
        ExprKind::In { expr, list, .. } => is_field(expr) && list.iter().all(is_lit),
        ExprKind::Match { expr, .. } => is_field(expr),
        ExprKind::Call { name, args, .. } => {
            let n = name.to_ascii_lowercase();
            matches!(
                n.as_str(),
                "startswith" | "endswith" | "stringcontains" | "cidrmatch"
            ) && args.first().is_some_and(is_field)
                && args.iter().skip(1).all(is_lit)
        }
        _ => false,
    }
}

/// True when `leaf` holds for some field, literal or lineage node of `e`.
fn any_leaf(e: &Expr, leaf: &dyn Fn(&ExprKind) -> bool) -> bool {
    match &e.kind {
        ExprKind::Field(_) | ExprKind::Literal(_) | ExprKind::Lineage { .. } => leaf(&e.kind),
        ExprKind::Unary { expr, .. } => any_leaf(expr, leaf),
        ExprKind::Binary { left, right, .. } => any_leaf(left, leaf) || any_leaf(right, leaf),
        ExprKind::In { expr, list, .. } => {
            any_leaf(expr, leaf) || list.iter().any(|x| any_leaf(x, leaf))
        }
        ExprKind::Match { expr, patterns, .. } => {
            any_leaf(expr, leaf) || patterns.iter().any(|x| any_leaf(x, leaf))
        }
        ExprKind::Call { args, .. } => args.iter().any(|x| any_leaf(x, leaf)),
    }
}

/// True when `e` has a process-lineage node (`descendant of`...).
fn has_lineage(e: &Expr) -> bool {
    any_leaf(e, &|k| matches!(k, ExprKind::Lineage { .. }))
}

/// True when the expression reads a field or process lineage (so it is not
/// a compile-time constant).
fn reads_state(e: &Expr) -> bool {
    any_leaf(e, &|k| {
        matches!(k, ExprKind::Field(_) | ExprKind::Lineage { .. })
    })
}

/// A named optimizer pass: rewrites a condition in place and reports whether
/// it changed anything.
pub struct Pass {
    /// The pass name, as EXPLAIN prints it.
    pub name: &'static str,
    /// The rewrite.
    pub run: fn(&mut Cond) -> bool,
}

/// The passes, in order: constant folding with boolean simplification, then
/// normalization (nested `and`/`or` flattened, equality tests on one field
/// under an `or` merged into one set).
pub const PASSES: &[Pass] = &[
    Pass {
        name: "fold-constants",
        run: fold_constants,
    },
    Pass {
        name: "normalize",
        run: normalize,
    },
];

/// Runs every pass until none changes anything (bounded), and returns the
/// names of those that did.
pub fn run_passes(c: &mut Cond) -> Vec<&'static str> {
    let mut fired = Vec::new();
    for _ in 0..4 {
        let mut any = false;
        for p in PASSES {
            if (p.run)(c) {
                any = true;
                if !fired.contains(&p.name) {
                    fired.push(p.name);
                }
            }
        }
        if !any {
            break;
        }
    }
    fired
}

/// Constant folding and boolean simplification: `true and x` → `x`,
/// `false and x` → `false`, `not const` → const, one-child `and`/`or`
/// collapsed.
pub fn fold_constants(c: &mut Cond) -> bool {
    let mut changed = false;
    match c {
        Cond::And(_) | Cond::Or(_) => {
            let is_and = matches!(c, Cond::And(_));
            let (Cond::And(cs) | Cond::Or(cs)) = c else {
                return false;
            };
            for x in cs.iter_mut() {
                changed |= fold_constants(x);
            }
            let absorbing = !is_and;
            if cs
                .iter()
                .any(|x| matches!(x, Cond::Const(b) if *b == absorbing))
            {
                *c = Cond::Const(absorbing);
                return true;
            }
            let before = cs.len();
            cs.retain(|x| !matches!(x, Cond::Const(_)));
            changed |= cs.len() != before;
            if cs.is_empty() {
                *c = Cond::Const(is_and);
                return true;
            }
            if cs.len() == 1 {
                let one = cs.pop().unwrap_or(Cond::Const(is_and));
                *c = one;
                return true;
            }
        }
        Cond::Not(inner) => {
            changed |= fold_constants(inner);
            if let Cond::Const(b) = **inner {
                *c = Cond::Const(!b);
                return true;
            }
        }
        Cond::Witnessed(_, inner) => {
            changed |= fold_constants(inner);
            if let Cond::Const(b) = **inner {
                *c = Cond::Const(b);
                return true;
            }
        }
        Cond::Const(_) | Cond::Test(_) | Cond::Generic(_) => {}
    }
    changed
}

/// Normalization: flattens nested `and`/`or`, and merges the case-sensitive
/// (or the case-insensitive) equality tests on one field under one `or` into
/// a single set test (`x == "a" or x == "b"` → `x in ("a", "b")`).
pub fn normalize(c: &mut Cond) -> bool {
    let mut changed = false;
    match c {
        Cond::And(cs) | Cond::Or(cs) => {
            for x in cs.iter_mut() {
                changed |= normalize(x);
            }
        }
        Cond::Not(inner) | Cond::Witnessed(_, inner) => changed |= normalize(inner),
        _ => {}
    }
    let is_and = matches!(c, Cond::And(_));
    if let Cond::And(cs) | Cond::Or(cs) = c {
        if cs
            .iter()
            .any(|x| matches!((x, is_and), (Cond::And(_), true) | (Cond::Or(_), false)))
        {
            let old = std::mem::take(cs);
            for x in old {
                match (x, is_and) {
                    (Cond::And(inner), true) | (Cond::Or(inner), false) => cs.extend(inner),
                    (x, _) => cs.push(x),
                }
            }
            changed = true;
        }
    }
    if let Cond::Or(cs) = c {
        // Merge `In` tests on the same (field, case mode).
        let mut i = 0;
        while i < cs.len() {
            let key = match &cs[i] {
                Cond::Test(Test {
                    field,
                    op: TestOp::In { ci, .. },
                }) => Some((*field, *ci)),
                _ => None,
            };
            if let Some((f, ci)) = key {
                let mut j = i + 1;
                while j < cs.len() {
                    let same = matches!(&cs[j], Cond::Test(Test { field, op: TestOp::In { ci: c2, .. } }) if *field == f && *c2 == ci);
                    if same {
                        let other = cs.remove(j);
                        if let (
                            Cond::Test(Test {
                                op:
                                    TestOp::In {
                                        strs: s2,
                                        others: o2,
                                        ..
                                    },
                                ..
                            }),
                            Cond::Test(Test {
                                op: TestOp::In { strs, others, .. },
                                ..
                            }),
                        ) = (other, &mut cs[i])
                        {
                            // Members are already folded when `ci`.
                            let merged: Vec<&str> =
                                strs.members().into_iter().chain(s2.members()).collect();
                            *strs = StrSet::new(merged, false);
                            others.extend(o2);
                        }
                        changed = true;
                    } else {
                        j += 1;
                    }
                }
            }
            i += 1;
        }
        if cs.len() == 1 {
            if let Some(one) = cs.pop() {
                *c = one;
            }
            changed = true;
        }
    }
    changed
}
