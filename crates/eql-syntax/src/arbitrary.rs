//! Bounded random syntax trees for fuzzing (feature `arbitrary`).
//!
//! [`AstGen`] turns an [`arbitrary::Unstructured`] byte source into a [`Query`]
//! that the parser of the chosen dialect could have produced: valid names,
//! finite non-negative numbers, consistent join keys, only the constructs the
//! dialect accepts. So `parse(print(q)) == q` (ignoring spans) must hold for
//! every generated `q`, and any difference is a bug in the printer or the
//! parser, never in the generator's input.
//!
//! Depth and size are bounded ([`AstGen::max_depth`], [`AstGen::max_nodes`]),
//! so generation always terminates, even when the byte source runs dry
//! (`Unstructured` then answers zeros, which pick the first, smallest choices).
//!
//! The shapes the generator never builds, and why (each is not a parser output):
//!
//! - A `:`/`like`/`regex` pattern that is not a literal (both dialects take
//!   only literals there).
//! - `:~` (the grammar has no insensitive colon), negative number literals (a
//!   minus sign is a [`UnaryOp::Neg`] node), a comparison in the
//!   Elasticsearch dialect with no constant side, and any construct of the
//!   other dialect.

use crate::keyword::RESERVED;
use crate::{
    BinaryOp, Category, Dialect, EventQuery, Expr, ExprKind, FieldRef, Join, LineageKind, Literal,
    MatchOp, PathSegment, Pipe, PipeKind, Query, QueryBody, Sample, Sequence, SequenceStep, Span,
    TimeSpan, TimeUnit, UnaryOp,
};
use arbitrary::{Arbitrary, Result, Unstructured};
use std::cell::Cell;

/// Function names worth generating often (real ones), besides random names.
const FUNCTIONS: &[&str] = &[
    "length",
    "startsWith",
    "endsWith",
    "stringContains",
    "concat",
    "substring",
    "indexOf",
    "cidrMatch",
    "between",
    "number",
    "add",
    "wildcard",
    "arrayContains",
];

/// Field names worth generating often, besides random names.
const FIELDS: &[&str] = &[
    "process.name",
    "process.args",
    "user.id",
    "@timestamp",
    "event.category",
    "file.path",
    "pid",
];

/// A bounded generator of parser-valid syntax trees.
///
/// ```
/// use arbitrary::Unstructured;
/// use eql_syntax::{parse_query, AstGen, Dialect, ParseOptions};
/// let mut u = Unstructured::new(&[7, 1, 42, 3, 9, 200, 13, 5, 77, 1, 0, 8]);
/// let q = AstGen::new(Dialect::Elasticsearch).query(&mut u).unwrap();
/// let again = parse_query(&q.to_string(), &ParseOptions::default()).unwrap();
/// assert_eq!(again.without_spans(), q);
/// ```
#[derive(Clone, Debug)]
pub struct AstGen {
    /// The dialect whose parser must accept the printed tree.
    pub dialect: Dialect,
    /// Maximum expression nesting (each level may add a pair of parentheses
    /// when printed). Default 6, far below [`crate::ParseOptions::max_depth`].
    pub max_depth: u32,
    /// Maximum number of expression nodes per query. Default 64.
    pub max_nodes: u32,
}

impl AstGen {
    /// A generator for `dialect` with the default bounds.
    ///
    /// ```
    /// use eql_syntax::{AstGen, Dialect};
    /// assert_eq!(AstGen::new(Dialect::Python).max_depth, 6);
    /// ```
    pub fn new(dialect: Dialect) -> Self {
        AstGen {
            dialect,
            max_depth: 6,
            max_nodes: 64,
        }
    }

    /// Generates a whole query (spans are [`Span::DUMMY`]).
    ///
    /// ```
    /// use arbitrary::Unstructured;
    /// use eql_syntax::{AstGen, Dialect};
    /// // An empty byte source still gives a valid (smallest) query.
    /// let q = AstGen::new(Dialect::Python).query(&mut Unstructured::new(&[])).unwrap();
    /// assert_eq!(q.to_string(), "any where ?a");
    /// ```
    pub fn query(&self, u: &mut Unstructured<'_>) -> Result<Query> {
        let g = Gen {
            cfg: self,
            nodes: Cell::new(0),
        };
        g.query(u)
    }

    /// Generates one expression (spans are [`Span::DUMMY`]).
    ///
    /// ```
    /// use arbitrary::Unstructured;
    /// use eql_syntax::{parse_expr, AstGen, Dialect, ParseOptions};
    /// let mut u = Unstructured::new(b"some fuzzer bytes");
    /// let e = AstGen::new(Dialect::Elasticsearch).expr(&mut u).unwrap();
    /// let again = parse_expr(&e.to_string(), &ParseOptions::default()).unwrap();
    /// assert_eq!(again.without_spans(), e);
    /// ```
    pub fn expr(&self, u: &mut Unstructured<'_>) -> Result<Expr> {
        let g = Gen {
            cfg: self,
            nodes: Cell::new(0),
        };
        g.expr(u, 0)
    }
}

/// An Elasticsearch-dialect query from [`AstGen`] with the default bounds.
///
/// ```
/// use arbitrary::{Arbitrary, Unstructured};
/// use eql_syntax::Query;
/// let q = Query::arbitrary(&mut Unstructured::new(&[1, 2, 3, 4])).unwrap();
/// assert!(!q.to_string().is_empty());
/// ```
impl<'a> Arbitrary<'a> for Query {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        AstGen::new(Dialect::Elasticsearch).query(u)
    }
}

struct Gen<'c> {
    cfg: &'c AstGen,
    nodes: Cell<u32>,
}

fn ex(kind: ExprKind) -> Expr {
    Expr {
        kind,
        span: Span::DUMMY,
    }
}

impl Gen<'_> {
    fn py(&self) -> bool {
        self.cfg.dialect == Dialect::Python
    }

    /// Counts a node; false once the budget is spent.
    fn take_node(&self) -> bool {
        let n = self.nodes.get();
        if n >= self.cfg.max_nodes {
            return false;
        }
        self.nodes.set(n + 1);
        true
    }

    fn len(u: &mut Unstructured<'_>, min: usize, max: usize) -> Result<usize> {
        u.int_in_range(min..=max)
    }

    fn query(&self, u: &mut Unstructured<'_>) -> Result<Query> {
        let body = match u.int_in_range(0u8..=9)? {
            0..=5 => QueryBody::Event(self.event_query(u)?),
            6 | 7 => QueryBody::Sequence(self.sequence(u)?),
            8 => QueryBody::Sample(self.sample(u)?),
            _ if self.py() => QueryBody::Join(self.join(u)?),
            _ => QueryBody::Sequence(self.sequence(u)?),
        };
        let mut pipes = Vec::new();
        for _ in 0..Self::len(u, 0, 2)? {
            pipes.push(self.pipe(u)?);
        }
        Ok(Query {
            body,
            pipes,
            span: Span::DUMMY,
        })
    }

    fn pipe(&self, u: &mut Unstructured<'_>) -> Result<Pipe> {
        let (kind, args) = if self.py() {
            let kind = *u.choose(&PipeKind::ALL)?;
            let mut args = Vec::new();
            for _ in 0..Self::len(u, 0, 3)? {
                args.push(self.expr(u, 1)?);
            }
            (kind, args)
        } else {
            // ES: `head`/`tail` with exactly one argument.
            let kind = if u.arbitrary()? {
                PipeKind::Tail
            } else {
                PipeKind::Head
            };
            // Usually a count, as written in practice; any expression parses.
            let arg = if u.ratio(3u8, 4u8)? {
                let n: u16 = u.arbitrary()?;
                ex(ExprKind::Literal(Literal::Int(i64::from(n))))
            } else {
                self.expr(u, 1)?
            };
            (kind, vec![arg])
        };
        Ok(Pipe {
            kind,
            args,
            span: Span::DUMMY,
        })
    }

    fn category(u: &mut Unstructured<'_>) -> Result<Category> {
        let name = match u.int_in_range(0u8..=7)? {
            0 => None,
            1..=5 => Some(
                (*u.choose(&["process", "file", "network", "registry", "dns", "any_cat"])?)
                    .to_string(),
            ),
            6 => Some(Self::ident(u)?),
            // Any text is a category when quoted.
            _ => Some(u.arbitrary::<String>()?),
        };
        Ok(Category {
            name,
            span: Span::DUMMY,
        })
    }

    fn event_query(&self, u: &mut Unstructured<'_>) -> Result<EventQuery> {
        Ok(EventQuery {
            category: Self::category(u)?,
            condition: self.expr(u, 0)?,
            span: Span::DUMMY,
        })
    }

    fn keys(&self, u: &mut Unstructured<'_>, n: usize) -> Result<Vec<Expr>> {
        (0..n).map(|_| self.expr(u, 2)).collect()
    }

    /// A step with `nkeys` join keys; `runs`, `missing` and `fork` only where
    /// the query form and dialect allow them.
    fn step(
        &self,
        u: &mut Unstructured<'_>,
        nkeys: usize,
        seq: bool,
        join: bool,
    ) -> Result<SequenceStep> {
        let query = self.event_query(u)?;
        let by = self.keys(u, nkeys)?;
        let runs = if seq && u.ratio(1u8, 4u8)? {
            Some(if self.py() {
                u.int_in_range(2u32..=u32::MAX)?
            } else {
                u.int_in_range(1u32..=100)?
            })
        } else {
            None
        };
        let missing = seq && !self.py() && u.ratio(1u8, 5u8)?;
        let fork = if (seq || join) && self.py() && u.ratio(1u8, 4u8)? {
            Some(u.arbitrary()?)
        } else {
            None
        };
        Ok(SequenceStep {
            query,
            by,
            runs,
            missing,
            fork,
            span: Span::DUMMY,
        })
    }

    fn until(&self, u: &mut Unstructured<'_>, nkeys: usize) -> Result<Option<SequenceStep>> {
        if !u.ratio(1u8, 4u8)? {
            return Ok(None);
        }
        Ok(Some(SequenceStep {
            query: self.event_query(u)?,
            by: self.keys(u, nkeys)?,
            runs: None,
            missing: false,
            fork: None,
            span: Span::DUMMY,
        }))
    }

    fn sequence(&self, u: &mut Unstructured<'_>) -> Result<Sequence> {
        let nby = Self::len(u, 0, 2)?;
        let by = self.keys(u, nby)?;
        let maxspan = if u.arbitrary()? {
            let unit = match u.int_in_range(0u8..=5)? {
                0 => Some(TimeUnit::Millis),
                1 => Some(TimeUnit::Seconds),
                2 => Some(TimeUnit::Minutes),
                3 => Some(TimeUnit::Hours),
                4 => Some(TimeUnit::Days),
                _ if self.py() => None,
                _ => Some(TimeUnit::Minutes),
            };
            Some(TimeSpan {
                value: u.arbitrary()?,
                unit,
                span: Span::DUMMY,
            })
        } else {
            None
        };
        let nkeys = Self::len(u, 0, 2)?;
        let nsteps = Self::len(u, 1, 4)?;
        let steps = (0..nsteps)
            .map(|_| self.step(u, nkeys, true, false))
            .collect::<Result<Vec<_>>>()?;
        let until = self.until(u, nkeys)?;
        Ok(Sequence {
            by,
            maxspan,
            steps,
            until,
            span: Span::DUMMY,
        })
    }

    fn sample(&self, u: &mut Unstructured<'_>) -> Result<Sample> {
        let (by, _, steps) = self.keyed_steps(u, false)?;
        Ok(Sample {
            by,
            steps,
            span: Span::DUMMY,
        })
    }

    fn join(&self, u: &mut Unstructured<'_>) -> Result<Join> {
        let (by, nkeys, steps) = self.keyed_steps(u, true)?;
        let until = self.until(u, nkeys)?;
        Ok(Join {
            by,
            steps,
            until,
            span: Span::DUMMY,
        })
    }

    /// The body-level keys, the number of keys of each step, and one to
    /// three steps of a sample or (`join`) a join.
    fn keyed_steps(
        &self,
        u: &mut Unstructured<'_>,
        join: bool,
    ) -> Result<(Vec<Expr>, usize, Vec<SequenceStep>)> {
        let nby = Self::len(u, 0, 2)?;
        let by = self.keys(u, nby)?;
        let nkeys = Self::len(u, 0, 2)?;
        let nsteps = Self::len(u, 1, 3)?;
        let steps = (0..nsteps)
            .map(|_| self.step(u, nkeys, false, join))
            .collect::<Result<Vec<_>>>()?;
        Ok((by, nkeys, steps))
    }

    /// A plain identifier: `[A-Za-z_@][A-Za-z0-9_@]{0,7}` (keywords are fine
    /// where the printer quotes them; callers filter where it does not).
    fn ident(u: &mut Unstructured<'_>) -> Result<String> {
        const FIRST: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_@";
        const REST: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@";
        let mut s = String::new();
        s.push(char::from(*u.choose(FIRST)?));
        for _ in 0..Self::len(u, 0, 7)? {
            s.push(char::from(*u.choose(REST)?));
        }
        Ok(s)
    }

    fn field(&self, u: &mut Unstructured<'_>) -> Result<FieldRef> {
        let mut path = Vec::new();
        if u.arbitrary()? {
            for seg in u.choose(FIELDS)?.split('.') {
                path.push(PathSegment::Key(seg.to_string()));
            }
        } else {
            for i in 0..Self::len(u, 1, 3)? {
                let seg = match u.int_in_range(0u8..=5)? {
                    // Python array indexes, never first (the grammar needs a name first).
                    0 if i > 0 && self.py() => PathSegment::Index(u.arbitrary()?),
                    // Any text is a key in backticks.
                    1 => PathSegment::Key(u.arbitrary::<String>()?),
                    _ => PathSegment::Key(Self::ident(u)?),
                };
                path.push(seg);
            }
        }
        Ok(FieldRef {
            path,
            optional: u.ratio(1u8, 5u8)?,
        })
    }

    fn literal(u: &mut Unstructured<'_>) -> Result<Literal> {
        Ok(match u.int_in_range(0u8..=6)? {
            0 => Literal::Null,
            1 => Literal::Bool(u.arbitrary()?),
            2 => Literal::Int(u.int_in_range(0..=i64::MAX)?),
            3 => {
                // Finite and non-negative (a sign is a unary node); -0.0 prints as `-0.0`.
                let f = f64::from_bits(u.arbitrary::<u64>()?).abs();
                Literal::Float(if f.is_finite() { f } else { 1.5 })
            }
            4 => Literal::String(u.arbitrary()?),
            // Wildcard-ish patterns.
            _ => {
                let parts = ["*", "?", "a", "cmd", ".exe", "\\", "\"", "é", " "];
                let mut s = String::new();
                for _ in 0..Self::len(u, 0, 5)? {
                    s.push_str(u.choose(&parts)?);
                }
                Literal::String(s)
            }
        })
    }

    fn leaf(&self, u: &mut Unstructured<'_>) -> Result<Expr> {
        Ok(if u.arbitrary()? {
            ex(ExprKind::Literal(Self::literal(u)?))
        } else {
            ex(ExprKind::Field(self.field(u)?))
        })
    }

    fn call_name(u: &mut Unstructured<'_>) -> Result<String> {
        if u.arbitrary()? {
            return Ok((*u.choose(FUNCTIONS)?).to_string());
        }
        let name = Self::ident(u)?;
        Ok(if RESERVED.contains(&name.as_str()) {
            format!("{name}_")
        } else {
            name
        })
    }

    fn list(&self, u: &mut Unstructured<'_>, depth: u32, min: usize) -> Result<Vec<Expr>> {
        (0..Self::len(u, min, 3)?)
            .map(|_| self.expr(u, depth + 1))
            .collect()
    }

    /// An expression of the dialect at `depth`: a leaf, or one of the
    /// forms with children generated one level deeper.
    fn expr(&self, u: &mut Unstructured<'_>, depth: u32) -> Result<Expr> {
        if depth >= self.cfg.max_depth || !self.take_node() || u.is_empty() {
            return self.leaf(u);
        }
        let d = depth + 1;
        let kind = match u.int_in_range(0u8..=9)? {
            0 | 1 => return self.leaf(u),
            2 | 3 => self.binary(u, d)?,
            4 => ExprKind::Unary {
                op: *u.choose(&[UnaryOp::Not, UnaryOp::Neg, UnaryOp::Plus])?,
                expr: Box::new(self.expr(u, d)?),
            },
            5 => ExprKind::In {
                expr: Box::new(self.expr(u, d)?),
                list: self.list(u, depth, 1)?,
                negated: u.arbitrary()?,
                insensitive: u.arbitrary()?,
            },
            6 | 7 => self.matching(u, d)?,
            8 => ExprKind::Call {
                name: Self::call_name(u)?,
                insensitive: u.ratio(1u8, 4u8)?,
                args: self.list(u, depth, 0)?,
            },
            _ if self.py() => self.lineage(u, d)?,
            _ => return self.leaf(u),
        };
        Ok(ex(kind))
    }

    /// A binary operation with operands at depth `d`.
    fn binary(&self, u: &mut Unstructured<'_>, d: u32) -> Result<ExprKind> {
        let op = *u.choose(&[
            BinaryOp::Or,
            BinaryOp::And,
            BinaryOp::Eq,
            BinaryOp::Ne,
            BinaryOp::Lt,
            BinaryOp::Le,
            BinaryOp::Gt,
            BinaryOp::Ge,
            BinaryOp::Add,
            BinaryOp::Sub,
            BinaryOp::Mul,
            BinaryOp::Div,
            BinaryOp::Mod,
        ])?;
        let left = self.expr(u, d)?;
        let mut right = self.expr(u, d)?;
        // ES compares what an event holds only with a constant: when both
        // sides read the event, the right one becomes a literal.
        if !self.py() && op.is_comparison() && left.reads_event() && right.reads_event() {
            right = ex(ExprKind::Literal(Self::literal(u)?));
        }
        Ok(ExprKind::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
        })
    }

    /// `:`, `like` or `regex` with literal patterns, the tested value at
    /// depth `d`.
    fn matching(&self, u: &mut Unstructured<'_>, d: u32) -> Result<ExprKind> {
        let op = *u.choose(&[MatchOp::Colon, MatchOp::Like, MatchOp::Regex])?;
        let insensitive = op != MatchOp::Colon && u.arbitrary()?;
        let expr = Box::new(self.expr(u, d)?);
        let list = u.arbitrary()?;
        let patterns = if list {
            (0..Self::len(u, 1, 3)?)
                .map(|_| Ok(ex(ExprKind::Literal(Self::literal(u)?))))
                .collect::<Result<Vec<_>>>()?
        } else {
            vec![ex(ExprKind::Literal(Self::literal(u)?))]
        };
        Ok(ExprKind::Match {
            expr,
            op,
            insensitive,
            patterns,
            list,
        })
    }

    /// Python: a lineage relation whose condition is at depth `d`.
    fn lineage(&self, u: &mut Unstructured<'_>, d: u32) -> Result<ExprKind> {
        Ok(ExprKind::Lineage {
            kind: *u.choose(&[
                LineageKind::Descendant,
                LineageKind::Child,
                LineageKind::Event,
            ])?,
            query: Box::new(EventQuery {
                category: Self::category(u)?,
                condition: self.expr(u, d)?,
                span: Span::DUMMY,
            }),
        })
    }
}
