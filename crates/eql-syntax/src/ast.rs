//! The typed EQL syntax tree.
//!
//! Every node carries a [`Span`]. The tree is dialect-neutral: the parser decides
//! what each dialect accepts, and the tree records what was written in a
//! canonical shape (for example, Python's `=` becomes [`BinaryOp::Eq`], method
//! syntax `x:length()` becomes a plain [`ExprKind::Call`], and parentheses leave
//! no node). `Display` prints canonical EQL that re-parses to an equal tree,
//! where "equal" ignores spans ([`Query::without_spans`]).

use crate::Span;

/// A whole statement: a query body followed by pipes.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// What the query selects.
    pub body: QueryBody,
    /// `| head 5`, `| tail 2`, and the Python pipes.
    pub pipes: Vec<Pipe>,
    /// The whole statement.
    pub span: Span,
}

/// The four query forms.
#[derive(Clone, Debug, PartialEq)]
pub enum QueryBody {
    /// `process where ...`
    Event(EventQuery),
    /// `sequence [by ...] [with maxspan=...] [..] [..] [until [..]]`
    Sequence(Sequence),
    /// `sample by ... [..] [..]`
    Sample(Sample),
    /// Python dialect: `join [by ...] [..] [..] [until [..]]`
    Join(Join),
}

/// `category where condition`.
#[derive(Clone, Debug, PartialEq)]
pub struct EventQuery {
    /// The event category, or `any`.
    pub category: Category,
    /// The boolean condition after `where`.
    pub condition: Expr,
    /// From the category to the end of the condition.
    pub span: Span,
}

/// The category of an event query.
#[derive(Clone, Debug, PartialEq)]
pub struct Category {
    /// `None` for `any`; otherwise the category name (unquoted value).
    pub name: Option<String>,
    /// Where the category was written.
    pub span: Span,
}

/// `sequence` with its parameters and steps.
#[derive(Clone, Debug, PartialEq)]
pub struct Sequence {
    /// Sequence-level `by` keys, prepended to every step's own keys.
    pub by: Vec<Expr>,
    /// `with maxspan=...`.
    pub maxspan: Option<TimeSpan>,
    /// The ordered steps (at least one as parsed; the checker requires two in ES).
    pub steps: Vec<SequenceStep>,
    /// `until [...]`.
    pub until: Option<SequenceStep>,
    /// The whole sequence body.
    pub span: Span,
}

/// One bracketed term of a sequence, sample or join.
#[derive(Clone, Debug, PartialEq)]
pub struct SequenceStep {
    /// The event query inside the brackets.
    pub query: EventQuery,
    /// The step's own `by` keys.
    pub by: Vec<Expr>,
    /// `with runs=N`.
    pub runs: Option<u32>,
    /// `![...]`: a missing event.
    pub missing: bool,
    /// Python `fork` / `fork=true` / `fork=false`.
    pub fork: Option<bool>,
    /// From the opening bracket to the end of the step's suffixes.
    pub span: Span,
}

/// `with maxspan=5m`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeSpan {
    /// The number as written.
    pub value: u64,
    /// The unit (`ms s m h d`). `None` only in dialects that accept a bare number
    /// (never in ES: a missing unit is an error there).
    pub unit: Option<TimeUnit>,
    /// Where it was written.
    pub span: Span,
}

impl TimeSpan {
    /// The span in milliseconds (a bare number counts seconds), saturating.
    ///
    /// ```
    /// use eql_syntax::{parse_query, ParseOptions, QueryBody};
    /// let q = parse_query("sequence with maxspan=2m [a where true] [b where true]", &ParseOptions::default()).unwrap();
    /// let QueryBody::Sequence(s) = &q.body else { unreachable!() };
    /// assert_eq!(s.maxspan.map(|t| t.millis()), Some(120_000));
    /// ```
    pub const fn millis(&self) -> u64 {
        let unit = match self.unit {
            Some(u) => u.millis(),
            None => 1_000,
        };
        self.value.saturating_mul(unit)
    }
}

/// Units of a maxspan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    /// `ms`
    Millis,
    /// `s`
    Seconds,
    /// `m`
    Minutes,
    /// `h`
    Hours,
    /// `d`
    Days,
}

impl TimeUnit {
    /// Milliseconds in one unit.
    pub const fn millis(self) -> u64 {
        match self {
            TimeUnit::Millis => 1,
            TimeUnit::Seconds => 1_000,
            TimeUnit::Minutes => 60_000,
            TimeUnit::Hours => 3_600_000,
            TimeUnit::Days => 86_400_000,
        }
    }

    /// The suffix as written in EQL.
    pub const fn suffix(self) -> &'static str {
        match self {
            TimeUnit::Millis => "ms",
            TimeUnit::Seconds => "s",
            TimeUnit::Minutes => "m",
            TimeUnit::Hours => "h",
            TimeUnit::Days => "d",
        }
    }
}

/// `sample [by keys] [filter] [by keys] ...`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Sample-level `by` keys.
    pub by: Vec<Expr>,
    /// The filters (`runs`, `missing` and `fork` are always unset).
    pub steps: Vec<SequenceStep>,
    /// The whole sample body.
    pub span: Span,
}

/// Python `join [by keys] [q] [by keys] ... [until [q]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Join {
    /// Join-level `by` keys.
    pub by: Vec<Expr>,
    /// The joined queries.
    pub steps: Vec<SequenceStep>,
    /// `until [...]`.
    pub until: Option<SequenceStep>,
    /// The whole join body.
    pub span: Span,
}

/// A pipe: `| name args...`.
#[derive(Clone, Debug, PartialEq)]
pub struct Pipe {
    /// Which pipe.
    pub kind: PipeKind,
    /// Its arguments (`head 5` → `[5]`; Python `head` with no argument → `[]`).
    pub args: Vec<Expr>,
    /// From the `|` to the end of the last argument.
    pub span: Span,
}

/// The pipes of both dialects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PipeKind {
    /// `head [N]`
    Head,
    /// `tail [N]`
    Tail,
    /// Python: `count [keys]`
    Count,
    /// Python: `unique keys`
    Unique,
    /// Python: `unique_count keys`
    UniqueCount,
    /// Python: `filter expr`
    Filter,
    /// Python: `sort keys`
    Sort,
}

impl PipeKind {
    /// Every pipe: Elasticsearch's two (`head`, `tail`) first, then the
    /// Python ones.
    pub const ALL: [PipeKind; 7] = [
        PipeKind::Head,
        PipeKind::Tail,
        PipeKind::Count,
        PipeKind::Unique,
        PipeKind::UniqueCount,
        PipeKind::Filter,
        PipeKind::Sort,
    ];

    /// The pipe's name as written.
    pub const fn name(self) -> &'static str {
        match self {
            PipeKind::Head => "head",
            PipeKind::Tail => "tail",
            PipeKind::Count => "count",
            PipeKind::Unique => "unique",
            PipeKind::UniqueCount => "unique_count",
            PipeKind::Filter => "filter",
            PipeKind::Sort => "sort",
        }
    }
}

/// An expression with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What the expression is.
    pub kind: ExprKind,
    /// Where it was written (including any parentheses around it).
    pub span: Span,
}

impl Expr {
    /// `not e`, with this expression's span.
    ///
    /// ```
    /// use eql_syntax::{parse_expr, ParseOptions};
    /// let e = parse_expr("a : \"x*\"", &ParseOptions::default()).unwrap();
    /// assert_eq!(e.negated().to_string(), "not a : \"x*\"");
    /// ```
    #[must_use]
    pub fn negated(&self) -> Expr {
        Expr {
            kind: ExprKind::Unary {
                op: UnaryOp::Not,
                expr: Box::new(self.clone()),
            },
            span: self.span,
        }
    }
}

/// Expression forms.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// `null`, `true`, `42`, `1.5`, `"text"`.
    Literal(Literal),
    /// `process.name`, `?user.id`, `` `my field` ``, `a[0].b`.
    Field(FieldRef),
    /// `not e`, `-e`, `+e`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        expr: Box<Expr>,
    },
    /// `a and b`, `a == b`, `a + b`, ...
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
    /// `e in (a, b)`, `e not in~ (a)`.
    In {
        /// The tested value.
        expr: Box<Expr>,
        /// The members (at least one).
        list: Vec<Expr>,
        /// `not in`.
        negated: bool,
        /// `in~`.
        insensitive: bool,
    },
    /// `e : "a*"`, `e like~ ("a", "b")`, `e regex "x.*"`.
    Match {
        /// The tested value.
        expr: Box<Expr>,
        /// `:`, `like` or `regex`.
        op: MatchOp,
        /// `like~` / `regex~` (always false for `:`, which is insensitive by definition).
        insensitive: bool,
        /// The pattern literals (at least one).
        patterns: Vec<Expr>,
        /// Written as a parenthesized list (`: ("a")`) rather than a single literal.
        list: bool,
    },
    /// `name(args)`, `name~(args)`; Python method syntax `x:name(args)` becomes `name(x, args)`.
    Call {
        /// The name as written (ES matches it case-insensitively).
        name: String,
        /// `name~(...)`.
        insensitive: bool,
        /// The arguments.
        args: Vec<Expr>,
    },
    /// Python: `descendant of [q]`, `child of [q]`, `event of [q]`.
    Lineage {
        /// Which relation.
        kind: LineageKind,
        /// The ancestor query.
        query: Box<EventQuery>,
    },
}

/// Literal values.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An integer that fits `i64`.
    Int(i64),
    /// A decimal, or an integer too large for `i64`.
    Float(f64),
    /// A string, after escape processing.
    String(String),
}

/// A field reference.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldRef {
    /// The path segments, in order.
    pub path: Vec<PathSegment>,
    /// Written with a leading `?`.
    pub optional: bool,
}

impl FieldRef {
    /// The dotted name (`a.b.c`; indexes print as `[0]`).
    ///
    /// ```
    /// use eql_syntax::{FieldRef, PathSegment};
    /// let f = FieldRef { path: vec![PathSegment::Key("a".into()), PathSegment::Index(0), PathSegment::Key("b".into())], optional: false };
    /// assert_eq!(f.dotted(), "a[0].b");
    /// ```
    pub fn dotted(&self) -> String {
        let mut s = String::new();
        for seg in &self.path {
            match seg {
                PathSegment::Key(k) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(k);
                }
                PathSegment::Index(i) => {
                    s.push('[');
                    s.push_str(&i.to_string());
                    s.push(']');
                }
            }
        }
        s
    }
}

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathSegment {
    /// An object key (already unescaped from backticks).
    Key(String),
    /// An array index (Python dialect).
    Index(u32),
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `not`
    Not,
    /// `-`
    Neg,
    /// `+`
    Plus,
}

/// Binary operators, lowest precedence first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// `==` (Python also `=`)
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
}

impl BinaryOp {
    /// The operator as written.
    pub const fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
        }
    }

    /// True for `== != < <= > >=`.
    pub const fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }

    /// True for `+ - * / %`.
    pub const fn is_arithmetic(self) -> bool {
        matches!(
            self,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod
        )
    }
}

/// The string-matching operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `:` — case-insensitive equality, or wildcard when the pattern has `*`/`?`.
    Colon,
    /// `like` / `like~` — wildcard match.
    Like,
    /// `regex` / `regex~` — whole-string regular expression.
    Regex,
}

/// Python process-lineage relations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LineageKind {
    /// `descendant of [q]`
    Descendant,
    /// `child of [q]`
    Child,
    /// `event of [q]`
    Event,
}

impl LineageKind {
    /// The keyword as written.
    pub const fn keyword(self) -> &'static str {
        match self {
            LineageKind::Descendant => "descendant",
            LineageKind::Child => "child",
            LineageKind::Event => "event",
        }
    }
}
