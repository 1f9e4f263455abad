//! Secondary indexes: their definitions, DynamoDB's rules for them, and the
//! entry an item contributes to each.
//!
//! The table store keeps one sled tree per index, keyed by
//! [`IndexDef::entry_key`]: the order-preserving encoding of the item's
//! index key values followed by the encoding of its table primary key. Both
//! encodings are self-delimiting ([`crate::key`]), so entries sort by index
//! key first and by table key among equal index keys, and every item has at
//! most one entry per index even when many items share an index key. That
//! is the order DynamoDB returns a global index's duplicates in, and the
//! reason a page of an index resumes from index key *and* table key.
//!
//! Indexes are sparse: an item has an entry only if it holds every index
//! key attribute with the index's type. DynamoDB refuses writes that give
//! an index key attribute the wrong type; the facade does that with
//! [`TableDef::validate_item_for_indexes`](crate::TableDef::validate_item_for_indexes),
//! and the store treats a wrong type it is handed anyway as absent, so
//! index maintenance can never fail on an item the table accepted.
//!
//! Everything here depends on the item and the definitions alone, which is
//! why it lives in the model: the store only moves bytes.

use std::collections::{BTreeMap, HashSet};

use crate::error::{Error, Result};
use crate::key::{encode_key_value, KeyAttribute, KeySchema, KeyType};
use crate::key::{MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES};
use crate::value::{check_attribute_name, AttributeValue, Item};

/// The most global secondary indexes a table may have.
pub const MAX_GLOBAL_INDEXES: usize = 20;
/// The most local secondary indexes a table may have.
pub const MAX_LOCAL_INDEXES: usize = 5;
/// The most `INCLUDE` non-key attributes, summed over a table's indexes.
pub const MAX_NON_KEY_ATTRIBUTES: usize = 100;

/// Whether an index is global (any key, added or removed at any time) or
/// local (the table's partition key, another sort key, fixed at creation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndexKind {
    /// A global secondary index.
    Global,
    /// A local secondary index.
    Local,
}

/// Which attributes an index entry carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Projection {
    /// The whole item.
    All,
    /// The table's key attributes and the index's key attributes.
    KeysOnly,
    /// The keys plus these non-key attributes.
    Include(Vec<String>),
}

/// A secondary index as the catalog records it.
///
/// ```
/// use eddy_model::index::{IndexDef, Projection};
/// use eddy_model::{Item, KeySchema, KeyType};
/// let table = KeySchema::new("pk", KeyType::S);
/// let index = IndexDef::global("by_email", KeySchema::new("email", KeyType::S))
///     .with_projection(Projection::KeysOnly);
/// let item = Item::new().with("pk", "u1").with("email", "a@b").with("age", 3);
/// assert!(index.entry_key(&table, &item).is_some());
/// assert_eq!(index.project(&table, &item), Item::new().with("pk", "u1").with("email", "a@b"));
/// // Sparse: no email, no entry.
/// assert!(index.entry_key(&table, &Item::new().with("pk", "u2")).is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IndexDef {
    /// The index name (3 to 255 of `[A-Za-z0-9_.-]`, unique in its table).
    pub name: String,
    /// Global or local.
    pub kind: IndexKind,
    /// The index's key.
    pub key_schema: KeySchema,
    /// The attributes each entry carries.
    pub projection: Projection,
}

impl IndexDef {
    /// A global index projecting all attributes.
    pub fn global(name: impl Into<String>, key_schema: KeySchema) -> IndexDef {
        IndexDef {
            name: name.into(),
            kind: IndexKind::Global,
            key_schema,
            projection: Projection::All,
        }
    }

    /// A local index projecting all attributes.
    pub fn local(name: impl Into<String>, key_schema: KeySchema) -> IndexDef {
        IndexDef {
            kind: IndexKind::Local,
            ..IndexDef::global(name, key_schema)
        }
    }

    /// This index with another projection.
    pub fn with_projection(mut self, projection: Projection) -> IndexDef {
        self.projection = projection;
        self
    }

    /// The attributes that identify an entry: the index key attributes,
    /// then the table key attributes not already among them. They make up
    /// an index page's `LastEvaluatedKey`.
    pub fn entry_key_attributes<'a>(&'a self, table: &'a KeySchema) -> Vec<&'a KeyAttribute> {
        let mut attrs: Vec<&KeyAttribute> = self.key_schema.attributes().collect();
        for attr in table.attributes() {
            if !attrs.iter().any(|a| a.name == attr.name) {
                attrs.push(attr);
            }
        }
        attrs
    }

    /// The key of the item's entry in this index, or `None` if the item has
    /// none: an index key attribute is missing or has another type, or the
    /// item lacks its table key.
    pub fn entry_key(&self, table: &KeySchema, item: &Item) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(48);
        for attr in self.key_schema.attributes() {
            let value = item.get(&attr.name)?;
            if !attr.key_type.matches(value) {
                return None;
            }
            encode_key_value(value, &mut out);
        }
        out.extend(table.encode_key(item).ok()?);
        Some(out)
    }

    /// The item as this index stores it, by the projection.
    pub fn project(&self, table: &KeySchema, item: &Item) -> Item {
        let names: &[String] = match &self.projection {
            Projection::All => return item.clone(),
            Projection::KeysOnly => &[],
            Projection::Include(names) => names,
        };
        let keys = self.entry_key_attributes(table);
        keys.iter()
            .map(|a| a.name.as_str())
            .chain(names.iter().map(String::as_str))
            .filter_map(|name| item.get(name).map(|v| (name, v.clone())))
            .collect()
    }

    /// The entry-identifying attributes of a stored entry (see
    /// [`entry_key_attributes`](IndexDef::entry_key_attributes)), or `None`
    /// if one is missing.
    pub fn entry_key_of(&self, table: &KeySchema, item: &Item) -> Option<Item> {
        let mut key = Item::new();
        for attr in self.entry_key_attributes(table) {
            key.insert(attr.name.clone(), item.get(&attr.name)?.clone());
        }
        Some(key)
    }

    /// Validates a caller's exclusive start key for this index (exactly
    /// the entry-identifying attributes, with their types) and encodes it
    /// as an entry key.
    pub fn encode_start_key(&self, table: &KeySchema, key: &Item) -> Result<Vec<u8>> {
        let attrs = self.entry_key_attributes(table);
        if key.len() != attrs.len() || !attrs.iter().all(|a| key.contains(&a.name)) {
            return Err(Error::InvalidKey(format!(
                "The provided starting key does not match the key attributes of index {} ({})",
                self.name,
                attrs
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        for attr in attrs {
            if let Some(value) = key.get(&attr.name) {
                if !attr.key_type.matches(value) {
                    return Err(Error::InvalidKey(format!(
                        "Type mismatch for key {} expected: {} actual: {}",
                        attr.name,
                        attr.key_type,
                        value.attribute_type()
                    )));
                }
            }
        }
        self.entry_key(table, key)
            .ok_or_else(|| Error::InvalidKey("The provided starting key is invalid".into()))
    }

    /// The index key attributes with their size limits and DynamoDB's
    /// names for them.
    fn limits(&self) -> impl Iterator<Item = (&KeyAttribute, usize, &'static str)> {
        std::iter::once((
            &self.key_schema.partition,
            MAX_PARTITION_KEY_BYTES,
            "hashkey",
        ))
        .chain(
            self.key_schema
                .sort
                .as_ref()
                .map(|s| (s, MAX_SORT_KEY_BYTES, "rangekey")),
        )
    }

    /// Checks the index key values of an item about to be written: each one
    /// present must have the index's type, be non-empty and fit the key
    /// size limits. Missing attributes are fine (the index is sparse).
    pub fn validate_item(&self, item: &Item) -> Result<()> {
        for (attr, max, which) in self.limits() {
            let Some(value) = item.get(&attr.name) else {
                continue;
            };
            if !attr.key_type.matches(value) {
                return Err(Error::InvalidKey(format!(
                    "Type mismatch for Index Key {} Expected: {} Actual: {} IndexName: {}",
                    attr.name,
                    attr.key_type,
                    value.attribute_type(),
                    self.name
                )));
            }
            let (len, what) = match value {
                AttributeValue::S(s) => (s.len(), "string"),
                AttributeValue::B(b) => (b.len(), "binary"),
                AttributeValue::N(n) => (n.size(), "number"),
                _ => (0, "number"),
            };
            if len == 0 && attr.key_type != KeyType::N {
                return Err(Error::InvalidIndex(format!(
                    "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty {what} value. IndexName: {}, IndexKey: {}",
                    self.name, attr.name
                )));
            }
            if len > max {
                return Err(Error::InvalidKey(format!(
                    "Size of {which} has exceeded the maximum size limit of {max} bytes (index key {} of index {} is {len} bytes)",
                    attr.name, self.name
                )));
            }
        }
        Ok(())
    }
}

/// Checks an index name against DynamoDB's rules (those of table names).
pub fn validate_index_name(name: &str) -> Result<()> {
    crate::table::check_name(name, "indexName").map_err(Error::InvalidIndex)
}

fn invalid(message: String) -> Error {
    Error::InvalidIndex(format!(
        "One or more parameter values were invalid: {message}"
    ))
}

/// Checks a table's indexes against DynamoDB's rules: valid, unique names;
/// at most [`MAX_GLOBAL_INDEXES`] global and [`MAX_LOCAL_INDEXES`] local
/// indexes; local indexes only on tables with a sort key, sharing the
/// table's partition key and with another sort key; one type per key
/// attribute across all key schemas; non-empty, duplicate-free `INCLUDE`
/// lists of at most [`MAX_NON_KEY_ATTRIBUTES`] non-key attributes in all.
pub fn validate_indexes(table: &KeySchema, indexes: &[IndexDef]) -> Result<()> {
    let mut names = HashSet::new();
    let mut types: BTreeMap<&str, KeyType> = table
        .attributes()
        .map(|a| (a.name.as_str(), a.key_type))
        .collect();
    let (mut globals, mut locals, mut non_key) = (0usize, 0usize, 0usize);
    for index in indexes {
        validate_index_name(&index.name)?;
        if !names.insert(index.name.as_str()) {
            return Err(invalid(format!("Duplicate index name: {}", index.name)));
        }
        index.key_schema.validate()?;
        for attr in index.key_schema.attributes() {
            let known = *types.entry(attr.name.as_str()).or_insert(attr.key_type);
            if known != attr.key_type {
                return Err(invalid(format!(
                    "Attribute {} is defined with two types: {known} and {} (index {})",
                    attr.name, attr.key_type, index.name
                )));
            }
        }
        match index.kind {
            IndexKind::Global => globals += 1,
            IndexKind::Local => {
                locals += 1;
                check_local(table, index)?;
            }
        }
        if let Projection::Include(list) = &index.projection {
            if list.is_empty() {
                return Err(invalid(format!(
                    "NonKeyAttributes must not be empty when ProjectionType is INCLUDE (index {})",
                    index.name
                )));
            }
            let mut seen = HashSet::new();
            for name in list {
                check_attribute_name(name)?;
                if !seen.insert(name.as_str()) {
                    return Err(invalid(format!(
                        "Duplicate attribute in NonKeyAttributes of index {}: {name}",
                        index.name
                    )));
                }
                if !table.is_key_attribute(name) && !index.key_schema.is_key_attribute(name) {
                    non_key += 1;
                }
            }
        }
    }
    if globals > MAX_GLOBAL_INDEXES {
        return Err(invalid(format!(
            "Number of GlobalSecondaryIndexes ({globals}) exceeds the per-table limit of {MAX_GLOBAL_INDEXES}"
        )));
    }
    if locals > MAX_LOCAL_INDEXES {
        return Err(invalid(format!(
            "Number of LocalSecondaryIndexes ({locals}) exceeds the per-table limit of {MAX_LOCAL_INDEXES}"
        )));
    }
    if non_key > MAX_NON_KEY_ATTRIBUTES {
        return Err(invalid(format!(
            "Number of projected attributes in all indexes exceeds limit of {MAX_NON_KEY_ATTRIBUTES}, provided: {non_key}"
        )));
    }
    Ok(())
}

fn check_local(table: &KeySchema, index: &IndexDef) -> Result<()> {
    let Some(table_sort) = &table.sort else {
        return Err(invalid(
            "Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex".into(),
        ));
    };
    if index.key_schema.partition.name != table.partition.name {
        return Err(invalid(format!(
            "Index KeySchema does not have the same leading hash key as table KeySchema for index: {}. index hash key: {}, table hash key: {}",
            index.name, index.key_schema.partition.name, table.partition.name
        )));
    }
    match &index.key_schema.sort {
        None => Err(invalid(format!(
            "Index KeySchema does not have a range key for index: {}",
            index.name
        ))),
        Some(sort) if sort.name == table_sort.name => Err(invalid(format!(
            "Index KeySchema for index: {} has the same range key as the table KeySchema: {}",
            index.name, sort.name
        ))),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::table::TableDef;
    use proptest::prelude::*;

    fn table() -> KeySchema {
        KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N)
    }

    fn gsi(name: &str) -> IndexDef {
        IndexDef::global(name, KeySchema::new("g", KeyType::S))
    }

    fn lsi(name: &str) -> IndexDef {
        IndexDef::local(
            name,
            KeySchema::new("pk", KeyType::S).with_sort_key("l", KeyType::N),
        )
    }

    fn message(schema: &KeySchema, indexes: &[IndexDef]) -> String {
        validate_indexes(schema, indexes).unwrap_err().to_string()
    }

    #[test]
    fn valid_definitions_pass() {
        let indexes: Vec<IndexDef> = (0..MAX_GLOBAL_INDEXES)
            .map(|i| gsi(&format!("gsi{i}")))
            .chain((0..MAX_LOCAL_INDEXES).map(|i| lsi(&format!("lsi{i}"))))
            .collect();
        validate_indexes(&table(), &indexes).unwrap();
        validate_indexes(&table(), &[]).unwrap();
    }

    #[test]
    fn limits_and_names_are_enforced() {
        let globals: Vec<IndexDef> = (0..=MAX_GLOBAL_INDEXES)
            .map(|i| gsi(&format!("gsi{i}")))
            .collect();
        assert!(message(&table(), &globals).contains("GlobalSecondaryIndexes (21)"));
        let locals: Vec<IndexDef> = (0..=MAX_LOCAL_INDEXES)
            .map(|i| lsi(&format!("lsi{i}")))
            .collect();
        assert!(message(&table(), &locals).contains("LocalSecondaryIndexes (6)"));
        assert_eq!(
            message(&table(), &[gsi("dup"), lsi("dup")]),
            "One or more parameter values were invalid: Duplicate index name: dup"
        );
        assert!(message(&table(), &[gsi("ab")]).contains("IndexName must be at least 3"));
        assert!(message(&table(), &[gsi("bad name")]).contains("'indexName'"));
        assert!(message(&table(), &[gsi(&"x".repeat(256))]).contains("at most 255"));
    }

    #[test]
    fn local_indexes_follow_dynamodb() {
        assert_eq!(
            message(&KeySchema::new("pk", KeyType::S), &[lsi("lsi1")]),
            "One or more parameter values were invalid: Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex"
        );
        let other_hash = IndexDef::local(
            "lsi1",
            KeySchema::new("x", KeyType::S).with_sort_key("l", KeyType::N),
        );
        assert!(message(&table(), &[other_hash]).contains("same leading hash key"));
        let no_range = IndexDef::local("lsi1", KeySchema::new("pk", KeyType::S));
        assert!(
            message(&table(), &[no_range]).contains("does not have a range key for index: lsi1")
        );
        let same_range = IndexDef::local(
            "lsi1",
            KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N),
        );
        assert!(message(&table(), &[same_range]).contains("same range key"));
    }

    #[test]
    fn key_types_and_projections_are_checked() {
        let clash = IndexDef::global("gsi1", KeySchema::new("sk", KeyType::S));
        assert!(message(&table(), &[clash]).contains("Attribute sk is defined with two types"));
        let empty = gsi("gsi1").with_projection(Projection::Include(vec![]));
        assert!(message(&table(), &[empty]).contains("must not be empty"));
        let dup = gsi("gsi1").with_projection(Projection::Include(vec!["a".into(), "a".into()]));
        assert!(message(&table(), &[dup]).contains("Duplicate attribute"));
        let names = |n: usize| (0..n).map(|i| format!("a{i}")).collect::<Vec<_>>();
        let at_limit = [
            gsi("gsi1").with_projection(Projection::Include(names(60))),
            // Key attributes do not count.
            gsi("gsi2").with_projection(Projection::Include(
                names(40)
                    .into_iter()
                    .chain(["pk".into(), "g".into()])
                    .collect(),
            )),
        ];
        validate_indexes(&table(), &at_limit).unwrap();
        let over = [
            gsi("gsi1").with_projection(Projection::Include(names(60))),
            gsi("gsi2").with_projection(Projection::Include(names(41))),
        ];
        assert!(message(&table(), &over).contains("exceeds limit of 100"));
    }

    #[test]
    fn items_are_checked_against_index_key_types() {
        let def = TableDef::new("t1", 1, table(), 0).with_indexes(vec![
            IndexDef::global(
                "by_g",
                KeySchema::new("g", KeyType::S).with_sort_key("n", KeyType::N),
            ),
            lsi("by_l"),
        ]);
        let base = Item::new().with("pk", "a").with("sk", 1);
        def.validate_item_for_indexes(&base).unwrap();
        def.validate_item_for_indexes(&base.clone().with("g", "x").with("l", 2))
            .unwrap();
        let err = def
            .validate_item_for_indexes(&base.clone().with("g", 5))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "One or more parameter values were invalid: Type mismatch for Index Key g Expected: S Actual: N IndexName: by_g"
        );
        let err = def
            .validate_item_for_indexes(&base.clone().with("l", "x"))
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("Index Key l Expected: N Actual: S IndexName: by_l"),
            "{err}"
        );
        let err = def
            .validate_item_for_indexes(&base.clone().with("g", ""))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("empty string value. IndexName: by_g, IndexKey: g"),
            "{err}"
        );
        let err = def
            .validate_item_for_indexes(&base.clone().with("g", "x".repeat(2049)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("hashkey"), "{err}");
    }

    #[test]
    fn entries_are_sparse_and_projected() {
        let t = table();
        let index = IndexDef::global("by_g", KeySchema::new("g", KeyType::S));
        let item = Item::new()
            .with("pk", "a")
            .with("sk", 1)
            .with("g", "x")
            .with("o", 1)
            .with("p", 2);
        assert!(index.entry_key(&t, &item).is_some());
        // Missing or wrongly typed index key: no entry.
        assert!(index
            .entry_key(&t, &Item::new().with("pk", "a").with("sk", 1))
            .is_none());
        assert!(index.entry_key(&t, &item.clone().with("g", 1)).is_none());
        assert_eq!(index.project(&t, &item), item);
        let keys = Item::new().with("pk", "a").with("sk", 1).with("g", "x");
        let keys_only = index.clone().with_projection(Projection::KeysOnly);
        assert_eq!(keys_only.project(&t, &item), keys);
        let include = index.with_projection(Projection::Include(vec!["o".into(), "zz".into()]));
        assert_eq!(include.project(&t, &item), keys.clone().with("o", 1));
        assert_eq!(include.entry_key_of(&t, &item), Some(keys.clone()));
        assert_eq!(
            include.encode_start_key(&t, &keys).unwrap(),
            include.entry_key(&t, &item).unwrap()
        );
        assert!(include
            .encode_start_key(&t, &keys.clone().with("o", 1))
            .is_err());
        assert!(include
            .encode_start_key(&t, &keys.clone().with("g", 3))
            .is_err());
        assert!(include
            .encode_start_key(&t, &Item::new().with("g", "x"))
            .is_err());
    }

    proptest! {
        #[test]
        fn entries_sort_by_index_key_then_table_key(
            g1 in "[ab\\x00]{1,3}", g2 in "[ab\\x00]{1,3}",
            p1 in "[ab]{1,2}", p2 in "[ab]{1,2}", s1 in -5i64..5, s2 in -5i64..5,
        ) {
            let t = table();
            let index = IndexDef::global("by_g", KeySchema::new("g", KeyType::S));
            let e = |g: &str, p: &str, s: i64| {
                index.entry_key(&t, &Item::new().with("g", g).with("pk", p).with("sk", s)).unwrap()
            };
            let expected = g1.as_bytes().cmp(g2.as_bytes())
                .then(p1.as_bytes().cmp(p2.as_bytes()))
                .then(s1.cmp(&s2));
            prop_assert_eq!(e(&g1, &p1, s1).cmp(&e(&g2, &p2, s2)), expected);
        }
    }
}
