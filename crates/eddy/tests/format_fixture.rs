//! Format fixtures: data directories written by an earlier build, committed
//! under `tests/fixtures/`, must open and read back exactly. A change to any
//! on-disk format (change-log segments, the store, its snapshot and catalog
//! image, stream segments, summaries and metadata) then fails here, and
//! needs a migration and a new fixture rather than silently leaving old
//! directories unreadable.
//!
//! `format-v1` was written by `write_format_fixture` below (run it with
//! `EDDY_WRITE_FIXTURE=<dir>` to write a new version; never rewrite an old
//! one). It holds a table with a global secondary index, items put,
//! updated and deleted before and after a store snapshot, a deleted table,
//! TTL and tag settings, a streaming destination and a stream written with
//! `PutRecord`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use eddy::{Database, IndexDef, Item, KeySchema, KeyType, Options, ReturnValues, Update};
use eddy_stream::{CreateStream, PutRecord, StreamMode, StreamOptions, Streams};

const TABLE: &str = "orders";
const DESTINATION: &str = "orders-changes";
const DESTINATION_ARN: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/orders-changes";
const RAW: &str = "raw";
const TABLE_ARN: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/orders";

/// Item `i` as last written by the fixture's writes.
fn order(i: u64, version: u64) -> Item {
    Item::new()
        .with("pk", format!("customer-{}", i % 4))
        .with("sk", i)
        .with("status", if i.is_multiple_of(3) { "PAID" } else { "OPEN" })
        .with("version", version)
        .with("note", format!("order {i} v{version}"))
}

fn key(i: u64) -> Item {
    Item::new()
        .with("pk", format!("customer-{}", i % 4))
        .with("sk", i)
}

/// What `orders` holds once the fixture is written, by key JSON.
fn expected_orders() -> BTreeMap<String, Item> {
    let schema = KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N);
    (0..40u64)
        .filter(|i| i % 10 != 7)
        .map(|i| {
            let version = if (10..30).contains(&i) { 2 } else { 1 };
            let mut item = order(i, version);
            if i.is_multiple_of(5) {
                item = item.with("touched", true);
            }
            (schema.key_of(&item).unwrap().to_json_string(), item)
        })
        .collect()
}

/// Changes the fixture logs to `orders` (40 puts, 20 re-puts, 8 updates, 4
/// deletes) and to `gone` (1 put).
const ORDER_CHANGES: usize = 40 + 20 + 8 + 4;

/// The records `PutRecord` wrote to `raw`.
fn raw_records() -> Vec<Vec<u8>> {
    (0..5u8).map(|i| vec![b'r', i, 0xff, i]).collect()
}

fn options() -> Options {
    Options::new().ttl_sweep_interval(None)
}

#[test]
#[ignore = "writes a new format fixture; run with EDDY_WRITE_FIXTURE=<dir> when a format changes"]
fn write_format_fixture() {
    let dir = PathBuf::from(std::env::var("EDDY_WRITE_FIXTURE").unwrap());
    assert!(
        !dir.exists(),
        "{} exists: never rewrite a fixture",
        dir.display()
    );
    let db = Database::open_with(&dir, options()).unwrap();
    let gsi = IndexDef::global("by_status", KeySchema::new("status", KeyType::S));
    db.create_table_with_indexes(
        TABLE,
        KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N),
        vec![gsi],
    )
    .unwrap();
    let shards = CreateStream {
        shard_count: Some(2),
        mode: StreamMode::Provisioned,
    };
    db.streams()
        .create_stream(DESTINATION, shards.clone())
        .unwrap();
    db.streams().create_stream(RAW, shards).unwrap();
    db.enable_kinesis_streaming_destination(TABLE, DESTINATION_ARN, None)
        .unwrap();
    db.create_table("gone", KeySchema::new("id", KeyType::S))
        .unwrap();
    db.put_item("gone", Item::new().with("id", "x"), ReturnValues::None)
        .unwrap();
    db.delete_table("gone").unwrap();
    for i in 0..40 {
        db.put_item(TABLE, order(i, 1), ReturnValues::None).unwrap();
    }
    db.snapshot().unwrap();
    for i in 10..30 {
        db.put_item(TABLE, order(i, 2), ReturnValues::None).unwrap();
    }
    for i in (0..40).step_by(5) {
        db.update_item(
            TABLE,
            &key(i),
            Update::new().set("touched", true),
            ReturnValues::None,
        )
        .unwrap();
    }
    for i in (7..40).step_by(10) {
        db.delete_item(TABLE, &key(i), ReturnValues::None).unwrap();
    }
    db.update_time_to_live(TABLE, "expires", true).unwrap();
    db.tag_resource(
        TABLE_ARN,
        [("team".to_string(), "payments".to_string())].into(),
    )
    .unwrap();
    for data in raw_records() {
        db.streams()
            .put_record(RAW, PutRecord::new("p", data))
            .unwrap();
    }
    assert!(db
        .wait_for_streaming(std::time::Duration::from_secs(10))
        .unwrap());
    assert_eq!(common::table_state(&db, TABLE), expected_orders());
    db.close().unwrap();
    drop(db);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    std::fs::write(dir.join("WRITTEN_AT_MS"), now.to_string()).unwrap();
}

/// A copy of the fixture to open (opening writes).
fn copy_fixture(version: &str) -> (tempfile::TempDir, PathBuf) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(version);
    let temp = tempfile::tempdir().unwrap();
    let to = temp.path().join("db");
    copy_tree(&from, &to);
    (temp, to)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every record's data of a stream (read with the clock pinned to the
/// fixture's writing, so that retention keeps them).
fn stream_records(streams: &Streams, stream: &str) -> Vec<Vec<u8>> {
    common::stream_data(streams, stream)
        .into_iter()
        .map(|(_, data)| data)
        .collect()
}

fn check_database(dir: &Path, why: &str) {
    let db = Database::open_with(dir, options()).unwrap();
    assert_eq!(common::table_state(&db, TABLE), expected_orders(), "{why}");
    let paid = db
        .scan_with(eddy::ScanRequest {
            table_name: TABLE.into(),
            index_name: Some("by_status".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        paid.items.len(),
        expected_orders().len(),
        "{why}: the index"
    );
    assert!(db.describe_table("gone").is_err(), "{why}");
    assert_eq!(
        db.describe_time_to_live(TABLE)
            .unwrap()
            .attribute_name
            .as_deref(),
        Some("expires"),
        "{why}"
    );
    assert_eq!(
        db.list_tags(TABLE_ARN).unwrap()["team"],
        "payments",
        "{why}"
    );
    let destinations = db.describe_kinesis_streaming_destination(TABLE).unwrap();
    assert_eq!(destinations.len(), 1, "{why}");
    assert_eq!(destinations[0].stream_arn, DESTINATION_ARN, "{why}");
    assert_eq!(destinations[0].status.as_str(), "ACTIVE", "{why}");
    let kinds: Vec<String> = db
        .changes_since(0)
        .unwrap()
        .map(|c| c.unwrap())
        .filter(|c| c.change.table == TABLE)
        .map(|c| c.kind().as_str().to_string())
        .collect();
    assert_eq!(kinds.len(), ORDER_CHANGES, "{why}");
    assert_eq!(kinds.iter().filter(|k| *k == "REMOVE").count(), 4, "{why}");
    assert_eq!(kinds.iter().filter(|k| *k == "INSERT").count(), 40, "{why}");
    db.close().unwrap();
}

#[test]
fn format_v1_opens_and_reads_back_exactly() {
    let (_temp, dir) = copy_fixture("format-v1");
    let written_at: u64 = std::fs::read_to_string(dir.join("WRITTEN_AT_MS"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The streams alone first, at the fixture's time: the database's own
    // clock would find them past their retention.
    let streams = Streams::open(
        &dir.join("streams"),
        StreamOptions::new().clock(Arc::new(move || written_at + 1000)),
    )
    .unwrap();
    assert_eq!(stream_records(&streams, RAW), raw_records());
    let published = stream_records(&streams, DESTINATION);
    assert_eq!(
        published.len(),
        ORDER_CHANGES,
        "one record per change of the table"
    );
    for record in &published {
        let json: serde_json::Value = serde_json::from_slice(record).unwrap();
        assert_eq!(json["tableName"], TABLE);
    }
    drop(streams);

    check_database(&dir, "as written");
    // The store's own copy (snapshot and catalog image) rebuilds it.
    std::fs::remove_dir_all(dir.join("store")).unwrap();
    check_database(&dir, "rebuilt from the snapshot");
}
