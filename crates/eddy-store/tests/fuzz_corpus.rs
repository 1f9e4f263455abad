//! Replays the committed corpus of the `store_snapshot` fuzz target
//! (`fuzz/corpus/store_snapshot/`) through the same checks as the target
//! (`fuzz/checks/store_snapshot.rs`), so every input that once broke the
//! readers of the store's own files stays fixed, in `cargo test`.

#![allow(clippy::unwrap_used)]

#[path = "../../../fuzz/checks/store_snapshot.rs"]
mod check;
#[path = "../../../fuzz/checks/corpus.rs"]
mod corpus;
#[path = "../../../fuzz/checks/mem_fs.rs"]
#[allow(dead_code)]
mod mem_fs;

#[test]
fn store_snapshot_corpus() {
    let mut whole = [0usize; 2];
    for (path, data) in corpus::corpus("store_snapshot") {
        eprintln!("replaying {}", path.display());
        if check::check(&data) {
            whole[usize::from(data[0] % 2)] += 1;
        }
    }
    assert!(
        whole[0] > 0 && whole[1] > 0,
        "the corpus needs a snapshot and a catalog image that read whole: {whole:?}"
    );
}
