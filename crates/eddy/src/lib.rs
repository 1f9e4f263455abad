//! eddy: an embedded, durable change-data-capture database with DynamoDB's
//! item model.
//!
//! This crate is the facade users embed. It wires three crates that know
//! nothing of each other:
//!
//! * [`eddy_model`]: items, keys, sizes, change records and their codec;
//! * [`eddy_changelog`]: the write-ahead change log, whose writer thread
//!   group-commits appends received over a crossbeam channel;
//! * [`eddy_store`]: tables of items on sled.
//!
//! A write locks its items' stripes, reads the before images from the
//! store, computes the after images, appends the changes to the log (which
//! acknowledges once they are durable), applies them to the store and
//! returns. Opening a database replays the log from the store's last
//! checkpoint. See `docs/architecture.md` for the flow drawn out.
//!
//! Invariants the tests hold the code to:
//!
//! * every acknowledged write survives `kill -9` (with [`Durability::Sync`],
//!   also a power cut) and is visible to every later read;
//! * every effective change is logged exactly once, with LSNs strictly
//!   increasing and creation times never decreasing; a write that changes
//!   nothing logs nothing;
//! * per item, each logged before image equals the previous logged after
//!   image, and the store equals the fold of the log.
//!
//! ```
//! use eddy::{Database, Item, KeySchema, KeyType, Query, ReturnValues, SortCondition};
//!
//! let dir = tempfile::tempdir()?;
//! let db = Database::open(dir.path())?;
//! db.create_table("orders", KeySchema::new("customer", KeyType::S).with_sort_key("order", KeyType::N))?;
//! for n in 1..=3 {
//!     let item = Item::new().with("customer", "c1").with("order", n).with("total", n * 10);
//!     db.put_item("orders", item, ReturnValues::None)?;
//! }
//! let page = db.query("orders", &Query::new("c1").sort(SortCondition::Ge(2.into())))?;
//! assert_eq!(page.items.len(), 2);
//! let kinds: Vec<String> = db.changes_since(0)?.map(|c| c.map(|c| c.kind().to_string())).collect::<Result<_, _>>()?;
//! assert_eq!(kinds, ["INSERT", "INSERT", "INSERT"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod changes;
mod consumer;
mod db;
mod destinations;
mod error;
mod item_writes;
mod ops;
mod options;
mod pending;
mod publisher;
mod replay;
mod requests;
mod snapshots;
mod table;
mod table_reads;
mod tables;
mod tags;
mod transaction;
mod transactions;
mod ttl;
mod update;
mod write;

pub use changes::{ChangeIter, ChangeSubscription};
pub use consumer::{ConsumerBatch, ConsumerCheckpoint, InitialPosition, StreamConsumer, SHARD_END};
pub use db::{Checkpoint, Database, RecoveryReport, Stats};
pub use destinations::{DestinationChange, DestinationDescription};
pub use error::{Error, ErrorKind, Result};
pub use ops::{
    BatchGetOutput, ReturnValues, WriteRequest, MAX_BATCH_GET, MAX_BATCH_GET_BYTES, MAX_BATCH_WRITE,
};
pub use options::{Durability, Options};
pub use pending::WriteFuture;
pub use publisher::StreamingMetrics;
pub use requests::{
    DeleteItemRequest, ExpressionAttributes, GetItemRequest, PutItemRequest, QueryOutput,
    QueryRequest, ScanRequest, Select, UpdateItemRequest,
};
pub use snapshots::StoreRebuild;
pub use table::{CheckItem, DeleteItem, GetItem, PutItem, Table, UpdateItem};
pub use table_reads::{Pages, QueryTable, ScanTable};
pub use tables::{IndexDescription, TableDescription, TableList};
pub use transaction::Transaction;
pub use transactions::{
    CancellationReason, TransactGetItem, TransactWriteItem, MAX_TRANSACTION_ITEMS, TOKEN_TTL,
};
pub use ttl::TimeToLiveDescription;
pub use update::{Update, UpdateAction};

pub use eddy_model::{
    error_chain, AttributeType, AttributeValue, Change, ChangeKind, ChangeOrigin, ChangeRecord,
    DestinationStatus, IndexDef, IndexKind, IndexProjection, Item, KeySchema, KeyType, Number,
    Precision, StreamingDestination, TableDef,
};
pub use eddy_store::{Page, Query, Scan, SnapshotInfo, SortCondition};

/// The item model's expression language, DynamoDB JSON and the Kinesis
/// record format, for code that parses requests or reads stream records.
pub use eddy_model::{expr, json, stream_record};

/// The errors of the change log and the table store, as
/// [`Error::Log`], [`Error::Store`] and [`Error::StoreUnrecoverable`]
/// carry them.
pub use eddy_changelog::Error as LogError;
pub use eddy_store::Error as StoreError;

/// The Kinesis-style streams engine behind [`Database::streams`]: its
/// handle, its requests and answers, its errors and limits.
pub mod stream {
    pub use eddy_stream::{
        even_split, partition_key_hash, shard_id, system_clock_millis, AppendNotice, Appended,
        ChildShard, Clock, Consumer, ConsumerRef, ConsumerStatus, CreateStream, DecryptFailure,
        Error, GetRecordsOutput, HashKeyRange, IteratorType, PutRecord, PutRecordOutput,
        PutRecordsOutput, PutRecordsResultEntry, Record, Result, SequenceNumber,
        SequenceNumberError, Shard, ShardSubscription, ShardTip, StartingPosition,
        StreamDescription, StreamMode, StreamOptions, StreamStatus, Streams, SubscribeToShardEvent,
        TornTail, TrimReport, UpdateShardCountOutput, Visibility, DEFAULT_SEGMENT_SIZE,
        DEFAULT_SHARD_LIMIT, HEARTBEAT_MILLIS, ITERATOR_TTL_MILLIS, MAX_CONSUMERS_PER_STREAM,
        MAX_EVENT_BYTES, MAX_EVENT_RECORDS, MAX_GET_RECORDS, MAX_GET_RECORDS_BYTES,
        MAX_PUT_RECORDS, MAX_PUT_RECORDS_BYTES, MAX_RECORD_BYTES, SUBSCRIPTION_MILLIS,
        TAKEOVER_MILLIS,
    };
}

/// What tests of code that embeds eddy need: the fault-injecting file
/// layer for [`Options::log_fs`] (fsync failures, full disks, short
/// writes, slow disks). Only with the `testing` feature.
#[cfg(feature = "testing")]
pub mod testing {
    pub use eddy_model::io::fault::FaultFs;
    pub use eddy_model::io::LogFs;
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
