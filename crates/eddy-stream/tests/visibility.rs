//! `Visibility::Written` appends: readable and delivered before their
//! fsync, durable when the call returns, and a failed fsync poisons the
//! shard rather than taking back what readers saw.
#![allow(clippy::unwrap_used)]

mod common;

use common::{create, open_with_faults, read_all_trim_horizon, ManualClock};
use eddy_model::io::fault::FaultFs;
use eddy_stream::*;
use std::time::Duration;

const SID: &str = "shardId-000000000000";

fn batch(tag: u8, n: u8) -> Vec<PutRecord> {
    (0..n)
        .map(|i| PutRecord::new(format!("item-{tag}-{i}"), vec![tag, i]))
        .collect()
}

fn data(records: &[Record]) -> Vec<Vec<u8>> {
    records.iter().map(|r| r.data.clone()).collect()
}

#[test]
fn written_appends_are_read_like_durable_ones_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let mut acked = Vec::new();
    {
        // Small segments, so sealing a segment with unsynced records is hit.
        let s = Streams::open(dir.path(), clock.options().segment_size(4096)).unwrap();
        create(&s, "s", 1);
        for tag in 0..40u8 {
            let out = s
                .append_batch_with("s", batch(tag, 5), Visibility::Written)
                .unwrap();
            acked.extend(out.outputs().into_iter().map(|o| o.sequence_number));
        }
        // A durable append after written ones.
        acked.push(
            s.put_record("s", PutRecord::new("k", vec![200]))
                .unwrap()
                .sequence_number,
        );
        let read: Vec<String> = read_all_trim_horizon(&s, "s", SID)
            .into_iter()
            .map(|r| r.sequence_number)
            .collect();
        assert_eq!(read, acked);
    }
    let s = Streams::open(dir.path(), clock.options().segment_size(4096)).unwrap();
    let reread = read_all_trim_horizon(&s, "s", SID);
    let seqs: Vec<String> = reread.iter().map(|r| r.sequence_number.clone()).collect();
    assert_eq!(seqs, acked);
    assert_eq!(reread[0].data, vec![0, 0]);
    assert_eq!(reread[199].data, vec![39, 4]);
    assert_eq!(reread[200].data, vec![200]);
}

#[test]
fn a_written_append_is_fsynced_once_per_shard_before_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let fault = FaultFs::new();
    let s = open_with_faults(dir.path(), &clock, &fault);
    create(&s, "s", 4);
    // Open every shard's segment first, so that the count below is the
    // appends' own.
    s.append_batch("s", batch(0, 64)).unwrap();
    let before = fault.sync_data_calls();
    let out = s
        .append_batch_with("s", batch(1, 64), Visibility::Written)
        .unwrap()
        .outputs();
    let shards: std::collections::BTreeSet<&str> =
        out.iter().map(|o| o.shard_id.as_str()).collect();
    assert_eq!(shards.len(), 4, "64 keys should reach all 4 shards");
    assert_eq!(fault.sync_data_calls() - before, 4);
    // Nothing left to sync: a durable append fsyncs only its own shard.
    let before = fault.sync_data_calls();
    s.put_record("s", PutRecord::new("k", vec![1])).unwrap();
    assert_eq!(fault.sync_data_calls() - before, 1);
}

#[test]
fn written_records_reach_readers_and_subscribers_before_their_fsync() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let fault = FaultFs::new();
    {
        let s = open_with_faults(dir.path(), &clock, &fault);
        create(&s, "s", 1);
        s.append_batch_with("s", batch(0, 2), Visibility::Written)
            .unwrap();
        let c = s.register_stream_consumer("s", "app").unwrap();
        let sub = s
            .subscribe_to_shard(&c.consumer_arn, SID, StartingPosition::Latest)
            .unwrap();
        let notices = s.subscribe("s").unwrap();

        // The fsync fails, so the call fails; the records were readable
        // before it, so readers and the subscription have them.
        fault.fail_next_syncs(1);
        let e = s
            .append_batch_with("s", batch(1, 3), Visibility::Written)
            .unwrap_err();
        assert!(e.is_internal(), "{e}");
        let notice = notices.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(notice.count, 3);
        let mut delivered = Vec::new();
        while delivered.len() < 3 {
            let ev = sub
                .events()
                .recv_timeout(Duration::from_secs(10))
                .unwrap()
                .unwrap();
            delivered.extend(ev.records);
        }
        let want = vec![vec![1, 0], vec![1, 1], vec![1, 2]];
        assert_eq!(data(&delivered), want);
        assert_eq!(data(&read_all_trim_horizon(&s, "s", SID))[2..], want[..]);

        // What was seen cannot be taken back: the shard refuses appends
        // of either kind until reopened, and does not retry the fsync.
        fault.clear_faults();
        for visibility in [Visibility::Written, Visibility::Durable] {
            let e = s
                .append_batch_with("s", batch(2, 1), visibility)
                .unwrap_err();
            assert!(matches!(e, Error::Poisoned(_)), "{e}");
        }
        assert_eq!(read_all_trim_horizon(&s, "s", SID).len(), 5);
    }
    // Reopened: the shard works again, and holds what was written (the
    // fault layer lost nothing; a power cut could have lost the unsynced
    // three, which their appender then writes again).
    let s = Streams::open(dir.path(), clock.options()).unwrap();
    s.append_batch_with("s", batch(3, 1), Visibility::Written)
        .unwrap();
    assert_eq!(
        data(&read_all_trim_horizon(&s, "s", SID)),
        vec![
            vec![0, 0],
            vec![0, 1],
            vec![1, 0],
            vec![1, 1],
            vec![1, 2],
            vec![3, 0]
        ]
    );
}

#[test]
fn a_failed_write_of_a_written_append_is_cut_back_like_a_durable_one() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let fault = FaultFs::new();
    let s = open_with_faults(dir.path(), &clock, &fault);
    create(&s, "s", 1);
    s.append_batch_with("s", batch(0, 1), Visibility::Written)
        .unwrap();
    // The write itself fails (full disk): nothing became readable, so
    // nothing is poisoned.
    fault.enospc_on_write(true);
    assert!(s
        .append_batch_with("s", batch(1, 1), Visibility::Written)
        .is_err());
    fault.clear_faults();
    s.append_batch_with("s", batch(2, 1), Visibility::Written)
        .unwrap();
    assert_eq!(
        data(&read_all_trim_horizon(&s, "s", SID)),
        vec![vec![0, 0], vec![2, 0]]
    );
}
