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

    /// Runs `read` (the catalog image's read from sled's trees), flushes
    /// sled, fsyncs every file and directory of the store, then runs
    /// `write` with what `read` returned (the image's rewrite), all under
    /// one lock. Read before the flush, the image holds nothing the flush
    /// did not make durable; read under the lock, it is at least as new as
    /// any image written before. A [`Error::Sync`] from `write` sticks like
    /// a failed fsync.
    pub(crate) fn make_durable<T>(
        &self,
        db: &sled::Db,
        read: impl FnOnce() -> Result<T>,
        write: impl FnOnce(T) -> Result<()>,
    ) -> Result<()> {
        let mut failed = self.failed.lock();
        if let Some((path, kind, message)) = failed.as_ref() {
            return Err(Error::Sync {
                path: path.clone(),
                source: std::io::Error::new(*kind, message.clone()),
            });
        }
        let image = read()?;
        db.flush()?;
        if let Err((path, source)) = sync_tree(&*self.fs, &self.dir) {
            *failed = Some((path.clone(), source.kind(), source.to_string()));
            return Err(Error::Sync { path, source });
        }
        match write(image) {
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
