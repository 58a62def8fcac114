//! Snapshots read back: arbitrary bytes as a session snapshot (JSON)
//! restored over a fixed plan, and real snapshots of random streams edited
//! (bits flipped, bytes set or deleted, truncated) before they are read
//! back: a snapshot that does not hold is an error, never a panic, and one
//! that restores runs on within its limits; an unedited snapshot restores
//! to a session that goes on exactly as the one that never stopped. The
//! input decoding and the checks live in
//! `crates/eql-engine/tests/common/fuzz_restore.rs`, which
//! `crates/eql-engine/tests/snapshot.rs` includes too.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../crates/eql-engine/tests/common/fuzz_restore.rs"]
#[allow(dead_code)]
mod restore;

fuzz_target!(|data: &[u8]| {
    restore::run(data);
});
