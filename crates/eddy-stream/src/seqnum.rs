//! Kinesis sequence numbers in the 56-digit "version 2" layout.
//!
//! Real Kinesis sequence numbers are decimal renderings of a 47-hex-digit
//! value (reference §3.1, reverse-engineered by kinesalite and matching every
//! published real number):
//!
//! ```text
//! '2' | shardCreateEpochSecs (9 hex) | shardIndex & 0xF (1 hex) | seqIx (16 hex)
//!     | '00' | recordEpochSecs (9 hex) | shardIndex (8 hex) | '2'
//! ```
//!
//! eddy produces the same shape so clients that parse or sort sequence
//! numbers keep working. Within one shard the creation time and shard index
//! are constant, and `seqIx` sits above the record time, so numeric order is
//! `seqIx` order, which is commit order. The encoded shard index lets a number
//! used against the wrong shard be rejected.
//!
//! eddy numbers records of a shard from `seqIx` 1; `seqIx` 0 is the shard's
//! `StartingSequenceNumber`, strictly below every record of the shard.
//!
//! The conversion between the hex layout and decimal needs 188-bit integers;
//! a tiny limb-based routine does it (no big-number dependency).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

const MASK36: u64 = (1 << 36) - 1;
/// 32-bit limbs, least significant first; 6 × 32 = 192 bits ≥ 188.
const LIMBS: usize = 6;

/// A decoded Kinesis sequence number.
///
/// ```
/// use eddy_stream::SequenceNumber;
/// let s: SequenceNumber = "49600871682957036442365024926191073437251060580128653314".parse()?;
/// assert_eq!((s.shard_index, s.seq_ix, s.record_secs), (0, 0, 0x05db759cd));
/// assert_eq!(s.to_string(), "49600871682957036442365024926191073437251060580128653314");
/// # Ok::<(), eddy_stream::SequenceNumberError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SequenceNumber {
    /// Creation time of the shard, epoch seconds (36 bits).
    pub shard_created_secs: u64,
    /// Index of the shard (`shardId-<index>`).
    pub shard_index: u32,
    /// Per-shard counter: 0 is the shard's starting number, records from 1.
    pub seq_ix: u64,
    /// Arrival time of the record, epoch seconds (36 bits).
    pub record_secs: u64,
}

/// Why a string is not a sequence number of the version-2 layout.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid sequence number: {0}")]
pub struct SequenceNumberError(pub &'static str);

impl SequenceNumber {
    /// Build a number; times are truncated to the layout's 36 bits.
    pub fn new(shard_created_secs: u64, shard_index: u32, seq_ix: u64, record_secs: u64) -> Self {
        SequenceNumber {
            shard_created_secs: shard_created_secs & MASK36,
            shard_index,
            seq_ix,
            record_secs: record_secs & MASK36,
        }
    }

    fn key(&self) -> (u64, u32, u64, u64, u32) {
        (
            self.shard_created_secs,
            self.shard_index & 0xf,
            self.seq_ix,
            self.record_secs,
            self.shard_index,
        )
    }

    #[cfg(test)]
    fn to_hex(self) -> String {
        format!(
            "2{:09x}{:01x}{:016x}00{:09x}{:08x}2",
            self.shard_created_secs & MASK36,
            self.shard_index & 0xf,
            self.seq_ix,
            self.record_secs & MASK36,
            self.shard_index
        )
    }
}

impl Ord for SequenceNumber {
    /// Numeric order of the decimal values.
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for SequenceNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl SequenceNumber {
    /// The 188-bit value of the layout as (bits 128.., bits 0..128).
    fn value(&self) -> (u64, u128) {
        let low = 2
            | (u128::from(self.shard_index) << 4)
            | (u128::from(self.record_secs & MASK36) << 36)
            | (u128::from(self.seq_ix) << 80);
        let high = (self.seq_ix >> 48)
            | (u64::from(self.shard_index & 0xf) << 16)
            | ((self.shard_created_secs & MASK36) << 20)
            | (2 << 56);
        (high, low)
    }
}

impl fmt::Display for SequenceNumber {
    /// Renders the value in decimal. It runs for every record a
    /// `GetRecords` page returns, so instead of going through the hex text
    /// (about a microsecond) it divides once by 10^19 — the value is
    /// `high · 2^128 + low` with `high < 2^60 < 10^19`, so the quotient fits
    /// a `u128` — and lets the standard library print the two parts (about
    /// a tenth of that).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const CHUNK: u128 = 10_000_000_000_000_000_000; // 10^19
        let (high, low) = self.value();
        let mut rem = u128::from(high);
        let mut quotient = 0u128;
        for limb in [(low >> 64) as u64, low as u64] {
            let cur = (rem << 64) | u128::from(limb);
            quotient = (quotient << 64) | (cur / CHUNK);
            rem = cur % CHUNK;
        }
        // The leading '2' nibble makes the quotient non-zero.
        write!(f, "{quotient}{rem:019}")
    }
}

impl FromStr for SequenceNumber {
    type Err = SequenceNumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        if bytes.is_empty() || bytes.len() > 129 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(SequenceNumberError("not a decimal number"));
        }
        if bytes.len() > 1 && bytes[0] == b'0' {
            return Err(SequenceNumberError("leading zero"));
        }
        let limbs = decimal_to_limbs(bytes).ok_or(SequenceNumberError("too large"))?;
        let hex48: String = limbs.iter().rev().map(|l| format!("{l:08x}")).collect();
        let hex = hex48
            .strip_prefix('0')
            .ok_or(SequenceNumberError("too large"))?;
        let field = |a: usize, b: usize| {
            hex.get(a..b)
                .and_then(|h| u64::from_str_radix(h, 16).ok())
                .ok_or(SequenceNumberError("bad field"))
        };
        if hex.get(0..1) != Some("2") || hex.get(46..47) != Some("2") {
            return Err(SequenceNumberError("not a version 2 sequence number"));
        }
        if hex.get(27..29) != Some("00") {
            return Err(SequenceNumberError("reserved bits set"));
        }
        let shard_index =
            u32::try_from(field(38, 46)?).map_err(|_| SequenceNumberError("bad shard index"))?;
        if field(10, 11)? != u64::from(shard_index & 0xf) {
            return Err(SequenceNumberError("inconsistent shard index"));
        }
        Ok(SequenceNumber {
            shard_created_secs: field(1, 10)?,
            shard_index,
            seq_ix: field(11, 27)?,
            record_secs: field(29, 38)?,
        })
    }
}

#[cfg(test)]
fn hex_to_limbs(hex: &str) -> [u32; LIMBS] {
    let mut limbs = [0u32; LIMBS];
    for (i, c) in hex.bytes().rev().enumerate() {
        let d = u32::from(match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => 0,
        });
        if let Some(l) = limbs.get_mut(i / 8) {
            *l |= d << ((i % 8) * 4);
        }
    }
    limbs
}

#[cfg(test)]
fn limbs_to_decimal(mut limbs: [u32; LIMBS]) -> String {
    let mut chunks = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut rem = 0u64;
        for l in limbs.iter_mut().rev() {
            let cur = (rem << 32) | u64::from(*l);
            *l = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        chunks.push(rem);
    }
    match chunks.split_last() {
        None => "0".to_string(),
        Some((top, rest)) => {
            let mut s = top.to_string();
            for c in rest.iter().rev() {
                s.push_str(&format!("{c:09}"));
            }
            s
        }
    }
}

/// `None` if the value does not fit 192 bits.
fn decimal_to_limbs(digits: &[u8]) -> Option<[u32; LIMBS]> {
    let mut limbs = [0u32; LIMBS];
    for d in digits {
        let mut carry = u64::from(d - b'0');
        for l in limbs.iter_mut() {
            let cur = u64::from(*l) * 10 + carry;
            *l = cur as u32;
            carry = cur >> 32;
        }
        if carry != 0 {
            return None;
        }
    }
    Some(limbs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EXAMPLE: &str = "49600871682957036442365024926191073437251060580128653314";

    #[test]
    fn reference_example_decodes() {
        let s: SequenceNumber = EXAMPLE.parse().unwrap();
        assert_eq!(s.shard_index, 0);
        assert_eq!(s.seq_ix, 0);
        assert_eq!(s.record_secs, 0x05db759cd);
        assert_eq!(s.shard_created_secs, 0x05db759cd);
        let layout = [
            "2",
            "05db759cd",
            "0",
            "0000000000000000",
            "00",
            "05db759cd",
            "00000000",
            "2",
        ]
        .concat();
        assert_eq!(layout.len(), 47);
        assert_eq!(s.to_hex(), layout);
        assert_eq!(s.to_string(), EXAMPLE);
        assert_eq!(s.to_string().len(), 56);
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "0",
            "01",
            "abc",
            "12345",
            &"9".repeat(130),
            &"9".repeat(60),
        ] {
            assert!(bad.parse::<SequenceNumber>().is_err(), "{bad}");
        }
        // Inconsistent low nibble of the shard index.
        let good = SequenceNumber::new(5, 3, 7, 9).to_hex();
        let bad = format!("{}4{}", &good[..10], &good[11..]);
        let dec = limbs_to_decimal(hex_to_limbs(&bad));
        assert!(dec.parse::<SequenceNumber>().is_err());
    }

    proptest! {
        #[test]
        fn round_trip(c in 0u64..(1 << 36), i in any::<u32>(), q in any::<u64>(), r in 0u64..(1 << 36)) {
            let s = SequenceNumber::new(c, i, q, r);
            let text = s.to_string();
            prop_assert_eq!(text.parse::<SequenceNumber>().unwrap(), s);
            prop_assert_eq!(text.len(), 56);
            // The direct rendering equals the one through the hex layout.
            prop_assert_eq!(&text, &limbs_to_decimal(hex_to_limbs(&s.to_hex())));
        }

        #[test]
        fn numeric_order_is_seq_ix_order(c in 0u64..(1 << 36), i in any::<u32>(),
            a in any::<u64>(), b in any::<u64>(), ra in 0u64..(1 << 36), rb in 0u64..(1 << 36)) {
            let x = SequenceNumber::new(c, i, a, ra);
            let y = SequenceNumber::new(c, i, b, rb);
            if a != b {
                prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            }
            // The Ord impl agrees with the numeric order of the decimal strings.
            let (sx, sy) = (x.to_string(), y.to_string());
            let numeric = sx.len().cmp(&sy.len()).then_with(|| sx.cmp(&sy));
            prop_assert_eq!(x.cmp(&y), numeric);
        }
    }
}
