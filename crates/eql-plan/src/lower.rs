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
use crate::must_not::{complement_order, must_not_leaf, null_check, pushdown};
use crate::passes::run_passes;
use crate::regexes::RegexCache;
use crate::{FieldPath, Value};
use eql_syntax::{BinaryOp, Dialect, Expr, ExprKind, Literal, MatchOp, UnaryOp};

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
    /// The query's regexes (those the checks compiled, and the size limit
    /// the others are built with).
    pub regexes: &'a RegexCache,
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
            if e.has_lineage() {
                // The session answers lineage by the node's address: the
                // condition stays one leaf.
                self.generic(e)
            } else {
                self.py(e)
            }
        } else {
            self.signed(e, true)
        };
        let mut c = c;
        run_passes(&mut c);
        c
    }

    fn generic(&mut self, e: &Expr) -> Cond {
        if !e.reads_event() {
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
                op: op @ (BinaryOp::And | BinaryOp::Or),
                left,
                right,
            } => junction(*op == BinaryOp::And, vec![self.py(left), self.py(right)]),
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
        e.walk(&mut |x| {
            if let ExprKind::Field(f) = &x.kind {
                self.fields.intern(&FieldPath::new(f.path.clone()));
            }
            true
        });
    }

    /// `e` (with `positive`) or `not e` pushed down to the leaves as ES does:
    /// `and`/`or` swap under `not` (De Morgan), a double `not` cancels, an
    /// order comparison flips, and a leaf ES translates to a Lucene query
    /// becomes the `must_not` of its positive form.
    fn signed(&mut self, e: &Expr, positive: bool) -> Cond {
        let rewritten = if positive {
            must_not_leaf(e).map(|p| negate(self.leaf(&p)))
        } else {
            complement_order(e).map(|n| self.leaf(&n))
        };
        if let Some(c) = rewritten {
            return c;
        }
        match &e.kind {
            ExprKind::Binary {
                op: op @ (BinaryOp::And | BinaryOp::Or),
                left,
                right,
            } => {
                let sides = vec![self.signed(left, positive), self.signed(right, positive)];
                junction((*op == BinaryOp::And) == positive, sides)
            }
            ExprKind::Unary {
                op: UnaryOp::Not,
                expr,
            } => self.signed(expr, !positive),
            _ if positive => self.leaf(e),
            _ if pushdown(e) => negate(self.signed(e, true)),
            _ => self.leaf(&e.negated()),
        }
    }

    /// A leaf with any-value semantics: a compiled test when it compares one
    /// field with literals, a generic leaf otherwise.
    fn leaf(&mut self, e: &Expr) -> Cond {
        if let Some(c) = self.null_leaf(e) {
            return c;
        }
        self.test(e).map_or_else(|| self.generic(e), Cond::Test)
    }

    /// `field == null` or `field != null` (the literal on either side) with
    /// no mapping (a mapping normalizes the value first: such a leaf stays
    /// generic).
    fn null_leaf(&mut self, e: &Expr) -> Option<Cond> {
        let (f, eq) = null_check(e)?;
        if self.kinds.is_some() {
            return None;
        }
        let field = self.fields.intern(&FieldPath::new(f.path.clone()));
        Some(Cond::Null { field, eq })
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

    /// The compiled test of a leaf that compares one field with literals;
    /// `None` for every other leaf.
    fn test(&mut self, e: &Expr) -> Option<Test> {
        match &e.kind {
            ExprKind::Binary { op, left, right } => self.compare_test(*op, left, right),
            ExprKind::In {
                expr,
                list,
                negated: false,
                insensitive,
            } => self.in_test(expr, list, *insensitive),
            ExprKind::Match {
                expr,
                op,
                insensitive,
                patterns,
                ..
            } => self.match_test(expr, *op, *insensitive, patterns),
            ExprKind::Call {
                name,
                insensitive,
                args,
            } => self.call_test(name, *insensitive, args),
            _ => None,
        }
    }

    /// `stringContains(f, "s")`, `startsWith(f, "s")` and `endsWith(f, "s")`
    /// (`~` folds both sides) with no mapping, as the wildcard test
    /// `f : "*s*"`, `"s*"` or `"*s"` of that case mode: the function is
    /// false for a value that is not a string, and so is the test. Only a
    /// literal with no `*` (the test's one wildcard here: `?` stays literal)
    /// and not empty (`stringContains` is false then, `startsWith` true).
    ///
    /// `cidrMatch(f, "net", ...)` with string literals and no mapping, as
    /// [`TestOp::Cidr`]: the function is null (false as a leaf) for a value
    /// that is not a string or not an address, and the test false.
    fn call_test(&mut self, name: &str, insensitive: bool, args: &[Expr]) -> Option<Test> {
        if name.eq_ignore_ascii_case("cidrmatch") {
            return self.cidr_test(args);
        }
        let [f, lit] = args else { return None };
        let ExprKind::Literal(Literal::String(s)) = &lit.kind else {
            return None;
        };
        if s.is_empty() || s.contains('*') || self.kinds.is_some() {
            return None;
        }
        let (before, after) = match name.to_ascii_lowercase().as_str() {
            "stringcontains" => ("*", "*"),
            "startswith" => ("", "*"),
            "endswith" => ("*", ""),
            _ => return None,
        };
        let (field, _) = self.field_id(f)?;
        let s = if insensitive { fold(s) } else { s.into() };
        Some(Test {
            field,
            op: TestOp::Glob {
                exact: StrSet::default(),
                globs: vec![Glob::new(&format!("{before}{s}{after}"), false)],
                ci: insensitive,
            },
        })
    }

    /// The test of `cidrMatch(args)` ([`Lowering::call_test`]).
    fn cidr_test(&mut self, args: &[Expr]) -> Option<Test> {
        let (f, nets) = args.split_first()?;
        if self.kinds.is_some() || nets.is_empty() {
            return None;
        }
        let sources = nets
            .iter()
            .map(|n| match &n.kind {
                ExprKind::Literal(Literal::String(s)) => Some(s.clone()),
                _ => None,
            })
            .collect::<Option<Vec<String>>>()?;
        let (field, _) = self.field_id(f)?;
        Some(Test {
            field,
            op: TestOp::Cidr {
                nets: sources
                    .iter()
                    .filter_map(|s| crate::Cidr::parse(s))
                    .collect(),
                sources,
            },
        })
    }

    /// `f == lit`, `f < lit`, ... (either way round): an `in` of one value,
    /// an order comparison, or the mapped type's own test.
    fn compare_test(&mut self, op: BinaryOp, left: &Expr, right: &Expr) -> Option<Test> {
        let (field, lit, flipped) = match (&left.kind, &right.kind) {
            (ExprKind::Field(_), ExprKind::Literal(l)) => (left, l, false),
            (ExprKind::Literal(l), ExprKind::Field(_)) => (right, l, true),
            _ => return None,
        };
        // `null` leaves stay generic: their semantics differ from a
        // missing field's.
        let value = Value::from_literal(lit)?;
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

    /// `f in (lits...)`: a set test, or the mapped type's own test.
    fn in_test(&mut self, expr: &Expr, list: &[Expr], insensitive: bool) -> Option<Test> {
        let mut values = Vec::with_capacity(list.len());
        let mut lits = Vec::with_capacity(list.len());
        for x in list {
            match &x.kind {
                ExprKind::Literal(l) => {
                    values.push(Value::from_literal(l)?);
                    lits.push(l);
                }
                _ => return None,
            }
        }
        let (field, kind) = self.field_id(expr)?;
        let op = match kind.map(|k| k.members(&lits)) {
            None => in_op(&values, insensitive),
            Some(Ok(Members::Values(v))) => in_op(&v, insensitive),
            Some(Ok(Members::Test(t))) => TestOp::Typed(t),
            Some(Err(_)) => return None,
        };
        Some(Test { field, op })
    }

    /// `f : p`, `f like~ (...)`, `f regex p` with string patterns: a glob
    /// set (exact strings apart) or the compiled regexes.
    fn match_test(
        &mut self,
        expr: &Expr,
        op: MatchOp,
        insensitive: bool,
        patterns: &[Expr],
    ) -> Option<Test> {
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
                let ci = op == MatchOp::Colon || insensitive;
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
                    res.push(self.regexes.search_form(p, insensitive)?);
                    sources.push(p.to_owned());
                }
                TestOp::Regex {
                    res,
                    sources,
                    ci: insensitive,
                }
            }
        };
        Some(Test { field, op })
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

/// `and` (when `and`) or `or` of `sides`.
fn junction(and: bool, sides: Vec<Cond>) -> Cond {
    if and {
        Cond::And(sides)
    } else {
        Cond::Or(sides)
    }
}

fn negate(c: Cond) -> Cond {
    match c {
        Cond::Const(b) => Cond::Const(!b),
        c => Cond::Not(Box::new(c)),
    }
}
