//! Appends that do not park a thread: `append_async` and `append_then`.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use eddy_changelog::io::fault::FaultFs;
use eddy_changelog::{Durability, Error, LogOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

fn fault_opts(ffs: &FaultFs) -> LogOptions {
    LogOptions::default().fs(Arc::new(ffs.clone()))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// A clock that holds the writer thread inside its first batch until the
/// test lets it go, so that everything queued meanwhile lands in the next
/// batch: group commit without relying on timing.
fn gated_clock() -> (eddy_changelog::Clock, Arc<Barrier>) {
    let gate = Arc::new(Barrier::new(2));
    let first = Arc::new(AtomicBool::new(true));
    let clock = {
        let gate = Arc::clone(&gate);
        Arc::new(move || {
            if first.swap(false, Ordering::SeqCst) {
                gate.wait();
            }
            eddy_changelog::system_clock_micros()
        })
    };
    (clock, gate)
}

#[test]
fn a_hundred_futures_on_one_thread_share_at_most_two_batches() {
    let tmp = tempfile::tempdir().unwrap();
    let ffs = FaultFs::new();
    let (clock, gate) = gated_clock();
    let (log, _) = open(tmp.path(), fault_opts(&ffs).clock(clock));
    let syncs_before = ffs.sync_data_calls();
    let batches_before = log.stats().batches;
    // All queued from this one thread, none polled yet: no thread waits.
    let pending: Vec<_> = (0..100u64)
        .map(|i| log.append_async(vec![payload(i)]))
        .collect();
    gate.wait();
    let committed: Vec<_> = runtime().block_on(async {
        let mut out = Vec::new();
        for p in pending {
            out.push(p.await.unwrap());
        }
        out
    });
    // In call order, contiguous, each durable when it resolved.
    let lsns: Vec<u64> = committed.iter().map(|c| c.first_lsn).collect();
    assert_eq!(lsns, (1..=100).collect::<Vec<_>>());
    // The held batch (the first group, or all of them if the writer found
    // them all queued), then at most one more with the rest.
    let batches = log.stats().batches - batches_before;
    assert!(batches <= 2, "100 appends took {batches} batches");
    let syncs = ffs.sync_data_calls() - syncs_before;
    assert!(syncs <= 3, "100 appends took {syncs} fsyncs");
    drop(committed);
    assert_eq!(log.released_watermark(), 100);
    let read = read_all(&log, 1);
    assert_eq!(read.len(), 100);
    assert!(read
        .iter()
        .enumerate()
        .all(|(i, r)| r.payload == payload(i as u64)));
}

#[test]
fn futures_from_many_tasks_commit_each_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path(), LogOptions::default());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let mut lsns: Vec<u64> = rt.block_on(async {
        let tasks: Vec<_> = (0..8u64)
            .map(|t| {
                let log = log.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    for i in 0..50u64 {
                        let c = log
                            .append_async(vec![format!("{t}:{i}").into_bytes()])
                            .await
                            .unwrap();
                        got.push(c.first_lsn);
                    }
                    got
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    lsns.sort_unstable();
    assert_eq!(lsns, (1..=400).collect::<Vec<_>>());
    assert_eq!(read_all(&log, 1).len(), 400);
}

#[test]
fn a_dropped_future_still_commits_and_releases_its_lsns() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path(), LogOptions::default());
    drop(log.append_async(vec![b"dropped".to_vec()]));
    log.sync().unwrap();
    // The writer answered the vanished future; its guard was dropped.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while log.released_watermark() < 1 {
        assert!(std::time::Instant::now() < deadline, "LSN 1 never released");
        std::thread::sleep(Duration::from_millis(1));
    }
    let read = read_all(&log, 1);
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].payload, b"dropped");
    log.close().unwrap();
    drop(log);
    let (log, _) = open(tmp.path(), LogOptions::default());
    assert_eq!(read_all(&log, 1).len(), 1, "durable across a reopen");
}

#[test]
fn a_failed_fsync_fails_the_future_and_poisons_later_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let ffs = FaultFs::new();
    let (log, _) = open(tmp.path(), fault_opts(&ffs));
    let rt = runtime();
    drop(
        rt.block_on(log.append_async(vec![b"fine".to_vec()]))
            .unwrap(),
    );
    ffs.fail_next_syncs(1);
    let err = rt
        .block_on(log.append_async(vec![b"lost".to_vec()]))
        .unwrap_err();
    assert!(matches!(err, Error::Poisoned(_)), "{err:?}");
    ffs.clear_faults();
    // Refused before it is queued.
    let err = rt
        .block_on(log.append_async(vec![b"later".to_vec()]))
        .unwrap_err();
    assert!(matches!(err, Error::Poisoned(_)), "{err:?}");
    let err = log
        .append_then(vec![b"later".to_vec()], |_| panic!("must not run"))
        .unwrap_err();
    assert!(matches!(err, Error::Poisoned(_)), "{err:?}");
}

#[test]
fn refusals_before_queueing_resolve_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path(), LogOptions::default());
    let rt = runtime();
    let err = rt.block_on(log.append_async(Vec::new())).unwrap_err();
    assert!(matches!(err, Error::EmptyAppend), "{err:?}");
    log.close().unwrap();
    let err = rt
        .block_on(log.append_async(vec![b"x".to_vec()]))
        .unwrap_err();
    assert!(matches!(err, Error::Closed), "{err:?}");
}

#[test]
fn a_callback_runs_once_after_its_group_is_durable() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(
        tmp.path(),
        LogOptions::default().durability(Durability::Sync),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    for i in 0..20u64 {
        let observer = log.clone();
        let tx = tx.clone();
        log.append_then(vec![payload(i)], move |outcome| {
            let c = outcome.unwrap();
            // Acknowledged means committed: readers see it already.
            assert!(observer.committed_lsn() >= c.last_lsn());
            tx.send(c.first_lsn).unwrap();
        })
        .unwrap();
    }
    drop(tx);
    let mut got: Vec<u64> = rx.iter().collect();
    assert_eq!(got.len(), 20, "each callback ran exactly once");
    got.sort_unstable();
    assert_eq!(got, (1..=20).collect::<Vec<_>>());
}

#[test]
fn a_panicking_callback_does_not_stop_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path(), LogOptions::default());
    log.append_then(vec![b"a".to_vec()], |_| panic!("callback bug"))
        .unwrap();
    let c = log.append(vec![b"b".to_vec()]).unwrap();
    assert_eq!(c.first_lsn, 2);
    drop(c);
    assert_eq!(read_all(&log, 1).len(), 2);
}

#[test]
fn a_slow_callback_does_not_hold_up_later_commits() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path(), LogOptions::default());
    let (release, held) = std::sync::mpsc::channel::<()>();
    log.append_then(vec![b"slow".to_vec()], move |outcome| {
        drop(outcome.unwrap());
        // Blocks until the test lets it go.
        held.recv().ok();
    })
    .unwrap();
    // A blocking append is acknowledged while that callback still runs.
    let (done, acked) = std::sync::mpsc::channel();
    let appender = {
        let log = log.clone();
        std::thread::spawn(move || {
            let c = log.append(vec![b"next".to_vec()]).unwrap();
            done.send(c.first_lsn).unwrap();
        })
    };
    let lsn = acked.recv_timeout(Duration::from_secs(10));
    release.send(()).unwrap();
    assert_eq!(
        lsn,
        Ok(2),
        "the second append waited for the first's callback"
    );
    appender.join().unwrap();
}

#[test]
fn callbacks_run_in_commit_order_and_close_waits_for_them() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path(), LogOptions::default());
    let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
    for i in 0..50u64 {
        let seen = Arc::clone(&seen);
        log.append_then(vec![payload(i)], move |outcome| {
            let c = outcome.unwrap();
            if c.first_lsn == 50 {
                // Close must wait for this one too.
                std::thread::sleep(Duration::from_millis(50));
            }
            seen.lock().push(c.first_lsn);
        })
        .unwrap();
    }
    log.close().unwrap();
    assert_eq!(*seen.lock(), (1..=50).collect::<Vec<_>>());
    // After close, a callback gets the refusal at once, or is not taken.
    let err = log.append_then(vec![b"x".to_vec()], |_| {}).unwrap_err();
    assert!(matches!(err, Error::Closed), "{err:?}");
}

#[test]
fn an_abandoned_group_holds_the_released_watermark_below_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path(), LogOptions::default());
    log.append(vec![b"applied".to_vec()]).unwrap().release();
    log.append(vec![b"not applied".to_vec()]).unwrap().abandon();
    log.append(vec![b"applied later".to_vec()])
        .unwrap()
        .release();
    assert_eq!(log.committed_lsn(), 3);
    assert_eq!(
        log.released_watermark(),
        1,
        "never past the abandoned LSN 2"
    );
    assert_eq!(read_all(&log, 1).len(), 3, "it is logged all the same");
}
