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
