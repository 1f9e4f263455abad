//! Replays the committed corpus of the `server_bodies` fuzz target
//! (`fuzz/corpus/server_bodies/`) through the same checks as the target
//! (`fuzz/checks/server_bodies.rs`), so every input that once broke a
//! decoder stays fixed, on stable Rust, in `cargo test`.

#![allow(clippy::unwrap_used)]

#[path = "../../../fuzz/checks/server_bodies.rs"]
mod server_bodies;

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
fn server_bodies_corpus() {
    let hits = replay("server_bodies", server_bodies::check);
    assert!(hits >= 4, "only {hits} corpus entries decode or verify");
}
