//! Display: AST → canonical EQL, and span erasure for tree comparison.

use crate::keyword::KEYWORDS;
use crate::{
    Category, EventQuery, Expr, ExprKind, FieldRef, Join, Literal, MatchOp, PathSegment, Pipe,
    Query, QueryBody, Sample, Sequence, SequenceStep, Span, TimeSpan, UnaryOp,
};
use std::fmt::{self, Write as _};

fn is_plain_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '@')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '@')
        && !KEYWORDS.contains(&s)
}

/// Writes a string literal, double-quoted with escapes.
fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() => write!(f, "\\u{{{:02x}}}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Float(x) => write!(f, "{x:?}"),
            Literal::String(s) => write_string(f, s),
        }
    }
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.optional {
            f.write_char('?')?;
        }
        for (i, seg) in self.path.iter().enumerate() {
            match seg {
                PathSegment::Key(k) => {
                    if i > 0 {
                        f.write_char('.')?;
                    }
                    if is_plain_ident(k) {
                        f.write_str(k)?;
                    } else {
                        write!(f, "`{}`", k.replace('`', "``"))?;
                    }
                }
                PathSegment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// Precedence of an expression node (higher binds tighter).
fn prec(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Binary { op, .. } => match op {
            crate::BinaryOp::Or => 1,
            crate::BinaryOp::And => 2,
            o if o.is_comparison() => 4,
            crate::BinaryOp::Add | crate::BinaryOp::Sub => 5,
            _ => 6,
        },
        ExprKind::Unary {
            op: UnaryOp::Not, ..
        } => 3,
        ExprKind::In { .. } | ExprKind::Match { .. } => 4,
        ExprKind::Unary { .. } => 7,
        _ => 8,
    }
}

/// Writes `e`, parenthesized when its precedence is below `min`.
fn write_expr(f: &mut fmt::Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
    if prec(e) < min {
        f.write_char('(')?;
        write_expr(f, e, 0)?;
        return f.write_char(')');
    }
    match &e.kind {
        ExprKind::Literal(l) => write!(f, "{l}"),
        ExprKind::Field(r) => write!(f, "{r}"),
        ExprKind::Unary {
            op: UnaryOp::Not,
            expr,
        } => {
            f.write_str("not ")?;
            write_expr(f, expr, 3)
        }
        ExprKind::Unary { op, expr } => {
            f.write_str(if *op == UnaryOp::Neg { "-" } else { "+" })?;
            write_expr(f, expr, 7)
        }
        ExprKind::Binary { op, left, right } => {
            let (left_min, right_min) = if op.is_comparison() {
                (5, 5)
            } else {
                (prec(e), prec(e) + 1)
            };
            write_expr(f, left, left_min)?;
            write!(f, " {} ", op.symbol())?;
            write_expr(f, right, right_min)
        }
        ExprKind::In {
            expr,
            list,
            negated,
            insensitive,
        } => {
            let op = if *negated { "not in" } else { "in" };
            write_operator(f, expr, op, *insensitive)?;
            write_parenthesized(f, list)
        }
        ExprKind::Match {
            expr,
            op,
            insensitive,
            patterns,
            list,
        } => {
            let op = match op {
                MatchOp::Colon => ":",
                MatchOp::Like => "like",
                MatchOp::Regex => "regex",
            };
            write_operator(f, expr, op, *insensitive)?;
            match patterns.as_slice() {
                [one] if !*list => write_expr(f, one, 5),
                _ => write_parenthesized(f, patterns),
            }
        }
        ExprKind::Call {
            name,
            insensitive,
            args,
        } => {
            f.write_str(name)?;
            if *insensitive {
                f.write_char('~')?;
            }
            write_parenthesized(f, args)
        }
        ExprKind::Lineage { kind, query } => write!(f, "{} of [{query}]", kind.keyword()),
    }
}

/// Writes the tested value of `in` or of a match operator, then the
/// operator, its `~` and a space: `expr op~ `.
fn write_operator(
    f: &mut fmt::Formatter<'_>,
    expr: &Expr,
    op: &str,
    insensitive: bool,
) -> fmt::Result {
    write_expr(f, expr, 5)?;
    write!(f, " {op}")?;
    if insensitive {
        f.write_char('~')?;
    }
    f.write_char(' ')
}

fn write_parenthesized(f: &mut fmt::Formatter<'_>, list: &[Expr]) -> fmt::Result {
    f.write_char('(')?;
    write_list(f, list)?;
    f.write_char(')')
}

fn write_list(f: &mut fmt::Formatter<'_>, list: &[Expr]) -> fmt::Result {
    for (i, e) in list.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write_expr(f, e, 0)?;
    }
    Ok(())
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_expr(f, self, 0)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            None => f.write_str("any"),
            Some(n) if is_plain_ident(n) => f.write_str(n),
            Some(n) => write_string(f, n),
        }
    }
}

impl fmt::Display for EventQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} where {}", self.category, self.condition)
    }
}

impl fmt::Display for TimeSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}",
            self.value,
            self.unit.map_or("", crate::TimeUnit::suffix)
        )
    }
}

fn write_by(f: &mut fmt::Formatter<'_>, by: &[Expr]) -> fmt::Result {
    if !by.is_empty() {
        f.write_str(" by ")?;
        write_list(f, by)?;
    }
    Ok(())
}

impl fmt::Display for SequenceStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.missing {
            f.write_char('!')?;
        }
        write!(f, "[{}]", self.query)?;
        write_by(f, &self.by)?;
        if let Some(r) = self.runs {
            write!(f, " with runs={r}")?;
        }
        if let Some(k) = self.fork {
            write!(f, " fork={k}")?;
        }
        Ok(())
    }
}

fn write_steps(
    f: &mut fmt::Formatter<'_>,
    steps: &[SequenceStep],
    until: Option<&SequenceStep>,
) -> fmt::Result {
    for s in steps {
        write!(f, " {s}")?;
    }
    if let Some(u) = until {
        write!(f, " until [{}]", u.query)?;
        write_by(f, &u.by)?;
    }
    Ok(())
}

impl fmt::Display for Sequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sequence")?;
        write_by(f, &self.by)?;
        if let Some(m) = &self.maxspan {
            write!(f, " with maxspan={m}")?;
        }
        write_steps(f, &self.steps, self.until.as_ref())
    }
}

impl fmt::Display for Sample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sample")?;
        write_by(f, &self.by)?;
        write_steps(f, &self.steps, None)
    }
}

impl fmt::Display for Join {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("join")?;
        write_by(f, &self.by)?;
        write_steps(f, &self.steps, self.until.as_ref())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "| {}", self.kind.name())?;
        if !self.args.is_empty() {
            f.write_char(' ')?;
            write_list(f, &self.args)?;
        }
        Ok(())
    }
}

impl fmt::Display for QueryBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QueryBody::Event(e) => write!(f, "{e}"),
            QueryBody::Sequence(s) => write!(f, "{s}"),
            QueryBody::Sample(s) => write!(f, "{s}"),
            QueryBody::Join(j) => write!(f, "{j}"),
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.body)?;
        for p in &self.pipes {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

// ---- span erasure ----

fn zero_expr(e: &mut Expr) {
    e.walk_mut(&mut |x| {
        x.span = Span::DUMMY;
        match &mut x.kind {
            ExprKind::Lineage { query, .. } => {
                zero_event(query);
                false
            }
            _ => true,
        }
    });
}

fn zero_event(q: &mut EventQuery) {
    q.span = Span::DUMMY;
    q.category.span = Span::DUMMY;
    zero_expr(&mut q.condition);
}

fn zero_step(s: &mut SequenceStep) {
    s.span = Span::DUMMY;
    zero_event(&mut s.query);
    s.by.iter_mut().for_each(zero_expr);
}

impl Expr {
    /// A copy with every span set to [`Span::DUMMY`].
    pub fn without_spans(&self) -> Expr {
        let mut e = self.clone();
        zero_expr(&mut e);
        e
    }
}

impl Query {
    /// A copy with every span set to [`Span::DUMMY`], for comparing trees.
    pub fn without_spans(&self) -> Query {
        let mut q = self.clone();
        q.span = Span::DUMMY;
        match &mut q.body {
            QueryBody::Event(e) => zero_event(e),
            QueryBody::Sequence(s) => {
                s.span = Span::DUMMY;
                s.by.iter_mut().for_each(zero_expr);
                if let Some(m) = &mut s.maxspan {
                    m.span = Span::DUMMY;
                }
                s.steps.iter_mut().for_each(zero_step);
                if let Some(u) = &mut s.until {
                    zero_step(u);
                }
            }
            QueryBody::Sample(s) => {
                s.span = Span::DUMMY;
                s.by.iter_mut().for_each(zero_expr);
                s.steps.iter_mut().for_each(zero_step);
            }
            QueryBody::Join(j) => {
                j.span = Span::DUMMY;
                j.by.iter_mut().for_each(zero_expr);
                j.steps.iter_mut().for_each(zero_step);
                if let Some(u) = &mut j.until {
                    zero_step(u);
                }
            }
        }
        for p in &mut q.pipes {
            p.span = Span::DUMMY;
            p.args.iter_mut().for_each(zero_expr);
        }
        q
    }
}
