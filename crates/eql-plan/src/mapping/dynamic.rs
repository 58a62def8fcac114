//! Elasticsearch's dynamic mapping: the types it gives the fields of an
//! indexed document that the mapping lacks.

use super::kind::Ty;
use super::{
    object, value_class, Class, DateFormat, FieldKind, FloatWidth, IntWidth, MappedField, Mapping,
};
use serde_json::{Map, Value as Json};
use std::sync::Arc;

impl Mapping {
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
            let name = self.member_name(prefix, key, nested);
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
            Json::Number(n) if n.is_i64() || n.is_u64() => {
                let kind = FieldKind::new(Ty::Integer {
                    width: IntWidth::Long,
                    coerce: true,
                });
                self.dynamic_leaf(name, "long", kind, nested);
            }
            Json::Number(_) => {
                let kind = FieldKind::new(Ty::Float {
                    width: FloatWidth::Float,
                    coerce: true,
                });
                self.dynamic_leaf(name, "float", kind, nested);
            }
            Json::String(s) => self.dynamic_string(name, s, nested),
        }
    }

    /// A string that reads as a date makes a `date` field; any other a
    /// `text` field with a `keyword` multi-field.
    fn dynamic_string(&mut self, name: &str, s: &str, nested: Option<&str>) {
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
            return;
        }
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

    fn dynamic_leaf(&mut self, name: &str, type_name: &str, kind: FieldKind, nested: Option<&str>) {
        self.insert(MappedField {
            name: name.to_owned(),
            type_name: type_name.to_owned(),
            source: name.to_owned(),
            class: value_class(kind),
            nested_parent: nested.map(str::to_owned),
        });
    }
}
