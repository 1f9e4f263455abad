//! Control-plane operations: create, describe, list, delete, retention.
//!
//! Every mutation follows one pattern under the state write lock: clone the
//! metadata, change the clone, persist it atomically, and only then swap it
//! in (and create or destroy shard logs). A failed persist leaves memory and
//! disk unchanged.

use crate::error::{Error, Result};
use crate::hashkey::even_split;
use crate::meta::{self, ShardMeta, ShardState, StreamMeta};
use crate::seqnum::SequenceNumber;
use crate::shard_log::{remove_dir_files, ShardLog};
use crate::types::{
    shard_id, CreateStream, Shard, ShardTip, StreamDescription, StreamMode, StreamStatus,
};
use crate::{shard_dir, stream_dir, Streams};
use std::sync::Arc;

/// Minimum and maximum retention, hours.
const MIN_RETENTION: u32 = 24;
const MAX_RETENTION: u32 = 8760;

pub(crate) fn validate_stream_name(name: &str) -> Result<()> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if name.is_empty() || name.len() > 128 {
        return Err(Error::validation(
            name,
            "streamName",
            "Member must have length less than or equal to 128 and greater than or equal to 1",
        ));
    }
    if !ok_chars {
        return Err(Error::validation(
            name,
            "streamName",
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        ));
    }
    Ok(())
}

impl Streams {
    pub(crate) fn account(&self) -> &str {
        &self.inner.opts.account_id
    }

    pub(crate) fn stream_not_found(&self, name: &str) -> Error {
        Error::ResourceNotFound(format!(
            "Stream {name} under account {} not found.",
            self.account()
        ))
    }

    pub(crate) fn shard_not_found(&self, name: &str, shard: &str) -> Error {
        Error::ResourceNotFound(format!(
            "Shard {shard} in stream {name} under account {} does not exist",
            self.account()
        ))
    }

    /// Turn a stream name or ARN into a validated name. An ARN of another
    /// region or account names no stream here (`ResourceNotFoundException`).
    pub(crate) fn resolve(&self, stream: &str) -> Result<String> {
        if let Some(rest) = stream.strip_prefix("arn:") {
            let prefix = format!(
                "aws:kinesis:{}:{}:stream/",
                self.inner.opts.region,
                self.account()
            );
            return match rest.strip_prefix(&prefix) {
                Some(name) if validate_stream_name(name).is_ok() => Ok(name.to_string()),
                _ => Err(Error::ResourceNotFound(format!(
                    "Stream {stream} under account {} not found.",
                    self.account()
                ))),
            };
        }
        validate_stream_name(stream)?;
        Ok(stream.to_string())
    }

    /// The ARN a stream of this name has (or would have):
    /// `arn:aws:kinesis:<region>:<account>:stream/<name>`.
    pub fn stream_arn(&self, stream: &str) -> Result<String> {
        let name = self.resolve(stream)?;
        Ok(format!(
            "arn:aws:kinesis:{}:{}:stream/{name}",
            self.inner.opts.region,
            self.account()
        ))
    }

    /// `CreateStream`. `shard_count: None` starts 4 shards. The stream is
    /// `ACTIVE` when this returns.
    pub fn create_stream(&self, name: &str, req: CreateStream) -> Result<()> {
        validate_stream_name(name)?;
        let count = req.shard_count.unwrap_or(4);
        if count == 0 {
            return Err(Error::validation(
                "0",
                "shardCount",
                "Member must have value greater than or equal to 1",
            ));
        }
        let fs = self.inner.opts.fs.as_ref();
        let mut st = self.inner.state.write();
        if st.meta.streams.contains_key(name) {
            return Err(Error::ResourceInUse(format!(
                "Stream {name} under account {} already exists.",
                self.account()
            )));
        }
        self.check_shard_limit(&st.meta, count)?;
        // Files left by an earlier incarnation whose deletion failed.
        if let Ok(dirs) = fs.list_dir(&stream_dir(&self.inner.dir, name)) {
            for d in dirs {
                remove_dir_files(fs, &d)?;
            }
        }
        let now = self.now();
        let shards: Vec<ShardMeta> = even_split(count)
            .into_iter()
            .enumerate()
            .map(|(i, range)| ShardMeta {
                index: i as u32,
                parent: None,
                adjacent_parent: None,
                range,
                created_millis: now,
                state: ShardState::Open,
                next_seq_ix: 1,
            })
            .collect();
        let sm = StreamMeta {
            name: name.to_string(),
            incarnation: rand::random(),
            created_millis: now,
            mode: req.mode,
            retention_hours: MIN_RETENTION,
            floor_millis: 0,
            next_shard_index: count,
            shards,
            consumers: Vec::new(),
            encryption_key: None,
        };
        let mut next = st.meta.clone();
        next.streams.insert(name.to_string(), sm.clone());
        meta::save(fs, &self.inner.dir, &next)?;
        st.meta = next;
        for sh in &sm.shards {
            let log = self.new_log(name, sh)?;
            st.logs.insert((name.to_string(), sh.index), log);
        }
        Ok(())
    }

    /// A log for a shard that has no files yet (no I/O beyond a listing).
    pub(crate) fn new_log(&self, stream: &str, sh: &ShardMeta) -> Result<Arc<ShardLog>> {
        Ok(Arc::new(ShardLog::open(
            Arc::clone(&self.inner.opts.fs),
            shard_dir(&self.inner.dir, stream, sh.index),
            sh.index,
            sh.next_seq_ix,
            self.inner.opts.segment_size,
            !sh.is_open(),
        )?))
    }

    /// The account's shard limit, how many shards are open across all
    /// streams and how many streams are on-demand (Kinesis's
    /// DescribeLimits), as `(limit, open, on_demand)`.
    pub fn shard_limits(&self) -> (u32, u32, u32) {
        let st = self.inner.state.read();
        let open = st.meta.streams.values().map(StreamMeta::open_count).sum();
        let on_demand = st
            .meta
            .streams
            .values()
            .filter(|s| s.mode == crate::types::StreamMode::OnDemand)
            .count() as u32;
        (self.inner.opts.shard_limit, open, on_demand)
    }

    /// `LimitExceededException` if `additional` more open shards would
    /// exceed the configured shard limit.
    pub(crate) fn check_shard_limit(&self, m: &meta::Meta, additional: u32) -> Result<()> {
        let open: u32 = m.streams.values().map(StreamMeta::open_count).sum();
        let limit = self.inner.opts.shard_limit;
        if u64::from(open) + u64::from(additional) > u64::from(limit) {
            return Err(Error::LimitExceeded(format!(
                "This request would exceed the shard limit for the account {} in {}. \
                 Current limit on shard count for the account is {limit}. Number of additional \
                 shards that would have resulted from this request: {additional}.",
                self.account(),
                self.inner.opts.region
            )));
        }
        Ok(())
    }

    pub(crate) fn shard_view(sh: &ShardMeta) -> Shard {
        let start = SequenceNumber::new(sh.created_secs(), sh.index, 0, sh.created_secs());
        let end = match sh.state {
            ShardState::Open => None,
            ShardState::Closed {
                ending_seq_ix,
                closed_millis,
            } => Some(
                SequenceNumber::new(
                    sh.created_secs(),
                    sh.index,
                    ending_seq_ix,
                    closed_millis / 1000,
                )
                .to_string(),
            ),
        };
        Shard {
            shard_id: shard_id(sh.index),
            parent_shard_id: sh.parent.map(shard_id),
            adjacent_parent_shard_id: sh.adjacent_parent.map(shard_id),
            hash_key_range: sh.range,
            starting_sequence_number: start.to_string(),
            ending_sequence_number: end,
        }
    }

    /// `DescribeStream` (with `DescribeStreamSummary`'s `OpenShardCount`).
    /// Lists every open and closed-but-unexpired shard.
    pub fn describe_stream(&self, stream: &str) -> Result<StreamDescription> {
        let name = self.resolve(stream)?;
        let arn = self.stream_arn(&name)?;
        let st = self.inner.state.read();
        let sm = st
            .meta
            .streams
            .get(&name)
            .ok_or_else(|| self.stream_not_found(&name))?;
        Ok(StreamDescription {
            stream_name: name,
            stream_arn: arn,
            stream_status: StreamStatus::Active,
            stream_mode: sm.mode,
            retention_period_hours: sm.retention_hours,
            stream_creation_millis: sm.created_millis,
            shards: sm.shards.iter().map(Self::shard_view).collect(),
            open_shard_count: sm.open_count(),
            consumer_count: sm.consumers.len() as u32,
            encryption_type: if sm.encryption_key.is_some() {
                "KMS"
            } else {
                "NONE"
            },
            key_id: sm.encryption_key.clone(),
        })
    }

    /// `ListShards` (all shards in the retention window, by index).
    pub fn list_shards(&self, stream: &str) -> Result<Vec<Shard>> {
        Ok(self.describe_stream(stream)?.shards)
    }

    /// The newest record of every listed shard (open and closed but not
    /// expired), by index: the tip a consumer's position is compared with
    /// to tell how far behind it is. Reads no record (one lock, no I/O).
    ///
    /// ```
    /// use eddy_stream::{CreateStream, PutRecord, StreamOptions, Streams};
    /// let dir = tempfile::tempdir()?;
    /// let streams = Streams::open(dir.path(), StreamOptions::new())?;
    /// streams.create_stream("s", CreateStream { shard_count: Some(1), ..Default::default() })?;
    /// let put = streams.put_record("s", PutRecord::new("k", b"x".to_vec()))?;
    /// let tip = &streams.shard_tips("s")?[0];
    /// assert_eq!((tip.records, tip.sequence_number.as_deref()), (1, Some(put.sequence_number.as_str())));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shard_tips(&self, stream: &str) -> Result<Vec<ShardTip>> {
        let name = self.resolve(stream)?;
        let st = self.inner.state.read();
        let sm = st
            .meta
            .streams
            .get(&name)
            .ok_or_else(|| self.stream_not_found(&name))?;
        let mut tips = Vec::with_capacity(sm.shards.len());
        for sh in &sm.shards {
            let id = shard_id(sh.index);
            let log = st
                .logs
                .get(&(name.clone(), sh.index))
                .ok_or_else(|| self.shard_not_found(&name, &id))?;
            let (next, arrival) = log.newest();
            // Records are numbered from 1; `next` is one past the newest.
            let records = next.saturating_sub(1);
            let newest = arrival.filter(|_| records > 0);
            tips.push(ShardTip {
                shard_id: id,
                records,
                sequence_number: newest.map(|millis| {
                    SequenceNumber::new(sh.created_secs(), sh.index, records, millis / 1000)
                        .to_string()
                }),
                approximate_arrival_millis: newest,
            });
        }
        Ok(tips)
    }

    /// `ListStreams`: all stream names, sorted.
    pub fn list_streams(&self) -> Vec<String> {
        self.inner
            .state
            .read()
            .meta
            .streams
            .keys()
            .cloned()
            .collect()
    }

    /// `DeleteStream` without `EnforceConsumerDeletion`: a stream with
    /// registered consumers is `ResourceInUseException`. See
    /// [`Streams::delete_stream_with`].
    pub fn delete_stream(&self, stream: &str) -> Result<()> {
        self.delete_stream_with(stream, false)
    }

    /// `DeleteStream`: the stream is gone when this returns (later calls get
    /// `ResourceNotFoundException`) and its files are deleted. With
    /// registered consumers it fails with `ResourceInUseException` unless
    /// `enforce_consumer_deletion`, which deregisters them too; live
    /// subscriptions end with a `ResourceNotFoundException` event.
    pub fn delete_stream_with(&self, stream: &str, enforce_consumer_deletion: bool) -> Result<()> {
        let name = self.resolve(stream)?;
        let mut st = self.inner.state.write();
        let Some(sm) = st.meta.streams.get(&name) else {
            return Err(self.stream_not_found(&name));
        };
        if !sm.consumers.is_empty() && !enforce_consumer_deletion {
            return Err(Error::ResourceInUse(format!(
                "Stream {name} under account {} has registered consumers. Deregister them or set EnforceConsumerDeletion.",
                self.account()
            )));
        }
        let mut next = st.meta.clone();
        next.streams.remove(&name);
        meta::save(self.inner.opts.fs.as_ref(), &self.inner.dir, &next)?;
        st.meta = next;
        let keys: Vec<(String, u32)> = st.logs.keys().filter(|k| k.0 == name).cloned().collect();
        let logs: Vec<Arc<ShardLog>> = keys.iter().filter_map(|k| st.logs.remove(k)).collect();
        drop(st);
        self.inner.subscribers.lock().remove(&name);
        self.inner
            .fanout
            .end_stream(&name, crate::fanout::EndReason::StreamDeleted);
        for log in logs {
            // The stream is already gone from the metadata; leftover files
            // are collected at the next open or create of the same name.
            if let Err(e) = log.destroy() {
                tracing::warn!(error = %e, stream = %name, "could not delete stream files");
            }
        }
        Ok(())
    }

    /// `IncreaseStreamRetentionPeriod` (24..=8760 hours, not below current).
    pub fn increase_retention(&self, stream: &str, hours: u32) -> Result<()> {
        self.set_retention(stream, hours, true)
    }

    /// `DecreaseStreamRetentionPeriod` (24..=8760 hours, not above current).
    /// Records outside the new window become unreadable at once.
    pub fn decrease_retention(&self, stream: &str, hours: u32) -> Result<()> {
        self.set_retention(stream, hours, false)
    }

    fn set_retention(&self, stream: &str, hours: u32, increase: bool) -> Result<()> {
        let name = self.resolve(stream)?;
        if hours < MIN_RETENTION {
            return Err(Error::InvalidArgument(format!(
                "Minimum allowed retention period is {MIN_RETENTION} hours. Requested retention period ({hours} hours) is too short."
            )));
        }
        if hours > MAX_RETENTION {
            return Err(Error::InvalidArgument(format!(
                "Maximum allowed retention period is {MAX_RETENTION} hours. Requested retention period ({hours} hours) is too long."
            )));
        }
        let mut st = self.inner.state.write();
        let cur = st
            .meta
            .streams
            .get(&name)
            .ok_or_else(|| self.stream_not_found(&name))?
            .retention_hours;
        if increase && hours < cur {
            return Err(Error::InvalidArgument(format!(
                "Requested retention period ({hours} hours) for stream {name} can not be shorter than existing retention period ({cur} hours). Use DecreaseRetentionPeriod API."
            )));
        }
        if !increase && hours > cur {
            return Err(Error::InvalidArgument(format!(
                "Requested retention period ({hours} hours) for stream {name} can not be longer than existing retention period ({cur} hours). Use IncreaseRetentionPeriod API."
            )));
        }
        let now = self.now();
        let mut next = st.meta.clone();
        if let Some(s) = next.streams.get_mut(&name) {
            s.floor_millis = s.min_arrival(now);
            s.retention_hours = hours;
        }
        meta::save(self.inner.opts.fs.as_ref(), &self.inner.dir, &next)?;
        st.meta = next;
        Ok(())
    }

    /// Stream mode guard for resharding operations.
    pub(crate) fn require_provisioned(sm: &StreamMeta, op: &str) -> Result<()> {
        if sm.mode == StreamMode::OnDemand {
            return Err(Error::Validation(format!(
                "{op} is not supported for stream {} because it is in ON_DEMAND capacity mode.",
                sm.name
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::{CreateStream, IteratorType, PutRecord, StreamOptions, Streams};

    #[test]
    fn shard_tips_name_the_newest_record_of_each_shard() {
        let dir = tempfile::tempdir().unwrap();
        let streams = Streams::open(dir.path(), StreamOptions::new()).unwrap();
        let create = CreateStream {
            shard_count: Some(2),
            ..Default::default()
        };
        streams.create_stream("s", create).unwrap();
        let tips = streams.shard_tips("s").unwrap();
        assert_eq!(tips.len(), 2);
        assert!(tips
            .iter()
            .all(|t| t.records == 0 && t.sequence_number.is_none()));

        let mut last = None;
        for i in 0..3 {
            let put = PutRecord {
                explicit_hash_key: Some("0".into()),
                ..PutRecord::new("k", vec![i])
            };
            last = Some(streams.put_record("s", put).unwrap());
        }
        let last = last.unwrap();
        let tips = streams.shard_tips("s").unwrap();
        let tip = tips.iter().find(|t| t.shard_id == last.shard_id).unwrap();
        assert_eq!(tip.records, 3);
        assert_eq!(
            tip.sequence_number.as_deref(),
            Some(last.sequence_number.as_str())
        );
        let it = streams
            .get_shard_iterator("s", &last.shard_id, IteratorType::TrimHorizon)
            .unwrap();
        let records = streams.get_records(&it, None).unwrap().records;
        assert_eq!(
            tip.approximate_arrival_millis,
            records.last().map(|r| r.approximate_arrival_millis)
        );
        let other = tips.iter().find(|t| t.shard_id != last.shard_id).unwrap();
        assert_eq!((other.records, other.sequence_number.clone()), (0, None));

        // Closing the shard by a split keeps its tip.
        streams.split_shard("s", &last.shard_id, "2").unwrap();
        let tips = streams.shard_tips("s").unwrap();
        let closed = tips.iter().find(|t| t.shard_id == last.shard_id).unwrap();
        assert_eq!(closed.records, 3);
        assert!(matches!(
            streams.shard_tips("nope"),
            Err(crate::Error::ResourceNotFound(_))
        ));
    }
}
