//! eddy-stream: Kinesis-style data streams, embedded and durable.
//!
//! # Role
//!
//! This crate is eddy's Kinesis Data Streams engine. A Kinesis-compatible
//! server maps its methods 1:1 to Kinesis operations (`CreateStream`,
//! `PutRecords`, `GetShardIterator`, `GetRecords`, `SplitShard`, …); the
//! change-data-capture publisher appends with [`Streams::append_batch_with`].
//! It depends on `eddy-model` only, and does all file I/O through
//! [`eddy_model::io::LogFs`], so tests can inject faults.
//!
//! # Layout on disk
//!
//! ```text
//! <dir>/streams.meta                                    control-plane snapshot (meta)
//! <dir>/streams/<stream>/<shardId>/<first seqIx:020>.seg  per-shard segments
//! ```
//!
//! Stream directories live under `streams/` so no stream name can collide
//! with the metadata file; names starting with `.` are stored as `%<name>`
//! so `.` and `..` stay harmless.
//!
//! # Invariants
//!
//! * **Acknowledged means durable**: `put_record`, `put_records`,
//!   `append_batch` and `append_batch_with` return only after the record's
//!   frame was written and fsynced. Recovery only discards a torn tail (never
//!   acknowledged); any other damage is [`Error::Corruption`].
//! * **Sequence numbers** use Kinesis' 56-digit layout ([`SequenceNumber`]),
//!   strictly increase within a shard in commit order, and encode the shard.
//! * **Readers see only durable records**, in sequence order, and never a
//!   record that arrived before `now − retention`. The one exception is
//!   chosen by the appender: records appended with [`Visibility::Written`]
//!   (a table's destination, which can write them again from its change
//!   log) are readable once written, before their `fsync`.
//! * **The open shards' hash ranges partition** `[0, 2^128 − 1]` at all
//!   times; a record goes to the open shard containing its hash key, and a
//!   closed shard never receives another record.
//! * **Control-plane changes are atomic**: metadata is one crc-checked
//!   snapshot replaced by rename ([`meta`](crate) module docs).
//!
//! # Retention rule
//!
//! [`Streams::trim_expired`] (also run by an optional background thread)
//! deletes a shard's segment once its newest record is older than
//! `now − retention`, except the shard's active (last) segment. Reads skip
//! records older than `now − retention`, so `TRIM_HORIZON` starts at the
//! oldest record inside the window. Hence no record older than the window is
//! ever served, and the disk holds at most the window plus one segment's
//! span (the segment straddling the boundary) plus the active segment. A
//! closed shard whose close time is older than the window (so all its
//! records are) becomes EXPIRED: its files are deleted and it disappears
//! from `describe_stream` / `list_shards`. Increasing the retention never
//! revives records that were already outside the window (a per-stream floor
//! is kept).
//!
//! # Enhanced fan-out
//!
//! Consumers ([`Streams::register_stream_consumer`] and friends) live in
//! the metadata snapshot. [`Streams::subscribe_to_shard`] returns a
//! [`ShardSubscription`] whose own delivery thread pushes
//! [`SubscribeToShardEvent`]s over a bounded channel; it is woken by the
//! shard writer as soon as records are readable (see [`Visibility`]) and
//! reads from a small in-memory tail, or from the segments when it has
//! fallen behind, so a slow consumer never slows writers or other consumers
//! (`fanout` and `live` module docs).
//!
//! # Encryption at rest
//!
//! [`Streams::start_stream_encryption`] turns on AES-256-GCM encryption of
//! a stream's new records under an application-supplied key
//! ([`StreamOptions::encryption_key`]); reads decrypt transparently and
//! report `EncryptionType` `KMS`. Keys never reach the disk; opening needs
//! no keys, and a record whose key is missing or wrong is a typed
//! [`Error::Decrypt`] for the read that reaches it (`crypto` module docs).
//!
//! # Example
//!
//! ```
//! use eddy_stream::{CreateStream, IteratorType, PutRecord, StreamOptions, Streams};
//! let dir = tempfile::tempdir()?;
//! let streams = Streams::open(dir.path(), StreamOptions::new())?;
//! streams.create_stream("orders", CreateStream { shard_count: Some(2), ..Default::default() })?;
//! let put = streams.put_record("orders", PutRecord::new("customer-1", b"hello".to_vec()))?;
//! let it = streams.get_shard_iterator("orders", &put.shard_id, IteratorType::TrimHorizon)?;
//! let out = streams.get_records(&it, None)?;
//! assert_eq!(out.records[0].data, b"hello");
//! assert_eq!(out.records[0].sequence_number, put.sequence_number);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod codec;
mod consumer;
mod control;
mod crypto;
mod data;
mod encryption;
mod error;
mod fanout;
mod frame;
#[doc(hidden)]
pub mod fuzzing;
mod hashkey;
mod iterator;
mod live;
mod meta;
mod options;
mod reshard;
mod segment;
mod seqnum;
mod shard_log;
mod summary;
mod types;

pub use consumer::{Consumer, ConsumerRef, ConsumerStatus, MAX_CONSUMERS_PER_STREAM};
pub use data::{
    MAX_GET_RECORDS, MAX_GET_RECORDS_BYTES, MAX_PUT_RECORDS, MAX_PUT_RECORDS_BYTES,
    MAX_RECORD_BYTES,
};
pub use error::{DecryptFailure, Error, Result};
pub use fanout::{
    ShardSubscription, StartingPosition, SubscribeToShardEvent, HEARTBEAT_MILLIS, MAX_EVENT_BYTES,
    MAX_EVENT_RECORDS, SUBSCRIPTION_MILLIS, TAKEOVER_MILLIS,
};
pub use hashkey::{even_split, partition_key_hash, HashKeyRange};
pub use iterator::ITERATOR_TTL_MILLIS;
pub use options::{
    system_clock_millis, Clock, StreamOptions, DEFAULT_SEGMENT_SIZE, DEFAULT_SHARD_LIMIT,
};
pub use seqnum::{SequenceNumber, SequenceNumberError};
pub use types::{
    shard_id, AppendNotice, Appended, ChildShard, CreateStream, GetRecordsOutput, IteratorType,
    PutRecord, PutRecordOutput, PutRecordsOutput, PutRecordsResultEntry, Record, Shard, ShardTip,
    StreamDescription, StreamMode, StreamStatus, TornTail, UpdateShardCountOutput, Visibility,
};

use crate::error::io_ctx;
use crate::meta::Meta;
use crate::shard_log::ShardLog;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

/// What [`Streams::trim_expired`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrimReport {
    /// Segment files deleted.
    pub segments_deleted: usize,
    /// Closed shards that became EXPIRED.
    pub shards_expired: usize,
}

/// Control-plane state: the metadata and one log per listed shard.
pub(crate) struct State {
    pub meta: Meta,
    /// Keyed by (stream, shard index); one entry per shard in `meta`.
    pub logs: HashMap<(String, u32), Arc<ShardLog>>,
}

pub(crate) struct Inner {
    pub dir: PathBuf,
    pub opts: StreamOptions,
    /// The configured encryption keys (memory only).
    pub keys: crypto::Keyring,
    pub state: RwLock<State>,
    pub subscribers: Mutex<HashMap<String, Vec<Sender<AppendNotice>>>>,
    /// Live `SubscribeToShard` subscriptions.
    pub fanout: fanout::Registry,
    /// What the open cut off the shards' newest segments.
    pub torn_tails: Vec<TornTail>,
    _stop_trimmer: Option<Sender<()>>,
}

/// A handle to a streams database. Cheap to clone; `Send + Sync`.
///
/// Every method taking a `stream` accepts a stream name or its ARN.
#[derive(Clone)]
pub struct Streams {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

/// Directory name for a stream (see the crate docs on layout).
pub(crate) fn stream_dir(root: &Path, name: &str) -> PathBuf {
    let leaf = if name.starts_with('.') {
        format!("%{name}")
    } else {
        name.to_string()
    };
    root.join("streams").join(leaf)
}

/// Directory of one shard.
pub(crate) fn shard_dir(root: &Path, name: &str, index: u32) -> PathBuf {
    stream_dir(root, name).join(shard_id(index))
}

impl Streams {
    /// Open (or create) the database in `dir`, recovering torn tails of
    /// every shard's last segment. Configured encryption keys are loaded
    /// first; an unusable one fails the open ([`Error::KeyConfig`]).
    pub fn open(dir: &Path, options: StreamOptions) -> Result<Streams> {
        let fs = Arc::clone(&options.fs);
        let keys = crypto::Keyring::load(&options.keys, fs.as_ref())?;
        fs.create_dir_all(dir).map_err(io_ctx("creating", dir))?;
        let meta = match meta::load(fs.as_ref(), dir)? {
            Some(m) => m,
            None => {
                let mut hmac_key = [0u8; 32];
                rand::fill(&mut hmac_key[..]);
                let m = Meta {
                    hmac_key,
                    streams: Default::default(),
                };
                meta::save(fs.as_ref(), dir, &m)?;
                m
            }
        };
        let mut logs = HashMap::new();
        let mut torn_tails = Vec::new();
        for s in meta.streams.values() {
            for sh in &s.shards {
                let log = ShardLog::open(
                    Arc::clone(&fs),
                    shard_dir(dir, &s.name, sh.index),
                    sh.index,
                    sh.next_seq_ix,
                    options.segment_size,
                    !sh.is_open(),
                )?;
                if let Some((segment, offset, discarded_bytes)) = log.cut_at_open() {
                    torn_tails.push(TornTail {
                        stream: s.name.clone(),
                        shard_id: shard_id(sh.index),
                        segment,
                        offset,
                        discarded_bytes,
                    });
                }
                logs.insert((s.name.clone(), sh.index), Arc::new(log));
            }
        }
        collect_garbage(fs.as_ref(), dir, &meta);
        let (stop_tx, stop_rx) = match options.trim_interval {
            Some(_) => {
                let (tx, rx) = crossbeam_channel::bounded::<()>(0);
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            opts: options,
            keys,
            state: RwLock::new(State { meta, logs }),
            subscribers: Mutex::new(HashMap::new()),
            fanout: fanout::Registry::default(),
            torn_tails,
            _stop_trimmer: stop_tx,
        });
        if let (Some(rx), Some(every)) = (stop_rx, inner.opts.trim_interval) {
            let weak = Arc::downgrade(&inner);
            std::thread::Builder::new()
                .name("eddy-stream-trim".into())
                .spawn(move || trimmer(weak, rx, every))
                .map_err(|e| Error::io("spawning the trimmer thread", e))?;
        }
        Ok(Streams { inner })
    }

    /// The database directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The torn tails the open cut off the newest segment of shards: what
    /// a crash or a power cut left of appends never fsynced (or damage in
    /// that segment, which looks the same; see the crate docs).
    pub fn torn_tails(&self) -> &[TornTail] {
        &self.inner.torn_tails
    }

    pub(crate) fn now(&self) -> u64 {
        (self.inner.opts.clock)()
    }

    /// A channel that receives an [`AppendNotice`] after every durable append
    /// to any shard of `stream` (one notice per shard per call).
    ///
    /// Notices are wake-up hints for push-style consumers (fan-out): the
    /// channel is bounded ([`StreamOptions::notify_capacity`]); when it is
    /// full, further notices are dropped rather than blocking writers, so a
    /// consumer must treat any notice as "new data may exist, read with
    /// `get_records`" and read until caught up. The channel disconnects when
    /// the stream is deleted. Dropping the receiver unsubscribes.
    pub fn subscribe(&self, stream: &str) -> Result<Receiver<AppendNotice>> {
        let name = self.resolve(stream)?;
        let st = self.inner.state.read();
        if !st.meta.streams.contains_key(&name) {
            return Err(self.stream_not_found(&name));
        }
        let (tx, rx) = crossbeam_channel::bounded(self.inner.opts.notify_capacity);
        self.inner
            .subscribers
            .lock()
            .entry(name)
            .or_default()
            .push(tx);
        Ok(rx)
    }

    pub(crate) fn notify(&self, notice: AppendNotice) {
        let mut subs = self.inner.subscribers.lock();
        if let Some(list) = subs.get_mut(&notice.stream_name) {
            list.retain(|tx| match tx.try_send(notice.clone()) {
                Ok(()) | Err(TrySendError::Full(_)) => true,
                Err(TrySendError::Disconnected(_)) => false,
            });
        }
    }

    /// Apply the retention rule (crate docs) to every stream now.
    pub fn trim_expired(&self) -> Result<TrimReport> {
        let now = self.now();
        let mut report = TrimReport::default();
        let mut expire = Vec::new();
        let jobs: Vec<(Arc<ShardLog>, u64)> = {
            let st = self.inner.state.read();
            let mut jobs = Vec::new();
            for s in st.meta.streams.values() {
                let cutoff = s.min_arrival(now);
                for sh in &s.shards {
                    if let meta::ShardState::Closed { closed_millis, .. } = sh.state {
                        if closed_millis < cutoff {
                            expire.push((s.name.clone(), sh.index));
                            continue;
                        }
                    }
                    if let Some(log) = st.logs.get(&(s.name.clone(), sh.index)) {
                        jobs.push((Arc::clone(log), cutoff));
                    }
                }
            }
            jobs
        };
        for (log, cutoff) in jobs {
            report.segments_deleted += log.trim(cutoff)?;
        }
        if !expire.is_empty() {
            report.shards_expired = self.expire_shards(&expire)?;
        }
        Ok(report)
    }

    /// Remove closed shards from the metadata and delete their files.
    fn expire_shards(&self, which: &[(String, u32)]) -> Result<usize> {
        let mut st = self.inner.state.write();
        let mut next = st.meta.clone();
        let mut gone = Vec::new();
        for (name, index) in which {
            if let Some(s) = next.streams.get_mut(name) {
                let before = s.shards.len();
                s.shards.retain(|sh| sh.index != *index || sh.is_open());
                if s.shards.len() < before {
                    gone.push((name.clone(), *index));
                }
            }
        }
        meta::save(self.inner.opts.fs.as_ref(), &self.inner.dir, &next)?;
        st.meta = next;
        let logs: Vec<Arc<ShardLog>> = gone.iter().filter_map(|k| st.logs.remove(k)).collect();
        drop(st);
        for log in logs {
            if let Err(e) = log.destroy() {
                tracing::warn!(error = %e, "could not delete an expired shard's files");
            }
        }
        Ok(gone.len())
    }
}

/// Delete files of streams and shards the metadata does not know (left by a
/// crash during delete or expiry). Best effort: failures are logged.
fn collect_garbage(fs: &dyn eddy_model::io::LogFs, dir: &Path, meta: &Meta) {
    let root = dir.join("streams");
    let Ok(stream_dirs) = fs.list_dir(&root) else {
        return;
    };
    // Built once: a stream resharded many times has thousands of shards.
    let known: std::collections::HashSet<PathBuf> = meta
        .streams
        .values()
        .flat_map(|s| s.shards.iter().map(|sh| shard_dir(dir, &s.name, sh.index)))
        .collect();
    for sd in stream_dirs {
        let Ok(shard_dirs) = fs.list_dir(&sd) else {
            continue;
        };
        for shd in shard_dirs {
            if !known.contains(&shd) {
                if let Err(e) = shard_log::remove_dir_files(fs, &shd) {
                    tracing::warn!(error = %e, "garbage collection failed");
                }
            }
        }
    }
}

fn trimmer(weak: Weak<Inner>, stop: Receiver<()>, every: std::time::Duration) {
    loop {
        match stop.recv_timeout(every) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                if let Err(e) = (Streams { inner }).trim_expired() {
                    tracing::warn!(error = %e, "background trim failed");
                }
            }
            _ => return,
        }
    }
}
