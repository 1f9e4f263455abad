//! A checkpointing stream consumer: what the Kinesis Client Library gives
//! Kinesis users, embedded.
//!
//! A [`StreamConsumer`] reads every shard of a stream in lineage order (a
//! shard is read only once its parents have been read to their end and
//! checkpointed), hands out batches of records, and stores the sequence
//! number the application checkpoints durably in the same database: in a
//! table named after the application, with one item per shard, as KCL keeps
//! its lease table in DynamoDB (`leaseKey` = shard id, `checkpoint` = the
//! sequence number, or `SHARD_END` once a shard is done). A consumer opened
//! again with the same application name resumes after its checkpoints.
//!
//! Delivery is at least once: records after the last checkpoint are handed
//! out again after a restart or crash. Per partition key the order is the
//! stream's order, across resharding too, because children are not read
//! before their parents are finished.

use std::collections::{BTreeMap, BTreeSet};

use eddy_stream::{IteratorType, Record};

use crate::db::Database;
use crate::error::{Error, Result};
use crate::{Item, KeySchema, KeyType, ReturnValues, Scan};

/// The checkpoint value of a shard read to its end.
pub const SHARD_END: &str = "SHARD_END";

/// Where a consumer without a checkpoint starts in a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InitialPosition {
    /// The oldest record still retained (KCL's `TRIM_HORIZON`).
    #[default]
    TrimHorizon,
    /// Only records written after the consumer first reads the shard.
    Latest,
}

/// Records of one shard, handed out by [`StreamConsumer::poll`].
#[derive(Debug, Clone)]
pub struct ConsumerBatch {
    /// The shard the records come from.
    pub shard_id: String,
    /// The records, in sequence-number order.
    pub records: Vec<Record>,
}

/// Reading progress in one shard.
#[derive(Debug)]
struct ShardProgress {
    iterator: Option<String>,
    /// The last sequence number handed out.
    delivered: Option<String>,
    /// The last sequence number checkpointed.
    checkpointed: Option<String>,
    /// The shard is closed and read to its end.
    at_end: bool,
}

/// A checkpointing consumer of one stream (see the module docs).
pub struct StreamConsumer {
    db: Database,
    application: String,
    stream: String,
    initial: InitialPosition,
    shards: BTreeMap<String, ShardProgress>,
    finished: BTreeSet<String>,
    /// Round-robin position among readable shards.
    turn: usize,
}

impl Database {
    /// Opens a checkpointing consumer of `stream` for `application`,
    /// creating the application's checkpoint table (named after it) if
    /// needed.
    pub fn stream_consumer(
        &self,
        application: &str,
        stream: &str,
        initial: InitialPosition,
    ) -> Result<StreamConsumer> {
        self.inner.check_open()?;
        self.streams().describe_stream(stream)?;
        if self.describe_table(application).is_err() {
            match self.create_table(application, KeySchema::new("leaseKey", KeyType::S)) {
                Ok(_) | Err(Error::TableExists(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let mut consumer = StreamConsumer {
            db: self.clone(),
            application: application.to_string(),
            stream: stream.to_string(),
            initial,
            shards: BTreeMap::new(),
            finished: BTreeSet::new(),
            turn: 0,
        };
        consumer.load_checkpoints()?;
        Ok(consumer)
    }
}

/// A checkpoint a [`StreamConsumer`] stored: one lease of an
/// application's lease table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerCheckpoint {
    /// The application, which is also the name of its lease table.
    pub application: String,
    /// The name of the stream the application consumes.
    pub stream: String,
    /// The shard of the lease.
    pub shard_id: String,
    /// The sequence number checkpointed, or [`SHARD_END`].
    pub checkpoint: String,
}

impl Database {
    /// Every checkpoint stored by [`StreamConsumer`]s, sorted by
    /// application, stream and shard: for lag reports (`eddy stats`).
    ///
    /// Lease tables are recognised by their shape: a table keyed by a
    /// string `leaseKey` alone whose items carry string `checkpoint` and
    /// `streamName` attributes. Items of such a table without those
    /// attributes are skipped. An application that has not checkpointed
    /// yet has no lease, so it is not listed.
    pub fn stream_consumer_checkpoints(&self) -> Result<Vec<ConsumerCheckpoint>> {
        self.inner.check_open()?;
        let lease_schema = KeySchema::new("leaseKey", KeyType::S);
        let text =
            |item: &Item, name: &str| item.get(name).and_then(|v| v.as_s()).map(str::to_string);
        let mut found = Vec::new();
        for table in self.list_tables()? {
            if self.describe_table(&table)?.def.key_schema != lease_schema {
                continue;
            }
            let mut scan = Scan::new();
            loop {
                let page = self.scan(&table, &scan)?;
                for item in &page.items {
                    let (Some(shard_id), Some(checkpoint), Some(stream)) = (
                        text(item, "leaseKey"),
                        text(item, "checkpoint"),
                        text(item, "streamName"),
                    ) else {
                        continue;
                    };
                    found.push(ConsumerCheckpoint {
                        application: table.clone(),
                        stream,
                        shard_id,
                        checkpoint,
                    });
                }
                match page.last_evaluated_key {
                    Some(key) => scan.exclusive_start_key = Some(key),
                    None => break,
                }
            }
        }
        found.sort_by(|a, b| {
            (&a.application, &a.stream, &a.shard_id).cmp(&(&b.application, &b.stream, &b.shard_id))
        });
        Ok(found)
    }
}

impl StreamConsumer {
    fn lease_key(shard_id: &str) -> Item {
        Item::new().with("leaseKey", shard_id)
    }

    fn load_checkpoints(&mut self) -> Result<()> {
        for shard in self.db.streams().list_shards(&self.stream)? {
            let lease = self
                .db
                .get_item(&self.application, &Self::lease_key(&shard.shard_id))?;
            let checkpoint = lease
                .as_ref()
                .and_then(|l| l.get("checkpoint"))
                .and_then(|v| v.as_s())
                .map(str::to_string);
            if checkpoint.as_deref() == Some(SHARD_END) {
                self.finished.insert(shard.shard_id);
            } else if let Some(seq) = checkpoint {
                self.shards.insert(
                    shard.shard_id,
                    ShardProgress {
                        iterator: None,
                        delivered: Some(seq.clone()),
                        checkpointed: Some(seq),
                        at_end: false,
                    },
                );
            }
        }
        Ok(())
    }

    /// The shards that may be read now: not finished, and every parent that
    /// still exists is finished.
    fn readable(&mut self) -> Result<Vec<String>> {
        let shards = self.db.streams().list_shards(&self.stream)?;
        let listed: BTreeSet<&str> = shards.iter().map(|s| s.shard_id.as_str()).collect();
        let parent_done = |p: &Option<String>| {
            p.as_deref()
                .is_none_or(|p| self.finished.contains(p) || !listed.contains(p))
        };
        Ok(shards
            .iter()
            .filter(|s| !self.finished.contains(&s.shard_id))
            .filter(|s| parent_done(&s.parent_shard_id) && parent_done(&s.adjacent_parent_shard_id))
            .map(|s| s.shard_id.clone())
            .collect())
    }

    fn iterator_for(&self, shard_id: &str, progress: &ShardProgress) -> Result<String> {
        let position = match &progress.delivered {
            Some(seq) => IteratorType::AfterSequenceNumber(seq.clone()),
            None => match self.initial {
                InitialPosition::TrimHorizon => IteratorType::TrimHorizon,
                InitialPosition::Latest => IteratorType::Latest,
            },
        };
        Ok(self
            .db
            .streams()
            .get_shard_iterator(&self.stream, shard_id, position)?)
    }

    /// The next batch of at most `limit` records from a readable shard, or
    /// `None` if no shard has records now. Shards take turns.
    pub fn poll(&mut self, limit: u32) -> Result<Option<ConsumerBatch>> {
        let readable = self.readable()?;
        for i in 0..readable.len() {
            let shard_id = &readable[(self.turn + i) % readable.len()];
            if let Some(batch) = self.read_shard(shard_id, limit)? {
                self.turn = (self.turn + i + 1) % readable.len().max(1);
                return Ok(Some(batch));
            }
        }
        Ok(None)
    }

    fn read_shard(&mut self, shard_id: &str, limit: u32) -> Result<Option<ConsumerBatch>> {
        let mut progress = self.shards.remove(shard_id).unwrap_or(ShardProgress {
            iterator: None,
            delivered: None,
            checkpointed: None,
            at_end: false,
        });
        let result = self.read_progress(shard_id, &mut progress, limit);
        self.shards.insert(shard_id.to_string(), progress);
        result
    }

    fn read_progress(
        &mut self,
        shard_id: &str,
        progress: &mut ShardProgress,
        limit: u32,
    ) -> Result<Option<ConsumerBatch>> {
        if progress.at_end {
            self.finish_if_checkpointed(shard_id, progress)?;
            return Ok(None);
        }
        let iterator = match progress.iterator.take() {
            Some(it) => it,
            None => self.iterator_for(shard_id, progress)?,
        };
        let page = match self.db.streams().get_records(&iterator, Some(limit)) {
            Ok(page) => page,
            // Iterators live five minutes; an idle consumer starts a new one
            // from what it handed out last.
            Err(eddy_stream::Error::ExpiredIterator(_)) => {
                let fresh = self.iterator_for(shard_id, progress)?;
                self.db.streams().get_records(&fresh, Some(limit))?
            }
            Err(e) => return Err(e.into()),
        };
        match page.next_shard_iterator {
            Some(next) => progress.iterator = Some(next),
            None => progress.at_end = true,
        }
        if page.records.is_empty() {
            if progress.at_end {
                self.finish_if_checkpointed(shard_id, progress)?;
            }
            return Ok(None);
        }
        progress.delivered = page.records.last().map(|r| r.sequence_number.clone());
        Ok(Some(ConsumerBatch {
            shard_id: shard_id.to_string(),
            records: page.records,
        }))
    }

    /// A shard read to its end is finished once everything handed out from
    /// it is checkpointed: its lease then says `SHARD_END`, and its
    /// children become readable.
    fn finish_if_checkpointed(&mut self, shard_id: &str, progress: &ShardProgress) -> Result<()> {
        if progress.delivered != progress.checkpointed {
            return Ok(());
        }
        self.write_checkpoint(shard_id, SHARD_END)?;
        self.finished.insert(shard_id.to_string());
        Ok(())
    }

    fn write_checkpoint(&self, shard_id: &str, value: &str) -> Result<()> {
        let lease = Self::lease_key(shard_id)
            .with("checkpoint", value)
            .with("streamName", self.stream.as_str());
        self.db
            .put_item(&self.application, lease, ReturnValues::None)?;
        Ok(())
    }

    /// Records that every record of `batch` has been processed. Durable when
    /// it returns (with the database's default `Durability::Sync`).
    pub fn checkpoint(&mut self, batch: &ConsumerBatch) -> Result<()> {
        let Some(last) = batch.records.last() else {
            return Ok(());
        };
        self.checkpoint_at(&batch.shard_id, &last.sequence_number)
    }

    /// Records that the shard's records up to `sequence_number` have been
    /// processed.
    pub fn checkpoint_at(&mut self, shard_id: &str, sequence_number: &str) -> Result<()> {
        self.write_checkpoint(shard_id, sequence_number)?;
        if let Some(progress) = self.shards.get_mut(shard_id) {
            progress.checkpointed = Some(sequence_number.to_string());
        }
        Ok(())
    }

    /// The checkpoint stored for a shard, if any.
    pub fn checkpoint_of(&self, shard_id: &str) -> Result<Option<String>> {
        let lease = self
            .db
            .get_item(&self.application, &Self::lease_key(shard_id))?;
        Ok(lease
            .as_ref()
            .and_then(|l| l.get("checkpoint"))
            .and_then(|v| v.as_s())
            .map(str::to_string))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use eddy_stream::{CreateStream, PutRecord};

    #[test]
    fn lists_the_checkpoints_of_every_application() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let create = CreateStream {
            shard_count: Some(1),
            ..CreateStream::default()
        };
        db.streams().create_stream("s", create).unwrap();
        // A user table keyed like a lease table but holding other items.
        db.create_table("other", KeySchema::new("leaseKey", KeyType::S))
            .unwrap();
        db.put_item(
            "other",
            Item::new().with("leaseKey", "x"),
            ReturnValues::None,
        )
        .unwrap();
        for n in 0..3u8 {
            db.streams()
                .put_record("s", PutRecord::new("k", vec![n]))
                .unwrap();
        }
        let mut consumer = db
            .stream_consumer("app", "s", InitialPosition::TrimHorizon)
            .unwrap();
        // No checkpoint yet: nothing listed.
        assert!(db.stream_consumer_checkpoints().unwrap().is_empty());
        let batch = consumer.poll(2).unwrap().unwrap();
        consumer.checkpoint(&batch).unwrap();
        let listed = db.stream_consumer_checkpoints().unwrap();
        assert_eq!(
            listed,
            [ConsumerCheckpoint {
                application: "app".into(),
                stream: "s".into(),
                shard_id: batch.shard_id.clone(),
                checkpoint: batch.records[1].sequence_number.clone(),
            }]
        );
    }
}
