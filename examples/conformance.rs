//! Runs a JSONL query corpus against a JSONL event file and compares the ids of
//! matching events with the expectations.
//!
//! Run: `cargo run --example conformance -- --preset eql-py
//!   --queries ../shared/corpus/eql-py/queries.jsonl --events ../shared/corpus/eql-py/events.jsonl`

use clap::Parser;
use eql_engine::{
    CompileOptions, CompiledQuery, Dialect, FieldPath, LineageOptions, Matches, Session,
    SessionOptions,
};
use serde_json::Value as Json;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(about = "EQL conformance runner")]
struct Args {
    /// Queries, one JSON object per line.
    #[arg(long)]
    queries: String,
    /// Events, one JSON object per line.
    #[arg(long)]
    events: String,
    /// `es` or `python`.
    #[arg(long)]
    dialect: Option<String>,
    /// Run only in case-sensitive mode.
    #[arg(long)]
    case_sensitive: bool,
    /// Run only in case-insensitive mode.
    #[arg(long)]
    case_insensitive: bool,
    /// Field holding the event id.
    #[arg(long)]
    id_field: Option<String>,
    /// Field holding the category.
    #[arg(long)]
    category_field: Option<String>,
    /// Field holding the timestamp.
    #[arg(long)]
    timestamp_field: Option<String>,
    /// Only queries whose id or text contains this.
    #[arg(long)]
    filter: Option<String>,
    /// `eql-py`: Python dialect, `event_type`, `serial_event_id`, `timestamp`.
    #[arg(long)]
    preset: Option<String>,
}

fn read_jsonl(path: &str) -> Result<Vec<Json>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(line).map_err(|e| format!("{path}:{}: {e}", i + 1))?);
    }
    Ok(out)
}

fn id_of(ev: &Json, id_field: &FieldPath) -> Json {
    match eql_engine::Event::get(ev, id_field) {
        Some(eql_engine::Value::Int(i)) => Json::from(i),
        Some(eql_engine::Value::Str(s)) => Json::from(s.to_string()),
        Some(eql_engine::Value::Float(f)) => Json::from(f),
        _ => Json::Null,
    }
}

/// Runs one query through a [`Session`] over the whole event file; the ids of
/// each result's events, flattened in emission order.
fn run(engine: &CompiledQuery, events: &[Json], id_field: &FieldPath) -> Vec<Json> {
    let opts = SessionOptions {
        lineage: LineageOptions::endgame(),
        ..SessionOptions::default()
    };
    let mut session = Session::<usize>::new(engine, opts);
    let mut out = Matches::new();
    for (i, e) in events.iter().enumerate() {
        session.push(i, e, &mut out);
    }
    session.finish(&mut out);
    let mut ids = Vec::new();
    for m in out.iter() {
        ids.extend(
            m.events
                .iter()
                .filter_map(|&i| events.get(i))
                .map(|e| id_of(e, id_field)),
        );
    }
    ids
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut opts = CompileOptions::default();
    let mut id_field = "id".to_owned();
    if args.preset.as_deref() == Some("eql-py") {
        opts = CompileOptions::python();
        id_field = "serial_event_id".into();
    } else if let Some(p) = &args.preset {
        eprintln!("unknown preset {p}");
        return ExitCode::from(2);
    }
    match args.dialect.as_deref() {
        Some("es" | "elasticsearch") => opts.dialect = Dialect::Elasticsearch,
        Some("python" | "py") => opts.dialect = Dialect::Python,
        Some(d) => {
            eprintln!("unknown dialect {d}");
            return ExitCode::from(2);
        }
        None => {}
    }
    if let Some(f) = args.id_field {
        id_field = f;
    }
    if let Some(f) = args.category_field {
        opts.category_field = f;
    }
    if let Some(f) = args.timestamp_field {
        opts.timestamp_field = f;
    }
    let id_field = FieldPath::parse_dotted(&id_field);
    let (queries, events) = match (read_jsonl(&args.queries), read_jsonl(&args.events)) {
        (Ok(q), Ok(e)) => (q, e),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut modes: Vec<bool> = Vec::new();
    if args.case_sensitive {
        modes.push(true);
    }
    if args.case_insensitive {
        modes.push(false);
    }
    if modes.is_empty() {
        modes = vec![true, false];
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    // Every query form runs through a Session now; nothing is skipped.
    let skipped = 0usize;
    for q in &queries {
        let id = q.get("id").and_then(Json::as_str).unwrap_or("?");
        let text = q.get("query").and_then(Json::as_str).unwrap_or("");
        if let Some(f) = &args.filter {
            if !id.contains(f.as_str()) && !text.contains(f.as_str()) {
                continue;
            }
        }
        let applies: Vec<String> = q
            .get("applies_to_modes")
            .and_then(Json::as_array)
            .map_or_else(
                || vec!["case_sensitive".into(), "case_insensitive".into()],
                |a| {
                    a.iter()
                        .filter_map(|m| m.as_str().map(str::to_owned))
                        .collect()
                },
            );
        let expected = q
            .get("expected_event_ids")
            .cloned()
            .unwrap_or(Json::Array(Vec::new()));
        let alternatives = q
            .get("expected_is_alternatives")
            .and_then(Json::as_bool)
            .unwrap_or(false);
        for &cs in &modes {
            let mode = if cs {
                "case_sensitive"
            } else {
                "case_insensitive"
            };
            if !applies.iter().any(|m| m == mode) {
                continue;
            }
            let label = if modes.len() > 1 {
                format!("{id} [{mode}]")
            } else {
                id.to_owned()
            };
            let o = CompileOptions {
                case_sensitive: cs,
                ..opts.clone()
            };
            let engine = match CompiledQuery::compile(text, &o) {
                Ok(e) => e,
                Err(e) => {
                    println!("ERROR {label}: {e}");
                    failed += 1;
                    continue;
                }
            };
            {
                {
                    let got = run(&engine, &events, &id_field);
                    let got = Json::Array(got);
                    let ok = if alternatives {
                        expected.as_array().is_some_and(|alts| alts.contains(&got))
                    } else {
                        got == expected
                    };
                    if ok {
                        passed += 1;
                    } else {
                        println!("FAIL {label}: expected {expected} got {got}");
                        failed += 1;
                    }
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
