//! Input in large blocks of whole lines: one read per block, no allocation
//! per line, and a line longer than the limit is skipped as it is read (its
//! length is all that is kept), so memory stays flat whatever the input.

use std::io::{self, Read};

/// Whole lines of the input.
#[derive(Debug, Default)]
pub struct Block {
    /// Position among the blocks of one input, from 0.
    pub seq: u64,
    /// The 1-based number of the block's first line.
    pub first_line: u64,
    /// The lines, each ended by `\n` except perhaps the input's last.
    pub data: Vec<u8>,
    /// Lines longer than the limit, left out of `data` (an empty line
    /// stands in for each): (line number, length in bytes).
    pub too_long: Vec<(u64, usize)>,
    /// Bytes of input the block covers (with the lines left out).
    pub input_bytes: u64,
    /// The input position (bytes from its start) of `data`'s first byte.
    pub offset: u64,
}

/// Splits a reader into [`Block`]s.
pub struct BlockReader<R> {
    reader: R,
    /// The start of the next block's first line.
    carry: Vec<u8>,
    next_line: u64,
    seq: u64,
    /// The input position of the next block.
    offset: u64,
    block_bytes: usize,
    /// Longest line kept, terminator excluded.
    max_line: usize,
    eof: bool,
}

impl<R: Read> BlockReader<R> {
    /// Blocks of about `block_bytes` of `reader`; lines longer than `max_line` are left out.
    pub fn new(reader: R, block_bytes: usize, max_line: usize) -> Self {
        BlockReader {
            reader,
            carry: Vec::new(),
            next_line: 1,
            seq: 0,
            offset: 0,
            block_bytes: block_bytes.max(1),
            max_line,
            eof: false,
        }
    }

    /// Reads up to `n` more bytes onto `buf`; notes the end of input.
    fn fill(&mut self, buf: &mut Vec<u8>, n: usize) -> io::Result<()> {
        let got = (&mut self.reader).take(n as u64).read_to_end(buf)?;
        if got < n {
            self.eof = true;
        }
        Ok(())
    }

    /// The next block, or `None` at the end of the input.
    pub fn next_block(&mut self) -> io::Result<Option<Block>> {
        let mut buf = std::mem::take(&mut self.carry);
        let mut too_long = Vec::new();
        let mut skipped = 0u64;
        let mut target = self.block_bytes;
        // `buf[..searched]` holds no line end: a long line is searched once,
        // not once per read.
        let mut searched = 0;
        loop {
            if !self.eof && buf.len() < target {
                buf.reserve(target - buf.len());
                let want = target - buf.len();
                self.fill(&mut buf, want)?;
                continue;
            }
            if let Some(end) = buf
                .get(searched..)
                .and_then(|rest| memchr::memrchr(b'\n', rest))
            {
                self.carry = buf.split_off(searched + end + 1);
                break;
            }
            searched = buf.len();
            if self.eof {
                break;
            }
            // One line fills the buffer.
            if buf.len() > self.max_line + 1 {
                // Too long (even without a `\r`): read on to its end,
                // keeping only the count.
                let mut len = buf.len();
                buf.clear();
                loop {
                    buf.clear();
                    self.fill(&mut buf, self.block_bytes)?;
                    if let Some(end) = memchr::memchr(b'\n', &buf) {
                        len += end;
                        self.carry = buf.split_off(end + 1);
                        break;
                    }
                    len += buf.len();
                    if self.eof {
                        break;
                    }
                }
                too_long.push((self.next_line, len));
                skipped = len as u64 + 1;
                buf.clear();
                buf.push(b'\n');
                break;
            }
            target = buf.len() + self.block_bytes;
        }
        if buf.is_empty() {
            return Ok(None);
        }
        let lines =
            memchr::memchr_iter(b'\n', &buf).count() as u64 + u64::from(buf.last() != Some(&b'\n'));
        let block = Block {
            seq: self.seq,
            first_line: self.next_line,
            input_bytes: if skipped > 0 {
                skipped
            } else {
                buf.len() as u64
            },
            offset: self.offset,
            data: buf,
            too_long,
        };
        self.offset += block.input_bytes;
        self.seq += 1;
        self.next_line += lines;
        Ok(Some(block))
    }
}

/// The lines of a block with their numbers, without terminators (`\n`, and a
/// `\r` before it).
pub fn lines(block: &Block) -> impl Iterator<Item = (u64, &[u8])> {
    let data = &block.data[..];
    let mut start = 0usize;
    let mut n = block.first_line;
    std::iter::from_fn(move || {
        if start >= data.len() {
            return None;
        }
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        let line = &data[start..end];
        start = end + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        n += 1;
        Some((n - 1, line))
    })
}

/// True when `line` may hold a `\u` escape: a `\u` whose backslash comes
/// after an even number of backslashes (none included). After an odd
/// number, the backslash is the second half of an escaped backslash and the
/// `u` a plain letter, as in a Windows path (`"C:\\users"`). In JSON text
/// that is exactly the text with a `\u` escape; text that is not JSON (a
/// backslash outside a string) the parser rejects whatever this says.
pub(crate) fn may_hold_u_escape(line: &[u8]) -> bool {
    static NEEDLE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\\u"));
    NEEDLE.find_iter(line).any(|at| {
        let before = line.get(..at).unwrap_or_default();
        before.iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 0
    })
}

/// The input position of `line`, a line of `block` (or a part of one), as
/// [`lines`] gives them.
pub(crate) fn line_offset(block: &Block, line: &[u8]) -> u64 {
    let within = (line.as_ptr() as usize).saturating_sub(block.data.as_ptr() as usize);
    block.offset + within as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_u_escape_is_told_from_an_escaped_backslash_before_a_u() {
        for (text, escape) in [
            (r#"{"a": "\u0041"}"#, true),
            (r#"{"p": "C:\\users"}"#, false),
            (r#"{"p": "C:\\\u0041"}"#, true),
            (r#"{"p": "\\\\u"}"#, false),
            (r#"{"\u005findex": 1}"#, true),
            (r#"{"p": "a\\", "\u0062": 2}"#, true),
            (r#"{"p": "u\\u"}"#, false),
            (r"\u", true),
            (r#"{"p": "plain"}"#, false),
        ] {
            assert_eq!(may_hold_u_escape(text.as_bytes()), escape, "{text}");
        }
    }

    /// (line number, line, the block's lines left out).
    type Lines = Vec<(u64, Vec<u8>, Vec<(u64, usize)>)>;

    fn all(input: &[u8], block: usize, max: usize) -> Lines {
        let mut r = BlockReader::new(input, block, max);
        let mut out = Vec::new();
        while let Some(b) = r.next_block().unwrap() {
            for (n, l) in lines(&b) {
                out.push((n, l.to_vec(), b.too_long.clone()));
            }
        }
        out
    }

    #[test]
    fn lines_keep_their_numbers_across_block_sizes() {
        let input = b"a\nbb\r\n\nccc\ndddd";
        for block in 1..8 {
            let got: Vec<(u64, Vec<u8>)> = all(input, block, 100)
                .into_iter()
                .map(|(n, l, _)| (n, l))
                .collect();
            assert_eq!(
                got,
                vec![
                    (1, b"a".to_vec()),
                    (2, b"bb".to_vec()),
                    (3, b"".to_vec()),
                    (4, b"ccc".to_vec()),
                    (5, b"dddd".to_vec())
                ],
                "block {block}"
            );
        }
    }

    #[test]
    fn lines_know_where_they_are_in_the_input() {
        let mut input = b"a\r\nbb\n\n".to_vec();
        input.extend(std::iter::repeat_n(b'y', 30));
        input.extend(b"\nccc\ndddd");
        for block in 1..12 {
            let mut r = BlockReader::new(&input[..], block, 10);
            let mut seen = Vec::new();
            while let Some(b) = r.next_block().unwrap() {
                for (n, l) in lines(&b) {
                    if b.too_long.iter().any(|&(t, _)| t == n) {
                        continue;
                    }
                    let at = usize::try_from(line_offset(&b, l)).unwrap();
                    assert_eq!(&input[at..at + l.len()], l, "block {block}, line {n}");
                    seen.push(n);
                }
            }
            assert_eq!(seen, [1, 2, 3, 5, 6], "block {block}");
        }
    }

    #[test]
    fn a_line_over_the_limit_is_skipped_and_measured() {
        let mut input = b"x\n".to_vec();
        input.extend(std::iter::repeat_n(b'y', 50));
        input.extend(b"\nz\n");
        let got = all(&input, 4, 10);
        let long: Vec<_> = got.iter().flat_map(|(_, _, t)| t.clone()).collect();
        assert_eq!(long, vec![(2, 50)]);
        let kept: Vec<(u64, Vec<u8>)> = got.into_iter().map(|(n, l, _)| (n, l)).collect();
        assert_eq!(
            kept,
            vec![(1, b"x".to_vec()), (2, Vec::new()), (3, b"z".to_vec())]
        );
    }
}
