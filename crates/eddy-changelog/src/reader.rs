//! Sequential reads of committed history: [`LogReader`].
//!
//! A reader is a snapshot: it is bounded by the committed watermark at the
//! moment it was created, so it never returns unacknowledged records (which
//! might still be lost if their fsync fails) and it terminates even while
//! writers keep appending. It walks segments in LSN order, re-validating
//! frame checksums and LSN continuity as it goes.
//!
//! While a public reader lives it holds a retention pin at its next LSN, so
//! `truncate_before` cannot delete a segment out from under it.

use crate::error::{Error, Result};
use crate::frame::{Decoded, Frame};
use crate::segment::{CursorItem, SegmentCursor};
use crate::shared::{Pin, Shared, State};
use std::path::PathBuf;
use std::sync::Arc;

/// One record read from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// The record's LSN.
    pub lsn: u64,
    /// Creation timestamp of its append group (microseconds since the epoch).
    pub micros: u64,
    /// The opaque payload as appended.
    pub payload: Vec<u8>,
}

/// Iterator over committed records from some LSN up to the committed
/// watermark at creation time. Created by
/// [`ChangeLog::read_from`](crate::ChangeLog::read_from). After yielding an
/// error it yields nothing more.
pub struct LogReader {
    shared: Arc<Shared>,
    segments: Vec<(u64, PathBuf)>,
    seg_idx: usize,
    cursor: Option<SegmentCursor>,
    frame: Option<(Frame, usize)>,
    /// LSN the next frame must start with (continuity check).
    expect: Option<u64>,
    next: u64,
    limit: u64,
    pin: Option<Pin>,
    done: bool,
}

impl std::fmt::Debug for LogReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogReader")
            .field("next_lsn", &self.next)
            .field("end_lsn", &self.limit)
            .finish_non_exhaustive()
    }
}

impl LogReader {
    /// Build a reader over `[from, limit]`. The caller holds the state lock
    /// and has already checked that `from` is not trimmed. Does no I/O.
    pub(crate) fn new_locked(
        shared: Arc<Shared>,
        state: &State,
        from: u64,
        limit: u64,
        pin: Option<Pin>,
    ) -> Self {
        let from = from.max(1);
        let segments: Vec<(u64, PathBuf)> = state
            .segments
            .iter()
            .filter(|s| s.base <= limit)
            .map(|s| (s.base, s.path.clone()))
            .collect();
        let seg_idx = segments
            .partition_point(|(b, _)| *b <= from)
            .saturating_sub(1);
        Self {
            shared,
            segments,
            seg_idx,
            cursor: None,
            frame: None,
            expect: None,
            next: from,
            limit,
            pin,
            done: from > limit,
        }
    }

    /// The LSN of the next record this reader would return.
    pub fn next_lsn(&self) -> u64 {
        self.next
    }

    /// The last LSN this reader will return (the committed watermark when it
    /// was created).
    pub fn end_lsn(&self) -> u64 {
        self.limit
    }

    fn open_next_segment(&mut self) -> Result<()> {
        let Some((base, path)) = self.segments.get(self.seg_idx).cloned() else {
            return Err(Error::corruption(
                &self.shared.dir,
                0,
                format!(
                    "committed LSN {} is missing from the log segments",
                    self.next
                ),
            ));
        };
        if let Some(e) = self.expect {
            if base != e {
                return Err(Error::corruption(
                    &path,
                    0,
                    format!("segment base LSN {base} does not continue the previous segment (expected {e})"),
                ));
            }
        } else if base > self.next {
            return Err(Error::corruption(
                &path,
                0,
                format!(
                    "segment base LSN {base} is beyond requested LSN {}",
                    self.next
                ),
            ));
        }
        let cursor = match SegmentCursor::open(self.shared.fs.as_ref(), &path, base) {
            Ok(c) => c,
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Trimmed {
                    requested: self.next,
                    oldest: self.shared.state.lock().oldest_lsn(),
                });
            }
            Err(e) => return Err(e),
        };
        self.cursor = Some(cursor);
        self.expect = Some(base);
        self.seg_idx += 1;
        Ok(())
    }

    fn advance(&mut self) -> Result<Option<LogRecord>> {
        loop {
            if self.next > self.limit {
                return Ok(None);
            }
            if let Some((frame, i)) = &mut self.frame {
                while *i < frame.payloads.len() {
                    let idx = *i;
                    *i += 1;
                    let lsn = frame.first_lsn + idx as u64;
                    if lsn < self.next {
                        continue;
                    }
                    if lsn > self.limit {
                        return Ok(None);
                    }
                    let payload = std::mem::take(&mut frame.payloads[idx]);
                    self.next = lsn + 1;
                    if let Some(p) = &self.pin {
                        p.set(self.next);
                    }
                    return Ok(Some(LogRecord {
                        lsn,
                        micros: frame.micros,
                        payload,
                    }));
                }
                self.frame = None;
            }
            if self.cursor.is_none() {
                self.open_next_segment()?;
            }
            let Some(cursor) = self.cursor.as_mut() else {
                continue;
            };
            match cursor.next_item()? {
                CursorItem::Frame { frame, offset } => {
                    let expect = self.expect.unwrap_or(cursor.base());
                    if frame.first_lsn != expect {
                        return Err(Error::corruption(
                            cursor.path(),
                            offset,
                            format!("frame starts at LSN {}, expected {expect}", frame.first_lsn),
                        ));
                    }
                    let end = expect + frame.count();
                    self.expect = Some(end);
                    if end > self.next {
                        self.frame = Some((frame, 0));
                    }
                }
                CursorItem::Eof => self.cursor = None,
                CursorItem::Bad { offset, decoded } => {
                    let reason = match decoded {
                        Decoded::Invalid { reason, .. } => reason,
                        _ => "incomplete frame before the committed watermark".to_string(),
                    };
                    return Err(Error::corruption(cursor.path(), offset, reason));
                }
            }
        }
    }
}

impl Iterator for LogReader {
    type Item = Result<LogRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.advance() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => {
                self.done = true;
                self.cursor = None;
                None
            }
            Err(e) => {
                self.done = true;
                self.cursor = None;
                Some(Err(e))
            }
        }
    }
}
