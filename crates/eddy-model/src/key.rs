//! Key schemas and the order-preserving encoding of primary keys.
//!
//! A table's primary key is a partition key and an optional sort key, each a
//! string, number or binary attribute. The store keeps items in a sled tree
//! ordered by the bytes of [`KeySchema::encode_key`], so those bytes must
//! sort the way DynamoDB sorts keys: numbers numerically, strings and binary
//! byte-wise. They are also self-delimiting, so the encoding of a partition
//! key is a prefix of the encodings of every key in that partition:
//!
//! * numbers: see [`Number::encode_ordered`](crate::Number::encode_ordered);
//! * strings and binary: the bytes with `00` escaped as `00 FF`, closed by
//!   `00 00`. The escape keeps the order (`00 00` sorts before any escaped or
//!   plain byte), and a string's unterminated encoding is a byte prefix of
//!   the encoding of every string that begins with it, which is how
//!   `begins_with` becomes a range scan.

use std::fmt;

use crate::error::{Error, Result};
use crate::size::{item_size, MAX_ITEM_SIZE};
use crate::value::{AttributeValue, Item};

/// The largest partition key value, in bytes.
pub const MAX_PARTITION_KEY_BYTES: usize = 2048;
/// The largest sort key value, in bytes.
pub const MAX_SORT_KEY_BYTES: usize = 1024;

/// The type of a key attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// A string key.
    S,
    /// A number key.
    N,
    /// A binary key.
    B,
}

impl KeyType {
    /// The DynamoDB tag (`"S"`, `"N"` or `"B"`).
    pub fn tag(self) -> &'static str {
        match self {
            KeyType::S => "S",
            KeyType::N => "N",
            KeyType::B => "B",
        }
    }

    /// Parses a DynamoDB `AttributeType` tag.
    pub fn from_tag(tag: &str) -> Option<KeyType> {
        match tag {
            "S" => Some(KeyType::S),
            "N" => Some(KeyType::N),
            "B" => Some(KeyType::B),
            _ => None,
        }
    }

    /// Whether `value` has this type.
    pub fn matches(self, value: &AttributeValue) -> bool {
        matches!(
            (self, value),
            (KeyType::S, AttributeValue::S(_))
                | (KeyType::N, AttributeValue::N(_))
                | (KeyType::B, AttributeValue::B(_))
        )
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

/// One key attribute: its name and type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyAttribute {
    /// The attribute name.
    pub name: String,
    /// The attribute type.
    pub key_type: KeyType,
}

/// A table's primary key: a partition (hash) key and an optional sort
/// (range) key.
///
/// ```
/// use eddy_model::{Item, KeySchema, KeyType};
/// let schema = KeySchema::new("customer", KeyType::S).with_sort_key("order", KeyType::N);
/// let item = Item::new().with("customer", "c1").with("order", 7).with("total", 12);
/// schema.validate_item(&item).unwrap();
/// assert_eq!(schema.key_of(&item).unwrap(), Item::new().with("customer", "c1").with("order", 7));
/// assert!(schema.validate_item(&Item::new().with("customer", "c1")).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeySchema {
    /// The partition key.
    pub partition: KeyAttribute,
    /// The sort key, if the table has one.
    pub sort: Option<KeyAttribute>,
}

impl KeySchema {
    /// A schema with only a partition key.
    pub fn new(name: impl Into<String>, key_type: KeyType) -> KeySchema {
        KeySchema {
            partition: KeyAttribute {
                name: name.into(),
                key_type,
            },
            sort: None,
        }
    }

    /// This schema with a sort key.
    pub fn with_sort_key(mut self, name: impl Into<String>, key_type: KeyType) -> KeySchema {
        self.sort = Some(KeyAttribute {
            name: name.into(),
            key_type,
        });
        self
    }

    /// The key attributes, partition first.
    pub fn attributes(&self) -> impl Iterator<Item = &KeyAttribute> {
        std::iter::once(&self.partition).chain(self.sort.as_ref())
    }

    /// Whether `name` is one of the key attributes.
    pub fn is_key_attribute(&self, name: &str) -> bool {
        self.attributes().any(|a| a.name == name)
    }

    /// Checks the schema itself: non-empty, distinct attribute names.
    pub fn validate(&self) -> Result<()> {
        for attr in self.attributes() {
            crate::value::check_attribute_name(&attr.name)?;
        }
        if let Some(sort) = &self.sort {
            if sort.name == self.partition.name {
                return Err(Error::InvalidKey(format!(
                    "Both the Hash Key and the Range Key element in the KeySchema have the same name: {}",
                    sort.name
                )));
            }
        }
        Ok(())
    }

    /// Checks an item for storing: valid names and values, every key
    /// attribute present with the right type, non-empty and within its size
    /// limit, and the whole item within 400 KB.
    pub fn validate_item(&self, item: &Item) -> Result<()> {
        item.validate()?;
        for (attr, max, which) in self.limits() {
            let value = item.get(&attr.name).ok_or_else(|| {
                Error::InvalidKey(format!("Missing the key {} in the item", attr.name))
            })?;
            check_key_value(attr, value, max, which)?;
        }
        let size = item_size(item);
        if size > MAX_ITEM_SIZE {
            return Err(Error::ItemTooLarge {
                size,
                max: MAX_ITEM_SIZE,
            });
        }
        Ok(())
    }

    /// Checks a key given to a read or delete: exactly the key attributes,
    /// with the right types.
    pub fn validate_key(&self, key: &Item) -> Result<()> {
        let expected = self.attributes().count();
        if key.len() != expected || !self.attributes().all(|a| key.contains(&a.name)) {
            return Err(Error::InvalidKey(
                "The provided key element does not match the schema".into(),
            ));
        }
        for (attr, max, which) in self.limits() {
            if let Some(value) = key.get(&attr.name) {
                check_key_value(attr, value, max, which)?;
            }
        }
        Ok(())
    }

    /// The key attributes of an item, as an item.
    pub fn key_of(&self, item: &Item) -> Result<Item> {
        let mut key = Item::new();
        for attr in self.attributes() {
            let value = item.get(&attr.name).ok_or_else(|| {
                Error::InvalidKey(format!("Missing the key {} in the item", attr.name))
            })?;
            key.insert(attr.name.clone(), value.clone());
        }
        Ok(key)
    }

    /// The order-preserving encoding of an item's (or key's) primary key.
    pub fn encode_key(&self, item: &Item) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(32);
        for attr in self.attributes() {
            let value = item.get(&attr.name).ok_or_else(|| {
                Error::InvalidKey(format!("Missing the key {} in the item", attr.name))
            })?;
            if !attr.key_type.matches(value) {
                return Err(type_mismatch(attr, value));
            }
            encode_key_value(value, &mut out);
        }
        Ok(out)
    }

    fn limits(&self) -> impl Iterator<Item = (&KeyAttribute, usize, &'static str)> {
        std::iter::once((&self.partition, MAX_PARTITION_KEY_BYTES, "hashkey")).chain(
            self.sort
                .as_ref()
                .map(|s| (s, MAX_SORT_KEY_BYTES, "rangekey")),
        )
    }
}

fn type_mismatch(attr: &KeyAttribute, value: &AttributeValue) -> Error {
    Error::InvalidKey(format!(
        "Type mismatch for key {} expected: {} actual: {}",
        attr.name,
        attr.key_type,
        value.attribute_type()
    ))
}

fn check_key_value(
    attr: &KeyAttribute,
    value: &AttributeValue,
    max: usize,
    which: &str,
) -> Result<()> {
    if !attr.key_type.matches(value) {
        return Err(type_mismatch(attr, value));
    }
    let len = match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::B(b) => b.len(),
        AttributeValue::N(n) => n.size(),
        _ => 0,
    };
    if len == 0 && !matches!(value, AttributeValue::N(_)) {
        return Err(Error::InvalidKey(format!(
            "The AttributeValue for a key attribute cannot contain an empty {} value. Key: {}",
            if matches!(value, AttributeValue::S(_)) {
                "string"
            } else {
                "binary"
            },
            attr.name
        )));
    }
    if len > max {
        return Err(Error::InvalidKey(format!(
            "Size of {which} has exceeded the maximum size limit of {max} bytes (key {} is {len} bytes)",
            attr.name
        )));
    }
    Ok(())
}

/// Appends the order-preserving, self-delimiting encoding of one key value.
/// Non-key types (which a validated key never holds) encode as nothing.
pub fn encode_key_value(value: &AttributeValue, out: &mut Vec<u8>) {
    match value {
        AttributeValue::N(n) => n.encode_ordered(out),
        AttributeValue::S(s) => encode_bytes(s.as_bytes(), out, true),
        AttributeValue::B(b) => encode_bytes(b, out, true),
        _ => {}
    }
}

/// Appends the encoding of a string or binary value without its terminator:
/// a byte prefix of the encoding of every value that begins with it.
pub fn encode_key_prefix(value: &AttributeValue, out: &mut Vec<u8>) {
    match value {
        AttributeValue::S(s) => encode_bytes(s.as_bytes(), out, false),
        AttributeValue::B(b) => encode_bytes(b, out, false),
        other => encode_key_value(other, out),
    }
}

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>, terminate: bool) {
    out.reserve(bytes.len() + 2);
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    if terminate {
        out.extend_from_slice(&[0, 0]);
    }
}

/// The smallest byte string greater than every string that starts with
/// `prefix`, or `None` if there is none (the prefix is all `FF`).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last < 0xFF {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(v: &AttributeValue) -> Vec<u8> {
        let mut out = Vec::new();
        encode_key_value(v, &mut out);
        out
    }

    fn schema() -> KeySchema {
        KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N)
    }

    #[test]
    fn key_validation_messages_name_the_attribute() {
        let s = schema();
        let err = s
            .validate_item(&Item::new().with("pk", "a"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("sk"), "{err}");
        let err = s
            .validate_item(&Item::new().with("pk", "a").with("sk", "x"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("Type mismatch for key sk"), "{err}");
        let err = s
            .validate_item(&Item::new().with("pk", "").with("sk", 1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("empty string") && err.contains("pk"), "{err}");
        let long = "x".repeat(2049);
        let err = s
            .validate_item(&Item::new().with("pk", long).with("sk", 1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("hashkey"), "{err}");
        assert!(s
            .validate_key(&Item::new().with("pk", "a").with("sk", 1).with("x", 1))
            .is_err());
        assert!(s
            .validate_key(&Item::new().with("pk", "a").with("sk", 1))
            .is_ok());
        let big = Item::new()
            .with("pk", "a")
            .with("sk", 1)
            .with("blob", vec![0u8; MAX_ITEM_SIZE]);
        assert!(matches!(
            s.validate_item(&big),
            Err(Error::ItemTooLarge { .. })
        ));
    }

    #[test]
    fn same_names_are_refused() {
        let s = KeySchema::new("a", KeyType::S).with_sort_key("a", KeyType::S);
        assert!(s.validate().is_err());
    }

    #[test]
    fn prefix_successor_carries() {
        assert_eq!(prefix_successor(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_successor(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xFF, 0xFF]), None);
    }

    proptest! {
        #[test]
        fn string_encoding_preserves_order(a in ".{0,12}", b in ".{0,12}") {
            let (ea, eb) = (enc(&AttributeValue::S(a.clone())), enc(&AttributeValue::S(b.clone())));
            prop_assert_eq!(ea.cmp(&eb), a.as_bytes().cmp(b.as_bytes()));
        }

        #[test]
        fn binary_encoding_preserves_order(a in prop::collection::vec(0u8..4, 0..8), b in prop::collection::vec(0u8..4, 0..8)) {
            let (ea, eb) = (enc(&AttributeValue::B(a.clone())), enc(&AttributeValue::B(b.clone())));
            prop_assert_eq!(ea.cmp(&eb), a.cmp(&b));
        }

        #[test]
        fn composite_keys_sort_by_partition_then_sort_key(
            p1 in prop::collection::vec(0u8..3, 1..4), p2 in prop::collection::vec(0u8..3, 1..4),
            s1 in -50i64..50, s2 in -50i64..50,
        ) {
            let schema = KeySchema::new("pk", KeyType::B).with_sort_key("sk", KeyType::N);
            let k1 = schema.encode_key(&Item::new().with("pk", p1.clone()).with("sk", s1)).unwrap();
            let k2 = schema.encode_key(&Item::new().with("pk", p2.clone()).with("sk", s2)).unwrap();
            prop_assert_eq!(k1.cmp(&k2), p1.cmp(&p2).then(s1.cmp(&s2)));
        }

        #[test]
        fn prefix_encoding_matches_begins_with(a in "[a\\x00b]{0,6}", p in "[a\\x00b]{0,3}") {
            let mut prefix = Vec::new();
            encode_key_prefix(&AttributeValue::S(p.clone()), &mut prefix);
            let full = enc(&AttributeValue::S(a.clone()));
            prop_assert_eq!(full.starts_with(&prefix), a.starts_with(&p));
        }
    }
}
