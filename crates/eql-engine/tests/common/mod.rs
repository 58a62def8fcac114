//! Shared by the integration tests that read `../shared`: where it is, and the
//! generated reference events.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The shared folder (`EQL_SHARED`, else `../shared` beside the checkout).
pub(crate) fn shared() -> PathBuf {
    std::env::var_os("EQL_SHARED").map_or_else(
        || {
            let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
            if beside.exists() {
                beside
            } else {
                PathBuf::from("/work/shared")
            }
        },
        PathBuf::from,
    )
}

/// The reference events (generated once into `target/`, shared with the benches).
pub(crate) fn events(n: usize) -> Option<Vec<Vec<u8>>> {
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../target/bench-events-{n}.jsonl"));
    if !out.exists() {
        let script = shared().join("bench/gen_events.py");
        let ok = Command::new("python3")
            .arg(&script)
            .args(["--seed", "42", "-n", &n.to_string(), "-o"])
            .arg(&out)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return None;
        }
    }
    let text = std::fs::read(&out).ok()?;
    Some(
        text.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect(),
    )
}
