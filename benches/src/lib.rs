//! Shared set-up for the criterion benches: the reference workload.
//!
//! Events come from `../shared/bench/gen_events.py --seed 42` (never committed).
//! `EQL_BENCH_EVENTS` points at an existing JSONL file; otherwise a smaller
//! sample (`EQL_BENCH_N`, default 20 000 events) is generated into `target/`.

use std::path::PathBuf;
use std::process::Command;

/// The seed rule (rule 0 of the reference pack).
pub const SEED_RULE: &str = r#"file where host.os.type == "windows" and event.type != "deletion" and file.extension : ("exe", "dll") and process.name : ("smss.exe", "autochk.exe", "csrss.exe", "wininit.exe", "services.exe", "lsass.exe", "winlogon.exe", "userinit.exe", "LogonUI.exe")"#;

/// Path of the shared folder (`EQL_SHARED`, default `../shared` beside the checkout).
pub fn shared_dir() -> PathBuf {
    std::env::var_os("EQL_SHARED").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    )
}

/// The reference event lines, or `None` (with a message) when they cannot be had.
pub fn reference_events() -> Option<Vec<Vec<u8>>> {
    let path = if let Some(p) = std::env::var_os("EQL_BENCH_EVENTS") {
        PathBuf::from(p)
    } else {
        let n: usize = std::env::var("EQL_BENCH_N")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20_000);
        let out = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../target/bench-events-{n}.jsonl"));
        if !out.exists() {
            let script = shared_dir().join("bench/gen_events.py");
            let ok = Command::new("python3")
                .arg(&script)
                .args(["--seed", "42", "-n", &n.to_string(), "-o"])
                .arg(&out)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                eprintln!(
                    "bench: could not generate events with {} (shared files absent?)",
                    script.display()
                );
                return None;
            }
        }
        out
    };
    let text = std::fs::read(&path).ok()?;
    Some(
        text.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect(),
    )
}

/// The first `n` queries of the reference rule pack
/// (`../shared/bench/gen_rules.py --seed 7 -n N`; rule 0 is the seed rule),
/// generated into `target/` once.
pub fn reference_rules(n: usize) -> Option<Vec<String>> {
    let out =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../target/bench-rules-{n}.json"));
    if !out.exists() {
        let script = shared_dir().join("bench/gen_rules.py");
        let ok = Command::new("python3")
            .arg(&script)
            .args(["--seed", "7", "-n", &n.to_string(), "-o"])
            .arg(&out)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("bench: could not generate rules with {}", script.display());
            return None;
        }
    }
    let text = std::fs::read(&out).ok()?;
    let rules: Vec<serde_json::Value> = serde_json::from_slice(&text).ok()?;
    Some(
        rules
            .iter()
            .filter_map(|r| r.get("eql")?.as_str().map(str::to_owned))
            .take(n)
            .collect(),
    )
}

/// The queries of `../shared/corpus/detection-rules-eql.jsonl` (all forms).
pub fn corpus_queries() -> Option<Vec<String>> {
    let path = shared_dir().join("corpus/detection-rules-eql.jsonl");
    let text = std::fs::read_to_string(&path).ok().or_else(|| {
        eprintln!("bench: {} absent", path.display());
        None
    })?;
    Some(
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|r| r.get("query")?.as_str().map(str::to_owned))
            .collect(),
    )
}
