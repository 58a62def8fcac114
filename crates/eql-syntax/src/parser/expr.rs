//! Expressions from pest pairs: operators by precedence, comparisons and
//! matches, calls and methods, lineage, fields and literals.

use super::{err, first_inner, inner, next_pair, span_of, Conv, PResult, Rule};
use crate::{
    BinaryOp, Expr, ExprKind, FieldRef, LineageKind, Literal, MatchOp, ParseError, ParseErrorKind,
    PathSegment, Span, UnaryOp,
};
use pest::iterators::Pair;

impl Conv<'_> {
    pub(super) fn expr(&self, p: Pair<'_, Rule>) -> PResult<Expr> {
        let span = span_of(&p);
        match p.as_rule() {
            Rule::expr | Rule::primary | Rule::match_rhs => self.expr(first_inner(p)?),
            Rule::or_expr | Rule::and_expr | Rule::add_expr | Rule::mul_expr => {
                self.binary_chain(p)
            }
            Rule::not_expr | Rule::unary => self.prefix(p, span),
            Rule::cmp_expr => self.cmp(p),
            Rule::postfix => self.postfix(p, span),
            Rule::paren => {
                let mut e = self.expr(first_inner(p)?)?;
                e.span = span;
                Ok(e)
            }
            Rule::call => {
                let (name, insensitive, args) = self.call_parts(p)?;
                Ok(Expr {
                    kind: ExprKind::Call {
                        name,
                        insensitive,
                        args,
                    },
                    span,
                })
            }
            Rule::lineage => self.lineage(p, span),
            Rule::literal | Rule::lone_literal => self.literal(p, span),
            Rule::field => self.field(p),
            _ => err(
                ParseErrorKind::UnexpectedToken {
                    found: p.as_str().to_string(),
                },
                span,
            ),
        }
    }

    /// `not e`, `-e`, `+e`, or the operand alone.
    fn prefix(&self, p: Pair<'_, Rule>, span: Span) -> PResult<Expr> {
        let eof = || ParseError::new(ParseErrorKind::UnexpectedEof, span);
        let mut it = p.into_inner();
        let a = it.next().ok_or_else(eof)?;
        let op = match a.as_rule() {
            Rule::kw_not => UnaryOp::Not,
            Rule::unary_op if a.as_str() == "-" => UnaryOp::Neg,
            Rule::unary_op => UnaryOp::Plus,
            _ => return self.expr(a),
        };
        let e = self.expr(it.next().ok_or_else(eof)?)?;
        Ok(Expr {
            kind: ExprKind::Unary {
                op,
                expr: Box::new(e),
            },
            span,
        })
    }

    /// A primary followed by Python method calls `x:f()`.
    fn postfix(&self, p: Pair<'_, Rule>, span: Span) -> PResult<Expr> {
        let mut it = p.into_inner();
        let a = next_pair(&mut it, span)?;
        let mut e = self.expr(a)?;
        for m in it {
            let msp = span_of(&m);
            // `x:f()` is the Python method syntax only with no space
            // after `:`; `x : f()` is the `:` operator with a call
            // on its right, which neither dialect accepts.
            if m.as_str()
                .get(1..)
                .is_some_and(|r| r.starts_with(char::is_whitespace))
            {
                return err(ParseErrorKind::PatternNotLiteral, msp);
            }
            self.py_only("method syntax `x:f()`", msp)?;
            let (name, insensitive, mut args) = self.call_parts(m)?;
            args.insert(0, e);
            e = Expr {
                kind: ExprKind::Call {
                    name,
                    insensitive,
                    args,
                },
                span: Span::new(span.start, msp.end),
            };
        }
        Ok(e)
    }

    /// Python `descendant of [q]`, `child of [q]`, `event of [q]`.
    fn lineage(&self, p: Pair<'_, Rule>, span: Span) -> PResult<Expr> {
        self.py_only("lineage `of`", span)?;
        let mut it = inner(p);
        let k = next_pair(&mut it, span)?;
        let kind = match k.as_str() {
            "descendant" => LineageKind::Descendant,
            "child" => LineageKind::Child,
            _ => LineageKind::Event,
        };
        let q = next_pair(&mut it, span)?;
        let query = self.event_query(q)?;
        Ok(Expr {
            kind: ExprKind::Lineage {
                kind,
                query: Box::new(query),
            },
            span,
        })
    }

    fn literal(&self, p: Pair<'_, Rule>, span: Span) -> PResult<Expr> {
        let l = next_pair(&mut p.into_inner(), span)?;
        let lit = match l.as_rule() {
            Rule::kw_null => Literal::Null,
            Rule::kw_true => Literal::Bool(true),
            Rule::kw_false => Literal::Bool(false),
            Rule::number => number(l.as_str(), span)?,
            _ => self.string(l)?,
        };
        Ok(Expr {
            kind: ExprKind::Literal(lit),
            span,
        })
    }

    fn call_parts(&self, p: Pair<'_, Rule>) -> PResult<(String, bool, Vec<Expr>)> {
        let mut name = String::new();
        let mut insensitive = false;
        let mut args = Vec::new();
        for x in p.into_inner() {
            match x.as_rule() {
                Rule::name => name = x.as_str().to_string(),
                Rule::tilde => insensitive = true,
                Rule::expr_list => args = self.exprs(x.into_inner())?,
                _ => {}
            }
        }
        Ok((name, insensitive, args))
    }

    /// The expressions of a run of pairs: arguments, members, patterns,
    /// keys.
    pub(super) fn exprs<'i>(
        &self,
        pairs: impl Iterator<Item = Pair<'i, Rule>>,
    ) -> PResult<Vec<Expr>> {
        pairs.map(|e| self.expr(e)).collect()
    }

    fn binary_chain(&self, p: Pair<'_, Rule>) -> PResult<Expr> {
        let span = span_of(&p);
        let mut it = p.into_inner();
        let a = next_pair(&mut it, span)?;
        let mut left = self.expr(a)?;
        while let Some(op) = it.next() {
            let op = match (op.as_rule(), op.as_str()) {
                (Rule::kw_or, _) => BinaryOp::Or,
                (Rule::kw_and, _) => BinaryOp::And,
                (_, "+") => BinaryOp::Add,
                (_, "-") => BinaryOp::Sub,
                (_, "*") => BinaryOp::Mul,
                (_, "/") => BinaryOp::Div,
                _ => BinaryOp::Mod,
            };
            let b = next_pair(&mut it, span)?;
            let right = self.expr(b)?;
            let sp = left.span.to(right.span);
            left = Expr {
                kind: ExprKind::Binary {
                    op,
                    left: Box::new(left),
                    right: Box::new(right),
                },
                span: sp,
            };
        }
        Ok(left)
    }

    fn cmp(&self, p: Pair<'_, Rule>) -> PResult<Expr> {
        let span = span_of(&p);
        let mut it = p.into_inner();
        let a = next_pair(&mut it, span)?;
        let left = self.expr(a)?;
        let Some(tail) = it.next() else {
            return Ok(left);
        };
        if let Some(second) = it.next() {
            return err(ParseErrorKind::ChainedComparison, span_of(&second));
        }
        let mut t = tail.into_inner();
        let op = next_pair(&mut t, span)?;
        let rhs = next_pair(&mut t, span)?;
        let left = Box::new(left);
        let kind = match op.as_rule() {
            Rule::cmp_op => self.comparison(left, &op, rhs, span)?,
            Rule::in_op => self.in_list(left, OpWords::of(op), rhs)?,
            _ => self.match_op(left, OpWords::of(op), rhs)?,
        };
        Ok(Expr { kind, span })
    }

    /// `a == b`, `a < b`, ...: in Elasticsearch, one side must be constant.
    fn comparison(
        &self,
        left: Box<Expr>,
        op: &Pair<'_, Rule>,
        rhs: Pair<'_, Rule>,
        span: Span,
    ) -> PResult<ExprKind> {
        let o = match op.as_str() {
            "==" => BinaryOp::Eq,
            "=" => {
                if self.es() {
                    return err(ParseErrorKind::SingleEquals, span_of(op));
                }
                BinaryOp::Eq
            }
            "!=" => BinaryOp::Ne,
            "<" => BinaryOp::Lt,
            "<=" => BinaryOp::Le,
            ">" => BinaryOp::Gt,
            _ => BinaryOp::Ge,
        };
        let right = self.expr(rhs)?;
        // ES moves a constant to the right and translates the comparison to
        // a query on the other side: one side must be constant. A side that
        // reads only optional fields may be `null` once a mapping is known:
        // compiling checks those.
        if self.es()
            && left.reads_event()
            && right.reads_event()
            && left.reads_required()
            && right.reads_required()
        {
            return err(ParseErrorKind::FieldComparison, span);
        }
        Ok(ExprKind::Binary {
            op: o,
            left,
            right: Box::new(right),
        })
    }

    /// `e in (...)`, `e not in~ (...)`.
    fn in_list(&self, expr: Box<Expr>, words: OpWords, rhs: Pair<'_, Rule>) -> PResult<ExprKind> {
        Ok(ExprKind::In {
            expr,
            list: self.exprs(rhs.into_inner())?,
            negated: words.not,
            insensitive: words.tilde,
        })
    }

    /// `e : p`, `e like~ (...)`, `e regex p`: the patterns must be literals.
    fn match_op(&self, expr: Box<Expr>, words: OpWords, rhs: Pair<'_, Rule>) -> PResult<ExprKind> {
        let r = first_inner(rhs)?;
        let (patterns, list) = if r.as_rule() == Rule::expr_list {
            (self.exprs(r.into_inner())?, true)
        } else {
            (vec![self.expr(r)?], false)
        };
        if let Some(p) = patterns
            .iter()
            .find(|p| !matches!(p.kind, ExprKind::Literal(_)))
        {
            return err(ParseErrorKind::PatternNotLiteral, p.span);
        }
        Ok(ExprKind::Match {
            expr,
            op: words.matching,
            insensitive: words.tilde,
            patterns,
            list,
        })
    }

    fn field(&self, p: Pair<'_, Rule>) -> PResult<Expr> {
        let span = span_of(&p);
        let mut optional = false;
        let mut path = Vec::new();
        for x in p.into_inner() {
            match x.as_rule() {
                Rule::optional => optional = true,
                Rule::segment => {
                    let s = first_inner(x)?;
                    let t = s.as_str();
                    if s.as_rule() == Rule::backtick {
                        path.push(PathSegment::Key(t[1..t.len() - 1].replace("``", "`")));
                    } else {
                        path.push(PathSegment::Key(t.to_string()));
                    }
                }
                Rule::index => {
                    let sp = span_of(&x);
                    self.py_only("array index", sp)?;
                    let n = first_inner(x)?;
                    let v: u32 = n.as_str().parse().map_err(|_| {
                        ParseError::new(
                            ParseErrorKind::InvalidNumber {
                                text: n.as_str().into(),
                            },
                            sp,
                        )
                    })?;
                    path.push(PathSegment::Index(v));
                }
                _ => {}
            }
        }
        Ok(Expr {
            kind: ExprKind::Field(FieldRef { path, optional }),
            span,
        })
    }

    pub(super) fn string(&self, p: Pair<'_, Rule>) -> PResult<Literal> {
        let span = span_of(&p);
        let t = p.as_str();
        match p.as_rule() {
            Rule::raw_string => Ok(Literal::String(t[3..t.len() - 3].to_string())),
            Rule::dq_string => unescape(&t[1..t.len() - 1], span.start + 1).map(Literal::String),
            Rule::sq_string => {
                self.py_only("single-quoted string", span)?;
                unescape(&t[1..t.len() - 1], span.start + 1).map(Literal::String)
            }
            _ => {
                self.py_only("raw string `?\"...\"`", span)?;
                let q = &t[1..2];
                let body = &t[2..t.len() - 1];
                Ok(Literal::String(body.replace(&format!("\\{q}"), q)))
            }
        }
    }
}

/// The words of an `in` or match operator.
#[derive(Clone, Copy)]
struct OpWords {
    /// `not in`.
    not: bool,
    /// `in~`, `like~`, `regex~`.
    tilde: bool,
    /// `like` or `regex`; `:` when neither is written.
    matching: MatchOp,
}

impl OpWords {
    fn of(op: Pair<'_, Rule>) -> OpWords {
        let mut words = OpWords {
            not: false,
            tilde: false,
            matching: MatchOp::Colon,
        };
        for x in op.into_inner() {
            match x.as_rule() {
                Rule::kw_not => words.not = true,
                Rule::tilde => words.tilde = true,
                Rule::kw_like => words.matching = MatchOp::Like,
                Rule::kw_regex => words.matching = MatchOp::Regex,
                _ => {}
            }
        }
        words
    }
}

fn number(t: &str, span: Span) -> PResult<Literal> {
    if t.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(v) = t.parse::<i64>() {
            return Ok(Literal::Int(v));
        }
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(Literal::Float(f)),
        _ => err(
            ParseErrorKind::InvalidNumber {
                text: t.to_string(),
            },
            span,
        ),
    }
}

fn unescape(s: &str, base: u32) -> PResult<String> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = it.next() else {
            return err(
                ParseErrorKind::InvalidEscape {
                    escape: "\\".into(),
                },
                Span::new(base + i as u32, base + i as u32 + 1),
            );
        };
        let bad = |end: usize| {
            let end = end.min(s.len());
            err(
                ParseErrorKind::InvalidEscape {
                    escape: s.get(i..end).unwrap_or("\\").to_string(),
                },
                Span::new(base + i as u32, base + end as u32),
            )
        };
        match e {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            '\\' => out.push('\\'),
            '"' => out.push('"'),
            '\'' => out.push('\''),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'u' => {
                if it.next().map(|x| x.1) != Some('{') {
                    return bad(i + 2 + 1);
                }
                let mut hex = String::new();
                let mut closed = false;
                for (_, h) in it.by_ref() {
                    if h == '}' {
                        closed = true;
                        break;
                    }
                    hex.push(h);
                    if hex.len() > 8 {
                        break;
                    }
                }
                let end = i + 3 + hex.len() + usize::from(closed);
                if !closed || hex.len() < 2 || !hex.chars().all(|h| h.is_ascii_hexdigit()) {
                    return bad(end);
                }
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => return bad(end),
                }
            }
            other => return bad(i + 1 + other.len_utf8()),
        }
    }
    Ok(out)
}
