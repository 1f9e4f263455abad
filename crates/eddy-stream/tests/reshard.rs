//! Split, merge and uniform scaling, checked by a lineage-following reader.
#![allow(clippy::unwrap_used)]

mod common;

use common::{read_shard, ManualClock};
use eddy_stream::*;
use std::collections::{HashMap, HashSet};

/// Read every shard, parents fully before children; per partition key, the
/// data values in the order read.
fn read_lineage(s: &Streams, stream: &str) -> HashMap<String, Vec<u32>> {
    let shards = s.list_shards(stream).unwrap();
    let listed: HashSet<String> = shards.iter().map(|x| x.shard_id.clone()).collect();
    let mut done: HashSet<String> = HashSet::new();
    let mut out: HashMap<String, Vec<u32>> = HashMap::new();
    while done.len() < shards.len() {
        let ready = shards
            .iter()
            .find(|sh| {
                !done.contains(&sh.shard_id)
                    && [&sh.parent_shard_id, &sh.adjacent_parent_shard_id]
                        .iter()
                        .all(|p| {
                            p.as_ref()
                                .is_none_or(|p| done.contains(p) || !listed.contains(p))
                        })
            })
            .expect("some shard must be ready");
        let (recs, end) = read_shard(s, stream, &ready.shard_id, IteratorType::TrimHorizon);
        match (&ready.ending_sequence_number, end) {
            (Some(ending), Some(last)) => {
                // Closed: read to its end, children announced.
                let ending: SequenceNumber = ending.parse().unwrap();
                for r in &recs {
                    assert!(r.sequence_number.parse::<SequenceNumber>().unwrap() <= ending);
                }
                let kids: HashSet<String> = last
                    .child_shards
                    .iter()
                    .map(|c| c.shard_id.clone())
                    .collect();
                let expect: HashSet<String> = shards
                    .iter()
                    .filter(|c| {
                        c.parent_shard_id.as_ref() == Some(&ready.shard_id)
                            || c.adjacent_parent_shard_id.as_ref() == Some(&ready.shard_id)
                    })
                    .map(|c| c.shard_id.clone())
                    .collect();
                assert_eq!(kids, expect);
            }
            (None, None) => {}
            (e, l) => panic!(
                "{}: ending {e:?} but end-of-shard {:?}",
                ready.shard_id,
                l.is_some()
            ),
        }
        for r in recs {
            let v = u32::from_be_bytes(r.data[..4].try_into().unwrap());
            out.entry(r.partition_key).or_default().push(v);
        }
        done.insert(ready.shard_id.clone());
    }
    out
}

fn round(s: &Streams, stream: &str, keys: usize, value: u32) {
    let recs = (0..keys)
        .map(|k| PutRecord::new(format!("key-{k}"), value.to_be_bytes().to_vec()))
        .collect();
    let out = s.put_records(stream, recs).unwrap();
    assert_eq!(out.failed_record_count, 0);
}

fn open_ranges(s: &Streams, stream: &str) -> Vec<HashKeyRange> {
    let mut v: Vec<HashKeyRange> = s
        .list_shards(stream)
        .unwrap()
        .into_iter()
        .filter(|sh| sh.ending_sequence_number.is_none())
        .map(|sh| sh.hash_key_range)
        .collect();
    v.sort();
    v
}

#[test]
fn split_merge_scale_keep_per_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let s = common::open(dir.path(), &clock);
    s.create_stream(
        "x",
        CreateStream {
            shard_count: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
    let keys = 40;
    let mut v = 0;
    let mut step = |s: &Streams| {
        clock.advance(1500);
        round(s, "x", keys, v);
        v += 1;
    };
    step(&s);
    let r0 = s.list_shards("x").unwrap()[0].hash_key_range;
    let mid = r0.ending_hash_key / 2;
    s.split_shard("x", "shardId-000000000000", &mid.to_string())
        .unwrap();
    let d = s.describe_stream("x").unwrap();
    assert_eq!(d.shards.len(), 4);
    assert_eq!(d.open_shard_count, 3);
    assert_eq!(d.shards[2].shard_id, "shardId-000000000002");
    assert_eq!(
        d.shards[2].parent_shard_id.as_deref(),
        Some("shardId-000000000000")
    );
    assert_eq!(d.shards[2].hash_key_range.ending_hash_key, mid - 1);
    assert_eq!(d.shards[3].hash_key_range.starting_hash_key, mid);
    let ending: SequenceNumber = d.shards[0]
        .ending_sequence_number
        .as_ref()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ending.seq_ix >= 1);
    step(&s);
    // Merge in reverse order: either order is accepted.
    s.merge_shards("x", "shardId-000000000003", "shardId-000000000002")
        .unwrap();
    let d = s.describe_stream("x").unwrap();
    let merged = d
        .shards
        .iter()
        .find(|sh| sh.shard_id == "shardId-000000000004")
        .unwrap();
    assert_eq!(
        merged.parent_shard_id.as_deref(),
        Some("shardId-000000000003")
    );
    assert_eq!(
        merged.adjacent_parent_shard_id.as_deref(),
        Some("shardId-000000000002")
    );
    assert_eq!(merged.hash_key_range, r0);
    step(&s);
    for target in [3, 6, 5, 3, 2] {
        let out = s.update_shard_count("x", target).unwrap();
        assert_eq!(out.target_shard_count, target);
        assert_eq!(open_ranges(&s, "x"), even_split(target));
        step(&s);
    }
    // Every shard has at most two parents, by construction.
    let got = read_lineage(&s, "x");
    assert_eq!(got.len(), keys);
    for (k, vals) in &got {
        assert_eq!(vals, &(0..v).collect::<Vec<_>>(), "{k}");
    }
    // And the same after reopen.
    drop(s);
    let s = common::open(dir.path(), &clock);
    let again = read_lineage(&s, "x");
    assert_eq!(again, got);
}

#[test]
fn concurrent_writers_during_resharding() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let s = common::open(dir.path(), &clock);
    s.create_stream(
        "c",
        CreateStream {
            shard_count: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for v in 0..60u32 {
                    let k = format!("w{t}-{}", v % 3);
                    s.put_record("c", PutRecord::new(k, v.to_be_bytes().to_vec()))
                        .unwrap();
                }
            })
        })
        .collect();
    for target in [4, 3, 6, 3] {
        s.update_shard_count("c", target).unwrap();
    }
    for w in writers {
        w.join().unwrap();
    }
    let got = read_lineage(&s, "c");
    for t in 0..4 {
        for m in 0..3u32 {
            let want: Vec<u32> = (0..60).filter(|v| v % 3 == m).collect();
            assert_eq!(got[&format!("w{t}-{m}")], want);
        }
    }
}

#[test]
fn resharding_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = common::open(dir.path(), &ManualClock::new());
    s.create_stream(
        "p",
        CreateStream {
            shard_count: Some(3),
            ..Default::default()
        },
    )
    .unwrap();
    let name = |e: Error| e.aws_error_name();
    // Not adjacent.
    let e = s
        .merge_shards("p", "shardId-000000000000", "shardId-000000000002")
        .unwrap_err();
    assert_eq!(e.to_string(), "Shards shardId-000000000000 and shardId-000000000002 in stream p under account 000000000000 are not an adjacent pair of shards eligible for merging");
    assert_eq!(
        name(
            s.merge_shards("p", "shardId-000000000000", "shardId-000000000000")
                .unwrap_err()
        ),
        "InvalidArgumentException"
    );
    assert_eq!(
        name(
            s.merge_shards("p", "shardId-000000000000", "shardId-000000000009")
                .unwrap_err()
        ),
        "ResourceNotFoundException"
    );
    // Split key outside (start + 1, end).
    let r = s.list_shards("p").unwrap()[1].hash_key_range;
    for bad in [
        r.starting_hash_key,
        r.starting_hash_key + 1,
        r.ending_hash_key,
    ] {
        let e = s
            .split_shard("p", "shardId-000000000001", &bad.to_string())
            .unwrap_err();
        assert_eq!(name(e), "InvalidArgumentException");
    }
    assert_eq!(
        name(
            s.split_shard("p", "shardId-000000000001", "abc")
                .unwrap_err()
        ),
        "ValidationException"
    );
    s.split_shard(
        "p",
        "shardId-000000000001",
        &(r.starting_hash_key + 2).to_string(),
    )
    .unwrap();
    let e = s
        .split_shard(
            "p",
            "shardId-000000000001",
            &(r.starting_hash_key + 5).to_string(),
        )
        .unwrap_err();
    assert_eq!(name(e), "ResourceInUseException");
    // Scaling bounds: 4 open now.
    assert_eq!(
        name(s.update_shard_count("p", 9).unwrap_err()),
        "LimitExceededException"
    );
    assert_eq!(
        name(s.update_shard_count("p", 1).unwrap_err()),
        "LimitExceededException"
    );
    assert_eq!(
        name(s.update_shard_count("p", 0).unwrap_err()),
        "ValidationException"
    );
    // Nothing changed by the failures.
    assert_eq!(s.describe_stream("p").unwrap().open_shard_count, 4);
    // Shard limit across the account.
    let dir2 = tempfile::tempdir().unwrap();
    let s2 = Streams::open(dir2.path(), StreamOptions::new().shard_limit(3)).unwrap();
    s2.create_stream(
        "q",
        CreateStream {
            shard_count: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        name(s2.update_shard_count("q", 4).unwrap_err()),
        "LimitExceededException"
    );
    assert_eq!(s2.describe_stream("q").unwrap().open_shard_count, 2);
    s2.put_record("q", PutRecord::new("still-writable", vec![1]))
        .unwrap();
    s2.update_shard_count("q", 3).unwrap();

    // ON_DEMAND rejects all resharding.
    s.create_stream(
        "od",
        CreateStream {
            shard_count: None,
            mode: StreamMode::OnDemand,
        },
    )
    .unwrap();
    assert_eq!(
        s.describe_stream("od").unwrap().stream_mode.as_str(),
        "ON_DEMAND"
    );
    assert_eq!(s.describe_stream("od").unwrap().shards.len(), 4);
    assert_eq!(
        name(
            s.split_shard("od", "shardId-000000000000", "12345")
                .unwrap_err()
        ),
        "ValidationException"
    );
    assert_eq!(
        name(
            s.merge_shards("od", "shardId-000000000000", "shardId-000000000001")
                .unwrap_err()
        ),
        "ValidationException"
    );
    assert_eq!(
        name(s.update_shard_count("od", 5).unwrap_err()),
        "ValidationException"
    );
}
