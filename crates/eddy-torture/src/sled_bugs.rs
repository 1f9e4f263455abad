//! Two bugs of the store's sled 0.34.7 that the campaign found, their
//! diagnosis in failure messages, and the workaround `--work-around-sled`
//! applies (what eddy-store should do itself):
//!
//! 1. **Torn snapshot after a kill during open.** sled writes a snapshot
//!    only when it opens (`PageCache::start` → `read_snapshot_or_default` →
//!    `write_snapshot`), as `snap.<lsn>.generating`, fsyncs it and renames it
//!    to `snap.<lsn>`. Its `get_snapshot_files` does not skip `.generating`
//!    files, and `read_snapshot` takes the last name in sorted order, so
//!    after a SIGKILL between the file's creation and the rename the next
//!    open reads the torn file, fails its CRC and returns
//!    `Corruption { at: None }`, for every later open too
//!    (spacejam/sled#1527). The file never became the snapshot, so deleting
//!    it before opening is safe: the previous snapshot and sled's log still
//!    describe the store.
//! 2. **sled's file lock outlives `Database::close`.** sled runs log writes
//!    and segment truncations (`set_len` + `sync_all`) as detached
//!    threadpool jobs holding its configuration, whose file carries the
//!    `flock` on `store/db`; dropping the last handle does not wait for
//!    them. A process that opens the directory right after another closed it
//!    can therefore fail with "could not acquire lock on store/db"
//!    (`WouldBlock`), although eddy's own `LOCK` was free. Waiting until the
//!    lock is free before handing the directory on avoids it.

use std::fs::{OpenOptions, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{Context, Result};

/// The `snap.*.generating` files in sled's directory (`store/…` names).
pub fn torn_snapshots(store: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(store) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).ctx(|| format!("listing {}", store.display())),
    };
    let mut torn = Vec::new();
    for entry in entries {
        let name = entry
            .ctx(|| format!("listing {}", store.display()))?
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            torn.push(name);
        }
    }
    torn.sort();
    Ok(torn)
}

/// Deletes the torn snapshots (bug 1); returns how many there were.
pub fn remove_torn_snapshots(store: &Path) -> Result<u64> {
    let torn = torn_snapshots(store)?;
    for name in &torn {
        let path = store.join(name);
        std::fs::remove_file(&path).ctx(|| format!("removing {}", path.display()))?;
    }
    Ok(torn.len() as u64)
}

/// The diagnosis to add to a failed reopen, if torn snapshots explain it.
pub fn torn_snapshot_diagnosis(store: &Path) -> Result<String> {
    let torn = torn_snapshots(store)?;
    if torn.is_empty() {
        return Ok(String::new());
    }
    Ok(format!(
        " [diagnosis: store/{} is a snapshot sled was writing when the child was killed; \
         sled 0.34.7 takes it for the newest snapshot and fails its CRC (spacejam/sled#1527); \
         --work-around-sled deletes such files before each reopen]",
        torn.join(", store/")
    ))
}

/// The diagnosis to add to a child's failure to open, if it is bug 2.
pub fn lock_diagnosis(message: &str) -> &'static str {
    if message.contains("could not acquire lock") {
        " [diagnosis: sled's flock on store/db outlived the parent's Database::close(): \
         sled's detached threadpool jobs (log writes, segment truncation) still held its file; \
         --work-around-sled waits for the lock after each close]"
    } else {
        ""
    }
}

/// Whether sled's file lock on `store/db` is free now.
pub fn lock_free(store: &Path) -> Result<bool> {
    let path = store.join("db");
    let file = match OpenOptions::new().read(true).write(true).open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(e).ctx(|| format!("opening {}", path.display())),
    };
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(e)) => Err(e).ctx(|| format!("locking {}", path.display())),
    }
}

/// Waits (up to `limit`) until sled's file lock is free; returns how long
/// it was held, or `None` if it was free at once.
pub fn wait_for_lock(store: &Path, limit: Duration) -> Result<Option<Duration>> {
    let started = Instant::now();
    if lock_free(store)? {
        return Ok(None);
    }
    while started.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(1));
        if lock_free(store)? {
            break;
        }
    }
    Ok(Some(started.elapsed()))
}
