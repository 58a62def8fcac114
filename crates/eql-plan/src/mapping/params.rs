//! The mapping parameters of a value field (`coerce`, `ignore_above`,
//! `scaling_factor`, `format`, `null_value`, `normalizer`, a
//! `constant_keyword`'s `value`), read into its [`FieldKind`].

use super::kind::Ty;
use super::read::{field_err, json_kind};
use super::{Class, DateFormat, FieldKind, FloatWidth, IntWidth, MappingError};
use crate::Value;
use serde_json::{Map, Value as Json};
use std::sync::Arc;

/// The class of a field of type `ty` that is not an object or `text`: a
/// value field with its kind, `normalizer` flag and `constant_keyword`
/// value, or [`Class::Unsupported`] for a type queries cannot use.
pub(super) fn class_of(
    name: &str,
    ty: &str,
    def: &Map<String, Json>,
) -> Result<Class, MappingError> {
    let coerce = coerce(name, def)?;
    let Some(t) = value_type(name, ty, def, coerce)? else {
        return Ok(Class::Unsupported);
    };
    let mut kind = FieldKind::new(t);
    if let Some(nv) = def.get("null_value") {
        if let Some(v) = null_value(name, nv)? {
            kind.null_value = Some(kind.normalize(v).ok_or_else(|| {
                field_err(name, format!("`null_value` {nv} does not fit type [{ty}]"))
            })?);
        }
    }
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
    Ok(Class::Value {
        kind,
        normalized: def.get("normalizer").is_some_and(|n| !n.is_null()),
        constant,
    })
}

/// The type of a value field with its parameters; `None` for a type
/// queries cannot use.
fn value_type(
    name: &str,
    ty: &str,
    def: &Map<String, Json>,
    coerce: bool,
) -> Result<Option<Ty>, MappingError> {
    let int = |width| Ty::Integer { width, coerce };
    let float = |width| Ty::Float { width, coerce };
    Ok(Some(match ty {
        "keyword" | "wildcard" | "constant_keyword" => Ty::Keyword {
            ignore_above: ignore_above(name, def)?,
        },
        "version" => Ty::Version,
        "long" => int(IntWidth::Long),
        "integer" => int(IntWidth::Integer),
        "short" => int(IntWidth::Short),
        "byte" => int(IntWidth::Byte),
        "unsigned_long" => int(IntWidth::UnsignedLong),
        "double" => float(FloatWidth::Double),
        "float" => float(FloatWidth::Float),
        "half_float" => float(FloatWidth::Half),
        "scaled_float" => float(FloatWidth::Scaled(scaling_factor(name, def)?)),
        "boolean" => Ty::Boolean,
        "date" | "date_nanos" => Ty::Date {
            nanos: ty == "date_nanos",
            format: Arc::new(date_format(name, def)?),
        },
        "ip" => Ty::Ip,
        _ => return Ok(None),
    }))
}

/// `coerce` (default true): whether a numeric field reads numbers written
/// in strings.
fn coerce(name: &str, def: &Map<String, Json>) -> Result<bool, MappingError> {
    match def.get("coerce") {
        None => Ok(true),
        Some(Json::Bool(b)) => Ok(*b),
        Some(Json::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
        Some(other) => Err(field_err(
            name,
            format!("`coerce` must be a boolean, found {}", json_kind(other)),
        )),
    }
}

/// A keyword's `ignore_above`, if set.
fn ignore_above(name: &str, def: &Map<String, Json>) -> Result<Option<u32>, MappingError> {
    let Some(v) = def.get("ignore_above") else {
        return Ok(None);
    };
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .and_then(|n| u32::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| field_err(name, "`ignore_above` must be a non-negative integer".into()))
}

/// A `scaled_float`'s `scaling_factor`, which it needs.
fn scaling_factor(name: &str, def: &Map<String, Json>) -> Result<f64, MappingError> {
    def.get("scaling_factor")
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
        })
}

/// A date field's `format` (Elasticsearch's default when unset).
fn date_format(name: &str, def: &Map<String, Json>) -> Result<DateFormat, MappingError> {
    match def.get("format") {
        None => Ok(DateFormat::default()),
        Some(Json::String(s)) => DateFormat::parse_spec(s).map_err(|why| field_err(name, why)),
        Some(other) => Err(field_err(
            name,
            format!("`format` must be a string, found {}", json_kind(other)),
        )),
    }
}

/// The value a `null_value` parameter gives, before the field's type reads
/// it; `None` for JSON `null`.
fn null_value(name: &str, nv: &Json) -> Result<Option<Value<'static>>, MappingError> {
    Ok(match nv {
        Json::Null => None,
        Json::Bool(b) => Some(Value::Bool(*b)),
        Json::Number(n) => Some(
            n.as_i64()
                .map_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN)), Value::Int),
        ),
        Json::String(s) => Some(Value::Str(s.clone().into())),
        other => {
            return Err(field_err(
                name,
                format!("`null_value` must be a scalar, found {}", json_kind(other)),
            ))
        }
    })
}
