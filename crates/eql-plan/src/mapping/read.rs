//! Reading a mapping document: the output of `GET index/_mapping` (one or
//! more indices), a `mappings` object or a template; the objects, fields,
//! multi-fields, runtime fields and aliases of each index, merged across
//! indices.

use super::params::class_of;
use super::{object, Class, MappedField, Mapping, MappingError};
use serde_json::{Map, Value as Json};

impl Mapping {
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
                let props = expect_object("properties", props)?;
                one.properties(props, "", None, &mut aliases)?;
            }
            if let Some(Json::Object(runtime)) = root.get("runtime") {
                one.runtime(runtime, &mut aliases)?;
            }
            one.resolve_aliases(aliases)?;
            out.merge(one, index);
        }
        Ok(out)
    }

    /// The `runtime` fields: those computed by a script cannot be queried;
    /// the others read the document's field of that name.
    fn runtime(
        &mut self,
        runtime: &Map<String, Json>,
        aliases: &mut Vec<(String, String)>,
    ) -> Result<(), MappingError> {
        for (name, def) in runtime {
            let def = expect_object(name, def)?;
            if def.contains_key("script") {
                let ty = type_of(name, def)?.unwrap_or("object").to_owned();
                self.insert(MappedField {
                    name: name.clone(),
                    type_name: format!("{ty} (runtime script)"),
                    source: name.clone(),
                    class: Class::Unsupported,
                    nested_parent: None,
                });
            } else {
                self.leaf(name, name, def, None, aliases)?;
            }
        }
        Ok(())
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

    /// The members of the `properties` of the object at `prefix` (within
    /// the `nested` field `nested`, if any).
    fn properties(
        &mut self,
        props: &Map<String, Json>,
        prefix: &str,
        nested: Option<&str>,
        aliases: &mut Vec<(String, String)>,
    ) -> Result<(), MappingError> {
        for (key, def) in props {
            if key.split('.').any(str::is_empty) {
                return Err(field_err(
                    &format!("{prefix}.{key}"),
                    "empty name segment".into(),
                ));
            }
            let name = self.member_name(prefix, key, nested);
            let def = expect_object(&name, def)?;
            match type_of(&name, def)? {
                None | Some("object") => {
                    self.insert(object(&name, Class::Object, nested));
                    let enabled = def.get("enabled").and_then(Json::as_bool).unwrap_or(true);
                    if let (true, Some(p)) = (enabled, def.get("properties")) {
                        let Json::Object(p) = p else {
                            return Err(field_err(&name, "`properties` is not an object".into()));
                        };
                        self.properties(p, &name, nested, aliases)?;
                    }
                }
                Some("nested") => {
                    self.insert(object(&name, Class::Nested, nested));
                    if let Some(p) = def.get("properties") {
                        let Json::Object(p) = p else {
                            return Err(field_err(&name, "`properties` is not an object".into()));
                        };
                        self.properties(p, &name, Some(&name), aliases)?;
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
                let sname = format!("{name}.{sub}");
                let sdef = expect_object(&sname, sdef)?;
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
            _ => class_of(name, ty, def)?,
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

    /// Each alias becomes a copy of its target (type, document field,
    /// `nested` ancestor) under its own name; its target must be a field.
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

pub(super) fn field_err(field: &str, why: String) -> MappingError {
    MappingError::Field {
        field: field.to_owned(),
        why,
    }
}

/// `def` as an object, or the error for field `field`.
fn expect_object<'a>(field: &str, def: &'a Json) -> Result<&'a Map<String, Json>, MappingError> {
    match def {
        Json::Object(o) => Ok(o),
        other => Err(field_err(
            field,
            format!("expected an object, found {}", json_kind(other)),
        )),
    }
}

pub(super) fn json_kind(v: &Json) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::Usability;
    use serde_json::json;

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
