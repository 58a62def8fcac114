//! Which leaves Elasticsearch translates to Lucene queries, and so negates
//! as a `must_not` (the negation of the leaf's any-value test) rather than
//! value by value. One set of rules, shared by the lowering and the reference
//! interpreter, so that the two cannot drift.

use eql_syntax::{BinaryOp, Expr, ExprKind, FieldRef, Literal};

/// The positive leaf of a `!=` or `not in` leaf that ES translates to a
/// Lucene query ([`pushdown`]): `a != 1` is the `must_not` of `a == 1`,
/// `a not in (1, 2)` of `a in (1, 2)`; `None` for every other expression.
/// Shared with the reference interpreter, like [`pushdown`].
///
/// ```
/// use eql_syntax::{parse_expr, ParseOptions};
/// let opts = ParseOptions::default();
/// let e = parse_expr("a not in~ (\"x\", \"y\")", &opts).unwrap();
/// assert_eq!(eql_plan::must_not_leaf(&e).unwrap().to_string(), "a in~ (\"x\", \"y\")");
/// assert!(eql_plan::must_not_leaf(&parse_expr("length(a) != 1", &opts).unwrap()).is_none());
/// ```
pub fn must_not_leaf(e: &Expr) -> Option<Expr> {
    if !pushdown(e) {
        return None;
    }
    let kind = match &e.kind {
        ExprKind::Binary {
            op: BinaryOp::Ne,
            left,
            right,
        } => ExprKind::Binary {
            op: BinaryOp::Eq,
            left: left.clone(),
            right: right.clone(),
        },
        ExprKind::In {
            expr,
            list,
            negated: true,
            insensitive,
        } => ExprKind::In {
            expr: expr.clone(),
            list: list.clone(),
            negated: false,
            insensitive: *insensitive,
        },
        _ => return None,
    };
    Some(Expr { kind, span: e.span })
}

/// How ES translates `not` over an order comparison: `a < b` becomes
/// `a >= b`, `a <= b` becomes `a > b`, and so on (a range query's
/// complement); `None` for every other expression. Shared with the
/// reference interpreter, like [`pushdown`].
///
/// ```
/// use eql_syntax::{parse_expr, ParseOptions};
/// let e = parse_expr("a < 3", &ParseOptions::default()).unwrap();
/// assert_eq!(eql_plan::complement_order(&e).unwrap().to_string(), "a >= 3");
/// assert!(eql_plan::complement_order(&parse_expr("a == 3", &ParseOptions::default()).unwrap()).is_none());
/// ```
pub fn complement_order(e: &Expr) -> Option<Expr> {
    let ExprKind::Binary { op, left, right } = &e.kind else {
        return None;
    };
    let flipped = match op {
        BinaryOp::Lt => BinaryOp::Ge,
        BinaryOp::Le => BinaryOp::Gt,
        BinaryOp::Gt => BinaryOp::Le,
        BinaryOp::Ge => BinaryOp::Lt,
        _ => return None,
    };
    Some(Expr {
        kind: ExprKind::Binary {
            op: flipped,
            left: left.clone(),
            right: right.clone(),
        },
        span: e.span,
    })
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

/// `field == null` or `field != null` (the literal on either side), which
/// ES rewrites to `IsNull`/`IsNotNull` (an `exists` query): the field, and
/// `true` for `==`. Shared with the reference interpreter.
///
/// ```
/// use eql_syntax::{parse_expr, ParseOptions};
/// let opts = ParseOptions::default();
/// let e = parse_expr("null != a.b", &opts).unwrap();
/// let (f, eq) = eql_plan::null_check(&e).unwrap();
/// assert_eq!((f.dotted().as_str(), eq), ("a.b", false));
/// assert!(eql_plan::null_check(&parse_expr("a == 1", &opts).unwrap()).is_none());
/// ```
pub fn null_check(e: &Expr) -> Option<(&FieldRef, bool)> {
    let ExprKind::Binary { op, left, right } = &e.kind else {
        return None;
    };
    let eq = match op {
        BinaryOp::Eq => true,
        BinaryOp::Ne => false,
        _ => return None,
    };
    match (&left.kind, &right.kind) {
        (ExprKind::Field(f), ExprKind::Literal(Literal::Null))
        | (ExprKind::Literal(Literal::Null), ExprKind::Field(f)) => Some((f, eq)),
        _ => None,
    }
}
