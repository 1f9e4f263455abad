//! The byte layout of the store's own files: the catalog image and the
//! item snapshots.
//!
//! Both are a 24-byte header followed by crc32-framed records, the last of
//! which is an end record counting the others:
//!
//! ```text
//! header  magic [8] | version u32 | value u64 | crc32 of the first 20 bytes u32
//! frame   len u32 | crc32 u32 | kind u8 | body [len - 1]
//! ```
//!
//! The frame's crc covers its length and everything after the crc, as the
//! change log's frames do. All integers are little-endian. A file is only
//! ever renamed into place after it was written whole and fsynced, so a
//! reader takes anything short of a valid end record (a missing or extra
//! frame, a bad crc, a count that does not match) as corruption, never as
//! a torn tail to cut.

use std::io;
use std::path::{Path, PathBuf};

use eddy_model::io::{read_full_at, LogFile, LogFs};

use crate::error::{Error, Result};

/// The format version both files are written with.
pub(crate) const VERSION: u32 = 1;

/// Header length in bytes.
const HEADER: usize = 24;

/// Frame prefix: length and crc.
const FRAME_PREFIX: usize = 8;

/// The largest frame a reader accepts (an item is at most 400 KB; a
/// state record or table definition far less).
const MAX_FRAME: usize = 16 << 20;

/// Frames are gathered into writes of about this size.
const WRITE_BUFFER: usize = 1 << 20;

/// Record kinds.
pub(crate) mod kind {
    /// The end record: the number of records before it (u64).
    pub(crate) const END: u8 = 0;
    /// An item: table id u64 | key length u32 | key | stored value.
    pub(crate) const ITEM: u8 = 1;
    /// A table definition, as `eddy_model::codec::encode_table` encodes it.
    pub(crate) const TABLE: u8 = 2;
    /// A state record: key length u32 | key | value.
    pub(crate) const STATE: u8 = 3;
}

/// Writes a file of frames to a temporary name, then makes it durable
/// under its final name.
pub(crate) struct FrameWriter<'a> {
    fs: &'a dyn LogFs,
    file: Box<dyn LogFile>,
    tmp: PathBuf,
    path: PathBuf,
    buf: Vec<u8>,
    records: u64,
    written: u64,
}

impl<'a> FrameWriter<'a> {
    /// Starts `path` (written as `path` + `.tmp` until [`finish`](Self::finish)).
    pub(crate) fn create(
        fs: &'a dyn LogFs,
        path: &Path,
        magic: &[u8; 8],
        value: u64,
    ) -> io::Result<FrameWriter<'a>> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        // Left by a crash while writing: it never became the file.
        match fs.remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let file = fs.create_new(&tmp)?;
        let mut buf = Vec::with_capacity(WRITE_BUFFER + 4096);
        buf.extend_from_slice(&header(magic, value));
        Ok(FrameWriter {
            fs,
            file,
            tmp,
            path: path.to_path_buf(),
            buf,
            records: 0,
            written: 0,
        })
    }

    /// Adds a record whose body is the concatenation of `parts`.
    pub(crate) fn record(&mut self, kind: u8, parts: &[&[u8]]) -> io::Result<()> {
        let len = 1 + parts.iter().map(|p| p.len()).sum::<usize>();
        let len32 = u32::try_from(len)
            .ok()
            .filter(|&l| l as usize <= MAX_FRAME)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "record too large"))?;
        let start = self.buf.len();
        self.buf.extend_from_slice(&len32.to_le_bytes());
        self.buf.extend_from_slice(&[0; 4]);
        self.buf.push(kind);
        for part in parts {
            self.buf.extend_from_slice(part);
        }
        let mut crc = crc32fast::Hasher::new();
        crc.update(&self.buf[start..start + 4]);
        crc.update(&self.buf[start + FRAME_PREFIX..]);
        self.buf[start + 4..start + 8].copy_from_slice(&crc.finalize().to_le_bytes());
        if kind != kind::END {
            self.records += 1;
        }
        if self.buf.len() >= WRITE_BUFFER {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Writes the end record, fsyncs the file, renames it into place and
    /// fsyncs its directory. Returns the file's length.
    ///
    /// # Errors
    ///
    /// The failed write, fsync or rename, with the path it was for.
    pub(crate) fn finish(mut self) -> std::result::Result<u64, (PathBuf, io::Error)> {
        let records = self.records;
        let tmp = self.tmp.clone();
        self.record(kind::END, &[&records.to_le_bytes()])
            .and_then(|()| self.flush())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| (tmp.clone(), e))?;
        self.fs
            .rename(&self.tmp, &self.path)
            .map_err(|e| (tmp, e))?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        self.fs.sync_dir(dir).map_err(|e| (dir.to_path_buf(), e))?;
        Ok(self.written)
    }
}

fn header(magic: &[u8; 8], value: u64) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..8].copy_from_slice(magic);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&value.to_le_bytes());
    let crc = crc32fast::hash(&h[..20]);
    h[20..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Reads a file written by [`FrameWriter`], checking every frame.
pub(crate) struct FrameReader {
    file: Box<dyn LogFile>,
    path: PathBuf,
    /// The header's value (an LSN, or the next table id).
    pub(crate) value: u64,
    len: u64,
    offset: u64,
    buf: Vec<u8>,
    /// Where `buf` starts in the file.
    buf_at: u64,
    records: u64,
    ended: bool,
}

impl FrameReader {
    /// Opens `path` and checks its header.
    pub(crate) fn open(fs: &dyn LogFs, path: &Path, magic: &[u8; 8]) -> Result<FrameReader> {
        let mut file = fs.open_read(path)?;
        let len = file.len()?;
        let mut h = [0u8; HEADER];
        let got = read_full_at(&mut *file, 0, &mut h)?;
        let bad = |reason: String| Error::corrupt_file(path, 0, reason);
        if got < HEADER {
            return Err(bad(format!("{got} bytes, shorter than a header")));
        }
        if &h[..8] != magic {
            return Err(bad(format!(
                "not a {} file",
                String::from_utf8_lossy(magic)
            )));
        }
        if crc32fast::hash(&h[..20]).to_le_bytes() != h[20..24] {
            return Err(bad("header checksum mismatch".into()));
        }
        let version = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
        if version != VERSION {
            return Err(bad(format!(
                "format version {version}, this build reads {VERSION}"
            )));
        }
        let mut value = [0u8; 8];
        value.copy_from_slice(&h[12..20]);
        Ok(FrameReader {
            file,
            path: path.to_path_buf(),
            value: u64::from_le_bytes(value),
            len,
            offset: HEADER as u64,
            buf: Vec::new(),
            buf_at: HEADER as u64,
            records: 0,
            ended: false,
        })
    }

    /// Makes `n` bytes from `self.offset` available in `buf`; false at the
    /// end of the file.
    fn fill(&mut self, n: usize) -> Result<bool> {
        let start = (self.offset - self.buf_at) as usize;
        if self.buf.len() >= start + n {
            return Ok(true);
        }
        self.buf.drain(..start);
        self.buf_at = self.offset;
        let want = n.max(WRITE_BUFFER);
        let have = self.buf.len();
        self.buf.resize(want, 0);
        let got = read_full_at(
            &mut *self.file,
            self.offset + have as u64,
            &mut self.buf[have..],
        )?;
        self.buf.truncate(have + got);
        Ok(self.buf.len() >= n)
    }

    /// The next record's kind, offset in the file and body; `None` after
    /// the end record, which must count the records before it and be the
    /// last bytes of the file.
    pub(crate) fn next_record(&mut self) -> Result<Option<(u8, u64, &[u8])>> {
        if self.ended {
            return Ok(None);
        }
        let at = self.offset;
        let path = self.path.clone();
        let bad = |reason: String| Error::corrupt_file(&path, at, reason);
        if !self.fill(FRAME_PREFIX)? {
            return Err(bad("the file ends without an end record".into()));
        }
        let start = (self.offset - self.buf_at) as usize;
        let prefix = &self.buf[start..start + FRAME_PREFIX];
        let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        let crc = u32::from_le_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]);
        if len == 0 || len > MAX_FRAME {
            return Err(bad(format!("frame length {len}")));
        }
        if !self.fill(FRAME_PREFIX + len)? {
            return Err(bad("the file ends inside a frame".into()));
        }
        let start = (self.offset - self.buf_at) as usize;
        let frame = &self.buf[start..start + FRAME_PREFIX + len];
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&frame[..4]);
        hasher.update(&frame[FRAME_PREFIX..]);
        if hasher.finalize() != crc {
            return Err(Error::corrupt_file(
                &self.path,
                at,
                "frame checksum mismatch",
            ));
        }
        self.offset += (FRAME_PREFIX + len) as u64;
        let kind = frame[FRAME_PREFIX];
        if kind == kind::END {
            let count = read_u64(&frame[FRAME_PREFIX + 1..])
                .ok_or_else(|| Error::corrupt_file(&self.path, at, "short end record"))?;
            if count != self.records {
                return Err(Error::corrupt_file(
                    &self.path,
                    at,
                    format!(
                        "end record counts {count} records, the file has {}",
                        self.records
                    ),
                ));
            }
            if self.offset != self.len {
                return Err(Error::corrupt_file(
                    &self.path,
                    self.offset,
                    "bytes after the end record",
                ));
            }
            self.ended = true;
            return Ok(None);
        }
        self.records += 1;
        let start = (at - self.buf_at) as usize;
        Ok(Some((
            kind,
            at,
            &self.buf[start + FRAME_PREFIX + 1..start + FRAME_PREFIX + len],
        )))
    }
}

/// Reads a little-endian u64 from the start of `bytes`.
pub(crate) fn read_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// Splits `len u32 | bytes[len] | rest` into `(bytes, rest)`.
pub(crate) fn split_sized(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let rest = &bytes[4..];
    (rest.len() >= len).then(|| rest.split_at(len))
}
