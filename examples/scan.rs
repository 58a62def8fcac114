//! Scans NDJSON events with a rule pack and prints alerts.
//!
//! ```text
//! scan [--rules PATH]... [--dialect es|python] [--format ndjson|table] [--strict]
//!      [--threads N] [--order es|stream|arrival] [--reorder-window-ms MS] [--profile]
//!      [EVENTS.ndjson ...|-]
//! ```
//!
//! Without arguments the shipped pack is run over `examples/data/sample-events.ndjson`.
//! Input is read in large blocks; single-event rules are evaluated straight from each line's
//! bytes, on `--threads` threads (default: every core); sequence, sample and join rules run in
//! sessions fed, in input order, with the events that match one of their steps (their alert
//! carries every event of the match under `events`, with `{"missing": true}` for a `![...]`
//! step, its `join_keys`, and the last event under `event`). An alert carries its events' lines
//! as they were read. A file is a bounded input: each sequence and sample rule runs over its step
//! events sorted by timestamp as Elasticsearch sorts them (`--order es`, alerts at the end of the
//! file); stdin is a stream put in order through a reorder window (`--order stream`). Alerts
//! come in input order, then rule order, the same for every thread count. Malformed lines are reported on stderr
//! with their line number and error kind, counted, and skipped. The engine is
//! `eql_examples::scan`. Alerts go to stdout; progress, errors and the summary go to stderr.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use eql_engine::{CompileOptions, Dialect, RuleSet, StreamOrder};
use eql_examples::scan::{Format, Report, ScanOptions, ScanSummary, Scanner};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DialectArg {
    /// Elasticsearch EQL.
    Es,
    /// Python (endgame) EQL.
    Python,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OrderArg {
    /// Bounded input: sequences and samples over their step events sorted
    /// as Elasticsearch sorts them (alerts at the end of each input).
    Es,
    /// A stream: step events put in order through the reorder window.
    Stream,
    /// As read (the Python engine's order).
    Arrival,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    /// One JSON alert per line.
    Ndjson,
    /// One human-readable line per alert.
    Table,
}

/// Scan NDJSON events with EQL rules.
#[derive(Debug, Parser)]
#[command(name = "scan")]
struct Args {
    /// Rule file or folder (.toml, .eql, .jsonl); repeatable. Default: the shipped pack.
    #[arg(long = "rules", value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Query dialect.
    #[arg(long, value_enum, default_value = "es")]
    dialect: DialectArg,
    /// Alert output format.
    #[arg(long, value_enum, default_value = "ndjson")]
    format: FormatArg,
    /// Fail if any rule fails to load or compile.
    #[arg(long)]
    strict: bool,
    /// Worker threads. Default: the available cores.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Order of the stateful rules. Default: `es` for files, `stream` for
    /// stdin (`arrival` with `--dialect python`).
    #[arg(long, value_enum)]
    order: Option<OrderArg>,
    /// `--order stream`: how far out of timestamp order an event may arrive
    /// and still be put in order (an older one is skipped by the stateful
    /// rules that ran past it, counted as late).
    #[arg(long, value_name = "MS", default_value_t = StreamOrder::DEFAULT_WINDOW_MS)]
    reorder_window_ms: u64,
    /// Print the rules that cost the most time (sampled: one event in 64 is timed).
    #[arg(long)]
    profile: bool,
    /// NDJSON event files; `-` reads stdin. Default: the sample events.
    #[arg(value_name = "EVENTS")]
    inputs: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn load_rules(args: &Args) -> Result<(RuleSet, usize), String> {
    if args.rules.is_empty() {
        return Ok((RuleSet::builtin(), 0));
    }
    let mut set = RuleSet::new();
    let mut errors = 0;
    for path in &args.rules {
        let (more, failed) = RuleSet::from_path(path);
        set.extend(more);
        for e in &failed {
            eprintln!("error: {e}");
        }
        errors += failed.len();
        if args.strict && !failed.is_empty() {
            return Err(format!("cannot load rules from {}", path.display()));
        }
    }
    Ok((set, errors))
}

fn run(args: &Args) -> Result<ExitCode, String> {
    let (rules, load_errors) = load_rules(args)?;
    let mut opts = CompileOptions::default();
    opts.dialect = match args.dialect {
        DialectArg::Es => Dialect::Elasticsearch,
        DialectArg::Python => Dialect::Python,
    };
    let (compiled, errors) = rules.compile(&opts);
    for e in &errors {
        eprintln!("error: {e}");
    }
    if !errors.is_empty() {
        eprintln!(
            "{} of {} rules failed to compile",
            errors.len(),
            rules.len()
        );
        if args.strict {
            return Ok(ExitCode::from(1));
        }
    }

    let inputs: Vec<String> = if args.inputs.is_empty() {
        vec![Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data/sample-events.ndjson")
            .to_string_lossy()
            .into_owned()]
    } else {
        args.inputs.clone()
    };

    let defaults = ScanOptions::default();
    let mut scanner = Scanner::new(
        compiled,
        ScanOptions {
            format: match args.format {
                FormatArg::Ndjson => Format::Ndjson,
                FormatArg::Table => Format::Table,
            },
            threads: args.threads.unwrap_or(defaults.threads).max(1),
            profile_every: if args.profile { 64 } else { 0 },
            ..defaults
        },
    );
    let progress = make_progress(&inputs);
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut summary = ScanSummary::default();
    let start = Instant::now();

    for input in &inputs {
        let name = if input == "-" { "<stdin>" } else { input };
        let window = StreamOrder::Window {
            window_ms: args.reorder_window_ms,
        };
        scanner.set_order(Some(match (args.order, args.dialect) {
            (Some(OrderArg::Es), _) => StreamOrder::Bounded,
            (Some(OrderArg::Stream), _) => window,
            (Some(OrderArg::Arrival), _) | (None, DialectArg::Python) => StreamOrder::Arrival,
            (None, DialectArg::Es) if input == "-" => window,
            (None, DialectArg::Es) => StreamOrder::Bounded,
        }));
        let mut report = |r: Report<'_>| match r {
            Report::BadLine(e) => progress.suspend(|| eprintln!("{name}: {e}")),
            Report::Progress(n) => progress.inc(n),
        };
        if input == "-" {
            scanner.scan(io::stdin(), name, &mut out, &mut report, &mut summary)
        } else {
            // A file is read again for the lines of the stateful rules' alerts.
            scanner.scan_path(Path::new(input), name, &mut out, &mut report, &mut summary)
        }
        .map_err(|e| format!("{name}: {e}"))?;
    }
    out.flush().map_err(|e| format!("stdout: {e}"))?;
    drop(out);
    progress.finish_and_clear();

    let secs = start.elapsed().as_secs_f64();
    print_summary(&scanner, &summary.per_rule);
    if let Some(p) = &summary.profile {
        let mut err = BufWriter::new(io::stderr().lock());
        let _ = p.write(&scanner, 20, &mut err);
        let _ = err.flush();
    }
    let rate = if secs > 0.0 {
        summary.events as f64 / secs
    } else {
        0.0
    };
    let fired = summary.per_rule.iter().filter(|&&n| n > 0).count();
    if !errors.is_empty() {
        eprintln!("{} rules failed to compile", errors.len());
    }
    if load_errors > 0 {
        eprintln!("{load_errors} rule files failed to load");
    }
    // Counted per stateful rule: each rule's session sees its own step events.
    let order = &summary.order;
    if order.out_of_order > 0 {
        eprintln!(
            "{} step events (counted per stateful rule) arrived out of timestamp order \
             (put in order for sequences and samples)",
            order.out_of_order
        );
    }
    if order.late > 0 {
        eprintln!(
            "{} step events (counted per stateful rule) came later than the reorder window: \
             the sequence and sample rules that had run past them skipped them",
            order.late
        );
    }
    if order.held_overflow > 0 {
        eprintln!(
            "{} step matches ran before their turn: a rule held more than SessionLimits::max_held_hits",
            order.held_overflow
        );
    }
    if order.bad_timestamp > 0 {
        eprintln!(
            "{} step events (counted per stateful rule) have a timestamp that does not read; \
             sequence and sample rules skipped them",
            order.bad_timestamp
        );
    }
    eprintln!(
        "scanned {} events ({} bytes) in {secs:.3} s: {rate:.0} events/s; {} alerts from {fired} rules; {} bad lines",
        summary.events, summary.bytes, summary.alerts, summary.bad_lines
    );
    Ok(ExitCode::SUCCESS)
}

fn make_progress(inputs: &[String]) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let total: Option<u64> = inputs
        .iter()
        .map(|i| {
            if i == "-" {
                None
            } else {
                std::fs::metadata(i).ok().map(|m| m.len())
            }
        })
        .sum();
    if let Some(len) = total {
        let pb = ProgressBar::new(len);
        if let Ok(style) = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        ) {
            pb.set_style(style);
        }
        pb
    } else {
        let pb = ProgressBar::new_spinner();
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bytes} ({bytes_per_sec})")
        {
            pb.set_style(style);
        }
        pb
    }
}

fn print_summary(scanner: &Scanner, per_rule: &[u64]) {
    let compiled = scanner.compiled();
    let width = compiled
        .iter()
        .map(|r| r.rule.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    // One write for the whole table (stderr is unbuffered).
    let mut err = BufWriter::new(io::stderr().lock());
    let _ = writeln!(err, "{:<width$}  {:>8}", "rule", "alerts");
    for (rule, n) in compiled.iter().zip(per_rule) {
        let _ = writeln!(err, "{:<width$}  {n:>8}", rule.rule.name);
    }
    let _ = err.flush();
}
