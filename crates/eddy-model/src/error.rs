//! The model's one error type.
//!
//! Every variant is a reason DynamoDB would answer `ValidationException` (or,
//! for the codec, a sign of corrupt stored bytes). Messages name the
//! attribute and what is wrong with it, so the server can pass them through.

use thiserror::Error;

/// Everything that can go wrong while building, validating, parsing or
/// decoding items.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// The text is not a number at all.
    #[error("The parameter cannot be converted to a numeric value: {text} ({reason})")]
    InvalidNumber {
        /// The offending text.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// More than 38 significant digits.
    #[error("Attempting to store more than 38 significant digits in a Number: {text}")]
    NumberPrecision {
        /// The offending number.
        text: String,
    },
    /// Magnitude of 1E+126 or more.
    #[error("Number overflow. Attempting to store a number with magnitude larger than supported range: {text}")]
    NumberOverflow {
        /// The offending number.
        text: String,
    },
    /// Non-zero magnitude below 1E-130.
    #[error("Number underflow. Attempting to store a number with magnitude smaller than supported range: {text}")]
    NumberUnderflow {
        /// The offending number.
        text: String,
    },
    /// A value that breaks a rule of the item model (empty set, bad NULL,
    /// nesting too deep, empty attribute name, …).
    #[error("One or more parameter values were invalid: {0}")]
    InvalidValue(String),
    /// A key attribute is missing, has the wrong type, or is empty or too long.
    #[error("One or more parameter values were invalid: {0}")]
    InvalidKey(String),
    /// The item exceeds DynamoDB's 400 KB limit.
    #[error(
        "Item size has exceeded the maximum allowed size of {max} bytes (item is {size} bytes)"
    )]
    ItemTooLarge {
        /// The item's size by DynamoDB's rules.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A table name outside DynamoDB's rules.
    #[error("{0}")]
    InvalidTableName(String),
    /// A secondary index definition (or an item's index key value) outside
    /// DynamoDB's rules; the message is DynamoDB's, in full.
    #[error("{0}")]
    InvalidIndex(String),
    /// Malformed DynamoDB JSON.
    #[error("{0}")]
    Json(String),
    /// Stored bytes that do not decode: corruption or a format mismatch.
    #[error("cannot decode stored {what}: {reason}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
}

/// An error and its chain of sources on one line, `outer: inner: …`.
///
/// eddy's errors do not repeat their source in their own message (the
/// source is returned by [`source`](std::error::Error::source)), so this is
/// how to print one whole, for a log line or a command's output.
///
/// ```
/// use std::error::Error as _;
/// let io = std::io::Error::other("disk on fire");
/// #[derive(Debug, thiserror::Error)]
/// #[error("writing the segment")]
/// struct Write(#[source] std::io::Error);
/// assert_eq!(eddy_model::error_chain(&Write(io)), "writing the segment: disk on fire");
/// ```
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The model's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
