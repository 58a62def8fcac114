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

mod calendar;
mod pattern;
mod scan;

pub use calendar::{days_from_civil, days_in_month, format_date};

use pattern::{named, optional_time, pattern, Item};
use scan::{instant, run, Parts};
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
