//! Replays the committed corpus of the `server_bodies` fuzz target
//! (`fuzz/corpus/server_bodies/`) through the same checks as the target
//! (`fuzz/checks/server_bodies.rs`), so every input that once broke a
//! decoder stays fixed, on stable Rust, in `cargo test`.

#![allow(clippy::unwrap_used)]

#[path = "../../../fuzz/checks/corpus.rs"]
mod corpus;

#[path = "../../../fuzz/checks/server_bodies.rs"]
mod server_bodies;

use corpus::replay;

#[test]
fn server_bodies_corpus() {
    let hits = replay("server_bodies", server_bodies::check);
    assert!(hits >= 4, "only {hits} corpus entries decode or verify");
}
