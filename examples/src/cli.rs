//! What the command-line examples share: the query dialect argument,
//! loading rule files and printing the per-rule alert table.

use eql_engine::{CompiledRuleSet, Dialect, RuleSet};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

/// The `--dialect` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DialectArg {
    /// Elasticsearch EQL.
    Es,
    /// Python (endgame) EQL.
    Python,
}

impl DialectArg {
    /// The dialect the rules compile in.
    ///
    /// ```
    /// use eql_examples::cli::DialectArg;
    /// assert_eq!(DialectArg::Python.dialect(), eql_engine::Dialect::Python);
    /// ```
    #[must_use]
    pub fn dialect(self) -> Dialect {
        match self {
            DialectArg::Es => Dialect::Elasticsearch,
            DialectArg::Python => Dialect::Python,
        }
    }
}

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

/// Compiles `rules` with `opts`, printing each rule that does not compile
/// and how many failed. `Err` carries the exit code 1 when `strict` and a
/// rule failed; otherwise the rules that compile and the number that did
/// not.
pub fn compile_rules(
    rules: &RuleSet,
    opts: &eql_engine::CompileOptions,
    strict: bool,
) -> Result<(CompiledRuleSet, usize), std::process::ExitCode> {
    let (compiled, errors) = rules.compile(opts);
    for e in &errors {
        eprintln!("error: {e}");
    }
    if !errors.is_empty() {
        eprintln!(
            "{} of {} rules failed to compile",
            errors.len(),
            rules.len()
        );
        if strict {
            return Err(std::process::ExitCode::from(1));
        }
    }
    Ok((compiled, errors.len()))
}

/// The event inputs named on the command line, or the bundled sample
/// events when there are none.
///
/// ```
/// let inputs = eql_examples::cli::inputs_or_sample(&[]);
/// assert!(inputs[0].ends_with("data/sample-events.ndjson"));
/// ```
pub fn inputs_or_sample(inputs: &[String]) -> Vec<String> {
    if inputs.is_empty() {
        vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data/sample-events.ndjson")
            .to_string_lossy()
            .into_owned()]
    } else {
        inputs.to_vec()
    }
}

/// Prints, on stderr, the ordering notes `scan` and `cluster` share: step
/// matches run early because a rule held too many (`held_overflow`), and
/// step events whose timestamp does not read (`bad_timestamp`), both
/// counted per stateful rule.
pub fn print_order_notes(held_overflow: u64, bad_timestamp: u64) {
    if held_overflow > 0 {
        eprintln!(
            "{held_overflow} step matches ran before their turn: a rule held more than SessionLimits::max_held_hits"
        );
    }
    if bad_timestamp > 0 {
        eprintln!(
            "{bad_timestamp} step events (counted per stateful rule) have a timestamp that does not read; \
             sequence and sample rules skipped them"
        );
    }
}
