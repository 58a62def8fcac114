//! Reading a file's timestamps ahead, so that a scan in Elasticsearch's
//! order holds only what is still out of order.
//!
//! In [`StreamOrder::Bounded`] a session runs its step hits sorted as
//! Elasticsearch sorts them, so it must hold every hit an earlier event may
//! still come before. Not knowing the rest of the input, it would hold them
//! all until the input ends, and memory would grow with the file. A file can
//! be read twice: before the scan, one quick pass reads the timestamp of
//! every line (a projection of that one field: the rest of each line is
//! checked and skipped, never built) and keeps, for each run of [`LINES`]
//! lines, the earliest order time of every line from that run to the end
//! of the file. When the scan reaches a run, every stateful rule's session
//! is told that time ([`Session::release_before`]): the hits that order
//! before it cannot be preceded by anything still to come, and run then.
//! The results are the same as holding everything to the end; the held
//! hits are those of the last run or so, plus what the input has out of
//! order.

use super::input::{lines, BlockReader};
use super::plan::RulePlan;
use eql_engine::{
    CompiledQuery, Dialect, EventLimits, FieldPath, Projection, Session, SessionOptions,
    StreamOrder, TimestampFormat,
};
use std::io::{self, Read};
use std::sync::Arc;

/// Lines per run: the scan tells the sessions the time ahead once per run.
pub(crate) const LINES: u64 = 1024;

/// A session's clock: its timestamp field and format.
type Clock = (String, TimestampFormat);

fn clock(q: &CompiledQuery) -> Clock {
    let o = q.options();
    (o.timestamp_field.clone(), o.timestamp_format)
}

/// Per clock (a timestamp field and format some stateful rule orders by),
/// per run of [`LINES`] lines: the earliest order time of the lines from
/// that run to the end of the input.
#[derive(Debug, Default)]
pub(crate) struct Watermarks {
    clocks: Vec<Clock>,
    runs: Vec<Vec<i64>>,
}

impl Watermarks {
    /// Reads the order times of `input`'s lines on the clock of each of
    /// `plan`'s stateful rules, when their sessions run in
    /// [`StreamOrder::Bounded`] (`order`, or the Elasticsearch dialect's
    /// default). `None` otherwise: the sessions then hold their hits until
    /// the input ends.
    pub(crate) fn read(
        input: impl Read,
        plan: &RulePlan,
        order: Option<StreamOrder>,
        limits: &EventLimits,
        block_bytes: usize,
    ) -> io::Result<Option<Watermarks>> {
        // One session per clock, to read an event's time as the rules'
        // sessions read it.
        let mut clocks: Vec<Clock> = Vec::new();
        let mut sessions: Vec<Session<()>> = Vec::new();
        for p in &plan.session_plans {
            let Some(q) = p.query(0) else { continue };
            let bounded = match order {
                Some(o) => o == StreamOrder::Bounded,
                None => q.options().dialect == Dialect::Elasticsearch,
            };
            if !bounded {
                return Ok(None);
            }
            let c = clock(q);
            if !clocks.contains(&c) {
                let mut opts = SessionOptions::default();
                opts.order = order;
                sessions.push(Session::new(Arc::clone(p), opts));
                clocks.push(c);
            }
        }
        if clocks.is_empty() {
            return Ok(None);
        }
        let fields: Vec<FieldPath> = clocks
            .iter()
            .map(|(f, _)| FieldPath::parse_dotted(f))
            .collect();
        let projection = Projection::values(&fields);
        // The earliest order time of each run, per clock.
        let mut runs: Vec<Vec<i64>> = vec![Vec::new(); clocks.len()];
        let mut reader = BlockReader::new(input, block_bytes, limits.max_line_bytes);
        while let Some(block) = reader.next_block()? {
            for (n, line) in lines(&block) {
                // A line the scan reports as bad: the sessions never see it.
                let Ok(event) = projection.parse(line, limits) else {
                    continue;
                };
                let run = usize::try_from(Self::run(n)).unwrap_or(usize::MAX);
                for (session, runs) in sessions.iter().zip(&mut runs) {
                    // A time that does not read: the sessions skip the event.
                    let Some(time) = session.order_time(&event) else {
                        continue;
                    };
                    if runs.len() <= run {
                        runs.resize(run + 1, i64::MAX);
                    }
                    if let Some(m) = runs.get_mut(run) {
                        *m = (*m).min(time);
                    }
                }
            }
        }
        // From each run to the end.
        for runs in &mut runs {
            let mut ahead = i64::MAX;
            for m in runs.iter_mut().rev() {
                ahead = ahead.min(*m);
                *m = ahead;
            }
        }
        Ok(Some(Watermarks { clocks, runs }))
    }

    /// The clock of a rule's query, when its times were read.
    pub(crate) fn clock_of(&self, q: &CompiledQuery) -> Option<usize> {
        let c = clock(q);
        self.clocks.iter().position(|x| *x == c)
    }

    /// The run of 1-based line `line`.
    pub(crate) fn run(line: u64) -> u64 {
        line.saturating_sub(1) / LINES
    }

    /// On clock `clock`, the earliest order time from run `run` to the end
    /// of the input (`i64::MAX` past the last line with a time).
    pub(crate) fn ahead_of_run(&self, clock: usize, run: u64) -> i64 {
        usize::try_from(run)
            .ok()
            .and_then(|r| self.runs.get(clock)?.get(r))
            .copied()
            .unwrap_or(i64::MAX)
    }
}
