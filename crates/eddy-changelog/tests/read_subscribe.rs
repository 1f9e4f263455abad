//! Reader, subscription and retention tests.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use eddy_changelog::{ChangeLog, Durability, Error, LogOptions};
use std::time::Duration;

/// Builds a multi-segment log with groups of 1..=3 records; returns the log
/// and the total number of records.
fn build(dir: &std::path::Path, opts: LogOptions, groups: u64) -> (ChangeLog, u64) {
    let (log, _) = open(dir, opts);
    let mut n = 0;
    for g in 0..groups {
        let k = g % 3 + 1;
        let c = log
            .append((1..=k).map(|j| payload(n + j)).collect())
            .unwrap();
        assert_eq!(c.first_lsn, n + 1);
        n += k;
    }
    (log, n)
}

#[test]
fn reader_across_segments_from_every_lsn() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = || LogOptions::default().segment_size(256);
    let (log, n) = build(tmp.path(), opts(), 60);
    log.sync().unwrap();
    assert!(log.stats().segments >= 5, "{:?}", log.stats());
    let check = |log: &ChangeLog| {
        for from in 1..=n + 1 {
            let recs = read_all(log, from);
            let lsns: Vec<u64> = recs.iter().map(|r| r.lsn).collect();
            assert_eq!(lsns, (from..=n).collect::<Vec<_>>(), "from {from}");
            for r in &recs {
                assert_eq!(r.payload, payload(r.lsn));
            }
        }
        assert!(read_all(log, n + 10).is_empty());
        assert_eq!(
            read_all(log, 0).len() as u64,
            n,
            "LSN 0 reads from the start"
        );
    };
    check(&log);
    drop(log);
    let (log, rep) = open(tmp.path(), opts());
    assert_eq!(rep.last_lsn, n);
    check(&log);
}

#[test]
fn reader_is_a_snapshot_at_the_committed_watermark() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, n) = build(tmp.path(), LogOptions::default().segment_size(200), 10);
    let mut reader = log.read_from(1).unwrap();
    assert_eq!(reader.end_lsn(), n);
    let first = reader.next().unwrap().unwrap();
    assert_eq!(first.lsn, 1);
    for i in 0..20 {
        let _ = log.append(vec![payload(100 + i)]).unwrap();
    }
    let rest: Vec<u64> = reader.map(|r| r.unwrap().lsn).collect();
    assert_eq!(rest, (2..=n).collect::<Vec<_>>());
}

#[test]
fn truncate_respects_floors_and_never_deletes_the_active_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, n) = build(tmp.path(), LogOptions::default().segment_size(256), 60);
    log.sync().unwrap();
    let segs_before = log.stats().segments;
    assert!(segs_before >= 5);

    log.set_retention_floor("stream-a", 10);
    log.set_retention_floor("stream-b", 30);
    let removed = log.truncate_before(u64::MAX).unwrap();
    assert!(removed >= 1, "segments ending at or below LSN 10 should go");
    let oldest = log.oldest_lsn();
    assert!(oldest <= 11, "LSN 11 must be retained, oldest is {oldest}");
    assert_eq!(segment_files(tmp.path()).len(), segs_before - removed);
    assert!(read_all(&log, 11)
        .iter()
        .all(|r| r.payload == payload(r.lsn)));

    assert_eq!(log.remove_retention_floor("stream-a"), Some(10));
    log.truncate_before(u64::MAX).unwrap();
    assert!(log.oldest_lsn() <= 31);
    assert!(log.oldest_lsn() > oldest);

    // The checkpoint itself is also a bound.
    log.remove_retention_floor("stream-b");
    let o = log.oldest_lsn();
    assert_eq!(
        log.truncate_before(o).unwrap(),
        0,
        "segment starting at {o} holds LSNs > {o}"
    );

    let removed = log.truncate_before(u64::MAX).unwrap();
    assert!(removed >= 1);
    assert_eq!(log.stats().segments, 1, "only the active segment remains");
    assert_eq!(segment_files(tmp.path()).len(), 1);
    assert_eq!(log.truncate_before(u64::MAX).unwrap(), 0);
    // The active segment still works and reopen is consistent.
    let c = log.append(vec![b"after".to_vec()]).unwrap();
    assert_eq!(c.first_lsn, n + 1);
    drop(c);
    drop(log);
    let (log, rep) = open(tmp.path(), LogOptions::default());
    assert_eq!(rep.last_lsn, n + 1);
    assert_eq!(
        read_all(&log, log.oldest_lsn()).last().unwrap().payload,
        b"after".to_vec()
    );
}

#[test]
fn trimmed_history_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, n) = build(tmp.path(), LogOptions::default().segment_size(256), 40);
    log.sync().unwrap();
    assert!(log.truncate_before(n / 2).unwrap() >= 1);
    let oldest = log.oldest_lsn();
    assert!(oldest > 1);
    match log.read_from(1) {
        Err(Error::Trimmed {
            requested,
            oldest: o,
        }) => assert_eq!((requested, o), (1, oldest)),
        other => panic!("expected Trimmed, got {other:?}"),
    }
    assert!(matches!(
        log.subscribe(oldest - 1),
        Err(Error::Trimmed { .. })
    ));
    assert_eq!(read_all(&log, oldest).first().unwrap().lsn, oldest);
}

#[test]
fn live_readers_and_subscriptions_pin_their_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, n) = build(tmp.path(), LogOptions::default().segment_size(256), 40);
    log.sync().unwrap();
    let mut sub = log.subscribe(5).unwrap();
    let reader = log.read_from(3).unwrap();
    log.truncate_before(u64::MAX).unwrap();
    assert!(log.oldest_lsn() <= 3);
    let lsns: Vec<u64> = reader.map(|r| r.unwrap().lsn).collect();
    assert_eq!(lsns, (3..=n).collect::<Vec<_>>());
    log.truncate_before(u64::MAX).unwrap();
    assert!(log.oldest_lsn() <= 5);
    for lsn in 5..=n {
        assert_eq!(recv(&mut sub).lsn, lsn);
    }
    drop(sub);
    log.truncate_before(u64::MAX).unwrap();
    assert_eq!(log.stats().segments, 1);
}

#[test]
fn subscription_live_delivery_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(
        tmp.path(),
        LogOptions::default().durability(Durability::None),
    );
    let mut sub = log.subscribe(1).unwrap();
    assert!(sub.try_recv().unwrap().is_none());
    assert!(sub
        .recv_timeout(Duration::from_millis(20))
        .unwrap()
        .is_none());
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            for i in 1..=500 {
                let _ = log.append(vec![payload(i)]).unwrap();
            }
        })
    };
    for lsn in 1..=500 {
        let r = recv(&mut sub);
        assert_eq!(r.lsn, lsn);
        assert_eq!(r.payload, payload(lsn));
    }
    writer.join().unwrap();
    assert!(sub.try_recv().unwrap().is_none());
    assert_eq!(sub.next_lsn(), 501);
}

#[test]
fn slow_subscriber_with_buffer_1_gets_everything_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = LogOptions::default()
        .durability(Durability::None)
        .segment_size(4096)
        .subscriber_buffer(1);
    let (log, _) = open(tmp.path(), opts);
    let mut sub = log.subscribe(1).unwrap();
    let writers: Vec<_> = (0..4u64)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..250u64 {
                    let k = (i % 3 + 1) as usize;
                    let _ = log
                        .append(vec![format!("{t}:{i}").into_bytes(); k])
                        .unwrap();
                }
            })
        })
        .collect();
    let total: u64 = 4 * (0..250u64).map(|i| i % 3 + 1).sum::<u64>();
    let mut got = Vec::new();
    while (got.len() as u64) < total {
        let r = recv(&mut sub);
        if got.len() % 50 == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
        got.push(r);
    }
    for w in writers {
        w.join().unwrap();
    }
    let lsns: Vec<u64> = got.iter().map(|r| r.lsn).collect();
    assert_eq!(lsns, (1..=total).collect::<Vec<_>>());
    let on_disk = read_all(&log, 1);
    assert_eq!(on_disk, got);
    assert!(sub.try_recv().unwrap().is_none());
    println!(
        "slow subscriber received {total} records across {} segments",
        log.stats().segments
    );
}

#[test]
fn subscription_catches_up_from_the_past_then_goes_live() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, n) = build(tmp.path(), LogOptions::default().segment_size(256), 30);
    let mut sub = log.subscribe(7).unwrap();
    for lsn in 7..=n {
        assert_eq!(recv(&mut sub).lsn, lsn);
    }
    let c = log.append(vec![b"live".to_vec()]).unwrap();
    let r = recv(&mut sub);
    assert_eq!(
        (r.lsn, r.micros, r.payload),
        (c.first_lsn, c.micros, b"live".to_vec())
    );
    // A subscription from the future waits for that LSN.
    let mut future = log.subscribe(n + 3).unwrap();
    let _ = log
        .append(vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()])
        .unwrap();
    assert_eq!(recv(&mut future).lsn, n + 3);
    assert_eq!(recv(&mut future).lsn, n + 4);
}

#[test]
fn closing_the_log_ends_subscriptions_after_draining() {
    let tmp = tempfile::tempdir().unwrap();
    let (log, _) = open(tmp.path(), LogOptions::default());
    let mut sub = log.subscribe(1).unwrap();
    let _ = sub.try_recv().unwrap(); // registers the live channel
    for i in 1..=3 {
        let _ = log.append(vec![payload(i)]).unwrap();
    }
    log.close().unwrap();
    for lsn in 1..=3 {
        assert_eq!(recv(&mut sub).lsn, lsn);
    }
    assert!(matches!(
        sub.recv_timeout(Duration::from_secs(10)),
        Err(Error::Closed)
    ));
    let mut late = log.subscribe(2).unwrap();
    assert_eq!(recv(&mut late).lsn, 2);
    assert_eq!(recv(&mut late).lsn, 3);
    assert!(matches!(
        late.recv_timeout(Duration::from_secs(10)),
        Err(Error::Closed)
    ));
}
