//! How a mapped field's values are read and compared: the value an event
//! holds is turned into the value Elasticsearch would have indexed
//! ([`FieldKind::normalize`]), and a query literal into what Elasticsearch's
//! term or range query on that field matches ([`FieldKind::operand`]).

use super::date::DateFormat;
use super::ip::{cidr_range, ip_bits, ip_text};
use super::version::VersionKey;
use crate::ir::CmpOp;
use crate::Value;
use eql_syntax::Literal;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// The width of an integer field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntWidth {
    /// `byte`
    Byte,
    /// `short`
    Short,
    /// `integer`
    Integer,
    /// `long`
    Long,
    /// `unsigned_long`
    UnsignedLong,
}

impl IntWidth {
    fn range(self) -> (f64, f64) {
        match self {
            IntWidth::Byte => (-128.0, 127.0),
            IntWidth::Short => (-32_768.0, 32_767.0),
            IntWidth::Integer => (-2_147_483_648.0, 2_147_483_647.0),
            IntWidth::Long => (-9.223_372_036_854_776e18, 9.223_372_036_854_776e18),
            IntWidth::UnsignedLong => (0.0, 1.844_674_407_370_955_2e19),
        }
    }
}

/// The precision of a floating-point field.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FloatWidth {
    /// `double`
    Double,
    /// `float`: values are rounded to 32 bits.
    Float,
    /// `half_float`: values are rounded to 16 bits.
    Half,
    /// `scaled_float`: values are stored as `round(value × factor)`.
    Scaled(f64),
}

impl FloatWidth {
    /// The value as the field stores it.
    fn round(self, f: f64) -> f64 {
        match self {
            FloatWidth::Double => f,
            FloatWidth::Float => f64::from(f as f32),
            FloatWidth::Half => half(f),
            FloatWidth::Scaled(k) => (f * k).round() / k,
        }
    }
}

/// Rounds to the nearest IEEE 754 half-precision value (ties to even),
/// through `f32`.
#[allow(clippy::many_single_char_names)]
fn half(f: f64) -> f64 {
    let x = f as f32;
    if !x.is_finite() || x == 0.0 {
        return f64::from(x);
    }
    let a = x.abs();
    if a >= 65_520.0 {
        return f64::from(f32::INFINITY.copysign(x));
    }
    // Spacing of half values around `a`: 2^(e-10) for normal numbers,
    // 2^-24 below the smallest normal (2^-14).
    let e = a.log2().floor().max(-14.0);
    let ulp = (e - 10.0).exp2();
    let q = f64::from(a) / f64::from(ulp);
    let r = q.round();
    let r = if (q - q.trunc() - 0.5).abs() < f64::EPSILON && r % 2.0 != 0.0 {
        r - 1.0
    } else {
        r
    };
    (r * f64::from(ulp)).copysign(f64::from(x))
}

/// How the values of one mapped field are read and compared.
///
/// ```
/// use eql_plan::mapping::Mapping;
/// use eql_plan::Value;
/// let m = Mapping::from_json(&serde_json::json!({"properties": {
///     "pid": {"type": "long"}, "name": {"type": "keyword", "ignore_above": 4}}})).unwrap();
/// let pid = m.get("pid").unwrap().kind().unwrap();
/// assert_eq!(pid.normalize(Value::from("42")), Some(Value::Int(42)));
/// assert_eq!(pid.normalize(Value::from("abc")), None); // malformed: not indexed
/// let name = m.get("name").unwrap().kind().unwrap();
/// assert_eq!(name.normalize(Value::Int(42)), Some(Value::from("42")));
/// assert_eq!(name.normalize(Value::from("longer")), None); // over ignore_above
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct FieldKind {
    pub(crate) ty: Ty,
    /// What an explicit JSON `null` is indexed as (`null_value`).
    pub(crate) null_value: Option<Value<'static>>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Ty {
    /// `keyword`, `wildcard`, `constant_keyword`, and the exact subfield a
    /// `text` field is compared through.
    Keyword {
        ignore_above: Option<u32>,
    },
    Version,
    Integer {
        width: IntWidth,
        coerce: bool,
    },
    Float {
        width: FloatWidth,
        coerce: bool,
    },
    Boolean,
    Date {
        nanos: bool,
        format: Arc<DateFormat>,
    },
    Ip,
    /// An optional field the mapping does not have: always null.
    Absent,
}

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

/// Length in UTF-16 code units (how `ignore_above` counts).
fn utf16_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().map(char::len_utf16).sum()
    }
}

/// A double as Java's `Double.toString` writes it (how Elasticsearch turns a
/// number into a keyword term): `2.0`, `0.1`, `1.0E7`, `1.5E-5`.
#[allow(clippy::many_single_char_names)]
pub(crate) fn java_double(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let a = f.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        return format!("{f:?}");
    }
    let e = format!("{f:e}");
    let (m, x) = e.split_once('e').unwrap_or((&e, "0"));
    let m = if m.contains('.') {
        m.to_owned()
    } else {
        format!("{m}.0")
    };
    format!("{m}E{x}")
}

/// The decimal text of a JSON number, as Elasticsearch reads a number given
/// for a date (up to six fraction digits).
fn number_text(v: &Value<'_>) -> Option<String> {
    match v {
        Value::Int(i) => Some(i.to_string()),
        Value::Float(f) if f.is_finite() => {
            if f.fract() == 0.0 && f.abs() < 9.2e18 {
                Some(format!("{}", *f as i64))
            } else {
                let s = format!("{f:.6}");
                Some(s.trim_end_matches('0').trim_end_matches('.').to_owned())
            }
        }
        _ => None,
    }
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

/// A number written in a string, as a numeric field's `coerce` reads it.
fn parse_number(s: &str) -> Option<Value<'static>> {
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::Int(i));
    }
    let looks_numeric = s
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E'));
    if !looks_numeric {
        return None;
    }
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(Value::Float)
}

impl FieldKind {
    pub(crate) fn new(ty: Ty) -> FieldKind {
        FieldKind {
            ty,
            null_value: None,
        }
    }

    /// The kind of an optional field the mapping does not have: every read is
    /// null.
    pub fn absent() -> FieldKind {
        FieldKind::new(Ty::Absent)
    }

    /// True for the string kinds (`keyword`, `wildcard`, `constant_keyword`,
    /// `version`), whose values are strings that `:`, `like`, `regex` and the
    /// string functions accept.
    pub fn is_string(&self) -> bool {
        matches!(self.ty, Ty::Keyword { .. } | Ty::Version)
    }

    /// True for `keyword`-like kinds, whose literals and values compare as
    /// strings with the dynamic semantics (no [`TypedTest`] needed).
    pub fn is_keyword(&self) -> bool {
        matches!(self.ty, Ty::Keyword { .. })
    }

    /// What an explicit JSON `null` is indexed as (the mapping's
    /// `null_value`), if anything.
    pub fn null_value(&self) -> Option<&Value<'static>> {
        self.null_value.as_ref()
    }

    /// True for the kind of an optional field the mapping does not have.
    pub fn is_absent(&self) -> bool {
        matches!(self.ty, Ty::Absent)
    }

    /// True for `ip`.
    pub fn is_ip(&self) -> bool {
        matches!(self.ty, Ty::Ip)
    }

    /// The value Elasticsearch would have indexed for one scalar of the
    /// field (an item of an array is read on its own): `None` when it would
    /// not be indexed (over `ignore_above`) or the value does not fit the
    /// type (Elasticsearch rejects such a document, or skips the value with
    /// `ignore_malformed`; here the value is left out, as
    /// `ignore_malformed` does). A JSON `null` becomes the `null_value`.
    pub fn normalize<'a>(&self, v: Value<'a>) -> Option<Value<'a>> {
        if matches!(v, Value::Null) {
            return self.null_value.clone();
        }
        if matches!(v, Value::Array(_) | Value::Object(_)) {
            return None;
        }
        match &self.ty {
            Ty::Absent => None,
            Ty::Keyword { ignore_above } => {
                let s: Cow<'a, str> = match v {
                    Value::Str(s) => s,
                    Value::Int(i) => Cow::Owned(i.to_string()),
                    Value::Float(f) => Cow::Owned(java_double(f)),
                    Value::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
                    _ => return None,
                };
                if let Some(n) = ignore_above {
                    if s.len() > *n as usize && utf16_len(&s) > *n as usize {
                        return None;
                    }
                }
                Some(Value::Str(s))
            }
            Ty::Version => match v {
                Value::Str(s) => Some(Value::Str(s)),
                Value::Bool(b) => Some(Value::Str(Cow::Borrowed(if b { "true" } else { "false" }))),
                other => number_text(&other).map(|t| Value::Str(Cow::Owned(t))),
            },
            Ty::Integer { width, coerce } => {
                let x = match v {
                    Value::Int(i) => Value::Int(i),
                    Value::Float(f) => Value::Float(f),
                    Value::Str(s) if s.is_empty() => return self.null_value.clone(),
                    Value::Str(s) if *coerce => parse_number(&s)?,
                    _ => return None,
                };
                let (lo, hi) = width.range();
                match x {
                    Value::Int(i) => {
                        let f = i as f64;
                        (lo <= f && f <= hi).then_some(Value::Int(i))
                    }
                    Value::Float(f) => {
                        if !f.is_finite() || (!*coerce && f.fract() != 0.0) {
                            return None;
                        }
                        let t = f.trunc();
                        if !(lo <= t && t <= hi) {
                            return None;
                        }
                        if t.abs() < 9.2e18 {
                            Some(Value::Int(t as i64))
                        } else {
                            Some(Value::Float(t))
                        }
                    }
                    _ => None,
                }
            }
            Ty::Float { width, coerce } => {
                let f = match v {
                    Value::Int(i) => i as f64,
                    Value::Float(f) => f,
                    Value::Str(s) if s.is_empty() => return self.null_value.clone(),
                    Value::Str(s) if *coerce => match parse_number(&s)? {
                        Value::Int(i) => i as f64,
                        Value::Float(f) => f,
                        _ => return None,
                    },
                    _ => return None,
                };
                let r = width.round(f);
                r.is_finite().then_some(Value::Float(r))
            }
            Ty::Boolean => match v {
                Value::Bool(b) => Some(Value::Bool(b)),
                Value::Str(s) => match s.as_ref() {
                    "true" => Some(Value::Bool(true)),
                    "false" | "" => Some(Value::Bool(false)),
                    _ => None,
                },
                _ => None,
            },
            Ty::Date { nanos, format } => {
                let n = match v {
                    Value::Str(s) => format.parse(&s, false)?,
                    other => format.parse(&number_text(&other)?, false)?,
                };
                resolution(n, *nanos).ok().map(Value::Int)
            }
            Ty::Ip => match v {
                Value::Str(s) => {
                    let bits = ip_bits(&s)?;
                    if super::ip::is_v4(&s) {
                        Some(Value::Str(s))
                    } else {
                        Some(Value::Str(Cow::Owned(ip_text(bits))))
                    }
                }
                _ => None,
            },
        }
    }

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
            Ty::Integer { .. } | Ty::Float { .. } => {
                let v = match lit {
                    Literal::Int(i) => Value::Int(*i),
                    Literal::Float(f) => Value::Float(*f),
                    Literal::String(s) => {
                        parse_number(s.trim()).ok_or_else(|| format!("[{s}] is not a number"))?
                    }
                    _ => return Err(format!("[{text}] is not a number")),
                };
                Ok(Operand::Value(match (&self.ty, v) {
                    (Ty::Float { width, .. }, Value::Int(i))
                        if rel == Rel::Eq || !matches!(width, FloatWidth::Scaled(_)) =>
                    {
                        Value::Float(width.round(i as f64))
                    }
                    (Ty::Float { width, .. }, Value::Float(f))
                        if rel == Rel::Eq || !matches!(width, FloatWidth::Scaled(_)) =>
                    {
                        Value::Float(width.round(f))
                    }
                    (_, v) => v,
                }))
            }
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
                let parse = |up: bool| -> Result<i64, String> {
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
                        _ => DateFormat::parse_millis_number(&text, up)
                            .ok_or_else(|| format!("failed to parse date field [{text}]"))?,
                    };
                    resolution(n, *nanos)
                };
                let range = match rel {
                    Rel::Eq => (parse(false)?, parse(true)?),
                    Rel::Ge => (parse(false)?, i64::MAX),
                    Rel::Gt => (parse(true)?.saturating_add(1), i64::MAX),
                    Rel::Le => (i64::MIN, parse(true)?),
                    Rel::Lt => (i64::MIN, parse(false)?.saturating_sub(1)),
                };
                Ok(Operand::Test(TypedTest::IntIn(vec![range])))
            }
            Ty::Ip => {
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
                            Rel::Gt if x == u128::MAX => {
                                return Ok(Operand::Test(TypedTest::IpIn(Vec::new())))
                            }
                            Rel::Gt => (x + 1, u128::MAX),
                            Rel::Lt if x == 0 => {
                                return Ok(Operand::Test(TypedTest::IpIn(Vec::new())))
                            }
                            _ => (0, x - 1),
                        }
                    }
                };
                Ok(Operand::Test(TypedTest::IpIn(vec![range])))
            }
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

/// Nanoseconds since the epoch in a date field's resolution: milliseconds
/// (rounded down), or nanoseconds within what a `date_nanos` holds (1970 to
/// 2262).
fn resolution(n: i128, nanos: bool) -> Result<i64, String> {
    if nanos {
        if n < 0 {
            return Err(
                "date is before the epoch in 1970 and cannot be stored in nanosecond resolution"
                    .into(),
            );
        }
        i64::try_from(n).map_err(|_| {
            "date is after 2262-04-11T23:47:16.854775807 and cannot be stored in nanosecond resolution".into()
        })
    } else {
        i64::try_from(n.div_euclid(1_000_000)).map_err(|_| "date out of range".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(nanos: bool) -> FieldKind {
        FieldKind::new(Ty::Date {
            nanos,
            format: Arc::new(DateFormat::default()),
        })
    }

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
    fn event_values_are_read_as_the_field_indexes_them() {
        let d = date(false);
        assert_eq!(d.normalize(Value::from("1")), Some(Value::Int(1)));
        assert_eq!(
            d.normalize(Value::Int(1_500_000)),
            Some(Value::Int(1_500_000))
        );
        // Four digits read as a year first, as in Elasticsearch.
        assert_eq!(
            d.normalize(Value::Int(1_500)),
            Some(Value::Int(-14_831_769_600_000))
        );
        assert_eq!(
            d.normalize(Value::from("1970-01-01T00:00:01.999999Z")),
            Some(Value::Int(1_999))
        );
        assert_eq!(d.normalize(Value::from("abc")), None);
        assert_eq!(d.normalize(Value::Bool(true)), None);
        let n = date(true);
        assert_eq!(
            n.normalize(Value::from("1970-01-01T00:00:01.000000002Z")),
            Some(Value::Int(1_000_000_002))
        );
        assert_eq!(n.normalize(Value::from("1969-01-01")), None);
        let long = FieldKind::new(Ty::Integer {
            width: IntWidth::Long,
            coerce: true,
        });
        assert_eq!(long.normalize(Value::from("42")), Some(Value::Int(42)));
        assert_eq!(long.normalize(Value::from("42.9")), Some(Value::Int(42)));
        assert_eq!(long.normalize(Value::Float(-1.5)), Some(Value::Int(-1)));
        assert_eq!(long.normalize(Value::from(" 42")), None);
        assert_eq!(long.normalize(Value::Bool(true)), None);
        let strict = FieldKind::new(Ty::Integer {
            width: IntWidth::Byte,
            coerce: false,
        });
        assert_eq!(strict.normalize(Value::from("1")), None);
        assert_eq!(strict.normalize(Value::Float(1.0)), Some(Value::Int(1)));
        assert_eq!(strict.normalize(Value::Float(1.5)), None);
        assert_eq!(strict.normalize(Value::Int(128)), None);
        let float = FieldKind::new(Ty::Float {
            width: FloatWidth::Float,
            coerce: true,
        });
        assert_eq!(
            float.normalize(Value::Float(0.1)),
            Some(Value::Float(f64::from(0.1f32)))
        );
        let b = FieldKind::new(Ty::Boolean);
        assert_eq!(b.normalize(Value::from("")), Some(Value::Bool(false)));
        assert_eq!(b.normalize(Value::from("yes")), None);
        let ip = FieldKind::new(Ty::Ip);
        assert_eq!(
            ip.normalize(Value::from("::ffff:10.0.0.1")),
            Some(Value::from("10.0.0.1"))
        );
        assert_eq!(
            ip.normalize(Value::from("0:0::1")),
            Some(Value::from("::1"))
        );
        assert_eq!(ip.normalize(Value::Int(1)), None);
        let kw = FieldKind {
            ty: Ty::Keyword {
                ignore_above: Some(3),
            },
            null_value: Some(Value::from("NULL")),
        };
        assert_eq!(kw.normalize(Value::Null), Some(Value::from("NULL")));
        assert_eq!(kw.normalize(Value::Float(2.0)), Some(Value::from("2.0")));
        assert_eq!(kw.normalize(Value::from("ééé")), Some(Value::from("ééé")));
        assert_eq!(kw.normalize(Value::from("abcd")), None);
        assert_eq!(kw.normalize(Value::Object(Vec::new())), None);
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

    #[test]
    fn doubles_print_as_java_does() {
        assert_eq!(java_double(2.0), "2.0");
        assert_eq!(java_double(0.1), "0.1");
        assert_eq!(java_double(-1.5e-5), "-1.5E-5");
        assert_eq!(java_double(12_345_678.0), "1.2345678E7");
        assert_eq!(half(0.1), 0.099_975_585_937_5);
        assert_eq!(half(1.0), 1.0);
    }
}
