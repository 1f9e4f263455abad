//! The facade's errors, met through real failures: each cause is returned
//! by `source()` and printed once along the chain (no message repeats the
//! message of its source), and each error's kind says what the caller can
//! do.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use eddy::testing::FaultFs;
use eddy::{error_chain, Database, Error, ErrorKind, Item, KeySchema, KeyType, ReturnValues};

fn key(i: u32) -> Item {
    Item::new().with("pk", format!("k{i}"))
}

fn db_on_fault_fs(dir: &std::path::Path) -> (Database, Arc<FaultFs>) {
    let fs = Arc::new(FaultFs::new());
    let db = Database::open_with(dir, eddy::Options::new().log_fs(fs.clone())).unwrap();
    db.create_table("tbl", KeySchema::new("pk", KeyType::S))
        .unwrap();
    db.put_item("tbl", key(0), ReturnValues::None).unwrap();
    (db, fs)
}

/// The messages along `e`'s source chain, outermost first.
fn chain(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out = vec![e.to_string()];
    let mut next = e.source();
    while let Some(s) = next {
        out.push(s.to_string());
        next = s.source();
    }
    out
}

/// Asserts that `e` has at least `depth` links and that no message
/// contains the message of its source.
fn assert_printed_once(e: &Error, depth: usize) {
    let links = chain(e);
    assert!(
        links.len() >= depth,
        "expected a chain of {depth} or more, got {links:?} ({e:?})"
    );
    for pair in links.windows(2) {
        assert!(
            !pair[0].contains(&pair[1]),
            "{:?} repeats its source {:?} (whole chain: {links:?})",
            pair[0],
            pair[1]
        );
    }
    assert_eq!(error_chain(e), links.join(": "));
}

#[test]
fn a_refused_log_fsync_is_storage_then_poisons_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let (db, fs) = db_on_fault_fs(dir.path());
    fs.fail_next_syncs(1);
    let first = db.put_item("tbl", key(1), ReturnValues::None).unwrap_err();
    assert_eq!(first.kind(), ErrorKind::Storage, "{first:?}");
    // The log's error, then the fsync's I/O error.
    assert_printed_once(&first, 2);
    fs.clear_faults();
    let later = db.put_item("tbl", key(2), ReturnValues::None).unwrap_err();
    assert!(matches!(later, Error::Poisoned { .. }), "{later:?}");
    assert_eq!(later.kind(), ErrorKind::Storage);
    assert_printed_once(&later, 2);
    // Reads go on.
    assert_eq!(db.get_item("tbl", &key(0)).unwrap(), Some(key(0)));
}

#[test]
fn a_refused_store_fsync_poisons_with_the_whole_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (db, fs) = db_on_fault_fs(dir.path());
    fs.fail_all_syncs(true);
    let err = db.checkpoint().unwrap_err();
    fs.clear_faults();
    // Poisoned, the store failed, making a file durable failed, the I/O
    // error itself.
    assert_printed_once(&err, 4);
    assert_eq!(err.kind(), ErrorKind::Storage);
    let later = db.put_item("tbl", key(3), ReturnValues::None).unwrap_err();
    assert_eq!(
        error_chain(&later),
        error_chain(&err),
        "every later write names the first cause"
    );
}

#[test]
fn a_full_disk_is_storage_and_leaves_the_database_writable() {
    let dir = tempfile::tempdir().unwrap();
    let (db, fs) = db_on_fault_fs(dir.path());
    fs.enospc_on_write(true);
    let err = db.put_item("tbl", key(4), ReturnValues::None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err:?}");
    assert_printed_once(&err, 2);
    fs.clear_faults();
    db.put_item("tbl", key(4), ReturnValues::None).unwrap();
}

#[test]
fn a_data_directory_that_is_a_file_is_an_io_error_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = Database::open(&file).unwrap_err();
    assert_printed_once(&err, 2);
    assert_eq!(err.kind(), ErrorKind::Storage, "{err:?}");
}

#[test]
fn a_change_that_does_not_decode_names_its_lsn_and_its_cause() {
    use eddy_changelog::{ChangeLog, LogOptions};
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.create_table("tbl", KeySchema::new("pk", KeyType::S))
        .unwrap();
    db.close().unwrap();
    drop(db);
    let (log, _) = ChangeLog::open(&dir.path().join("log"), LogOptions::new()).unwrap();
    let lsn = log
        .append(vec![b"not a change".to_vec()])
        .unwrap()
        .first_lsn;
    log.close().unwrap();
    drop(log);
    let err = Database::open(dir.path()).unwrap_err();
    match &err {
        Error::CorruptRecord { lsn: at, .. } => assert_eq!(*at, lsn),
        other => panic!("expected CorruptRecord, got {other:?}"),
    }
    assert_eq!(err.kind(), ErrorKind::Corruption);
    assert_printed_once(&err, 2);
}

#[test]
fn request_errors_say_what_the_caller_can_do() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let missing = db.get_item("nope", &key(0)).unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound, "{missing:?}");
    db.create_table("tbl", KeySchema::new("pk", KeyType::S))
        .unwrap();
    let twice = db
        .create_table("tbl", KeySchema::new("pk", KeyType::S))
        .unwrap_err();
    assert_eq!(twice.kind(), ErrorKind::AlreadyExists, "{twice:?}");
    let bad = db
        .put_item("tbl", Item::new().with("other", 1), ReturnValues::None)
        .unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::InvalidRequest, "{bad:?}");
    db.close().unwrap();
    let closed = db.get_item("tbl", &key(0)).unwrap_err();
    assert_eq!(closed.kind(), ErrorKind::Unavailable, "{closed:?}");
    let locked_dir = tempfile::tempdir().unwrap();
    let _open = Database::open(locked_dir.path()).unwrap();
    let locked = Database::open(locked_dir.path()).unwrap_err();
    assert_eq!(locked.kind(), ErrorKind::Unavailable, "{locked:?}");
}
