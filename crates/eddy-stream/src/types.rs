//! The public request and response shapes, named after their Kinesis
//! counterparts so a server can map them 1:1 to the wire.

use crate::hashkey::HashKeyRange;
use crate::seqnum::SequenceNumber;

/// `StreamModeDetails.StreamMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StreamMode {
    /// Fixed shard count, resharding allowed.
    #[default]
    Provisioned,
    /// Capacity managed by the service; resharding is a `ValidationException`.
    OnDemand,
}

impl StreamMode {
    /// The wire name: `PROVISIONED` or `ON_DEMAND`.
    pub fn as_str(&self) -> &'static str {
        match self {
            StreamMode::Provisioned => "PROVISIONED",
            StreamMode::OnDemand => "ON_DEMAND",
        }
    }
}

/// `StreamStatus`. Operations here are synchronous, so a stream is observed
/// `ACTIVE` whenever it exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamStatus {
    /// Readable and writable.
    Active,
}

impl StreamStatus {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        "ACTIVE"
    }
}

/// `CreateStream` input (besides the name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateStream {
    /// `ShardCount`; `None` starts 4 shards.
    pub shard_count: Option<u32>,
    /// Capacity mode.
    pub mode: StreamMode,
}

/// One record to put (`PutRecord` / a `PutRecords` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutRecord {
    /// `PartitionKey`, 1..=256 Unicode characters.
    pub partition_key: String,
    /// `Data`, the record payload.
    pub data: Vec<u8>,
    /// `ExplicitHashKey`, a decimal in `[0, 2^128-1]` overriding the MD5 of
    /// the partition key.
    pub explicit_hash_key: Option<String>,
}

impl PutRecord {
    /// A record routed by its partition key.
    pub fn new(partition_key: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        PutRecord {
            partition_key: partition_key.into(),
            data: data.into(),
            explicit_hash_key: None,
        }
    }
}

/// `PutRecord` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutRecordOutput {
    /// `ShardId` the record went to.
    pub shard_id: String,
    /// `SequenceNumber` assigned.
    pub sequence_number: String,
}

/// Where one appended record went: its shard and position, from which
/// its shard id and sequence number are rendered when asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placed {
    pub shard_index: u32,
    pub shard_created_secs: u64,
    pub seq_ix: u64,
    pub arrival_millis: u64,
}

impl Placed {
    /// The record's sequence number.
    pub fn sequence_number(&self) -> SequenceNumber {
        SequenceNumber::new(
            self.shard_created_secs,
            self.shard_index,
            self.seq_ix,
            self.arrival_millis / 1000,
        )
    }

    /// As `PutRecord` reports it.
    pub fn output(&self) -> PutRecordOutput {
        PutRecordOutput {
            shard_id: shard_id(self.shard_index),
            sequence_number: self.sequence_number().to_string(),
        }
    }
}

/// What [`crate::Streams::append_batch_with`] stored: one entry per
/// record, in input order. Shard ids and sequence numbers are rendered
/// only when asked for, since rendering a 56-digit sequence number costs
/// more than routing the record, and an internal publisher does not need
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub(crate) placed: Vec<Placed>,
}

impl Appended {
    /// How many records were stored.
    pub fn len(&self) -> usize {
        self.placed.len()
    }

    /// Whether there were none.
    pub fn is_empty(&self) -> bool {
        self.placed.is_empty()
    }

    /// Each record's shard id and sequence number, as `PutRecord` reports
    /// them.
    pub fn outputs(&self) -> Vec<PutRecordOutput> {
        self.placed.iter().map(Placed::output).collect()
    }
}

/// One entry of `PutRecords` output, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutRecordsResultEntry {
    /// The record was stored durably.
    Ok(PutRecordOutput),
    /// The record was not stored.
    Failed {
        /// `ErrorCode` (`InternalFailure`).
        error_code: String,
        /// `ErrorMessage`.
        error_message: String,
    },
}

/// `PutRecords` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutRecordsOutput {
    /// `FailedRecordCount`.
    pub failed_record_count: u32,
    /// `Records`, same length and order as the request.
    pub records: Vec<PutRecordsResultEntry>,
}

/// A shard as shown by `DescribeStream` / `ListShards`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    /// `ShardId`, e.g. `shardId-000000000000`.
    pub shard_id: String,
    /// `ParentShardId`.
    pub parent_shard_id: Option<String>,
    /// `AdjacentParentShardId`.
    pub adjacent_parent_shard_id: Option<String>,
    /// `HashKeyRange`.
    pub hash_key_range: HashKeyRange,
    /// `SequenceNumberRange.StartingSequenceNumber`.
    pub starting_sequence_number: String,
    /// `SequenceNumberRange.EndingSequenceNumber`, set once closed.
    pub ending_sequence_number: Option<String>,
}

/// `DescribeStream` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDescription {
    /// `StreamName`.
    pub stream_name: String,
    /// `StreamARN`.
    pub stream_arn: String,
    /// `StreamStatus`.
    pub stream_status: StreamStatus,
    /// `StreamModeDetails.StreamMode`.
    pub stream_mode: StreamMode,
    /// `RetentionPeriodHours`.
    pub retention_period_hours: u32,
    /// `StreamCreationTimestamp` in epoch milliseconds.
    pub stream_creation_millis: u64,
    /// Open and closed-but-unexpired shards, by index.
    pub shards: Vec<Shard>,
    /// `OpenShardCount` (from `DescribeStreamSummary`).
    pub open_shard_count: u32,
    /// `ConsumerCount` (from `DescribeStreamSummary`): registered
    /// enhanced fan-out consumers.
    pub consumer_count: u32,
    /// `EncryptionType`: `"KMS"` while new records are encrypted
    /// ([`crate::Streams::start_stream_encryption`]), else `"NONE"`.
    pub encryption_type: &'static str,
    /// `KeyId`: the key new records are encrypted with, if any.
    pub key_id: Option<String>,
}

/// `ShardIteratorType` with its argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IteratorType {
    /// The oldest record within the retention window.
    TrimHorizon,
    /// Just after the newest record.
    Latest,
    /// At the given sequence number.
    AtSequenceNumber(String),
    /// Just after the given sequence number.
    AfterSequenceNumber(String),
    /// The first record that arrived at or after the epoch milliseconds.
    AtTimestamp(u64),
}

/// A record as returned by `GetRecords`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `SequenceNumber`.
    pub sequence_number: String,
    /// `ApproximateArrivalTimestamp` in epoch milliseconds.
    pub approximate_arrival_millis: u64,
    /// `Data`.
    pub data: Vec<u8>,
    /// `PartitionKey`.
    pub partition_key: String,
    /// `EncryptionType`: `Some("KMS")` for a record stored encrypted,
    /// `None` for a plain one.
    pub encryption_type: Option<String>,
}

/// `ChildShards` entry of `GetRecords`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildShard {
    /// `ShardId`.
    pub shard_id: String,
    /// `ParentShards`.
    pub parent_shards: Vec<String>,
    /// `HashKeyRange`.
    pub hash_key_range: HashKeyRange,
}

/// `GetRecords` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetRecordsOutput {
    /// `Records`, in sequence-number order.
    pub records: Vec<Record>,
    /// `NextShardIterator`; `None` once a closed shard has been read to its end.
    pub next_shard_iterator: Option<String>,
    /// `MillisBehindLatest`: 0 when caught up.
    pub millis_behind_latest: u64,
    /// `ChildShards`, only when the end of a closed shard is reached.
    pub child_shards: Vec<ChildShard>,
}

/// The newest record of a shard, as [`crate::Streams::shard_tips`] reports
/// it: enough to tell how far behind the tip a consumer's position is
/// without reading the shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardTip {
    /// The shard's id.
    pub shard_id: String,
    /// Records the shard has received, including those retention has
    /// trimmed since: the per-shard index of the newest record (a record's
    /// [`crate::SequenceNumber::seq_ix`]), 0 for a shard that never
    /// received one.
    pub records: u64,
    /// `SequenceNumber` of the newest record; `None` when the shard never
    /// received a record or its newest record is no longer on disk.
    pub sequence_number: Option<String>,
    /// `ApproximateArrivalTimestamp` of the newest record, epoch
    /// milliseconds; `None` as for `sequence_number`.
    pub approximate_arrival_millis: Option<u64>,
}

/// `UpdateShardCount` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateShardCountOutput {
    /// `StreamName`.
    pub stream_name: String,
    /// `StreamARN`.
    pub stream_arn: String,
    /// `CurrentShardCount` (open shards before the call).
    pub current_shard_count: u32,
    /// `TargetShardCount`.
    pub target_shard_count: u32,
}

/// Sent on a [`crate::Streams::subscribe`] channel after records became
/// readable in a shard (see [`Visibility`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendNotice {
    /// The stream.
    pub stream_name: String,
    /// The shard that received records.
    pub shard_id: String,
    /// Sequence number of the last record of the append.
    pub last_sequence_number: String,
    /// Records in the append.
    pub count: u32,
}

/// `shardId-` followed by the 12-digit zero-padded index.
pub fn shard_id(index: u32) -> String {
    format!("shardId-{index:012}")
}

/// Parse a shard id of the `shardId-<12 digits>` form.
pub(crate) fn parse_shard_id(id: &str) -> Option<u32> {
    let digits = id.strip_prefix("shardId-")?;
    (digits.len() == 12 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// When an append's records become readable (to `GetRecords`, shard
/// subscriptions and the append notices), relative to their `fsync`.
///
/// Either way the append returns only after the `fsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Visibility {
    /// After the `fsync`: no reader ever sees a record that a power cut can
    /// take back. `PutRecord` and `PutRecords` append this way.
    #[default]
    Durable,
    /// As soon as the records are written, before the `fsync`, so their
    /// delivery does not wait for the disk. Only for an appender that can
    /// write the records again after a power cut, such as a table's
    /// streaming destination, whose publisher resumes from the change log
    /// at the position it saved after its last `fsync`ed append. A failed
    /// `fsync` poisons the shard (its records were seen, so they cannot be
    /// cut back) until the streams are reopened.
    Written,
}

/// A torn tail the open cut off the newest segment of a shard
/// ([`Streams::torn_tails`](crate::Streams::torn_tails)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The stream's name.
    pub stream: String,
    /// The shard's id.
    pub shard_id: String,
    /// The segment that was cut.
    pub segment: std::path::PathBuf,
    /// Where it now ends.
    pub offset: u64,
    /// How many bytes were cut off.
    pub discarded_bytes: u64,
}
