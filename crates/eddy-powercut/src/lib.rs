//! A FUSE file system for tests that forgets what was never fsynced: a test
//! oracle for power cuts, in the style of LazyFS, SQLite's crash VFS and
//! RocksDB's fault-injection file system.
//!
//! A crash test that only kills a process (SIGKILL) never loses data the
//! process handed to the kernel: the page cache survives. A power cut loses
//! everything that was not made durable, and only then do missing `fsync`s
//! and missing directory `fsync`s show. [`PowerCutFs`] mounts an in-memory
//! file system that tracks, for every file and directory, what is *current*
//! (what reads see) and what is *durable*, and [`PowerCutFs::cut_power`]
//! throws the difference away.
//!
//! # The model: what is durable when
//!
//! - A file's data **and size** become durable when the file is fsynced:
//!   `fsync` or `fdatasync` (`File::sync_all`, `File::sync_data`) on any handle
//!   of the file. That does not make its *name* durable.
//! - A directory's entries (creates, unlinks, renames into or out of it)
//!   become durable when the directory is fsynced
//!   (`File::open(dir)?.sync_all()`). A rename across directories becomes
//!   durable in each directory when that directory is fsynced; a new
//!   directory's name needs its parent's fsync, its entries its own.
//! - A power cut walks the durable entries from the root: that is the
//!   namespace afterwards. Each reachable file holds its durable content; an
//!   unlinked file that is still durably named comes back with its durable
//!   data; an unsynced create disappears even if the file itself was
//!   fsynced. Everything unreachable is freed. If unsynced cross-directory
//!   renames leave a directory durably named twice, only its first name (in
//!   path order) survives; a file may end up with two names (like a hard link).
//! - [`Cut`] can also keep a random subset of unsynced 4 KiB pages (a disk
//!   that wrote back part of its cache) and tear one unsynced page at a
//!   512-byte sector boundary; unsynced size changes and names are dropped
//!   regardless. The choices are deterministic for a given seed.
//!
//! # What it does not model
//!
//! File mode, owner and times are kept but not durability-tracked (they never
//! revert). There are no hard links, symlinks, special files or extended
//! attributes (`EPERM`/`ENOSYS`). Writes through `mmap` are not seen until
//! the kernel writes the pages back. Files are limited to 4 GiB. Everything
//! lives in this process's memory (twice: current and durable).
//! `flock`/`fcntl` locks are handled by the kernel (locally), so they work
//! as on a local file system.
//!
//! # Requirements
//!
//! `/dev/fuse`, and root (then it mounts with `mount(2)` directly) or
//! `fusermount3` (package `fuse3`; see `scripts/setup-fuse.sh`). Use
//! [`fuse_available`] or [`require_fuse_or_skip`] in tests.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use eddy_powercut::{Cut, PowerCutFs};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! if !eddy_powercut::require_fuse_or_skip() {
//!     return Ok(());
//! }
//! let dir = tempfile::tempdir()?;
//! let mut fs = PowerCutFs::mount(dir.path())?;
//! let path = fs.mountpoint().join("log");
//! std::fs::write(&path, b"never synced")?;
//! let report = fs.cut_power(&Cut::strict(), Duration::from_secs(5))?;
//! assert!(!path.exists()); // the create was never made durable
//! assert_eq!(report.names_dropped, 1);
//! fs.unmount()?;
//! # Ok(())
//! # }
//! ```

mod cut;
mod fuse;
mod mount;
mod namespace;
mod state;

#[cfg(test)]
mod model_tests;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

pub use cut::{Cut, CutReport, TornPage};
pub use mount::PowerCutFs;

/// Counters since the [`PowerCutFs`] was mounted (they
/// survive power cuts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// `fsync`/`fdatasync` calls on files.
    pub fsyncs: u64,
    /// `fsync` calls on directories.
    pub fsyncdirs: u64,
    /// Write requests.
    pub writes: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Read requests.
    pub reads: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Currently open file and directory handles.
    pub open_handles: u64,
    /// Power cuts done.
    pub cuts: u64,
    /// Inodes currently in memory (files and directories, including the root).
    pub inodes: u64,
}

/// Errors of [`PowerCutFs`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Mounting failed.
    #[error("cannot mount eddy-powercut at {}: {reason}", mountpoint.display())]
    Mount {
        /// The mount point.
        mountpoint: PathBuf,
        /// What went wrong, e.g. "/dev/fuse missing" or "mount failed".
        reason: String,
        /// The underlying error, if any.
        #[source]
        source: Option<std::io::Error>,
    },
    /// Handles were still open (or the mount point was busy) after the timeout.
    #[error(
        "{open} handle(s) still open after {waited:?}{}: {paths:?}",
        if *open == 0 { " (mount point busy: a working directory inside?)" } else { "" }
    )]
    Busy {
        /// How many file and directory handles were open.
        open: usize,
        /// Their paths relative to the mount point (`<deleted inode N>` for
        /// unlinked files).
        paths: Vec<PathBuf>,
        /// How long it waited.
        waited: Duration,
    },
    /// `umount(2)` failed for another reason than a busy mount point.
    #[error("cannot unmount {}", mountpoint.display())]
    Unmount {
        /// The mount point.
        mountpoint: PathBuf,
        /// The error of `umount(2)`.
        #[source]
        source: std::io::Error,
    },
    /// The file system is not mounted any more (an earlier remount failed).
    #[error("{} is not mounted any more (an earlier remount failed)", mountpoint.display())]
    NotMounted {
        /// The mount point.
        mountpoint: PathBuf,
    },
    /// Reading or writing ordinary files failed (e.g. in
    /// [`PowerCutFs::export_durable`]).
    #[error("I/O error on {}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// An error with all its sources, on one line: the probe's reason.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    std::iter::successors(Some(e), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// Whether FUSE can be used here: returns `Ok(())` if a test mount (mount,
/// write, read back, unmount) works, `Err(reason)` otherwise. The probe runs
/// once per process; later calls return its result.
///
/// # Errors
/// The reason FUSE is unusable, e.g. `/dev/fuse missing` or the mount error.
pub fn fuse_available() -> Result<(), String> {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    RESULT.get_or_init(probe).clone()
}

fn probe() -> Result<(), String> {
    let dir = tempfile::Builder::new()
        .prefix("eddy-powercut-probe")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let fs = PowerCutFs::mount(dir.path()).map_err(|e| error_chain(&e))?;
    let file = fs.mountpoint().join("probe");
    let roundtrip = std::fs::write(&file, b"probe")
        .and_then(|()| std::fs::read(&file))
        .map_err(|e| format!("I/O through a test mount failed: {e}"));
    fs.unmount().map_err(|e| error_chain(&e))?;
    match roundtrip? {
        data if data == b"probe" => Ok(()),
        _ => Err("a test mount returned wrong data".to_owned()),
    }
}

/// The FUSE policy for tests, in this crate and others: returns `true` if
/// FUSE works ([`fuse_available`]). Otherwise, if the environment variable
/// `CI` is set (non-empty), panics with the reason (CI must fail loudly);
/// else prints `skipping: <reason>` to stderr and returns `false`, and the
/// test should return early.
///
/// # Panics
/// When FUSE is unavailable and `CI` is set.
#[must_use]
pub fn require_fuse_or_skip() -> bool {
    match fuse_available() {
        Ok(()) => true,
        Err(reason) => {
            if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
                panic!("FUSE is required in CI but unavailable: {reason}");
            }
            eprintln!("skipping: {reason}");
            false
        }
    }
}
