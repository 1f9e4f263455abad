//! Table definitions (catalog entries), with their secondary indexes.
//!
//! Version 1 of the table encoding predates secondary indexes: name, id,
//! creation time and key schema. Version 2 is version 1 followed by the
//! indexes. A table without indexes is still written as version 1, so the
//! catalog entries of existing tables keep their exact bytes and a database
//! that never uses indexes stays readable by a build that predates them;
//! both versions always decode.

use bincode::de::Decoder;
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{Decode, Encode};

use super::{dec_len, enc_len, invalid, FORMAT_VERSION};
use crate::index::{IndexDef, IndexKind, Projection};
use crate::key::{KeyAttribute, KeySchema, KeyType};
use crate::table::TableDef;

/// The table format version that appends secondary indexes.
const WITH_INDEXES: u8 = 2;

pub(super) struct TableRef<'a>(pub(super) &'a TableDef);
pub(super) struct TableOwned(pub(super) TableDef);

fn key_type_tag(t: KeyType) -> u8 {
    match t {
        KeyType::S => 0,
        KeyType::N => 1,
        KeyType::B => 2,
    }
}

fn enc_key_attribute<E: Encoder>(attr: &KeyAttribute, e: &mut E) -> Result<(), EncodeError> {
    attr.name.encode(e)?;
    key_type_tag(attr.key_type).encode(e)
}

fn dec_key_attribute<D: Decoder>(d: &mut D) -> Result<KeyAttribute, DecodeError> {
    let name = String::decode(d)?;
    let key_type = match u8::decode(d)? {
        0 => KeyType::S,
        1 => KeyType::N,
        2 => KeyType::B,
        _ => return Err(invalid("unknown key type")),
    };
    Ok(KeyAttribute { name, key_type })
}

fn enc_key_schema<E: Encoder>(schema: &KeySchema, e: &mut E) -> Result<(), EncodeError> {
    enc_key_attribute(&schema.partition, e)?;
    match &schema.sort {
        None => 0u8.encode(e),
        Some(sort) => {
            1u8.encode(e)?;
            enc_key_attribute(sort, e)
        }
    }
}

fn dec_key_schema<D: Decoder>(d: &mut D) -> Result<KeySchema, DecodeError> {
    let partition = dec_key_attribute(d)?;
    let sort = match u8::decode(d)? {
        0 => None,
        1 => Some(dec_key_attribute(d)?),
        _ => return Err(invalid("bad option tag")),
    };
    Ok(KeySchema { partition, sort })
}

// Index kind and projection tags. Never renumber: they are on disk.
const GLOBAL: u8 = 0;
const LOCAL: u8 = 1;
const PROJECT_ALL: u8 = 0;
const PROJECT_KEYS_ONLY: u8 = 1;
const PROJECT_INCLUDE: u8 = 2;

fn enc_index<E: Encoder>(index: &IndexDef, e: &mut E) -> Result<(), EncodeError> {
    index.name.encode(e)?;
    match index.kind {
        IndexKind::Global => GLOBAL,
        IndexKind::Local => LOCAL,
    }
    .encode(e)?;
    enc_key_schema(&index.key_schema, e)?;
    match &index.projection {
        Projection::All => PROJECT_ALL.encode(e),
        Projection::KeysOnly => PROJECT_KEYS_ONLY.encode(e),
        Projection::Include(names) => {
            PROJECT_INCLUDE.encode(e)?;
            enc_len(names.len(), e)?;
            names.iter().try_for_each(|n| n.encode(e))
        }
    }
}

fn dec_index<D: Decoder>(d: &mut D) -> Result<IndexDef, DecodeError> {
    let name = String::decode(d)?;
    let kind = match u8::decode(d)? {
        GLOBAL => IndexKind::Global,
        LOCAL => IndexKind::Local,
        _ => return Err(invalid("unknown index kind")),
    };
    let key_schema = dec_key_schema(d)?;
    let projection = match u8::decode(d)? {
        PROJECT_ALL => Projection::All,
        PROJECT_KEYS_ONLY => Projection::KeysOnly,
        PROJECT_INCLUDE => {
            let len = dec_len(d)?;
            let mut names = Vec::with_capacity(len.min(128));
            for _ in 0..len {
                names.push(String::decode(d)?);
            }
            Projection::Include(names)
        }
        _ => return Err(invalid("unknown projection")),
    };
    Ok(IndexDef {
        name,
        kind,
        key_schema,
        projection,
    })
}

impl Encode for TableRef<'_> {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        let t = self.0;
        let version = if t.indexes.is_empty() {
            FORMAT_VERSION
        } else {
            WITH_INDEXES
        };
        version.encode(e)?;
        t.name.encode(e)?;
        t.id.encode(e)?;
        t.created_micros.encode(e)?;
        enc_key_schema(&t.key_schema, e)?;
        if version == WITH_INDEXES {
            enc_len(t.indexes.len(), e)?;
            t.indexes.iter().try_for_each(|i| enc_index(i, e))?;
        }
        Ok(())
    }
}

impl<C> Decode<C> for TableOwned {
    fn decode<D: Decoder<Context = C>>(d: &mut D) -> Result<Self, DecodeError> {
        let version = u8::decode(d)?;
        if version != FORMAT_VERSION && version != WITH_INDEXES {
            return Err(invalid("unknown format version"));
        }
        let name = String::decode(d)?;
        let id = u64::decode(d)?;
        let created_micros = u64::decode(d)?;
        let key_schema = dec_key_schema(d)?;
        let mut indexes = Vec::new();
        if version == WITH_INDEXES {
            let len = dec_len(d)?;
            if len == 0 {
                return Err(invalid("version 2 table without indexes"));
            }
            for _ in 0..len {
                indexes.push(dec_index(d)?);
            }
        }
        Ok(TableOwned(TableDef {
            name,
            id,
            key_schema,
            created_micros,
            indexes,
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::codec::{decode_table, encode_table, FORMAT_VERSION};
    use crate::index::{IndexDef, Projection};
    use crate::key::{KeySchema, KeyType};
    use crate::table::TableDef;

    fn indexed(schema: KeySchema) -> TableDef {
        TableDef::new("orders", 7, schema, 99).with_indexes(vec![
            IndexDef::global("by_status", KeySchema::new("status", KeyType::S)),
            IndexDef::global(
                "by_total",
                KeySchema::new("cust", KeyType::B).with_sort_key("total", KeyType::N),
            )
            .with_projection(Projection::KeysOnly),
            IndexDef::local(
                "by_date",
                KeySchema::new("pk", KeyType::B).with_sort_key("date", KeyType::S),
            )
            .with_projection(Projection::Include(vec!["a".into(), "b".into()])),
        ])
    }

    #[test]
    fn tables_round_trip_with_and_without_indexes() {
        for schema in [
            KeySchema::new("pk", KeyType::S),
            KeySchema::new("pk", KeyType::B).with_sort_key("sk", KeyType::N),
        ] {
            let plain = TableDef::new("orders", 7, schema.clone(), 99);
            let bytes = encode_table(&plain);
            assert_eq!(bytes[0], FORMAT_VERSION, "no indexes: still version 1");
            assert_eq!(decode_table(&bytes).unwrap(), plain);
            let with = indexed(schema);
            let bytes = encode_table(&with);
            assert_eq!(bytes[0], 2);
            assert_eq!(decode_table(&bytes).unwrap(), with);
        }
    }

    #[test]
    fn version_1_bytes_from_before_indexes_still_decode() {
        // A catalog entry as written before indexes existed: version 1,
        // "orders", id 7, created 99, pk: S, sk: N.
        let mut bytes = vec![FORMAT_VERSION, 6];
        bytes.extend_from_slice(b"orders");
        bytes.extend_from_slice(&[7, 99, 2, b'p', b'k', 0, 1, 2, b's', b'k', 1]);
        let expected = TableDef::new(
            "orders",
            7,
            KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N),
            99,
        );
        assert_eq!(decode_table(&bytes).unwrap(), expected);
        assert_eq!(encode_table(&expected), bytes);
    }

    #[test]
    fn corrupt_index_encodings_are_refused() {
        let good = encode_table(&indexed(KeySchema::new("pk", KeyType::S)));
        for cut in 1..good.len() {
            assert!(decode_table(&good[..cut]).is_err(), "truncated at {cut}");
        }
        let mut bad_version = good.clone();
        bad_version[0] = 3;
        assert!(decode_table(&bad_version).is_err());
        // Version 2 with an empty index list is not something we write.
        let mut empty = encode_table(&TableDef::new(
            "orders",
            7,
            KeySchema::new("pk", KeyType::S),
            99,
        ));
        empty[0] = 2;
        empty.push(0);
        assert!(decode_table(&empty).is_err());
    }
}
