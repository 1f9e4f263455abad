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

use std::fs::File;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::error::{Error, Result};

/// The store directory's syncing, and the first failure, which sticks.
#[derive(Debug)]
pub(crate) struct Durability {
    dir: PathBuf,
    failed: Mutex<Option<(PathBuf, std::io::ErrorKind, String)>>,
}

impl Durability {
    pub(crate) fn new(dir: &Path) -> Durability {
        Durability {
            dir: dir.to_path_buf(),
            failed: Mutex::new(None),
        }
    }

    /// Flushes sled, then fsyncs every file and directory of the store.
    pub(crate) fn make_durable(&self, db: &sled::Db) -> Result<()> {
        let mut failed = self.failed.lock();
        if let Some((path, kind, message)) = failed.as_ref() {
            return Err(Error::Sync {
                path: path.clone(),
                source: std::io::Error::new(*kind, message.clone()),
            });
        }
        db.flush()?;
        if let Err((path, source)) = sync_tree(&self.dir) {
            *failed = Some((path.clone(), source.kind(), source.to_string()));
            return Err(Error::Sync { path, source });
        }
        Ok(())
    }
}

/// Fsyncs every file under `dir`, then each directory after its entries.
fn sync_tree(dir: &Path) -> std::result::Result<(), (PathBuf, std::io::Error)> {
    let at = |path: &Path| {
        let path = path.to_path_buf();
        move |e| (path, e)
    };
    for entry in std::fs::read_dir(dir).map_err(at(dir))? {
        let entry = entry.map_err(at(dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(at(&path))?;
        if kind.is_dir() {
            sync_tree(&path)?;
        } else if kind.is_file() {
            match File::open(&path) {
                Ok(file) => file.sync_all().map_err(at(&path))?,
                // sled removed it meanwhile (an old snapshot): nothing to keep.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err((path, e)),
            }
        }
    }
    File::open(dir).and_then(|d| d.sync_all()).map_err(at(dir))
}
