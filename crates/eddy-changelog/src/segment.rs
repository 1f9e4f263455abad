//! Segment files: naming, the header, creation, and a buffered frame cursor.
//!
//! The log is split into segment files so retention can delete history in
//! whole files (no rewriting) and recovery only ever truncates the last one.
//! A segment is named `{base_lsn:020}.wal` (zero-padded so lexical order is
//! LSN order) and starts with a self-checking header:
//!
//! ```text
//! magic b"EDDYWAL\0" | version u32 LE (=1) | base_lsn u64 LE | crc32 of the previous 20 bytes
//! ```
//!
//! followed by frames (see [`crate::frame`]) whose LSNs start at `base_lsn`.
//! The base LSN is stored both in the name and the header; they must agree.

use crate::error::{Error, Result};
use crate::frame::{self, Decoded, Frame, FRAME_HEADER_LEN, MAX_BODY_LEN};
use crate::io::{read_full_at, LogFile, LogFs};
use std::path::{Path, PathBuf};

/// Segment magic bytes.
pub(crate) const SEGMENT_MAGIC: [u8; 8] = *b"EDDYWAL\0";
/// Current segment format version.
pub(crate) const SEGMENT_VERSION: u32 = 1;
/// Length of the segment header.
pub(crate) const SEGMENT_HEADER_LEN: usize = 24;
const SEGMENT_EXT: &str = "wal";

/// File name of the segment whose first LSN is `base_lsn`.
pub(crate) fn segment_file_name(base_lsn: u64) -> String {
    format!("{base_lsn:020}.{SEGMENT_EXT}")
}

/// Parse a segment file name back into its base LSN.
pub(crate) fn parse_segment_file_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".wal")?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Encode a segment header.
pub(crate) fn encode_header(base_lsn: u64) -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    h[0..8].copy_from_slice(&SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&base_lsn.to_le_bytes());
    let crc = crc32fast::hash(&h[0..20]);
    h[20..24].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Validate a header; returns its base LSN or a reason.
pub(crate) fn decode_header(h: &[u8]) -> std::result::Result<u64, String> {
    if h.len() < SEGMENT_HEADER_LEN {
        return Err(format!(
            "segment header truncated ({} of {SEGMENT_HEADER_LEN} bytes)",
            h.len()
        ));
    }
    let stored = u32::from_le_bytes([h[20], h[21], h[22], h[23]]);
    let crc = crc32fast::hash(&h[0..20]);
    if stored != crc {
        return Err("segment header crc mismatch".into());
    }
    if h[0..8] != SEGMENT_MAGIC {
        return Err("bad segment magic".into());
    }
    let version = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    if version != SEGMENT_VERSION {
        return Err(format!("unsupported segment format version {version}"));
    }
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[12..20]);
    Ok(u64::from_le_bytes(b))
}

/// A segment known to the log.
#[derive(Debug, Clone)]
pub(crate) struct SegmentInfo {
    /// First LSN the segment holds (or would hold).
    pub base: u64,
    /// Full path.
    pub path: PathBuf,
    /// Size in bytes (kept current for the active segment by the writer).
    pub len: u64,
}

/// All segment files in `dir`, sorted by base LSN. Other files are ignored.
pub(crate) fn list_segments(fs: &dyn LogFs, dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let entries = fs
        .list_dir(dir)
        .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    let mut out = Vec::new();
    for path in entries {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        match parse_segment_file_name(name) {
            Some(base) => out.push((base, path)),
            None => {
                if name.ends_with(".wal") {
                    tracing::warn!(file = %path.display(), "ignoring oddly named .wal file in change log directory");
                }
            }
        }
    }
    out.sort_by_key(|(b, _)| *b);
    Ok(out)
}

/// Create a new segment with its header, durably (file data + directory).
pub(crate) fn create_segment(
    fs: &dyn LogFs,
    dir: &Path,
    base: u64,
) -> Result<(Box<dyn LogFile>, PathBuf)> {
    let path = dir.join(segment_file_name(base));
    let ctx = |what: &str| format!("{what} segment {}", path.display());
    let mut f = fs
        .create_new(&path)
        .map_err(|e| Error::io(ctx("creating"), e))?;
    f.write_all(&encode_header(base))
        .map_err(|e| Error::io(ctx("writing header of"), e))?;
    f.sync_data().map_err(|e| Error::io(ctx("syncing"), e))?;
    fs.sync_dir(dir)
        .map_err(|e| Error::io(format!("syncing directory {}", dir.display()), e))?;
    Ok((f, path))
}

/// One step of a [`SegmentCursor`].
#[derive(Debug)]
pub(crate) enum CursorItem {
    /// A valid frame starting at `offset`.
    Frame {
        /// The frame.
        frame: Frame,
        /// File offset of the frame start.
        offset: u64,
    },
    /// Clean end of file exactly at a frame boundary.
    Eof,
    /// Bytes at `offset` that are not a valid frame.
    Bad {
        /// File offset of the bad frame start.
        offset: u64,
        /// `Incomplete` or `Invalid`.
        decoded: Decoded,
    },
}

const READ_CHUNK: usize = 256 * 1024;

/// A buffered, forward-only reader of the frames in one segment file.
pub(crate) struct SegmentCursor {
    file: Box<dyn LogFile>,
    path: PathBuf,
    base: u64,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    buf_off: u64,
    /// File offset of the next frame.
    pos: u64,
    /// True once a read returned 0 bytes past the buffer.
    eof: bool,
}

impl SegmentCursor {
    /// Wrap an open segment whose header has been validated.
    pub fn new(file: Box<dyn LogFile>, path: PathBuf, base: u64) -> Self {
        Self {
            file,
            path,
            base,
            buf: Vec::new(),
            buf_off: SEGMENT_HEADER_LEN as u64,
            pos: SEGMENT_HEADER_LEN as u64,
            eof: false,
        }
    }

    /// Open `path`, validate its header against `expected_base`.
    pub fn open(fs: &dyn LogFs, path: &Path, expected_base: u64) -> Result<Self> {
        let mut file = fs
            .open_read(path)
            .map_err(|e| Error::io(format!("opening segment {}", path.display()), e))?;
        let mut h = [0u8; SEGMENT_HEADER_LEN];
        let n = read_full_at(file.as_mut(), 0, &mut h)
            .map_err(|e| Error::io(format!("reading segment {}", path.display()), e))?;
        let base = decode_header(&h[..n]).map_err(|r| Error::corruption(path, 0, r))?;
        if base != expected_base {
            return Err(Error::corruption(
                path,
                0,
                format!("segment header base LSN {base} does not match expected {expected_base}"),
            ));
        }
        Ok(Self::new(file, path.to_path_buf(), base))
    }

    /// The segment's base LSN.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// The segment's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying file (for recovery's zero scan).
    pub fn file_mut(&mut self) -> &mut dyn LogFile {
        self.file.as_mut()
    }

    fn available(&self) -> usize {
        (self.buf_off + self.buf.len() as u64).saturating_sub(self.pos) as usize
    }

    /// Make at least `want` bytes from `pos` available, unless EOF.
    fn fill(&mut self, want: usize) -> Result<()> {
        if self.available() >= want {
            return Ok(());
        }
        // Drop consumed bytes.
        let consumed = (self.pos - self.buf_off) as usize;
        if consumed > 0 {
            self.buf.drain(..consumed.min(self.buf.len()));
            self.buf_off = self.pos;
        }
        while self.buf.len() < want && !self.eof {
            let old = self.buf.len();
            let chunk = (want - old).max(READ_CHUNK);
            self.buf.resize(old + chunk, 0);
            let off = self.buf_off + old as u64;
            let n = read_full_at(self.file.as_mut(), off, &mut self.buf[old..]).map_err(|e| {
                Error::io(
                    format!("reading segment {} at {off}", self.path.display()),
                    e,
                )
            })?;
            self.buf.truncate(old + n);
            if n < chunk {
                self.eof = true;
            }
        }
        Ok(())
    }

    /// Decode the next frame.
    pub fn next_item(&mut self) -> Result<CursorItem> {
        self.fill(FRAME_HEADER_LEN)?;
        let avail = self.available();
        if avail == 0 {
            return Ok(CursorItem::Eof);
        }
        let start = (self.pos - self.buf_off) as usize;
        if let Some(body_len) = frame::peek_body_len(&self.buf[start..]) {
            if body_len <= MAX_BODY_LEN {
                self.fill(FRAME_HEADER_LEN + body_len)?;
            }
        }
        let start = (self.pos - self.buf_off) as usize;
        let offset = self.pos;
        match frame::decode(&self.buf[start..]) {
            Decoded::Complete { frame, consumed } => {
                self.pos += consumed as u64;
                Ok(CursorItem::Frame { frame, offset })
            }
            decoded => Ok(CursorItem::Bad { offset, decoded }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_file_name(1), "00000000000000000001.wal");
        assert_eq!(
            parse_segment_file_name(&segment_file_name(123456)),
            Some(123456)
        );
        assert_eq!(
            parse_segment_file_name(&segment_file_name(u64::MAX)),
            Some(u64::MAX)
        );
        assert_eq!(parse_segment_file_name("1.wal"), None);
        assert_eq!(parse_segment_file_name("0000000000000000000x.wal"), None);
        assert_eq!(parse_segment_file_name("00000000000000000001.tmp"), None);
    }

    #[test]
    fn header_round_trip_and_checks() {
        let h = encode_header(77);
        assert_eq!(decode_header(&h), Ok(77));
        assert!(decode_header(&h[..23]).is_err());
        for i in 0..SEGMENT_HEADER_LEN {
            let mut bad = h;
            bad[i] ^= 0x10;
            assert!(decode_header(&bad).is_err(), "flip at {i} undetected");
        }
        assert!(decode_header(&[0u8; SEGMENT_HEADER_LEN]).is_err());
    }
}
