//! The checks must catch what they are for: each test breaks one invariant
//! on purpose (in the transcript, the data or the stream) and expects the
//! check to fail.

#![allow(clippy::unwrap_used)]

use eddy::stream::{CreateStream, PutRecord};
use eddy::{Database, InitialPosition, Item, KeySchema, KeyType, ReturnValues};

use crate::checks::{check_transfers, At, Consumption, Ledger, Model};
use crate::common::{key_name, open, APP, INITIAL_BALANCE, STREAM, STREAM_ARN, TABLE};
use crate::stream_check::StreamTracker;
use crate::transcript::Transcript;

/// Where the tests' failures claim to happen.
const AT: At = At { cycle: 7, seed: 42 };

/// A database set up as the campaign's, without accounts.
fn database(dir: &std::path::Path) -> Database {
    let db = open(dir).unwrap();
    db.create_table(TABLE, KeySchema::new("pk", KeyType::S))
        .unwrap();
    db.streams()
        .create_stream(STREAM, CreateStream::default())
        .unwrap();
    db.enable_kinesis_streaming_destination(TABLE, STREAM_ARN, None)
        .unwrap();
    drop(
        db.stream_consumer(APP, STREAM, InitialPosition::TrimHorizon)
            .unwrap(),
    );
    db
}

/// Puts `{pk, attr: v}` into the table.
fn put(db: &Database, pk: &str, attr: &str, v: i64) {
    let item = Item::new().with("pk", pk).with(attr, v);
    db.put_item(TABLE, item, ReturnValues::None).unwrap();
}

/// Asserts an invariant failure at [`AT`] whose message contains `needle`.
fn is_invariant(result: crate::common::Result<()>, needle: &str) {
    match result {
        Err(crate::common::CampaignError::Invariant { cycle, seed, what }) => {
            assert_eq!((cycle, seed), (7, 42));
            assert!(what.contains(needle), "{what}");
        }
        other => panic!("expected an invariant failure about {needle:?}, got {other:?}"),
    }
}

#[test]
fn a_lost_acknowledged_write_is_caught_and_in_flight_writes_are_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    let key = key_name(0, 3);
    put(&db, &key, "v", 5);
    let mut model = Model::default();
    model.fold_log(&db, &AT, false).unwrap();
    // The write of 7 was in flight and did not happen: fine.
    let mut transcript = Transcript::default();
    transcript.acked.insert(key.clone(), Some(5));
    transcript.in_flight.insert(0, (key.clone(), Some(7)));
    model.check_acked(&AT, &transcript, 1).unwrap();
    // A write of 7 acknowledged but absent: caught.
    let mut transcript = Transcript::default();
    transcript.acked.insert(key, Some(7));
    is_invariant(
        model.check_acked(&AT, &transcript, 1),
        "expected the acknowledged",
    );
}

#[test]
fn a_torn_transfer_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    for a in 0..crate::common::ACCOUNTS {
        put(&db, &format!("acct-{a}"), "balance", INITIAL_BALANCE);
    }
    check_transfers(&db, &AT).unwrap();
    put(&db, "acct-2", "balance", INITIAL_BALANCE - 1);
    is_invariant(check_transfers(&db, &AT), "torn");
}

#[test]
fn a_lost_acknowledged_transfer_is_caught_and_the_one_in_flight_may_happen() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    for a in 0..crate::common::ACCOUNTS {
        put(&db, &format!("acct-{a}"), "balance", INITIAL_BALANCE);
    }
    let ledger = |count: i64, last: i64| {
        let item = eddy::Item::new()
            .with("pk", crate::common::LEDGER)
            .with("transfers", count)
            .with("last_transfer", last);
        db.put_item(TABLE, item, ReturnValues::None).unwrap();
    };
    // Two acknowledged, the third in flight and not applied.
    ledger(2, 12);
    let lines = "Y 11\nX 11 ok\nY 12\nX 12 ok\nY 13\n";
    let mut model = Ledger::default();
    model
        .check(&db, &AT, &Transcript::read(lines.as_bytes()))
        .unwrap();
    // Next cycle: one more acknowledged, and the one in flight applied.
    ledger(4, 22);
    let lines = "Y 21\nX 21 ok\nY 22\n";
    model
        .check(&db, &AT, &Transcript::read(lines.as_bytes()))
        .unwrap();
    // Next cycle: an acknowledged transfer is missing.
    let lines = "Y 31\nX 31 ok\n";
    is_invariant(
        model.check(&db, &AT, &Transcript::read(lines.as_bytes())),
        "an acknowledged transfer was lost",
    );
}

#[test]
fn foreign_stream_records_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    put(&db, "a", "v", 1);
    put(&db, "a", "v", 2);
    let mut model = Model::default();
    let mut tracker = StreamTracker::default();
    let changes = model.fold_log(&db, &AT, false).unwrap().changes;
    tracker
        .check_cycle(&db, &AT, changes, model.last_lsn, false)
        .unwrap();
    assert_eq!(tracker.records, 2);
    db.streams()
        .put_record(
            STREAM,
            PutRecord::new("x", b"{\"eventID\":\"nope\"}".to_vec()),
        )
        .unwrap();
    let changes = model.fold_log(&db, &AT, false).unwrap().changes;
    is_invariant(
        tracker.check_cycle(&db, &AT, changes, model.last_lsn, false),
        "matches no change",
    );
}

#[test]
fn a_checkpoint_ahead_of_processing_or_behind_its_ack_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path());
    for v in 0..3 {
        put(&db, "a", "v", v);
    }
    assert!(db
        .wait_for_streaming(std::time::Duration::from_secs(10))
        .unwrap());
    let mut consumer = db
        .stream_consumer(APP, STREAM, InitialPosition::TrimHorizon)
        .unwrap();
    let batch = consumer.poll(10).unwrap().unwrap();
    assert_eq!(batch.records.len(), 3);
    let shard = batch.shard_id.clone();
    let seq = |i: usize| batch.records[i].sequence_number.clone();
    consumer.checkpoint_at(&shard, &seq(1)).unwrap();
    let mut tracker = StreamTracker::default();
    let mut model = Model::default();
    let changes = model.fold_log(&db, &AT, false).unwrap().changes;
    tracker
        .check_cycle(&db, &AT, changes, model.last_lsn, false)
        .unwrap();
    let check = |p: usize, c: usize| {
        let lines = format!("P {shard} {}\nC {shard} {}\n", seq(p), seq(c));
        let transcript = Transcript::read(lines.as_bytes());
        let mut consumption = Consumption::default();
        consumption.absorb(&transcript);
        consumption.check(&db, &AT, &tracker)
    };
    check(2, 1).unwrap();
    check(1, 0).unwrap();
    is_invariant(check(0, 0), "ahead of the highest processed");
    is_invariant(check(2, 2), "behind the acknowledged");
    // Processed and checkpointed past the shard's end: records read before
    // their fsync and lost with the power.
    let past_end = {
        let mut parsed: eddy::stream::SequenceNumber = seq(2).parse().unwrap();
        parsed.seq_ix += 1;
        parsed.to_string()
    };
    consumer.checkpoint_at(&shard, &past_end).unwrap();
    let lines = format!("P {shard} {past_end}\nC {shard} {past_end}\n");
    let mut consumption = Consumption::default();
    consumption.absorb(&Transcript::read(lines.as_bytes()));
    is_invariant(
        consumption.check(&db, &AT, &tracker),
        "past the shard's last durable record",
    );
}

#[test]
fn sled_helpers_find_torn_snapshots_and_held_locks() {
    use crate::sled_bugs::{lock_free, remove_torn_snapshots, torn_snapshots, wait_for_lock};
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path();
    std::fs::write(store.join("snap.00000000000000A0"), b"ok").unwrap();
    std::fs::write(store.join("snap.00000000000000B0.generating"), b"torn").unwrap();
    assert_eq!(
        torn_snapshots(store).unwrap(),
        ["snap.00000000000000B0.generating"]
    );
    assert_eq!(remove_torn_snapshots(store).unwrap(), 1);
    assert!(torn_snapshots(store).unwrap().is_empty());
    assert!(store.join("snap.00000000000000A0").exists());

    std::fs::write(store.join("db"), b"").unwrap();
    assert!(lock_free(store).unwrap());
    let held = std::fs::File::open(store.join("db")).unwrap();
    held.lock().unwrap();
    assert!(!lock_free(store).unwrap());
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        drop(held);
    });
    let waited = wait_for_lock(store, std::time::Duration::from_secs(10)).unwrap();
    assert!(waited.is_some_and(|w| w >= std::time::Duration::from_millis(40)));
    releaser.join().unwrap();
    assert_eq!(
        wait_for_lock(store, std::time::Duration::ZERO).unwrap(),
        None
    );
}
