//! Runs a JSONL query corpus against a JSONL event file and compares the ids of
//! matching events with the expectations.
//!
//! A query line holds `id`, `query` and `expected_event_ids`: the ids of the
//! results' events flattened in order, -1 standing for the placeholder of a
//! `![...]` step (or, with `expected_is_alternatives: true`, a list of such
//! lists, any of which passes). Optional: `applies_to_modes`
//! (`case_sensitive`, `case_insensitive`), `size` (keep the first `size`
//! results, as a request's `size`), `max_samples_per_key` (overrides
//! `--max-samples-per-key`) and `join_keys` (the results' join key values
//! flattened, as strings, null as `"null"`; compared when present).
//!
//! Run: `cargo run --example conformance -- --preset eql-py
//!   --queries ../shared/corpus/eql-py/queries.jsonl --events ../shared/corpus/eql-py/events.jsonl`
//!
//! Events are pushed in file order, which stands for Elasticsearch's implicit
//! tiebreaker (`_shard_doc`: one index, one shard, loaded with one bulk
//! request). With `--order es` (the default for the Elasticsearch dialect)
//! stateful queries run over the events sorted by (timestamp, tiebreaker,
//! file order), as Elasticsearch runs them; `--order stream` runs them
//! through the default reorder window instead (late events are skipped by
//! stateful queries), `--order arrival` in file order (the Python dialect's
//! default).
//!
//! `--mapping FILE` compiles the queries against an Elasticsearch index
//! mapping (the JSON of `GET index/_mapping`, or `{"properties": ...}`). The
//! fields the events hold and the mapping lacks are added as Elasticsearch's
//! dynamic mapping adds them when it indexes the events, in file order. As
//! in Elasticsearch's QA data loader, lines starting with `#` are dropped and
//! the `[runtime_random_keyword_type]` placeholder is read as `keyword`.

use clap::Parser;
use clap::ValueEnum;
use eql_engine::{
    CompileOptions, CompiledQuery, Dialect, FieldPath, LineageOptions, Mapping, Match, Matches,
    QueryBody, Session, SessionOptions, Step, StreamOrder, TimestampFormat,
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
    /// How the timestamp reads: `auto` (epoch milliseconds or ISO-8601),
    /// `ms`, `s`, `us`, `ns` (epoch units of a number or a string of
    /// digits), `iso`, `filetime`. Default: the dialect's (`auto` for
    /// Elasticsearch, `filetime` for the `eql-py` preset).
    #[arg(long, value_name = "UNIT")]
    timestamp_unit: Option<String>,
    /// Field ordering events with equal timestamps (Elasticsearch's
    /// `tiebreaker_field`). Default none: file order breaks ties.
    #[arg(long, value_name = "FIELD")]
    tiebreaker_field: Option<String>,
    /// Order of the stateful queries. Default: `es` for the Elasticsearch
    /// dialect, `arrival` for Python.
    #[arg(long, value_enum)]
    order: Option<OrderArg>,
    /// Only queries whose id or text contains this.
    #[arg(long)]
    filter: Option<String>,
    /// `eql-py`: Python dialect, `event_type`, `serial_event_id`, `timestamp`.
    #[arg(long)]
    preset: Option<String>,
    /// `sample`: samples per join key (a query line's `max_samples_per_key`
    /// overrides it). Default 1.
    #[arg(long)]
    max_samples_per_key: Option<usize>,
    /// An Elasticsearch mapping of the events' index (the JSON of `GET index/_mapping`).
    #[arg(long, value_name = "FILE")]
    mapping: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OrderArg {
    /// Sorted by (timestamp, tiebreaker, file order), as Elasticsearch runs a query.
    Es,
    /// A stream through the default reorder window.
    Stream,
    /// File order, as the Python engine streams events.
    Arrival,
}

/// The mapping in `path`, completed with the fields of `events` it lacks as
/// Elasticsearch's dynamic mapping types them. The error names the file.
fn read_mapping(path: &str, events: &[Json]) -> Result<Mapping, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    // The QA specs' mapping files: `#` comment lines, and a placeholder for a
    // keyword-like type (and the name of a keyword multi-field).
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
        .replace("[runtime_random_keyword_type]", "keyword");
    let mut mapping = Mapping::from_slice(text.as_bytes()).map_err(|e| format!("{path}: {e}"))?;
    for e in events {
        mapping.map_dynamically(e);
    }
    Ok(mapping)
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

/// Where Elasticsearch returns an event among the hits of an event query:
/// (timestamp, tiebreaker, file line), nulls first.
fn sort_key(ev: &Json, opts: &CompileOptions, line: usize) -> (Option<i64>, Option<f64>, usize) {
    let get = |f: &str| eql_engine::Event::get(ev, &FieldPath::parse_dotted(f));
    let ts = get(&opts.timestamp_field).and_then(|v| opts.timestamp_format.read_nanos(&v));
    let tie = opts
        .tiebreaker_field
        .as_deref()
        .and_then(get)
        .and_then(|v| match v {
            #[allow(clippy::cast_precision_loss)]
            eql_engine::Value::Int(i) => Some(i as f64),
            eql_engine::Value::Float(f) => Some(f),
            eql_engine::Value::Str(s) => s.parse().ok(),
            _ => None,
        });
    (ts, tie, line)
}

/// What one query gave: the ids of the results' events flattened in
/// emission order (-1 for the placeholder of a `![...]` step), and their
/// join key values flattened, rendered as strings.
struct Outcome {
    ids: Vec<Json>,
    keys: Vec<String>,
}

/// A join key value as Elasticsearch's QA harness prints it (`toString`,
/// null as `"null"`).
fn key_string(v: &eql_engine::Value<'_>) -> String {
    match v {
        eql_engine::Value::Null => "null".to_owned(),
        eql_engine::Value::Bool(b) => b.to_string(),
        eql_engine::Value::Int(i) => i.to_string(),
        eql_engine::Value::Float(f) => format!("{f:?}"),
        eql_engine::Value::Str(s) => s.to_string(),
        other => format!("{other:?}"),
    }
}

/// Runs one query through a [`Session`] over the whole event file; keeps
/// the first `size` results. A single-event query's results come as their
/// events arrive; they are listed in Elasticsearch's order (by timestamp,
/// tiebreaker and line) unless the order is arrival.
fn run(
    engine: &CompiledQuery,
    events: &[Json],
    id_field: &FieldPath,
    opts: SessionOptions,
    size: Option<usize>,
) -> Outcome {
    let arrival = opts
        .order
        .map_or(engine.options().dialect == Dialect::Python, |o| {
            o == StreamOrder::Arrival
        });
    let mut session = Session::<usize>::new(engine, opts);
    let mut out = Matches::new();
    for (i, e) in events.iter().enumerate() {
        session.push(i, e, &mut out);
    }
    session.finish(&mut out);
    let mut results: Vec<Match<'_, usize>> = out.iter().collect();
    if matches!(engine.query().body, QueryBody::Event(_))
        && engine.query().pipes.is_empty()
        && !arrival
    {
        let key = |r: &Match<'_, usize>| {
            r.events
                .first()
                .and_then(|&i| events.get(i).map(|e| sort_key(e, engine.options(), i)))
        };
        results.sort_by(|a, b| {
            key(a)
                .partial_cmp(&key(b))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    let mut got = Outcome {
        ids: Vec::new(),
        keys: Vec::new(),
    };
    for m in results.iter().take(size.unwrap_or(usize::MAX)) {
        got.ids.extend(m.steps().map(|step| match step {
            Step::Event(&i) => events.get(i).map_or(Json::Null, |e| id_of(e, id_field)),
            // A `![...]` step: Elasticsearch's QA specs write its placeholder as -1.
            Step::Missing => Json::from(-1),
        }));
        got.keys.extend(m.key.iter().map(key_string));
    }
    got
}

/// The compile options and the id field of the arguments, or the exit
/// code of a bad argument (after saying what is wrong).
fn compile_options(args: &Args) -> Result<(CompileOptions, String), ExitCode> {
    let mut opts = CompileOptions::default();
    let mut id_field = "id".to_owned();
    if args.preset.as_deref() == Some("eql-py") {
        opts = CompileOptions::python();
        id_field = "serial_event_id".into();
    } else if let Some(p) = &args.preset {
        eprintln!("unknown preset {p}");
        return Err(ExitCode::from(2));
    }
    match args.dialect.as_deref() {
        Some("es" | "elasticsearch") => opts.dialect = Dialect::Elasticsearch,
        Some("python" | "py") => opts.dialect = Dialect::Python,
        Some(d) => {
            eprintln!("unknown dialect {d}");
            return Err(ExitCode::from(2));
        }
        None => {}
    }
    if let Some(f) = &args.id_field {
        id_field.clone_from(f);
    }
    if let Some(f) = &args.category_field {
        opts.category_field.clone_from(f);
    }
    if let Some(f) = &args.timestamp_field {
        opts.timestamp_field.clone_from(f);
    }
    if let Some(u) = &args.timestamp_unit {
        match TimestampFormat::from_name(u) {
            Some(f) => opts.timestamp_format = f,
            None => {
                eprintln!("unknown timestamp unit {u} (auto, ms, s, us, ns, iso, filetime)");
                return Err(ExitCode::from(2));
            }
        }
    }
    if let Some(f) = &args.tiebreaker_field {
        opts.tiebreaker_field = Some(f.clone());
    }
    Ok((opts, id_field))
}

/// The case modes to run: `true` for case-sensitive.
fn modes(args: &Args) -> Vec<bool> {
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
    modes
}

/// One query line: the query, what it expects, and how to run it.
struct Case<'a> {
    id: &'a str,
    text: &'a str,
    /// The case modes it applies to (`case_sensitive`, `case_insensitive`).
    applies: Vec<String>,
    expected: Json,
    alternatives: bool,
    size: Option<usize>,
    session_opts: SessionOptions,
    join_keys: Option<Vec<String>>,
}

impl<'a> Case<'a> {
    /// The query line `q`, run in `order` (with `max_samples_per_key`
    /// unless it has its own).
    fn read(q: &'a Json, order: Option<StreamOrder>, max_samples_per_key: Option<usize>) -> Self {
        let id = q.get("id").and_then(Json::as_str).unwrap_or("?");
        let text = q.get("query").and_then(Json::as_str).unwrap_or("");
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
        let size = q
            .get("size")
            .and_then(Json::as_u64)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        let mut session_opts = SessionOptions::default();
        session_opts.lineage = LineageOptions::endgame();
        session_opts.order = order;
        if let Some(n) = q
            .get("max_samples_per_key")
            .and_then(Json::as_u64)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
            .or(max_samples_per_key)
        {
            session_opts.limits.max_samples_per_key = n;
        }
        let join_keys: Option<Vec<String>> = q.get("join_keys").and_then(Json::as_array).map(|a| {
            a.iter()
                .map(|k| k.as_str().map_or_else(|| k.to_string(), str::to_owned))
                .collect()
        });
        Case {
            id,
            text,
            applies,
            expected,
            alternatives,
            size,
            session_opts,
            join_keys,
        }
    }

    /// True when `outcome` is what the case expects; else says why.
    fn check(&self, label: &str, outcome: Outcome) -> bool {
        let got = Json::Array(outcome.ids);
        let ok = if self.alternatives {
            self.expected
                .as_array()
                .is_some_and(|alts| alts.contains(&got))
        } else {
            got == self.expected
        };
        let keys_ok = self
            .join_keys
            .as_ref()
            .is_none_or(|k| k.is_empty() || *k == outcome.keys);
        if !ok {
            println!("FAIL {label}: expected {} got {got}", self.expected);
            false
        } else if !keys_ok {
            println!(
                "FAIL {label}: expected join keys {:?} got {:?}",
                self.join_keys.as_deref().unwrap_or_default(),
                outcome.keys
            );
            false
        } else {
            true
        }
    }
}

/// Runs `case` in each of `modes` it applies to; the counts of passed
/// and failed runs.
fn run_case(
    case: &Case<'_>,
    modes: &[bool],
    opts: &CompileOptions,
    events: &[Json],
    id_field: &FieldPath,
) -> (usize, usize) {
    let (mut passed, mut failed) = (0usize, 0usize);
    let id = case.id;
    for &cs in modes {
        let mode = if cs {
            "case_sensitive"
        } else {
            "case_insensitive"
        };
        if !case.applies.iter().any(|m| m == mode) {
            continue;
        }
        let label = if modes.len() > 1 {
            format!("{id} [{mode}]")
        } else {
            id.to_owned()
        };
        let mut o = opts.clone();
        o.case_sensitive = cs;
        let engine = match CompiledQuery::compile(case.text, &o) {
            Ok(e) => e,
            Err(e) => {
                println!("ERROR {label}: {e}");
                failed += 1;
                continue;
            }
        };
        let outcome = run(
            &engine,
            events,
            id_field,
            case.session_opts.clone(),
            case.size,
        );
        if case.check(&label, outcome) {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    (passed, failed)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (mut opts, id_field) = match compile_options(&args) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let order = args.order.map(|o| match o {
        OrderArg::Es => StreamOrder::Bounded,
        OrderArg::Stream => StreamOrder::window(),
        OrderArg::Arrival => StreamOrder::Arrival,
    });
    let id_field = FieldPath::parse_dotted(&id_field);
    let (queries, events) = match (read_jsonl(&args.queries), read_jsonl(&args.events)) {
        (Ok(q), Ok(e)) => (q, e),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = &args.mapping {
        match read_mapping(path, &events) {
            Ok(m) => opts = opts.with_mapping(m),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let modes = modes(&args);
    let (mut passed, mut failed) = (0usize, 0usize);
    // Every query form runs through a Session now; nothing is skipped.
    let skipped = 0usize;
    for q in &queries {
        let case = Case::read(q, order, args.max_samples_per_key);
        if let Some(f) = &args.filter {
            if !case.id.contains(f.as_str()) && !case.text.contains(f.as_str()) {
                continue;
            }
        }
        let (p, f) = run_case(&case, &modes, &opts, &events, &id_field);
        passed += p;
        failed += f;
    }
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
