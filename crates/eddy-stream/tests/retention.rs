//! Retention with an injected clock, iterator expiry and tampering.
#![allow(clippy::unwrap_used)]

mod common;

use common::{read_all_trim_horizon, ManualClock};
use eddy_stream::*;

const HOUR: u64 = 3_600_000;
const SID: &str = "shardId-000000000000";

fn seg_count(dir: &std::path::Path, sid: &str) -> usize {
    std::fs::read_dir(dir.join("streams/r").join(sid))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn trim_deletes_old_segments_and_reads_skip_expired() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let s = Streams::open(dir.path(), clock.options().segment_size(4096)).unwrap();
    s.create_stream(
        "r",
        CreateStream {
            shard_count: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    // 40 old records (several segments), one per minute.
    for i in 0..40u8 {
        s.put_record("r", PutRecord::new("k", vec![i; 1000]))
            .unwrap();
        clock.advance(60_000);
    }
    let before = seg_count(dir.path(), SID);
    assert!(before >= 8, "{before}");
    // Two hours later, 10 more.
    clock.advance(2 * HOUR);
    for i in 40..50u8 {
        s.put_record("r", PutRecord::new("k", vec![i; 1000]))
            .unwrap();
    }
    // Move so that the first 20 old records (arrived at T0 + i min) expire.
    clock.set_to(common::T0 + 24 * HOUR + 20 * 60_000 - 1);
    let first = |s: &Streams| read_all_trim_horizon(s, "r", SID)[0].data[0];
    // Reads skip expired records even before trimming.
    assert_eq!(first(&s), 20);
    let before = seg_count(dir.path(), SID);
    let report = s.trim_expired().unwrap();
    assert!(report.segments_deleted >= 1);
    assert_eq!(report.shards_expired, 0);
    assert_eq!(seg_count(dir.path(), SID), before - report.segments_deleted);
    let recs = read_all_trim_horizon(&s, "r", SID);
    assert_eq!(recs[0].data[0], 20);
    assert_eq!(recs.len(), 30);
    // Every expired segment held only records older than the window.
    assert!(report.segments_deleted * 3 <= 20);
    // Past everything old: only the 10 new ones remain readable.
    clock.advance(HOUR);
    assert_eq!(first(&s), 40);
    s.trim_expired().unwrap();
    assert_eq!(read_all_trim_horizon(&s, "r", SID).len(), 10);
    // Far future: nothing is served, the active segment stays on disk.
    clock.advance(48 * HOUR);
    s.trim_expired().unwrap();
    assert!(read_all_trim_horizon(&s, "r", SID).is_empty());
    assert_eq!(seg_count(dir.path(), SID), 1);
    // Numbering continues.
    let o = s.put_record("r", PutRecord::new("k", vec![1])).unwrap();
    assert_eq!(
        o.sequence_number.parse::<SequenceNumber>().unwrap().seq_ix,
        51
    );
    // Reopen keeps the trimmed state.
    drop(s);
    let s = Streams::open(dir.path(), clock.options()).unwrap();
    assert_eq!(read_all_trim_horizon(&s, "r", SID).len(), 1);
    // Longer retention does not revive trimmed data.
    s.increase_retention("r", 8760).unwrap();
    assert_eq!(read_all_trim_horizon(&s, "r", SID).len(), 1);
}

#[test]
fn closed_shards_expire_and_background_trimmer_runs() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let s = Streams::open(
        dir.path(),
        clock
            .options()
            .trim_interval(std::time::Duration::from_millis(20)),
    )
    .unwrap();
    s.create_stream(
        "r",
        CreateStream {
            shard_count: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    s.put_record("r", PutRecord::new("k", vec![1])).unwrap();
    s.split_shard("r", SID, &(1u128 << 127).to_string())
        .unwrap();
    assert_eq!(s.list_shards("r").unwrap().len(), 3);
    clock.advance(24 * HOUR + 1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while s.list_shards("r").unwrap().len() == 3 {
        assert!(std::time::Instant::now() < deadline, "trimmer did not run");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let shards = s.list_shards("r").unwrap();
    assert_eq!(shards.len(), 2);
    assert!(shards
        .iter()
        .all(|sh| sh.parent_shard_id.as_deref() == Some(SID)));
    while seg_count(dir.path(), SID) != 0 {
        assert!(std::time::Instant::now() < deadline, "files not deleted");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        s.get_shard_iterator("r", SID, IteratorType::TrimHorizon)
            .unwrap_err()
            .aws_error_name(),
        "ResourceNotFoundException"
    );
    drop(s);
    let s = Streams::open(dir.path(), clock.options()).unwrap();
    assert_eq!(s.list_shards("r").unwrap().len(), 2);
}

#[test]
fn iterator_expiry_and_tamper() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let s = Streams::open(dir.path(), clock.options()).unwrap();
    s.create_stream(
        "r",
        CreateStream {
            shard_count: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    let it = s
        .get_shard_iterator("r", SID, IteratorType::TrimHorizon)
        .unwrap();
    assert!(it.len() <= 512 && it.starts_with("AAAAAAAAAAE"));
    clock.advance(ITERATOR_TTL_MILLIS);
    let next = s
        .get_records(&it, None)
        .unwrap()
        .next_shard_iterator
        .unwrap();
    clock.advance(1);
    let e = s.get_records(&it, None).unwrap_err();
    assert_eq!(e.aws_error_name(), "ExpiredIteratorException");
    assert!(
        e.to_string().starts_with(
            "Iterator expired. The iterator was created at time Tue Nov 14 22:13:20 UTC 2023"
        ),
        "{e}"
    );
    // The iterator returned by GetRecords was issued later.
    assert!(s.get_records(&next, None).is_ok());
    // Tampering.
    let mut chars: Vec<char> = next.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let bad: String = chars.into_iter().collect();
    let e = s.get_records(&bad, None).unwrap_err();
    assert_eq!(e.aws_error_name(), "InvalidArgumentException");
    assert_eq!(e.to_string(), "Invalid ShardIterator.");
    assert!(s.get_records("not base64 !", None).is_err());
    // An iterator from another database (different key) is rejected.
    let dir2 = tempfile::tempdir().unwrap();
    let s2 = Streams::open(dir2.path(), clock.options()).unwrap();
    s2.create_stream(
        "r",
        CreateStream {
            shard_count: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    let foreign = s2
        .get_shard_iterator("r", SID, IteratorType::Latest)
        .unwrap();
    assert_eq!(
        s.get_records(&foreign, None).unwrap_err().aws_error_name(),
        "InvalidArgumentException"
    );
}
