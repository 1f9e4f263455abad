//! Database options.

use std::sync::Arc;
use std::time::Duration;

use eddy_changelog::io::LogFs;
pub use eddy_changelog::Durability;

/// How a [`Database`](crate::Database) is opened.
///
/// ```
/// use std::time::Duration;
/// use eddy::{Durability, Options};
/// let options = Options::new()
///     .durability(Durability::Periodic(Duration::from_millis(10)))
///     .cache_capacity(64 << 20)
///     .checkpoint_every_bytes(32 << 20);
/// assert_eq!(options.cache_capacity_bytes(), 64 << 20);
/// ```
#[derive(Clone)]
pub struct Options {
    pub(crate) durability: Durability,
    pub(crate) cache_capacity: u64,
    pub(crate) segment_size: u64,
    pub(crate) checkpoint_every_bytes: u64,
    pub(crate) snapshot_every_bytes: u64,
    pub(crate) checkpoint_interval: Option<Duration>,
    pub(crate) log_fs: Option<Arc<dyn LogFs>>,
    pub(crate) region: String,
    pub(crate) account: String,
    pub(crate) stream_keys: Vec<(String, StreamKey)>,
    pub(crate) ttl_interval: Option<Duration>,
    pub(crate) ttl_clock: Arc<dyn Fn() -> u64 + Send + Sync>,
}

/// Where a stream encryption key comes from.
#[derive(Clone)]
pub(crate) enum StreamKey {
    Bytes([u8; 32]),
    File(std::path::PathBuf),
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("durability", &self.durability)
            .field("cache_capacity", &self.cache_capacity)
            .field("segment_size", &self.segment_size)
            .field("checkpoint_every_bytes", &self.checkpoint_every_bytes)
            .field("snapshot_every_bytes", &self.snapshot_every_bytes)
            .field("checkpoint_interval", &self.checkpoint_interval)
            .field("custom_log_fs", &self.log_fs.is_some())
            .field("ttl_interval", &self.ttl_interval)
            .field("region", &self.region)
            .field("account", &self.account)
            .field(
                "stream_key_ids",
                &self
                    .stream_keys
                    .iter()
                    .map(|(id, _)| id)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Default for Options {
    fn default() -> Options {
        Options {
            durability: Durability::Sync,
            cache_capacity: 256 << 20,
            segment_size: 64 << 20,
            checkpoint_every_bytes: 64 << 20,
            snapshot_every_bytes: 256 << 20,
            checkpoint_interval: Some(Duration::from_secs(60)),
            log_fs: None,
            region: "us-east-1".into(),
            account: "000000000000".into(),
            stream_keys: Vec::new(),
            ttl_interval: Some(Duration::from_secs(1)),
            ttl_clock: Arc::new(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            }),
        }
    }
}

impl Options {
    /// The defaults: [`Durability::Sync`], a 256 MiB cache, 64 MiB log
    /// segments, a checkpoint every 64 MiB of log or every minute.
    pub fn new() -> Options {
        Options::default()
    }

    /// When a write is acknowledged: after fdatasync (`Sync`, the default),
    /// after the write reaches the OS with an fsync every interval
    /// (`Periodic`), or after the write reaches the OS (`None`: survives a
    /// process crash, not a power cut).
    pub fn durability(mut self, durability: Durability) -> Options {
        self.durability = durability;
        self
    }

    /// sled's page cache size in bytes.
    pub fn cache_capacity(mut self, bytes: u64) -> Options {
        self.cache_capacity = bytes;
        self
    }

    /// The configured cache size in bytes.
    pub fn cache_capacity_bytes(&self) -> u64 {
        self.cache_capacity
    }

    /// The size at which the change log starts a new segment file.
    pub fn segment_size(mut self, bytes: u64) -> Options {
        self.segment_size = bytes.max(4096);
        self
    }

    /// Checkpoint in the background once this much change log has been
    /// written since the last checkpoint. Bounds recovery time.
    pub fn checkpoint_every_bytes(mut self, bytes: u64) -> Options {
        self.checkpoint_every_bytes = bytes.max(1);
        self
    }

    /// Write a store snapshot in the background once the change log kept
    /// since the last one holds this many bytes, or as many as that
    /// snapshot had, whichever is more (default 256 MiB). The change log is
    /// kept from the newest snapshot, so that the store can be rebuilt from
    /// the two if sled's files are ever lost (see
    /// [`Database::snapshot`](crate::Database::snapshot)); the bound keeps
    /// the snapshots' writing to at most about one byte per byte of log.
    pub fn snapshot_every_bytes(mut self, bytes: u64) -> Options {
        self.snapshot_every_bytes = bytes.max(1);
        self
    }

    /// Also checkpoint on this interval when anything was written (`None`:
    /// only by size, on close and on request).
    pub fn checkpoint_interval(mut self, interval: Option<Duration>) -> Options {
        self.checkpoint_interval = interval;
        self
    }

    /// The file layer the change log uses, and the store's fsyncs go
    /// through, instead of the real file system: for tests that inject
    /// fsync failures, full disks and short writes (`eddy-model`'s
    /// `io::fault::FaultFs`). A test hook: only with the `testing` feature.
    #[cfg(feature = "testing")]
    pub fn log_fs(mut self, fs: Arc<dyn LogFs>) -> Options {
        self.log_fs = Some(fs);
        self
    }

    /// The region that ARNs and change records carry (default `us-east-1`).
    pub fn region(mut self, region: impl Into<String>) -> Options {
        self.region = region.into();
        self
    }

    /// The account id that ARNs carry (default `000000000000`).
    pub fn account(mut self, account: impl Into<String>) -> Options {
        self.account = account.into();
        self
    }

    /// A 256-bit key streams can be encrypted with, under the KeyId that
    /// `start_stream_encryption` names. Key material is never written to
    /// disk: the application supplies it at every open.
    pub fn stream_encryption_key(mut self, key_id: impl Into<String>, key: [u8; 32]) -> Options {
        self.stream_keys
            .push((key_id.into(), StreamKey::Bytes(key)));
        self
    }

    /// Like [`Options::stream_encryption_key`], read at open from a file of
    /// 32 raw bytes or 64 hex characters.
    pub fn stream_encryption_key_file(
        mut self,
        key_id: impl Into<String>,
        path: impl Into<std::path::PathBuf>,
    ) -> Options {
        self.stream_keys
            .push((key_id.into(), StreamKey::File(path.into())));
        self
    }

    /// How often expired items are swept (default every second; `None`:
    /// only by [`Database::sweep_expired_items`](crate::Database::sweep_expired_items)).
    pub fn ttl_sweep_interval(mut self, interval: Option<Duration>) -> Options {
        self.ttl_interval = interval;
        self
    }

    /// The clock TTL expiry is judged by, in epoch seconds. A test hook:
    /// only with the `testing` feature.
    #[cfg(feature = "testing")]
    pub fn ttl_clock(mut self, clock: Arc<dyn Fn() -> u64 + Send + Sync>) -> Options {
        self.ttl_clock = clock;
        self
    }
}
