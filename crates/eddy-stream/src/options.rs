//! [`StreamOptions`]: how a [`crate::Streams`] database is opened.
//!
//! Everything environmental is injectable: the file layer (so tests can fail
//! fsyncs), and the clock (so retention and iterator expiry can be tested
//! without waiting). Encryption keys are supplied here too: eddy has no
//! key service, so the embedding application hands over key material under
//! ids, and only the ids are ever persisted ([`crate::crypto`] module docs).

use crate::crypto::KeySource;
use eddy_model::io::{LogFs, StdFs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A clock returning epoch milliseconds.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Default segment size: 64 MiB.
pub const DEFAULT_SEGMENT_SIZE: u64 = 64 * 1024 * 1024;
/// Default limit on open shards across all streams.
pub const DEFAULT_SHARD_LIMIT: u32 = 500;

/// The system clock in epoch milliseconds.
pub fn system_clock_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Options for [`crate::Streams::open`], built fluently.
///
/// ```
/// use eddy_stream::StreamOptions;
/// let opts = StreamOptions::new().region("eu-west-1").account_id("123456789012")
///     .segment_size(1 << 20).clock(std::sync::Arc::new(|| 1_700_000_000_000));
/// assert_eq!(opts.region_name(), "eu-west-1");
/// ```
#[derive(Clone)]
pub struct StreamOptions {
    pub(crate) region: String,
    pub(crate) account_id: String,
    pub(crate) fs: Arc<dyn LogFs>,
    pub(crate) clock: Clock,
    pub(crate) segment_size: u64,
    pub(crate) shard_limit: u32,
    pub(crate) trim_interval: Option<Duration>,
    pub(crate) notify_capacity: usize,
    pub(crate) subscription_buffer: usize,
    /// Encryption keys by id, in registration order (later wins).
    pub(crate) keys: Vec<(String, KeySource)>,
}

impl std::fmt::Debug for StreamOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamOptions")
            .field("region", &self.region)
            .field("account_id", &self.account_id)
            .field("segment_size", &self.segment_size)
            .field("shard_limit", &self.shard_limit)
            .field("trim_interval", &self.trim_interval)
            .field(
                "encryption_key_ids",
                &self.keys.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            fs: Arc::new(StdFs),
            clock: Arc::new(system_clock_millis),
            segment_size: DEFAULT_SEGMENT_SIZE,
            shard_limit: DEFAULT_SHARD_LIMIT,
            trim_interval: None,
            notify_capacity: 1024,
            subscription_buffer: 64,
            keys: Vec::new(),
        }
    }
}

impl StreamOptions {
    /// Defaults: region `us-east-1`, account `000000000000`, [`StdFs`], the
    /// system clock, 64 MiB segments, 500 open shards, no background trimmer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The region used in ARNs and messages.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// The account id used in ARNs and messages.
    pub fn account_id(mut self, account: impl Into<String>) -> Self {
        self.account_id = account.into();
        self
    }

    /// The file layer all I/O goes through.
    pub fn fs(mut self, fs: Arc<dyn LogFs>) -> Self {
        self.fs = fs;
        self
    }

    /// The clock (epoch milliseconds).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Size at which a shard's active segment is rolled (minimum 4 KiB).
    pub fn segment_size(mut self, bytes: u64) -> Self {
        self.segment_size = bytes.max(4096);
        self
    }

    /// Limit on open shards across all streams (`LimitExceededException`).
    pub fn shard_limit(mut self, limit: u32) -> Self {
        self.shard_limit = limit;
        self
    }

    /// Run [`crate::Streams::trim_expired`] on a background thread at this
    /// interval. The thread stops when the last handle is dropped.
    pub fn trim_interval(mut self, every: Duration) -> Self {
        self.trim_interval = Some(every);
        self
    }

    /// Capacity of each [`crate::Streams::subscribe`] channel (minimum 1).
    pub fn notify_capacity(mut self, capacity: usize) -> Self {
        self.notify_capacity = capacity.max(1);
        self
    }

    /// Events buffered per `SubscribeToShard` subscription (minimum 1,
    /// default 64) before its delivery falls back to catching up from disk.
    pub fn subscription_buffer(mut self, events: usize) -> Self {
        self.subscription_buffer = events.max(1);
        self
    }

    /// Make a 256-bit AES key available under `key_id` (1..=2048
    /// characters), the `KeyId` that
    /// [`crate::Streams::start_stream_encryption`] names. Several keys may
    /// be configured; registering an id again replaces its key. Records
    /// stay readable only while the key they were written with is
    /// configured under the same id. The key is kept in memory only.
    ///
    /// ```
    /// let opts = eddy_stream::StreamOptions::new().encryption_key("app-key-1", [7u8; 32]);
    /// ```
    pub fn encryption_key(mut self, key_id: impl Into<String>, key: [u8; 32]) -> Self {
        self.keys.push((key_id.into(), KeySource::Bytes(key)));
        self
    }

    /// Like [`StreamOptions::encryption_key`], with the key read at
    /// [`crate::Streams::open`] from `path` (through the file layer): exactly
    /// 32 raw bytes, or 64 hex characters optionally surrounded by
    /// whitespace. A missing or malformed file makes `open` fail
    /// ([`crate::Error::KeyConfig`] or [`crate::Error::Io`]).
    pub fn encryption_key_file(
        mut self,
        key_id: impl Into<String>,
        path: impl Into<PathBuf>,
    ) -> Self {
        self.keys
            .push((key_id.into(), KeySource::File(path.into())));
        self
    }

    /// The configured region.
    pub fn region_name(&self) -> &str {
        &self.region
    }
}
