//! Opaque pagination tokens (`NextToken` of ListShards, ListStreams and
//! ListStreamConsumers).
//!
//! A token is base64 of a small JSON document naming the operation it
//! belongs to, the stream, where the previous page stopped, any state the
//! next page needs (ListShards' filter) and when it was issued. Tokens live
//! 300 s; an older one is `ExpiredNextTokenException`, and anything that
//! does not decode as a token of the operation is
//! `InvalidArgumentException`. Clients must not look inside.

use base64::Engine as _;
use serde_json::{json, Value};

use crate::protocol::ApiError;

/// How long a token stays valid: 300 s.
pub(crate) const TOKEN_TTL_MILLIS: u64 = 300_000;

/// The longest token accepted (a guard against hostile input).
const MAX_TOKEN_CHARS: usize = 4096;

/// A decoded token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    /// The stream the listing is about (empty for ListStreams).
    pub stream: String,
    /// Where the previous page stopped (a shard id, stream name or count).
    pub after: String,
    /// Operation-specific state.
    pub extra: Value,
    /// When the token was issued, epoch milliseconds.
    pub issued_millis: u64,
}

/// Encodes a token for operation `kind`.
pub(crate) fn encode(kind: &str, token: &Token) -> String {
    let doc = json!({
        "v": 1,
        "k": kind,
        "s": token.stream,
        "a": token.after,
        "x": token.extra,
        "t": token.issued_millis,
    });
    base64::engine::general_purpose::STANDARD.encode(doc.to_string())
}

/// Decodes a token of operation `kind`, checking that it has not expired
/// at `now_millis`.
pub(crate) fn decode(kind: &str, text: &str, now_millis: u64) -> Result<Token, ApiError> {
    let invalid = || {
        ApiError::invalid_argument(format!(
            "Invalid NextToken. The token {} is not a valid pagination token for {kind}.",
            shorten(text)
        ))
    };
    if text.is_empty() || text.len() > MAX_TOKEN_CHARS {
        return Err(invalid());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| invalid())?;
    let doc: Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if doc["v"] != 1 || doc["k"] != kind {
        return Err(invalid());
    }
    let (Some(stream), Some(after), Some(issued_millis)) =
        (doc["s"].as_str(), doc["a"].as_str(), doc["t"].as_u64())
    else {
        return Err(invalid());
    };
    if now_millis > issued_millis.saturating_add(TOKEN_TTL_MILLIS) {
        return Err(ApiError::new(
            "ExpiredNextTokenException",
            format!(
                "The NextToken has expired: it was issued at {issued_millis} (epoch milliseconds) and tokens are valid for {} seconds.",
                TOKEN_TTL_MILLIS / 1000
            ),
        ));
    }
    Ok(Token {
        stream: stream.to_string(),
        after: after.to_string(),
        extra: doc["x"].clone(),
        issued_millis,
    })
}

/// At most the first 64 characters of a token, for messages.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(issued_millis: u64) -> Token {
        Token {
            stream: "s".into(),
            after: "shardId-000000000001".into(),
            extra: json!({"Type": "AT_LATEST"}),
            issued_millis,
        }
    }

    #[test]
    fn tokens_round_trip_and_are_opaque() {
        let t = token(1_000);
        let text = encode("ListShards", &t);
        assert!(!text.contains("shardId"), "{text}");
        assert_eq!(
            decode("ListShards", &text, 1_000 + TOKEN_TTL_MILLIS).unwrap(),
            t
        );
    }

    #[test]
    fn tokens_expire_after_300_seconds() {
        let text = encode("ListShards", &token(1_000));
        let e = decode("ListShards", &text, 1_001 + TOKEN_TTL_MILLIS).unwrap_err();
        assert_eq!(e.code, "ExpiredNextTokenException");
    }

    #[test]
    fn foreign_or_garbled_tokens_are_invalid_arguments() {
        let text = encode("ListStreams", &token(1_000));
        for bad in [text.as_str(), "", "!!!", "e30=", "bm90IGpzb24="] {
            let e = decode("ListShards", bad, 1_000).unwrap_err();
            assert_eq!(e.code, "InvalidArgumentException", "{bad}");
        }
        let long = "A".repeat(10_000);
        assert_eq!(
            decode("ListShards", &long, 0).unwrap_err().code,
            "InvalidArgumentException"
        );
    }
}
