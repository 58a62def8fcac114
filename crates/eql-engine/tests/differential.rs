//! Differential tests: the lowered plan (`CompiledQuery::is_match`), the pack
//! (`Pack::matches`: routing + candidate index + plan), and both from raw JSON
//! bytes (`is_match_json`, `matches_json`) and over a [`Document`], against the reference
//! interpreter (`CompiledQuery::is_match_reference`), on random queries × random
//! events, in both dialects.
//!
//! Each proptest case is one random pack of queries and a batch of random
//! events; `CASES × QUERIES × EVENTS` is above 100 000 (query, event) pairs
//! per dialect.

use eql_engine::{CompileOptions, CompiledQuery, Document, EventLimits, Pack, PackMatches};
use proptest::prelude::*;
use serde_json::{json, Value as Json};

const FIELDS: &[&str] = &["a", "b", "c.d", "arr", "n"];
/// Words for string literals and values: case pairs, Unicode whose case
/// folding differs between `str::to_lowercase` and regex case classes (`ſ`
/// matches `s` in `regex~` but lower-cases to itself; the Kelvin sign `K`
/// lower-cases to `k`), and numeric strings for numeric equality.
const WORDS: &[&str] = &[
    "cmd.exe",
    "CMD.EXE",
    "x",
    "",
    "ab",
    "a*b",
    "Σa",
    "σa",
    "İx",
    "ix",
    "*ba",
    "abc",
    "2",
    "-1",
    "2.0",
    " 3 ",
    "ſa",
    "SA",
    "\u{212a}x",
    "kx",
    "10.1.2.3",
    " 192.168.7.1 ",
    "::1",
    "FE80::1",
];

/// `cidrMatch` networks: IPv4 and IPv6, a lone address, every bit, a prefix
/// over the width, one that does not read, and no address at all.
fn cidr_lit() -> impl Strategy<Value = String> {
    prop::sample::select(
        &[
            "10.0.0.0/8",
            "10.1.2.3",
            "192.168.0.0/16",
            "::1",
            "fe80::/10",
            "0.0.0.0/0",
            "10.0.0.0/33",
            "192.168.7.0/x",
            "kx",
        ][..],
    )
    .prop_map(|s| format!("{s:?}"))
}

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(WORDS).prop_map(str::to_owned)
}

fn str_lit() -> impl Strategy<Value = String> {
    prop_oneof![
        word(),
        prop::sample::select(&["c*", "*exe", "*m*", "a?c", "*", "?", "ab*", "Σ*", "*a"][..])
            .prop_map(str::to_owned),
    ]
    .prop_map(|s| format!("{s:?}"))
}

/// `regex`/`regex~` patterns with required literals (runs, alternations,
/// classes, repetitions, `.*` at either end) and without.
fn regex_lit() -> impl Strategy<Value = String> {
    prop_oneof![
        str_lit().prop_map(|l| l.replace('*', ".*").replace('?', ".")),
        prop::sample::select(
            &[
                "cmd\\.exe",
                ".*exe",
                ".*\\.EXE",
                "(cmd|ab)c",
                "[Ss]a",
                "s.*",
                "SA|kx",
                ".*[ ]{2,}.*",
                "ſ.*",
                "\u{212a}.*",
                "K.*",
                "Σ.*",
                ".*σa",
                "[0-9]+",
                "-?[0-9](\\.0)?",
                ".*(ab|b).*",
                "a{1,}b?c?",
                "[a-z]+",
                ".+",
            ][..],
        )
        .prop_map(|p| format!("{p:?}")),
    ]
}

fn lit() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => str_lit(),
        2 => (-3i64..4).prop_map(|i| i.to_string()),
        1 => Just("2.0".to_owned()),
        1 => Just("true".to_owned()),
        1 => Just("null".to_owned()),
    ]
}

fn field() -> impl Strategy<Value = String> {
    prop::sample::select(FIELDS).prop_map(str::to_owned)
}

fn leaf(py: bool) -> BoxedStrategy<String> {
    let cmp = prop::sample::select(&["==", "!=", "<", "<=", ">", ">="][..]);
    let mut v: Vec<BoxedStrategy<String>> = vec![
        (field(), cmp, lit())
            .prop_map(|(f, o, l)| format!("{f} {o} {l}"))
            .boxed(),
        (lit(), field())
            .prop_map(|(l, f)| format!("{l} == {f}"))
            .boxed(),
        (
            field(),
            prop::sample::select(&["in", "not in"][..]),
            prop::collection::vec(lit(), 1..4),
        )
            .prop_map(|(f, o, ls)| format!("{f} {o} ({})", ls.join(", ")))
            .boxed(),
        (field(), prop::collection::vec(str_lit(), 1..4))
            .prop_map(|(f, ls)| format!("{f} : ({})", ls.join(", ")))
            .boxed(),
        (
            field(),
            prop::sample::select(&["startsWith", "endsWith", "stringContains"][..]),
            str_lit(),
        )
            .prop_map(|(f, func, l)| format!("{func}({f}, {l})"))
            .boxed(),
        (field(), lit())
            .prop_map(|(f, l)| format!("{f} + 1 == {l}"))
            .boxed(),
        (field(), prop::collection::vec(cidr_lit(), 1..4))
            .prop_map(|(f, ls)| format!("cidrMatch({f}, {})", ls.join(", ")))
            .boxed(),
        Just("true".to_owned()).boxed(),
        Just("1 == 2".to_owned()).boxed(),
    ];
    if py {
        v.push(
            (
                field(),
                prop::sample::select(&["like", "like~", ":", "in~"][..]),
                prop::collection::vec(str_lit(), 1..3),
            )
                .prop_map(|(f, o, ls)| format!("{f} {o} ({})", ls.join(", ")))
                .boxed(),
        );
    } else {
        v.push(
            (
                field(),
                prop::sample::select(&["in~", "like", "like~", ":"][..]),
                prop::collection::vec(str_lit(), 1..3),
            )
                .prop_map(|(f, o, ls)| format!("{f} {o} ({})", ls.join(", ")))
                .boxed(),
        );
        v.push(
            (
                field(),
                prop::sample::select(&["regex", "regex~"][..]),
                prop::collection::vec(regex_lit(), 1..3),
            )
                .prop_map(|(f, o, ls)| format!("{f} {o} ({})", ls.join(", ")))
                .boxed(),
        );
        v.push(
            (field(), str_lit())
                .prop_map(|(f, l)| format!("startsWith~({f}, {l})"))
                .boxed(),
        );
    }
    prop::strategy::Union::new(v).boxed()
}

fn cond(py: bool) -> impl Strategy<Value = String> {
    leaf(py).prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} and {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b})")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
}

fn query(py: bool) -> impl Strategy<Value = String> {
    (
        prop::sample::select(&["process", "file", "any"][..]),
        cond(py),
    )
        .prop_map(|(c, w)| format!("{c} where {w}"))
}

fn scalar() -> impl Strategy<Value = Json> {
    prop_oneof![
        4 => word().prop_map(Json::from),
        2 => (-3i64..4).prop_map(Json::from),
        1 => Just(json!(2.0)),
        1 => Just(json!(true)),
        1 => Just(Json::Null),
    ]
}

fn value() -> impl Strategy<Value = Json> {
    prop_oneof![
        5 => scalar(),
        2 => prop::collection::vec(scalar(), 0..3).prop_map(Json::from),
        1 => prop::collection::vec(prop::collection::vec(scalar(), 0..2).prop_map(Json::from), 0..2)
            .prop_map(Json::from),
        1 => Just(json!({"k": 1})),
    ]
}

fn event(py: bool) -> impl Strategy<Value = Json> {
    let cat_field = if py { "event_type" } else { "event.category" };
    (
        prop::collection::vec(prop::option::of(value()), FIELDS.len()),
        prop_oneof![
            Just(json!("process")),
            Just(json!("file")),
            Just(json!(["process", "file"])),
            Just(json!("network")),
            Just(Json::Null),
        ],
        any::<bool>(),
    )
        .prop_map(move |(vals, cat, dotted)| {
            let mut obj = serde_json::Map::new();
            for (f, v) in FIELDS.iter().zip(vals) {
                let Some(v) = v else { continue };
                if *f == "c.d" && !dotted {
                    obj.insert("c".into(), json!({ "d": v }));
                } else {
                    obj.insert((*f).into(), v);
                }
            }
            if cat_field == "event_type" {
                obj.insert("event_type".into(), cat);
            } else {
                obj.insert("event".into(), json!({ "category": cat }));
            }
            Json::Object(obj)
        })
}

fn check(py: bool, queries: &[String], events: &[Json]) -> Result<(), TestCaseError> {
    let opts = if py {
        CompileOptions::python()
    } else {
        CompileOptions::default()
    };
    check_with(&opts, queries, events)
}

fn check_with(
    opts: &CompileOptions,
    queries: &[String],
    events: &[Json],
) -> Result<(), TestCaseError> {
    let opts = opts.clone();
    let engines: Vec<CompiledQuery> = queries
        .iter()
        .filter_map(|q| CompiledQuery::compile(q, &opts).ok())
        .collect();
    let pack = Pack::new(&engines);
    let mut hits = PackMatches::new();
    for ev in events {
        let bytes = serde_json::to_vec(ev).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let doc = Document::parse(&bytes, &EventLimits::default())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut expected = Vec::new();
        for (i, e) in engines.iter().enumerate() {
            let reference = e.is_match_reference(ev);
            prop_assert_eq!(
                e.is_match_reference(&doc),
                reference,
                "reference over a Document vs over the DOM: query `{}` event {}",
                e.query(),
                ev
            );
            prop_assert_eq!(
                e.is_match(ev),
                reference,
                "plan vs reference: query `{}` event {}",
                e.query(),
                ev
            );
            prop_assert_eq!(
                e.is_match_json(&bytes).ok(),
                Some(reference),
                "raw bytes vs reference: query `{}` event {}",
                e.query(),
                ev
            );
            if reference {
                expected.push(i as u32);
            }
        }
        pack.matches(ev, &mut hits);
        prop_assert_eq!(
            hits.rules(),
            &expected[..],
            "pack vs reference on event {}\n{}",
            ev,
            pack
        );
        pack.matches(&doc, &mut hits);
        prop_assert_eq!(
            hits.rules(),
            &expected[..],
            "pack over a Document vs reference on event {}\n{}",
            ev,
            pack
        );
        pack.matches_json(&bytes, &mut hits)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(
            hits.rules(),
            &expected[..],
            "pack from raw bytes vs reference on event {}\n{}",
            ev,
            pack
        );
    }
    Ok(())
}

const CASES: u32 = 400;

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    /// 400 cases × packs of 1–50 queries × 32 events: about 330 000 pairs.
    #[test]
    fn es_plan_and_pack_agree_with_reference(
        queries in prop::collection::vec(query(false), 1..51),
        events in prop::collection::vec(event(false), 32),
    ) {
        check(false, &queries, &events)?;
    }

    #[test]
    fn python_plan_and_pack_agree_with_reference(
        queries in prop::collection::vec(query(true), 1..51),
        events in prop::collection::vec(event(true), 32),
    ) {
        check(true, &queries, &events)?;
    }

    /// The Python dialect's case-sensitive mode: the witnesses of its leaves
    /// are not folded.
    #[test]
    fn python_case_sensitive_plan_and_pack_agree_with_reference(
        queries in prop::collection::vec(query(true), 1..51),
        events in prop::collection::vec(event(true), 32),
    ) {
        let mut opts = CompileOptions::python();
        opts.case_sensitive = true;
        check_with(&opts, &queries, &events)?;
    }
}

/// `== null` and `!= null` read a field's whole value: missing, `null`, a
/// scalar, an object, and arrays, nested ones included (an array of only
/// arrays holds no item for `!=`), agree with the reference, alone, negated
/// and in a pack, over the DOM, a `Document` and the bytes.
#[test]
fn null_tests_on_every_shape_of_value_agree_with_the_reference() {
    let queries: Vec<String> = [
        "any where x == null",
        "any where x != null",
        "any where null != x",
        "any where not x == null",
        "any where not x != null",
        "any where x.y == null or x != null",
    ]
    .iter()
    .map(|q| (*q).to_owned())
    .collect();
    let events: Vec<Json> = [
        json!({}),
        json!({"x": null}),
        json!({"x": 1}),
        json!({"x": "a"}),
        json!({"x": {}}),
        json!({"x": {"y": null}}),
        json!({"x": []}),
        json!({"x": [null]}),
        json!({"x": [[]]}),
        json!({"x": [[], [[]]]}),
        json!({"x": [[1]]}),
        json!({"x": [[], 1]}),
        json!({"x": [{}]}),
    ]
    .into_iter()
    .map(|mut e| {
        e["event"] = json!({"category": "process"});
        e
    })
    .collect();
    check_with(&CompileOptions::default(), &queries, &events).unwrap();
}

#[test]
fn star_in_value_is_still_a_wildcard_in_the_pattern() {
    let e = CompiledQuery::compile(r#"any where a : "*a""#, &CompileOptions::default()).unwrap();
    let ev = json!({"a": "*ba"});
    assert!(e.is_match(&ev));
    assert!(e.is_match_reference(&ev));
}

/// Results of a session, per rule, as (rule, event handles) in emission
/// order; `bytes`: the events are pushed as their bytes (`push_json`).
fn session_results(
    engines: &[&CompiledQuery],
    events: &[Json],
    bytes: bool,
) -> Vec<(usize, Vec<usize>)> {
    let plan = eql_engine::SessionPlan::new(engines.iter().map(|&e| e.clone()));
    let mut s: eql_engine::Session<usize> =
        eql_engine::Session::new(plan, eql_engine::SessionOptions::default());
    let mut out = eql_engine::Matches::new();
    let mut all = Vec::new();
    for (i, ev) in events.iter().enumerate() {
        out.clear();
        if bytes {
            let line = serde_json::to_vec(ev).expect("serializes");
            s.push_json(i, &line, &mut out).expect("an object");
        } else {
            s.push(i, ev, &mut out);
        }
        all.extend(out.iter().map(|m| (m.rule, m.events.to_vec())));
    }
    out.clear();
    s.finish(&mut out);
    all.extend(out.iter().map(|m| (m.rule, m.events.to_vec())));
    all
}

fn seq_query() -> impl Strategy<Value = String> {
    prop_oneof![
        query(false),
        (
            cond(false),
            cond(false),
            prop::sample::select(&["a", "b", "c.d"][..])
        )
            .prop_map(|(x, y, k)| format!(
                "sequence by {k} with maxspan=5s [process where {x}] [file where {y}]"
            )),
        (cond(false), cond(false)).prop_map(|(x, y)| format!(
            "sequence [any where {x}] [any where {y}] until [process where b == \"x\"]"
        )),
        (cond(false), cond(false))
            .prop_map(|(x, y)| format!("sample by a [process where {x}] [file where {y}]")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    /// A multi-rule session evaluates every step query through one pack per
    /// category field, reads each rule's own timestamp field once per event,
    /// and runs a rule only when one of its step queries matched; each rule
    /// must give exactly what its own one-rule session (no pack) gives.
    /// Rules with `alt` read their category from `kind` and their timestamp
    /// from `ts2` (in the order of `@timestamp`, with other gaps).
    #[test]
    fn pack_session_equals_one_session_per_rule(
        queries in prop::collection::vec((seq_query(), any::<bool>()), 2..8),
        events in prop::collection::vec((event(false), prop::sample::select(&["process", "file", "network"][..])), 40),
    ) {
        let base = CompileOptions::default();
        let mut alt = CompileOptions::default();
        alt.category_field = "kind".into();
        alt.timestamp_field = "ts2".into();
        let engines: Vec<CompiledQuery> = queries
            .iter()
            .filter_map(|(q, a)| CompiledQuery::compile(q, if *a { &alt } else { &base }).ok())
            .collect();
        prop_assume!(engines.len() >= 2);
        let events: Vec<Json> = events
            .into_iter()
            .enumerate()
            .map(|(i, (mut e, kind))| {
                e["@timestamp"] = json!(i as i64 * 1000);
                // Same order, other gaps: `maxspan` tells the fields apart.
                e["ts2"] = json!(i as i64 * i as i64 * 300);
                e["kind"] = json!(kind);
                e
            })
            .collect();
        let refs: Vec<&CompiledQuery> = engines.iter().collect();
        let mut together = session_results(&refs, &events, false);
        // From bytes: one projection over every field the rules read (their
        // own category and timestamp fields included).
        prop_assert_eq!(&session_results(&refs, &events, true), &together);
        let mut separate = Vec::new();
        for (i, e) in engines.iter().enumerate() {
            separate.extend(session_results(&[e], &events, false).into_iter().map(|(_, ev)| (i, ev)));
        }
        together.sort();
        separate.sort();
        prop_assert_eq!(together, separate);
    }
}

// ---- Index mapping: fields typed by a mapping ----------------------------

/// Mapped fields, one per kind of comparison.
const MAPPED: &[&str] = &["k", "n", "t", "ns", "ip", "v", "f", "ok", "tx", "c.d"];

fn es_mapping() -> eql_engine::Mapping {
    eql_engine::Mapping::from_json(&json!({"properties": {
        "@timestamp": {"type": "date"},
        "event": {"properties": {"category": {"type": "keyword"}}},
        "k": {"type": "keyword", "ignore_above": 5, "null_value": "NULL"},
        "n": {"type": "long"},
        "t": {"type": "date"},
        "ns": {"type": "date_nanos"},
        "ip": {"type": "ip"},
        "v": {"type": "version"},
        "f": {"type": "float"},
        "ok": {"type": "boolean"},
        "tx": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 4}}},
        "c": {"properties": {"d": {"type": "alias", "path": "k"}}}
    }}))
    .unwrap_or_default()
}

/// Values and literals that read as several types: dates, addresses,
/// versions, numbers in strings, words.
const TYPED_WORDS: &[&str] = &[
    "1970-01-01T00:00:01Z",
    "1970-01-01T00:00:01.5Z",
    "1970-01-01",
    "1000",
    "1500",
    "10.0.0.1",
    "10.0.0.0/8",
    "::1",
    "1.2.4",
    "1.11.3",
    "1.2.4-SNAPSHOT",
    "42",
    "0.1",
    "true",
    "",
    "abc",
    "ABC",
    "NULL",
];

fn typed_word() -> impl Strategy<Value = String> {
    prop::sample::select(TYPED_WORDS).prop_map(str::to_owned)
}

fn typed_lit() -> impl Strategy<Value = String> {
    prop_oneof![
        5 => typed_word().prop_map(|s| format!("{s:?}")),
        2 => prop::sample::select(&[0i64, 1, 42, 1000, 1500, -3][..]).prop_map(|i| i.to_string()),
        1 => Just("0.1".to_owned()),
        1 => Just("true".to_owned()),
        1 => Just("null".to_owned()),
    ]
}

fn mapped_field() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => prop::sample::select(MAPPED).prop_map(str::to_owned),
        1 => Just("?u".to_owned()),
        1 => Just("?k".to_owned()),
    ]
}

fn mapped_leaf() -> BoxedStrategy<String> {
    let cmp = || prop::sample::select(&["==", "!=", "<", "<=", ">", ">="][..]);
    // A field with a literal of its own type, so that typed tests compile.
    let suited = prop::sample::select(
        &[
            ("t", "\"1970-01-01T00:00:01Z\""),
            ("t", "\"1970-01-01\""),
            ("t", "1000"),
            ("t", "\"1500\""),
            ("ns", "\"1970-01-01T00:00:01.5Z\""),
            ("ns", "1"),
            ("ip", "\"10.0.0.0/8\""),
            ("ip", "\"10.0.0.1\""),
            ("ip", "\"::1\""),
            ("v", "\"1.2.4\""),
            ("v", "\"1.11.3\""),
            ("v", "\"abc\""),
            ("n", "\"42\""),
            ("n", "1.5"),
            ("f", "0.1"),
            ("ok", "\"true\""),
            ("k", "42"),
            ("tx", "\"abc\""),
        ][..],
    );
    let any = prop::strategy::Union::new(vec![
        (mapped_field(), cmp(), typed_lit())
            .prop_map(|(f, o, l)| format!("{f} {o} {l}"))
            .boxed(),
        (typed_lit(), mapped_field())
            .prop_map(|(l, f)| format!("{l} < {f}"))
            .boxed(),
        (
            mapped_field(),
            prop::sample::select(&["in", "not in", "in~"][..]),
            prop::collection::vec(typed_lit(), 1..4),
        )
            .prop_map(|(f, o, ls)| format!("{f} {o} ({})", ls.join(", ")))
            .boxed(),
        (
            mapped_field(),
            prop::sample::select(&[":", "like~", "regex"][..]),
            prop::collection::vec(
                prop::sample::select(&["1*", "*.4", "a*", "10.*", "*"][..]),
                1..3,
            ),
        )
            .prop_map(|(f, o, ls)| {
                let ls: Vec<String> = ls
                    .iter()
                    .map(|l| {
                        if o == "regex" {
                            format!("{:?}", l.replace('.', "\\.").replace('*', ".*"))
                        } else {
                            format!("{l:?}")
                        }
                    })
                    .collect();
                format!("{f} {o} ({})", ls.join(", "))
            })
            .boxed(),
        (mapped_field(), typed_word())
            .prop_map(|(f, w)| format!("startsWith({f}, {w:?})"))
            .boxed(),
        Just("cidrMatch(ip, \"10.0.0.0/8\", \"::1\")".to_owned()).boxed(),
        (mapped_field(), typed_lit())
            .prop_map(|(f, l)| format!("{f} + 1 == {l}"))
            .boxed(),
        Just("?u == ?w".to_owned()).boxed(),
        Just("ok".to_owned()).boxed(),
    ]);
    prop_oneof![
        1 => (suited, cmp()).prop_map(|((f, l), o)| format!("{f} {o} {l}")),
        1 => any,
    ]
    .boxed()
}

fn mapped_query() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&["process", "any"][..]),
        mapped_leaf().prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} and {b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b})")),
                inner.prop_map(|a| format!("not ({a})")),
            ]
        }),
    )
        .prop_map(|(c, w)| format!("{c} where {w}"))
}

fn typed_scalar() -> impl Strategy<Value = Json> {
    prop_oneof![
        5 => typed_word().prop_map(Json::from),
        2 => prop::sample::select(&[0i64, 1, 42, 1000, 1500, 300][..]).prop_map(Json::from),
        1 => Just(json!(0.1)),
        1 => Just(json!(1.5)),
        1 => Just(json!(true)),
        1 => Just(Json::Null),
    ]
}

fn typed_value() -> impl Strategy<Value = Json> {
    prop_oneof![
        5 => typed_scalar(),
        2 => prop::collection::vec(typed_scalar(), 0..3).prop_map(Json::from),
        1 => Just(json!({"k": 1})),
    ]
}

fn mapped_event() -> impl Strategy<Value = Json> {
    let names = ["k", "n", "t", "ns", "ip", "v", "f", "ok", "tx", "u", "w"];
    (
        prop::collection::vec(prop::option::of(typed_value()), names.len()),
        prop_oneof![
            Just(json!("process")),
            Just(json!("file")),
            Just(Json::Null)
        ],
    )
        .prop_map(move |(vals, cat)| {
            let mut obj = serde_json::Map::new();
            for (f, v) in names.iter().zip(vals) {
                if let Some(v) = v {
                    obj.insert((*f).into(), v);
                }
            }
            obj.insert("event".into(), json!({ "category": cat }));
            Json::Object(obj)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// With a mapping: the plan (typed slots, typed tests), raw bytes,
    /// Documents and the pack agree with the reference interpreter, which
    /// reads and compares each field as its mapped type does.
    #[test]
    fn mapped_plan_and_pack_agree_with_reference(
        queries in prop::collection::vec(mapped_query(), 1..41),
        events in prop::collection::vec(mapped_event(), 32),
    ) {
        let opts = CompileOptions::default().with_mapping(es_mapping());
        let compiled = queries.iter().filter(|q| CompiledQuery::compile(q, &opts).is_ok()).count();
        prop_assume!(compiled > 0);
        check_with(&opts, &queries, &events)?;
    }

    /// One pack of rules compiled with and without the mapping: a field read
    /// both ways keeps each rule's own semantics.
    #[test]
    fn a_pack_mixing_mapped_and_dynamic_rules_agrees_with_reference(
        queries in prop::collection::vec((mapped_query(), any::<bool>()), 2..30),
        events in prop::collection::vec(mapped_event(), 24),
    ) {
        let mapped = CompileOptions::default().with_mapping(es_mapping());
        let dynamic = CompileOptions::default();
        let engines: Vec<CompiledQuery> = queries
            .iter()
            .filter_map(|(q, m)| CompiledQuery::compile(q, if *m { &mapped } else { &dynamic }).ok())
            .collect();
        prop_assume!(!engines.is_empty());
        let pack = Pack::new(&engines);
        let mut hits = PackMatches::new();
        for ev in &events {
            let expected: Vec<u32> = engines
                .iter()
                .enumerate()
                .filter(|(_, e)| e.is_match_reference(ev))
                .map(|(i, _)| i as u32)
                .collect();
            pack.matches(ev, &mut hits);
            prop_assert_eq!(hits.rules(), &expected[..], "event {}\n{}", ev, pack);
            let bytes = serde_json::to_vec(ev).map_err(|e| TestCaseError::fail(e.to_string()))?;
            pack.matches_json(&bytes, &mut hits).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(hits.rules(), &expected[..], "raw bytes, event {}", ev);
        }
    }
}

// ---- One pass over the bytes for several category fields -----------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// A pack whose queries route by two category fields (`event.category`
    /// and `kind`), some or all reading the quoted field `` `c.d` `` (one
    /// key with a dot) rather than `c.d`, matched from raw bytes in one
    /// pass, gives each query's reference answer; and the values it
    /// captures are `Event::get`'s on the DOM.
    #[test]
    fn a_pack_over_two_category_fields_from_bytes_agrees_with_reference(
        queries in prop::collection::vec((query(false), any::<bool>(), any::<bool>()), 1..30),
        all_quoted: bool,
        events in prop::collection::vec((event(false), prop::sample::select(&["process", "file", "network"][..])), 32),
    ) {
        let base = CompileOptions::default();
        let mut kind = CompileOptions::default();
        kind.category_field = "kind".into();
        let engines: Vec<CompiledQuery> = queries
            .iter()
            .filter_map(|(q, by_kind, quoted)| {
                let q = if *quoted || all_quoted { q.replace("c.d", "`c.d`") } else { q.clone() };
                CompiledQuery::compile(&q, if *by_kind { &kind } else { &base }).ok()
            })
            .collect();
        // With every query reading the quoted field, no path goes through
        // `c`, and a literal `c.d` key is read in the one pass.
        let nested = ["c.d"].into_iter().filter(|_| !all_quoted);
        let captures: Vec<eql_engine::FieldPath> = ["a", "arr", "kind"]
            .into_iter()
            .chain(nested)
            .map(eql_engine::FieldPath::parse_dotted)
            .chain([eql_engine::FieldPath::new(vec![eql_engine::PathSegment::Key("c.d".into())])])
            .collect();
        let pack = Pack::new(&engines).capture(&captures);
        // The same, copying out only what each event needs: the first path
        // always, and one more per rule it matches.
        let per_rule: Vec<Vec<u32>> =
            (0..engines.len()).map(|i| vec![1 + (i % (captures.len() - 1)) as u32]).collect();
        let only = Pack::new(&engines).capture(&captures).capture_only(&[0], &per_rule);
        // And a pack of one category field, whose pass copies out only
        // what each event needs.
        let single: Vec<&CompiledQuery> = engines
            .iter()
            .filter(|e| e.options().category_field == "event.category")
            .collect();
        let single_pack = Pack::new(single.iter().copied())
            .capture(&captures)
            .capture_only(&[0], &per_rule);
        let mut hits = PackMatches::new();
        for (mut ev, k) in events {
            ev["kind"] = json!(k);
            let bytes = serde_json::to_vec(&ev).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let expected: Vec<u32> = engines
                .iter()
                .enumerate()
                .filter(|(_, e)| e.is_match_reference(&ev))
                .map(|(i, _)| i as u32)
                .collect();
            pack.matches_json(&bytes, &mut hits)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(hits.rules(), &expected[..], "event {}\n{}", ev, pack);
            let want: Vec<(u32, eql_engine::Value<'static>)> = captures
                .iter()
                .enumerate()
                .filter_map(|(i, p)| Some((i as u32, eql_engine::Event::get(&ev, p)?.into_owned())))
                .collect();
            prop_assert_eq!(hits.captured(), &want[..], "captures of {}", ev);
            // The same from the DOM.
            pack.matches(&ev, &mut hits);
            prop_assert_eq!(hits.rules(), &expected[..], "DOM: event {}\n{}", ev, pack);
            prop_assert_eq!(hits.captured(), &want[..], "DOM: captures of {}", ev);
            // What an event matching `rules` reports: the captures of the
            // first path and of each matched rule's own.
            let wanted = |rules: &[u32]| -> Vec<(u32, eql_engine::Value<'static>)> {
                let needed: Vec<u32> = rules.iter().map(|&r| per_rule[r as usize][0]).collect();
                want.iter()
                    .filter(|(k, _)| *k == 0 || needed.contains(k))
                    .cloned()
                    .collect()
            };
            let want_only = wanted(&expected);
            only.matches_json(&bytes, &mut hits)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(hits.rules(), &expected[..], "only: event {}", ev);
            prop_assert_eq!(hits.captured(), &want_only[..], "only: captures of {}", ev);
            only.matches(&ev, &mut hits);
            prop_assert_eq!(hits.captured(), &want_only[..], "only, DOM: captures of {}", ev);
            single_pack
                .matches_json(&bytes, &mut hits)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let want_single = wanted(hits.rules());
            prop_assert_eq!(hits.captured(), &want_single[..], "one group: captures of {}", ev);
            single_pack.matches(&ev, &mut hits);
            prop_assert_eq!(hits.captured(), &want_single[..], "one group, DOM: captures of {}", ev);
        }
    }
}
