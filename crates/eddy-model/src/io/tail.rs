//! The end of a log file: the zeros written ahead of it, and where a reader
//! that opens the log decides it ends.
//!
//! An `fdatasync` after an append must also make the file's new size
//! durable (a journal commit on ext4, an inode write without a journal),
//! which costs about half as much again as the data itself. So both of
//! eddy's logs, the change log and every stream shard, keep their active
//! file filled with zeros some way past its last frame and write frames
//! into that space ([`ZeroAheadFile`]); only the fsync after each fill
//! changes the file's size.
//!
//! What a crash leaves at the end of the newest file, and so what the
//! readers that open a log must accept:
//!
//! * zeros after the last frame: the space filled ahead. They are cut off
//!   at open and are not a torn write ([`zeros_between`]).
//! * after a process crash, a write cut short: a SIGKILL stops a write at a
//!   page boundary, leaving the start of a frame followed by zeros.
//! * after a power cut, any mix of the bytes written since the last fsync:
//!   the disk wrote back some of those pages and not others, in any order,
//!   and may have torn one at a sector boundary. A frame that does not
//!   decode can then be followed by frames that do (a later page that
//!   reached the disk while an earlier one did not). The power-cut
//!   campaign (`eddy-torture --power-cut`) found exactly this: the stream's
//!   reader called it corruption and the database did not reopen.
//!
//! None of those bytes was ever acknowledged: a frame is acknowledged only
//! after an fsync that covered it and everything before it. So the rule
//! both logs follow is point-in-time recovery, as PostgreSQL's and SQLite's
//! write-ahead logs and RocksDB's default WAL recovery mode do: **in the
//! newest file, the first frame that does not decode ends the log**, and it
//! and everything after it are cut off (and fsynced), and reported as a
//! torn tail with the number of bytes discarded. What this gives up: a
//! frame damaged on disk in the newest file after it was acknowledged is
//! indistinguishable from an unsynced write, and is cut with what follows
//! it. Two guards remain: a frame whose checksum holds but whose contents
//! are impossible is corruption wherever it is, and the database refuses
//! to open when the change log ends before the store's checkpoint (it then
//! lost changes the store had applied).
//!
//! A file that is sealed (its log has moved on to a newer one) was cut back
//! to its last frame and fsynced first ([`ZeroAheadFile::cut_zeros`]), so
//! in it any frame that does not decode is corruption, and zeros can only
//! ever follow the last frame of the newest file.

use super::{read_full_at, LogFile};
use std::io;

/// How far past its end a log's active file is kept filled with zeros
/// (rounded up to a multiple of this), in both the change log and the
/// stream shards: one fsync per mebibyte of log changes the file's size.
pub const ZERO_AHEAD_BYTES: u64 = 1 << 20;

/// A log's active file, written only at its end, optionally kept filled
/// with zeros ahead of that end (see the module docs).
///
/// The *end* ([`len`](ZeroAheadFile::len)) is where the last complete frame
/// ends; the file itself may be longer (zeros). Every method keeps the end
/// honest: it moves only when a write succeeded.
pub struct ZeroAheadFile {
    file: Box<dyn LogFile>,
    /// Where the last frame ends.
    len: u64,
    /// How far the file is known to hold zeros (`>= len`).
    zeroed_end: u64,
    /// The fill granularity; 0 never fills.
    ahead: u64,
}

impl std::fmt::Debug for ZeroAheadFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZeroAheadFile")
            .field("len", &self.len)
            .field("zeroed_end", &self.zeroed_end)
            .field("ahead", &self.ahead)
            .finish_non_exhaustive()
    }
}

impl ZeroAheadFile {
    /// Wraps `file`, whose frames end at `len`; whatever follows `len` is
    /// overwritten. Appends keep the file filled with zeros to a multiple of
    /// `ahead` bytes at least `ahead` past the end; `ahead == 0` appends
    /// plainly (for files that are rarely fsynced, where filling would only
    /// write every byte twice).
    pub fn new(file: Box<dyn LogFile>, len: u64, ahead: u64) -> Self {
        ZeroAheadFile {
            file,
            len,
            zeroed_end: len,
            ahead,
        }
    }

    /// Where the last frame ends.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether no byte has been written (the end is at offset 0).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file, for `sync_data` and reads. Writing through it bypasses the
    /// end this wrapper tracks.
    pub fn file_mut(&mut self) -> &mut dyn LogFile {
        self.file.as_mut()
    }

    /// Writes `buf` at the end and moves the end past it. Fills zeros ahead
    /// first if they do not reach past the new end; that is best effort: if
    /// it fails (a full disk) the zeros are cut back and `buf` is simply
    /// appended. On error the end does not move, but part of `buf` may have
    /// been written after it: [`cut_back`](ZeroAheadFile::cut_back) to the end before
    /// relying on the file's length. Nothing is fsynced.
    pub fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        let end = self.len + buf.len() as u64;
        if self.ahead > 0 && end > self.zeroed_end {
            self.fill_ahead(end);
        }
        self.file.write_all_at(buf, self.len)?;
        self.len = end;
        Ok(())
    }

    fn fill_ahead(&mut self, end: u64) {
        /// Written over and over rather than allocating (and zeroing) a
        /// buffer the size of each fill.
        static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
        let from = self.zeroed_end.max(self.len);
        let to = end.div_ceil(self.ahead) * self.ahead + self.ahead;
        let mut at = from;
        let mut written = Ok(());
        while at < to && written.is_ok() {
            let n = usize::try_from(to - at).map_or(ZEROS.len(), |n| n.min(ZEROS.len()));
            written = self.file.write_all_at(&ZEROS[..n], at);
            at += n as u64;
        }
        match written {
            Ok(()) => self.zeroed_end = to,
            Err(e) => {
                tracing::debug!(error = %e, "could not fill a log file ahead of its end; appending");
                // Zeros past the end are harmless if the cut fails too.
                if self.file.set_len(self.len).is_ok() {
                    self.zeroed_end = self.len;
                }
            }
        }
    }

    /// Cuts the file back to `len` (if that is before the end) and makes
    /// that the end, removing whatever a failed
    /// [`append`](ZeroAheadFile::append) left after it, the zeros ahead, and
    /// frames whose fsync failed. Not fsynced: the caller makes the cut
    /// durable.
    pub fn cut_back(&mut self, len: u64) -> io::Result<()> {
        let len = len.min(self.len);
        self.file.set_len(len)?;
        self.len = len;
        self.zeroed_end = len;
        Ok(())
    }

    /// Cuts the zeros ahead off, durably, so that the file ends at its last
    /// frame, as a sealed file must. Does nothing if there are none. On
    /// error the zeros may remain; the opening scan accepts them only in the
    /// newest file, so the caller must not seal the file.
    pub fn cut_zeros(&mut self) -> io::Result<()> {
        if self.zeroed_end > self.len {
            self.file.set_len(self.len)?;
            self.file.sync_data()?;
            self.zeroed_end = self.len;
        }
        Ok(())
    }

    /// Whether zeros ahead are to be cut before the file is sealed.
    pub fn has_zeros_ahead(&self) -> bool {
        self.zeroed_end > self.len
    }
}

/// Whether every byte of `file` in `[from, to)` is zero (bytes past the end
/// of the file count as zeros).
pub fn zeros_between(file: &mut dyn LogFile, from: u64, to: u64) -> io::Result<bool> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut at = from;
    while at < to {
        let want = usize::try_from(to - at).map_or(buf.len(), |n| n.min(buf.len()));
        let n = read_full_at(file, at, &mut buf[..want])?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
        at += n as u64;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::fault::FaultFs;
    use crate::io::{LogFs, StdFs};

    fn new_file(dir: &tempfile::TempDir, fs: &dyn LogFs) -> Box<dyn LogFile> {
        fs.create_new(&dir.path().join("log"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn contents(dir: &tempfile::TempDir) -> Vec<u8> {
        std::fs::read(dir.path().join("log")).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn appends_land_at_the_end_with_zeros_ahead_and_cut_zeros_ends_the_file_there() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut f = ZeroAheadFile::new(new_file(&dir, &StdFs), 0, 4096);
        f.append(b"abc").unwrap_or_else(|e| panic!("{e}"));
        f.append(b"defg").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.len(), 7);
        let on_disk = contents(&dir);
        assert_eq!(
            on_disk.len(),
            8192,
            "filled to a multiple of 4096, 4096 past the end"
        );
        assert_eq!(&on_disk[..7], b"abcdefg");
        assert!(on_disk[7..].iter().all(|&b| b == 0));
        assert!(f.has_zeros_ahead());
        f.cut_zeros().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(contents(&dir), b"abcdefg");
        assert!(!f.has_zeros_ahead());
    }

    #[test]
    fn a_fill_larger_than_the_zero_chunk_zeroes_all_of_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut file = new_file(&dir, &StdFs);
        file.write_all_at(&[0xff; 250_000], 0)
            .unwrap_or_else(|e| panic!("{e}"));
        // Frames end at 0: everything after is the fill's to overwrite,
        // here 200 000 bytes, three 64 KiB chunks and a part.
        let mut f = ZeroAheadFile::new(file, 0, 100_000);
        f.append(b"abc").unwrap_or_else(|e| panic!("{e}"));
        let on_disk = contents(&dir);
        assert_eq!(&on_disk[..3], b"abc");
        assert!(on_disk[3..200_000].iter().all(|&b| b == 0));
        assert!(on_disk[200_000..].iter().all(|&b| b == 0xff));
    }

    #[test]
    fn without_fill_appends_are_plain() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut f = ZeroAheadFile::new(new_file(&dir, &StdFs), 0, 0);
        f.append(b"abc").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(contents(&dir), b"abc");
        assert!(!f.has_zeros_ahead());
    }

    #[test]
    fn a_full_disk_fails_the_append_without_moving_the_end() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let fs = FaultFs::new();
        let mut f = ZeroAheadFile::new(new_file(&dir, &fs), 0, 4096);
        f.append(b"abc").unwrap_or_else(|e| panic!("{e}"));
        fs.enospc_on_write(true);
        // Crossing the zeroed region needs a fill, which fails too.
        assert!(f.append(&[1u8; 9000]).is_err());
        assert_eq!(f.len(), 3);
        f.cut_back(f.len()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(contents(&dir), b"abc");
        fs.enospc_on_write(false);
        f.append(b"d").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&contents(&dir)[..4], b"abcd");
        // A frame whose fsync failed is cut back off.
        f.cut_back(3).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.len(), 3);
        assert_eq!(contents(&dir), b"abc");
    }

    #[test]
    fn zeros_between_reads_past_the_end_as_zeros() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut file = new_file(&dir, &StdFs);
        let mut bytes = vec![0u8; 64];
        bytes[..4].copy_from_slice(b"FRAM");
        file.write_all(&bytes).unwrap_or_else(|e| panic!("{e}"));
        file.write_all_at(b"x", 40)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(zeros_between(file.as_mut(), 4, 40).unwrap_or_else(|e| panic!("{e}")));
        assert!(!zeros_between(file.as_mut(), 4, 41).unwrap_or_else(|e| panic!("{e}")));
        assert!(!zeros_between(file.as_mut(), 0, 4).unwrap_or_else(|e| panic!("{e}")));
        // Past the end of the file counts as zeros.
        assert!(zeros_between(file.as_mut(), 41, 10_000).unwrap_or_else(|e| panic!("{e}")));
    }
}
