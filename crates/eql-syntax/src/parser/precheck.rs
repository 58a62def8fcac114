//! What runs before pest: length and depth limits, and unterminated strings
//! and comments, checked (pest has no guard against deep recursion); then
//! comments blanked out.

use super::{err, PResult};
use crate::{ParseErrorKind, ParseOptions, Span};

/// Length and depth limits, and unterminated strings, checked before pest
/// runs; returns the deepest nesting seen. (Long: one pass over the bytes
/// whose arms share the depth, unary and operator counts; strings and
/// comments are skipped by functions of their own.)
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
    let mut i = 0;
    let mut depth = 0usize;
    let mut unary = 0usize;
    // Binary operators build left-nested trees; bound their number so that
    // printing and dropping the tree stays within the stack.
    let max_ops = opts.max_depth.saturating_mul(32);
    let mut ops = 0usize;
    let mut max_seen = 0usize;
    let too_deep = |at: usize| {
        err(
            ParseErrorKind::TooDeep {
                max: opts.max_depth,
            },
            Span::new(at as u32, at as u32 + 1),
        )
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(b, i)?;
                continue;
            }
            b'"' | b'\'' | b'`' => {
                i = skip_quoted(src, i)?;
                unary = 0;
                continue;
            }
            b'(' | b'[' => {
                depth += 1;
                if depth + unary > opts.max_depth {
                    return too_deep(i);
                }
                unary = 0;
            }
            b')' | b']' => {
                depth = depth.saturating_sub(1);
                unary = 0;
            }
            b'-' | b'+' | b'*' | b'/' | b'%' | b'<' | b'>' | b'=' | b'!' | b':' | b'a' | b'o'
                if (c != b'a' && c != b'o')
                    || ((i == 0 || !is_ident_byte(b[i - 1]))
                        && (b[i..].starts_with(b"and")
                            && !b.get(i + 3).is_some_and(|&x| is_ident_byte(x))
                            || b[i..].starts_with(b"or")
                                && !b.get(i + 2).is_some_and(|&x| is_ident_byte(x)))) =>
            {
                ops += 1;
                if ops > max_ops {
                    return too_deep(i);
                }
                if c == b'-' || c == b'+' {
                    unary += 1;
                    if depth + unary > opts.max_depth {
                        return too_deep(i);
                    }
                } else if c == b'a' || c == b'o' {
                    unary = 0;
                }
            }
            b'n' if b[i..].starts_with(b"not")
                && (i == 0 || !is_ident_byte(b[i - 1]))
                && !b.get(i + 3).is_some_and(|&x| is_ident_byte(x)) =>
            {
                unary += 1;
                if depth + unary > opts.max_depth {
                    return too_deep(i);
                }
                max_seen = max_seen.max(depth + unary);
                i += 3;
                continue;
            }
            c if c.is_ascii_whitespace() => {}
            _ => unary = 0,
        }
        max_seen = max_seen.max(depth + unary);
        i += 1;
    }
    Ok(max_seen)
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
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
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
