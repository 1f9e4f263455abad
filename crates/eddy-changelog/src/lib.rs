//! eddy-changelog: the write-ahead change log of eddy.
//!
//! # Role
//!
//! Every change eddy makes is first appended here, then applied to the store.
//! The log is byte-level: it stores opaque payloads (the `eddy` facade encodes
//! change records into them) and never looks inside. On top of the durable
//! sequence it offers snapshot reads ([`ChangeLog::read_from`]), live
//! gap-free tailing ([`ChangeLog::subscribe`]) and segment-granular retention
//! ([`ChangeLog::truncate_before`]).
//!
//! # Invariants
//!
//! * **LSNs** are `u64`, strictly increasing and contiguous; the first LSN
//!   ever is 1. An append group of N payloads gets N consecutive LSNs and one
//!   timestamp.
//! * **Atomic groups**: a group is one checksummed frame; after a crash it is
//!   either entirely present or entirely absent.
//! * **Timestamps never go backwards**, even if the wall clock does (also
//!   across reopen).
//! * **Acknowledged means durable per [`Durability`]**: with
//!   [`Durability::Sync`] an `append` that returned `Ok` survives power loss.
//!   Recovery only ever discards a torn tail (never acknowledged under `Sync`);
//!   any other damage is reported as [`Error::Corruption`] without touching
//!   the files.
//! * **Readers and subscribers only see committed records** (acknowledged,
//!   per the committed watermark), in LSN order, without gaps or duplicates.
//! * **A failed fsync poisons**: every further append fails with
//!   [`Error::Poisoned`]; reopen to recover. A failed write (a full disk) is
//!   undone and refused with [`Error::WriteFailed`]; the log stays usable.
//! * **Group commit without hand-offs when idle**: an append that finds the
//!   log idle is written (and fsynced) by its own thread; concurrent appends
//!   queue for the writer thread, which commits all of them with one write
//!   and one fsync (module `committer`).
//! * **Appends that park no thread**: [`ChangeLog::append_async`] returns a
//!   future and [`ChangeLog::append_then`] takes a callback; both queue the
//!   group for the writer thread (never writing it on the caller's thread),
//!   share its batch's fsync, and are answered exactly once, callbacks on a
//!   completion thread in commit order. A dropped future does not cancel
//!   its append (module `reply`).
//! * **Retention** deletes whole non-active segments only, never past a
//!   retention floor or a live reader/subscription.
//!
//! One process should open a given directory at a time (no lock file is
//! taken here; the facade's store lock covers it).

mod committer;
mod error;
mod frame;
#[doc(hidden)]
pub mod fuzzing;
pub use eddy_model::io;
mod options;
mod reader;
mod recovery;
mod reply;
mod segment;
mod shared;
mod subscription;
mod writer;

pub use error::{Error, Result};
pub use frame::MAX_FRAME_SIZE;
pub use options::{
    system_clock_micros, Clock, Durability, LogOptions, DEFAULT_GROUP_COMMIT_BYTES,
    DEFAULT_SEGMENT_SIZE, DEFAULT_SUBSCRIBER_BUFFER,
};
pub use reader::{LogReader, LogRecord};
pub use recovery::{RecoveryReport, TornTail};
pub use reply::AppendFuture;
pub use shared::Committed;
pub use subscription::Subscription;

use crate::committer::Committer;
use crate::frame::encoded_len;
use crate::reply::AppendReply;
use crate::shared::Shared;
use crate::writer::{Request, Writer};
use crossbeam_channel::Sender;
use parking_lot::Mutex;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// Counters and sizes reported by [`ChangeLog::stats`]. Counters are since
/// this open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogStats {
    /// Retained segment files.
    pub segments: usize,
    /// Total bytes of the retained segments up to their last frame (the
    /// zeros the writer keeps ahead of the log's end are not counted).
    pub bytes_on_disk: u64,
    /// Acknowledged `append` calls (append groups).
    pub appends: u64,
    /// Acknowledged records (LSNs).
    pub records: u64,
    /// Group-commit batches written (one write each).
    pub batches: u64,
    /// `sync_data` calls made on segment files.
    pub fsyncs: u64,
    /// Batches whose write failed (e.g. `ENOSPC`) and was undone.
    pub failed_writes: u64,
}

/// Handle to an open change log. Cheap to clone (an `Arc` inside); `Send`
/// and `Sync`. The log is closed by [`close`](ChangeLog::close) or when the
/// last handle is dropped.
#[derive(Clone)]
pub struct ChangeLog {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    committer: Arc<Committer>,
    tx: Sender<Request>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Where `append_then` callbacks run.
    completions: reply::Completions,
}

impl std::fmt::Debug for ChangeLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeLog")
            .field("dir", &self.inner.shared.dir)
            .field("committed_lsn", &self.committed_lsn())
            .finish_non_exhaustive()
    }
}

impl ChangeLog {
    /// Open (or create) the log in `dir`, running crash recovery, and start
    /// the writer thread.
    pub fn open(dir: &Path, options: LogOptions) -> Result<(ChangeLog, RecoveryReport)> {
        let rec = recovery::recover(options.fs.as_ref(), dir)?;
        let (active_path, active_len) = match rec.segments.last() {
            Some(s) => (s.path.clone(), s.len),
            None => {
                return Err(Error::corruption(
                    dir,
                    0,
                    "recovery produced no active segment",
                ))
            }
        };
        let shared = Arc::new(Shared::new(
            dir.to_path_buf(),
            Arc::clone(&options.fs),
            options.subscriber_buffer.max(1),
            rec.segments,
            rec.next_lsn,
        ));
        let (tx, rx) = crossbeam_channel::unbounded();
        let writer = Writer {
            shared: Arc::clone(&shared),
            file: writer::zero_ahead_file(rec.active, active_len, options.durability),
            path: active_path,
            next_lsn: rec.next_lsn,
            last_micros: rec.last_micros,
            durability: options.durability,
            segment_size: options.segment_size,
            clock: options.clock,
            dirty: false,
            last_sync: Instant::now(),
            buf: Vec::new(),
            stopped: false,
        };
        let committer = Arc::new(Committer {
            writer: Mutex::new(writer),
            batch_bytes: options.group_commit_bytes.max(1),
        });
        let thread = {
            let committer = Arc::clone(&committer);
            std::thread::Builder::new()
                .name("eddy-changelog-writer".into())
                .spawn(move || committer.run(rx))
                .map_err(|e| Error::io("spawning the log writer thread", e))?
        };
        let completions = reply::Completions::start()
            .map_err(|e| Error::io("spawning the log completion thread", e))?;
        let log = ChangeLog {
            inner: Arc::new(Inner {
                shared,
                committer,
                tx,
                thread: Mutex::new(Some(thread)),
                completions,
            }),
        };
        Ok((log, rec.report))
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    fn closed_or_poisoned(&self) -> Error {
        match self.shared().poisoned() {
            Some(msg) => Error::Poisoned(msg),
            None => Error::Closed,
        }
    }

    /// Append one group of payloads (at least one). They get consecutive
    /// LSNs and one timestamp, and are written atomically. Blocks until the
    /// group is acknowledged per [`Durability`]; the returned guard holds the
    /// LSNs unreleased until dropped (see [`Committed`]).
    ///
    /// Errors: [`Error::EmptyAppend`], [`Error::TooLarge`] (encoded frame
    /// over [`MAX_FRAME_SIZE`]), [`Error::Poisoned`] (this or an earlier
    /// write/fsync failed — the outcome of this group is then unknown),
    /// [`Error::Closed`].
    pub fn append(&self, payloads: Vec<Vec<u8>>) -> Result<Committed> {
        let bytes = self.check_append(&payloads)?;
        let (reply, rx) = crossbeam_channel::bounded(1);
        let request = Request::Append {
            payloads,
            bytes,
            reply: AppendReply::Wait(reply),
        };
        // An idle log commits the group on this thread (see `committer`).
        if let Some(request) = self
            .inner
            .committer
            .try_commit_inline(request, &self.inner.tx)
        {
            self.inner
                .tx
                .send(request)
                .map_err(|_| self.closed_or_poisoned())?;
        }
        rx.recv().unwrap_or_else(|_| Err(self.closed_or_poisoned()))
    }

    /// Appends one group like [`append`](ChangeLog::append), without
    /// waiting: `on_durable` runs once with the group's [`Committed`] guard
    /// when the group is acknowledged per [`Durability`] (or with the error
    /// that refused it), on the log's completion thread.
    ///
    /// The group is queued for the writer thread even when the log is
    /// idle, so the caller never performs the write or the fsync itself.
    /// Callbacks run one at a time, in commit order, on a thread of their
    /// own: a slow one delays later callbacks but no commit.
    /// [`close`](ChangeLog::close) returns once every callback has run. A
    /// panic in one is contained and logged.
    ///
    /// # Errors
    ///
    /// As [`append`](ChangeLog::append), returned at once (and
    /// `on_durable` is dropped unrun) when the group is refused before it
    /// is queued: [`Error::EmptyAppend`], [`Error::TooLarge`],
    /// [`Error::Poisoned`], [`Error::Closed`]. Errors met later (a failed
    /// write or fsync, a close racing the append) reach `on_durable`.
    pub fn append_then(
        &self,
        payloads: Vec<Vec<u8>>,
        on_durable: impl FnOnce(Result<Committed>) + Send + 'static,
    ) -> Result<()> {
        let bytes = self.check_append(&payloads)?;
        self.queue_append(payloads, bytes, Box::new(on_durable));
        Ok(())
    }

    /// Appends one group like [`append`](ChangeLog::append); the returned
    /// future resolves once the group is acknowledged per [`Durability`].
    /// No thread waits for it meanwhile: concurrent futures share their
    /// batch's one write and one fsync, as blocking appends do.
    ///
    /// The group is queued by this call, before the future is polled.
    /// Dropping the future does not cancel the append: the group is
    /// committed and its LSNs are released at once.
    ///
    /// ```
    /// # fn main() -> eddy_changelog::Result<()> {
    /// let dir = tempfile::tempdir().unwrap();
    /// let (log, _) = eddy_changelog::ChangeLog::open(dir.path(), Default::default())?;
    /// let pending = log.append_async(vec![b"one change".to_vec()]);
    /// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let committed = runtime.block_on(pending)?;
    /// assert_eq!(committed.first_lsn, 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// The future resolves to the errors of [`append`](ChangeLog::append).
    pub fn append_async(&self, payloads: Vec<Vec<u8>>) -> AppendFuture {
        let bytes = match self.check_append(&payloads) {
            Ok(bytes) => bytes,
            Err(e) => return AppendFuture::refused(e),
        };
        let (future, reply) = AppendFuture::queued();
        self.queue_append(payloads, bytes, reply);
        future
    }

    /// The checks every append passes before it is queued; returns the
    /// group's encoded size.
    fn check_append(&self, payloads: &[Vec<u8>]) -> Result<u64> {
        if payloads.is_empty() {
            return Err(Error::EmptyAppend);
        }
        let bytes = encoded_len(payloads);
        if bytes > MAX_FRAME_SIZE as u64 {
            return Err(Error::TooLarge {
                bytes,
                max: MAX_FRAME_SIZE as u64,
            });
        }
        if let Some(msg) = self.shared().poisoned() {
            return Err(Error::Poisoned(msg));
        }
        if self.shared().closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(bytes)
    }

    /// Queues a checked group for the writer thread; if the thread has
    /// stopped, the reply gets the reason.
    fn queue_append(&self, payloads: Vec<Vec<u8>>, bytes: u64, on_durable: reply::OnDurable) {
        let reply = match self.inner.completions.reply(on_durable) {
            Ok(reply) => reply,
            // Closed since the checks: answered here.
            Err(on_durable) => return on_durable(Err(Error::Closed)),
        };
        let request = Request::Append {
            payloads,
            bytes,
            reply,
        };
        if let Err(refused) = self.inner.tx.send(request) {
            refused.0.refuse(|| self.closed_or_poisoned());
        }
    }

    /// fsync everything written so far and wait for it (useful with
    /// [`Durability::Periodic`] / [`Durability::None`]).
    pub fn sync(&self) -> Result<()> {
        if let Some(msg) = self.shared().poisoned() {
            return Err(Error::Poisoned(msg));
        }
        let (reply, rx) = crossbeam_channel::bounded(1);
        self.inner
            .tx
            .send(Request::Sync { reply })
            .map_err(|_| self.closed_or_poisoned())?;
        rx.recv().unwrap_or_else(|_| Err(self.closed_or_poisoned()))
    }

    /// Finish queued appends, fsync, and stop the writer thread. Later
    /// appends fail with [`Error::Closed`]; readers and subscriptions keep
    /// working on the committed history (subscriptions end once drained).
    /// Idempotent: a second call returns `Ok(())` at once. Returns
    /// [`Error::Poisoned`] if the log was poisoned or the final fsync failed.
    pub fn close(&self) -> Result<()> {
        self.inner.close()
    }

    /// A snapshot reader of committed records with LSN `>= lsn`, up to the
    /// committed watermark now. [`Error::Trimmed`] if `lsn` is older than the
    /// oldest retained segment.
    pub fn read_from(&self, lsn: u64) -> Result<LogReader> {
        let shared = self.shared();
        let mut st = shared.state.lock();
        st.check_trimmed(lsn)?;
        let limit = shared.committed.load(Ordering::Acquire);
        let pin = shared.pin_locked(&mut st, lsn.max(1));
        Ok(LogReader::new_locked(
            Arc::clone(shared),
            &st,
            lsn,
            limit,
            Some(pin),
        ))
    }

    /// Subscribe to every committed record with LSN `>= from_lsn` (past and
    /// future), in order, without gaps or duplicates. [`Error::Trimmed`] if
    /// `from_lsn` is older than the oldest retained segment.
    pub fn subscribe(&self, from_lsn: u64) -> Result<Subscription> {
        Subscription::new(Arc::clone(self.shared()), from_lsn)
    }

    /// Highest committed (acknowledged) LSN; 0 if the log is empty.
    pub fn committed_lsn(&self) -> u64 {
        self.shared().committed.load(Ordering::Acquire)
    }

    /// The LSN the next appended record will get.
    pub fn next_lsn(&self) -> u64 {
        self.shared().next_lsn.load(Ordering::Acquire)
    }

    /// Highest LSN `L` such that every LSN `<= L` is committed and its
    /// [`Committed`] guard has been released. Everything recovered at open
    /// counts as released. This is the safe checkpoint LSN for the facade.
    pub fn released_watermark(&self) -> u64 {
        self.shared().released_watermark()
    }

    /// Oldest LSN still retained (the first segment's base).
    pub fn oldest_lsn(&self) -> u64 {
        self.shared().state.lock().oldest_lsn()
    }

    /// Set (or move) the named retention floor: `truncate_before` will not
    /// delete any LSN `> lsn`. Returns the previous value.
    pub fn set_retention_floor(&self, name: &str, lsn: u64) -> Option<u64> {
        self.shared()
            .state
            .lock()
            .floors
            .insert(name.to_string(), lsn)
    }

    /// Remove a named retention floor. Returns its value, if it existed.
    pub fn remove_retention_floor(&self, name: &str) -> Option<u64> {
        self.shared().state.lock().floors.remove(name)
    }

    /// Delete whole segments whose every LSN is `<= min(checkpoint_lsn, every
    /// retention floor)` and below every live reader's/subscription's next
    /// LSN. Never deletes the active segment. Returns how many segments were
    /// deleted. Segments are deleted oldest first, each followed by a
    /// directory fsync, so the log on disk stays contiguous across a crash.
    pub fn truncate_before(&self, checkpoint_lsn: u64) -> Result<usize> {
        let shared = self.shared();
        let _serial = shared.trim_lock.lock();
        let victims = {
            let mut st = shared.state.lock();
            let mut limit = checkpoint_lsn;
            for f in st.floors.values() {
                limit = limit.min(*f);
            }
            for p in st.pins.values() {
                limit = limit.min(p.load(Ordering::Acquire).saturating_sub(1));
            }
            let mut n = 0;
            while n + 1 < st.segments.len() && st.segments[n + 1].base - 1 <= limit {
                n += 1;
            }
            st.segments.drain(..n).collect::<Vec<_>>()
        };
        for (i, seg) in victims.iter().enumerate() {
            let result = shared
                .fs
                .remove_file(&seg.path)
                .map_err(|e| {
                    (
                        i,
                        Error::io(format!("removing segment {}", seg.path.display()), e),
                    )
                })
                .and_then(|()| {
                    shared.fs.sync_dir(&shared.dir).map_err(|e| {
                        (
                            i + 1,
                            Error::io(format!("syncing directory {}", shared.dir.display()), e),
                        )
                    })
                });
            if let Err((keep_from, err)) = result {
                // Put the segments still on disk back so the in-memory view
                // matches the files.
                let mut st = shared.state.lock();
                let rest: Vec<_> = victims[keep_from..].to_vec();
                st.segments.splice(0..0, rest);
                return Err(err);
            }
            tracing::debug!(segment = %seg.path.display(), "change log segment trimmed");
        }
        Ok(victims.len())
    }

    /// Bytes of the retained segments that hold any LSN after `lsn` (the
    /// active segment always counts): how much log a store snapshot at
    /// `lsn` keeps from being cut.
    pub fn bytes_after(&self, lsn: u64) -> u64 {
        let st = self.shared().state.lock();
        let segments = &st.segments;
        segments
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                segments
                    .get(i + 1)
                    .is_none_or(|next| next.base.saturating_sub(1) > lsn)
            })
            .map(|(_, s)| s.len)
            .sum()
    }

    /// Sizes and counters.
    pub fn stats(&self) -> LogStats {
        let shared = self.shared();
        let (segments, bytes_on_disk) = {
            let st = shared.state.lock();
            (st.segments.len(), st.segments.iter().map(|s| s.len).sum())
        };
        let c = &shared.counters;
        LogStats {
            segments,
            bytes_on_disk,
            appends: c.appends.load(Ordering::Relaxed),
            records: c.records.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            fsyncs: c.fsyncs.load(Ordering::Relaxed),
            failed_writes: c.failed_writes.load(Ordering::Relaxed),
        }
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.shared().dir
    }
}

impl Inner {
    fn close(&self) -> Result<()> {
        let Some(handle) = self.thread.lock().take() else {
            return Ok(());
        };
        let (reply, rx) = crossbeam_channel::bounded(1);
        let result = match self.tx.send(Request::Shutdown { reply }) {
            Ok(()) => rx.recv().unwrap_or(Err(Error::Closed)),
            Err(_) => Err(Error::Closed),
        };
        if handle.join().is_err() {
            return Err(Error::Poisoned(
                "the change log writer thread panicked".into(),
            ));
        }
        // Every request is answered; their callbacks run before close
        // returns.
        self.completions.finish();
        result
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::error!(error = %e, "closing the change log on drop failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}

    #[test]
    fn handles_are_thread_safe() {
        assert_send_sync::<ChangeLog>();
        assert_send_sync::<Committed>();
        assert_send_sync::<Error>();
        assert_send::<LogReader>();
        assert_send::<Subscription>();
        assert_send_sync::<io::fault::FaultFs>();
    }
}
