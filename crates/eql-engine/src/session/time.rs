//! Timestamps and ordinals.
//!
//! Every timestamp is converted once into `i64` ticks of 100 ns since the Unix
//! epoch: that unit holds epoch milliseconds, RFC 3339 fractions down to 100 ns
//! and Windows FILETIME values (100 ns ticks since 1601) without loss.

use eql_plan::Value;

/// How the timestamp field is read.
///
/// ```
/// use eql_engine::TimestampFormat;
/// assert_eq!(TimestampFormat::default(), TimestampFormat::Auto);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampFormat {
    /// Numbers and strings of digits are epoch milliseconds; other strings are RFC 3339.
    #[default]
    Auto,
    /// Epoch milliseconds (a number or a string of digits).
    EpochMillis,
    /// RFC 3339 / ISO 8601 strings (`2024-01-02T03:04:05.678Z`).
    Rfc3339,
    /// Windows FILETIME: 100 ns ticks since 1601-01-01 (the Python EQL fixtures).
    FileTime,
}

/// Ticks (100 ns) per millisecond.
pub(crate) const TICKS_PER_MS: i64 = 10_000;
/// FILETIME of the Unix epoch.
const FILETIME_UNIX: i64 = 116_444_736_000_000_000;

/// Reads a timestamp as ticks since the Unix epoch; `None` when absent or unreadable.
pub(crate) fn parse_ts(v: &Value<'_>, format: TimestampFormat) -> Option<i64> {
    match (format, v) {
        (TimestampFormat::FileTime, Value::Int(i)) => Some(i.saturating_sub(FILETIME_UNIX)),
        (TimestampFormat::FileTime, Value::Float(f)) if f.is_finite() => {
            Some((*f as i64).saturating_sub(FILETIME_UNIX))
        }
        (TimestampFormat::FileTime, Value::Str(s)) => s
            .trim()
            .parse::<i64>()
            .ok()
            .map(|i| i.saturating_sub(FILETIME_UNIX)),
        (TimestampFormat::Auto | TimestampFormat::EpochMillis, Value::Int(i)) => {
            Some(i.saturating_mul(TICKS_PER_MS))
        }
        (TimestampFormat::Auto | TimestampFormat::EpochMillis, Value::Float(f))
            if f.is_finite() =>
        {
            Some((f * TICKS_PER_MS as f64) as i64)
        }
        (TimestampFormat::EpochMillis, Value::Str(s)) => s
            .trim()
            .parse::<i64>()
            .ok()
            .map(|i| i.saturating_mul(TICKS_PER_MS)),
        (TimestampFormat::Auto, Value::Str(s)) => {
            let t = s.trim();
            if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
                t.parse::<i64>()
                    .ok()
                    .map(|i| i.saturating_mul(TICKS_PER_MS))
            } else {
                parse_rfc3339(t)
            }
        }
        (TimestampFormat::Rfc3339, Value::Str(s)) => parse_rfc3339(s.trim()),
        (_, Value::Array(a)) if a.len() == 1 => a.first().and_then(|x| parse_ts(x, format)),
        _ => None,
    }
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let s = b.get(at..at + n)?;
    let mut v = 0i64;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD[(T| )HH:MM[:SS[.frac]]][Z|±HH[:]MM]`; a bare date is midnight UTC.
#[allow(clippy::many_single_char_names)]
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let y = digits(b, 0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let mo = digits(b, 5, 2)?;
    let d = digits(b, 8, 2)?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = days_from_civil(y, mo, d) * 86_400;
    let mut ticks = 0i64;
    let mut i = 10;
    if matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        let h = digits(b, 11, 2)?;
        if b.get(13) != Some(&b':') {
            return None;
        }
        let mi = digits(b, 14, 2)?;
        secs += h * 3600 + mi * 60;
        i = 16;
        if b.get(16) == Some(&b':') {
            secs += digits(b, 17, 2)?;
            i = 19;
            if matches!(b.get(19), Some(b'.' | b',')) {
                i = 20;
                let mut scale = 1_000_000i64;
                while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
                    ticks += i64::from(c - b'0') * scale;
                    scale /= 10;
                    i += 1;
                }
            }
        }
    }
    match b.get(i) {
        None => {}
        Some(b'Z' | b'z') if i + 1 == b.len() => {}
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(b, i + 1, 2)?;
            let om = if b.get(i + 3) == Some(&b':') {
                digits(b, i + 4, 2)?
            } else {
                digits(b, i + 3, 2).unwrap_or(0)
            };
            let off = oh * 3600 + om * 60;
            secs -= if sign == b'+' { off } else { -off };
        }
        _ => return None,
    }
    secs.checked_mul(10_000_000)?.checked_add(ticks)
}

/// The position of an event in the stream: (timestamp, tiebreaker with nulls
/// last, arrival).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Ordinal {
    pub(crate) ts: i64,
    pub(crate) tie_missing: bool,
    pub(crate) tie: i64,
    pub(crate) arrival: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z"), Some(15_000_000));
        assert_eq!(
            parse_rfc3339("2024-03-01T10:00:00+01:00"),
            parse_rfc3339("2024-03-01T09:00:00Z")
        );
        assert_eq!(parse_rfc3339("2000-01-01"), Some(946_684_800 * 10_000_000));
        assert_eq!(parse_rfc3339("nope"), None);
        assert_eq!(
            parse_ts(&Value::Int(1000), TimestampFormat::Auto),
            Some(10_000_000)
        );
    }
}
