//! Scans NDJSON events with a rule pack and prints alerts.
//!
//! ```text
//! scan [--rules PATH]... [--dialect es|python] [--format ndjson|ecs|table] [--index NAME]
//!      [--strict] [--threads N] [--order es|stream|arrival] [--reorder-window-ms MS]
//!      [--profile] [EVENTS.ndjson ...|-]
//! ```
//!
//! Without arguments the shipped pack is run over `examples/data/sample-events.ndjson`.
//! Input is read in large blocks; single-event rules are evaluated straight from each line's
//! bytes, on `--threads` threads (default: every core); sequence, sample and join rules run in
//! sessions fed, in input order, with the events that match one of their steps (their alert
//! carries every event of the match under `events`, with `{"missing": true}` for a `![...]`
//! step, its `join_keys`, and the last event under `event`). An alert carries its events' lines
//! as they were read. A file is a bounded input: each sequence and sample rule runs over its step
//! events sorted by timestamp as Elasticsearch sorts them (`--order es`: the file's timestamps are
//! read ahead, so a rule holds only what may still be preceded and gives its alerts as soon as no
//! later line can change them); stdin is a stream put in order through a reorder window (`--order stream`). Alerts
//! come in input order, then rule order, the same for every thread count. `--format ecs` writes
//! Elastic Security alert documents instead (a sequence: one building-block alert per event,
//! then the shell). A rule runs only on the events of the indices its `index` patterns match:
//! an event's index is its `_index` or `data_stream.*`, else `--index NAME`, else none (every
//! rule applies). Malformed lines are reported on stderr with their line number and error
//! kind, counted, and skipped. The engine is `eql_examples::scan`. Alerts go to stdout;
//! progress, errors and the summary go to stderr.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use eql_engine::{CompileOptions, StreamOrder};
use eql_examples::cli::DialectArg;
use eql_examples::scan::{Format, Report, ScanOptions, ScanSummary, Scanner};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OrderArg {
    /// Bounded input: sequences and samples over their step events sorted
    /// as Elasticsearch sorts them (from a file, its timestamps read ahead:
    /// alerts as soon as no later line can change them; from stdin, at the
    /// end).
    Es,
    /// A stream: step events put in order through the reorder window.
    Stream,
    /// As read (the Python engine's order).
    Arrival,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    /// One JSON alert per match: the rule, the events' lines as they were
    /// read with their file and line, the join keys.
    Ndjson,
    /// Elastic Security alert documents (as Kibana indexes them): one per
    /// single-event match; a shell alert plus one building-block alert per
    /// event for a sequence, sample or join.
    Ecs,
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
    /// The index (or data stream) the input's events come from: a rule
    /// runs only on events of indices its `index` patterns match (a rule
    /// with none runs on all). An event's own `_index`, or its
    /// `data_stream.{type,dataset,namespace}`, names its index instead.
    /// Default: events that name no index see every rule.
    #[arg(long, value_name = "NAME")]
    index: Option<String>,
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
    /// Go on from the state FILE holds, when it exists, and save the state
    /// there at the end (written to FILE.tmp, then renamed): the stateful
    /// rules' partial sequences, samples and held hits, so that a sequence
    /// spanning this run's input and the next run's is found. Alerts that
    /// wait for the end of the stream come in the run with `--close`.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// With `--state`: the stream ends with this run's last input (the
    /// alerts waiting for its end are written, and the saved state is empty).
    #[arg(long, requires = "state")]
    close: bool,
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

fn run(args: &Args) -> Result<ExitCode, String> {
    let (rules, load_errors) = eql_examples::cli::load_rules(&args.rules, args.strict)?;
    let mut opts = CompileOptions::default();
    opts.dialect = args.dialect.dialect();
    let (compiled, compile_errors) =
        match eql_examples::cli::compile_rules(&rules, &opts, args.strict) {
            Ok(c) => c,
            Err(code) => return Ok(code),
        };

    let inputs = eql_examples::cli::inputs_or_sample(&args.inputs);

    let mut scanner = Scanner::new(compiled, scan_options(args));
    if let Some(route) = scanner.input_route() {
        eprintln!("{route}");
    }
    if let Some(path) = &args.state {
        let order = inputs.first().map(|i| order_of(args, i));
        load_state(&mut scanner, path, order)?;
    }
    let progress = make_progress(&inputs);
    let mut summary = ScanSummary::default();
    let start = Instant::now();
    scan_inputs(args, &mut scanner, &inputs, &progress, &mut summary)?;
    if let Some(path) = &args.state {
        save_state(&scanner, path)?;
    }
    progress.finish_and_clear();

    let secs = start.elapsed().as_secs_f64();
    print_summary(&scanner, &summary, secs, compile_errors, load_errors);
    // The process ends here, and the system takes its memory back at once:
    // freeing the compiled rules one allocation at a time would take about
    // a tenth of the start-up time again with the corpus.
    std::mem::forget(scanner);
    std::mem::forget(rules);
    Ok(ExitCode::SUCCESS)
}

/// The scanner's options from the command line.
fn scan_options(args: &Args) -> ScanOptions {
    let defaults = ScanOptions::default();
    ScanOptions {
        format: match args.format {
            FormatArg::Ndjson => Format::Ndjson,
            FormatArg::Ecs => Format::Ecs,
            FormatArg::Table => Format::Table,
        },
        index: args.index.clone(),
        threads: args.threads.unwrap_or(defaults.threads).max(1),
        profile_every: if args.profile { 64 } else { 0 },
        ..defaults
    }
}

/// The order of the stateful rules over `input` (`-`: stdin).
fn order_of(args: &Args, input: &str) -> StreamOrder {
    match (args.order, args.dialect) {
        (Some(OrderArg::Es), _) => StreamOrder::Bounded,
        (Some(OrderArg::Stream), _) => StreamOrder::Window {
            window_ms: args.reorder_window_ms,
        },
        (Some(OrderArg::Arrival), _) | (None, DialectArg::Python) => StreamOrder::Arrival,
        (None, DialectArg::Es) if input == "-" => StreamOrder::Window {
            window_ms: args.reorder_window_ms,
        },
        (None, DialectArg::Es) => StreamOrder::Bounded,
    }
}

/// Goes on from the state `path` holds, when it exists (`order`: that of
/// the first input).
fn load_state(
    scanner: &mut Scanner,
    path: &Path,
    order: Option<StreamOrder>,
) -> Result<(), String> {
    scanner.set_order(order);
    match std::fs::read(path) {
        Ok(bytes) => {
            let n = scanner
                .load_state(&bytes)
                .map_err(|e| format!("state {}: {e}", path.display()))?;
            eprintln!("state {}: {n} rules go on", path.display());
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("state {}: {e}", path.display())),
    }
    Ok(())
}

/// Scans every input in turn, the alerts to stdout.
fn scan_inputs(
    args: &Args,
    scanner: &mut Scanner,
    inputs: &[String],
    progress: &ProgressBar,
    summary: &mut ScanSummary,
) -> Result<(), String> {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    for (i, input) in inputs.iter().enumerate() {
        scanner.set_keep_open(args.state.is_some() && !(args.close && i + 1 == inputs.len()));
        let name = if input == "-" { "<stdin>" } else { input };
        scanner.set_order(Some(order_of(args, input)));
        let mut report = |r: Report<'_>| match r {
            Report::BadLine(e) => progress.suspend(|| eprintln!("{name}: {e}")),
            Report::Progress(n) => progress.inc(n),
        };
        if input == "-" {
            scanner.scan(io::stdin(), name, &mut out, &mut report, summary)
        } else {
            // A file is read again for the lines of the stateful rules' alerts.
            scanner.scan_path(Path::new(input), name, &mut out, &mut report, summary)
        }
        .map_err(|e| format!("{name}: {e}"))?;
    }
    out.flush().map_err(|e| format!("stdout: {e}"))
}

/// Saves the state to `path` (written to `path.tmp`, then renamed).
fn save_state(scanner: &Scanner, path: &Path) -> Result<(), String> {
    let bytes = scanner.save_state()?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, &bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("state {}: {e}", path.display()))
}

/// The summary on stderr: the rule table, the routes, the profile, the
/// ordering notes and the totals.
fn print_summary(
    scanner: &Scanner,
    summary: &ScanSummary,
    secs: f64,
    compile_errors: usize,
    load_errors: usize,
) {
    eql_examples::cli::print_rule_table(scanner.compiled(), &summary.per_rule);
    print_routes(scanner);
    if let Some(p) = &summary.profile {
        let mut err = BufWriter::new(io::stderr().lock());
        let _ = p.write(scanner, 20, &mut err);
        let _ = err.flush();
    }
    let rate = if secs > 0.0 {
        summary.events as f64 / secs
    } else {
        0.0
    };
    let fired = summary.per_rule.iter().filter(|&&n| n > 0).count();
    if compile_errors > 0 {
        eprintln!("{compile_errors} rules failed to compile");
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
    eql_examples::cli::print_order_notes(order.held_overflow, order.bad_timestamp);
    eprintln!(
        "scanned {} events ({} bytes) in {secs:.3} s: {rate:.0} events/s; {} to the sessions; {} alerts from {fired} rules; {} bad lines",
        summary.events, summary.bytes, summary.step_events, summary.alerts, summary.bad_lines
    );
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

/// The indices events named for themselves, with the rules that apply.
fn print_routes(scanner: &Scanner) {
    const SHOWN: usize = 20;
    let routes = scanner.event_routes();
    let mut err = BufWriter::new(io::stderr().lock());
    for route in routes.iter().take(SHOWN) {
        let _ = writeln!(err, "events named {route}");
    }
    if routes.len() > SHOWN {
        let _ = writeln!(err, "events named {} more indices", routes.len() - SHOWN);
    }
    let _ = err.flush();
}
