//! Parse-checks EQL queries from `.eql`, `.jsonl`, `.toml` files or folders of `.toml` rules.
//!
//! `cargo run --release --example check -- [--dialect es|python] [--explain] [--index NAME]... [--mapping FILE] PATH...`
//!
//! `--mapping FILE` checks the queries against an Elasticsearch index mapping
//! (the JSON of `GET index/_mapping`), as Elasticsearch's verifier does:
//! unknown fields, fields of a type a comparison cannot use, literals that do
//! not read as the field's type.
//!
//! `--explain` prints the plan of the single-event queries compiled together
//! as one pack: category buckets, the fused matchers with their needles, the
//! rules always evaluated, and each rule's lowered condition. `--index NAME`
//! prints `index NAME: K of N rules apply` (the rules whose `index` patterns
//! match the name); with `--explain`, the plan of those rules follows each
//! such line (the pack `scan --index NAME` runs for that index).

use clap::{Parser, ValueEnum};
use eql_engine::{CompileOptions, Dialect, Mapping, Pack, RuleSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DialectArg {
    Es,
    Python,
}

/// Parse-check EQL queries and print a diagnostic for each failure.
#[derive(Parser, Debug)]
struct Args {
    /// Which EQL dialect to parse.
    #[arg(long, value_enum, default_value = "es")]
    dialect: DialectArg,
    /// Print the pack plan (EXPLAIN) of the single-event queries.
    #[arg(long)]
    explain: bool,
    /// An index (or data stream) name: print how many rules apply to it (their
    /// `index` patterns match it); with `--explain`, the plan of those rules
    /// for each name given. Repeatable.
    #[arg(long = "index", value_name = "NAME")]
    indices: Vec<String>,
    /// Check against this Elasticsearch mapping (the JSON of `GET index/_mapping`).
    #[arg(long, value_name = "FILE")]
    mapping: Option<PathBuf>,
    /// `.eql`, `.jsonl`, `.toml` files or folders of rules.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// Reads an Elasticsearch mapping file; the error names the file.
fn read_mapping(path: &Path) -> Result<Mapping, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Mapping::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut opts = CompileOptions::default();
    opts.dialect = match args.dialect {
        DialectArg::Es => Dialect::Elasticsearch,
        DialectArg::Python => Dialect::Python,
    };
    if let Some(path) = &args.mapping {
        match read_mapping(path) {
            Ok(m) => opts = opts.with_mapping(m),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let mut rules = RuleSet::new();
    let mut load_errors = 0usize;
    for p in &args.paths {
        let (more, errors) = RuleSet::from_path(p);
        rules.extend(more);
        for e in &errors {
            eprintln!("error: {e}");
        }
        load_errors += errors.len();
    }
    // Parse and check (functions, arity, `~`, regexes), as a rule pack would.
    let (compiled, errors) = rules.compile(&opts);
    for e in &errors {
        println!("{e}");
    }
    let explain = |set: &eql_engine::CompiledRuleSet| {
        println!("{}", Pack::new(set.iter().map(|r| &r.engine)));
    };
    for name in &args.indices {
        let route = compiled.route(name);
        println!("{route}");
        if args.explain && !route.is_empty() {
            explain(&compiled.subset(|i, _| route.contains(i)));
        }
    }
    if args.explain && args.indices.is_empty() {
        explain(&compiled);
    }
    let total = rules.len();
    let failed = errors.len();
    println!(
        "checked {total} queries: {} ok, {failed} failed",
        total - failed
    );
    if failed > 0 || load_errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
