//! Raw-bytes projection against DOM lookups on arbitrary JSON. Input: a first
//! line of comma-separated dotted paths, then a JSON document. Whenever
//! `parse_event` accepts the document, the projection must parse it too and
//! resolve every path to exactly the DOM's value, and the one-pass
//! resolvers (`Event::resolve_all` over the DOM and over the projection,
//! `Projection::resolve_json` straight from the bytes) must report exactly
//! the items of that value.
#![no_main]
use eql_engine::{parse_event, Event, EventLimits, FieldPath, Projection, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(nl) = data.iter().position(|&b| b == b'\n') else { return };
    let (head, doc) = (&data[..nl], &data[nl + 1..]);
    let Ok(head) = std::str::from_utf8(head) else { return };
    let paths: Vec<FieldPath> = head
        .split(',')
        .filter(|p| !p.is_empty())
        .take(16)
        .map(FieldPath::parse_dotted)
        .collect();
    let proj = Projection::new(&paths);
    let limits = EventLimits::default();
    let projected = proj.parse(doc, &limits);
    let Ok(dom) = parse_event(doc, &limits) else { return };
    let Ok(projected) = projected else {
        panic!("the DOM parsed but the projection failed: {:?}", projected.err());
    };
    for p in &paths {
        assert_eq!(
            projected.get(p).map(Value::into_owned),
            Event::get(&dom, p).map(Value::into_owned),
            "path {p}"
        );
    }
    let want: Vec<Vec<Value<'static>>> = paths.iter().map(|p| items(Event::get(&dom, p))).collect();
    let mut direct = vec![Vec::new(); paths.len()];
    let res = proj.resolve_json(doc, &limits, &mut |i, v| direct[i].push(v.into_owned()));
    assert!(res.is_ok(), "the DOM parsed but resolve_json failed: {res:?}");
    assert_eq!(direct, want, "resolve_json");
    let events: [(&str, &dyn Event); 2] = [("DOM", &dom), ("projection", &projected)];
    for (what, e) in events {
        let mut got = vec![Vec::new(); paths.len()];
        assert!(e.resolve_all(&proj, &mut |i, v| got[i].push(v.into_owned())));
        assert_eq!(got, want, "resolve_all over the {what}");
    }
});

/// The items of a `get` result as the resolvers report them.
fn items(v: Option<Value<'_>>) -> Vec<Value<'static>> {
    v.into_iter()
        .flat_map(Value::into_items)
        .map(Value::into_owned)
        .collect()
}
