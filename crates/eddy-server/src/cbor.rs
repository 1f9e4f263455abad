//! CBOR bodies for Kinesis (`application/x-amz-cbor-1.1`), which the Java
//! SDKs, and so the Kinesis Client Library and Producer Library, send by
//! default.
//!
//! The operations are written once, against JSON values; this module maps
//! CBOR onto that JSON and back. The two encodings differ in two places:
//!
//! * blobs (`Data`) are CBOR byte strings, where JSON has base64 text;
//! * timestamps are epoch **milliseconds** (the SDKs write CBOR tag 1
//!   followed by an integer), where JSON has epoch seconds with a fraction.
//!
//! Requests: byte strings become base64 text, and the timestamp members
//! (`Timestamp`, `StreamCreationTimestamp`), tagged or not, integer or
//! float, become seconds. Answers: `Data` becomes a byte string and every
//! member whose name ends in `Timestamp` becomes tag 1 with integer
//! milliseconds, as the SDKs themselves write timestamps.

use base64::Engine as _;
use ciborium::value::{Integer, Value as Cbor};
use serde_json::{Map, Number, Value};

/// Members of Kinesis inputs that are timestamps.
const REQUEST_TIMESTAMPS: &[&str] = &["Timestamp", "StreamCreationTimestamp"];

/// The deepest nesting accepted in a request (Kinesis inputs nest three
/// levels at most; this only bounds hostile input).
const MAX_DEPTH: usize = 32;

/// Decodes a CBOR request body into the JSON value the operations read.
///
/// ```
/// // {"StreamName": "s", "Data": h'68 69'}
/// let body = [0xa2, 0x6a, b'S', b't', b'r', b'e', b'a', b'm', b'N', b'a', b'm', b'e', 0x61, b's',
///             0x64, b'D', b'a', b't', b'a', 0x42, b'h', b'i'];
/// let json = eddy_server::cbor::decode_request(&body).unwrap();
/// assert_eq!(json, serde_json::json!({"StreamName": "s", "Data": "aGk="}));
/// ```
pub fn decode_request(bytes: &[u8]) -> Result<Value, String> {
    let value: Cbor = ciborium::de::from_reader_with_recursion_limit(bytes, MAX_DEPTH * 2)
        .map_err(|e| e.to_string())?;
    to_json(value, false, 0)
}

fn to_json(value: Cbor, timestamp: bool, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("nesting too deep".into());
    }
    Ok(match value {
        Cbor::Null => Value::Null,
        Cbor::Bool(b) => Value::Bool(b),
        Cbor::Text(s) => Value::String(s),
        Cbor::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Cbor::Integer(i) => {
            let n = i128::from(i);
            if timestamp {
                millis_to_seconds(n as f64)?
            } else if let Ok(v) = i64::try_from(n) {
                Value::Number(v.into())
            } else if let Ok(v) = u64::try_from(n) {
                Value::Number(v.into())
            } else {
                return Err("integer out of range".into());
            }
        }
        Cbor::Float(f) => {
            if timestamp {
                millis_to_seconds(f)?
            } else {
                Value::Number(Number::from_f64(f).ok_or("non-finite number")?)
            }
        }
        Cbor::Tag(_, inner) => to_json(*inner, timestamp, depth + 1)?,
        Cbor::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| to_json(v, false, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Cbor::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let Cbor::Text(key) = k else {
                    return Err("map keys must be text".into());
                };
                let is_ts = REQUEST_TIMESTAMPS.contains(&key.as_str());
                map.insert(key, to_json(v, is_ts, depth + 1)?);
            }
            Value::Object(map)
        }
        _ => return Err("unsupported CBOR value".into()),
    })
}

fn millis_to_seconds(millis: f64) -> Result<Value, String> {
    Number::from_f64(millis / 1000.0)
        .map(Value::Number)
        .ok_or_else(|| "timestamp is not a finite number".to_string())
}

/// Encodes an answer (or error body) given as JSON into CBOR.
///
/// ```
/// let json = serde_json::json!({"Records": [{"Data": "aGk=", "ApproximateArrivalTimestamp": 1.5}]});
/// let cbor = eddy_server::cbor::encode_response(&json);
/// let back = eddy_server::cbor::decode_request(&cbor).unwrap();
/// // Data came back as bytes (base64 again after decoding); the timestamp as tagged millis.
/// assert_eq!(back["Records"][0]["Data"], "aGk=");
/// assert_eq!(back["Records"][0]["ApproximateArrivalTimestamp"], 1500);
/// ```
pub fn encode_response(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = ciborium::ser::into_writer(&from_json(value, None), &mut out);
    out
}

fn from_json(value: &Value, key: Option<&str>) -> Cbor {
    match value {
        Value::Null => Cbor::Null,
        Value::Bool(b) => Cbor::Bool(*b),
        Value::String(s) => {
            if key == Some("Data") {
                if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(s) {
                    return Cbor::Bytes(bytes);
                }
            }
            Cbor::Text(s.clone())
        }
        Value::Number(n) => {
            if key.is_some_and(|k| k.ends_with("Timestamp")) {
                if let Some(secs) = n.as_f64() {
                    let millis = (secs * 1000.0).round() as i64;
                    return Cbor::Tag(1, Box::new(Cbor::Integer(Integer::from(millis))));
                }
            }
            if let Some(i) = n.as_i64() {
                Cbor::Integer(Integer::from(i))
            } else if let Some(u) = n.as_u64() {
                Cbor::Integer(Integer::from(u))
            } else {
                Cbor::Float(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::Array(items) => Cbor::Array(items.iter().map(|v| from_json(v, None)).collect()),
        Value::Object(map) => Cbor::Map(
            map.iter()
                .map(|(k, v)| (Cbor::Text(k.clone()), from_json(v, Some(k))))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cbor(value: &Cbor) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(value, &mut out).unwrap();
        out
    }

    #[test]
    fn request_timestamps_in_millis_become_seconds_tagged_or_not() {
        let body = Cbor::Map(vec![
            (Cbor::Text("StreamName".into()), Cbor::Text("s".into())),
            (
                Cbor::Text("Timestamp".into()),
                Cbor::Tag(1, Box::new(Cbor::Integer(1_700_000_000_123i64.into()))),
            ),
            (
                Cbor::Text("StreamCreationTimestamp".into()),
                Cbor::Float(1_700_000_000_500.0),
            ),
            (Cbor::Text("Limit".into()), Cbor::Integer(10.into())),
        ]);
        let json = decode_request(&cbor(&body)).unwrap();
        assert_eq!(json["StreamName"], "s");
        assert_eq!(json["Timestamp"].as_f64().unwrap(), 1_700_000_000.123);
        assert_eq!(
            json["StreamCreationTimestamp"].as_f64().unwrap(),
            1_700_000_000.5
        );
        assert_eq!(json["Limit"], 10);
    }

    #[test]
    fn answers_carry_bytes_and_tagged_millis() {
        let json = json!({"Records": [{"Data": "AAEC", "PartitionKey": "k",
            "ApproximateArrivalTimestamp": 1_700_000_000.25, "SequenceNumber": "49"}],
            "MillisBehindLatest": 0});
        let bytes = encode_response(&json);
        let value: Cbor = ciborium::de::from_reader(&bytes[..]).unwrap();
        let Cbor::Map(top) = value else {
            panic!("not a map")
        };
        let records = &top
            .iter()
            .find(|(k, _)| k == &Cbor::Text("Records".into()))
            .unwrap()
            .1;
        let Cbor::Array(records) = records else {
            panic!()
        };
        let Cbor::Map(record) = &records[0] else {
            panic!()
        };
        let get = |name: &str| {
            &record
                .iter()
                .find(|(k, _)| k == &Cbor::Text(name.into()))
                .unwrap()
                .1
        };
        assert_eq!(get("Data"), &Cbor::Bytes(vec![0, 1, 2]));
        assert_eq!(
            get("ApproximateArrivalTimestamp"),
            &Cbor::Tag(1, Box::new(Cbor::Integer(1_700_000_000_250i64.into())))
        );
        assert_eq!(get("SequenceNumber"), &Cbor::Text("49".into()));
    }

    #[test]
    fn hostile_bodies_are_errors_not_panics() {
        assert!(decode_request(&[0xff, 0x00]).is_err());
        assert!(decode_request(&[0xa1, 0x01, 0x02]).is_err()); // integer key
        let mut deep = vec![0x81u8; 10_000];
        deep.push(0x00);
        assert!(decode_request(&deep).is_err());
        assert!(decode_request(&[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
    }
}
