//! The plan's intermediate representation: boolean conditions over interned
//! fields, with compiled tests at the leaves.

use crate::mapping::{FieldKind, TypedTest};
use crate::matcher::{Glob, StrSet};
use crate::{FieldPath, Value};
use eql_syntax::Expr;
use std::collections::HashMap;
use std::fmt;

/// A field read by a plan: an index into its [`FieldTable`].
///
/// ```
/// use eql_plan::{FieldPath, FieldTable};
/// let mut t = FieldTable::default();
/// let a = t.intern(&FieldPath::parse_dotted("process.name"));
/// assert_eq!(a, t.intern(&FieldPath::parse_dotted("process.name")));
/// assert_eq!(t.path(a).dotted(), "process.name");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldId(pub u32);

/// Every distinct field path a plan (or a whole pack) reads, each once, with
/// how its values are read when an index mapping types it.
#[derive(Clone, Debug, Default)]
pub struct FieldTable {
    paths: Vec<FieldPath>,
    ids: HashMap<FieldPath, FieldId>,
    /// Per field: how the compiled tests on it read its values.
    reads: Vec<Read>,
}

/// How the compiled tests of a field read its values: unclaimed, as the JSON
/// holds them, or normalized by a mapped [`FieldKind`]. A field's slot holds
/// one form, so every test compiled on it must agree.
#[derive(Clone, Debug, Default, PartialEq)]
enum Read {
    #[default]
    Unclaimed,
    Raw,
    Typed(FieldKind),
}

impl FieldTable {
    /// The id of `path`, adding it when new.
    pub fn intern(&mut self, path: &FieldPath) -> FieldId {
        if let Some(id) = self.ids.get(path) {
            return *id;
        }
        let id = FieldId(self.paths.len() as u32);
        self.paths.push(path.clone());
        self.ids.insert(path.clone(), id);
        self.reads.push(Read::Unclaimed);
        id
    }

    /// Claims field `id` for a compiled test that reads its values raw
    /// (`None`) or normalized by `kind`: true when the field's other
    /// compiled tests read it the same way (the first claim decides).
    ///
    /// ```
    /// use eql_plan::{FieldPath, FieldTable};
    /// let mut t = FieldTable::default();
    /// let a = t.intern(&FieldPath::parse_dotted("a"));
    /// assert!(t.claim(a, None) && t.claim(a, None));
    /// assert!(t.kind(a).is_none());
    /// assert!(!t.claim(a, Some(&eql_plan::mapping::FieldKind::absent())));
    /// ```
    pub fn claim(&mut self, id: FieldId, kind: Option<&FieldKind>) -> bool {
        let Some(read) = self.reads.get_mut(id.0 as usize) else {
            return false;
        };
        let want = kind.map_or(Read::Raw, |k| Read::Typed(k.clone()));
        match read {
            Read::Unclaimed => {
                *read = want;
                true
            }
            r => *r == want,
        }
    }

    /// True when a field's kind indexes an explicit JSON `null` as a value
    /// (a `null_value`): reading such a field must see its nulls.
    pub fn reads_nulls(&self) -> bool {
        self.reads
            .iter()
            .any(|r| matches!(r, Read::Typed(k) if k.null_value().is_some()))
    }

    /// The kind that normalizes the values of field `id`, when a compiled
    /// test claimed it with one.
    pub fn kind(&self, id: FieldId) -> Option<&FieldKind> {
        match self.reads.get(id.0 as usize) {
            Some(Read::Typed(k)) => Some(k),
            _ => None,
        }
    }

    /// The id of `path`, if interned.
    pub fn get(&self, path: &FieldPath) -> Option<FieldId> {
        self.ids.get(path).copied()
    }

    /// The path of `id`.
    ///
    /// An id from another table gives the first path (ids are only
    /// meaningful for the table that issued them).
    pub fn path(&self, id: FieldId) -> &FieldPath {
        self.paths
            .get(id.0 as usize)
            .or_else(|| self.paths.first())
            .unwrap_or(&EMPTY_PATH)
    }

    /// All paths, in id order.
    pub fn paths(&self) -> &[FieldPath] {
        &self.paths
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// True when no field is read.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

static EMPTY_PATH: std::sync::LazyLock<FieldPath> =
    std::sync::LazyLock::new(|| FieldPath::new(Vec::new()));

/// A boolean condition in the plan.
///
/// In the Elasticsearch dialect, the tree already encodes ES's document-level
/// semantics: negations are pushed to the leaves the way ES translates them to
/// Lucene, so `Not(Test)` is "no value of the field passes", which is true
/// when the field is missing.
#[derive(Clone, Debug)]
pub enum Cond {
    /// A folded constant.
    Const(bool),
    /// All must hold.
    And(Vec<Cond>),
    /// One must hold.
    Or(Vec<Cond>),
    /// The negation of a pushed-down leaf (ES `must_not`).
    Not(Box<Cond>),
    /// A compiled test of one field against literals, with any-value
    /// semantics over arrays.
    Test(Test),
    /// A leaf the lowering does not compile: evaluated with the reference
    /// semantics (ES: any-value over the leaf; Python: three-valued, then
    /// truthiness).
    Generic(Box<Expr>),
    /// `field == null` (`eq`) or `field != null` in the Elasticsearch
    /// dialect, with no mapping: the generic leaf's answer, read from the
    /// field's whole value in one look. ES runs these as an `exists` query:
    /// `== null` holds when the field holds no value ES would index (it is
    /// missing, `null`, or an array or object with no such value under it),
    /// `!= null` otherwise. Like a generic leaf it reads the event itself, not
    /// the field's slot.
    Null {
        /// The field.
        field: FieldId,
        /// `==` (else `!=`).
        eq: bool,
    },
    /// A condition that can only hold when one of the atoms fires (the
    /// necessary literals of a Python leaf, which stays generic): evaluated
    /// as the inner condition; the atoms serve the pack's candidate index.
    Witnessed(Vec<crate::pack::Atom>, Box<Cond>),
}

/// A test of one field: true when *any* scalar value of the field passes
/// (arrays are flattened; `null`, objects and a missing field pass nothing).
#[derive(Clone, Debug)]
pub struct Test {
    /// The field.
    pub field: FieldId,
    /// What each scalar value is tested with.
    pub op: TestOp,
}

/// Order comparisons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// The test applied to each scalar value of a field.
#[derive(Clone, Debug)]
pub enum TestOp {
    /// Equality with any member (`==`, `in`, `in~`): strings through a
    /// [`StrSet`] (folded when `ci`), numbers and booleans by value
    /// (`2 == 2.0`).
    In {
        /// String members.
        strs: StrSet,
        /// Numeric and boolean members.
        others: Vec<Value<'static>>,
        /// Case-insensitive string comparison.
        ci: bool,
    },
    /// An order comparison with one literal (strings by code point, numbers
    /// numerically, booleans `false < true`).
    Cmp {
        /// The operator, field on the left.
        op: CmpOp,
        /// The literal on the right.
        value: Value<'static>,
    },
    /// `:`, `like`, `like~`: the value is a string matching any pattern.
    Glob {
        /// Patterns without wildcards, as a set.
        exact: StrSet,
        /// Patterns with wildcards.
        globs: Vec<Glob>,
        /// Case-insensitive (value and patterns folded).
        ci: bool,
    },
    /// `regex`, `regex~`: the value is a string matching any pattern (each
    /// anchored to the whole string).
    Regex {
        /// The compiled patterns, in their search form
        /// ([`crate::RegexCache::search_form`]).
        res: Vec<regex::Regex>,
        /// Their sources, for EXPLAIN and literal extraction.
        sources: Vec<String>,
        /// `regex~`: case-insensitive.
        ci: bool,
    },
    /// `cidrMatch(field, "net", ...)` with no mapping: the value is a string
    /// that reads as an address (spaces around it trimmed) in one of the
    /// networks.
    Cidr {
        /// The networks that parse (one that does not contains nothing).
        nets: Vec<crate::Cidr>,
        /// Every network as written, for EXPLAIN.
        sources: Vec<String>,
    },
    /// A comparison with a literal on a field typed by an index mapping that
    /// the other tests cannot express (date ranges, IP networks, version
    /// order), applied to the field's normalized values.
    Typed(TypedTest),
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        })
    }
}

impl Cond {
    /// Pushes the field of every compiled test (not of generic leaves).
    ///
    /// ```
    /// use eql_plan::{Cond, FieldId, Test, TestOp, CmpOp, Value};
    /// let t = Cond::Test(Test { field: FieldId(3), op: TestOp::Cmp { op: CmpOp::Lt, value: Value::Int(1) } });
    /// let mut out = Vec::new();
    /// Cond::Not(Box::new(t)).test_fields(&mut out);
    /// assert_eq!(out, [FieldId(3)]);
    /// ```
    pub fn test_fields(&self, out: &mut Vec<FieldId>) {
        match self {
            Cond::Const(_) | Cond::Generic(_) | Cond::Null { .. } => {}
            Cond::And(cs) | Cond::Or(cs) => cs.iter().for_each(|c| c.test_fields(out)),
            Cond::Not(c) | Cond::Witnessed(_, c) => c.test_fields(out),
            Cond::Test(t) => out.push(t.field),
        }
    }

    /// Writes the condition as an indented tree (used by EXPLAIN).
    pub fn explain(&self, fields: &FieldTable, indent: usize, out: &mut String) {
        use fmt::Write;
        let pad = "  ".repeat(indent);
        match self {
            Cond::Const(b) => {
                let _ = writeln!(out, "{pad}const {b}");
            }
            Cond::And(cs) | Cond::Or(cs) => {
                let name = if matches!(self, Cond::And(_)) {
                    "and"
                } else {
                    "or"
                };
                let _ = writeln!(out, "{pad}{name}");
                for c in cs {
                    c.explain(fields, indent + 1, out);
                }
            }
            Cond::Not(c) => {
                let _ = writeln!(out, "{pad}not (no value passes)");
                c.explain(fields, indent + 1, out);
            }
            Cond::Test(t) => {
                let name = fields.path(t.field).dotted();
                let _ = match &t.op {
                    TestOp::In { strs, others, ci } => writeln!(
                        out,
                        "{pad}{name} in{} {:?} {:?}",
                        if *ci { "~" } else { "" },
                        strs.members(),
                        others
                    ),
                    TestOp::Cmp { op, value } => writeln!(out, "{pad}{name} {op} {value:?}"),
                    TestOp::Glob { exact, globs, ci } => writeln!(
                        out,
                        "{pad}{name} glob{} exact={:?} wildcards={:?}",
                        if *ci { "~" } else { "" },
                        exact.members(),
                        globs.iter().map(Glob::pattern).collect::<Vec<_>>()
                    ),
                    TestOp::Regex { sources, ci, .. } => writeln!(
                        out,
                        "{pad}{name} regex{} {sources:?}",
                        if *ci { "~" } else { "" }
                    ),
                    TestOp::Cidr { sources, .. } => {
                        writeln!(out, "{pad}{name} cidrMatch {sources:?}")
                    }
                    TestOp::Typed(t) => writeln!(out, "{pad}{name} {t}"),
                };
            }
            Cond::Generic(e) => {
                let _ = writeln!(out, "{pad}generic {e}");
            }
            Cond::Null { field, eq } => {
                let name = fields.path(*field).dotted();
                let op = if *eq { "==" } else { "!=" };
                let _ = writeln!(out, "{pad}{name} {op} null (whole value)");
            }
            Cond::Witnessed(atoms, c) => {
                let shown: Vec<String> = atoms
                    .iter()
                    .map(|a| {
                        format!(
                            "{} {}{} {:?}",
                            fields.path(a.field).dotted(),
                            match a.needle {
                                crate::pack::Needle::Exact => "==",
                                crate::pack::Needle::Contains => "contains",
                                crate::pack::Needle::Number => "== number",
                            },
                            if a.ci { "~" } else { "" },
                            a.text
                        )
                    })
                    .collect();
                let _ = writeln!(out, "{pad}witnessed by [{}]", shown.join(", "));
                c.explain(fields, indent + 1, out);
            }
        }
    }
}
