//! Crash-recovery tests: torn tails are truncated, everything else is
//! reported as corruption without modifying files.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use eddy_changelog::{ChangeLog, Error, LogOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const HEADER: u64 = 24;

fn append_groups(log: &ChangeLog, groups: &[usize], start: u64) -> u64 {
    let mut n = start;
    for &g in groups {
        let c = log
            .append((0..g).map(|k| payload(n + k as u64)).collect())
            .unwrap();
        assert_eq!(c.first_lsn, n);
        n += g as u64;
    }
    n
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().len()
}

#[test]
fn empty_dir_starts_at_lsn_1() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let (log, rep) = open(&dir, LogOptions::default());
    assert_eq!(rep.segments, 1);
    assert_eq!(rep.records, 0);
    assert_eq!(rep.last_lsn, 0);
    assert!(rep.torn_tail.is_none());
    assert_eq!(log.next_lsn(), 1);
    let c = log.append(vec![b"a".to_vec()]).unwrap();
    assert_eq!((c.first_lsn, c.count), (1, 1));
    assert_eq!(
        segment_files(&dir),
        vec![dir.join("00000000000000000001.wal")]
    );
}

#[test]
fn reopen_continues_lsns_and_micros() {
    let tmp = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicU64::new(1_000_000));
    let clock = {
        let now = Arc::clone(&now);
        Arc::new(move || now.load(Ordering::SeqCst))
    };
    {
        let (log, _) = open(tmp.path(), LogOptions::default().clock(clock.clone()));
        assert_eq!(append_groups(&log, &[1, 2, 3], 1), 7);
        log.close().unwrap();
    }
    now.store(500, Ordering::SeqCst); // wall clock went backwards across restart
    let (log, rep) = open(tmp.path(), LogOptions::default().clock(clock));
    assert_eq!(rep.last_lsn, 6);
    assert_eq!(rep.records, 6);
    assert!(rep.torn_tail.is_none());
    let c = log.append(vec![b"next".to_vec()]).unwrap();
    assert_eq!(c.first_lsn, 7);
    assert_eq!(
        c.micros, 1_000_000,
        "micros must not go backwards across reopen"
    );
    let all = read_all(&log, 1);
    assert_eq!(all.len(), 7);
    assert_eq!(
        all.iter().map(|r| r.lsn).collect::<Vec<_>>(),
        (1..=7).collect::<Vec<_>>()
    );
    assert_eq!(all[3].payload, payload(4));
}

/// Cut the last frame at every byte offset: recovery truncates exactly that
/// frame and keeps every earlier group.
#[test]
fn torn_tail_at_every_offset_of_the_last_frame() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    // Lengths are read after closes: an open log's segment runs on with the
    // zeros its writer fills ahead.
    let (start, full) = {
        let (log, _) = open(&src, LogOptions::default());
        append_groups(&log, &[1, 2], 1);
        log.close().unwrap();
        let seg = &segment_files(&src)[0];
        let start = file_len(seg);
        let (log, _) = open(&src, LogOptions::default());
        append_groups(&log, &[3], 4);
        log.close().unwrap();
        (start, file_len(seg))
    };
    assert!(full > start + 8);
    for cut in start..full {
        let dir = tmp.path().join(format!("cut{cut}"));
        copy_dir(&src, &dir);
        let seg = segment_files(&dir)[0].clone();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(cut)
            .unwrap();
        let (log, rep) = open(&dir, LogOptions::default());
        assert_eq!(rep.records, 3, "cut {cut}");
        assert_eq!(rep.last_lsn, 3, "cut {cut}");
        if cut == start {
            assert!(rep.torn_tail.is_none());
        } else {
            let t = rep.torn_tail.clone().unwrap();
            assert_eq!(t.segment, seg);
            assert_eq!(t.offset, start, "cut {cut}");
            assert_eq!(t.discarded_bytes, cut - start, "cut {cut}");
        }
        assert_eq!(file_len(&seg), start, "cut {cut}: file must be truncated");
        let recs = read_all(&log, 1);
        assert_eq!(
            recs.iter().map(|r| r.lsn).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(recs[2].payload, payload(3));
        assert_eq!(log.append(vec![b"again".to_vec()]).unwrap().first_lsn, 4);
        log.close().unwrap();
        let (_log, rep) = open(&dir, LogOptions::default());
        assert!(rep.torn_tail.is_none(), "second recovery must be clean");
        assert_eq!(rep.last_lsn, 4);
    }
}

/// Zeros after the last frame (the space the writer fills ahead, or a
/// write whose pages never reached the disk) are cut off without being
/// reported as a torn tail.
#[test]
fn zero_filled_tail_is_cut_but_not_torn() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let (log, _) = open(tmp.path(), LogOptions::default());
        append_groups(&log, &[2, 1], 1);
    }
    let seg = segment_files(tmp.path())[0].clone();
    let len = file_len(&seg);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&seg)
        .unwrap()
        .write_all(&[0u8; 100])
        .unwrap();
    let (log, rep) = open(tmp.path(), LogOptions::default());
    assert_eq!(rep.torn_tail, None);
    assert_eq!(rep.last_lsn, 3);
    assert_eq!(file_len(&seg), len);
    assert_eq!(read_all(&log, 1).len(), 3);
}

/// A frame header whose body never reached the disk (zeros), followed by
/// more zeros: still a torn tail.
#[test]
fn bad_frame_followed_only_by_zeros_is_torn() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let (log, _) = open(tmp.path(), LogOptions::default());
        append_groups(&log, &[1, 1], 1);
    }
    let seg = segment_files(tmp.path())[0].clone();
    let bytes = std::fs::read(&seg).unwrap();
    let len = bytes.len() as u64;
    let mut tail = bytes[HEADER as usize..HEADER as usize + 8].to_vec(); // len + crc of frame 1
    tail.extend(std::iter::repeat_n(0u8, 200));
    std::fs::OpenOptions::new()
        .append(true)
        .open(&seg)
        .unwrap()
        .write_all(&tail)
        .unwrap();
    let (_log, rep) = open(tmp.path(), LogOptions::default());
    let t = rep.torn_tail.unwrap();
    assert_eq!((t.offset, t.discarded_bytes), (len, 208));
    assert_eq!(rep.last_lsn, 2);
}

/// A frame of the last segment that does not decode ends the log there,
/// whatever follows: a power cut can keep a later page of an unsynced write
/// and lose an earlier one, so valid frames after a bad one are no proof
/// of corruption (point-in-time recovery; see the module docs of
/// `recovery`). Everything from the bad frame on is cut and reported.
#[test]
fn a_bad_frame_in_the_last_segment_ends_the_log_whatever_follows() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let (log, _) = open(tmp.path(), LogOptions::default());
        append_groups(&log, &[1, 2, 1], 1);
    }
    let seg = segment_files(tmp.path())[0].clone();
    let mut bytes = std::fs::read(&seg).unwrap();
    let len = bytes.len() as u64;
    bytes[HEADER as usize + 12] ^= 0x40; // inside frame 1's body
    std::fs::write(&seg, &bytes).unwrap();
    let (log, rep) = open(tmp.path(), LogOptions::default());
    let t = rep.torn_tail.unwrap();
    assert_eq!((t.offset, t.discarded_bytes), (HEADER, len - HEADER));
    assert_eq!(rep.last_lsn, 0);
    assert_eq!(file_len(&seg), HEADER);
    assert!(read_all(&log, 1).is_empty());
}

/// The same damage in a sealed segment is corruption, and nothing is
/// modified: a sealed segment was fsynced whole before the next one began.
#[test]
fn a_bad_frame_in_a_sealed_segment_is_corruption_and_nothing_is_modified() {
    let tmp = tempfile::tempdir().unwrap();
    let segs = multi_segment_log(tmp.path(), 20);
    let first = &segs[0];
    let mut bytes = std::fs::read(first).unwrap();
    bytes[HEADER as usize + 12] ^= 0x40; // inside the segment's first frame
    std::fs::write(first, &bytes).unwrap();
    let before: Vec<Vec<u8>> = segs.iter().map(|p| std::fs::read(p).unwrap()).collect();
    match ChangeLog::open(tmp.path(), LogOptions::default()) {
        Err(Error::Corruption {
            segment, offset, ..
        }) => {
            assert_eq!(&segment, first);
            assert_eq!(offset, HEADER);
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    let after: Vec<Vec<u8>> = segs.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert_eq!(before, after, "files must be untouched");
}

fn multi_segment_log(dir: &Path, groups: u64) -> Vec<std::path::PathBuf> {
    let (log, _) = open(dir, LogOptions::default().segment_size(200));
    for i in 1..=groups {
        // 10-byte payloads: every frame is 8 + 20 + 4 + 10 = 42 bytes.
        let _ = log.append(vec![format!("{i:010}").into_bytes()]).unwrap();
    }
    log.close().unwrap();
    let segs = segment_files(dir);
    assert!(segs.len() >= 3, "{segs:?}");
    segs
}

#[test]
fn crc_flip_in_a_non_last_segment_is_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let segs = multi_segment_log(tmp.path(), 20);
    let first = &segs[0];
    let mut bytes = std::fs::read(first).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0x01; // last byte of the last frame of segment 0
    std::fs::write(first, &bytes).unwrap();
    let before: Vec<Vec<u8>> = segs.iter().map(|p| std::fs::read(p).unwrap()).collect();
    match ChangeLog::open(tmp.path(), LogOptions::default()) {
        Err(Error::Corruption {
            segment, offset, ..
        }) => {
            assert_eq!(&segment, first);
            assert_eq!(offset, n as u64 - 42);
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    let after: Vec<Vec<u8>> = segs.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert_eq!(before, after);
}

#[test]
fn truncated_non_last_segment_is_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let segs = multi_segment_log(tmp.path(), 20);
    let len = file_len(&segs[1]);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&segs[1])
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    match ChangeLog::open(tmp.path(), LogOptions::default()) {
        Err(Error::Corruption {
            segment, offset, ..
        }) => {
            assert_eq!(segment, segs[1]);
            assert_eq!(offset, len - 42);
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    assert_eq!(file_len(&segs[1]), len - 5);
}

#[test]
fn missing_middle_segment_is_an_lsn_gap() {
    let tmp = tempfile::tempdir().unwrap();
    let segs = multi_segment_log(tmp.path(), 20);
    std::fs::remove_file(&segs[1]).unwrap();
    match ChangeLog::open(tmp.path(), LogOptions::default()) {
        Err(Error::Corruption {
            segment,
            offset,
            reason,
        }) => {
            assert_eq!(segment, segs[2]);
            assert_eq!(offset, 0);
            assert!(reason.contains("does not continue"), "{reason}");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn bad_header_with_frames_is_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let segs = multi_segment_log(tmp.path(), 20);
    let last = segs.last().unwrap();
    // Make sure the last segment has frames, then damage its header.
    {
        let (log, _) = open(tmp.path(), LogOptions::default().segment_size(1 << 20));
        let _ = log.append(vec![b"tail".to_vec()]).unwrap();
    }
    let mut bytes = std::fs::read(last).unwrap();
    bytes[3] ^= 0xFF;
    std::fs::write(last, &bytes).unwrap();
    match ChangeLog::open(tmp.path(), LogOptions::default()) {
        Err(Error::Corruption {
            segment, offset, ..
        }) => {
            assert_eq!(&segment, last);
            assert_eq!(offset, 0);
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    assert_eq!(std::fs::read(last).unwrap(), bytes);
}

#[test]
fn torn_header_of_last_segment_is_a_torn_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let last_lsn = {
        let (log, _) = open(tmp.path(), LogOptions::default());
        append_groups(&log, &[2, 2], 1) - 1
    };
    // A crash while creating the next segment left 10 header bytes.
    let torn = tmp.path().join(format!("{:020}.wal", last_lsn + 1));
    std::fs::write(&torn, b"EDDYWAL\0\x01\x00").unwrap();
    let (log, rep) = open(tmp.path(), LogOptions::default());
    let t = rep.torn_tail.unwrap();
    assert_eq!(t.segment, torn);
    assert_eq!((t.offset, t.discarded_bytes), (0, 10));
    assert_eq!(rep.last_lsn, 4);
    assert_eq!(log.append(vec![b"x".to_vec()]).unwrap().first_lsn, 5);
    assert_eq!(read_all(&log, 1).len(), 5);
    log.close().unwrap();
    let (_log, rep) = open(tmp.path(), LogOptions::default());
    assert!(rep.torn_tail.is_none());
    assert_eq!(rep.last_lsn, 5);
}

fn file_lens(dir: &Path) -> Vec<u64> {
    segment_files(dir).iter().map(|p| file_len(p)).collect()
}

/// The writer fills the active segment with zeros ahead of the log's end and
/// writes into them; sealed segments and a cleanly closed one end at their
/// last frame; a copy taken while the log is open (as a crash leaves it)
/// opens with every record, no torn tail, and the zeros cut off.
#[test]
fn zeros_filled_ahead_are_cut_at_roll_close_and_recovery() {
    let tmp = tempfile::tempdir().unwrap();
    let live = tmp.path().join("live");
    let (log, _) = open(&live, LogOptions::default().segment_size(4096));
    for i in 1..=40 {
        let _ = log.append(vec![payload(i), vec![b'x'; 300]]).unwrap();
    }
    let lens = file_lens(&live);
    assert!(lens.len() >= 3, "{lens:?}");
    let (sealed, active) = lens.split_at(lens.len() - 1);
    assert!(
        sealed.iter().all(|&l| l < 8192),
        "sealed segments end at their last frame: {sealed:?}"
    );
    assert!(
        active[0] > log.stats().bytes_on_disk,
        "the active segment runs on with zeros: {lens:?}, log {} bytes",
        log.stats().bytes_on_disk
    );

    let crashed = tmp.path().join("crashed");
    copy_dir(&live, &crashed);
    let (copy, rep) = open(&crashed, LogOptions::default());
    assert_eq!(rep.torn_tail, None);
    assert_eq!(rep.last_lsn, 80);
    let recs = read_all(&copy, 1);
    assert_eq!(recs.len(), 80);
    assert_eq!(recs[78].payload, payload(40));
    assert_eq!(
        file_lens(&crashed).iter().sum::<u64>(),
        copy.stats().bytes_on_disk,
        "recovery cut the zeros"
    );
    let _ = copy.append(vec![payload(41)]).unwrap();
    copy.close().unwrap();

    log.close().unwrap();
    let on_disk: u64 = file_lens(&live).iter().sum();
    let (log, rep) = open(&live, LogOptions::default());
    assert_eq!(rep.torn_tail, None);
    assert_eq!(on_disk, log.stats().bytes_on_disk, "close cut the zeros");
    assert_eq!(read_all(&log, 1).len(), 80);
}
