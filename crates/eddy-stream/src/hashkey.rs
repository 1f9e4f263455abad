//! The 128-bit hash key space and how records and shards map onto it.
//!
//! A record's hash key is `MD5(UTF-8 partition key)` read as a big-endian
//! `u128`, or its `ExplicitHashKey` (a decimal string in `[0, 2^128-1]`). A
//! stream's open shards partition the space into contiguous inclusive ranges;
//! the record goes to the open shard whose range contains its key.
//!
//! The initial even split follows reference §3.1 exactly: shard `i` covers
//! `[i·q, (i+1)·q − 1]` with `q = floor(2^128 / N)`, and the last shard ends
//! at `2^128 − 1`.

use crate::error::{Error, Result};
use md5::{Digest, Md5};

/// An inclusive range of hash keys owned by one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HashKeyRange {
    /// First hash key of the range.
    pub starting_hash_key: u128,
    /// Last hash key of the range (inclusive).
    pub ending_hash_key: u128,
}

impl HashKeyRange {
    /// Whether `key` lies in the range.
    pub fn contains(&self, key: u128) -> bool {
        self.starting_hash_key <= key && key <= self.ending_hash_key
    }

    /// Whether the two ranges share at least one key.
    pub fn overlaps(&self, other: &HashKeyRange) -> bool {
        self.starting_hash_key <= other.ending_hash_key
            && other.starting_hash_key <= self.ending_hash_key
    }
}

/// `MD5(partition_key)` as a big-endian unsigned 128-bit integer.
///
/// ```
/// // MD5("") = d41d8cd98f00b204e9800998ecf8427e
/// assert_eq!(eddy_stream::partition_key_hash(""), 0xd41d8cd98f00b204e9800998ecf8427e);
/// ```
pub fn partition_key_hash(partition_key: &str) -> u128 {
    let digest = Md5::digest(partition_key.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest);
    u128::from_be_bytes(bytes)
}

/// Parse a decimal hash key (`ExplicitHashKey`, `NewStartingHashKey`).
///
/// A string not matching `0|([1-9]\d{0,38})` is a `ValidationException`
/// naming `member`; a well-formed value above `2^128 − 1` is `None`, which
/// callers turn into their operation's `InvalidArgumentException`.
pub(crate) fn parse_hash_key(text: &str, member: &str) -> Result<Option<u128>> {
    let b = text.as_bytes();
    let well_formed = !b.is_empty()
        && b.len() <= 39
        && b.iter().all(u8::is_ascii_digit)
        && (b.len() == 1 || b[0] != b'0');
    if !well_formed {
        return Err(Error::validation(
            text,
            member,
            "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})",
        ));
    }
    Ok(text.parse::<u128>().ok())
}

/// The even split of the hash key space into `n` ranges (`n ≥ 1`).
///
/// ```
/// let r = eddy_stream::even_split(3);
/// assert_eq!(r[1].starting_hash_key, 113427455640312821154458202477256070485);
/// assert_eq!(r[2].ending_hash_key, u128::MAX);
/// ```
pub fn even_split(n: u32) -> Vec<HashKeyRange> {
    if n <= 1 {
        return vec![HashKeyRange {
            starting_hash_key: 0,
            ending_hash_key: u128::MAX,
        }];
    }
    let n128 = u128::from(n);
    // floor(2^128 / n) = floor((2^128 - 1) / n) + [ (2^128 - 1) mod n == n - 1 ]
    let q = u128::MAX / n128 + u128::from(u128::MAX % n128 == n128 - 1);
    (0..n128)
        .map(|i| HashKeyRange {
            starting_hash_key: i.wrapping_mul(q),
            ending_hash_key: if i + 1 == n128 {
                u128::MAX
            } else {
                (i + 1) * q - 1
            },
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn three_way_split_matches_reference() {
        let r = even_split(3);
        let expect = [
            (0u128, 113427455640312821154458202477256070484u128),
            (
                113427455640312821154458202477256070485,
                226854911280625642308916404954512140969,
            ),
            (
                226854911280625642308916404954512140970,
                340282366920938463463374607431768211455,
            ),
        ];
        for (got, (s, e)) in r.iter().zip(expect) {
            assert_eq!((got.starting_hash_key, got.ending_hash_key), (s, e));
        }
    }

    #[test]
    fn splits_are_contiguous_and_cover_everything() {
        for n in [1u32, 2, 3, 4, 5, 7, 8, 16, 100, 1000] {
            let r = even_split(n);
            assert_eq!(r.len(), n as usize);
            assert_eq!(r[0].starting_hash_key, 0);
            assert_eq!(r[r.len() - 1].ending_hash_key, u128::MAX);
            for w in r.windows(2) {
                assert_eq!(w[0].ending_hash_key + 1, w[1].starting_hash_key);
            }
        }
        // Power of two: q = 2^128 / 4 exactly.
        assert_eq!(even_split(4)[1].starting_hash_key, 1u128 << 126);
    }

    #[test]
    fn md5_routing_key() {
        // MD5("a") = 0cc175b9c0f1b6a831c399e269772661
        assert_eq!(partition_key_hash("a"), 0x0cc175b9c0f1b6a831c399e269772661);
    }

    #[test]
    fn explicit_hash_key_parsing() {
        assert_eq!(parse_hash_key("0", "m").unwrap(), Some(0));
        assert_eq!(
            parse_hash_key("340282366920938463463374607431768211455", "m").unwrap(),
            Some(u128::MAX)
        );
        assert_eq!(
            parse_hash_key("340282366920938463463374607431768211456", "m").unwrap(),
            None
        );
        for bad in ["", "01", "-1", "1a", &"1".repeat(40)] {
            assert!(matches!(
                parse_hash_key(bad, "m"),
                Err(Error::Validation(_))
            ));
        }
    }
}
