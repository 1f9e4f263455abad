//! Replays the committed corpus of the `changelog_frame` fuzz target
//! (`fuzz/corpus/changelog_frame/`) through the same checks as the target
//! (`fuzz/checks/changelog_frame.rs`), so every input that once broke the
//! frame decoder or recovery stays fixed, on stable Rust, in `cargo test`.

#![allow(clippy::unwrap_used)]

#[path = "../../../fuzz/checks/corpus.rs"]
mod corpus;

#[path = "../../../fuzz/checks/changelog_frame.rs"]
mod check;
#[path = "../../../fuzz/checks/mem_fs.rs"]
#[allow(dead_code)]
mod mem_fs;

use corpus::replay;

#[test]
fn changelog_frame_corpus() {
    let hits = replay("changelog_frame", check::check);
    assert!(
        hits > 0,
        "no corpus entry recovers records: the replay checks little"
    );
}
