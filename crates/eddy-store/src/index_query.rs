//! Queries, scans and statistics of secondary indexes.
//!
//! An index entry's key is the encoded index key values followed by the
//! encoded table key ([`eddy_model::index`]). A key condition on the index
//! key gives the same byte range as on a table ([`crate::query`]), but over
//! *index key values*; since every entry extends its index key value with a
//! table key suffix, the bounds are widened to cover the suffixes:
//!
//! | bound on index key values | bound on entry keys |
//! |---|---|
//! | `>= x` | `>= x` (every `x·t` is above `x`) |
//! | `> x` | `>= succ(x)`: past every `x·t` |
//! | `<= x` | `< succ(x)`: up to every `x·t` |
//! | `< x` | `< x` (every `x·t` is above `x`) |
//!
//! where `succ` is [`prefix_successor`]. An exclusive start key is a whole
//! entry key (index key and table key attributes), so it narrows the range
//! exactly as it does for a table, and a page's `LastEvaluatedKey` is the
//! same set of attributes, which every projection carries. Pages follow
//! the table's rules: `limit` items or about 1 MB of *projected* items.

use std::ops::Bound;

use eddy_model::key::prefix_successor;
use eddy_model::{item_size, IndexDef, TableDef};

use crate::catalog::{Entry, TableStats};
use crate::error::{Error, Result};
use crate::index::{no_such_index, IndexTree};
use crate::query::{after_prefix, check_limit, condition_range, invalid, read_page, KeyRange};
use crate::query::{Page, Query, Scan};
use crate::{decode_stored_item, Store};

/// Widens a range over index key values to one over entry keys (see the
/// module docs).
fn widen(range: KeyRange) -> KeyRange {
    let lo = match range.lo {
        Bound::Excluded(x) => match prefix_successor(&x) {
            Some(s) => Bound::Included(s),
            // Nothing sorts after every extension of `x`: an empty range.
            None => {
                return KeyRange {
                    lo: Bound::Included(x.clone()),
                    hi: Bound::Excluded(x),
                }
            }
        },
        other => other,
    };
    let hi = match range.hi {
        Bound::Included(x) => after_prefix(&x),
        other => other,
    };
    KeyRange { lo, hi }
}

/// The readable index of this name, with its tree.
fn readable<'a>(entry: &'a Entry, name: &str) -> Result<&'a IndexTree> {
    entry.def.index(name).ok_or_else(|| no_such_index(name))?;
    entry
        .indexes
        .iter()
        .find(|i| i.def.name == name)
        .ok_or_else(|| no_such_index(name))
}

/// Validates a caller's start key for an index and encodes it.
fn start_key(def: &TableDef, index: &IndexDef, key: &eddy_model::Item) -> Result<Vec<u8>> {
    index
        .encode_start_key(&def.key_schema, key)
        .map_err(|e| invalid(format!("The provided starting key is invalid: {e}")))
}

impl Store {
    /// Runs a query on a secondary index: the entries of one index
    /// partition matching the sort key condition, one page of them, in (or
    /// against) index sort key order, and in table key order among equal
    /// index keys. Items are as the index projects them.
    ///
    /// Fails like [`query`](Store::query), with the index's key schema in
    /// place of the table's, and with [`Error::Validation`] ("The table
    /// does not have the specified index: …") for an unknown index.
    pub fn query_index(&self, table: &TableDef, index: &str, query: &Query) -> Result<Page> {
        check_limit(query.limit)?;
        let tables = self.inner.tables.read();
        let entry = tables.entry(table)?;
        let index = readable(entry, index)?;
        let def = &index.def;
        let mut range = widen(condition_range(&def.key_schema, query)?);
        if let Some(esk) = &query.exclusive_start_key {
            let start = start_key(&entry.def, def, esk)?;
            if esk.get(&def.key_schema.partition.name) != Some(&query.partition) {
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
        let schema = &entry.def.key_schema;
        read_page(
            &index.tree,
            |item| def.entry_key_of(schema, item),
            range,
            query.forward,
            query.limit,
        )
    }

    /// Runs a scan of a secondary index: one page of all its entries, in
    /// index key order (then table key order).
    pub fn scan_index(&self, table: &TableDef, index: &str, scan: &Scan) -> Result<Page> {
        check_limit(scan.limit)?;
        let tables = self.inner.tables.read();
        let entry = tables.entry(table)?;
        let index = readable(entry, index)?;
        let def = &index.def;
        let mut range = KeyRange {
            lo: Bound::Unbounded,
            hi: Bound::Unbounded,
        };
        if let Some(esk) = &scan.exclusive_start_key {
            range.start_after(start_key(&entry.def, def, esk)?);
        }
        let schema = &entry.def.key_schema;
        read_page(
            &index.tree,
            |item| def.entry_key_of(schema, item),
            range,
            true,
            scan.limit,
        )
    }

    /// Counts an index's entries and sums their projected sizes, for
    /// `DescribeTable`'s `IndexSizeBytes` and `ItemCount`. O(n) in the
    /// index's size.
    pub fn index_stats(&self, table: &str, index: &str) -> Result<TableStats> {
        let tables = self.inner.tables.read();
        let entry = tables
            .by_name(table)
            .ok_or_else(|| Error::TableNotFound(table.to_string()))?;
        let index = readable(entry, index)?;
        let mut stats = TableStats::default();
        for kv in index.tree.iter() {
            let (key, value) = kv?;
            let item = decode_stored_item(&key, &value)?;
            stats.item_count += 1;
            stats.size_bytes += item_size(&item) as u64;
        }
        Ok(stats)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn widening_covers_table_key_suffixes() {
        use Bound::{Excluded, Included, Unbounded};
        let r = widen(KeyRange {
            lo: Excluded(vec![1, 2]),
            hi: Included(vec![5, 0xFF]),
        });
        assert_eq!(r.lo, Included(vec![1, 3]));
        assert_eq!(r.hi, Excluded(vec![6]));
        let r = widen(KeyRange {
            lo: Included(vec![1]),
            hi: Excluded(vec![4]),
        });
        assert_eq!((r.lo, r.hi), (Included(vec![1]), Excluded(vec![4])));
        assert!(widen(KeyRange {
            lo: Excluded(vec![0xFF]),
            hi: Unbounded,
        })
        .is_empty());
        assert_eq!(
            widen(KeyRange {
                lo: Unbounded,
                hi: Included(vec![0xFF]),
            })
            .hi,
            Unbounded
        );
    }
}
