//! Replays the committed corpus of the `store_snapshot` fuzz target
//! (`fuzz/corpus/store_snapshot/`) through the same checks as the target
//! (`fuzz/checks/store_snapshot.rs`), so every input that once broke the
//! readers of the store's own files stays fixed, in `cargo test`.

#![allow(clippy::unwrap_used)]

#[path = "../../../fuzz/checks/store_snapshot.rs"]
mod check;
#[path = "../../../fuzz/checks/mem_fs.rs"]
#[allow(dead_code)]
mod mem_fs;

use std::path::PathBuf;

#[test]
fn store_snapshot_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/store_snapshot");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut whole = [0usize; 2];
    for path in &files {
        eprintln!("replaying {}", path.display());
        let data = std::fs::read(path).unwrap();
        if check::check(&data) {
            whole[usize::from(data[0] % 2)] += 1;
        }
    }
    assert!(
        whole[0] > 0 && whole[1] > 0,
        "the corpus needs a snapshot and a catalog image that read whole: {whole:?}"
    );
}
