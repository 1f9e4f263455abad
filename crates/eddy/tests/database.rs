//! Behaviour of the facade that a user relies on: validation leaves nothing
//! behind, no-op writes log nothing, concurrent writes to one item chain,
//! the data directory is exclusive, and a torn log tail is cut off on open.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;

use eddy::{
    AttributeValue, ChangeKind, Database, Error, ErrorKind, Item, KeySchema, KeyType, Query,
    ReturnValues, Scan, SortCondition, Update, WriteRequest,
};

fn db_with_table(dir: &std::path::Path) -> Database {
    let db = Database::open(dir).unwrap();
    db.create_table(
        "tbl",
        KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N),
    )
    .unwrap();
    db
}

fn key(pk: &str, sk: i64) -> Item {
    Item::new().with("pk", pk).with("sk", sk)
}

#[test]
fn invalid_writes_change_and_log_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_table(dir.path());
    db.put_item("tbl", key("a", 1).with("v", 1), ReturnValues::None)
        .unwrap();
    let before = db.last_lsn();
    let bad: Vec<Item> = vec![
        Item::new().with("pk", "a"),                     // missing sort key
        Item::new().with("pk", "a").with("sk", "x"),     // wrong key type
        key("", 1),                                      // empty key string
        key("a", 1).with("big", "x".repeat(400 * 1024)), // too large
        key("a", 1).with("s", AttributeValue::Ss(Default::default())), // empty set
    ];
    for item in bad {
        let err = db.put_item("tbl", item, ReturnValues::None).unwrap_err();
        assert!(matches!(err, Error::Validation(_)), "{err}");
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    }
    let err = db
        .update_item(
            "tbl",
            &key("a", 1),
            Update::new().add("v", "text"),
            ReturnValues::None,
        )
        .unwrap_err();
    assert!(matches!(err, Error::Validation(_)));
    let err = db
        .update_item(
            "tbl",
            &key("a", 1),
            Update::new().set("pk", "b"),
            ReturnValues::None,
        )
        .unwrap_err();
    assert!(err.to_string().contains("part of the key"), "{err}");
    // A batch with one bad request writes none of its requests.
    let err = db
        .batch_write_item(vec![
            ("tbl".into(), WriteRequest::Put(key("b", 1))),
            ("tbl".into(), WriteRequest::Put(Item::new().with("pk", "b"))),
        ])
        .unwrap_err();
    assert!(matches!(err, Error::Validation(_)));
    let err = db
        .batch_write_item(vec![
            ("tbl".into(), WriteRequest::Put(key("b", 1))),
            ("tbl".into(), WriteRequest::Delete(key("b", 1))),
        ])
        .unwrap_err();
    assert!(err.to_string().contains("duplicates"), "{err}");
    assert!(matches!(
        db.put_item("nope", key("a", 1), ReturnValues::None),
        Err(Error::TableNotFound(_))
    ));
    assert!(matches!(
        db.put_item("tbl", key("a", 1), ReturnValues::AllNew),
        Err(Error::Validation(_))
    ));
    assert_eq!(db.last_lsn(), before);
    assert_eq!(
        db.get_item("tbl", &key("a", 1)).unwrap(),
        Some(key("a", 1).with("v", 1))
    );
    assert_eq!(db.get_item("tbl", &key("b", 1)).unwrap(), None);
}

#[test]
fn writes_that_change_nothing_log_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_table(dir.path());
    db.put_item("tbl", key("a", 1).with("v", 1), ReturnValues::None)
        .unwrap();
    let lsn = db.last_lsn();
    db.put_item("tbl", key("a", 1).with("v", 1), ReturnValues::None)
        .unwrap();
    db.update_item(
        "tbl",
        &key("a", 1),
        Update::new().set("v", 1).remove("absent"),
        ReturnValues::None,
    )
    .unwrap();
    db.delete_item("tbl", &key("missing", 1), ReturnValues::None)
        .unwrap();
    assert_eq!(db.last_lsn(), lsn);
    db.update_item(
        "tbl",
        &key("a", 1),
        Update::new().add("v", 1),
        ReturnValues::None,
    )
    .unwrap();
    assert_eq!(db.last_lsn(), lsn + 1);
    let last = db.changes_since(lsn + 1).unwrap().next().unwrap().unwrap();
    assert_eq!(last.kind(), ChangeKind::Modify);
    assert_eq!(last.change.old_image, Some(key("a", 1).with("v", 1)));
    assert_eq!(last.change.new_image, Some(key("a", 1).with("v", 2)));
}

#[test]
fn concurrent_writes_to_one_item_chain_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_table(dir.path());
    let threads = 8;
    let per_thread = 50;
    std::thread::scope(|s| {
        for t in 0..threads {
            let db = db.clone();
            s.spawn(move || {
                for i in 0..per_thread {
                    let k = key("hot", i % 3);
                    db.update_item(
                        "tbl",
                        &k,
                        Update::new().add("n", 1).set("last", format!("{t}")),
                        ReturnValues::None,
                    )
                    .unwrap();
                }
            });
        }
    });
    let total: i64 = (0..3)
        .map(|sk| {
            db.get_item("tbl", &key("hot", sk))
                .unwrap()
                .unwrap()
                .get("n")
                .unwrap()
                .as_n()
                .unwrap()
                .to_i64()
                .unwrap()
        })
        .sum();
    assert_eq!(total, threads * per_thread);
    let (folded, records) = common::fold_log(&db, "tbl");
    assert_eq!(records.len() as i64, threads * per_thread);
    assert_eq!(folded, common::table_state(&db, "tbl"));
}

#[test]
fn query_scan_and_batch_get() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_table(dir.path());
    for sk in [-5, 3, 10, 2, 7] {
        db.put_item("tbl", key("p", sk), ReturnValues::None)
            .unwrap();
    }
    db.put_item("tbl", key("q", 1), ReturnValues::None).unwrap();
    let sks = |page: eddy::Page| -> Vec<i64> {
        page.items
            .iter()
            .map(|i| i.get("sk").unwrap().as_n().unwrap().to_i64().unwrap())
            .collect()
    };
    assert_eq!(
        sks(db.query("tbl", &Query::new("p")).unwrap()),
        [-5, 2, 3, 7, 10]
    );
    assert_eq!(
        sks(db.query("tbl", &Query::new("p").reverse()).unwrap()),
        [10, 7, 3, 2, -5]
    );
    let between = Query::new("p").sort(SortCondition::Between(2.into(), 7.into()));
    assert_eq!(sks(db.query("tbl", &between).unwrap()), [2, 3, 7]);
    let first = db.query("tbl", &Query::new("p").limit(2)).unwrap();
    let resume = first.last_evaluated_key.clone().unwrap();
    assert_eq!(sks(first), [-5, 2]);
    assert_eq!(
        sks(db
            .query("tbl", &Query::new("p").start_after(resume))
            .unwrap()),
        [3, 7, 10]
    );
    assert_eq!(db.scan("tbl", &Scan::default()).unwrap().items.len(), 6);
    let got = db
        .batch_get_item(&[("tbl".into(), vec![key("p", 3), key("p", 4), key("q", 1)])])
        .unwrap();
    assert_eq!(got.responses[0].1.len(), 2);
    assert!(got.unprocessed_keys.is_empty());
    assert!(db
        .batch_get_item(&[("tbl".into(), vec![key("p", 3), key("p", 3)])])
        .is_err());
    let described = db.describe_table("tbl").unwrap();
    assert_eq!(described.item_count, 6);
}

#[test]
fn tables_persist_and_deleted_tables_stay_deleted() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = db_with_table(dir.path());
        db.put_item("tbl", key("a", 1), ReturnValues::None).unwrap();
        db.create_table("other", KeySchema::new("id", KeyType::N))
            .unwrap();
        assert!(matches!(
            db.create_table("tbl", KeySchema::new("x", KeyType::S)),
            Err(Error::TableExists(_))
        ));
        assert!(db
            .create_table("no", KeySchema::new("x", KeyType::S))
            .is_err());
        db.delete_table("other").unwrap();
        // Recreate "tbl" after deleting it: its old logged changes must not
        // come back on replay.
        db.delete_table("tbl").unwrap();
        db.create_table(
            "tbl",
            KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N),
        )
        .unwrap();
        db.put_item("tbl", key("b", 2), ReturnValues::None).unwrap();
    }
    let db = Database::open(dir.path()).unwrap();
    assert_eq!(db.list_tables().unwrap(), ["tbl"]);
    assert_eq!(db.get_item("tbl", &key("a", 1)).unwrap(), None);
    assert_eq!(db.get_item("tbl", &key("b", 2)).unwrap(), Some(key("b", 2)));
}

#[test]
fn a_data_directory_is_opened_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    assert!(matches!(
        Database::open(dir.path()),
        Err(Error::Locked { .. })
    ));
    db.close().unwrap();
    assert!(matches!(
        db.get_item("tbl", &key("a", 1)),
        Err(Error::Closed)
    ));
    drop(db);
    Database::open(dir.path()).unwrap();
}

#[test]
fn torn_tail_is_cut_off_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = db_with_table(dir.path());
        for i in 0..10 {
            db.put_item("tbl", key("a", i), ReturnValues::None).unwrap();
        }
    }
    // Half a frame at the end of the last segment, as a crash mid-write leaves.
    let mut segments: Vec<_> = std::fs::read_dir(dir.path().join("log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segments.sort();
    let last = segments.last().unwrap();
    let mut file = std::fs::OpenOptions::new().append(true).open(last).unwrap();
    file.write_all(&[200, 0, 0, 0, 1, 2, 3, 4, 5]).unwrap();
    drop(file);
    let db = Database::open(dir.path()).unwrap();
    assert!(db.recovery_report().torn_tail.is_some());
    assert_eq!(db.scan("tbl", &Scan::default()).unwrap().items.len(), 10);
    db.put_item("tbl", key("a", 99), ReturnValues::None)
        .unwrap();
    assert_eq!(db.last_lsn(), 11);
}

#[test]
fn subscription_follows_live_writes() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_table(dir.path());
    let mut feed = db.subscribe(1).unwrap();
    let writer = {
        let db = db.clone();
        std::thread::spawn(move || {
            for i in 0..200 {
                db.put_item("tbl", key("s", i), ReturnValues::None).unwrap();
            }
        })
    };
    for expected in 1..=200u64 {
        let change = feed.recv().unwrap();
        assert_eq!(change.lsn, expected);
        assert_eq!(change.kind(), ChangeKind::Insert);
    }
    writer.join().unwrap();
}

/// A database whose change log writes through a [`FaultFs`], with table
/// `tbl` holding items `a`/0..5.
fn db_on_fault_fs(dir: &std::path::Path) -> (Database, std::sync::Arc<eddy::testing::FaultFs>) {
    let fs = std::sync::Arc::new(eddy::testing::FaultFs::new());
    let db = Database::open_with(dir, eddy::Options::new().log_fs(fs.clone())).unwrap();
    db.create_table(
        "tbl",
        KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N),
    )
    .unwrap();
    for i in 0..5 {
        db.put_item("tbl", key("a", i), ReturnValues::None).unwrap();
    }
    (db, fs)
}

/// A failed fsync of the store's files or directories at a checkpoint is
/// never retried: the checkpoint fails (and cuts no log), the database
/// stops accepting writes, every later checkpoint fails the same way, and
/// a reopen finds everything acknowledged.
#[test]
fn a_failed_store_fsync_poisons_the_database_and_sticks() {
    for dir_syncs in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (db, fs) = db_on_fault_fs(dir.path());
        let oldest = db.oldest_lsn();
        if dir_syncs {
            fs.fail_dir_syncs(true);
        } else {
            fs.fail_all_syncs(true);
        }
        let err = db.checkpoint().unwrap_err();
        match &err {
            Error::Poisoned { cause } => assert!(
                matches!(**cause, Error::Store(eddy_store::Error::Sync { .. })),
                "{cause:?}"
            ),
            other => panic!("expected Poisoned by the store's fsync, got {other:?}"),
        }
        assert_eq!(err.kind(), ErrorKind::Storage);
        fs.clear_faults();
        let err = db
            .put_item("tbl", key("a", 9), ReturnValues::None)
            .unwrap_err();
        assert!(matches!(err, Error::Poisoned { .. }), "{err}");
        assert!(db.checkpoint().is_err(), "a later checkpoint must fail too");
        assert_eq!(db.oldest_lsn(), oldest, "no log was cut");
        drop(db);
        let db = Database::open(dir.path()).unwrap();
        for i in 0..5 {
            assert_eq!(db.get_item("tbl", &key("a", i)).unwrap(), Some(key("a", i)));
        }
        assert_eq!(db.get_item("tbl", &key("a", 9)).unwrap(), None);
    }
}

#[test]
fn a_failed_fsync_stops_writes_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let (db, fs) = db_on_fault_fs(dir.path());
    fs.fail_next_syncs(1);
    assert!(db.put_item("tbl", key("a", 5), ReturnValues::None).is_err());
    fs.clear_faults();
    // Never retried as if fine: the database refuses writes until reopened.
    let err = db
        .put_item("tbl", key("a", 6), ReturnValues::None)
        .unwrap_err();
    assert!(matches!(err, Error::Poisoned { .. }), "{err:?}");
    assert_eq!(db.get_item("tbl", &key("a", 4)).unwrap(), Some(key("a", 4)));
    drop(db);
    let db = Database::open(dir.path()).unwrap();
    for i in 0..5 {
        assert_eq!(db.get_item("tbl", &key("a", i)).unwrap(), Some(key("a", i)));
    }
    assert_eq!(db.get_item("tbl", &key("a", 6)).unwrap(), None);
    db.put_item("tbl", key("a", 7), ReturnValues::None).unwrap();
}

#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_recovers_when_space_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let (db, fs) = db_on_fault_fs(dir.path());
    fs.enospc_on_write(true);
    for i in 5..8 {
        match db.put_item("tbl", key("a", i), ReturnValues::None) {
            Err(Error::Log(eddy::LogError::WriteFailed { source, .. })) => {
                assert_eq!(source.kind(), std::io::ErrorKind::StorageFull);
            }
            other => panic!("expected a refused write, got {other:?}"),
        }
    }
    // Reads are served, and the refused items are nowhere.
    for i in 0..5 {
        assert_eq!(db.get_item("tbl", &key("a", i)).unwrap(), Some(key("a", i)));
    }
    assert_eq!(db.get_item("tbl", &key("a", 5)).unwrap(), None);
    fs.enospc_on_write(false);
    // Space is back: the same handle accepts writes again.
    db.put_item("tbl", key("a", 8), ReturnValues::None).unwrap();
    assert_eq!(db.get_item("tbl", &key("a", 8)).unwrap(), Some(key("a", 8)));
    drop(db);
    let db = Database::open(dir.path()).unwrap();
    let mut present: Vec<i64> = (0..9)
        .filter(|&i| db.get_item("tbl", &key("a", i)).unwrap().is_some())
        .collect();
    present.sort_unstable();
    assert_eq!(present, vec![0, 1, 2, 3, 4, 8]);
}

#[test]
fn an_undecodable_logged_change_stops_the_open_and_names_its_lsn() {
    use eddy_changelog::{ChangeLog, LogOptions};
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_table(dir.path());
    for i in 0..10 {
        db.put_item("tbl", key("r", i), ReturnValues::None).unwrap();
    }
    db.close().unwrap();
    drop(db);
    // A frame whose checksum is right but whose payload is not a change,
    // after more than one replay batch of good changes.
    let (log, _) = ChangeLog::open(&dir.path().join("log"), LogOptions::new()).unwrap();
    let good: Vec<Vec<u8>> = log
        .read_from(1)
        .unwrap()
        .map(|r| r.unwrap().payload)
        .collect();
    assert_eq!(good.len(), 10);
    for _ in 0..250 {
        let _ = log.append(good.clone()).unwrap();
    }
    let lsn = log
        .append(vec![b"not a change".to_vec()])
        .unwrap()
        .first_lsn;
    log.close().unwrap();
    match Database::open(dir.path()) {
        Err(Error::CorruptRecord { lsn: at, .. }) => assert_eq!(at, lsn),
        other => panic!("expected CorruptRecord at {lsn}, got {other:?}"),
    }
}

#[test]
fn batch_get_returns_keys_beyond_16_mb_unprocessed() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_table(dir.path());
    let big = "x".repeat(390 * 1024);
    let keys: Vec<Item> = (0..50).map(|i| key("big", i)).collect();
    for k in &keys {
        db.put_item(
            "tbl",
            k.clone().with("blob", big.as_str()),
            ReturnValues::None,
        )
        .unwrap();
    }
    let got = db.batch_get_item(&[("tbl".into(), keys.clone())]).unwrap();
    let returned = got.responses[0].1.len();
    let unprocessed = got.unprocessed_keys.first().map_or(0, |(_, k)| k.len());
    assert!(returned < 50 && returned > 0, "{returned}");
    assert_eq!(returned + unprocessed, 50);
    let bytes: usize = got.responses[0].1.iter().map(Item::size).sum();
    assert!(bytes <= eddy::MAX_BATCH_GET_BYTES);
    // Asking again for the unprocessed keys returns them.
    let again = db.batch_get_item(&got.unprocessed_keys).unwrap();
    assert_eq!(again.responses[0].1.len(), unprocessed);
}
