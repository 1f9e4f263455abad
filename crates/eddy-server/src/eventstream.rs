//! The AWS event-stream framing SubscribeToShard answers with.
//!
//! A message is `[total length u32][headers length u32][prelude crc32]
//! [headers][payload][message crc32]`, big-endian, where the prelude crc
//! covers the first 8 bytes and the message crc everything before it
//! (IEEE CRC-32). A header is `[name length u8][name][type u8][value]`;
//! eddy writes string headers (type 7, `[length u16][utf-8]`) only, and
//! reads all ten types.
//!
//! The first message of a subscription is the `initial-response` event;
//! botocore refuses a stream that starts otherwise.

use bytes::{BufMut as _, Bytes, BytesMut};

/// Bytes before the headers: two lengths and the prelude crc.
const PRELUDE: usize = 12;
/// The largest message accepted when decoding (AWS's limit is 16 MiB).
pub const MAX_MESSAGE: usize = 16 << 20;

/// Encodes one message with string headers.
///
/// ```
/// use eddy_server::eventstream::{encode, decode};
/// let frame = encode(&[(":message-type", "event"), (":event-type", "initial-response")], b"{}");
/// let (message, used) = decode(&frame).unwrap().unwrap();
/// assert_eq!(used, frame.len());
/// assert_eq!(message.header(":event-type"), Some("initial-response"));
/// assert_eq!(message.payload, b"{}");
/// ```
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    let mut header_bytes = BytesMut::new();
    for (name, value) in headers {
        let name = &name.as_bytes()[..name.len().min(255)];
        let value = &value.as_bytes()[..value.len().min(u16::MAX as usize)];
        header_bytes.put_u8(name.len() as u8);
        header_bytes.put_slice(name);
        header_bytes.put_u8(7);
        header_bytes.put_u16(value.len() as u16);
        header_bytes.put_slice(value);
    }
    let total = PRELUDE + header_bytes.len() + payload.len() + 4;
    let mut out = BytesMut::with_capacity(total);
    out.put_u32(total as u32);
    out.put_u32(header_bytes.len() as u32);
    let prelude_crc = crc32fast::hash(&out[..8]);
    out.put_u32(prelude_crc);
    out.put_slice(&header_bytes);
    out.put_slice(payload);
    let message_crc = crc32fast::hash(&out);
    out.put_u32(message_crc);
    out.freeze()
}

/// An event (`:message-type=event`) of the given type.
pub fn event(event_type: &str, content_type: &str, payload: &[u8]) -> Bytes {
    encode(
        &[
            (":message-type", "event"),
            (":event-type", event_type),
            (":content-type", content_type),
        ],
        payload,
    )
}

/// A modeled exception (`:message-type=exception`), e.g.
/// `ResourceInUseException`, with a `{"message": ...}` payload.
pub fn exception(exception_type: &str, content_type: &str, payload: &[u8]) -> Bytes {
    encode(
        &[
            (":message-type", "exception"),
            (":exception-type", exception_type),
            (":content-type", content_type),
        ],
        payload,
    )
}

/// A decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Headers in order; non-string values are rendered as text.
    pub headers: Vec<(String, String)>,
    /// The payload.
    pub payload: Vec<u8>,
}

impl Message {
    /// The value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A length field is impossible.
    #[error("bad length: {0}")]
    Length(&'static str),
    /// A checksum does not match.
    #[error("{0} crc mismatch")]
    Crc(&'static str),
    /// A header is malformed.
    #[error("bad header: {0}")]
    Header(&'static str),
}

/// Decodes the message at the start of `buf`: `Ok(None)` if `buf` holds
/// only part of it, else the message and the bytes it used.
pub fn decode(buf: &[u8]) -> Result<Option<(Message, usize)>, FrameError> {
    if buf.len() < PRELUDE {
        return Ok(None);
    }
    let u32_at = |i: usize| u32::from_be_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
    let total = u32_at(0) as usize;
    let headers_len = u32_at(4) as usize;
    if crc32fast::hash(&buf[..8]) != u32_at(8) {
        return Err(FrameError::Crc("prelude"));
    }
    if !(PRELUDE + 4..=MAX_MESSAGE).contains(&total) || headers_len > total - PRELUDE - 4 {
        return Err(FrameError::Length("total or headers length"));
    }
    if buf.len() < total {
        return Ok(None);
    }
    if crc32fast::hash(&buf[..total - 4]) != u32_at(total - 4) {
        return Err(FrameError::Crc("message"));
    }
    let headers = decode_headers(&buf[PRELUDE..PRELUDE + headers_len])?;
    let payload = buf[PRELUDE + headers_len..total - 4].to_vec();
    Ok(Some((Message { headers, payload }, total)))
}

fn decode_headers(mut buf: &[u8]) -> Result<Vec<(String, String)>, FrameError> {
    let mut out = Vec::new();
    fn take<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8], FrameError> {
        if buf.len() < n {
            return Err(FrameError::Header("truncated"));
        }
        let (head, tail) = buf.split_at(n);
        *buf = tail;
        Ok(head)
    }
    while !buf.is_empty() {
        let name_len = take(&mut buf, 1)?[0] as usize;
        let name = String::from_utf8_lossy(take(&mut buf, name_len)?).into_owned();
        let kind = take(&mut buf, 1)?[0];
        let value = match kind {
            0 => "true".to_string(),
            1 => "false".to_string(),
            2 => (take(&mut buf, 1)?[0] as i8).to_string(),
            3 => {
                let b = take(&mut buf, 2)?;
                i16::from_be_bytes([b[0], b[1]]).to_string()
            }
            4 => {
                let b = take(&mut buf, 4)?;
                i32::from_be_bytes([b[0], b[1], b[2], b[3]]).to_string()
            }
            5 | 8 => {
                let b = take(&mut buf, 8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                i64::from_be_bytes(a).to_string()
            }
            6 | 7 => {
                let b = take(&mut buf, 2)?;
                let len = u16::from_be_bytes([b[0], b[1]]) as usize;
                String::from_utf8_lossy(take(&mut buf, len)?).into_owned()
            }
            9 => {
                let b = take(&mut buf, 16)?;
                b.iter().map(|x| format!("{x:02x}")).collect()
            }
            _ => return Err(FrameError::Header("unknown value type")),
        };
        out.push((name, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_report_partial_input() {
        let a = event("initial-response", "application/json", b"{}");
        let b = event(
            "SubscribeToShardEvent",
            "application/json",
            br#"{"Records":[]}"#,
        );
        let mut both = a.to_vec();
        both.extend_from_slice(&b);
        let (first, used) = decode(&both).unwrap().unwrap();
        assert_eq!(first.header(":message-type"), Some("event"));
        assert_eq!(first.header(":event-type"), Some("initial-response"));
        let (second, used2) = decode(&both[used..]).unwrap().unwrap();
        assert_eq!(second.payload, br#"{"Records":[]}"#);
        assert_eq!(used + used2, both.len());
        assert_eq!(decode(&both[..used - 1]).unwrap(), None);
        assert_eq!(decode(&both[..5]).unwrap(), None);
    }

    #[test]
    fn damaged_frames_fail_their_checksums() {
        let frame = exception(
            "ResourceInUseException",
            "application/json",
            br#"{"message":"x"}"#,
        );
        let mut bad = frame.to_vec();
        bad[20] ^= 1;
        assert_eq!(decode(&bad), Err(FrameError::Crc("message")));
        let mut bad = frame.to_vec();
        bad[1] ^= 1;
        assert_eq!(decode(&bad), Err(FrameError::Crc("prelude")));
    }

    #[test]
    fn the_layout_matches_the_reference() {
        let frame = encode(&[("a", "b")], b"xy");
        // 12 prelude + (1 + 1 + 1 + 2 + 1) headers + 2 payload + 4 crc.
        assert_eq!(frame.len(), 24);
        assert_eq!(&frame[..4], &24u32.to_be_bytes());
        assert_eq!(&frame[4..8], &6u32.to_be_bytes());
        assert_eq!(&frame[12..18], &[1, b'a', 7, 0, 1, b'b']);
    }
}
