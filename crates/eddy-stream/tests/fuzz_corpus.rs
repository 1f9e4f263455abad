//! Replays the committed corpora of the `stream_segment` and
//! `shard_iterator` fuzz targets (`fuzz/corpus/<target>/`) through the same
//! checks as the targets (`fuzz/checks/<target>.rs`), so every input that
//! once broke a decoder or recovery stays fixed, on stable Rust, in
//! `cargo test`.

#![allow(clippy::unwrap_used)]

#[path = "../../../fuzz/checks/corpus.rs"]
mod corpus;

#[path = "../../../fuzz/checks/mem_fs.rs"]
mod mem_fs;
#[path = "../../../fuzz/checks/shard_iterator.rs"]
mod shard_iterator;
#[path = "../../../fuzz/checks/stream_segment.rs"]
mod stream_segment;

use corpus::replay;

#[test]
fn stream_segment_corpus() {
    let hits = replay("stream_segment", stream_segment::check);
    assert!(
        hits >= 3,
        "only {hits} corpus entries decode or open with records"
    );
}

#[test]
fn shard_iterator_corpus() {
    let hits = replay("shard_iterator", shard_iterator::check);
    assert!(hits >= 2, "only {hits} corpus entries decode");
}
