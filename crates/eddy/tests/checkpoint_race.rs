//! A checkpoint loop racing the publisher, then a crash: the destination
//! must still publish after the reopen.
//!
//! A publisher moves its position in memory before the position reaches
//! the store. A checkpoint that cut the change log by the in-memory
//! position could, after a crash, leave the destination to resume from an
//! older stored position inside log segments already deleted, and it would
//! retry forever. Here a child writes into tiny log segments while another
//! thread checkpoints and snapshots as fast as it can (so the log is cut as
//! far as anything allows, all the time), and is SIGKILLed at a random
//! moment; the parent reopens, writes a marker and requires the stream to
//! hold it, and every change logged since the destination was enabled.
//!
//! `EDDY_RACE_CYCLES` sets the number of kill cycles (default 12).

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use eddy::stream::{CreateStream, StreamMode};
use eddy::stream_record::event_id;
use eddy::{Database, Item, KeySchema, KeyType, Options, ReturnValues};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const CHILD_ENV: &str = "EDDY_RACE_CHILD_DIR";
const TABLE: &str = "race";
const STREAM: &str = "race-changes";
const STREAM_ARN: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/race-changes";

/// Segments of one page, and snapshots that never hold the log back long.
fn options() -> Options {
    Options::new()
        .segment_size(4096)
        .checkpoint_every_bytes(4096)
        .snapshot_every_bytes(8192)
        .checkpoint_interval(Some(Duration::from_millis(5)))
}

/// The child: writes, checkpoints and snapshots until killed.
#[test]
#[ignore = "entry point of the race test's child process, run by `the_destination_publishes_after_a_crash_amid_checkpoints`"]
fn race_child_entry() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let db = Database::open_with(&dir, options()).unwrap();
    println!("READY");
    let checkpointer = {
        let db = db.clone();
        std::thread::spawn(move || {
            for round in 0u64.. {
                db.checkpoint().unwrap();
                if round % 8 == 0 {
                    db.snapshot().unwrap();
                }
            }
        })
    };
    for n in 0u64.. {
        let item = Item::new()
            .with("pk", format!("k{}", n % 64))
            .with("n", n)
            .with("pad", "p".repeat(200));
        db.put_item(TABLE, item, ReturnValues::None).unwrap();
    }
    checkpointer.join().unwrap();
}

fn set_up(dir: &Path) {
    let db = Database::open_with(dir, options()).unwrap();
    db.create_table(TABLE, KeySchema::new("pk", KeyType::S))
        .unwrap();
    let shards = CreateStream {
        shard_count: Some(2),
        mode: StreamMode::Provisioned,
    };
    db.streams().create_stream(STREAM, shards).unwrap();
    db.enable_kinesis_streaming_destination(TABLE, STREAM_ARN, None)
        .unwrap();
    db.close().unwrap();
}

#[test]
fn the_destination_publishes_after_a_crash_amid_checkpoints() {
    let cycles: u64 = std::env::var("EDDY_RACE_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(12);
    let dir = tempfile::tempdir().unwrap();
    set_up(dir.path());
    let mut rng = StdRng::seed_from_u64(20261207);
    let mut cut_segments = 0;
    for cycle in 0..cycles {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "race_child_entry",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        while !ready.contains("READY") {
            ready.clear();
            assert!(
                stdout.read_line(&mut ready).unwrap() > 0,
                "cycle {cycle}: the child died before opening"
            );
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(50..400)));
        child.kill().unwrap();
        child.wait().unwrap();

        let db = Database::open_with(dir.path(), options()).unwrap();
        let marker = format!("marker-{cycle}");
        db.put_item(
            TABLE,
            Item::new().with("pk", marker.as_str()),
            ReturnValues::None,
        )
        .unwrap();
        assert!(
            db.wait_for_streaming(Duration::from_secs(30)).unwrap(),
            "cycle {cycle}: the destination stalled after the reopen: {:?}",
            db.describe_kinesis_streaming_destination(TABLE).unwrap()
        );
        let records = common::read_stream(&db, STREAM);
        assert!(
            records
                .iter()
                .any(|(_, r)| r["dynamodb"]["Keys"]["pk"]["S"] == marker.as_str()),
            "cycle {cycle}: the marker written after the reopen was not published"
        );
        let published: std::collections::BTreeSet<String> = records
            .into_iter()
            .map(|(_, r)| r["eventID"].as_str().unwrap().to_string())
            .collect();
        // Every change the log still holds is in the stream (the log is cut
        // only below what was published and saved).
        for record in db.changes_since(0).unwrap() {
            let record = record.unwrap();
            assert!(
                published.contains(&event_id(record.lsn)),
                "cycle {cycle}: LSN {} is in the log but not in the stream",
                record.lsn
            );
        }
        let oldest = std::fs::read_dir(dir.path().join("log"))
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                name.strip_suffix(".wal")?.parse::<u64>().ok()
            })
            .min()
            .unwrap();
        cut_segments += u64::from(oldest > 1);
        db.close().unwrap();
    }
    assert!(
        cut_segments > 0,
        "the checkpoints never cut the log: the race was not run"
    );
}
