//! Entry points for the cargo-fuzz targets in `fuzz/` and their replay
//! test (`tests/fuzz_corpus.rs`). **Not a supported API**: it exists only
//! so that fuzzing can reach the private record-frame, metadata and shard
//! iterator codecs. Every function calls the crate's own code unchanged.

use crate::error::Result;
use crate::frame::{self, FrameRef, FRAME_HEADER_LEN};
use crate::iterator::{self, IterToken};
use crate::meta;
use crate::summary;

/// Decode the shard-segment record frame at the start of `buf` and encode
/// the record again: `Some((bytes the frame occupies, re-encoding))`, or
/// `None` if `buf` does not start with a complete, valid frame.
pub fn reencode_frame(buf: &[u8]) -> Option<(usize, Vec<u8>)> {
    let h: [u8; FRAME_HEADER_LEN] = buf.get(..FRAME_HEADER_LEN)?.try_into().ok()?;
    let (len, crc) = frame::decode_header(&h).ok()?;
    let body = buf.get(FRAME_HEADER_LEN..FRAME_HEADER_LEN.checked_add(len)?)?;
    let r = frame::decode_body(&h, crc, body).ok()?;
    let mut out = Vec::new();
    frame::encode(
        &FrameRef {
            seq_ix: r.seq_ix,
            arrival_millis: r.arrival_millis,
            partition_key: &r.partition_key,
            explicit_hash_key: r.explicit_hash_key,
            data: &r.data,
            sealed: r.sealed.as_ref(),
        },
        &mut out,
    );
    Some((FRAME_HEADER_LEN + len, out))
}

/// Decode `buf` as a sealed-segment summary (for the shard index, first
/// `seqIx` and segment length it names itself) and encode it again:
/// `Some(re-encoding)` if it is accepted.
pub fn reencode_summary(buf: &[u8]) -> Option<Vec<u8>> {
    let shard = u32::from_le_bytes(buf.get(12..16)?.try_into().ok()?);
    let first = u64::from_le_bytes(buf.get(16..24)?.try_into().ok()?);
    let len = u64::from_le_bytes(buf.get(32..40)?.try_into().ok()?);
    let path = std::path::Path::new("segment.seg");
    summary::decode(buf, path, first, shard, len).map(|s| summary::encode(&s, shard))
}

/// Decode a metadata snapshot payload of format `version` and encode it
/// again in the current format; `None` if it does not decode.
pub fn reencode_meta(payload: &[u8], version: u32) -> Option<Vec<u8>> {
    meta::decode(payload, version).map(|m| meta::encode(&m))
}

/// The contents of a shard iterator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IteratorToken {
    /// Stream name.
    pub stream: String,
    /// The stream's incarnation id.
    pub stream_incarnation: u64,
    /// Shard index.
    pub shard_index: u32,
    /// Next `seqIx` to read.
    pub position: u64,
    /// When the iterator was issued (epoch milliseconds).
    pub issued_millis: u64,
}

/// Verify and decode a shard iterator signed with `key`.
pub fn decode_iterator(key: &[u8; 32], text: &str) -> Result<IteratorToken> {
    iterator::decode(key, text).map(|t| IteratorToken {
        stream: t.stream,
        stream_incarnation: t.stream_incarnation,
        shard_index: t.shard_index,
        position: t.position,
        issued_millis: t.issued_millis,
    })
}

/// Encode and sign a shard iterator with `key`.
pub fn encode_iterator(key: &[u8; 32], t: &IteratorToken) -> String {
    iterator::encode(
        key,
        &IterToken {
            stream: t.stream.clone(),
            stream_incarnation: t.stream_incarnation,
            shard_index: t.shard_index,
            position: t.position,
            issued_millis: t.issued_millis,
        },
    )
}
