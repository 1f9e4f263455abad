//! Shard iterator strings, decoded directly and through
//! `Streams::get_records`. Shared by `fuzz/fuzz_targets/shard_iterator.rs`
//! and `crates/eddy-stream/tests/fuzz_corpus.rs` (via `#[path]`).
//!
//! The database is in memory, with a known iterator key (its metadata file
//! is written here), stream `s` of two shards holding a few records, and a
//! fixed clock. Input: a mode byte, then
//!
//! * mode 0: the iterator text itself (lossy UTF-8);
//! * mode 1: an iterator body, signed here with the database's key, so the
//!   fuzzer reaches the parser behind the HMAC;
//! * mode 2: fields of a well-formed token (shard, position, age, stream),
//!   encoded and signed here.
//!
//! Properties: nothing panics; a string that decodes re-encodes to itself;
//! one that does not is `InvalidArgument` (or `Validation` for its length),
//! and `get_records` refuses it the same way; an expired token is
//! `ExpiredIterator`; a valid one reads or is `ResourceNotFound`, and the
//! next iterator it returns decodes.

use crate::mem_fs::MemFs;
use base64::Engine as _;
use eddy_stream::fuzzing::{self, IteratorToken};
use eddy_stream::{
    CreateStream, Error, IteratorType, PutRecord, StreamOptions, Streams, ITERATOR_TTL_MILLIS,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;
use std::sync::{Arc, OnceLock};

const KEY: [u8; 32] = [0x5a; 32];
const NOW: u64 = 1_700_000_000_000;

struct Db {
    streams: Streams,
    /// A valid token of shard 0 of `s`.
    token: IteratorToken,
}

fn db() -> &'static Db {
    static DB: OnceLock<Db> = OnceLock::new();
    DB.get_or_init(|| {
        let fs = MemFs::new();
        let dir = Path::new("/db");
        // An empty metadata snapshot (format 3) carrying the known key.
        let mut payload = KEY.to_vec();
        payload.extend_from_slice(&0u32.to_le_bytes());
        let mut meta = b"EDDYSMTA".to_vec();
        meta.extend_from_slice(&3u32.to_le_bytes());
        meta.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        meta.extend_from_slice(&payload);
        meta.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        fs.put(&dir.join("streams.meta"), &meta);
        let opts = StreamOptions::new()
            .fs(Arc::new(fs))
            .clock(Arc::new(|| NOW));
        let streams = Streams::open(dir, opts).expect("open");
        streams
            .create_stream(
                "s",
                CreateStream {
                    shard_count: Some(2),
                    ..Default::default()
                },
            )
            .expect("create");
        for i in 0..6 {
            streams
                .put_record("s", PutRecord::new(format!("k{i}"), vec![i; 3]))
                .expect("put");
        }
        let it = streams
            .get_shard_iterator("s", "shardId-000000000000", IteratorType::TrimHorizon)
            .expect("iterator");
        let token = fuzzing::decode_iterator(&KEY, &it).expect("own iterator decodes");
        Db { streams, token }
    })
}

fn sign(body: &[u8]) -> String {
    let mut m = <Hmac<Sha256>>::new_from_slice(&KEY).expect("any key length");
    m.update(body);
    let mut raw = body.to_vec();
    raw.extend_from_slice(&m.finalize().into_bytes());
    base64::engine::general_purpose::STANDARD.encode(raw)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    for (i, x) in a.iter_mut().enumerate() {
        *x = b.get(at + i).copied().unwrap_or(0);
    }
    u64::from_le_bytes(a)
}

/// Run every check on one input; true if the iterator decoded.
pub fn check(data: &[u8]) -> bool {
    let Some((&mode, rest)) = data.split_first() else {
        return false;
    };
    match mode % 3 {
        0 => check_text(&String::from_utf8_lossy(rest)),
        1 => check_text(&sign(rest)),
        _ => {
            let base = &db().token;
            let flags = rest.first().copied().unwrap_or(0);
            let t = IteratorToken {
                stream: match flags >> 6 {
                    0 | 1 => base.stream.clone(),
                    2 => "other".into(),
                    _ => String::from_utf8_lossy(rest.get(25..).unwrap_or_default()).into_owned(),
                },
                stream_incarnation: if flags & 0x20 == 0 {
                    base.stream_incarnation
                } else {
                    u64_at(rest, 17)
                },
                shard_index: u32::from(flags & 3) | if flags & 4 == 0 { 0 } else { 1 << 31 },
                position: u64_at(rest, 1),
                // Issued up to ~2 TTLs before or after now.
                issued_millis: NOW.wrapping_add(
                    (u64_at(rest, 9) % (4 * ITERATOR_TTL_MILLIS))
                        .wrapping_sub(2 * ITERATOR_TTL_MILLIS),
                ),
            };
            let text = fuzzing::encode_iterator(&KEY, &t);
            if text.len() <= 512 {
                let back = fuzzing::decode_iterator(&KEY, &text).expect("encoded token decodes");
                assert_eq!(back, t, "token does not round-trip");
            }
            check_text(&text)
        }
    }
}

fn check_text(text: &str) -> bool {
    let d = db();
    let decoded = fuzzing::decode_iterator(&KEY, text);
    match &decoded {
        Ok(t) => assert_eq!(
            fuzzing::encode_iterator(&KEY, t),
            text,
            "decoded iterator does not re-encode to itself"
        ),
        Err(Error::InvalidArgument(_) | Error::Validation(_)) => {}
        Err(e) => panic!("decoding an iterator failed with {e:?}"),
    }
    let read = d.streams.get_records(text, Some(100));
    match (&decoded, &read) {
        (Err(a), Err(b)) => assert_eq!(a.aws_error_name(), b.aws_error_name()),
        (Err(e), Ok(_)) => panic!("get_records accepted an iterator that does not decode: {e:?}"),
        (Ok(t), Err(Error::ExpiredIterator(_))) => {
            assert!(NOW > t.issued_millis.saturating_add(ITERATOR_TTL_MILLIS));
        }
        (Ok(t), _) if NOW > t.issued_millis.saturating_add(ITERATOR_TTL_MILLIS) => {
            panic!("expired iterator not refused: {read:?}")
        }
        (Ok(_), Err(Error::ResourceNotFound(_))) => {}
        (Ok(_), Err(e)) => panic!("get_records failed with {e:?}"),
        (Ok(_), Ok(out)) => {
            if let Some(next) = &out.next_shard_iterator {
                let n = fuzzing::decode_iterator(&KEY, next).expect("next iterator decodes");
                assert_eq!(n.issued_millis, NOW);
            }
        }
    }
    decoded.is_ok()
}
