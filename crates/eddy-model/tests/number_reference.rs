//! eddy's exact decimal arithmetic against an independent arbitrary-precision
//! implementation (the `bigdecimal` crate): every sum and difference that
//! fits DynamoDB's 38 digits and range is equal, and every one that does not
//! is an error rather than a rounded value.

#![allow(clippy::unwrap_used)]

use std::str::FromStr;

use bigdecimal::BigDecimal;
use eddy_model::Number;
use proptest::prelude::*;

/// Digits and an exponent, rendered as `d.ddd…E±x` text.
fn number_text() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop::collection::vec(0u8..10, 1..38),
        -130i32..126,
    )
        .prop_map(|(neg, digits, exp)| {
            let mut s = String::new();
            if neg {
                s.push('-');
            }
            s.push(char::from(b'0' + digits[0]));
            s.push('.');
            s.extend(digits[1..].iter().map(|d| char::from(b'0' + d)));
            s.push_str(&format!("E{exp}"));
            s
        })
}

fn fits(value: &BigDecimal) -> bool {
    if value == &BigDecimal::from(0) {
        return true;
    }
    let normalized = value.normalized();
    let (digits, scale) = normalized.as_bigint_and_exponent();
    let digits = digits.to_string().trim_start_matches('-').len() as i64;
    // value = digits × 10^-scale; the leading digit's exponent:
    let leading = digits - 1 - scale;
    digits <= 38 && (-130..=125).contains(&leading)
}

fn check(a: &str, b: &str, subtract: bool) -> Result<(), TestCaseError> {
    let (Ok(x), Ok(y)) = (a.parse::<Number>(), b.parse::<Number>()) else {
        return Ok(()); // out of range inputs are tested elsewhere
    };
    let (bx, by) = (
        BigDecimal::from_str(a).unwrap(),
        BigDecimal::from_str(b).unwrap(),
    );
    let expected = if subtract { bx - by } else { bx + by };
    let got = if subtract {
        x.checked_sub(&y)
    } else {
        x.checked_add(&y)
    };
    match got {
        Ok(n) => {
            prop_assert!(
                fits(&expected),
                "{a} ± {b}: eddy gave {n}, but the exact result does not fit"
            );
            prop_assert_eq!(
                BigDecimal::from_str(&n.to_string()).unwrap(),
                expected.normalized()
            );
        }
        Err(_) => prop_assert!(
            !fits(&expected),
            "{a} ± {b}: eddy refused an exact result that fits: {expected}"
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn addition_matches_the_reference(a in number_text(), b in number_text()) {
        check(&a, &b, false)?;
    }

    #[test]
    fn subtraction_matches_the_reference(a in number_text(), b in number_text()) {
        check(&a, &b, true)?;
    }

    #[test]
    fn close_magnitudes_match_the_reference(a in number_text(), shift in -3i32..3) {
        // Operands of similar magnitude exercise carries and cancellation.
        let exp: i32 = a.rsplit('E').next().unwrap().parse().unwrap();
        let mantissa = a.rsplit_once('E').unwrap().0;
        let b = format!("{mantissa}E{}", (exp + shift).clamp(-130, 125));
        check(&a, &b, false)?;
        check(&a, &b, true)?;
    }
}
