//! The query side of a mapped field: what Elasticsearch's term or range
//! query on the field matches for a literal ([`FieldKind::operand`]), and the
//! members of an `in` ([`FieldKind::members`]).

use super::date::DateFormat;
use super::ip::{cidr_range, ip_bits, ip_text};
use super::kind::{java_double, parse_number, resolution, FloatWidth, Ty};
use super::version::VersionKey;
use super::FieldKind;
use crate::ir::CmpOp;
use crate::Value;
use eql_syntax::Literal;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

/// A comparison of a field with a literal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rel {
    /// `==` (also each member of `in`)
    Eq,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Rel {
    /// The relation with the operands swapped (`3 < x` is `x > 3`).
    pub fn flip(self) -> Rel {
        match self {
            Rel::Eq => Rel::Eq,
            Rel::Lt => Rel::Gt,
            Rel::Le => Rel::Ge,
            Rel::Gt => Rel::Lt,
            Rel::Ge => Rel::Le,
        }
    }

    fn cmp_op(self) -> Option<CmpOp> {
        match self {
            Rel::Eq => None,
            Rel::Lt => Some(CmpOp::Lt),
            Rel::Le => Some(CmpOp::Le),
            Rel::Gt => Some(CmpOp::Gt),
            Rel::Ge => Some(CmpOp::Ge),
        }
    }
}

/// What a field's (normalized) values are compared with, for one literal.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// Compare with this value as the dynamic semantics do (strings by code
    /// point, numbers numerically, booleans).
    Value(Value<'static>),
    /// A test of its own.
    Test(TypedTest),
}

/// A comparison the dynamic semantics cannot express: date ranges, IP
/// networks and version order. Applied to each normalized value of the field.
#[derive(Clone, Debug, PartialEq)]
pub enum TypedTest {
    /// An integer (a date in the field's resolution) within any of the
    /// inclusive ranges.
    IntIn(Vec<(i64, i64)>),
    /// An address within any of the inclusive ranges.
    IpIn(Vec<(u128, u128)>),
    /// A version compared with this one.
    Version(CmpOp, VersionKey),
}

impl TypedTest {
    /// True when the normalized value `v` passes.
    ///
    /// ```
    /// use eql_plan::mapping::TypedTest;
    /// use eql_plan::Value;
    /// let t = TypedTest::IntIn(vec![(10, 20)]);
    /// assert!(t.test(&Value::Int(15)) && !t.test(&Value::Int(21)) && !t.test(&Value::from("15")));
    /// ```
    pub fn test(&self, v: &Value<'_>) -> bool {
        match (self, v) {
            (TypedTest::IntIn(ranges), Value::Int(i)) => {
                ranges.iter().any(|(lo, hi)| lo <= i && i <= hi)
            }
            (TypedTest::IpIn(ranges), Value::Str(s)) => {
                ip_bits(s).is_some_and(|x| ranges.iter().any(|(lo, hi)| *lo <= x && x <= *hi))
            }
            (TypedTest::Version(op, key), Value::Str(s)) => {
                let ord = VersionKey::new(s).cmp(key);
                match op {
                    CmpOp::Lt => ord == Ordering::Less,
                    CmpOp::Le => ord != Ordering::Greater,
                    CmpOp::Gt => ord == Ordering::Greater,
                    CmpOp::Ge => ord != Ordering::Less,
                }
            }
            _ => false,
        }
    }

    /// The union of two tests of the same sort (the members of an `in`);
    /// `None` for tests of different sorts.
    fn union(self, other: TypedTest) -> Option<TypedTest> {
        match (self, other) {
            (TypedTest::IntIn(mut a), TypedTest::IntIn(b)) => {
                a.extend(b);
                Some(TypedTest::IntIn(a))
            }
            (TypedTest::IpIn(mut a), TypedTest::IpIn(b)) => {
                a.extend(b);
                Some(TypedTest::IpIn(a))
            }
            _ => None,
        }
    }
}

impl fmt::Display for TypedTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypedTest::IntIn(r) => write!(f, "within {r:?}"),
            TypedTest::IpIn(r) => {
                let shown: Vec<String> = r
                    .iter()
                    .map(|(lo, hi)| format!("{}..{}", ip_text(*lo), ip_text(*hi)))
                    .collect();
                write!(f, "ip within {shown:?}")
            }
            TypedTest::Version(op, key) => write!(f, "version {op} {key:?}"),
        }
    }
}

/// The members of an `in` on a mapped field.
#[derive(Clone, Debug, PartialEq)]
pub enum Members {
    /// Compared as the dynamic semantics compare values.
    Values(Vec<Value<'static>>),
    /// One test covering every member.
    Test(TypedTest),
}

fn literal_text(l: &Literal) -> Option<String> {
    match l {
        Literal::String(s) => Some(s.clone()),
        Literal::Int(i) => Some(i.to_string()),
        Literal::Float(f) => Some(java_double(*f)),
        Literal::Bool(b) => Some(b.to_string()),
        Literal::Null => None,
    }
}

impl FieldKind {
    /// What the field's normalized values are compared with for `field rel
    /// lit`, as Elasticsearch's term or range query on the field reads
    /// `lit`; an error message when that query would fail (a literal that
    /// does not parse as the field's type). `lit` is not `null`.
    ///
    /// ```
    /// use eql_plan::mapping::{Mapping, Operand, Rel, TypedTest};
    /// use eql_syntax::Literal;
    /// let m = Mapping::from_json(&serde_json::json!({"properties": {"t": {"type": "date"}}})).unwrap();
    /// let t = m.get("t").unwrap().kind().unwrap();
    /// // A date string matches the whole span it leaves open: here one second.
    /// let op = t.operand(Rel::Eq, &Literal::String("1970-01-01T00:00:01Z".into())).unwrap();
    /// assert_eq!(op, Operand::Test(TypedTest::IntIn(vec![(1000, 1999)])));
    /// assert!(t.operand(Rel::Eq, &Literal::String("yesterday".into())).is_err());
    /// ```
    pub fn operand(&self, rel: Rel, lit: &Literal) -> Result<Operand, String> {
        let text = literal_text(lit).ok_or_else(|| "a null literal".to_owned())?;
        match &self.ty {
            Ty::Absent => Err("a field the mapping does not have".into()),
            Ty::Keyword { .. } => Ok(Operand::Value(Value::Str(Cow::Owned(text)))),
            Ty::Version => match rel.cmp_op() {
                None => Ok(Operand::Value(Value::Str(Cow::Owned(text)))),
                Some(op) => Ok(Operand::Test(TypedTest::Version(
                    op,
                    VersionKey::new(&text),
                ))),
            },
            Ty::Integer { .. } => number_operand(rel, lit, &text, None),
            Ty::Float { width, .. } => number_operand(rel, lit, &text, Some(*width)),
            Ty::Boolean => match lit {
                Literal::Bool(b) => Ok(Operand::Value(Value::Bool(*b))),
                Literal::String(s) if s == "true" => Ok(Operand::Value(Value::Bool(true))),
                Literal::String(s) if s == "false" || s.is_empty() => {
                    Ok(Operand::Value(Value::Bool(false)))
                }
                _ => Err(format!(
                    "Can't parse boolean value [{text}], expected [true] or [false]"
                )),
            },
            Ty::Date { nanos, format } => {
                let bound = |up| date_bound(lit, &text, format, *nanos, up);
                let range = match rel {
                    Rel::Eq => (bound(false)?, bound(true)?),
                    Rel::Ge => (bound(false)?, i64::MAX),
                    Rel::Gt => (bound(true)?.saturating_add(1), i64::MAX),
                    Rel::Le => (i64::MIN, bound(true)?),
                    Rel::Lt => (i64::MIN, bound(false)?.saturating_sub(1)),
                };
                Ok(Operand::Test(TypedTest::IntIn(vec![range])))
            }
            Ty::Ip => ip_operand(rel, lit, &text),
        }
    }

    /// The members of `field in (lits...)`: each compared as `==` is.
    pub fn members(&self, lits: &[&Literal]) -> Result<Members, String> {
        let mut values = Vec::new();
        let mut test: Option<TypedTest> = None;
        for l in lits {
            match self.operand(Rel::Eq, l)? {
                Operand::Value(v) => values.push(v),
                Operand::Test(t) => {
                    test = Some(match test {
                        None => t,
                        Some(prev) => prev
                            .union(t)
                            .ok_or_else(|| "members of different sorts".to_owned())?,
                    });
                }
            }
        }
        match (test, values.is_empty()) {
            (Some(t), true) => Ok(Members::Test(t)),
            (None, _) => Ok(Members::Values(values)),
            (Some(_), false) => Err("members of different sorts".into()),
        }
    }
}

/// A numeric field's operand: a number literal, or a number in a string.
/// A floating-point field (`width`) compares it rounded as it stores values,
/// except in a range on a `scaled_float`.
fn number_operand(
    rel: Rel,
    lit: &Literal,
    text: &str,
    width: Option<FloatWidth>,
) -> Result<Operand, String> {
    let v = match lit {
        Literal::Int(i) => Value::Int(*i),
        Literal::Float(f) => Value::Float(*f),
        Literal::String(s) => {
            parse_number(s.trim()).ok_or_else(|| format!("[{s}] is not a number"))?
        }
        _ => return Err(format!("[{text}] is not a number")),
    };
    Ok(Operand::Value(match (width, v) {
        (Some(width), Value::Int(i))
            if rel == Rel::Eq || !matches!(width, FloatWidth::Scaled(_)) =>
        {
            Value::Float(width.round(i as f64))
        }
        (Some(width), Value::Float(f))
            if rel == Rel::Eq || !matches!(width, FloatWidth::Scaled(_)) =>
        {
            Value::Float(width.round(f))
        }
        (_, v) => v,
    }))
}

/// The instant a date literal stands for in the field's resolution: its
/// first (or, with `up`, its last) instant. A string is read with the
/// field's format, a number as epoch milliseconds; date math is not
/// supported.
fn date_bound(
    lit: &Literal,
    text: &str,
    format: &DateFormat,
    nanos: bool,
    up: bool,
) -> Result<i64, String> {
    let n = match lit {
        Literal::String(s) => {
            if s.starts_with("now") || s.contains("||") {
                return Err(format!("date math is not supported: [{s}]"));
            }
            format.parse(s, up).ok_or_else(|| {
                format!(
                    "failed to parse date field [{s}] with format [{}]",
                    format.spec()
                )
            })?
        }
        _ => DateFormat::parse_millis_number(text, up)
            .ok_or_else(|| format!("failed to parse date field [{text}]"))?,
    };
    resolution(n, nanos)
}

/// An IP field's operand: a CIDR network for `==`, an address bound for a
/// range.
fn ip_operand(rel: Rel, lit: &Literal, text: &str) -> Result<Operand, String> {
    let Literal::String(s) = lit else {
        return Err(format!("[{text}] is not an IP string literal"));
    };
    let bad = || format!("[{s}] is not an IP string literal");
    let range = match rel {
        Rel::Eq => cidr_range(s).ok_or_else(bad)?,
        _ => {
            let x = ip_bits(s).ok_or_else(bad)?;
            match rel {
                Rel::Ge => (x, u128::MAX),
                Rel::Le => (0, x),
                Rel::Gt if x == u128::MAX => return Ok(Operand::Test(TypedTest::IpIn(Vec::new()))),
                Rel::Gt => (x + 1, u128::MAX),
                Rel::Lt if x == 0 => return Ok(Operand::Test(TypedTest::IpIn(Vec::new()))),
                _ => (0, x - 1),
            }
        }
    };
    Ok(Operand::Test(TypedTest::IpIn(vec![range])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::kind::tests::date;
    use crate::mapping::IntWidth;

    fn range(k: &FieldKind, rel: Rel, l: Literal) -> Vec<(i64, i64)> {
        match k.operand(rel, &l) {
            Ok(Operand::Test(TypedTest::IntIn(r))) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn date_literals_follow_the_range_query_rounding() {
        let d = date(false);
        let s = |x: &str| Literal::String(x.into());
        // 2017-08-30T20:47:33Z is 1504126053 s.
        let t = 1_504_126_053_000i64;
        assert_eq!(
            range(&d, Rel::Eq, s("2017-08-30T20:47:33Z")),
            [(t, t + 999)]
        );
        assert_eq!(
            range(&d, Rel::Gt, s("2017-08-30T20:47:33Z")),
            [(t + 1000, i64::MAX)]
        );
        assert_eq!(
            range(&d, Rel::Ge, s("2017-08-30T20:47:33Z")),
            [(t, i64::MAX)]
        );
        assert_eq!(
            range(&d, Rel::Lt, s("2017-08-30T20:47:33Z")),
            [(i64::MIN, t - 1)]
        );
        assert_eq!(
            range(&d, Rel::Le, s("2017-08-30T20:47:33Z")),
            [(i64::MIN, t + 999)]
        );
        // Numbers are epoch milliseconds, whatever the format.
        assert_eq!(
            range(&d, Rel::Eq, Literal::Int(1_516_116_808_349)),
            [(1_516_116_808_349, 1_516_116_808_349)]
        );
        // date_nanos keeps the nanoseconds; a millisecond number covers its millisecond.
        let n = date(true);
        assert_eq!(
            range(&n, Rel::Eq, s("1974-03-03T02:22:54.294365140Z")),
            [(131_509_374_294_365_140, 131_509_374_294_365_140)]
        );
        assert_eq!(
            range(&n, Rel::Eq, Literal::Int(5)),
            [(5_000_000, 5_999_999)]
        );
        assert!(n.operand(Rel::Eq, &s("1969-12-31")).is_err());
        assert!(d.operand(Rel::Eq, &s("2020-02-41")).is_err());
        assert!(d.operand(Rel::Gt, &s("now-1d")).is_err());
        assert!(d.operand(Rel::Eq, &Literal::Bool(true)).is_err());
    }

    #[test]
    fn literals_of_the_other_kinds() {
        let kw = FieldKind::new(Ty::Keyword { ignore_above: None });
        assert_eq!(
            kw.operand(Rel::Eq, &Literal::Int(42)),
            Ok(Operand::Value(Value::from("42")))
        );
        assert_eq!(
            kw.operand(Rel::Eq, &Literal::Float(1e7)),
            Ok(Operand::Value(Value::from("1.0E7")))
        );
        let long = FieldKind::new(Ty::Integer {
            width: IntWidth::Long,
            coerce: true,
        });
        assert_eq!(
            long.operand(Rel::Eq, &Literal::String("42".into())),
            Ok(Operand::Value(Value::Int(42)))
        );
        assert!(long
            .operand(Rel::Eq, &Literal::String("abc".into()))
            .is_err());
        let ip = FieldKind::new(Ty::Ip);
        let Ok(Operand::Test(t)) = ip.operand(Rel::Eq, &Literal::String("10.0.0.0/8".into()))
        else {
            panic!()
        };
        assert!(t.test(&Value::from("10.1.2.3")) && !t.test(&Value::from("11.0.0.0")));
        assert!(ip
            .operand(Rel::Gt, &Literal::String("10.0.0.0/8".into()))
            .is_err());
        let v = FieldKind::new(Ty::Version);
        let Ok(Operand::Test(t)) = v.operand(Rel::Gt, &Literal::String("1.5.0".into())) else {
            panic!()
        };
        assert!(
            t.test(&Value::from("1.11.3"))
                && !t.test(&Value::from("1.2.4"))
                && t.test(&Value::from("bad"))
        );
        let m = date(false)
            .members(&[&Literal::Int(1), &Literal::Int(5)])
            .unwrap();
        assert_eq!(m, Members::Test(TypedTest::IntIn(vec![(1, 1), (5, 5)])));
    }
}
