//! Encryption at rest: Start/StopStreamEncryption, encrypted round trips
//! through GetRecords and SubscribeToShard, ciphertext on disk, missing and
//! wrong keys, key files and tampering.
#![allow(clippy::unwrap_used)]

mod common;

use common::{read_all_trim_horizon, ManualClock};
use eddy_stream::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SID: &str = "shardId-000000000000";
const KEY: [u8; 32] = [0x42; 32];
const MARKER: &[u8] = b"PLAINTEXT-MARKER-7f3a";

fn one_shard(s: &Streams, name: &str) {
    s.create_stream(
        name,
        CreateStream {
            shard_count: Some(1),
            ..Default::default()
        },
    )
    .unwrap();
}

fn payload(i: u8) -> Vec<u8> {
    let mut v = MARKER.to_vec();
    v.push(b'0' + i);
    v
}

/// All segment bytes of all streams.
fn segment_bytes(dir: &Path) -> Vec<u8> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(p).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "seg") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&dir.join("streams"), &mut files);
    assert!(!files.is_empty());
    files
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap())
        .collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn first_iterator(s: &Streams, stream: &str) -> String {
    s.get_shard_iterator(stream, SID, IteratorType::TrimHorizon)
        .unwrap()
}

#[test]
fn start_stop_and_describe() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let s = Streams::open(dir.path(), clock.options().encryption_key("k1", KEY)).unwrap();
    one_shard(&s, "s");
    let d = s.describe_stream("s").unwrap();
    assert_eq!((d.encryption_type, d.key_id), ("NONE", None));

    let e = s.start_stream_encryption("s", "KMS", "nope").unwrap_err();
    assert!(matches!(e, Error::KmsNotFound(ref m) if m.contains("nope")));
    assert_eq!(e.aws_error_name(), "KMSNotFoundException");
    let e = s.start_stream_encryption("s", "NONE", "k1").unwrap_err();
    assert_eq!(e.aws_error_name(), "InvalidArgumentException");
    let e = s.start_stream_encryption("s", "AES", "k1").unwrap_err();
    assert_eq!(e.aws_error_name(), "ValidationException");
    assert!(e.to_string().contains("[KMS, NONE]"));
    let e = s.start_stream_encryption("s", "KMS", "").unwrap_err();
    assert_eq!(e.aws_error_name(), "ValidationException");
    let e = s
        .start_stream_encryption("missing", "KMS", "k1")
        .unwrap_err();
    assert_eq!(e.aws_error_name(), "ResourceNotFoundException");
    assert_eq!(s.describe_stream("s").unwrap().encryption_type, "NONE");

    let arn = s.stream_arn("s").unwrap();
    s.start_stream_encryption(&arn, "KMS", "k1").unwrap();
    let d = s.describe_stream("s").unwrap();
    assert_eq!(
        (d.encryption_type, d.key_id.as_deref()),
        ("KMS", Some("k1"))
    );

    let e = s.stop_stream_encryption("s", "KMS", "k2").unwrap_err();
    assert_eq!(e.aws_error_name(), "InvalidArgumentException");
    let e = s.stop_stream_encryption("s", "NONE", "k1").unwrap_err();
    assert_eq!(e.aws_error_name(), "InvalidArgumentException");
    assert_eq!(s.describe_stream("s").unwrap().encryption_type, "KMS");

    // The state is persisted.
    drop(s);
    let s = Streams::open(dir.path(), clock.options().encryption_key("k1", KEY)).unwrap();
    let d = s.describe_stream("s").unwrap();
    assert_eq!(
        (d.encryption_type, d.key_id.as_deref()),
        ("KMS", Some("k1"))
    );
    s.stop_stream_encryption("s", "KMS", "k1").unwrap();
    s.stop_stream_encryption("s", "KMS", "k1").unwrap();
    drop(s);
    let s = Streams::open(dir.path(), clock.options()).unwrap();
    let d = s.describe_stream("s").unwrap();
    assert_eq!((d.encryption_type, d.key_id), ("NONE", None));
}

#[test]
fn encrypted_round_trip_through_get_records_and_subscriptions() {
    let dir = tempfile::tempdir().unwrap();
    let s = Streams::open(dir.path(), StreamOptions::new().encryption_key("k1", KEY)).unwrap();
    one_shard(&s, "s");
    let consumer = s.register_stream_consumer("s", "c").unwrap();
    // A live subscription, so records also go through the live cache.
    let live = s
        .subscribe_to_shard(&consumer.consumer_arn, SID, StartingPosition::Latest)
        .unwrap();
    s.start_stream_encryption("s", "KMS", "k1").unwrap();
    s.put_record("s", PutRecord::new("a", payload(0))).unwrap();
    s.put_records(
        "s",
        vec![
            PutRecord::new("b", payload(1)),
            PutRecord::new("c", payload(2)),
        ],
    )
    .unwrap();
    s.append_batch("s", vec![PutRecord::new("d", payload(3))])
        .unwrap();
    let expect: Vec<(String, Vec<u8>)> = ["a", "b", "c", "d"]
        .iter()
        .enumerate()
        .map(|(i, pk)| (pk.to_string(), payload(i as u8)))
        .collect();
    let check = |recs: &[Record]| {
        let got: Vec<(String, Vec<u8>)> = recs
            .iter()
            .map(|r| (r.partition_key.clone(), r.data.clone()))
            .collect();
        assert_eq!(got, expect);
        assert!(recs
            .iter()
            .all(|r| r.encryption_type.as_deref() == Some("KMS")));
    };

    check(&read_all_trim_horizon(&s, "s", SID));

    let mut from_live = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while from_live.len() < 4 {
        let ev = live
            .events()
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap()
            .unwrap();
        from_live.extend(ev.records);
    }
    check(&from_live);
    drop(live);
    std::thread::sleep(Duration::from_millis(100));

    // A new subscription from the start reads the segments.
    let sub = s
        .subscribe_to_shard(&consumer.consumer_arn, SID, StartingPosition::TrimHorizon)
        .unwrap();
    let ev = sub
        .events()
        .recv_timeout(Duration::from_secs(20))
        .unwrap()
        .unwrap();
    check(&ev.records);

    // The plaintext never reaches the disk; a plain record does.
    let disk = segment_bytes(dir.path());
    assert!(!contains(&disk, MARKER));
    s.stop_stream_encryption("s", "KMS", "k1").unwrap();
    s.put_record("s", PutRecord::new("e", payload(4))).unwrap();
    assert!(contains(&segment_bytes(dir.path()), MARKER));
    // The key itself is stored nowhere.
    let mut all = segment_bytes(dir.path());
    all.extend(std::fs::read(dir.path().join("streams.meta")).unwrap());
    assert!(!contains(&all, &KEY));
}

#[test]
fn mixed_plain_and_encrypted_records_and_key_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let opts = || {
        clock
            .options()
            .encryption_key("k1", KEY)
            .encryption_key("k2", [9; 32])
    };
    let s = Streams::open(dir.path(), opts()).unwrap();
    one_shard(&s, "s");
    s.put_record("s", PutRecord::new("p", payload(0))).unwrap();
    s.start_stream_encryption("s", "KMS", "k1").unwrap();
    s.put_record("s", PutRecord::new("p", payload(1))).unwrap();
    s.start_stream_encryption("s", "KMS", "k2").unwrap();
    assert_eq!(
        s.describe_stream("s").unwrap().key_id.as_deref(),
        Some("k2")
    );
    s.put_record("s", PutRecord::new("p", payload(2))).unwrap();
    s.stop_stream_encryption("s", "KMS", "k2").unwrap();
    s.put_record("s", PutRecord::new("p", payload(3))).unwrap();
    let kinds = |recs: &[Record]| {
        recs.iter()
            .map(|r| r.encryption_type.clone())
            .collect::<Vec<_>>()
    };
    let kms = Some("KMS".to_string());
    let recs = read_all_trim_horizon(&s, "s", SID);
    assert_eq!(
        recs.iter().map(|r| r.data.clone()).collect::<Vec<_>>(),
        (0..4).map(payload).collect::<Vec<_>>()
    );
    assert_eq!(kinds(&recs), [None, kms.clone(), kms.clone(), None]);
    // Reopen with the right keys: the same.
    drop(s);
    let s = Streams::open(dir.path(), opts()).unwrap();
    let again = read_all_trim_horizon(&s, "s", SID);
    assert_eq!(again, recs);
    // Reopen with only k2: the k1 record fails, the others are readable.
    drop(s);
    let s = Streams::open(dir.path(), clock.options().encryption_key("k2", [9; 32])).unwrap();
    let out = s.get_records(&first_iterator(&s, "s"), None).unwrap();
    assert_eq!(out.records, recs[..1]);
    let e = s
        .get_records(out.next_shard_iterator.as_deref().unwrap(), None)
        .unwrap_err();
    match &e {
        Error::Decrypt {
            key_id,
            reason,
            sequence_number,
            ..
        } => {
            assert_eq!(key_id, "k1");
            assert_eq!(*reason, DecryptFailure::KeyNotConfigured);
            assert_eq!(sequence_number, &recs[1].sequence_number);
        }
        other => panic!("unexpected {other:?}"),
    }
    let it = s
        .get_shard_iterator(
            "s",
            SID,
            IteratorType::AfterSequenceNumber(recs[1].sequence_number.clone()),
        )
        .unwrap();
    assert_eq!(s.get_records(&it, None).unwrap().records, recs[2..]);
}

/// Write two plain records around an encrypted one under "k1" = `KEY`.
fn write_mixed(dir: &Path, clock: &ManualClock) -> Vec<Record> {
    let s = Streams::open(dir, clock.options().encryption_key("k1", KEY)).unwrap();
    one_shard(&s, "s");
    s.put_record("s", PutRecord::new("p", payload(0))).unwrap();
    s.start_stream_encryption("s", "KMS", "k1").unwrap();
    s.put_record("s", PutRecord::new("p", payload(1))).unwrap();
    s.stop_stream_encryption("s", "KMS", "k1").unwrap();
    s.put_record("s", PutRecord::new("p", payload(2))).unwrap();
    s.start_stream_encryption("s", "KMS", "k1").unwrap();
    read_all_trim_horizon(&s, "s", SID)
}

/// The error of reading the encrypted record after the first plain one,
/// checking the plain ones stay readable around it.
fn read_failure(s: &Streams, recs: &[Record]) -> Error {
    let out = s.get_records(&first_iterator(s, "s"), None).unwrap();
    assert_eq!(out.records, recs[..1]);
    let e = s
        .get_records(out.next_shard_iterator.as_deref().unwrap(), None)
        .unwrap_err();
    let it = s
        .get_shard_iterator(
            "s",
            SID,
            IteratorType::AfterSequenceNumber(recs[1].sequence_number.clone()),
        )
        .unwrap();
    assert_eq!(s.get_records(&it, None).unwrap().records, recs[2..]);
    e
}

#[test]
fn reopen_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let recs = write_mixed(dir.path(), &clock);
    assert_eq!(recs.len(), 3);
    let s = Streams::open(dir.path(), clock.options()).unwrap();
    assert_eq!(s.describe_stream("s").unwrap().encryption_type, "KMS");
    let e = read_failure(&s, &recs);
    assert_eq!(e.aws_error_name(), "KMSNotFoundException");
    match &e {
        Error::Decrypt {
            stream,
            shard_id,
            sequence_number,
            key_id,
            reason,
        } => {
            assert_eq!((stream.as_str(), shard_id.as_str()), ("s", SID));
            assert_eq!(sequence_number, &recs[1].sequence_number);
            assert_eq!(key_id, "k1");
            assert_eq!(*reason, DecryptFailure::KeyNotConfigured);
        }
        other => panic!("unexpected {other:?}"),
    }
    let msg = e.to_string();
    assert!(msg.contains("k1") && msg.contains(SID) && msg.contains("stream s"));
    // Writes must not silently fall back to plaintext.
    let e = s
        .put_record("s", PutRecord::new("p", payload(3)))
        .unwrap_err();
    assert_eq!(e.aws_error_name(), "KMSNotFoundException");
    s.stop_stream_encryption("s", "KMS", "k1").unwrap();
    s.put_record("s", PutRecord::new("p", payload(3))).unwrap();

    // Fan-out delivers the plain record, then ends with the error.
    let c = s.register_stream_consumer("s", "c").unwrap();
    let sub = s
        .subscribe_to_shard(&c.consumer_arn, SID, StartingPosition::TrimHorizon)
        .unwrap();
    let first = sub
        .events()
        .recv_timeout(Duration::from_secs(20))
        .unwrap()
        .unwrap();
    assert_eq!(first.records, recs[..1]);
    let err = sub
        .events()
        .recv_timeout(Duration::from_secs(20))
        .unwrap()
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Decrypt {
            reason: DecryptFailure::KeyNotConfigured,
            ..
        }
    ));
}

#[test]
fn reopen_with_a_different_key_under_the_same_id() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let recs = write_mixed(dir.path(), &clock);
    let s = Streams::open(dir.path(), clock.options().encryption_key("k1", [1; 32])).unwrap();
    let e = read_failure(&s, &recs);
    assert_eq!(e.aws_error_name(), "KMSAccessDeniedException");
    assert!(matches!(
        e,
        Error::Decrypt {
            reason: DecryptFailure::AuthenticationFailed,
            ref key_id,
            ..
        } if key_id == "k1"
    ));
    drop(s);
    // The right key, from a hex key file, reads everything.
    let hex: String = KEY.iter().map(|b| format!("{b:02x}")).collect();
    let key_file = dir.path().join("k1.hex");
    std::fs::write(&key_file, format!("{hex}\n")).unwrap();
    let s = Streams::open(
        dir.path(),
        clock.options().encryption_key_file("k1", &key_file),
    )
    .unwrap();
    assert_eq!(read_all_trim_horizon(&s, "s", SID), recs);
    drop(s);
    let raw_file = dir.path().join("k1.raw");
    std::fs::write(&raw_file, KEY).unwrap();
    let s = Streams::open(
        dir.path(),
        clock.options().encryption_key_file("k1", &raw_file),
    )
    .unwrap();
    assert_eq!(read_all_trim_horizon(&s, "s", SID), recs);
}

#[test]
fn bad_key_files_fail_the_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, b"not a key\n").unwrap();
    let e = Streams::open(&db, StreamOptions::new().encryption_key_file("k", &bad)).unwrap_err();
    assert!(matches!(e, Error::KeyConfig { ref key_id, .. } if key_id == "k"));
    assert!(e.to_string().contains("bad.key"), "{e}");
    assert!(e.is_internal());
    let short = dir.path().join("short.key");
    std::fs::write(&short, [7u8; 31]).unwrap();
    let e = Streams::open(&db, StreamOptions::new().encryption_key_file("k", &short)).unwrap_err();
    assert!(matches!(e, Error::KeyConfig { .. }));
    let missing = dir.path().join("missing.key");
    let e =
        Streams::open(&db, StreamOptions::new().encryption_key_file("k", &missing)).unwrap_err();
    assert!(matches!(e, Error::Io { .. }));
    // Nothing was created by the failed opens.
    assert!(!db.exists());
}

#[test]
fn tampered_ciphertext_is_an_authentication_failure() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let s = Streams::open(dir.path(), clock.options().encryption_key("k1", KEY)).unwrap();
    one_shard(&s, "s");
    s.start_stream_encryption("s", "KMS", "k1").unwrap();
    s.put_record("s", PutRecord::new("p", payload(0))).unwrap();
    drop(s);
    let shard_dir = dir.path().join("streams/s").join(SID);
    let seg = std::fs::read_dir(&shard_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&seg).unwrap();
    // One frame after the 28-byte header: flip a ciphertext byte and fix
    // the crc (over length + body), as a deliberate edit would.
    let frame = 28;
    let last = bytes.len() - 1;
    bytes[last - 20] ^= 0x01;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&bytes[frame..frame + 4]);
    crc.update(&bytes[frame + 8..]);
    bytes[frame + 4..frame + 8].copy_from_slice(&crc.finalize().to_le_bytes());
    std::fs::write(&seg, &bytes).unwrap();
    let s = Streams::open(dir.path(), clock.options().encryption_key("k1", KEY)).unwrap();
    let e = s.get_records(&first_iterator(&s, "s"), None).unwrap_err();
    assert!(matches!(
        e,
        Error::Decrypt {
            reason: DecryptFailure::AuthenticationFailed,
            ..
        }
    ));
}
