//! Replays `fuzz/regressions/eval_diff/`, `fuzz/regressions/project_json/`
//! and `fuzz/regressions/session/` with the same checks as the fuzz targets:
//! the plan, raw bytes and a pack agree with the reference interpreter; the
//! projection agrees with DOM lookups; a session's state stays within its caps
//! (the `session` target's decoding and checks are this very file, included).

use eql_engine::{
    CompileOptions, CompiledQuery, Dialect, Event, FieldPath, Pack, PackMatches, Projection, Value,
};
use std::path::{Path, PathBuf};

#[path = "common/fuzz_session.rs"]
mod session_fuzz;

fn files(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    out.sort();
    out
}

#[test]
fn eval_diff_regressions() {
    let all = files("eval_diff");
    assert!(!all.is_empty());
    for path in all {
        let data = std::fs::read(&path).expect("readable");
        let text = String::from_utf8(data).expect("UTF-8");
        let (query, event) = text.split_once('\n').expect("query line, then the event");
        let dom: serde_json::Value = serde_json::from_str(event).expect("JSON event");
        for dialect in [Dialect::Elasticsearch, Dialect::Python] {
            let opts = if dialect == Dialect::Python {
                CompileOptions::python()
            } else {
                CompileOptions::default()
            };
            let Ok(engine) = CompiledQuery::compile(query, &opts) else {
                continue;
            };
            let reference = engine.is_match_reference(&dom);
            assert_eq!(engine.is_match(&dom), reference, "{}", path.display());
            assert_eq!(
                engine.is_match_json(event.as_bytes()).ok(),
                Some(reference),
                "{}",
                path.display()
            );
            let pack = Pack::new([&engine]);
            let mut hits = PackMatches::new();
            pack.matches(&dom, &mut hits);
            assert_eq!(hits.rules().is_empty(), !reference, "{}", path.display());
        }
    }
}

#[test]
fn project_json_regressions() {
    let all = files("project_json");
    assert!(!all.is_empty());
    for path in all {
        let data = std::fs::read(&path).expect("readable");
        let nl = data.iter().position(|&b| b == b'\n').expect("paths line");
        let head = std::str::from_utf8(&data[..nl]).expect("UTF-8 paths");
        let doc = &data[nl + 1..];
        let paths: Vec<FieldPath> = head
            .split(',')
            .filter(|p| !p.is_empty())
            .map(FieldPath::parse_dotted)
            .collect();
        let dom: serde_json::Value = serde_json::from_slice(doc).expect("JSON document");
        let proj = Projection::new(&paths);
        let limits = eql_engine::EventLimits::default();
        let ev = proj.parse(doc, &limits).expect("projection parses");
        let mut direct = vec![Vec::new(); paths.len()];
        proj.resolve_json(doc, &limits, &mut |i, v| direct[i].push(v.into_owned()))
            .expect("resolve_json parses");
        for (i, p) in paths.iter().enumerate() {
            let want = Event::get(&dom, p).map(Value::into_owned);
            assert_eq!(
                ev.get(p).map(Value::into_owned),
                want,
                "{}: {p}",
                path.display()
            );
            let items: Vec<Value<'static>> = want.into_iter().flat_map(Value::into_items).collect();
            assert_eq!(direct[i], items, "{}: resolve_json {p}", path.display());
        }
    }
}

#[test]
fn session_fixed_queries_compile() {
    for &(py, q) in session_fuzz::QUERIES {
        let opts = if py {
            CompileOptions::python()
        } else {
            CompileOptions::default()
        };
        if let Err(e) = CompiledQuery::compile(q, &opts) {
            panic!("{q}: {e}");
        }
    }
}

#[test]
fn session_regressions() {
    let all = files("session");
    assert!(!all.is_empty());
    let mut total = session_fuzz::Summary::default();
    for path in all {
        let data = std::fs::read(&path).expect("readable");
        let s = session_fuzz::run(&data);
        eprintln!("{}: {s:?}", path.display());
        total.evicted_partials += s.evicted_partials;
        total.evicted_keys += s.evicted_keys;
        total.results += s.results;
    }
    // The committed inputs reach the caps.
    assert!(total.evicted_partials > 0 && total.evicted_keys > 0 && total.results > 0);
}
