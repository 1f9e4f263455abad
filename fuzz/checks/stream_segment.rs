//! eddy-stream's shard-segment record frames, segment scanning and
//! recovery, and its metadata snapshot, on arbitrary bytes. Shared by
//! `fuzz/fuzz_targets/stream_segment.rs` and
//! `crates/eddy-stream/tests/fuzz_corpus.rs` (via `#[path]`).
//!
//! Input: a mode byte, then the mode's bytes.
//!
//! * mode 0, a record frame: what decodes re-encodes to the same bytes; the
//!   bytes are also tried as a frame body under a correct length and CRC,
//!   and as a sealed-segment summary (which must re-encode to them too).
//! * mode 1, a metadata payload (first byte picks format version 1-3):
//!   what decodes re-encodes (as version 3) to bytes that decode and
//!   re-encode unchanged; the payload, framed as `streams.meta`, opens or
//!   fails with `Corruption`, and an opened database answers its
//!   control-plane calls, reads and writes without panicking.
//! * mode 2, segment files of shard 0 of a one-shard stream: a control byte
//!   (bits 0-1: 1-3 files, all but the last prefixed by a u16 LE length;
//!   bit 2: prefix a valid header; bit 3: recompute frame CRCs), then the
//!   files. Opening succeeds or fails with `Corruption` at an offset inside
//!   a listed file; it modifies at most the last segment (a torn tail or
//!   torn header) and may add segment summaries; an opened shard reads back in sequence order without
//!   error (bar undecryptable records) and reopens to the same records.

use crate::mem_fs::MemFs;
use eddy_model::io::LogFs;
use eddy_stream::fuzzing;
use eddy_stream::{CreateStream, Error, IteratorType, PutRecord, StreamOptions, Streams};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

const DB: &str = "/db";
const SHARD0: &str = "shardId-000000000000";
/// The injected clock: records of any arrival time stay inside retention.
const NOW: u64 = 1000;

fn options(fs: &MemFs) -> StreamOptions {
    StreamOptions::new()
        .fs(Arc::new(fs.clone()))
        .clock(Arc::new(|| NOW))
}

/// Run every check on one input; true if it reached an opened database
/// with at least one record (mode 2) or a decodable payload (modes 0-1).
pub fn check(data: &[u8]) -> bool {
    let Some((&mode, rest)) = data.split_first() else {
        return false;
    };
    match mode % 3 {
        0 => frame_checks(rest),
        1 => meta_checks(rest),
        _ => segment_checks(rest),
    }
}

fn frame_checks(buf: &[u8]) -> bool {
    let mut ok = false;
    if let Some(again) = fuzzing::reencode_summary(buf) {
        assert_eq!(again, buf, "summary does not re-encode to its bytes");
        ok = true;
    }
    if let Some((n, again)) = fuzzing::reencode_frame(buf) {
        assert_eq!(again, &buf[..n], "frame does not re-encode to its bytes");
        ok = true;
    }
    let framed = frame(buf);
    if let Some((n, again)) = fuzzing::reencode_frame(&framed) {
        assert_eq!(n, framed.len());
        assert_eq!(again, framed, "frame does not re-encode to its bytes");
        ok = true;
    }
    ok
}

/// `body` under a correct length and CRC.
fn frame(body: &[u8]) -> Vec<u8> {
    let len = (body.len() as u32).to_le_bytes();
    let mut h = crc32fast::Hasher::new();
    h.update(&len);
    h.update(body);
    let mut out = len.to_vec();
    out.extend_from_slice(&h.finalize().to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// A `streams.meta` file holding `payload` as format `version`.
fn meta_file(version: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = b"EDDYSMTA".to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out
}

fn meta_checks(rest: &[u8]) -> bool {
    let Some((&v, payload)) = rest.split_first() else {
        return false;
    };
    let version = 1 + u32::from(v % 3);
    let decoded = fuzzing::reencode_meta(payload, version);
    if let Some(e) = &decoded {
        assert_eq!(
            fuzzing::reencode_meta(e, 3).as_ref(),
            Some(e),
            "re-encoded metadata does not round-trip"
        );
    }
    let fs = MemFs::new();
    let db = Path::new(DB);
    fs.put(&db.join("streams.meta"), &meta_file(version, payload));
    match Streams::open(db, options(&fs)) {
        Err(Error::Corruption { offset, .. }) => {
            assert!(
                decoded.is_none(),
                "decodable metadata refused: offset {offset}"
            );
        }
        Err(e) => panic!("opening failed with a non-corruption error: {e:?}"),
        Ok(streams) => {
            assert!(decoded.is_some(), "undecodable metadata opened");
            exercise(&streams);
        }
    }
    decoded.is_some()
}

/// Control-plane calls, a write and reads on every stream and shard of an
/// opened database: any answer but a panic is fine.
fn exercise(streams: &Streams) {
    for name in streams.list_streams().into_iter().take(4) {
        let _ = streams.describe_stream(&name);
        let _ = streams.shard_tips(&name);
        let _ = streams.put_record(&name, PutRecord::new("k", b"v".to_vec()));
        let Ok(shards) = streams.list_shards(&name) else {
            continue;
        };
        for sh in shards.iter().take(8) {
            if let Ok(it) =
                streams.get_shard_iterator(&name, &sh.shard_id, IteratorType::TrimHorizon)
            {
                let _ = streams.get_records(&it, Some(10));
            }
        }
    }
}

/// The database every mode-2 input starts from: stream `s` with one shard
/// and no segment files.
fn template() -> &'static MemFs {
    static T: OnceLock<MemFs> = OnceLock::new();
    T.get_or_init(|| {
        let fs = MemFs::new();
        let streams = Streams::open(Path::new(DB), options(&fs)).expect("open template");
        streams
            .create_stream(
                "s",
                CreateStream {
                    shard_count: Some(1),
                    ..Default::default()
                },
            )
            .expect("create template stream");
        drop(streams);
        fs
    })
}

fn shard_dir() -> PathBuf {
    Path::new(DB).join("streams").join("s").join(SHARD0)
}

fn segment_header(first: u64) -> Vec<u8> {
    let mut h = b"EDDYSHRD".to_vec();
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&first.to_le_bytes());
    let crc = crc32fast::hash(&h);
    h.extend_from_slice(&crc.to_le_bytes());
    h
}

/// Recompute the CRC of every frame in `area` whose declared length fits;
/// returns how many frames then decode.
fn fix_crcs(area: &mut [u8]) -> u64 {
    let mut at = 0usize;
    while area.len() - at >= 8 {
        let len = u32::from_le_bytes([area[at], area[at + 1], area[at + 2], area[at + 3]]) as usize;
        let Some(end) = (at + 8).checked_add(len).filter(|&e| e <= area.len()) else {
            break;
        };
        let mut h = crc32fast::Hasher::new();
        h.update(&area[at..at + 4]);
        h.update(&area[at + 8..end]);
        let crc = h.finalize().to_le_bytes();
        area[at + 4..at + 8].copy_from_slice(&crc);
        at = end;
    }
    let mut n = 0;
    let mut at = 0;
    while let Some((len, _)) = fuzzing::reencode_frame(&area[at..]) {
        at += len;
        n += 1;
    }
    n
}

fn split(control: u8, mut rest: &[u8]) -> Vec<Vec<u8>> {
    let n = 1 + usize::from(control & 3) % 3;
    let mut out = Vec::new();
    for _ in 1..n {
        if rest.len() < 2 {
            break;
        }
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        out.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    out.push(rest.to_vec());
    out
}

type Read = Vec<(String, u64, Vec<u8>, String)>;

/// Every record of shard 0, in order.
fn read_all(streams: &Streams) -> Read {
    let mut it = streams
        .get_shard_iterator("s", SHARD0, IteratorType::TrimHorizon)
        .expect("iterator of an opened shard");
    let mut out = Vec::new();
    for _ in 0..64 {
        let batch = match streams.get_records(&it, Some(10_000)) {
            Ok(b) => b,
            // A sealed record without its key: fine, and the end of this read.
            Err(Error::Decrypt { .. }) => break,
            Err(e) => panic!("reading an opened shard failed: {e:?}"),
        };
        if batch.records.is_empty() {
            break;
        }
        out.extend(batch.records.into_iter().map(|r| {
            (
                r.sequence_number,
                r.approximate_arrival_millis,
                r.data,
                r.partition_key,
            )
        }));
        match batch.next_shard_iterator {
            Some(next) => it = next,
            None => break,
        }
    }
    out
}

fn seq_key(s: &str) -> (usize, &str) {
    (s.len(), s)
}

fn segment_checks(rest: &[u8]) -> bool {
    let Some((&control, rest)) = rest.split_first() else {
        return false;
    };
    let fs = template().deep_clone();
    let dir = shard_dir();
    fs.create_dir_all(&dir).expect("shard dir");
    let mut next_first = 1u64;
    let mut names = Vec::new();
    for (i, mut seg) in split(control, rest).into_iter().enumerate() {
        let first;
        if control & 4 != 0 {
            first = next_first;
            let n = if control & 8 != 0 {
                fix_crcs(&mut seg)
            } else {
                0
            };
            next_first = first.saturating_add(n);
            let mut file = segment_header(first);
            file.extend_from_slice(&seg);
            seg = file;
        } else {
            if control & 8 != 0 && seg.len() > 28 {
                fix_crcs(&mut seg[28..]);
            }
            first = match seg.get(16..24) {
                Some(b) => u64::from_le_bytes(b.try_into().unwrap_or_default()),
                None => i as u64 + 1,
            };
        }
        let path = dir.join(format!("{first:020}.seg"));
        fs.put(&path, &seg);
        names.push(path);
    }
    names.sort();
    names.dedup();
    let before = fs.snapshot();
    let opened = Streams::open(Path::new(DB), options(&fs));
    let after = fs.snapshot();
    check_modifications(&before, &after, &names);
    match opened {
        Err(Error::Corruption { path, offset, .. }) => {
            let Some(file) = before.get(&path) else {
                panic!("corruption reported in unknown file {}", path.display());
            };
            assert!(
                offset == 0 || offset < file.len() as u64,
                "corruption offset {offset} outside the {}-byte file",
                file.len()
            );
            false
        }
        Err(e) => panic!("opening failed with a non-corruption error: {e:?}"),
        Ok(streams) => {
            let records = read_all(&streams);
            for w in records.windows(2) {
                assert!(
                    seq_key(&w[0].0) < seq_key(&w[1].0),
                    "sequence numbers out of order"
                );
            }
            drop(streams);
            let settled = fs.snapshot();
            let again = Streams::open(Path::new(DB), options(&fs)).expect("reopen");
            assert!(settled == fs.snapshot(), "a second open repaired again");
            assert_eq!(read_all(&again), records, "reopen reads different records");
            !records.is_empty()
        }
    }
}

/// Opening may only discard a torn tail of the shard's last segment
/// (truncate it to a prefix) or remove a last segment whose header is torn,
/// after which the one before it is the last.
fn check_modifications(
    before: &BTreeMap<PathBuf, Vec<u8>>,
    after: &BTreeMap<PathBuf, Vec<u8>>,
    segments: &[PathBuf],
) {
    for path in after.keys() {
        // Opening may save summaries of sealed segments (and nothing else).
        let summary = path.extension().is_some_and(|e| e == "sum");
        assert!(
            before.contains_key(path) || summary,
            "{} created",
            path.display()
        );
    }
    let removed = segments
        .iter()
        .rev()
        .take_while(|p| !after.contains_key(*p))
        .count();
    let kept = &segments[..segments.len() - removed];
    for (i, path) in kept.iter().enumerate() {
        let old = &before[path];
        let Some(new) = after.get(path) else {
            panic!("{} removed but is not a torn last segment", path.display());
        };
        if old != new {
            assert_eq!(i + 1, kept.len(), "{} modified", path.display());
            assert!(old.starts_with(new), "{} not truncated", path.display());
        }
    }
    for (path, bytes) in before {
        if !segments.contains(path) {
            assert_eq!(after.get(path), Some(bytes), "{} modified", path.display());
        }
    }
}
