//! Secondary indexes: one sled tree per index, kept in step with the items.
//!
//! # Layout
//!
//! An index's tree is named `index/` ++ table id (u64 big-endian) ++ index
//! name. Its keys are [`IndexDef::entry_key`]: the encoded index key values
//! then the encoded table key, so equal index keys stay unique and ordered
//! by table key. Its values are the projected items, encoded like items.
//!
//! # Maintenance, and why it reads the current item
//!
//! For a table with indexes, [`Store::apply`] writes each change in one
//! sled transaction over the item tree and every index tree: it reads the
//! item currently stored under the key (seeing earlier changes of the same
//! call), removes the entries derived from it, inserts the entries derived
//! from the after-image, and writes the item. The old entries are derived
//! from what is stored, not from the change log's before-image, because
//! that is correct whatever the caller passes and whatever state a crash
//! left: a sled transaction is recovered all or nothing across trees, so
//! the item tree and the index trees always agree on every item, and
//! replaying any log suffix (from any state it may have reached) first
//! removes exactly the entries of the stored item, then writes those of the
//! after-image. Applying stays idempotent and `Apply` needs no
//! before-image. The cost, only for tables with indexes, is one read per
//! change.
//!
//! # A lone write goes without a transaction
//!
//! A sled transaction seals and writes sled's current I/O buffer before
//! and after it, like a batch, and holds sled's global write lock; writing
//! a million items one by one into an indexed table through transactions
//! ran at 9.7 K items/s with a peak RSS of over 800 MiB (see
//! docs/benchmarks.md). So one change applied on its own (the write path's
//! common case: a put, update or delete) is written with plain sled
//! operations, in this order: the index entries first (the stale ones
//! removed, the new ones inserted), the item last. That order is what keeps
//! replay correct without a transaction. Every operation of a change is in
//! sled's log after those of earlier changes, and a crash leaves sled at a
//! prefix of that log, so at worst a change's index entries are written
//! and its item is not. Replaying the change then reads the item as it was
//! before the change (still stored), removes its entries (already gone, or
//! removed now), writes the new ones (again) and the item: the same result
//! as a whole application. The other order would be wrong: with the item
//! written and its entries not, replay would read the new item as the
//! current one and never remove the old entries.
//!
//! A reader may see the index one change ahead of the table for that
//! moment (an index query returns the new projection while a `GetItem`
//! still returns the old item); the write is not acknowledged until both
//! are written. DynamoDB's global secondary indexes are only eventually
//! consistent with their table in any case. Groups of changes (batch
//! writes, transactions, replay) still go through one transaction, and so
//! does every write while an index is being backfilled, which relies on
//! each write being atomic (below).
//!
//! # Adding a global index
//!
//! [`Store::add_global_index`] is synchronous. It first makes the new index
//! *maintained* (every `apply` from then on writes its entries) but not
//! *readable*, then backfills by walking the table's keys in chunks; each
//! chunk re-reads its items and writes their entries in one transaction
//! with the item tree, so a concurrent `apply` is either entirely before
//! it (and the backfill sees its result) or entirely after (and replaces
//! the entry the backfill wrote). Only once the backfill is flushed does
//! the catalog record the index, and only then can it be queried. A crash
//! before that leaves a tree the catalog does not name, which
//! [`Store::open`] drops: the index simply does not exist, and adding it
//! again starts over. A crash after it is covered by the log replay as
//! above.

use std::ops::Bound;
use std::sync::Arc;

use eddy_model::codec::encode_item;
use eddy_model::{IndexDef, IndexKind, Item, TableDef};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;

use crate::catalog::Entry;
use crate::error::{Error, Result};
use crate::{decode_stored_item, Store};

/// Prefix of every index tree's name.
const INDEX_TREE_PREFIX: &[u8] = b"index/";

/// How many items one backfill transaction covers.
const BACKFILL_CHUNK: usize = 256;

/// One change to one table: the encoded item key, the after-image (`None`
/// to delete) and, if the caller has it, the after-image encoded.
pub(crate) type Write<'a> = (&'a [u8], Option<&'a Item>, Option<&'a [u8]>);

/// A maintained index: its definition and its open tree.
pub(crate) struct IndexTree {
    pub(crate) def: IndexDef,
    pub(crate) tree: sled::Tree,
}

/// The sled tree name of an index.
pub(crate) fn index_tree_name(table_id: u64, index: &str) -> Vec<u8> {
    let mut name = INDEX_TREE_PREFIX.to_vec();
    name.extend_from_slice(&table_id.to_be_bytes());
    name.extend_from_slice(index.as_bytes());
    name
}

/// The table id and index name a tree name stands for, if it is an index
/// tree.
pub(crate) fn index_tree_id(name: &[u8]) -> Option<(u64, String)> {
    let rest = name.strip_prefix(INDEX_TREE_PREFIX)?;
    let (id, index) = rest.split_at_checked(8)?;
    let id = u64::from_be_bytes(id.try_into().ok()?);
    Some((id, String::from_utf8(index.to_vec()).ok()?))
}

/// The error an unknown index name gets.
pub(crate) fn no_such_index(name: &str) -> Error {
    Error::Validation(format!(
        "The table does not have the specified index: {name}"
    ))
}

fn from_transaction(e: TransactionError<Error>) -> Error {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => Error::Sled(e),
    }
}

/// Reads the item stored under `key` inside a transaction.
fn current(
    items: &TransactionalTree,
    key: &[u8],
) -> Result<Option<Item>, ConflictableTransactionError<Error>> {
    match items.get(key)? {
        Some(v) => decode_stored_item(key, &v)
            .map(Some)
            .map_err(ConflictableTransactionError::Abort),
        None => Ok(None),
    }
}

/// Applies one table's changes (encoded key, after-image) in order, items
/// and index entries in one transaction, or a lone change without one when
/// no index is being backfilled (see the module docs).
pub(crate) fn apply_indexed(entry: &Entry, changes: &[Write<'_>]) -> Result<()> {
    // `entry.indexes` holds an index being backfilled that `entry.def` does
    // not name yet. The caller holds the catalog's read lock, and adding an
    // index takes its write lock, so this cannot change while applying.
    let backfilling = entry.indexes.len() > entry.def.indexes.len();
    if let ([change], false) = (changes, backfilling) {
        return apply_lone(entry, change);
    }
    let schema = &entry.def.key_schema;
    let trees: Vec<&sled::Tree> = std::iter::once(&entry.tree)
        .chain(entry.indexes.iter().map(|i| &i.tree))
        .collect();
    trees
        .as_slice()
        .transaction(|tx| {
            let (items, index_trees) = tx.split_first().ok_or_else(|| {
                ConflictableTransactionError::Abort(Error::Validation("no item tree".into()))
            })?;
            for (key, after, _) in changes {
                let before = current(items, key)?;
                for (index, tree) in entry.indexes.iter().zip(index_trees) {
                    let def = &index.def;
                    let new = after.and_then(|a| def.entry_key(schema, a));
                    if let Some(old) = before.as_ref().and_then(|b| def.entry_key(schema, b)) {
                        if new.as_ref() != Some(&old) {
                            tree.remove(old)?;
                        }
                    }
                    if let (Some(new), Some(after)) = (new, after) {
                        tree.insert(new, encode_item(&def.project(schema, after)))?;
                    }
                }
                match after {
                    Some(item) => items.insert(*key, encode_item(item))?,
                    None => items.remove(*key)?,
                };
            }
            Ok(())
        })
        .map_err(from_transaction)
}

/// Applies one change with plain sled operations: the index entries first,
/// the item last (see the module docs for why that order).
fn apply_lone(entry: &Entry, (key, after, encoded): &Write<'_>) -> Result<()> {
    let before = match entry.tree.get(key)? {
        Some(v) => Some(decode_stored_item(key, &v)?),
        None => None,
    };
    write_entries(entry, before.as_ref(), *after)?;
    match (after, encoded) {
        (Some(_), Some(bytes)) => entry.tree.insert(*key, *bytes)?,
        (Some(item), None) => entry.tree.insert(*key, encode_item(item))?,
        (None, _) => entry.tree.remove(*key)?,
    };
    Ok(())
}

/// Moves an item's index entries from those of `before` to those of
/// `after`, with plain sled operations.
fn write_entries(entry: &Entry, before: Option<&Item>, after: Option<&Item>) -> Result<()> {
    let schema = &entry.def.key_schema;
    for index in &entry.indexes {
        let def = &index.def;
        let new = after.and_then(|a| def.entry_key(schema, a));
        if let Some(old) = before.and_then(|b| def.entry_key(schema, b)) {
            if new.as_ref() != Some(&old) {
                index.tree.remove(old)?;
            }
        }
        if let (Some(new), Some(after)) = (new, after) {
            index
                .tree
                .insert(new, encode_item(&def.project(schema, after)))?;
        }
    }
    Ok(())
}

/// Writes the entries of the items under `keys` into one index, reading
/// each item in the same transaction.
fn backfill_chunk(
    entry: (&TableDef, &sled::Tree),
    index: &IndexTree,
    keys: &[sled::IVec],
) -> Result<()> {
    let (def, items_tree) = entry;
    (items_tree, &index.tree)
        .transaction(|(items, tree)| {
            for key in keys {
                if let Some(item) = current(items, key)? {
                    if let Some(k) = index.def.entry_key(&def.key_schema, &item) {
                        let projected = index.def.project(&def.key_schema, &item);
                        tree.insert(k, encode_item(&projected))?;
                    }
                }
            }
            Ok(())
        })
        .map_err(from_transaction)
}

/// Fills a new index from every item of its table.
fn backfill(def: &TableDef, items: &sled::Tree, index: &IndexTree) -> Result<u64> {
    let mut after: Bound<sled::IVec> = Bound::Unbounded;
    let mut count = 0u64;
    loop {
        let keys = items
            .range::<sled::IVec, _>((after.clone(), Bound::Unbounded))
            .keys()
            .take(BACKFILL_CHUNK)
            .collect::<Result<Vec<_>, _>>()?;
        let Some(last) = keys.last() else {
            return Ok(count);
        };
        backfill_chunk((def, items), index, &keys)?;
        count += keys.len() as u64;
        after = Bound::Excluded(last.clone());
    }
}

impl Store {
    /// Adds a global secondary index to a table, fills it from the table's
    /// items, and returns the new definition.
    ///
    /// Synchronous: when this returns the index is complete, durable and
    /// readable, and every [`apply`](Store::apply) maintains it. A crash
    /// during the backfill leaves no index (see the module docs); the call
    /// can simply be made again. Fails with [`Error::TableNotFound`],
    /// [`Error::Validation`] for a local index (they exist only from
    /// [`create_table_with_indexes`](Store::create_table_with_indexes)), or
    /// [`Error::Model`] if the index breaks DynamoDB's rules (duplicate
    /// name, more than 20 global indexes, …).
    pub fn add_global_index(&self, table: &str, index: IndexDef) -> Result<TableDef> {
        let inner = &*self.inner;
        let _ddl = inner.ddl.lock();
        let (def, items) = {
            let tables = inner.tables.read();
            let entry = tables
                .by_name(table)
                .ok_or_else(|| Error::TableNotFound(table.to_string()))?;
            (TableDef::clone(&entry.def), entry.tree.clone())
        };
        if index.kind == IndexKind::Local {
            return Err(Error::Validation(format!(
                "One or more parameter values were invalid: Local secondary index {} can only be created with the table",
                index.name
            )));
        }
        let mut new_def = def.clone();
        new_def.indexes.push(index.clone());
        new_def.validate_indexes()?;
        let tree_name = index_tree_name(def.id, &index.name);
        let tree = inner.db.open_tree(&tree_name)?;
        tree.clear()?;
        let maintained = IndexTree {
            def: index.clone(),
            tree,
        };
        self.publish_maintained(def.id, &maintained);
        let filled = backfill(&def, &items, &maintained).and_then(|count| {
            inner.make_durable()?;
            inner
                .catalog
                .insert(table.as_bytes(), eddy_model::codec::encode_table(&new_def))?;
            inner.make_durable()?;
            Ok(count)
        });
        match filled {
            Ok(count) => {
                if let Some(entry) = inner.tables.write().by_id.get_mut(&def.id) {
                    entry.def = Arc::new(new_def.clone());
                }
                tracing::debug!(table, index = %index.name, items = count, "added global index");
                Ok(new_def)
            }
            Err(e) => {
                self.unpublish(def.id, &index.name);
                inner.db.drop_tree(&tree_name)?;
                Err(e)
            }
        }
    }

    /// Removes a global secondary index and its entries, returning the new
    /// definition. Durable on return. Fails with [`Error::TableNotFound`],
    /// or [`Error::Validation`] for an unknown or local index.
    pub fn remove_global_index(&self, table: &str, index: &str) -> Result<TableDef> {
        let inner = &*self.inner;
        let _ddl = inner.ddl.lock();
        let def = self.table(table)?;
        let existing = def.index(index).ok_or_else(|| no_such_index(index))?;
        if existing.kind == IndexKind::Local {
            return Err(Error::Validation(format!(
                "One or more parameter values were invalid: Local secondary index {index} cannot be deleted"
            )));
        }
        let mut new_def = def.clone();
        new_def.indexes.retain(|i| i.name != index);
        inner
            .catalog
            .insert(table.as_bytes(), eddy_model::codec::encode_table(&new_def))?;
        inner.make_durable()?;
        // The write lock waits for every data operation using the tree.
        if let Some(entry) = inner.tables.write().by_id.get_mut(&def.id) {
            entry.def = Arc::new(new_def.clone());
            entry.indexes.retain(|i| i.def.name != index);
        }
        inner.db.drop_tree(index_tree_name(def.id, index))?;
        inner.make_durable()?;
        tracing::debug!(table, index, "removed global index");
        Ok(new_def)
    }

    /// Makes `apply` maintain an index that cannot be read yet.
    fn publish_maintained(&self, table_id: u64, index: &IndexTree) {
        if let Some(entry) = self.inner.tables.write().by_id.get_mut(&table_id) {
            entry.indexes.push(IndexTree {
                def: index.def.clone(),
                tree: index.tree.clone(),
            });
        }
    }

    /// Stops maintaining an index that never became readable.
    fn unpublish(&self, table_id: u64, index: &str) {
        if let Some(entry) = self.inner.tables.write().by_id.get_mut(&table_id) {
            entry.indexes.retain(|i| i.def.name != index);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{Apply, Scan, StoreOptions};
    use eddy_model::KeySchema;
    use eddy_model::KeyType;

    fn item(status: &str) -> Item {
        Item::new().with("pk", "a").with("status", status)
    }

    fn entries(store: &Store, def: &TableDef) -> Vec<Item> {
        store
            .scan_index(def, "by_status", &Scan::new())
            .unwrap()
            .items
    }

    /// A crash between a lone write's index entries and its item leaves the
    /// entries of the new image and the old item. Applying the change again
    /// (as replay does, alone or in a group) must leave exactly the new
    /// image's entry: the old one must not survive.
    #[test]
    fn a_change_cut_after_its_index_entries_is_repaired_by_applying_it_again() {
        for replay_in_a_group in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
            let def = store
                .create_table_with_indexes(
                    "orders",
                    KeySchema::new("pk", KeyType::S),
                    vec![IndexDef::global(
                        "by_status",
                        KeySchema::new("status", KeyType::S),
                    )],
                    1,
                )
                .unwrap();
            let keys = Item::new().with("pk", "a");
            let (old, new) = (item("open"), item("shut"));
            let apply = |after| Apply {
                table_id: def.id,
                keys: &keys,
                after,
            };
            store.apply(&[apply(Some(&old))]).unwrap();
            assert_eq!(entries(&store, &def), vec![old.clone()]);
            // The crash: the new entries written, the item not.
            {
                let tables = store.inner.tables.read();
                let entry = tables.by_id.get(&def.id).unwrap();
                write_entries(entry, Some(&old), Some(&new)).unwrap();
            }
            assert_eq!(store.get(&def, &keys).unwrap(), Some(old.clone()));
            // Replay.
            if replay_in_a_group {
                store
                    .apply(&[apply(Some(&new)), apply(Some(&new))])
                    .unwrap();
            } else {
                store.apply(&[apply(Some(&new))]).unwrap();
            }
            assert_eq!(store.get(&def, &keys).unwrap(), Some(new.clone()));
            assert_eq!(entries(&store, &def), vec![new.clone()]);
        }
    }
}
