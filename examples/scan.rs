//! Scans NDJSON events with a rule pack and prints alerts.
//!
//! ```text
//! scan [--rules PATH]... [--dialect es|python] [--format ndjson|table] [--strict]
//!      [--order es|stream|arrival] [--reorder-window-ms MS] [EVENTS.ndjson ...|-]
//! ```
//!
//! Without arguments the shipped pack is run over `examples/data/sample-events.ndjson`.
//! Input is streamed line by line through one `Session` per input, so sequence and sample
//! rules alert too (their alert carries every event of the match under `events`, with
//! `{"missing": true}` for a `![...]` step, its `join_keys`, and the last event under
//! `event`); malformed lines are reported on stderr and counted. A file is a bounded
//! input: its sequence and sample rules run over its events sorted by timestamp as
//! Elasticsearch sorts them (`--order es`, alerts at the end of the file); stdin is a
//! stream put in order through a reorder window (`--order stream`). Single-event rules
//! alert as each event is read, in every mode.
//! Alerts go to stdout; progress, errors and the summary go to stderr.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use eql_engine::{
    parse_event_line, CompileOptions, CompiledRule, CompiledRuleSet, Dialect, EventLimits, Match,
    Matches, RuleSet, Session, SessionOptions, Step, StreamOrder,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DialectArg {
    /// Elasticsearch EQL.
    Es,
    /// Python (endgame) EQL.
    Python,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OrderArg {
    /// Bounded input: sequences and samples over the events sorted as
    /// Elasticsearch sorts them (alerts at the end of each input).
    Es,
    /// A stream: events put in order through the reorder window.
    Stream,
    /// As read (the Python engine's order).
    Arrival,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
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
    format: Format,
    /// Fail if any rule fails to load or compile.
    #[arg(long)]
    strict: bool,
    /// Order of the stateful rules. Default: `es` for files, `stream` for
    /// stdin (`arrival` with `--dialect python`).
    #[arg(long, value_enum)]
    order: Option<OrderArg>,
    /// `--order stream`: how far out of timestamp order an event may arrive
    /// and still be put in order (an older one is skipped by the stateful
    /// rules that ran past it, counted as late).
    #[arg(long, value_name = "MS", default_value_t = StreamOrder::DEFAULT_WINDOW_MS)]
    reorder_window_ms: u64,
    /// NDJSON event files; `-` reads stdin. Default: the sample events.
    #[arg(value_name = "EVENTS")]
    inputs: Vec<String>,
}

#[derive(Default)]
struct Stats {
    events: u64,
    bytes: u64,
    bad_lines: u64,
    alerts: u64,
    late: u64,
    out_of_order: u64,
    held_overflow: u64,
    bad_timestamp: u64,
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
    let opts = CompileOptions {
        dialect: match args.dialect {
            DialectArg::Es => Dialect::Elasticsearch,
            DialectArg::Python => Dialect::Python,
        },
        ..CompileOptions::default()
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

    let progress = make_progress(&inputs);
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut stats = Stats::default();
    let mut per_rule = vec![0u64; compiled.len()];
    let start = Instant::now();

    for input in &inputs {
        let reader: Box<dyn BufRead> = if input == "-" {
            Box::new(BufReader::new(io::stdin().lock()))
        } else {
            let file = File::open(input).map_err(|e| format!("{input}: {e}"))?;
            Box::new(BufReader::with_capacity(1 << 16, file))
        };
        let name = if input == "-" { "<stdin>" } else { input };
        let order = match (args.order, args.dialect) {
            (Some(OrderArg::Es), _) => StreamOrder::Bounded,
            (Some(OrderArg::Stream), _) => StreamOrder::Window {
                window_ms: args.reorder_window_ms,
            },
            (Some(OrderArg::Arrival), _) | (None, DialectArg::Python) => StreamOrder::Arrival,
            (None, DialectArg::Es) if input == "-" => StreamOrder::Window {
                window_ms: args.reorder_window_ms,
            },
            (None, DialectArg::Es) => StreamOrder::Bounded,
        };
        scan_stream(
            reader,
            name,
            &compiled,
            args.format,
            &mut out,
            &progress,
            &mut stats,
            &mut per_rule,
            order,
        )
        .map_err(|e| format!("{name}: {e}"))?;
    }
    out.flush().map_err(|e| format!("stdout: {e}"))?;
    drop(out);
    progress.finish_and_clear();

    let secs = start.elapsed().as_secs_f64();
    print_summary(&compiled, &per_rule);
    let rate = if secs > 0.0 {
        stats.events as f64 / secs
    } else {
        0.0
    };
    let fired = per_rule.iter().filter(|&&n| n > 0).count();
    if !errors.is_empty() {
        eprintln!("{} rules failed to compile", errors.len());
    }
    if load_errors > 0 {
        eprintln!("{load_errors} rule files failed to load");
    }
    if stats.out_of_order > 0 {
        eprintln!(
            "{} events arrived out of timestamp order (put in order for sequences and samples)",
            stats.out_of_order
        );
    }
    if stats.late > 0 {
        eprintln!(
            "{} events came later than the reorder window: single-event rules saw them, \
             sequence and sample rules that had run past them skipped them",
            stats.late
        );
    }
    if stats.held_overflow > 0 {
        eprintln!(
            "{} step matches ran before their turn: more were held than SessionLimits::max_held_hits",
            stats.held_overflow
        );
    }
    if stats.bad_timestamp > 0 {
        eprintln!(
            "{} events have a timestamp that does not read; sequence and sample rules skipped them",
            stats.bad_timestamp
        );
    }
    eprintln!(
        "scanned {} events ({} bytes) in {secs:.3} s: {rate:.0} events/s; {} alerts from {fired} rules; {} bad lines",
        stats.events, stats.bytes, stats.alerts, stats.bad_lines
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

/// An event handle: its line and the parsed event, shared (never copied) by
/// the partial sequences that refer to it.
type Handle = (u64, Arc<Value>);

#[allow(clippy::too_many_arguments)]
fn scan_stream(
    mut reader: Box<dyn BufRead>,
    name: &str,
    compiled: &CompiledRuleSet,
    format: Format,
    out: &mut impl Write,
    progress: &ProgressBar,
    stats: &mut Stats,
    per_rule: &mut [u64],
    order: StreamOrder,
) -> io::Result<()> {
    let mut session = Session::<Handle>::new(
        compiled,
        SessionOptions {
            order: Some(order),
            ..SessionOptions::default()
        },
    );
    let mut matches = Matches::new();
    let mut buf = Vec::with_capacity(4096);
    let mut line_no = 0u64;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        line_no += 1;
        stats.bytes += n as u64;
        progress.inc(n as u64);
        let line = buf.trim_ascii();
        if line.is_empty() {
            continue;
        }
        // SessionLimits (line length, nesting) and the error kinds: `eql_engine::input`.
        let event = match parse_event_line(line, &EventLimits::default(), line_no) {
            Ok(v) => Arc::new(v),
            Err(e) => {
                stats.bad_lines += 1;
                progress.suspend(|| eprintln!("{name}: {e}"));
                continue;
            }
        };
        stats.events += 1;
        matches.clear();
        session.push((line_no, Arc::clone(&event)), &*event, &mut matches);
        write_matches(out, format, compiled, &matches, name, stats, per_rule)?;
    }
    matches.clear();
    session.finish(&mut matches);
    let st = session.stats();
    stats.out_of_order += st.out_of_order;
    stats.held_overflow += st.held_overflow;
    stats.bad_timestamp += st.bad_timestamp;
    write_matches(out, format, compiled, &matches, name, stats, per_rule)
}

fn write_matches(
    out: &mut impl Write,
    format: Format,
    compiled: &CompiledRuleSet,
    matches: &Matches<Handle>,
    name: &str,
    stats: &mut Stats,
    per_rule: &mut [u64],
) -> io::Result<()> {
    stats.late += matches.late().len() as u64;
    for m in matches.iter() {
        let (Some(rule), Some((line, event))) = (compiled.rules().get(m.rule), m.events.last())
        else {
            continue;
        };
        if let Some(n) = per_rule.get_mut(m.rule) {
            *n += 1;
        }
        stats.alerts += 1;
        let alert = Alert { rule, event, m };
        write_alert(out, format, &alert, name, *line)?;
    }
    Ok(())
}

/// One result of one rule, ready to print.
struct Alert<'a> {
    rule: &'a CompiledRule,
    /// The last event of the match.
    event: &'a Value,
    m: Match<'a, Handle>,
}

fn to_json(v: &eql_engine::Value<'_>) -> Value {
    match v {
        eql_engine::Value::Null => Value::Null,
        eql_engine::Value::Bool(b) => json!(b),
        eql_engine::Value::Int(i) => json!(i),
        eql_engine::Value::Float(f) => json!(f),
        eql_engine::Value::Str(s) => json!(s),
        eql_engine::Value::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        eql_engine::Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect())
        }
    }
}

fn write_alert(
    out: &mut impl Write,
    format: Format,
    alert: &Alert<'_>,
    input: &str,
    line: u64,
) -> io::Result<()> {
    let (event, events) = (alert.event, alert.m.events);
    let r = &alert.rule.rule;
    match format {
        Format::Ndjson => {
            let threat: Vec<Value> = r
                .threat
                .iter()
                .map(|t| {
                    json!({
                        "framework": t.framework,
                        "tactic": {"id": t.tactic.id, "name": t.tactic.name},
                        "techniques": t.techniques.iter()
                            .map(|x| json!({"id": x.id, "name": x.name}))
                            .collect::<Vec<_>>(),
                    })
                })
                .collect();
            let mut out_alert = json!({
                "rule_id": r.rule_id,
                "name": r.name,
                "severity": r.severity,
                "risk_score": r.risk_score,
                "threat": threat,
                "source": {"file": input, "line": line},
                "event": event,
            });
            if !alert.m.key.is_empty() {
                out_alert["join_keys"] = alert.m.key.iter().map(to_json).collect();
            }
            if events.len() + alert.m.missing.len() > 1 {
                out_alert["events"] = alert
                    .m
                    .steps()
                    .map(|step| match step {
                        Step::Event((l, e)) => {
                            json!({"source": {"file": input, "line": l}, "event": &**e})
                        }
                        Step::Missing => json!({"missing": true}),
                    })
                    .collect();
            }
            serde_json::to_writer(&mut *out, &out_alert)?;
            writeln!(out)
        }
        Format::Table => {
            let get = |p: &str| field(event, p).unwrap_or("-").to_string();
            let lines = if events.len() > 1 {
                events
                    .iter()
                    .map(|(l, _)| l.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            } else {
                line.to_string()
            };
            writeln!(
                out,
                "{:<8} {:<3} {} | {}:{} | {} host={} process={} file={}",
                r.severity.as_deref().unwrap_or("-"),
                r.risk_score
                    .map_or_else(|| "-".to_string(), |s| s.to_string()),
                r.name,
                input,
                lines,
                get("@timestamp"),
                get("host.name"),
                get("process.name"),
                get("file.path"),
            )
        }
    }
}

/// Reads a string field by dotted path, nested or flat (`"host.name"` key).
fn field<'a>(event: &'a Value, path: &str) -> Option<&'a str> {
    if let Some(v) = event.get(path).and_then(Value::as_str) {
        return Some(v);
    }
    let mut cur = event;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    cur.as_str()
}

fn print_summary(compiled: &CompiledRuleSet, per_rule: &[u64]) {
    let width = compiled
        .iter()
        .map(|r| r.rule.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    eprintln!("{:<width$}  {:>8}", "rule", "alerts");
    for (rule, n) in compiled.iter().zip(per_rule) {
        eprintln!("{:<width$}  {n:>8}", rule.rule.name);
    }
}
