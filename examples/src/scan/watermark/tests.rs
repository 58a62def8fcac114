//! Tests of the read-ahead: each share of a file read once, the quick key-path
//! reading against the field walk, and the watermarks against one pass.

use super::*;
use eql_engine::{CompileOptions, SessionPlan};
use std::io::Write;

/// The read-ahead of the file at `path` for `q` (whose session plan is
/// `plan`) in `parts` shares; the file is removed if it fails.
fn read_ahead(path: &Path, q: &CompiledQuery, plan: &Arc<SessionPlan>, parts: u64) -> Watermarks {
    let w = Watermarks::read_parts(
        path,
        vec![(clock(q), Arc::clone(plan))],
        None,
        &EventLimits::default(),
        4096,
        parts,
    );
    match w {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_file(path);
            panic!("{parts} parts: {e}");
        }
    }
}

/// Split into any number of shares, the pass gives what one pass over
/// every line gives: the earliest time from each run to the end, lines
/// with a bad or missing time and bad lines included.
#[test]
fn shares_give_what_one_pass_gives() {
    let q = CompiledQuery::compile(
        "sequence [process where true] [file where true]",
        &CompileOptions::default(),
    )
    .expect("compiles");
    let plan = Arc::new(SessionPlan::new([q.clone()]));
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |m: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % m
    };
    let mut text = Vec::new();
    let mut want: Vec<(u64, i64)> = Vec::new();
    for i in 0..6000u64 {
        let at = text.len() as u64;
        let t = 1_000_000 + (i * 10) as i64 - next(5000) as i64;
        let pad = "x".repeat(next(400) as usize);
        match next(20) {
            0 => text.extend_from_slice(b"{\"bad\": \n"),
            1 => {
                writeln!(text, "{{\"pad\": \"{pad}\"}}").ok();
                want.push((at, i64::MIN));
            }
            2 => {
                writeln!(text, "{{\"@timestamp\": \"soon\"}}").ok();
            }
            _ => {
                writeln!(text, "{{\"@timestamp\": {t}, \"pad\": \"{pad}\"}}").ok();
                want.push((at, t * 1_000_000));
            }
        }
    }
    let path = std::env::temp_dir().join(format!("eql-watermarks-{}.ndjson", std::process::id()));
    std::fs::write(&path, &text).expect("writes");
    let runs = (text.len() as u64).div_ceil(RUN_BYTES);
    let expected: Vec<i64> = (0..runs)
        .map(|r| {
            want.iter()
                .filter(|(at, _)| Watermarks::run(*at) >= r)
                .map(|(_, t)| *t)
                .min()
                .unwrap_or(i64::MAX)
        })
        .collect();
    assert!(runs >= 4, "{runs} runs");
    for parts in [1, 2, 3, 7, 64] {
        let w = read_ahead(&path, &q, &plan, parts);
        let got: Vec<i64> = (0..runs).map(|r| w.ahead_of_run(0, r)).collect();
        assert_eq!(got, expected, "{parts} parts");
    }
    let _ = std::fs::remove_file(&path);
}

/// A file is in order when no line's time is below the one of a line before
/// it (lines with a bad time left out), however the pass splits it: one pair
/// of lines out of order anywhere is found, across a share's edge too.
#[test]
fn shares_tell_whether_the_file_is_in_order() {
    let q = CompiledQuery::compile(
        "sequence [process where true] [file where true]",
        &CompileOptions::default(),
    )
    .expect("compiles");
    let plan = Arc::new(SessionPlan::new([q.clone()]));
    let lines: Vec<String> = (0..3000u64)
        .map(|i| match i % 50 {
            // A time the sessions cannot read: left out.
            7 => "{\"@timestamp\": \"soon\"}".to_owned(),
            _ => format!(
                "{{\"@timestamp\": {}, \"pad\": \"{}\"}}",
                1_000 + i,
                "x".repeat(200)
            ),
        })
        .collect();
    let text = |l: &[String]| l.join("\n");
    // The first line of each share of each split: swapped with the line
    // before it, the pair is out of order across the share's edge.
    let len = text(&lines).len() as u64;
    let mut starts = vec![0u64];
    for l in &lines {
        starts.push(starts.last().copied().unwrap_or(0) + l.len() as u64 + 1);
    }
    let mut swaps: Vec<Option<usize>> = vec![None, Some(1), Some(1500), Some(2998)];
    for parts in [2u64, 3, 7] {
        for j in 1..parts {
            let edge = len * j / parts;
            if let Some(k) = starts.iter().position(|&s| s >= edge) {
                swaps.push(Some(k));
            }
        }
    }
    let path = std::env::temp_dir().join(format!("eql-in-order-{}.ndjson", std::process::id()));
    for swap in swaps {
        let mut l = lines.clone();
        // Lines `k - 1` and `k`; a bad time is moved one line further on.
        let swap = swap.map(|k| if k % 50 == 7 || k % 50 == 8 { k + 2 } else { k });
        if let Some(k) = swap {
            l.swap(k - 1, k);
        }
        std::fs::write(&path, text(&l)).expect("writes");
        for parts in [1, 2, 3, 7, 64] {
            let w = read_ahead(&path, &q, &plan, parts);
            assert_eq!(w.sorted(0), swap.is_none(), "swap {swap:?}, {parts} parts");
        }
    }
    let _ = std::fs::remove_file(&path);
}

/// The shares of a file, cut anywhere, read every line once: each at
/// its own offset, with its own bytes.
#[test]
fn shares_read_every_line_once() {
    let mut text = Vec::new();
    let mut want: Vec<(u64, Vec<u8>)> = Vec::new();
    for i in 0..300usize {
        let line = format!("{{\"i\": {i}, \"pad\": \"{}\"}}", "y".repeat(i % 37));
        want.push((text.len() as u64, line.clone().into_bytes()));
        text.extend_from_slice(line.as_bytes());
        text.extend_from_slice(if i % 3 == 0 { b"\r\n" } else { b"\n" });
    }
    let path = std::env::temp_dir().join(format!("eql-shares-{}.ndjson", std::process::id()));
    std::fs::write(&path, &text).expect("writes");
    let len = text.len() as u64;
    for parts in [1u64, 2, 3, 5, 17, 300, 2000] {
        let mut got: Vec<(u64, Vec<u8>)> = Vec::new();
        for k in 0..parts {
            let share = (len * k / parts, len * (k + 1) / parts);
            let r = share_lines(&path, share, &EventLimits::default(), 64, &mut |at, l| {
                got.push((at, l.to_vec()));
            });
            if let Err(e) = r {
                let _ = std::fs::remove_file(&path);
                panic!("{e}");
            }
        }
        assert!(got == want, "{parts} parts");
    }
    let _ = std::fs::remove_file(&path);
}

/// JSON text with repeated keys, literal dotted keys, arrays and
/// nesting, over a few keys.
fn text() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let key = prop::sample::select(vec!["a", "b", "a.b", "@timestamp", "x"]);
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("\"2024-01-01T00:00:00.5Z\"".to_owned()),
        Just("\"@timestamp\"".to_owned()),
        Just("\"a\"".to_owned()),
        (0i64..5000).prop_map(|n| n.to_string()),
    ];
    let value = leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::vec((key.clone(), inner.clone()), 0..4).prop_map(|ms| {
                let ms: Vec<String> = ms.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
                format!("{{{}}}", ms.join(","))
            }),
            prop::collection::vec(inner, 0..3).prop_map(|vs| format!("[{}]", vs.join(","))),
        ]
    });
    let key = prop::sample::select(vec!["a", "b", "a.b", "@timestamp", "x"]);
    prop::collection::vec((key, value), 0..5).prop_map(|ms| {
        let ms: Vec<String> = ms.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", ms.join(", "))
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 4000, ..Default::default() })]

    /// What the quick reading finds is what the field walk reads from
    /// the parsed line; when it says there is nothing, the walk finds
    /// nothing; when it cannot tell it says so.
    #[test]
    fn the_quick_reading_is_the_walk(doc in text()) {
        let dom: serde_json::Value = serde_json::from_str(&doc).expect("valid JSON");
        let root = FieldPath::new(Vec::new());
        for path in ["@timestamp", "a.b", "a"] {
            let path = FieldPath::parse_dotted(path);
            let lazy = Lazy::new(&path).expect("plain keys");
            let want = eql_engine::Event::get(&dom, &path).map(eql_engine::Value::into_owned);
            // Unsure goes to the parser.
            match lazy.get(doc.as_bytes()) {
                Quick::Value(v) => {
                    let got = eql_engine::Event::get(&v, &root).map(eql_engine::Value::into_owned);
                    proptest::prop_assert_eq!(got, want, "{} in {}", path, doc);
                }
                Quick::Text(s) => {
                    let got = Some(eql_engine::Value::Str(s.to_owned().into()));
                    proptest::prop_assert_eq!(got, want, "{} in {}", path, doc);
                }
                Quick::Absent => proptest::prop_assert!(want.is_none(), "{} in {}", path, doc),
                Quick::Unsure => {}
            }
        }
    }
}

#[test]
fn the_quick_reading_finds_unique_keys_and_stops_at_repeated_ones() {
    let path = FieldPath::parse_dotted("a.b");
    let lazy = Lazy::new(&path).expect("plain keys");
    let found = |doc: &'static str| lazy.get(doc.as_bytes());
    assert_eq!(
        found(r#"{"x": "b", "a": {"b": 7}}"#),
        Quick::Value(serde_json::json!(7))
    );
    assert_eq!(found(r#"{"a": {"c": 7}}"#), Quick::Absent);
    // No member named by a key of the path: absent without a lookup.
    assert_eq!(found(r#"{"x": {"b": 7}}"#), Quick::Absent);
    assert_eq!(found(r#"{"x": "a", "y": {"b": 7}}"#), Quick::Absent);
    // A blank or cut line is not read as an object that lacks the path:
    // the parser rejects it, and it gives no time.
    assert_eq!(found(""), Quick::Unsure);
    assert_eq!(found(r#"{"x": "#), Quick::Unsure);
    assert_eq!(found(r#"{"a": {"b": 7, "b": 8}}"#), Quick::Unsure);
    assert_eq!(found(r#"{"a": {"b": 7}, "a": {"b": 8}}"#), Quick::Unsure);
    // A string value that spells a key is no key.
    assert_eq!(
        found(r#"{"k": "a", "a": {"b": 9}}"#),
        Quick::Value(serde_json::json!(9))
    );
    // A field of one key, the line's first member, a plain string: the
    // string as written; not when the key comes twice.
    let stamp = Lazy::new(&FieldPath::parse_dotted("@timestamp")).expect("plain key");
    let line = br#"{"@timestamp": "2024-03-01T00:00:00Z", "a": 1}"#;
    assert_eq!(stamp.get(line), Quick::Text("2024-03-01T00:00:00Z"));
    let twice = br#"{"@timestamp": "2024-03-01T00:00:00Z", "@timestamp": "2025"}"#;
    assert_eq!(stamp.get(twice), Quick::Unsure);
    // An escaped key: only the parser can tell.
    let q = CompiledQuery::compile(
        "sequence [a where true] [b where true]",
        &CompileOptions::default(),
    )
    .expect("compiles");
    let sessions = [Session::<()>::new(
        Arc::new(SessionPlan::new([q])),
        SessionOptions::default(),
    )];
    let fields = [FieldPath::parse_dotted("@timestamp")];
    let lazy = [Lazy::new(&fields[0])];
    let mut times = [None];
    assert!(!lazy_times(
        br#"{"@timestamp": 5, "@timestam\u0070": 1}"#,
        &sessions,
        &fields,
        &lazy,
        &mut times
    ));
    assert!(lazy_times(
        br#"{"@timestamp": 5}"#,
        &sessions,
        &fields,
        &lazy,
        &mut times
    ));
    assert_eq!(times, [Some(5_000_000)]);
}

/// A time only a literal dotted key gives (for a field of several keys) is
/// read as the sessions read it: such a line, first in the file, ordering
/// after the lines that follow it, puts the file out of order.
#[test]
fn a_time_only_a_dotted_key_gives_is_read_for_the_order() {
    let mut opts = CompileOptions::default();
    opts.timestamp_field = "event.ingested".to_owned();
    let q = CompiledQuery::compile("sequence [process where true] [file where true]", &opts)
        .expect("compiles");
    let plan = Arc::new(SessionPlan::new([q.clone()]));
    let nested = |t: u64| format!("{{\"event\": {{\"ingested\": {t}}}}}");
    let path = std::env::temp_dir().join(format!("eql-dotted-{}.ndjson", std::process::id()));
    for (first, in_order) in [
        (nested(1), true),
        (format!("{{\"event.ingested\": {}}}", 9_999), false),
    ] {
        let mut lines = vec![first];
        lines.extend((10..400).map(nested));
        std::fs::write(&path, lines.join("\n")).expect("writes");
        let w = read_ahead(&path, &q, &plan, 1);
        let _ = std::fs::remove_file(&path);
        assert_eq!(w.sorted(0), in_order, "{in_order}");
    }
}
