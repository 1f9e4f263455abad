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
    fail_dir_syncs: AtomicBool,
    enospc: AtomicBool,
    fail_set_len: AtomicBool,
    enospc_new_files: AtomicBool,
    short_write: Mutex<Option<usize>>,
    sync_data_calls: AtomicU64,
    /// A slow disk: every file `sync_data` takes this many milliseconds.
    sync_delay_ms: AtomicU64,
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

    /// Make every directory fsync ([`LogFs::sync_dir`]) fail with `EIO`
    /// while `on`.
    pub fn fail_dir_syncs(&self, on: bool) {
        self.state.fail_dir_syncs.store(on, Ordering::SeqCst);
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

    /// A slow disk: every later `sync_data` of a file takes `delay` (until
    /// [`clear_faults`](FaultFs::clear_faults)). What queues meanwhile
    /// shows group commit without relying on how fast the real disk is.
    pub fn delay_syncs(&self, delay: std::time::Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.state.sync_delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Switch every fault off (counters are kept).
    pub fn clear_faults(&self) {
        self.state.fail_next_syncs.store(0, Ordering::SeqCst);
        self.state.fail_all_syncs.store(false, Ordering::SeqCst);
        self.state.fail_dir_syncs.store(false, Ordering::SeqCst);
        self.state.enospc.store(false, Ordering::SeqCst);
        self.state.fail_set_len.store(false, Ordering::SeqCst);
        self.state.enospc_new_files.store(false, Ordering::SeqCst);
        *self.state.short_write.lock() = None;
        self.state.sync_delay_ms.store(0, Ordering::SeqCst);
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
        let delay = self.state.sync_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            std::thread::sleep(std::time::Duration::from_millis(delay));
        }
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
        if self.state.fail_dir_syncs.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(EIO));
        }
        self.inner.sync_dir(dir)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
}
