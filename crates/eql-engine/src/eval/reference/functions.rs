//! Functions, arithmetic and string helpers of both dialects.
#![allow(clippy::many_single_char_names)]

use crate::eval::reference::text::{find, from_units, rfind, to_string, units};
use crate::eval::reference::{Ctx, Env, V};
use eql_plan::Value;
use eql_syntax::{BinaryOp, Expr, ExprKind, PathSegment};

/// Full-Unicode lowercase (Java `toLowerCase(Locale.ROOT)`).
pub(crate) fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// Glob match over chars: `*` any run, `?` one char when `question` is set.
pub(crate) fn glob(s: &str, pat: &str, ci: bool, question: bool) -> bool {
    let (s, p): (Vec<char>, Vec<char>) = if ci {
        (fold(s).chars().collect(), fold(pat).chars().collect())
    } else {
        (s.chars().collect(), pat.chars().collect())
    };
    let (mut i, mut j) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if j < p.len() && p[j] == '*' {
            // `*` is always a wildcard, even against a literal `*`.
            star = Some((j, i));
            j += 1;
        } else if j < p.len() && (p[j] == s[i] || (question && p[j] == '?')) {
            i += 1;
            j += 1;
        } else if let Some((sj, si)) = star {
            j = sj + 1;
            i = si + 1;
            star = Some((sj, si + 1));
        } else {
            return false;
        }
    }
    while j < p.len() && p[j] == '*' {
        j += 1;
    }
    j == p.len()
}

fn is_num(v: &Value<'_>) -> bool {
    matches!(v, Value::Int(_) | Value::Float(_))
}

fn as_f64(v: &Value<'_>) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        _ => f64::NAN,
    }
}

/// Arithmetic with Java (ES) or Python (PY) integer semantics; `None` on
/// overflow, division by zero or non-numbers.
pub(crate) fn arith(py: bool, op: BinaryOp, l: &Value<'_>, r: &Value<'_>) -> V {
    if !is_num(l) || !is_num(r) {
        return None;
    }
    if let (Value::Int(a), Value::Int(b)) = (l, r) {
        let (a, b) = (*a, *b);
        let out = match op {
            BinaryOp::Add => a.checked_add(b),
            BinaryOp::Sub => a.checked_sub(b),
            BinaryOp::Mul => a.checked_mul(b),
            BinaryOp::Div => {
                if py {
                    if b == 0 {
                        None
                    } else {
                        let q = a.checked_div(b)?;
                        Some(if (a % b != 0) && ((a < 0) != (b < 0)) {
                            q - 1
                        } else {
                            q
                        })
                    }
                } else {
                    a.checked_div(b)
                }
            }
            BinaryOp::Mod => {
                if py {
                    if b == 0 {
                        None
                    } else {
                        let m = a.checked_rem(b)?;
                        Some(if m != 0 && ((m < 0) != (b < 0)) {
                            m + b
                        } else {
                            m
                        })
                    }
                } else {
                    a.checked_rem(b)
                }
            }
            _ => None,
        };
        if out.is_none() && py && !matches!(op, BinaryOp::Div | BinaryOp::Mod) {
            // Python integers are unbounded: fall back to floats.
            let (x, y) = (a as f64, b as f64);
            return Some(Value::Float(match op {
                BinaryOp::Add => x + y,
                BinaryOp::Sub => x - y,
                _ => x * y,
            }));
        }
        return out.map(Value::Int);
    }
    let (x, y) = (as_f64(l), as_f64(r));
    let out = match op {
        BinaryOp::Add => x + y,
        BinaryOp::Sub => x - y,
        BinaryOp::Mul => x * y,
        BinaryOp::Div => {
            if py && y == 0.0 {
                return None;
            }
            x / y
        }
        BinaryOp::Mod => {
            if py {
                if y == 0.0 {
                    return None;
                }
                x - y * (x / y).floor()
            } else {
                x % y
            }
        }
        _ => return None,
    };
    Some(Value::Float(out))
}

fn s_of(v: &V) -> Option<&str> {
    match v {
        Some(Value::Str(s)) => Some(s),
        _ => None,
    }
}

fn int_of(v: &V) -> Option<i64> {
    match v {
        Some(Value::Int(i)) => Some(*i),
        Some(Value::Float(f)) if f.fract() == 0.0 => Some(*f as i64),
        _ => None,
    }
}

fn b(x: bool) -> V {
    Some(Value::Bool(x))
}

/// Evaluates a function call: one arm per function of both dialects; the
/// longer ones are functions of their own.
pub(crate) fn call(ctx: &Ctx<'_>, name: &str, insensitive: bool, args: &[Expr], env: &Env) -> V {
    let py = ctx.py();
    let lower = name.to_ascii_lowercase();
    let ci = if py { ctx.ci } else { insensitive };
    // Functions with special argument handling first.
    match lower.as_str() {
        "arraycount" | "arraysearch" => return array_loop(ctx, &lower, args, env),
        "safe" => return ctx.eval(args.first()?, env),
        _ => {}
    }
    let vals: Vec<V> = args.iter().map(|a| ctx.eval(a, env)).collect();
    let arg = |i: usize| -> &V { vals.get(i).unwrap_or(&None) };
    match lower.as_str() {
        "add" | "subtract" | "multiply" | "divide" | "modulo" => {
            let op = match lower.as_str() {
                "add" => BinaryOp::Add,
                "subtract" => BinaryOp::Sub,
                "multiply" => BinaryOp::Mul,
                "divide" => BinaryOp::Div,
                _ => BinaryOp::Mod,
            };
            arith(py, op, arg(0).as_ref()?, arg(1).as_ref()?)
        }
        "between" => between_call(py, ci, &vals),
        "cidrmatch" => cidr_match(py, &vals),
        "concat" => {
            let mut out = String::new();
            for v in &vals {
                out.push_str(&to_string(py, v.as_ref()?));
            }
            Some(Value::Str(out.into()))
        }
        "endswith" | "startswith" => affix(lower == "endswith", ci, &vals),
        "stringcontains" => string_contains(py, ci, &vals),
        "indexof" => index_of(py, ci, &vals),
        "length" => length(py, arg(0).as_ref()?),
        "number" => number_call(py, &vals),
        "string" => Some(Value::Str(to_string(py, arg(0).as_ref()?).into())),
        "substring" => substring(py, &vals),
        "arraycontains" => array_contains(ctx, &vals),
        "wildcard" => {
            let s = s_of(arg(0))?;
            b(vals
                .get(1..)
                .unwrap_or(&[])
                .iter()
                .any(|p| s_of(p).is_some_and(|p| glob(s, p, ctx.ci, false))))
        }
        "match" | "matchlite" => match_any(ctx, &vals),
        _ => None,
    }
}

/// `between(s, left, right[, greedy[, case_sensitive]])`.
fn between_call(py: bool, ci: bool, vals: &[V]) -> V {
    let arg = |i: usize| -> &V { vals.get(i).unwrap_or(&None) };
    let s = s_of(arg(0))?;
    let left = s_of(arg(1))?;
    let right = s_of(arg(2))?;
    let greedy = matches!(arg(3), Some(Value::Bool(true)));
    let ci = ci || (py && matches!(arg(4), Some(Value::Bool(false))));
    let ci = if py && matches!(arg(4), Some(Value::Bool(true))) {
        false
    } else {
        ci
    };
    between(py, s, left, right, greedy, ci)
}

/// `cidrMatch(ip, cidr...)`.
fn cidr_match(py: bool, vals: &[V]) -> V {
    let Some(ip) = s_of(vals.first().unwrap_or(&None)) else {
        return if py { b(false) } else { None };
    };
    let ip = eql_plan::Cidr::address(ip)?;
    for c in vals.get(1..).unwrap_or(&[]) {
        if let Some(c) = s_of(c) {
            if eql_plan::Cidr::parse(c).is_some_and(|net| net.contains(ip)) {
                return b(true);
            }
        } else if !py {
            return None;
        }
    }
    b(false)
}

/// `endsWith(s, sub)` (`ends`) or `startsWith(s, sub)`.
fn affix(ends: bool, ci: bool, vals: &[V]) -> V {
    let arg = |i: usize| -> &V { vals.get(i).unwrap_or(&None) };
    let s = s_of(arg(0))?;
    let sub = s_of(arg(1))?;
    let (s, sub) = if ci {
        (fold(s), fold(sub))
    } else {
        (s.to_owned(), sub.to_owned())
    };
    b(if ends {
        s.ends_with(&sub)
    } else {
        s.starts_with(&sub)
    })
}

/// `stringContains(s, sub)`.
fn string_contains(py: bool, ci: bool, vals: &[V]) -> V {
    let arg = |i: usize| -> &V { vals.get(i).unwrap_or(&None) };
    let Some(s) = s_of(arg(0)) else {
        return if py { b(false) } else { None };
    };
    let sub = s_of(arg(1))?;
    if !py && (s.is_empty() || sub.is_empty()) {
        return b(false);
    }
    if ci {
        b(fold(s).contains(&fold(sub)))
    } else {
        b(s.contains(sub))
    }
}

/// `length(v)`: a string's units of the dialect; in Python also an array's
/// or object's size.
fn length(py: bool, v: &Value<'_>) -> V {
    match v {
        Value::Str(s) => Some(Value::Int(if py {
            s.chars().count()
        } else {
            s.encode_utf16().count()
        } as i64)),
        Value::Array(a) if py => Some(Value::Int(a.len() as i64)),
        Value::Object(o) if py => Some(Value::Int(o.len() as i64)),
        _ => None,
    }
}

/// `number(s[, base])`.
fn number_call(py: bool, vals: &[V]) -> V {
    let arg = |i: usize| -> &V { vals.get(i).unwrap_or(&None) };
    let base = match arg(1) {
        None => 10,
        v => int_of(v)?,
    };
    match arg(0).as_ref()? {
        x @ (Value::Int(_) | Value::Float(_)) => Some(x.clone()),
        Value::Str(s) => number(py, s, base),
        _ => None,
    }
}

/// `arrayContains(array, value...)`.
fn array_contains(ctx: &Ctx<'_>, vals: &[V]) -> V {
    let Value::Array(items) = vals.first()?.as_ref()? else {
        return None;
    };
    for v in vals.get(1..).unwrap_or(&[]) {
        let Some(v) = v else { continue };
        if items
            .iter()
            .any(|it| ctx.equal(it, v, ctx.ci) == Some(true))
        {
            return b(true);
        }
    }
    b(false)
}

/// `match(s, regex...)` / `matchLite`.
fn match_any(ctx: &Ctx<'_>, vals: &[V]) -> V {
    let s = s_of(vals.first().unwrap_or(&None))?;
    for p in vals.get(1..).unwrap_or(&[]) {
        if let Some(p) = s_of(p) {
            if ctx.regexes.is_match(s, p, true, true)? {
                return b(true);
            }
        }
    }
    b(false)
}

/// `arrayCount(array, var, cond)` / `arraySearch(array, var, cond)`
/// (Python): `cond` evaluated with `var` bound to each item.
fn array_loop(ctx: &Ctx<'_>, lower: &str, args: &[Expr], env: &Env) -> V {
    let arr = ctx.eval(args.first()?, env);
    let var = match &args.get(1)?.kind {
        ExprKind::Field(f) => match f.path.as_slice() {
            [PathSegment::Key(k)] => k.clone(),
            _ => return None,
        },
        _ => return None,
    };
    let body = args.get(2)?;
    let Some(Value::Array(items)) = arr else {
        return if lower == "arraycount" {
            Some(Value::Int(0))
        } else {
            b(false)
        };
    };
    let mut count = 0i64;
    let mut env2 = env.clone();
    env2.push((var, Value::Null));
    for item in items {
        if let Some(last) = env2.last_mut() {
            last.1 = item;
        }
        if ctx.eval(body, &env2).is_some_and(|v| ctx.truthy(&v)) {
            if lower == "arraysearch" {
                return b(true);
            }
            count += 1;
        }
    }
    if lower == "arraycount" {
        Some(Value::Int(count))
    } else {
        b(false)
    }
}

/// `indexOf(s, sub[, start])` in string units of the dialect.
fn index_of(py: bool, ci: bool, vals: &[V]) -> V {
    let arg = |i: usize| -> &V { vals.get(i).unwrap_or(&None) };
    let s = s_of(arg(0))?;
    let sub = s_of(arg(1))?;
    let (s, sub) = if ci {
        (fold(s), fold(sub))
    } else {
        (s.to_owned(), sub.to_owned())
    };
    let hay = units(py, &s);
    let needle = units(py, &sub);
    let len = hay.len() as i64;
    let start = match arg(2) {
        None if vals.len() < 3 || !py => {
            if vals.len() >= 3 && !py {
                return None;
            }
            0
        }
        None => 0,
        v => int_of(v)?,
    };
    let start = if start < 0 {
        if py {
            (start + len).max(0)
        } else {
            0
        }
    } else {
        start
    };
    if start > len {
        return None;
    }
    find(&hay, &needle, start as usize).map(|i| Value::Int(i as i64))
}

/// `substring(s[, start[, end]])` in string units of the dialect, with
/// negative positions from the end.
fn substring(py: bool, vals: &[V]) -> V {
    let arg = |i: usize| -> &V { vals.get(i).unwrap_or(&None) };
    let s = s_of(arg(0))?;
    let u = units(py, s);
    let len = u.len() as i64;
    let norm = |x: i64| -> usize {
        let x = if x < 0 { x + len } else { x };
        x.clamp(0, len) as usize
    };
    let start = match arg(1) {
        None => 0,
        v => norm(int_of(v)?),
    };
    let end = match arg(2) {
        None => u.len(),
        v => norm(int_of(v)?),
    };
    if start >= end {
        return Some(Value::Str(String::new().into()));
    }
    Some(Value::Str(from_units(py, &u[start..end]).into()))
}

fn between(py: bool, s: &str, left: &str, right: &str, greedy: bool, ci: bool) -> V {
    if !py && (s.is_empty() || left.is_empty() || right.is_empty()) {
        return Some(Value::Str(s.to_owned().into()));
    }
    let orig = units(py, s);
    let (hs, hl, hr) = if ci {
        (fold(s), fold(left), fold(right))
    } else {
        (s.to_owned(), left.to_owned(), right.to_owned())
    };
    let hay = units(py, &hs);
    let l = units(py, &hl);
    let r = units(py, &hr);
    let empty = || Some(Value::Str(String::new().into()));
    let src: &[u32] = if hay.len() == orig.len() { &orig } else { &hay };
    let Some(li) = find(&hay, &l, 0) else {
        return if py { None } else { empty() };
    };
    let start = li + l.len();
    let end = if greedy {
        let ri = rfind(&hay, &r);
        match ri {
            Some(ri) if ri >= start => ri,
            Some(_) => return None,
            None => return if py { None } else { empty() },
        }
    } else {
        match find(&hay, &r, start) {
            Some(ri) => ri,
            None => return if py { None } else { empty() },
        }
    };
    Some(Value::Str(from_units(py, &src[start..end]).into()))
}

fn number(py: bool, s: &str, base: i64) -> V {
    if py {
        // Python `ToNumber`: float when base 10 and exactly one `.`; digits in
        // the given base; otherwise only `0x` hex.
        if base == 10 && s.matches('.').count() == 1 {
            return s
                .parse::<f64>()
                .ok()
                .filter(|_| !s.contains(['e', 'E']))
                .map(Value::Float);
        }
        let digits = s.trim_start_matches(['+', '-']);
        if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
            let radix = u32::try_from(base).ok().filter(|b| (2..=36).contains(b))?;
            return i64::from_str_radix(s, radix).ok().map(Value::Int);
        }
        if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            return i64::from_str_radix(h, 16).ok().map(Value::Int);
        }
        return None;
    }
    let t = s.trim();
    let (t, base) = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) if base == 10 || base == 16 => (h, 16),
        _ => (t, base),
    };
    if base == 10 {
        if let Ok(i) = t.parse::<i64>() {
            return Some(Value::Int(i));
        }
        let f: f64 = t.parse().ok()?;
        return Some(Value::Float(f));
    }
    let radix = u32::try_from(base).ok().filter(|b| (2..=36).contains(b))?;
    i64::from_str_radix(t, radix).ok().map(Value::Int)
}
