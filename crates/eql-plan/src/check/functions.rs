//! The functions of both dialects as the checks know them: name, arity,
//! whether `~` applies, and whether only Python has them.

use eql_syntax::Dialect;

/// Known functions: (lowercase name, min args, max args, case-aware, python-only).
const FUNCTIONS: &[(&str, usize, usize, bool, bool)] = &[
    ("add", 2, 2, false, false),
    ("subtract", 2, 2, false, false),
    ("multiply", 2, 2, false, false),
    ("divide", 2, 2, false, false),
    ("modulo", 2, 2, false, false),
    ("between", 3, 5, true, false),
    ("cidrmatch", 2, usize::MAX, false, false),
    ("concat", 1, usize::MAX, false, false),
    ("endswith", 2, 2, true, false),
    ("indexof", 2, 3, true, false),
    ("length", 1, 1, false, false),
    ("number", 1, 2, false, false),
    ("startswith", 2, 2, true, false),
    ("string", 1, 1, false, false),
    ("stringcontains", 2, 2, true, false),
    ("substring", 1, 3, false, false),
    ("arraycontains", 1, usize::MAX, false, true),
    ("arraycount", 3, 3, false, true),
    ("arraysearch", 3, 3, false, true),
    ("wildcard", 1, usize::MAX, false, true),
    ("match", 1, usize::MAX, false, true),
    ("matchlite", 1, usize::MAX, false, true),
    ("safe", 1, 1, false, true),
];

/// Checks a call at compile time; `Err((code, message))` when invalid.
pub(super) fn check_call(
    dialect: Dialect,
    name: &str,
    insensitive: bool,
    argc: usize,
) -> Result<(), (&'static str, String)> {
    let lower = name.to_ascii_lowercase();
    let py = dialect == Dialect::Python;
    let Some(&(_, min, max, aware, py_only)) = FUNCTIONS.iter().find(|f| f.0 == lower) else {
        return Err(("EQL0301", format!("Unknown function [{name}]")));
    };
    if py_only && !py {
        return Err(("EQL0301", format!("Unknown function [{name}]")));
    }
    let (min, max) = if py {
        (min, max)
    } else {
        match lower.as_str() {
            "between" => (3, 4),
            "substring" => (2, 3),
            _ => (min, max),
        }
    };
    if argc < min || argc > max {
        let want = if min == max {
            format!("{min}")
        } else if max == usize::MAX {
            format!("at least {min}")
        } else {
            format!("{min} to {max}")
        };
        return Err((
            "EQL0302",
            format!("function [{name}] expects {want} arguments, got {argc}"),
        ));
    }
    if insensitive && !aware && !py {
        return Err((
            "EQL0303",
            format!("function [{name}] does not support case-insensitive matching (~)"),
        ));
    }
    Ok(())
}
