//! The dedicated log writer thread and group commit.
//!
//! All appends funnel through one thread that owns the active segment file.
//! That gives a total LSN order for free and makes group commit natural: the
//! thread blocks for one request, then drains whatever else is already queued
//! (up to a byte budget), encodes every group into one buffer, performs ONE
//! `write_all` and — for [`Durability::Sync`] — ONE `sync_data` for the whole
//! batch, and only then acknowledges every appender. Under load, N concurrent
//! appenders cost one fsync instead of N.
//!
//! After a batch is durable per policy it is *committed*: under the state
//! lock the writer advances the committed watermark and `try_send`s each
//! group to every live subscriber (dropping subscribers whose buffer is full;
//! they catch up from disk). Only then are appenders answered, so an appender
//! that reads the log after `append` returns always sees its own records.
//!
//! Failure policy: a failed write or fsync **poisons** the log. After a failed
//! fsync the kernel may have dropped the dirty pages, so retrying it and
//! reporting success would be a lie; the affected appenders and every later
//! operation get [`Error::Poisoned`]. The outcome of the failed group itself
//! is unknown (it may reappear after reopen); anything acknowledged is safe.
//! The caller must drop the handle and reopen — recovery re-establishes what
//! is on disk (this includes `ENOSPC`).

use crate::error::{Error, Result};
use crate::frame::encode_into;
use crate::io::LogFile;
use crate::options::{Clock, Durability};
use crate::segment::{create_segment, SegmentInfo, SEGMENT_HEADER_LEN};
use crate::shared::{Committed, CommittedGroup, Shared};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
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
        reply: Sender<Result<Committed>>,
    },
    /// fsync everything written so far.
    Sync { reply: Sender<Result<()>> },
    /// Finish queued work, fsync and stop.
    Shutdown { reply: Sender<Result<()>> },
}

impl Request {
    fn bytes(&self) -> u64 {
        match self {
            Request::Append { bytes, .. } => *bytes,
            _ => 0,
        }
    }

    fn refuse(self, err: impl Fn() -> Error) {
        // A failed send means the requester is gone; nothing to do.
        match self {
            Request::Append { reply, .. } => drop(reply.send(Err(err()))),
            Request::Sync { reply } | Request::Shutdown { reply } => drop(reply.send(Err(err()))),
        }
    }
}

/// State owned by the writer thread.
pub(crate) struct Writer {
    pub shared: Arc<Shared>,
    pub rx: Receiver<Request>,
    pub file: Box<dyn LogFile>,
    pub path: PathBuf,
    pub file_len: u64,
    pub next_lsn: u64,
    pub last_micros: u64,
    pub durability: Durability,
    pub segment_size: u64,
    pub batch_bytes: u64,
    pub clock: Clock,
    pub dirty: bool,
    pub last_sync: Instant,
    pub buf: Vec<u8>,
}

type AppendReq = (Vec<Vec<u8>>, Sender<Result<Committed>>);

impl Writer {
    /// The thread body.
    pub fn run(mut self) {
        loop {
            let Some(first) = self.wait_first() else {
                // Every handle vanished without close(): still finish cleanly.
                self.shutdown(None);
                return;
            };
            let mut bytes = first.bytes();
            let mut batch = Vec::new();
            let mut shutdown = None;
            match first {
                Request::Shutdown { reply } => shutdown = Some(reply),
                other => batch.push(other),
            }
            while shutdown.is_none() && bytes < self.batch_bytes {
                match self.rx.try_recv() {
                    Ok(Request::Shutdown { reply }) => shutdown = Some(reply),
                    Ok(r) => {
                        bytes += r.bytes();
                        batch.push(r);
                    }
                    Err(_) => break,
                }
            }
            self.process(batch);
            if let Some(reply) = shutdown {
                self.shutdown(Some(reply));
                return;
            }
        }
    }

    /// Block for the next request; under `Periodic` durability wake up to
    /// fsync unsynced data once the interval has elapsed.
    fn wait_first(&mut self) -> Option<Request> {
        loop {
            if let Durability::Periodic(interval) = self.durability {
                if self.dirty && self.shared.poisoned().is_none() {
                    match self.rx.recv_deadline(self.last_sync + interval) {
                        Ok(r) => return Some(r),
                        Err(RecvTimeoutError::Timeout) => {
                            self.sync_or_poison();
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => return None,
                    }
                }
            }
            return self.rx.recv().ok();
        }
    }

    fn fsync(&mut self) -> std::result::Result<(), String> {
        self.shared.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        match self.file.sync_data() {
            Ok(()) => {
                self.dirty = false;
                self.last_sync = Instant::now();
                Ok(())
            }
            Err(e) => Err(format!("fsync of {} failed: {e}", self.path.display())),
        }
    }

    /// fsync; on failure poison. Returns false if poisoned.
    fn sync_or_poison(&mut self) -> bool {
        match self.fsync() {
            Ok(()) => true,
            Err(msg) => {
                self.shared.set_poison(msg);
                false
            }
        }
    }

    fn process(&mut self, batch: Vec<Request>) {
        let mut appends: Vec<AppendReq> = Vec::new();
        let mut syncs = Vec::new();
        for r in batch {
            match r {
                Request::Append {
                    payloads, reply, ..
                } => appends.push((payloads, reply)),
                Request::Sync { reply } => syncs.push(reply),
                Request::Shutdown { reply } => syncs.push(reply), // not reached
            }
        }
        if let Some(msg) = self.shared.poisoned() {
            return refuse_all(appends, syncs, &msg);
        }
        if !appends.is_empty() {
            if let Err(msg) = self.write_group(&appends, !syncs.is_empty()) {
                self.shared.set_poison(msg.clone());
                return refuse_all(appends, syncs, &msg);
            }
            self.commit(appends);
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
        if self.file_len > self.segment_size {
            self.roll();
        }
    }

    /// Encode, write and (per policy) fsync a batch. Does not advance any
    /// state visible to others.
    fn write_group(
        &mut self,
        appends: &[AppendReq],
        sync_requested: bool,
    ) -> std::result::Result<(), String> {
        let micros = (self.clock)().max(self.last_micros);
        self.buf.clear();
        let mut lsn = self.next_lsn;
        for (payloads, _) in appends {
            encode_into(&mut self.buf, lsn, micros, payloads);
            lsn += payloads.len() as u64;
        }
        if let Err(e) = self.file.write_all(&self.buf) {
            return Err(format!("write to {} failed: {e}", self.path.display()));
        }
        self.file_len += self.buf.len() as u64;
        self.dirty = true;
        if self.durability == Durability::Sync || sync_requested {
            self.fsync()?;
        }
        self.last_micros = micros;
        Ok(())
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
                seg.len = self.file_len;
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
            // If the appender is gone the guard comes back in the error and
            // is dropped here, releasing its LSNs.
            drop(reply.send(Ok(guard)));
        }
    }

    /// Start a new segment at the next LSN (after making the old one durable).
    fn roll(&mut self) {
        if self.dirty && !self.sync_or_poison() {
            return;
        }
        match create_segment(self.shared.fs.as_ref(), &self.shared.dir, self.next_lsn) {
            Ok((file, path)) => {
                tracing::debug!(segment = %path.display(), "change log rolled to a new segment");
                self.file = file;
                self.path = path.clone();
                self.file_len = SEGMENT_HEADER_LEN as u64;
                self.shared.state.lock().segments.push(SegmentInfo {
                    base: self.next_lsn,
                    path,
                    len: self.file_len,
                });
            }
            Err(e) => self
                .shared
                .set_poison(format!("rolling to a new segment failed: {e}")),
        }
    }

    fn shutdown(&mut self, reply: Option<Sender<Result<()>>>) {
        let result = match self.shared.poisoned() {
            Some(msg) => Err(Error::Poisoned(msg)),
            None if self.dirty => self.fsync().map_err(|msg| {
                self.shared.set_poison(msg.clone());
                Error::Poisoned(msg)
            }),
            None => Ok(()),
        };
        self.shared.closed.store(true, Ordering::Release);
        self.shared.state.lock().subscribers.clear();
        while let Ok(r) = self.rx.try_recv() {
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
        drop(reply.send(Err(Error::Poisoned(msg.to_string()))));
    }
    for s in syncs {
        drop(s.send(Err(Error::Poisoned(msg.to_string()))));
    }
}
