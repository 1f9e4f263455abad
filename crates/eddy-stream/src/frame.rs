//! The on-disk record frame: one frame per Kinesis record.
//!
//! ```text
//! len:  u32 LE   length of body
//! crc:  u32 LE   crc32 over the 4 len bytes followed by the body
//! body: seq_ix u64 | arrival_millis u64 | pk_len u16 | pk (UTF-8)
//!       | ehk_flag u8 [| ehk u128] | data_len u32 | data
//! ```
//!
//! As in the change log, the CRC covers the length field so a damaged length
//! cannot make another byte range look valid. Decoding never panics: bytes
//! are classified as a complete frame, an incomplete one (torn-tail
//! candidate) or an invalid one.

use crate::codec::{Dec, Enc};

/// Bytes before the body: `len` + `crc`.
pub(crate) const FRAME_HEADER_LEN: usize = 8;
/// Largest body a frame may declare: 10 MiB of data (Kinesis' raised
/// record limit) plus generous room for the fixed fields and key.
pub(crate) const MAX_BODY_LEN: usize = 10 * 1024 * 1024 + 4096;

/// A record as stored in a shard segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredRecord {
    pub seq_ix: u64,
    pub arrival_millis: u64,
    pub partition_key: String,
    pub explicit_hash_key: Option<u128>,
    pub data: Vec<u8>,
}

/// Why a frame is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// The declared length is impossible.
    Length,
    /// The checksum does not match.
    Crc,
    /// The checksum matches but the body is malformed.
    Structure,
}

/// A record to encode, borrowing its payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameRef<'a> {
    pub seq_ix: u64,
    pub arrival_millis: u64,
    pub partition_key: &'a str,
    pub explicit_hash_key: Option<u128>,
    pub data: &'a [u8],
}

/// Append the frame for `r` to `out`. The partition key must be at most
/// `u16::MAX` bytes (callers validate 256 characters).
pub(crate) fn encode(r: &FrameRef<'_>, out: &mut Vec<u8>) {
    let mut body = Enc::default();
    body.u64(r.seq_ix).u64(r.arrival_millis);
    body.u16(r.partition_key.len() as u16);
    body.0.extend_from_slice(r.partition_key.as_bytes());
    match r.explicit_hash_key {
        None => body.u8(0),
        Some(k) => body.u8(1).u128(k),
    };
    body.bytes(r.data);
    let len = (body.0.len() as u32).to_le_bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len);
    crc.update(&body.0);
    out.extend_from_slice(&len);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&body.0);
}

/// Parse a frame header into `(body_len, crc)`; `Err` if the length is
/// impossible.
pub(crate) fn decode_header(h: &[u8; FRAME_HEADER_LEN]) -> Result<(usize, u32), Invalid> {
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    if !(8 + 8 + 2 + 1 + 4..=MAX_BODY_LEN).contains(&len) {
        return Err(Invalid::Length);
    }
    Ok((len, crc))
}

/// Check the body against the header's crc and decode it.
pub(crate) fn decode_body(
    h: &[u8; FRAME_HEADER_LEN],
    crc: u32,
    body: &[u8],
) -> Result<StoredRecord, Invalid> {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&h[..4]);
    hasher.update(body);
    if hasher.finalize() != crc {
        return Err(Invalid::Crc);
    }
    let mut d = Dec::new(body);
    let parsed = (|| {
        let seq_ix = d.u64()?;
        let arrival_millis = d.u64()?;
        let pk_len = d.u16()? as usize;
        let partition_key = String::from_utf8(d.take(pk_len)?.to_vec()).ok()?;
        let explicit_hash_key = match d.u8()? {
            0 => None,
            1 => Some(d.u128()?),
            _ => return None,
        };
        let data = d.bytes()?.to_vec();
        Some(StoredRecord {
            seq_ix,
            arrival_millis,
            partition_key,
            explicit_hash_key,
            data,
        })
    })();
    match parsed {
        Some(r) if d.is_empty() => Ok(r),
        _ => Err(Invalid::Structure),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fr(r: &StoredRecord) -> FrameRef<'_> {
        FrameRef {
            seq_ix: r.seq_ix,
            arrival_millis: r.arrival_millis,
            partition_key: &r.partition_key,
            explicit_hash_key: r.explicit_hash_key,
            data: &r.data,
        }
    }

    fn split(buf: &[u8]) -> Result<StoredRecord, Invalid> {
        let h: [u8; 8] = buf.get(..8).ok_or(Invalid::Length)?.try_into().unwrap();
        let (len, crc) = decode_header(&h)?;
        let body = buf.get(8..8 + len).ok_or(Invalid::Length)?;
        decode_body(&h, crc, body)
    }

    proptest! {
        #[test]
        fn round_trip(seq in any::<u64>(), t in any::<u64>(), pk in "\\PC{1,20}",
                      ehk in proptest::option::of(any::<u128>()), data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let r = StoredRecord { seq_ix: seq, arrival_millis: t, partition_key: pk, explicit_hash_key: ehk, data };
            let mut buf = Vec::new();
            encode(&fr(&r), &mut buf);
            prop_assert_eq!(split(&buf).unwrap(), r);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = split(&bytes);
        }

        #[test]
        fn bit_flips_are_detected(flip in 0usize..60) {
            let r = StoredRecord { seq_ix: 1, arrival_millis: 2, partition_key: "k".into(), explicit_hash_key: None, data: vec![7; 30] };
            let mut buf = Vec::new();
            encode(&fr(&r), &mut buf);
            let i = flip % buf.len();
            buf[i] ^= 0x10;
            prop_assert!(split(&buf).is_err());
        }
    }
}
