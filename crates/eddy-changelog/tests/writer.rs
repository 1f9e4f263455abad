//! Writer tests: group commit, timestamps, durability modes, fault handling.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use eddy_changelog::io::fault::FaultFs;
use eddy_changelog::{Durability, Error, LogOptions, MAX_FRAME_SIZE};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn fault_opts(ffs: &FaultFs) -> LogOptions {
    LogOptions::default().fs(Arc::new(ffs.clone()))
}

#[test]
fn clock_going_backwards_never_decreases_micros() {
    let tmp = tempfile::tempdir().unwrap();
    let now = Arc::new(AtomicU64::new(0));
    let clock = {
        let now = Arc::clone(&now);
        Arc::new(move || now.load(Ordering::SeqCst))
    };
    let (log, _) = open(tmp.path(), LogOptions::default().clock(clock));
    let mut got = Vec::new();
    for t in [1_000_000u64, 500, 2_000_000, 0, 1_999_999, 3_000_000] {
        now.store(t, Ordering::SeqCst);
        got.push(log.append(vec![b"x".to_vec()]).unwrap().micros);
    }
    assert_eq!(
        got,
        vec![1_000_000, 1_000_000, 2_000_000, 2_000_000, 2_000_000, 3_000_000]
    );
    let read: Vec<u64> = read_all(&log, 1).iter().map(|r| r.micros).collect();
    assert_eq!(read, got);
}

#[test]
fn group_commit_8_threads_x_200_sync_appends() {
    let tmp = tempfile::tempdir().unwrap();
    let ffs = FaultFs::new();
    let (log, _) = open(tmp.path(), fault_opts(&ffs));
    let syncs_before = ffs.sync_data_calls();
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                (0..200u64)
                    .map(|i| {
                        let c = log.append(vec![format!("{t}:{i}").into_bytes()]).unwrap();
                        assert_eq!(c.count, 1);
                        (c.first_lsn, t, i)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all = Vec::new();
    for h in threads {
        all.extend(h.join().unwrap());
    }
    let lsns: HashSet<u64> = all.iter().map(|(l, _, _)| *l).collect();
    assert_eq!(lsns.len(), 1600, "LSNs must be unique");
    assert_eq!(
        lsns,
        (1..=1600).collect::<HashSet<_>>(),
        "LSNs must be contiguous"
    );
    // Each thread sees its own appends in increasing LSN order.
    for t in 0..8 {
        let mine: Vec<u64> = all
            .iter()
            .filter(|(_, tt, _)| *tt == t)
            .map(|(l, _, _)| *l)
            .collect();
        assert!(mine.windows(2).all(|w| w[0] < w[1]));
    }
    let syncs = ffs.sync_data_calls() - syncs_before;
    println!(
        "group commit: 1600 appends, {syncs} sync_data calls, ratio {:.3} fsyncs/append, {} batches",
        syncs as f64 / 1600.0,
        log.stats().batches
    );
    assert!((1..=1600).contains(&syncs), "{syncs}");
    assert_eq!(log.stats().fsyncs, syncs);
    assert_eq!(log.stats().appends, 1600);
    // The log content matches what each appender was told.
    let recs = read_all(&log, 1);
    assert_eq!(recs.len(), 1600);
    for (lsn, t, i) in all {
        assert_eq!(
            recs[(lsn - 1) as usize].payload,
            format!("{t}:{i}").into_bytes()
        );
    }
}

#[test]
fn failed_fsync_poisons_and_nothing_acknowledged_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let ffs = FaultFs::new();
    let (log, _) = open(tmp.path(), fault_opts(&ffs));
    for i in 1..=5 {
        let _ = log.append(vec![payload(i)]).unwrap();
    }
    ffs.fail_next_syncs(1);
    match log.append(vec![b"doomed".to_vec()]) {
        Err(Error::Poisoned(msg)) => assert!(msg.contains("fsync"), "{msg}"),
        other => panic!("expected Poisoned, got {other:?}"),
    }
    // The failed fsync is not retried as if it were fine: everything after fails.
    assert!(matches!(
        log.append(vec![b"later".to_vec()]),
        Err(Error::Poisoned(_))
    ));
    assert!(matches!(log.sync(), Err(Error::Poisoned(_))));
    assert_eq!(log.committed_lsn(), 5);
    assert_eq!(
        read_all(&log, 1).len(),
        5,
        "readers never see the unacknowledged group"
    );
    assert!(matches!(log.close(), Err(Error::Poisoned(_))));
    drop(log);
    let (log, rep) = open(tmp.path(), LogOptions::default());
    assert!(rep.last_lsn >= 5);
    let recs = read_all(&log, 1);
    for i in 1..=5u64 {
        assert_eq!(recs[(i - 1) as usize].payload, payload(i));
    }
}

#[test]
fn enospc_is_refused_then_appends_succeed_once_space_is_back() {
    let tmp = tempfile::tempdir().unwrap();
    let ffs = FaultFs::new();
    let (log, _) = open(tmp.path(), fault_opts(&ffs));
    for i in 1..=3 {
        let _ = log.append(vec![payload(i)]).unwrap();
    }
    ffs.enospc_on_write(true);
    for _ in 0..3 {
        match log.append(vec![b"no room".to_vec()]) {
            Err(Error::WriteFailed { source, .. }) => {
                assert_eq!(source.kind(), std::io::ErrorKind::StorageFull, "{source}");
            }
            other => panic!("expected WriteFailed, got {other:?}"),
        }
    }
    // Reads keep working, and no LSN was used by the refused appends.
    assert_eq!(read_all(&log, 1).len(), 3);
    assert_eq!(log.committed_lsn(), 3);
    log.sync().unwrap();
    ffs.enospc_on_write(false);
    assert_eq!(log.append(vec![b"ok".to_vec()]).unwrap().first_lsn, 4);
    assert_eq!(log.stats().failed_writes, 3);
    drop(log);
    let (log, rep) = open(tmp.path(), LogOptions::default());
    assert_eq!(rep.last_lsn, 4);
    assert!(rep.torn_tail.is_none());
    let recs = read_all(&log, 1);
    assert_eq!(recs.len(), 4);
    assert_eq!(recs[3].payload, b"ok".to_vec());
}

#[test]
fn a_short_write_is_cut_back_and_the_log_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let ffs = FaultFs::new();
    let (log, _) = open(tmp.path(), fault_opts(&ffs));
    for i in 1..=3 {
        let _ = log.append(vec![payload(i)]).unwrap();
    }
    // The log's end (the file runs on with the zeros filled ahead).
    let len_before = log.stats().bytes_on_disk;
    ffs.short_write_next(13);
    assert!(matches!(
        log.append(vec![b"partial".to_vec()]),
        Err(Error::WriteFailed { .. })
    ));
    let len_after = segment_files(tmp.path())
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum::<u64>();
    assert_eq!(
        len_after, len_before,
        "the 13 bytes were cut (with the zeros after them)"
    );
    assert_eq!(log.append(vec![payload(4)]).unwrap().first_lsn, 4);
    drop(log);
    let (log, rep) = open(tmp.path(), LogOptions::default());
    assert_eq!(rep.last_lsn, 4);
    assert!(rep.torn_tail.is_none());
    assert_eq!(read_all(&log, 1).len(), 4);
}

#[test]
fn a_short_write_that_cannot_be_undone_poisons_and_recovery_drops_it() {
    let tmp = tempfile::tempdir().unwrap();
    let ffs = FaultFs::new();
    let (log, _) = open(tmp.path(), fault_opts(&ffs));
    for i in 1..=3 {
        let _ = log.append(vec![payload(i)]).unwrap();
    }
    let end = log.stats().bytes_on_disk;
    ffs.short_write_next(13);
    ffs.fail_set_len(true);
    match log.append(vec![b"partial".to_vec()]) {
        Err(Error::Poisoned(msg)) => assert!(msg.contains("cutting"), "{msg}"),
        other => panic!("expected Poisoned, got {other:?}"),
    }
    ffs.clear_faults();
    assert!(matches!(
        log.append(vec![b"later".to_vec()]),
        Err(Error::Poisoned(_))
    ));
    drop(log);
    let (log, rep) = open(tmp.path(), LogOptions::default());
    assert_eq!(rep.last_lsn, 3);
    // The 13 bytes and the zeros filled ahead after them.
    let torn = rep.torn_tail.unwrap();
    assert_eq!(torn.offset, end);
    assert!(torn.discarded_bytes >= 13, "{torn:?}");
    assert_eq!(
        std::fs::metadata(&torn.segment).unwrap().len(),
        end,
        "cut at the last frame"
    );
    assert_eq!(read_all(&log, 1).len(), 3);
}

#[test]
fn a_write_undone_but_not_synced_poisons() {
    let tmp = tempfile::tempdir().unwrap();
    let ffs = FaultFs::new();
    let (log, _) = open(tmp.path(), fault_opts(&ffs));
    let _ = log.append(vec![payload(1)]).unwrap();
    ffs.short_write_next(5);
    ffs.fail_next_syncs(1);
    assert!(matches!(
        log.append(vec![b"partial".to_vec()]),
        Err(Error::Poisoned(msg)) if msg.contains("syncing the cut")
    ));
    assert!(matches!(
        log.append(vec![payload(2)]),
        Err(Error::Poisoned(_))
    ));
}

#[test]
fn a_segment_that_cannot_be_created_is_retried_at_the_next_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let ffs = FaultFs::new();
    let (log, _) = open(tmp.path(), fault_opts(&ffs).segment_size(300));
    // The disk fills just as segments should roll: every new segment's
    // header write fails, so the half-made file is removed and the active
    // segment grows past its target size instead.
    ffs.enospc_on_new_files(true);
    for i in 1..=20 {
        let _ = log.append(vec![payload(i)]).unwrap();
    }
    log.sync().unwrap();
    // Rolls run after a batch is answered, so one may still be in flight
    // on the writer thread: wait until it has settled.
    let settled = |want: usize| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while segment_files(tmp.path()).len() != want && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        segment_files(tmp.path()).len()
    };
    assert_eq!(settled(1), 1, "no half-made segment");
    ffs.enospc_on_new_files(false);
    let _ = log.append(vec![payload(21)]).unwrap();
    log.sync().unwrap();
    assert_eq!(settled(2), 2, "rolled once space is back");
    for i in 22..=30 {
        let _ = log.append(vec![payload(i)]).unwrap();
    }
    drop(log);
    let (log, rep) = open(tmp.path(), LogOptions::default());
    assert_eq!(rep.last_lsn, 30);
    let recs = read_all(&log, 1);
    assert_eq!(recs.len(), 30);
    assert_eq!(recs[29].payload, payload(30));
}

#[test]
fn periodic_durability_syncs_when_idle() {
    let tmp = tempfile::tempdir().unwrap();
    let ffs = FaultFs::new();
    let opts = fault_opts(&ffs).durability(Durability::Periodic(Duration::from_millis(50)));
    let (log, _) = open(tmp.path(), opts);
    let base = ffs.sync_data_calls();
    for i in 1..=20 {
        let _ = log.append(vec![payload(i)]).unwrap();
    }
    assert!(
        ffs.sync_data_calls() - base <= 2,
        "periodic must not fsync per append"
    );
    std::thread::sleep(Duration::from_millis(400));
    let after_idle = ffs.sync_data_calls() - base;
    assert!(
        after_idle >= 1,
        "idle log must be synced within the interval"
    );
    // Nothing more to sync: no further fsyncs while idle.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(ffs.sync_data_calls() - base, after_idle);
}

#[test]
fn an_append_committed_by_its_own_thread_still_gets_the_periodic_fsync() {
    let tmp = tempfile::tempdir().unwrap();
    let ffs = FaultFs::new();
    let opts = fault_opts(&ffs).durability(Durability::Periodic(Duration::from_secs(1)));
    let (log, _) = open(tmp.path(), opts);
    // The writer thread goes idle (no deadline: nothing is unsynced), so
    // the append below is committed by this thread, which has to wake the
    // writer thread's timer for the fsync that is now owed. (A stall of
    // more than a second before the append would sync it at once.)
    std::thread::sleep(Duration::from_millis(50));
    let base = ffs.sync_data_calls();
    let _ = log.append(vec![payload(1)]).unwrap();
    assert_eq!(ffs.sync_data_calls() - base, 0, "not synced at once");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(ffs.sync_data_calls() - base, 1, "synced by the timer");
}

#[test]
fn durability_none_never_fsyncs_on_append_but_sync_does() {
    let tmp = tempfile::tempdir().unwrap();
    let ffs = FaultFs::new();
    let (log, _) = open(tmp.path(), fault_opts(&ffs).durability(Durability::None));
    let base = ffs.sync_data_calls();
    for i in 1..=50 {
        let _ = log.append(vec![payload(i)]).unwrap();
    }
    assert_eq!(ffs.sync_data_calls(), base);
    log.sync().unwrap();
    assert_eq!(ffs.sync_data_calls(), base + 1);
    log.sync().unwrap(); // nothing dirty
    assert_eq!(ffs.sync_data_calls(), base + 1);
    drop(log);
    let (_log, rep) = open(tmp.path(), LogOptions::default());
    assert_eq!(rep.last_lsn, 50);
}

#[test]
fn oversized_and_empty_appends_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path(), LogOptions::default());
    match log.append(vec![vec![0u8; MAX_FRAME_SIZE]]) {
        Err(Error::TooLarge { bytes, max }) => {
            assert_eq!(max, MAX_FRAME_SIZE as u64);
            assert!(bytes > max);
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(matches!(log.append(Vec::new()), Err(Error::EmptyAppend)));
    // The log is still healthy.
    assert_eq!(log.append(vec![b"fine".to_vec()]).unwrap().first_lsn, 1);
}

#[test]
fn close_stops_appends_and_is_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path(), LogOptions::default());
    let other = log.clone();
    let _ = log.append(vec![b"a".to_vec()]).unwrap();
    log.close().unwrap();
    assert!(matches!(
        other.append(vec![b"b".to_vec()]),
        Err(Error::Closed)
    ));
    assert!(matches!(other.sync(), Err(Error::Closed)));
    other.close().unwrap();
    assert_eq!(read_all(&other, 1).len(), 1, "reads still work after close");
}

#[test]
fn released_watermark_follows_dropped_guards() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path(), LogOptions::default());
    let a = log.append(vec![b"a".to_vec()]).unwrap();
    let b = log.append(vec![b"b1".to_vec(), b"b2".to_vec()]).unwrap();
    let c = log.append(vec![b"c".to_vec()]).unwrap();
    assert_eq!((b.first_lsn, b.last_lsn()), (2, 3));
    assert_eq!(log.committed_lsn(), 4);
    assert_eq!(log.released_watermark(), 0);
    drop(b);
    assert_eq!(log.released_watermark(), 0, "LSN 1 is still held");
    a.release();
    assert_eq!(log.released_watermark(), 3);
    drop(c);
    assert_eq!(log.released_watermark(), 4);
    drop(log);
    let (log, _) = open(tmp.path(), LogOptions::default());
    assert_eq!(
        log.released_watermark(),
        4,
        "recovered records count as released"
    );
}

#[test]
fn drop_without_close_keeps_acknowledged_data() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let (log, _) = open(
            tmp.path(),
            LogOptions::default().durability(Durability::None),
        );
        for i in 1..=10 {
            let _ = log.append(vec![payload(i)]).unwrap();
        }
    }
    let (log, rep) = open(tmp.path(), LogOptions::default());
    assert_eq!(rep.last_lsn, 10);
    assert!(rep.torn_tail.is_none());
    let s = log.stats();
    assert_eq!(s.segments, 1);
    assert!(s.bytes_on_disk > 24);
}

#[test]
fn segments_roll_and_stats_track_them() {
    let tmp = tempfile::tempdir().unwrap();
    let ffs = FaultFs::new();
    let (log, _) = open(tmp.path(), fault_opts(&ffs).segment_size(300));
    for i in 1..=40 {
        let _ = log.append(vec![payload(i), payload(i)]).unwrap();
    }
    // Rolling happens after the acknowledgement; a sync round-trip through
    // the writer thread is a barrier.
    log.sync().unwrap();
    let s = log.stats();
    let files = segment_files(tmp.path());
    assert_eq!(s.segments, files.len());
    assert!(s.segments > 3);
    let on_disk: u64 = files
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(s.bytes_on_disk, on_disk);
    assert_eq!((s.appends, s.records), (40, 80));
    // Each segment name is its base LSN, and the base is a group boundary.
    for f in &files {
        let base: u64 = f.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        assert_eq!(base % 2, 1, "{f:?}");
    }
}

#[test]
fn failed_periodic_fsync_poisons_later_appends() {
    let tmp = tempfile::tempdir().unwrap();
    let ffs = FaultFs::new();
    let opts = fault_opts(&ffs).durability(Durability::Periodic(Duration::from_millis(20)));
    let (log, _) = open(tmp.path(), opts);
    ffs.fail_all_syncs(true);
    // Acknowledged after the write, before any fsync.
    let _ = log.append(vec![b"a".to_vec()]).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match log.append(vec![b"b".to_vec()]) {
            Err(Error::Poisoned(msg)) => {
                assert!(msg.contains("fsync"), "{msg}");
                break;
            }
            Ok(_) => assert!(std::time::Instant::now() < deadline, "never poisoned"),
            Err(e) => panic!("unexpected {e}"),
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    ffs.clear_faults();
    assert!(
        matches!(log.sync(), Err(Error::Poisoned(_))),
        "no retry as if fine"
    );
}
