//! eddy's table store: the current state of every table, on sled.
//!
//! # Role
//!
//! The change log (another crate) is eddy's point of durability; this store
//! is a materialised view of it. A write is first logged, then
//! [`applied`](Store::apply) here, and sled is *not* flushed on that path:
//! it is opened with `flush_every_ms(None)` and flushes only in
//! [`Store::checkpoint`], [`Store::flush`] and DDL, each of which then
//! fsyncs sled's files and directories (sled's own flush does not make
//! them durable; see the `durable` module). After a crash the store
//! may have lost any suffix of its unflushed writes, and recovery replays
//! the log from [`Store::checkpoint_lsn`].
//!
//! # Invariants
//!
//! * **Applying is idempotent.** A change carries the full after-image of
//!   its item (or none, for a delete), so applying it replaces the item
//!   whatever state it was in, and replaying a log suffix twice is harmless.
//! * **Secondary indexes agree with the items.** Each index is a sled tree
//!   whose entries are written in the same sled transaction as the item,
//!   derived from the item stored before the change and the after-image,
//!   so they survive crashes and replays exactly as the items do (see the
//!   `index` module and [`Store::add_global_index`]).
//! * **The checkpoint LSN is honest.** [`Store::checkpoint`] records an LSN
//!   and then flushes, so a durable LSN `n` means every change applied
//!   before it was recorded is durable too. It never goes down.
//! * **Table ids are never reused.** A change names its table by id, and a
//!   change for a deleted table is skipped, never applied to a newer table
//!   of the same name.
//! * **DDL is durable on return**, so a table exists on disk before any
//!   write to it can be logged.
//! * **Keys sort as DynamoDB sorts them.** Items are keyed by
//!   [`KeySchema::encode_key`](eddy_model::KeySchema::encode_key), an
//!   order-preserving encoding, so queries and scans are sled range scans.
//! * **Stored bytes are never trusted.** Every value goes through
//!   [`eddy_model::codec`], and one that does not decode is
//!   [`Error::Corrupt`], never a panic or a wrong answer.
//!
//! ```
//! use eddy_model::{Item, KeySchema, KeyType};
//! use eddy_store::{Apply, Query, SortCondition, Store, StoreOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(dir.path(), StoreOptions::default())?;
//! let schema = KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N);
//! let table = store.create_table("orders", schema, 0)?;
//! let item = Item::new().with("pk", "a").with("sk", 1).with("total", 10);
//! let key = Item::new().with("pk", "a").with("sk", 1);
//! store.apply(&[Apply { table_id: table.id, keys: &key, after: Some(&item) }])?;
//! let page = store.query(&table, &Query::new("a").sort(SortCondition::Ge(0.into())))?;
//! assert_eq!(page.items, vec![item]);
//! store.checkpoint(1)?;
//! assert_eq!(store.checkpoint_lsn()?, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod catalog;
mod durable;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod index;
mod index_query;
mod query;
mod sled_open;
mod snapshot;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use eddy_model::codec::{decode_item, encode_item};
use eddy_model::{Item, TableDef};
use parking_lot::{Mutex, RwLock};

pub use catalog::TableStats;
pub use error::{Error, Result};
pub use query::{Page, Query, Scan, SortCondition, MAX_PAGE_BYTES};
pub use snapshot::{Rebuilt, SnapshotInfo};

use catalog::Catalog;

/// Key, in the `meta` tree, of the checkpoint LSN (u64 big-endian).
const CHECKPOINT_LSN: &[u8] = b"checkpoint_lsn";

/// Options for [`Store::open`].
#[derive(Clone)]
pub struct StoreOptions {
    /// sled's page cache, in bytes (default 256 MiB).
    pub cache_capacity: u64,
    /// The file layer the store's fsyncs go through (sled does its own
    /// reads and writes); tests inject failed fsyncs with it.
    pub fs: Arc<dyn eddy_model::io::LogFs>,
    /// Where the store keeps its own durable copy, the catalog image and
    /// item snapshots (see [`Store::write_snapshot`] and
    /// [`Store::rebuild`]); `None` keeps none.
    pub snapshot_dir: Option<PathBuf>,
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("cache_capacity", &self.cache_capacity)
            .field("snapshot_dir", &self.snapshot_dir)
            .finish_non_exhaustive()
    }
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            cache_capacity: 256 << 20,
            fs: Arc::new(eddy_model::io::StdFs),
            snapshot_dir: None,
        }
    }
}

impl StoreOptions {
    /// Sets the page cache size in bytes.
    #[must_use]
    pub fn cache_capacity(mut self, bytes: u64) -> StoreOptions {
        self.cache_capacity = bytes;
        self
    }

    /// Sets the file layer the store's fsyncs go through.
    #[must_use]
    pub fn fs(mut self, fs: Arc<dyn eddy_model::io::LogFs>) -> StoreOptions {
        self.fs = fs;
        self
    }

    /// Keeps the catalog image and item snapshots in `dir`.
    #[must_use]
    pub fn snapshot_dir(mut self, dir: impl Into<PathBuf>) -> StoreOptions {
        self.snapshot_dir = Some(dir.into());
        self
    }
}

/// One committed change to apply: the full after-image of an item, or
/// `None` to delete it.
#[derive(Debug, Clone, Copy)]
pub struct Apply<'a> {
    /// The id of the table the change was logged for.
    pub table_id: u64,
    /// The item's primary key attributes.
    pub keys: &'a Item,
    /// The item after the change, or `None` if it was deleted.
    pub after: Option<&'a Item>,
}

/// A committed change whose key is already encoded, for
/// [`Store::apply_encoded`]: the write path encodes each key once (to lock
/// it) and hands the bytes on rather than encoding them again.
#[derive(Debug, Clone, Copy)]
pub struct EncodedApply<'a> {
    /// The id of the table the change was logged for.
    pub table_id: u64,
    /// The item's key, as the table's
    /// [`KeySchema::encode_key`](eddy_model::KeySchema::encode_key) encodes
    /// it.
    pub key: &'a [u8],
    /// The item after the change, or `None` if it was deleted.
    pub after: Option<&'a Item>,
    /// `after` as [`encode_item`] encodes it, if the caller has it (the
    /// write path does: it encodes the item once, for the change log and
    /// the store); else the store encodes it.
    pub encoded_after: Option<&'a [u8]>,
}

/// The table store. Cheap to clone (an `Arc` inside); `Send + Sync`.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    /// Makes sled's files durable; remembers a failed fsync.
    durability: durable::Durability,
    /// Table name → encoded [`TableDef`].
    catalog: sled::Tree,
    /// The table id counter and the checkpoint LSN.
    meta: sled::Tree,
    state: sled::Tree,
    tables: RwLock<Catalog>,
    /// Serialises DDL.
    ddl: Mutex<()>,
    /// Serialises checkpoints, so the stored LSN only goes up.
    checkpoint: Mutex<()>,
    /// Serialises item snapshots.
    snapshot: Mutex<()>,
    /// Why the catalog image records more than sled holds, if it does (sled
    /// lost durable DDL): the image is then kept as it is, for a rebuild.
    catalog_lost: Option<String>,
    options: StoreOptions,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("tables", &self.inner.tables.read().by_id.len())
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// sled's flush, then fsyncs of its files (see the `durable` module),
    /// then the catalog image's rewrite.
    fn make_durable(&self) -> Result<()> {
        self.durability.make_durable(
            &self.db,
            || self.read_catalog_image(),
            |image| self.write_catalog_image(image),
        )
    }

    /// The catalog image to write, from sled's trees: `None` if there is no
    /// snapshot directory or the image on disk knows more than sled does.
    fn read_catalog_image(&self) -> Result<Option<snapshot::CatalogImage>> {
        if self.options.snapshot_dir.is_none() || self.catalog_lost.is_some() {
            return Ok(None);
        }
        snapshot::CatalogImage::of(self).map(Some)
    }

    fn write_catalog_image(&self, image: Option<snapshot::CatalogImage>) -> Result<()> {
        let (Some(image), Some(dir)) = (image, &self.options.snapshot_dir) else {
            return Ok(());
        };
        image
            .write(&*self.options.fs, dir)
            .map_err(|(path, source)| Error::Sync { path, source })
    }
}

impl Store {
    /// Opens (or creates) a store in `dir`.
    ///
    /// With a snapshot directory, the catalog image there is compared with
    /// sled's catalog: if the image records table ids sled never allocated,
    /// sled lost durable DDL, [`Store::lost_catalog`] says so and the image
    /// is left alone (the caller should [`rebuild`](Store::rebuild)). A
    /// missing or unreadable image is written anew.
    ///
    /// # Errors
    ///
    /// [`Error::Sled`] or [`Error::Corrupt`] if sled's files or the catalog
    /// in them cannot be read, [`Error::Io`] if the directory cannot be
    /// created.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<Store> {
        options.fs.create_dir_all(dir)?;
        if let Some(snapshots) = &options.snapshot_dir {
            options.fs.create_dir_all(snapshots)?;
        }
        let config = sled::Config::new()
            .path(dir)
            .cache_capacity(options.cache_capacity)
            .flush_every_ms(None);
        let db = sled_open::open(dir, &config)?;
        let catalog = db.open_tree("catalog")?;
        let meta = db.open_tree("meta")?;
        let state = db.open_tree("state")?;
        let tables = Catalog::load(&db, &catalog, &meta)?;
        let (catalog_lost, image_missing) = match &options.snapshot_dir {
            None => (None, false),
            Some(snapshots) => match snapshot::CatalogImage::read(&*options.fs, snapshots) {
                Ok(Some(image)) if image.next_table_id > tables.next_id() => (
                    Some(format!(
                        "the catalog image has allocated table ids below {}, the store's catalog only below {}",
                        image.next_table_id,
                        tables.next_id()
                    )),
                    false,
                ),
                Ok(Some(_)) => (None, false),
                Ok(None) => (None, true),
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable catalog image; writing it anew");
                    (None, true)
                }
            },
        };
        tracing::debug!(dir = %dir.display(), tables = tables.by_id.len(), "opened store");
        let store = Store {
            inner: Arc::new(Inner {
                db,
                durability: durable::Durability::new(dir, options.fs.clone()),
                catalog,
                meta,
                state,
                tables: RwLock::new(tables),
                ddl: Mutex::new(()),
                checkpoint: Mutex::new(()),
                snapshot: Mutex::new(()),
                catalog_lost,
                options,
            }),
        };
        if image_missing {
            store.inner.make_durable()?;
        }
        Ok(store)
    }

    /// Why sled has lost durable state that the catalog image records, if
    /// it has (see [`Store::open`]); `None` without a snapshot directory.
    pub fn lost_catalog(&self) -> Option<&str> {
        self.inner.catalog_lost.as_deref()
    }

    /// Reads one item by its key (exactly the table's key attributes).
    pub fn get(&self, table: &TableDef, key: &Item) -> Result<Option<Item>> {
        let tables = self.inner.tables.read();
        let entry = tables.entry(table)?;
        let k = encode_valid_key(&entry.def, key)?;
        match entry.tree.get(&k)? {
            Some(v) => Ok(Some(decode_stored_item(&k, &v)?)),
            None => Ok(None),
        }
    }

    /// Reads one item by its key as the table's
    /// [`KeySchema::encode_key`](eddy_model::KeySchema::encode_key) encodes
    /// it (the write path has it already, having locked it).
    pub fn get_by_encoded_key(&self, table: &TableDef, key: &[u8]) -> Result<Option<Item>> {
        let tables = self.inner.tables.read();
        let entry = tables.entry(table)?;
        match entry.tree.get(key)? {
            Some(v) => Ok(Some(decode_stored_item(key, &v)?)),
            None => Ok(None),
        }
    }

    /// Reads several items of one table by key, in the order of `keys`.
    pub fn get_many(&self, table: &TableDef, keys: &[Item]) -> Result<Vec<Option<Item>>> {
        let tables = self.inner.tables.read();
        let entry = tables.entry(table)?;
        let encoded = keys
            .iter()
            .map(|key| encode_valid_key(&entry.def, key))
            .collect::<Result<Vec<_>>>()?;
        encoded
            .iter()
            .map(|k| match entry.tree.get(k)? {
                Some(v) => Ok(Some(decode_stored_item(k, &v)?)),
                None => Ok(None),
            })
            .collect()
    }

    /// Applies committed changes in order and returns how many were
    /// applied.
    ///
    /// A change whose table no longer exists (deleted since it was logged)
    /// is skipped. Otherwise the item at the key is replaced by the
    /// after-image, or removed if there is none; so applying is idempotent.
    /// Every key is encoded before anything is written, so a malformed
    /// change fails the call without writing; the writes of each table go
    /// in one sled batch (a table's lone write is a plain insert or
    /// remove), or, for a table with secondary indexes, in one
    /// sled transaction that also moves the items' index entries (see
    /// [`add_global_index`](Store::add_global_index) and the `index`
    /// module). Nothing is flushed.
    pub fn apply(&self, changes: &[Apply<'_>]) -> Result<usize> {
        let mut encoded = Vec::with_capacity(changes.len());
        {
            let tables = self.inner.tables.read();
            for change in changes {
                let Some(entry) = tables.by_id.get(&change.table_id) else {
                    tracing::trace!(
                        table_id = change.table_id,
                        "skipping change for deleted table"
                    );
                    continue;
                };
                let key = entry
                    .def
                    .key_schema
                    .encode_key(change.keys)
                    .map_err(|e| Error::Validation(e.to_string()))?;
                encoded.push((change.table_id, key, change.after));
            }
        }
        let applies: Vec<EncodedApply<'_>> = encoded
            .iter()
            .map(|(table_id, key, after)| EncodedApply {
                table_id: *table_id,
                key,
                after: *after,
                encoded_after: None,
            })
            .collect();
        self.apply_encoded(&applies)
    }

    /// [`Store::apply`] for changes whose keys are already encoded. Returns
    /// how many were applied (changes of deleted tables are skipped).
    pub fn apply_encoded(&self, changes: &[EncodedApply<'_>]) -> Result<usize> {
        let tables = self.inner.tables.read();
        if let [change] = changes {
            // The common case, one put or delete, without the grouping.
            let Some(entry) = tables.by_id.get(&change.table_id) else {
                return Ok(0);
            };
            apply_table(entry, &[(change.key, change.after, change.encoded_after)])?;
            return Ok(1);
        }
        let mut per_table: HashMap<u64, Vec<index::Write<'_>>> = HashMap::new();
        let mut applied = 0;
        for change in changes {
            if tables.by_id.contains_key(&change.table_id) {
                per_table.entry(change.table_id).or_default().push((
                    change.key,
                    change.after,
                    change.encoded_after,
                ));
                applied += 1;
            }
        }
        for (id, writes) in per_table {
            if let Some(entry) = tables.by_id.get(&id) {
                apply_table(entry, &writes)?;
            }
        }
        Ok(applied)
    }

    /// The LSN up to which the flushed store is complete; 0 if the store
    /// was never checkpointed.
    pub fn checkpoint_lsn(&self) -> Result<u64> {
        match self.inner.meta.get(CHECKPOINT_LSN)? {
            Some(v) => decode_u64(&v, "checkpoint LSN", CHECKPOINT_LSN),
            None => Ok(0),
        }
    }

    /// Records that every change up to `lsn` has been applied, then flushes
    /// and fsyncs: when this returns, everything applied before the call is
    /// durable together with the LSN. A lower `lsn` than the stored one
    /// leaves the stored one in place (the flush still happens).
    ///
    /// # Errors
    ///
    /// [`Error::Sync`] if an fsync failed (then and at every later call),
    /// [`Error::Sled`] if sled failed.
    pub fn checkpoint(&self, lsn: u64) -> Result<()> {
        {
            let _serial = self.inner.checkpoint.lock();
            let current = self.checkpoint_lsn()?;
            if lsn > current {
                self.inner.meta.insert(CHECKPOINT_LSN, &lsn.to_be_bytes())?;
            }
        }
        self.inner.make_durable()
    }

    /// Stores a small named record beside the tables, for the layer that
    /// embeds the store (streaming destinations, publisher positions). Like
    /// items, it is durable at the next [`checkpoint`](Store::checkpoint) or
    /// [`flush`](Store::flush), not before.
    pub fn put_state(&self, key: &str, value: &[u8]) -> Result<()> {
        self.inner.state.insert(key.as_bytes(), value)?;
        Ok(())
    }

    /// Reads a record stored with [`put_state`](Store::put_state).
    pub fn get_state(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.inner.state.get(key.as_bytes())?.map(|v| v.to_vec()))
    }

    /// Removes a record stored with [`put_state`](Store::put_state).
    pub fn remove_state(&self, key: &str) -> Result<()> {
        self.inner.state.remove(key.as_bytes())?;
        Ok(())
    }

    /// Every record whose key starts with `prefix`, in key order.
    pub fn state_with_prefix(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        for entry in self.inner.state.scan_prefix(prefix.as_bytes()) {
            let (k, v) = entry?;
            out.push((String::from_utf8_lossy(&k).into_owned(), v.to_vec()));
        }
        Ok(out)
    }

    /// Makes everything applied so far durable (sled's flush, then fsyncs).
    ///
    /// # Errors
    ///
    /// As [`Store::checkpoint`].
    pub fn flush(&self) -> Result<()> {
        self.inner.make_durable()
    }

    /// The store's size on disk, in bytes.
    pub fn size_on_disk(&self) -> Result<u64> {
        Ok(self.inner.db.size_on_disk()?)
    }
}

/// Applies one table's writes, in order.
fn apply_table(entry: &catalog::Entry, writes: &[index::Write<'_>]) -> Result<()> {
    if !entry.indexes.is_empty() {
        return index::apply_indexed(entry, writes);
    }
    let value = |item: &Item, encoded: Option<&[u8]>| -> sled::IVec {
        match encoded {
            Some(bytes) => bytes.into(),
            None => encode_item(item).into(),
        }
    };
    if let [(key, after, encoded)] = writes {
        // A lone write needs no batch: sled seals and writes its current
        // I/O buffer before and after every batch (to pin the batch's place
        // in its log), which made each put cost two buffer writes on sled's
        // I/O threads.
        match after {
            Some(item) => entry.tree.insert(*key, value(item, *encoded))?,
            None => entry.tree.remove(*key)?,
        };
        return Ok(());
    }
    let mut batch = sled::Batch::default();
    for (key, after, encoded) in writes {
        match after {
            Some(item) => batch.insert(*key, value(item, *encoded)),
            None => batch.remove(*key),
        }
    }
    entry.tree.apply_batch(batch)?;
    Ok(())
}

/// Validates a key given by a caller and encodes it.
fn encode_valid_key(table: &TableDef, key: &Item) -> Result<Vec<u8>> {
    let schema = &table.key_schema;
    schema
        .validate_key(key)
        .and_then(|()| schema.encode_key(key))
        .map_err(|e| Error::Validation(e.to_string()))
}

/// Decodes a stored item, reporting failure as corruption.
fn decode_stored_item(key: &[u8], value: &[u8]) -> Result<Item> {
    decode_item(value).map_err(|e| Error::corrupt("item", key, e))
}

/// Decodes a stored big-endian u64.
fn decode_u64(bytes: &[u8], what: &'static str, key: &[u8]) -> Result<u64> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::corrupt(what, key, format!("{} bytes, not 8", bytes.len())))?;
    Ok(u64::from_be_bytes(array))
}
