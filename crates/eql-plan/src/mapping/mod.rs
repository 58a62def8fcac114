//! Elasticsearch index mappings: the type of each field, as `GET
//! index/_mapping` returns them, and what that type means for a query.
//!
//! Elasticsearch compares a field with a literal according to the field's
//! mapped type, not the JSON type of the value in the event: a `date` field
//! holds instants (`@timestamp == "2020-01-01"` is the whole day), a `long`
//! field indexed from the string `"42"` holds 42, a `keyword` field indexed
//! from the number 42 holds `"42"`, a `version` field orders `1.2 < 1.11`, an
//! `ip` field matches a CIDR network. A [`Mapping`] read from the JSON of a
//! mapping gives each field its [`FieldKind`], and [`bind`] checks a query
//! against it the way Elasticsearch's EQL verifier does and prepares it for
//! evaluation.
//!
//! Without a mapping the engine types values dynamically, from the JSON.

mod bind;
mod date;
mod dynamic;
mod ip;
mod kind;
mod operand;
mod params;
mod read;
mod similar;
mod version;

pub use bind::{bind, BindOptions, Bound, FieldKinds};
pub use date::{days_from_civil, days_in_month, format_date, DateFormat, DEFAULT_FORMAT};
pub use ip::{cidr_range, ip_bits, ip_text};
pub use kind::{FieldKind, FloatWidth, IntWidth};
pub use operand::{Members, Operand, Rel, TypedTest};
pub use version::VersionKey;

use std::collections::BTreeMap;
use std::fmt;

/// Why a document is not a mapping.
///
/// ```
/// use eql_plan::mapping::{Mapping, MappingError};
/// let err = Mapping::from_slice(br#"{"hits": []}"#).unwrap_err();
/// assert!(matches!(err, MappingError::NoProperties));
/// let err = Mapping::from_slice(br#"{"properties": {"a": {"type": "alias"}}}"#).unwrap_err();
/// assert_eq!(err.to_string(), "field [a]: an alias needs a `path`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    /// The bytes are not JSON.
    #[error("not JSON: {message} at line {line}, column {column}")]
    Json {
        /// serde_json's message.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// The document has no `properties` where a mapping has them.
    #[error(
        "not a mapping: no `properties` found (expected the output of `GET index/_mapping`, \
         `{{\"mappings\": {{\"properties\": ...}}}}` or `{{\"properties\": ...}}`)"
    )]
    NoProperties,
    /// A field's definition is malformed.
    #[error("field [{field}]: {why}")]
    Field {
        /// The dotted field name.
        field: String,
        /// What is wrong.
        why: String,
    },
}

/// One field of a mapping, as a query names it.
#[derive(Clone, Debug)]
pub struct MappedField {
    name: String,
    type_name: String,
    /// The field of the document that holds the value (a multi-field and an
    /// alias read another field's value).
    source: String,
    class: Class,
    /// The closest `nested` ancestor.
    nested_parent: Option<String>,
}

#[derive(Clone, Debug)]
enum Class {
    /// A field a query can compare.
    Value {
        kind: FieldKind,
        /// A `keyword` with a `normalizer`.
        normalized: bool,
        /// A `constant_keyword`'s `value`.
        constant: Option<String>,
    },
    /// `text`-like: compared through its exact (keyword) multi-field, if any.
    Text {
        exact: Vec<String>,
    },
    Object,
    Nested,
    Unsupported,
    /// Mapped with different types in the indices of one mapping document.
    Conflict(String),
}

/// What [`MappedField::usable`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Usability {
    /// A value field.
    Ok,
    /// A reason the field cannot be used, in Elasticsearch's words.
    No(String),
}

impl MappedField {
    /// The name as the query writes it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The mapped type (`keyword`, `long`, `date`, ...; an alias has its
    /// target's type).
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The dotted path of the document field holding the value.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// How values are read and compared; `None` for `text` without an exact
    /// subfield, objects and unsupported types.
    pub fn kind(&self) -> Option<&FieldKind> {
        match &self.class {
            Class::Value { kind, .. } => Some(kind),
            _ => None,
        }
    }

    /// A `constant_keyword`'s value, when the mapping sets it.
    pub fn constant(&self) -> Option<&str> {
        match &self.class {
            Class::Value { constant, .. } => constant.as_deref(),
            _ => None,
        }
    }

    /// A `keyword` field with a `normalizer`.
    pub fn is_normalized(&self) -> bool {
        matches!(
            self.class,
            Class::Value {
                normalized: true,
                ..
            }
        )
    }

    /// The name of the exact (keyword) multi-field a `text` field is
    /// compared through.
    pub fn exact(&self) -> Option<&str> {
        match &self.class {
            Class::Text { exact } if exact.len() == 1 => exact.first().map(String::as_str),
            _ => None,
        }
    }

    /// True for `text`-like fields.
    pub fn is_text(&self) -> bool {
        matches!(self.class, Class::Text { .. })
    }

    /// Whether a query can read the field at all, with Elasticsearch's
    /// message when it cannot (objects, `nested`, unsupported types,
    /// conflicting types).
    pub fn usable(&self) -> Usability {
        let name = &self.name;
        match &self.class {
            Class::Object => Usability::No(format!(
                "Cannot use field [{name}] type [object] only its subfields"
            )),
            Class::Nested => Usability::No(format!(
                "Cannot use field [{name}] type [nested] due to nested fields not being supported yet"
            )),
            Class::Unsupported => Usability::No(format!(
                "Cannot use field [{name}] with unsupported type [{}]",
                self.type_name
            )),
            Class::Conflict(why) => Usability::No(format!(
                "Cannot use field [{name}] due to ambiguities being {why}"
            )),
            Class::Value { .. } | Class::Text { .. } => match &self.nested_parent {
                Some(p) => Usability::No(format!(
                    "Cannot use field [{name}] type [{}] with unsupported nested type in hierarchy (field [{p}])",
                    self.type_name
                )),
                None => Usability::Ok,
            },
        }
    }

    /// True for a field a query can compare (not an object, nested or
    /// unsupported): the candidates of a "did you mean".
    fn is_primitive(&self) -> bool {
        matches!(self.class, Class::Value { .. } | Class::Text { .. })
    }
}

/// An Elasticsearch mapping: every field by its dotted name.
///
/// ```
/// use eql_plan::mapping::Mapping;
/// let m = Mapping::from_slice(br#"{"my-index": {"mappings": {"properties": {
///     "@timestamp": {"type": "date"},
///     "process": {"properties": {
///         "name": {"type": "keyword", "fields": {"text": {"type": "match_only_text"}}},
///         "pid": {"type": "long"}}},
///     "tags": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
///     "event": {"properties": {"category": {"type": "alias", "path": "event_type"}}},
///     "event_type": {"type": "keyword"}}}}}"#).unwrap();
/// assert_eq!(m.get("process.pid").unwrap().type_name(), "long");
/// assert_eq!(m.get("process.name.text").unwrap().source(), "process.name");
/// assert_eq!(m.get("event.category").unwrap().source(), "event_type");
/// assert_eq!(m.get("tags").unwrap().exact(), Some("tags.keyword"));
/// assert!(m.get("process").unwrap().kind().is_none()); // an object
/// assert!(m.get("nope").is_none());
/// ```
#[derive(Clone, Debug, Default)]
pub struct Mapping {
    fields: BTreeMap<String, MappedField>,
}

impl Mapping {
    /// An empty mapping (every field unknown).
    pub fn new() -> Mapping {
        Mapping::default()
    }

    /// The field a query names `name`.
    pub fn get(&self, name: &str) -> Option<&MappedField> {
        self.fields.get(name)
    }

    /// Every field, by name.
    pub fn fields(&self) -> impl Iterator<Item = &MappedField> {
        self.fields.values()
    }

    /// Number of fields (objects included).
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True when the mapping has no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The document field a query's field `name` reads: the alias target or
    /// multi-field parent when `name` is one, else `name` itself.
    ///
    /// ```
    /// use eql_plan::mapping::Mapping;
    /// let m = Mapping::from_json(&serde_json::json!({"properties": {
    ///     "event_type": {"type": "keyword"},
    ///     "event": {"properties": {"category": {"type": "alias", "path": "event_type"}}}}})).unwrap();
    /// assert_eq!(m.source_of("event.category"), "event_type");
    /// assert_eq!(m.source_of("unmapped"), "unmapped");
    /// ```
    pub fn source_of<'a>(&'a self, name: &'a str) -> &'a str {
        self.get(name).map_or(name, |f| f.source.as_str())
    }

    fn insert(&mut self, f: MappedField) {
        self.fields.insert(f.name.clone(), f);
    }

    /// The full name of member `key` of the object at `prefix`. A dotted key
    /// is a path of objects: those it passes through are added.
    fn member_name(&mut self, prefix: &str, key: &str, nested: Option<&str>) -> String {
        let mut name = prefix.to_owned();
        let parts: Vec<&str> = key.split('.').collect();
        let last = parts.len().saturating_sub(1);
        for (i, part) in parts.iter().enumerate() {
            if !name.is_empty() {
                name.push('.');
            }
            name.push_str(part);
            if i < last && !self.fields.contains_key(&name) {
                self.insert(object(&name, Class::Object, nested));
            }
        }
        name
    }
}

/// An object (or, with [`Class::Nested`], a `nested`) field named `name`.
fn object(name: &str, class: Class, nested: Option<&str>) -> MappedField {
    MappedField {
        name: name.to_owned(),
        type_name: if matches!(class, Class::Nested) {
            "nested"
        } else {
            "object"
        }
        .into(),
        source: name.to_owned(),
        class,
        nested_parent: nested.map(str::to_owned),
    }
}

/// The class of a plain value field of `kind`.
fn value_class(kind: FieldKind) -> Class {
    Class::Value {
        kind,
        normalized: false,
        constant: None,
    }
}

impl fmt::Display for Mapping {
    /// One line per field: name, type, and the document field it reads when
    /// that is another.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for field in self.fields.values() {
            write!(f, "{} {}", field.name, field.type_name)?;
            if field.source != field.name {
                write!(f, " (reads {})", field.source)?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
