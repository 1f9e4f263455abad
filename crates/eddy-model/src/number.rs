//! DynamoDB numbers: exact decimals of up to 38 significant digits.
//!
//! DynamoDB does not store numbers as binary floats. A number is a decimal of
//! at most 38 significant digits whose magnitude lies between 1E-130 and
//! 9.9999999999999999999999999999999999999E+125 (or is zero). Leading and
//! trailing zeros are not significant, so `1.0`, `1` and `0.1E1` are the same
//! number: they compare equal, hash equal and print the same canonical text.
//!
//! [`Number`] keeps the value normalised (significant digits without leading
//! or trailing zeros, a decimal exponent and a sign), which makes equality
//! structural, ordering cheap, and gives the canonical string for free. The
//! order-preserving byte encoding used by primary keys lives here too, next
//! to the representation it depends on.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The largest number of significant digits a DynamoDB number may have.
pub const MAX_SIGNIFICANT_DIGITS: usize = 38;

/// Smallest exponent `e` (value = 0.d₁d₂… × 10^e) of a non-zero number: 1E-130.
const MIN_EXPONENT: i32 = -129;
/// Largest exponent `e` (value = 0.d₁d₂… × 10^e) of a number: below 1E+126.
const MAX_EXPONENT: i32 = 126;

/// An exact DynamoDB number.
///
/// ```
/// use eddy_model::Number;
/// let a: Number = "1.50".parse().unwrap();
/// let b: Number = "15E-1".parse().unwrap();
/// assert_eq!(a, b);
/// assert_eq!(a.to_string(), "1.5");
/// assert!(a < "2".parse::<Number>().unwrap());
/// assert!("1E126".parse::<Number>().is_err()); // out of range
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    /// Significant digits (0..=9), no leading or trailing zeros; empty for zero.
    digits: Vec<u8>,
    /// The value is `0.d₁d₂…dₙ × 10^exponent`; 0 for zero.
    exponent: i32,
}

impl Number {
    /// The number zero.
    pub fn zero() -> Number {
        Number {
            negative: false,
            digits: Vec::new(),
            exponent: 0,
        }
    }

    /// Builds a number from its parts, normalising and validating them.
    ///
    /// `digits` are decimal digits (each 0..=9) and the value is
    /// `±0.d₁d₂…dₙ × 10^exponent`. Fails if a digit is out of range or the
    /// result breaks DynamoDB's precision or range rules.
    pub fn from_parts(negative: bool, digits: &[u8], exponent: i32) -> Result<Number> {
        if digits.iter().any(|d| *d > 9) {
            return Err(Error::InvalidNumber {
                text: format!("{digits:?}"),
                reason: "digit out of range".into(),
            });
        }
        let first = digits.iter().position(|d| *d != 0);
        let Some(first) = first else {
            return Ok(Number::zero());
        };
        let last = digits.iter().rposition(|d| *d != 0).unwrap_or(first);
        let significant = &digits[first..=last];
        let exponent = i64::from(exponent) - first as i64;
        // Out of range, the plain rendering could be billions of zeros
        // long (a hostile stored exponent): name such values in E notation.
        let text = || {
            if (i64::from(MIN_EXPONENT) - 2..=i64::from(MAX_EXPONENT) + 2).contains(&exponent) {
                render(negative, significant, exponent)
            } else {
                let digits: String = significant.iter().map(|d| char::from(b'0' + d)).collect();
                let sign = if negative { "-" } else { "" };
                format!("{sign}0.{digits}E{exponent}")
            }
        };
        if exponent > i64::from(MAX_EXPONENT) {
            return Err(Error::NumberOverflow { text: text() });
        }
        if exponent < i64::from(MIN_EXPONENT) {
            return Err(Error::NumberUnderflow { text: text() });
        }
        if significant.len() > MAX_SIGNIFICANT_DIGITS {
            return Err(Error::NumberPrecision { text: text() });
        }
        Ok(Number {
            negative,
            digits: significant.to_vec(),
            exponent: exponent as i32,
        })
    }

    /// Whether this number is zero.
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Whether this number is below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The significant digits, most significant first (empty for zero).
    pub fn digits(&self) -> &[u8] {
        &self.digits
    }

    /// The exponent `e` of the representation `0.d₁d₂… × 10^e` (0 for zero).
    pub fn exponent(&self) -> i32 {
        self.exponent
    }

    /// This number with its sign flipped.
    pub fn negated(&self) -> Number {
        let mut n = self.clone();
        if !n.is_zero() {
            n.negative = !n.negative;
        }
        n
    }

    /// The exact sum of two numbers.
    ///
    /// DynamoDB does not round: a sum that needs more than 38 significant
    /// digits or leaves the supported range is an error.
    ///
    /// ```
    /// use eddy_model::Number;
    /// let a: Number = "0.1".parse().unwrap();
    /// let b: Number = "0.2".parse().unwrap();
    /// assert_eq!(a.checked_add(&b).unwrap().to_string(), "0.3");
    /// ```
    pub fn checked_add(&self, other: &Number) -> Result<Number> {
        if self.is_zero() {
            return Ok(other.clone());
        }
        if other.is_zero() {
            return Ok(self.clone());
        }
        // Align both to integers scaled by 10^low, where low is the exponent
        // of the least significant digit of either operand.
        let low = self.low_exponent().min(other.low_exponent());
        let high = self.exponent.max(other.exponent);
        let width = (high - low) as usize + 1; // one spare digit for a carry
        let a = self.aligned(low, width);
        let b = other.aligned(low, width);
        let (negative, digits) = if self.negative == other.negative {
            (self.negative, add_digits(&a, &b))
        } else {
            match compare_digits(&a, &b) {
                Ordering::Equal => return Ok(Number::zero()),
                Ordering::Greater => (self.negative, sub_digits(&a, &b)),
                Ordering::Less => (other.negative, sub_digits(&b, &a)),
            }
        };
        // `digits` is an integer of `width` digits scaled by 10^low, so its
        // decimal point sits `width` digits above 10^low.
        Number::from_parts(negative, &digits, low + width as i32)
    }

    /// The exact difference `self - other` (see [`Number::checked_add`]).
    pub fn checked_sub(&self, other: &Number) -> Result<Number> {
        self.checked_add(&other.negated())
    }

    /// The size DynamoDB charges for this number, in bytes.
    ///
    /// One byte per two significant digits plus one, an extra byte when the
    /// digit count and the exponent are both even, and one for a minus sign;
    /// zero takes one byte.
    pub fn size(&self) -> usize {
        if self.is_zero() {
            return 1;
        }
        let d = self.digits.len();
        // The Big.js exponent: value = d₁.d₂… × 10^e.
        let big_e = self.exponent - 1;
        let even_extra = usize::from(d.is_multiple_of(2) && big_e % 2 == 0);
        1 + d.div_ceil(2) + even_extra + usize::from(self.negative)
    }

    /// The value as an `i64`, if it is an integer in range.
    pub fn to_i64(&self) -> Option<i64> {
        self.to_string().parse().ok()
    }

    /// The value as the nearest `f64` (lossy).
    pub fn to_f64(&self) -> f64 {
        self.to_string().parse().unwrap_or(f64::NAN)
    }

    /// Appends the order-preserving encoding of this number to `out`.
    ///
    /// Byte-wise comparison of two encodings gives the numeric order of the
    /// numbers, and no encoding is a prefix of another, so encodings can be
    /// concatenated into composite keys.
    pub fn encode_ordered(&self, out: &mut Vec<u8>) {
        if self.is_zero() {
            out.push(0x02);
            return;
        }
        // The biased exponent always fits in a u16: |exponent| <= 130.
        let biased = (self.exponent + 0x8000) as u16;
        if self.negative {
            out.push(0x01);
            out.extend_from_slice(&(!biased).to_be_bytes());
            out.extend(self.digits.iter().map(|d| 0xFE - d));
            out.push(0xFF);
        } else {
            out.push(0x03);
            out.extend_from_slice(&biased.to_be_bytes());
            out.extend(self.digits.iter().map(|d| d + 1));
            out.push(0x00);
        }
    }

    /// Exponent of the least significant digit's place (value of that place
    /// is 10^result).
    fn low_exponent(&self) -> i32 {
        self.exponent - self.digits.len() as i32
    }

    /// The digits as an integer scaled by 10^low, left-padded to `width`.
    fn aligned(&self, low: i32, width: usize) -> Vec<u8> {
        let mut out = vec![0u8; width];
        let trailing = (self.low_exponent() - low) as usize;
        let end = width - trailing;
        let start = end - self.digits.len();
        out[start..end].copy_from_slice(&self.digits);
        out
    }
}

fn compare_digits(a: &[u8], b: &[u8]) -> Ordering {
    a.cmp(b)
}

fn add_digits(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut carry = 0;
    for i in (0..a.len()).rev() {
        let s = a[i] + b[i] + carry;
        out[i] = s % 10;
        carry = s / 10;
    }
    out
}

fn sub_digits(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut borrow = 0i8;
    for i in (0..a.len()).rev() {
        let mut d = a[i] as i8 - b[i] as i8 - borrow;
        borrow = 0;
        if d < 0 {
            d += 10;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    out
}

/// Plain (non-scientific) decimal text of `±0.digits × 10^exponent`.
fn render(negative: bool, digits: &[u8], exponent: i64) -> String {
    let mut out = Vec::with_capacity(digits.len() + 8);
    render_into(negative, digits, exponent, &mut out);
    // Only ASCII digits, '-', '.' and '0' were written.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends the plain decimal text of `0.d₁d₂… × 10^exponent` (negated if
/// `negative`) to `out`, as ASCII.
fn render_into(negative: bool, digits: &[u8], exponent: i64, out: &mut Vec<u8>) {
    if digits.is_empty() {
        out.push(b'0');
        return;
    }
    if negative {
        out.push(b'-');
    }
    let n = digits.len() as i64;
    let ch = |d: &u8| b'0' + d;
    if exponent <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-exponent) as usize));
        out.extend(digits.iter().map(ch));
    } else if exponent < n {
        let split = exponent as usize;
        out.extend(digits[..split].iter().map(ch));
        out.push(b'.');
        out.extend(digits[split..].iter().map(ch));
    } else {
        out.extend(digits.iter().map(ch));
        out.extend(std::iter::repeat_n(b'0', (exponent - n) as usize));
    }
}

impl FromStr for Number {
    type Err = Error;

    /// Parses DynamoDB number text: an optional sign, digits with an optional
    /// decimal point, and an optional exponent (`1.5`, `-0.25`, `12e3`).
    fn from_str(text: &str) -> Result<Number> {
        let invalid = |reason: &str| Error::InvalidNumber {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        let bytes = text.as_bytes();
        let mut i = 0;
        let mut negative = false;
        if let Some(&c) = bytes.first() {
            if c == b'-' || c == b'+' {
                negative = c == b'-';
                i = 1;
            }
        }
        let mut digits = Vec::new();
        let mut point: Option<usize> = None;
        let mut saw_digit = false;
        while i < bytes.len() {
            match bytes[i] {
                c @ b'0'..=b'9' => {
                    saw_digit = true;
                    // Cap the stored digits: longer inputs only need to be
                    // classified, and trailing zeros are dropped later.
                    if digits.len() < 4096 {
                        digits.push(c - b'0');
                    } else if c != b'0' {
                        return Err(Error::NumberPrecision {
                            text: text.to_string(),
                        });
                    }
                }
                b'.' if point.is_none() => point = Some(digits.len()),
                b'e' | b'E' => break,
                _ => return Err(invalid("not a decimal number")),
            }
            i += 1;
        }
        if !saw_digit {
            return Err(invalid("no digits"));
        }
        let mut exp: i64 = 0;
        if i < bytes.len() {
            // bytes[i] is 'e' or 'E'.
            let rest = &text[i + 1..];
            if rest.is_empty() {
                return Err(invalid("empty exponent"));
            }
            let (sign, body) = match rest.as_bytes()[0] {
                b'-' => (-1i64, &rest[1..]),
                b'+' => (1i64, &rest[1..]),
                _ => (1i64, rest),
            };
            if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("malformed exponent"));
            }
            // Exponents beyond a few thousand are out of range anyway; clamp
            // so that absurd inputs cannot overflow.
            let magnitude: i64 = body.parse().unwrap_or(i64::MAX / 4).min(100_000);
            exp = sign * magnitude;
        }
        let int_len = point.unwrap_or(digits.len()) as i64;
        let exponent = (int_len + exp).clamp(-200_000, 200_000);
        Number::from_parts(negative, &digits, exponent as i32).map_err(|e| match e {
            Error::NumberPrecision { .. } => Error::NumberPrecision {
                text: text.to_string(),
            },
            Error::NumberOverflow { .. } => Error::NumberOverflow {
                text: text.to_string(),
            },
            Error::NumberUnderflow { .. } => Error::NumberUnderflow {
                text: text.to_string(),
            },
            other => other,
        })
    }
}

impl Number {
    /// Appends the canonical text (as [`Display`](fmt::Display) writes it)
    /// to `out`, without going through a formatter: the stream publisher
    /// writes every number of every record this way.
    ///
    /// ```
    /// use eddy_model::Number;
    /// let mut out = b"N=".to_vec();
    /// "-12.50".parse::<Number>()?.write_to(&mut out);
    /// assert_eq!(out, b"N=-12.5");
    /// # Ok::<(), eddy_model::Error>(())
    /// ```
    pub fn write_to(&self, out: &mut Vec<u8>) {
        render_into(self.negative, &self.digits, i64::from(self.exponent), out);
    }
}

impl fmt::Display for Number {
    /// The canonical text: plain decimal notation, no superfluous zeros.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render(
            self.negative,
            &self.digits,
            i64::from(self.exponent),
        ))
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({self})")
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        let sign = |n: &Number| {
            if n.is_zero() {
                0
            } else if n.negative {
                -1
            } else {
                1
            }
        };
        match sign(self).cmp(&sign(other)) {
            Ordering::Equal => {}
            unequal => return unequal,
        }
        let magnitude = self
            .exponent
            .cmp(&other.exponent)
            .then_with(|| self.digits.cmp(&other.digits));
        if self.negative {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

macro_rules! number_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Number {
            fn from(v: $t) -> Number {
                let text = v.to_string();
                let negative = text.starts_with('-');
                let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_digit).map(|b| b - b'0').collect();
                let exponent = digits.len() as i32;
                // Every integer of these widths has at most 20 digits, well
                // within DynamoDB's precision and range.
                Number::from_parts(negative, &digits, exponent).unwrap_or_else(|_| Number::zero())
            }
        }
    )*};
}
number_from_int!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(s: &str) -> Number {
        s.parse().unwrap()
    }

    #[test]
    fn canonical_text() {
        for (input, canonical) in [
            ("0", "0"),
            ("-0", "0"),
            ("0.000", "0"),
            ("1.0", "1"),
            ("01.50", "1.5"),
            ("1e2", "100"),
            ("1.5E-3", "0.0015"),
            ("-12.5", "-12.5"),
            (".5", "0.5"),
            ("5.", "5"),
            ("+7", "7"),
            (
                "123456789012345678901234567890.12345678",
                "123456789012345678901234567890.12345678",
            ),
        ] {
            assert_eq!(n(input).to_string(), canonical, "input {input}");
        }
    }

    #[test]
    fn extreme_exponents_are_refused_with_short_messages() {
        // A hostile stored exponent once made the error message render
        // two billion zeros (found by the `codec` fuzz target).
        for (exponent, overflow) in [(i32::MAX, true), (i32::MIN, false), (1_000, true)] {
            let err = Number::from_parts(true, &[1, 2], exponent).unwrap_err();
            let text = err.to_string();
            assert!(text.len() < 200, "{text}");
            assert!(text.contains("E"), "{text}");
            assert_eq!(
                matches!(err, Error::NumberOverflow { .. }),
                overflow,
                "{text}"
            );
        }
        assert!("1e2147483647".parse::<Number>().is_err());
        assert!("1e-2147483648".parse::<Number>().is_err());
    }

    #[test]
    fn numeric_equality_and_order() {
        assert_eq!(n("1.0"), n("1"));
        assert_eq!(n("100"), n("1E2"));
        assert!(n("-2") < n("-1.5"));
        assert!(n("-1.5") < n("0"));
        assert!(n("0") < n("0.0001"));
        assert!(n("9") < n("10"));
        assert!(n("1.2") < n("1.23"));
        assert!(n("-1.23") < n("-1.2"));
    }

    #[test]
    fn rejects_invalid_text() {
        for bad in [
            "", "-", ".", "abc", "1.2.3", "1e", "1e+", "NaN", "Infinity", " 1", "1 ", "0x10",
            "1e1.5",
        ] {
            assert!(
                matches!(bad.parse::<Number>(), Err(Error::InvalidNumber { .. })),
                "{bad:?} should be invalid"
            );
        }
    }

    #[test]
    fn range_and_precision_limits() {
        assert!(n("1E-130").to_string().ends_with('1'));
        assert!(matches!(
            "1E-131".parse::<Number>(),
            Err(Error::NumberUnderflow { .. })
        ));
        let max = "9.9999999999999999999999999999999999999E+125";
        assert!(max.parse::<Number>().is_ok());
        assert!(matches!(
            "1E126".parse::<Number>(),
            Err(Error::NumberOverflow { .. })
        ));
        let digits38 = "1".repeat(38);
        assert!(digits38.parse::<Number>().is_ok());
        let digits39 = "1".repeat(39);
        assert!(matches!(
            digits39.parse::<Number>(),
            Err(Error::NumberPrecision { .. })
        ));
        // Trailing zeros are not significant.
        assert!(format!("1{}", "0".repeat(100)).parse::<Number>().is_ok());
        assert!(format!("1.{}", "0".repeat(100)).parse::<Number>().is_ok());
        assert!(matches!(
            format!("1{}", "0".repeat(126)).parse::<Number>(),
            Err(Error::NumberOverflow { .. })
        ));
        // Huge exponents are classified, not overflowed.
        assert!(matches!(
            "1e99999999999999999999".parse::<Number>(),
            Err(Error::NumberOverflow { .. })
        ));
        assert!(matches!(
            "1e-99999999999999999999".parse::<Number>(),
            Err(Error::NumberUnderflow { .. })
        ));
    }

    #[test]
    fn sizes_follow_dynamodb_rules() {
        // 1 + ceil(d/2) + (d even && e even) + negative
        assert_eq!(n("0").size(), 1);
        assert_eq!(n("1").size(), 2);
        assert_eq!(n("-12.5").size(), 4);
        assert_eq!(n("100").size(), 2);
        // Big.js exponent e: value = d₁.d₂… × 10^e.
        assert_eq!(n("12").size(), 2); // d=2, e=1
        assert_eq!(n("123").size(), 3); // d=3, e=2
        assert_eq!(n("1234").size(), 3); // d=4, e=3
        assert_eq!(n("12.34").size(), 3); // d=4, e=1
        assert_eq!(n("1.2").size(), 3); // d=2, e=0: both even, one extra byte
        assert_eq!(n("-1.2").size(), 4);
    }

    #[test]
    fn addition_is_exact() {
        assert_eq!(n("0.1").checked_add(&n("0.2")).unwrap(), n("0.3"));
        assert_eq!(n("999").checked_add(&n("1")).unwrap(), n("1000"));
        assert_eq!(n("-5").checked_add(&n("3")).unwrap(), n("-2"));
        assert_eq!(n("5").checked_sub(&n("5")).unwrap(), n("0"));
        assert_eq!(n("1E100").checked_sub(&n("1E100")).unwrap(), n("0"));
        assert!(matches!(
            n("1E100").checked_add(&n("1")),
            Err(Error::NumberPrecision { .. })
        ));
        let max = n("9.9999999999999999999999999999999999999E+125");
        assert!(matches!(
            max.checked_add(&max),
            Err(Error::NumberOverflow { .. })
        ));
    }

    fn arb_number() -> impl Strategy<Value = Number> {
        (
            any::<bool>(),
            prop::collection::vec(0u8..10, 0..38),
            -100i32..100,
        )
            .prop_map(|(neg, digits, exp)| Number::from_parts(neg, &digits, exp).unwrap())
    }

    proptest! {
        #[test]
        fn text_round_trips(x in arb_number()) {
            prop_assert_eq!(x.to_string().parse::<Number>().unwrap(), x);
        }

        #[test]
        fn write_to_appends_the_display_text(x in arb_number(), prefix in "[a-z]{0,4}") {
            let mut out = prefix.clone().into_bytes();
            x.write_to(&mut out);
            prop_assert_eq!(out, format!("{prefix}{x}").into_bytes());
        }

        #[test]
        fn encoding_preserves_order(a in arb_number(), b in arb_number()) {
            let (mut ea, mut eb) = (Vec::new(), Vec::new());
            a.encode_ordered(&mut ea);
            b.encode_ordered(&mut eb);
            prop_assert_eq!(ea.cmp(&eb), a.cmp(&b));
        }

        #[test]
        fn order_matches_f64_when_far_apart(a in -1e9f64..1e9, b in -1e9f64..1e9) {
            prop_assume!((a - b).abs() > 1e-3);
            let na: Number = format!("{a}").parse().unwrap();
            let nb: Number = format!("{b}").parse().unwrap();
            prop_assert_eq!(na.cmp(&nb), a.partial_cmp(&b).unwrap());
        }

        #[test]
        fn addition_matches_integers(a in -1_000_000_000i64..1_000_000_000, b in -1_000_000_000i64..1_000_000_000) {
            let sum = Number::from(a).checked_add(&Number::from(b)).unwrap();
            prop_assert_eq!(sum, Number::from(a + b));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<Number>();
        }
    }
}
