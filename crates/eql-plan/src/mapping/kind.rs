//! How a mapped field's values are read: the value an event holds is
//! turned into the value Elasticsearch would have indexed
//! ([`FieldKind::normalize`]). The query side, what a literal compared with
//! the field matches, is [`FieldKind::operand`].

use super::date::DateFormat;
use super::ip::{ip_bits, ip_text};
use crate::Value;
use std::borrow::Cow;
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
    pub(super) fn round(self, f: f64) -> f64 {
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

/// A number written in a string, as a numeric field's `coerce` reads it.
pub(super) fn parse_number(s: &str) -> Option<Value<'static>> {
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
    /// strings with the dynamic semantics (no [`TypedTest`](super::TypedTest) needed).
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
            Ty::Keyword { ignore_above } => keyword_value(v, *ignore_above),
            Ty::Version => match v {
                Value::Str(s) => Some(Value::Str(s)),
                Value::Bool(b) => Some(Value::Str(Cow::Borrowed(if b { "true" } else { "false" }))),
                other => number_text(&other).map(|t| Value::Str(Cow::Owned(t))),
            },
            Ty::Integer { width, coerce } => match v {
                Value::Str(s) if s.is_empty() => self.null_value.clone(),
                v => integer_value(v, *width, *coerce),
            },
            Ty::Float { width, coerce } => match v {
                Value::Str(s) if s.is_empty() => self.null_value.clone(),
                v => float_value(v, *width, *coerce),
            },
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
}

/// A keyword field's value: the text of a scalar, unless longer than
/// `ignore_above`.
fn keyword_value(v: Value<'_>, ignore_above: Option<u32>) -> Option<Value<'_>> {
    let s: Cow<'_, str> = match v {
        Value::Str(s) => s,
        Value::Int(i) => Cow::Owned(i.to_string()),
        Value::Float(f) => Cow::Owned(java_double(f)),
        Value::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
        _ => return None,
    };
    if let Some(n) = ignore_above {
        if s.len() > n as usize && utf16_len(&s) > n as usize {
            return None;
        }
    }
    Some(Value::Str(s))
}

/// An integer field's value: a number (or, with `coerce`, a number in a
/// string) within the width, truncated toward zero.
fn integer_value(v: Value<'_>, width: IntWidth, coerce: bool) -> Option<Value<'static>> {
    let x = match v {
        Value::Int(i) => Value::Int(i),
        Value::Float(f) => Value::Float(f),
        Value::Str(s) if coerce => parse_number(&s)?,
        _ => return None,
    };
    let (lo, hi) = width.range();
    match x {
        Value::Int(i) => {
            let f = i as f64;
            (lo <= f && f <= hi).then_some(Value::Int(i))
        }
        Value::Float(f) => {
            if !f.is_finite() || (!coerce && f.fract() != 0.0) {
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

/// A floating-point field's value: a number (or, with `coerce`, a number in
/// a string) rounded as the width stores it.
fn float_value(v: Value<'_>, width: FloatWidth, coerce: bool) -> Option<Value<'static>> {
    let f = match v {
        Value::Int(i) => i as f64,
        Value::Float(f) => f,
        Value::Str(s) if coerce => match parse_number(&s)? {
            Value::Int(i) => i as f64,
            Value::Float(f) => f,
            _ => return None,
        },
        _ => return None,
    };
    let r = width.round(f);
    r.is_finite().then_some(Value::Float(r))
}

/// Nanoseconds since the epoch in a date field's resolution: milliseconds
/// (rounded down), or nanoseconds within what a `date_nanos` holds (1970 to
/// 2262).
pub(super) fn resolution(n: i128, nanos: bool) -> Result<i64, String> {
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
pub(super) mod tests {
    use super::*;

    /// A date (or `date_nanos`) field with the default format.
    pub(in crate::mapping) fn date(nanos: bool) -> FieldKind {
        FieldKind::new(Ty::Date {
            nanos,
            format: Arc::new(DateFormat::default()),
        })
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
    fn doubles_print_as_java_does() {
        assert_eq!(java_double(2.0), "2.0");
        assert_eq!(java_double(0.1), "0.1");
        assert_eq!(java_double(-1.5e-5), "-1.5E-5");
        assert_eq!(java_double(12_345_678.0), "1.2345678E7");
        assert_eq!(half(0.1), 0.099_975_585_937_5);
        assert_eq!(half(1.0), 1.0);
    }
}
