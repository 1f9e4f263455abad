//! State shared between the handle, the writer thread, readers and
//! subscriptions, plus the [`Committed`] guard and retention pins.
//!
//! Locking rules (kept deliberately simple):
//!
//! * `Shared::state` is held only for short, non-blocking critical sections:
//!   the writer publishes a committed batch (watermark + subscriber
//!   `try_send`s) under it, and readers/subscriptions snapshot the segment
//!   list and watermark under it. Never across I/O that can block on the disk
//!   (no fsync, no file reads).
//! * A [`Pin`] must never be dropped while `state` is held (its `Drop` takes
//!   the lock; `parking_lot` mutexes are not reentrant).
//! * The release tracker has its own mutex and never nests with `state`.

use crate::io::LogFs;
use crate::segment::SegmentInfo;
use crossbeam_channel::Sender;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// A committed append group as handed to live subscribers (shared, never
/// copied per subscriber).
#[derive(Debug)]
pub(crate) struct CommittedGroup {
    pub first_lsn: u64,
    pub micros: u64,
    pub payloads: Vec<Vec<u8>>,
}

/// Mutable state behind `Shared::state`.
pub(crate) struct State {
    /// Retained segments in LSN order; the last one is the active segment.
    pub segments: Vec<SegmentInfo>,
    /// Named retention floors: LSNs `<= floor` may be trimmed.
    pub floors: HashMap<String, u64>,
    /// Pins of live readers/subscriptions: id -> next LSN they need.
    pub pins: HashMap<u64, Arc<AtomicU64>>,
    /// Live subscriber channels.
    pub subscribers: Vec<(u64, Sender<Arc<CommittedGroup>>)>,
}

impl State {
    /// Oldest retained LSN (the first segment's base).
    pub fn oldest_lsn(&self) -> u64 {
        self.segments.first().map_or(1, |s| s.base)
    }

    /// `Err(Trimmed)` if LSN `lsn` is no longer retained.
    pub fn check_trimmed(&self, lsn: u64) -> crate::Result<()> {
        let oldest = self.oldest_lsn();
        if lsn.max(1) < oldest {
            return Err(crate::Error::Trimmed {
                requested: lsn,
                oldest,
            });
        }
        Ok(())
    }
}

/// Monotonic counters reported by `stats()`.
#[derive(Default)]
pub(crate) struct Counters {
    pub appends: AtomicU64,
    pub records: AtomicU64,
    pub batches: AtomicU64,
    pub fsyncs: AtomicU64,
    pub failed_writes: AtomicU64,
}

/// Tracks released LSN ranges to compute the released watermark.
struct ReleaseTracker {
    /// Every LSN `<= upto` is released.
    upto: u64,
    /// Released ranges not yet contiguous with `upto`: first -> last.
    pending: BTreeMap<u64, u64>,
}

pub(crate) struct Shared {
    pub dir: PathBuf,
    pub fs: Arc<dyn LogFs>,
    pub subscriber_buffer: usize,
    pub state: Mutex<State>,
    /// Highest acknowledged LSN (updated under `state`).
    pub committed: AtomicU64,
    /// Next LSN the writer will assign.
    pub next_lsn: AtomicU64,
    /// Set once the writer has shut down.
    pub closed: AtomicBool,
    /// The original error text once the log is poisoned.
    pub poison: Mutex<Option<String>>,
    /// Serialises `truncate_before` calls.
    pub trim_lock: Mutex<()>,
    pub counters: Counters,
    released: AtomicU64,
    release: Mutex<ReleaseTracker>,
    next_id: AtomicU64,
}

impl Shared {
    pub fn new(
        dir: PathBuf,
        fs: Arc<dyn LogFs>,
        subscriber_buffer: usize,
        segments: Vec<SegmentInfo>,
        next_lsn: u64,
    ) -> Self {
        let last = next_lsn - 1;
        Self {
            dir,
            fs,
            subscriber_buffer,
            state: Mutex::new(State {
                segments,
                floors: HashMap::new(),
                pins: HashMap::new(),
                subscribers: Vec::new(),
            }),
            committed: AtomicU64::new(last),
            next_lsn: AtomicU64::new(next_lsn),
            closed: AtomicBool::new(false),
            poison: Mutex::new(None),
            trim_lock: Mutex::new(()),
            counters: Counters::default(),
            released: AtomicU64::new(last),
            release: Mutex::new(ReleaseTracker {
                upto: last,
                pending: BTreeMap::new(),
            }),
            next_id: AtomicU64::new(1),
        }
    }

    pub fn new_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn poisoned(&self) -> Option<String> {
        self.poison.lock().clone()
    }

    /// Record the first poisoning error (later ones are ignored).
    pub fn set_poison(&self, msg: String) {
        let mut p = self.poison.lock();
        if p.is_none() {
            tracing::error!(error = %msg, "change log poisoned");
            *p = Some(msg);
        }
    }

    pub fn released_watermark(&self) -> u64 {
        self.released.load(Ordering::Acquire)
    }

    fn release(&self, first: u64, count: u64) {
        if count == 0 {
            return;
        }
        let last = first + count - 1;
        let mut guard = self.release.lock();
        let t = &mut *guard;
        if first <= t.upto + 1 {
            t.upto = t.upto.max(last);
            while let Some(l) = t.pending.remove(&(t.upto + 1)) {
                t.upto = l;
            }
            self.released.store(t.upto, Ordering::Release);
        } else {
            t.pending.insert(first, last);
        }
    }

    /// Register a retention pin at `lsn`. Caller holds the state lock.
    pub fn pin_locked(self: &Arc<Self>, state: &mut State, lsn: u64) -> Pin {
        let id = self.new_id();
        let value = Arc::new(AtomicU64::new(lsn));
        state.pins.insert(id, Arc::clone(&value));
        Pin {
            shared: Arc::clone(self),
            id,
            value,
        }
    }
}

/// Keeps every LSN `>=` its value from being trimmed while alive.
pub(crate) struct Pin {
    shared: Arc<Shared>,
    id: u64,
    value: Arc<AtomicU64>,
}

impl Pin {
    pub fn set(&self, lsn: u64) {
        self.value.store(lsn, Ordering::Release);
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        self.shared.state.lock().pins.remove(&self.id);
    }
}

/// Acknowledgement of one append group, and a guard over its LSNs.
///
/// While a `Committed` lives, its LSNs count as *not yet released*: the
/// [`released_watermark`](crate::ChangeLog::released_watermark) cannot pass
/// them. Dropping it (or calling [`release`](Committed::release)) releases
/// them. The facade applies the group to its store and then drops the guard,
/// so the released watermark is always a safe checkpoint LSN.
#[must_use = "dropping the guard immediately releases the group's LSNs"]
pub struct Committed {
    /// LSN of the first record in the group.
    pub first_lsn: u64,
    /// Number of records (consecutive LSNs) in the group.
    pub count: u64,
    /// The group's creation timestamp, microseconds since the Unix epoch.
    pub micros: u64,
    /// `None` once [abandoned](Committed::abandon).
    shared: Option<Arc<Shared>>,
}

impl Committed {
    pub(crate) fn new(shared: Arc<Shared>, first_lsn: u64, count: u64, micros: u64) -> Self {
        Self {
            first_lsn,
            count,
            micros,
            shared: Some(shared),
        }
    }

    /// LSN of the last record in the group.
    pub fn last_lsn(&self) -> u64 {
        self.first_lsn + self.count - 1
    }

    /// Release the group's LSNs now (same as dropping the guard).
    pub fn release(self) {}

    /// Drops the guard without releasing the group's LSNs: the released
    /// watermark stays below them for as long as the log is open. For a
    /// group its caller could not apply: no checkpoint may count it as
    /// applied, and recovery replays it from the log.
    pub fn abandon(mut self) {
        self.shared = None;
    }
}

impl Drop for Committed {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            shared.release(self.first_lsn, self.count);
        }
    }
}

impl std::fmt::Debug for Committed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committed")
            .field("first_lsn", &self.first_lsn)
            .field("count", &self.count)
            .field("micros", &self.micros)
            .finish()
    }
}
