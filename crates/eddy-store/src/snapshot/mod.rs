//! The store's own durable copy, so that eddy's guarantees do not rest on
//! sled's recovery.
//!
//! # Why
//!
//! The change log is eddy's point of durability, but checkpoints cut it:
//! once a change is in a checkpointed store, the log forgets it. If sled
//! then could not recover its files (a bug in its recovery, a torn page it
//! does not expect, a damaged disk block), the changes below the cut would
//! be durable nowhere. The power-cut campaign found sled unopenable after
//! a torn cut once (fixed since in the vendored sled); this module is what
//! makes such a failure survivable rather than fatal.
//!
//! # What
//!
//! The snapshot directory (`<data dir>/snapshot/`) holds two kinds of file,
//! both written by eddy, fsynced and renamed into place (`format`):
//!
//! * `catalog`: the catalog image (`catalog_image`), every table
//!   definition, the table id counter and every state record, rewritten
//!   after each flush that makes sled durable, from what sled held just
//!   before it: so it names no table sled might lose, and an image naming
//!   more tables than sled knows means sled lost durable state.
//! * `{lsn:020}.snap`: an item snapshot, every item of every table, taken
//!   while writes go on ([`Store::write_snapshot`]). Every change up to
//!   `lsn` is in it; later changes may or may not be. Replaying the change
//!   log from `lsn + 1` (full after images, in LSN order) makes it exact,
//!   which is why the embedding layer must keep the log from the newest
//!   snapshot's LSN.
//!
//! [`Store::rebuild`] builds a new store from the two (the image's tables
//! and state, the snapshot's items, indexes derived from the items as every
//! write derives them) and puts it in place of the damaged one, which is
//! kept aside for a post-mortem. Items of tables the image no longer names
//! (deleted since the snapshot) are skipped; tables created since the
//! snapshot start empty, and the log fills them.

mod catalog_image;
mod format;

pub(crate) use catalog_image::path as catalog_image_path;

use std::io;
use std::path::{Path, PathBuf};

use eddy_model::codec::decode_item;
use eddy_model::io::LogFs;
use eddy_model::Item;

pub(crate) use catalog_image::CatalogImage;
use format::{kind, read_u64, split_sized, FrameReader, FrameWriter};

use crate::error::{Error, Result};
use crate::{EncodedApply, Store, StoreOptions};

/// An item snapshot's magic.
const MAGIC: &[u8; 8] = b"EDDYSNAP";

/// Items restored per store batch.
const RESTORE_BATCH: usize = 1024;

/// A durable item snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Every change up to this LSN is in the snapshot.
    pub lsn: u64,
    /// The file's size in bytes.
    pub bytes: u64,
}

/// What [`Store::rebuild`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    /// The LSN of the snapshot the items came from (0: there was none, and
    /// the tables start empty); the change log must be replayed after it.
    pub snapshot_lsn: u64,
    /// Items restored from the snapshot.
    pub items: u64,
    /// Where the damaged store was moved (`None` if it was missing).
    pub damaged_copy: Option<PathBuf>,
}

/// The snapshot file of `lsn`.
fn snapshot_path(dir: &Path, lsn: u64) -> PathBuf {
    dir.join(format!("{lsn:020}.snap"))
}

/// Every complete snapshot file in `dir` (by name), oldest first.
fn list_snapshots(fs: &dyn LogFs, dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let entries = match fs.list_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found: Vec<(u64, PathBuf)> = entries
        .into_iter()
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?;
            let digits = name.strip_suffix(".snap")?;
            (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| digits.parse().ok())
                .flatten()
                .map(|lsn| (lsn, path))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// The directory beside `dir` named `dir` + `.` + `suffix`.
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

fn snapshot_dir(options: &StoreOptions) -> Result<&Path> {
    options
        .snapshot_dir
        .as_deref()
        .ok_or_else(|| Error::CannotRebuild("the store has no snapshot directory".into()))
}

impl Store {
    /// Writes an item snapshot of every table and makes it durable, then
    /// removes older snapshots. Every change up to `lsn` must have been
    /// applied to the store before the call (the snapshot is read while
    /// writes go on, so it holds those changes and maybe later ones).
    ///
    /// # Errors
    ///
    /// [`Error::CannotRebuild`] if the store was opened without a snapshot
    /// directory; [`Error::SnapshotWrite`] if writing, fsyncing or renaming
    /// the file failed (the older snapshot is kept, and nothing that relies
    /// on the new one may go ahead); [`Error::Sled`] if reading failed.
    pub fn write_snapshot(&self, lsn: u64) -> Result<SnapshotInfo> {
        let inner = &*self.inner;
        let dir = snapshot_dir(&inner.options)?;
        let fs = &*inner.options.fs;
        let _serial = inner.snapshot.lock();
        let tables: Vec<(u64, sled::Tree)> = inner
            .tables
            .read()
            .by_id
            .iter()
            .map(|(id, entry)| (*id, entry.tree.clone()))
            .collect();
        let path = snapshot_path(dir, lsn);
        let failed = |source| Error::SnapshotWrite {
            path: path.clone(),
            source,
        };
        let mut writer = FrameWriter::create(fs, &path, MAGIC, lsn).map_err(failed)?;
        let mut items = 0u64;
        for (id, tree) in tables {
            for kv in tree.iter() {
                let (key, value) = match kv {
                    Ok(kv) => kv,
                    // Dropped while read: its items are not needed.
                    Err(_) if !inner.tables.read().by_id.contains_key(&id) => break,
                    Err(e) => return Err(e.into()),
                };
                write_item(&mut writer, id, &key, &value).map_err(failed)?;
                items += 1;
            }
        }
        let bytes = writer
            .finish()
            .map_err(|(path, source)| Error::SnapshotWrite { path, source })?;
        let stale = |e| Error::SnapshotWrite {
            path: dir.to_path_buf(),
            source: e,
        };
        let mut removed = false;
        for (old, old_path) in list_snapshots(fs, dir).map_err(stale)? {
            if old < lsn {
                fs.remove_file(&old_path).map_err(stale)?;
                removed = true;
            }
        }
        if removed {
            fs.sync_dir(dir).map_err(stale)?;
        }
        tracing::debug!(lsn, items, bytes, "store snapshot written");
        Ok(SnapshotInfo { lsn, bytes })
    }

    /// The newest item snapshot in the snapshot directory of `options`, if
    /// any (read from the directory: the store need not open).
    ///
    /// # Errors
    ///
    /// [`Error::CannotRebuild`] without a snapshot directory;
    /// [`Error::Io`] if it cannot be listed.
    pub fn latest_snapshot(options: &StoreOptions) -> Result<Option<SnapshotInfo>> {
        let dir = snapshot_dir(options)?;
        let fs = &*options.fs;
        let Some((lsn, path)) = list_snapshots(fs, dir)?.pop() else {
            return Ok(None);
        };
        let bytes = fs.open_read(&path)?.len()?;
        Ok(Some(SnapshotInfo { lsn, bytes }))
    }

    /// Builds a new store in `dir` from the catalog image and the newest
    /// item snapshot of `options`' snapshot directory, and moves whatever
    /// was in `dir` to `<dir>.damaged` (replacing an older damaged copy).
    /// The new store's checkpoint LSN is the snapshot's: the caller replays
    /// the change log after it. `oldest_available_lsn` is the first LSN the
    /// change log still holds; a snapshot older than that cannot be
    /// completed, and nothing is touched.
    ///
    /// Crash-safe: the store is built in `<dir>.rebuild` and renamed into
    /// place only once durable; a crash before leaves `dir` as it was.
    ///
    /// # Errors
    ///
    /// [`Error::CannotRebuild`] if there is no catalog image, or the change
    /// log does not reach back to the snapshot; [`Error::CorruptFile`] if
    /// the image or the snapshot is damaged; otherwise what opening,
    /// filling or renaming the new store failed with.
    pub fn rebuild(
        dir: &Path,
        options: StoreOptions,
        oldest_available_lsn: u64,
    ) -> Result<Rebuilt> {
        let snapshots = snapshot_dir(&options)?.to_path_buf();
        let fs = std::sync::Arc::clone(&options.fs);
        let image = CatalogImage::read(&*fs, &snapshots)?.ok_or_else(|| {
            Error::CannotRebuild(format!(
                "there is no catalog image in {}",
                snapshots.display()
            ))
        })?;
        let snapshot = list_snapshots(&*fs, &snapshots)?.pop();
        let snapshot_lsn = snapshot.as_ref().map_or(0, |(lsn, _)| *lsn);
        if oldest_available_lsn > snapshot_lsn.saturating_add(1) {
            return Err(Error::CannotRebuild(format!(
                "the newest snapshot holds changes up to LSN {snapshot_lsn}, and the change log starts at LSN {oldest_available_lsn}"
            )));
        }
        let building = sibling(dir, "rebuild");
        remove_tree(&building)?;
        let store = Store::open(
            &building,
            StoreOptions {
                snapshot_dir: None,
                ..options.clone()
            },
        )?;
        store.restore_catalog(&image)?;
        let items = match &snapshot {
            Some((_, path)) => store.restore_items(&*fs, path)?,
            None => 0,
        };
        store.checkpoint(snapshot_lsn)?;
        drop(store);
        let damaged = sibling(dir, "damaged");
        let parent = dir.parent().unwrap_or(Path::new("."));
        let damaged_copy = if dir.exists() {
            remove_tree(&damaged)?;
            fs.rename(dir, &damaged)?;
            Some(damaged)
        } else {
            None
        };
        fs.rename(&building, dir)?;
        fs.sync_dir(parent)?;
        tracing::warn!(
            dir = %dir.display(),
            snapshot_lsn,
            items,
            damaged = ?damaged_copy,
            "rebuilt the table store from its snapshot"
        );
        Ok(Rebuilt {
            snapshot_lsn,
            items,
            damaged_copy,
        })
    }

    /// Writes the image's tables, id counter and state records into this
    /// (new, empty) store and opens their trees.
    fn restore_catalog(&self, image: &CatalogImage) -> Result<()> {
        let inner = &*self.inner;
        let _ddl = inner.ddl.lock();
        for table in &image.tables {
            inner.catalog.insert(
                table.name.as_bytes(),
                eddy_model::codec::encode_table(table),
            )?;
        }
        inner.meta.insert(
            crate::catalog::NEXT_TABLE_ID,
            &image.next_table_id.to_be_bytes(),
        )?;
        for (key, value) in &image.state {
            inner.state.insert(key.as_slice(), value.as_slice())?;
        }
        let loaded = crate::catalog::Catalog::load(&inner.db, &inner.catalog, &inner.meta)?;
        *inner.tables.write() = loaded;
        Ok(())
    }

    /// Applies every item of the snapshot at `path`; returns how many.
    fn restore_items(&self, fs: &dyn LogFs, path: &Path) -> Result<u64> {
        let mut batch: Vec<(u64, Vec<u8>, Item, Vec<u8>)> = Vec::with_capacity(RESTORE_BATCH);
        let mut items = 0;
        for_each_item(fs, path, |table_id, key, item, value| {
            batch.push((table_id, key.to_vec(), item, value.to_vec()));
            if batch.len() == RESTORE_BATCH {
                items += self.apply_restored(&batch)?;
                batch.clear();
            }
            Ok(())
        })?;
        items += self.apply_restored(&batch)?;
        Ok(items)
    }

    fn apply_restored(&self, batch: &[(u64, Vec<u8>, Item, Vec<u8>)]) -> Result<u64> {
        let applies: Vec<EncodedApply<'_>> = batch
            .iter()
            .map(|(table_id, key, item, value)| EncodedApply {
                table_id: *table_id,
                key,
                after: Some(item),
                encoded_after: Some(value),
            })
            .collect();
        Ok(self.apply_encoded(&applies)? as u64)
    }
}

/// Reads the item snapshot at `path`, checking every frame and decoding
/// every item, and calls `f` with each item's table id, key, item and
/// stored value, in file order. Returns the snapshot's LSN.
///
/// # Errors
///
/// [`Error::CorruptFile`] if the file is damaged anywhere; what `f` fails
/// with.
pub(crate) fn for_each_item(
    fs: &dyn LogFs,
    path: &Path,
    mut f: impl FnMut(u64, &[u8], Item, &[u8]) -> Result<()>,
) -> Result<u64> {
    let mut reader = FrameReader::open(fs, path, MAGIC)?;
    let lsn = reader.value;
    while let Some((kind, at, body)) = reader.next_record()? {
        let bad = |reason: String| Error::corrupt_file(path, at, reason);
        if kind != kind::ITEM {
            return Err(bad(format!("record kind {kind} in an item snapshot")));
        }
        let table_id = read_u64(body).ok_or_else(|| bad("short item record".into()))?;
        let (key, value) =
            split_sized(&body[8..]).ok_or_else(|| bad("short item record".into()))?;
        let item = decode_item(value).map_err(|e| bad(format!("item: {e}")))?;
        f(table_id, key, item, value)?;
    }
    Ok(lsn)
}

/// Writes an item snapshot of `items` (table id, key, stored value) to
/// `path`, as [`Store::write_snapshot`] lays it out.
pub(crate) fn write_items(
    fs: &dyn LogFs,
    path: &Path,
    lsn: u64,
    items: &[(u64, Vec<u8>, Vec<u8>)],
) -> std::result::Result<u64, (PathBuf, io::Error)> {
    let at = |e| (path.to_path_buf(), e);
    let mut writer = FrameWriter::create(fs, path, MAGIC, lsn).map_err(at)?;
    for (id, key, value) in items {
        write_item(&mut writer, *id, key, value).map_err(at)?;
    }
    writer.finish()
}

fn write_item(writer: &mut FrameWriter<'_>, id: u64, key: &[u8], value: &[u8]) -> io::Result<()> {
    let key_len = (key.len() as u32).to_le_bytes();
    writer.record(kind::ITEM, &[&id.to_le_bytes(), &key_len, key, value])
}

/// Removes a directory tree left by an earlier rebuild, if there is one.
fn remove_tree(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}
