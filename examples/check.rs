//! Parse-checks EQL queries from `.eql`, `.jsonl`, `.toml` files or folders of `.toml` rules.
//!
//! `cargo run --release --example check -- [--dialect es|python] [--explain] PATH...`
//!
//! `--explain` prints the plan of the single-event queries compiled together
//! as one pack: category buckets, the fused matchers with their needles, the
//! rules always evaluated, and each rule's lowered condition.

use clap::{Parser, ValueEnum};
use eql_engine::{CompileOptions, CompiledQuery, Dialect, Pack};
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
    /// `.eql`, `.jsonl`, `.toml` files or folders of `.toml` rules.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

/// One query to check: its display name and text.
struct Item {
    name: String,
    query: String,
}

fn collect(path: &Path, out: &mut Vec<Item>, errors: &mut Vec<String>) {
    if path.is_dir() {
        let Ok(rd) = std::fs::read_dir(path) else {
            errors.push(format!("{}: cannot read folder", path.display()));
            return;
        };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() || p.extension().is_some_and(|e| e == "toml") {
                collect(&p, out, errors);
            }
        }
        return;
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            errors.push(format!("{}: {e}", path.display()));
            return;
        }
    };
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "jsonl" | "ndjson" => {
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<serde_json::Value>(line) {
                    Ok(v) => {
                        let name = v
                            .get("name")
                            .or_else(|| v.get("rule_id"))
                            .or_else(|| v.get("id"))
                            .and_then(|n| n.as_str())
                            .map_or_else(
                                || format!("{}:{}", path.display(), i + 1),
                                str::to_string,
                            );
                        match v.get("query").and_then(|q| q.as_str()) {
                            Some(q) => out.push(Item {
                                name,
                                query: q.to_string(),
                            }),
                            None => errors.push(format!("{name}: no `query` field")),
                        }
                    }
                    Err(e) => {
                        errors.push(format!("{}:{}: invalid JSON: {e}", path.display(), i + 1));
                    }
                }
            }
        }
        "toml" => match toml::from_str::<toml::Value>(&text) {
            Ok(v) => {
                let rule = v.get("rule");
                let name = rule
                    .and_then(|r| r.get("name"))
                    .and_then(|n| n.as_str())
                    .map_or_else(|| path.display().to_string(), str::to_string);
                match rule.and_then(|r| r.get("query")).and_then(|q| q.as_str()) {
                    Some(q) => out.push(Item {
                        name,
                        query: q.to_string(),
                    }),
                    None => errors.push(format!("{name}: no `[rule] query`")),
                }
            }
            Err(e) => errors.push(format!("{}: invalid TOML: {e}", path.display())),
        },
        _ => out.push(Item {
            name: path.display().to_string(),
            query: text,
        }),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let opts = CompileOptions {
        dialect: match args.dialect {
            DialectArg::Es => Dialect::Elasticsearch,
            DialectArg::Python => Dialect::Python,
        },
        ..CompileOptions::default()
    };
    let mut items = Vec::new();
    let mut errors = Vec::new();
    for p in &args.paths {
        collect(p, &mut items, &mut errors);
    }
    for e in &errors {
        eprintln!("error: {e}");
    }
    let mut failed = 0usize;
    let mut engines = Vec::new();
    for item in &items {
        // Parse and check (functions, arity, `~`, regexes), as a rule pack would.
        match CompiledQuery::compile(&item.query, &opts) {
            Ok(e) => engines.push(e),
            Err(e) => {
                failed += 1;
                println!(
                    "{}:\n{}",
                    item.name,
                    e.diagnostic.render(&item.query, Some(&item.name))
                );
            }
        }
    }
    if args.explain {
        let pack = Pack::new(&engines);
        println!("{pack}");
    }
    let total = items.len();
    println!(
        "checked {total} queries: {} ok, {failed} failed",
        total - failed
    );
    if failed > 0 || !errors.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
