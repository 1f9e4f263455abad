//! Replays the committed corpora of the `stream_segment` and
//! `shard_iterator` fuzz targets (`fuzz/corpus/<target>/`) through the same
//! checks as the targets (`fuzz/checks/<target>.rs`), so every input that
//! once broke a decoder or recovery stays fixed, on stable Rust, in
//! `cargo test`.

#![allow(clippy::unwrap_used)]

#[path = "../../../fuzz/checks/mem_fs.rs"]
mod mem_fs;
#[path = "../../../fuzz/checks/shard_iterator.rs"]
mod shard_iterator;
#[path = "../../../fuzz/checks/stream_segment.rs"]
mod stream_segment;

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).unwrap();
            (p, data)
        })
        .collect()
}

/// Replay `target`'s corpus through `check`; how many inputs it counted as
/// reaching the interesting paths.
fn replay(target: &str, check: fn(&[u8]) -> bool) -> usize {
    let mut hits = 0;
    for (path, data) in corpus(target) {
        eprintln!("replaying {}", path.display());
        if check(&data) {
            hits += 1;
        }
    }
    hits
}

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
