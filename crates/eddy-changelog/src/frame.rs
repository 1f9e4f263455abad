//! The on-disk frame format: one frame per append group.
//!
//! A group is written as a single frame so that it is atomic across a crash:
//! either the whole frame (and its CRC) made it to disk, or recovery sees a
//! torn frame and drops the whole group.
//!
//! ```text
//! len:  u32 LE   length of body
//! crc:  u32 LE   crc32 over the 4 len bytes followed by the body
//! body: first_lsn u64 LE | micros u64 LE | count u32 LE
//!       | count x (payload_len u32 LE | payload bytes)
//! ```
//!
//! The CRC covers the length field too, so a corrupted length can never make
//! a different byte range "look valid". [`decode`] never panics on arbitrary
//! input: it classifies bytes as a complete frame, an incomplete one (more
//! bytes needed — a torn tail candidate), or an invalid one.

/// Bytes before the body: `len` + `crc`.
pub(crate) const FRAME_HEADER_LEN: usize = 8;
/// Fixed part of the body: `first_lsn` + `micros` + `count`.
pub(crate) const BODY_FIXED_LEN: usize = 20;
/// Per-payload overhead (its length prefix).
pub(crate) const PAYLOAD_HEADER_LEN: usize = 4;
/// Maximum size of one encoded frame (header + body), 64 MiB. Larger append
/// groups are refused with [`crate::Error::TooLarge`].
pub const MAX_FRAME_SIZE: usize = 64 * 1024 * 1024;
/// Maximum body length a frame may declare.
pub(crate) const MAX_BODY_LEN: usize = MAX_FRAME_SIZE - FRAME_HEADER_LEN;

/// A decoded frame: one append group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    /// LSN of the first payload; the others follow consecutively.
    pub first_lsn: u64,
    /// Creation timestamp (microseconds since the Unix epoch).
    pub micros: u64,
    /// The opaque payloads.
    pub payloads: Vec<Vec<u8>>,
}

impl Frame {
    /// Number of records (LSNs) in the frame.
    pub fn count(&self) -> u64 {
        self.payloads.len() as u64
    }
}

/// Why a frame is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InvalidKind {
    /// The length field is out of range.
    Length,
    /// The checksum does not match.
    Crc,
    /// The checksum matches but the body is malformed (cannot be produced by
    /// a torn write; always corruption or a bug).
    Structure,
}

/// Outcome of [`decode`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// A valid frame occupying the first `consumed` bytes.
    Complete {
        /// The frame.
        frame: Frame,
        /// Bytes consumed from the input.
        consumed: usize,
    },
    /// The input ends before the frame does.
    Incomplete,
    /// The bytes are not a valid frame.
    Invalid {
        /// What is wrong.
        kind: InvalidKind,
        /// Where the frame claims to end (relative to the input start).
        declared_end: u64,
        /// Human-readable description.
        reason: String,
    },
}

/// Encoded size of a group of payloads, as u64 to avoid overflow.
pub(crate) fn encoded_len(payloads: &[Vec<u8>]) -> u64 {
    let payload_bytes: u64 = payloads
        .iter()
        .map(|p| PAYLOAD_HEADER_LEN as u64 + p.len() as u64)
        .sum();
    (FRAME_HEADER_LEN + BODY_FIXED_LEN) as u64 + payload_bytes
}

/// Append the encoding of one frame to `buf`. The caller must have checked
/// `encoded_len(payloads) <= MAX_FRAME_SIZE` (so every length fits in u32).
pub(crate) fn encode_into(buf: &mut Vec<u8>, first_lsn: u64, micros: u64, payloads: &[Vec<u8>]) {
    let start = buf.len();
    let body_len = encoded_len(payloads) - FRAME_HEADER_LEN as u64;
    buf.extend_from_slice(&(body_len as u32).to_le_bytes());
    buf.extend_from_slice(&[0u8; 4]); // crc placeholder
    buf.extend_from_slice(&first_lsn.to_le_bytes());
    buf.extend_from_slice(&micros.to_le_bytes());
    buf.extend_from_slice(&(payloads.len() as u32).to_le_bytes());
    for p in payloads {
        buf.extend_from_slice(&(p.len() as u32).to_le_bytes());
        buf.extend_from_slice(p);
    }
    let crc = frame_crc(&buf[start..start + 4], &buf[start + FRAME_HEADER_LEN..]);
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn frame_crc(len_bytes: &[u8], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(len_bytes);
    h.update(body);
    h.finalize()
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

/// Declared body length of the frame starting at `buf[0]`, if the 4 length
/// bytes are present.
pub(crate) fn peek_body_len(buf: &[u8]) -> Option<usize> {
    u32_at(buf, 0).map(|l| l as usize)
}

/// Decode the frame at the start of `buf`. Never panics.
pub(crate) fn decode(buf: &[u8]) -> Decoded {
    let Some(body_len) = peek_body_len(buf) else {
        return Decoded::Incomplete;
    };
    let declared_end = (FRAME_HEADER_LEN + body_len) as u64;
    if !(BODY_FIXED_LEN..=MAX_BODY_LEN).contains(&body_len) {
        return Decoded::Invalid {
            kind: InvalidKind::Length,
            declared_end,
            reason: format!("frame body length {body_len} out of range"),
        };
    }
    let total = FRAME_HEADER_LEN + body_len;
    if buf.len() < total {
        return Decoded::Incomplete;
    }
    let stored_crc = u32_at(buf, 4).unwrap_or(0);
    let body = &buf[FRAME_HEADER_LEN..total];
    let crc = frame_crc(&buf[0..4], body);
    if crc != stored_crc {
        return Decoded::Invalid {
            kind: InvalidKind::Crc,
            declared_end,
            reason: format!("frame crc mismatch (stored {stored_crc:#010x}, computed {crc:#010x})"),
        };
    }
    match parse_body(body) {
        Ok(frame) => Decoded::Complete {
            frame,
            consumed: total,
        },
        Err(reason) => Decoded::Invalid {
            kind: InvalidKind::Structure,
            declared_end,
            reason,
        },
    }
}

fn parse_body(body: &[u8]) -> Result<Frame, String> {
    let (Some(first_lsn), Some(micros), Some(count)) =
        (u64_at(body, 0), u64_at(body, 8), u32_at(body, 16))
    else {
        return Err("frame body shorter than its fixed fields".into());
    };
    if count == 0 {
        return Err("frame holds zero records".into());
    }
    if first_lsn == 0 || first_lsn.checked_add(u64::from(count)).is_none() {
        return Err(format!(
            "frame LSN range invalid (first {first_lsn}, count {count})"
        ));
    }
    // Each payload needs at least 4 bytes, so this bounds the allocation.
    if count as usize > (body.len() - BODY_FIXED_LEN) / PAYLOAD_HEADER_LEN {
        return Err(format!("frame record count {count} does not fit its body"));
    }
    let mut payloads = Vec::with_capacity(count as usize);
    let mut at = BODY_FIXED_LEN;
    for i in 0..count {
        let Some(len) = u32_at(body, at) else {
            return Err(format!("record {i} length runs past the frame body"));
        };
        at += PAYLOAD_HEADER_LEN;
        let Some(p) = at
            .checked_add(len as usize)
            .and_then(|end| body.get(at..end))
        else {
            return Err(format!("record {i} payload runs past the frame body"));
        };
        payloads.push(p.to_vec());
        at += len as usize;
    }
    if at != body.len() {
        return Err(format!(
            "{} trailing bytes after the last record",
            body.len() - at
        ));
    }
    Ok(Frame {
        first_lsn,
        micros,
        payloads,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(first: u64, micros: u64, payloads: &[Vec<u8>]) -> Vec<u8> {
        let mut b = Vec::new();
        encode_into(&mut b, first, micros, payloads);
        b
    }

    #[test]
    fn round_trip() {
        let payloads = vec![b"hello".to_vec(), Vec::new(), vec![7u8; 1000]];
        let b = enc(42, 1_700_000_000_000_000, &payloads);
        assert_eq!(b.len() as u64, encoded_len(&payloads));
        match decode(&b) {
            Decoded::Complete { frame, consumed } => {
                assert_eq!(consumed, b.len());
                assert_eq!(frame.first_lsn, 42);
                assert_eq!(frame.micros, 1_700_000_000_000_000);
                assert_eq!(frame.payloads, payloads);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn decode_consumes_only_the_first_frame() {
        let mut b = enc(1, 5, &[b"a".to_vec()]);
        let first_len = b.len();
        b.extend(enc(2, 6, &[b"b".to_vec()]));
        match decode(&b) {
            Decoded::Complete { frame, consumed } => {
                assert_eq!(consumed, first_len);
                assert_eq!(frame.first_lsn, 1);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let b = enc(9, 9, &[b"abc".to_vec(), b"de".to_vec()]);
        for cut in 0..b.len() {
            assert_eq!(decode(&b[..cut]), Decoded::Incomplete, "cut {cut}");
        }
    }

    #[test]
    fn crc_flip_and_bad_lengths_are_invalid() {
        let b = enc(3, 4, &[b"xyz".to_vec()]);
        let mut flipped = b.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x01;
        assert!(matches!(
            decode(&flipped),
            Decoded::Invalid {
                kind: InvalidKind::Crc,
                ..
            }
        ));
        assert!(matches!(
            decode(&[0u8; 64]),
            Decoded::Invalid {
                kind: InvalidKind::Length,
                declared_end: 8,
                ..
            }
        ));
        let mut huge = vec![0xFFu8; 16];
        huge[4] = 0;
        assert!(matches!(
            decode(&huge),
            Decoded::Invalid {
                kind: InvalidKind::Length,
                ..
            }
        ));
    }

    #[test]
    fn crc_valid_but_malformed_body_is_bad_structure() {
        // count says 2 but only one payload is present.
        let mut b = enc(3, 4, &[b"xyz".to_vec()]);
        b[FRAME_HEADER_LEN + 16..FRAME_HEADER_LEN + 20].copy_from_slice(&2u32.to_le_bytes());
        let crc = frame_crc(&b[0..4], &b[FRAME_HEADER_LEN..]);
        b[4..8].copy_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            decode(&b),
            Decoded::Invalid {
                kind: InvalidKind::Structure,
                ..
            }
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn arbitrary_tail_after_valid_header_never_panics(
            len in 0u32..200, rest in proptest::collection::vec(any::<u8>(), 0..256)
        ) {
            let mut b = len.to_le_bytes().to_vec();
            b.extend_from_slice(&rest);
            let _ = decode(&b);
        }

        #[test]
        fn encoded_frames_round_trip(
            first in 1u64..u64::MAX / 2,
            micros in any::<u64>(),
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..8),
            trailing in proptest::collection::vec(any::<u8>(), 0..16),
        ) {
            let mut b = enc(first, micros, &payloads);
            let n = b.len();
            b.extend_from_slice(&trailing);
            match decode(&b) {
                Decoded::Complete { frame, consumed } => {
                    prop_assert_eq!(consumed, n);
                    prop_assert_eq!(frame.first_lsn, first);
                    prop_assert_eq!(frame.micros, micros);
                    prop_assert_eq!(frame.payloads, payloads);
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }

        #[test]
        fn any_single_byte_corruption_is_detected(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..32), 1..4),
            idx in any::<proptest::sample::Index>(),
            xor in 1u8..=255,
        ) {
            let mut b = enc(5, 6, &payloads);
            let i = idx.index(b.len());
            b[i] ^= xor;
            let complete = matches!(decode(&b), Decoded::Complete { .. });
            prop_assert!(!complete, "corruption at byte {} undetected", i);
        }
    }
}
