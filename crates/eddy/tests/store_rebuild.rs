//! The store is rebuilt from its snapshot and the change log when sled's
//! files are lost or damaged: acknowledged writes, DDL and settings survive
//! a store that does not.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::table_state;
use eddy::{Database, IndexDef, Item, KeySchema, KeyType, Options, ReturnValues};

const ARN: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/orders";

/// Small segments and checkpoints by hand, so that truncation is visible.
fn options() -> Options {
    Options::new()
        .segment_size(16 << 10)
        .checkpoint_interval(None)
        .snapshot_every_bytes(u64::MAX)
}

fn open(dir: &Path) -> Database {
    Database::open_with(dir, options()).unwrap()
}

fn put(db: &Database, id: u64, version: u64) {
    let item = Item::new()
        .with("pk", format!("k{id:05}"))
        .with("g", id % 5)
        .with("version", version)
        .with("pad", "x".repeat(100));
    db.put_item("orders", item, ReturnValues::None).unwrap();
}

/// The first LSN the change log holds, from its segment names.
fn oldest_segment(dir: &Path) -> u64 {
    std::fs::read_dir(dir.join("log"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_suffix(".wal")?.parse().ok()
        })
        .min()
        .unwrap()
}

/// Writes, a snapshot, writes after it, a checkpoint that cuts the log up
/// to the snapshot, DDL and settings after it, and writes the log alone
/// holds. Returns the table's state.
fn workload(dir: &Path, snapshot: bool) -> BTreeMap<String, Item> {
    let db = open(dir);
    let gsi = IndexDef::global("by_g", KeySchema::new("g", KeyType::N));
    db.create_table_with_indexes("orders", KeySchema::new("pk", KeyType::S), vec![gsi])
        .unwrap();
    for id in 0..600 {
        put(&db, id, 1);
    }
    if snapshot {
        let taken = db.snapshot().unwrap();
        assert!(taken.lsn >= 600, "{taken:?}");
    }
    for id in 300..900 {
        put(&db, id, 2);
    }
    for id in 0..50 {
        db.delete_item(
            "orders",
            &Item::new().with("pk", format!("k{id:05}")),
            ReturnValues::None,
        )
        .unwrap();
    }
    db.checkpoint().unwrap();
    db.create_table("later", KeySchema::new("id", KeyType::S))
        .unwrap();
    db.put_item("later", Item::new().with("id", "x"), ReturnValues::None)
        .unwrap();
    db.update_time_to_live("orders", "expires", true).unwrap();
    db.tag_resource(ARN, [("team".to_string(), "payments".to_string())].into())
        .unwrap();
    for id in 850..950 {
        put(&db, id, 3);
    }
    let state = table_state(&db, "orders");
    assert_eq!(state.len(), 900);
    db.close().unwrap();
    state
}

/// Reopens after the damage and checks everything came back.
fn check_rebuilt(dir: &Path, state: &BTreeMap<String, Item>, why: &str) {
    let db = open(dir);
    let rebuilt = db
        .recovery_report()
        .store_rebuilt
        .clone()
        .unwrap_or_else(|| panic!("{why}: the store was not rebuilt"));
    assert_eq!(&table_state(&db, "orders"), state, "{why}");
    let mut indexed = 0;
    let mut start = None;
    loop {
        let page = db
            .scan_with(eddy::ScanRequest {
                table_name: "orders".into(),
                index_name: Some("by_g".into()),
                exclusive_start_key: start.take(),
                ..Default::default()
            })
            .unwrap();
        indexed += page.items.len();
        match page.last_evaluated_key {
            Some(key) => start = Some(key),
            None => break,
        }
    }
    assert_eq!(
        indexed,
        state.len(),
        "{why}: the index is rebuilt with the items"
    );
    assert_eq!(table_state(&db, "later").len(), 1, "{why}");
    assert_eq!(
        db.describe_time_to_live("orders")
            .unwrap()
            .attribute_name
            .as_deref(),
        Some("expires"),
        "{why}"
    );
    assert_eq!(db.list_tags(ARN).unwrap()["team"], "payments", "{why}");
    // The rebuilt database takes writes, and keeps them.
    put(&db, 7, 9);
    db.close().unwrap();
    drop(db);
    let db = open(dir);
    assert!(
        db.recovery_report().store_rebuilt.is_none(),
        "{why}: {rebuilt:?}"
    );
    let got = db
        .get_item("orders", &Item::new().with("pk", "k00007"))
        .unwrap()
        .unwrap();
    assert_eq!(got.get("version").unwrap().as_n().unwrap().to_string(), "9");
}

#[test]
fn a_deleted_store_is_rebuilt_from_the_snapshot_and_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let state = workload(dir.path(), true);
    assert!(
        oldest_segment(dir.path()) > 1,
        "the checkpoint cut the log up to the snapshot"
    );
    std::fs::remove_dir_all(dir.path().join("store")).unwrap();
    check_rebuilt(dir.path(), &state, "store deleted");
}

#[test]
fn a_store_whose_files_are_overwritten_is_rebuilt_and_kept_aside() {
    let dir = tempfile::tempdir().unwrap();
    let state = workload(dir.path(), true);
    let db_file = dir.path().join("store").join("db");
    let len = std::fs::metadata(&db_file).unwrap().len() as usize;
    std::fs::write(&db_file, vec![0x5a; len]).unwrap();
    check_rebuilt(dir.path(), &state, "sled's file overwritten");
    assert!(dir.path().join("store.damaged").join("db").exists());
}

#[test]
fn without_a_snapshot_the_log_is_kept_whole_and_rebuilds_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let state = workload(dir.path(), false);
    assert_eq!(
        oldest_segment(dir.path()),
        1,
        "with no snapshot yet, no checkpoint may cut the log"
    );
    std::fs::remove_dir_all(dir.path().join("store")).unwrap();
    check_rebuilt(dir.path(), &state, "store deleted, no snapshot");
}

#[test]
fn the_background_thread_takes_snapshots_and_lets_the_log_be_cut() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_with(
        dir.path(),
        Options::new()
            .segment_size(16 << 10)
            .checkpoint_every_bytes(32 << 10)
            .snapshot_every_bytes(64 << 10),
    )
    .unwrap();
    db.create_table("orders", KeySchema::new("pk", KeyType::S))
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut id = 0;
    while oldest_segment(dir.path()) == 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "no snapshot let the log be cut"
        );
        for _ in 0..100 {
            put(&db, id % 2000, id);
            id += 1;
        }
    }
    let snapshots: Vec<String> = std::fs::read_dir(dir.path().join("snapshot"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        snapshots.iter().any(|n| n.ends_with(".snap")),
        "{snapshots:?}"
    );
    assert!(snapshots.iter().any(|n| n == "catalog"), "{snapshots:?}");
    let state = table_state(&db, "orders");
    db.close().unwrap();
    drop(db);
    std::fs::remove_dir_all(dir.path().join("store")).unwrap();
    let db = Database::open(dir.path()).unwrap();
    assert!(db.recovery_report().store_rebuilt.is_some());
    assert_eq!(table_state(&db, "orders"), state);
}
