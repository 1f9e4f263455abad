//! Opening sled safely after a crash: two defects of sled 0.34.7 that the
//! crash campaign (`eddy-torture`) found, and what the store does about
//! them.
//!
//! 1. **A torn snapshot after a kill during open.** sled writes a snapshot
//!    only while opening, as `snap.<lsn>.generating`, fsyncs it and renames
//!    it to `snap.<lsn>`. When listing snapshots it does not skip
//!    `.generating` files, and it reads the last name in sorted order, so
//!    after a SIGKILL between the file's creation and its rename every later
//!    open reads the torn file, fails its CRC and reports corruption
//!    (spacejam/sled#1527). The file never became a snapshot (the previous
//!    snapshot and sled's log still describe the store), so the store
//!    deletes such files before opening.
//! 2. **sled's file lock can outlive the handle.** sled runs log writes and
//!    segment truncations as detached thread-pool jobs that hold its
//!    configuration, whose file carries the `flock` on `db`; dropping the
//!    last handle does not wait for them. An open right after a close (in
//!    this process or the next) can then fail with "could not acquire lock".
//!    eddy's own `LOCK` already guarantees one owner of the directory, so
//!    the store retries for a bounded time while sled's lock is still held.

use std::path::Path;
use std::time::{Duration, Instant};

/// How long an open waits for sled's lock to be released.
const LOCK_PATIENCE: Duration = Duration::from_secs(10);

/// Deletes `snap.*.generating` files: snapshots sled was writing when its
/// process died. Returns how many there were.
pub(crate) fn remove_torn_snapshots(dir: &Path) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            std::fs::remove_file(entry.path())?;
            tracing::warn!(file = %entry.path().display(), "removed a torn sled snapshot left by a crash during open");
            removed += 1;
        }
    }
    Ok(removed)
}

fn lock_held(e: &sled::Error) -> bool {
    match e {
        sled::Error::Io(io) => {
            io.kind() == std::io::ErrorKind::WouldBlock
                || io.to_string().contains("could not acquire lock")
        }
        _ => false,
    }
}

/// Opens sled with `config`, after removing torn snapshots, retrying while
/// a previous handle's background jobs still hold sled's file lock.
pub(crate) fn open(dir: &Path, config: &sled::Config) -> crate::Result<sled::Db> {
    remove_torn_snapshots(dir)?;
    let started = Instant::now();
    loop {
        match config.open() {
            Err(e) if lock_held(&e) && started.elapsed() < LOCK_PATIENCE => {
                std::thread::sleep(Duration::from_millis(2));
            }
            other => return Ok(other?),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_snapshot_does_not_prevent_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let config = || sled::Config::new().path(dir.path()).flush_every_ms(None);
        {
            let db = open(dir.path(), &config()).unwrap();
            db.insert(b"k", b"v").unwrap();
            db.flush().unwrap();
        }
        // sled writes its snapshot while opening.
        drop(open(dir.path(), &config()).unwrap());
        // What a SIGKILL in the middle of sled's snapshot write leaves: a
        // newer, partly written `.generating` file.
        let newest = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("snap.") && !n.ends_with(".generating"))
            .max()
            .expect("sled wrote a snapshot when reopening");
        let bytes = std::fs::read(dir.path().join(&newest)).unwrap();
        let torn = dir.path().join("snap.FFFFFFFFFFFFFFFF.generating");
        std::fs::write(&torn, &bytes[..bytes.len() / 2]).unwrap();
        assert!(
            config().open().is_err(),
            "sled itself no longer trips on torn snapshots: drop this workaround"
        );
        let db = open(dir.path(), &config()).unwrap();
        assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
        assert!(!torn.exists());
    }
}
