//! eddy-server's request decoders: CBOR bodies, event-stream frames and
//! SigV4 `Authorization` checking. Shared by
//! `fuzz/fuzz_targets/server_bodies.rs` and
//! `crates/eddy-server/tests/fuzz_corpus.rs` (via `#[path]`).
//!
//! Input: a mode byte, then
//!
//! * mode 0, a CBOR body: what `decode_request` accepts, `encode_response`
//!   encodes to CBOR that decodes to the same JSON, except for members whose
//!   name ends in `Timestamp` (answers write them as milliseconds, requests
//!   read only `Timestamp` and `StreamCreationTimestamp` back, to the
//!   millisecond);
//! * mode 1, an event-stream buffer: a decoded message uses at most the
//!   buffer, every shorter prefix of it is "need more bytes", and the
//!   message re-encoded (all headers as strings) decodes to itself;
//! * mode 2, a request head: the first line is the URI, the others
//!   `name: value` headers (the body follows a blank line); checked with and
//!   without credentials;
//! * mode 3, headers to sign: lines `name: value`, signed with
//!   `sign_request` and checked with the same credentials; the check must
//!   pass.
//!
//! Nothing may panic.

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use eddy_server::{auth, cbor, eventstream, Credentials, ServerConfig};
use serde_json::Value;
use std::time::Duration;

/// Run every check on one input; true if the body decoded or the request
/// passed the check.
pub fn check(data: &[u8]) -> bool {
    let Some((&mode, rest)) = data.split_first() else {
        return false;
    };
    match mode % 4 {
        0 => cbor_checks(rest),
        1 => eventstream_checks(rest),
        2 => auth_checks(rest),
        _ => sign_checks(rest),
    }
}

fn cbor_checks(body: &[u8]) -> bool {
    let Ok(json) = cbor::decode_request(body) else {
        return false;
    };
    let again = cbor::decode_request(&cbor::encode_response(&json))
        .expect("an encoded answer decodes as a request");
    same_json(&json, &again, None);
    true
}

/// `b` is `a` after one CBOR round trip.
fn same_json(a: &Value, b: &Value, key: Option<&str>) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if key.is_some_and(|k| k.ends_with("Timestamp")) => {
            if matches!(key, Some("Timestamp" | "StreamCreationTimestamp")) {
                // Seconds in, whole milliseconds out.
                let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                let millis = (x * 1000.0).round() as i64 as f64;
                assert!(
                    y == millis / 1000.0,
                    "timestamp {x} came back as {y}, not {millis} ms"
                );
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len());
            for (x, y) in x.iter().zip(y) {
                same_json(x, y, None);
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.len(), y.len());
            for ((kx, x), (ky, y)) in x.iter().zip(y) {
                assert_eq!(kx, ky);
                same_json(x, y, Some(kx));
            }
        }
        _ => assert_eq!(a, b, "member {key:?} changed in a CBOR round trip"),
    }
}

fn eventstream_checks(buf: &[u8]) -> bool {
    let Ok(Some((message, used))) = eventstream::decode(buf) else {
        return false;
    };
    assert!(used <= buf.len());
    for cut in [used - 1, used / 2, 12] {
        if cut < used {
            assert_eq!(eventstream::decode(&buf[..cut]), Ok(None), "prefix {cut}");
        }
    }
    let fits = message
        .headers
        .iter()
        .all(|(n, v)| n.len() <= 255 && v.len() <= usize::from(u16::MAX));
    let size: usize = 16
        + message.payload.len()
        + message
            .headers
            .iter()
            .map(|(n, v)| 4 + n.len() + v.len())
            .sum::<usize>();
    if fits && size <= eventstream::MAX_MESSAGE {
        let headers: Vec<(&str, &str)> = message
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let frame = eventstream::encode(&headers, &message.payload);
        let (back, n) = eventstream::decode(&frame)
            .expect("re-encoded message decodes")
            .expect("re-encoded message is complete");
        assert_eq!(n, frame.len());
        assert_eq!(back, message);
    }
    true
}

fn verifying() -> ServerConfig {
    ServerConfig {
        credentials: Some(Credentials::from_pairs([("AKID", "secret")])),
        // Any X-Amz-Date passes the clock check, so signing is reached.
        max_clock_skew: Duration::from_secs(300 * 365 * 86_400),
        ..ServerConfig::default()
    }
}

/// `name: value` lines into pairs (lines without a colon are names with
/// an empty value).
fn pairs(text: &[u8]) -> Vec<(&[u8], &[u8])> {
    text.split(|&b| b == b'\n')
        .map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            match line.iter().position(|&b| b == b':') {
                Some(i) => (&line[..i], line[i + 1..].trim_ascii_start()),
                None => (line, &[][..]),
            }
        })
        .collect()
}

fn auth_checks(rest: &[u8]) -> bool {
    let (head, body) = match rest.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => (rest, &[][..]),
    };
    let (uri_line, header_lines) = match head.iter().position(|&b| b == b'\n') {
        Some(i) => (&head[..i], &head[i + 1..]),
        None => (head, &[][..]),
    };
    let uri = Uri::try_from(uri_line).unwrap_or_else(|_| Uri::from_static("/"));
    let mut headers = HeaderMap::new();
    for (name, value) in pairs(header_lines) {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            headers.append(n, v);
        }
    }
    let open = auth::check(
        &ServerConfig::default(),
        &Method::POST,
        &uri,
        &headers,
        body,
    )
    .is_ok();
    let verified = auth::check(&verifying(), &Method::POST, &uri, &headers, body).is_ok();
    open || verified
}

fn sign_checks(rest: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(rest) else {
        return false;
    };
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut signed: Vec<(String, String)> = vec![("x-amz-date".into(), "20240102T030405Z".into())];
    for (name, value) in pairs(head.as_bytes()) {
        let (Ok(name), Ok(value)) = (std::str::from_utf8(name), std::str::from_utf8(value)) else {
            continue;
        };
        // SigV4 canonical values are trimmed with inner spaces collapsed;
        // `sign_request` only trims, so keep to values where both agree.
        let collapsed = value.split_whitespace().collect::<Vec<_>>().join(" ");
        let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        if header.as_str() != name
            || HeaderValue::from_str(value).is_err()
            || value.trim() != collapsed
            || matches!(
                name,
                "authorization" | "x-amz-date" | "x-amz-content-sha256"
            )
            || signed.iter().any(|(n, _)| n == name)
        {
            continue;
        }
        signed.push((name.to_string(), value.to_string()));
    }
    let refs: Vec<(&str, &str)> = signed
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let authorization = auth::sign_request(
        "AKID",
        "secret",
        "us-east-1",
        "kinesis",
        &refs,
        body.as_bytes(),
    );
    let mut headers = HeaderMap::new();
    for (n, v) in &refs {
        headers.append(
            HeaderName::from_bytes(n.as_bytes()).expect("checked name"),
            HeaderValue::from_str(v).expect("checked value"),
        );
    }
    headers.insert(
        "authorization",
        HeaderValue::from_str(&authorization).expect("signature header"),
    );
    let uri = Uri::from_static("/");
    if let Err(e) = auth::check(&verifying(), &Method::POST, &uri, &headers, body.as_bytes()) {
        panic!("a request signed by sign_request fails verification: {e:?} (headers {signed:?})");
    }
    true
}
