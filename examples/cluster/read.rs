//! Reading one worker's share of an input file: a byte range cut at line
//! ends, in blocks, with the lines' numbers in the whole file.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

use eql_dataflow::Line;
use eql_engine::{EventError, EventErrorKind, EventLimits};
use eql_examples::scan::{lines, BlockReader};

use crate::{Gather, Job};

impl Job {
    /// Reads worker `index`'s range of the file `name` in blocks; each
    /// block's lines go to `feed`, with the bad lines the reader found and,
    /// with `--in-order`, the epoch of its last event. Returns the bytes
    /// read.
    pub(crate) fn read_share(
        &self,
        name: &str,
        index: usize,
        peers: usize,
        mut feed: impl FnMut(&mut Vec<Line<u64>>, &mut Vec<Gather>, Option<u64>),
    ) -> Result<u64, String> {
        let err = |e: io::Error| format!("{name}: {e}");
        let mut file = File::open(name).map_err(err)?;
        let len = file.metadata().map_err(err)?.len();
        let start = line_start(&mut file, len * index as u64 / peers as u64, len).map_err(err)?;
        let end =
            line_start(&mut file, len * (index as u64 + 1) / peers as u64, len).map_err(err)?;
        let first_line = lines_before(&mut file, start).map_err(err)? + 1;
        file.seek(SeekFrom::Start(start)).map_err(err)?;
        let limits = EventLimits::default();
        let mut reader = BlockReader::new(file.take(end - start), 1 << 20, limits.max_line_bytes);
        let mut batch = Vec::new();
        let mut bad = Vec::new();
        let mut bytes = 0;
        while let Some(block) = reader.next_block().map_err(err)? {
            bytes += block.input_bytes;
            for &(n, len) in &block.too_long {
                let e = EventError::at_line(
                    EventErrorKind::TooLarge {
                        len,
                        max: limits.max_line_bytes,
                    },
                    first_line + n - 1,
                );
                bad.push(Gather::Bad {
                    line: first_line + n - 1,
                    message: format!("{name}: {e}"),
                });
            }
            let mut last = None;
            for (n, line) in lines(&block) {
                if block.too_long.iter().any(|&(t, _)| t == n) {
                    continue;
                }
                let line = line.trim_ascii();
                if line.is_empty() {
                    continue;
                }
                last = Some(line);
                batch.push(Line {
                    handle: first_line + n - 1,
                    bytes: Arc::from(line),
                });
            }
            let epoch = if self.in_order {
                last.and_then(|l| self.rules.event_epoch(l))
            } else {
                None
            };
            feed(&mut batch, &mut bad, epoch);
        }
        Ok(bytes)
    }
}

/// The start of the first line that begins at or after `at` (a line begins
/// at 0 or after a `\n`); `len` when none does.
fn line_start(file: &mut File, at: u64, len: u64) -> io::Result<u64> {
    if at == 0 || at >= len {
        return Ok(at.min(len));
    }
    file.seek(SeekFrom::Start(at - 1))?;
    let mut buf = vec![0u8; 1 << 16];
    let mut pos = at - 1;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(len);
        }
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            return Ok(pos + i as u64 + 1);
        }
        pos += n as u64;
    }
}

/// The number of lines that end before byte `end`.
fn lines_before(file: &mut File, end: u64) -> io::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let mut reader = file.take(end);
    let mut buf = vec![0u8; 1 << 20];
    let mut count = 0u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(count);
        }
        count += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
    }
}
