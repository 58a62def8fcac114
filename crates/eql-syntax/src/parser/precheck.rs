//! Length and depth limits, and unterminated strings and comments, checked
//! before pest runs (pest has no guard against deep recursion).

use super::{err, PResult};
use crate::{ParseErrorKind, ParseOptions, Span};

/// Length and depth limits, and unterminated strings, checked before pest runs.
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
                let start = i;
                let mut level = 0usize;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        level += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        level -= 1;
                        i += 2;
                        if level == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                if level > 0 {
                    return err(
                        ParseErrorKind::UnterminatedComment,
                        Span::new(start as u32, start as u32 + 2),
                    );
                }
                continue;
            }
            b'"' | b'\'' | b'`' => {
                let start = i;
                if c == b'"' && b[i..].starts_with(b"\"\"\"") {
                    match src[i + 3..].find("\"\"\"") {
                        Some(k) => {
                            i += 3 + k + 3;
                            while i < b.len() && b[i] == b'"' {
                                i += 1;
                            }
                        }
                        None => {
                            return err(
                                ParseErrorKind::UnterminatedString,
                                Span::new(start as u32, b.len() as u32),
                            )
                        }
                    }
                } else {
                    let raw = c == b'`' || (start > 0 && b[start - 1] == b'?');
                    i += 1;
                    loop {
                        if i >= b.len() {
                            if c == b'`' {
                                break;
                            }
                            return err(
                                ParseErrorKind::UnterminatedString,
                                Span::new(start as u32, b.len() as u32),
                            );
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
                            i += 1;
                            break;
                        }
                        i += 1;
                    }
                    let _ = raw;
                }
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

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'@'
}
