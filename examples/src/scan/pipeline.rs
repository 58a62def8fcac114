//! Running a scan on one thread or on several, with the same output.
//!
//! With N threads: one thread reads blocks; N threads evaluate them (any
//! block, in any order); this thread puts the results back in input order,
//! matches again the lines whose gated steps were left out on a guess
//! ([`GateFilter`]; such a block's bytes travel with its results),
//! hands each block's step events to the N session threads (each takes
//! those of the rules it holds) and writes a block once its own alerts and
//! every session's alerts for it are in. At most a few blocks per thread
//! are in flight (the reader waits for a block to be written before it
//! reads past them), so memory stays flat.

use super::alert::{Alert, Formatter};
use super::eval::{Evaluated, Evaluator};
use super::gate::{GateFilter, GateState, Gates};
use super::index::Routes;
use super::input::{Block, BlockReader};
use super::profile::Profile;
use super::stateful::{Carry, Forwarded, OrderStats, Reread, Stateful};
use super::{Report, ScanSummary, Scanner};
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};

/// Where the results go.
pub(crate) struct Sink<'a> {
    pub(crate) out: &'a mut dyn Write,
    pub(crate) report: &'a mut dyn FnMut(Report<'_>),
    pub(crate) summary: &'a mut ScanSummary,
}

impl Sink<'_> {
    /// Writes one block's results: its bad lines, then its alerts and the
    /// sessions' in order.
    fn block(&mut self, e: Evaluated, mut sessions: Vec<Alert>) -> io::Result<()> {
        for bad in &e.bad {
            (self.report)(Report::BadLine(bad));
        }
        self.summary.bad_lines += e.bad.len() as u64;
        self.summary.events += e.events;
        self.summary.step_events += e.step_events;
        self.summary.bytes += e.bytes;
        let alerts = if sessions.is_empty() {
            e.alerts
        } else {
            sessions.extend(e.alerts);
            sessions.sort_unstable();
            sessions
        };
        self.alerts(&alerts)?;
        (self.report)(Report::Progress(e.bytes));
        Ok(())
    }

    fn alerts(&mut self, alerts: &[Alert]) -> io::Result<()> {
        for a in alerts {
            self.out.write_all(&a.text)?;
            self.summary.alerts += 1;
            if let Some(n) = self.summary.per_rule.get_mut(a.rule as usize) {
                *n += 1;
            }
        }
        Ok(())
    }

    /// The alerts of the end of the input.
    fn last(&mut self, mut alerts: Vec<Alert>, order: &OrderStats) -> io::Result<()> {
        alerts.sort_unstable();
        self.alerts(&alerts)?;
        self.summary.order.add(order);
        self.out.flush()
    }

    fn profile(&mut self, p: Profile) {
        match &mut self.summary.profile {
            Some(q) => q.merge(&p),
            None => self.summary.profile = Some(p),
        }
    }
}

/// The packs' profile of an evaluating thread.
fn pack_profile(sc: &Scanner, ev: &Evaluator<'_>) -> Profile {
    Profile::new(sc.compiled.len(), ev.profiles())
}

/// An evaluating thread's evaluator. `reread`: the input file, when its
/// lines can be read again; `gates`: the scan's gated steps; `checked`:
/// one of several evaluating threads, whose blocks the writing thread
/// checks ([`GateFilter`]).
fn evaluator<'s>(
    sc: &'s Scanner,
    reread: Option<&Arc<Reread>>,
    gates: Option<&Arc<Gates>>,
    checked: bool,
) -> Evaluator<'s> {
    let routes = Routes::new(&sc.index, &sc.compiled, sc.opts.profile_every);
    let gate = reread.zip(gates).map(|(r, g)| {
        let (g, r) = (Arc::clone(g), Arc::clone(r));
        if checked {
            GateState::checked(g, r)
        } else {
            GateState::new(g, r)
        }
    });
    Evaluator::new(routes, &sc.opts.limits, reread.is_some(), gate)
}

/// The later sequence steps a scan of a file in order can leave out while
/// nothing can precede them ([`Gates`]).
fn gates(sc: &Scanner, reread: Option<&Arc<Reread>>) -> Option<Arc<Gates>> {
    let ahead = reread?.watermarks()?;
    let carry = sc.carry.lock().ok()?;
    Gates::new(sc.index.default_plan(), &sc.compiled, ahead, &carry)
}

/// One thread does everything. `reread`: the input file, when its lines
/// can be read again.
pub(crate) fn sequential(
    sc: &Scanner,
    input: impl Read,
    reread: Option<Arc<Reread>>,
    fmt: &Formatter,
    sink: &mut Sink<'_>,
) -> io::Result<()> {
    let plan = sc.index.default_plan();
    let every = sc.opts.profile_every;
    let mut reader = BlockReader::new(input, sc.opts.block_bytes, sc.opts.limits.max_line_bytes);
    let gates = gates(sc, reread.as_ref());
    let mut ev = evaluator(sc, reread.as_ref(), gates.as_ref(), false);
    let mut st = (!plan.stateful.is_empty()).then(|| {
        Stateful::new(
            plan,
            1,
            0,
            sc.opts.order,
            &sc.opts.limits,
            every,
            reread,
            fmt.input(),
            sc.carry.lock().as_deref().unwrap_or(&Carry::new()),
        )
    });
    while let Some(block) = reader.next_block()? {
        let mut e = ev.block(&block, fmt);
        e.step_events = e.forward.events.len() as u64;
        let mut alerts = Vec::new();
        if let Some(st) = st.as_mut() {
            st.push(&e.forward, fmt, &mut alerts)?;
        }
        let mut spare = std::mem::take(&mut e.forward);
        spare.clear();
        ev.recycle(spare);
        sink.block(e, alerts)?;
    }
    let mut alerts = Vec::new();
    let mut order = OrderStats::default();
    let mut profile = pack_profile(sc, &ev);
    if let Some(st) = st.as_mut() {
        order = end(sc, st, fmt, &mut alerts)?;
        profile.add_sessions(st);
    }
    if every > 0 {
        sink.profile(profile);
    }
    sink.last(alerts, &order)
}

/// Messages to the writing thread.
enum Msg {
    Evaluated(Evaluated),
    /// An evaluating thread is done: its packs' profile.
    EvalDone(Profile),
    /// A session worker's alerts for block `.0`.
    Session(u64, Vec<Alert>),
    /// A session worker is done: its last alerts, its ordering counts, its
    /// profile.
    SessionDone(Vec<Alert>, OrderStats, Profile),
    /// The reader is done: the number of blocks.
    Total(u64),
    Failed(io::Error),
}

/// Messages to a session worker.
enum ToSession {
    Block(u64, Arc<Forwarded>),
    Finish,
}

/// A block waiting to be written.
struct Waiting {
    evaluated: Evaluated,
    alerts: Vec<Alert>,
    /// Session workers still to report.
    missing: usize,
}

/// `sc.opts.threads` threads evaluate, as many run the sessions.
/// `reread`: the input file, when its lines can be read again.
pub(crate) fn parallel(
    sc: &Scanner,
    input: impl Read + Send,
    reread: Option<Arc<Reread>>,
    fmt: &Formatter,
    sink: &mut Sink<'_>,
) -> io::Result<()> {
    let n = sc.opts.threads.max(1);
    let gates = gates(sc, reread.as_ref());
    let plan = sc.index.default_plan();
    let stateful = !plan.stateful.is_empty();
    // Blocks in flight: read, evaluated or waiting for the sessions.
    let in_flight = 4 * n;
    std::thread::scope(|s| {
        let (msg_tx, msg_rx) = channel::<Msg>();
        let (block_tx, block_rx) = sync_channel::<Block>(n);
        let block_rx = Arc::new(Mutex::new(block_rx));
        let (token_tx, token_rx) = sync_channel::<()>(in_flight);
        for _ in 0..in_flight {
            let _ = token_tx.send(());
        }
        // The reader.
        {
            let msg_tx = msg_tx.clone();
            s.spawn(move || read_blocks(sc, input, token_rx, block_tx, msg_tx));
        }
        // The evaluators.
        for _ in 0..n {
            let msg_tx = msg_tx.clone();
            let block_rx = Arc::clone(&block_rx);
            let (reread, gates) = (reread.clone(), gates.clone());
            s.spawn(move || {
                let ev = evaluator(sc, reread.as_ref(), gates.as_ref(), true);
                evaluate_blocks(sc, ev, fmt, &block_rx, &msg_tx);
            });
        }
        // The session workers.
        let mut to_sessions: Vec<Sender<ToSession>> = Vec::new();
        if stateful {
            for w in 0..n {
                let (tx, rx) = channel::<ToSession>();
                to_sessions.push(tx);
                let msg_tx = msg_tx.clone();
                let reread = reread.clone();
                s.spawn(move || session_worker(sc, n, w, fmt, reread, &rx, &msg_tx));
            }
        }
        drop(msg_tx);
        // The writing thread leaves out, block by block in input order,
        // the step hits one thread would have left out.
        let filter = reread
            .as_ref()
            .zip(gates.as_ref())
            .map(|(r, g)| GateFilter::new(Arc::clone(g), Arc::clone(r), plan));
        collect(n, &msg_rx, &to_sessions, &token_tx, filter, sink)
    })
}

/// The reader: reads a block for each token (a block written) until the
/// input ends, then sends the number of blocks.
fn read_blocks(
    sc: &Scanner,
    input: impl Read,
    token_rx: Receiver<()>,
    block_tx: SyncSender<Block>,
    msg_tx: Sender<Msg>,
) {
    let mut reader = BlockReader::new(input, sc.opts.block_bytes, sc.opts.limits.max_line_bytes);
    let mut total = 0u64;
    while token_rx.recv().is_ok() {
        match reader.next_block() {
            Ok(Some(b)) => {
                total += 1;
                if block_tx.send(b).is_err() {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = msg_tx.send(Msg::Failed(e));
                break;
            }
        }
    }
    drop(block_tx);
    let _ = msg_tx.send(Msg::Total(total));
}

/// An evaluating thread: evaluates blocks, any of them, until there are no
/// more, then sends its packs' profile.
fn evaluate_blocks(
    sc: &Scanner,
    mut ev: Evaluator<'_>,
    fmt: &Formatter,
    block_rx: &Mutex<Receiver<Block>>,
    msg_tx: &Sender<Msg>,
) {
    loop {
        let next = match block_rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => break,
        };
        let Ok(block) = next else { break };
        let mut e = ev.block(&block, fmt);
        if !e.deferred.is_empty() {
            e.block = Some(block);
        }
        if msg_tx.send(Msg::Evaluated(e)).is_err() {
            break;
        }
    }
    let _ = msg_tx.send(Msg::EvalDone(pack_profile(sc, &ev)));
}

/// A session worker. After an error (a line that could not be read again)
/// it answers every block with no alert, so that the pipeline drains, and
/// reports the error at the end.
fn session_worker(
    sc: &Scanner,
    n: usize,
    w: usize,
    fmt: &Formatter,
    reread: Option<Arc<Reread>>,
    rx: &Receiver<ToSession>,
    msg_tx: &Sender<Msg>,
) {
    let mut st = Stateful::new(
        sc.index.default_plan(),
        n,
        w,
        sc.opts.order,
        &sc.opts.limits,
        sc.opts.profile_every,
        reread,
        fmt.input(),
        sc.carry.lock().as_deref().unwrap_or(&Carry::new()),
    );
    let mut failed = None;
    for m in rx {
        match m {
            ToSession::Block(seq, events) => {
                let mut alerts = Vec::new();
                if failed.is_none() {
                    if let Err(e) = st.push(&events, fmt, &mut alerts) {
                        failed = Some(e);
                        alerts.clear();
                    }
                }
                if msg_tx.send(Msg::Session(seq, alerts)).is_err() {
                    return;
                }
            }
            ToSession::Finish => break,
        }
    }
    let mut alerts = Vec::new();
    let finished = match failed {
        Some(e) => Err(e),
        None => end(sc, &mut st, fmt, &mut alerts),
    };
    let order = finished.unwrap_or_else(|e| {
        let _ = msg_tx.send(Msg::Failed(e));
        alerts.clear();
        OrderStats::default()
    });
    let mut profile = Profile::default();
    profile.add_sessions(&st);
    let _ = msg_tx.send(Msg::SessionDone(alerts, order, profile));
}

/// The writing thread: puts blocks back in order, feeds the sessions,
/// writes.
fn collect(
    n: usize,
    msg_rx: &Receiver<Msg>,
    to_sessions: &[Sender<ToSession>],
    token_tx: &SyncSender<()>,
    filter: Option<GateFilter<'_>>,
    sink: &mut Sink<'_>,
) -> io::Result<()> {
    let mut c = Collector::new(n, to_sessions, filter);
    for msg in msg_rx {
        c.take(msg);
        c.write_ready(token_tx, sink)?;
        if c.finish() {
            break;
        }
    }
    c.end(sink)
}

/// What the writing thread keeps track of.
struct Collector<'c> {
    /// The evaluating threads.
    n: usize,
    to_sessions: &'c [Sender<ToSession>],
    /// What one thread would have left out, when steps are gated.
    filter: Option<GateFilter<'c>>,
    /// Evaluated blocks not yet handed to the sessions, by sequence number.
    evaluated: BTreeMap<u64, Evaluated>,
    /// Blocks handed to the sessions, not yet written.
    waiting: BTreeMap<u64, Waiting>,
    next_dispatch: u64,
    next_write: u64,
    /// The number of blocks, once the reader is done.
    total: Option<u64>,
    failed: Option<io::Error>,
    finish_sent: bool,
    evals_done: usize,
    sessions_done: usize,
    /// The session workers' last alerts.
    last: Vec<Alert>,
    order: OrderStats,
    profile: Profile,
    profiled: bool,
}

impl<'c> Collector<'c> {
    fn new(n: usize, to_sessions: &'c [Sender<ToSession>], filter: Option<GateFilter<'c>>) -> Self {
        Collector {
            n,
            to_sessions,
            filter,
            evaluated: BTreeMap::new(),
            waiting: BTreeMap::new(),
            next_dispatch: 0,
            next_write: 0,
            total: None,
            failed: None,
            finish_sent: false,
            evals_done: 0,
            sessions_done: 0,
            last: Vec::new(),
            order: OrderStats::default(),
            profile: Profile::default(),
            profiled: false,
        }
    }

    /// Takes one message in.
    fn take(&mut self, msg: Msg) {
        match msg {
            Msg::Evaluated(e) => {
                self.evaluated.insert(e.seq, e);
                self.dispatch();
            }
            Msg::Session(seq, alerts) => {
                if let Some(w) = self.waiting.get_mut(&seq) {
                    w.alerts.extend(alerts);
                    w.missing = w.missing.saturating_sub(1);
                }
            }
            Msg::EvalDone(p) => {
                self.evals_done += 1;
                if !p.is_empty() {
                    self.profiled = true;
                }
                self.profile.merge(&p);
            }
            Msg::SessionDone(alerts, o, p) => {
                self.sessions_done += 1;
                self.last.extend(alerts);
                self.order.add(&o);
                self.profile.merge(&p);
            }
            Msg::Total(t) => self.total = Some(t),
            Msg::Failed(e) => self.failed = Some(e),
        }
    }

    /// Hands the evaluated blocks next in input order to the sessions.
    fn dispatch(&mut self) {
        while let Some(mut e) = self.evaluated.remove(&self.next_dispatch) {
            if let Some(f) = &mut self.filter {
                f.block(&mut e);
            }
            e.step_events = e.forward.events.len() as u64;
            let events = Arc::new(std::mem::take(&mut e.forward));
            for tx in self.to_sessions {
                let _ = tx.send(ToSession::Block(self.next_dispatch, Arc::clone(&events)));
            }
            self.waiting.insert(
                self.next_dispatch,
                Waiting {
                    evaluated: e,
                    alerts: Vec::new(),
                    missing: self.to_sessions.len(),
                },
            );
            self.next_dispatch += 1;
        }
    }

    /// Writes the blocks next in input order that every session has
    /// answered, a token back to the reader for each.
    fn write_ready(&mut self, token_tx: &SyncSender<()>, sink: &mut Sink<'_>) -> io::Result<()> {
        while self
            .waiting
            .first_key_value()
            .is_some_and(|(k, w)| *k == self.next_write && w.missing == 0)
        {
            if let Some((_, w)) = self.waiting.pop_first() {
                sink.block(w.evaluated, w.alerts)?;
                let _ = token_tx.send(());
                self.next_write += 1;
            }
        }
        Ok(())
    }

    /// Once every block is written, tells the sessions the input is over;
    /// true when every thread is done.
    fn finish(&mut self) -> bool {
        if !self.finish_sent && self.total == Some(self.next_write) {
            self.finish_sent = true;
            for tx in self.to_sessions {
                let _ = tx.send(ToSession::Finish);
            }
        }
        self.finish_sent
            && self.evals_done == self.n
            && self.sessions_done == self.to_sessions.len()
    }

    /// The end of the input: the error, else the profile and the last alerts.
    fn end(self, sink: &mut Sink<'_>) -> io::Result<()> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.profiled {
            sink.profile(self.profile);
        }
        sink.last(self.last, &self.order)
    }
}

/// Ends a worker's sessions for this input ([`Stateful::end`]), through the
/// scanner's carried state.
fn end(
    sc: &Scanner,
    st: &mut Stateful,
    fmt: &Formatter,
    alerts: &mut Vec<Alert>,
) -> io::Result<OrderStats> {
    match sc.carry.lock() {
        Ok(mut carry) => st.end(sc.opts.keep_open, fmt, alerts, &mut carry),
        // Another worker panicked: end the stream here.
        Err(_) => st.end(false, fmt, alerts, &mut Carry::new()),
    }
}
