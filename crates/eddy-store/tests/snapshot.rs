//! The store's own copy: item snapshots, the catalog image, and rebuilding
//! a store from them when sled's files are lost.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{item, put, sorted_table};
use eddy_model::{IndexDef, Item, KeySchema, KeyType};
use eddy_store::{Error, Scan, Store, StoreOptions};

/// Options keeping the snapshot directory beside the store.
fn options(root: &Path) -> StoreOptions {
    StoreOptions::default()
        .cache_capacity(16 << 20)
        .snapshot_dir(root.join("snapshot"))
}

fn store_dir(root: &Path) -> PathBuf {
    root.join("store")
}

/// Every item of a table, in key order.
fn scan_all(store: &Store, table: &str) -> Vec<Item> {
    let def = store.table(table).unwrap();
    let mut out = Vec::new();
    let mut scan = Scan::default();
    loop {
        let page = store.scan(&def, &scan).unwrap();
        out.extend(page.items);
        match page.last_evaluated_key {
            Some(key) => scan.exclusive_start_key = Some(key),
            None => return out,
        }
    }
}

fn index_items(store: &Store, table: &str, index: &str) -> Vec<Item> {
    let def = store.table(table).unwrap();
    store
        .scan_index(&def, index, &Scan::default())
        .unwrap()
        .items
}

#[test]
fn a_rebuilt_store_holds_the_snapshot_the_current_catalog_and_state() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(&store_dir(root.path()), options(root.path())).unwrap();
    let kept = sorted_table(&store, "kept", KeyType::N);
    let items: Vec<Item> = (0..2500).map(|i| item("a", i).with("g", i % 7)).collect();
    put(&store, &kept, &items);
    let doomed = sorted_table(&store, "doomed", KeyType::N);
    put(&store, &doomed, &[item("d", 1)]);
    store.put_state("ttl/kept", b"expires").unwrap();
    let snapshot = store.write_snapshot(40).unwrap();
    assert_eq!(snapshot.lsn, 40);
    assert_eq!(
        Store::latest_snapshot(&options(root.path())).unwrap(),
        Some(snapshot)
    );

    // DDL and state after the snapshot reach the rebuilt store through the
    // catalog image; items after it would come from the change log.
    store.delete_table("doomed").unwrap();
    let gsi = IndexDef::global("by_g", KeySchema::new("g", KeyType::N));
    store.add_global_index("kept", gsi).unwrap();
    let fresh = sorted_table(&store, "fresh", KeyType::S);
    store.put_state("tag/fresh", b"team").unwrap();
    store.flush().unwrap();
    let expected_index = index_items(&store, "kept", "by_g");
    assert_eq!(expected_index.len(), 2500);
    drop(store);

    let rebuilt = Store::rebuild(&store_dir(root.path()), options(root.path()), 41).unwrap();
    assert_eq!(rebuilt.snapshot_lsn, 40);
    assert_eq!(rebuilt.items, 2500, "the deleted table's item is skipped");
    let damaged = rebuilt.damaged_copy.clone().unwrap();
    assert!(damaged.join("db").exists(), "the old store is kept aside");

    let store = Store::open(&store_dir(root.path()), options(root.path())).unwrap();
    assert_eq!(store.lost_catalog(), None);
    assert_eq!(store.checkpoint_lsn().unwrap(), 40);
    assert_eq!(scan_all(&store, "kept"), {
        let mut sorted = items.clone();
        sorted.sort_by_key(|i| {
            i.get("sk")
                .unwrap()
                .as_n()
                .unwrap()
                .to_string()
                .parse::<u64>()
                .unwrap()
        });
        sorted
    });
    assert_eq!(index_items(&store, "kept", "by_g"), expected_index);
    assert!(matches!(
        store.table("doomed"),
        Err(Error::TableNotFound(_))
    ));
    assert_eq!(store.table("fresh").unwrap(), fresh);
    assert!(scan_all(&store, "fresh").is_empty());
    assert_eq!(store.get_state("ttl/kept").unwrap().unwrap(), b"expires");
    assert_eq!(store.get_state("tag/fresh").unwrap().unwrap(), b"team");
    // Ids are never reused, across the rebuild too.
    let next = sorted_table(&store, "next", KeyType::N);
    assert!(next.id > fresh.id, "{} after {}", next.id, fresh.id);
}

#[test]
fn a_store_that_lost_its_files_says_so_and_keeps_the_image() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(&store_dir(root.path()), options(root.path())).unwrap();
    let table = sorted_table(&store, "tbl", KeyType::N);
    put(&store, &table, &[item("a", 1)]);
    store.write_snapshot(1).unwrap();
    store.flush().unwrap();
    drop(store);

    std::fs::remove_dir_all(store_dir(root.path())).unwrap();
    let empty = Store::open(&store_dir(root.path()), options(root.path())).unwrap();
    let lost = empty.lost_catalog().unwrap().to_string();
    assert!(lost.contains("table ids"), "{lost}");
    // A flush of the empty store must not overwrite the image it lacks.
    empty.flush().unwrap();
    drop(empty);
    let rebuilt = Store::rebuild(&store_dir(root.path()), options(root.path()), 2).unwrap();
    assert_eq!(rebuilt.items, 1);
    let store = Store::open(&store_dir(root.path()), options(root.path())).unwrap();
    assert_eq!(scan_all(&store, "tbl"), vec![item("a", 1)]);
}

#[test]
fn a_snapshot_older_than_the_log_cannot_rebuild_and_touches_nothing() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(&store_dir(root.path()), options(root.path())).unwrap();
    let table = sorted_table(&store, "tbl", KeyType::N);
    put(&store, &table, &[item("a", 1)]);
    store.write_snapshot(10).unwrap();
    drop(store);

    let err = Store::rebuild(&store_dir(root.path()), options(root.path()), 12).unwrap_err();
    assert!(matches!(err, Error::CannotRebuild(_)), "{err}");
    assert!(err.to_string().contains("LSN 10"), "{err}");
    assert!(!root.path().join("store.damaged").exists());
    let store = Store::open(&store_dir(root.path()), options(root.path())).unwrap();
    assert_eq!(scan_all(&store, "tbl"), vec![item("a", 1)]);
}

#[test]
fn a_damaged_snapshot_is_reported_and_the_store_left_in_place() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(&store_dir(root.path()), options(root.path())).unwrap();
    let table = sorted_table(&store, "tbl", KeyType::N);
    put(
        &store,
        &table,
        &(0..100).map(|i| item("a", i)).collect::<Vec<_>>(),
    );
    store.write_snapshot(5).unwrap();
    drop(store);
    let file = root.path().join("snapshot").join(format!("{:020}.snap", 5));
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&file, &bytes).unwrap();

    let err = Store::rebuild(&store_dir(root.path()), options(root.path()), 1).unwrap_err();
    assert!(matches!(err, Error::CorruptFile { .. }), "{err}");
    assert!(!root.path().join("store.damaged").exists());
    assert!(store_dir(root.path()).join("db").exists());

    // Cut short, the file lacks its end record.
    std::fs::write(&file, &bytes[..middle]).unwrap();
    let err = Store::rebuild(&store_dir(root.path()), options(root.path()), 1).unwrap_err();
    assert!(matches!(err, Error::CorruptFile { .. }), "{err}");
}

#[test]
fn a_newer_snapshot_replaces_the_older() {
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(&store_dir(root.path()), options(root.path())).unwrap();
    let table = sorted_table(&store, "tbl", KeyType::N);
    put(&store, &table, &[item("a", 1)]);
    store.write_snapshot(3).unwrap();
    put(&store, &table, &[item("a", 2)]);
    store.write_snapshot(7).unwrap();
    let names: Vec<String> = std::fs::read_dir(root.path().join("snapshot"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".snap"))
        .collect();
    assert_eq!(names, vec![format!("{:020}.snap", 7)]);
    // Without a snapshot directory there are none to write.
    let plain = tempfile::tempdir().unwrap();
    let other = Store::open(plain.path(), StoreOptions::default()).unwrap();
    assert!(matches!(
        other.write_snapshot(1),
        Err(Error::CannotRebuild(_))
    ));
}
