//! What the campaign's parent and child processes share: names, sizes, the
//! database options both open with, the parent's error type, and small
//! helpers for reading tables.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use eddy::{Database, Durability, Item, Options, Scan};

/// The table the writers and the transfer thread write.
pub const TABLE: &str = "torture";
/// The stream the table's streaming destination publishes into.
pub const STREAM: &str = "torture-changes";
/// The application name of the checkpointing consumer (also the name of its
/// lease table).
pub const APP: &str = "torture-consumer";
/// The region both processes open the database with.
pub const REGION: &str = "us-east-1";
/// The stream's ARN, as the destination names it.
pub const STREAM_ARN: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/torture-changes";
/// Accounts the transfer thread moves money between.
pub const ACCOUNTS: usize = 4;
/// The item each transfer also updates: `last_transfer` (the id of the
/// last committed transfer) and `transfers` (how many committed).
pub const LEDGER: &str = "ledger";
/// The item the parent writes after each reopen, to see the destination
/// publish again (`v`: the cycle).
pub const MARKER: &str = "marker";
/// Every account's balance when the campaign starts.
pub const INITIAL_BALANCE: i64 = 1000;
/// Keys each writer thread owns (`t<thread>-k<n>`).
pub const KEYS_PER_THREAD: usize = 16;
/// Sequence numbers of writers are `(cycle + 1) * SEQ_STRIDE + n`, so they
/// grow across cycles and never repeat.
pub const SEQ_STRIDE: u64 = 100_000_000;
/// Most open shards the resharding thread aims for.
pub const MAX_SHARDS: u32 = 8;
/// Retention bounds, hours, the retention thread moves between.
pub const RETENTION_HOURS: (u32, u32) = (24, 48);

/// The options both processes open the database with: `Durability::Sync`,
/// small log segments and frequent checkpoints, so that segment rollover,
/// checkpoints and log truncation happen often enough to be crashed into.
pub fn options() -> Options {
    Options::new()
        .durability(Durability::Sync)
        .segment_size(1 << 20)
        .checkpoint_every_bytes(512 << 10)
        .snapshot_every_bytes(2 << 20)
        .checkpoint_interval(Some(Duration::from_millis(300)))
        .ttl_sweep_interval(None)
        .region(REGION)
}

/// The name of key `k` of writer thread `thread`.
pub fn key_name(thread: usize, k: usize) -> String {
    format!("t{thread}-k{k}")
}

/// The primary key, as JSON, of the item with partition key `pk` (the form
/// [`table_state`] keys items by).
pub fn key_json(pk: &str) -> String {
    Item::new().with("pk", pk).to_json_string()
}

/// Why the campaign stopped: an invariant broke, the child failed, or the
/// parent could not do its own work (I/O, database errors).
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    /// An invariant was violated after a reopen (or the child reported a
    /// failure of its own checks).
    #[error("cycle {cycle} (campaign seed {seed}): {what}")]
    Invariant {
        /// The kill cycle, from 0.
        cycle: u64,
        /// The campaign seed.
        seed: u64,
        /// What broke.
        what: String,
    },
    /// A database call of the parent failed.
    #[error("{context}")]
    Db {
        /// What the parent was doing.
        context: String,
        /// The database's error.
        source: Box<eddy::Error>,
    },
    /// A stream call of the parent failed.
    #[error("{context}")]
    Stream {
        /// What the parent was doing.
        context: String,
        /// The stream engine's error.
        source: Box<eddy::stream::Error>,
    },
    /// The power-cut file system failed (mounting, cutting, exporting).
    #[error("{context}")]
    PowerCut {
        /// What the parent was doing.
        context: String,
        /// The file system's error.
        source: eddy_powercut::Error,
    },
    /// Spawning, killing or talking to the child, or the file system.
    #[error("{context}")]
    Io {
        /// What the parent was doing.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Shorthand for results of the parent.
pub type Result<T> = std::result::Result<T, CampaignError>;

/// Adds context to database and stream errors, turning them into
/// [`CampaignError`]s.
pub trait Context<T> {
    /// Wraps the error with what the parent was doing.
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, eddy::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| CampaignError::Db {
            context: context(),
            source: Box::new(source),
        })
    }
}

impl<T> Context<T> for std::result::Result<T, eddy::stream::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| CampaignError::Stream {
            context: context(),
            source: Box::new(source),
        })
    }
}

impl<T> Context<T> for std::result::Result<T, std::io::Error> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| CampaignError::Io {
            context: context(),
            source,
        })
    }
}

/// Every item of a table, keyed by its primary key's JSON, read through scan
/// pages.
pub fn table_state(db: &Database, table: &str) -> Result<BTreeMap<String, Item>> {
    let schema = db
        .describe_table(table)
        .ctx(|| format!("describing table {table}"))?
        .def
        .key_schema;
    let mut out = BTreeMap::new();
    let mut scan = Scan::default();
    loop {
        let page = db
            .scan(table, &scan)
            .ctx(|| format!("scanning table {table}"))?;
        for item in page.items {
            let key = schema
                .key_of(&item)
                .map_err(|e| CampaignError::Db {
                    context: format!("taking the key of an item of {table}"),
                    source: Box::new(e.into()),
                })?
                .to_json_string();
            out.insert(key, item);
        }
        match page.last_evaluated_key {
            Some(key) => scan.exclusive_start_key = Some(key),
            None => return Ok(out),
        }
    }
}

/// Opens the database in `dir` with [`options`].
pub fn open(dir: &Path) -> eddy::Result<Database> {
    Database::open_with(dir, options())
}
