//! The engine of the `scan` example: NDJSON events in, alerts out, on every
//! core.
//!
//! - Input is read in large blocks of whole lines (`input`); nothing is
//!   allocated per line.
//! - Each line is checked ([`eql_engine::EventLimits`]: length, UTF-8,
//!   nesting, JSON) and the single-event rules are evaluated straight from
//!   its bytes by routed packs, which also answer whether the line matches a
//!   step query of a stateful rule (`plan`, `eval`). Blocks are evaluated
//!   in parallel.
//! - Lines that match a step go, in input order, to the sessions: one per
//!   worker, each owning a share of the join keys (`stateful`).
//! - Alerts are written in input order (the line whose reading produced the
//!   alert, then the rule's index, then the alert's text; alerts completed
//!   only when the input ends come last), so the output is the same for
//!   every number of threads. A bad line is reported with its line number
//!   and error kind, counted, and skipped.
//!
//! Single-event rules see every event, in any order. A stateful rule sees
//! the events that match one of its step queries (every event, for rules
//! with process lineage and Python sequences with `maxspan`): the session's
//! ordering ([`ScanOptions::order`]), lateness and `maxspan` expiry run on
//! that stream. In a bounded input (Elasticsearch's order, the default for
//! Elasticsearch rules) each stateful rule runs its step events sorted as
//! Elasticsearch sorts them when the input ends, so its alerts come last,
//! in that order.

mod alert;
mod eval;
mod input;
mod pipeline;
mod plan;
mod profile;
mod stateful;

pub use alert::Format;
pub use profile::Profile;
pub use stateful::OrderStats;

use eql_engine::{CompiledRuleSet, EventError, EventLimits, StreamOrder};
use std::io::{self, Read, Write};

/// How a scan runs.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Alert format.
    pub format: Format,
    /// Worker threads (at least 1).
    pub threads: usize,
    /// The stateful rules' order. Default (`None`): the session's default,
    /// [`StreamOrder::Bounded`] for Elasticsearch rules (a file),
    /// [`StreamOrder::Arrival`] for Python ones; a stream such as stdin
    /// wants [`StreamOrder::Window`].
    pub order: Option<StreamOrder>,
    /// Checks applied to every line.
    pub limits: EventLimits,
    /// Profile one event in this many (0: no profiling); see [`Profile`].
    pub profile_every: u32,
    /// Bytes read per block (a block is the unit of parallel work).
    pub block_bytes: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            format: Format::Ndjson,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            order: None,
            limits: EventLimits::default(),
            profile_every: 0,
            block_bytes: 1 << 20,
        }
    }
}

/// Totals of one or more scans.
#[derive(Clone, Debug, Default)]
pub struct ScanSummary {
    /// Events read (valid lines).
    pub events: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Bad lines.
    pub bad_lines: u64,
    /// Alerts written.
    pub alerts: u64,
    /// How far from timestamp order the stateful rules' step events came.
    pub order: OrderStats,
    /// Alerts per rule.
    pub per_rule: Vec<u64>,
    /// Where the time went, when profiling.
    pub profile: Option<Profile>,
}

/// What a scan reports besides alerts, as it goes.
#[derive(Debug)]
pub enum Report<'a> {
    /// A bad line (its error carries the line number).
    BadLine(&'a EventError),
    /// This many more bytes of input are done.
    Progress(u64),
}

/// A rule set ready to scan inputs.
pub struct Scanner {
    compiled: CompiledRuleSet,
    plan: plan::RulePlan,
    opts: ScanOptions,
}

impl Scanner {
    /// Sets the stateful rules' order of the next scans.
    pub fn set_order(&mut self, order: Option<StreamOrder>) {
        self.opts.order = order;
    }

    /// Plans `compiled` for scanning with `opts`.
    pub fn new(compiled: CompiledRuleSet, opts: ScanOptions) -> Self {
        let plan = plan::RulePlan::new(&compiled);
        Scanner {
            compiled,
            plan,
            opts,
        }
    }

    /// The rules.
    pub fn compiled(&self) -> &CompiledRuleSet {
        &self.compiled
    }

    /// Scans one input named `name`: alerts go to `out`, bad lines and
    /// progress to `report`, totals are added to `summary`. The stateful
    /// rules hold the lines of the events they may report; a file is better
    /// scanned with [`Scanner::scan_path`].
    pub fn scan(
        &self,
        input: impl Read + Send,
        name: &str,
        out: &mut dyn Write,
        report: &mut dyn FnMut(Report<'_>),
        summary: &mut ScanSummary,
    ) -> io::Result<()> {
        self.scan_with(input, None, name, out, report, summary)
    }

    /// [`Scanner::scan`] of the file at `path`, named `name`. The stateful
    /// rules hold where their events' lines are in the file, which is read
    /// again for their alerts, so memory does not grow with the events they
    /// hold (a file is a bounded input: each sequence holds every hit of its
    /// steps until the end).
    pub fn scan_path(
        &self,
        path: &std::path::Path,
        name: &str,
        out: &mut dyn Write,
        report: &mut dyn FnMut(Report<'_>),
        summary: &mut ScanSummary,
    ) -> io::Result<()> {
        let input = std::fs::File::open(path)?;
        let reread = stateful::Reread::new(std::fs::File::open(path)?);
        self.scan_with(
            input,
            Some(std::sync::Arc::new(reread)),
            name,
            out,
            report,
            summary,
        )
    }

    fn scan_with(
        &self,
        input: impl Read + Send,
        reread: Option<std::sync::Arc<stateful::Reread>>,
        name: &str,
        out: &mut dyn Write,
        report: &mut dyn FnMut(Report<'_>),
        summary: &mut ScanSummary,
    ) -> io::Result<()> {
        if summary.per_rule.len() < self.compiled.len() {
            summary.per_rule.resize(self.compiled.len(), 0);
        }
        let fmt = alert::Formatter::new(self.opts.format, &self.compiled, name);
        let mut sink = pipeline::Sink {
            out,
            report,
            summary,
        };
        if self.opts.threads <= 1 {
            pipeline::sequential(self, input, reread, &fmt, &mut sink)
        } else {
            pipeline::parallel(self, input, reread, &fmt, &mut sink)
        }
    }
}
