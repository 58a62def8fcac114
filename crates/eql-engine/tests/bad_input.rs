//! Bad input, end to end: each case asserts the exact error kind and that the
//! error names the line (events) or the file (rules). Nothing here may panic,
//! overflow the stack (debug builds included) or parse a line it must reject
//! on length alone.

use eql_engine::{
    parse_event, parse_event_line, CompileOptions, CompiledQuery, Document, EventError,
    EventErrorKind, EventLimits, EventLines, FieldPath, JsonType, Matches, Pack, PackMatches,
    Projection, RuleLoadError, RuleSet, Session, SessionOptions, SessionPlan,
};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;

fn limits() -> EventLimits {
    EventLimits::default()
}

fn kind_at(bytes: &[u8], line: u64) -> EventErrorKind {
    let err = parse_event_line(bytes, &limits(), line).expect_err("bad input must be rejected");
    assert_eq!(err.line, Some(line), "the error names the line");
    assert!(
        err.to_string().starts_with(&format!("line {line}")),
        "{err}"
    );
    err.kind
}

#[test]
fn invalid_utf8() {
    let err = parse_event_line(b"{\"a\": \"caf\xe9\"}", &limits(), 4).unwrap_err();
    assert_eq!(err.kind, EventErrorKind::InvalidUtf8);
    assert_eq!((err.line, err.column), (Some(4), Some(11)));
    assert_eq!(err.to_string(), "line 4, column 11: invalid UTF-8");
}

#[test]
fn truncated_json() {
    for bytes in [
        &b"{"[..],
        b"{\"a\": {\"b\": 1}",
        b"{\"a\": \"unterminated",
        b"{\"a\":",
    ] {
        assert_eq!(kind_at(bytes, 2), EventErrorKind::Truncated, "{bytes:?}");
    }
}

#[test]
fn malformed_json() {
    let err = parse_event_line(b"{\"a\" 1}", &limits(), 9).unwrap_err();
    assert_eq!(
        err.kind,
        EventErrorKind::Syntax {
            message: "expected `:`".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "line 9, column 6: invalid JSON: expected `:`"
    );
    // Two values on one line, and NaN (not JSON) are syntax errors too.
    assert!(matches!(
        kind_at(b"{} {}", 1),
        EventErrorKind::Syntax { .. }
    ));
    assert!(matches!(
        kind_at(b"{\"n\": NaN}", 1),
        EventErrorKind::Syntax { .. }
    ));
}

#[test]
fn not_an_object() {
    for (bytes, found) in [
        (&b"[1, 2]"[..], JsonType::Array),
        (b"\"text\"", JsonType::String),
        (b"42", JsonType::Number),
        (b"true", JsonType::Bool),
        (b"  null", JsonType::Null),
    ] {
        assert_eq!(
            kind_at(bytes, 5),
            EventErrorKind::NotAnObject { found },
            "{bytes:?}"
        );
    }
    let err = parse_event(b"  null", &limits()).unwrap_err();
    assert_eq!(err.column, Some(3));
    assert_eq!(err.to_string(), "column 3: not a JSON object (found null)");
}

#[test]
fn empty_line() {
    assert_eq!(kind_at(b" \t ", 1), EventErrorKind::Empty);
}

/// A 100 MB line is rejected on its length alone: the invalid byte at its end
/// would be reported as `InvalidUtf8` if any byte had been looked at.
#[test]
fn line_of_100_mb_is_too_large() {
    let mut line = Vec::with_capacity(100 << 20);
    line.extend_from_slice(b"{\"a\": \"");
    line.resize((100 << 20) - 3, b'x');
    line.extend_from_slice(b"\"}\xff");
    assert_eq!(line.len(), 100 << 20);
    assert_eq!(
        kind_at(&line, 12),
        EventErrorKind::TooLarge {
            len: 100 << 20,
            max: 16 << 20
        }
    );
    let mut small = limits();
    small.max_line_bytes = 8;
    let err = parse_event(b"{\"a\": 12}", &small).unwrap_err();
    assert_eq!(err.kind, EventErrorKind::TooLarge { len: 9, max: 8 });
    assert!(parse_event(b"{\"a\": 1}", &small).is_ok());
}

/// 100 000 unclosed brackets: `TooDeep` (not `Truncated`), found by the scan
/// before the recursive parser runs, so no stack overflow in debug builds.
#[test]
fn nested_100_000_deep_is_too_deep() {
    for open in [b'[', b'{'] {
        let mut line = b"{\"a\": ".to_vec();
        for _ in 0..100_000 {
            line.push(open);
            if open == b'{' {
                line.extend_from_slice(b"\"k\":");
            }
        }
        let err = parse_event_line(&line, &limits(), 3).unwrap_err();
        assert_eq!(err.kind, EventErrorKind::TooDeep { max: 128 });
        assert_eq!(err.line, Some(3));
    }
    // Closed, balanced nesting too, and brackets inside strings do not count.
    let deep = format!("{{\"a\": {}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(
        kind_at(deep.as_bytes(), 1),
        EventErrorKind::TooDeep { max: 128 }
    );
    let quoted = format!("{{\"a\": \"{}\"}}", "[{".repeat(100_000));
    assert!(parse_event(quoted.as_bytes(), &limits()).is_ok());
}

/// The default limit agrees with serde_json's: 127 nested containers parse,
/// 128 do not. A larger setting is still capped by serde_json, as `TooDeep`.
#[test]
fn depth_limit_boundary() {
    let nest = |n: usize| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
    assert!(parse_event(nest(127).as_bytes(), &limits()).is_ok());
    let err = parse_event(nest(128).as_bytes(), &limits()).unwrap_err();
    assert_eq!(err.kind, EventErrorKind::TooDeep { max: 128 });
    assert_eq!(err.column, Some(128 * 5 - 4));
    let mut lax = limits();
    lax.max_depth = 1000;
    assert_eq!(
        parse_event(nest(500).as_bytes(), &lax).unwrap_err().kind,
        EventErrorKind::TooDeep { max: 128 }
    );
    let mut strict = limits();
    strict.max_depth = 3;
    assert!(parse_event(nest(2).as_bytes(), &strict).is_ok());
    assert_eq!(
        parse_event(nest(3).as_bytes(), &strict).unwrap_err().kind,
        EventErrorKind::TooDeep { max: 3 }
    );
}

fn es(query: &str) -> CompiledQuery {
    CompiledQuery::compile(query, &CompileOptions::default()).expect("valid query")
}

/// `1e999` does not fit f64: a typed error, not infinity and not a panic.
#[test]
fn number_out_of_range_is_an_error() {
    assert_eq!(
        kind_at(b"{\"n\": 1e999}", 6),
        EventErrorKind::NumberOutOfRange
    );
    assert_eq!(
        kind_at(b"{\"n\": -1e999}", 6),
        EventErrorKind::NumberOutOfRange
    );
}

/// Huge, negative-zero and string-typed numbers parse and compare by the
/// dialect's rules; none panics.
#[test]
fn huge_and_odd_numbers_compare_by_the_rules() {
    let ev = |text: &str| parse_event(text.as_bytes(), &limits()).expect("valid event");
    // 2^64 does not fit i64/u64: it becomes the nearest f64, and equals the
    // query literal 18446744073709551616 (also a float).
    let big = ev(r#"{"event": {"category": "process"}, "n": 18446744073709551616}"#);
    assert!(big["n"].is_f64());
    assert!(es("process where n == 18446744073709551616").is_match(&big));
    assert!(es("process where n > 9223372036854775807").is_match(&big));
    // u64::MAX stays an integer in serde_json; compared as a float here.
    let umax = ev(r#"{"event": {"category": "process"}, "n": 18446744073709551615}"#);
    assert!(umax["n"].is_u64());
    assert!(es("process where n > 1000").is_match(&umax));
    // 1e300 is a float.
    let huge = ev(r#"{"event": {"category": "process"}, "n": 1e300}"#);
    assert!(es("process where n > 9223372036854775807").is_match(&huge));
    // -0 equals 0.
    let negzero = ev(r#"{"event": {"category": "process"}, "n": -0}"#);
    assert!(negzero["n"]
        .as_f64()
        .is_some_and(|f| f == 0.0 && f.is_sign_negative()));
    assert!(es("process where n == 0").is_match(&negzero));
    assert!(!es("process where n < 0").is_match(&negzero));
    // "NaN" and "5" are strings: a numeric comparison with a string does not
    // match (the null rules), a string match does.
    let nan = ev(r#"{"event": {"category": "process"}, "n": "NaN", "m": "5"}"#);
    assert!(!es("process where n == 5").is_match(&nan));
    assert!(!es("process where n > 5").is_match(&nan));
    assert!(!es("process where n < 5").is_match(&nan));
    assert!(es(r#"process where n : "nan""#).is_match(&nan));
    assert!(!es("process where m == 5").is_match(&nan));
    assert!(es(r#"process where m == "5""#).is_match(&nan));
}

/// A timestamp that does not parse does not hide the event from single-event
/// rules. (Sequences order events by timestamp: how they report such events
/// belongs to the session layer, not covered here.)
#[test]
fn unparsable_timestamp_still_gets_single_event_rules() {
    let engine = es(r#"process where process.name : "cmd.exe""#);
    for ts in [
        json!("not a timestamp"),
        json!("2024-13-45T99:99:99Z"),
        json!(""),
        json!(null),
        json!(-1),
        json!(1e300),
        json!({"nested": true}),
    ] {
        let event = json!({
            "@timestamp": ts,
            "event": {"category": "process"},
            "process": {"name": "CMD.EXE"}
        });
        let bytes = serde_json::to_vec(&event).expect("serializable");
        let parsed = parse_event(&bytes, &limits()).expect("valid event");
        assert!(engine.is_match(&parsed), "timestamp {ts}");
    }
}

/// Valid lines around bad ones are all returned, in order, with their lines.
#[test]
fn bad_lines_do_not_lose_good_ones() {
    let buf = b"{\"i\": 1}\n{\"i\": \xff}\n\n[3]\r\n{\"i\": 4\n{\"i\": 5}\r\n  \n{\"i\": 6}";
    let items: Vec<_> = EventLines::new(buf, &limits()).collect();
    let summary: Vec<(u64, Result<i64, EventErrorKind>)> = items
        .into_iter()
        .map(|(line, r)| {
            (
                line,
                r.map(|v| v["i"].as_i64().unwrap_or(-1)).map_err(|e| e.kind),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, Ok(1)),
            (2, Err(EventErrorKind::InvalidUtf8)),
            (
                4,
                Err(EventErrorKind::NotAnObject {
                    found: JsonType::Array
                })
            ),
            (5, Err(EventErrorKind::Truncated)),
            (6, Ok(5)),
            (8, Ok(6)),
        ]
    );
}

const RULE_HEAD: &str = r#"[metadata]
maturity = "production"

[rule]
name = "Bad rule"
rule_id = "00000000-0000-0000-0000-000000000000"
language = "eql"
type = "eql"
"#;

#[test]
fn toml_rule_missing_query_names_the_file() {
    let path = Path::new("rules/windows/bad_missing_query.toml");
    match RuleSet::parse_toml(path, RULE_HEAD) {
        Err(e @ RuleLoadError::MissingField { .. }) => {
            let RuleLoadError::MissingField { path: p, field, .. } = &e else {
                unreachable!()
            };
            assert_eq!(p, path);
            assert_eq!(field, "rule.query");
            assert!(
                e.to_string()
                    .starts_with("rules/windows/bad_missing_query.toml"),
                "{e}"
            );
        }
        other => panic!("expected MissingField, got {other:?}"),
    }
}

#[test]
fn toml_rule_wrong_types_name_the_file() {
    let path = Path::new("rules/bad_types.toml");
    for (extra, field, expected) in [
        ("query = 42\n", "rule.query", "a string"),
        (
            "query = 'any where true'\nrisk_score = \"high\"\n",
            "rule.risk_score",
            "a non-negative integer",
        ),
        (
            "query = 'any where true'\ntags = \"one\"\n",
            "rule.tags",
            "an array of strings",
        ),
    ] {
        let text = format!("{RULE_HEAD}{extra}");
        match RuleSet::parse_toml(path, &text) {
            Err(
                ref e @ RuleLoadError::WrongType {
                    path: ref p,
                    field: ref f,
                    ..
                },
            ) => {
                assert_eq!(p, path);
                assert_eq!(f, field, "{e}");
                assert!(
                    e.to_string().starts_with("rules/bad_types.toml")
                        && e.to_string().contains(expected),
                    "{e}"
                );
            }
            other => panic!("{field}: expected WrongType, got {other:?}"),
        }
    }
}

/// The same through the file system: the error names the real path.
#[test]
fn toml_rule_file_on_disk_names_the_file() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bad_input_rules");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("missing_query.toml");
    std::fs::write(&file, RULE_HEAD).expect("write rule");
    let (set, errors) = RuleSet::from_path(&file);
    assert!(set.is_empty());
    let [err] = &errors[..] else {
        panic!("one error expected: {errors:?}")
    };
    assert!(
        matches!(&err, RuleLoadError::MissingField { path, field, .. } if path == &file && field == "rule.query"),
        "{err:?}"
    );
    assert!(err.to_string().contains("missing_query.toml"), "{err}");
    let broken = dir.join("broken.toml");
    std::fs::write(&broken, "[rule\nquery = ").expect("write rule");
    let (_, errors) = RuleSet::from_path(&broken);
    let [err] = &errors[..] else {
        panic!("one error expected: {errors:?}")
    };
    assert!(
        matches!(&err, RuleLoadError::Toml { path, .. } if path == &broken),
        "{err:?}"
    );
}

/// Query-side limits of `CompileOptions`: typed diagnostics with stable codes.
#[test]
fn pattern_count_and_regex_size_limits() {
    let list = |n: usize| {
        (0..n)
            .map(|i| format!("\"*p{i}*\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // At the default cap (10 000) a query compiles; one more is EQL0305,
    // counted across the whole query.
    let at_cap = format!("any where a : ({})", list(10_000));
    assert!(CompiledQuery::compile(&at_cap, &CompileOptions::default()).is_ok());
    let over = format!("any where a : ({}) or b like~ \"x*\"", list(10_000));
    let err = CompiledQuery::compile(&over, &CompileOptions::default()).unwrap_err();
    assert_eq!(err.diagnostic.code, "EQL0305");
    assert_eq!(
        err.diagnostic.message,
        "too many wildcard patterns in one query (limit 10000)"
    );
    // `Display`: the code, where the pattern that went over the cap starts, the message.
    let col = over.find("b like~").expect("in the query") + 1;
    assert_eq!(
        err.to_string(),
        format!("EQL0305 at 1:{col}: too many wildcard patterns in one query (limit 10000)")
    );
    let mut py = CompileOptions::python();
    py.max_wildcard_patterns = 2;
    let err = CompiledQuery::compile("any where wildcard(a, 'x*', 'y*', 'z*')", &py).unwrap_err();
    assert_eq!(err.diagnostic.code, "EQL0305");

    // A regex whose compiled program is over the size limit: EQL0304.
    let big = r#"any where a regex """(\w{100}){100}""""#;
    let err = CompiledQuery::compile(big, &CompileOptions::default()).unwrap_err();
    assert_eq!(err.diagnostic.code, "EQL0304");
    let mut roomy = CompileOptions::default();
    roomy.regex_size_limit = 1 << 30;
    let mut tiny = CompileOptions::default();
    tiny.regex_size_limit = 10;
    assert!(CompiledQuery::compile(r#"any where a regex "a+b""#, &roomy).is_ok());
    assert_eq!(
        CompiledQuery::compile(r#"any where a regex "a+b""#, &tiny)
            .unwrap_err()
            .diagnostic
            .code,
        "EQL0304"
    );

    // A pattern that is not a literal (Python `match` with a field) is built
    // during evaluation with the same limit: over it, the call is null.
    let event = json!({"a": "aab", "b": "a+b"});
    let query = "any where match(a, b)";
    let py_default = CompiledQuery::compile(query, &CompileOptions::python()).unwrap();
    assert!(py_default.is_match(&event));
    let mut py_tiny = CompileOptions::python();
    py_tiny.regex_size_limit = 10;
    let py_tiny = CompiledQuery::compile(query, &py_tiny).unwrap();
    assert!(!py_tiny.is_match(&event));
    assert!(!py_tiny.is_match_reference(&event));
}

/// The depth scan follows JSON strings, escapes included: brackets inside a
/// string never count, brackets after it do.
#[test]
fn depth_scan_skips_strings_and_escapes() {
    let mut strict = limits();
    strict.max_depth = 3;
    let ok = br#"{"a": "x\"[[[{{{\\", "b": ["]]]"], "c": "\\\"[[["}"#;
    assert!(parse_event(ok, &strict).is_ok());
    let deep = br#"{"a": "x\"[[[\\", "b": [[1]]}"#;
    let err = parse_event(deep, &strict).unwrap_err();
    assert_eq!(err.kind, EventErrorKind::TooDeep { max: 3 });
    assert_eq!(err.column, Some(25));
}

/// Bad bytes through every entry point that reads event bytes: each gives
/// the `EventErrorKind` `parse_event` gives, with the default limits, and a
/// session goes on with the next event.
#[test]
fn every_bytes_entry_point_checks_the_event_limits() {
    // 20 MiB, over the default 16 MiB.
    let mut big = b"{\"event\": {\"category\": \"process\"}, \"a\": \"".to_vec();
    big.resize(20 << 20, b'x');
    big.extend_from_slice(b"\"}");
    // Invalid UTF-8 in a member no query reads (a projection skips it).
    let utf8 = b"{\"event\": {\"category\": \"process\"}, \"unread\": \"caf\xe9\"}".to_vec();
    // 200 nested arrays under a member no query reads.
    let deep = format!(
        "{{\"event\": {{\"category\": \"process\"}}, \"unread\": {}1{}}}",
        "[".repeat(200),
        "]".repeat(200)
    )
    .into_bytes();
    let cases = [
        (
            big,
            EventErrorKind::TooLarge {
                len: (20 << 20) + 2,
                max: 16 << 20,
            },
        ),
        (utf8, EventErrorKind::InvalidUtf8),
        (deep, EventErrorKind::TooDeep { max: 128 }),
    ];
    let single = es(r#"process where process.name : "cmd.exe""#);
    let sequence = es("sequence [process where true] [file where true]");
    let python = CompiledQuery::compile(
        r#"process where descendant of [process where process_name == "a"]"#,
        &CompileOptions::python(),
    )
    .expect("compiles");
    let pack = Pack::new([&single, &es("file where true")]);
    let (rules, errors) = RuleSet::builtin().compile(&CompileOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    let projection = Projection::new(&[FieldPath::parse_dotted("process.name")]);
    let good =
        br#"{"@timestamp": 1, "event": {"category": "process"}, "process": {"name": "cmd.exe"}}"#;
    for (bytes, kind) in &cases {
        let kind = Some(kind.clone());
        let of = |r: Result<(), EventError>| r.err().map(|e| e.kind);
        assert_eq!(of(parse_event(bytes, &limits()).map(drop)), kind);
        for q in [&single, &sequence, &python] {
            assert_eq!(of(q.is_match_json(bytes).map(drop)), kind, "{}", q.query());
        }
        let mut hits = PackMatches::new();
        assert_eq!(of(pack.matches_json(bytes, &mut hits)), kind);
        assert_eq!(of(rules.matches_json(bytes, &mut hits)), kind);
        let limits = limits();
        assert_eq!(of(projection.parse(bytes, &limits).map(drop)), kind);
        assert_eq!(
            of(projection.resolve_json(bytes, &limits, &mut |_, _| ())),
            kind
        );
        assert_eq!(of(Document::parse(bytes, &limits).map(drop)), kind);
        for plan in [
            Arc::new(SessionPlan::new([single.clone(), sequence.clone()])),
            Arc::new(SessionPlan::new([python.clone()])),
            Arc::from(&rules),
        ] {
            let mut s = Session::new(plan, SessionOptions::default());
            let mut out = Matches::new();
            assert_eq!(of(s.push_json(1u8, bytes, &mut out)), kind);
            assert_eq!(s.stats().events, 0, "a rejected event is not pushed");
            s.push_json(2, good, &mut out)
                .expect("the next event is read");
            assert_eq!(s.stats().events, 1);
        }
    }
}

/// The limits are configuration: `CompileOptions::event_limits` for a query
/// and the packs of its queries (the strictest), `SessionOptions::event_limits`
/// for a session.
#[test]
fn event_limits_are_configured_where_the_options_live() {
    let mut tight = EventLimits::default();
    tight.max_line_bytes = 40;
    tight.max_depth = 4;
    let mut opts = CompileOptions::default();
    opts.event_limits = tight.clone();
    let q = CompiledQuery::compile("process where true", &opts).expect("compiles");
    let loose = es("process where true");
    let long = br#"{"event": {"category": "process"}, "pad": "xxxxxxxxxx"}"#;
    let nested = br#"{"a": [[[[1]]]]}"#;
    let too_long = EventErrorKind::TooLarge {
        len: long.len(),
        max: 40,
    };
    let too_deep = EventErrorKind::TooDeep { max: 4 };
    assert_eq!(q.is_match_json(long).unwrap_err().kind, too_long);
    assert_eq!(q.is_match_json(nested).unwrap_err().kind, too_deep);
    assert!(loose.is_match_json(long).expect("within the defaults"));
    let pack = Pack::new([&loose, &q]);
    let mut hits = PackMatches::new();
    assert_eq!(
        pack.matches_json(long, &mut hits).unwrap_err().kind,
        too_long
    );
    let mut sopts = SessionOptions::default();
    sopts.event_limits = tight;
    let mut s = Session::new(&loose, sopts);
    let mut out = Matches::new();
    assert_eq!(s.push_json(1u8, long, &mut out).unwrap_err().kind, too_long);
    assert_eq!(s.push_json(2, nested, &mut out).unwrap_err().kind, too_deep);
    s.push_json(3, br#"{"event": {"category": "process"}}"#, &mut out)
        .expect("within the limits");
    assert_eq!(out.len(), 1);
}

/// Events nested past the quick reader's depth (64) but within the limits
/// are matched from bytes as from their DOM; past the limit, `TooDeep`.
#[test]
fn deep_events_match_from_bytes_as_from_the_dom() {
    let rule = es(r#"process where process.name == "cmd.exe" and deep.b == 1"#);
    let pack = eql_engine::Pack::new([&rule]);
    let mut hits = eql_engine::PackMatches::new();
    for depth in [1, 62, 63, 64, 65, 66, 100, 125] {
        let nest = format!("{}1{}", "[".repeat(depth - 1), "]".repeat(depth - 1));
        let line = format!(
            r#"{{"event": {{"category": "process"}}, "process": {{"name": "cmd.exe"}}, "deep": {{"b": 1, "c": {nest}}}}}"#
        );
        let dom: serde_json::Value = serde_json::from_str(&line).expect("valid JSON");
        pack.matches(&dom, &mut hits);
        let want = hits.rules().to_vec();
        assert_eq!(want, [0], "depth {depth}");
        pack.matches_json(line.as_bytes(), &mut hits)
            .unwrap_or_else(|e| panic!("depth {depth}: {e}"));
        assert_eq!(hits.rules(), &want[..], "depth {depth}");
    }
    let nest = format!("{}1{}", "[".repeat(127), "]".repeat(127));
    let line = format!(r#"{{"event": {{"category": "process"}}, "deep": {nest}}}"#);
    let err = pack.matches_json(line.as_bytes(), &mut hits).unwrap_err();
    assert_eq!(err.kind, EventErrorKind::TooDeep { max: 128 });
}
