//! The log writer: batches, group commit, failure handling.
//!
//! One [`Writer`] owns the active segment file and the LSN sequence, behind
//! the [`Committer`](crate::committer::Committer)'s mutex, which gives a
//! total LSN order for free and makes group commit natural: whoever holds
//! the mutex takes every request already queued (up to a byte budget),
//! encodes every group into one buffer, performs ONE `write_all` and — for
//! [`Durability::Sync`] — ONE `sync_data` for the whole batch, and only then
//! acknowledges every appender. Under load, N concurrent appenders cost one
//! fsync instead of N.
//!
//! After a batch is durable per policy it is *committed*: under the state
//! lock the writer advances the committed watermark and `try_send`s each
//! group to every live subscriber (dropping subscribers whose buffer is full;
//! they catch up from disk). Only then are appenders answered, so an appender
//! that reads the log after `append` returns always sees its own records.
//!
//! Failure policy. A failed **fsync poisons** the log: after a failed fsync
//! the kernel may have dropped the dirty pages, so retrying it and reporting
//! success would be a lie; the affected appenders and every later operation
//! get [`Error::Poisoned`]. The outcome of the failed group itself is unknown
//! (it may reappear after reopen); anything acknowledged is safe. The caller
//! must drop the handle and reopen — recovery re-establishes what is on disk.
//!
//! A failed **write** (typically `ENOSPC`, the disk is full) is undone
//! instead: the segment is cut back to its length before the write and that
//! cut is fsynced, so no byte of the refused batch remains. Its appenders get
//! [`Error::WriteFailed`], no LSN is consumed, and the log keeps accepting
//! appends, which succeed again once space is back. Only if the undo itself
//! fails is the log poisoned. Rolling to a new segment is likewise retried
//! at the next batch when the new file cannot be created (the active segment
//! just grows past its target size meanwhile).
//!
//! Zeros ahead. Appending to a file makes every `fdatasync` also write out
//! the file's new size (a journal commit on ext4, or an inode write without
//! a journal), which costs about half as much again as the data write
//! itself. So under [`Durability::Sync`] (the other modes fsync
//! rarely, and would only write every byte twice) the active segment is a
//! [`ZeroAheadFile`], kept filled with zeros up to [`ZERO_AHEAD_BYTES`]
//! past its end ahead of time (one write, made durable by the next group's
//! fsync), with groups written into that space at their offsets; only one
//! fsync per such chunk changes the file's size. A sealed segment is cut
//! back to its last frame before the next one is created, and so is the
//! active one at a clean close; after a crash, recovery takes a tail of
//! zeros after the last frame for what it is (see [`crate::recovery`] and
//! the rule in [`eddy_model::io`]'s `tail` module).

use crate::error::{Error, Result};
use crate::frame::encode_into;
use crate::io::{LogFile, ZeroAheadFile, ZERO_AHEAD_BYTES};
use crate::options::{Clock, Durability};
use crate::reply::AppendReply;
use crate::segment::{create_segment, segment_file_name, SegmentInfo, SEGMENT_HEADER_LEN};
use crate::shared::{Committed, CommittedGroup, Shared};
use crossbeam_channel::{Receiver, Sender};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// A request to the writer thread.
pub(crate) enum Request {
    /// Append one group; reply once committed per durability.
    Append {
        payloads: Vec<Vec<u8>>,
        bytes: u64,
        reply: AppendReply,
    },
    /// fsync everything written so far.
    Sync { reply: Sender<Result<()>> },
    /// Finish queued work, fsync and stop.
    Shutdown { reply: Sender<Result<()>> },
    /// Nothing to do: wakes the writer thread so that it notices unsynced
    /// data written by an appender that committed its own group
    /// ([`Durability::Periodic`] must fsync it in time).
    Tick,
}

impl Request {
    pub(crate) fn bytes(&self) -> u64 {
        match self {
            Request::Append { bytes, .. } => *bytes,
            _ => 0,
        }
    }

    pub(crate) fn refuse(self, err: impl Fn() -> Error) {
        // A failed send means the requester is gone; nothing to do.
        match self {
            Request::Append { reply, .. } => reply.send(Err(err())),
            Request::Sync { reply } | Request::Shutdown { reply } => drop(reply.send(Err(err()))),
            Request::Tick => {}
        }
    }
}

/// The state of the active segment and the LSN sequence. It lives behind
/// the [`Committer`](crate::committer::Committer)'s mutex: whoever holds
/// that (the writer thread, or an appender that found the log idle) writes
/// and commits batches.
pub(crate) struct Writer {
    pub shared: Arc<Shared>,
    /// The active segment; its end is the log's end in this segment.
    pub file: ZeroAheadFile,
    pub path: PathBuf,
    pub next_lsn: u64,
    pub last_micros: u64,
    pub durability: Durability,
    pub segment_size: u64,
    pub clock: Clock,
    pub dirty: bool,
    pub last_sync: Instant,
    pub buf: Vec<u8>,
    /// Set by [`Writer::shutdown`]: nothing more is written.
    pub stopped: bool,
}

type AppendReq = (Vec<Vec<u8>>, AppendReply);

/// Wraps a segment file whose frames end at `len`, filling zeros ahead
/// under [`Durability::Sync`] only (see the module docs).
pub(crate) fn zero_ahead_file(
    file: Box<dyn LogFile>,
    len: u64,
    durability: Durability,
) -> ZeroAheadFile {
    let ahead = if durability == Durability::Sync {
        ZERO_AHEAD_BYTES
    } else {
        0
    };
    ZeroAheadFile::new(file, len, ahead)
}

/// Why a batch was not written.
enum Failure {
    /// The write failed and was undone durably; the log stays usable.
    Undone {
        context: String,
        source: std::io::Error,
    },
    /// The log no longer knows what is durable.
    Poison(String),
}

impl Writer {
    pub(crate) fn fsync(&mut self) -> std::result::Result<(), String> {
        self.shared.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        match self.file.file_mut().sync_data() {
            Ok(()) => {
                self.dirty = false;
                self.last_sync = Instant::now();
                Ok(())
            }
            Err(e) => Err(format!("fsync of {} failed: {e}", self.path.display())),
        }
    }

    /// fsync; on failure poison. Returns false if poisoned.
    pub(crate) fn sync_or_poison(&mut self) -> bool {
        match self.fsync() {
            Ok(()) => true,
            Err(msg) => {
                self.shared.set_poison(msg);
                false
            }
        }
    }

    /// Write, sync (per policy) and commit a batch, answering every request
    /// in it.
    pub(crate) fn process(&mut self, batch: Vec<Request>) {
        let mut appends: Vec<AppendReq> = Vec::new();
        let mut syncs = Vec::new();
        for r in batch {
            match r {
                Request::Append {
                    payloads, reply, ..
                } => appends.push((payloads, reply)),
                Request::Sync { reply } => syncs.push(reply),
                Request::Shutdown { reply } => syncs.push(reply), // not reached
                Request::Tick => {}
            }
        }
        if let Some(msg) = self.shared.poisoned() {
            return refuse_all(appends, syncs, &msg);
        }
        if !appends.is_empty() {
            match self.write_group(&appends, !syncs.is_empty()) {
                Ok(()) => self.commit(appends),
                Err(Failure::Poison(msg)) => {
                    self.shared.set_poison(msg.clone());
                    return refuse_all(appends, syncs, &msg);
                }
                Err(Failure::Undone { context, source }) => {
                    self.shared
                        .counters
                        .failed_writes
                        .fetch_add(1, Ordering::Relaxed);
                    for (_, reply) in appends {
                        reply.send(Err(Error::WriteFailed {
                            context: context.clone(),
                            source: std::io::Error::new(source.kind(), source.to_string()),
                        }));
                    }
                    // The file is as it was before the batch (and durable):
                    // a sync request in the same batch is satisfied.
                    for s in syncs {
                        drop(s.send(Ok(())));
                    }
                    return;
                }
            }
        } else if !syncs.is_empty() && self.dirty && !self.sync_or_poison() {
            return refuse_all(
                Vec::new(),
                syncs,
                &self.shared.poisoned().unwrap_or_default(),
            );
        }
        for s in syncs {
            drop(s.send(Ok(())));
        }
        if let Durability::Periodic(interval) = self.durability {
            if self.dirty && self.last_sync.elapsed() >= interval && !self.sync_or_poison() {
                return;
            }
        }
        if self.file.len() > self.segment_size {
            self.roll();
        }
    }

    /// Encode, write and (per policy) fsync a batch. Does not advance any
    /// state visible to others.
    fn write_group(
        &mut self,
        appends: &[AppendReq],
        sync_requested: bool,
    ) -> std::result::Result<(), Failure> {
        let micros = (self.clock)().max(self.last_micros);
        self.buf.clear();
        let mut lsn = self.next_lsn;
        for (payloads, _) in appends {
            encode_into(&mut self.buf, lsn, micros, payloads);
            lsn += payloads.len() as u64;
        }
        if let Err(e) = self.file.append(&self.buf) {
            return Err(self.undo_write(e));
        }
        self.dirty = true;
        if self.durability == Durability::Sync || sync_requested {
            self.fsync().map_err(Failure::Poison)?;
        }
        self.last_micros = micros;
        Ok(())
    }

    /// Cuts the zeros written ahead off the segment, durably, so that it
    /// ends at its last frame. Returns false if that failed.
    pub(crate) fn cut_zeros(&mut self) -> bool {
        if !self.file.has_zeros_ahead() {
            return true;
        }
        match self.file.cut_zeros() {
            Ok(()) => {
                self.dirty = false;
                true
            }
            Err(e) => {
                tracing::warn!(segment = %self.path.display(), error = %e, "could not cut the zeros ahead off a change log segment");
                false
            }
        }
    }

    /// A write failed part way (or not at all): cut the segment back to its
    /// length before the write and make that durable. Everything before the
    /// cut was written successfully, so an fsync that succeeds now covers
    /// it; if the cut or that fsync fails, nothing is known and the log is
    /// poisoned.
    fn undo_write(&mut self, source: std::io::Error) -> Failure {
        let context = format!("writing to {}", self.path.display());
        tracing::warn!(segment = %self.path.display(), error = %source, "change log write failed; undoing it");
        let end = self.file.len();
        if let Err(e) = self.file.cut_back(end) {
            return Failure::Poison(format!(
                "{context} failed ({source}) and cutting the partial write back failed: {e}"
            ));
        }
        match self.fsync() {
            Ok(()) => Failure::Undone { context, source },
            Err(msg) => Failure::Poison(format!(
                "{context} failed ({source}), then syncing the cut failed: {msg}"
            )),
        }
    }

    /// Publish a written batch (watermark, subscribers), then acknowledge.
    fn commit(&mut self, appends: Vec<AppendReq>) {
        let micros = self.last_micros;
        let mut groups = Vec::with_capacity(appends.len());
        let mut replies = Vec::with_capacity(appends.len());
        let mut lsn = self.next_lsn;
        for (payloads, reply) in appends {
            let count = payloads.len() as u64;
            replies.push((reply, lsn, count));
            groups.push(Arc::new(CommittedGroup {
                first_lsn: lsn,
                micros,
                payloads,
            }));
            lsn += count;
        }
        let records = lsn - self.next_lsn;
        self.next_lsn = lsn;
        {
            let mut st = self.shared.state.lock();
            self.shared.committed.store(lsn - 1, Ordering::Release);
            self.shared.next_lsn.store(lsn, Ordering::Release);
            if let Some(seg) = st.segments.last_mut() {
                seg.len = self.file.len();
            }
            for g in &groups {
                if st.subscribers.is_empty() {
                    break;
                }
                // Full or gone: drop the sender; the subscription notices the
                // disconnect and catches up from disk.
                st.subscribers
                    .retain(|(_, tx)| tx.try_send(Arc::clone(g)).is_ok());
            }
        }
        drop(groups);
        let c = &self.shared.counters;
        c.appends.fetch_add(replies.len() as u64, Ordering::Relaxed);
        c.records.fetch_add(records, Ordering::Relaxed);
        c.batches.fetch_add(1, Ordering::Relaxed);
        for (reply, first, count) in replies {
            let guard = Committed::new(Arc::clone(&self.shared), first, count, micros);
            // If the appender is gone the guard is dropped, releasing its
            // LSNs.
            reply.send(Ok(guard));
        }
    }

    /// Start a new segment at the next LSN (after making the old one durable).
    fn roll(&mut self) {
        if self.dirty && !self.sync_or_poison() {
            return;
        }
        // A sealed segment ends at its last frame: recovery accepts zeros
        // after the last frame only in the newest segment. If the cut fails,
        // keep writing here and try again after the next batch.
        if !self.cut_zeros() {
            return;
        }
        match create_segment(self.shared.fs.as_ref(), &self.shared.dir, self.next_lsn) {
            Ok((file, path)) => {
                tracing::debug!(segment = %path.display(), "change log rolled to a new segment");
                self.file = zero_ahead_file(file, SEGMENT_HEADER_LEN as u64, self.durability);
                self.path = path.clone();
                self.shared.state.lock().segments.push(SegmentInfo {
                    base: self.next_lsn,
                    path,
                    len: self.file.len(),
                });
            }
            Err(e) => {
                // Keep appending to the current segment and try again after
                // the next batch, unless a half-made file is left behind:
                // recovery would take it for the newest segment.
                let path = self.shared.dir.join(segment_file_name(self.next_lsn));
                let removed = match self.shared.fs.remove_file(&path) {
                    Ok(()) => self.shared.fs.sync_dir(&self.shared.dir),
                    Err(r) if r.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(r) => Err(r),
                };
                match removed {
                    Ok(()) => {
                        tracing::warn!(error = %e, "change log could not roll to a new segment; will retry")
                    }
                    Err(r) => self.shared.set_poison(format!(
                        "rolling to a new segment failed ({e}) and removing {} failed: {r}",
                        path.display()
                    )),
                }
            }
        }
    }

    /// fsync what is unsynced, mark the log closed (later appends are
    /// refused, by whoever gets them: `stopped`), refuse whatever is still
    /// queued in `rx` and answer the closer.
    pub(crate) fn shutdown(&mut self, rx: &Receiver<Request>, reply: Option<Sender<Result<()>>>) {
        let result = match self.shared.poisoned() {
            Some(msg) => Err(Error::Poisoned(msg)),
            None if self.dirty => self.fsync().map_err(|msg| {
                self.shared.set_poison(msg.clone());
                Error::Poisoned(msg)
            }),
            None => Ok(()),
        };
        if result.is_ok() {
            // Best effort: a reopen cuts the zeros anyway.
            self.cut_zeros();
        }
        self.shared.closed.store(true, Ordering::Release);
        self.stopped = true;
        self.shared.state.lock().subscribers.clear();
        while let Ok(r) = rx.try_recv() {
            r.refuse(|| Error::Closed);
        }
        if let Some(reply) = reply {
            drop(reply.send(result));
        }
        tracing::debug!(dir = %self.shared.dir.display(), "change log writer stopped");
    }
}

fn refuse_all(appends: Vec<AppendReq>, syncs: Vec<Sender<Result<()>>>, msg: &str) {
    for (_, reply) in appends {
        reply.send(Err(Error::Poisoned(msg.to_string())));
    }
    for s in syncs {
        drop(s.send(Err(Error::Poisoned(msg.to_string()))));
    }
}
