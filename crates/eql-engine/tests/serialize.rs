//! The same events give the same results through a JSON DOM, through their
//! raw JSON bytes (projection, no DOM), and through a user struct with
//! `#[derive(Serialize)]`, one rule at a time and as a pack.

use eql_engine::{CompileOptions, CompiledQuery, SerializeEvent};
use serde::Serialize;

#[derive(Serialize)]
struct Ev {
    event: Category,
    host: Host,
    process: Process,
    file: Option<File>,
}
#[derive(Serialize)]
struct Category {
    category: Vec<&'static str>,
    r#type: Vec<&'static str>,
}
#[derive(Serialize)]
struct Host {
    os: Os,
}
#[derive(Serialize)]
struct Os {
    r#type: &'static str,
}
#[derive(Serialize)]
struct Process {
    name: &'static str,
    pid: i64,
}
#[derive(Serialize)]
struct File {
    extension: &'static str,
}

#[test]
fn struct_and_dom_agree() {
    let queries = [
        r#"file where host.os.type == "windows" and event.type != "deletion" and file.extension : ("exe", "dll") and process.name : ("lsass.exe", "LogonUI.exe")"#,
        "any where process.pid > 100",
        r#"any where not file.extension : "exe""#,
        "process where true",
    ];
    let events = [
        Ev {
            event: Category {
                category: vec!["file"],
                r#type: vec!["creation"],
            },
            host: Host {
                os: Os { r#type: "windows" },
            },
            process: Process {
                name: "LSASS.EXE",
                pid: 600,
            },
            file: Some(File { extension: "dll" }),
        },
        Ev {
            event: Category {
                category: vec!["file"],
                r#type: vec!["deletion"],
            },
            host: Host {
                os: Os { r#type: "windows" },
            },
            process: Process {
                name: "lsass.exe",
                pid: 7,
            },
            file: Some(File { extension: "exe" }),
        },
        Ev {
            event: Category {
                category: vec!["process", "file"],
                r#type: vec!["start"],
            },
            host: Host {
                os: Os { r#type: "linux" },
            },
            process: Process {
                name: "bash",
                pid: 101,
            },
            file: None,
        },
    ];
    let mut agreed = 0;
    for q in queries {
        let engine = CompiledQuery::compile(q, &CompileOptions::default()).expect("query compiles");
        let got_struct: Vec<bool> = events
            .iter()
            .map(|e| engine.is_match(&SerializeEvent::new(e).expect("serializes")))
            .collect();
        let got_dom: Vec<bool> = events
            .iter()
            .map(|e| engine.is_match(&serde_json::to_value(e).expect("serializes")))
            .collect();
        let got_bytes: Vec<bool> = events
            .iter()
            .map(|e| {
                let bytes = serde_json::to_vec(e).expect("serializes");
                engine.is_match_json(&bytes).expect("valid JSON")
            })
            .collect();
        assert_eq!(got_struct, got_dom, "{q}");
        assert_eq!(got_bytes, got_dom, "{q}");
        agreed += 1;
    }
    assert_eq!(agreed, queries.len());
    // As a pack: DOM, bytes and struct give the same rule lists.
    let opts = CompileOptions::default();
    let engines: Vec<CompiledQuery> = queries
        .iter()
        .map(|q| CompiledQuery::compile(q, &opts).expect("query compiles"))
        .collect();
    let pack = eql_engine::Pack::new(&engines);
    let mut hits = eql_engine::PackMatches::new();
    for e in &events {
        pack.matches(&serde_json::to_value(e).expect("serializes"), &mut hits);
        let dom = hits.rules().to_vec();
        pack.matches(&SerializeEvent::new(e).expect("serializes"), &mut hits);
        assert_eq!(hits.rules(), &dom[..]);
        pack.matches_json(&serde_json::to_vec(e).expect("serializes"), &mut hits)
            .expect("valid JSON");
        assert_eq!(hits.rules(), &dom[..]);
    }
    // And the seed-like rule really fires on the first event only.
    let engine =
        CompiledQuery::compile(queries[0], &CompileOptions::default()).expect("query compiles");
    let hits: Vec<bool> = events
        .iter()
        .map(|e| engine.is_match(&SerializeEvent::new(e).expect("serializes")))
        .collect();
    assert_eq!(hits, vec![true, false, false]);
}
