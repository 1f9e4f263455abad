//! Who runs the [`Writer`]: the writer thread, or an appender that finds the
//! log idle.
//!
//! Every append used to cross two threads: the appender handed its group to
//! the writer thread over a channel and parked until the thread answered.
//! For a lone writer that is two wake-ups around every write (and fsync),
//! which cost as much as the write itself. So an appender that finds the
//! request queue empty and the [`Writer`] unlocked commits its own group
//! right there — a leader of a batch of one, as in RocksDB's write path —
//! and returns without any thread crossing.
//!
//! Under concurrency the queue is rarely empty: appenders then queue their
//! groups and the writer thread drains the queue into one batch (one write,
//! one fsync) exactly as before, so group commit is unchanged. The writer
//! thread also owns what no appender does: the `Periodic` fsync timer
//! (appenders that leave unsynced data behind wake it with
//! [`Request::Tick`]) and shutdown, which travels through the queue so that
//! everything queued before `close` is still committed.
//!
//! Appends that must not block their thread (`append_then`,
//! `append_async`) always queue: an async caller's thread is an executor's,
//! and must not perform a write and an fsync inline.
//!
//! Order: every LSN is assigned under the writer mutex, so the log's order
//! is the order in which batches took the mutex. Two appends racing for it
//! are concurrent; neither was acknowledged before the other began.

use crate::error::Error;
use crate::options::Durability;
use crate::writer::{Request, Writer};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use parking_lot::Mutex;

/// The writer state and the batching budget. The request queue's receiving
/// end belongs to the writer thread alone, so that once the thread has
/// stopped every later request fails to send instead of waiting forever.
pub(crate) struct Committer {
    /// The active segment and the LSN sequence.
    pub writer: Mutex<Writer>,
    /// Stop draining the queue into one batch past this many bytes.
    pub batch_bytes: u64,
}

impl Committer {
    /// Commits `request` (an append) on the calling thread if the log is
    /// idle: nothing queued and the writer free. Returns the request back
    /// if not, for the caller to queue it.
    pub fn try_commit_inline(&self, request: Request, tx: &Sender<Request>) -> Option<Request> {
        if !tx.is_empty() {
            return Some(request);
        }
        let Some(mut writer) = self.writer.try_lock() else {
            return Some(request);
        };
        if writer.stopped {
            request.refuse(|| Error::Closed);
            return None;
        }
        let was_dirty = writer.dirty;
        writer.process(vec![request]);
        let wake_timer =
            !was_dirty && writer.dirty && matches!(writer.durability, Durability::Periodic(_));
        drop(writer);
        if wake_timer {
            // If the thread is gone the log is closed; nothing to sync.
            drop(tx.send(Request::Tick));
        }
        None
    }

    /// The writer thread's body: take the next request, drain what else is
    /// queued into the same batch, commit it; until shutdown.
    pub fn run(&self, rx: Receiver<Request>) {
        loop {
            let Some(first) = self.wait_first(&rx) else {
                // Every handle vanished without close(): still finish cleanly.
                self.writer.lock().shutdown(&rx, None);
                return;
            };
            let mut writer = self.writer.lock();
            let mut bytes = first.bytes();
            let mut batch = Vec::new();
            let mut shutdown = None;
            match first {
                Request::Shutdown { reply } => shutdown = Some(reply),
                other => batch.push(other),
            }
            while shutdown.is_none() && bytes < self.batch_bytes {
                match rx.try_recv() {
                    Ok(Request::Shutdown { reply }) => shutdown = Some(reply),
                    Ok(r) => {
                        bytes += r.bytes();
                        batch.push(r);
                    }
                    Err(_) => break,
                }
            }
            writer.process(batch);
            if let Some(reply) = shutdown {
                writer.shutdown(&rx, Some(reply));
                return;
            }
        }
    }

    /// Block for the next request; under `Periodic` durability wake up to
    /// fsync unsynced data once the interval has elapsed.
    fn wait_first(&self, rx: &Receiver<Request>) -> Option<Request> {
        loop {
            let deadline = {
                let w = self.writer.lock();
                match w.durability {
                    Durability::Periodic(interval) if w.dirty && w.shared.poisoned().is_none() => {
                        Some((w.last_sync + interval, interval))
                    }
                    _ => None,
                }
            };
            let Some((deadline, interval)) = deadline else {
                return rx.recv().ok();
            };
            match rx.recv_deadline(deadline) {
                Ok(r) => return Some(r),
                Err(RecvTimeoutError::Timeout) => {
                    let mut w = self.writer.lock();
                    if w.dirty && w.last_sync.elapsed() >= interval {
                        w.sync_or_poison();
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }
}
