//! Date patterns: the named formats and `java.time` patterns a mapping's
//! `format` is made of, compiled into [`Item`]s.

use super::Alt;

/// The calendar field a number of a pattern sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Part {
    Year,
    /// Two-digit year, 2000-based.
    Year2,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

/// One step of a compiled pattern.
#[derive(Clone, Debug)]
pub(super) enum Item {
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

/// A built-in format by name (`strict_` or not); `None` for a name that is
/// not one.
pub(super) fn named(name: &str) -> Option<Alt> {
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
pub(super) fn optional_time() -> Vec<Item> {
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
pub(super) fn pattern(p: &str) -> Result<Vec<Item>, String> {
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
            '\'' => quoted(chars, i, &mut out).map_err(unsupported)?,
            c if c.is_ascii_alphabetic() => {
                let mut n = 0usize;
                while chars.get(*i + n) == Some(&c) {
                    n += 1;
                }
                *i += n;
                out.push(letters(c, n).ok_or_else(|| {
                    unsupported(&format!(
                        "the pattern letter `{}` is not supported",
                        String::from(c).repeat(n)
                    ))
                })?);
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
    adjacent_years(&mut out);
    Ok(out)
}

/// Quoted text from the `'` at `*i`: its bytes as literals (`''` is a
/// quote, inside quotes or alone).
fn quoted(chars: &[char], i: &mut usize, out: &mut Vec<Item>) -> Result<(), &'static str> {
    *i += 1;
    if chars.get(*i) == Some(&'\'') {
        out.push(Item::Lit(b'\''));
        *i += 1;
        return Ok(());
    }
    loop {
        match chars.get(*i) {
            None => return Err("unterminated quote"),
            Some('\'') => {
                if chars.get(*i + 1) == Some(&'\'') {
                    out.push(Item::Lit(b'\''));
                    *i += 2;
                } else {
                    *i += 1;
                    return Ok(());
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

/// The item of `n` pattern letters `c` in a row; `None` for those not
/// supported.
fn letters(c: char, n: usize) -> Option<Item> {
    Some(match (c, n) {
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
        _ => return None,
    })
}

/// A variable-width year directly followed by another number reads 4
/// digits (java.time's adjacent value parsing).
fn adjacent_years(items: &mut [Item]) {
    for k in 0..items.len() {
        let next_is_num = matches!(items.get(k + 1), Some(Item::Num { .. } | Item::Frac { .. }));
        if let Some(Item::Num {
            part: Part::Year,
            min,
            max,
        }) = items.get_mut(k)
        {
            if next_is_num {
                *max = (*min).max(4);
            }
        }
    }
}
