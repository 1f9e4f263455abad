//! The one narrow file-system layer every log-structured file of eddy goes
//! through: change-log segments, stream segments and their metadata.
//!
//! Durability bugs hide in error paths (a failed fsync, a full disk, a short
//! write), and those paths are almost impossible to reach with a real file
//! system in a test. So the log never touches `std::fs` directly: it talks to a
//! [`LogFs`] / [`LogFile`] pair. [`StdFs`] is the production implementation;
//! [`fault::FaultFs`] wraps it with switchable faults for tests (of this crate
//! and of crates built on it).
//!
//! The surface is intentionally tiny — only what the log needs — so that a
//! fault-injecting or instrumented implementation is easy to write.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Directory-level operations the log needs.
pub trait LogFs: Send + Sync + 'static {
    /// Create `dir` and all missing parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// List the full paths of the entries directly inside `dir`.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    /// Create a new file (failing if it exists), opened for writes (at the
    /// end, or at an offset) and reads.
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn LogFile>>;
    /// Open an existing file for writes ([`LogFile::write_all`] goes to the
    /// current end of file, [`LogFile::write_all_at`] where it is told),
    /// `set_len` and reads.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn LogFile>>;
    /// Open an existing file read-only.
    fn open_read(&self, path: &Path) -> io::Result<Box<dyn LogFile>>;
    /// Delete a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Make directory-entry changes (creates, removes) in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Atomically rename `from` to `to`, replacing `to` if it exists (make
    /// it durable with [`LogFs::sync_dir`]).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
}

/// An open log file.
#[allow(clippy::len_without_is_empty)]
pub trait LogFile: Send {
    /// Write all of `buf` at the end of the file.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Write all of `buf` at `offset`, overwriting what is there and
    /// extending the file if it ends sooner. The change log uses it to write
    /// into space it has filled with zeros ahead of time.
    fn write_all_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Make written data durable (`fdatasync`).
    fn sync_data(&mut self) -> io::Result<()>;
    /// Current file length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Truncate (or extend with zeros) to `len` bytes.
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    /// Read up to `buf.len()` bytes starting at `offset`; returns the number
    /// of bytes read, 0 at end of file.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
}

/// The real file system, via `std::fs`.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdFs;

struct StdFile(File);

impl LogFile for StdFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        // Files are not opened with O_APPEND: on Linux that would make
        // `write_all_at` append too. One writer per file, so seeking to the
        // end first is the same.
        self.0.seek(SeekFrom::End(0))?;
        self.0.write_all(buf)
    }

    fn write_all_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(&self.0, buf, offset)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match std::os::unix::fs::FileExt::read_at(&self.0, buf, offset) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }
}

impl LogFs for StdFs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            out.push(entry?.path());
        }
        Ok(out)
    }

    fn create_new(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        Ok(Box::new(StdFile(f)))
    }

    fn open_append(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        let f = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Box::new(StdFile(f)))
    }

    fn open_read(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        Ok(Box::new(StdFile(File::open(path)?)))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    #[cfg(unix)]
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    #[cfg(not(unix))]
    fn sync_dir(&self, _dir: &Path) -> io::Result<()> {
        // Directories cannot be opened/fsynced portably outside Unix; NTFS
        // journals directory metadata itself.
        Ok(())
    }
}

/// Read exactly `buf.len()` bytes at `offset` unless EOF comes first; returns
/// how many bytes were read.
pub fn read_full_at(file: &mut dyn LogFile, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let n = file.read_at(offset + done as u64, &mut buf[done..])?;
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}

pub mod fault {
    //! A fault-injecting [`LogFs`] for tests.
    //!
    //! **For tests only.** [`FaultFs`] behaves exactly like [`StdFs`] until a
    //! fault is switched on; clones share their fault switches and counters, so
    //! a test keeps one clone and hands another to the log.

    use super::{LogFile, LogFs, StdFs};
    use parking_lot::Mutex;
    use std::io;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    /// Linux `ENOSPC`.
    const ENOSPC: i32 = 28;
    /// Linux `EIO`.
    const EIO: i32 = 5;

    #[derive(Default)]
    struct FaultState {
        fail_next_syncs: AtomicU64,
        fail_all_syncs: AtomicBool,
        enospc: AtomicBool,
        fail_set_len: AtomicBool,
        enospc_new_files: AtomicBool,
        short_write: Mutex<Option<usize>>,
        sync_data_calls: AtomicU64,
        write_calls: AtomicU64,
    }

    /// A [`LogFs`] wrapping [`StdFs`] with switchable faults. For tests only.
    #[derive(Clone, Default)]
    pub struct FaultFs {
        inner: StdFs,
        state: Arc<FaultState>,
    }

    impl std::fmt::Debug for FaultFs {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("FaultFs")
                .field("sync_data_calls", &self.sync_data_calls())
                .field("write_calls", &self.write_calls())
                .finish_non_exhaustive()
        }
    }

    impl FaultFs {
        /// A fault-free instance.
        pub fn new() -> Self {
            Self::default()
        }

        /// Make the next `n` `sync_data` calls fail with `EIO`.
        pub fn fail_next_syncs(&self, n: u64) {
            self.state.fail_next_syncs.store(n, Ordering::SeqCst);
        }

        /// Make every `sync_data` call fail with `EIO` while `on`.
        pub fn fail_all_syncs(&self, on: bool) {
            self.state.fail_all_syncs.store(on, Ordering::SeqCst);
        }

        /// Make every write fail with `ENOSPC` (raw OS error 28), writing
        /// nothing, while `on`.
        pub fn enospc_on_write(&self, on: bool) {
            self.state.enospc.store(on, Ordering::SeqCst);
        }

        /// Make every write to a file created by `create_new` while `on`
        /// fail with `ENOSPC` (files created or opened before keep working):
        /// a disk that fills just as a new segment is started.
        pub fn enospc_on_new_files(&self, on: bool) {
            self.state.enospc_new_files.store(on, Ordering::SeqCst);
        }

        /// Make every `set_len` (truncation) fail with `EIO` while `on`.
        pub fn fail_set_len(&self, on: bool) {
            self.state.fail_set_len.store(on, Ordering::SeqCst);
        }

        /// Make the next write store only its first `k` bytes and then fail
        /// with `EIO` (one-shot).
        pub fn short_write_next(&self, k: usize) {
            *self.state.short_write.lock() = Some(k);
        }

        /// Switch every fault off (counters are kept).
        pub fn clear_faults(&self) {
            self.state.fail_next_syncs.store(0, Ordering::SeqCst);
            self.state.fail_all_syncs.store(false, Ordering::SeqCst);
            self.state.enospc.store(false, Ordering::SeqCst);
            self.state.fail_set_len.store(false, Ordering::SeqCst);
            self.state.enospc_new_files.store(false, Ordering::SeqCst);
            *self.state.short_write.lock() = None;
        }

        /// How many `sync_data` calls were made (failed ones included).
        pub fn sync_data_calls(&self) -> u64 {
            self.state.sync_data_calls.load(Ordering::SeqCst)
        }

        /// How many `write_all` calls were made (failed ones included).
        pub fn write_calls(&self) -> u64 {
            self.state.write_calls.load(Ordering::SeqCst)
        }
    }

    struct FaultFile {
        inner: Box<dyn LogFile>,
        state: Arc<FaultState>,
        /// Made by `create_new` while `enospc_on_new_files` was on.
        new: bool,
    }

    impl LogFile for FaultFile {
        fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
            self.write_faulty(buf, None)
        }

        fn write_all_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
            self.write_faulty(buf, Some(offset))
        }

        fn sync_data(&mut self) -> io::Result<()> {
            self.state.sync_data_calls.fetch_add(1, Ordering::SeqCst);
            if self.state.fail_all_syncs.load(Ordering::SeqCst) {
                return Err(io::Error::from_raw_os_error(EIO));
            }
            let failed_one = self
                .state
                .fail_next_syncs
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if failed_one {
                return Err(io::Error::from_raw_os_error(EIO));
            }
            self.inner.sync_data()
        }

        fn len(&self) -> io::Result<u64> {
            self.inner.len()
        }

        fn set_len(&mut self, len: u64) -> io::Result<()> {
            if self.state.fail_set_len.load(Ordering::SeqCst) {
                return Err(io::Error::from_raw_os_error(EIO));
            }
            self.inner.set_len(len)
        }

        fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
            self.inner.read_at(offset, buf)
        }
    }

    impl FaultFile {
        /// A write at the end (`None`) or at an offset, with the faults
        /// that are switched on.
        fn write_faulty(&mut self, buf: &[u8], offset: Option<u64>) -> io::Result<()> {
            self.state.write_calls.fetch_add(1, Ordering::SeqCst);
            if self.state.enospc.load(Ordering::SeqCst)
                || (self.new && self.state.enospc_new_files.load(Ordering::SeqCst))
            {
                return Err(io::Error::from_raw_os_error(ENOSPC));
            }
            let short = self.state.short_write.lock().take();
            let (written, result) = match short {
                Some(k) => (
                    &buf[..k.min(buf.len())],
                    Err(io::Error::from_raw_os_error(EIO)),
                ),
                None => (buf, Ok(())),
            };
            match offset {
                Some(offset) => self.inner.write_all_at(written, offset)?,
                None => self.inner.write_all(written)?,
            }
            result
        }
    }

    impl FaultFs {
        fn wrap(&self, inner: Box<dyn LogFile>, new: bool) -> Box<dyn LogFile> {
            Box::new(FaultFile {
                inner,
                state: Arc::clone(&self.state),
                new,
            })
        }
    }

    impl LogFs for FaultFs {
        fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
            self.inner.create_dir_all(dir)
        }

        fn list_dir(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
            self.inner.list_dir(dir)
        }

        fn create_new(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
            let doomed = self.state.enospc_new_files.load(Ordering::SeqCst);
            Ok(self.wrap(self.inner.create_new(path)?, doomed))
        }

        fn open_append(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
            Ok(self.wrap(self.inner.open_append(path)?, false))
        }

        fn open_read(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
            Ok(self.wrap(self.inner.open_read(path)?, false))
        }

        fn remove_file(&self, path: &Path) -> io::Result<()> {
            self.inner.remove_file(path)
        }

        fn sync_dir(&self, dir: &Path) -> io::Result<()> {
            self.inner.sync_dir(dir)
        }

        fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
            self.inner.rename(from, to)
        }
    }
}
