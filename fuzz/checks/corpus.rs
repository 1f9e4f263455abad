//! Reading a fuzz target's committed corpus (`fuzz/corpus/<target>/`), for
//! the crates' `tests/fuzz_corpus.rs` replay tests (via `#[path]`; every
//! crate sits two levels below the workspace root).

use std::path::PathBuf;

/// Every input of `target`'s corpus, with its path, in name order.
pub fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, data)
        })
        .collect()
}

/// Replays `target`'s corpus through `check`; how many inputs it counted
/// as reaching the interesting paths.
#[allow(dead_code)]
pub fn replay(target: &str, check: fn(&[u8]) -> bool) -> usize {
    let mut hits = 0;
    for (path, data) in corpus(target) {
        eprintln!("replaying {}", path.display());
        if check(&data) {
            hits += 1;
        }
    }
    hits
}
