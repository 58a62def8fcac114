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
mod ip;
mod kind;
mod version;

pub use bind::{bind, BindOptions, Bound, FieldKinds};
pub use date::{days_from_civil, days_in_month, format_date, DateFormat, DEFAULT_FORMAT};
pub use ip::{cidr_range, ip_bits, ip_text};
pub use kind::{FieldKind, FloatWidth, IntWidth, Members, Operand, Rel, TypedTest};
pub use version::VersionKey;

use kind::Ty;
use serde_json::{Map, Value as Json};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

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

    /// Reads a mapping from JSON bytes: the output of `GET index/_mapping`
    /// (one or more indices; a field mapped with different types in two
    /// indices cannot be queried), `{"mappings": ...}`, `{"properties": ...}`
    /// or an index or component template (`{"template": {"mappings": ...}}`).
    pub fn from_slice(bytes: &[u8]) -> Result<Mapping, MappingError> {
        let json: Json = serde_json::from_slice(bytes).map_err(|e| MappingError::Json {
            message: e.to_string(),
            line: e.line(),
            column: e.column(),
        })?;
        Mapping::from_json(&json)
    }

    /// [`Mapping::from_slice`] of a parsed document.
    pub fn from_json(json: &Json) -> Result<Mapping, MappingError> {
        let mut roots = Vec::new();
        find_roots(json, None, &mut roots, 0);
        if roots.is_empty() {
            return Err(MappingError::NoProperties);
        }
        let mut out = Mapping::new();
        for (index, root) in roots {
            let mut one = Mapping::new();
            let mut aliases = Vec::new();
            if let Some(props) = root.get("properties") {
                let Json::Object(props) = props else {
                    return Err(MappingError::Field {
                        field: "properties".into(),
                        why: format!("expected an object, found {}", json_kind(props)),
                    });
                };
                one.walk(props, "", None, &mut aliases)?;
            }
            if let Some(Json::Object(runtime)) = root.get("runtime") {
                for (name, def) in runtime {
                    let Json::Object(def) = def else {
                        return Err(field_err(
                            name,
                            format!("expected an object, found {}", json_kind(def)),
                        ));
                    };
                    if def.contains_key("script") {
                        let ty = type_of(name, def)?.unwrap_or("object").to_owned();
                        one.insert(MappedField {
                            name: name.clone(),
                            type_name: format!("{ty} (runtime script)"),
                            source: name.clone(),
                            class: Class::Unsupported,
                            nested_parent: None,
                        });
                    } else {
                        one.leaf(name, name, def, None, &mut aliases)?;
                    }
                }
            }
            one.resolve_aliases(aliases)?;
            out.merge(one, index);
        }
        Ok(out)
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

    /// Names similar to `name` (Elasticsearch's "did you mean"): fields a
    /// query can compare whose Levenshtein similarity to `name` is at least
    /// one half, most similar first.
    pub fn similar(&self, name: &str) -> Vec<&str> {
        let fast = Myers::new(name);
        let mut scored: Vec<(f32, &str)> = self
            .fields
            .values()
            .filter(|f| f.is_primitive())
            .filter_map(|f| {
                let s = match &fast {
                    Some(m) if f.name.is_ascii() => {
                        let n = name.len().max(f.name.len());
                        1.0 - m.distance(f.name.as_bytes()) as f32 / n as f32
                    }
                    _ => similarity(name, &f.name),
                };
                (s >= 0.5).then_some((s, f.name.as_str()))
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.into_iter().map(|(_, n)| n).collect()
    }

    /// Adds the fields of `doc` that the mapping lacks, typed as
    /// Elasticsearch's dynamic mapping types them when it indexes the
    /// document: a string that reads as `strict_date_optional_time` or
    /// `yyyy/MM/dd HH:mm:ss Z||yyyy/MM/dd Z` becomes a `date`, any other
    /// string `text` with a `keyword` multi-field (`ignore_above` 256), an
    /// integer `long`, a decimal `float`, a boolean `boolean`, an object an
    /// `object`; an array takes the type of its first non-null item. Fields
    /// already mapped keep their type. Feed the documents in indexing order:
    /// the first one to hold a field decides its type.
    ///
    /// ```
    /// use eql_plan::mapping::Mapping;
    /// let mut m = Mapping::new();
    /// m.map_dynamically(&serde_json::json!({"a": "x", "b": 1, "c": "2020-01-01", "d": {"e": true}, "f.g": [null, 1.5]}));
    /// assert_eq!(m.get("a").unwrap().type_name(), "text");
    /// assert_eq!(m.get("a.keyword").unwrap().type_name(), "keyword");
    /// assert_eq!(m.get("b").unwrap().type_name(), "long");
    /// assert_eq!(m.get("c").unwrap().type_name(), "date");
    /// assert_eq!(m.get("d.e").unwrap().type_name(), "boolean");
    /// assert_eq!(m.get("f.g").unwrap().type_name(), "float");
    /// ```
    pub fn map_dynamically(&mut self, doc: &Json) {
        if let Json::Object(members) = doc {
            self.dynamic_object(members, "", None);
        }
    }

    fn dynamic_object(&mut self, members: &Map<String, Json>, prefix: &str, nested: Option<&str>) {
        for (key, value) in members {
            // Dots in a key are object levels.
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
            self.dynamic_value(&name, value, nested);
        }
    }

    fn dynamic_value(&mut self, name: &str, value: &Json, nested: Option<&str>) {
        match value {
            Json::Null => {}
            Json::Array(items) => {
                // Every item is indexed; the first scalar maps the field.
                for item in items {
                    self.dynamic_value(name, item, nested);
                }
            }
            Json::Object(members) => {
                if !self.fields.contains_key(name) {
                    self.insert(object(name, Class::Object, nested));
                }
                let nested = match self.get(name).map(|f| &f.class) {
                    Some(Class::Nested) => Some(name.to_owned()),
                    _ => nested.map(str::to_owned),
                };
                if matches!(
                    self.get(name).map(|f| &f.class),
                    Some(Class::Object | Class::Nested)
                ) {
                    self.dynamic_object(members, name, nested.as_deref());
                }
            }
            _ if self.fields.contains_key(name) => {}
            Json::Bool(_) => {
                self.dynamic_leaf(name, "boolean", FieldKind::new(Ty::Boolean), nested);
            }
            Json::Number(n) => {
                if n.is_i64() || n.is_u64() {
                    let kind = FieldKind::new(Ty::Integer {
                        width: IntWidth::Long,
                        coerce: true,
                    });
                    self.dynamic_leaf(name, "long", kind, nested);
                } else {
                    let kind = FieldKind::new(Ty::Float {
                        width: FloatWidth::Float,
                        coerce: true,
                    });
                    self.dynamic_leaf(name, "float", kind, nested);
                }
            }
            Json::String(s) => {
                let detected = [
                    "strict_date_optional_time",
                    "yyyy/MM/dd HH:mm:ss Z||yyyy/MM/dd Z",
                ]
                .into_iter()
                .filter_map(|f| DateFormat::parse_spec(f).ok())
                .find(|f| f.parse(s, false).is_some());
                if let Some(format) = detected {
                    let kind = FieldKind::new(Ty::Date {
                        nanos: false,
                        format: Arc::new(format),
                    });
                    self.dynamic_leaf(name, "date", kind, nested);
                } else {
                    self.insert(MappedField {
                        name: name.to_owned(),
                        type_name: "text".into(),
                        source: name.to_owned(),
                        class: Class::Text {
                            exact: vec![format!("{name}.keyword")],
                        },
                        nested_parent: nested.map(str::to_owned),
                    });
                    let kind = FieldKind::new(Ty::Keyword {
                        ignore_above: Some(256),
                    });
                    self.insert(MappedField {
                        name: format!("{name}.keyword"),
                        type_name: "keyword".into(),
                        source: name.to_owned(),
                        class: value_class(kind),
                        nested_parent: nested.map(str::to_owned),
                    });
                }
            }
        }
    }

    fn dynamic_leaf(&mut self, name: &str, type_name: &str, kind: FieldKind, nested: Option<&str>) {
        self.insert(MappedField {
            name: name.to_owned(),
            type_name: type_name.to_owned(),
            source: name.to_owned(),
            class: value_class(kind),
            nested_parent: nested.map(str::to_owned),
        });
    }

    fn insert(&mut self, f: MappedField) {
        self.fields.insert(f.name.clone(), f);
    }

    /// Merges the fields of another index's mapping: a field with another
    /// type in `other` becomes unusable.
    fn merge(&mut self, other: Mapping, index: Option<&str>) {
        for (name, f) in other.fields {
            match self.fields.get_mut(&name) {
                None => {
                    self.fields.insert(name, f);
                }
                Some(mine) if mine.type_name == f.type_name => {}
                Some(mine) => {
                    let why = format!(
                        "mapped as [2] incompatible types: [{}], [{}]{}",
                        mine.type_name,
                        f.type_name,
                        index.map(|i| format!(" in [{i}]")).unwrap_or_default()
                    );
                    mine.class = Class::Conflict(why);
                }
            }
        }
    }

    fn walk(
        &mut self,
        props: &Map<String, Json>,
        prefix: &str,
        nested: Option<&str>,
        aliases: &mut Vec<(String, String)>,
    ) -> Result<(), MappingError> {
        for (key, def) in props {
            let mut name = prefix.to_owned();
            // A dotted key is a path of objects.
            let parts: Vec<&str> = key.split('.').collect();
            let last = parts.len().saturating_sub(1);
            for (i, part) in parts.iter().enumerate() {
                if part.is_empty() {
                    return Err(field_err(
                        &format!("{prefix}.{key}"),
                        "empty name segment".into(),
                    ));
                }
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(part);
                if i < last && !self.fields.contains_key(&name) {
                    self.insert(object(&name, Class::Object, nested));
                }
            }
            let Json::Object(def) = def else {
                return Err(field_err(
                    &name,
                    format!("expected an object, found {}", json_kind(def)),
                ));
            };
            let ty = type_of(&name, def)?;
            match ty {
                None | Some("object") => {
                    self.insert(object(&name, Class::Object, nested));
                    let enabled = def.get("enabled").and_then(Json::as_bool).unwrap_or(true);
                    if let (true, Some(p)) = (enabled, def.get("properties")) {
                        let Json::Object(p) = p else {
                            return Err(field_err(&name, "`properties` is not an object".into()));
                        };
                        self.walk(p, &name, nested, aliases)?;
                    }
                }
                Some("nested") => {
                    self.insert(object(&name, Class::Nested, nested));
                    if let Some(p) = def.get("properties") {
                        let Json::Object(p) = p else {
                            return Err(field_err(&name, "`properties` is not an object".into()));
                        };
                        self.walk(p, &name, Some(&name), aliases)?;
                    }
                }
                Some(_) => self.leaf(&name, &name, def, nested, aliases)?,
            }
        }
        Ok(())
    }

    /// A field that is not an object: its own entry, then its multi-fields
    /// (which read `source`).
    fn leaf(
        &mut self,
        name: &str,
        source: &str,
        def: &Map<String, Json>,
        nested: Option<&str>,
        aliases: &mut Vec<(String, String)>,
    ) -> Result<(), MappingError> {
        let ty = type_of(name, def)?.unwrap_or("object");
        if ty == "alias" {
            let Some(Json::String(path)) = def.get("path") else {
                return Err(field_err(name, "an alias needs a `path`".into()));
            };
            aliases.push((name.to_owned(), path.clone()));
            return Ok(());
        }
        let mut subfields: Vec<String> = Vec::new();
        if let Some(fields) = def.get("fields") {
            let Json::Object(fields) = fields else {
                return Err(field_err(name, "`fields` is not an object".into()));
            };
            for (sub, sdef) in fields {
                let Json::Object(sdef) = sdef else {
                    return Err(field_err(
                        &format!("{name}.{sub}"),
                        format!("expected an object, found {}", json_kind(sdef)),
                    ));
                };
                let sname = format!("{name}.{sub}");
                self.leaf(&sname, source, sdef, nested, aliases)?;
                subfields.push(sname);
            }
        }
        let class = match ty {
            "text" | "match_only_text" | "annotated_text" | "search_as_you_type" => {
                let exact = subfields
                    .into_iter()
                    .filter(|s| {
                        matches!(
                            self.get(s).map(|f| f.type_name.as_str()),
                            Some("keyword" | "wildcard" | "constant_keyword")
                        )
                    })
                    .collect();
                Class::Text { exact }
            }
            _ => match kind_of(name, ty, def)? {
                Some((kind, normalized, constant)) => Class::Value {
                    kind,
                    normalized,
                    constant,
                },
                None => Class::Unsupported,
            },
        };
        self.insert(MappedField {
            name: name.to_owned(),
            type_name: ty.to_owned(),
            source: source.to_owned(),
            class,
            nested_parent: nested.map(str::to_owned),
        });
        Ok(())
    }

    fn resolve_aliases(&mut self, aliases: Vec<(String, String)>) -> Result<(), MappingError> {
        for (name, path) in aliases {
            let Some(target) = self.fields.get(&path).cloned() else {
                return Err(field_err(
                    &name,
                    format!("the alias path [{path}] is not a field of the mapping"),
                ));
            };
            if matches!(target.class, Class::Object | Class::Nested) {
                return Err(field_err(
                    &name,
                    format!("the alias path [{path}] is an object, not a field"),
                ));
            }
            let nested_parent = target.nested_parent.clone();
            self.insert(MappedField {
                name,
                nested_parent,
                ..target
            });
        }
        Ok(())
    }
}

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

fn value_class(kind: FieldKind) -> Class {
    Class::Value {
        kind,
        normalized: false,
        constant: None,
    }
}

fn field_err(field: &str, why: String) -> MappingError {
    MappingError::Field {
        field: field.to_owned(),
        why,
    }
}

fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

fn type_of<'a>(name: &str, def: &'a Map<String, Json>) -> Result<Option<&'a str>, MappingError> {
    match def.get("type") {
        None => Ok(None),
        Some(Json::String(t)) => Ok(Some(t.as_str())),
        Some(other) => Err(field_err(
            name,
            format!("`type` must be a string, found {}", json_kind(other)),
        )),
    }
}

/// Where the `properties` are: `{properties}`, `{mappings: ...}`,
/// `{template: ...}`, `{_doc: ...}` (pre-7 type level) or `{index: ...}` for
/// each index of a `GET _mapping` response.
fn find_roots<'a>(
    json: &'a Json,
    index: Option<&'a str>,
    out: &mut Vec<(Option<&'a str>, &'a Map<String, Json>)>,
    depth: usize,
) {
    let Json::Object(o) = json else { return };
    if depth > 4 {
        return;
    }
    if o.contains_key("properties") || o.contains_key("runtime") {
        out.push((index, o));
        return;
    }
    for key in ["mappings", "template", "_doc"] {
        if let Some(inner) = o.get(key) {
            let before = out.len();
            find_roots(inner, index, out, depth + 1);
            if out.len() > before {
                return;
            }
        }
    }
    if depth == 0 {
        for (name, v) in o {
            if v.get("mappings").is_some() {
                find_roots(v, Some(name), out, depth + 1);
            }
        }
    }
}

/// The kind of a value field of type `ty`, with its `normalizer` flag and
/// `constant_keyword` value; `None` for a type queries cannot use.
#[allow(clippy::type_complexity)]
fn kind_of(
    name: &str,
    ty: &str,
    def: &Map<String, Json>,
) -> Result<Option<(FieldKind, bool, Option<String>)>, MappingError> {
    let coerce = match def.get("coerce") {
        None => true,
        Some(Json::Bool(b)) => *b,
        Some(Json::String(s)) if s == "true" || s == "false" => s == "true",
        Some(other) => {
            return Err(field_err(
                name,
                format!("`coerce` must be a boolean, found {}", json_kind(other)),
            ))
        }
    };
    let int = |width| Ty::Integer { width, coerce };
    let float = |width| Ty::Float { width, coerce };
    let t = match ty {
        "keyword" | "wildcard" | "constant_keyword" => {
            let ignore_above = match def.get("ignore_above") {
                None => None,
                Some(v) => Some(
                    v.as_u64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| {
                            field_err(name, "`ignore_above` must be a non-negative integer".into())
                        })?,
                ),
            };
            Ty::Keyword { ignore_above }
        }
        "version" => Ty::Version,
        "long" => int(IntWidth::Long),
        "integer" => int(IntWidth::Integer),
        "short" => int(IntWidth::Short),
        "byte" => int(IntWidth::Byte),
        "unsigned_long" => int(IntWidth::UnsignedLong),
        "double" => float(FloatWidth::Double),
        "float" => float(FloatWidth::Float),
        "half_float" => float(FloatWidth::Half),
        "scaled_float" => {
            let factor = def
                .get("scaling_factor")
                .and_then(|v| {
                    v.as_f64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                })
                .filter(|f| f.is_finite() && *f > 0.0)
                .ok_or_else(|| {
                    field_err(
                        name,
                        "a scaled_float needs a positive `scaling_factor`".into(),
                    )
                })?;
            float(FloatWidth::Scaled(factor))
        }
        "boolean" => Ty::Boolean,
        "date" | "date_nanos" => {
            let format = match def.get("format") {
                None => DateFormat::default(),
                Some(Json::String(s)) => {
                    DateFormat::parse_spec(s).map_err(|why| field_err(name, why))?
                }
                Some(other) => {
                    return Err(field_err(
                        name,
                        format!("`format` must be a string, found {}", json_kind(other)),
                    ))
                }
            };
            Ty::Date {
                nanos: ty == "date_nanos",
                format: Arc::new(format),
            }
        }
        "ip" => Ty::Ip,
        _ => return Ok(None),
    };
    let mut kind = FieldKind::new(t);
    if let Some(nv) = def.get("null_value") {
        let v = match nv {
            Json::Null => None,
            Json::Bool(b) => Some(crate::Value::Bool(*b)),
            Json::Number(n) => Some(n.as_i64().map_or_else(
                || crate::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
                crate::Value::Int,
            )),
            Json::String(s) => Some(crate::Value::Str(s.clone().into())),
            other => {
                return Err(field_err(
                    name,
                    format!("`null_value` must be a scalar, found {}", json_kind(other)),
                ))
            }
        };
        if let Some(v) = v {
            kind.null_value = Some(kind.normalize(v).ok_or_else(|| {
                field_err(name, format!("`null_value` {nv} does not fit type [{ty}]"))
            })?);
        }
    }
    let normalized = def.get("normalizer").is_some_and(|n| !n.is_null());
    let constant = if ty == "constant_keyword" {
        def.get("value").and_then(|v| match v {
            Json::String(s) => Some(s.clone()),
            Json::Number(n) => Some(n.to_string()),
            Json::Bool(b) => Some(b.to_string()),
            _ => None,
        })
    } else {
        None
    };
    Ok(Some((kind, normalized, constant)))
}

/// Levenshtein distance from one ASCII string of at most 64 bytes to others,
/// bit-parallel (Myers, in Hyyrö's formulation for the global distance):
/// one pass over the other string.
struct Myers {
    peq: [u64; 128],
    len: usize,
}

impl Myers {
    fn new(a: &str) -> Option<Myers> {
        if !a.is_ascii() || a.is_empty() || a.len() > 64 {
            return None;
        }
        let mut peq = [0u64; 128];
        for (i, c) in a.bytes().enumerate() {
            peq[usize::from(c)] |= 1 << i;
        }
        Some(Myers { peq, len: a.len() })
    }

    fn distance(&self, b: &[u8]) -> usize {
        let last = 1u64 << (self.len - 1);
        let (mut pv, mut mv, mut score) = (u64::MAX, 0u64, self.len);
        for &c in b {
            let eq = self.peq.get(usize::from(c)).copied().unwrap_or(0);
            let xv = eq | mv;
            let xh = ((eq & pv).wrapping_add(pv) ^ pv) | eq;
            let ph = mv | !(xh | pv);
            let mh = pv & xh;
            if ph & last != 0 {
                score += 1;
            } else if mh & last != 0 {
                score -= 1;
            }
            let ph = (ph << 1) | 1;
            let mh = mh << 1;
            pv = mh | !(xv | ph);
            mv = ph & xv;
        }
        score
    }
}

/// Lucene's Levenshtein similarity, `1 - distance / max(len)` over chars,
/// when it is at least one half; 0 below (the computation stops as soon as
/// the distance is sure to exceed half the longer length).
fn similarity(a: &str, b: &str) -> f32 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let n = a.len().max(b.len());
    if n == 0 {
        return 1.0;
    }
    let limit = n / 2;
    if a.len().abs_diff(b.len()) > limit {
        return 0.0;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + cost);
        }
        if cur.iter().min().is_some_and(|m| *m > limit) {
            return 0.0;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    1.0 - prev[b.len()] as f32 / n as f32
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    proptest::proptest! {
        #[test]
        fn bit_parallel_levenshtein_is_levenshtein(a in "[a-c.]{1,12}", b in "[a-c.]{0,12}") {
            let m = Myers::new(&a).unwrap();
            let n = a.len().max(b.len());
            let d = m.distance(b.as_bytes());
            let s = similarity(&a, &b);
            if s > 0.0 {
                proptest::prop_assert_eq!(1.0 - d as f32 / n as f32, s);
            } else {
                proptest::prop_assert!(d > n / 2);
            }
        }
    }

    #[test]
    fn the_shapes_of_a_mapping_document() {
        let props = json!({"properties": {"a": {"type": "keyword"}}});
        for doc in [
            props.clone(),
            json!({"mappings": props}),
            json!({"idx": {"mappings": props}}),
            json!({"template": {"mappings": props}}),
            json!({"mappings": {"_doc": props}}),
        ] {
            let m = Mapping::from_json(&doc).unwrap();
            assert_eq!(
                m.get("a").map(MappedField::type_name),
                Some("keyword"),
                "{doc}"
            );
        }
        assert_eq!(
            Mapping::from_json(&json!([1])).unwrap_err(),
            MappingError::NoProperties
        );
        assert!(matches!(
            Mapping::from_slice(b"{"),
            Err(MappingError::Json { line: 1, .. })
        ));
    }

    #[test]
    fn a_malformed_definition_names_the_field() {
        let cases = [
            (json!({"properties": {"a": 1}}), "field [a]: expected an object, found a number"),
            (json!({"properties": {"a": {"type": 3}}}), "field [a]: `type` must be a string, found a number"),
            (json!({"properties": {"a": {"properties": {"b": {"type": "alias", "path": "zz"}}}}}),
             "field [a.b]: the alias path [zz] is not a field of the mapping"),
            (json!({"properties": {"d": {"type": "date", "format": "EEE"}}}),
             "field [d]: unsupported date format [EEE]: the pattern letter `EEE` is not supported"),
            (json!({"properties": {"n": {"type": "long", "null_value": "x"}}}),
             "field [n]: `null_value` \"x\" does not fit type [long]"),
            (json!({"properties": {"s": {"type": "scaled_float"}}}),
             "field [s]: a scaled_float needs a positive `scaling_factor`"),
        ];
        for (doc, msg) in cases {
            assert_eq!(Mapping::from_json(&doc).unwrap_err().to_string(), msg);
        }
    }

    #[test]
    fn multi_fields_aliases_nested_and_conflicts() {
        let doc = json!({
            "a": {"mappings": {"properties": {
                "n": {"type": "nested", "properties": {"x": {"type": "long"}}},
                "t": {"type": "text"},
                "tt": {"type": "text", "fields": {"k1": {"type": "keyword"}, "k2": {"type": "keyword"}}},
                "both": {"type": "keyword"},
                "geo": {"type": "geo_point"},
                "dotted.key": {"type": "ip"}
            }}},
            "b": {"mappings": {"properties": {"both": {"type": "long"}}}}
        });
        let m = Mapping::from_json(&doc).unwrap();
        assert!(
            matches!(m.get("n.x").unwrap().usable(), Usability::No(s) if s.contains("nested type in hierarchy (field [n])"))
        );
        assert!(
            matches!(m.get("n").unwrap().usable(), Usability::No(s) if s.contains("nested fields not being supported"))
        );
        assert_eq!(m.get("t").unwrap().exact(), None);
        assert_eq!(m.get("tt").unwrap().exact(), None);
        assert!(
            matches!(m.get("both").unwrap().usable(), Usability::No(s) if s.contains("incompatible types"))
        );
        assert!(
            matches!(m.get("geo").unwrap().usable(), Usability::No(s) if s.contains("unsupported type [geo_point]"))
        );
        assert_eq!(m.get("dotted").unwrap().type_name(), "object");
        assert!(m.get("dotted.key").unwrap().kind().unwrap().is_ip());
        assert_eq!(m.similar("dotted.kye"), ["dotted.key"]);
    }
}
