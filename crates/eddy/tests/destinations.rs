//! Kinesis streaming destinations: the state machine and its errors, and the
//! records the publisher writes (which changes, in which order, in which
//! format, across reopen).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use eddy::stream::{CreateStream, StreamMode};
use eddy::{
    Database, DestinationStatus, Error, Item, KeySchema, KeyType, Precision, ReturnValues, Update,
};
use serde_json::Value;

const ARN: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/changes";

fn setup(dir: &std::path::Path) -> Database {
    let db = Database::open(dir).unwrap();
    db.create_table("orders", KeySchema::new("pk", KeyType::S))
        .unwrap();
    db.streams()
        .create_stream(
            "changes",
            CreateStream {
                shard_count: Some(4),
                mode: StreamMode::Provisioned,
            },
        )
        .unwrap();
    db
}

fn pk(k: &str) -> Item {
    Item::new().with("pk", k)
}

#[test]
fn state_machine_and_aws_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = setup(dir.path());
    assert!(matches!(
        db.enable_kinesis_streaming_destination("nope", ARN, None),
        Err(Error::TableNotFound(_))
    ));
    assert!(db
        .describe_kinesis_streaming_destination("orders")
        .unwrap()
        .is_empty());

    let enabled = db
        .enable_kinesis_streaming_destination("orders", ARN, None)
        .unwrap();
    assert_eq!(enabled.status, DestinationStatus::Enabling);
    let described = db.describe_kinesis_streaming_destination("orders").unwrap();
    assert_eq!(described.len(), 1);
    assert_eq!(described[0].status, DestinationStatus::Active);
    assert_eq!(described[0].precision, None);

    let err = db
        .enable_kinesis_streaming_destination("orders", ARN, None)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("must be DISABLED or ENABLE_FAILED"),
        "{err}"
    );
    let err = db
        .update_kinesis_streaming_destination("orders", ARN, None)
        .unwrap_err();
    assert!(err.to_string().contains("cannot be null"), "{err}");
    let other = "arn:aws:kinesis:us-east-1:000000000000:stream/other";
    let err = db
        .update_kinesis_streaming_destination("orders", other, Some(Precision::Microsecond))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("No streaming destination with streamArn"),
        "{err}"
    );
    let updated = db
        .update_kinesis_streaming_destination("orders", ARN, Some(Precision::Microsecond))
        .unwrap();
    assert_eq!(updated.status, DestinationStatus::Updating);
    let err = db
        .update_kinesis_streaming_destination("orders", ARN, Some(Precision::Microsecond))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Precision is already set to the desired value of MICROSECOND"),
        "{err}"
    );
    assert!(matches!(err, Error::Validation(_)), "{err:?}");

    let disabled = db
        .disable_kinesis_streaming_destination("orders", ARN)
        .unwrap();
    assert_eq!(disabled.status, DestinationStatus::Disabling);
    assert_eq!(
        db.describe_kinesis_streaming_destination("orders").unwrap()[0].status,
        DestinationStatus::Disabled
    );
    let err = db
        .disable_kinesis_streaming_destination("orders", ARN)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("must be ACTIVE to perform DISABLE"),
        "{err}"
    );

    // A missing stream: the destination ends ENABLE_FAILED and says why.
    let missing = "arn:aws:kinesis:us-east-1:000000000000:stream/missing";
    db.enable_kinesis_streaming_destination("orders", missing, None)
        .unwrap();
    let described = db.describe_kinesis_streaming_destination("orders").unwrap();
    let failed = described.iter().find(|d| d.stream_arn == missing).unwrap();
    assert_eq!(failed.status, DestinationStatus::EnableFailed);
    assert!(failed
        .status_description
        .as_deref()
        .unwrap()
        .contains("not found"));
    // ...and the table can be enabled again after a failure.
    db.enable_kinesis_streaming_destination("orders", ARN, None)
        .unwrap();

    // Destinations persist across reopen.
    drop(db);
    let db = Database::open(dir.path()).unwrap();
    let statuses: BTreeSet<&str> = db
        .describe_kinesis_streaming_destination("orders")
        .unwrap()
        .iter()
        .map(|d| d.status.as_str())
        .collect();
    assert_eq!(statuses, BTreeSet::from(["ACTIVE", "ENABLE_FAILED"]));
}

#[test]
fn streams_every_change_after_enabling_in_per_item_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = setup(dir.path());
    db.put_item("orders", pk("before").with("v", 1), ReturnValues::None)
        .unwrap();
    db.enable_kinesis_streaming_destination("orders", ARN, None)
        .unwrap();
    let mut expected = 0;
    for i in 0..30 {
        let key = format!("k{}", i % 7);
        db.update_item(
            "orders",
            &pk(&key),
            Update::new().add("n", 1),
            ReturnValues::None,
        )
        .unwrap();
        expected += 1;
        if i % 5 == 4 {
            db.delete_item("orders", &pk(&key), ReturnValues::None)
                .unwrap();
            expected += 1;
        }
    }
    // A write that changes nothing produces no record.
    db.put_item("orders", pk("before").with("v", 1), ReturnValues::None)
        .unwrap();
    let records = common::wait_for_records(&db, "changes", expected);
    assert_eq!(records.len(), expected);

    let mut shard_of_key: BTreeMap<String, String> = BTreeMap::new();
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    let mut last_time: BTreeMap<String, u64> = BTreeMap::new();
    for (shard, record) in &records {
        assert_eq!(record["awsRegion"], "us-east-1");
        assert_eq!(record["tableName"], "orders");
        assert_eq!(record["eventSource"], "aws:dynamodb");
        assert_eq!(record["recordFormat"], "application/json");
        assert!(record["userIdentity"].is_null());
        assert!(
            ids.insert(record["eventID"].as_str().unwrap().to_string()),
            "duplicate eventID"
        );
        let key = record["dynamodb"]["Keys"]["pk"]["S"]
            .as_str()
            .unwrap()
            .to_string();
        assert_ne!(key, "before", "a change from before enabling was streamed");
        // One shard per item, in commit order: the counter goes 1, 2, ... and
        // restarts after a REMOVE.
        assert_eq!(
            shard_of_key.entry(key.clone()).or_insert(shard.clone()),
            shard
        );
        let time = record["dynamodb"]["ApproximateCreationDateTime"]
            .as_u64()
            .unwrap();
        assert!(time >= *last_time.get(&key).unwrap_or(&0));
        last_time.insert(key.clone(), time);
        assert!(
            (1_000_000_000_000..10_000_000_000_000).contains(&time),
            "not epoch millis: {time}"
        );
        assert!(record["dynamodb"]
            .get("ApproximateCreationDateTimePrecision")
            .is_none());
        let count = counts.entry(key.clone()).or_insert(0);
        match record["eventName"].as_str().unwrap() {
            "REMOVE" => {
                assert!(record["dynamodb"].get("NewImage").is_none());
                *count = 0;
            }
            kind => {
                *count += 1;
                assert_eq!(kind, if *count == 1 { "INSERT" } else { "MODIFY" });
                let n = &record["dynamodb"]["NewImage"]["n"]["N"];
                assert_eq!(n, &Value::String(count.to_string()));
            }
        }
    }
    let metrics = db.streaming_metrics("orders").unwrap();
    assert_eq!(metrics.records_published, expected as u64);
    assert_eq!(metrics.cdc_units, expected as u64);
    assert_eq!(db.describe_table("orders").unwrap().streaming, metrics);
}

#[test]
fn precision_updates_apply_to_later_changes_and_disable_stops_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let db = setup(dir.path());
    db.enable_kinesis_streaming_destination("orders", ARN, None)
        .unwrap();
    db.put_item("orders", pk("a"), ReturnValues::None).unwrap();
    db.update_kinesis_streaming_destination("orders", ARN, Some(Precision::Microsecond))
        .unwrap();
    db.put_item("orders", pk("b"), ReturnValues::None).unwrap();
    db.disable_kinesis_streaming_destination("orders", ARN)
        .unwrap();
    db.put_item("orders", pk("c"), ReturnValues::None).unwrap();
    let records = common::wait_for_records(&db, "changes", 2);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let records_later = common::read_stream(&db, "changes");
    assert_eq!(records.len(), 2);
    assert_eq!(
        records_later.len(),
        2,
        "a change after disabling was streamed"
    );
    let by_key: BTreeMap<&str, &Value> = records
        .iter()
        .map(|(_, r)| (r["dynamodb"]["Keys"]["pk"]["S"].as_str().unwrap(), r))
        .collect();
    let a = &by_key["a"]["dynamodb"];
    assert!(a.get("ApproximateCreationDateTimePrecision").is_none());
    assert!(a["ApproximateCreationDateTime"].as_u64().unwrap() < 10_000_000_000_000);
    let b = &by_key["b"]["dynamodb"];
    assert_eq!(b["ApproximateCreationDateTimePrecision"], "MICROSECOND");
    assert!(b["ApproximateCreationDateTime"].as_u64().unwrap() > 1_000_000_000_000_000);
}

#[test]
fn publishing_resumes_after_reopen_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = setup(dir.path());
        db.enable_kinesis_streaming_destination("orders", ARN, None)
            .unwrap();
        for i in 0..200 {
            db.put_item("orders", pk(&format!("k{i}")), ReturnValues::None)
                .unwrap();
        }
        // Closed right away: the publisher may be anywhere.
    }
    let db = Database::open(dir.path()).unwrap();
    for i in 200..250 {
        db.put_item("orders", pk(&format!("k{i}")), ReturnValues::None)
            .unwrap();
    }
    let records = common::wait_for_records(&db, "changes", 250);
    let ids: BTreeSet<&str> = records
        .iter()
        .map(|(_, r)| r["eventID"].as_str().unwrap())
        .collect();
    let keys: BTreeSet<&str> = records
        .iter()
        .map(|(_, r)| r["dynamodb"]["Keys"]["pk"]["S"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), 250, "every change is in the stream");
    assert_eq!(ids.len(), 250, "duplicates, if any, carry the same eventID");
}

#[test]
fn a_deleted_stream_stalls_the_destination_visibly() {
    let dir = tempfile::tempdir().unwrap();
    let db = setup(dir.path());
    db.enable_kinesis_streaming_destination("orders", ARN, None)
        .unwrap();
    db.streams().delete_stream("changes").unwrap();
    db.put_item("orders", pk("a"), ReturnValues::None).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let d = db
            .describe_kinesis_streaming_destination("orders")
            .unwrap()
            .remove(0);
        if let Some(why) = d.status_description {
            assert!(why.contains("not found"), "{why}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the failure was never reported"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The change is kept and delivered once the stream is back.
    db.streams()
        .create_stream(
            "changes",
            CreateStream {
                shard_count: Some(1),
                mode: StreamMode::Provisioned,
            },
        )
        .unwrap();
    let records = common::wait_for_records(&db, "changes", 1);
    assert_eq!(records.len(), 1);
}

#[test]
fn per_item_order_holds_across_resharding() {
    use eddy::{InitialPosition, StreamConsumer};
    let dir = tempfile::tempdir().unwrap();
    let db = setup(dir.path());
    db.enable_kinesis_streaming_destination("orders", ARN, None)
        .unwrap();
    let bump = |db: &Database| {
        for k in 0..12 {
            db.update_item(
                "orders",
                &pk(&format!("k{k}")),
                Update::new().add("n", 1),
                ReturnValues::None,
            )
            .unwrap();
        }
    };
    bump(&db);
    assert!(db
        .wait_for_streaming(std::time::Duration::from_secs(10))
        .unwrap());
    db.streams()
        .split_shard(
            "changes",
            "shardId-000000000001",
            "127605887595351923798765477786913079296",
        )
        .unwrap();
    bump(&db);
    assert!(db
        .wait_for_streaming(std::time::Duration::from_secs(10))
        .unwrap());
    db.streams().update_shard_count("changes", 3).unwrap();
    bump(&db);
    assert!(db
        .wait_for_streaming(std::time::Duration::from_secs(10))
        .unwrap());

    let mut consumer: StreamConsumer = db
        .stream_consumer("order-app", "changes", InitialPosition::TrimHorizon)
        .unwrap();
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    let mut idle = 0;
    while idle < 3 {
        let Some(batch) = consumer.poll(5).unwrap() else {
            idle += 1;
            continue;
        };
        idle = 0;
        for record in &batch.records {
            let json: Value = serde_json::from_slice(&record.data).unwrap();
            let key = json["dynamodb"]["Keys"]["pk"]["S"]
                .as_str()
                .unwrap()
                .to_string();
            let n: i64 = json["dynamodb"]["NewImage"]["n"]["N"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            let count = counts.entry(key.clone()).or_insert(0);
            assert_eq!(n, *count + 1, "{key}: out of order across resharding");
            *count = n;
        }
        consumer.checkpoint(&batch).unwrap();
    }
    assert_eq!(counts.len(), 12);
    assert!(counts.values().all(|n| *n == 3), "{counts:?}");
}

#[test]
fn an_encrypted_stream_receives_encrypted_change_records() {
    let dir = tempfile::tempdir().unwrap();
    let key = [7u8; 32];
    let options = || eddy::Options::new().stream_encryption_key("alias/eddy", key);
    {
        let db = Database::open_with(dir.path(), options()).unwrap();
        db.create_table("orders", KeySchema::new("pk", KeyType::S))
            .unwrap();
        db.streams()
            .create_stream(
                "changes",
                CreateStream {
                    shard_count: Some(1),
                    mode: StreamMode::Provisioned,
                },
            )
            .unwrap();
        db.streams()
            .start_stream_encryption("changes", "KMS", "alias/eddy")
            .unwrap();
        db.enable_kinesis_streaming_destination("orders", ARN, None)
            .unwrap();
        db.put_item(
            "orders",
            pk("secret-order").with("card", "4111-1111"),
            ReturnValues::None,
        )
        .unwrap();
        assert!(db
            .wait_for_streaming(std::time::Duration::from_secs(10))
            .unwrap());
    }
    // Nothing readable on disk...
    let mut found = false;
    for entry in walk(&dir.path().join("streams")) {
        let bytes = std::fs::read(&entry).unwrap();
        found |= bytes.windows(9).any(|w| w == b"4111-1111");
    }
    assert!(!found, "plaintext of an encrypted record on disk");
    // ...and everything readable with the key.
    let db = Database::open_with(dir.path(), options()).unwrap();
    let records = common::read_stream(&db, "changes");
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].1["dynamodb"]["NewImage"]["card"]["S"],
        "4111-1111"
    );
    assert_eq!(
        db.streams()
            .describe_stream("changes")
            .unwrap()
            .encryption_type,
        "KMS"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
