//! The binary codec: every stored encoding of model types, in one place.
//!
//! The change log's payloads, the table store's item values and its catalog
//! entries are all encoded here, with bincode 2 (pinned at 2.0.1) under a
//! fixed configuration: little-endian, variable-length integers, and a size
//! limit so that a corrupt length prefix can never make a decoder allocate
//! gigabytes. Each top-level encoding starts with a one-byte format version,
//! so a future format can be read beside this one, and everything else
//! about the format is private to this module: swapping bincode for another
//! codec means rewriting this file and nothing else.
//!
//! Decoding never panics and never trusts its input: every tag, length,
//! digit and nesting level is checked, and failures are
//! [`Error::Decode`].

use bincode::config::{self, Configuration, Limit, LittleEndian, Varint};
use bincode::de::read::Reader;
use bincode::de::Decoder;
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{Decode, Encode};

use crate::change::{Change, ChangeOrigin};
use crate::destination::{DestinationStatus, StreamingDestination};
use crate::error::{Error, Result};
use crate::number::Number;
use crate::stream_record::Precision;
use crate::table::TableDef;

mod table;

use crate::value::{AttributeValue, Item, Map, MAX_NESTING_DEPTH};
use table::{TableOwned, TableRef};

/// The current format version of every top-level encoding.
pub const FORMAT_VERSION: u8 = 1;

/// The largest encoding the decoder accepts (64 MiB).
pub const MAX_ENCODED_BYTES: usize = 64 << 20;

type Config = Configuration<LittleEndian, Varint, Limit<MAX_ENCODED_BYTES>>;

fn config() -> Config {
    config::standard().with_limit::<MAX_ENCODED_BYTES>()
}

/// Encodes an item (a table store value).
pub fn encode_item(item: &Item) -> Vec<u8> {
    encode(&Versioned(ItemRef(item)))
}

/// Decodes an item encoded by [`encode_item`].
pub fn decode_item(bytes: &[u8]) -> Result<Item> {
    decode::<Versioned<ItemOwned>>(bytes, "item").map(|v| v.0 .0)
}

/// Encodes a change (a change-log payload).
pub fn encode_change(change: &Change) -> Vec<u8> {
    encode(&Versioned(ChangeRef(change)))
}

/// Encodes a change as [`encode_change`] does and, if it has an after
/// image, that item as [`encode_item`] does, encoding the item once: the
/// write path logs the change and stores the item.
pub fn encode_change_and_after(change: &Change) -> (Vec<u8>, Option<Vec<u8>>) {
    let Some(new) = change.new_image.as_ref() else {
        return (encode_change(change), None);
    };
    let item = encode_item(new);
    // A change's encoding is its head, the after image's option tag (1),
    // the item's map (the item's encoding after its version byte) and the
    // origin byte: bincode writes fields one after another.
    let mut payload = encode(&Versioned(ChangeHead(change)));
    payload.reserve(item.len() + 1);
    payload.push(1);
    payload.extend_from_slice(item.get(1..).unwrap_or_default());
    payload.push(origin_code(change.origin));
    (payload, Some(item))
}

/// Decodes a change encoded by [`encode_change`].
pub fn decode_change(bytes: &[u8]) -> Result<Change> {
    decode::<Versioned<ChangeOwned>>(bytes, "change").map(|v| v.0 .0)
}

/// Encodes a table definition (a catalog entry).
///
/// A table without secondary indexes is written in format version 1, byte
/// for byte as before indexes existed; one with indexes in version 2, which
/// appends them.
pub fn encode_table(table: &TableDef) -> Vec<u8> {
    encode(&TableRef(table))
}

/// Decodes a table definition encoded by [`encode_table`], in either format
/// version.
pub fn decode_table(bytes: &[u8]) -> Result<TableDef> {
    decode::<TableOwned>(bytes, "table definition").map(|v| v.0)
}

/// Encodes a streaming destination.
pub fn encode_destination(destination: &StreamingDestination) -> Vec<u8> {
    encode(&Versioned(DestinationRef(destination)))
}

/// Decodes a streaming destination encoded by [`encode_destination`].
pub fn decode_destination(bytes: &[u8]) -> Result<StreamingDestination> {
    decode::<Versioned<DestinationOwned>>(bytes, "streaming destination").map(|v| v.0 .0)
}

/// Encodes a resource's tags (key → value).
pub fn encode_tags(tags: &std::collections::BTreeMap<String, String>) -> Vec<u8> {
    encode(&Versioned(tags))
}

/// Decodes tags encoded by [`encode_tags`].
pub fn decode_tags(bytes: &[u8]) -> Result<std::collections::BTreeMap<String, String>> {
    decode::<Versioned<std::collections::BTreeMap<String, String>>>(bytes, "tags").map(|v| v.0)
}

fn encode<T: Encode>(value: &T) -> Vec<u8> {
    // Encoding into a Vec only fails for a writer error, which a Vec never
    // produces, or for types bincode cannot encode, which ours are not.
    bincode::encode_to_vec(value, config()).unwrap_or_default()
}

fn decode<T: Decode<()>>(bytes: &[u8], what: &'static str) -> Result<T> {
    let (value, used) =
        bincode::decode_from_slice::<T, _>(bytes, config()).map_err(|e| Error::Decode {
            what,
            reason: e.to_string(),
        })?;
    if used != bytes.len() {
        return Err(Error::Decode {
            what,
            reason: format!("{} trailing bytes", bytes.len() - used),
        });
    }
    Ok(value)
}

fn invalid(reason: &'static str) -> DecodeError {
    DecodeError::Other(reason)
}

/// A version byte followed by the value.
struct Versioned<T>(T);

impl<T: Encode> Encode for Versioned<T> {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        FORMAT_VERSION.encode(e)?;
        self.0.encode(e)
    }
}

impl<C, T: Decode<C>> Decode<C> for Versioned<T> {
    fn decode<D: Decoder<Context = C>>(d: &mut D) -> Result<Self, DecodeError> {
        match u8::decode(d)? {
            FORMAT_VERSION => Ok(Versioned(T::decode(d)?)),
            _ => Err(invalid("unknown format version")),
        }
    }
}

// Value tags. Never renumber: they are on disk.
const TAG_S: u8 = 0;
const TAG_N: u8 = 1;
const TAG_B: u8 = 2;
const TAG_BOOL: u8 = 3;
const TAG_NULL: u8 = 4;
const TAG_M: u8 = 5;
const TAG_L: u8 = 6;
const TAG_SS: u8 = 7;
const TAG_NS: u8 = 8;
const TAG_BS: u8 = 9;

fn enc_number<E: Encoder>(n: &Number, e: &mut E) -> Result<(), EncodeError> {
    n.is_negative().encode(e)?;
    n.digits().encode(e)?;
    n.exponent().encode(e)
}

fn dec_number<D: Decoder>(d: &mut D) -> Result<Number, DecodeError> {
    let negative = bool::decode(d)?;
    let digits = Vec::<u8>::decode(d)?;
    let exponent = i32::decode(d)?;
    let n =
        Number::from_parts(negative, &digits, exponent).map_err(|_| invalid("invalid number"))?;
    // Only normalised numbers are ever written; anything else is corrupt.
    if n.digits() != digits.as_slice() || (n.is_zero() && (negative || exponent != 0)) {
        return Err(invalid("non-canonical number"));
    }
    Ok(n)
}

fn enc_len<E: Encoder>(len: usize, e: &mut E) -> Result<(), EncodeError> {
    (len as u64).encode(e)
}

fn dec_len<D: Decoder>(d: &mut D) -> Result<usize, DecodeError> {
    let len = u64::decode(d)?;
    let len = usize::try_from(len).map_err(|_| invalid("length overflow"))?;
    // Every element takes at least one byte, which bounds allocation by the
    // input size and the configured limit.
    d.claim_bytes_read(len)?;
    Ok(len)
}

fn enc_map<E: Encoder>(map: &Map, e: &mut E) -> Result<(), EncodeError> {
    enc_len(map.len(), e)?;
    for (k, v) in map {
        k.encode(e)?;
        enc_value(v, e)?;
    }
    Ok(())
}

fn dec_map<D: Decoder>(d: &mut D, depth: usize) -> Result<Map, DecodeError> {
    let len = dec_len(d)?;
    let mut map = Map::new();
    for _ in 0..len {
        let k = dec_string(d)?;
        let v = dec_value(d, depth)?;
        if map.insert(k, v).is_some() {
            return Err(invalid("duplicate attribute name"));
        }
    }
    Ok(map)
}

fn enc_value<E: Encoder>(v: &AttributeValue, e: &mut E) -> Result<(), EncodeError> {
    match v {
        AttributeValue::S(s) => {
            TAG_S.encode(e)?;
            s.encode(e)
        }
        AttributeValue::N(n) => {
            TAG_N.encode(e)?;
            enc_number(n, e)
        }
        AttributeValue::B(b) => {
            TAG_B.encode(e)?;
            b.encode(e)
        }
        AttributeValue::Bool(b) => {
            TAG_BOOL.encode(e)?;
            b.encode(e)
        }
        AttributeValue::Null => TAG_NULL.encode(e),
        AttributeValue::M(m) => {
            TAG_M.encode(e)?;
            enc_map(m, e)
        }
        AttributeValue::L(l) => {
            TAG_L.encode(e)?;
            enc_len(l.len(), e)?;
            l.iter().try_for_each(|x| enc_value(x, e))
        }
        AttributeValue::Ss(s) => {
            TAG_SS.encode(e)?;
            enc_len(s.len(), e)?;
            s.iter().try_for_each(|x| x.encode(e))
        }
        AttributeValue::Ns(s) => {
            TAG_NS.encode(e)?;
            enc_len(s.len(), e)?;
            s.iter().try_for_each(|x| enc_number(x, e))
        }
        AttributeValue::Bs(s) => {
            TAG_BS.encode(e)?;
            enc_len(s.len(), e)?;
            s.iter().try_for_each(|x| x.encode(e))
        }
    }
}

/// Decodes a value nested `depth` levels deep (top-level attributes are at
/// depth 1), refusing nesting beyond DynamoDB's limit before recursing.
fn dec_value<D: Decoder>(d: &mut D, depth: usize) -> Result<AttributeValue, DecodeError> {
    let tag = u8::decode(d)?;
    let nested = |depth: usize| {
        if depth > MAX_NESTING_DEPTH {
            Err(invalid("nesting too deep"))
        } else {
            Ok(depth + 1)
        }
    };
    Ok(match tag {
        TAG_S => AttributeValue::S(dec_string(d)?),
        TAG_N => AttributeValue::N(dec_number(d)?),
        TAG_B => AttributeValue::B(dec_bytes(d)?),
        TAG_BOOL => AttributeValue::Bool(bool::decode(d)?),
        TAG_NULL => AttributeValue::Null,
        TAG_M => AttributeValue::M(dec_map(d, nested(depth)?)?),
        TAG_L => {
            let inner = nested(depth)?;
            let len = dec_len(d)?;
            let mut list = Vec::with_capacity(len.min(1024));
            for _ in 0..len {
                list.push(dec_value(d, inner)?);
            }
            AttributeValue::L(list)
        }
        TAG_SS => AttributeValue::Ss(dec_set(d, dec_string)?),
        TAG_NS => AttributeValue::Ns(dec_set(d, dec_number)?),
        TAG_BS => AttributeValue::Bs(dec_set(d, dec_bytes)?),
        _ => return Err(invalid("unknown attribute value tag")),
    })
}

/// Decodes bytes as bincode's `Vec<u8>` does (a length, then the bytes),
/// copying them straight out of the input when it is a slice: bincode
/// zero-fills a buffer first and then copies into it, which for the large
/// strings of items doubled the bytes written.
fn dec_bytes<D: Decoder>(d: &mut D) -> Result<Vec<u8>, DecodeError> {
    let len = u64::decode(d)?;
    let len = usize::try_from(len).map_err(|_| DecodeError::OutsideUsizeRange(len))?;
    d.claim_bytes_read(len)?;
    if let Some(bytes) = d.reader().peek_read(len) {
        let bytes = bytes.to_vec();
        d.reader().consume(len);
        return Ok(bytes);
    }
    let mut bytes = vec![0; len];
    d.reader().read(&mut bytes)?;
    Ok(bytes)
}

/// Decodes a string as bincode's `String` does (see [`dec_bytes`]).
fn dec_string<D: Decoder>(d: &mut D) -> Result<String, DecodeError> {
    String::from_utf8(dec_bytes(d)?).map_err(|e| DecodeError::Utf8 {
        inner: e.utf8_error(),
    })
}

fn dec_set<D: Decoder, T: Ord>(
    d: &mut D,
    mut element: impl FnMut(&mut D) -> Result<T, DecodeError>,
) -> Result<std::collections::BTreeSet<T>, DecodeError> {
    let len = dec_len(d)?;
    if len == 0 {
        return Err(invalid("empty set"));
    }
    let mut set = std::collections::BTreeSet::new();
    for _ in 0..len {
        if !set.insert(element(d)?) {
            return Err(invalid("duplicate set element"));
        }
    }
    Ok(set)
}

struct ItemRef<'a>(&'a Item);
struct ItemOwned(Item);

impl Encode for ItemRef<'_> {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        enc_map(self.0.as_map(), e)
    }
}

impl<C> Decode<C> for ItemOwned {
    fn decode<D: Decoder<Context = C>>(d: &mut D) -> Result<Self, DecodeError> {
        Ok(ItemOwned(Item::from(dec_map(d, 1)?)))
    }
}

fn enc_opt_item<E: Encoder>(item: Option<&Item>, e: &mut E) -> Result<(), EncodeError> {
    match item {
        None => 0u8.encode(e),
        Some(item) => {
            1u8.encode(e)?;
            enc_map(item.as_map(), e)
        }
    }
}

fn dec_opt_item<D: Decoder>(d: &mut D) -> Result<Option<Item>, DecodeError> {
    match u8::decode(d)? {
        0 => Ok(None),
        1 => Ok(Some(Item::from(dec_map(d, 1)?))),
        _ => Err(invalid("bad option tag")),
    }
}

struct ChangeRef<'a>(&'a Change);
struct ChangeOwned(Change);

/// A change's fields before its after image.
struct ChangeHead<'a>(&'a Change);

impl Encode for ChangeHead<'_> {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        let c = self.0;
        c.table_id.encode(e)?;
        c.table.encode(e)?;
        enc_map(c.keys.as_map(), e)?;
        enc_opt_item(c.old_image.as_ref(), e)
    }
}

fn origin_code(origin: ChangeOrigin) -> u8 {
    match origin {
        ChangeOrigin::Application => 0,
        ChangeOrigin::TimeToLive => 1,
    }
}

impl Encode for ChangeRef<'_> {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        let c = self.0;
        ChangeHead(c).encode(e)?;
        enc_opt_item(c.new_image.as_ref(), e)?;
        origin_code(c.origin).encode(e)
    }
}

impl<C> Decode<C> for ChangeOwned {
    fn decode<D: Decoder<Context = C>>(d: &mut D) -> Result<Self, DecodeError> {
        let change = Change {
            table_id: u64::decode(d)?,
            table: String::decode(d)?,
            keys: Item::from(dec_map(d, 1)?),
            old_image: dec_opt_item(d)?,
            new_image: dec_opt_item(d)?,
            origin: match u8::decode(d)? {
                0 => ChangeOrigin::Application,
                1 => ChangeOrigin::TimeToLive,
                _ => return Err(invalid("unknown change origin")),
            },
        };
        if change.kind().is_none() {
            return Err(invalid("change without images"));
        }
        Ok(ChangeOwned(change))
    }
}

struct DestinationRef<'a>(&'a StreamingDestination);
struct DestinationOwned(StreamingDestination);

fn precision_code(p: Option<Precision>) -> u8 {
    match p {
        None => 0,
        Some(Precision::Millisecond) => 1,
        Some(Precision::Microsecond) => 2,
    }
}

fn precision_from_code(code: u8) -> Result<Option<Precision>, DecodeError> {
    match code {
        0 => Ok(None),
        1 => Ok(Some(Precision::Millisecond)),
        2 => Ok(Some(Precision::Microsecond)),
        _ => Err(invalid("unknown precision")),
    }
}

impl Encode for DestinationRef<'_> {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        let d = self.0;
        d.table_id.encode(e)?;
        d.stream_arn.encode(e)?;
        d.status.code().encode(e)?;
        d.status_description.encode(e)?;
        d.start_after_lsn.encode(e)?;
        d.stop_after_lsn.encode(e)?;
        d.published_lsn.encode(e)?;
        enc_len(d.precisions.len(), e)?;
        for (after, precision) in &d.precisions {
            after.encode(e)?;
            precision_code(*precision).encode(e)?;
        }
        Ok(())
    }
}

impl<C> Decode<C> for DestinationOwned {
    fn decode<D: Decoder<Context = C>>(d: &mut D) -> Result<Self, DecodeError> {
        let table_id = u64::decode(d)?;
        let stream_arn = String::decode(d)?;
        let status = DestinationStatus::from_code(u8::decode(d)?)
            .ok_or_else(|| invalid("unknown destination status"))?;
        let status_description = Option::<String>::decode(d)?;
        let start_after_lsn = u64::decode(d)?;
        let stop_after_lsn = Option::<u64>::decode(d)?;
        let published_lsn = u64::decode(d)?;
        let len = dec_len(d)?;
        let mut precisions = Vec::with_capacity(len.min(64));
        for _ in 0..len {
            let after = u64::decode(d)?;
            precisions.push((after, precision_from_code(u8::decode(d)?)?));
        }
        Ok(DestinationOwned(StreamingDestination {
            table_id,
            stream_arn,
            status,
            status_description,
            start_after_lsn,
            stop_after_lsn,
            published_lsn,
            precisions,
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::arbitrary::{arb_change, arb_item};
    use proptest::prelude::*;

    #[test]
    fn destinations_round_trip() {
        let mut d = StreamingDestination {
            table_id: 3,
            stream_arn: "arn:aws:kinesis:us-east-1:000000000000:stream/s".into(),
            status: DestinationStatus::Active,
            status_description: None,
            start_after_lsn: 17,
            stop_after_lsn: None,
            published_lsn: 17,
            precisions: vec![(17, None)],
        };
        assert_eq!(decode_destination(&encode_destination(&d)).unwrap(), d);
        d.precisions.push((40, Some(Precision::Microsecond)));
        d.stop_after_lsn = Some(90);
        d.status = DestinationStatus::EnableFailed;
        d.status_description = Some("Stream s not found".into());
        assert_eq!(decode_destination(&encode_destination(&d)).unwrap(), d);
    }

    #[test]
    fn refuses_versions_trailing_bytes_and_deep_nesting() {
        let bytes = encode_item(&Item::new().with("a", 1));
        let mut wrong_version = bytes.clone();
        wrong_version[0] = 9;
        assert!(decode_item(&wrong_version).is_err());
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(decode_item(&trailing).is_err());
        // 40 nested lists, built by hand (the model would refuse to build it).
        let mut deep = vec![FORMAT_VERSION, 1, 1, b'a'];
        for _ in 0..40 {
            deep.extend_from_slice(&[TAG_L, 1]);
        }
        deep.push(TAG_NULL);
        assert!(matches!(decode_item(&deep), Err(Error::Decode { .. })));
        // A huge claimed length is refused without allocating.
        let huge = [FORMAT_VERSION, 253, 255, 255, 255, 255, 255, 255, 255, 127];
        assert!(decode_item(&huge).is_err());
    }

    proptest! {
        #[test]
        fn items_round_trip(item in arb_item()) {
            prop_assert_eq!(decode_item(&encode_item(&item)).unwrap(), item);
        }

        #[test]
        fn changes_round_trip(change in arb_change()) {
            prop_assert_eq!(decode_change(&encode_change(&change)).unwrap(), change);
        }

        #[test]
        fn change_and_after_is_byte_for_byte_the_two_encodings(change in arb_change()) {
            let (payload, after) = encode_change_and_after(&change);
            prop_assert_eq!(payload, encode_change(&change));
            prop_assert_eq!(after, change.new_image.as_ref().map(encode_item));
        }

        #[test]
        fn items_decode_the_same_from_a_slice_and_from_a_stream(item in arb_item(), cut in any::<prop::sample::Index>()) {
            // A slice reader takes `dec_bytes`' borrowing path, a stream
            // reader its copying one; whole or cut short, they must agree.
            let bytes = encode_item(&item);
            let cut = &bytes[..cut.index(bytes.len() + 1)];
            let from_slice = decode::<Versioned<ItemOwned>>(cut, "item").map(|v| v.0 .0);
            let from_stream = bincode::decode_from_std_read::<Versioned<ItemOwned>, _, _>(&mut &cut[..], config())
                .map(|v| v.0 .0);
            prop_assert_eq!(from_slice.as_ref().ok(), from_stream.as_ref().ok());
            if cut.len() == bytes.len() {
                prop_assert_eq!(from_slice.ok(), Some(item));
            }
        }

        #[test]
        fn decoding_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_item(&bytes);
            let _ = decode_change(&bytes);
            let _ = decode_table(&bytes);
        }

        #[test]
        fn decoding_mutations_never_panics(item in arb_item(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut bytes = encode_item(&item);
            let i = at.index(bytes.len());
            bytes[i] = byte;
            let _ = decode_item(&bytes);
        }
    }
}
