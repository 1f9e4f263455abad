//! Crash recovery: establish the durable truth of the log when it is opened.
//!
//! Every segment is scanned in LSN order; headers, frame checksums and LSN
//! continuity (within and across segments) are validated. The only damage
//! recovery repairs is a **torn tail**: what a crash or a power cut left of
//! the writes after the last fsync, which can only sit at the end of the
//! last segment. In the last segment the first frame that does not decode
//! (incomplete, a failed checksum, an impossible length) ends the log:
//! point-in-time recovery, the rule both of eddy's logs share (see the
//! `tail` module of [`crate::io`]). A power cut may leave any mix of the
//! unsynced pages, so valid-looking frames after the bad one are no proof
//! of corruption, and none of them was acknowledged: a `Sync` group is
//! acknowledged only after an fsync that covered its frame and all before
//! it.
//!
//! Such a tail is truncated (and fsynced) at the bad frame's start and
//! reported in [`RecoveryReport::torn_tail`]. Zeros alone after the last
//! frame are the space the writer fills ahead of the log's end (see
//! [`crate::writer`]): they are cut off the same way but not reported as a
//! torn tail, since they hold no byte of any frame. Because a group is one
//! frame, this drops whole groups only.
//!
//! Anything else — damage in a non-last segment (sealed: cut back to its
//! last frame and fsynced before the next was created), a bad header, a
//! checksum-valid but malformed frame, an LSN gap — is reported as
//! [`Error::Corruption`] and **nothing is modified**: silently discarding
//! acknowledged history is worse than refusing to open.
//!
//! Known limitation: a frame of the last segment damaged on disk after it
//! was acknowledged looks like an unsynced write and is cut, with every
//! frame after it; the cut is reported. The database's open then still
//! refuses a log that ends before the store's checkpoint.

use crate::error::{Error, Result};
use crate::frame::{Decoded, InvalidKind};
use crate::io::{read_full_at, zeros_between, LogFile, LogFs};
use crate::segment::{
    create_segment, decode_header, list_segments, CursorItem, SegmentCursor, SegmentInfo,
    SEGMENT_HEADER_LEN,
};
use std::path::{Path, PathBuf};

/// What recovery found when the log was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Number of segment files retained after recovery.
    pub segments: usize,
    /// Number of records (LSNs) in the retained segments.
    pub records: u64,
    /// Highest LSN in the log (0 if no record was ever written).
    pub last_lsn: u64,
    /// The torn tail that was discarded, if any.
    pub torn_tail: Option<TornTail>,
}

/// A torn tail discarded by recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The (last) segment that was truncated or removed.
    pub segment: PathBuf,
    /// Offset the segment was truncated at (0 if the segment was removed
    /// because its header was torn).
    pub offset: u64,
    /// How many bytes were discarded.
    pub discarded_bytes: u64,
}

/// Result of recovery: everything the writer needs to continue.
pub(crate) struct Recovered {
    /// Retained segments in LSN order; the last one is active.
    pub segments: Vec<SegmentInfo>,
    /// The active segment, open for appending.
    pub active: Box<dyn LogFile>,
    /// Next LSN to assign.
    pub next_lsn: u64,
    /// Timestamp of the last frame (0 if none).
    pub last_micros: u64,
    /// What was found.
    pub report: RecoveryReport,
}

fn io_err(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let ctx = format!("{what} {}", path.display());
    move |e| Error::io(ctx, e)
}

/// Whether a bad frame can be the end of an unsynced write (it can, unless
/// its checksum holds over impossible contents), with the reason text.
fn classify(decoded: &Decoded) -> (String, bool) {
    match decoded {
        Decoded::Incomplete => ("incomplete frame at end of segment".into(), true),
        Decoded::Invalid {
            kind: InvalidKind::Structure,
            reason,
            ..
        } => (reason.clone(), false),
        Decoded::Invalid { reason, .. } => (reason.clone(), true),
        Decoded::Complete { .. } => ("unexpected complete frame".into(), false),
    }
}

/// Recover the log in `dir` (creating it if needed).
pub(crate) fn recover(fs: &dyn LogFs, dir: &Path) -> Result<Recovered> {
    fs.create_dir_all(dir)
        .map_err(io_err("creating log directory", dir))?;
    let files = list_segments(fs, dir)?;
    let mut segments: Vec<SegmentInfo> = Vec::new();
    let mut expected: Option<u64> = None;
    let mut last_micros = 0u64;
    let mut records = 0u64;
    let mut torn_tail = None;
    let mut removed_torn_header = false;
    let count = files.len();

    for (i, (name_base, path)) in files.into_iter().enumerate() {
        let is_last = i + 1 == count;
        if name_base == 0 {
            // LSNs start at 1, so no writer ever creates this segment; a
            // base of 0 would make the next LSN 0 (and `last_lsn` wrap).
            return Err(Error::corruption(
                &path,
                0,
                "segment base LSN 0 is invalid (LSNs start at 1)",
            ));
        }
        if let Some(e) = expected {
            if name_base != e {
                return Err(Error::corruption(
                    &path,
                    0,
                    format!("segment base LSN {name_base} does not continue the previous segment (expected {e})"),
                ));
            }
        }
        let mut file = fs
            .open_read(&path)
            .map_err(io_err("opening segment", &path))?;
        let file_len = file
            .len()
            .map_err(io_err("reading length of segment", &path))?;
        let mut h = [0u8; SEGMENT_HEADER_LEN];
        let got =
            read_full_at(file.as_mut(), 0, &mut h).map_err(io_err("reading segment", &path))?;
        match decode_header(&h[..got]) {
            Ok(b) if b == name_base => {}
            Ok(b) => {
                return Err(Error::corruption(
                    &path,
                    0,
                    format!("segment header base LSN {b} does not match its file name"),
                ))
            }
            Err(reason) => {
                if is_last && file_len <= SEGMENT_HEADER_LEN as u64 {
                    // Crash while the segment was being created: it holds no
                    // frames, so removing it loses nothing.
                    drop(file);
                    fs.remove_file(&path)
                        .map_err(io_err("removing torn segment", &path))?;
                    fs.sync_dir(dir).map_err(io_err("syncing directory", dir))?;
                    tracing::warn!(segment = %path.display(), bytes = file_len, %reason,
                        "change log recovery removed a segment with a torn header");
                    torn_tail = Some(TornTail {
                        segment: path,
                        offset: 0,
                        discarded_bytes: file_len,
                    });
                    expected = Some(expected.unwrap_or(name_base));
                    removed_torn_header = true;
                    break;
                }
                return Err(Error::corruption(&path, 0, reason));
            }
        }

        let mut cursor = SegmentCursor::new(file, path.clone(), name_base);
        let mut next = name_base;
        let mut seg_len = file_len;
        loop {
            match cursor.next_item()? {
                CursorItem::Frame { frame, offset } => {
                    if frame.first_lsn != next {
                        return Err(Error::corruption(
                            &path,
                            offset,
                            format!("frame starts at LSN {}, expected {next}", frame.first_lsn),
                        ));
                    }
                    next += frame.count();
                    records += frame.count();
                    last_micros = frame.micros;
                }
                CursorItem::Eof => break,
                CursorItem::Bad { offset, decoded } => {
                    // Zeros from the last frame to the end: the space the
                    // writer fills ahead of the log (see `crate::writer`),
                    // nothing written into it. Cut off, not a torn tail.
                    let zeros_ahead = is_last
                        && zeros_between(cursor.file_mut(), offset, file_len)
                            .map_err(io_err("reading segment", &path))?;
                    let reason = if zeros_ahead {
                        String::new()
                    } else {
                        let (reason, torn) = classify(&decoded);
                        if !is_last || !torn {
                            return Err(Error::corruption(&path, offset, reason));
                        }
                        reason
                    };
                    drop(cursor);
                    let mut w = fs
                        .open_append(&path)
                        .map_err(io_err("opening segment", &path))?;
                    w.set_len(offset)
                        .map_err(io_err("truncating segment", &path))?;
                    w.sync_data().map_err(io_err("syncing segment", &path))?;
                    let discarded = file_len - offset;
                    if zeros_ahead {
                        tracing::debug!(segment = %path.display(), offset, bytes = discarded,
                            "change log recovery cut the zeros after the last frame");
                    } else {
                        tracing::warn!(segment = %path.display(), offset, discarded_bytes = discarded, %reason,
                            "change log recovery truncated a torn tail");
                        torn_tail = Some(TornTail {
                            segment: path.clone(),
                            offset,
                            discarded_bytes: discarded,
                        });
                    }
                    seg_len = offset;
                    break;
                }
            }
        }
        segments.push(SegmentInfo {
            base: name_base,
            path,
            len: seg_len,
        });
        expected = Some(next);
    }

    let next_lsn = expected.unwrap_or(1);
    let active = match segments.last() {
        Some(last) if !removed_torn_header => fs
            .open_append(&last.path)
            .map_err(io_err("opening segment", &last.path))?,
        _ => {
            let (f, path) = create_segment(fs, dir, next_lsn)?;
            segments.push(SegmentInfo {
                base: next_lsn,
                path,
                len: SEGMENT_HEADER_LEN as u64,
            });
            f
        }
    };

    let report = RecoveryReport {
        segments: segments.len(),
        records,
        last_lsn: next_lsn - 1,
        torn_tail,
    };
    tracing::info!(dir = %dir.display(), segments = report.segments, records, last_lsn = report.last_lsn,
        "change log recovered");
    Ok(Recovered {
        segments,
        active,
        next_lsn,
        last_micros,
        report,
    })
}
