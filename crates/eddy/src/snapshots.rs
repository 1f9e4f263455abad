//! Store snapshots and rebuilding the store from them: what makes the
//! change log, not sled, the point of durability all the way down.
//!
//! A checkpoint lets the change log forget what the store holds durably.
//! If sled could not recover its own files afterwards, those changes would
//! be durable nowhere; so the log is cut no further than the newest store
//! snapshot (`eddy_store`'s `snapshot` module: eddy's own files, written
//! and fsynced by eddy), and the store can always be rebuilt from that
//! snapshot, the catalog image beside it and the log after it.
//!
//! * **Taking one.** The background thread writes a snapshot once the log
//!   kept since the last one holds [`Options::snapshot_every_bytes`]
//!   (or as many bytes as the last snapshot, if more), and
//!   [`Database::snapshot`] does it on request. The snapshot is read while
//!   writes go on, from the released watermark `w` on: every change up to
//!   `w` is in it, later ones may be, and replaying the log after `w` with
//!   full after images makes it exact. Only once the snapshot is durable
//!   may a checkpoint cut the log up to `w`.
//! * **Using one.** At open, the store is rebuilt when sled does not open
//!   (its files are damaged), when its checkpoint is older than the log's
//!   first change (sled lost changes the log has forgotten), or when the
//!   catalog image records tables sled never allocated (sled lost DDL).
//!   The damaged store is kept aside as `store.damaged`, and the
//!   [`RecoveryReport`](crate::RecoveryReport) says what happened.
//!
//! [`Options::snapshot_every_bytes`]: crate::Options::snapshot_every_bytes

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use eddy_changelog::ChangeLog;
use eddy_store::{SnapshotInfo, Store, StoreOptions};
use parking_lot::Mutex;

use crate::db::Inner;
use crate::error::{Error, Result};
use crate::Database;

/// How the store was rebuilt at open, when it had to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreRebuild {
    /// Why the store could not be used as it was.
    pub reason: String,
    /// The LSN of the snapshot the store was rebuilt from (0: none, the
    /// whole log was replayed).
    pub snapshot_lsn: u64,
    /// Items restored from the snapshot (the log replay came after).
    pub items: u64,
    /// Where the damaged store was kept (`None` if it was missing).
    pub damaged_copy: Option<PathBuf>,
}

/// The newest durable snapshot, as far as the checkpoint is concerned.
pub(crate) struct Snapshots {
    /// Its LSN: the log is kept after it (0: none yet, keep everything).
    lsn: AtomicU64,
    /// Its size in bytes.
    bytes: AtomicU64,
    /// Serialises snapshots.
    serial: Mutex<()>,
}

impl Snapshots {
    pub(crate) fn new(latest: Option<SnapshotInfo>) -> Snapshots {
        Snapshots {
            lsn: AtomicU64::new(latest.map_or(0, |s| s.lsn)),
            bytes: AtomicU64::new(latest.map_or(0, |s| s.bytes)),
            serial: Mutex::new(()),
        }
    }

    /// The LSN the change log must be kept after.
    pub(crate) fn lsn(&self) -> u64 {
        self.lsn.load(Ordering::Acquire)
    }
}

/// Opens the store in `<dir>/store`, rebuilding it from its snapshot and
/// the log when it cannot be used as it is.
pub(crate) fn open_store(
    dir: &Path,
    options: StoreOptions,
    log: &ChangeLog,
) -> Result<(Store, Option<StoreRebuild>)> {
    let path = dir.join("store");
    let reason = match Store::open(&path, options.clone()) {
        Ok(store) => match lost(&store, log)? {
            None => return Ok((store, None)),
            Some(reason) => reason,
        },
        Err(e) if e.is_damage() => format!("it does not open: {}", eddy_model::error_chain(&e)),
        Err(e) => return Err(e.into()),
    };
    tracing::error!(%reason, "the table store is damaged; rebuilding it from its snapshot and the change log");
    let rebuilt = Store::rebuild(&path, options.clone(), log.oldest_lsn()).map_err(|source| {
        Error::StoreUnrecoverable {
            reason: reason.clone(),
            source,
        }
    })?;
    let store = Store::open(&path, options)?;
    if let Some(still) = lost(&store, log)? {
        return Err(Error::StoreUnrecoverable {
            reason,
            source: eddy_store::Error::CannotRebuild(format!("after the rebuild: {still}")),
        });
    }
    Ok((
        store,
        Some(StoreRebuild {
            reason,
            snapshot_lsn: rebuilt.snapshot_lsn,
            items: rebuilt.items,
            damaged_copy: rebuilt.damaged_copy,
        }),
    ))
}

/// Why an opened store has lost durable state, if it has.
fn lost(store: &Store, log: &ChangeLog) -> Result<Option<String>> {
    if let Some(reason) = store.lost_catalog() {
        return Ok(Some(reason.to_string()));
    }
    let checkpoint = store.checkpoint_lsn()?;
    let oldest = log.oldest_lsn();
    // A checkpoint lets the log be cut only up to it: a store behind the
    // log's start has gone back in time.
    Ok((checkpoint.saturating_add(1) < oldest).then(|| {
        format!(
            "its checkpoint is at LSN {checkpoint} and the change log starts at LSN {oldest}: the changes between are in neither"
        )
    }))
}

impl Inner {
    /// Writes a store snapshot from the released watermark on.
    pub(crate) fn snapshot(&self) -> Result<SnapshotInfo> {
        let _serial = self.snapshots.serial.lock();
        // Every change up to the watermark is applied to the store.
        let lsn = self.log.released_watermark();
        let info = self.store.write_snapshot(lsn)?;
        self.snapshots.bytes.store(info.bytes, Ordering::Release);
        self.snapshots.lsn.store(lsn, Ordering::Release);
        Ok(info)
    }

    /// Whether the log kept for the newest snapshot has grown enough to
    /// take another (or there is none and the log no longer starts at its
    /// first change, so nothing could rebuild the store).
    pub(crate) fn snapshot_due(&self) -> bool {
        let lsn = self.snapshots.lsn();
        if self.log.committed_lsn() <= lsn {
            return false;
        }
        if lsn == 0 && self.log.oldest_lsn() > 1 {
            return true;
        }
        let threshold = self
            .options
            .snapshot_every_bytes
            .max(self.snapshots.bytes.load(Ordering::Acquire));
        self.log.bytes_after(lsn) >= threshold
    }
}

impl Database {
    /// Writes a snapshot of the store now, then checkpoints, which lets the
    /// change log be cut up to it. The background thread does this on its
    /// own (see [`Options::snapshot_every_bytes`](crate::Options::snapshot_every_bytes));
    /// call it to bound the log before copying a data directory, say.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`]; [`Error::Store`] if the snapshot could not be
    /// written (the older one stands, and the log is kept from it); what
    /// [`Database::checkpoint`] fails with.
    pub fn snapshot(&self) -> Result<SnapshotInfo> {
        self.inner.check_open()?;
        let info = self.inner.snapshot()?;
        self.inner.checkpoint()?;
        Ok(info)
    }
}
