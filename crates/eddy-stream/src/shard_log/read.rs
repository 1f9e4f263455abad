//! Reading a shard: records from a position, and the position of a time.
//!
//! Readers never take the writer lock. They copy what they need of the
//! [`View`](super::View) (a segment's path, its readable length and its
//! sparse index) under its read lock, then read the file without any lock,
//! so a slow read never delays an append. A segment trimmed meanwhile is
//! skipped; a frame that does not decode inside the readable range is
//! corruption, since only whole frames are ever made readable.

use super::ShardLog;
use crate::error::{io_ctx, Error, Result};
use crate::frame::StoredRecord;
use crate::segment::{step, ChunkReader, Step, HEADER_LEN};
use std::path::Path;

/// Result of a read.
pub(crate) struct ReadBatch {
    pub records: Vec<StoredRecord>,
    /// Position to continue from.
    pub next_pos: u64,
    /// One past the last readable `seqIx` at read time.
    pub tip: u64,
}

impl ShardLog {
    /// Read the readable records from `pos` on, skipping records that arrived
    /// before `min_arrival`.
    pub fn read(
        &self,
        mut pos: u64,
        max_records: usize,
        max_bytes: usize,
        min_arrival: u64,
    ) -> Result<ReadBatch> {
        let mut records = Vec::new();
        let mut bytes = 0usize;
        let tip = self.tip();
        'segments: while records.len() < max_records && pos < tip {
            let (path, start, end, seg_next) = {
                let v = self.view.read();
                let Some(first) = v.segs.first() else {
                    pos = tip;
                    break;
                };
                pos = pos.max(first.first);
                let Some(s) = v.segs.iter().find(|s| pos < s.next) else {
                    pos = pos.max(tip);
                    break;
                };
                if s.newest_millis.is_none_or(|n| n < min_arrival) {
                    pos = s.next;
                    continue;
                }
                let start = s
                    .index
                    .iter()
                    .rev()
                    .find(|e| e.seq_ix <= pos)
                    .map_or(HEADER_LEN, |e| e.offset);
                (s.path.clone(), start, s.len, s.next)
            };
            let file = match self.fs.open_read(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    pos = seg_next; // trimmed meanwhile
                    continue;
                }
                Err(e) => return Err(io_ctx("opening", &path)(e)),
            };
            let mut r = ChunkReader::new(file);
            let mut off = start;
            while off < end {
                let (rec, len) = match step(&mut r, &path, off, end)? {
                    Step::Record(rec, len) => (rec, len),
                    _ => return Err(corrupt(&path, off)),
                };
                off += len;
                if rec.seq_ix < pos {
                    continue;
                }
                if rec.seq_ix != pos {
                    return Err(corrupt(&path, off - len));
                }
                if rec.arrival_millis < min_arrival {
                    pos += 1;
                    continue;
                }
                let size = rec.data.len() + rec.partition_key.len();
                if records.len() >= max_records || (!records.is_empty() && bytes + size > max_bytes)
                {
                    break 'segments;
                }
                bytes += size;
                pos += 1;
                records.push(rec);
            }
            pos = pos.max(seg_next);
        }
        Ok(ReadBatch {
            records,
            next_pos: pos,
            tip,
        })
    }

    /// The `seqIx` of the first readable record that arrived at or after
    /// `millis` (the tip if none).
    pub fn seek_timestamp(&self, millis: u64) -> Result<u64> {
        let target = {
            let v = self.view.read();
            let found = v
                .segs
                .iter()
                .find(|s| s.newest_millis.is_some_and(|n| n >= millis));
            match found {
                None => return Ok(v.next_seq_ix),
                Some(s) => {
                    let e = s.index.iter().rev().find(|e| e.arrival_millis < millis);
                    (e.map_or(s.first, |e| e.seq_ix), s.next)
                }
            }
        };
        // Records from `target.0` are in one segment; scan for the first match.
        let mut pos = target.0;
        loop {
            let batch = self.read(pos, 256, usize::MAX, 0)?;
            if let Some(r) = batch.records.iter().find(|r| r.arrival_millis >= millis) {
                return Ok(r.seq_ix);
            }
            if batch.records.is_empty() || batch.next_pos >= batch.tip {
                return Ok(batch.next_pos);
            }
            pos = batch.next_pos;
        }
    }
}

fn corrupt(path: &Path, offset: u64) -> Error {
    Error::Corruption {
        path: path.to_path_buf(),
        offset,
        reason: "invalid record frame inside the durable range".into(),
    }
}
