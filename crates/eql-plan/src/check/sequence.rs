//! Compile-time checks of the stateful forms.

use eql_syntax::{Diagnostic, Query, QueryBody};

/// Most steps of a sequence once `runs` are expanded (Python accepts any `runs`).
pub const MAX_SEQUENCE_STEPS: u64 = 10_000;

/// Checks what the state machines need and the parser does not check: a
/// missing step `![...]` needs `with maxspan` (EQL0401), a sequence needs
/// at least one step that is not missing (EQL0402) and at most
/// [`MAX_SEQUENCE_STEPS`] steps after `runs` expansion (EQL0403).
pub(super) fn check_stateful(q: &Query) -> Result<(), Diagnostic> {
    let QueryBody::Sequence(s) = &q.body else {
        return Ok(());
    };
    let err =
        |code: &'static str, msg: &str, span| Err(Diagnostic::error(code, msg.to_owned(), span));
    if let Some(m) = s.steps.iter().find(|st| st.missing) {
        if s.maxspan.is_none() {
            return err(
                "EQL0401",
                "a missing event `![...]` needs `with maxspan`",
                m.span,
            );
        }
    }
    let expanded: u64 = s
        .steps
        .iter()
        .map(|st| u64::from(st.runs.unwrap_or(1).max(1)))
        .sum();
    if expanded > MAX_SEQUENCE_STEPS {
        return err(
            "EQL0403",
            "a sequence may have at most 10000 steps after `runs` expansion",
            s.span,
        );
    }
    if s.steps.iter().all(|st| st.missing) {
        return err(
            "EQL0402",
            "a sequence needs at least one step that is not missing",
            s.span,
        );
    }
    Ok(())
}
