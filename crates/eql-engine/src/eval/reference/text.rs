//! Values as text and positions in strings: `toString` (ES, Java's
//! formatting) and `str` (Python), and strings as UTF-16 units (ES) or code
//! points (Python), the units `indexOf`, `substring` and `between` count in.

#![allow(clippy::many_single_char_names)]

use eql_plan::Value;

/// Java `Double.toString`.
fn java_double(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let a = f.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let s = format!("{f:?}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let s = format!("{f:E}");
        let (m, e) = s.split_once('E').unwrap_or((&s, "0"));
        let m = if m.contains('.') {
            m.to_owned()
        } else {
            format!("{m}.0")
        };
        format!("{m}E{e}")
    }
}

fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let a = f.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        let s = format!("{f:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        let sign = if e < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", e.abs());
    }
    let s = format!("{f:?}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// `toString` (ES) / `str` (PY) of a value.
pub(crate) fn to_string(py: bool, v: &Value<'_>) -> String {
    match v {
        Value::Null => if py { "None" } else { "null" }.into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => {
            if py {
                py_float(*f)
            } else {
                java_double(*f)
            }
        }
        Value::Str(s) => s.to_string(),
        Value::Array(a) => {
            let parts: Vec<String> = a
                .iter()
                .map(|x| match x {
                    Value::Str(s) if py => format!("'{s}'"),
                    other => to_string(py, other),
                })
                .collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Object(o) => {
            let parts: Vec<String> = o
                .iter()
                .map(|(k, x)| format!("'{k}': {}", to_string(py, x)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

pub(super) fn units(py: bool, s: &str) -> Vec<u32> {
    if py {
        s.chars().map(u32::from).collect()
    } else {
        s.encode_utf16().map(u32::from).collect()
    }
}

pub(super) fn from_units(py: bool, u: &[u32]) -> String {
    if py {
        u.iter().filter_map(|c| char::from_u32(*c)).collect()
    } else {
        let v: Vec<u16> = u.iter().map(|c| *c as u16).collect();
        String::from_utf16_lossy(&v)
    }
}

pub(super) fn find(hay: &[u32], needle: &[u32], start: usize) -> Option<usize> {
    if start > hay.len() {
        return None;
    }
    if needle.is_empty() {
        return Some(start);
    }
    hay[start..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + start)
}

pub(super) fn rfind(hay: &[u32], needle: &[u32]) -> Option<usize> {
    if needle.is_empty() {
        return Some(hay.len());
    }
    if needle.len() > hay.len() {
        return None;
    }
    (0..=hay.len() - needle.len())
        .rev()
        .find(|&i| hay[i..i + needle.len()] == *needle)
}
