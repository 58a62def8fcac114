//! What the command-line examples share: loading rule files and printing
//! the per-rule alert table.

use eql_engine::{CompiledRuleSet, RuleSet};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

/// Loads the rules of `paths` (files or folders); none means the shipped
/// pack. Every load error is printed; the rules that load are kept unless
/// `strict`, which turns the first failing path into an error. Returns the
/// rules and the number of load errors.
///
/// ```
/// let (rules, errors) = eql_examples::cli::load_rules(&[], false).unwrap();
/// assert_eq!((rules.len(), errors), (eql_engine::RuleSet::builtin().len(), 0));
/// ```
pub fn load_rules(paths: &[PathBuf], strict: bool) -> Result<(RuleSet, usize), String> {
    if paths.is_empty() {
        return Ok((RuleSet::builtin(), 0));
    }
    let mut set = RuleSet::new();
    let mut errors = 0;
    for path in paths {
        let (more, failed) = RuleSet::from_path(path);
        set.extend(more);
        for e in &failed {
            eprintln!("error: {e}");
        }
        errors += failed.len();
        if strict && !failed.is_empty() {
            return Err(format!("cannot load rules from {}", path.display()));
        }
    }
    Ok((set, errors))
}

/// Prints, on stderr, each rule's name and its number of alerts.
pub fn print_rule_table(compiled: &CompiledRuleSet, per_rule: &[u64]) {
    let width = compiled
        .iter()
        .map(|r| r.rule.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    // One write for the whole table (stderr is unbuffered).
    let mut err = BufWriter::new(io::stderr().lock());
    let _ = writeln!(err, "{:<width$}  {:>8}", "rule", "alerts");
    for (rule, n) in compiled.iter().zip(per_rule) {
        let _ = writeln!(err, "{:<width$}  {n:>8}", rule.rule.name);
    }
    let _ = err.flush();
}
