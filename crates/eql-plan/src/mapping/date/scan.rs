//! Reading a date string with the items of a pattern, into the instant it
//! names.

use super::calendar::{days_from_civil, days_in_month};
use super::pattern::{Item, Part};

/// The fields a string set, before defaults.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Parts {
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
    hour: Option<i64>,
    minute: Option<i64>,
    second: Option<i64>,
    nano: Option<i64>,
    offset: Option<i64>,
}

/// Runs `items` from `at`; the position after them, or `None`.
pub(super) fn run(items: &[Item], b: &[u8], mut at: usize, parts: &mut Parts) -> Option<usize> {
    for item in items {
        at = match item {
            Item::Lit(c) => {
                if b.get(at) == Some(c) {
                    at + 1
                } else {
                    return None;
                }
            }
            Item::Num { part, min, max } => {
                let ds = digits(b, at, *min, *max)?;
                let mut v = 0i64;
                for c in ds {
                    v = v * 10 + i64::from(c - b'0');
                }
                parts.set(*part, v);
                at + ds.len()
            }
            Item::Frac { sep, min, max } => {
                let mut at = at;
                if let Some(s) = sep {
                    if b.get(at) != Some(s) {
                        return None;
                    }
                    at += 1;
                }
                let ds = digits(b, at, *min, *max)?;
                let mut v = 0i64;
                let mut scale = 100_000_000i64;
                for c in ds {
                    v += i64::from(c - b'0') * scale;
                    scale /= 10;
                }
                parts.nano = Some(v);
                at + ds.len()
            }
            Item::Offset => {
                let (secs, len) = offset(b.get(at..)?)?;
                parts.offset = Some(secs);
                at + len
            }
            Item::Opt(inner) => {
                let saved = *parts;
                if let Some(next) = run(inner, b, at, parts) {
                    next
                } else {
                    *parts = saved;
                    at
                }
            }
        };
    }
    Some(at)
}

/// The run of `min` to `max` ASCII digits at `at`; `None` when shorter.
fn digits(b: &[u8], at: usize, min: usize, max: usize) -> Option<&[u8]> {
    let n = b
        .get(at..)?
        .iter()
        .take(max)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if n < min {
        return None;
    }
    b.get(at..at + n)
}

impl Parts {
    /// Sets the field `part` reads (a two-digit year is 2000-based).
    fn set(&mut self, part: Part, v: i64) {
        let (slot, v) = match part {
            Part::Year => (&mut self.year, v),
            Part::Year2 => (&mut self.year, v + 2000),
            Part::Month => (&mut self.month, v),
            Part::Day => (&mut self.day, v),
            Part::Hour => (&mut self.hour, v),
            Part::Minute => (&mut self.minute, v),
            Part::Second => (&mut self.second, v),
        };
        *slot = Some(v);
    }
}

/// An offset at the start of `b`: its seconds east of UTC and its length.
fn offset(b: &[u8]) -> Option<(i64, usize)> {
    match b.first()? {
        b'Z' | b'z' => return Some((0, 1)),
        b'U' if b.starts_with(b"UTC") => return Some((0, 3)),
        b'G' if b.starts_with(b"GMT") => return Some((0, 3)),
        b'+' | b'-' => {}
        _ => return None,
    }
    let sign = if b.first() == Some(&b'-') { -1 } else { 1 };
    let two = |at: usize| -> Option<i64> {
        let s = b.get(at..at + 2)?;
        if s.iter().all(u8::is_ascii_digit) {
            Some(i64::from(s[0] - b'0') * 10 + i64::from(s[1] - b'0'))
        } else {
            None
        }
    };
    let h = two(1)?;
    let mut len = 3;
    let mut secs = h * 3600;
    let colon = b.get(3) == Some(&b':');
    let at = if colon { 4 } else { 3 };
    if let Some(m) = two(at) {
        secs += m * 60;
        len = at + 2;
        let at2 = if colon { len + 1 } else { len };
        if (!colon || b.get(len) == Some(&b':')) && two(at2).is_some() {
            secs += two(at2).unwrap_or(0);
            len = at2 + 2;
        }
    }
    if h > 18 {
        return None;
    }
    Some((sign * secs, len))
}

#[allow(clippy::many_single_char_names)]
pub(super) fn instant(p: &Parts, round_up: bool) -> Option<i128> {
    let (h0, mi0, s0, n0) = if round_up {
        (23, 59, 59, 999_999_999)
    } else {
        (0, 0, 0, 0)
    };
    let y = p.year.unwrap_or(1970);
    let mo = p.month.unwrap_or(1);
    let d = p.day.unwrap_or(1);
    let h = p.hour.unwrap_or(h0);
    let mi = p.minute.unwrap_or(mi0);
    let s = p.second.unwrap_or(s0);
    let n = p.nano.unwrap_or(n0);
    if !(1..=12).contains(&mo)
        || !(1..=days_in_month(y, mo)).contains(&d)
        || !(0..24).contains(&h)
        || !(0..60).contains(&mi)
        || !(0..60).contains(&s)
        || !(-999_999_999..=999_999_999).contains(&y)
    {
        return None;
    }
    let secs = i128::from(days_from_civil(y, mo, d)) * 86_400 + i128::from(h * 3600 + mi * 60 + s)
        - i128::from(p.offset.unwrap_or(0));
    Some(secs * 1_000_000_000 + i128::from(n))
}
