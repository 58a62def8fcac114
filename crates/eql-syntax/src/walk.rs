//! Walking the tree: the children of every expression form, and the
//! expressions and event queries of a whole query. Every inspection of the
//! tree (which fields it reads, whether it uses lineage, the checks) and
//! every rewrite of it in place (binding to a mapping, span erasure) goes
//! through these, so that a new expression form is taught here once.

use crate::{EventQuery, Expr, ExprKind, FieldRef, Query, QueryBody, SequenceStep, Span};
use std::convert::Infallible;

impl Expr {
    /// The direct children of this expression, in source order: the operand
    /// of a unary operator; both sides of a binary one; the tested value then
    /// the members or patterns of `in` and the match operators; the arguments
    /// of a call; the condition of a lineage relation's query.
    ///
    /// ```
    /// use eql_syntax::{parse_expr, ParseOptions};
    /// let e = parse_expr("f(a, 1) : \"x*\"", &ParseOptions::default()).unwrap();
    /// let shown: Vec<String> = e.children().map(ToString::to_string).collect();
    /// assert_eq!(shown, ["f(a, 1)", "\"x*\""]);
    /// ```
    pub fn children(&self) -> impl Iterator<Item = &Expr> {
        let (first, second, rest): (Option<&Expr>, Option<&Expr>, &[Expr]) = match &self.kind {
            ExprKind::Literal(_) | ExprKind::Field(_) => (None, None, &[]),
            ExprKind::Unary { expr, .. } => (Some(expr), None, &[]),
            ExprKind::Binary { left, right, .. } => (Some(left), Some(right), &[]),
            ExprKind::In { expr, list, .. } => (Some(expr), None, list),
            ExprKind::Match { expr, patterns, .. } => (Some(expr), None, patterns),
            ExprKind::Call { args, .. } => (None, None, args),
            ExprKind::Lineage { query, .. } => (Some(&query.condition), None, &[]),
        };
        first.into_iter().chain(second).chain(rest)
    }

    /// The direct children of this expression, mutably, in the order of
    /// [`children`](Expr::children).
    ///
    /// ```
    /// use eql_syntax::{parse_expr, Literal, ExprKind, ParseOptions};
    /// let mut e = parse_expr("f(1, 2)", &ParseOptions::default()).unwrap();
    /// for c in e.children_mut() {
    ///     c.kind = ExprKind::Literal(Literal::Null);
    /// }
    /// assert_eq!(e.to_string(), "f(null, null)");
    /// ```
    pub fn children_mut(&mut self) -> impl Iterator<Item = &mut Expr> {
        let (first, second, rest): (Option<&mut Expr>, Option<&mut Expr>, &mut [Expr]) =
            match &mut self.kind {
                ExprKind::Literal(_) | ExprKind::Field(_) => (None, None, &mut []),
                ExprKind::Unary { expr, .. } => (Some(expr), None, &mut []),
                ExprKind::Binary { left, right, .. } => (Some(left), Some(right), &mut []),
                ExprKind::In { expr, list, .. } => (Some(expr), None, list),
                ExprKind::Match { expr, patterns, .. } => (Some(expr), None, patterns),
                ExprKind::Call { args, .. } => (None, None, args),
                ExprKind::Lineage { query, .. } => (Some(&mut query.condition), None, &mut []),
            };
        first.into_iter().chain(second).chain(rest)
    }

    /// Visits this expression and its descendants in pre-order (a node
    /// before its [`children`](Expr::children)); when `visit` returns false
    /// the node's children are skipped.
    ///
    /// ```
    /// use eql_syntax::{parse_expr, ExprKind, ParseOptions};
    /// let e = parse_expr("length(a) > 1 and b", &ParseOptions::default()).unwrap();
    /// let mut fields = 0;
    /// e.walk(&mut |x| {
    ///     fields += usize::from(matches!(x.kind, ExprKind::Field(_)));
    ///     true
    /// });
    /// assert_eq!(fields, 2);
    /// ```
    pub fn walk<'a>(&'a self, visit: &mut impl FnMut(&'a Expr) -> bool) {
        if visit(self) {
            for c in self.children() {
                c.walk(visit);
            }
        }
    }

    /// Rewrites the tree in place, in pre-order: `visit` may change or
    /// replace a node, then the walk goes on into the children the node has
    /// after the change; when `visit` returns false they are skipped. The
    /// rewriting form of [`walk`](Expr::walk), for a change that reads each
    /// node as written before its children are rewritten.
    ///
    /// ```
    /// use eql_syntax::{parse_expr, ExprKind, Literal, ParseOptions};
    /// let mut e = parse_expr("a == 1 and length(b) > 2", &ParseOptions::default()).unwrap();
    /// e.walk_mut(&mut |x| match &x.kind {
    ///     ExprKind::Call { .. } => {
    ///         x.kind = ExprKind::Literal(Literal::Int(0));
    ///         false
    ///     }
    ///     _ => true,
    /// });
    /// assert_eq!(e.to_string(), "a == 1 and 0 > 2");
    /// ```
    pub fn walk_mut(&mut self, visit: &mut impl FnMut(&mut Expr) -> bool) {
        let Ok(()) = self.try_walk_mut(&mut |x| Ok::<_, Infallible>(visit(x)));
    }

    /// [`walk_mut`](Expr::walk_mut) with a `visit` that can fail: the walk
    /// stops at the first error and returns it, leaving the nodes after it
    /// as they were.
    ///
    /// ```
    /// use eql_syntax::{parse_expr, ExprKind, ParseOptions};
    /// let mut e = parse_expr("a + (b * 2)", &ParseOptions::default()).unwrap();
    /// let mut seen = Vec::new();
    /// let r = e.try_walk_mut(&mut |x| match &x.kind {
    ///     ExprKind::Field(f) if f.dotted() == "b" => Err(x.span),
    ///     ExprKind::Field(f) => {
    ///         seen.push(f.dotted());
    ///         Ok(true)
    ///     }
    ///     _ => Ok(true),
    /// });
    /// assert_eq!((r.map_err(|s| s.start), seen), (Err(5), vec!["a".to_owned()]));
    /// ```
    pub fn try_walk_mut<E>(
        &mut self,
        visit: &mut impl FnMut(&mut Expr) -> Result<bool, E>,
    ) -> Result<(), E> {
        if visit(self)? {
            for c in self.children_mut() {
                c.try_walk_mut(visit)?;
            }
        }
        Ok(())
    }

    /// True when `pred` holds for this expression or one of its descendants.
    ///
    /// ```
    /// use eql_syntax::{parse_expr, ExprKind, ParseOptions};
    /// let e = parse_expr("a == 1 or f(\"b\")", &ParseOptions::default()).unwrap();
    /// assert!(e.any(&mut |x| matches!(&x.kind, ExprKind::Call { .. })));
    /// assert!(!e.any(&mut |x| matches!(&x.kind, ExprKind::In { .. })));
    /// ```
    pub fn any(&self, pred: &mut impl FnMut(&Expr) -> bool) -> bool {
        let mut found = false;
        self.walk(&mut |x| {
            found = found || pred(x);
            !found
        });
        found
    }

    /// True when the expression reads the event (a field or a lineage test
    /// somewhere in it), false for a constant.
    ///
    /// ```
    /// use eql_syntax::{parse_expr, ParseOptions};
    /// let opts = ParseOptions::default();
    /// assert!(parse_expr("length(process.name) + 1", &opts).unwrap().reads_event());
    /// assert!(!parse_expr("concat(\"a\", 1 + 2)", &opts).unwrap().reads_event());
    /// ```
    pub fn reads_event(&self) -> bool {
        self.any(&mut |x| matches!(x.kind, ExprKind::Field(_) | ExprKind::Lineage { .. }))
    }

    /// True when the expression reads the event other than through optional
    /// `?fields` (a required field or a lineage test somewhere in it).
    ///
    /// ```
    /// use eql_syntax::{parse_expr, ParseOptions};
    /// let opts = ParseOptions::default();
    /// assert!(!parse_expr("length(?x) + 1", &opts).unwrap().reads_required());
    /// assert!(parse_expr("concat(?x, y)", &opts).unwrap().reads_required());
    /// ```
    pub fn reads_required(&self) -> bool {
        self.any(&mut |x| match &x.kind {
            ExprKind::Field(f) => !f.optional,
            ExprKind::Lineage { .. } => true,
            _ => false,
        })
    }

    /// The span of the first comparison (`==`, `<`, ...) both sides of which
    /// read the event: Elasticsearch compares what an event holds only with
    /// a constant (EQL0016). The parser reports those at once, except where
    /// one side reads only optional `?fields`, which a mapping can turn into
    /// `null`: this finds them once the fields are bound. A lineage
    /// relation's query is left out.
    ///
    /// ```
    /// use eql_syntax::{parse_expr, ParseOptions};
    /// let opts = ParseOptions::default();
    /// assert!(parse_expr("?x == ?y", &opts).unwrap().field_comparison().is_some());
    /// assert!(parse_expr("?x == null", &opts).unwrap().field_comparison().is_none());
    /// ```
    pub fn field_comparison(&self) -> Option<Span> {
        let mut found = None;
        self.walk(&mut |x| {
            if found.is_some() {
                return false;
            }
            match &x.kind {
                ExprKind::Lineage { .. } => false,
                ExprKind::Binary { op, left, right }
                    if op.is_comparison() && left.reads_event() && right.reads_event() =>
                {
                    found = Some(x.span);
                    false
                }
                _ => true,
            }
        });
        found
    }

    /// True when the expression has a process-lineage relation (Python
    /// `descendant of`, `child of`, `event of`).
    ///
    /// ```
    /// use eql_syntax::{parse_expr, ParseOptions};
    /// let opts = ParseOptions::python();
    /// assert!(parse_expr("a == 1 and child of [process where true]", &opts).unwrap().has_lineage());
    /// assert!(!parse_expr("a == 1", &opts).unwrap().has_lineage());
    /// ```
    pub fn has_lineage(&self) -> bool {
        self.any(&mut |x| matches!(x.kind, ExprKind::Lineage { .. }))
    }

    /// The fields the expression reads from the event it is evaluated
    /// against, in pre-order, repeats included. The fields of a lineage
    /// relation's query are left out: that query is evaluated against other
    /// events.
    ///
    /// ```
    /// use eql_syntax::{parse_expr, ParseOptions};
    /// let e = parse_expr("a + length(b.c) > 1 and a", &ParseOptions::default()).unwrap();
    /// let names: Vec<String> = e.fields().iter().map(|f| f.dotted()).collect();
    /// assert_eq!(names, ["a", "b.c", "a"]);
    /// ```
    pub fn fields(&self) -> Vec<&FieldRef> {
        let mut out = Vec::new();
        self.walk(&mut |x| match &x.kind {
            ExprKind::Field(f) => {
                out.push(f);
                false
            }
            ExprKind::Lineage { .. } => false,
            _ => true,
        });
        out
    }
}

impl QueryBody {
    /// The bracketed steps of a sequence, sample or join, then its `until`
    /// step; none for an event query.
    ///
    /// ```
    /// use eql_syntax::{parse_query, ParseOptions};
    /// let q = parse_query("sequence [a where x] [b where y] until [c where z]", &ParseOptions::default()).unwrap();
    /// assert_eq!(q.body.steps().count(), 3);
    /// ```
    pub fn steps(&self) -> impl Iterator<Item = &SequenceStep> {
        let (steps, until): (&[SequenceStep], Option<&SequenceStep>) = match self {
            QueryBody::Event(_) => (&[], None),
            QueryBody::Sequence(s) => (&s.steps, s.until.as_ref()),
            QueryBody::Sample(s) => (&s.steps, None),
            QueryBody::Join(j) => (&j.steps, j.until.as_ref()),
        };
        steps.iter().chain(until)
    }

    /// [`steps`](QueryBody::steps), mutably.
    ///
    /// ```
    /// use eql_syntax::{parse_query, ParseOptions};
    /// let mut q = parse_query("sample [a where x] [b where y]", &ParseOptions::default()).unwrap();
    /// q.body.steps_mut().for_each(|st| st.query.category.name = None);
    /// assert_eq!(q.to_string(), "sample [any where x] [any where y]");
    /// ```
    pub fn steps_mut(&mut self) -> impl Iterator<Item = &mut SequenceStep> {
        let (steps, until): (&mut [SequenceStep], Option<&mut SequenceStep>) = match self {
            QueryBody::Event(_) => (&mut [], None),
            QueryBody::Sequence(s) => (&mut s.steps, s.until.as_mut()),
            QueryBody::Sample(s) => (&mut s.steps, None),
            QueryBody::Join(j) => (&mut j.steps, j.until.as_mut()),
        };
        steps.iter_mut().chain(until)
    }

    /// The event queries the body selects events with: the event query
    /// itself, or the query of every step then of `until`.
    ///
    /// ```
    /// use eql_syntax::{parse_query, ParseOptions};
    /// let opts = ParseOptions::default();
    /// let q = parse_query("sequence [a where x] until [c where z]", &opts).unwrap();
    /// let cats: Vec<_> = q.body.step_queries().map(|e| e.category.name.as_deref()).collect();
    /// assert_eq!(cats, [Some("a"), Some("c")]);
    /// assert_eq!(parse_query("any where x", &opts).unwrap().body.step_queries().count(), 1);
    /// ```
    pub fn step_queries(&self) -> impl Iterator<Item = &EventQuery> {
        let single = match self {
            QueryBody::Event(q) => Some(q),
            _ => None,
        };
        single.into_iter().chain(self.steps().map(|st| &st.query))
    }

    /// The body-level `by` keys (none for an event query).
    pub fn keys(&self) -> &[Expr] {
        match self {
            QueryBody::Event(_) => &[],
            QueryBody::Sequence(s) => &s.by,
            QueryBody::Sample(s) => &s.by,
            QueryBody::Join(j) => &j.by,
        }
    }

    /// [`keys`](QueryBody::keys), mutably.
    pub fn keys_mut(&mut self) -> &mut [Expr] {
        match self {
            QueryBody::Event(_) => &mut [],
            QueryBody::Sequence(s) => &mut s.by,
            QueryBody::Sample(s) => &mut s.by,
            QueryBody::Join(j) => &mut j.by,
        }
    }
}

impl Query {
    /// The top-level expressions of the query, in source order: the
    /// body-level keys, then each step's condition and keys (or the event
    /// query's condition), then the arguments of the pipes.
    ///
    /// ```
    /// use eql_syntax::{parse_query, ParseOptions};
    /// let q = parse_query("sample by h [a where x > 1] by u | head 3", &ParseOptions::default()).unwrap();
    /// let shown: Vec<String> = q.expressions().map(ToString::to_string).collect();
    /// assert_eq!(shown, ["h", "x > 1", "u", "3"]);
    /// ```
    pub fn expressions(&self) -> impl Iterator<Item = &Expr> {
        let single = match &self.body {
            QueryBody::Event(q) => Some(&q.condition),
            _ => None,
        };
        let steps = self
            .body
            .steps()
            .flat_map(|st| std::iter::once(&st.query.condition).chain(&st.by));
        self.body
            .keys()
            .iter()
            .chain(single)
            .chain(steps)
            .chain(self.pipes.iter().flat_map(|p| &p.args))
    }

    /// [`Expr::walk`] over every expression of the query
    /// ([`Query::expressions`] and their descendants).
    ///
    /// ```
    /// use eql_syntax::{parse_query, ExprKind, ParseOptions};
    /// let q = parse_query("sequence by h [a where x] [b where f(y)]", &ParseOptions::default()).unwrap();
    /// let mut fields = Vec::new();
    /// q.walk(&mut |e| {
    ///     if let ExprKind::Field(f) = &e.kind {
    ///         fields.push(f.dotted());
    ///     }
    ///     true
    /// });
    /// assert_eq!(fields, ["h", "x", "y"]);
    /// ```
    pub fn walk<'a>(&'a self, visit: &mut impl FnMut(&'a Expr) -> bool) {
        for e in self.expressions() {
            e.walk(visit);
        }
    }
}
