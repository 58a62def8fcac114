//! The scan engine (`eql_examples::scan`): the same output for every thread
//! count, the same alerts as each rule evaluated on its own, the same alerts
//! for shuffled input (Elasticsearch's order in a bounded input), and bad
//! lines reported and skipped.

use eql_engine::{
    CompileOptions, CompiledRuleSet, EventErrorKind, EventLimits, Matches, Rule, RuleSet, Session,
    SessionOptions, Step,
};
use eql_examples::scan::{Report, ScanOptions, ScanSummary, Scanner};
use std::collections::BTreeSet;
use std::io::Read;

const RULES: &[&str] = &[
    r#"process where process.name : "cmd.exe""#,
    r#"sequence by host.id with maxspan=30s [process where process.name : "cmd.exe"] [network where true]"#,
    r#"file where file.extension : ("exe", "dll")"#,
    r#"sequence by host.id, user.name [authentication where true] [process where true] [file where file.extension == "dll"]"#,
    r#"sequence [process where process.name == "a.exe"] [process where process.name == "b.exe"]"#,
    r"sample by host.id [network where true] [file where true]",
    r"network where destination.port == 443 | head 5",
    r#"sequence by user.name [authentication where true] until [process where process.name == "b.exe"]"#,
    r#"sequence by host.id with maxspan=5s [process where process.name == "a.exe"] ![file where true] [network where true]"#,
];

fn rules() -> CompiledRuleSet {
    let mut set = RuleSet::new();
    for (i, q) in RULES.iter().enumerate() {
        set.push(Rule {
            name: format!("rule {i}"),
            query: (*q).to_owned(),
            ..Rule::default()
        });
    }
    let (compiled, errors) = set.compile(&CompileOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    compiled
}

/// A deterministic stream of events over a few hosts and users, in timestamp
/// order, with some blank and bad lines.
fn events(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let cats = ["process", "network", "file", "authentication"];
    let names = ["cmd.exe", "a.exe", "b.exe", "svchost.exe"];
    let exts = ["exe", "dll", "txt"];
    let mut out = Vec::new();
    for i in 0..n {
        if i % 97 == 13 {
            out.extend_from_slice(b"{\"truncated\": \n\n");
            continue;
        }
        let cat = cats[next(4) as usize];
        let line = serde_json::json!({
            "@timestamp": 1_700_000_000_000u64 + i as u64 * 1000,
            "event": {"category": [cat]},
            "host": {"id": format!("h{}", next(5))},
            "user": {"name": format!("u{}", next(3))},
            "process": {"name": names[next(4) as usize]},
            "file": {"extension": exts[next(3) as usize]},
            "destination": {"port": if next(2) == 0 { 443 } else { 80 }},
            "pad": "x".repeat(next(200) as usize),
        });
        out.extend_from_slice(line.to_string().as_bytes());
        out.push(if i % 5 == 0 { b'\r' } else { b' ' });
        out.push(b'\n');
    }
    out
}

fn scan(
    compiled: &CompiledRuleSet,
    input: impl Read + Send,
    opts: ScanOptions,
) -> (Vec<u8>, ScanSummary, Vec<(u64, EventErrorKind)>) {
    let scanner = Scanner::new(compiled.clone(), opts);
    let mut out = Vec::new();
    let mut summary = ScanSummary::default();
    let mut bad = Vec::new();
    scanner
        .scan(
            input,
            "events.ndjson",
            &mut out,
            &mut |r| {
                if let Report::BadLine(e) = r {
                    bad.push((e.line.unwrap_or(0), e.kind.clone()));
                }
            },
            &mut summary,
        )
        .expect("scan");
    (out, summary, bad)
}

fn opts(threads: usize) -> ScanOptions {
    ScanOptions {
        threads,
        // Small blocks: many of them, finished out of order.
        block_bytes: 4096,
        ..ScanOptions::default()
    }
}

#[test]
fn output_is_byte_identical_for_1_2_and_4_threads() {
    let compiled = rules();
    let input = events(3000);
    let (one, s1, bad1) = scan(&compiled, &input[..], opts(1));
    for threads in [2, 4] {
        let (many, s, bad) = scan(&compiled, &input[..], opts(threads));
        assert!(one == many, "{threads} threads: the output differs");
        assert_eq!(
            (s.events, s.alerts, s.bad_lines),
            (s1.events, s1.alerts, s1.bad_lines)
        );
        assert_eq!(bad, bad1);
    }
    // Every rule fired, sequences too: the comparison covers them.
    assert!(s1.per_rule.iter().all(|&n| n > 0), "{:?}", s1.per_rule);
    assert_eq!(s1.bad_lines, bad1.len() as u64);
    assert!(bad1.iter().all(|(_, k)| *k == EventErrorKind::Truncated));
}

/// (rule, what `entry` reads of each of its entries: `None` for a
/// `{"missing": true}` placeholder) of every alert in NDJSON output.
fn alerts_by(
    out: &[u8],
    entry: impl Fn(&serde_json::Value) -> Option<u64>,
) -> BTreeSet<(String, Vec<Option<u64>>)> {
    out.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_slice(l).expect("an alert is JSON");
            let name = v["name"].as_str().unwrap_or_default().to_owned();
            let entries = match v.get("events") {
                Some(evs) => evs
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        if e["missing"] == true {
                            None
                        } else {
                            Some(entry(e).expect("an event entry"))
                        }
                    })
                    .collect(),
                None => vec![Some(entry(&v).expect("an alert"))],
            };
            (name, entries)
        })
        .collect()
}

/// (rule, line numbers of its entries) of every alert in NDJSON output.
fn alert_set(out: &[u8]) -> BTreeSet<(String, Vec<Option<u64>>)> {
    alerts_by(out, |e| e["source"]["line"].as_u64())
}

#[test]
fn alerts_are_those_of_each_rule_run_alone_over_every_event() {
    let compiled = rules();
    let input = events(2000);
    let (out, _, _) = scan(&compiled, &input[..], opts(2));
    // The oracle: each rule in a session of its own over every valid line.
    let mut expected = BTreeSet::new();
    for rule in &compiled {
        let mut s: Session<u64> = Session::new(&rule.engine, SessionOptions::default());
        let mut m = Matches::new();
        for (i, line) in input.split(|&b| b == b'\n').enumerate() {
            let Ok(dom) = eql_engine::parse_event(line, &EventLimits::default()) else {
                continue;
            };
            s.push(i as u64 + 1, &dom, &mut m);
        }
        s.finish(&mut m);
        for r in m.iter() {
            let entries: Vec<Option<u64>> = r
                .steps()
                .map(|s| match s {
                    Step::Event(&l) => Some(l),
                    Step::Missing => None,
                })
                .collect();
            expected.insert((rule.rule.name.clone(), entries));
        }
    }
    let got = alert_set(&out);
    assert!(!expected.is_empty());
    // The `![...]` rule fired: placeholders are compared too.
    assert!(expected.iter().any(|(_, e)| e.contains(&None)));
    assert_eq!(got, expected);
}

#[test]
fn a_shuffled_file_gives_the_alerts_of_the_sorted_one() {
    // A file is a bounded input: each stateful rule runs its step events
    // sorted by timestamp (unique here), whatever order the lines come in.
    let compiled = rules();
    let input = events(2000);
    let mut lines: Vec<&[u8]> = input
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    // Reverse runs of 7 lines: out of order, but never by much.
    for chunk in lines.chunks_mut(7) {
        chunk.reverse();
    }
    let shuffled: Vec<u8> = lines.iter().flat_map(|l| [*l, b"\n"].concat()).collect();
    // Elasticsearch picks a sample's events in index order (the line
    // order here), not by timestamp: the sample rule is left out.
    let sample = RULES.iter().position(|q| q.starts_with("sample"));
    let sample = format!("rule {}", sample.expect("a sample rule"));
    let by_time = |out: &[u8]| {
        let mut set = alerts_by(out, |e| e["event"]["@timestamp"].as_u64());
        set.retain(|(name, _)| *name != sample);
        set
    };
    let (sorted_out, _, _) = scan(&compiled, &input[..], opts(1));
    let (shuffled_out, summary, _) = scan(&compiled, &shuffled[..], opts(2));
    assert!(summary.order.out_of_order > 0);
    assert_eq!(summary.order.late, 0);
    let expected = by_time(&sorted_out);
    assert!(expected.len() > 100);
    assert_eq!(by_time(&shuffled_out), expected);
}

#[test]
fn alerts_carry_the_lines_as_they_were() {
    let compiled = rules();
    let input = events(300);
    let (out, _, _) = scan(&compiled, &input[..], opts(1));
    let lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    let mut checked = 0;
    for alert in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(alert).expect("JSON");
        let n = v["source"]["line"].as_u64().expect("a line") as usize;
        let raw = lines[n - 1].trim_ascii();
        let needle = [b"{\"event\":".as_slice(), raw].concat();
        assert!(alert.starts_with(&needle), "line {n}");
        checked += 1;
    }
    assert!(checked > 10);
}

/// Yields `prefix`, then `len` bytes of `fill`, then `suffix`, without
/// holding the middle in memory.
fn long_line(prefix: &[u8], fill: u8, len: u64, suffix: &[u8]) -> impl Read + Send {
    std::io::Cursor::new(prefix.to_vec())
        .chain(std::io::repeat(fill).take(len))
        .chain(std::io::Cursor::new(suffix.to_vec()))
}

#[test]
fn bad_input_is_reported_with_its_kind_and_line_and_the_next_line_is_scanned() {
    let compiled = rules();
    let good =
        br#"{"@timestamp": 1, "event": {"category": "process"}, "process": {"name": "cmd.exe"}}"#;
    let deep = [b"{\"a\":".as_slice(), &[b'['; 200], &[b']'; 200], b"}"].concat();
    let mut tail = Vec::new();
    tail.extend_from_slice(b"\n");
    tail.extend_from_slice(good);
    tail.extend_from_slice(
        b"\n{\"event\": {\"category\": \"process\"}, \"process\": {\"name\": \"cmd\xff.exe\"}}\n",
    );
    tail.extend_from_slice(good);
    tail.extend_from_slice(b"\n");
    tail.extend_from_slice(&deep);
    tail.extend_from_slice(b"\n");
    tail.extend_from_slice(good);
    tail.extend_from_slice(b"\n");
    // A line limit of 64 KiB keeps the test quick in a debug build; the
    // over-long line spans many blocks all the same.
    let mut limits = EventLimits::default();
    limits.max_line_bytes = 1 << 16;
    for threads in [1, 2] {
        // Line 1: 4 MiB; line 3: invalid UTF-8; line 5: nested 200 deep.
        let input = long_line(b"{\"a\": \"", b'x', 4 << 20, &tail);
        let opts = ScanOptions {
            limits: limits.clone(),
            ..opts(threads)
        };
        let (out, summary, bad) = scan(&compiled, input, opts);
        assert_eq!(bad.len(), 3, "{bad:?}");
        assert!(matches!(
            bad[0],
            (1, EventErrorKind::TooLarge { len, max: 65_536 }) if len > 4 << 20
        ));
        assert_eq!(bad[1], (3, EventErrorKind::InvalidUtf8));
        assert_eq!(bad[2], (5, EventErrorKind::TooDeep { max: 128 }));
        assert_eq!(summary.events, 3);
        // The valid lines after each bad one are scanned: rule 0 fires on each.
        let lines: Vec<Option<u64>> = alert_set(&out)
            .into_iter()
            .filter(|(r, _)| r == "rule 0")
            .flat_map(|(_, l)| l)
            .collect();
        assert_eq!(lines, vec![Some(2), Some(4), Some(6)]);
    }
}

/// A file scanned by path, whose stateful rules hold where their events'
/// lines are and read them again for their alerts, gives byte for byte what
/// its bytes give scanned as a stream (the rules holding the lines), on one
/// thread and on several.
#[test]
fn a_file_scanned_by_path_gives_what_its_bytes_give() {
    let compiled = rules();
    let input = events(3000);
    let path = std::env::temp_dir().join(format!("eql-scan-path-{}.ndjson", std::process::id()));
    std::fs::write(&path, &input).expect("writes the events");
    for threads in [1, 2] {
        let (want, want_summary, _) = scan(&compiled, &input[..], opts(threads));
        let scanner = Scanner::new(compiled.clone(), opts(threads));
        let mut got = Vec::new();
        let mut summary = ScanSummary::default();
        let r = scanner.scan_path(&path, "events.ndjson", &mut got, &mut |_| {}, &mut summary);
        if let Err(e) = r {
            let _ = std::fs::remove_file(&path);
            panic!("scan_path: {e}");
        }
        assert!(got == want, "{threads} threads: the output differs");
        assert_eq!(summary.alerts, want_summary.alerts);
        // Sequence alerts are among them: their lines were read again.
        assert!(want_summary.per_rule.get(1).is_some_and(|&n| n > 0));
    }
    let _ = std::fs::remove_file(&path);
}
