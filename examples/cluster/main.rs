//! The `scan` job on timely dataflow: W worker threads in each of P
//! processes (on one machine or many), with the alerts and the summary line
//! of `scan`.
//!
//! ```text
//! cluster [--rules PATH]... [--dialect es|python] [--format ndjson|table] [--strict]
//!         [--order es|arrival] [--epoch-ms MS] [--in-order] [--output FILE]
//!         [-w WORKERS] [-n PROCESSES] [-p PROCESS] [-h HOSTFILE]
//!         [EVENTS.ndjson ...]
//! ```
//!
//! `-w`, `-n`, `-p` and `-h` are timely's: worker threads per process, the
//! number of processes, this process's index, and a file whose lines are the
//! processes' `host:port` addresses (default `localhost:2101`, `:2102`, …).
//! Every process is started with the same arguments but `-p`.
//!
//! Each input file is split into one byte range per worker (every worker of
//! every process), cut at line ends; a worker reads its range (so every
//! process needs the files at the same paths) and feeds its lines to the
//! [`eql_dataflow::rule_pack`] operator, which evaluates the single-event
//! rules where the line is and sends each step event of a sequence, sample
//! or join to the worker that owns its join key; each file is one bounded
//! input, as each file is for `scan`. Alerts are formatted where they are
//! found (with `scan`'s formatter) and gathered on worker 0 of process 0,
//! which writes them sorted by (line of the alert's last event, rule,
//! text), so that outputs compare; bad lines are reported there with their
//! file and line. The rules table and the summary line (the last line on
//! stderr) are `scan`'s.
//!
//! Ordering: a file promises nothing about the order of its lines, so each
//! worker holds its step events until every worker has read its range, then
//! runs them in Elasticsearch's order as the frontier passes their epochs.
//! With `--in-order` each worker promises that its range is in timestamp
//! order: it moves its capability to the epoch of the last event it has
//! read, step events run as soon as every worker is past their epoch, and an
//! event that breaks the promise is late (counted, skipped by the rules that
//! ran past it).
//!
//! Timely's connection set-up writes progress messages (`awaiting
//! connections …`) on stdout in multi-process runs: use `--output` there.

mod read;

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use clap::{ArgAction, Parser, ValueEnum};
use eql_dataflow::{rule_pack, Line, Options, Output, Rules, Totals};
use eql_engine::{CompileOptions, CompiledRuleSet, StreamOrder};
use eql_examples::cli::DialectArg;
use eql_examples::scan::{Format, Formatter, ScanOptions};
use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::core::{Input, UnorderedInput};
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::{Concat, Probe};
use timely::dataflow::{ProbeHandle, Stream};
use timely::{CommunicationConfig, Config, WorkerConfig};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OrderArg {
    /// Sequences and samples over their step events in Elasticsearch's
    /// order (by timestamp, then line).
    Es,
    /// Step events by line (the Python engine's order).
    Arrival,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    /// One JSON alert per line.
    Ndjson,
    /// One human-readable line per alert.
    Table,
}

/// Scan NDJSON events with EQL rules on timely dataflow workers.
#[derive(Debug, Parser)]
#[command(name = "cluster", disable_help_flag = true)]
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
    /// Order of the stateful rules. Default: `es` (`arrival` with `--dialect python`).
    #[arg(long, value_enum)]
    order: Option<OrderArg>,
    /// Width of the epochs (timely times) of event time, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = Options::default().epoch_ms)]
    epoch_ms: u64,
    /// Each worker's share of an input is in timestamp order: step events
    /// run as the workers read on, not at the end of the input.
    #[arg(long)]
    in_order: bool,
    /// Write the alerts to this file (default: stdout).
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Worker threads per process.
    #[arg(short = 'w', long = "workers", default_value_t = 1)]
    workers: usize,
    /// Number of processes.
    #[arg(short = 'n', long = "processes", default_value_t = 1)]
    processes: usize,
    /// This process's index (0 ..= n - 1).
    #[arg(short = 'p', long = "process", default_value_t = 0)]
    process: usize,
    /// File whose lines are the processes' addresses (host:port).
    #[arg(short = 'h', long = "hostfile", value_name = "FILE")]
    hostfile: Option<PathBuf>,
    /// Print help.
    #[arg(long = "help", action = ArgAction::Help)]
    help: Option<bool>,
    /// NDJSON event files. Default: the sample events.
    #[arg(value_name = "EVENTS")]
    inputs: Vec<String>,
}

/// What a worker sends to worker 0.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Gather {
    /// A formatted alert: the line of its last event, its rule, its text.
    Alert { at: u64, rule: u32, text: Vec<u8> },
    /// A bad line, reported.
    Bad { line: u64, message: String },
    /// Bytes of input a worker read.
    Read { bytes: u64 },
    /// A worker could not read its share.
    Failed { message: String },
    /// The operator's counts of one stage of a worker.
    Totals { worker: u32, totals: Totals },
}

impl Gather {
    /// Worker 0's order: alerts by (line of the last event, rule, text),
    /// then bad lines by line, then failures, then the counts.
    fn order(&self) -> (u8, u64, u32, &[u8]) {
        match self {
            Gather::Alert { at, rule, text } => (0, *at, *rule, text),
            Gather::Bad { line, message } => (1, *line, 0, message.as_bytes()),
            Gather::Failed { message } => (2, 0, 0, message.as_bytes()),
            Gather::Read { .. } | Gather::Totals { .. } => (3, 0, 0, &[]),
        }
    }
}

/// What worker 0 reports at the end.
#[derive(Debug, Default)]
struct Report {
    secs: f64,
    bytes: u64,
    bad_lines: u64,
    alerts: u64,
    per_rule: Vec<u64>,
    /// Step events each worker's sessions received.
    received: Vec<u64>,
    totals: Totals,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn timely_config(args: &Args) -> Result<Config, String> {
    let threads = args.workers.max(1);
    let communication = if args.processes > 1 {
        if args.process >= args.processes {
            return Err(format!(
                "-p {} is not below -n {}",
                args.process, args.processes
            ));
        }
        let addresses: Vec<String> = match &args.hostfile {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let lines: Vec<String> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .take(args.processes)
                    .collect();
                if lines.len() < args.processes {
                    return Err(format!(
                        "{}: {} addresses for -n {}",
                        path.display(),
                        lines.len(),
                        args.processes
                    ));
                }
                lines
            }
            None => (0..args.processes)
                .map(|i| format!("localhost:{}", 2101 + i))
                .collect(),
        };
        CommunicationConfig::Cluster {
            threads,
            process: args.process,
            addresses,
            report: false,
            zerocopy: false,
        }
    } else if threads > 1 {
        CommunicationConfig::Process(threads)
    } else {
        CommunicationConfig::Thread
    };
    Ok(Config {
        communication,
        worker: WorkerConfig::default(),
    })
}

fn run(args: Args) -> Result<ExitCode, String> {
    let (rules, load_errors) = eql_examples::cli::load_rules(&args.rules, args.strict)?;
    let mut opts = CompileOptions::default();
    opts.dialect = args.dialect.dialect();
    let (compiled, compile_errors) =
        match eql_examples::cli::compile_rules(&rules, &opts, args.strict) {
            Ok(c) => c,
            Err(code) => return Ok(code),
        };
    let inputs = eql_examples::cli::inputs_or_sample(&args.inputs);
    if inputs.iter().any(|i| i == "-") {
        return Err("cluster reads files (each worker reads a byte range), not stdin".into());
    }
    let config = timely_config(&args)?;
    let output = match &args.output {
        Some(p) if args.process == 0 => {
            Some(File::create(p).map_err(|e| format!("{}: {e}", p.display()))?)
        }
        _ => None,
    };
    let workers = args.workers.max(1) * args.processes.max(1);
    let plan = Arc::new(Rules::new(
        compiled.iter().map(|r| r.engine.clone()),
        workers,
        &dataflow_options(&args),
    ));
    let job = Arc::new(Job {
        compiled,
        rules: plan,
        inputs,
        format: match args.format {
            FormatArg::Ndjson => Format::Ndjson,
            FormatArg::Table => Format::Table,
        },
        in_order: args.in_order,
        output: Mutex::new(output),
    });
    let guards = timely::execute(config, {
        let job = Arc::clone(&job);
        move |worker| job.work(worker)
    })?;
    let mut report = None;
    for r in guards.join() {
        match r {
            Ok(Ok(Some(r))) => report = Some(r),
            Ok(Ok(None)) => {}
            Ok(Err(e)) | Err(e) => return Err(e),
        }
    }
    // Only process 0 (worker 0) reports.
    let Some(report) = report else {
        return Ok(ExitCode::SUCCESS);
    };
    print_report(
        &job.compiled,
        &report,
        workers,
        args.processes.max(1),
        compile_errors,
        load_errors,
    );
    Ok(ExitCode::SUCCESS)
}

/// The operator's options of the arguments.
fn dataflow_options(args: &Args) -> Options {
    let mut dopts = Options::default();
    dopts.order = args.order.map(|o| match o {
        OrderArg::Es => StreamOrder::Bounded,
        OrderArg::Arrival => StreamOrder::Arrival,
    });
    dopts.epoch_ms = args.epoch_ms;
    dopts
}

/// Process 0's report on stderr: `scan`'s rules table and notes, the
/// routing counts of the `workers` in `processes`, and `scan`'s summary
/// line.
fn print_report(
    compiled: &CompiledRuleSet,
    report: &Report,
    workers: usize,
    processes: usize,
    compile_errors: usize,
    load_errors: usize,
) {
    eql_examples::cli::print_rule_table(compiled, &report.per_rule);
    let t = &report.totals;
    if t.late > 0 {
        eprintln!(
            "{} step events (counted per stateful rule) came after their input's promise: \
             the sequence and sample rules that had run past them skipped them",
            t.late
        );
    }
    eql_examples::cli::print_order_notes(t.held_overflow, t.bad_timestamp);
    if compile_errors > 0 {
        eprintln!("{compile_errors} rules failed to compile");
    }
    if load_errors > 0 {
        eprintln!("{load_errors} rule files failed to load");
    }
    let rate = if report.secs > 0.0 {
        t.events as f64 / report.secs
    } else {
        0.0
    };
    let fired = report.per_rule.iter().filter(|&&n| n > 0).count();
    eprintln!(
        "{} workers in {} processes: {} step events routed ({} per worker), at most {} held by one worker",
        workers,
        processes,
        t.routed,
        report
            .received
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(" "),
        t.peak_held
    );
    // `scan`'s summary line.
    eprintln!(
        "scanned {} events ({} bytes) in {:.3} s: {rate:.0} events/s; {} alerts from {fired} rules; {} bad lines",
        t.events, report.bytes, report.secs, report.alerts, report.bad_lines
    );
}

/// What every worker runs.
struct Job {
    compiled: CompiledRuleSet,
    rules: Arc<Rules>,
    inputs: Vec<String>,
    format: Format,
    in_order: bool,
    /// `--output`, opened before the workers start (for worker 0 of process 0).
    output: Mutex<Option<File>>,
}

impl Job {
    /// One worker's run: every input in turn, each in a dataflow of its
    /// own. Worker 0 returns the report.
    fn work(&self, worker: &mut timely::worker::Worker) -> Result<Option<Report>, String> {
        let start = Instant::now();
        let index = worker.index();
        let mut out: Option<Box<dyn Write>> = if index == 0 {
            let file = self.output.lock().ok().and_then(|mut f| f.take());
            Some(match file {
                Some(f) => Box::new(BufWriter::new(f)),
                None => Box::new(BufWriter::with_capacity(1 << 16, io::stdout())),
            })
        } else {
            None
        };
        let mut report = Report {
            per_rule: vec![0; self.compiled.len()],
            received: vec![0; worker.peers()],
            ..Report::default()
        };
        let mut failure = None;
        for name in &self.inputs {
            let gathered = Rc::new(RefCell::new(Vec::new()));
            if let Err(e) = self.file(worker, name, &gathered) {
                // Keep going: the other workers wait for this one's input
                // to end, which it has; report the failure at the end.
                failure.get_or_insert(e);
            }
            if index != 0 {
                continue;
            }
            let mut gathered = gathered.take();
            gathered.sort_by(|a, b| a.order().cmp(&b.order()));
            for g in gathered {
                match g {
                    Gather::Alert { rule, text, .. } => {
                        // A write that fails stops the writing, not the run:
                        // the other workers build the next input's dataflow.
                        if let Some(w) = out.as_mut() {
                            if let Err(e) = w.write_all(&text) {
                                failure.get_or_insert(format!("writing alerts: {e}"));
                                out = None;
                            }
                        }
                        report.alerts += 1;
                        if let Some(n) = report.per_rule.get_mut(rule as usize) {
                            *n += 1;
                        }
                    }
                    Gather::Bad { message, .. } => {
                        report.bad_lines += 1;
                        eprintln!("{message}");
                    }
                    Gather::Failed { message } => eprintln!("error: {message}"),
                    Gather::Read { bytes } => report.bytes += bytes,
                    Gather::Totals { worker, totals } => {
                        report.totals.add(&totals);
                        if let Some(n) = report.received.get_mut(worker as usize) {
                            *n += totals.received;
                        }
                    }
                }
            }
        }
        if let Some(out) = out.as_mut() {
            out.flush().map_err(|e| format!("writing alerts: {e}"))?;
        }
        if let Some(e) = failure {
            return Err(e);
        }
        report.secs = start.elapsed().as_secs_f64();
        Ok((index == 0).then_some(report))
    }

    /// Runs one input file; worker 0's `gathered` receives every worker's
    /// alerts, bad lines and counts.
    fn file(
        &self,
        worker: &mut timely::worker::Worker,
        name: &str,
        gathered: &Rc<RefCell<Vec<Gather>>>,
    ) -> Result<(), String> {
        let (index, peers) = (worker.index(), worker.peers());
        let probe = ProbeHandle::new();
        let fmt = Formatter::new(
            &ScanOptions {
                format: self.format,
                ..ScanOptions::default()
            },
            &self.compiled,
            name,
        );
        let rules = Arc::clone(&self.rules);
        let sink = Rc::clone(gathered);
        let file = name.to_owned();
        let ((mut lines_in, cap), mut side) = worker.dataflow::<u64, _, _>(|scope| {
            let ((lines_in, cap), lines) =
                scope.new_unordered_input::<CapacityContainerBuilder<Vec<Line<u64>>>>();
            let (side, extra) = scope.new_input::<Vec<Gather>>();
            let found = rule_pack(lines, &rules);
            let formatted = format_found(found, fmt, file, index as u32);
            gather_first(formatted.concat(extra), sink, &probe);
            ((lines_in, cap), side)
        });
        let mut cap = cap;
        let result = self.read_share(name, index, peers, |batch, too_long, last_epoch| {
            lines_in
                .activate()
                .session(&cap)
                .give_iterator(batch.drain(..));
            if let Some(e) = last_epoch.filter(|e| e > cap.time()) {
                cap.downgrade(&e);
            }
            for g in too_long.drain(..) {
                side.send(g);
            }
            worker.step();
        });
        match &result {
            Ok(bytes) => side.send(Gather::Read { bytes: *bytes }),
            Err(e) => side.send(Gather::Failed {
                message: format!("worker {index}: {e}"),
            }),
        }
        drop(side);
        drop(cap);
        // Park when there is nothing to do (a worker that has read its
        // share waits for the others without spinning).
        while !probe.done() {
            worker.step_or_park(None);
        }
        result.map(|_| ())
    }
}

/// The operator's outputs on worker `worker`, formatted where they are
/// found.
fn format_found(
    found: Stream<'_, u64, Vec<Output<u64>>>,
    fmt: Formatter,
    file: String,
    worker: u32,
) -> Stream<'_, u64, Vec<Gather>> {
    found.unary::<CapacityContainerBuilder<Vec<Gather>>, _, _, _>(
        Pipeline,
        "Format",
        move |_, _| {
            move |input, output| {
                input.for_each_stamp(|cap, data| {
                    let mut s = output.session(&cap);
                    for c in data {
                        for o in c.drain(..) {
                            if let Some(g) = gather(&fmt, &file, worker, o) {
                                s.give(g);
                            }
                        }
                    }
                });
            }
        },
    )
}

/// Sends every worker's `gathers` to worker 0, into its `sink`.
fn gather_first(
    gathers: Stream<'_, u64, Vec<Gather>>,
    sink: Rc<RefCell<Vec<Gather>>>,
    probe: &ProbeHandle<u64>,
) {
    gathers
        .unary::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
            Exchange::new(|_: &Gather| 0),
            "Gather",
            move |_, _| {
                move |input, _output| {
                    input.for_each(|_, data| {
                        sink.borrow_mut().append(data);
                    });
                }
            },
        )
        .probe_with(probe);
}

/// What worker 0 needs of one output of the operator.
fn gather(fmt: &Formatter, file: &str, worker: u32, o: Output<u64>) -> Option<Gather> {
    match o {
        Output::Found(f) => {
            let events: Vec<Option<eql_examples::scan::EventLine<'_>>> = f
                .events
                .iter()
                .map(|e| e.as_ref().map(|l| (None, l.handle, &l.bytes[..])))
                .collect();
            let at = events.iter().rev().find_map(|e| e.map(|(_, l, _)| l))?;
            let a = fmt.alert(at, f.rule, 0, &events, &f.key)?;
            Some(Gather::Alert {
                at: a.at,
                rule: a.rule,
                text: a.text,
            })
        }
        Output::Bad { handle, mut error } => {
            error.line = Some(handle);
            Some(Gather::Bad {
                line: handle,
                message: format!("{file}: {error}"),
            })
        }
        Output::Totals(totals) => Some(Gather::Totals { worker, totals }),
    }
}
