//! Random event streams through sequence, sample, join and pipe queries of
//! both dialects in a streaming `Session` with small, fuzzer-chosen `SessionLimits`:
//! no panic, the state stays within its documented caps, and the stream
//! pushed as bytes gives what it gives pushed as DOMs. The input
//! decoding and the checks live in
//! `crates/eql-engine/tests/common/fuzz_session.rs`, which
//! `crates/eql-engine/tests/fuzz_regressions.rs` and
//! `crates/eql-engine/tests/session_bytes.rs` include too.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "../../crates/eql-engine/tests/common/fuzz_session.rs"]
mod session;

fuzz_target!(|data: &[u8]| {
    session::run(data);
});
