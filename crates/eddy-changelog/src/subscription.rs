//! Live, gap-free tailing of the log: [`Subscription`].
//!
//! The writer must never wait for a consumer, yet a consumer must never miss
//! or repeat a record. The resolution is two delivery paths stitched together
//! by LSN:
//!
//! * **live**: the writer `try_send`s each committed group (an `Arc`, shared
//!   by all subscribers) into the subscription's bounded channel. If the
//!   channel is full the writer simply drops its sender.
//! * **disk**: whenever the subscription is behind — at start, after its
//!   sender was dropped, or when a live group starts beyond the next expected
//!   LSN — it reads the missing range from the segments.
//!
//! Registration of the live channel happens under the same lock the writer
//! holds while advancing the committed watermark and sending, so "everything
//! up to watermark W is on disk, everything after W arrives on the channel"
//! holds exactly. Records below the next expected LSN are skipped, so there
//! are no duplicates; ranges above it are filled from disk, so there are no
//! gaps. While alive, a subscription pins its next LSN against retention.

use crate::error::{Error, Result};
use crate::reader::{LogReader, LogRecord};
use crate::shared::{CommittedGroup, Pin, Shared};
use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A stream of every committed record with LSN `>=` a starting LSN, in LSN
/// order, without gaps or duplicates. Created by
/// [`ChangeLog::subscribe`](crate::ChangeLog::subscribe). Once the log is
/// closed and every committed record has been delivered, receiving returns
/// [`Error::Closed`].
pub struct Subscription {
    shared: Arc<Shared>,
    next: u64,
    pin: Pin,
    reader: Option<LogReader>,
    current: Option<(Arc<CommittedGroup>, usize)>,
    rx: Option<Receiver<Arc<CommittedGroup>>>,
    id: Option<u64>,
    ended: bool,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("next_lsn", &self.next)
            .field("live", &self.rx.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy)]
enum Wait {
    Block,
    Until(Instant),
    Poll,
}

enum Recv {
    Group(Arc<CommittedGroup>),
    Empty,
    Disconnected,
}

impl Subscription {
    /// Create a subscription starting at `from` (caller holds nothing).
    pub(crate) fn new(shared: Arc<Shared>, from: u64) -> Result<Self> {
        let from = from.max(1);
        let pin = {
            let mut st = shared.state.lock();
            st.check_trimmed(from)?;
            shared.pin_locked(&mut st, from)
        };
        Ok(Self {
            shared,
            next: from,
            pin,
            reader: None,
            current: None,
            rx: None,
            id: None,
            ended: false,
        })
    }

    /// The LSN of the next record this subscription will deliver.
    pub fn next_lsn(&self) -> u64 {
        self.next
    }

    /// Block until the next record is available. Returns [`Error::Closed`]
    /// once the log is closed and everything committed was delivered.
    pub fn recv(&mut self) -> Result<LogRecord> {
        match self.next_inner(Wait::Block)? {
            Some(r) => Ok(r),
            None => Err(Error::Closed),
        }
    }

    /// Like [`recv`](Self::recv) but gives up after `timeout`, returning
    /// `Ok(None)`. Also returns [`Error::Closed`] once the log is closed and
    /// drained.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<LogRecord>> {
        let deadline = Instant::now()
            .checked_add(timeout)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
        self.next_inner(Wait::Until(deadline))
    }

    /// Return the next record if one is available without waiting for the
    /// writer (it may still read from disk), else `Ok(None)`. Returns
    /// [`Error::Closed`] once the log is closed and drained.
    pub fn try_recv(&mut self) -> Result<Option<LogRecord>> {
        self.next_inner(Wait::Poll)
    }

    fn deliver(&mut self, lsn: u64, micros: u64, payload: Vec<u8>) -> LogRecord {
        self.next = lsn + 1;
        self.pin.set(self.next);
        LogRecord {
            lsn,
            micros,
            payload,
        }
    }

    fn next_inner(&mut self, wait: Wait) -> Result<Option<LogRecord>> {
        loop {
            // 1. Disk catch-up / gap fill.
            if let Some(reader) = &mut self.reader {
                match reader.next() {
                    Some(Ok(rec)) if rec.lsn < self.next => continue,
                    Some(Ok(rec)) => {
                        return Ok(Some(self.deliver(rec.lsn, rec.micros, rec.payload)))
                    }
                    Some(Err(e)) => {
                        self.reader = None;
                        return Err(e);
                    }
                    None => {
                        self.reader = None;
                        continue;
                    }
                }
            }
            // 2. The live group being delivered.
            if let Some((group, i)) = &mut self.current {
                let group = Arc::clone(group);
                while *i < group.payloads.len() {
                    let idx = *i;
                    *i += 1;
                    let lsn = group.first_lsn + idx as u64;
                    if lsn >= self.next {
                        let payload = group.payloads[idx].clone();
                        return Ok(Some(self.deliver(lsn, group.micros, payload)));
                    }
                }
                self.current = None;
            }
            if self.ended {
                return Err(Error::Closed);
            }
            // 3. The live channel (register first if needed).
            let Some(rx) = &self.rx else {
                self.register()?;
                continue;
            };
            let got = match wait {
                Wait::Block => rx.recv().map_or(Recv::Disconnected, Recv::Group),
                Wait::Until(d) => match rx.recv_deadline(d) {
                    Ok(g) => Recv::Group(g),
                    Err(RecvTimeoutError::Timeout) => Recv::Empty,
                    Err(RecvTimeoutError::Disconnected) => Recv::Disconnected,
                },
                Wait::Poll => match rx.try_recv() {
                    Ok(g) => Recv::Group(g),
                    Err(TryRecvError::Empty) => Recv::Empty,
                    Err(TryRecvError::Disconnected) => Recv::Disconnected,
                },
            };
            match got {
                Recv::Empty => return Ok(None),
                Recv::Disconnected => {
                    // Dropped by the writer (buffer full) or log closed:
                    // re-register, which catches up from disk.
                    self.rx = None;
                    self.id = None;
                }
                Recv::Group(g) => {
                    let end = g.first_lsn + g.payloads.len() as u64;
                    if end <= self.next {
                        continue;
                    }
                    if g.first_lsn > self.next {
                        let st = self.shared.state.lock();
                        st.check_trimmed(self.next)?;
                        self.reader = Some(LogReader::new_locked(
                            Arc::clone(&self.shared),
                            &st,
                            self.next,
                            g.first_lsn - 1,
                            None,
                        ));
                    }
                    self.current = Some((g, 0));
                }
            }
        }
    }

    /// Register a live channel, and schedule a disk read of everything
    /// committed but not yet delivered.
    fn register(&mut self) -> Result<()> {
        let shared = Arc::clone(&self.shared);
        let mut st = shared.state.lock();
        let committed = shared.committed.load(Ordering::Acquire);
        if committed >= self.next {
            st.check_trimmed(self.next)?;
            self.reader = Some(LogReader::new_locked(
                Arc::clone(&shared),
                &st,
                self.next,
                committed,
                None,
            ));
        }
        if shared.closed.load(Ordering::Acquire) {
            self.ended = true;
            return Ok(());
        }
        let (tx, rx) = crossbeam_channel::bounded(shared.subscriber_buffer);
        let id = shared.new_id();
        st.subscribers.push((id, tx));
        self.rx = Some(rx);
        self.id = Some(id);
        Ok(())
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.shared
                .state
                .lock()
                .subscribers
                .retain(|(i, _)| *i != id);
        }
    }
}
