//! One shard's durable, append-only record log.
//!
//! A [`ShardLog`] owns the segment files of one shard. Appends happen under
//! the shard's own writer lock — write then `fsync`, one `fsync` per call —
//! so writers of different shards never wait for each other's disk flushes.
//! Readers never take the writer lock: they read a [`View`] of readable
//! segments. After a [`Visibility::Durable`] append the view is updated
//! only after a successful `fsync`, so readers never see an unacknowledged
//! record. A [`Visibility::Written`] append updates the view (and wakes
//! fan-out) right after its write and leaves the `fsync` to
//! [`ShardLog::sync_written`], which the appender calls before it counts
//! the records as durable; the appender (a table's destination publisher)
//! is one that can write them again if a power cut takes them back.
//!
//! Zeros ahead: as the change log does, the writer keeps the active segment
//! (a [`ZeroAheadFile`]) filled with zeros up to [`ZERO_AHEAD_BYTES`] past
//! its end and writes records into that space at their offsets, so each
//! append's `fsync` flushes data without also writing out a new file size.
//! A segment is cut back to its last record before the next one is created
//! and when the shard closes; after a crash the open-time scan cuts the
//! zeros of the newest segment (see [`crate::segment`]). Readers never see
//! the zeros: they read up to the readable length in the [`View`].
//!
//! Failure policy: if a write or `fsync` fails, the segment is truncated back
//! to its last durable length and that truncation is fsynced; the call fails
//! and the shard stays usable (the same `seqIx` values are reused, since none
//! was acknowledged). If even that repair fails, the shard is poisoned: its
//! appends fail with [`Error::Poisoned`] until the database is reopened and
//! recovery re-establishes the truth. A failed `fsync` while records are
//! readable but not yet fsynced ([`Visibility::Written`]) poisons the shard
//! at once: they were seen, so they cannot be cut back, the kernel may
//! have dropped their pages, and an `fsync` is never retried as if the
//! failed one had not happened.
//!
//! Records of an encrypted stream are sealed here, under the writer lock,
//! because their `seqIx` (part of the authenticated data) is assigned here
//! ([`crate::crypto`]); the live cache receives them as stored.
//!
//! Arrival times are clamped to be non-decreasing within a shard (also
//! across reopen), which makes `AT_TIMESTAMP` lookups and retention simple.

use crate::crypto::{self, StreamKey};
use crate::error::{io_ctx, Error, Result};
use crate::frame::{self, FrameRef, Sealed, StoredRecord};
use crate::live::Live;
use crate::segment::{
    create_segment, list_segments, scan_segment, IndexEntry, Scanned, HEADER_LEN, INDEX_EVERY,
};
use crate::summary;
use crate::types::Visibility;
use eddy_model::io::{LogFs, ZeroAheadFile, ZERO_AHEAD_BYTES};
use parking_lot::{Mutex, RwLock};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod read;

/// The state readers see: durable records, and the records of
/// [`Visibility::Written`] appends.
struct View {
    segs: Vec<Scanned>,
    /// One past the last readable `seqIx`.
    next_seq_ix: u64,
}

struct WriterState {
    /// The active segment, once an append has opened it.
    active: Option<ZeroAheadFile>,
    next_seq_ix: u64,
    last_arrival: u64,
    closed: bool,
    deleted: bool,
    poisoned: Option<String>,
    /// A [`Visibility::Written`] append is readable but not yet fsynced.
    unsynced: bool,
}

/// Why an append was refused without an I/O attempt.
pub(crate) enum AppendRefused {
    /// The shard was closed by resharding; route again.
    Closed,
    /// The shard (stream) was deleted.
    Deleted,
    /// An I/O failure (the shard is repaired or poisoned).
    Failed(Error),
}

/// A record to append.
pub(crate) struct NewRecord {
    pub partition_key: String,
    pub explicit_hash_key: Option<u128>,
    pub data: Vec<u8>,
}

/// One shard's log. See the module docs.
pub(crate) struct ShardLog {
    fs: Arc<dyn LogFs>,
    dir: PathBuf,
    index: u32,
    segment_size: u64,
    writer: Mutex<WriterState>,
    view: RwLock<View>,
    /// Wake-ups and recent records for fan-out delivery ([`Live`]).
    pub live: Live,
}

impl ShardLog {
    /// Open (recovering torn tails) the shard in `dir`. `meta_next` is the
    /// persisted lower bound of the next `seqIx`.
    pub fn open(
        fs: Arc<dyn LogFs>,
        dir: PathBuf,
        index: u32,
        meta_next: u64,
        segment_size: u64,
        closed: bool,
    ) -> Result<ShardLog> {
        let mut listed = list_segments(fs.as_ref(), &dir)?;
        let mut segs = Vec::new();
        // Sealed segments (all but the last; the last too once the shard is
        // closed) are read from their summaries when those are current, and
        // summarised after a scan otherwise (`crate::summary`).
        let fs_ref = fs.as_ref();
        let sealed = |first: u64, path: &Path, is_last: bool| -> Result<Option<Scanned>> {
            if let Some(s) = summary::load(fs_ref, path, first, index) {
                return Ok(Some(s));
            }
            let scanned = scan_segment(fs_ref, &dir, path, first, index, is_last)?;
            if let Some(s) = &scanned {
                summary::store(fs_ref, s, index);
            }
            Ok(scanned)
        };
        while let Some((first, path)) = listed.pop() {
            let last = if closed {
                sealed(first, &path, true)?
            } else {
                scan_segment(fs_ref, &dir, &path, first, index, true)?
            };
            if let Some(s) = last {
                segs.push(s);
                break;
            }
        }
        for (first, path) in listed.into_iter().rev() {
            if let Some(s) = sealed(first, &path, false)? {
                segs.push(s);
            }
        }
        segs.reverse();
        for w in segs.windows(2) {
            if w[0].next != w[1].first {
                return Err(Error::Corruption {
                    path: w[1].path.clone(),
                    offset: 0,
                    reason: format!(
                        "segment starts at seqIx {} but the previous ends before {}",
                        w[1].first, w[0].next
                    ),
                });
            }
        }
        let next = segs.last().map_or(meta_next, |s| s.next.max(meta_next));
        let last_arrival = segs.iter().rev().find_map(|s| s.newest_millis).unwrap_or(0);
        Ok(ShardLog {
            fs,
            dir,
            index,
            segment_size,
            writer: Mutex::new(WriterState {
                active: None,
                next_seq_ix: next,
                last_arrival,
                closed,
                deleted: false,
                poisoned: None,
                unsynced: false,
            }),
            view: RwLock::new(View {
                segs,
                next_seq_ix: next,
            }),
            live: Live::new(next),
        })
    }

    /// What the open cut off the end of the shard's newest segment: the
    /// segment, the offset and the bytes discarded.
    pub fn cut_at_open(&self) -> Option<(PathBuf, u64, u64)> {
        let view = self.view.read();
        let last = view.segs.last()?;
        last.cut
            .map(|(offset, bytes)| (last.path.clone(), offset, bytes))
    }

    /// One past the last readable `seqIx`.
    pub fn tip(&self) -> u64 {
        self.view.read().next_seq_ix
    }

    /// Arrival time of the newest readable record, if any.
    pub fn newest_arrival(&self) -> Option<u64> {
        self.view
            .read()
            .segs
            .iter()
            .rev()
            .find_map(|s| s.newest_millis)
    }

    /// One past the last readable `seqIx` and the arrival time of the
    /// newest readable record, read together.
    pub fn newest(&self) -> (u64, Option<u64>) {
        let v = self.view.read();
        let arrival = v.segs.iter().rev().find_map(|s| s.newest_millis);
        (v.next_seq_ix, arrival)
    }

    /// Append `records` (one write), encrypted under `key` if given, and
    /// make them readable: after an `fsync` with [`Visibility::Durable`];
    /// at once with [`Visibility::Written`], whose `fsync` is
    /// [`ShardLog::sync_written`]'s. Returns each record's
    /// `(seqIx, arrival_millis)`.
    pub fn append(
        &self,
        records: &[&NewRecord],
        now_millis: u64,
        key: Option<&StreamKey>,
        visibility: Visibility,
    ) -> std::result::Result<Vec<(u64, u64)>, AppendRefused> {
        let mut w = self.writer.lock();
        if w.deleted {
            return Err(AppendRefused::Deleted);
        }
        if w.closed {
            return Err(AppendRefused::Closed);
        }
        if let Some(p) = &w.poisoned {
            return Err(AppendRefused::Failed(Error::Poisoned(p.clone())));
        }
        if records.is_empty() {
            return Ok(Vec::new());
        }
        // Only damaged metadata puts the next seqIx near the end of its
        // 64 bits (a shard would need 2^64 records): refuse rather than wrap.
        if w.next_seq_ix.checked_add(records.len() as u64).is_none() {
            return Err(AppendRefused::Failed(Error::Corruption {
                path: self.dir.clone(),
                offset: 0,
                reason: format!(
                    "the shard's next seqIx {} leaves no room for {} more records",
                    w.next_seq_ix,
                    records.len()
                ),
            }));
        }
        self.ensure_active(&mut w).map_err(AppendRefused::Failed)?;
        let old_len = w.active.as_ref().map_or(HEADER_LEN, ZeroAheadFile::len);
        let arrival = now_millis.max(w.last_arrival);
        let first_of_seg = self
            .view
            .read()
            .segs
            .last()
            .map_or(w.next_seq_ix, |s| s.first);
        let sealed: Vec<Option<(Sealed, Vec<u8>)>> = records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let Some(key) = key else { return Ok(None) };
                let c = crypto::Context {
                    shard_index: self.index,
                    seq_ix: w.next_seq_ix + i as u64,
                    arrival_millis: arrival,
                    partition_key: &r.partition_key,
                    explicit_hash_key: r.explicit_hash_key,
                };
                crypto::seal(key, &c, &r.data).map(Some)
            })
            .collect::<Result<_>>()
            .map_err(AppendRefused::Failed)?;
        let first_seq_ix = w.next_seq_ix;
        let frames: Vec<FrameRef<'_>> = records
            .iter()
            .zip(&sealed)
            .enumerate()
            .map(|(i, (r, s))| FrameRef {
                seq_ix: first_seq_ix + i as u64,
                arrival_millis: arrival,
                partition_key: &r.partition_key,
                explicit_hash_key: r.explicit_hash_key,
                data: s.as_ref().map_or(&r.data, |(_, ct)| ct),
                sealed: s.as_ref().map(|(s, _)| s),
            })
            .collect();
        let mut buf = Vec::with_capacity(frames.iter().map(frame::encoded_len).sum());
        let mut index = Vec::new();
        let mut assigned = Vec::with_capacity(records.len());
        for rec in &frames {
            let seq_ix = rec.seq_ix;
            if (seq_ix - first_of_seg).is_multiple_of(INDEX_EVERY) {
                index.push(IndexEntry {
                    seq_ix,
                    offset: old_len + buf.len() as u64,
                    arrival_millis: arrival,
                });
            }
            frame::encode(rec, &mut buf);
            assigned.push((seq_ix, arrival));
        }
        // The error, and whether it was the fsync that failed.
        let res = match w.active.as_mut() {
            Some(f) => f
                .append(&buf)
                .map_err(|e| (e, false))
                .and_then(|()| match visibility {
                    Visibility::Durable => f.file_mut().sync_data().map_err(|e| (e, true)),
                    Visibility::Written => Ok(()),
                }),
            None => Err((std::io::Error::other("no active segment"), false)),
        };
        if let Err((e, fsync_failed)) = res {
            let err = io_ctx("appending to", &self.active_path())(e);
            // After a failed fsync the kernel may have dropped the pages of
            // records that earlier `Written` appends made readable: they
            // were seen and their fate is unknown, so nothing is repaired.
            let repairable = !(fsync_failed && w.unsynced);
            let repaired = repairable
                && w.active.as_mut().is_some_and(|f| {
                    f.cut_back(old_len)
                        .and_then(|()| f.file_mut().sync_data())
                        .is_ok()
                });
            if !repaired {
                tracing::error!(error = %err, "shard writer poisoned");
                w.poisoned = Some(err.to_string());
                w.active = None;
            }
            return Err(AppendRefused::Failed(err));
        }
        let n = assigned.len() as u64;
        w.next_seq_ix += n;
        w.last_arrival = arrival;
        // A durable append's fsync also covered every earlier write.
        w.unsynced = visibility == Visibility::Written;
        let mut v = self.view.write();
        v.next_seq_ix = w.next_seq_ix;
        if let Some(s) = v.segs.last_mut() {
            s.len = old_len + buf.len() as u64;
            s.next = w.next_seq_ix;
            s.oldest_millis.get_or_insert(arrival);
            s.newest_millis = Some(arrival);
            s.index.extend(index);
        }
        drop(v);
        // Still under the writer lock, so batches reach the tail in order.
        self.live.published(w.next_seq_ix, || {
            records
                .iter()
                .zip(&assigned)
                .zip(sealed)
                .map(|((r, &(seq_ix, arrival_millis)), s)| {
                    let (sealed, data) = match s {
                        Some((s, ct)) => (Some(s), ct),
                        None => (None, r.data.clone()),
                    };
                    StoredRecord {
                        seq_ix,
                        arrival_millis,
                        partition_key: r.partition_key.clone(),
                        explicit_hash_key: r.explicit_hash_key,
                        data,
                        sealed,
                    }
                })
                .collect()
        });
        Ok(assigned)
    }

    /// Fsyncs the records of this shard's [`Visibility::Written`] appends
    /// (nothing to do if there are none). A failure poisons the shard (see
    /// the module docs).
    pub fn sync_written(&self) -> Result<()> {
        let mut w = self.writer.lock();
        if let Some(p) = &w.poisoned {
            return Err(Error::Poisoned(p.clone()));
        }
        if !w.unsynced {
            return Ok(());
        }
        let res = match w.active.as_mut() {
            Some(f) => f.file_mut().sync_data(),
            // Sealing or closing the segment fsynced it (`cut_zeros`), or
            // poisoned the shard.
            None => Ok(()),
        };
        match res {
            Ok(()) => {
                w.unsynced = false;
                Ok(())
            }
            Err(e) => {
                let err = io_ctx("syncing", &self.active_path())(e);
                tracing::error!(error = %err, "shard writer poisoned: readable records failed to sync");
                w.poisoned = Some(err.to_string());
                w.active = None;
                Err(err)
            }
        }
    }

    /// The newest segment's path, for error messages.
    fn active_path(&self) -> PathBuf {
        self.view
            .read()
            .segs
            .last()
            .map(|s| s.path.clone())
            .unwrap_or_default()
    }

    /// Make sure an active segment with room is open for appending.
    fn ensure_active(&self, w: &mut WriterState) -> Result<()> {
        let last = self
            .view
            .read()
            .segs
            .last()
            .map(|s| (s.path.clone(), s.len));
        match last {
            Some((path, len)) if len < self.segment_size => {
                if w.active.is_none() {
                    let f = self
                        .fs
                        .open_append(&path)
                        .map_err(io_ctx("opening", &path))?;
                    w.active = Some(ZeroAheadFile::new(f, len, ZERO_AHEAD_BYTES));
                }
                Ok(())
            }
            Some((path, _)) => {
                // A sealed segment ends at its last record (only the newest
                // may have zeros after it at open): cut before the next
                // segment exists, or fail this append and retry.
                cut_zeros(w).map_err(io_ctx("cutting the zeros ahead off", &path))?;
                self.new_segment(w)
            }
            None => self.new_segment(w),
        }
    }

    /// Creates the next segment and makes it the active one.
    fn new_segment(&self, w: &mut WriterState) -> Result<()> {
        let first = w.next_seq_ix;
        let f = create_segment(self.fs.as_ref(), &self.dir, self.index, first)?;
        w.active = Some(ZeroAheadFile::new(f, HEADER_LEN, ZERO_AHEAD_BYTES));
        self.view.write().segs.push(Scanned::empty(
            crate::segment::segment_path(&self.dir, first),
            first,
        ));
        Ok(())
    }

    /// Close the shard to writes; returns one past the last assigned `seqIx`.
    pub fn close(&self) -> u64 {
        let mut w = self.writer.lock();
        w.closed = true;
        if let Err(e) = cut_zeros(&mut w) {
            // The open-time scan cuts them (a closed shard's last segment
            // is scanned as the newest).
            tracing::warn!(shard = self.index, error = %e, "could not cut the zeros ahead off a closed shard's segment");
            if w.unsynced {
                w.poisoned = Some(format!("syncing a closed shard's segment: {e}"));
            }
        }
        w.active = None;
        let next = w.next_seq_ix;
        drop(w);
        self.live.bump();
        next
    }

    /// Undo [`ShardLog::close`] (a reshard failed to persist).
    pub fn reopen(&self) {
        self.writer.lock().closed = false;
    }

    /// Delete non-active segments whose newest record arrived before
    /// `cutoff_millis`. Returns how many were deleted.
    pub fn trim(&self, cutoff_millis: u64) -> Result<usize> {
        let mut v = self.view.write();
        let mut n = 0;
        while v.segs.len() > 1 && v.segs[0].newest_millis.is_none_or(|t| t < cutoff_millis) {
            let s = v.segs.remove(0);
            match summary::remove(self.fs.as_ref(), &s.path)
                .and_then(|()| self.fs.remove_file(&s.path))
            {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    v.segs.insert(0, s.clone());
                    return Err(io_ctx("removing", &s.path)(e));
                }
            }
            n += 1;
        }
        drop(v);
        if n > 0 {
            self.fs
                .sync_dir(&self.dir)
                .map_err(io_ctx("syncing", &self.dir))?;
        }
        Ok(n)
    }

    /// Stop all writes and delete every file of the shard.
    pub fn destroy(&self) -> Result<()> {
        let mut w = self.writer.lock();
        w.deleted = true;
        w.active = None;
        drop(w);
        self.view.write().segs.clear();
        self.live.bump();
        remove_dir_files(self.fs.as_ref(), &self.dir)
    }
}

impl Drop for ShardLog {
    fn drop(&mut self) {
        // A clean close leaves the segment ending at its last record; if
        // this fails the next open's scan cuts the zeros.
        if let Err(e) = cut_zeros(self.writer.get_mut()) {
            tracing::warn!(shard = self.index, error = %e, "could not cut the zeros ahead off a shard's segment");
        }
    }
}

/// Cuts the zeros ahead off the active segment, durably, and so also
/// fsyncs what [`Visibility::Written`] appends left unsynced.
fn cut_zeros(w: &mut WriterState) -> std::io::Result<()> {
    let Some(f) = w.active.as_mut() else {
        return Ok(());
    };
    if f.has_zeros_ahead() {
        f.cut_zeros()?;
    } else if w.unsynced {
        f.file_mut().sync_data()?;
    }
    w.unsynced = false;
    Ok(())
}

/// Remove every file directly inside `dir` (missing dir is fine).
///
/// The file layer has no `remove_dir`, so the emptied directory stays.
pub(crate) fn remove_dir_files(fs: &dyn LogFs, dir: &Path) -> Result<()> {
    let entries = match fs.list_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_ctx("listing", dir)(e)),
    };
    for p in &entries {
        match fs.remove_file(p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_ctx("removing", p)(e)),
        }
    }
    if !entries.is_empty() {
        fs.sync_dir(dir).map_err(io_ctx("syncing", dir))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use eddy_model::io::fault::FaultFs;

    fn record(byte: u8) -> NewRecord {
        NewRecord {
            partition_key: "k".into(),
            explicit_hash_key: None,
            data: vec![byte],
        }
    }

    fn open(fault: &FaultFs, dir: &Path) -> ShardLog {
        let dir = dir.join("shard");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        ShardLog::open(Arc::new(fault.clone()), dir, 0, 1, 1 << 20, false)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn append(log: &ShardLog, byte: u8, visibility: Visibility) -> Result<()> {
        match log.append(&[&record(byte)], 1, None, visibility) {
            Ok(_) => Ok(()),
            Err(AppendRefused::Failed(e)) => Err(e),
            Err(_) => panic!("refused without an I/O attempt"),
        }
    }

    #[test]
    fn a_failed_fsync_repairs_the_shard_unless_written_records_await_theirs() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let fault = FaultFs::new();
        let log = open(&fault, dir.path());

        // Nothing awaits an fsync: a durable append whose fsync fails is
        // cut back and the shard keeps working.
        append(&log, 1, Visibility::Durable).unwrap_or_else(|e| panic!("{e}"));
        fault.fail_next_syncs(1);
        assert!(append(&log, 2, Visibility::Durable).is_err());
        append(&log, 3, Visibility::Durable).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(log.tip(), 3);

        // A written append is readable before its fsync; another append's
        // failed fsync may have lost its pages, so the shard is poisoned.
        append(&log, 4, Visibility::Written).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(log.tip(), 4);
        fault.fail_next_syncs(1);
        assert!(append(&log, 5, Visibility::Durable).is_err());
        assert!(matches!(log.sync_written(), Err(Error::Poisoned(_))));
        assert!(matches!(
            append(&log, 6, Visibility::Durable),
            Err(Error::Poisoned(_))
        ));
    }
}
