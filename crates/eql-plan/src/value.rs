//! Runtime values: what a field read from an event, a literal, or a function
//! result can be.
//!
//! A missing field is not a value: event access returns `Option<Value>` and
//! `None` means *missing*, kept distinct from [`Value::Null`] (JSON `null`).
//! Strings borrow from the event when they can ([`Cow`]).

use std::borrow::Cow;

/// A runtime value.
///
/// ```
/// use eql_plan::Value;
/// let v = Value::from("cmd.exe");
/// assert_eq!(v.as_str(), Some("cmd.exe"));
/// assert!(Value::Null.is_null());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    /// JSON `null` (also the result of null-propagating operations).
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer (JSON integers that fit `i64`).
    Int(i64),
    /// A float (JSON numbers with a fraction or exponent, or too big for `i64`).
    Float(f64),
    /// A string.
    Str(Cow<'a, str>),
    /// An array, kept as an array.
    Array(Vec<Value<'a>>),
    /// An object, with its keys in document order.
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
}

impl Value<'_> {
    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The items of a field's value as bulk field reads report them: the
    /// value itself, or each item of an array, with `null`s and objects left
    /// out (they never pass a test).
    ///
    /// ```
    /// use eql_plan::Value;
    /// let v = Value::Array(vec![Value::from("a"), Value::Null, Value::Array(vec![])]);
    /// assert_eq!(v.into_items().collect::<Vec<_>>(), [Value::from("a"), Value::Array(vec![])]);
    /// assert_eq!(Value::Null.into_items().count(), 0);
    /// assert_eq!(Value::Int(3).into_items().collect::<Vec<_>>(), [Value::Int(3)]);
    /// ```
    pub fn into_items(self) -> impl Iterator<Item = Self> {
        let items = match self {
            Value::Array(items) => items,
            x => vec![x],
        };
        items
            .into_iter()
            .filter(|x| !matches!(x, Value::Null | Value::Object(_)))
    }

    /// A copy that owns all its data.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Int(i) => Value::Int(i),
            Value::Float(f) => Value::Float(f),
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::Array(a) => Value::Array(a.into_iter().map(Value::into_owned).collect()),
            Value::Object(o) => Value::Object(
                o.into_iter()
                    .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                    .collect(),
            ),
        }
    }
}

impl Value<'static> {
    /// A literal's value; `None` for `null` (the evaluators' null).
    ///
    /// ```
    /// use eql_plan::Value;
    /// use eql_syntax::Literal;
    /// assert_eq!(Value::from_literal(&Literal::Int(3)), Some(Value::Int(3)));
    /// assert_eq!(Value::from_literal(&Literal::Null), None);
    /// ```
    pub fn from_literal(l: &eql_syntax::Literal) -> Option<Self> {
        use eql_syntax::Literal;
        match l {
            Literal::Null => None,
            Literal::Bool(b) => Some(Value::Bool(*b)),
            Literal::Int(i) => Some(Value::Int(*i)),
            Literal::Float(f) => Some(Value::Float(*f)),
            Literal::String(s) => Some(Value::Str(s.clone().into())),
        }
    }
}

impl<'a> Value<'a> {
    /// The categories of an event whose category field holds this value:
    /// the strings among its items ([`Value::into_items`]), that is the
    /// string itself or the strings of an array. The same test as
    /// [`category_matches`], for routing by category.
    ///
    /// ```
    /// use eql_plan::Value;
    /// let v = Value::Array(vec![Value::from("process"), Value::Int(1), Value::from("file")]);
    /// assert_eq!(v.into_categories().collect::<Vec<_>>(), ["process", "file"]);
    /// ```
    pub fn into_categories(self) -> impl Iterator<Item = Cow<'a, str>> {
        self.into_items().filter_map(|v| match v {
            Value::Str(s) => Some(s),
            _ => None,
        })
    }
}

/// True when an event whose category field holds `value` is of `category`
/// (`None` stands for `any`, every event): the value is the string, or an
/// array with the string among its items. The one category test of step
/// queries, single-event rules and lineage; [`Value::into_categories`]
/// gives the same answer for routing.
///
/// ```
/// use eql_plan::{category_matches, Value};
/// let v = Value::Array(vec![Value::from("network"), Value::from("process")]);
/// assert!(category_matches(Some("process"), Some(&v)));
/// assert!(!category_matches(Some("file"), Some(&v)));
/// assert!(!category_matches(Some("process"), None));
/// assert!(category_matches(None, None));
/// ```
pub fn category_matches(category: Option<&str>, value: Option<&Value<'_>>) -> bool {
    let Some(name) = category else {
        return true;
    };
    match value {
        Some(Value::Str(s)) => s == name,
        Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(name)),
        _ => false,
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Self {
        Value::Str(Cow::Borrowed(s))
    }
}

impl From<String> for Value<'_> {
    fn from(s: String) -> Self {
        Value::Str(Cow::Owned(s))
    }
}

impl From<i64> for Value<'_> {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<f64> for Value<'_> {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl From<bool> for Value<'_> {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

/// With the `serde` feature a value serializes as the JSON it stands for:
/// `Null` as `null`, numbers as numbers, strings as strings, arrays as
/// sequences and objects as maps with their keys in order. A non-finite
/// float becomes `null` in JSON, as `serde_json` writes it.
///
/// ```
/// use eql_plan::Value;
/// let v = Value::Object(vec![("a".into(), Value::Array(vec![Value::Int(1), Value::from("x")]))]);
/// assert_eq!(serde_json::to_string(&v).unwrap(), r#"{"a":[1,"x"]}"#);
/// ```
#[cfg(feature = "serde")]
impl serde::Serialize for Value<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Str(x) => s.serialize_str(x),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Object(members) => {
                let mut map = s.serialize_map(Some(members.len()))?;
                for (k, v) in members {
                    map.serialize_entry(k.as_ref(), v)?;
                }
                map.end()
            }
        }
    }
}

/// With the `serde` feature a value deserializes from any self-describing
/// format as JSON maps onto it: integers that fit `i64` become `Int`, other
/// numbers `Float`; strings are always owned (`Cow::Owned`), whatever
/// lifetime the target names.
///
/// ```
/// use eql_plan::Value;
/// let v: Value<'static> = serde_json::from_str(r#"{"n": 18446744073709551615, "s": "x", "z": null}"#).unwrap();
/// assert_eq!(v, Value::Object(vec![
///     ("n".into(), Value::Float(18446744073709551615.0)),
///     ("s".into(), Value::from("x".to_string())),
///     ("z".into(), Value::Null),
/// ]));
/// ```
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Value<'_> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor(std::marker::PhantomData))
    }
}

#[cfg(feature = "serde")]
struct ValueVisitor<'a>(std::marker::PhantomData<Value<'a>>);

#[cfg(feature = "serde")]
impl<'de, 'a> serde::de::Visitor<'de> for ValueVisitor<'a> {
    type Value = Value<'a>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON-like value")
    }
    fn visit_unit<E>(self) -> Result<Value<'a>, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value<'a>, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value<'a>, D::Error> {
        serde::Deserialize::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value<'a>, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value<'a>, E> {
        Ok(Value::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Value<'a>, E> {
        Ok(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Value<'a>, E> {
        Ok(Value::Float(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value<'a>, E> {
        Ok(Value::Str(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Value<'a>, E> {
        Ok(Value::Str(Cow::Owned(s)))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value<'a>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value<'a>, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some((k, v)) = map.next_entry::<String, Value<'a>>()? {
            members.push((Cow::Owned(k), v));
        }
        Ok(Value::Object(members))
    }
}
