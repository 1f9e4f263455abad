//! Control plane, routing, iterators, limits, durability across reopen.
#![allow(clippy::unwrap_used)]

mod common;

use common::{open, read_all_trim_horizon, read_shard, ManualClock};
use eddy_stream::*;

fn two_shards(s: &Streams, name: &str) {
    s.create_stream(
        name,
        CreateStream {
            shard_count: Some(2),
            mode: StreamMode::Provisioned,
        },
    )
    .unwrap();
}

#[test]
fn create_describe_list_delete() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let s = open(dir.path(), &clock);
    s.create_stream("b", CreateStream::default()).unwrap();
    s.create_stream(
        "a",
        CreateStream {
            shard_count: Some(3),
            mode: StreamMode::Provisioned,
        },
    )
    .unwrap();
    assert_eq!(s.list_streams(), vec!["a", "b"]);
    let d = s.describe_stream("a").unwrap();
    assert_eq!(
        d.stream_arn,
        "arn:aws:kinesis:us-east-1:000000000000:stream/a"
    );
    assert_eq!(d.stream_status.as_str(), "ACTIVE");
    assert_eq!(d.retention_period_hours, 24);
    assert_eq!(d.open_shard_count, 3);
    assert_eq!(d.encryption_type, "NONE");
    assert_eq!(d.stream_creation_millis, common::T0);
    assert_eq!(d.shards[0].shard_id, "shardId-000000000000");
    assert_eq!(d.shards[2].shard_id, "shardId-000000000002");
    assert_eq!(
        d.shards[1].hash_key_range.starting_hash_key,
        113427455640312821154458202477256070485
    );
    let start: SequenceNumber = d.shards[1].starting_sequence_number.parse().unwrap();
    assert_eq!((start.shard_index, start.seq_ix), (1, 0));
    assert_eq!(start.shard_created_secs, common::T0 / 1000);
    assert!(d
        .shards
        .iter()
        .all(|sh| sh.ending_sequence_number.is_none()));
    // Default: 4 shards. By ARN too.
    let arn = s.stream_arn("b").unwrap();
    assert_eq!(s.describe_stream(&arn).unwrap().shards.len(), 4);
    assert_eq!(s.list_shards("b").unwrap().len(), 4);
    // Errors.
    let e = s.create_stream("a", CreateStream::default()).unwrap_err();
    assert_eq!(e.aws_error_name(), "ResourceInUseException");
    assert_eq!(
        e.to_string(),
        "Stream a under account 000000000000 already exists."
    );
    for bad in ["", "a b", "x/y", &"n".repeat(129)] {
        let e = s.create_stream(bad, CreateStream::default()).unwrap_err();
        assert_eq!(e.aws_error_name(), "ValidationException", "{bad}");
    }
    let e = s
        .create_stream(
            "z",
            CreateStream {
                shard_count: Some(0),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.aws_error_name(), "ValidationException");
    let e = s.describe_stream("nope").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Stream nope under account 000000000000 not found."
    );
    let e = s
        .describe_stream("arn:aws:kinesis:eu-west-1:000000000000:stream/a")
        .unwrap_err();
    assert_eq!(e.aws_error_name(), "ResourceNotFoundException");
    // Shard limit.
    let e = s
        .create_stream(
            "big",
            CreateStream {
                shard_count: Some(600),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.aws_error_name(), "LimitExceededException");

    // Delete removes files; a new stream of the same name starts empty.
    s.put_record("a", PutRecord::new("k", b"v".to_vec()))
        .unwrap();
    let sdir = dir.path().join("streams").join("a");
    let files =
        |p: &std::path::Path| -> usize { walk(p).into_iter().filter(|f| f.is_file()).count() };
    assert_eq!(files(&sdir), 1);
    let it = s
        .get_shard_iterator(
            "a",
            &s.list_shards("a").unwrap()[0].shard_id,
            IteratorType::TrimHorizon,
        )
        .unwrap();
    s.delete_stream("a").unwrap();
    assert_eq!(files(&sdir), 0);
    assert_eq!(s.list_streams(), vec!["b"]);
    assert_eq!(
        s.delete_stream("a").unwrap_err().aws_error_name(),
        "ResourceNotFoundException"
    );
    assert_eq!(
        s.put_record("a", PutRecord::new("k", b"v".to_vec()))
            .unwrap_err()
            .aws_error_name(),
        "ResourceNotFoundException"
    );
    s.create_stream("a", CreateStream::default()).unwrap();
    // An iterator of the deleted incarnation is not honoured.
    clock.advance(1);
    let s2 = open(dir.path(), &clock);
    drop(s);
    assert!(s2.get_records(&it, None).is_err());
    for sh in s2.list_shards("a").unwrap() {
        assert!(read_all_trim_horizon(&s2, "a", &sh.shard_id).is_empty());
    }
}

fn walk(p: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd {
            let path = e.unwrap().path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn md5_routing_and_explicit_hash_key() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), &ManualClock::new());
    s.create_stream(
        "r",
        CreateStream {
            shard_count: Some(5),
            ..Default::default()
        },
    )
    .unwrap();
    let shards = s.list_shards("r").unwrap();
    for i in 0..50 {
        let pk = format!("key-{i}");
        let out = s
            .put_record("r", PutRecord::new(pk.clone(), vec![1]))
            .unwrap();
        let h = partition_key_hash(&pk);
        let owner = shards
            .iter()
            .find(|sh| sh.hash_key_range.contains(h))
            .unwrap();
        assert_eq!(out.shard_id, owner.shard_id);
        let seq: SequenceNumber = out.sequence_number.parse().unwrap();
        assert_eq!(shard_id(seq.shard_index), out.shard_id);
    }
    // An explicit hash key overrides the partition key.
    let mut r = PutRecord::new("anything", vec![1]);
    r.explicit_hash_key = Some(u128::MAX.to_string());
    assert_eq!(
        s.put_record("r", r).unwrap().shard_id,
        "shardId-000000000004"
    );
    let mut r = PutRecord::new("anything", vec![1]);
    r.explicit_hash_key = Some("0".into());
    assert_eq!(
        s.put_record("r", r).unwrap().shard_id,
        "shardId-000000000000"
    );
    let mut r = PutRecord::new("k", vec![1]);
    r.explicit_hash_key = Some("340282366920938463463374607431768211456".into());
    let e = s.put_record("r", r).unwrap_err();
    assert_eq!(e.aws_error_name(), "InvalidArgumentException");
    assert!(e.to_string().starts_with("Invalid ExplicitHashKey."));
    let mut r = PutRecord::new("k", vec![1]);
    r.explicit_hash_key = Some("-5".into());
    assert_eq!(
        s.put_record("r", r).unwrap_err().aws_error_name(),
        "ValidationException"
    );
}

#[test]
fn every_iterator_type() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let s = open(dir.path(), &clock);
    s.create_stream(
        "it",
        CreateStream {
            shard_count: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
    let sid = "shardId-000000000000";
    let mut seqs = Vec::new();
    for i in 0..30u8 {
        let o = s
            .put_record("it", PutRecord::new(format!("p{i}"), vec![i]))
            .unwrap();
        seqs.push(o.sequence_number);
        clock.advance(1000);
    }
    // Strictly increasing, 56 digits.
    for w in seqs.windows(2) {
        let (a, b): (SequenceNumber, SequenceNumber) =
            (w[0].parse().unwrap(), w[1].parse().unwrap());
        assert!(a < b);
        assert_eq!(w[0].len(), 56);
    }
    let data = |recs: &[Record]| recs.iter().map(|r| r.data[0]).collect::<Vec<_>>();
    let all = read_all_trim_horizon(&s, "it", sid);
    assert_eq!(data(&all), (0..30).collect::<Vec<_>>());
    assert_eq!(all[3].sequence_number, seqs[3]);
    assert_eq!(all[3].partition_key, "p3");
    assert_eq!(all[3].approximate_arrival_millis, common::T0 + 3000);
    assert_eq!(all[3].encryption_type, None);

    let (at, _) = read_shard(
        &s,
        "it",
        sid,
        IteratorType::AtSequenceNumber(seqs[10].clone()),
    );
    assert_eq!(data(&at), (10..30).collect::<Vec<_>>());
    let (after, _) = read_shard(
        &s,
        "it",
        sid,
        IteratorType::AfterSequenceNumber(seqs[10].clone()),
    );
    assert_eq!(data(&after), (11..30).collect::<Vec<_>>());
    let (ts, _) = read_shard(&s, "it", sid, IteratorType::AtTimestamp(common::T0 + 4500));
    assert_eq!(data(&ts), (5..30).collect::<Vec<_>>());
    let (ts0, _) = read_shard(&s, "it", sid, IteratorType::AtTimestamp(0));
    assert_eq!(ts0.len(), 30);
    // Starting sequence number: AT and AFTER both start at the first record.
    let start = s.list_shards("it").unwrap()[0]
        .starting_sequence_number
        .clone();
    assert_eq!(
        read_shard(&s, "it", sid, IteratorType::AfterSequenceNumber(start))
            .0
            .len(),
        30
    );

    // LATEST sees only later records.
    let latest = s
        .get_shard_iterator("it", sid, IteratorType::Latest)
        .unwrap();
    let r = s.get_records(&latest, None).unwrap();
    assert!(r.records.is_empty());
    assert_eq!(r.millis_behind_latest, 0);
    s.put_record("it", PutRecord::new("late", vec![99]))
        .unwrap();
    let r = s
        .get_records(r.next_shard_iterator.as_deref().unwrap(), None)
        .unwrap();
    assert_eq!(data(&r.records), vec![99]);

    // Limit and millis_behind_latest.
    let it = s
        .get_shard_iterator("it", sid, IteratorType::TrimHorizon)
        .unwrap();
    let r = s.get_records(&it, Some(5)).unwrap();
    assert_eq!(r.records.len(), 5);
    assert!(r.millis_behind_latest > 0);
    for bad in [0, 10_001] {
        assert_eq!(
            s.get_records(&it, Some(bad)).unwrap_err().aws_error_name(),
            "ValidationException"
        );
    }

    // Errors.
    let e = s
        .get_shard_iterator("it", "shardId-000000000009", IteratorType::Latest)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Shard shardId-000000000009 in stream it under account 000000000000 does not exist"
    );
    let e = s
        .get_shard_iterator("it", sid, IteratorType::AtTimestamp(clock.now() + 1))
        .unwrap_err();
    assert_eq!(e.aws_error_name(), "InvalidArgumentException");
    let e = s
        .get_shard_iterator("it", sid, IteratorType::AtSequenceNumber("12345".into()))
        .unwrap_err();
    assert_eq!(e.aws_error_name(), "InvalidArgumentException");
    let e = s
        .get_shard_iterator("it", sid, IteratorType::AtSequenceNumber("x1".into()))
        .unwrap_err();
    assert_eq!(e.aws_error_name(), "ValidationException");
    // A number from another shard.
    s.create_stream(
        "two",
        CreateStream {
            shard_count: Some(2),
            ..Default::default()
        },
    )
    .unwrap();
    let mut r = PutRecord::new("x", vec![1]);
    r.explicit_hash_key = Some(u128::MAX.to_string());
    let other = s.put_record("two", r).unwrap();
    assert_eq!(other.shard_id, "shardId-000000000001");
    let e = s
        .get_shard_iterator(
            "two",
            "shardId-000000000000",
            IteratorType::AtSequenceNumber(other.sequence_number),
        )
        .unwrap_err();
    assert_eq!(e.aws_error_name(), "InvalidArgumentException");
    assert!(
        e.to_string().contains("It encodes shardId-000000000001"),
        "{e}"
    );
    // A number of this shard that was never assigned.
    let fake = SequenceNumber::new(common::T0 / 1000, 0, 1_000_000, common::T0 / 1000).to_string();
    let e = s
        .get_shard_iterator("it", sid, IteratorType::AtSequenceNumber(fake))
        .unwrap_err();
    assert_eq!(e.aws_error_name(), "InvalidArgumentException");
}

#[test]
fn put_records_limits_and_results() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), &ManualClock::new());
    two_shards(&s, "l");
    let recs: Vec<PutRecord> = (0..500)
        .map(|i| PutRecord::new(format!("k{i}"), vec![i as u8]))
        .collect();
    let out = s.put_records("l", recs).unwrap();
    assert_eq!(out.failed_record_count, 0);
    assert_eq!(out.records.len(), 500);
    let total: usize = s
        .list_shards("l")
        .unwrap()
        .iter()
        .map(|sh| read_all_trim_horizon(&s, "l", &sh.shard_id).len())
        .sum();
    assert_eq!(total, 500);

    let name = |r: Result<PutRecordsOutput>| r.unwrap_err().aws_error_name();
    assert_eq!(name(s.put_records("l", vec![])), "ValidationException");
    let many = (0..501)
        .map(|i| PutRecord::new(format!("k{i}"), vec![]))
        .collect();
    assert_eq!(name(s.put_records("l", many)), "ValidationException");
    let big: Vec<PutRecord> = (0..6)
        .map(|i| PutRecord::new(format!("k{i}"), vec![0; 1024 * 1024 - 3]))
        .collect();
    let e = s.put_records("l", big).unwrap_err();
    assert_eq!(e.to_string(), "Records size exceeds 5 MB limit");
    let e = s
        .put_record("l", PutRecord::new("k", vec![0; MAX_RECORD_BYTES + 1]))
        .unwrap_err();
    assert_eq!(e.aws_error_name(), "ValidationException");
    let e = s
        .put_record("l", PutRecord::new("kk", vec![0; MAX_RECORD_BYTES - 1]))
        .unwrap_err();
    assert_eq!(e.aws_error_name(), "InvalidArgumentException");
    s.put_record("l", PutRecord::new("k", vec![0; MAX_RECORD_BYTES - 1]))
        .unwrap();
    assert_eq!(
        s.put_record("l", PutRecord::new("", vec![1]))
            .unwrap_err()
            .aws_error_name(),
        "ValidationException"
    );
    let e = s
        .put_record("l", PutRecord::new("é".repeat(257), vec![1]))
        .unwrap_err();
    assert_eq!(e.aws_error_name(), "ValidationException");
    s.put_record("l", PutRecord::new("é".repeat(256), vec![1]))
        .unwrap();
    let e = s
        .put_records(
            "l",
            vec![PutRecord::new("a", vec![]), PutRecord::new("", vec![])],
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("records.2.member.partitionKey"),
        "{e}"
    );
    // append_batch: no 500 limit, still per-record limits.
    let out = s
        .append_batch(
            "l",
            (0..800)
                .map(|i| PutRecord::new(format!("b{i}"), vec![1]))
                .collect(),
        )
        .unwrap();
    assert_eq!(out.len(), 800);
}

#[test]
fn durable_across_reopen_and_notifications() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let written: Vec<PutRecordOutput>;
    let it;
    {
        let s = open(dir.path(), &clock);
        two_shards(&s, "d");
        s.increase_retention("d", 48).unwrap();
        let rx = s.subscribe("d").unwrap();
        written = (0..40)
            .map(|i| {
                s.put_record("d", PutRecord::new(format!("k{i}"), vec![i]))
                    .unwrap()
            })
            .collect();
        let notices: Vec<AppendNotice> = rx.try_iter().collect();
        assert_eq!(notices.len(), 40);
        assert_eq!(
            notices[39].last_sequence_number,
            written[39].sequence_number
        );
        it = s
            .get_shard_iterator("d", "shardId-000000000001", IteratorType::TrimHorizon)
            .unwrap();
        s.split_shard("d", "shardId-000000000000", &(1u128 << 126).to_string())
            .unwrap();
    }
    clock.advance(10);
    let s = open(dir.path(), &clock);
    let d = s.describe_stream("d").unwrap();
    assert_eq!(d.retention_period_hours, 48);
    assert_eq!(d.shards.len(), 4);
    assert!(d.shards[0].ending_sequence_number.is_some());
    // Iterators survive reopen (same HMAC key).
    let r = s.get_records(&it, None).unwrap();
    let mut got: Vec<String> = r
        .records
        .iter()
        .map(|r| r.sequence_number.clone())
        .collect();
    got.extend(
        read_all_trim_horizon(&s, "d", "shardId-000000000000")
            .into_iter()
            .map(|r| r.sequence_number),
    );
    let mut want: Vec<String> = written.iter().map(|w| w.sequence_number.clone()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // Numbering continues after reopen.
    let more = s.put_record("d", PutRecord::new("k1", vec![1])).unwrap();
    let prev = written
        .iter()
        .filter(|w| w.shard_id == more.shard_id)
        .map(|w| w.sequence_number.parse::<SequenceNumber>().unwrap())
        .max();
    if let Some(prev) = prev {
        assert!(more.sequence_number.parse::<SequenceNumber>().unwrap() > prev);
    }
}

#[test]
fn retention_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), &ManualClock::new());
    two_shards(&s, "ret");
    let name = |r: Result<()>| r.unwrap_err().aws_error_name();
    assert_eq!(
        name(s.increase_retention("ret", 23)),
        "InvalidArgumentException"
    );
    assert_eq!(
        name(s.increase_retention("ret", 8761)),
        "InvalidArgumentException"
    );
    s.increase_retention("ret", 8760).unwrap();
    let e = s.increase_retention("ret", 100).unwrap_err();
    assert_eq!(e.to_string(), "Requested retention period (100 hours) for stream ret can not be shorter than existing retention period (8760 hours). Use DecreaseRetentionPeriod API.");
    s.decrease_retention("ret", 100).unwrap();
    assert_eq!(
        name(s.decrease_retention("ret", 200)),
        "InvalidArgumentException"
    );
    assert_eq!(
        name(s.decrease_retention("ret", 10)),
        "InvalidArgumentException"
    );
    assert_eq!(
        name(s.decrease_retention("nope", 30)),
        "ResourceNotFoundException"
    );
    assert_eq!(
        s.describe_stream("ret").unwrap().retention_period_hours,
        100
    );
}
