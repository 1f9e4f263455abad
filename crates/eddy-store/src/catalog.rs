//! The catalog: which tables exist, their key schemas, and their sled trees.
//!
//! Table definitions live in the `catalog` tree (name → [`encode_table`]),
//! and the id counter in the `meta` tree. Both are written in one sled
//! transaction, so a durable catalog entry always comes with a counter past
//! its id: ids are never reused, even after a delete and a crash, and a
//! change logged for a deleted table can never land in a newer table of the
//! same name. Every DDL call flushes sled before it returns, so a table
//! exists durably before any write to it can be logged.
//!
//! Each table's items live in their own tree, named by the table's id, and
//! each secondary index in its own tree, named by the table's id and the
//! index name ([`crate::index`]). The
//! in-memory [`Catalog`] caches the definitions and the open trees behind a
//! `parking_lot::RwLock`; data operations hold the read lock while they use
//! a tree, and `delete_table` takes the write lock to unpublish a table
//! before dropping its tree, so no reader ever touches a dropped tree.
//! DDL calls are serialised by a separate mutex so that the slow part
//! (flushing) never blocks readers.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Arc;

use eddy_model::codec::{decode_table, encode_table};
use eddy_model::{validate_table_name, IndexDef, KeySchema, TableDef};
use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use crate::error::{Error, Result};
use crate::index::{index_tree_id, index_tree_name, IndexTree};
use crate::{decode_u64, Store};

/// Key, in the `meta` tree, of the next table id (u64 big-endian).
pub(crate) const NEXT_TABLE_ID: &[u8] = b"next_table_id";

/// Prefix of every table tree's name; the table id (u64 big-endian) follows.
const TABLE_TREE_PREFIX: &[u8] = b"table/";

/// The default and largest `ListTables` page.
const MAX_LIST_LIMIT: usize = 100;

/// The sled tree name of a table's items.
pub(crate) fn tree_name(id: u64) -> Vec<u8> {
    let mut name = TABLE_TREE_PREFIX.to_vec();
    name.extend_from_slice(&id.to_be_bytes());
    name
}

/// The table id a tree name stands for, if it is a table tree.
fn tree_id(name: &[u8]) -> Option<u64> {
    let id = name.strip_prefix(TABLE_TREE_PREFIX)?;
    Some(u64::from_be_bytes(id.try_into().ok()?))
}

/// A live table: its definition and its open trees.
pub(crate) struct Entry {
    /// The definition, with the indexes that can be read (shared: the
    /// write path takes it once per request).
    pub(crate) def: Arc<TableDef>,
    pub(crate) tree: sled::Tree,
    /// Every index that [`Store::apply`] maintains: those of `def`, plus
    /// one being backfilled by `add_global_index`, not yet readable.
    pub(crate) indexes: Vec<IndexTree>,
}

impl Entry {
    /// Opens the trees of a definition's indexes.
    fn open(db: &sled::Db, def: TableDef, tree: sled::Tree) -> Result<Entry> {
        let indexes = def
            .indexes
            .iter()
            .map(|i| {
                Ok(IndexTree {
                    def: i.clone(),
                    tree: db.open_tree(index_tree_name(def.id, &i.name))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Entry {
            def: Arc::new(def),
            tree,
            indexes,
        })
    }
}

/// The in-memory catalog, a cache of the `catalog` tree.
pub(crate) struct Catalog {
    by_name: BTreeMap<String, u64>,
    pub(crate) by_id: HashMap<u64, Entry>,
    /// The next id to allocate (only changed under the DDL mutex).
    next_id: u64,
}

impl Catalog {
    /// Loads the catalog from its trees, opening every table's tree and
    /// dropping orphaned table trees (left by a crash in the middle of
    /// `create_table` or `delete_table`).
    pub(crate) fn load(db: &sled::Db, catalog: &sled::Tree, meta: &sled::Tree) -> Result<Catalog> {
        let mut by_name = BTreeMap::new();
        let mut by_id = HashMap::new();
        let mut next_id = match meta.get(NEXT_TABLE_ID)? {
            Some(v) => decode_u64(&v, "table id counter", NEXT_TABLE_ID)?,
            None => 1,
        };
        for entry in catalog.iter() {
            let (key, value) = entry?;
            let def = decode_table(&value).map_err(|e| Error::corrupt("catalog entry", &key, e))?;
            if def.name.as_bytes() != &*key {
                return Err(Error::corrupt(
                    "catalog entry",
                    &key,
                    format!("entry names table {:?}", def.name),
                ));
            }
            if by_id.contains_key(&def.id) {
                return Err(Error::corrupt(
                    "catalog entry",
                    &key,
                    format!("table id {} used twice", def.id),
                ));
            }
            next_id = next_id.max(def.id.saturating_add(1));
            let tree = db.open_tree(tree_name(def.id))?;
            by_name.insert(def.name.clone(), def.id);
            by_id.insert(def.id, Entry::open(db, def, tree)?);
        }
        for name in db.tree_names() {
            let orphan = if let Some(id) = tree_id(&name) {
                !by_id.contains_key(&id)
            } else if let Some((id, index)) = index_tree_id(&name) {
                // Left by a crash in add_global_index (before the catalog
                // recorded the index) or remove_global_index (after).
                by_id.get(&id).is_none_or(|e| e.def.index(&index).is_none())
            } else {
                false
            };
            if orphan {
                tracing::info!(tree = ?String::from_utf8_lossy(&name), "dropping orphaned tree");
                // sled only drops trees it has open.
                db.open_tree(&name)?;
                db.drop_tree(&name)?;
            }
        }
        Ok(Catalog {
            by_name,
            by_id,
            next_id,
        })
    }

    /// The live table of this definition's id, if it still exists.
    pub(crate) fn entry(&self, table: &TableDef) -> Result<&Entry> {
        self.by_id
            .get(&table.id)
            .ok_or_else(|| Error::TableNotFound(table.name.clone()))
    }

    /// The next table id to allocate.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id
    }

    pub(crate) fn by_name(&self, name: &str) -> Option<&Entry> {
        self.by_name.get(name).and_then(|id| self.by_id.get(id))
    }
}

/// Item count and size of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableStats {
    /// Number of items.
    pub item_count: u64,
    /// Sum of the items' sizes by DynamoDB's rules
    /// ([`item_size`](eddy_model::item_size)).
    pub size_bytes: u64,
}

impl Store {
    /// Creates a table and returns its definition, with a newly allocated id.
    ///
    /// The table is durable when this returns. Fails with
    /// [`Error::TableExists`] if the name is taken, or [`Error::Model`] for
    /// an invalid name or key schema.
    pub fn create_table(
        &self,
        name: &str,
        key_schema: KeySchema,
        created_micros: u64,
    ) -> Result<TableDef> {
        self.create_table_with_indexes(name, key_schema, Vec::new(), created_micros)
    }

    /// Creates a table with secondary indexes (global and local) and
    /// returns its definition. Like [`create_table`](Store::create_table),
    /// and also fails with [`Error::Model`] if the indexes break
    /// DynamoDB's rules ([`TableDef::validate_indexes`]).
    pub fn create_table_with_indexes(
        &self,
        name: &str,
        key_schema: KeySchema,
        indexes: Vec<IndexDef>,
        created_micros: u64,
    ) -> Result<TableDef> {
        validate_table_name(name)?;
        key_schema.validate()?;
        eddy_model::index::validate_indexes(&key_schema, &indexes)?;
        let inner = &*self.inner;
        let _ddl = inner.ddl.lock();
        let id = {
            let tables = inner.tables.read();
            if tables.by_name.contains_key(name) {
                return Err(Error::TableExists(name.to_string()));
            }
            tables.next_id
        };
        let next = id
            .checked_add(1)
            .ok_or_else(|| Error::Validation("table ids exhausted".into()))?;
        let def = TableDef::new(name, id, key_schema, created_micros).with_indexes(indexes);
        let encoded = encode_table(&def);
        (&inner.catalog, &inner.meta)
            .transaction(|(catalog, meta)| {
                catalog.insert(name.as_bytes(), encoded.as_slice())?;
                meta.insert(NEXT_TABLE_ID, &next.to_be_bytes())?;
                Ok::<_, ConflictableTransactionError<Error>>(())
            })
            .map_err(|e| match e {
                TransactionError::Abort(e) => e,
                TransactionError::Storage(e) => Error::Sled(e),
            })?;
        // The id is spent from here on, whatever fails next, so that no
        // later create can write a second catalog entry with it.
        inner.tables.write().next_id = next;
        let tree = inner.db.open_tree(tree_name(id))?;
        let entry = Entry::open(&inner.db, def.clone(), tree)?;
        inner.make_durable()?;
        let mut tables = inner.tables.write();
        tables.by_name.insert(def.name.clone(), id);
        tables.by_id.insert(id, entry);
        tracing::debug!(table = name, id, "created table");
        Ok(def)
    }

    /// Deletes a table, all its items and its indexes, returning its
    /// definition.
    ///
    /// The deletion is durable when this returns; changes still in the log
    /// for the table's id are skipped by [`Store::apply`] from then on.
    pub fn delete_table(&self, name: &str) -> Result<TableDef> {
        let inner = &*self.inner;
        let _ddl = inner.ddl.lock();
        let id = inner
            .tables
            .read()
            .by_name
            .get(name)
            .copied()
            .ok_or_else(|| Error::TableNotFound(name.to_string()))?;
        inner.catalog.remove(name.as_bytes())?;
        inner.make_durable()?;
        // The write lock waits for every data operation using the tree.
        let entry = {
            let mut tables = inner.tables.write();
            tables.by_name.remove(name);
            tables.by_id.remove(&id)
        };
        inner.db.drop_tree(tree_name(id))?;
        for index in entry.iter().flat_map(|e| &e.indexes) {
            inner.db.drop_tree(index_tree_name(id, &index.def.name))?;
        }
        inner.make_durable()?;
        tracing::debug!(table = name, id, "deleted table");
        entry
            .map(|e| Arc::unwrap_or_clone(e.def))
            .ok_or_else(|| Error::TableNotFound(name.to_string()))
    }

    /// The definition of a table.
    pub fn table(&self, name: &str) -> Result<TableDef> {
        self.shared_table(name).map(Arc::unwrap_or_clone)
    }

    /// [`Store::table`] without copying the definition: the same `Arc` until
    /// the table is next changed.
    pub fn shared_table(&self, name: &str) -> Result<Arc<TableDef>> {
        self.inner
            .tables
            .read()
            .by_name(name)
            .map(|e| Arc::clone(&e.def))
            .ok_or_else(|| Error::TableNotFound(name.to_string()))
    }

    /// The definition of the live table with this id, if any.
    pub fn table_by_id(&self, id: u64) -> Option<TableDef> {
        self.inner
            .tables
            .read()
            .by_id
            .get(&id)
            .map(|e| TableDef::clone(&e.def))
    }

    /// Table names in order, DynamoDB `ListTables` style: names after
    /// `exclusive_start`, at most `limit` of them (clamped to 1..=100,
    /// default 100), and the last returned name if more tables follow.
    pub fn list_tables(
        &self,
        exclusive_start: Option<&str>,
        limit: Option<usize>,
    ) -> (Vec<String>, Option<String>) {
        let limit = limit.unwrap_or(MAX_LIST_LIMIT).clamp(1, MAX_LIST_LIMIT);
        let tables = self.inner.tables.read();
        let start = match exclusive_start {
            Some(s) => Bound::Excluded(s),
            None => Bound::Unbounded,
        };
        let mut names = tables
            .by_name
            .range::<str, _>((start, Bound::Unbounded))
            .map(|(name, _)| name);
        let page: Vec<String> = names.by_ref().take(limit).cloned().collect();
        let more = names.next().is_some();
        let last = if more { page.last().cloned() } else { None };
        (page, last)
    }

    /// Counts a table's items and sums their sizes.
    ///
    /// This reads and decodes every item: O(n) in the table's size.
    pub fn table_stats(&self, name: &str) -> Result<TableStats> {
        let tables = self.inner.tables.read();
        let entry = tables
            .by_name(name)
            .ok_or_else(|| Error::TableNotFound(name.to_string()))?;
        let mut stats = TableStats::default();
        for kv in entry.tree.iter() {
            let (key, value) = kv?;
            let item = crate::decode_stored_item(&key, &value)?;
            stats.item_count += 1;
            stats.size_bytes += eddy_model::item_size(&item) as u64;
        }
        Ok(stats)
    }
}
