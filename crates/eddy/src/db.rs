//! Opening, recovering, checkpointing and closing a database.
//!
//! A data directory holds three things:
//!
//! ```text
//! <dir>/LOCK     held with an exclusive file lock while a process has it open
//! <dir>/log/     the write-ahead change log: {first LSN:020}.wal segments
//! <dir>/store/   the sled database holding tables, destinations and the checkpoint LSN
//! <dir>/snapshot/ eddy's own copy of the store: the catalog image and the newest item snapshot
//! <dir>/streams/ Kinesis-style streams: metadata and per-shard segments
//! ```
//!
//! The change log is the point of durability. The store is applied to after
//! the log has acknowledged a change and is flushed only at checkpoints, so
//! on open the store is at least as new as its checkpoint LSN and at most as
//! new as the log; replaying the log from the checkpoint, with full after
//! images, brings it exactly to the log's end. Replay is idempotent, so a
//! crash during recovery is harmless.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use std::collections::HashMap;

use crossbeam_channel::{Receiver, Sender};
use eddy_changelog::{ChangeLog, LogOptions};
use eddy_store::{Store, StoreOptions};
use parking_lot::Mutex;

use crate::destinations::DestinationMap;
use crate::error::{Error, Result};
use crate::options::{Options, StreamKey};
use crate::publisher::StreamingMetrics;
use crate::snapshots::{Snapshots, StoreRebuild};

/// Number of lock stripes serialising writes to the same item.
const STRIPES: usize = 4096;

/// An open eddy database: tables of DynamoDB items whose every change is
/// logged, with its before and after images, in a durable change log.
///
/// `Database` is a cheap handle: clone it to share it between threads.
/// The database closes when the last handle is dropped, or on
/// [`Database::close`].
///
/// ```
/// use eddy::{Database, Item, KeySchema, KeyType, ReturnValues};
/// let dir = tempfile::tempdir()?;
/// let db = Database::open(dir.path())?;
/// db.create_table("users", KeySchema::new("id", KeyType::S))?;
/// db.put_item("users", Item::new().with("id", "u1").with("name", "Ada"), ReturnValues::None)?;
/// let got = db.get_item("users", &Item::new().with("id", "u1"))?;
/// assert_eq!(got.unwrap().get("name").and_then(|v| v.as_s()), Some("Ada"));
/// let change = db.changes_since(0)?.next().unwrap()?;
/// assert_eq!(change.kind().as_str(), "INSERT");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Database {
    pub(crate) inner: Arc<Inner>,
    /// Shared by the user's handles only (background threads hold `inner`
    /// weakly): when the last handle goes, the database closes at once,
    /// joining its threads, so the directory can be reopened right away.
    _open: Arc<OpenHandle>,
}

impl Database {
    /// Whether `other` is a handle on this same open database.
    pub(crate) fn same_as(&self, other: &Database) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("dir", &self.inner.dir)
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .field("poisoned", &self.inner.poisoned.lock().is_some())
            .field("last_lsn", &self.inner.log.committed_lsn())
            .finish_non_exhaustive()
    }
}

struct OpenHandle(Arc<Inner>);

impl Drop for OpenHandle {
    fn drop(&mut self) {
        if let Err(e) = self.0.close() {
            tracing::error!(error = %e, "closing database");
        }
    }
}

pub(crate) struct Inner {
    pub(crate) dir: PathBuf,
    pub(crate) log: ChangeLog,
    pub(crate) store: Store,
    pub(crate) streams: eddy_stream::Streams,
    pub(crate) destinations: Mutex<DestinationMap>,
    pub(crate) publishers: Mutex<HashMap<(u64, String), JoinHandle<()>>>,
    pub(crate) streaming_metrics: Mutex<HashMap<u64, StreamingMetrics>>,
    /// When the TTL sweeper last ran.
    last_ttl_sweep: Mutex<Instant>,
    /// The clock TTL expiry is judged by (epoch seconds).
    pub(crate) ttl_clock: std::sync::Arc<dyn Fn() -> u64 + Send + Sync>,
    /// Client request tokens of recent transactions: fingerprint and time.
    pub(crate) tokens: Mutex<HashMap<String, (u64, Instant)>>,
    /// Owned (`Arc`) so that an async write carries its guards to the
    /// thread that finishes it.
    pub(crate) stripes: Box<[Arc<Mutex<()>>]>,
    pub(crate) poisoned: Mutex<Option<Arc<Error>>>,
    pub(crate) closed: AtomicBool,
    pub(crate) writes: AtomicU64,
    pub(crate) changes: AtomicU64,
    pub(crate) options: Options,
    checkpoint: Mutex<CheckpointState>,
    pub(crate) snapshots: Snapshots,
    checkpointer: Mutex<Option<(Sender<()>, JoinHandle<()>)>>,
    recovery: RecoveryReport,
    _lock: File,
}

struct CheckpointState {
    lsn: u64,
    /// The log's size on disk right after the checkpoint.
    log_bytes: u64,
    at: Instant,
}

/// What opening the database found and did.
#[derive(Debug, Clone, Default)]
pub struct RecoveryReport {
    /// The store's checkpoint LSN when it was opened.
    pub checkpoint_lsn: u64,
    /// How many logged changes were replayed into the store.
    pub replayed: u64,
    /// Bytes of change log replayed.
    pub replayed_bytes: u64,
    /// The torn tail cut off the log, if there was one.
    pub torn_tail: Option<String>,
    /// The torn tails cut off the newest segments of stream shards.
    pub stream_torn_tails: Vec<eddy_stream::TornTail>,
    /// How the table store was rebuilt from its snapshot and the change
    /// log, if it could not be used as it was.
    pub store_rebuilt: Option<StoreRebuild>,
    /// How long opening took.
    pub elapsed: Duration,
}

/// What a checkpoint did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Every change up to this LSN is in the flushed store.
    pub lsn: u64,
    /// Log segments deleted because nothing needs them any more.
    pub segments_removed: usize,
}

/// Counters describing an open database.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Write calls that succeeded (including those that changed nothing).
    pub writes: u64,
    /// Changes logged since the database was opened.
    pub changes: u64,
    /// The last committed LSN.
    pub last_lsn: u64,
    /// The last checkpoint's LSN.
    pub checkpoint_lsn: u64,
    /// The newest store snapshot's LSN (0: none yet); the change log is
    /// kept after it.
    pub snapshot_lsn: u64,
    /// Change-log statistics.
    pub log: eddy_changelog::LogStats,
}

impl Database {
    /// Opens (creating if needed) the database in `dir` with default options.
    pub fn open(dir: impl AsRef<Path>) -> Result<Database> {
        Database::open_with(dir, Options::default())
    }

    /// Opens (creating if needed) the database in `dir`, recovering from the
    /// change log whatever the store had not checkpointed.
    pub fn open_with(dir: impl AsRef<Path>, options: Options) -> Result<Database> {
        let started = Instant::now();
        let dir = dir.as_ref().to_path_buf();
        // One file layer for the log and the store's fsyncs (tests inject
        // faults through it); it also creates the directory durably.
        let fs: Arc<dyn eddy_changelog::io::LogFs> = options
            .log_fs
            .clone()
            .unwrap_or_else(|| Arc::new(eddy_changelog::io::StdFs));
        fs.create_dir_all(&dir).map_err(|source| Error::Io {
            context: format!("creating data directory {}", dir.display()),
            source,
        })?;
        let lock = lock_dir(&dir)?;
        let log_options = LogOptions::new()
            .durability(options.durability)
            .segment_size(options.segment_size)
            .fs(Arc::clone(&fs));
        let (log, log_report) = ChangeLog::open(&dir.join("log"), log_options)?;
        let store_options = StoreOptions::default()
            .cache_capacity(options.cache_capacity)
            .fs(fs)
            .snapshot_dir(dir.join("snapshot"));
        let latest_snapshot = Store::latest_snapshot(&store_options)?;
        let (store, store_rebuilt) = crate::snapshots::open_store(&dir, store_options, &log)?;
        let mut recovery = RecoveryReport {
            torn_tail: log_report.torn_tail.as_ref().map(|t| format!("{t:?}")),
            store_rebuilt,
            ..RecoveryReport::default()
        };
        crate::replay::replay(&log, &store, &mut recovery)?;
        let mut stream_options = eddy_stream::StreamOptions::new()
            .region(&options.region)
            .account_id(&options.account)
            .trim_interval(Duration::from_secs(60));
        for (id, key) in &options.stream_keys {
            stream_options = match key {
                StreamKey::Bytes(bytes) => stream_options.encryption_key(id.clone(), *bytes),
                StreamKey::File(path) => {
                    stream_options.encryption_key_file(id.clone(), path.clone())
                }
            };
        }
        let streams = eddy_stream::Streams::open(&dir.join("streams"), stream_options)?;
        recovery.stream_torn_tails = streams.torn_tails().to_vec();
        let destinations = Inner::load_destinations(&store)?;
        let ttl_clock = options.ttl_clock.clone();
        recovery.elapsed = started.elapsed();
        tracing::info!(
            dir = %dir.display(),
            checkpoint = recovery.checkpoint_lsn,
            replayed = recovery.replayed,
            elapsed_ms = recovery.elapsed.as_millis() as u64,
            "opened database"
        );
        let checkpoint_lsn = store.checkpoint_lsn()?;
        let inner = Arc::new(Inner {
            dir,
            stripes: (0..STRIPES).map(|_| Arc::new(Mutex::new(()))).collect(),
            poisoned: Mutex::new(None),
            closed: AtomicBool::new(false),
            writes: AtomicU64::new(0),
            changes: AtomicU64::new(0),
            checkpoint: Mutex::new(CheckpointState {
                lsn: checkpoint_lsn,
                log_bytes: log.stats().bytes_on_disk,
                at: Instant::now(),
            }),
            checkpointer: Mutex::new(None),
            snapshots: Snapshots::new(latest_snapshot),
            options,
            recovery,
            log,
            store,
            streams,
            destinations: Mutex::new(destinations),
            publishers: Mutex::new(HashMap::new()),
            streaming_metrics: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            ttl_clock,
            last_ttl_sweep: Mutex::new(Instant::now()),
            _lock: lock,
        });
        // With no snapshot and a log that no longer starts at its first
        // change (a lost snapshot directory, or a database from before
        // snapshots), nothing could rebuild the store: take one now.
        if inner.snapshots.lsn() == 0 && inner.log.oldest_lsn() > 1 {
            inner.snapshot()?;
        }
        start_checkpointer(&inner);
        let pending: Vec<(u64, String)> = inner
            .destinations
            .lock()
            .iter()
            .filter(|(_, d)| !d.is_drained())
            .map(|(k, _)| k.clone())
            .collect();
        for key in pending {
            crate::publisher::start(&inner, key);
        }
        Ok(Database {
            _open: Arc::new(OpenHandle(inner.clone())),
            inner,
        })
    }

    /// The data directory.
    pub fn path(&self) -> &Path {
        &self.inner.dir
    }

    /// What opening the database found and did.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.inner.recovery
    }

    /// Flushes the store and records the LSN up to which it is complete, then
    /// deletes change-log segments nothing needs any more. Runs in the
    /// background too (see [`Options::checkpoint_every_bytes`]).
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        self.inner.check_open()?;
        self.inner.checkpoint()
    }

    /// Forces every acknowledged change to stable storage now (useful with
    /// [`Durability::Periodic`](crate::Durability::Periodic) or `None`).
    pub fn sync(&self) -> Result<()> {
        self.inner.check_open()?;
        Ok(self.inner.log.sync()?)
    }

    /// The database's Kinesis-style streams: create, describe, reshard,
    /// write and read them directly (see [`eddy_stream`]).
    pub fn streams(&self) -> &eddy_stream::Streams {
        &self.inner.streams
    }

    /// Publishing counters of a table's streaming destination since the
    /// database was opened.
    pub fn streaming_metrics(&self, table: &str) -> Result<StreamingMetrics> {
        let def = self.inner.store.table(table)?;
        Ok(self
            .inner
            .streaming_metrics
            .lock()
            .get(&def.id)
            .copied()
            .unwrap_or_default())
    }

    /// Counters describing the database.
    pub fn stats(&self) -> Stats {
        Stats {
            writes: self.inner.writes.load(Ordering::Relaxed),
            changes: self.inner.changes.load(Ordering::Relaxed),
            last_lsn: self.inner.log.committed_lsn(),
            checkpoint_lsn: self.inner.checkpoint.lock().lsn,
            snapshot_lsn: self.inner.snapshots.lsn(),
            log: self.inner.log.stats(),
        }
    }

    /// Closes the database: stops the background checkpointer, checkpoints,
    /// and closes the change log. Every handle sees the database closed.
    /// Dropping the last handle does the same, ignoring errors.
    pub fn close(&self) -> Result<()> {
        self.inner.close()
    }
}

impl Inner {
    /// The region records and ARNs carry.
    pub(crate) fn region(&self) -> &str {
        &self.options.region
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    pub(crate) fn check_writable(&self) -> Result<()> {
        self.check_open()?;
        if let Some(cause) = self.poisoned.lock().as_ref() {
            return Err(Error::Poisoned {
                cause: Arc::clone(cause),
            });
        }
        Ok(())
    }

    /// Stops all writes because of `cause`, and returns the error the
    /// failing call (and every later write) answers with. The first cause
    /// stands.
    pub(crate) fn poison(&self, cause: Error) -> Error {
        let mut poisoned = self.poisoned.lock();
        let cause = match poisoned.as_ref() {
            Some(first) => Arc::clone(first),
            None => {
                let cause = match cause {
                    Error::Poisoned { cause } => cause,
                    other => Arc::new(other),
                };
                tracing::error!(
                    cause = eddy_model::error_chain(&*cause),
                    "database stops accepting writes"
                );
                poisoned.insert(cause).clone()
            }
        };
        Error::Poisoned { cause }
    }

    pub(crate) fn checkpoint(&self) -> Result<Checkpoint> {
        let mut state = self.checkpoint.lock();
        // Every change up to the watermark has been applied to the store:
        // writers release their LSNs only after applying them.
        let lsn = self.log.released_watermark();
        // The log must keep every change some destination has yet to
        // publish, as far as the positions this flush makes durable know:
        // so they are read from the store, before the flush. A publisher
        // moves its position in memory before it reaches the store, and a
        // floor read from memory could cut the log past a position that a
        // crash then brings back.
        // And every change after the newest store snapshot, from which
        // the store is rebuilt if sled's files are ever lost.
        let keep_after = self
            .stored_publish_floor()?
            .map_or(lsn, |floor| floor.min(lsn))
            .min(self.snapshots.lsn());
        if let Err(e) = self.store.checkpoint(lsn) {
            if matches!(e, eddy_store::Error::Sync { .. }) {
                // The store's pages may be lost: no checkpoint may ever
                // rely on them again, and the log must keep everything.
                return Err(self.poison(Error::Store(e)));
            }
            return Err(e.into());
        }
        let segments_removed = self.log.truncate_before(keep_after)?;
        // Log growth is measured from what is left after truncation.
        let log_bytes = self.log.stats().bytes_on_disk;
        *state = CheckpointState {
            lsn,
            log_bytes,
            at: Instant::now(),
        };
        tracing::debug!(lsn, segments_removed, "checkpoint");
        Ok(Checkpoint {
            lsn,
            segments_removed,
        })
    }

    /// Whether the TTL sweeper should run now (it runs on the maintenance
    /// thread with the checkpointer).
    fn ttl_sweep_due(&self) -> bool {
        let Some(every) = self.options.ttl_interval else {
            return false;
        };
        let mut last = self.last_ttl_sweep.lock();
        if last.elapsed() < every {
            return false;
        }
        *last = Instant::now();
        true
    }

    fn checkpoint_due(&self) -> bool {
        let state = self.checkpoint.lock();
        let written = self
            .log
            .stats()
            .bytes_on_disk
            .saturating_sub(state.log_bytes);
        let anything_new = self.log.committed_lsn() > state.lsn;
        written >= self.options.checkpoint_every_bytes
            || (anything_new
                && self
                    .options
                    .checkpoint_interval
                    .is_some_and(|every| state.at.elapsed() >= every))
    }

    fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let mut threads: Vec<JoinHandle<()>> =
            self.publishers.lock().drain().map(|(_, h)| h).collect();
        if let Some((stop, handle)) = self.checkpointer.lock().take() {
            drop(stop);
            threads.push(handle);
        }
        for handle in threads {
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
        let checkpoint = self.checkpoint().map(|_| ());
        let closed = self.log.close().map_err(Error::from);
        checkpoint.and(closed)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::error!(error = %e, "closing database");
        }
    }
}

fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join("LOCK");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| Error::Io {
            context: format!("opening {}", path.display()),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Locked {
            path: dir.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(Error::Io {
            context: format!("locking {}", path.display()),
            source,
        }),
    }
}

fn start_checkpointer(inner: &Arc<Inner>) {
    let (stop, stopped): (Sender<()>, Receiver<()>) = crossbeam_channel::bounded(0);
    let weak: Weak<Inner> = Arc::downgrade(inner);
    let spawned = std::thread::Builder::new()
        .name("eddy-checkpoint".into())
        .spawn(move || loop {
            match stopped.recv_timeout(Duration::from_millis(200)) {
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            let Some(inner) = weak.upgrade() else { return };
            if inner.closed.load(Ordering::Acquire) {
                return;
            }
            if inner.checkpoint_due() {
                if let Err(e) = inner.checkpoint() {
                    tracing::error!(error = %e, "background checkpoint failed");
                }
            }
            if inner.snapshot_due() {
                if let Err(e) = inner.snapshot().and_then(|_| inner.checkpoint()) {
                    tracing::error!(error = %e, "background store snapshot failed");
                }
            }
            if inner.ttl_sweep_due() {
                if let Err(e) = inner.sweep_expired() {
                    tracing::error!(error = %e, "expired-item sweep failed");
                }
            }
        });
    match spawned {
        Ok(handle) => *inner.checkpointer.lock() = Some((stop, handle)),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the checkpoint thread; checkpoints run on close and on request only")
        }
    }
}
