//! The change log's frame and segment-header decoders and crash recovery
//! over an in-memory file system: see `fuzz/checks/changelog_frame.rs`,
//! which `crates/eddy-changelog/tests/fuzz_corpus.rs` replays the corpus
//! through.
#![no_main]

#[path = "../checks/changelog_frame.rs"]
mod check;
#[path = "../checks/mem_fs.rs"]
mod mem_fs;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check::check(data);
});
