//! The raw-bytes projection, the pruned DOM and the one-pass resolver
//! (`Event::resolve_all`) resolve every wanted path exactly as the DOM does, on random documents with nested keys, literal dotted keys, arrays of
//! objects, duplicates and escapes.

use eql_engine::{
    Document, Event, EventErrorKind, EventLimits, FieldPath, JsonType, PathSegment, Projection,
    Value,
};
use proptest::prelude::*;
use serde_json::Value as Json;

const KEYS: &[&str] = &["a", "b", "a.b", "b.c", "c", "é\\n"];

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(KEYS).prop_map(|k| k.replace("\\n", "\n"))
}

fn json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        (-5i64..5).prop_map(Json::from),
        Just(serde_json::json!(1.5)),
        Just(serde_json::json!(18_446_744_073_709_551_615u64)),
        "[a-c\"\\\\]{0,3}".prop_map(Json::from),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Json::from),
            prop::collection::vec((key(), inner), 0..4)
                .prop_map(|kv| Json::Object(kv.into_iter().collect())),
        ]
    })
}

fn path() -> impl Strategy<Value = FieldPath> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(&["a", "b", "c"][..]).prop_map(|k| PathSegment::Key(k.to_owned())),
            1 => (0u32..2).prop_map(PathSegment::Index),
            // A quoted segment that itself contains a dot.
            1 => Just(PathSegment::Key("a.b".to_owned())),
        ],
        1..4,
    )
    .prop_map(FieldPath::new)
}

/// JSON text with every object's members in reverse key order (serde_json
/// itself writes them sorted), so that member order is exercised.
fn reversed_text(v: &Json) -> String {
    match v {
        Json::Object(o) => {
            let members: Vec<String> = o
                .iter()
                .rev()
                .map(|(k, v)| format!("{}:{}", Json::from(k.clone()), reversed_text(v)))
                .collect();
            format!("{{{}}}", members.join(","))
        }
        Json::Array(a) => format!(
            "[{}]",
            a.iter().map(reversed_text).collect::<Vec<_>>().join(",")
        ),
        x => x.to_string(),
    }
}

/// The document text with one duplicated member when possible (serde_json's
/// DOM keeps the last one; so must the projection).
fn with_duplicate(doc: &Json, reverse: bool) -> String {
    let text = if reverse {
        reversed_text(doc)
    } else {
        doc.to_string()
    };
    match doc {
        Json::Object(o) if !o.is_empty() => {
            let (k, _) = o
                .iter()
                .next()
                .map(|(k, v)| (k.clone(), v.clone()))
                .unwrap_or_default();
            format!("{{{}:0,{}", Json::from(k), &text[1..])
        }
        _ => text,
    }
}

/// The items of a `get` result as `Event::resolve_all` reports them.
fn items(v: Option<Value<'_>>) -> Vec<Value<'static>> {
    v.into_iter()
        .flat_map(Value::into_items)
        .map(Value::into_owned)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn projection_equals_dom(
        doc in json(),
        paths in prop::collection::vec(path(), 1..5),
        reverse: bool,
    ) {
        // An event is an object: another root goes one level down.
        let doc = if doc.is_object() { doc } else { serde_json::json!({ "a": doc }) };
        let text = with_duplicate(&doc, reverse);
        let dom: Json = serde_json::from_str(&text).unwrap();
        let proj = Projection::new(&paths);
        let limits = EventLimits::default();
        let ev = proj.parse(text.as_bytes(), &limits).unwrap();
        let pruned = proj.project_dom(&dom);
        // One-pass resolution of every path, over the DOM, the projected
        // bytes and the pruned DOM: the items `get` returns, nulls and
        // objects left out.
        let mut direct: Vec<Vec<Value<'static>>> = vec![Vec::new(); paths.len()];
        proj.resolve_json(text.as_bytes(), &limits, &mut |i, v| direct[i].push(v.into_owned()))
            .unwrap();
        for (i, p) in paths.iter().enumerate() {
            prop_assert_eq!(
                &direct[i],
                &items(Event::get(&dom, p)),
                "resolve_json: path {} in {}", p, text
            );
        }
        // A `Document` is parsed only from objects (`json()` also makes other values).
        let doc = Document::parse(text.as_bytes(), &EventLimits::default()).ok();
        prop_assert_eq!(doc.is_some(), dom.is_object());
        let from_dom = Document::from_json(&dom);
        let mut events: Vec<(&str, &dyn Event)> =
            vec![("DOM", &dom), ("bytes", &ev), ("pruned DOM", &pruned), ("Document::from_json", &from_dom)];
        if let Some(doc) = &doc {
            events.push(("Document::parse", doc));
        }
        for &(what, e) in &events {
            let mut got: Vec<Vec<Value<'static>>> = vec![Vec::new(); paths.len()];
            prop_assert!(e.resolve_all(&proj, &mut |i, v| got[i].push(v.into_owned())));
            for (i, p) in paths.iter().enumerate() {
                prop_assert_eq!(
                    &got[i],
                    &items(Event::get(&dom, p)),
                    "resolve_all over {}: path {} in {}", what, p, text
                );
            }
        }
        // A projection of whole values: once per path, exactly `get`.
        #[cfg(feature = "simd")]
        let sonic: Option<sonic_rs::Value> = sonic_rs::from_str(&text).ok();
        #[cfg(feature = "simd")]
        if let Some(sonic) = &sonic {
            events.push(("sonic-rs DOM", sonic));
        }
        let values = Projection::values(&paths);
        for &(what, e) in &events {
            let mut got: Vec<Vec<Value<'static>>> = vec![Vec::new(); paths.len()];
            prop_assert!(e.resolve_all(&values, &mut |i, v| got[i].push(v.into_owned())));
            for (i, p) in paths.iter().enumerate() {
                let want: Vec<Value<'static>> = Event::get(&dom, p).map(Value::into_owned).into_iter().collect();
                prop_assert_eq!(
                    &got[i],
                    &want,
                    "whole values over {}: path {} in {}", what, p, text
                );
            }
        }
        for p in &paths {
            let want = Event::get(&dom, p).map(Value::into_owned);
            for (what, e) in &events {
                prop_assert_eq!(
                    e.get(p).map(Value::into_owned),
                    want.clone(),
                    "get over {}: path {} in {}", what, p, text
                );
            }
            prop_assert_eq!(
                ev.get(p).map(Value::into_owned),
                want.clone(),
                "bytes: path {} in {}", p, text
            );
            prop_assert_eq!(
                pruned.get(p).map(Value::into_owned),
                want,
                "pruned DOM: path {} in {}", p, text
            );
        }
    }
}

#[test]
fn errors_name_the_position() {
    let proj = Projection::new(&[FieldPath::parse_dotted("a")]);
    let limits = EventLimits::default();
    let err = proj.parse(b"{\"a\": 1,\n \"b\": }", &limits).unwrap_err();
    // The byte position of the error (line 2, column 7).
    assert_eq!(err.column, Some(16));
    assert!(proj.parse(b"{\"a\": 1} x", &limits).is_err());
    let err = proj.parse(b" [1]", &limits).unwrap_err();
    assert_eq!(
        (err.kind, err.column),
        (
            EventErrorKind::NotAnObject {
                found: JsonType::Array
            },
            Some(2)
        )
    );
}
