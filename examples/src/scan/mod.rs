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
//! - The packs are those of the rules that apply to the line's index (its
//!   `_index` or `data_stream.*`, else [`ScanOptions::index`]): one plan per
//!   distinct set of rules, shared by the threads (`index`).
//! - Lines that match a step go, in input order, to the sessions: one per
//!   worker, each owning a share of the join keys (`stateful`).
//! - Alerts are written in input order (the line whose reading produced the
//!   alert, then the rule's index, then the alert's text; alerts completed
//!   only when the input ends come last), so the output is the same for
//!   every number of threads. A bad line is reported with its line number
//!   and error kind, counted, and skipped. Alerts are this tool's NDJSON,
//!   Elastic Security's alert documents or a table ([`Format`], `alert`).
//!
//! Single-event rules see every event, in any order. A stateful rule sees
//! the events that match one of its step queries (every event, for rules
//! with process lineage and Python sequences with `maxspan`): the session's
//! ordering ([`ScanOptions::order`]), lateness and `maxspan` expiry run on
//! that stream. In a bounded input (Elasticsearch's order, the default for
//! Elasticsearch rules) each stateful rule runs its step events sorted as
//! Elasticsearch sorts them. From a stream of bytes it holds them until the
//! input ends, so its alerts come last; from a file whose timestamps were
//! read ahead (`watermark`), it runs them as soon as no event still to come
//! can order before them, so its alerts come with the line where that is
//! known, and what it holds does not grow with the file.

mod alert;
mod eval;
mod gate;
mod index;
mod input;
mod pipeline;
mod plan;
mod profile;
mod state;
mod stateful;
mod watermark;

pub use alert::{Alert, EventLine, Format, Formatter};
pub use input::{lines, Block, BlockReader};
pub use profile::Profile;
pub use stateful::OrderStats;

use eql_engine::{CompiledRuleSet, EventError, EventLimits, IndexRoute, StreamOrder};
use std::io::{self, Read, Write};
use std::time::SystemTime;

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
    /// The index (or data stream) the input's events are from, for those
    /// that do not name their own (`_index`, `data_stream.*`): a rule runs
    /// only on the events of the indices its `index` patterns match.
    /// `None`: events that name no index see every rule.
    pub index: Option<String>,
    /// [`Format::Ecs`]: the alerts' `@timestamp` (when the rules ran).
    /// `None`: the time each input's scan starts.
    pub alert_time: Option<SystemTime>,
    /// The stream goes on after each input: the stateful rules' sessions
    /// are kept (see [`Scanner::save_state`]) instead of ended, so the
    /// alerts that wait for the end of the input (a bounded input's
    /// stateful alerts, a trailing `![...]` step's) come in a later scan.
    /// Default false: each input is a stream of its own.
    pub keep_open: bool,
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
            index: None,
            alert_time: None,
            keep_open: false,
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
    /// Events handed to the stateful rules' sessions (those that match a
    /// step query, less the later steps left out while nothing can precede
    /// them): the same for any number of threads.
    pub step_events: u64,
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
    /// The rules' plans, per index.
    index: index::IndexPlans,
    opts: ScanOptions,
    /// The stateful rules' sessions between inputs (and runs).
    carry: std::sync::Mutex<stateful::Carry>,
}

impl Scanner {
    /// Sets the stateful rules' order of the next scans.
    pub fn set_order(&mut self, order: Option<StreamOrder>) {
        self.opts.order = order;
    }

    /// Plans `compiled` for scanning with `opts`.
    pub fn new(compiled: CompiledRuleSet, opts: ScanOptions) -> Self {
        let index = index::IndexPlans::new(&compiled, opts.index.as_deref());
        Scanner {
            compiled,
            index,
            opts,
            carry: std::sync::Mutex::default(),
        }
    }

    /// Sets whether the stream goes on after the next scans
    /// ([`ScanOptions::keep_open`]).
    pub fn set_keep_open(&mut self, keep_open: bool) {
        self.opts.keep_open = keep_open;
    }

    /// Goes on from a state that [`Scanner::save_state`] wrote: the next
    /// scan continues the stateful rules' sequences, samples and held hits
    /// as if its input followed the saved run's. Every rule's state is
    /// checked first (format and version, the rule's query and options, the
    /// state's consistency, the limits); on an error nothing is loaded.
    /// Returns how many rules had state.
    pub fn load_state(&self, bytes: &[u8]) -> Result<usize, String> {
        let carry = state::load(bytes, &self.compiled, self.opts.order)?;
        let n = carry.len();
        *self
            .carry
            .lock()
            .map_err(|_| "a scan thread failed".to_owned())? = carry;
        Ok(n)
    }

    /// The stateful rules' state after the last scan, as a state file
    /// (JSON) for [`Scanner::load_state`]: empty of rules when the last
    /// scan ended the stream.
    pub fn save_state(&self) -> Result<Vec<u8>, String> {
        let carry = self
            .carry
            .lock()
            .map_err(|_| "a scan thread failed".to_owned())?;
        state::save(&carry, &self.compiled)
    }

    /// The rules.
    pub fn compiled(&self) -> &CompiledRuleSet {
        &self.compiled
    }

    /// The rules that apply to the input's index ([`ScanOptions::index`]),
    /// when it is named.
    pub fn input_route(&self) -> Option<&IndexRoute> {
        self.index.input_route()
    }

    /// The indices that events named for themselves so far (the first few
    /// thousand), by name, each with the rules that apply to it.
    pub fn event_routes(&self) -> Vec<IndexRoute> {
        self.index.seen()
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
    /// hold. In Elasticsearch's order the file's timestamps are first read
    /// ahead, in one quick pass, so that each stateful rule holds only the
    /// step hits an event still to come may order before, not every hit
    /// until the end (the alerts are the same). When the stream stays open
    /// after the file ([`ScanOptions::keep_open`]), the lines are held as
    /// with [`Scanner::scan`] and nothing is read ahead: a saved state must
    /// not refer to a file, and the next input may order before this one.
    pub fn scan_path(
        &self,
        path: &std::path::Path,
        name: &str,
        out: &mut dyn Write,
        report: &mut dyn FnMut(Report<'_>),
        summary: &mut ScanSummary,
    ) -> io::Result<()> {
        let input = std::fs::File::open(path)?;
        if self.opts.keep_open {
            return self.scan_with(input, None, name, out, report, summary);
        }
        let ahead = watermark::Watermarks::read(
            path,
            self.index.default_plan(),
            self.opts.order,
            &self.opts.limits,
            self.opts.block_bytes,
            self.opts.threads,
        )?;
        let reread = stateful::Reread::new(std::fs::File::open(path)?, ahead);
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
        let fmt = alert::Formatter::new(&self.opts, &self.compiled, name);
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
