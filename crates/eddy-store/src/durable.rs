//! Making sled's files durable: what a checkpoint and DDL rest on.
//!
//! sled's own `flush` is not a durability point. On Linux sled 0.34 writes
//! its buffers out with `sync_file_range`, which neither records the file's
//! size and extents nor flushes the device's write cache, and it calls a
//! real `fsync` only from its background flusher, which the store turns off
//! (`flush_every_ms(None)`: the change log, not the store, is what makes a
//! write durable). A power cut after a flush could so take back writes that
//! a checkpoint had already let the change log forget.
//!
//! So every flush that promises durability ends here: sled flushes, then
//! every file under the store's directory and every directory in it (names
//! of sled's snapshot files, which it renames without syncing the
//! directory) is fsynced, bottom-up.
//!
//! A failed fsync is never retried: the kernel may have dropped the pages
//! it could not write and marked them clean, so a later fsync that succeeds
//! proves nothing about them. The first failure is kept and every later
//! call fails with it, until the store is reopened.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use eddy_model::io::LogFs;
use parking_lot::Mutex;

use crate::error::{Error, Result};

/// The store directory's syncing, and the first failure, which sticks.
pub(crate) struct Durability {
    dir: PathBuf,
    /// The file layer the fsyncs go through (sled reads and writes itself).
    fs: Arc<dyn LogFs>,
    failed: Mutex<Option<(PathBuf, std::io::ErrorKind, String)>>,
}

impl Durability {
    pub(crate) fn new(dir: &Path, fs: Arc<dyn LogFs>) -> Durability {
        Durability {
            dir: dir.to_path_buf(),
            fs,
            failed: Mutex::new(None),
        }
    }

    /// Flushes sled, fsyncs every file and directory of the store, then
    /// runs `then` (the catalog image's rewrite) under the same lock, so
    /// that what it reads is at least as new as what was just made
    /// durable. A [`Error::Sync`] from `then` sticks like a failed fsync.
    pub(crate) fn make_durable(
        &self,
        db: &sled::Db,
        then: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        let mut failed = self.failed.lock();
        if let Some((path, kind, message)) = failed.as_ref() {
            return Err(Error::Sync {
                path: path.clone(),
                source: std::io::Error::new(*kind, message.clone()),
            });
        }
        db.flush()?;
        if let Err((path, source)) = sync_tree(&*self.fs, &self.dir) {
            *failed = Some((path.clone(), source.kind(), source.to_string()));
            return Err(Error::Sync { path, source });
        }
        match then() {
            Err(Error::Sync { path, source }) => {
                *failed = Some((path.clone(), source.kind(), source.to_string()));
                Err(Error::Sync { path, source })
            }
            other => other,
        }
    }
}

/// Fsyncs every file under `dir`, then each directory after its entries.
fn sync_tree(fs: &dyn LogFs, dir: &Path) -> std::result::Result<(), (PathBuf, std::io::Error)> {
    let at = |path: &Path| {
        let path = path.to_path_buf();
        move |e| (path, e)
    };
    for path in fs.list_dir(dir).map_err(at(dir))? {
        let kind = match std::fs::symlink_metadata(&path) {
            Ok(meta) => meta.file_type(),
            // sled removed it meanwhile (an old snapshot): nothing to keep.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err((path, e)),
        };
        if kind.is_dir() {
            sync_tree(fs, &path)?;
        } else if kind.is_file() {
            match fs.open_read(&path) {
                // fdatasync also makes the size durable where reads need it.
                Ok(mut file) => file.sync_data().map_err(at(&path))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err((path, e)),
            }
        }
    }
    fs.sync_dir(dir).map_err(at(dir))
}
