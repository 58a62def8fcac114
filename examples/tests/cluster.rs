//! The `cluster` example (timely workers and processes) against `scan`: the
//! same alerts, as a multiset, on 1×1, 2×1, 1×2 and 2×2 workers ×
//! processes (processes on 127.0.0.1), and a bad line read by one process
//! is reported with its file and line while the other's work goes on.
//!
//! The tests run the example binary that `cargo test` builds next to them
//! (`target/<profile>/examples/cluster`), each process bounded in time.

mod common;

use eql_engine::{CompileOptions, RuleSet};
use eql_examples::scan::{Report, ScanOptions, ScanSummary, Scanner};
use std::fs::File;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RULES: &[&str] = &[
    r#"process where process.name : "cmd.exe""#,
    r#"sequence by host.id with maxspan=30s [process where process.name : "cmd.exe"] [network where true]"#,
    r#"sequence by host.id, user.name [authentication where true] [process where true] [file where file.extension == "dll"]"#,
    r#"sequence [process where process.name == "a.exe"] [process where process.name == "b.exe"]"#,
    r"sample by host.id [network where true] [file where true]",
    r"network where destination.port == 443 | head 5",
    r#"sequence by user.name [authentication where true] until [process where process.name == "b.exe"]"#,
    r#"sequence by host.id with maxspan=5s [process where process.name == "a.exe"] ![file where true] [network where true]"#,
    r"sequence [authentication where true] by user.name [process where true] by process.user",
];

/// How long one run may take, all processes together.
const DEADLINE: Duration = Duration::from_secs(180);

/// A scratch folder for one test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eql-cluster-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// The rules as a JSONL rule file.
fn write_rules(dir: &Path) -> PathBuf {
    let path = dir.join("rules.jsonl");
    let mut f = File::create(&path).expect("rules file");
    for (i, q) in RULES.iter().enumerate() {
        let rule = serde_json::json!({"rule_id": format!("r{i}"), "name": format!("rule {i}"), "query": q});
        writeln!(f, "{rule}").expect("write");
    }
    path
}

/// `n` events over a few hosts and users, with ties, and with `jitter` out
/// of timestamp order by up to a few seconds; line `bad` (1-based), when
/// given, is not JSON.
fn write_events(dir: &Path, n: usize, jitter: bool, bad: Option<usize>) -> PathBuf {
    let mut rng = common::XorShift(0x2545_f491_4f6c_dd1d);
    let mut next = |m: u64| rng.below(m);
    let cats = ["process", "network", "file", "authentication"];
    let names = ["cmd.exe", "a.exe", "b.exe", "svchost.exe"];
    let exts = ["exe", "dll", "txt"];
    let path = dir.join(if jitter {
        "events.ndjson"
    } else {
        "sorted.ndjson"
    });
    let mut f = std::io::BufWriter::new(File::create(&path).expect("events file"));
    for i in 0..n {
        if bad == Some(i + 1) {
            writeln!(f, "{{\"@timestamp\": 1, \"event\": ").expect("write");
            continue;
        }
        let late = next(4);
        let ts =
            1_700_000_000_000u64 + (i as u64 / 2) * 1000 + if jitter { late * 1000 } else { 0 };
        let line = serde_json::json!({
            "@timestamp": ts,
            "event": {"category": [cats[next(4) as usize]]},
            "host": {"id": format!("h{}", next(6))},
            "user": {"name": format!("u{}", next(3))},
            "process": {"name": names[next(4) as usize], "user": format!("u{}", next(3))},
            "file": {"extension": exts[next(3) as usize]},
            "destination": {"port": if next(2) == 0 { 443 } else { 80 }},
        });
        writeln!(f, "{line}").expect("write");
    }
    f.flush().expect("flush");
    path
}

/// `scan`'s alerts (one thread), sorted, and its bad lines' numbers.
fn scan(rules: &Path, events: &Path) -> (Vec<String>, Vec<u64>) {
    let (set, errors) = RuleSet::from_path(rules);
    assert!(errors.is_empty(), "{errors:?}");
    let (compiled, errors) = set.compile(&CompileOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    let scanner = Scanner::new(
        compiled,
        ScanOptions {
            threads: 1,
            ..ScanOptions::default()
        },
    );
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let mut summary = ScanSummary::default();
    let name = events.to_string_lossy();
    scanner
        .scan(
            File::open(events).expect("events"),
            &name,
            &mut out,
            &mut |r| {
                if let Report::BadLine(e) = r {
                    bad.push(e.line.unwrap_or(0));
                }
            },
            &mut summary,
        )
        .expect("scan");
    (sorted_lines(&out), bad)
}

fn sorted_lines(bytes: &[u8]) -> Vec<String> {
    let mut lines: Vec<String> = String::from_utf8_lossy(bytes)
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

/// The example binary next to this test's.
fn cluster_bin() -> PathBuf {
    common::example_bin("cluster")
}

/// What a run gave: process 0's alerts (sorted) and every process's stderr.
struct Run {
    alerts: Vec<String>,
    stderr: Vec<String>,
}

/// Runs `cluster` with `workers` threads in each of `processes` processes
/// on 127.0.0.1, all within [`DEADLINE`].
fn cluster(
    dir: &Path,
    rules: &Path,
    events: &Path,
    workers: usize,
    processes: usize,
    extra: &[&str],
) -> Run {
    let hostfile = dir.join(format!("hosts-{workers}x{processes}"));
    // Free ports: bound, noted, released just before the processes bind them.
    let listeners: Vec<TcpListener> = (0..processes)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    let hosts: Vec<String> = listeners
        .iter()
        .map(|l| format!("127.0.0.1:{}", l.local_addr().expect("address").port()))
        .collect();
    std::fs::write(&hostfile, hosts.join("\n") + "\n").expect("hostfile");
    drop(listeners);
    let out = |p: usize, what: &str| dir.join(format!("{workers}x{processes}-{p}.{what}"));
    let mut children: Vec<Child> = (0..processes)
        .map(|p| {
            let mut cmd = Command::new(cluster_bin());
            cmd.arg("--rules")
                .arg(rules)
                .arg("--output")
                .arg(out(p, "alerts"))
                .args(["-w", &workers.to_string()]);
            if processes > 1 {
                cmd.args(["-n", &processes.to_string(), "-p", &p.to_string()])
                    .arg("-h")
                    .arg(&hostfile);
            }
            cmd.args(extra)
                .arg(events)
                .stdout(Stdio::null())
                .stderr(File::create(out(p, "stderr")).expect("stderr file"))
                .spawn()
                .expect("cluster starts")
        })
        .collect();
    let start = Instant::now();
    loop {
        let mut running = 0;
        for c in &mut children {
            match c.try_wait().expect("wait") {
                Some(status) => assert!(status.success(), "a process failed: {status}"),
                None => running += 1,
            }
        }
        if running == 0 {
            break;
        }
        if start.elapsed() > DEADLINE {
            for c in &mut children {
                let _ = c.kill();
            }
            panic!("{workers}×{processes}: not done within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Run {
        alerts: sorted_lines(&std::fs::read(out(0, "alerts")).expect("alerts of process 0")),
        stderr: (0..processes)
            .map(|p| std::fs::read_to_string(out(p, "stderr")).expect("stderr"))
            .collect(),
    }
}

#[test]
fn the_same_alerts_as_scan_on_1x1_2x1_1x2_and_2x2() {
    let dir = scratch("same");
    let rules = write_rules(&dir);
    let events = write_events(&dir, 2_000, true, None);
    let (expected, _) = scan(&rules, &events);
    // Every rule fires, so that the comparison compares something.
    for i in 0..RULES.len() {
        let name = format!("\"name\":\"rule {i}\"");
        assert!(
            expected.iter().any(|a| a.contains(&name)),
            "rule {i} has no alert"
        );
    }
    for (workers, processes) in [(1, 1), (2, 1), (1, 2), (2, 2)] {
        let run = cluster(&dir, &rules, &events, workers, processes, &[]);
        assert_eq!(run.alerts, expected, "{workers}×{processes}");
        let summary = run.stderr[0].lines().last().unwrap_or_default();
        assert!(
            summary.starts_with("scanned 2000 events")
                && summary.contains(&format!("; {} alerts from", expected.len())),
            "{workers}×{processes}: {summary}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A file in timestamp order keeps the promise of `--in-order` (each worker
/// moves its capability as it reads): the same alerts, released as the
/// workers read on.
#[test]
fn in_order_input_gives_the_same_alerts() {
    let dir = scratch("sorted");
    let rules = write_rules(&dir);
    let events = write_events(&dir, 2_000, false, None);
    let (expected, _) = scan(&rules, &events);
    assert!(!expected.is_empty());
    for (workers, processes) in [(2, 1), (1, 2)] {
        let run = cluster(&dir, &rules, &events, workers, processes, &["--in-order"]);
        assert_eq!(run.alerts, expected, "{workers}×{processes}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_line_on_one_process_is_reported_and_the_other_goes_on() {
    let dir = scratch("bad");
    let rules = write_rules(&dir);
    // Line 1 500 is in the second half of the file: process 1 reads it.
    let events = write_events(&dir, 2_000, true, Some(1_500));
    let (expected, bad) = scan(&rules, &events);
    assert_eq!(bad, [1_500]);
    let run = cluster(&dir, &rules, &events, 1, 2, &[]);
    assert_eq!(run.alerts, expected);
    // Reported once, by process 0 (which gathers), with the file and line.
    let report = format!("{}: line 1500", events.display());
    let reports: Vec<&str> = run.stderr[0]
        .lines()
        .filter(|l| l.starts_with(&report))
        .collect();
    assert_eq!(reports.len(), 1, "{}", run.stderr[0]);
    let summary = run.stderr[0].lines().last().unwrap_or_default();
    assert!(
        summary.starts_with("scanned 1999 events") && summary.ends_with("; 1 bad lines"),
        "{summary}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
