//! Reading a file's timestamps ahead, so that a scan in Elasticsearch's
//! order holds only what is still out of order.
//!
//! In [`StreamOrder::Bounded`] a session runs its step hits sorted as
//! Elasticsearch sorts them, so it must hold every hit an earlier event may
//! still come before. Not knowing the rest of the input, it would hold them
//! all until the input ends, and memory would grow with the file. A file can
//! be read twice: before the scan, one quick pass reads the timestamp of
//! every line (a projection of the rules' timestamp fields: the rest of each
//! line is checked and skipped, never built) and keeps, for each run of
//! [`RUN_BYTES`] of the file, the earliest order time of every line that
//! starts in that run or after it. When the scan reaches a run, every
//! stateful rule's session is told that time ([`Session::release_before`]):
//! the hits that order before it cannot be preceded by anything still to
//! come, and run then. The results are the same as holding everything to
//! the end; the held hits are those of the last run or so, plus what the
//! input has out of order. Runs are places in the file, so the pass splits
//! over threads (each reads the lines that start in its share of the bytes),
//! and every thread count releases at the same lines.

use super::input::{line_offset, lines, BlockReader};
use super::plan::RulePlan;
use eql_engine::{
    CompiledQuery, Dialect, EventLimits, FieldPath, Projection, Session, SessionOptions,
    StreamOrder, TimestampFormat,
};
use std::fs::File;
use std::io::{self, BufRead, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

/// Bytes of the file per run: the scan tells the sessions the time ahead
/// once per run (about 300 lines of ECS events).
pub(crate) const RUN_BYTES: u64 = 256 << 10;

/// The least share of the file worth a thread of its own.
const MIN_SHARE: u64 = 8 << 20;

/// A session's clock: its timestamp field and format.
type Clock = (String, TimestampFormat);

fn clock(q: &CompiledQuery) -> Clock {
    let o = q.options();
    (o.timestamp_field.clone(), o.timestamp_format)
}

/// Per clock (a timestamp field and format some stateful rule orders by),
/// per run of [`RUN_BYTES`] of the file: the earliest order time of the
/// lines that start in that run or after it.
#[derive(Debug, Default)]
pub(crate) struct Watermarks {
    clocks: Vec<Clock>,
    runs: Vec<Vec<i64>>,
}

impl Watermarks {
    /// Reads the order times of the lines of the file at `path` on the
    /// clock of each of `plan`'s stateful rules, on up to `threads` threads,
    /// when their sessions run in [`StreamOrder::Bounded`] (`order`, or the
    /// Elasticsearch dialect's default). `None` otherwise: the sessions then
    /// hold their hits until the input ends.
    pub(crate) fn read(
        path: &Path,
        plan: &RulePlan,
        order: Option<StreamOrder>,
        limits: &EventLimits,
        block_bytes: usize,
        threads: usize,
    ) -> io::Result<Option<Watermarks>> {
        let mut clocks: Vec<(Clock, Arc<eql_engine::SessionPlan>)> = Vec::new();
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
            if !clocks.iter().any(|(x, _)| *x == c) {
                clocks.push((c, Arc::clone(p)));
            }
        }
        if clocks.is_empty() {
            return Ok(None);
        }
        let len = std::fs::metadata(path)?.len();
        let parts = u64::try_from(threads.max(1))
            .unwrap_or(1)
            .min(len / MIN_SHARE + 1);
        Self::read_parts(path, clocks, order, limits, block_bytes, parts).map(Some)
    }

    /// [`Watermarks::read`] of `path` on `clocks` (each with the plan of a
    /// session on it), split into `parts` shares of its bytes.
    fn read_parts(
        path: &Path,
        clocks: Vec<(Clock, Arc<eql_engine::SessionPlan>)>,
        order: Option<StreamOrder>,
        limits: &EventLimits,
        block_bytes: usize,
        parts: u64,
    ) -> io::Result<Watermarks> {
        let len = std::fs::metadata(path)?.len();
        let parts = parts.max(1);
        let read = |k: u64| {
            let (from, to) = (len * k / parts, len * (k + 1) / parts);
            read_share(path, (from, to), &clocks, order, limits, block_bytes)
        };
        let shares: Vec<io::Result<Vec<Vec<i64>>>> = if parts <= 1 {
            vec![read(0)]
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..parts).map(|k| s.spawn(move || read(k))).collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err(io::Error::other("a read-ahead thread failed")))
                    })
                    .collect()
            })
        };
        // The earliest time of each run, per clock, over every share.
        let mut runs: Vec<Vec<i64>> = vec![Vec::new(); clocks.len()];
        for share in shares {
            for (all, mine) in runs.iter_mut().zip(share?) {
                if all.len() < mine.len() {
                    all.resize(mine.len(), i64::MAX);
                }
                for (a, m) in all.iter_mut().zip(mine) {
                    *a = (*a).min(m);
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
        Ok(Watermarks {
            clocks: clocks.into_iter().map(|(c, _)| c).collect(),
            runs,
        })
    }

    /// The clock of a rule's query, when its times were read.
    pub(crate) fn clock_of(&self, q: &CompiledQuery) -> Option<usize> {
        let c = clock(q);
        self.clocks.iter().position(|x| *x == c)
    }

    /// The run of the line that starts at byte `offset` of the file.
    pub(crate) fn run(offset: u64) -> u64 {
        offset / RUN_BYTES
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

/// Per clock, the earliest order time of each run, over the lines that
/// start at bytes `from..to` of the file ([`share_lines`]).
fn read_share(
    path: &Path,
    (from, to): (u64, u64),
    clocks: &[(Clock, Arc<eql_engine::SessionPlan>)],
    order: Option<StreamOrder>,
    limits: &EventLimits,
    block_bytes: usize,
) -> io::Result<Vec<Vec<i64>>> {
    // One session per clock, to read an event's time as the rules'
    // sessions read it.
    let sessions: Vec<Session<()>> = clocks
        .iter()
        .map(|(_, p)| {
            let mut opts = SessionOptions::default();
            opts.order = order;
            Session::new(Arc::clone(p), opts)
        })
        .collect();
    let fields: Vec<FieldPath> = clocks
        .iter()
        .map(|((f, _), _)| FieldPath::parse_dotted(f))
        .collect();
    let projection = Projection::values(&fields);
    let mut runs: Vec<Vec<i64>> = vec![Vec::new(); clocks.len()];
    share_lines(
        path,
        (from, to),
        limits,
        block_bytes,
        &mut |offset, line| {
            // A line the scan reports as bad: the sessions never see it.
            let Ok(event) = projection.parse(line, limits) else {
                return;
            };
            let run = usize::try_from(Watermarks::run(offset)).unwrap_or(usize::MAX);
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
        },
    )?;
    Ok(runs)
}

/// Calls `f(offset, line)` for each line of the file that starts at bytes
/// `from..to` (the first one at `from`, or just after the end of the line
/// byte `from - 1` is in), as the scan reads lines (a long line left out).
fn share_lines(
    path: &Path,
    (from, to): (u64, u64),
    limits: &EventLimits,
    block_bytes: usize,
    f: &mut dyn FnMut(u64, &[u8]),
) -> io::Result<()> {
    let mut file = File::open(path)?;
    let mut start = from;
    if from > 0 {
        file.seek(SeekFrom::Start(from - 1))?;
    }
    let mut input = io::BufReader::new(file);
    if from > 0 {
        // Past the line that holds byte `from - 1`: its start is in the
        // share before.
        loop {
            let buf = input.fill_buf()?;
            if buf.is_empty() {
                return Ok(());
            }
            let (n, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            input.consume(n);
            start += n as u64;
            if done {
                break;
            }
        }
        start -= 1;
    }
    let mut reader = BlockReader::new(input, block_bytes, limits.max_line_bytes);
    while let Some(block) = reader.next_block()? {
        for (_, line) in lines(&block) {
            let offset = start + line_offset(&block, line);
            if offset >= to {
                return Ok(());
            }
            f(offset, line);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use eql_engine::{CompileOptions, SessionPlan};
    use std::io::Write;

    /// Split into any number of shares, the pass gives what one pass over
    /// every line gives: the earliest time from each run to the end, lines
    /// with a bad or missing time and bad lines included.
    #[test]
    fn shares_give_what_one_pass_gives() {
        let q = CompiledQuery::compile(
            "sequence [process where true] [file where true]",
            &CompileOptions::default(),
        )
        .expect("compiles");
        let plan = Arc::new(SessionPlan::new([q.clone()]));
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        let mut text = Vec::new();
        let mut want: Vec<(u64, i64)> = Vec::new();
        for i in 0..6000u64 {
            let at = text.len() as u64;
            let t = 1_000_000 + (i * 10) as i64 - next(5000) as i64;
            let pad = "x".repeat(next(400) as usize);
            match next(20) {
                0 => text.extend_from_slice(b"{\"bad\": \n"),
                1 => {
                    writeln!(text, "{{\"pad\": \"{pad}\"}}").ok();
                    want.push((at, i64::MIN));
                }
                2 => {
                    writeln!(text, "{{\"@timestamp\": \"soon\"}}").ok();
                }
                _ => {
                    writeln!(text, "{{\"@timestamp\": {t}, \"pad\": \"{pad}\"}}").ok();
                    want.push((at, t * 1_000_000));
                }
            }
        }
        let path =
            std::env::temp_dir().join(format!("eql-watermarks-{}.ndjson", std::process::id()));
        std::fs::write(&path, &text).expect("writes");
        let runs = (text.len() as u64).div_ceil(RUN_BYTES);
        let expected: Vec<i64> = (0..runs)
            .map(|r| {
                want.iter()
                    .filter(|(at, _)| Watermarks::run(*at) >= r)
                    .map(|(_, t)| *t)
                    .min()
                    .unwrap_or(i64::MAX)
            })
            .collect();
        assert!(runs >= 4, "{runs} runs");
        for parts in [1, 2, 3, 7, 64] {
            let w = Watermarks::read_parts(
                &path,
                vec![(clock(&q), Arc::clone(&plan))],
                None,
                &EventLimits::default(),
                4096,
                parts,
            );
            let w = match w {
                Ok(w) => w,
                Err(e) => {
                    let _ = std::fs::remove_file(&path);
                    panic!("{parts} parts: {e}");
                }
            };
            let got: Vec<i64> = (0..runs).map(|r| w.ahead_of_run(0, r)).collect();
            assert_eq!(got, expected, "{parts} parts");
        }
        let _ = std::fs::remove_file(&path);
    }

    /// The shares of a file, cut anywhere, read every line once: each at
    /// its own offset, with its own bytes.
    #[test]
    fn shares_read_every_line_once() {
        let mut text = Vec::new();
        let mut want: Vec<(u64, Vec<u8>)> = Vec::new();
        for i in 0..300usize {
            let line = format!("{{\"i\": {i}, \"pad\": \"{}\"}}", "y".repeat(i % 37));
            want.push((text.len() as u64, line.clone().into_bytes()));
            text.extend_from_slice(line.as_bytes());
            text.extend_from_slice(if i % 3 == 0 { b"\r\n" } else { b"\n" });
        }
        let path = std::env::temp_dir().join(format!("eql-shares-{}.ndjson", std::process::id()));
        std::fs::write(&path, &text).expect("writes");
        let len = text.len() as u64;
        for parts in [1u64, 2, 3, 5, 17, 300, 2000] {
            let mut got: Vec<(u64, Vec<u8>)> = Vec::new();
            for k in 0..parts {
                let share = (len * k / parts, len * (k + 1) / parts);
                let r = share_lines(&path, share, &EventLimits::default(), 64, &mut |at, l| {
                    got.push((at, l.to_vec()));
                });
                if let Err(e) = r {
                    let _ = std::fs::remove_file(&path);
                    panic!("{e}");
                }
            }
            assert!(got == want, "{parts} parts");
        }
        let _ = std::fs::remove_file(&path);
    }
}
