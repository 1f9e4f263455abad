//! The stream publisher: committed changes → Kinesis records.
//!
//! Each active destination has a publisher thread. It follows the change log
//! with a [`ChangeSubscription`](crate::ChangeSubscription)-like feed from
//! the destination's published position, turns every change of its table
//! inside the destination's window into the JSON record DynamoDB writes
//! (with the precision in force when the change was committed), appends the
//! records to the stream in batches, and then records its new position.
//!
//! Guarantees, and why they hold:
//!
//! * **Writers never wait for it.** The change log delivers to subscribers
//!   with non-blocking sends; a slow publisher catches up from the segments.
//! * **Nothing committed is missed.** The position is saved only after the
//!   stream has acknowledged (fsynced) the records, and the change log keeps
//!   every segment above the lowest saved position of any destination (the
//!   checkpoint reads positions before it flushes them).
//! * **Duplicates are recognisable.** After a crash the publisher resumes at
//!   its last saved position and may publish some changes again; they carry
//!   the same event id (derived from the LSN), so consumers can drop them.
//! * **Delivery does not wait for the stream's fsync.** The records are
//!   appended with [`Visibility::Written`]: readers and fan-out subscribers
//!   get them as soon as they are written, and the append returns after
//!   the fsync. A power cut can take back records that were read but not
//!   yet fsynced; the position was not saved past them, so they are
//!   published again, with the same event ids and at the same positions
//!   (`seqIx`) in their shards unless a shard took other records meanwhile.
//!   This keeps the stream's disk latency out of commit-to-delivery
//!   latency; the change log, not the stream, is what makes a change
//!   durable.
//! * **Failures are not silent.** A failed append (stream deleted, disk
//!   full) is written into the destination's status description and retried
//!   with backoff; the change log keeps everything meanwhile.
//! * **Per-item order.** The partition key is derived from the item's key,
//!   so all changes of an item go to one shard, in LSN order.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use eddy_changelog::Subscription;
use eddy_model::stream_record::{partition_key, KinesisRecord};
use eddy_model::{codec, ChangeRecord, StreamingDestination};
use eddy_stream::{PutRecord, Visibility};

use crate::db::Inner;
use crate::error::{Error, Result};

/// Records published in one stream append, at most.
const BATCH_RECORDS: usize = 500;
/// Bytes of record data in one stream append, at most.
const BATCH_BYTES: usize = 4 << 20;
/// Kinesis's record size limit: larger change records are skipped, as
/// DynamoDB does, and counted.
const MAX_RECORD_BYTES: usize = 1 << 20;

/// Per-table publishing counters since the database was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamingMetrics {
    /// Change records written to the stream.
    pub records_published: u64,
    /// Change data capture units of those records.
    pub cdc_units: u64,
    /// Change records skipped because they exceed 1 MiB.
    pub failed_to_replicate: u64,
}

impl Inner {
    /// Resolves a stream ARN of this database to the stream's name; the
    /// error text says why it cannot be used (no such stream, or an ARN of
    /// another region or account).
    pub(crate) fn stream_name_for_arn(&self, arn: &str) -> std::result::Result<String, String> {
        if !arn.starts_with("arn:") {
            return Err(format!("{arn} is not a stream ARN"));
        }
        self.streams
            .describe_stream(arn)
            .map(|d| d.stream_name)
            .map_err(|e| e.to_string())
    }
}

/// Starts the publisher thread of a destination (if it is not running).
pub(crate) fn start(inner: &Arc<Inner>, key: (u64, String)) {
    let mut running = inner.publishers.lock();
    if running.get(&key).is_some_and(|h| !h.is_finished()) {
        return;
    }
    let weak = Arc::downgrade(inner);
    let thread_key = key.clone();
    match std::thread::Builder::new()
        .name(format!("eddy-publish-{}", key.0))
        .spawn(move || run(weak, thread_key))
    {
        Ok(handle) => {
            running.insert(key, handle);
        }
        Err(e) => tracing::error!(error = %e, "cannot start a publisher thread"),
    }
}

/// The destination as the publisher should see it now, or `None` when it
/// has nothing (more) to do.
fn current(inner: &Inner, key: &(u64, String)) -> Option<StreamingDestination> {
    inner
        .destinations
        .lock()
        .get(key)
        .filter(|d| !d.is_drained())
        .cloned()
}

fn run(weak: Weak<Inner>, key: (u64, String)) {
    let mut backoff = Duration::from_millis(50);
    // The live feed from the change log, from the published position; it is
    // dropped after an error, so the batch is re-read from the position.
    let mut feed: Option<Subscription> = None;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        if inner.closed.load(Ordering::Acquire) {
            return;
        }
        let Some(destination) = current(&inner, &key) else {
            return;
        };
        let result = match feed.as_mut() {
            Some(feed) => publish_some(&inner, &key, feed),
            None => inner
                .log
                .subscribe(destination.published_lsn + 1)
                .map_err(Error::from)
                .map(|sub| {
                    feed = Some(sub);
                }),
        };
        drop(inner);
        match result {
            Ok(()) => backoff = Duration::from_millis(50),
            Err(e) => {
                feed = None;
                if let Some(inner) = weak.upgrade() {
                    tracing::warn!(table_id = key.0, stream = %key.1, error = %e, "publishing stalls");
                    set_description(
                        &inner,
                        &key,
                        Some(format!("Publishing to the stream failed: {e}")),
                    );
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn set_description(inner: &Inner, key: &(u64, String), description: Option<String>) {
    let updated = {
        let mut map = inner.destinations.lock();
        match map.get_mut(key) {
            Some(d) if d.status_description != description => {
                d.status_description = description;
                Some(d.clone())
            }
            _ => None,
        }
    };
    if let Some(d) = updated {
        if let Err(e) = inner.save_destination(&d, false) {
            tracing::error!(error = %e, "saving a destination's status");
        }
    }
}

/// Waits briefly for committed changes after the destination's position and
/// publishes what arrived, as one stream append.
fn publish_some(inner: &Inner, key: &(u64, String), feed: &mut Subscription) -> Result<()> {
    let Some(first) = feed.recv_timeout(Duration::from_millis(50))? else {
        return Ok(());
    };
    // Read the destination after the wait, so a precision update or a
    // disable made meanwhile is seen.
    let Some(destination) = current(inner, key) else {
        return Ok(());
    };
    let mut records = Vec::new();
    let mut bytes = 0;
    let mut last = destination.published_lsn;
    let mut metrics = StreamingMetrics::default();
    let mut next = Some(first);
    while let Some(entry) = next.take() {
        if destination
            .stop_after_lsn
            .is_some_and(|stop| entry.lsn > stop)
        {
            break;
        }
        last = entry.lsn;
        let change =
            codec::decode_change(&entry.payload).map_err(|source| Error::CorruptRecord {
                lsn: entry.lsn,
                source,
            })?;
        if change.table_id == destination.table_id && destination.covers(entry.lsn) {
            let record = ChangeRecord {
                lsn: entry.lsn,
                created_micros: entry.micros,
                change,
            };
            let precision = destination.precision_for(entry.lsn);
            let data = KinesisRecord::new(&record, inner.region(), precision).to_json_bytes();
            let key = partition_key(&record.change.table, &record.change.keys);
            if data.len() + key.len() > MAX_RECORD_BYTES {
                metrics.failed_to_replicate += 1;
            } else {
                metrics.records_published += 1;
                metrics.cdc_units += record.cdc_units();
                bytes += data.len() + key.len();
                records.push((key, data));
            }
        }
        if records.len() < BATCH_RECORDS && bytes < BATCH_BYTES {
            next = feed.try_recv()?;
        }
    }
    if !records.is_empty() {
        let stream = inner
            .stream_name_for_arn(&destination.stream_arn)
            .map_err(Error::Validation)?;
        let records = records
            .into_iter()
            .map(|(key, data)| PutRecord::new(key, data))
            .collect();
        inner
            .streams
            .append_batch_with(&stream, records, Visibility::Written)?;
    }
    // The records are durable in the stream: move the position.
    let updated = {
        let mut map = inner.destinations.lock();
        let Some(d) = map.get_mut(key) else {
            return Ok(());
        };
        d.published_lsn = d.published_lsn.max(last);
        d.status_description = None;
        d.clone()
    };
    inner.save_destination(&updated, false)?;
    let mut all = inner.streaming_metrics.lock();
    let m = all.entry(destination.table_id).or_default();
    m.records_published += metrics.records_published;
    m.cdc_units += metrics.cdc_units;
    m.failed_to_replicate += metrics.failed_to_replicate;
    Ok(())
}
