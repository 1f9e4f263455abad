//! The on-disk record frame: one frame per Kinesis record.
//!
//! ```text
//! len:  u32 LE   length of body
//! crc:  u32 LE   crc32 over the 4 len bytes followed by the body
//! body: seq_ix u64 | arrival_millis u64 | pk_len u16 | pk (UTF-8)
//!       | flags u8 [| ehk u128] [| key_id_len u16 | key_id | nonce [12]]
//!       | data_len u32 | data
//! ```
//!
//! `flags` bit 0 says an explicit hash key follows; bit 1 marks an
//! encrypted record ([`crate::crypto`]): the key id and nonce follow, and
//! `data` is the AES-256-GCM ciphertext with its 16-byte tag. Other bits
//! are invalid. Frames written before encryption existed have flags 0 or 1,
//! so they decode unchanged; a database holding encrypted frames also has a
//! version-3 metadata file, which older builds refuse to open.
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

/// Flag bit: an explicit hash key follows.
const FLAG_EHK: u8 = 1;
/// Flag bit: the record is encrypted (key id and nonce follow).
const FLAG_SEALED: u8 = 2;
/// Length of an AES-GCM nonce.
pub(crate) const NONCE_LEN: usize = 12;
/// Length of an AES-GCM authentication tag.
pub(crate) const TAG_LEN: usize = 16;

/// How an encrypted record was sealed: which key and which nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sealed {
    pub key_id: String,
    pub nonce: [u8; NONCE_LEN],
}

/// A record as stored in a shard segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredRecord {
    pub seq_ix: u64,
    pub arrival_millis: u64,
    pub partition_key: String,
    pub explicit_hash_key: Option<u128>,
    /// The payload; ciphertext + tag when `sealed` is set.
    pub data: Vec<u8>,
    /// Set for an encrypted record.
    pub sealed: Option<Sealed>,
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
    /// The payload; ciphertext + tag when `sealed` is set.
    pub data: &'a [u8],
    pub sealed: Option<&'a Sealed>,
}

/// Append the frame for `r` to `out`. The partition key and key id must be
/// at most `u16::MAX` bytes (callers validate 256 characters and 2048
/// characters). The body is written in place after a header that is filled
/// in last, so a frame costs one copy of its data.
pub(crate) fn encode(r: &FrameRef<'_>, out: &mut Vec<u8>) {
    let start = out.len();
    out.reserve(encoded_len(r));
    out.extend_from_slice(&[0; FRAME_HEADER_LEN]);
    let mut body = Enc(std::mem::take(out));
    body.u64(r.seq_ix).u64(r.arrival_millis);
    body.u16(r.partition_key.len() as u16);
    body.0.extend_from_slice(r.partition_key.as_bytes());
    let mut flags = 0;
    if r.explicit_hash_key.is_some() {
        flags |= FLAG_EHK;
    }
    if r.sealed.is_some() {
        flags |= FLAG_SEALED;
    }
    body.u8(flags);
    if let Some(k) = r.explicit_hash_key {
        body.u128(k);
    }
    if let Some(s) = r.sealed {
        body.u16(s.key_id.len() as u16);
        body.0.extend_from_slice(s.key_id.as_bytes());
        body.0.extend_from_slice(&s.nonce);
    }
    body.bytes(r.data);
    *out = body.0;
    let body_start = start + FRAME_HEADER_LEN;
    let len = ((out.len() - body_start) as u32).to_le_bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len);
    crc.update(&out[body_start..]);
    out[start..start + 4].copy_from_slice(&len);
    out[start + 4..body_start].copy_from_slice(&crc.finalize().to_le_bytes());
}

/// The bytes [`encode`] appends for `r`.
pub(crate) fn encoded_len(r: &FrameRef<'_>) -> usize {
    FRAME_HEADER_LEN
        + 8
        + 8
        + 2
        + r.partition_key.len()
        + 1
        + r.explicit_hash_key.map_or(0, |_| 16)
        + r.sealed.map_or(0, |s| 2 + s.key_id.len() + s.nonce.len())
        + 4
        + r.data.len()
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
        let flags = d.u8()?;
        if flags & !(FLAG_EHK | FLAG_SEALED) != 0 {
            return None;
        }
        let explicit_hash_key = match flags & FLAG_EHK {
            0 => None,
            _ => Some(d.u128()?),
        };
        let sealed = if flags & FLAG_SEALED == 0 {
            None
        } else {
            let id_len = d.u16()? as usize;
            let key_id = String::from_utf8(d.take(id_len)?.to_vec()).ok()?;
            let nonce: [u8; NONCE_LEN] = d.take(NONCE_LEN)?.try_into().ok()?;
            if key_id.is_empty() {
                return None;
            }
            Some(Sealed { key_id, nonce })
        };
        let data = d.bytes()?.to_vec();
        if sealed.is_some() && data.len() < TAG_LEN {
            return None;
        }
        Some(StoredRecord {
            seq_ix,
            arrival_millis,
            partition_key,
            explicit_hash_key,
            data,
            sealed,
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
            sealed: r.sealed.as_ref(),
        }
    }

    fn split(buf: &[u8]) -> Result<StoredRecord, Invalid> {
        let h: [u8; 8] = buf.get(..8).ok_or(Invalid::Length)?.try_into().unwrap();
        let (len, crc) = decode_header(&h)?;
        let body = buf.get(8..8 + len).ok_or(Invalid::Length)?;
        decode_body(&h, crc, body)
    }

    fn sealed_record() -> StoredRecord {
        StoredRecord {
            seq_ix: 1,
            arrival_millis: 2,
            partition_key: "k".into(),
            explicit_hash_key: Some(9),
            data: vec![7; 30],
            sealed: Some(Sealed {
                key_id: "key-1".into(),
                nonce: [3; NONCE_LEN],
            }),
        }
    }

    /// Replace the body of a frame and recompute its length and crc, as a
    /// deliberate (not accidental) modification would.
    fn reframe(body: &[u8]) -> Vec<u8> {
        let len = (body.len() as u32).to_le_bytes();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&len);
        crc.update(body);
        let mut out = len.to_vec();
        out.extend_from_slice(&crc.finalize().to_le_bytes());
        out.extend_from_slice(body);
        out
    }

    proptest! {
        #[test]
        fn round_trip(seq in any::<u64>(), t in any::<u64>(), pk in "\\PC{1,20}",
                      ehk in proptest::option::of(any::<u128>()), data in proptest::collection::vec(any::<u8>(), 0..300),
                      sealed in proptest::option::of(("[a-z:/0-9-]{1,40}", any::<[u8; NONCE_LEN]>())),
                      before in proptest::collection::vec(any::<u8>(), 0..40)) {
            let sealed = sealed.map(|(key_id, nonce)| Sealed { key_id, nonce });
            // A sealed payload always carries at least its tag.
            let data = if sealed.is_some() && data.len() < TAG_LEN { vec![0; TAG_LEN] } else { data };
            let r = StoredRecord { seq_ix: seq, arrival_millis: t, partition_key: pk, explicit_hash_key: ehk, data, sealed };
            // Frames are appended after whatever the buffer holds.
            let mut buf = before.clone();
            encode(&fr(&r), &mut buf);
            prop_assert_eq!(&buf[..before.len()], &before[..]);
            prop_assert_eq!(buf.len() - before.len(), encoded_len(&fr(&r)));
            prop_assert_eq!(split(&buf[before.len()..]).unwrap(), r);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = split(&bytes);
        }

        #[test]
        fn bit_flips_are_detected(flip in 0usize..60) {
            let r = StoredRecord { seq_ix: 1, arrival_millis: 2, partition_key: "k".into(), explicit_hash_key: None, data: vec![7; 30], sealed: None };
            let mut buf = Vec::new();
            encode(&fr(&r), &mut buf);
            let i = flip % buf.len();
            buf[i] ^= 0x10;
            prop_assert!(split(&buf).is_err());
        }

        #[test]
        fn bit_flips_in_encrypted_frames_are_detected(flip in 0usize..120) {
            let mut buf = Vec::new();
            encode(&fr(&sealed_record()), &mut buf);
            let i = flip % buf.len();
            buf[i] ^= 0x04;
            prop_assert!(split(&buf).is_err());
        }

        #[test]
        fn reframed_garbage_never_panics(body in proptest::collection::vec(any::<u8>(), 0..120)) {
            let _ = split(&reframe(&body));
        }
    }

    #[test]
    fn tampered_encrypted_frames_with_fixed_crc_fail_structurally() {
        let mut buf = Vec::new();
        encode(&fr(&sealed_record()), &mut buf);
        let body = buf[FRAME_HEADER_LEN..].to_vec();
        // seq 8 + arrival 8 + pk_len 2 + "k" 1 = offset of the flags byte.
        let flags_at = 19;
        assert_eq!(body[flags_at], FLAG_EHK | FLAG_SEALED);
        let ok = split(&reframe(&body)).unwrap();
        assert_eq!(ok, sealed_record());
        // An unknown flag bit.
        let mut b = body.clone();
        b[flags_at] |= 0x80;
        assert_eq!(split(&reframe(&b)), Err(Invalid::Structure));
        // The sealed bit cleared: the key id bytes no longer parse as data.
        let mut b = body.clone();
        b[flags_at] = FLAG_EHK;
        assert_eq!(split(&reframe(&b)), Err(Invalid::Structure));
        // Ciphertext shorter than a tag.
        let cut = body.len() - 30 + (TAG_LEN - 1);
        let mut b = body[..cut].to_vec();
        let dl = b.len() - (TAG_LEN - 1) - 4;
        b[dl..dl + 4].copy_from_slice(&((TAG_LEN - 1) as u32).to_le_bytes());
        assert_eq!(split(&reframe(&b)), Err(Invalid::Structure));
        // An empty key id.
        let mut r = sealed_record();
        if let Some(s) = r.sealed.as_mut() {
            s.key_id.clear();
        }
        let mut e = Vec::new();
        encode(&fr(&r), &mut e);
        assert_eq!(split(&e), Err(Invalid::Structure));
    }
}
