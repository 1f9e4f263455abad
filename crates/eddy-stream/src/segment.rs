//! Shard segment files: header, sequential frame cursor and open-time scan.
//!
//! A shard's records live in append-only files
//! `<dir>/<stream>/<shardId>/<first seqIx:020>.seg`. Each starts with a
//! 28-byte header
//!
//! ```text
//! magic "EDDYSHRD" | version u32 | shard index u32 | first seqIx u64 | crc32 u32
//! ```
//!
//! followed by [`crate::frame`]s with consecutive `seqIx` values. The file
//! name repeats the first `seqIx`, so even an empty active segment tells
//! recovery where numbering continues.
//!
//! Recovery on open (the change log's discipline): only the **last**
//! segment may have a torn tail, and in it the first frame that does not
//! decode (incomplete, a failed checksum, an impossible length) ends the
//! shard: point-in-time recovery, the rule both logs share (the `tail`
//! module of [`eddy_model::io`]). A power cut may leave any mix of the pages
//! written since the last fsync, so frames that decode can follow a bad
//! one; none of them was acknowledged (an append returns after its fsync).
//! A torn tail is truncated and fsynced; a last segment whose header is
//! torn is removed. Anything else (damage in a non-last segment, a
//! checksum-valid but malformed frame, a `seqIx` gap, a bad header) is
//! [`Error::Corruption`] naming file and offset, and nothing is modified.

use crate::error::{io_ctx, Error, Result};
use crate::frame::{decode_body, decode_header, Invalid, StoredRecord, FRAME_HEADER_LEN};
use eddy_model::io::{read_full_at, zeros_between, LogFile, LogFs};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"EDDYSHRD";
const VERSION: u32 = 1;
/// Length of the segment header.
pub(crate) const HEADER_LEN: u64 = 28;
/// One sparse-index entry every this many records.
pub(crate) const INDEX_EVERY: u64 = 64;
const CHUNK: usize = 256 * 1024;

/// A sparse index entry: where the frame of `seq_ix` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    pub seq_ix: u64,
    pub offset: u64,
    pub arrival_millis: u64,
}

/// The file name of the segment starting at `first`.
pub(crate) fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.seg"))
}

/// Segment files in `dir`, sorted by first `seqIx`. Missing dir → empty.
pub(crate) fn list_segments(fs: &dyn LogFs, dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let entries = match fs.list_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_ctx("listing", dir)(e)),
    };
    let mut out: Vec<(u64, PathBuf)> = entries
        .into_iter()
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?;
            let stem = name.strip_suffix(".seg")?;
            (stem.len() == 20)
                .then(|| stem.parse::<u64>().ok())
                .flatten()
                .map(|n| (n, p))
        })
        .collect();
    out.sort();
    Ok(out)
}

fn encode_header(shard_index: u32, first: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN as usize);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&VERSION.to_le_bytes());
    h.extend_from_slice(&shard_index.to_le_bytes());
    h.extend_from_slice(&first.to_le_bytes());
    let crc = crc32fast::hash(&h);
    h.extend_from_slice(&crc.to_le_bytes());
    h
}

/// Create a segment: header written and fsynced, directory entry synced.
pub(crate) fn create_segment(
    fs: &dyn LogFs,
    dir: &Path,
    shard_index: u32,
    first: u64,
) -> Result<Box<dyn LogFile>> {
    fs.create_dir_all(dir).map_err(io_ctx("creating", dir))?;
    let path = segment_path(dir, first);
    let mut f = fs.create_new(&path).map_err(io_ctx("creating", &path))?;
    let res = f
        .write_all(&encode_header(shard_index, first))
        .and_then(|()| f.sync_data())
        .and_then(|()| fs.sync_dir(dir));
    if let Err(e) = res {
        drop(f);
        let _ = fs.remove_file(&path);
        return Err(io_ctx("initialising", &path)(e));
    }
    Ok(f)
}

/// Buffered positional reads over a [`LogFile`].
pub(crate) struct ChunkReader {
    file: Box<dyn LogFile>,
    start: u64,
    buf: Vec<u8>,
}

impl ChunkReader {
    pub fn new(file: Box<dyn LogFile>) -> Self {
        ChunkReader {
            file,
            start: 0,
            buf: Vec::new(),
        }
    }

    /// The file, for reads that bypass the cache.
    pub fn file_mut(&mut self) -> &mut dyn LogFile {
        self.file.as_mut()
    }

    /// Up to `len` bytes at `off` (fewer only at end of file).
    pub fn read(&mut self, off: u64, len: usize) -> std::io::Result<&[u8]> {
        let cached_end = self.start + self.buf.len() as u64;
        if off < self.start || off + len as u64 > cached_end {
            self.start = off;
            self.buf.resize(len.max(CHUNK), 0);
            let n = read_full_at(self.file.as_mut(), off, &mut self.buf)?;
            self.buf.truncate(n);
        }
        let from = (off - self.start) as usize;
        let to = (from + len).min(self.buf.len());
        Ok(self.buf.get(from..to).unwrap_or(&[]))
    }
}

/// What the cursor found at a position.
pub(crate) enum Step {
    /// A valid frame of `len` bytes.
    Record(StoredRecord, u64),
    /// The file ends inside the frame.
    Incomplete,
    /// A bad frame.
    Invalid(Invalid),
}

/// Decode the frame at `pos`, reading no further than `end`.
pub(crate) fn step(r: &mut ChunkReader, path: &Path, pos: u64, end: u64) -> Result<Step> {
    let avail = end.saturating_sub(pos);
    if avail < FRAME_HEADER_LEN as u64 {
        return Ok(Step::Incomplete);
    }
    let hb = r
        .read(pos, FRAME_HEADER_LEN)
        .map_err(io_ctx("reading", path))?;
    let Ok(h) = <[u8; FRAME_HEADER_LEN]>::try_from(hb) else {
        return Ok(Step::Incomplete);
    };
    let (len, crc) = match decode_header(&h) {
        Ok(x) => x,
        Err(k) => return Ok(Step::Invalid(k)),
    };
    let total = (FRAME_HEADER_LEN + len) as u64;
    if avail < total {
        return Ok(Step::Incomplete);
    }
    let body = r
        .read(pos + FRAME_HEADER_LEN as u64, len)
        .map_err(io_ctx("reading", path))?;
    if body.len() < len {
        return Ok(Step::Incomplete);
    }
    Ok(match decode_body(&h, crc, body) {
        Ok(rec) => Step::Record(rec, total),
        Err(k) => Step::Invalid(k),
    })
}

/// The state of one segment after the open-time scan.
#[derive(Debug, Clone)]
pub(crate) struct Scanned {
    pub path: PathBuf,
    pub first: u64,
    /// One past the last `seqIx` in the segment.
    pub next: u64,
    /// Valid length in bytes (after any truncation).
    pub len: u64,
    pub oldest_millis: Option<u64>,
    pub newest_millis: Option<u64>,
    pub index: Vec<IndexEntry>,
    /// The torn tail the open-time scan cut off: where, and how many bytes
    /// (not the zeros filled ahead, which are cut silently).
    pub cut: Option<(u64, u64)>,
}

impl Scanned {
    /// A segment holding only its header, its first record to be `first`.
    pub(crate) fn empty(path: PathBuf, first: u64) -> Scanned {
        Scanned {
            path,
            first,
            next: first,
            len: HEADER_LEN,
            oldest_millis: None,
            newest_millis: None,
            index: Vec::new(),
            cut: None,
        }
    }
}

fn corrupt(path: &Path, offset: u64, reason: impl Into<String>) -> Error {
    Error::Corruption {
        path: path.to_path_buf(),
        offset,
        reason: reason.into(),
    }
}

/// Whether `[from, to)` of the segment holds zeros only.
fn zeros_to_eof(r: &mut ChunkReader, path: &Path, from: u64, to: u64) -> Result<bool> {
    zeros_between(r.file_mut(), from, to).map_err(io_ctx("reading", path))
}

/// Scan (and for the last segment, repair) one segment. Returns `None` if a
/// last segment with a torn header was removed.
pub(crate) fn scan_segment(
    fs: &dyn LogFs,
    dir: &Path,
    path: &Path,
    first: u64,
    shard_index: u32,
    is_last: bool,
) -> Result<Option<Scanned>> {
    let file = fs.open_read(path).map_err(io_ctx("opening", path))?;
    let file_len = file.len().map_err(io_ctx("sizing", path))?;
    let mut r = ChunkReader::new(file);
    let header = r
        .read(0, HEADER_LEN as usize)
        .map_err(io_ctx("reading", path))?
        .to_vec();
    let torn_header = file_len < HEADER_LEN && is_last
        || is_last && header.iter().all(|&b| b == 0) && zeros_to_eof(&mut r, path, 0, file_len)?;
    if torn_header {
        tracing::warn!(path = %path.display(), "removing segment with torn header");
        drop(r);
        crate::summary::remove(fs, path).map_err(io_ctx("removing the summary of", path))?;
        fs.remove_file(path).map_err(io_ctx("removing", path))?;
        fs.sync_dir(dir).map_err(io_ctx("syncing", dir))?;
        return Ok(None);
    }
    if header.len() < HEADER_LEN as usize
        || header.get(..8) != Some(MAGIC.as_slice())
        || crc32fast::hash(&header[..24]).to_le_bytes() != header[24..28]
    {
        return Err(corrupt(path, 0, "bad segment header"));
    }
    let version = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    let idx = u32::from_le_bytes([header[12], header[13], header[14], header[15]]);
    let mut fb = [0u8; 8];
    fb.copy_from_slice(&header[16..24]);
    if version != VERSION || idx != shard_index || u64::from_le_bytes(fb) != first {
        return Err(corrupt(path, 0, "segment header does not match its shard"));
    }
    let mut s = Scanned::empty(path.to_path_buf(), first);
    let mut pos = HEADER_LEN;
    while pos < file_len {
        let torn = match step(&mut r, path, pos, file_len)? {
            Step::Record(rec, len) => {
                if rec.seq_ix != s.next {
                    return Err(corrupt(
                        path,
                        pos,
                        format!("seqIx {} where {} was expected", rec.seq_ix, s.next),
                    ));
                }
                if (rec.seq_ix - first).is_multiple_of(INDEX_EVERY) {
                    s.index.push(IndexEntry {
                        seq_ix: rec.seq_ix,
                        offset: pos,
                        arrival_millis: rec.arrival_millis,
                    });
                }
                s.oldest_millis.get_or_insert(rec.arrival_millis);
                s.newest_millis = Some(rec.arrival_millis);
                s.next += 1;
                pos += len;
                s.len = pos;
                continue;
            }
            Step::Incomplete => is_last,
            Step::Invalid(Invalid::Structure) => false,
            Step::Invalid(_) => is_last,
        };
        if !torn {
            return Err(corrupt(path, pos, "invalid record frame"));
        }
        if zeros_to_eof(&mut r, path, pos, file_len)? {
            // The zeros the writer fills ahead (`crate::shard_log`).
            tracing::debug!(path = %path.display(), offset = pos, bytes = file_len - pos, "cutting the zeros after the last record");
        } else {
            tracing::warn!(path = %path.display(), offset = pos, discarded = file_len - pos, "truncating torn tail");
            s.cut = Some((pos, file_len - pos));
        }
        drop(r);
        let mut f = fs.open_append(path).map_err(io_ctx("opening", path))?;
        f.set_len(pos).map_err(io_ctx("truncating", path))?;
        f.sync_data().map_err(io_ctx("syncing", path))?;
        return Ok(Some(s));
    }
    Ok(Some(s))
}
