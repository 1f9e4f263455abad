//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;

use eddy::{ChangeKind, ChangeRecord, Database, Item, Scan};

/// Every item of a table, keyed by its key's JSON, read through scan pages.
pub fn table_state(db: &Database, table: &str) -> BTreeMap<String, Item> {
    let schema = db.describe_table(table).unwrap().def.key_schema;
    let mut out = BTreeMap::new();
    let mut scan = Scan::default();
    loop {
        let page = db.scan(table, &scan).unwrap();
        for item in page.items {
            out.insert(schema.key_of(&item).unwrap().to_json_string(), item);
        }
        match page.last_evaluated_key {
            Some(key) => scan.exclusive_start_key = Some(key),
            None => return out,
        }
    }
}

/// Checks the log's invariants and returns the fold of its changes to one
/// table: LSNs strictly increasing, creation times never decreasing, event
/// kinds matching the images, and per item each before image equal to the
/// previous after image (the first one absent).
pub fn fold_log(db: &Database, table: &str) -> (BTreeMap<String, Item>, Vec<ChangeRecord>) {
    let mut state: BTreeMap<String, Item> = BTreeMap::new();
    let mut records = Vec::new();
    let (mut last_lsn, mut last_micros) = (0u64, 0u64);
    for record in db.changes_since(0).unwrap() {
        let record = record.unwrap();
        assert!(
            record.lsn > last_lsn,
            "LSN {} after {}",
            record.lsn,
            last_lsn
        );
        assert!(
            record.created_micros >= last_micros,
            "time went backwards at LSN {}",
            record.lsn
        );
        last_lsn = record.lsn;
        last_micros = record.created_micros;
        if record.change.table != table {
            continue;
        }
        let key = record.change.keys.to_json_string();
        let previous = state.get(&key);
        assert_eq!(
            record.change.old_image.as_ref(),
            previous,
            "LSN {}: before image does not chain for key {key}",
            record.lsn
        );
        let expected_kind = match (&record.change.old_image, &record.change.new_image) {
            (None, Some(_)) => ChangeKind::Insert,
            (Some(_), Some(_)) => ChangeKind::Modify,
            _ => ChangeKind::Remove,
        };
        assert_eq!(record.kind(), expected_kind);
        assert_ne!(
            record.change.old_image, record.change.new_image,
            "no-op logged at LSN {}",
            record.lsn
        );
        match &record.change.new_image {
            Some(item) => state.insert(key, item.clone()),
            None => state.remove(&key),
        };
        records.push(record);
    }
    (state, records)
}

/// Every record of a stream as JSON, shard by shard (in shard id order),
/// with its shard id.
pub fn read_stream(db: &Database, stream: &str) -> Vec<(String, serde_json::Value)> {
    stream_data(db.streams(), stream)
        .into_iter()
        .map(|(shard, data)| (shard, serde_json::from_slice(&data).unwrap()))
        .collect()
}

/// Every record's data of a stream, shard by shard (in shard id order),
/// with its shard id.
pub fn stream_data(streams: &eddy_stream::Streams, stream: &str) -> Vec<(String, Vec<u8>)> {
    let mut shards = streams.list_shards(stream).unwrap();
    shards.sort_by(|a, b| a.shard_id.cmp(&b.shard_id));
    let mut out = Vec::new();
    for shard in shards {
        let mut iterator = Some(
            streams
                .get_shard_iterator(
                    stream,
                    &shard.shard_id,
                    eddy_stream::IteratorType::TrimHorizon,
                )
                .unwrap(),
        );
        while let Some(it) = iterator {
            let page = streams.get_records(&it, None).unwrap();
            if page.records.is_empty() {
                break;
            }
            for record in page.records {
                out.push((shard.shard_id.clone(), record.data));
            }
            iterator = page.next_shard_iterator;
        }
    }
    out
}

/// Waits until `read_stream` holds at least `n` records (or 20 s pass).
pub fn wait_for_records(db: &Database, stream: &str, n: usize) -> Vec<(String, serde_json::Value)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let records = read_stream(db, stream);
        if records.len() >= n || std::time::Instant::now() > deadline {
            return records;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
