//! The table store's own files, which a rebuild reads after a crash or
//! damage: item snapshots and the catalog image, on arbitrary bytes.
//! Shared by `fuzz/fuzz_targets/store_snapshot.rs` and
//! `crates/eddy-store/tests/fuzz_corpus.rs` (via `#[path]`).
//!
//! Input: a mode byte, then a file's bytes.
//!
//! * mode 0, an item snapshot: reading it succeeds or fails with
//!   `CorruptFile` (never a panic or another error); what reads writes
//!   back to the same bytes.
//! * mode 1, a catalog image: the same.

use crate::mem_fs::MemFs;
use eddy_model::io::LogFs;
use eddy_store::fuzzing;
use eddy_store::Error;
use std::path::Path;

/// Run every check on one input; true if the file read whole.
pub fn check(data: &[u8]) -> bool {
    let Some((&mode, bytes)) = data.split_first() else {
        return false;
    };
    let fs = MemFs::new();
    let (read, copy) = (Path::new("/read"), Path::new("/copy"));
    fs.create_dir_all(read).expect("mkdir");
    fs.create_dir_all(copy).expect("mkdir");
    let expect_corrupt = |e: Error| match e {
        Error::CorruptFile { .. } => false,
        other => panic!("not reported as a damaged file: {other:?}"),
    };
    if mode % 2 == 0 {
        let path = read.join("00000000000000000001.snap");
        fs.put(&path, bytes);
        match fuzzing::read_snapshot(&fs, &path) {
            Ok((lsn, items)) => {
                let again = copy.join("again.snap");
                fuzzing::write_snapshot(&fs, &again, lsn, &items).expect("rewrite");
                assert_eq!(
                    fs.get(&again).as_deref(),
                    Some(bytes),
                    "a snapshot rewrites to other bytes"
                );
                true
            }
            Err(e) => expect_corrupt(e),
        }
    } else {
        fs.put(&fuzzing::catalog_image_path(read), bytes);
        match fuzzing::read_catalog_image(&fs, read) {
            Ok(Some(image)) => {
                fuzzing::write_catalog_image(&fs, copy, &image).expect("rewrite");
                assert_eq!(
                    fs.get(&fuzzing::catalog_image_path(copy)).as_deref(),
                    Some(bytes),
                    "a catalog image rewrites to other bytes"
                );
                true
            }
            Ok(None) => panic!("a written image reads as missing"),
            Err(e) => expect_corrupt(e),
        }
    }
}
