//! The JSON record DynamoDB writes into a Kinesis data stream for each item
//! change, reproduced byte for byte.
//!
//! Consumers of Kinesis Data Streams for DynamoDB parse this record, so its
//! shape is fixed by what AWS writes (see `shared/reference/aws-behaviour.md`
//! §1): compact JSON with the fields in AWS's order, non-ASCII characters
//! raw, `ApproximateCreationDateTime` an integer in epoch milliseconds or
//! microseconds, `ApproximateCreationDateTimePrecision` only in microsecond
//! records, `SizeBytes` by DynamoDB's size rules, and every binary value
//! base64-encoded twice. serde's maps would sort or reorder the fields, so
//! the record is written by hand.
//!
//! Two values AWS chooses freely are derived here instead, so that a change
//! republished after a crash is recognisably the same record:
//!
//! * the event id is UUID-shaped and derived from the change's LSN;
//! * the Kinesis partition key is 32 upper-case hex characters derived from
//!   the table and the item's full primary key, so every change of one item
//!   lands in one shard, in commit order.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use md5::{Digest, Md5};

use crate::change::{ChangeOrigin, ChangeRecord};
use crate::key::encode_key_value;
use crate::value::{AttributeValue, Item};

/// The precision of `ApproximateCreationDateTime` in a streaming
/// destination's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// Epoch milliseconds (13 digits), the default.
    #[default]
    Millisecond,
    /// Epoch microseconds (16 digits), flagged in the record.
    Microsecond,
}

impl Precision {
    /// `"MILLISECOND"` or `"MICROSECOND"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Millisecond => "MILLISECOND",
            Precision::Microsecond => "MICROSECOND",
        }
    }

    /// Parses `"MILLISECOND"` or `"MICROSECOND"`.
    pub fn parse(text: &str) -> Option<Precision> {
        match text {
            "MILLISECOND" => Some(Precision::Millisecond),
            "MICROSECOND" => Some(Precision::Microsecond),
            _ => None,
        }
    }
}

/// The event id of the change at `lsn`: a lowercase, version-4-shaped UUID
/// derived from the LSN, the same every time the change is published.
///
/// ```
/// let id = eddy_model::stream_record::event_id(42);
/// assert_eq!(id.len(), 36);
/// assert_eq!(id, eddy_model::stream_record::event_id(42));
/// assert_ne!(id, eddy_model::stream_record::event_id(43));
/// ```
pub fn event_id(lsn: u64) -> String {
    let mut hasher = Md5::new();
    hasher.update(b"eddy change ");
    hasher.update(lsn.to_be_bytes());
    let digest: [u8; 16] = hasher.finalize().into();
    uuid::Builder::from_random_bytes(digest)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// The Kinesis partition key of a change: upper-case hex MD5 of the table
/// name and the item's primary key attributes (name and value, in name
/// order).
pub fn partition_key(table: &str, keys: &Item) -> String {
    let mut hasher = Md5::new();
    hasher.update(table.as_bytes());
    let mut buf = Vec::new();
    for (name, value) in keys {
        buf.clear();
        buf.push(0);
        buf.extend_from_slice(name.as_bytes());
        buf.push(0);
        encode_key_value(value, &mut buf);
        hasher.update(&buf);
    }
    let digest: [u8; 16] = hasher.finalize().into();
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(32);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// One Kinesis record's `Data` for a change.
#[derive(Debug, Clone)]
pub struct KinesisRecord<'a> {
    /// The table's region (`awsRegion`).
    pub aws_region: &'a str,
    /// The event id (see [`event_id`]).
    pub event_id: String,
    /// The timestamp precision of the destination.
    pub precision: Precision,
    /// The committed change.
    pub record: &'a ChangeRecord,
}

impl<'a> KinesisRecord<'a> {
    /// The record for a committed change, with its LSN-derived event id.
    pub fn new(
        record: &'a ChangeRecord,
        aws_region: &'a str,
        precision: Precision,
    ) -> KinesisRecord<'a> {
        KinesisRecord {
            aws_region,
            event_id: event_id(record.lsn),
            precision,
            record,
        }
    }

    /// The compact JSON text, exactly as DynamoDB writes it.
    pub fn to_json(&self) -> String {
        let bytes = self.to_json_bytes();
        // Built from `&str`s and ASCII only, so always UTF-8.
        String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// [`to_json`](KinesisRecord::to_json) as the bytes a stream record
    /// carries: built in place, each string escaped straight into the
    /// output, in a buffer sized for both images up front.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let change = &self.record.change;
        let size_bytes = self.record.size_bytes();
        // Keys and both images, a quarter more for the type wrappers and
        // quotes, and the envelope: a guess that usually fits, so the
        // buffer rarely grows (and copies) while it is filled.
        let mut out: Vec<u8> = Vec::with_capacity(
            size_bytes
                .saturating_add(size_bytes / 4)
                .saturating_add(512),
        );
        out.extend_from_slice(b"{\"awsRegion\":");
        push_str(&mut out, self.aws_region);
        out.extend_from_slice(b",\"eventID\":");
        push_str(&mut out, &self.event_id);
        out.extend_from_slice(b",\"eventName\":\"");
        out.extend_from_slice(self.record.kind().as_str().as_bytes());
        out.extend_from_slice(b"\",\"userIdentity\":");
        out.extend_from_slice(match change.origin {
            ChangeOrigin::Application => b"null".as_slice(),
            ChangeOrigin::TimeToLive => {
                b"{\"type\":\"Service\",\"principalId\":\"dynamodb.amazonaws.com\"}".as_slice()
            }
        });
        out.extend_from_slice(b",\"recordFormat\":\"application/json\",\"tableName\":");
        push_str(&mut out, &change.table);
        let time = match self.precision {
            Precision::Millisecond => self.record.created_micros / 1000,
            Precision::Microsecond => self.record.created_micros,
        };
        out.extend_from_slice(b",\"dynamodb\":{\"ApproximateCreationDateTime\":");
        out.extend_from_slice(itoa::Buffer::new().format(time).as_bytes());
        out.extend_from_slice(b",\"Keys\":");
        push_map(&mut out, &change.keys);
        if let Some(new) = &change.new_image {
            out.extend_from_slice(b",\"NewImage\":");
            push_map(&mut out, new);
        }
        if let Some(old) = &change.old_image {
            out.extend_from_slice(b",\"OldImage\":");
            push_map(&mut out, old);
        }
        out.extend_from_slice(b",\"SizeBytes\":");
        out.extend_from_slice(itoa::Buffer::new().format(size_bytes).as_bytes());
        if self.precision == Precision::Microsecond {
            out.extend_from_slice(b",\"ApproximateCreationDateTimePrecision\":\"MICROSECOND\"");
        }
        out.extend_from_slice(b"},\"eventSource\":\"aws:dynamodb\"}");
        out
    }
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if !needs_escape(bytes) {
        // Most strings (and nearly every large one) are copied as they are.
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    // serde_json escapes exactly what JSON requires and leaves non-ASCII
    // raw. Writing into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Whether JSON requires escaping any byte of `bytes`: a control character,
/// a quote or a backslash (serde_json escapes exactly these). Each chunk is
/// tested without an early exit, so the loop vectorises: a 4 KB string is
/// checked in about a tenth of the time serde_json takes to copy it byte by
/// byte.
fn needs_escape(bytes: &[u8]) -> bool {
    let escaped = |b: u8| (b < 0x20) | (b == b'"') | (b == b'\\');
    let mut chunks = bytes.chunks_exact(32);
    for chunk in &mut chunks {
        if chunk.iter().fold(false, |any, &b| any | escaped(b)) {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| escaped(b))
}

fn push_binary(out: &mut Vec<u8>, raw: &[u8]) {
    // Double base64: the API's base64 text, encoded again.
    out.push(b'"');
    out.extend_from_slice(BASE64.encode(BASE64.encode(raw)).as_bytes());
    out.push(b'"');
}

fn push_map<'v>(
    out: &mut Vec<u8>,
    entries: impl IntoIterator<Item = (&'v String, &'v AttributeValue)>,
) {
    out.push(b'{');
    for (i, (name, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_str(out, name);
        out.push(b':');
        push_value(out, value);
    }
    out.push(b'}');
}

fn push_list<'v>(out: &mut Vec<u8>, items: impl IntoIterator<Item = &'v str>) {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_str(out, item);
    }
    out.push(b']');
}

fn push_value(out: &mut Vec<u8>, value: &AttributeValue) {
    match value {
        AttributeValue::S(s) => {
            out.extend_from_slice(b"{\"S\":");
            push_str(out, s);
        }
        AttributeValue::N(n) => {
            out.extend_from_slice(b"{\"N\":\"");
            n.write_to(out);
            out.push(b'"');
        }
        AttributeValue::B(b) => {
            out.extend_from_slice(b"{\"B\":");
            push_binary(out, b);
        }
        AttributeValue::Bool(b) => {
            out.extend_from_slice(if *b {
                b"{\"BOOL\":true"
            } else {
                b"{\"BOOL\":false"
            });
        }
        AttributeValue::Null => out.extend_from_slice(b"{\"NULL\":true"),
        AttributeValue::M(m) => {
            out.extend_from_slice(b"{\"M\":");
            push_map(out, m);
        }
        AttributeValue::L(l) => {
            out.extend_from_slice(b"{\"L\":[");
            for (i, v) in l.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_value(out, v);
            }
            out.push(b']');
        }
        AttributeValue::Ss(s) => {
            out.extend_from_slice(b"{\"SS\":");
            push_list(out, s.iter().map(String::as_str));
        }
        AttributeValue::Ns(s) => {
            // Number text needs no escaping.
            out.extend_from_slice(b"{\"NS\":[");
            for (i, n) in s.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'"');
                n.write_to(out);
                out.push(b'"');
            }
            out.push(b']');
        }
        AttributeValue::Bs(s) => {
            out.extend_from_slice(b"{\"BS\":[");
            for (i, b) in s.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_binary(out, b);
            }
            out.push(b']');
        }
    }
    out.push(b'}');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::change::Change;

    fn item(json: &str) -> Item {
        Item::from_json_str(json).unwrap()
    }

    /// Builds the record for a change and renders it with a given event id.
    fn render(
        table: &str,
        micros: u64,
        keys: &str,
        old: Option<&str>,
        new: Option<&str>,
        (origin, precision): (ChangeOrigin, Precision),
        event: &str,
    ) -> String {
        let record = ChangeRecord {
            lsn: 1,
            created_micros: micros,
            change: Change {
                table_id: 1,
                table: table.into(),
                keys: item(keys),
                old_image: old.map(item),
                new_image: new.map(item),
                origin,
            },
        };
        let mut r = KinesisRecord::new(&record, "us-east-1", precision);
        r.event_id = event.into();
        r.to_json()
    }

    // The four example records of shared/reference/aws-behaviour.md §1.8,
    // attributes in name order (AWS's order is arbitrary).

    #[test]
    fn insert_millisecond() {
        let json = render(
            "Music",
            1_700_000_000_123_456,
            r#"{"Artist":{"S":"No One You Know"},"SongTitle":{"S":"Call Me Today"}}"#,
            None,
            Some(
                r#"{"Artist":{"S":"No One You Know"},"SongTitle":{"S":"Call Me Today"},"AlbumTitle":{"S":"Somewhat Famous"},"Awards":{"N":"1"}}"#,
            ),
            (ChangeOrigin::Application, Precision::Millisecond),
            "0f6b3c1e-6a3c-4f57-9d2a-1b2c3d4e5f60",
        );
        assert_eq!(
            json,
            r#"{"awsRegion":"us-east-1","eventID":"0f6b3c1e-6a3c-4f57-9d2a-1b2c3d4e5f60","eventName":"INSERT","userIdentity":null,"recordFormat":"application/json","tableName":"Music","dynamodb":{"ApproximateCreationDateTime":1700000000123,"Keys":{"Artist":{"S":"No One You Know"},"SongTitle":{"S":"Call Me Today"}},"NewImage":{"AlbumTitle":{"S":"Somewhat Famous"},"Artist":{"S":"No One You Know"},"Awards":{"N":"1"},"SongTitle":{"S":"Call Me Today"}},"SizeBytes":119},"eventSource":"aws:dynamodb"}"#
        );
    }

    #[test]
    fn modify_microsecond_with_binary() {
        // Raw bytes 12 02 08 7B -> 13 02 08 7B; the API base64 is EgIIew== / EwIIew==.
        let json = render(
            "Blobs",
            1_700_000_000_123_456,
            r#"{"id":{"S":"1"}}"#,
            Some(r#"{"id":{"S":"1"},"blob":{"B":"EgIIew=="}}"#),
            Some(r#"{"id":{"S":"1"},"blob":{"B":"EwIIew=="}}"#),
            (ChangeOrigin::Application, Precision::Microsecond),
            "7c1d2e3f-0a1b-4c2d-8e3f-405162738495",
        );
        assert_eq!(
            json,
            r#"{"awsRegion":"us-east-1","eventID":"7c1d2e3f-0a1b-4c2d-8e3f-405162738495","eventName":"MODIFY","userIdentity":null,"recordFormat":"application/json","tableName":"Blobs","dynamodb":{"ApproximateCreationDateTime":1700000000123456,"Keys":{"id":{"S":"1"}},"NewImage":{"blob":{"B":"RXdJSWV3PT0="},"id":{"S":"1"}},"OldImage":{"blob":{"B":"RWdJSWV3PT0="},"id":{"S":"1"}},"SizeBytes":25,"ApproximateCreationDateTimePrecision":"MICROSECOND"},"eventSource":"aws:dynamodb"}"#
        );
    }

    #[test]
    fn remove_by_ttl() {
        let json = render(
            "Sessions",
            1_700_000_000_500_999,
            r#"{"pk":{"S":"session#42"}}"#,
            Some(r#"{"pk":{"S":"session#42"},"expiresAt":{"N":"1699990000"}}"#),
            None,
            (ChangeOrigin::TimeToLive, Precision::Millisecond),
            "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
        );
        assert_eq!(
            json,
            r#"{"awsRegion":"us-east-1","eventID":"a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d","eventName":"REMOVE","userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com"},"recordFormat":"application/json","tableName":"Sessions","dynamodb":{"ApproximateCreationDateTime":1700000000500,"Keys":{"pk":{"S":"session#42"}},"OldImage":{"expiresAt":{"N":"1699990000"},"pk":{"S":"session#42"}},"SizeBytes":37},"eventSource":"aws:dynamodb"}"#
        );
    }

    #[test]
    fn insert_with_every_type() {
        let json = render(
            "Kitchen",
            1_700_000_000_999_000,
            r#"{"pk":{"S":"k"},"sk":{"N":"-12.5"}}"#,
            None,
            Some(
                r#"{"pk":{"S":"k"},"sk":{"N":"-12.5"},"ok":{"BOOL":true},"none":{"NULL":true},"tags":{"SS":["a","bc"]},"nums":{"NS":["1","100"]},"bins":{"BS":["AAE=","/w=="]},"m":{"M":{"x":{"S":"y"},"l":{"L":[{"N":"0"},{"S":"é"}]}}}}"#,
            ),
            (ChangeOrigin::Application, Precision::Millisecond),
            "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
        );
        assert_eq!(
            json,
            r#"{"awsRegion":"us-east-1","eventID":"5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9","eventName":"INSERT","userIdentity":null,"recordFormat":"application/json","tableName":"Kitchen","dynamodb":{"ApproximateCreationDateTime":1700000000999,"Keys":{"pk":{"S":"k"},"sk":{"N":"-12.5"}},"NewImage":{"bins":{"BS":["QUFFPQ==","L3c9PQ=="]},"m":{"M":{"l":{"L":[{"N":"0"},{"S":"é"}]},"x":{"S":"y"}}},"none":{"NULL":true},"nums":{"NS":["1","100"]},"ok":{"BOOL":true},"pk":{"S":"k"},"sk":{"N":"-12.5"},"tags":{"SS":["a","bc"]}},"SizeBytes":65},"eventSource":"aws:dynamodb"}"#
        );
        // The record is valid JSON.
        serde_json::from_str::<serde_json::Value>(&json).unwrap();
    }

    #[test]
    fn ids_and_partition_keys_are_stable_and_shaped_like_aws() {
        let id = event_id(7);
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(id
            .chars()
            .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        let keys = item(r#"{"pk":{"S":"a"},"sk":{"N":"1"}}"#);
        let pk = partition_key("orders", &keys);
        assert_eq!(pk.len(), 32);
        assert!(pk
            .chars()
            .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)));
        assert_eq!(
            pk,
            partition_key("orders", &item(r#"{"sk":{"N":"1.0"},"pk":{"S":"a"}}"#))
        );
        assert_ne!(pk, partition_key("orders2", &keys));
        assert_ne!(
            pk,
            partition_key("orders", &item(r#"{"pk":{"S":"a"},"sk":{"N":"2"}}"#))
        );
    }

    #[test]
    fn strings_are_escaped_as_json_requires() {
        let tricky = "quote \" backslash \\ newline \n tab \t bell \u{7} é 日本 🦀";
        let record = ChangeRecord {
            lsn: 7,
            created_micros: 1,
            change: Change {
                table_id: 1,
                table: tricky.into(),
                keys: Item::new().with("pk", tricky),
                old_image: None,
                new_image: Some(Item::new().with("pk", tricky).with(tricky, tricky)),
                origin: ChangeOrigin::Application,
            },
        };
        let r = KinesisRecord::new(&record, "us-east-1", Precision::Millisecond);
        let bytes = r.to_json_bytes();
        assert_eq!(bytes, r.to_json().into_bytes());
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["tableName"], tricky);
        assert_eq!(v["dynamodb"]["Keys"]["pk"]["S"], tricky);
        assert_eq!(v["dynamodb"]["NewImage"][tricky]["S"], tricky);
    }

    proptest::proptest! {
        #[test]
        fn strings_render_as_serde_json_renders_them(
            plain in "[a-z0-9 é日]{0,100}",
            special in proptest::sample::select(vec!['"', '\\', '\n', '\u{0}', '\u{1f}', '\u{7f}', 'x']),
            at in 0usize..100,
        ) {
            // One special character at any offset, across chunk boundaries.
            let mut s: String = plain.chars().collect();
            let at = s.char_indices().map(|(i, _)| i).nth(at).unwrap_or(s.len());
            s.insert(at, special);
            let long = s.repeat(3);
            for s in [plain.as_str(), s.as_str(), long.as_str()] {
                let mut out = b"[".to_vec();
                push_str(&mut out, s);
                let mut expected = b"[".to_vec();
                expected.extend(serde_json::to_vec(s).unwrap());
                proptest::prop_assert_eq!(out, expected);
            }
        }

        #[test]
        fn every_change_renders_as_valid_json_with_its_size(change in crate::arbitrary::arb_change()) {
            let record = ChangeRecord { lsn: 1, created_micros: 1, change };
            let bytes = KinesisRecord::new(&record, "eu-west-1", Precision::Microsecond).to_json_bytes();
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            proptest::prop_assert_eq!(v["dynamodb"]["SizeBytes"].as_u64(), u64::try_from(record.size_bytes()).ok());
            proptest::prop_assert_eq!(v["tableName"].as_str(), Some(record.change.table.as_str()));
        }
    }
}
