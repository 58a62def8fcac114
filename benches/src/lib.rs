//! Shared set-up for the criterion benches: the reference workload.
//!
//! Events come from `bench/gen_events.py --seed 42` of the shared folder
//! (never committed). `EQL_BENCH_EVENTS` points at an existing JSONL file;
//! otherwise a smaller sample (`EQL_BENCH_N`, default 20 000 events) is
//! generated into `target/`. A bench whose inputs cannot be had panics with
//! the reason: it never reports a run that measured nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The seed rule (rule 0 of the reference pack).
pub const SEED_RULE: &str = r#"file where host.os.type == "windows" and event.type != "deletion" and file.extension : ("exe", "dll") and process.name : ("smss.exe", "autochk.exe", "csrss.exe", "wininit.exe", "services.exe", "lsass.exe", "winlogon.exe", "userinit.exe", "LogonUI.exe")"#;

/// Path of the shared folder (`EQL_SHARED`, default the `shared` folder beside
/// the workspace).
pub fn shared_dir() -> PathBuf {
    std::env::var_os("EQL_SHARED").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    )
}

/// Runs a generator script of the shared folder; panics when it fails.
fn generate(script: &str, seed: &str, n: usize, out: &Path) {
    let script = shared_dir().join(script);
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    let status = Command::new("python3")
        .arg(&script)
        .args(["--seed", seed, "-n", &n.to_string(), "-o"])
        .arg(out)
        .status();
    assert!(
        status.as_ref().is_ok_and(std::process::ExitStatus::success),
        "bench input: python3 {} failed ({status:?}); set EQL_SHARED to the shared folder",
        script.display()
    );
}

/// Reads a bench input; panics when it cannot be read.
fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "bench input {}: {e}; set EQL_SHARED to the shared folder",
            path.display()
        )
    })
}

/// The file of reference events: `EQL_BENCH_EVENTS`, or `n` events
/// (`EQL_BENCH_N`, default 20 000, when `n` is `None`) generated into
/// `target/` once; panics when they cannot be had.
pub fn reference_events_path(n: Option<usize>) -> PathBuf {
    if let Some(p) = std::env::var_os("EQL_BENCH_EVENTS").filter(|_| n.is_none()) {
        return PathBuf::from(p);
    }
    let n: usize = n.unwrap_or_else(|| {
        std::env::var("EQL_BENCH_N")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20_000)
    });
    let out =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../target/bench-events-{n}.jsonl"));
    if !out.exists() {
        generate("bench/gen_events.py", "42", n, &out);
    }
    out
}

/// The reference event lines; panics when they cannot be had.
pub fn reference_events() -> Vec<Vec<u8>> {
    read(&reference_events_path(None))
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// The first `n` rules of the reference rule pack
/// (`bench/gen_rules.py --seed 7 -n N` of the shared folder; rule 0 is the
/// seed rule), generated into `target/` once: one JSON object per rule.
pub fn reference_pack(n: usize) -> Vec<serde_json::Value> {
    let out =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../target/bench-rules-{n}.json"));
    if !out.exists() {
        generate("bench/gen_rules.py", "7", n, &out);
    }
    let mut rules: Vec<serde_json::Value> = serde_json::from_slice(&read(&out))
        .unwrap_or_else(|e| panic!("bench input {}: {e}", out.display()));
    rules.truncate(n);
    rules
}

/// The text of field `key` of each rule of [`reference_pack`].
fn pack_texts(n: usize, key: &str) -> Vec<String> {
    reference_pack(n)
        .iter()
        .filter_map(|r| r.get(key)?.as_str().map(str::to_owned))
        .collect()
}

/// The EQL queries of the first `n` rules of the reference rule pack.
pub fn reference_rules(n: usize) -> Vec<String> {
    pack_texts(n, "eql")
}

/// The same rules as tau-engine rules (the generator writes both; each has
/// exactly its EQL twin's logic), for the peer baseline.
pub fn reference_tau_rules(n: usize) -> Vec<String> {
    pack_texts(n, "tau")
}

/// The queries of `corpus/detection-rules-eql.jsonl` of the shared folder
/// (all forms).
pub fn corpus_queries() -> Vec<String> {
    let path = shared_dir().join("corpus/detection-rules-eql.jsonl");
    String::from_utf8_lossy(&read(&path))
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|r| r.get("query")?.as_str().map(str::to_owned))
        .collect()
}

/// The least time each side of an [`interleaved_ratio`] round runs for.
pub const MIN_SIDE_SECS: f64 = 0.2;

/// Same-run ratios that hold up on a noisy machine: `base` and `subject`
/// each process `base_n` and `subject_n` events per call, and run in
/// alternation for `rounds` rounds, so a slow phase of the machine hits both.
/// Within a round each side is first called once untimed (so that neither is
/// timed with its tables evicted by the other), then called repeatedly until
/// [`MIN_SIDE_SECS`] have passed. Prints and returns the median over rounds
/// of (subject events/s) / (base events/s).
///
/// ```
/// let r = eql_bench::interleaved_ratio("demo", 3, 1, || (), 1, || ());
/// assert!(r > 0.0);
/// ```
pub fn interleaved_ratio(
    label: &str,
    rounds: usize,
    base_n: usize,
    mut base: impl FnMut(),
    subject_n: usize,
    mut subject: impl FnMut(),
) -> f64 {
    // Seconds per event of one side, warm.
    fn timed(n: usize, f: &mut impl FnMut()) -> f64 {
        f();
        let t = std::time::Instant::now();
        let mut calls = 0usize;
        loop {
            f();
            calls += 1;
            if t.elapsed().as_secs_f64() >= MIN_SIDE_SECS {
                break;
            }
        }
        t.elapsed().as_secs_f64().max(1e-9) / (calls * n.max(1)) as f64
    }
    let mut ratios = Vec::with_capacity(rounds);
    for _ in 0..rounds.max(1) {
        let b = timed(base_n, &mut base);
        let s = timed(subject_n, &mut subject);
        ratios.push(b / s);
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios.get(ratios.len() / 2).copied().unwrap_or(0.0);
    let (lo, hi) = (
        ratios.first().copied().unwrap_or(0.0),
        ratios.last().copied().unwrap_or(0.0),
    );
    eprintln!("ratio  {label}: median {median:.2}x over {rounds} alternating rounds (min {lo:.2}, max {hi:.2})");
    median
}

/// `serde_json::from_slice::<Value>` of every line: the DOM-parse baseline.
pub fn parse_all(lines: &[Vec<u8>]) {
    for l in lines {
        std::hint::black_box(serde_json::from_slice::<serde_json::Value>(l).ok());
    }
}
