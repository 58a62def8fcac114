//! Field types from an Elasticsearch mapping: each type's comparisons as
//! Elasticsearch makes them, through every evaluation path (the reference
//! interpreter, the lowered plan, raw bytes, a `Document`, a pack), and the
//! verifier's errors.

use eql_engine::{
    CompileOptions, CompiledQuery, Document, EventLimits, Mapping, MappingError, Matches, Pack,
    PackMatches, Session, SessionOptions,
};
use serde_json::{json, Value as Json};

fn mapping() -> Mapping {
    Mapping::from_json(&json!({"test-index": {"mappings": {
        "properties": {
            "@timestamp": {"type": "date"},
            "event_type": {"type": "keyword"},
            "event": {"properties": {
                "category": {"type": "alias", "path": "event_type"},
                "sequence": {"type": "long"}
            }},
            "nanos": {"type": "date_nanos"},
            "day": {"type": "date", "format": "yyyy/MM/dd"},
            "version": {"type": "version"},
            "ip": {"type": "ip"},
            "pid": {"type": "long"},
            "small": {"type": "byte"},
            "ratio": {"type": "float"},
            "ok": {"type": "boolean"},
            "name": {"type": "keyword", "ignore_above": 8,
                     "fields": {"text": {"type": "match_only_text"}}},
            "tags": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
            "message": {"type": "text"},
            "with_null": {"type": "keyword", "null_value": "NULL"},
            "dataset": {"type": "constant_keyword", "value": "endpoint"},
            "obj": {"properties": {"x": {"type": "keyword"}}}
        }
    }}}))
    .unwrap()
}

fn opts() -> CompileOptions {
    CompileOptions::default().with_mapping(mapping())
}

/// Compiles `query` with the test mapping and returns whether `event`
/// matches, after checking that every evaluation path agrees.
fn matches(query: &str, event: &Json) -> bool {
    let opts = opts();
    let q = CompiledQuery::compile(query, &opts).unwrap_or_else(|e| panic!("{query}: {e}"));
    let reference = q.is_match_reference(event);
    let bytes = serde_json::to_vec(event).unwrap();
    let doc = Document::parse(&bytes, &EventLimits::default()).unwrap();
    assert_eq!(
        q.is_match(event),
        reference,
        "plan vs reference: {query} on {event}"
    );
    assert_eq!(
        q.is_match_reference(&doc),
        reference,
        "Document: {query} on {event}"
    );
    assert_eq!(
        q.is_match_json(&bytes).ok(),
        Some(reference),
        "bytes: {query} on {event}"
    );
    let pack = Pack::new([&q]);
    let mut hits = PackMatches::new();
    pack.matches(event, &mut hits);
    assert_eq!(
        !hits.rules().is_empty(),
        reference,
        "pack: {query} on {event}"
    );
    pack.matches_json(&bytes, &mut hits).unwrap();
    assert_eq!(
        !hits.rules().is_empty(),
        reference,
        "pack bytes: {query} on {event}"
    );
    reference
}

fn ev(fields: Json) -> Json {
    let mut e = json!({"event_type": "process"});
    if let (Json::Object(e), Json::Object(f)) = (&mut e, fields) {
        e.extend(f);
    }
    e
}

fn error(query: &str) -> (&'static str, String) {
    let e = CompiledQuery::compile(query, &opts()).unwrap_err();
    (e.diagnostic.code, e.diagnostic.message)
}

#[test]
fn a_date_field_compares_with_date_strings_and_epoch_millis() {
    // 2017-08-30T20:47:33Z is 1504126053000 ms.
    let e = ev(json!({"@timestamp": "2017-08-30T20:47:33.250Z"}));
    // A string with whole seconds matches every instant of that second.
    assert!(matches(
        r#"process where @timestamp == "2017-08-30T20:47:33Z""#,
        &e
    ));
    assert!(matches(r#"process where @timestamp == "2017-08-30""#, &e));
    assert!(!matches(
        r#"process where @timestamp == "2017-08-30T20:47:34Z""#,
        &e
    ));
    assert!(!matches(
        r#"process where @timestamp > "2017-08-30T20:47:33Z""#,
        &e
    ));
    assert!(matches(
        r#"process where @timestamp >= "2017-08-30T20:47:33Z""#,
        &e
    ));
    assert!(matches(
        r#"process where @timestamp <= "2017-08-30T20:47:33Z""#,
        &e
    ));
    assert!(!matches(
        r#"process where @timestamp < "2017-08-30T20:47:33Z""#,
        &e
    ));
    assert!(matches(
        r#"process where @timestamp == "2017-08-30T22:47:33+02:00""#,
        &e
    ));
    // Numbers are epoch milliseconds; so is a number in the event.
    assert!(matches("process where @timestamp == 1504126053250", &e));
    assert!(matches("process where @timestamp > 1504126053249", &e));
    assert!(matches(
        "process where @timestamp == 1504126053250",
        &ev(json!({"@timestamp": 1_504_126_053_250i64}))
    ));
    assert!(matches(
        "process where @timestamp == 1504126053250",
        &ev(json!({"@timestamp": "1504126053250"}))
    ));
    // Without a mapping the same comparison is string against number: null.
    let dynamic = CompiledQuery::compile(
        "process where @timestamp == 1504126053250",
        &CompileOptions::default(),
    )
    .unwrap();
    assert!(!dynamic.is_match(&ev(
        json!({"@timestamp": "2017-08-30T20:47:33.250Z", "event": {"category": "process"}})
    )));
    // Arrays: any value.
    assert!(matches(
        r#"process where @timestamp == "2017-08-30""#,
        &ev(json!({"@timestamp": ["x", "2017-08-30T01:00:00Z"]}))
    ));
    // A custom format.
    assert!(matches(
        r#"process where day == "2020/01/02""#,
        &ev(json!({"day": "2020/01/02"}))
    ));
    assert!(matches(
        "process where day == 1577923200000",
        &ev(json!({"day": "2020/01/02"}))
    ));
    assert_eq!(error(r#"process where day == "2020-01-02""#).0, "EQL0310");
}

#[test]
fn a_date_nanos_field_keeps_nanoseconds() {
    let e = ev(json!({"nanos": "1974-03-03T02:22:54.294365140Z"}));
    assert!(matches(
        r#"process where nanos == "1974-03-03T02:22:54.294365140Z""#,
        &e
    ));
    assert!(!matches(
        r#"process where nanos == "1974-03-03T02:22:54.294365141Z""#,
        &e
    ));
    assert!(!matches(
        r#"process where nanos == "1974-03-03T02:22:54.294Z""#,
        &e
    ));
    assert!(matches(
        r#"process where nanos > "1974-03-03T02:22:54.294209140Z" and nanos < "1974-03-03T02:22:54.350369490Z""#,
        &e
    ));
    // A millisecond number covers its millisecond.
    assert!(matches("process where nanos == 131509374294", &e));
    // Before 1970 a date_nanos cannot hold the value: not indexed.
    assert!(!matches(
        r#"process where nanos < "1974-01-01""#,
        &ev(json!({"nanos": "1969-01-01"}))
    ));
}

#[test]
fn a_version_field_orders_versions() {
    let v = |s: &str| ev(json!({ "version": s }));
    assert!(matches(r#"process where version > "1.5.0""#, &v("1.11.3")));
    assert!(!matches(r#"process where version > "1.5.0""#, &v("1.2.4")));
    assert!(matches(
        r#"process where version < "1.5.0""#,
        &v("1.2.4-SNAPSHOT")
    ));
    assert!(!matches(r#"process where version < "1.5.0""#, &v("bad")));
    assert!(matches(r#"process where version == "bad""#, &v("bad")));
    assert!(matches(
        r#"process where concat(version, "") == "1.2.4""#,
        &v("1.2.4")
    ));
    assert!(matches(r#"process where version : "1.2.*""#, &v("1.2.4")));
}

#[test]
fn an_ip_field_matches_addresses_and_networks() {
    let e = ev(json!({"ip": "10.1.2.3"}));
    assert!(matches(r#"process where ip == "10.0.0.0/8""#, &e));
    assert!(matches(r#"process where ip == "::ffff:10.1.2.3""#, &e));
    assert!(!matches(r#"process where ip != "10.1.2.3""#, &e));
    assert!(matches(
        r#"process where ip in ("192.168.0.0/16", "10.1.2.3")"#,
        &e
    ));
    assert!(matches(r#"process where cidrMatch(ip, "10.0.0.0/8")"#, &e));
    assert!(matches(
        r#"process where ip > "10.1.2.2" and ip < "10.1.2.4""#,
        &e
    ));
    assert!(matches(
        r#"process where ip == "::1""#,
        &ev(json!({"ip": "0:0:0:0:0:0:0:1"}))
    ));
    // Not an address: not indexed.
    assert!(!matches(
        r#"process where ip == "10.0.0.0/8""#,
        &ev(json!({"ip": "nope"}))
    ));
    assert_eq!(error(r#"process where ip == "nope""#).0, "EQL0310");
    assert_eq!(error(r#"process where ip : "10.*""#).0, "EQL0311");
}

#[test]
fn numbers_indexed_from_strings() {
    assert!(matches(
        "process where pid == 42",
        &ev(json!({"pid": "42"}))
    ));
    assert!(matches(
        r#"process where pid == "42""#,
        &ev(json!({"pid": 42}))
    ));
    assert!(matches(
        "process where pid >= 42",
        &ev(json!({"pid": ["1", "42.7"]}))
    ));
    assert!(!matches(
        "process where pid == 42.5",
        &ev(json!({"pid": 42}))
    ));
    assert!(matches(
        "process where ratio == 0.1",
        &ev(json!({"ratio": "0.1"}))
    ));
    assert!(matches(
        "process where ok == true",
        &ev(json!({"ok": "true"}))
    ));
    assert!(matches(
        r#"process where ok == "false""#,
        &ev(json!({"ok": ""}))
    ));
    assert!(matches("process where ok", &ev(json!({"ok": "true"}))));
    assert_eq!(error(r#"process where pid == "abc""#).0, "EQL0310");
    assert_eq!(error(r#"process where pid in (1, "2")"#).0, "EQL0310");
    assert_eq!(error("process where ok == 1").0, "EQL0310");
}

#[test]
fn keyword_and_text_fields() {
    // A number in a keyword field is its text.
    assert!(matches(
        r#"process where name == "42""#,
        &ev(json!({"name": 42}))
    ));
    assert!(matches(
        "process where name == 42",
        &ev(json!({"name": "42"}))
    ));
    assert!(matches(
        r#"process where name : "4*""#,
        &ev(json!({"name": 42}))
    ));
    // Longer than ignore_above: not indexed.
    assert!(!matches(
        r#"process where name : "cmd*""#,
        &ev(json!({"name": "cmd.exe /c x"}))
    ));
    assert!(matches(
        r#"process where name : "cmd*""#,
        &ev(json!({"name": "cmd.exe"}))
    ));
    // A text field is compared through its keyword multi-field.
    assert!(matches(
        r#"process where tags == "a b""#,
        &ev(json!({"tags": "a b"}))
    ));
    assert!(matches(
        r#"process where tags.keyword : "A*""#,
        &ev(json!({"tags": ["x", "a b"]}))
    ));
    assert!(matches(
        r#"process where stringContains(tags, "b")"#,
        &ev(json!({"tags": "a b"}))
    ));
    // Without one, it cannot be compared.
    assert_eq!(error(r#"process where message == "x""#).0, "EQL0309");
    assert_eq!(error(r#"process where name.text : "x""#).0, "EQL0309");
    // A constant_keyword is its value, whatever the event holds.
    assert!(matches(
        r#"process where dataset == "endpoint""#,
        &ev(json!({}))
    ));
    assert!(!matches(
        r#"process where dataset != "endpoint""#,
        &ev(json!({}))
    ));
    // null_value: an explicit null is indexed as it.
    assert!(matches(
        r#"process where with_null == "NULL""#,
        &ev(json!({"with_null": null}))
    ));
    assert!(!matches(
        "process where with_null == null",
        &ev(json!({"with_null": null}))
    ));
    assert!(matches("process where with_null == null", &ev(json!({}))));
}

#[test]
fn optional_and_unknown_fields() {
    // An optional field the mapping lacks is null in a condition, even when
    // the event has it.
    assert!(matches(
        "process where ?x == ?y",
        &ev(json!({"x": 1, "y": 2}))
    ));
    assert!(matches("process where ?x == null", &ev(json!({"x": 1}))));
    assert!(!matches("process where ?x == 1", &ev(json!({"x": 1}))));
    // A mapped optional field reads normally.
    assert!(matches("process where ?pid == 1", &ev(json!({"pid": 1}))));
    // Two mapped fields cannot be compared.
    assert_eq!(error("process where ?pid == ?small").0, "EQL0016");
    assert_eq!(error("process where ?pid + 1 == ?small").0, "EQL0016");
    assert!(!matches(
        "process where ?pid == ?nope + 1",
        &ev(json!({"pid": 1}))
    ));
    // A plain field the mapping lacks is an error, with suggestions.
    assert_eq!(
        error("process where pidd == 1"),
        (
            "EQL0307",
            "Unknown column [pidd], did you mean [pid]?".into()
        )
    );
    assert_eq!(error("process where qqqq == 1").1, "Unknown column [qqqq]");
    assert_eq!(error("process where obj == 1").0, "EQL0308");
    assert_eq!(error("process where pid").0, "EQL0312");
    // The category field must be mapped (here through an alias).
    let bare =
        Mapping::from_json(&json!({"properties": {"@timestamp": {"type": "date"}}})).unwrap();
    let err = CompiledQuery::compile(
        "process where true",
        &CompileOptions::default().with_mapping(bare),
    )
    .unwrap_err();
    assert_eq!(err.diagnostic.message, "Unknown column [event.category]");
}

#[test]
fn values_that_contradict_the_mapping_are_left_out() {
    // As Elasticsearch with `ignore_malformed`: the value is not indexed, the
    // event is still there.
    let bad = ev(
        json!({"pid": "abc", "small": 300, "@timestamp": "yesterday", "ok": "yes", "ip": 3, "name": {"a": 1}}),
    );
    for q in [
        "process where pid == 0",
        "process where pid > 0 or pid <= 0",
        "process where small == 300",
        r#"process where @timestamp > "1970-01-01""#,
        "process where ok == true or ok == false",
        r#"process where ip == "0.0.0.0/0""#,
        r#"process where name : "*""#,
    ] {
        assert!(!matches(q, &bad), "{q}");
    }
    // A missing value: `!=` holds (ES `must_not`), `== null` holds.
    assert!(matches("process where pid != 0", &bad));
    assert!(matches("process where pid == null", &bad));
    assert!(matches("process where true", &bad));
    // The good values of an array stay.
    assert!(matches(
        "process where pid == 3",
        &ev(json!({"pid": ["abc", 3]}))
    ));
}

#[test]
fn sequences_read_keys_and_fields_through_the_mapping() {
    let opts = opts();
    let q = CompiledQuery::compile(
        r#"sequence by pid, ?missing [process where name == "a"] [process where @timestamp >= "1970-01-01T00:00:00.002Z"]"#,
        &opts,
    )
    .unwrap();
    // `event.category` is an alias of `event_type`; `pid` keys join "7" and 7.
    let events = [
        json!({"event_type": "process", "@timestamp": 1, "pid": "7", "name": "a", "missing": 1}),
        json!({"event_type": "process", "@timestamp": 2, "pid": 7, "name": "b", "missing": 2}),
    ];
    let mut session = Session::<usize>::new(&q, SessionOptions::default());
    let mut out = Matches::new();
    for (i, e) in events.iter().enumerate() {
        session.push(i, e, &mut out);
    }
    session.finish(&mut out);
    let got: Vec<Vec<usize>> = out.iter().map(|m| m.events.to_vec()).collect();
    assert_eq!(got, [vec![0, 1]]);
}

#[test]
fn a_file_that_is_not_a_mapping_is_a_typed_error() {
    assert!(matches!(
        Mapping::from_slice(b"[1, 2]"),
        Err(MappingError::NoProperties)
    ));
    assert!(matches!(
        Mapping::from_slice(b"{\"properties\": "),
        Err(MappingError::Json { .. })
    ));
    let e = Mapping::from_slice(br#"{"properties": {"a": {"type": "date", "format": "EEE"}}}"#)
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("field [a]: unsupported date format [EEE]"),
        "{e}"
    );
}
