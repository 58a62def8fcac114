//! What runs before pest: length and depth limits, and unterminated strings
//! and comments, checked (pest has no guard against deep recursion); then
//! comments blanked out.

use super::{err, PResult};
use crate::{ParseErrorKind, ParseOptions, Span};

/// Length and depth limits, and unterminated strings, checked before pest
/// runs; returns the deepest nesting seen. One pass over the bytes; strings
/// and comments are skipped whole.
pub(super) fn precheck(src: &str, opts: &ParseOptions) -> PResult<usize> {
    if src.len() > opts.max_len {
        return err(
            ParseErrorKind::TooLong {
                len: src.len(),
                max: opts.max_len,
            },
            Span::new(0, src.len().min(u32::MAX as usize) as u32),
        );
    }
    let b = src.as_bytes();
    let mut n = Nesting::new(opts.max_depth);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = skip_line_comment(b, i);
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(b, i)?;
                continue;
            }
            b'"' | b'\'' | b'`' => {
                i = skip_quoted(src, i)?;
                n.unary = 0;
                continue;
            }
            b'(' | b'[' => {
                n.depth += 1;
                n.check(i)?;
                n.unary = 0;
            }
            b')' | b']' => {
                n.depth = n.depth.saturating_sub(1);
                n.unary = 0;
            }
            b'-' | b'+' => {
                n.operator(i)?;
                n.unary += 1;
                n.check(i)?;
            }
            b'*' | b'/' | b'%' | b'<' | b'>' | b'=' | b'!' | b':' => n.operator(i)?,
            b'a' | b'o' if word_at(b, i, b"and") || word_at(b, i, b"or") => {
                n.operator(i)?;
                n.unary = 0;
            }
            b'n' if word_at(b, i, b"not") => {
                n.unary += 1;
                n.check(i)?;
                n.max_seen = n.max_seen.max(n.depth + n.unary);
                i += 3;
                continue;
            }
            c if c.is_ascii_whitespace() => {}
            _ => n.unary = 0,
        }
        n.max_seen = n.max_seen.max(n.depth + n.unary);
        i += 1;
    }
    Ok(n.max_seen)
}

/// What [`precheck`] counts: brackets open, prefix operators (`not`, signs)
/// in a row, and binary operators.
struct Nesting {
    max_depth: usize,
    depth: usize,
    unary: usize,
    /// Binary operators build left-nested trees; their number is bounded so
    /// that printing and dropping the tree stays within the stack.
    ops: usize,
    max_ops: usize,
    max_seen: usize,
}

impl Nesting {
    fn new(max_depth: usize) -> Nesting {
        Nesting {
            max_depth,
            depth: 0,
            unary: 0,
            ops: 0,
            max_ops: max_depth.saturating_mul(32),
            max_seen: 0,
        }
    }

    /// The nesting at `at` must stay within the limit.
    fn check(&self, at: usize) -> PResult<()> {
        if self.depth + self.unary > self.max_depth {
            return self.too_deep(at);
        }
        Ok(())
    }

    /// Counts an operator at `at`.
    fn operator(&mut self, at: usize) -> PResult<()> {
        self.ops += 1;
        if self.ops > self.max_ops {
            return self.too_deep(at);
        }
        Ok(())
    }

    fn too_deep(&self, at: usize) -> PResult<()> {
        err(
            ParseErrorKind::TooDeep {
                max: self.max_depth,
            },
            Span::new(at as u32, at as u32 + 1),
        )
    }
}

/// True when the keyword `word` stands at `i` as a whole word.
fn word_at(b: &[u8], i: usize, word: &[u8]) -> bool {
    b[i..].starts_with(word)
        && (i == 0 || !is_ident_byte(b[i - 1]))
        && !b.get(i + word.len()).is_some_and(|&x| is_ident_byte(x))
}

/// The position of the newline that ends the line comment opening at `start`
/// (or the end).
fn skip_line_comment(b: &[u8], start: usize) -> usize {
    b[start..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |k| start + k)
}

/// Replaces every comment with spaces (newlines kept), byte for byte, so spans
/// are unchanged and pest never sees a comment.
///
/// Why: pest retries its implicit `COMMENT` rule at every token boundary of
/// every backtracking branch, so long nested comments made parsing take minutes
/// on fuzzer input. Runs after `precheck`, which has already rejected
/// unterminated strings and comments.
pub(super) fn blank_comments(src: &str) -> std::borrow::Cow<'_, str> {
    if !src.contains("//") && !src.contains("/*") {
        return std::borrow::Cow::Borrowed(src);
    }
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for byte in &mut out[from..to] {
            if *byte != b'\n' {
                *byte = b' ';
            }
        }
    };
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                let start = i;
                i = skip_line_comment(b, i);
                blank(&mut out, start, i);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let start = i;
                i = skip_block_comment(b, i).unwrap_or(b.len());
                blank(&mut out, start, i);
            }
            b'"' | b'\'' | b'`' => i = skip_quoted(src, i).unwrap_or(b.len()),
            _ => i += 1,
        }
    }
    // Whole comments were blanked (they start and end on ASCII delimiters), so
    // no multi-byte character was cut and the result is valid UTF-8; fall back
    // to the original text if it somehow is not.
    match String::from_utf8(out) {
        Ok(s) => std::borrow::Cow::Owned(s),
        Err(_) => std::borrow::Cow::Borrowed(src),
    }
}

/// The position after the (nested) block comment opening at `start`.
fn skip_block_comment(b: &[u8], start: usize) -> PResult<usize> {
    let mut i = start;
    let mut level = 0usize;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            level += 1;
            i += 2;
        } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
            level -= 1;
            i += 2;
            if level == 0 {
                return Ok(i);
            }
        } else {
            i += 1;
        }
    }
    err(
        ParseErrorKind::UnterminatedComment,
        Span::new(start as u32, start as u32 + 2),
    )
}

/// The position after the string (`"`, `'`, `"""`) or backtick name opening
/// at `start`; an unterminated string is an error, an unterminated backtick
/// name runs to the end (the grammar reports it).
fn skip_quoted(src: &str, start: usize) -> PResult<usize> {
    let b = src.as_bytes();
    let c = b[start];
    let unterminated = || {
        err(
            ParseErrorKind::UnterminatedString,
            Span::new(start as u32, b.len() as u32),
        )
    };
    if c == b'"' && b[start..].starts_with(b"\"\"\"") {
        let Some(k) = src[start + 3..].find("\"\"\"") else {
            return unterminated();
        };
        let mut i = start + 3 + k + 3;
        while i < b.len() && b[i] == b'"' {
            i += 1;
        }
        return Ok(i);
    }
    let mut i = start + 1;
    loop {
        if i >= b.len() {
            return if c == b'`' { Ok(i) } else { unterminated() };
        }
        if b[i] == b'\\' && c != b'`' {
            i += 2;
            continue;
        }
        if b[i] == c {
            if c == b'`' && b.get(i + 1) == Some(&b'`') {
                i += 2;
                continue;
            }
            return Ok(i + 1);
        }
        i += 1;
    }
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'@'
}
