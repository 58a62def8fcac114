//! `scan --state`: a stream cut into two inputs, the first scanned with its
//! state kept and saved, the second from that state, gives the alerts of
//! the whole stream; a state file that is not one is refused before any
//! event is read, with exit code 2, and left as it was.

mod common;

use eql_engine::{CompileOptions, CompiledRuleSet, Rule, RuleSet};
use eql_examples::scan::{ScanOptions, ScanSummary, Scanner};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

const RULES: &[&str] = &[
    r#"process where process.name : "cmd.exe""#,
    r#"sequence by host.id with maxspan=30s [process where process.name : "cmd.exe"] [network where true]"#,
    r#"sequence by host.id, user.name [authentication where true] [process where true] [file where file.extension == "dll"]"#,
    r"sample by host.id [network where true] [file where true]",
    r"network where destination.port == 443 | head 5",
    r#"sequence by user.name [authentication where true] until [process where process.name == "b.exe"]"#,
    r#"sequence by host.id with maxspan=5s [process where process.name == "a.exe"] ![file where true] [network where true]"#,
    r#"sequence by host.id with maxspan=20s [process where process.name == "a.exe"] [network where true] ![file where true]"#,
];

fn rules() -> CompiledRuleSet {
    common::compile(RULES)
}

/// A deterministic stream of `n` event lines over a few hosts and users,
/// in timestamp order with some lines a few seconds out of it.
fn lines(n: usize) -> Vec<String> {
    let mut rng = common::XorShift(0x2545_f491_4f6c_dd1d);
    let mut next = |m: u64| rng.below(m);
    let cats = ["process", "network", "file", "authentication"];
    let names = ["cmd.exe", "a.exe", "b.exe", "svchost.exe"];
    (0..n)
        .map(|i| {
            let jitter = next(4) * 1000;
            let ext = ["exe", "dll"][next(2) as usize];
            serde_json::json!({
                "@timestamp": 1_700_000_000_000u64 + i as u64 * 1000 + jitter,
                "event": {"category": [cats[next(4) as usize]]},
                "host": {"id": format!("h{}", next(4))},
                "user": {"name": format!("u{}", next(3))},
                "process": {"name": names[next(4) as usize]},
                "file": {"extension": ext},
                "destination": {"port": if next(2) == 0 { 443 } else { 80 }},
                "seq": i,
            })
            .to_string()
        })
        .collect()
}

/// An alert without where it was found (a file and line differ between
/// one input and two): its rule, its event and its events' texts.
type Key = (String, String, Vec<String>);

fn alerts(out: &[u8]) -> BTreeMap<Key, usize> {
    let mut all = BTreeMap::new();
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let a: Json = serde_json::from_slice(line).expect("an alert is JSON");
        let events = a
            .get("events")
            .and_then(Json::as_array)
            .map(|es| {
                es.iter()
                    .map(|e| {
                        e.get("event")
                            .map_or_else(|| "missing".to_owned(), Json::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let key = (a["name"].to_string(), a["event"].to_string(), events);
        *all.entry(key).or_insert(0) += 1;
    }
    all
}

fn run(scanner: &Scanner, text: &str, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut summary = ScanSummary::default();
    scanner
        .scan(text.as_bytes(), name, &mut out, &mut |_| {}, &mut summary)
        .expect("scan");
    out
}

fn opts(threads: usize, keep_open: bool) -> ScanOptions {
    ScanOptions {
        threads,
        block_bytes: 2048,
        keep_open,
        ..ScanOptions::default()
    }
}

#[test]
fn two_inputs_with_the_state_between_them_give_the_alerts_of_one() {
    let compiled = rules();
    let all = lines(3000);
    let whole = alerts(&run(
        &Scanner::new(compiled.clone(), opts(1, false)),
        &all.join("\n"),
        "all.ndjson",
    ));
    assert!(whole.values().sum::<usize>() > 100, "{whole:?}");
    let stateful: usize = whole
        .iter()
        .filter(|(k, _)| !k.2.is_empty())
        .map(|(_, n)| n)
        .sum();
    assert!(stateful > 20, "the stream has sequence and sample alerts");
    for (cut, threads) in [(1, 1), (517, 2), (1500, 1), (2222, 2), (2999, 4)] {
        let first = Scanner::new(compiled.clone(), opts(threads, true));
        let mut out = run(&first, &all[..cut].join("\n"), "day1.ndjson");
        let state = first.save_state().expect("state");
        let second = Scanner::new(compiled.clone(), opts(5 - threads, false));
        second.load_state(&state).expect("the state loads");
        out.extend(run(&second, &all[cut..].join("\n"), "day2.ndjson"));
        assert_eq!(alerts(&out), whole, "cut at line {cut}");
        // The stream ended: nothing is left to carry.
        let empty: Json = serde_json::from_slice(&second.save_state().expect("state"))
            .expect("the state is JSON");
        assert_eq!(empty["rules"], serde_json::json!([]), "cut at line {cut}");
    }
}

#[test]
fn a_sequence_across_inputs_names_each_events_own_input_and_line() {
    let compiled = rules();
    let first = Scanner::new(compiled.clone(), opts(1, true));
    let day1 = r#"{"@timestamp": 1000, "event": {"category": "process"}, "host": {"id": "h"}, "process": {"name": "cmd.exe"}}"#;
    let day2 = r#"{"@timestamp": 2000, "event": {"category": "network"}, "host": {"id": "h"}}"#;
    let _ = run(&first, day1, "day1.ndjson");
    let second = Scanner::new(compiled, opts(1, false));
    second
        .load_state(&first.save_state().expect("state"))
        .expect("loads");
    let out = run(&second, day2, "day2.ndjson");
    let seq: Vec<Json> = out
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("JSON"))
        .filter(|a: &Json| a["name"] == "rule 1")
        .collect();
    assert_eq!(seq.len(), 1, "{}", String::from_utf8_lossy(&out));
    let sources: Vec<&Json> = seq[0]["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| &e["source"])
        .collect();
    assert_eq!(
        sources,
        [
            &serde_json::json!({"file": "day1.ndjson", "line": 1}),
            &serde_json::json!({"file": "day2.ndjson", "line": 1})
        ]
    );
}

#[test]
fn a_state_for_other_rules_or_options_is_refused() {
    let compiled = rules();
    let first = Scanner::new(compiled.clone(), opts(1, true));
    let _ = run(&first, &lines(200).join("\n"), "a.ndjson");
    let state = first.save_state().expect("state");
    // Other rules: the state's rules are not among them.
    let mut other = RuleSet::new();
    other.push(Rule {
        name: "rule 1".into(),
        query: RULES[2].to_owned(),
        ..Rule::default()
    });
    let (other, _) = other.compile(&CompileOptions::default());
    let err = Scanner::new(other, opts(1, false))
        .load_state(&state)
        .expect_err("other rules");
    assert!(err.contains("rule 1"), "{err}");
    // Another order.
    let mut window = opts(1, false);
    window.order = Some(eql_engine::StreamOrder::Window { window_ms: 0 });
    let err = Scanner::new(compiled.clone(), window)
        .load_state(&state)
        .expect_err("another order");
    assert!(err.contains("options"), "{err}");
    // Bytes that are not a state, a truncated state, another version.
    let scanner = Scanner::new(compiled, opts(1, false));
    for bad in [
        b"not json".to_vec(),
        state[..state.len() / 2].to_vec(),
        String::from_utf8_lossy(&state)
            .replacen("\"version\":1", "\"version\":99", 1)
            .into_bytes(),
    ] {
        assert!(scanner.load_state(&bad).is_err());
    }
}

fn scan_bin() -> PathBuf {
    common::example_bin("scan")
}

#[test]
fn a_corrupted_state_file_exits_2_and_is_left_as_it_was() {
    let dir = std::env::temp_dir().join(format!("eql-scan-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let events = dir.join("events.ndjson");
    std::fs::write(&events, lines(300).join("\n")).expect("events");
    let state = dir.join("state.json");
    let corrupt = b"{\"format\": \"eql-scan-state\", \"version\": 1, \"rules\": [{\"rule\"";
    std::fs::write(&state, corrupt).expect("state");
    let out = Command::new(scan_bin())
        .arg("--state")
        .arg(&state)
        .arg(&events)
        .output()
        .expect("scan runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("state.json") && stderr.contains("not a scan state file"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no event was scanned");
    assert_eq!(std::fs::read(&state).expect("state"), corrupt);
    // A good state is written whole (through a temporary file) and read back.
    std::fs::remove_file(&state).expect("rm");
    let ok = Command::new(scan_bin())
        .arg("--state")
        .arg(&state)
        .arg(&events)
        .output()
        .expect("scan runs");
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let saved: Json = serde_json::from_slice(&std::fs::read(&state).expect("saved")).expect("JSON");
    assert_eq!(saved["format"], "eql-scan-state");
    assert!(!dir.join("state.json.tmp").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
