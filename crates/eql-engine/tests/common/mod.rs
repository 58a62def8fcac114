//! Shared by the integration tests that read the shared corpus: where it is,
//! and the generated reference events.
//!
//! Every test that calls these is `#[ignore = "needs the shared corpus: set
//! EQL_SHARED"]`: a plain `cargo test` lists it as ignored, and
//! `cargo test -- --ignored` runs it and fails when the corpus is absent.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The shared folder: `EQL_SHARED`, else the `shared` folder beside the
/// workspace.
pub(crate) fn shared() -> PathBuf {
    std::env::var_os("EQL_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        PathBuf::from,
    )
}

/// A file of the shared folder; panics (failing the test) when it is absent.
pub(crate) fn shared_file(rel: &str) -> PathBuf {
    let path = shared().join(rel);
    assert!(
        path.is_file(),
        "needs the shared corpus: {} not found (set EQL_SHARED to the shared folder)",
        path.display()
    );
    path
}

/// The text of a file of the shared folder; panics when it cannot be read.
pub(crate) fn shared_text(rel: &str) -> String {
    let path = shared_file(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The reference events, `bench/gen_events.py --seed 42 -n N` of the shared
/// folder, generated once into the workspace's `target/` (shared with the
/// benches); panics when they cannot be generated.
pub(crate) fn events(n: usize) -> Vec<Vec<u8>> {
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../target/bench-events-{n}.jsonl"));
    if !out.exists() {
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        let script = shared_file("bench/gen_events.py");
        let status = Command::new("python3")
            .arg(&script)
            .args(["--seed", "42", "-n", &n.to_string(), "-o"])
            .arg(&out)
            .status();
        assert!(
            status.as_ref().is_ok_and(std::process::ExitStatus::success),
            "python3 {} failed: {status:?}",
            script.display()
        );
    }
    let text = std::fs::read(&out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    text.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}
