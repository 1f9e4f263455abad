//! The one narrow file-system layer every log-structured file of eddy goes
//! through: change-log segments, stream segments and their metadata.
//!
//! Durability bugs hide in error paths (a failed fsync, a full disk, a short
//! write), and those paths are almost impossible to reach with a real file
//! system in a test. So the log never touches `std::fs` directly: it talks to a
//! [`LogFs`] / [`LogFile`] pair. [`StdFs`] is the production implementation;
//! `fault::FaultFs` (behind the `testing` feature, for tests only) wraps it
//! with switchable faults for tests (of this crate
//! and of crates built on it).
//!
//! The surface is intentionally tiny — only what the log needs — so that a
//! fault-injecting or instrumented implementation is easy to write.
//!
//! On top of it sits what both logs do with the end of their active file
//! ([`ZeroAheadFile`]) and the rule by which both decide where a log ends
//! after a crash or a power cut (the `tail` module's docs): written once,
//! so that the writer and every reader of those files agree.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Directory-level operations the log needs.
pub trait LogFs: Send + Sync + 'static {
    /// Create `dir` and all missing parents, durably: each new directory's
    /// name is synced in its parent (as [`StdFs`] does).
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
        create_dir_all_durable(dir)
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

/// [`StdFs`]'s `create_dir_all`: creates `dir` and its missing parents, and
/// makes every name it creates durable by fsyncing the parent directory
/// after each `mkdir`.
///
/// A new directory's entry lives in its parent, and only an fsync of the
/// parent makes it survive a power cut: without it, a log segment fsynced
/// inside a directory created moments before can vanish with the directory.
///
/// # Errors
///
/// The first failed `mkdir` (other than "already exists") or fsync.
fn create_dir_all_durable(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut next = Some(dir);
    while let Some(d) = next.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        missing.push(d);
        next = d.parent();
    }
    for d in missing.into_iter().rev() {
        match std::fs::create_dir(d) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && d.is_dir() => continue,
            Err(e) => return Err(e),
        }
        let parent = match d.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        StdFs.sync_dir(parent)?;
    }
    Ok(())
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

#[cfg(any(test, feature = "testing"))]
pub mod fault;
mod tail;

pub use tail::{zeros_between, ZeroAheadFile, ZERO_AHEAD_BYTES};
