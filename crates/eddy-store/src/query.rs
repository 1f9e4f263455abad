//! Queries and scans: DynamoDB's key conditions as sled range scans.
//!
//! Items are keyed by the order-preserving encoding of their primary key
//! ([`eddy_model::key`]), which is self-delimiting: the encoding of a
//! partition value is a byte prefix of every key in that partition, and the
//! encoding of a string or binary value without its terminator is a byte
//! prefix of the encoding of every value beginning with it. So every key
//! condition is one contiguous byte range:
//!
//! | condition | range (`P` = encoded partition value, `e(v)` = encoded sort value) |
//! |---|---|
//! | none | `[P, succ(P))` |
//! | `= v` | `[P·e(v), P·e(v)]` |
//! | `< v` / `<= v` | `[P, P·e(v))` / `[P, P·e(v)]` |
//! | `> v` / `>= v` | `(P·e(v), succ(P))` / `[P·e(v), succ(P))` |
//! | `BETWEEN a AND b` | `[P·e(a), P·e(b)]` |
//! | `begins_with(p)` | `[P·pre(p), succ(P·pre(p)))` |
//!
//! where `succ` is [`prefix_successor`]. An exclusive start key narrows the
//! lower bound (forward) or the upper bound (reverse) to exclude it.
//!
//! Pages follow DynamoDB: at most `limit` items and at most about 1 MB
//! ([`MAX_PAGE_BYTES`] of [`item_size`]); a page that stops for either
//! reason carries the key of its last item as `last_evaluated_key`, even if
//! nothing follows (DynamoDB does not look ahead either).

use std::ops::Bound;

use eddy_model::key::{encode_key_prefix, encode_key_value, prefix_successor};
use eddy_model::key::{MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES};
use eddy_model::{item_size, AttributeValue, Item, KeyAttribute, KeySchema, KeyType, TableDef};

use crate::error::{Error, Result};
use crate::{decode_stored_item, Store};

/// A page stops once its items' total size reaches this (1 MB, DynamoDB's
/// page size).
pub const MAX_PAGE_BYTES: usize = 1 << 20;

/// A condition on the sort key of a [`Query`]: the model's key-condition
/// type, so a parsed `KeyConditionExpression` is used as it is.
pub use eddy_model::expr::SortKeyCondition as SortCondition;

/// A query: the items of one partition, optionally narrowed by a sort key
/// condition, in sort key order.
///
/// ```
/// use eddy_store::{Query, SortCondition};
/// let q = Query::new("customer-1").sort(SortCondition::Between(1.into(), 9.into())).reverse().limit(10);
/// assert!(!q.forward);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The partition key value.
    pub partition: AttributeValue,
    /// The sort key condition, if any.
    pub sort: Option<SortCondition>,
    /// Ascending sort key order if true (the default), descending if false.
    pub forward: bool,
    /// The most items to return (at least 1).
    pub limit: Option<usize>,
    /// Resume after this key (a previous page's `last_evaluated_key`).
    pub exclusive_start_key: Option<Item>,
}

impl Query {
    /// A forward query of a whole partition.
    pub fn new(partition: impl Into<AttributeValue>) -> Query {
        Query {
            partition: partition.into(),
            sort: None,
            forward: true,
            limit: None,
            exclusive_start_key: None,
        }
    }

    /// Adds a sort key condition.
    pub fn sort(mut self, condition: SortCondition) -> Query {
        self.sort = Some(condition);
        self
    }

    /// Returns items in descending sort key order.
    pub fn reverse(mut self) -> Query {
        self.forward = false;
        self
    }

    /// Returns at most `n` items.
    pub fn limit(mut self, n: usize) -> Query {
        self.limit = Some(n);
        self
    }

    /// Resumes after `key` (exclusive).
    pub fn start_after(mut self, key: Item) -> Query {
        self.exclusive_start_key = Some(key);
        self
    }
}

/// A scan: every item of a table, in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// The most items to return (at least 1).
    pub limit: Option<usize>,
    /// Resume after this key (a previous page's `last_evaluated_key`).
    pub exclusive_start_key: Option<Item>,
}

impl Scan {
    /// A scan of the whole table.
    pub fn new() -> Scan {
        Scan::default()
    }

    /// Returns at most `n` items.
    pub fn limit(mut self, n: usize) -> Scan {
        self.limit = Some(n);
        self
    }

    /// Resumes after `key` (exclusive).
    pub fn start_after(mut self, key: Item) -> Scan {
        self.exclusive_start_key = Some(key);
        self
    }
}

/// One page of a query or scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The items, in the order read.
    pub items: Vec<Item>,
    /// The key of the last item if the page stopped early (limit or 1 MB):
    /// pass it as the next request's exclusive start key.
    pub last_evaluated_key: Option<Item>,
    /// How many items were read (equal to `items.len()`: there are no
    /// filters at this layer).
    pub scanned_count: usize,
}

/// A range of encoded keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyRange {
    pub(crate) lo: Bound<Vec<u8>>,
    pub(crate) hi: Bound<Vec<u8>>,
}

impl KeyRange {
    pub(crate) fn is_empty(&self) -> bool {
        use Bound::{Excluded, Included};
        match (&self.lo, &self.hi) {
            (Included(l), Included(h)) => l > h,
            (Included(l) | Excluded(l), Included(h) | Excluded(h)) => l >= h,
            _ => false,
        }
    }

    /// Narrows the range to keys strictly after `start`.
    pub(crate) fn start_after(&mut self, start: Vec<u8>) {
        let tighter = match &self.lo {
            Bound::Unbounded => true,
            Bound::Included(l) | Bound::Excluded(l) => start >= *l,
        };
        if tighter {
            self.lo = Bound::Excluded(start);
        }
    }

    /// Narrows the range to keys strictly before `start`.
    pub(crate) fn end_before(&mut self, start: Vec<u8>) {
        let tighter = match &self.hi {
            Bound::Unbounded => true,
            Bound::Included(h) | Bound::Excluded(h) => start <= *h,
        };
        if tighter {
            self.hi = Bound::Excluded(start);
        }
    }
}

/// The exclusive upper bound of all keys with this prefix.
pub(crate) fn after_prefix(prefix: &[u8]) -> Bound<Vec<u8>> {
    prefix_successor(prefix).map_or(Bound::Unbounded, Bound::Excluded)
}

pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::Validation(message.into())
}

/// DynamoDB's rendering of a condition operand in error messages.
fn operand(value: &AttributeValue) -> String {
    match value {
        AttributeValue::S(s) => format!("AttributeValue: {{S:{s}}}"),
        AttributeValue::N(n) => format!("AttributeValue: {{N:{n}}}"),
        AttributeValue::B(b) => format!("AttributeValue: {{B:{b:02x?}}}"),
        other => format!("AttributeValue: {other:?}"),
    }
}

/// Checks a condition value against a key attribute: same type, not empty,
/// within the key size limit.
fn check_operand(attr: &KeyAttribute, value: &AttributeValue, max: usize) -> Result<()> {
    let len = match (attr.key_type, value) {
        (KeyType::S, AttributeValue::S(s)) => s.len(),
        (KeyType::B, AttributeValue::B(b)) => b.len(),
        (KeyType::N, AttributeValue::N(_)) => return Ok(()),
        _ => {
            return Err(invalid(
                "One or more parameter values were invalid: Condition parameter type does not match schema type",
            ))
        }
    };
    if len == 0 {
        return Err(invalid(format!(
            "One or more parameter values were invalid: An AttributeValue may not contain an empty {} value. Key: {}",
            if attr.key_type == KeyType::S { "string" } else { "binary" },
            attr.name
        )));
    }
    if len > max {
        return Err(invalid(format!(
            "One or more parameter values were invalid: Size of key {} has exceeded the maximum size limit of {max} bytes",
            attr.name
        )));
    }
    Ok(())
}

pub(crate) fn check_limit(limit: Option<usize>) -> Result<()> {
    if limit == Some(0) {
        return Err(invalid(
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
        ));
    }
    Ok(())
}

/// The key range of a query's key condition.
pub(crate) fn condition_range(schema: &KeySchema, query: &Query) -> Result<KeyRange> {
    check_operand(&schema.partition, &query.partition, MAX_PARTITION_KEY_BYTES)?;
    let mut p = Vec::new();
    encode_key_value(&query.partition, &mut p);
    let Some(condition) = &query.sort else {
        let hi = after_prefix(&p);
        return Ok(KeyRange {
            lo: Bound::Included(p),
            hi,
        });
    };
    let Some(sort) = &schema.sort else {
        return Err(invalid(
            "Query key condition not supported: the table has no sort key, so the key condition may only name the partition key",
        ));
    };
    let key = |value: &AttributeValue| -> Result<Vec<u8>> {
        check_operand(sort, value, MAX_SORT_KEY_BYTES)?;
        let mut k = p.clone();
        encode_key_value(value, &mut k);
        Ok(k)
    };
    use Bound::{Excluded, Included};
    let (lo, hi) = match condition {
        SortCondition::Eq(v) => {
            let k = key(v)?;
            (Included(k.clone()), Included(k))
        }
        SortCondition::Lt(v) => (Included(p.clone()), Excluded(key(v)?)),
        SortCondition::Le(v) => (Included(p.clone()), Included(key(v)?)),
        SortCondition::Gt(v) => (Excluded(key(v)?), after_prefix(&p)),
        SortCondition::Ge(v) => (Included(key(v)?), after_prefix(&p)),
        SortCondition::Between(a, b) => {
            let (ka, kb) = (key(a)?, key(b)?);
            if ka > kb {
                return Err(invalid(format!(
                    "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: {}, upper bound operand: {}",
                    operand(a),
                    operand(b)
                )));
            }
            (Included(ka), Included(kb))
        }
        SortCondition::BeginsWith(v) => {
            if sort.key_type == KeyType::N
                || !matches!(v, AttributeValue::S(_) | AttributeValue::B(_))
            {
                return Err(invalid(format!(
                    "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: {}",
                    if sort.key_type == KeyType::N { "N".to_string() } else { v.attribute_type().to_string() }
                )));
            }
            check_operand(sort, v, MAX_SORT_KEY_BYTES)?;
            let mut k = p.clone();
            encode_key_prefix(v, &mut k);
            let hi = after_prefix(&k);
            (Included(k), hi)
        }
    };
    Ok(KeyRange { lo, hi })
}

/// Validates a caller's start key and encodes it.
fn start_key(table: &TableDef, key: &Item) -> Result<Vec<u8>> {
    let schema = &table.key_schema;
    schema
        .validate_key(key)
        .and_then(|()| schema.encode_key(key))
        .map_err(|e| invalid(format!("The provided starting key is invalid: {e}")))
}

/// Reads one page of `range`; `key_of` gives a stored item's
/// `LastEvaluatedKey` (`None` means the stored item lacks a key attribute).
pub(crate) fn read_page(
    tree: &sled::Tree,
    key_of: impl Fn(&Item) -> Option<Item>,
    range: KeyRange,
    forward: bool,
    limit: Option<usize>,
) -> Result<Page> {
    let mut page = Page::default();
    if range.is_empty() {
        return Ok(page);
    }
    let mut iter = tree.range::<Vec<u8>, _>((range.lo, range.hi));
    let mut bytes = 0usize;
    let mut last_key = None;
    let stopped = loop {
        if limit.is_some_and(|l| page.items.len() >= l) || bytes >= MAX_PAGE_BYTES {
            break true;
        }
        let next = if forward {
            iter.next()
        } else {
            iter.next_back()
        };
        let Some(kv) = next else { break false };
        let (key, value) = kv?;
        let item = decode_stored_item(&key, &value)?;
        bytes += item_size(&item);
        page.items.push(item);
        last_key = Some(key);
    };
    page.scanned_count = page.items.len();
    if stopped {
        if let (Some(item), Some(key)) = (page.items.last(), last_key) {
            let lek = key_of(item)
                .ok_or_else(|| Error::corrupt("item", &key, "a key attribute is missing"))?;
            page.last_evaluated_key = Some(lek);
        }
    }
    Ok(page)
}

impl Store {
    /// Runs a query: the items of one partition matching the sort key
    /// condition, one page of them, in (or, with `forward == false`,
    /// against) sort key order.
    ///
    /// Fails with [`Error::Validation`] if the partition value or a
    /// condition operand does not fit the key schema, a sort condition is
    /// given for a table without a sort key, `BETWEEN`'s bounds are
    /// inverted, `limit` is 0, or the start key is not a key of this table
    /// in this partition.
    pub fn query(&self, table: &TableDef, query: &Query) -> Result<Page> {
        check_limit(query.limit)?;
        let tables = self.inner.tables.read();
        let entry = tables.entry(table)?;
        let schema = &entry.def.key_schema;
        let mut range = condition_range(schema, query)?;
        if let Some(esk) = &query.exclusive_start_key {
            let start = start_key(&entry.def, esk)?;
            if esk.get(&schema.partition.name) != Some(&query.partition) {
                return Err(invalid(
                    "The provided starting key is invalid: its partition key does not match the query's",
                ));
            }
            if query.forward {
                range.start_after(start);
            } else {
                range.end_before(start);
            }
        }
        read_page(
            &entry.tree,
            |item| schema.key_of(item).ok(),
            range,
            query.forward,
            query.limit,
        )
    }

    /// Runs a scan: one page of the whole table, in key order.
    pub fn scan(&self, table: &TableDef, scan: &Scan) -> Result<Page> {
        check_limit(scan.limit)?;
        let tables = self.inner.tables.read();
        let entry = tables.entry(table)?;
        let mut range = KeyRange {
            lo: Bound::Unbounded,
            hi: Bound::Unbounded,
        };
        if let Some(esk) = &scan.exclusive_start_key {
            range.start_after(start_key(&entry.def, esk)?);
        }
        let schema = &entry.def.key_schema;
        read_page(
            &entry.tree,
            |item| schema.key_of(item).ok(),
            range,
            true,
            scan.limit,
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn range(lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> KeyRange {
        KeyRange {
            lo: lo.map(<[u8]>::to_vec),
            hi: hi.map(<[u8]>::to_vec),
        }
    }

    #[test]
    fn empty_ranges() {
        use Bound::{Excluded, Included, Unbounded};
        assert!(!range(Included(b"a"), Included(b"a")).is_empty());
        assert!(range(Included(b"a"), Excluded(b"a")).is_empty());
        assert!(range(Excluded(b"a"), Included(b"a")).is_empty());
        assert!(range(Included(b"b"), Included(b"a")).is_empty());
        assert!(!range(Unbounded, Excluded(b"a")).is_empty());
        assert!(!range(Included(b"z"), Unbounded).is_empty());
    }

    #[test]
    fn start_keys_only_narrow() {
        use Bound::{Excluded, Included};
        let mut r = range(Included(b"c"), Included(b"f"));
        r.start_after(b"a".to_vec());
        assert_eq!(r.lo, Included(b"c".to_vec()));
        r.start_after(b"d".to_vec());
        assert_eq!(r.lo, Excluded(b"d".to_vec()));
        r.end_before(b"g".to_vec());
        assert_eq!(r.hi, Included(b"f".to_vec()));
        r.end_before(b"e".to_vec());
        assert_eq!(r.hi, Excluded(b"e".to_vec()));
    }
}
