//! `scan` end to end (the engine of the `scan` example, `eql_examples::scan`,
//! scanning a file as the tool does: reading it, checking every line, the
//! packs, the sessions, writing alerts to a sink), against baselines measured
//! in the same run:
//!
//! - `serde_json::from_slice::<Value>` of every line of the same file, read
//!   the same way (the DOM-parse baseline);
//! - tau-engine 1.16 end to end on the 300 reference rules (parse each line
//!   into a `Value`, then every rule on every event, as chainsaw does);
//! - `scan --threads 1` for `--threads 2`, beside the DOM-parse baseline on
//!   two threads (each parsing half of the file's bytes) against one: what
//!   two threads give on the machine to a job with nothing shared.
//!
//! - the corpus scan of a file in time order for the same lines laid end
//!   to end three times (its times go back twice, as files of several
//!   days concatenated do): what input out of order costs per event.
//!
//! Baseline and subject alternate for several rounds; the medians of their
//! rates and of the per-round ratios are printed with the ratio's range.
//! Then the peak RSS of the corpus scan over 100k and 1M events (a child
//! process per input, under `/usr/bin/time -v` when present, otherwise its
//! own `VmHWM`).

use eql_bench::{reference_events_path, reference_pack, shared_dir, SEED_RULE};
use eql_engine::{CompileOptions, CompiledRuleSet, Rule, RuleSet};
use eql_examples::scan::{ScanOptions, ScanSummary, Scanner};
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Rounds per comparison.
const ROUNDS: usize = 5;
/// The least time each side runs per round.
const MIN_SECS: f64 = 0.5;

fn compile(set: &RuleSet) -> CompiledRuleSet {
    let (compiled, errors) = set.compile(&CompileOptions::default());
    if !errors.is_empty() {
        eprintln!("bench: {} rules failed to compile", errors.len());
    }
    compiled
}

fn rules_of(queries: impl IntoIterator<Item = (String, String)>) -> RuleSet {
    let mut set = RuleSet::new();
    for (name, query) in queries {
        set.push(Rule {
            name,
            query,
            ..Rule::default()
        });
    }
    set
}

/// One scan of the file `path`, as the `scan` tool scans a file
/// (`Scanner::scan_path`); the number of events.
fn scan(scanner: &Scanner, path: &Path) -> u64 {
    let mut summary = ScanSummary::default();
    let _ = scanner.scan_path(
        path,
        "bench",
        &mut std::io::sink(),
        &mut |_| {},
        &mut summary,
    );
    summary.events
}

/// A file removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The first `lines` lines of `path` in a temporary file, and the same
/// lines `times` times over in another.
fn laid_end_to_end(
    path: &Path,
    lines: usize,
    times: usize,
) -> std::io::Result<(TempFile, TempFile)> {
    let mut head = Vec::new();
    let mut r = BufReader::new(File::open(path)?);
    for _ in 0..lines {
        if r.read_until(b'\n', &mut head)? == 0 {
            break;
        }
    }
    let dir = std::env::temp_dir();
    let pid = std::process::id();
    let once = TempFile(dir.join(format!("eql-bench-{pid}-once.jsonl")));
    std::fs::write(once.path(), &head)?;
    let thrice = TempFile(dir.join(format!("eql-bench-{pid}-laid.jsonl")));
    std::fs::write(thrice.path(), head.repeat(times))?;
    Ok((once, thrice))
}

/// The DOM-parse baseline over the same file, read in 1 MiB buffers.
fn parse_values(path: &Path, limit: usize) -> u64 {
    parse_share(path, limit, (0, u64::MAX))
}

/// [`parse_values`] of the lines that start at bytes `from..to` of the file.
fn parse_share(path: &Path, limit: usize, (from, to): (u64, u64)) -> u64 {
    let Ok(mut file) = File::open(path) else {
        return 0;
    };
    // From the first line that starts at `from` or after it.
    let mut at = from.saturating_sub(1);
    if file.seek(SeekFrom::Start(at)).is_err() {
        return 0;
    }
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::with_capacity(4096);
    if from > 0 {
        at += r.read_until(b'\n', &mut line).unwrap_or(0) as u64;
    }
    let mut n = 0;
    while n < limit as u64 && at < to {
        line.clear();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(len) => at += len as u64,
        }
        if serde_json::from_slice::<serde_json::Value>(&line).is_ok() {
            n += 1;
        }
    }
    n
}

/// The DOM-parse baseline split over `threads` threads, each parsing an
/// equal share of the file's bytes: what this machine gives two threads on
/// a job with nothing shared and nothing to put back in order.
fn parse_values_on(path: &Path, threads: usize) -> u64 {
    let len = std::fs::metadata(path).map_or(0, |m| m.len());
    let threads = threads.max(1) as u64;
    std::thread::scope(|s| {
        let shares: Vec<_> = (0..threads)
            .map(|k| {
                let share = (len * k / threads, len * (k + 1) / threads);
                s.spawn(move || parse_share(path, usize::MAX, share))
            })
            .collect();
        shares.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    })
}

/// tau-engine end to end over the first `limit` lines.
fn tau(rules: &[tau_engine::Rule], path: &Path, limit: usize) -> u64 {
    let Ok(file) = File::open(path) else {
        return 0;
    };
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::with_capacity(4096);
    let (mut n, mut hits) = (0u64, 0usize);
    while n < limit as u64 {
        line.clear();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&line) {
            hits += rules.iter().filter(|r| r.matches(&v)).count();
            n += 1;
        }
    }
    std::hint::black_box(hits);
    n
}

/// Events per second of `f` (which returns its event count), warm: one
/// untimed call, then calls until `MIN_SECS` have passed.
fn rate(f: &mut dyn FnMut() -> u64) -> f64 {
    f();
    let t = Instant::now();
    let mut events = 0u64;
    loop {
        events += f();
        if t.elapsed().as_secs_f64() >= MIN_SECS {
            break;
        }
    }
    events as f64 / t.elapsed().as_secs_f64().max(1e-9)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Alternates `base` and `subject` for [`ROUNDS`] rounds and prints their
/// median rates and the median (min–max) of subject / base.
fn compare(label: &str, base: &mut dyn FnMut() -> u64, subject: &mut dyn FnMut() -> u64) -> f64 {
    let (mut b, mut s, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let base_rate = rate(base);
        let subject_rate = rate(subject);
        b.push(base_rate);
        s.push(subject_rate);
        r.push(subject_rate / base_rate.max(1e-9));
    }
    let (lo, hi) = (
        r.iter().copied().fold(f64::INFINITY, f64::min),
        r.iter().copied().fold(0.0, f64::max),
    );
    let ratio = median(&mut r);
    println!(
        "ratio  {label}: {ratio:.2}x (min {lo:.2}, max {hi:.2}, {ROUNDS} alternating rounds); medians {:.0} vs {:.0} events/s",
        median(&mut s),
        median(&mut b),
    );
    ratio
}

/// Peak RSS in KiB of the corpus scan of `events` in a child process.
fn peak_rss(events: &Path) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let time = Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut c = std::process::Command::new(time);
        c.arg("-v").arg(&exe);
        c
    } else {
        std::process::Command::new(&exe)
    };
    let out = cmd.env("EQL_BENCH_SCAN_CHILD", events).output().ok()?;
    let text = String::from_utf8_lossy(&out.stderr);
    let find = |key: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key)?.trim().parse::<u64>().ok())
    };
    find("Maximum resident set size (kbytes):").or_else(|| find("VmHWM:"))
}

/// The number of lines of `path`.
fn count_lines(path: &Path) -> usize {
    let Ok(file) = File::open(path) else {
        return 0;
    };
    BufReader::with_capacity(1 << 20, file)
        .split(b'\n')
        .filter(|l| l.as_ref().is_ok_and(|l| !l.is_empty()))
        .count()
}

/// The corpus rules; panics when there are none.
fn corpus_rules() -> RuleSet {
    let path = shared_dir().join("corpus/detection-rules-eql.jsonl");
    let (rules, errors) = RuleSet::from_path(&path);
    for e in &errors {
        eprintln!("bench: {e}");
    }
    assert!(
        !rules.is_empty(),
        "bench input {}: no rules; set EQL_SHARED to the shared folder",
        path.display()
    );
    rules
}

/// The child of [`peak_rss`]: one corpus scan on the default threads.
fn child(events: &Path) {
    let rules = corpus_rules();
    let scanner = Scanner::new(compile(&rules), ScanOptions::default());
    let n = scan(&scanner, events);
    eprintln!("child: {n} events");
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(l) = status.lines().find(|l| l.starts_with("VmHWM:")) {
            eprintln!("{}", l.trim_end_matches(" kB"));
        }
    }
}

fn main() {
    if let Some(p) = std::env::var_os("EQL_BENCH_SCAN_CHILD") {
        child(Path::new(&p));
        return;
    }
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let n = std::env::var("EQL_BENCH_N")
        .ok()
        .and_then(|s| s.parse().ok());
    let events = std::env::var_os("EQL_BENCH_EVENTS")
        .map_or_else(|| reference_events_path(n.or(Some(100_000))), PathBuf::from);
    println!("events: {}", events.display());
    let one = |threads| ScanOptions {
        threads,
        ..ScanOptions::default()
    };
    let all = usize::MAX;
    let rule0 = Scanner::new(
        compile(&rules_of([("rule 0".to_owned(), SEED_RULE.to_owned())])),
        one(1),
    );
    compare(
        "scan rule 0 vs from_slice::<Value>",
        &mut || parse_values(&events, all),
        &mut || scan(&rule0, &events),
    );
    let pack = reference_pack(300);
    let texts = |key: &str| -> Vec<(String, String)> {
        pack.iter()
            .filter_map(|r| {
                Some((
                    r.get("id")?.as_str()?.to_owned(),
                    r.get(key)?.as_str()?.to_owned(),
                ))
            })
            .collect()
    };
    let rules300 = compile(&rules_of(texts("eql")));
    let scan300 = Scanner::new(rules300.clone(), one(1));
    compare(
        "scan 300 rules vs from_slice::<Value>",
        &mut || parse_values(&events, all),
        &mut || scan(&scan300, &events),
    );
    let tau_rules: Vec<tau_engine::Rule> = texts("tau")
        .iter()
        .filter_map(|(_, t)| tau_engine::Rule::from_str(t).ok())
        .map(|r| r.optimise(tau_engine::Optimisations::default()))
        .collect();
    if tau_rules.len() == rules300.len() {
        compare(
            "scan 300 rules vs tau-engine 1.16 end to end (parse + every rule; first 5 000 events)",
            &mut || tau(&tau_rules, &events, 5000),
            &mut || scan(&scan300, &events),
        );
    } else {
        eprintln!("bench: {} tau rules loaded; tau skipped", tau_rules.len());
    }
    let scan300x2 = Scanner::new(rules300, one(2));
    compare(
        "scan 300 rules --threads 2 vs --threads 1",
        &mut || scan(&scan300, &events),
        &mut || scan(&scan300x2, &events),
    );
    let (one_thread, two_threads) = (parse_values(&events, all), parse_values_on(&events, 2));
    if one_thread != two_threads {
        eprintln!(
            "bench: the baseline parsed {one_thread} events on one thread, {two_threads} on two"
        );
    }
    compare(
        "from_slice::<Value> on 2 threads vs 1 (the machine's own ceiling for --threads 2)",
        &mut || parse_values(&events, all),
        &mut || parse_values_on(&events, 2),
    );
    let corpus = corpus_rules();
    let corpus = compile(&corpus);
    println!("corpus: {} rules compiled", corpus.len());
    let c1 = Scanner::new(corpus.clone(), one(1));
    let c2 = Scanner::new(corpus, one(2));
    compare(
        "scan corpus vs from_slice::<Value>",
        &mut || parse_values(&events, all),
        &mut || scan(&c1, &events),
    );
    compare(
        "scan corpus --threads 2 vs --threads 1",
        &mut || scan(&c1, &events),
        &mut || scan(&c2, &events),
    );
    match laid_end_to_end(&events, 30_000, 3) {
        Ok((once, thrice)) => {
            compare(
                "scan corpus, 30k lines laid end to end 3 times (out of order) vs once (events/s)",
                &mut || scan(&c1, once.path()),
                &mut || scan(&c1, thrice.path()),
            );
        }
        Err(e) => eprintln!("bench: no out-of-order input: {e}"),
    }
    // The inputs of the memory figure: `EQL_BENCH_RSS_EVENTS` (files
    // separated by `:`), else 100k and 1M generated events.
    let rss_inputs: Vec<PathBuf> = match std::env::var_os("EQL_BENCH_RSS_EVENTS") {
        Some(list) => std::env::split_paths(&list).collect(),
        None => [100_000usize, 1_000_000]
            .into_iter()
            .map(|size| reference_events_path(Some(size)))
            .collect(),
    };
    for path in rss_inputs {
        let lines = count_lines(&path);
        match peak_rss(&path) {
            Some(kb) => println!(
                "rss    corpus scan of {lines} events ({}): peak {:.1} MiB",
                path.display(),
                kb as f64 / 1024.0
            ),
            None => println!("rss    corpus scan of {lines} events: not measured"),
        }
    }
}
