//! The table store's item snapshots and catalog image on arbitrary bytes:
//! see `fuzz/checks/store_snapshot.rs`, which
//! `crates/eddy-store/tests/fuzz_corpus.rs` replays the corpus through.
#![no_main]

#[path = "../checks/mem_fs.rs"]
mod mem_fs;
#[path = "../checks/store_snapshot.rs"]
mod check;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check::check(data);
});
