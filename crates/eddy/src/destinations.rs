//! Kinesis streaming destinations: the control plane.
//!
//! A table can stream its item changes into one Kinesis-style stream of the
//! same database, in the record format DynamoDB writes (see
//! [`eddy_model::stream_record`]). This module keeps the destinations, in
//! memory and in the store's state records (flushed on every control-plane
//! change, so a destination exists durably once enable returns), and applies
//! DynamoDB's state machine and error messages
//! (`shared/reference/aws-behaviour.md` §2). The publishing itself is in
//! [`crate::publisher`].
//!
//! eddy enables, updates and disables synchronously: the calls answer with
//! the transitional status AWS answers with (`ENABLING`, `UPDATING`,
//! `DISABLING`), and the destination is already in its next state
//! (`ACTIVE`, `ACTIVE`, `DISABLED`, or `ENABLE_FAILED` when the stream does
//! not exist) when they return.

use std::collections::BTreeMap;

use eddy_model::codec;
use eddy_model::{DestinationStatus, Precision, StreamingDestination};

use crate::db::{Database, Inner};
use crate::error::{Error, Result};

/// Prefix of the store state records holding destinations.
const STATE_PREFIX: &str = "destination/";

/// A destination as DescribeKinesisStreamingDestination shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationDescription {
    /// The stream's ARN.
    pub stream_arn: String,
    /// The destination's status.
    pub status: DestinationStatus,
    /// Why the destination failed or stalls, if it does.
    pub status_description: Option<String>,
    /// The precision, if one was ever set.
    pub precision: Option<Precision>,
}

/// The answer to enable, update and disable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationChange {
    /// The table's name.
    pub table_name: String,
    /// The stream's ARN.
    pub stream_arn: String,
    /// The transitional status AWS answers with.
    pub status: DestinationStatus,
    /// The precision given with the call, echoed.
    pub precision: Option<Precision>,
}

/// Every destination, keyed by table id and stream ARN.
pub(crate) type DestinationMap = BTreeMap<(u64, String), StreamingDestination>;

fn state_key(table_id: u64, arn: &str) -> String {
    format!("{STATE_PREFIX}{table_id:020}/{arn}")
}

fn invalid_state(detail: &str) -> Error {
    Error::Validation(format!(
        "Table is not in a valid state to enable Kinesis Streaming Destination: {detail}"
    ))
}

impl Inner {
    /// Loads the destinations from the store (at open).
    pub(crate) fn load_destinations(store: &eddy_store::Store) -> Result<DestinationMap> {
        let mut map = DestinationMap::new();
        for (key, bytes) in store.state_with_prefix(STATE_PREFIX)? {
            let d = codec::decode_destination(&bytes).map_err(|source| Error::Corrupt {
                what: format!("state record {key}"),
                source,
            })?;
            map.insert((d.table_id, d.stream_arn.clone()), d);
        }
        Ok(map)
    }

    /// Stores a destination; `flush` makes it durable now (control-plane
    /// changes), otherwise it is durable at the next checkpoint (publisher
    /// progress, which may safely be repeated after a crash).
    pub(crate) fn save_destination(&self, d: &StreamingDestination, flush: bool) -> Result<()> {
        self.store.put_state(
            &state_key(d.table_id, &d.stream_arn),
            &codec::encode_destination(d),
        )?;
        if flush {
            self.store.flush()?;
        }
        Ok(())
    }

    /// The lowest LSN some destination still has to publish from, minus
    /// one, as the store holds the positions (the publishers' in-memory
    /// positions run ahead of it): the change log must keep everything
    /// above it.
    pub(crate) fn stored_publish_floor(&self) -> Result<Option<u64>> {
        Ok(Inner::load_destinations(&self.store)?
            .values()
            .filter(|d| !d.is_drained())
            .map(|d| d.published_lsn)
            .min())
    }

    /// Ends the destinations of a deleted table (their publishers drain what
    /// was committed before the deletion).
    pub(crate) fn end_destinations_of(&self, table_id: u64) -> Result<()> {
        let stop = self.log.committed_lsn();
        let ended: Vec<StreamingDestination> = {
            let mut map = self.destinations.lock();
            map.values_mut()
                .filter(|d| d.table_id == table_id && d.stop_after_lsn.is_none())
                .map(|d| {
                    d.status = DestinationStatus::Disabled;
                    d.stop_after_lsn = Some(stop);
                    d.clone()
                })
                .collect()
        };
        for d in &ended {
            self.save_destination(d, true)?;
        }
        Ok(())
    }
}

impl Database {
    /// Starts streaming the table's changes into the stream `stream_arn`
    /// (EnableKinesisStreamingDestination). Only changes committed after
    /// this call are streamed. Answers `ENABLING`; the destination is
    /// `ACTIVE`, or `ENABLE_FAILED` if the stream does not exist, when this
    /// returns.
    pub fn enable_kinesis_streaming_destination(
        &self,
        table: &str,
        stream_arn: &str,
        precision: Option<Precision>,
    ) -> Result<DestinationChange> {
        let inner = &self.inner;
        inner.check_writable()?;
        let def = inner.store.table(table)?;
        let stream_missing = inner.stream_name_for_arn(stream_arn).err();
        let d = {
            let mut map = inner.destinations.lock();
            let busy = map.values().any(|d| {
                d.table_id == def.id
                    && !matches!(
                        d.status,
                        DestinationStatus::Disabled | DestinationStatus::EnableFailed
                    )
            });
            if busy {
                return Err(invalid_state(
                    "EnableKinesisStreamingDestination must be DISABLED or ENABLE_FAILED to perform ENABLE operation.",
                ));
            }
            let start = inner.log.committed_lsn();
            let d = StreamingDestination {
                table_id: def.id,
                stream_arn: stream_arn.to_string(),
                status: if stream_missing.is_some() {
                    DestinationStatus::EnableFailed
                } else {
                    DestinationStatus::Active
                },
                status_description: stream_missing,
                start_after_lsn: start,
                stop_after_lsn: None,
                published_lsn: start,
                precisions: vec![(start, precision)],
            };
            map.insert((def.id, stream_arn.to_string()), d.clone());
            d
        };
        inner.save_destination(&d, true)?;
        if d.status == DestinationStatus::Active {
            crate::publisher::start(&self.inner, (d.table_id, d.stream_arn.clone()));
        }
        Ok(DestinationChange {
            table_name: def.name,
            stream_arn: stream_arn.to_string(),
            status: DestinationStatus::Enabling,
            precision,
        })
    }

    /// Waits until every streaming destination has published every change
    /// committed before this call (or `timeout` passes); returns whether it
    /// got there. For tests, tools and orderly shutdowns.
    pub fn wait_for_streaming(&self, timeout: std::time::Duration) -> Result<bool> {
        self.inner.check_open()?;
        let target = self.inner.log.committed_lsn();
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let behind = self.inner.destinations.lock().values().any(|d| {
                let end = d.stop_after_lsn.map_or(target, |stop| stop.min(target));
                d.status != DestinationStatus::EnableFailed && d.published_lsn < end
            });
            if !behind {
                return Ok(true);
            }
            if std::time::Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// The table's streaming destinations (DescribeKinesisStreamingDestination).
    pub fn describe_kinesis_streaming_destination(
        &self,
        table: &str,
    ) -> Result<Vec<DestinationDescription>> {
        self.inner.check_open()?;
        let def = self.inner.store.table(table)?;
        Ok(self
            .inner
            .destinations
            .lock()
            .values()
            .filter(|d| d.table_id == def.id)
            .map(|d| DestinationDescription {
                stream_arn: d.stream_arn.clone(),
                status: d.status,
                status_description: d.status_description.clone(),
                precision: d.precision(),
            })
            .collect())
    }

    /// How far a table's destination into `stream_arn` has published: the
    /// LSN of the last change its publisher has handled (appended to the
    /// stream or passed over as another table's), to compare with
    /// [`Database::last_lsn`]. `None` if the table has no destination into
    /// that stream.
    pub fn streaming_published_lsn(&self, table: &str, stream_arn: &str) -> Result<Option<u64>> {
        self.inner.check_open()?;
        let def = self.inner.store.table(table)?;
        Ok(self
            .inner
            .destinations
            .lock()
            .get(&(def.id, stream_arn.to_string()))
            .map(|d| d.published_lsn))
    }

    /// Changes the timestamp precision of an active destination
    /// (UpdateKinesisStreamingDestination). Changes committed after this call
    /// are written with the new precision. Answers `UPDATING`.
    pub fn update_kinesis_streaming_destination(
        &self,
        table: &str,
        stream_arn: &str,
        precision: Option<Precision>,
    ) -> Result<DestinationChange> {
        let inner = &self.inner;
        inner.check_writable()?;
        let def = inner.store.table(table)?;
        let Some(precision) = precision else {
            return Err(Error::Validation(
                "Streaming destination cannot be updated with given parameters: UpdateKinesisStreamingConfiguration cannot be null or contain only null values".into(),
            ));
        };
        let d = {
            let mut map = inner.destinations.lock();
            let d = map
                .get_mut(&(def.id, stream_arn.to_string()))
                .filter(|d| d.status == DestinationStatus::Active)
                .ok_or_else(|| {
                    invalid_state(&format!(
                        "No streaming destination with streamArn: {stream_arn} found for table with tableName: {table}"
                    ))
                })?;
            if d.precision() == Some(precision) {
                return Err(Error::Validation(format!(
                    "Invalid Request: Precision is already set to the desired value of {} for tableId: {}, kdsArn: {stream_arn}",
                    precision.as_str(),
                    def.id
                )));
            }
            let after = inner.log.committed_lsn();
            // Entries the publisher has passed are no longer needed.
            let published = d.published_lsn;
            while d.precisions.len() > 1 && d.precisions[1].0 <= published {
                d.precisions.remove(0);
            }
            d.precisions.push((after, Some(precision)));
            d.clone()
        };
        inner.save_destination(&d, true)?;
        Ok(DestinationChange {
            table_name: def.name,
            stream_arn: stream_arn.to_string(),
            status: DestinationStatus::Updating,
            precision: Some(precision),
        })
    }

    /// Stops streaming the table's changes to the stream
    /// (DisableKinesisStreamingDestination). Changes committed before the
    /// call are still delivered. Answers `DISABLING`.
    pub fn disable_kinesis_streaming_destination(
        &self,
        table: &str,
        stream_arn: &str,
    ) -> Result<DestinationChange> {
        let inner = &self.inner;
        inner.check_writable()?;
        let def = inner.store.table(table)?;
        let d = {
            let mut map = inner.destinations.lock();
            let d = map
                .get_mut(&(def.id, stream_arn.to_string()))
                .filter(|d| d.status == DestinationStatus::Active)
                .ok_or_else(|| {
                    invalid_state(
                        "KinesisStreamingDestination must be ACTIVE to perform DISABLE operation.",
                    )
                })?;
            d.status = DestinationStatus::Disabled;
            d.stop_after_lsn = Some(inner.log.committed_lsn());
            d.clone()
        };
        inner.save_destination(&d, true)?;
        Ok(DestinationChange {
            table_name: def.name,
            stream_arn: stream_arn.to_string(),
            status: DestinationStatus::Disabling,
            precision: None,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::{Database, Item, KeySchema, KeyType, ReturnValues};
    use eddy_stream::CreateStream;
    use std::time::Duration;

    /// Creates table `items` and stream `s`; returns the stream's ARN.
    fn table_and_stream(db: &Database) -> String {
        db.create_table("items", KeySchema::new("id", KeyType::S))
            .unwrap();
        db.streams()
            .create_stream("s", CreateStream::default())
            .unwrap();
        db.streams().stream_arn("s").unwrap()
    }

    #[test]
    fn published_lsn_follows_the_change_log() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let arn = table_and_stream(&db);
        assert_eq!(db.streaming_published_lsn("items", &arn).unwrap(), None);
        db.put_item("items", Item::new().with("id", "a"), ReturnValues::None)
            .unwrap();
        db.enable_kinesis_streaming_destination("items", &arn, None)
            .unwrap();
        assert_eq!(db.streaming_published_lsn("items", &arn).unwrap(), Some(1));
        db.put_item("items", Item::new().with("id", "b"), ReturnValues::None)
            .unwrap();
        assert!(db.wait_for_streaming(Duration::from_secs(10)).unwrap());
        assert_eq!(
            db.streaming_published_lsn("items", &arn).unwrap(),
            Some(db.last_lsn())
        );
        assert!(db.streaming_published_lsn("nope", &arn).is_err());
    }

    /// The window the checkpoint must respect: a publisher has moved its
    /// position in memory but not yet stored it. The test puts the store in
    /// that state (an older position stored than the publisher holds),
    /// checkpoints, then closes and reopens: the log must still hold every
    /// change after the stored position, and the destination must publish
    /// again. With the floor read from memory the checkpoint cut the log
    /// past the stored position and the reopened publisher stalled.
    #[test]
    fn a_checkpoint_keeps_the_log_from_the_stored_publisher_position() {
        let dir = tempfile::tempdir().unwrap();
        let options = || {
            crate::Options::new()
                .segment_size(4096)
                .checkpoint_every_bytes(u64::MAX)
                .checkpoint_interval(None)
        };
        let db = Database::open_with(dir.path(), options()).unwrap();
        let arn = table_and_stream(&db);
        db.enable_kinesis_streaming_destination("items", &arn, None)
            .unwrap();
        for i in 0..300 {
            let item = Item::new()
                .with("id", format!("k{i}"))
                .with("pad", "x".repeat(100));
            db.put_item("items", item, ReturnValues::None).unwrap();
        }
        assert!(db.wait_for_streaming(Duration::from_secs(10)).unwrap());
        let table_id = db.inner.store.table("items").unwrap().id;
        let mut stale = db.inner.destinations.lock()[&(table_id, arn.clone())].clone();
        assert_eq!(stale.published_lsn, db.last_lsn());
        stale.published_lsn = 10;
        db.inner.save_destination(&stale, false).unwrap();

        let checkpoint = db.checkpoint().unwrap();
        assert!(checkpoint.segments_removed == 0 || db.oldest_lsn() <= 11);
        assert!(
            db.changes_since(11).is_ok(),
            "the checkpoint cut the log past the stored position (oldest LSN now {})",
            db.oldest_lsn()
        );
        db.close().unwrap();
        drop(db);

        let db = Database::open_with(dir.path(), options()).unwrap();
        assert!(
            db.wait_for_streaming(Duration::from_secs(10)).unwrap(),
            "the reopened destination does not publish"
        );
        db.put_item("items", Item::new().with("id", "after"), ReturnValues::None)
            .unwrap();
        assert!(db.wait_for_streaming(Duration::from_secs(10)).unwrap());
        assert_eq!(
            db.streaming_published_lsn("items", &arn).unwrap(),
            Some(db.last_lsn())
        );
    }
}
