//! The checkpointing consumer: lineage order across resharding, durable
//! checkpoints, resume after restart, at-least-once delivery.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use eddy::stream::{CreateStream, PutRecord, StreamMode};
use eddy::{Database, InitialPosition, StreamConsumer, SHARD_END};

fn put(db: &Database, key: usize, value: usize) {
    db.streams()
        .put_record(
            "s1",
            PutRecord::new(format!("key-{key}"), value.to_string()),
        )
        .unwrap();
}

/// Polls until nothing is left, checkpointing every batch; returns the
/// values seen per partition key.
fn drain(consumer: &mut StreamConsumer, checkpoint: bool) -> BTreeMap<String, Vec<usize>> {
    let mut seen: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut idle = 0;
    while idle < 3 {
        match consumer.poll(7).unwrap() {
            Some(batch) => {
                idle = 0;
                for r in &batch.records {
                    let v: usize = String::from_utf8(r.data.clone()).unwrap().parse().unwrap();
                    seen.entry(r.partition_key.clone()).or_default().push(v);
                }
                if checkpoint {
                    consumer.checkpoint(&batch).unwrap();
                }
            }
            None => idle += 1,
        }
    }
    seen
}

#[test]
fn reads_in_lineage_order_across_resharding_and_resumes_after_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.streams()
        .create_stream(
            "s1",
            CreateStream {
                shard_count: Some(2),
                mode: StreamMode::Provisioned,
            },
        )
        .unwrap();
    let mut next = vec![0usize; 10];
    let write_round = |db: &Database, next: &mut Vec<usize>| {
        for _ in 0..5 {
            for (key, n) in next.iter_mut().enumerate() {
                put(db, key, *n);
                *n += 1;
            }
        }
    };
    write_round(&db, &mut next);
    db.streams()
        .split_shard(
            "s1",
            "shardId-000000000000",
            "85070591730234615865843651857942052864",
        )
        .unwrap();
    write_round(&db, &mut next);
    db.streams()
        .merge_shards("s1", "shardId-000000000002", "shardId-000000000003")
        .unwrap();
    write_round(&db, &mut next);

    let mut consumer = db
        .stream_consumer("app", "s1", InitialPosition::TrimHorizon)
        .unwrap();
    let seen = drain(&mut consumer, true);
    assert_eq!(seen.len(), 10);
    for (key, values) in &seen {
        assert_eq!(
            values,
            &(0..15).collect::<Vec<_>>(),
            "{key}: every record once, in order"
        );
    }
    // Closed parents are checkpointed as SHARD_END.
    assert_eq!(
        consumer
            .checkpoint_of("shardId-000000000000")
            .unwrap()
            .as_deref(),
        Some(SHARD_END)
    );
    drop(consumer);

    // A restarted consumer resumes after its checkpoints: only new records.
    drop(db);
    let db = Database::open(dir.path()).unwrap();
    put(&db, 3, 99);
    let mut consumer = db
        .stream_consumer("app", "s1", InitialPosition::TrimHorizon)
        .unwrap();
    let seen = drain(&mut consumer, true);
    assert_eq!(seen, BTreeMap::from([("key-3".to_string(), vec![99])]));
    // Another application has its own checkpoints and reads everything.
    // Without checkpointing, a parent is never finished, so its children
    // are never read (KCL's rule: checkpoint at shard end).
    let mut other = db
        .stream_consumer("other-app", "s1", InitialPosition::TrimHorizon)
        .unwrap();
    let unfinished = drain(&mut other, false)
        .values()
        .map(Vec::len)
        .sum::<usize>();
    assert!(
        unfinished < 151,
        "children were read before their parents were checkpointed"
    );
    let mut other = db
        .stream_consumer("other-app", "s1", InitialPosition::TrimHorizon)
        .unwrap();
    assert_eq!(
        drain(&mut other, true)
            .values()
            .map(Vec::len)
            .sum::<usize>(),
        151
    );
}

#[test]
fn records_after_the_last_checkpoint_are_delivered_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.streams()
        .create_stream(
            "s1",
            CreateStream {
                shard_count: Some(1),
                mode: StreamMode::Provisioned,
            },
        )
        .unwrap();
    for v in 0..30 {
        put(&db, 0, v);
    }
    let mut consumer = db
        .stream_consumer("app", "s1", InitialPosition::TrimHorizon)
        .unwrap();
    let first = consumer.poll(10).unwrap().unwrap();
    consumer.checkpoint(&first).unwrap();
    let second = consumer.poll(10).unwrap().unwrap();
    assert_eq!(second.records.len(), 10);
    drop(consumer); // crashed before checkpointing the second batch
    let mut consumer = db
        .stream_consumer("app", "s1", InitialPosition::TrimHorizon)
        .unwrap();
    let seen = drain(&mut consumer, true);
    assert_eq!(seen["key-0"], (10..30).collect::<Vec<_>>());
}

#[test]
fn latest_skips_what_was_there_before() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    db.streams()
        .create_stream(
            "s1",
            CreateStream {
                shard_count: Some(1),
                mode: StreamMode::Provisioned,
            },
        )
        .unwrap();
    put(&db, 0, 1);
    let mut consumer = db
        .stream_consumer("app", "s1", InitialPosition::Latest)
        .unwrap();
    assert!(consumer.poll(10).unwrap().is_none());
    put(&db, 0, 2);
    let seen = drain(&mut consumer, true);
    assert_eq!(seen["key-0"], vec![2]);
}
