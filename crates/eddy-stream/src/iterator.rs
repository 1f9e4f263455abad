//! Shard iterators: opaque, authenticated, expiring position tokens.
//!
//! An iterator is base64 of
//!
//! ```text
//! 00 00 00 00 00 00 00 01 | version u8 | stream name | stream incarnation u64
//!   | shard index u32 | position (next seqIx to read) u64 | issued millis u64
//!   | HMAC-SHA256 over everything before it (32 bytes)
//! ```
//!
//! The `00…01` prefix makes them start `AAAAAAAAAAE` like AWS's. The HMAC key
//! is random per database and stored in the metadata, so a tampered or
//! foreign iterator is rejected (`InvalidArgumentException: Invalid
//! ShardIterator.`), and iterators stay valid across reopen. The stream's
//! random incarnation id is included so an iterator of a deleted and re-created
//! stream of the same name is not accepted. Expiry (300 s after issue) is
//! checked by the caller against the injected clock.

use crate::codec::{Dec, Enc};
use crate::error::{Error, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: [u8; 8] = [0, 0, 0, 0, 0, 0, 0, 1];
const VERSION: u8 = 1;
const MAC_LEN: usize = 32;
/// How long an iterator stays valid after it is issued.
pub const ITERATOR_TTL_MILLIS: u64 = 300_000;

/// The decoded contents of a shard iterator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IterToken {
    pub stream: String,
    pub stream_incarnation: u64,
    pub shard_index: u32,
    pub position: u64,
    pub issued_millis: u64,
}

fn mac(key: &[u8; 32]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this never fails.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any size"),
    }
}

/// Encode and sign `t`.
pub(crate) fn encode(key: &[u8; 32], t: &IterToken) -> String {
    let mut e = Enc::default();
    e.0.extend_from_slice(&PREFIX);
    e.u8(VERSION)
        .bytes(t.stream.as_bytes())
        .u64(t.stream_incarnation);
    e.u32(t.shard_index).u64(t.position).u64(t.issued_millis);
    let mut m = mac(key);
    m.update(&e.0);
    let tag = m.finalize().into_bytes();
    e.0.extend_from_slice(&tag);
    STANDARD.encode(&e.0)
}

fn invalid() -> Error {
    Error::InvalidArgument("Invalid ShardIterator.".into())
}

/// Verify and decode an iterator string.
pub(crate) fn decode(key: &[u8; 32], text: &str) -> Result<IterToken> {
    if text.is_empty() || text.len() > 512 {
        return Err(Error::validation(
            text,
            "shardIterator",
            "Member must have length less than or equal to 512",
        ));
    }
    let raw = STANDARD.decode(text).map_err(|_| invalid())?;
    if raw.len() < PREFIX.len() + MAC_LEN {
        return Err(invalid());
    }
    let (body, tag) = raw.split_at(raw.len() - MAC_LEN);
    let mut m = mac(key);
    m.update(body);
    m.verify_slice(tag).map_err(|_| invalid())?;
    let mut d = Dec::new(body);
    let parsed = (|| {
        if d.take(8)? != PREFIX.as_slice() || d.u8()? != VERSION {
            return None;
        }
        Some(IterToken {
            stream: d.string()?,
            stream_incarnation: d.u64()?,
            shard_index: d.u32()?,
            position: d.u64()?,
            issued_millis: d.u64()?,
        })
    })();
    match parsed {
        Some(t) if d.is_empty() => Ok(t),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tok() -> IterToken {
        IterToken {
            stream: "a".repeat(128),
            stream_incarnation: 1,
            shard_index: 2,
            position: 3,
            issued_millis: 4,
        }
    }

    #[test]
    fn round_trip_shape_and_tamper() {
        let key = [9u8; 32];
        let s = encode(&key, &tok());
        assert!(s.starts_with("AAAAAAAAAAE"));
        assert!(s.len() <= 512);
        assert_eq!(decode(&key, &s).unwrap(), tok());
        assert!(matches!(
            decode(&[8u8; 32], &s),
            Err(Error::InvalidArgument(_))
        ));
        let mut raw = STANDARD.decode(&s).unwrap();
        for i in 0..raw.len() {
            raw[i] ^= 1;
            let t = STANDARD.encode(&raw);
            assert!(matches!(decode(&key, &t), Err(Error::InvalidArgument(_))));
            raw[i] ^= 1;
        }
        assert!(decode(&key, "!!!").is_err());
        assert!(decode(&key, "").is_err());
    }
}
