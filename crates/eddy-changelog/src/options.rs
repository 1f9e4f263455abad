//! Configuration: [`Durability`] and the [`LogOptions`] builder.
//!
//! Everything environmental (the file system, the wall clock) is injectable
//! here so tests can simulate disk faults and clocks that jump backwards.

use crate::io::{LogFs, StdFs};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// When an append is acknowledged relative to making it durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Acknowledge after the group's write has been fsynced (`fdatasync`).
    /// Concurrent appends share one fsync (group commit). Survives power loss.
    #[default]
    Sync,
    /// Acknowledge after the write; fsync at most once per interval (and when
    /// idle with unsynced data once the interval elapses). Up to one interval
    /// of acknowledged appends can be lost on power loss (not on a process
    /// crash).
    Periodic(Duration),
    /// Acknowledge after the write, never fsync on the append path (only on
    /// `sync()`, segment roll and close). Survives a process kill, not power
    /// loss.
    None,
}

/// Wall-clock source returning microseconds since the Unix epoch.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system wall clock in microseconds since the Unix epoch (0 if the
/// clock is set before the epoch).
pub fn system_clock_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Default segment size: 64 MiB.
pub const DEFAULT_SEGMENT_SIZE: u64 = 64 * 1024 * 1024;
/// Default per-subscriber live buffer, in append groups.
pub const DEFAULT_SUBSCRIBER_BUFFER: usize = 1024;
/// Default group-commit byte budget per write.
pub const DEFAULT_GROUP_COMMIT_BYTES: u64 = 4 * 1024 * 1024;

/// Options for [`ChangeLog::open`](crate::ChangeLog::open). Start from
/// [`LogOptions::default`] and chain the setters.
#[derive(Clone)]
pub struct LogOptions {
    pub(crate) durability: Durability,
    pub(crate) segment_size: u64,
    pub(crate) fs: Arc<dyn LogFs>,
    pub(crate) clock: Clock,
    pub(crate) subscriber_buffer: usize,
    pub(crate) group_commit_bytes: u64,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Sync,
            segment_size: DEFAULT_SEGMENT_SIZE,
            fs: Arc::new(StdFs),
            clock: Arc::new(system_clock_micros),
            subscriber_buffer: DEFAULT_SUBSCRIBER_BUFFER,
            group_commit_bytes: DEFAULT_GROUP_COMMIT_BYTES,
        }
    }
}

impl std::fmt::Debug for LogOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogOptions")
            .field("durability", &self.durability)
            .field("segment_size", &self.segment_size)
            .field("subscriber_buffer", &self.subscriber_buffer)
            .field("group_commit_bytes", &self.group_commit_bytes)
            .finish_non_exhaustive()
    }
}

impl LogOptions {
    /// Same as [`LogOptions::default`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Acknowledgement/durability policy (default [`Durability::Sync`]).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Roll to a new segment once the active one exceeds this many bytes
    /// (checked after each group write; default 64 MiB).
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.segment_size = bytes;
        self
    }

    /// File-system implementation (default [`StdFs`]).
    pub fn fs(mut self, fs: Arc<dyn LogFs>) -> Self {
        self.fs = fs;
        self
    }

    /// Wall-clock source for group timestamps (default
    /// [`system_clock_micros`]). The log never lets timestamps go backwards,
    /// whatever this returns.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Capacity, in append groups, of each subscriber's live channel (min 1,
    /// default 1024). A subscriber that falls further behind is switched to
    /// reading from disk; writers never wait for it.
    pub fn subscriber_buffer(mut self, groups: usize) -> Self {
        self.subscriber_buffer = groups.max(1);
        self
    }

    /// How many encoded bytes the writer gathers from queued appends into one
    /// write + fsync (default 4 MiB; a single larger group is still written).
    pub fn group_commit_bytes(mut self, bytes: u64) -> Self {
        self.group_commit_bytes = bytes.max(1);
        self
    }
}
