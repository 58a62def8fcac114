//! Dates as Elasticsearch's `date` and `date_nanos` fields read them: a
//! mapping's `format` (`||`-separated alternatives, the first that parses
//! wins), parsed to nanoseconds since the Unix epoch.
//!
//! Supported: the built-in formats `strict_date_optional_time` (the default
//! with `epoch_millis`), `date_optional_time`, `strict_date_optional_time_nanos`,
//! `iso8601`, `epoch_millis`, `epoch_second`, the `[strict_]date`,
//! `[strict_]date_time[_no_millis]`, `[strict_]date_hour[_minute[_second[_millis|_fraction]]]`,
//! `[strict_]year[_month[_day]]`, `[strict_]hour_minute_second`, `basic_date`,
//! `basic_date_time[_no_millis]` formats, and custom `java.time` patterns made
//! of `y u M d H m s S` fields, offsets (`X x Z`), quoted text, `[...]`
//! optional sections and punctuation. Other formats (text month names, week
//! dates, zone names) are reported when the mapping is read.
//!
//! A *round-up* parse fills the fields a string leaves out with their largest
//! value, as Elasticsearch does for the upper bound of a range and for the `gt`
//! bound: hour 23, minute 59, second 59, nanosecond 999 999 999 (month and day
//! stay 1, as in Elasticsearch's round-up parser); an `epoch_millis` value
//! without a fraction gets 999 999 ns, an `epoch_second` value 999 999 999 ns.

use std::fmt;

/// A date format: alternatives tried in order.
///
/// ```
/// use eql_plan::mapping::DateFormat;
/// let f = DateFormat::default();
/// assert_eq!(f.parse("1970-01-01T00:00:01Z", false), Some(1_000_000_000));
/// assert_eq!(f.parse("1500000", false), Some(1_500_000_000_000)); // epoch_millis
/// assert_eq!(f.parse("1500", false), Some(-14_831_769_600_000_000_000)); // the year 1500
/// // Round-up fills what the string leaves out.
/// assert_eq!(f.parse("1970-01-01T00:00:01Z", true), Some(1_999_999_999));
/// assert_eq!(f.parse("not a date", false), None);
/// ```
#[derive(Clone)]
pub struct DateFormat {
    spec: String,
    alts: Vec<Alt>,
}

impl fmt::Debug for DateFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DateFormat({:?})", self.spec)
    }
}

impl PartialEq for DateFormat {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

impl Default for DateFormat {
    /// `strict_date_optional_time||epoch_millis`, Elasticsearch's default.
    fn default() -> Self {
        DateFormat {
            spec: DEFAULT_FORMAT.to_owned(),
            alts: vec![Alt::Pattern(optional_time()), Alt::EpochMillis],
        }
    }
}

/// Elasticsearch's default `format` of a `date` field.
pub const DEFAULT_FORMAT: &str = "strict_date_optional_time||epoch_millis";

#[derive(Clone, Debug)]
enum Alt {
    EpochMillis,
    EpochSecond,
    Pattern(Vec<Item>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Year,
    /// Two-digit year, 2000-based.
    Year2,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

#[derive(Clone, Debug)]
enum Item {
    Num {
        part: Part,
        min: usize,
        max: usize,
    },
    /// Fraction of a second, `min..=max` digits, after `sep` when set.
    Frac {
        sep: Option<u8>,
        min: usize,
        max: usize,
    },
    Lit(u8),
    /// `Z`, `UTC`, `GMT` or `±HH[[:]MM[[:]SS]]`.
    Offset,
    Opt(Vec<Item>),
}

/// The fields a string set, before defaults.
#[derive(Clone, Copy, Debug, Default)]
struct Parts {
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
    hour: Option<i64>,
    minute: Option<i64>,
    second: Option<i64>,
    nano: Option<i64>,
    offset: Option<i64>,
}

impl DateFormat {
    /// Reads a mapping's `format` value.
    ///
    /// ```
    /// use eql_plan::mapping::DateFormat;
    /// let f = DateFormat::parse_spec("yyyy-MM-dd HH:mm:ss||epoch_second").unwrap();
    /// assert_eq!(f.parse("1970-01-02 00:00:00", false), Some(86_400_000_000_000));
    /// assert_eq!(f.parse("2", false), Some(2_000_000_000));
    /// assert!(DateFormat::parse_spec("MMM dd").is_err());
    /// ```
    pub fn parse_spec(spec: &str) -> Result<DateFormat, String> {
        let mut alts = Vec::new();
        for alt in spec.split("||") {
            let name = alt.trim();
            alts.push(named(name).map_or_else(|| pattern(name).map(Alt::Pattern), Ok)?);
        }
        Ok(DateFormat {
            spec: spec.to_owned(),
            alts,
        })
    }

    /// The format as written in the mapping.
    pub fn spec(&self) -> &str {
        &self.spec
    }

    /// Nanoseconds since the Unix epoch of `s` under the first alternative
    /// that reads it (UTC unless the string has an offset); `None` when none
    /// does or the date is out of range. `round_up` fills missing fields with
    /// their largest value.
    pub fn parse(&self, s: &str, round_up: bool) -> Option<i128> {
        self.alts.iter().find_map(|a| match a {
            Alt::EpochMillis => epoch(s, 6, 1_000_000, round_up),
            Alt::EpochSecond => epoch(s, 9, 1_000_000_000, round_up),
            Alt::Pattern(items) => {
                let b = s.as_bytes();
                let mut parts = Parts::default();
                let at = run(items, b, 0, &mut parts)?;
                if at != b.len() {
                    return None;
                }
                instant(&parts, round_up)
            }
        })
    }

    /// [`DateFormat::parse`] of a number, as Elasticsearch reads a number
    /// given for a date in a query: always epoch milliseconds (a fraction
    /// holds the nanoseconds).
    pub fn parse_millis_number(text: &str, round_up: bool) -> Option<i128> {
        epoch(text, 6, 1_000_000, round_up)
    }
}

/// `-?digits(.digits{0,frac})?` in units of `unit` nanoseconds.
fn epoch(s: &str, frac: usize, unit: i128, round_up: bool) -> Option<i128> {
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (int, fr) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    if int.is_empty() || int.len() > 19 || !int.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let whole: i128 = int.parse().ok()?;
    let mut sub: i128 = 0;
    match fr {
        Some(f) if !f.is_empty() => {
            if f.len() > frac || !f.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let mut scale = unit / 10;
            for c in f.bytes() {
                sub += i128::from(c - b'0') * scale;
                scale /= 10;
            }
        }
        _ => {
            if round_up {
                sub = unit - 1;
            }
        }
    }
    let v = whole * unit + sub;
    Some(if neg { -v } else { v })
}

fn named(name: &str) -> Option<Alt> {
    let bare = name.strip_prefix("strict_").unwrap_or(name);
    let p = |s: &str| pattern(s).ok().map(Alt::Pattern);
    match bare {
        "epoch_millis" => Some(Alt::EpochMillis),
        "epoch_second" => Some(Alt::EpochSecond),
        "date_optional_time" | "date_optional_time_nanos" | "iso8601" => {
            Some(Alt::Pattern(optional_time()))
        }
        "date" | "year_month_day" => p("yyyy-MM-dd"),
        "year_month" => p("yyyy-MM"),
        "year" => p("yyyy"),
        "date_time" => {
            let mut items = date_time_fraction();
            items.push(Item::Opt(vec![Item::Offset]));
            Some(Alt::Pattern(items))
        }
        "date_time_no_millis" => p("yyyy-MM-dd'T'HH:mm:ss[XXX]"),
        "date_hour" => p("yyyy-MM-dd'T'HH"),
        "date_hour_minute" => p("yyyy-MM-dd'T'HH:mm"),
        "date_hour_minute_second" => p("yyyy-MM-dd'T'HH:mm:ss"),
        "date_hour_minute_second_millis" | "date_hour_minute_second_fraction" => {
            Some(Alt::Pattern(date_time_fraction()))
        }
        "hour_minute_second" => p("HH:mm:ss"),
        "basic_date" => p("yyyyMMdd"),
        "basic_date_time" => p("yyyyMMdd'T'HHmmss.SSSXX"),
        "basic_date_time_no_millis" => p("yyyyMMdd'T'HHmmssXX"),
        _ => None,
    }
}

/// `yyyy-MM-dd'T'HH:mm:ss.S` with one to nine fraction digits.
fn date_time_fraction() -> Vec<Item> {
    vec![
        num(Part::Year, 4, 4),
        Item::Lit(b'-'),
        num(Part::Month, 2, 2),
        Item::Lit(b'-'),
        num(Part::Day, 2, 2),
        Item::Lit(b'T'),
        num(Part::Hour, 2, 2),
        Item::Lit(b':'),
        num(Part::Minute, 2, 2),
        Item::Lit(b':'),
        num(Part::Second, 2, 2),
        Item::Frac {
            sep: Some(b'.'),
            min: 1,
            max: 9,
        },
    ]
}

fn num(part: Part, min: usize, max: usize) -> Item {
    Item::Num { part, min, max }
}

/// `strict_date_optional_time`:
/// `yyyy[-MM[-dd]]['T'[HH[:mm[:ss[.f][,f]]]][offset][offset]]`, fractions of
/// 1 to 9 digits.
fn optional_time() -> Vec<Item> {
    let frac = |sep| Item::Frac {
        sep: Some(sep),
        min: 1,
        max: 9,
    };
    vec![
        num(Part::Year, 4, 4),
        Item::Opt(vec![
            Item::Lit(b'-'),
            num(Part::Month, 2, 2),
            Item::Opt(vec![Item::Lit(b'-'), num(Part::Day, 2, 2)]),
        ]),
        Item::Opt(vec![
            Item::Lit(b'T'),
            Item::Opt(vec![
                num(Part::Hour, 2, 2),
                Item::Opt(vec![
                    Item::Lit(b':'),
                    num(Part::Minute, 2, 2),
                    Item::Opt(vec![
                        Item::Lit(b':'),
                        num(Part::Second, 2, 2),
                        Item::Opt(vec![frac(b'.')]),
                        Item::Opt(vec![frac(b',')]),
                    ]),
                ]),
            ]),
            Item::Opt(vec![Item::Offset]),
        ]),
    ]
}

/// A `java.time` pattern.
fn pattern(p: &str) -> Result<Vec<Item>, String> {
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0usize;
    let items = pattern_items(&chars, &mut i, 0, p)?;
    if i < chars.len() {
        return Err(format!("unsupported date format [{p}]: unbalanced `]`"));
    }
    if items.is_empty() {
        return Err(format!("unsupported date format [{p}]"));
    }
    Ok(items)
}

fn pattern_items(
    chars: &[char],
    i: &mut usize,
    depth: usize,
    whole: &str,
) -> Result<Vec<Item>, String> {
    let unsupported = |why: &str| format!("unsupported date format [{whole}]: {why}");
    let mut out: Vec<Item> = Vec::new();
    while let Some(&c) = chars.get(*i) {
        match c {
            '[' => {
                *i += 1;
                let inner = pattern_items(chars, i, depth + 1, whole)?;
                if chars.get(*i) != Some(&']') {
                    return Err(unsupported("unbalanced `[`"));
                }
                *i += 1;
                out.push(Item::Opt(inner));
            }
            ']' => {
                if depth == 0 {
                    return Err(unsupported("unbalanced `]`"));
                }
                return Ok(out);
            }
            '\'' => {
                *i += 1;
                if chars.get(*i) == Some(&'\'') {
                    out.push(Item::Lit(b'\''));
                    *i += 1;
                    continue;
                }
                loop {
                    match chars.get(*i) {
                        None => return Err(unsupported("unterminated quote")),
                        Some('\'') => {
                            if chars.get(*i + 1) == Some(&'\'') {
                                out.push(Item::Lit(b'\''));
                                *i += 2;
                            } else {
                                *i += 1;
                                break;
                            }
                        }
                        Some(&q) => {
                            let mut buf = [0u8; 4];
                            for b in q.encode_utf8(&mut buf).bytes() {
                                out.push(Item::Lit(b));
                            }
                            *i += 1;
                        }
                    }
                }
            }
            c if c.is_ascii_alphabetic() => {
                let mut n = 0usize;
                while chars.get(*i + n) == Some(&c) {
                    n += 1;
                }
                *i += n;
                let item = match (c, n) {
                    ('y' | 'u', 2) => num(Part::Year2, 2, 2),
                    ('y' | 'u', _) => num(Part::Year, n.max(1), 9),
                    ('M', 1 | 2) => num(Part::Month, n, 2),
                    ('d', 1 | 2) => num(Part::Day, n, 2),
                    ('H', 1 | 2) => num(Part::Hour, n, 2),
                    ('m', 1 | 2) => num(Part::Minute, n, 2),
                    ('s', 1 | 2) => num(Part::Second, n, 2),
                    ('S', 1..=9) => Item::Frac {
                        sep: None,
                        min: n,
                        max: n,
                    },
                    ('X' | 'x' | 'Z', 1..=5) => Item::Offset,
                    _ => {
                        return Err(unsupported(&format!(
                            "the pattern letter `{}` is not supported",
                            String::from(c).repeat(n)
                        )))
                    }
                };
                out.push(item);
            }
            c if c.is_ascii() && !c.is_ascii_control() => {
                out.push(Item::Lit(c as u8));
                *i += 1;
            }
            _ => return Err(unsupported("unsupported character")),
        }
    }
    if depth > 0 {
        return Err(unsupported("unbalanced `[`"));
    }
    // A variable-width year directly followed by another number reads 4
    // digits (java.time's adjacent value parsing).
    for k in 0..out.len() {
        let next_is_num = matches!(out.get(k + 1), Some(Item::Num { .. } | Item::Frac { .. }));
        if let Some(Item::Num {
            part: Part::Year,
            min,
            max,
        }) = out.get_mut(k)
        {
            if next_is_num {
                *max = (*min).max(4);
            }
        }
    }
    Ok(out)
}

/// Runs `items` from `at`; the position after them, or `None`.
fn run(items: &[Item], b: &[u8], mut at: usize, parts: &mut Parts) -> Option<usize> {
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
                let n = b
                    .get(at..)?
                    .iter()
                    .take(*max)
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                if n < *min {
                    return None;
                }
                let mut v = 0i64;
                for c in b.get(at..at + n)? {
                    v = v * 10 + i64::from(c - b'0');
                }
                let slot = match part {
                    Part::Year => &mut parts.year,
                    Part::Year2 => {
                        v += 2000;
                        &mut parts.year
                    }
                    Part::Month => &mut parts.month,
                    Part::Day => &mut parts.day,
                    Part::Hour => &mut parts.hour,
                    Part::Minute => &mut parts.minute,
                    Part::Second => &mut parts.second,
                };
                *slot = Some(v);
                at + n
            }
            Item::Frac { sep, min, max } => {
                let mut at = at;
                if let Some(s) = sep {
                    if b.get(at) != Some(s) {
                        return None;
                    }
                    at += 1;
                }
                let n = b
                    .get(at..)?
                    .iter()
                    .take(*max)
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                if n < *min {
                    return None;
                }
                let mut v = 0i64;
                let mut scale = 100_000_000i64;
                for c in b.get(at..at + n)? {
                    v += i64::from(c - b'0') * scale;
                    scale /= 10;
                }
                parts.nano = Some(v);
                at + n
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

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// The number of days of month `m` (1–12) of year `y` (proleptic
/// Gregorian).
///
/// ```
/// assert_eq!(eql_plan::mapping::days_in_month(2024, 2), 29);
/// assert_eq!(eql_plan::mapping::days_in_month(1900, 2), 28);
/// ```
pub fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian; Howard
/// Hinnant's algorithm).
///
/// ```
/// assert_eq!(eql_plan::mapping::days_from_civil(1970, 1, 1), 0);
/// assert_eq!(eql_plan::mapping::days_from_civil(2000, 3, 1), 11_017);
/// ```
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[allow(clippy::many_single_char_names)]
fn instant(p: &Parts, round_up: bool) -> Option<i128> {
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

/// Formats nanoseconds since the epoch as `strict_date_optional_time` in UTC
/// with milliseconds (`1970-01-01T00:00:00.000Z`), or with as many fraction
/// digits as needed when `nanos` has sub-millisecond precision.
///
/// ```
/// assert_eq!(eql_plan::mapping::format_date(1_500_000_000), "1970-01-01T00:00:01.500Z");
/// assert_eq!(eql_plan::mapping::format_date(1), "1970-01-01T00:00:00.000000001Z");
/// ```
pub fn format_date(nanos: i128) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let sub = nanos.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400) as i64;
    let rem = secs.rem_euclid(86_400) as i64;
    let (y, m, d) = civil_from_days(days);
    let frac = if sub % 1_000_000 == 0 {
        format!("{:03}", sub / 1_000_000)
    } else {
        let s = format!("{sub:09}");
        s.trim_end_matches('0').to_owned()
    };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i128 = 1_000_000_000;

    #[test]
    fn strict_date_optional_time_reads_what_elasticsearch_reads() {
        let f = DateFormat::default();
        assert_eq!(f.parse("2020", false), Some(1_577_836_800 * S));
        assert_eq!(f.parse("2020-02", false), Some(1_580_515_200 * S));
        assert_eq!(f.parse("2020-02-29", false), Some(1_582_934_400 * S));
        assert_eq!(f.parse("2020-02-30", false), None);
        assert_eq!(f.parse("2019-02-29", false), None);
        assert_eq!(
            f.parse("2020-02-29T10", false),
            Some((1_582_934_400 + 36_000) * S)
        );
        assert_eq!(
            f.parse("2020-02-29T10:20:30.123456789Z", false),
            Some((1_582_934_400 + 37_230) * S + 123_456_789)
        );
        assert_eq!(
            f.parse("2020-02-29T10:20:30,5+01:00", false),
            Some((1_582_934_400 + 37_230 - 3600) * S + 500_000_000)
        );
        assert_eq!(
            f.parse("2020-02-29T10:20:30-0130", false),
            Some((1_582_934_400 + 37_230 + 5400) * S)
        );
        // Ten fraction digits, a space instead of `T`, a two-digit year.
        assert_eq!(f.parse("2020-02-29T10:20:30.1234567891Z", false), None);
        assert_eq!(f.parse("2020-02-29 10:20:30Z", false), None);
        assert_eq!(f.parse("20-02-29", false), None);
        // Epoch millis, the second alternative; a short number is not a year.
        assert_eq!(f.parse("1", false), Some(1_000_000));
        assert_eq!(f.parse("1.5", false), Some(1_500_000));
        assert_eq!(f.parse("-1", false), Some(-1_000_000));
        assert_eq!(f.parse("", false), None);
    }

    #[test]
    fn round_up_fills_the_missing_fields_with_their_largest_value() {
        let f = DateFormat::default();
        let day = 1_582_934_400 * S;
        assert_eq!(f.parse("2020-02-29", true), Some(day + 86_400 * S - 1));
        assert_eq!(
            f.parse("2020-02-29T10:20", true),
            Some(day + 37_259 * S + S - 1)
        );
        assert_eq!(
            f.parse("2020-02-29T10:20:30.5Z", true),
            Some(day + 37_230 * S + 500_000_000)
        );
        // Month and day stay 1, as in Elasticsearch.
        assert_eq!(
            f.parse("2020-02", true),
            Some(1_580_515_200 * S + 86_400 * S - 1)
        );
        assert_eq!(f.parse("7", true), Some(7_999_999));
        assert_eq!(f.parse("7.1", true), Some(7_100_000));
    }

    #[test]
    fn custom_patterns_and_named_formats() {
        let f = DateFormat::parse_spec("yyyy/MM/dd HH:mm:ss Z||yyyy/MM/dd Z").unwrap();
        assert_eq!(
            f.parse("1970/01/02 00:00:00 +0100", false),
            Some(82_800 * S)
        );
        assert_eq!(f.parse("1970/01/02 Z", false), Some(86_400 * S));
        let f = DateFormat::parse_spec("basic_date_time").unwrap();
        assert_eq!(
            f.parse("19700102T000001.250Z", false),
            Some(86_401 * S + 250_000_000)
        );
        let f = DateFormat::parse_spec("epoch_second").unwrap();
        assert_eq!(f.parse("12.5", false), Some(12 * S + 500_000_000));
        assert_eq!(f.parse("12", true), Some(13 * S - 1));
        let f = DateFormat::parse_spec("dd.MM.yyyy['T'HH:mm]").unwrap();
        assert_eq!(f.parse("02.01.1970", false), Some(86_400 * S));
        assert_eq!(f.parse("02.01.1970T01:00", false), Some(90_000 * S));
        let f = DateFormat::parse_spec("yyyyMMdd").unwrap();
        assert_eq!(f.parse("19700102", false), Some(86_400 * S));
        assert!(DateFormat::parse_spec("EEE, dd MMM yyyy").is_err());
        assert!(DateFormat::parse_spec("yyyy-MM-dd[").is_err());
        assert!(DateFormat::parse_spec("yyyy-MM-dd'T").is_err());
    }

    #[test]
    fn dates_format_back() {
        for n in [
            0i128,
            -1,
            1_582_934_400 * S + 123_000_000,
            253_402_300_799 * S,
        ] {
            let text = format_date(n);
            assert_eq!(DateFormat::default().parse(&text, false), Some(n), "{text}");
        }
        assert_eq!(format_date(-S), "1969-12-31T23:59:59.000Z");
    }
}
