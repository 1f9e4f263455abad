//! See `fuzz/checks/server_bodies.rs`, which holds the checks; the replay test in the
//! crate that owns the decoders runs the corpus through the same file.
#![no_main]

#[path = "../checks/server_bodies.rs"]
mod check;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check::check(data);
});
