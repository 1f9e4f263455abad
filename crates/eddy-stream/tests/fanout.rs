//! SubscribeToShard: live delivery, slow consumers, starting positions,
//! expiry and resumption, shard end, deregistration.
#![allow(clippy::unwrap_used)]

mod common;

use common::{open, read_all_trim_horizon, ManualClock};
use crossbeam_channel::RecvTimeoutError;
use eddy_stream::*;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

fn stream(s: &Streams, name: &str, shards: u32) {
    s.create_stream(
        name,
        CreateStream {
            shard_count: Some(shards),
            mode: StreamMode::Provisioned,
        },
    )
    .unwrap();
}

/// Receive events until `want` records arrived; panics on error or timeout.
fn take_records(sub: &ShardSubscription, want: usize) -> (Vec<Record>, SubscribeToShardEvent) {
    let mut out = Vec::new();
    let deadline = Instant::now() + WAIT;
    loop {
        let ev = sub
            .events()
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("event in time")
            .unwrap();
        out.extend(ev.records.clone());
        if out.len() >= want {
            return (out, ev);
        }
    }
}

/// Receive until the channel disconnects; returns all items.
fn drain(sub: &ShardSubscription) -> Vec<Result<SubscribeToShardEvent>> {
    let mut out = Vec::new();
    let deadline = Instant::now() + WAIT;
    loop {
        match sub
            .events()
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok(x) => out.push(x),
            Err(RecvTimeoutError::Disconnected) => return out,
            Err(RecvTimeoutError::Timeout) => panic!("subscription did not end"),
        }
    }
}

fn seqs(r: &[Record]) -> Vec<String> {
    r.iter().map(|r| r.sequence_number.clone()).collect()
}

#[test]
fn live_delivery_in_order_across_shards() {
    let dir = tempfile::tempdir().unwrap();
    let s = Streams::open(dir.path(), StreamOptions::new()).unwrap();
    stream(&s, "live", 4);
    let c = s.register_stream_consumer("live", "app").unwrap();
    let shards: Vec<String> = s
        .list_shards("live")
        .unwrap()
        .into_iter()
        .map(|x| x.shard_id)
        .collect();
    let subs: Vec<ShardSubscription> = shards
        .iter()
        .map(|sh| {
            s.subscribe_to_shard(&c.consumer_arn, sh, StartingPosition::Latest)
                .unwrap()
        })
        .collect();
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    s.put_record(
                        "live",
                        PutRecord::new(format!("k{w}-{}", i % 17), format!("{w}:{i}")),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let mut total = 0;
    for (sh, sub) in shards.iter().zip(&subs) {
        let stored = read_all_trim_horizon(&s, "live", sh);
        let (got, last) = take_records(sub, stored.len());
        assert_eq!(seqs(&got), seqs(&stored), "{sh}");
        assert_eq!(got, stored);
        assert_eq!(
            last.continuation_sequence_number.as_deref(),
            Some(stored.last().unwrap().sequence_number.as_str())
        );
        assert_eq!(last.millis_behind_latest, 0);
        total += got.len();
    }
    assert_eq!(total, 600);
}

#[test]
fn slow_consumer_never_blocks_writers_or_others_and_sees_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = Streams::open(dir.path(), StreamOptions::new()).unwrap();
    stream(&s, "busy", 1);
    let slow = s.register_stream_consumer("busy", "slow").unwrap();
    let fast = s.register_stream_consumer("busy", "fast").unwrap();
    let shard = "shardId-000000000000";
    let slow_sub = s
        .subscribe_to_shard_buffered(&slow.consumer_arn, shard, StartingPosition::TrimHorizon, 1)
        .unwrap();
    let fast_sub = s
        .subscribe_to_shard(&fast.consumer_arn, shard, StartingPosition::TrimHorizon)
        .unwrap();
    const TOTAL: usize = 20_000;
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let slow_reader = {
        let seen = std::sync::Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut got = Vec::new();
            while got.len() < TOTAL {
                let ev = slow_sub
                    .events()
                    .recv_timeout(Duration::from_secs(60))
                    .unwrap()
                    .unwrap();
                // Simulated processing: 1 ms per event plus 0.2 ms per record.
                std::thread::sleep(Duration::from_micros(1000 + 200 * ev.records.len() as u64));
                got.extend(ev.records.into_iter().map(|r| r.data));
                seen.store(got.len(), std::sync::atomic::Ordering::SeqCst);
            }
            (got, Instant::now())
        })
    };
    let fast_reader =
        std::thread::spawn(move || (take_records(&fast_sub, TOTAL).0, Instant::now()));
    let started = Instant::now();
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let s = s.clone();
            std::thread::spawn(move || {
                for b in 0..(TOTAL / 2 / 250) {
                    let batch = (0..250)
                        .map(|i| PutRecord::new("k", format!("{w}-{:05}", b * 250 + i)))
                        .collect();
                    s.put_records("busy", batch).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let writers_took = started.elapsed();
    let slow_progress = seen.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        slow_progress < TOTAL / 2,
        "writers finished in {writers_took:?} while the slow consumer had {slow_progress} records"
    );
    let (fast_got, fast_done) = fast_reader.join().unwrap();
    let fast_got: Vec<Vec<u8>> = fast_got.into_iter().map(|r| r.data).collect();
    let (slow_got, slow_done) = slow_reader.join().unwrap();
    assert!(
        fast_done < slow_done,
        "the fast consumer must not wait for the slow one"
    );
    let stored: Vec<Vec<u8>> = read_all_trim_horizon(&s, "busy", shard)
        .into_iter()
        .map(|r| r.data)
        .collect();
    assert_eq!(stored.len(), TOTAL);
    assert_eq!(fast_got, stored);
    assert_eq!(slow_got, stored, "exactly once, in order");
}

#[test]
fn every_starting_position_and_argument_errors() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let s = open(dir.path(), &clock);
    stream(&s, "pos", 2);
    let c = s.register_stream_consumer("pos", "app").unwrap();
    let sh = "shardId-000000000001";
    let hash = s.list_shards("pos").unwrap()[1]
        .hash_key_range
        .starting_hash_key
        .to_string();
    let put = |v: &str| {
        let mut r = PutRecord::new("k", v.as_bytes().to_vec());
        r.explicit_hash_key = Some(hash.clone());
        s.put_record("pos", r).unwrap()
    };
    let mut seq = Vec::new();
    for i in 0..5 {
        seq.push(put(&format!("r{i}")).sequence_number);
        clock.advance(1000);
    }
    let data = |r: &[Record]| {
        r.iter()
            .map(|r| String::from_utf8(r.data.clone()).unwrap())
            .collect::<Vec<_>>()
    };
    let first = |p: StartingPosition| {
        let sub = s.subscribe_to_shard(&c.consumer_arn, sh, p).unwrap();
        let ev = sub.events().recv_timeout(WAIT).unwrap().unwrap();
        (sub, ev)
    };
    let (_, ev) = first(StartingPosition::TrimHorizon);
    assert_eq!(data(&ev.records), ["r0", "r1", "r2", "r3", "r4"]);
    let (_, ev) = first(StartingPosition::AtSequenceNumber(seq[2].clone()));
    assert_eq!(data(&ev.records), ["r2", "r3", "r4"]);
    let (_, ev) = first(StartingPosition::AfterSequenceNumber(seq[2].clone()));
    assert_eq!(data(&ev.records), ["r3", "r4"]);
    let (_, ev) = first(StartingPosition::AtTimestamp(common::T0 + 3000));
    assert_eq!(data(&ev.records), ["r3", "r4"]);
    // LATEST: the first event is empty but carries a continuation number;
    // then new records are pushed.
    let (sub, ev) = first(StartingPosition::Latest);
    assert!(ev.records.is_empty());
    let cont = ev.continuation_sequence_number.unwrap();
    put("r5");
    let (got, _) = take_records(&sub, 1);
    assert_eq!(data(&got), ["r5"]);
    drop(sub);
    // The continuation of the empty event resumes exactly after r4.
    let (_, ev) = first(StartingPosition::AfterSequenceNumber(cont));
    assert_eq!(data(&ev.records), ["r5"]);
    // Errors.
    let other_shard_seq = {
        let mut r = PutRecord::new("k", b"x".to_vec());
        r.explicit_hash_key = Some("0".into());
        s.put_record("pos", r).unwrap().sequence_number
    };
    let err = |arn: &str, shard: &str, p: StartingPosition| {
        s.subscribe_to_shard(arn, shard, p)
            .unwrap_err()
            .aws_error_name()
    };
    assert_eq!(
        err(
            &c.consumer_arn,
            sh,
            StartingPosition::AtSequenceNumber(other_shard_seq)
        ),
        "InvalidArgumentException"
    );
    assert_eq!(
        err(
            &c.consumer_arn,
            "shardId-000000000009",
            StartingPosition::Latest
        ),
        "ResourceNotFoundException"
    );
    let unknown = c
        .consumer_arn
        .replace("/consumer/app:", "/consumer/nobody:");
    assert_eq!(
        err(&unknown, sh, StartingPosition::Latest),
        "ResourceNotFoundException"
    );
    assert_eq!(
        err("garbage", sh, StartingPosition::Latest),
        "ValidationException"
    );
    assert_eq!(
        err(
            &c.consumer_arn,
            sh,
            StartingPosition::AtTimestamp(clock.now() + 60_000)
        ),
        "InvalidArgumentException"
    );
    // A second live subscription within 5 s is refused; later it takes over.
    let a = s
        .subscribe_to_shard(&c.consumer_arn, sh, StartingPosition::Latest)
        .unwrap();
    assert_eq!(
        err(&c.consumer_arn, sh, StartingPosition::Latest),
        "ResourceInUseException"
    );
    // Another shard of the same consumer is independent.
    let _b = s
        .subscribe_to_shard(
            &c.consumer_arn,
            "shardId-000000000000",
            StartingPosition::Latest,
        )
        .unwrap();
    clock.advance(TAKEOVER_MILLIS);
    let _c = s
        .subscribe_to_shard(&c.consumer_arn, sh, StartingPosition::Latest)
        .unwrap();
    let items = drain(&a);
    assert!(items.iter().all(|i| i.is_ok()), "a takeover ends silently");
}

#[test]
fn five_minute_expiry_and_resume_without_gap() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let s = open(dir.path(), &clock);
    stream(&s, "exp", 1);
    let c = s.register_stream_consumer("exp", "app").unwrap();
    let sh = "shardId-000000000000";
    let sub = s
        .subscribe_to_shard(&c.consumer_arn, sh, StartingPosition::TrimHorizon)
        .unwrap();
    for i in 0..3 {
        s.put_record("exp", PutRecord::new("k", vec![i])).unwrap();
    }
    let (got, last) = take_records(&sub, 3);
    assert_eq!(got.len(), 3);
    let cont = last.continuation_sequence_number.unwrap();
    // Still live just before the deadline.
    clock.advance(SUBSCRIPTION_MILLIS - 1);
    s.put_record("exp", PutRecord::new("k", vec![3])).unwrap();
    let (got4, last) = take_records(&sub, 1);
    assert_eq!(got4[0].data, [3]);
    let cont4 = last.continuation_sequence_number.unwrap();
    assert_ne!(cont4, cont);
    clock.advance(1);
    let rest = drain(&sub);
    assert!(rest
        .iter()
        .all(|e| e.as_ref().is_ok_and(|e| e.records.is_empty())));
    // Records written while nobody is subscribed are not lost.
    for i in 4..7 {
        s.put_record("exp", PutRecord::new("k", vec![i])).unwrap();
    }
    let sub = s
        .subscribe_to_shard(
            &c.consumer_arn,
            sh,
            StartingPosition::AfterSequenceNumber(cont4),
        )
        .unwrap();
    let (got, _) = take_records(&sub, 3);
    assert_eq!(got.iter().map(|r| r.data[0]).collect::<Vec<_>>(), [4, 5, 6]);
}

#[test]
fn closed_shard_ends_with_child_shards() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let s = open(dir.path(), &clock);
    stream(&s, "sp", 1);
    let c = s.register_stream_consumer("sp", "app").unwrap();
    let sh = "shardId-000000000000";
    let live = s
        .subscribe_to_shard(&c.consumer_arn, sh, StartingPosition::TrimHorizon)
        .unwrap();
    for i in 0..4 {
        s.put_record("sp", PutRecord::new(format!("k{i}"), vec![i]))
            .unwrap();
    }
    let (got, _) = take_records(&live, 4);
    assert_eq!(got.len(), 4);
    s.split_shard("sp", sh, &(1u128 << 127).to_string())
        .unwrap();
    s.put_record("sp", PutRecord::new("after", b"child".to_vec()))
        .unwrap();
    let check_end = |items: Vec<Result<SubscribeToShardEvent>>, want_records: usize| {
        let events: Vec<SubscribeToShardEvent> = items.into_iter().map(|e| e.unwrap()).collect();
        let n: usize = events.iter().map(|e| e.records.len()).sum();
        assert_eq!(n, want_records);
        let last = events.last().unwrap();
        assert_eq!(last.continuation_sequence_number, None);
        let kids: Vec<&str> = last
            .child_shards
            .iter()
            .map(|c| c.shard_id.as_str())
            .collect();
        assert_eq!(kids, ["shardId-000000000001", "shardId-000000000002"]);
        assert!(last.child_shards.iter().all(|c| c.parent_shards == [sh]));
        assert!(events[..events.len() - 1]
            .iter()
            .all(|e| e.child_shards.is_empty()));
    };
    // The live subscription ends after the split.
    check_end(drain(&live), 0);
    // A new one reads the closed shard to its end.
    drop(live);
    clock.advance(TAKEOVER_MILLIS);
    let again = s
        .subscribe_to_shard(&c.consumer_arn, sh, StartingPosition::TrimHorizon)
        .unwrap();
    check_end(drain(&again), 4);
}

#[test]
fn deregister_or_delete_ends_subscriptions_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let s = open(dir.path(), &clock);
    stream(&s, "d", 2);
    let c = s.register_stream_consumer("d", "app").unwrap();
    let other = s.register_stream_consumer("d", "other").unwrap();
    let sub = s
        .subscribe_to_shard(
            &c.consumer_arn,
            "shardId-000000000000",
            StartingPosition::Latest,
        )
        .unwrap();
    let keep = s
        .subscribe_to_shard(
            &other.consumer_arn,
            "shardId-000000000000",
            StartingPosition::Latest,
        )
        .unwrap();
    assert!(sub.events().recv_timeout(WAIT).unwrap().is_ok());
    s.deregister_stream_consumer(ConsumerRef::Arn(&c.consumer_arn))
        .unwrap();
    let items = drain(&sub);
    let last = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(last.aws_error_name(), "ResourceNotFoundException");
    // The other consumer is unaffected.
    s.put_record("d", {
        let mut r = PutRecord::new("k", b"v".to_vec());
        r.explicit_hash_key = Some("0".into());
        r
    })
    .unwrap();
    let (got, _) = take_records(&keep, 1);
    assert_eq!(got[0].data, b"v");
    // Its subscription is ended by a forced stream deletion.
    s.delete_stream_with("d", true).unwrap();
    let items = drain(&keep);
    let last = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(last.aws_error_name(), "ResourceNotFoundException");
}
