//! Sealed-segment summaries: opening trusts only current ones, trimming
//! removes them, and the records read are the same either way.
#![allow(clippy::unwrap_used)]

mod common;

use common::{create, read_all_trim_horizon, ManualClock};
use eddy_stream::*;
use std::path::{Path, PathBuf};

const SID: &str = "shardId-000000000000";

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("streams/s").join(SID))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

/// A one-shard stream of `n` 500-byte records in 4 KiB segments.
fn setup(dir: &Path, clock: &ManualClock, n: u8) -> Vec<Record> {
    let s = Streams::open(dir, clock.options().segment_size(4096)).unwrap();
    create(&s, "s", 1);
    for i in 0..n {
        clock.advance(1);
        s.put_record("s", PutRecord::new("k", vec![i; 500]))
            .unwrap();
    }
    read_all_trim_horizon(&s, "s", SID)
}

#[test]
fn sealed_segments_are_summarised_once_and_read_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let written = setup(dir.path(), &clock, 60);
    let segments = files(dir.path(), "seg");
    assert!(segments.len() > 3, "{segments:?}");
    // The first open after writing summarises every sealed segment (all
    // but the active last one) ...
    let s = Streams::open(dir.path(), clock.options().segment_size(4096)).unwrap();
    assert_eq!(read_all_trim_horizon(&s, "s", SID), written);
    drop(s);
    let summaries = files(dir.path(), "sum");
    assert_eq!(summaries.len(), segments.len() - 1);
    let saved: Vec<Vec<u8>> = summaries
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    // ... and the next one uses them, unchanged, to the same records.
    let s = Streams::open(dir.path(), clock.options().segment_size(4096)).unwrap();
    assert_eq!(read_all_trim_horizon(&s, "s", SID), written);
    let again: Vec<Vec<u8>> = summaries
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert_eq!(again, saved);
    // AT_TIMESTAMP seeks through summarised segments too.
    let at = written[30].approximate_arrival_millis;
    let it = s
        .get_shard_iterator("s", SID, IteratorType::AtTimestamp(at))
        .unwrap();
    let page = s.get_records(&it, Some(1)).unwrap();
    assert_eq!(page.records[0].sequence_number, written[30].sequence_number);
}

#[test]
fn a_damaged_or_stale_summary_is_ignored_and_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let written = setup(dir.path(), &clock, 40);
    drop(Streams::open(dir.path(), clock.options()).unwrap());
    let summaries = files(dir.path(), "sum");
    assert!(summaries.len() >= 2);
    let good = std::fs::read(&summaries[0]).unwrap();
    // Torn (a crash while saving) ...
    std::fs::write(&summaries[0], &good[..good.len() / 2]).unwrap();
    // ... and plausible but claiming another length (checksum recomputed).
    let mut stale = std::fs::read(&summaries[1]).unwrap();
    let len = u64::from_le_bytes(stale[32..40].try_into().unwrap());
    stale[32..40].copy_from_slice(&(len - 1).to_le_bytes());
    let body = stale.len() - 4;
    let crc = crc32fast::hash(&stale[..body]);
    stale[body..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&summaries[1], &stale).unwrap();
    let s = Streams::open(dir.path(), clock.options()).unwrap();
    assert_eq!(read_all_trim_horizon(&s, "s", SID), written);
    drop(s);
    assert_eq!(std::fs::read(&summaries[0]).unwrap(), good, "rewritten");
    assert_ne!(std::fs::read(&summaries[1]).unwrap(), stale, "rewritten");
}

#[test]
fn trimming_removes_summaries_with_their_segments() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    setup(dir.path(), &clock, 40);
    let s = Streams::open(dir.path(), clock.options().segment_size(4096)).unwrap();
    assert!(!files(dir.path(), "sum").is_empty());
    clock.advance(25 * 3600 * 1000);
    s.put_record("s", PutRecord::new("k", vec![1])).unwrap();
    s.trim_expired().unwrap();
    let segments = files(dir.path(), "seg");
    let summaries = files(dir.path(), "sum");
    assert_eq!(segments.len(), 1, "{segments:?}");
    assert!(summaries.is_empty(), "{summaries:?}");
}
