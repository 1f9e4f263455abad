//! See `fuzz/checks/stream_segment.rs`, which holds the checks; the replay test in the
//! crate that owns the decoders runs the corpus through the same file.
#![no_main]

#[path = "../checks/stream_segment.rs"]
mod check;
#[path = "../checks/mem_fs.rs"]
mod mem_fs;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check::check(data);
});
