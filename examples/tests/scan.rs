//! The scan engine (`eql_examples::scan`): the same output for every thread
//! count and format, the same alerts as each rule evaluated on its own (on
//! the events of the indices it applies to), the same alerts for shuffled
//! input (Elasticsearch's order in a bounded input), Elastic Security alert
//! documents checked against the alerts index's field list, and bad lines
//! reported and skipped.

use eql_engine::{
    event_index, CompileOptions, CompiledRuleSet, EventErrorKind, EventLimits, Matches, Rule,
    RuleSet, Session, SessionOptions, Step,
};
use eql_examples::scan::{Format, Report, ScanOptions, ScanSummary, Scanner};
use serde_json::value::RawValue;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod common;

/// The field list of Elastic Security's alerts index, shared with the
/// library's alert tests.
#[path = "../../crates/eql-engine/tests/common/alert_fields.rs"]
mod alert_fields;

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
    common::compile(RULES)
}

/// A deterministic stream of events over a few hosts and users, in timestamp
/// order, with some blank and bad lines.
fn events(n: usize) -> Vec<u8> {
    let mut rng = common::XorShift(0x9e37_79b9_7f4a_7c15);
    let mut next = |m: u64| rng.below(m);
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

/// The alerts' `@timestamp` in `--format ecs` (fixed, so that runs compare).
fn alert_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(500_000 * 3600)
}

fn opts(threads: usize) -> ScanOptions {
    ScanOptions {
        threads,
        // Small blocks: many of them, finished out of order.
        block_bytes: 4096,
        alert_time: Some(alert_time()),
        ..ScanOptions::default()
    }
}

#[test]
fn output_is_byte_identical_for_1_2_and_4_threads() {
    let compiled = rules();
    // The other formats write the same alerts: a shorter input will do.
    for (format, n) in [
        (Format::Ndjson, 3000),
        (Format::Ecs, 1000),
        (Format::Table, 1000),
    ] {
        let input = events(n);
        let with = |threads| ScanOptions {
            format,
            ..opts(threads)
        };
        let (one, s1, bad1) = scan(&compiled, &input[..], with(1));
        assert!(!one.is_empty());
        for threads in [2, 4] {
            let (many, s, bad) = scan(&compiled, &input[..], with(threads));
            assert!(
                one == many,
                "{format:?}, {threads} threads: the output differs"
            );
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

/// The lines of `out`, sorted: the alerts as a set, whatever their order.
fn sorted_lines(out: &[u8]) -> Vec<u8> {
    let mut v: Vec<&[u8]> = out.split_inclusive(|&b| b == b'\n').collect();
    v.sort_unstable();
    v.concat()
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
    // A line limit of 64 KiB keeps the test quick in a debug build: the
    // 100 MB line is read in blocks and only its length is kept, past the
    // limit.
    let mut limits = EventLimits::default();
    limits.max_line_bytes = 1 << 16;
    let prefix = b"{\"a\": \"";
    let long = 100_000_000;
    for threads in [1, 2] {
        // Line 1: 100 MB; line 3: invalid UTF-8; line 5: nested 200 deep.
        let input = long_line(prefix, b'x', long, &tail);
        let opts = ScanOptions {
            limits: limits.clone(),
            block_bytes: 1 << 16,
            ..opts(threads)
        };
        let (out, summary, bad) = scan(&compiled, input, opts);
        assert_eq!(bad.len(), 3, "{bad:?}");
        let expected_len = prefix.len() + long as usize;
        assert!(
            matches!(
                bad[0],
                (1, EventErrorKind::TooLarge { len, max: 65_536 }) if len == expected_len
            ),
            "{:?}",
            bad[0]
        );
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

/// The bundled events' lines.
fn sample_lines() -> Vec<Vec<u8>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample-events.ndjson");
    std::fs::read(path)
        .expect("sample events")
        .split(|&b| b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn joined(lines: &[Vec<u8>]) -> Vec<u8> {
    lines
        .iter()
        .flat_map(|l| [&l[..], b"\n"].concat())
        .collect()
}

/// The 1-based numbers of the bundled events the shipped rule must fire on
/// (their `labels.expect_alert`).
fn expected_seed_lines(lines: &[Vec<u8>]) -> Vec<u64> {
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            let v: Json = serde_json::from_slice(l).expect("JSON");
            v["labels"]["expect_alert"] == true
        })
        .map(|(i, _)| i as u64 + 1)
        .collect()
}

/// The line numbers of a rule's single-event alerts in NDJSON output.
fn alert_lines(out: &[u8], rule: &str) -> Vec<u64> {
    let mut lines: Vec<u64> = alert_set(out)
        .into_iter()
        .filter(|(r, _)| r == rule)
        .flat_map(|(_, l)| l.into_iter().flatten())
        .collect();
    lines.sort_unstable();
    lines
}

const FILE: &str = "logs-endpoint.events.file-default";
const CLOUDTRAIL: &str = "logs-aws.cloudtrail-default";

#[test]
fn the_shipped_rule_runs_for_a_file_index_and_not_for_cloudtrail() {
    let (compiled, errors) = RuleSet::builtin().compile(&CompileOptions::default());
    assert!(errors.is_empty());
    let seed = compiled.rules()[0].rule.name.clone();
    let lines = sample_lines();
    let input = joined(&lines);
    let expected = expected_seed_lines(&lines);
    assert!(!expected.is_empty());
    // The input's index, from `--index`.
    for (index, fires) in [(None, true), (Some(FILE), true), (Some(CLOUDTRAIL), false)] {
        let o = ScanOptions {
            index: index.map(str::to_owned),
            ..opts(2)
        };
        let scanner = Scanner::new(compiled.clone(), o.clone());
        assert_eq!(
            scanner.input_route().map(eql_engine::IndexRoute::len),
            index.map(|_| usize::from(fires))
        );
        let (out, summary, _) = scan(&compiled, &input[..], o);
        assert_eq!(summary.events, lines.len() as u64);
        let want = if fires { expected.clone() } else { Vec::new() };
        assert_eq!(alert_lines(&out, &seed), want, "index {index:?}");
    }
    // Each event names its own index: odd lines CloudTrail (`_index`), even
    // lines the endpoint file data stream (`data_stream.*`); the input's
    // index (`--index`) is for events that name none.
    let named: Vec<Vec<u8>> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let member: &[u8] = if i % 2 == 0 {
                br#"{"_index": "logs-aws.cloudtrail-default", "#
            } else {
                br#"{"data_stream": {"type": "logs", "dataset": "endpoint.events.file", "namespace": "default"}, "#
            };
            [member, &l[1..]].concat()
        })
        .collect();
    let input = joined(&named);
    let want: Vec<u64> = expected.iter().copied().filter(|n| n % 2 == 0).collect();
    assert!(!want.is_empty() && want.len() < expected.len());
    let mut outputs = Vec::new();
    for threads in [1, 2, 4] {
        let o = ScanOptions {
            index: Some(CLOUDTRAIL.to_owned()),
            ..opts(threads)
        };
        let scanner = Scanner::new(compiled.clone(), o.clone());
        let (out, _, _) = scan(&compiled, &input[..], o.clone());
        assert_eq!(alert_lines(&out, &seed), want, "{threads} threads");
        // The names events gave, with the rules that apply.
        let mut summary = ScanSummary::default();
        let mut sink = Vec::new();
        scanner
            .scan(
                &input[..],
                "events.ndjson",
                &mut sink,
                &mut |_| {},
                &mut summary,
            )
            .expect("scan");
        let routes: Vec<(String, usize)> = scanner
            .event_routes()
            .iter()
            .map(|r| (r.index().to_owned(), r.len()))
            .collect();
        assert_eq!(routes, [(CLOUDTRAIL.to_owned(), 0), (FILE.to_owned(), 1)]);
        outputs.push(out);
    }
    assert!(outputs.iter().all(|o| *o == outputs[0]));
}

/// The index an event is from: its own, else the input's.
fn index_of(event: &Json, input: Option<&str>) -> Option<String> {
    event_index(event).or_else(|| input.map(str::to_owned))
}

/// `events(n)` where most events name an index whose name lists a random
/// subset of the rules (`logs-r1-r4-x`: rules 1 and 4), some through
/// `data_stream.*`, some with a key spelled with an escape; one in ten
/// names none.
fn routed_events(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = Vec::new();
    for line in events(n).split_inclusive(|&b| b == b'\n') {
        let r = next();
        if !line.starts_with(b"{\"@timestamp\"") || r % 10 == 0 {
            out.extend_from_slice(line);
            continue;
        }
        let mut subset = String::new();
        for i in (0..RULES.len()).filter(|i| (r >> (8 + i)) & 1 == 1) {
            subset.push_str("-r");
            subset.push_str(&i.to_string());
        }
        let member = if r % 10 == 1 {
            format!(
                r#"{{"data_stream": {{"type": "logs", "dataset": "x{subset}", "namespace": "x"}}, "#
            )
        } else if r % 10 == 2 {
            // `_index`, its underscore escaped.
            format!(r#"{{"\u005findex": "logs{subset}-x", "#)
        } else {
            format!(r#"{{"_index": "logs{subset}-x", "#)
        };
        out.extend_from_slice(member.as_bytes());
        out.extend_from_slice(&line[1..]);
    }
    out
}

/// `RULES`, rule `i` for indices whose name lists it (`*-r{i}-*`), except
/// rule 2, for every index.
fn routed_rules() -> CompiledRuleSet {
    let mut set = RuleSet::new();
    for (i, q) in RULES.iter().enumerate() {
        set.push(Rule {
            name: format!("rule {i}"),
            query: (*q).to_owned(),
            index: if i == 2 {
                Vec::new()
            } else {
                vec![format!("*-r{i}-*")]
            },
            ..Rule::default()
        });
    }
    let (compiled, errors) = set.compile(&CompileOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    compiled
}

#[test]
fn each_rule_sees_the_events_of_the_indices_it_applies_to() {
    let compiled = routed_rules();
    let input = routed_events(1200);
    for input_index in [None, Some("logs-r0-r1-r5-x")] {
        // The oracle: each rule in a session of its own over the valid lines
        // of the indices its patterns match (every line, when none is named).
        let mut expected = BTreeSet::new();
        for rule in &compiled {
            let patterns = rule.rule.index_patterns();
            let mut s: Session<u64> = Session::new(&rule.engine, SessionOptions::default());
            let mut m = Matches::new();
            for (i, line) in input.split(|&b| b == b'\n').enumerate() {
                let Ok(dom) = eql_engine::parse_event(line, &EventLimits::default()) else {
                    continue;
                };
                if index_of(&dom, input_index).is_some_and(|name| !patterns.matches(&name)) {
                    continue;
                }
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
        let mut outputs = Vec::new();
        for threads in [1, 2, 4] {
            let o = ScanOptions {
                index: input_index.map(str::to_owned),
                ..opts(threads)
            };
            let scanner = Scanner::new(compiled.clone(), o);
            let mut out = Vec::new();
            let mut summary = ScanSummary::default();
            scanner
                .scan(
                    &input[..],
                    "events.ndjson",
                    &mut out,
                    &mut |_| {},
                    &mut summary,
                )
                .expect("scan");
            // More distinct rule sets than get a plan of their own: the
            // bounded fallback (every rule's plan, filtered) runs too.
            assert!(scanner.event_routes().len() > 64);
            assert_eq!(
                alert_set(&out),
                expected,
                "{threads} threads, {input_index:?}"
            );
            outputs.push(out);
        }
        assert!(outputs.iter().all(|o| *o == outputs[0]));
        // Every rule fired: the comparison covers them all.
        let fired: BTreeSet<&str> = expected.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(fired.len(), RULES.len(), "{fired:?}");
    }
}

/// The shipped rule and a sequence over the bundled events.
fn seed_and_sequence() -> CompiledRuleSet {
    let mut set = RuleSet::builtin();
    set.push(Rule {
        name: "Process start then executable write".into(),
        rule_id: Some("00000000-0000-4000-8000-000000000001".into()),
        severity: Some("medium".into()),
        risk_score: Some(47),
        version: Some(2),
        query: r#"sequence by host.id with maxspan=1h
            [process where event.type == "start"]
            [file where file.extension : ("exe", "dll")]"#
            .into(),
        ..Rule::default()
    });
    let (compiled, errors) = set.compile(&CompileOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    compiled
}

#[test]
fn ecs_documents_carry_the_documented_fields_and_the_lines_as_they_were() {
    let compiled = seed_and_sequence();
    let lines = sample_lines();
    let input = joined(&lines);
    let events: Vec<Json> = lines
        .iter()
        .map(|l| serde_json::from_slice(l).expect("JSON"))
        .collect();
    for index in [None, Some(FILE)] {
        let o = ScanOptions {
            format: Format::Ecs,
            index: index.map(str::to_owned),
            ..opts(2)
        };
        let (out, summary, _) = scan(&compiled, &input[..], o);
        let docs: Vec<(&[u8], Json)> = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| (l, serde_json::from_slice(l).expect("a document is JSON")))
            .collect();
        let (mut singles, mut blocks) = (0, BTreeMap::<String, Vec<u64>>::new());
        let mut shells = Vec::new();
        for (text, doc) in &docs {
            let problems = alert_fields::check(doc);
            assert!(problems.is_empty(), "{problems:#?}");
            assert_eq!(doc["@timestamp"], "2027-01-15T08:00:00.000Z");
            let ancestors = doc["kibana.alert.ancestors"].as_array().expect("ancestors");
            let lines_of: Vec<u64> = ancestors
                .iter()
                .map(|a| {
                    let id = a["id"].as_str().expect("an id");
                    assert!(id.starts_with("events.ndjson:"), "{id}");
                    assert_eq!(a["index"], index.unwrap_or(""));
                    id.rsplit(':')
                        .next()
                        .and_then(|n| n.parse().ok())
                        .expect("a line")
                })
                .collect();
            let group = doc.get("kibana.alert.group.id").and_then(Json::as_str);
            if group.is_some() && doc.get("kibana.alert.group.index").is_none() {
                shells.push((group.unwrap_or_default().to_owned(), lines_of));
                continue;
            }
            // One event: its fields, and its members as its line spells them.
            let [n] = lines_of[..] else {
                panic!("a single or building-block alert has one source")
            };
            let line = &lines[n as usize - 1];
            let problems =
                alert_fields::original_event_follows_the_source(doc, &events[n as usize - 1]);
            assert!(problems.is_empty(), "{problems:#?}");
            let members: BTreeMap<String, &RawValue> =
                serde_json::from_slice(line).expect("members");
            for (k, v) in members {
                if k == "event" || k == "@timestamp" {
                    continue;
                }
                let spelled = format!(
                    "{}:{}",
                    serde_json::to_string(&k).unwrap_or_default(),
                    v.get()
                );
                let text = std::str::from_utf8(text).expect("UTF-8");
                assert!(
                    text.contains(&spelled),
                    "line {n}: {spelled} not in the alert"
                );
            }
            match group {
                Some(g) => {
                    let at = doc["kibana.alert.group.index"].as_u64().expect("an index");
                    let blocks = blocks.entry(g.to_owned()).or_default();
                    assert_eq!(blocks.len() as u64, at);
                    blocks.push(n);
                }
                None => singles += 1,
            }
        }
        // The shipped rule's alerts, and a shell over each sequence's building
        // blocks (its events, in order).
        assert_eq!(singles, expected_seed_lines(&lines).len());
        assert!(!shells.is_empty());
        assert_eq!(shells.len(), blocks.len());
        for (group, lines_of) in &shells {
            assert_eq!(blocks.get(group), Some(lines_of));
        }
        // An alert per match: building blocks and shells are one.
        assert_eq!(summary.alerts as usize, singles + shells.len());
    }
}

/// A file scanned by path, whose stateful rules hold where their events'
/// lines are and read them again for their alerts, and whose timestamps are
/// read ahead so that those rules run their hits before the file ends,
/// gives the alerts its bytes give scanned as a stream (the rules holding
/// the lines and every hit to the end), in order and out of order; its
/// output is the same on one thread and on several.
#[test]
fn a_file_scanned_by_path_gives_what_its_bytes_give() {
    let compiled = rules();
    let sorted = events(4000);
    // Reverse runs of 11 lines: out of order across the runs of the file
    // the scan reads ahead by, too.
    let mut lines: Vec<&[u8]> = sorted.split_inclusive(|&b| b == b'\n').collect();
    for chunk in lines.chunks_mut(11) {
        chunk.reverse();
    }
    let shuffled: Vec<u8> = lines.concat();
    let path = std::env::temp_dir().join(format!("eql-scan-path-{}.ndjson", std::process::id()));
    for input in [&sorted, &shuffled] {
        std::fs::write(&path, input).expect("writes the events");
        let mut outputs = Vec::new();
        for threads in [1, 2] {
            let mut o = opts(threads);
            // Blocks of many lines, and several of the 256 KiB runs the
            // scan reads ahead by in the file.
            o.block_bytes = 64 << 10;
            let (want, want_summary, _) = scan(&compiled, &input[..], o.clone());
            let scanner = Scanner::new(compiled.clone(), o);
            let mut got = Vec::new();
            let mut summary = ScanSummary::default();
            let r = scanner.scan_path(&path, "events.ndjson", &mut got, &mut |_| {}, &mut summary);
            if let Err(e) = r {
                let _ = std::fs::remove_file(&path);
                panic!("scan_path: {e}");
            }
            assert!(
                sorted_lines(&got) == sorted_lines(&want),
                "{threads} threads: the alerts differ"
            );
            assert_eq!(summary.alerts, want_summary.alerts);
            assert_eq!(summary.order.late, 0);
            // The file's hits ran before its end: fewer were held.
            assert!(summary.order.peak_held < want_summary.order.peak_held);
            // Sequence alerts are among them: their lines were read again.
            assert!(want_summary.per_rule.get(1).is_some_and(|&n| n > 0));
            outputs.push(got);
        }
        assert!(
            outputs[0] == outputs[1],
            "the output depends on the threads"
        );
    }
    let _ = std::fs::remove_file(&path);
}

/// Reading a file's timestamps ahead, its stateful rules hold only what is
/// still out of order: far fewer hits at a time than a stream of the same
/// bytes in the same order, which must hold them all to the end.
#[test]
fn a_file_read_ahead_holds_fewer_hits() {
    let compiled = rules();
    let input = events(8000);
    let path = std::env::temp_dir().join(format!("eql-scan-ahead-{}.ndjson", std::process::id()));
    std::fs::write(&path, &input).expect("writes the events");
    let (_, stream, _) = scan(&compiled, &input[..], opts(1));
    let scanner = Scanner::new(compiled.clone(), opts(1));
    let mut file = ScanSummary::default();
    let r = scanner.scan_path(
        &path,
        "events.ndjson",
        &mut Vec::new(),
        &mut |_| {},
        &mut file,
    );
    let _ = std::fs::remove_file(&path);
    r.expect("scan_path");
    assert_eq!(file.alerts, stream.alerts);
    assert!(
        stream.order.peak_held > 4 * file.order.peak_held,
        "peak held hits: file {}, stream {}",
        file.order.peak_held,
        stream.order.peak_held
    );
}

/// `scan --profile`'s rule table of `summary`: per rule name, (evaluated,
/// matched), and whether every estimated time is a finite, non-negative
/// number.
fn profile_counts(
    scanner: &Scanner,
    summary: &ScanSummary,
) -> (BTreeMap<String, (u64, u64)>, bool) {
    let mut text = Vec::new();
    let profile = summary
        .profile
        .clone()
        .expect("a profiled scan has a profile");
    profile
        .write(scanner, usize::MAX, &mut text)
        .expect("write");
    let text = String::from_utf8(text).expect("utf-8");
    let mut table = BTreeMap::new();
    let mut times_ok = true;
    for line in text.lines().skip_while(|l| !l.contains("est. ms")).skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let [est, _share, evaluated, matched, name @ ..] = cols.as_slice() else {
            panic!("a short profile line: {line:?}");
        };
        let est: f64 = est.parse().expect("est. ms");
        times_ok &= est.is_finite() && est >= 0.0;
        let name = name.join(" ").trim_end_matches(" (steps)").to_owned();
        let counts = (
            evaluated.parse().expect("evaluated"),
            matched.parse().expect("matched"),
        );
        table.insert(name, counts);
    }
    (table, times_ok)
}

/// `scan --profile`'s rule table for `input` scanned as a stream on
/// `threads` threads ([`profile_counts`]).
fn profile_table(
    compiled: &CompiledRuleSet,
    input: &[u8],
    threads: usize,
) -> (BTreeMap<String, (u64, u64)>, bool, ScanSummary) {
    let opts = ScanOptions {
        profile_every: 3,
        ..opts(threads)
    };
    let scanner = Scanner::new(compiled.clone(), opts);
    let mut summary = ScanSummary::default();
    scanner
        .scan(
            input,
            "events.ndjson",
            &mut Vec::new(),
            &mut |_| {},
            &mut summary,
        )
        .expect("scan");
    let (table, times_ok) = profile_counts(&scanner, &summary);
    (table, times_ok, summary)
}

#[test]
fn the_profile_counts_every_evaluation_whatever_the_threads() {
    let compiled = rules();
    let input = events(2000);
    let (one, times_ok, summary) = profile_table(&compiled, &input, 1);
    assert!(times_ok);
    // Every rule is listed: each is a candidate of some event here.
    assert_eq!(one.len(), RULES.len(), "{one:?}");
    for threads in [2, 4] {
        let (many, times_ok, _) = profile_table(&compiled, &input, threads);
        assert!(times_ok);
        assert_eq!(many, one, "{threads} threads");
    }
    // A single-event rule's matches are its alerts.
    let (evaluated, matched) = one["rule 0"];
    assert_eq!(matched, summary.per_rule[0]);
    assert!(evaluated >= matched && matched > 0);
}

/// Sequences whose later steps a scan of a file in order leaves out while no
/// earlier step can be waiting for them: first steps that hit rarely, often,
/// or only late in the file, with short and long `maxspan`s and none, and
/// one with a missing step (never left out).
const GATED_RULES: &[&str] = &[
    r#"sequence by host.id with maxspan=20s [process where process.name == "a.exe"] [file where true]"#,
    r#"sequence with maxspan=5s [authentication where user.name == "u0"] [process where true] [network where true]"#,
    r#"sequence by user.name [process where process.name == "rare.exe"] [file where true]"#,
    r"sequence by host.id with maxspan=1m [network where destination.port == 443] [process where true]",
    r#"sequence by host.id with maxspan=40s [process where process.name == "rare.exe"] [file where true] [network where true]"#,
    r#"sequence by host.id with maxspan=30s [process where process.name == "a.exe"] ![file where file.extension == "dll"] [network where true]"#,
    r#"file where file.extension == "dll""#,
    // A `maxspan` longer than one of the read-ahead's runs (about 400
    // lines, 400 seconds): the second step, fifteen minutes (two runs or
    // more) after the first, must not be left out.
    r#"sequence by user.name with maxspan=20m [process where process.name == "rare.exe"] [network where destination.port == 22]"#,
    // A trailing missing step after a rare first step: its candidates come
    // out when no DLL is written on the host within ten seconds.
    r#"sequence by host.id with maxspan=10s [process where process.name == "rare.exe"] ![file where file.extension == "dll"]"#,
    // The same with a `maxspan` longer than a run: the port 22 events,
    // fifteen minutes after `rare.exe`, discard the candidates (its missing
    // step is a candidate only on them, so no fewer evaluations).
    r#"sequence by user.name with maxspan=20m [process where process.name == "rare.exe"] ![network where destination.port == 22]"#,
];

/// Events over a few hosts and users in timestamp order, two per timestamp
/// and timestamps two seconds apart, padded so that the file spans many of the
/// scan's read-ahead runs; `rare.exe` starts processes only around event
/// `n * 2 / 3`, and destination port 22 is reached only fifteen minutes
/// later.
fn gated_events(n: usize) -> Vec<u8> {
    let mut rng = common::XorShift(0x2545_f491_4f6c_dd1d);
    let mut next = |m: u64| rng.below(m);
    let cats = ["process", "network", "file", "authentication"];
    let names = ["cmd.exe", "a.exe", "svchost.exe", "b.exe"];
    let mut out = Vec::new();
    for i in 0..n {
        let rare = (n * 2 / 3..n * 2 / 3 + 20).contains(&i);
        // Fifteen minutes later, a port no other event uses.
        let late = (n * 2 / 3 + 900..n * 2 / 3 + 910).contains(&i);
        let cat = if rare {
            "process"
        } else if late {
            "network"
        } else {
            cats[next(4) as usize]
        };
        let name = if rare {
            "rare.exe"
        } else {
            names[next(4) as usize]
        };
        let ext = ["exe", "dll"][next(2) as usize];
        let line = serde_json::json!({
            "@timestamp": 1_700_000_000_000u64 + (i as u64 / 2) * 2000,
            "event": {"category": [cat]},
            "host": {"id": format!("h{}", next(3))},
            "user": {"name": format!("u{}", next(3))},
            "process": {"name": name},
            "file": {"extension": ext},
            "destination": {"port": if late { 22 } else if next(3) == 0 { 443 } else { 80 }},
            "pad": "x".repeat(300 + next(200) as usize),
        });
        out.extend_from_slice(line.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

/// A scan of the file at `path` on `threads` threads: its output,
/// `--profile`'s (evaluated, matched) per rule, and the number of events
/// the sessions got.
fn path_scan(
    compiled: &CompiledRuleSet,
    path: &std::path::Path,
    threads: usize,
) -> (Vec<u8>, BTreeMap<String, (u64, u64)>, u64) {
    let o = ScanOptions {
        profile_every: 1000,
        block_bytes: 16 << 10,
        ..opts(threads)
    };
    let scanner = Scanner::new(compiled.clone(), o);
    let mut out = Vec::new();
    let mut summary = ScanSummary::default();
    let r = scanner.scan_path(path, "events.ndjson", &mut out, &mut |_| {}, &mut summary);
    if let Err(e) = r {
        let _ = std::fs::remove_file(path);
        panic!("scan_path: {e}");
    }
    let (table, _) = profile_counts(&scanner, &summary);
    (out, table, summary.step_events)
}

/// In a file in timestamp order, the scan leaves a sequence's later step
/// out while no hit of the step before it can still be waiting: the alerts
/// are those of the same bytes scanned as a stream (where every step is
/// evaluated), on one thread and several, and the steps left out are
/// evaluated fewer times. Out of order, nothing is left out.
#[test]
fn later_steps_left_out_change_no_alert() {
    let compiled = common::compile(GATED_RULES);
    let sorted = gated_events(6000);
    let mut lines: Vec<&[u8]> = sorted.split_inclusive(|&b| b == b'\n').collect();
    // One pair of lines swapped far into the file: out of order.
    lines.swap(4001, 4002);
    let swapped: Vec<u8> = lines.concat();
    let path = std::env::temp_dir().join(format!("eql-scan-gate-{}.ndjson", std::process::id()));
    // The same bytes as a stream: no step left out.
    let (stream, _, _) = profile_table(&compiled, &sorted, 1);
    let stream_evaluated = |rule: &str| stream.get(rule).map_or(0, |c| c.0);
    for (input, in_order) in [(&sorted, true), (&swapped, false)] {
        let (want, _, _) = scan(&compiled, &input[..], opts(1));
        std::fs::write(&path, input).expect("writes the events");
        let mut step_events = None;
        for threads in [1, 2, 4] {
            let (got, table, forwarded) = path_scan(&compiled, &path, threads);
            assert!(
                sorted_lines(&got) == sorted_lines(&want),
                "in order {in_order}, {threads} threads: the alerts differ"
            );
            // What is left out does not depend on the threads.
            let one = *step_events.get_or_insert(forwarded);
            assert_eq!(
                forwarded, one,
                "in order {in_order}, {threads} threads: events to the sessions"
            );
            if threads == 1 {
                // The gated rules' steps, missing steps too: fewer
                // evaluations in order, as many out of order.
                for rule in ["rule 0", "rule 1", "rule 2", "rule 4", "rule 5", "rule 8"] {
                    let (evaluated, _) = table.get(rule).copied().unwrap_or((0, 0));
                    let stream = stream_evaluated(rule);
                    if in_order {
                        assert!(evaluated < stream, "{rule}: {evaluated} of {stream}");
                    } else {
                        assert_eq!(evaluated, stream, "{rule}");
                    }
                }
            }
        }
    }
    let _ = std::fs::remove_file(&path);
    // Sequences complete here, so that alerts are compared at all.
    let (want, _, _) = scan(&compiled, &sorted[..], opts(1));
    for rule in ["rule 0", "rule 1", "rule 2", "rule 4", "rule 7", "rule 8"] {
        let name = format!("\"{rule}\"");
        assert!(
            want.split(|&b| b == b'\n')
                .any(|l| l.windows(name.len()).any(|w| w == name.as_bytes())),
            "{rule} has alerts"
        );
    }
}

/// Lines that name an index its rules route to another plan than the
/// default one are evaluated with nothing left out, on one thread as on
/// several: the writing thread leaves none of their step hits out. Here
/// the sequence applies everywhere and one single-event rule only to
/// `logs-x*`, so the lines of `logs-y` get a plan of their own; the
/// sequence's second step is the only query that file events match, and
/// its first step hits only two thirds into the file.
#[test]
fn lines_routed_to_another_plan_keep_their_steps_on_every_thread_count() {
    let mut set = RuleSet::new();
    set.push(Rule {
        name: "rare then file".to_owned(),
        query:
            r#"sequence by user.name [process where process.name == "rare.exe"] [file where true]"#
                .to_owned(),
        ..Rule::default()
    });
    set.push(Rule {
        name: "x only".to_owned(),
        query: "network where destination.port == 443".to_owned(),
        index: vec!["logs-x*".to_owned()],
        ..Rule::default()
    });
    let (compiled, errors) = set.compile(&CompileOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    // One line in three names `logs-y`, the others name no index.
    let events = gated_events(6000);
    let mut input = Vec::new();
    for (k, line) in events.split_inclusive(|&b| b == b'\n').enumerate() {
        match line.strip_prefix(b"{") {
            Some(rest) if k % 3 == 0 => {
                input.extend_from_slice(br#"{"_index": "logs-y", "#);
                input.extend_from_slice(rest);
            }
            _ => input.extend_from_slice(line),
        }
    }
    let dir = std::env::temp_dir();
    let (plain_path, path) = (
        dir.join(format!("eql-scan-gate-plain-{}.ndjson", std::process::id())),
        dir.join(format!(
            "eql-scan-gate-routed-{}.ndjson",
            std::process::id()
        )),
    );
    std::fs::write(&plain_path, &events).expect("writes the events");
    std::fs::write(&path, &input).expect("writes the events");
    let (_, _, plain) = path_scan(&compiled, &plain_path, 1);
    let (one, _, one_forwarded) = path_scan(&compiled, &path, 1);
    let mut runs = Vec::new();
    for threads in [2, 4, 2, 4] {
        runs.push((threads, path_scan(&compiled, &path, threads)));
    }
    let _ = std::fs::remove_file(&plain_path);
    let _ = std::fs::remove_file(&path);
    // The routed lines' file events reach the sessions before `rare.exe`.
    assert!(
        one_forwarded > plain,
        "{one_forwarded} events to the sessions, {plain} with no line routed"
    );
    for (threads, (out, _, forwarded)) in &runs {
        assert!(one == *out, "{threads} threads: the output differs");
        assert_eq!(
            *forwarded, one_forwarded,
            "{threads} threads: events to the sessions"
        );
    }
}

/// Rules whose alerts interleave in a file read ahead: a sequence that
/// completes often (its alerts come when the read-ahead tells the sessions
/// that no earlier event is still to come), a sequence whose later step is
/// left out (its first step never matches, so only a thread that does not
/// yet know the block before its own evaluates that step), a frequent
/// single-event rule, and a sequence with a trailing missing step.
const RELEASED_RULES: &[&str] = &[
    r#"sequence by host.id with maxspan=10s [process where process.name == "a.exe"] [file where true]"#,
    r#"sequence with maxspan=4s [authentication where user.name == "nobody"] [network where true]"#,
    r#"process where process.name == "b.exe""#,
    // Candidates that wait for a trailing missing event: they come out when
    // the time still to come is past their window.
    r#"sequence by host.id with maxspan=3s [process where process.name == "c.exe"] ![file where true]"#,
];

/// Events in timestamp order, two per second, over two hosts, padded so
/// that the file spans several of the read-ahead's runs: `c.exe` starts
/// about one process in three hundred (once a run or so), `a.exe` one in
/// fifty, `b.exe` about half of them.
fn released_events(n: usize) -> Vec<u8> {
    let mut rng = common::XorShift(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::new();
    for i in 0..n {
        let r = rng.below(1000);
        let (cat, name) = match r {
            0..=2 => ("process", "c.exe"),
            3..=20 => ("process", "a.exe"),
            21..=499 => ("process", "b.exe"),
            500..=749 => ("network", "x.exe"),
            _ => ("file", "y.exe"),
        };
        let line = serde_json::json!({
            "@timestamp": 1_700_000_000_000u64 + (i as u64 / 2) * 1000,
            "event": {"category": [cat]},
            "host": {"id": format!("h{}", rng.below(2))},
            "user": {"name": "u"},
            "process": {"name": name},
            "pad": "x".repeat(200 + rng.below(200) as usize),
        });
        out.extend_from_slice(line.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

/// A file scanned by path is read ahead, and its later sequence steps are
/// left out: each evaluating thread leaves out what it can as far as it
/// knows the blocks before its own, and the writing thread the rest of
/// what one thread would. The sessions get the same events on 1, 2 and 4
/// threads, run after run, and the output is the same bytes.
#[test]
fn a_file_scanned_by_path_gives_the_same_bytes_for_1_2_and_4_threads() {
    let compiled = common::compile(RELEASED_RULES);
    let input = released_events(6000);
    let path = std::env::temp_dir().join(format!("eql-scan-release-{}.ndjson", std::process::id()));
    std::fs::write(&path, &input).expect("writes the events");
    let (one, _, one_forwarded) = path_scan(&compiled, &path, 1);
    let mut outputs = Vec::new();
    for _ in 0..3 {
        for threads in [2, 4] {
            let (out, _, forwarded) = path_scan(&compiled, &path, threads);
            outputs.push((threads, out, forwarded));
        }
    }
    let _ = std::fs::remove_file(&path);
    assert!(one_forwarded > 0, "events reach the sessions");
    for (threads, many, forwarded) in &outputs {
        assert!(one == *many, "{threads} threads: the output differs");
        assert_eq!(
            *forwarded, one_forwarded,
            "{threads} threads: events to the sessions"
        );
    }
    // The comparison covers sequence alerts placed among the others, not
    // only at the end of the output.
    let lines: Vec<&[u8]> = one.split(|&b| b == b'\n').collect();
    let is = |l: &&[u8], rule: &str| {
        let name = format!("\"{rule}\"");
        l.windows(name.len()).any(|w| w == name.as_bytes())
    };
    let last_single = lines.iter().rposition(|l| is(l, "rule 2"));
    for rule in ["rule 0", "rule 3"] {
        let first_seq = lines.iter().position(|l| is(l, rule));
        assert!(
            first_seq.zip(last_single).is_some_and(|(s, e)| s < e),
            "{rule}: sequence alerts among the others: {first_seq:?} {last_single:?}"
        );
    }
}
