//! An embedder's own event struct matched without any JSON, through the
//! [`Event`] trait: the engine asks for fields by path and the struct answers.
//!
//! Run: `cargo run --release --example custom_event`

use eql_engine::{CompileOptions, CompiledQuery, Event, FieldPath, PathSegment, Value};

/// What a host agent might keep per process start, in its own shape.
struct ProcessStart {
    category: &'static str,
    name: String,
    pid: i64,
    args: Vec<String>,
    parent_name: Option<String>,
}

impl Event for ProcessStart {
    fn get(&self, path: &FieldPath) -> Option<Value<'_>> {
        let keys: Vec<&str> = path
            .segments()
            .iter()
            .map(|s| match s {
                PathSegment::Key(k) => k.as_str(),
                PathSegment::Index(_) => "",
            })
            .collect();
        match keys.as_slice() {
            ["event", "category"] => Some(Value::from(self.category)),
            ["process", "name"] => Some(Value::from(self.name.as_str())),
            ["process", "pid"] => Some(Value::Int(self.pid)),
            ["process", "args"] => Some(Value::Array(
                self.args.iter().map(|a| Value::from(a.as_str())).collect(),
            )),
            ["process", "parent", "name"] => self.parent_name.as_deref().map(Value::from),
            _ => None, // missing, not null
        }
    }
}

fn main() {
    let query = r#"process where process.name : "powershell.exe" and process.args : "-enc*" and not process.parent.name : "explorer.exe""#;
    let engine = match CompiledQuery::compile(query, &CompileOptions::default()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{}", e.diagnostic.render(query, None));
            std::process::exit(1);
        }
    };
    let events = [
        ProcessStart {
            category: "process",
            name: "PowerShell.EXE".into(),
            pid: 4242,
            args: vec![
                "powershell.exe".into(),
                "-EncodedCommand".into(),
                "SQBFAFgA".into(),
            ],
            parent_name: Some("winword.exe".into()),
        },
        ProcessStart {
            category: "process",
            name: "powershell.exe".into(),
            pid: 77,
            args: vec!["powershell.exe".into(), "-enc".into(), "AAAA".into()],
            parent_name: Some("explorer.exe".into()),
        },
        ProcessStart {
            category: "process",
            name: "powershell.exe".into(),
            pid: 78,
            args: vec!["powershell.exe".into(), "-encodedcommand".into()],
            parent_name: None, // missing parent: `not ... : ...` matches in the ES dialect
        },
    ];
    let mut hits = 0;
    for e in &events {
        let hit = engine.is_match(e);
        hits += usize::from(hit);
        println!(
            "pid {:>5} {:<16} -> {}",
            e.pid,
            e.name,
            if hit { "MATCH" } else { "no match" }
        );
    }
    println!("{hits} of {} events matched", events.len());
    // The first and third events are the expected matches; CI runs this example.
    if hits != 2 {
        eprintln!("expected 2 matches, got {hits}");
        std::process::exit(1);
    }
}
