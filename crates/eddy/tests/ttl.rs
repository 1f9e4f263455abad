//! Time to Live: lazy expiry, service-marked REMOVE records in the change
//! log and in streams, and the settings' state and errors.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use eddy::stream::{CreateStream, StreamMode};
use eddy::{ChangeKind, ChangeOrigin, Database, Item, KeySchema, KeyType, Options, ReturnValues};

#[test]
fn expired_items_are_swept_with_service_records() {
    let dir = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicU64::new(1_700_000_000));
    let clock = now.clone();
    let options = Options::new()
        .ttl_sweep_interval(None)
        .ttl_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
    let db = Database::open_with(dir.path(), options).unwrap();
    db.create_table("sessions", KeySchema::new("pk", KeyType::S))
        .unwrap();
    db.streams()
        .create_stream(
            "sessions-changes",
            CreateStream {
                shard_count: Some(1),
                mode: StreamMode::Provisioned,
            },
        )
        .unwrap();
    let arn = db.streams().stream_arn("sessions-changes").unwrap();
    db.enable_kinesis_streaming_destination("sessions", &arn, None)
        .unwrap();

    assert_eq!(
        db.describe_time_to_live("sessions").unwrap().status,
        "DISABLED"
    );
    db.update_time_to_live("sessions", "expiresAt", true)
        .unwrap();
    let err = db
        .update_time_to_live("sessions", "expiresAt", true)
        .unwrap_err();
    assert!(err.to_string().contains("already enabled"), "{err}");
    let described = db.describe_time_to_live("sessions").unwrap();
    assert_eq!(
        (described.status, described.attribute_name.as_deref()),
        ("ENABLED", Some("expiresAt"))
    );

    let session = |k: &str| Item::new().with("pk", k);
    db.put_item(
        "sessions",
        session("old").with("expiresAt", 1_699_999_990u64),
        ReturnValues::None,
    )
    .unwrap();
    db.put_item(
        "sessions",
        session("new").with("expiresAt", 1_700_000_100u64),
        ReturnValues::None,
    )
    .unwrap();
    db.put_item(
        "sessions",
        session("text").with("expiresAt", "1"),
        ReturnValues::None,
    )
    .unwrap();
    db.put_item("sessions", session("none"), ReturnValues::None)
        .unwrap();
    // Expired but not yet swept: still readable, as in DynamoDB.
    assert!(db.get_item("sessions", &session("old")).unwrap().is_some());
    let before = db.last_lsn();
    assert_eq!(db.sweep_expired_items().unwrap(), 1);
    assert!(db.get_item("sessions", &session("old")).unwrap().is_none());
    assert!(db.get_item("sessions", &session("new")).unwrap().is_some());
    let record = db
        .changes_since(before + 1)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(record.kind(), ChangeKind::Remove);
    assert_eq!(record.change.origin, ChangeOrigin::TimeToLive);

    // A renewed item survives; time passing expires the other.
    now.store(1_700_000_200, Ordering::SeqCst);
    db.put_item(
        "sessions",
        session("new").with("expiresAt", 1_700_000_500u64),
        ReturnValues::None,
    )
    .unwrap();
    assert_eq!(db.sweep_expired_items().unwrap(), 0);
    now.store(1_700_000_500, Ordering::SeqCst);
    assert_eq!(db.sweep_expired_items().unwrap(), 1);

    // The stream records of the sweeps carry the service identity.
    assert!(db
        .wait_for_streaming(std::time::Duration::from_secs(10))
        .unwrap());
    let removes: Vec<_> = common::read_stream(&db, "sessions-changes")
        .into_iter()
        .filter(|(_, r)| r["eventName"] == "REMOVE")
        .collect();
    assert_eq!(removes.len(), 2);
    for (_, r) in removes {
        assert_eq!(r["userIdentity"]["type"], "Service");
        assert_eq!(r["userIdentity"]["principalId"], "dynamodb.amazonaws.com");
    }
    db.update_time_to_live("sessions", "expiresAt", false)
        .unwrap();
    assert!(db
        .update_time_to_live("sessions", "expiresAt", false)
        .is_err());
}

#[test]
fn the_background_sweeper_runs() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options::new()
        .ttl_sweep_interval(Some(std::time::Duration::from_millis(50)))
        .ttl_clock(Arc::new(|| 2_000_000_000));
    let db = Database::open_with(dir.path(), options).unwrap();
    db.create_table("sessions", KeySchema::new("pk", KeyType::S))
        .unwrap();
    db.update_time_to_live("sessions", "ttl", true).unwrap();
    db.put_item(
        "sessions",
        Item::new().with("pk", "a").with("ttl", 1_999_999_999u64),
        ReturnValues::None,
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while db
        .get_item("sessions", &Item::new().with("pk", "a"))
        .unwrap()
        .is_some()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the sweeper never deleted the expired item"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
