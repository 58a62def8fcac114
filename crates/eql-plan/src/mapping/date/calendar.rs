//! The proleptic Gregorian calendar: days from a civil date and back, and
//! an instant formatted as Elasticsearch prints a date.

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
fn civil_from_days(z: i64) -> (i64, i64, i64) {
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
