//! The data plane: `PutRecord`, `PutRecords`, `append_batch(_with)`,
//! `GetShardIterator` and `GetRecords`.
//!
//! Writes are routed under the state read lock (which only clones the
//! target shards' log handles) and appended under each shard's own writer
//! lock, one write + fsync per shard per call; no lock other shards need is
//! held across an fsync. If a shard was closed by a concurrent reshard
//! between routing and appending, its records are routed again. With
//! [`Visibility::Written`] every shard's records are written (and readable)
//! first and the shards are fsynced after, so no record waits for another
//! shard's fsync to be delivered.
//!
//! Encryption: a write reads the stream's key id under the same read lock
//! as its routing, so records routed after `StartStreamEncryption` returned
//! are sealed; a stream whose key is not configured refuses writes
//! (`KMSNotFoundException`) rather than storing plaintext. Reads convert
//! records with [`crate::crypto::to_record`], which decrypts, and stop at
//! the first record that cannot be decrypted: earlier records are returned
//! with an iterator pointing at it, and the read that reaches it fails
//! with [`Error::Decrypt`].

use crate::crypto::to_records;
use crate::error::{Error, Result};
use crate::hashkey::{parse_hash_key, partition_key_hash};
use crate::iterator::{self, IterToken, ITERATOR_TTL_MILLIS};
use crate::meta::{ShardState, StreamMeta};
use crate::seqnum::SequenceNumber;
use crate::shard_log::{AppendRefused, NewRecord, ShardLog};
use crate::types::{
    parse_shard_id, shard_id, AppendNotice, Appended, ChildShard, GetRecordsOutput, IteratorType,
    Placed, PutRecord, PutRecordOutput, PutRecordsOutput, PutRecordsResultEntry, Visibility,
};
use crate::Streams;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Largest `Data` + partition key of one record: 1 MiB.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// Largest `PutRecords` request (data + partition keys): 5 MiB.
pub const MAX_PUT_RECORDS_BYTES: usize = 5 * 1024 * 1024;
/// Most entries in one `PutRecords` call.
pub const MAX_PUT_RECORDS: usize = 500;
/// Most records one `GetRecords` call returns.
pub const MAX_GET_RECORDS: u32 = 10_000;
/// Most bytes (data + keys) one `GetRecords` call returns: 10 MiB.
pub const MAX_GET_RECORDS_BYTES: usize = 10 * 1024 * 1024;
const ROUTE_ATTEMPTS: usize = 16;

/// A validated record with its hash key.
struct Prepared {
    hash: u128,
    rec: NewRecord,
}

fn prepare(r: PutRecord, member: &str) -> Result<Prepared> {
    let chars = r.partition_key.chars().count();
    if chars == 0 || chars > 256 {
        let c = if chars == 0 {
            "Member must have length greater than or equal to 1"
        } else {
            "Member must have length less than or equal to 256"
        };
        return Err(Error::validation(
            &r.partition_key,
            &format!("{member}partitionKey"),
            c,
        ));
    }
    if r.data.len() > MAX_RECORD_BYTES {
        return Err(Error::validation(
            "java.nio.HeapByteBuffer",
            &format!("{member}data"),
            "Member must have length less than or equal to 1048576",
        ));
    }
    let size = r.data.len() + r.partition_key.len();
    if size > MAX_RECORD_BYTES {
        return Err(Error::InvalidArgument(format!(
            "Record size (partition key + data = {size} bytes) exceeds the 1 MiB limit."
        )));
    }
    let explicit = match &r.explicit_hash_key {
        None => None,
        Some(text) => Some(
            parse_hash_key(text, &format!("{member}explicitHashKey"))?.ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {text}"
                ))
            })?,
        ),
    };
    Ok(Prepared {
        hash: explicit.unwrap_or_else(|| partition_key_hash(&r.partition_key)),
        rec: NewRecord {
            partition_key: r.partition_key,
            explicit_hash_key: explicit,
            data: r.data,
        },
    })
}

/// A copy of an error for the other records of a failed shard group.
fn dup(e: &Error) -> Error {
    match e {
        Error::Io { context, source } => Error::Io {
            context: context.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        other => Error::Poisoned(other.to_string()),
    }
}

struct Routed {
    log: Arc<ShardLog>,
    index: u32,
    created_secs: u64,
    items: Vec<usize>,
}

impl Streams {
    /// Route and durably append; one result per input, in order. The
    /// records are readable as `visibility` says; durable either way when
    /// this returns.
    fn append_prepared(
        &self,
        name: &str,
        recs: &[Prepared],
        visibility: Visibility,
    ) -> Result<Vec<Result<Placed>>> {
        let mut results: Vec<Option<Result<Placed>>> = (0..recs.len()).map(|_| None).collect();
        let mut pending: Vec<usize> = (0..recs.len()).collect();
        // Shards written but not yet fsynced (`Visibility::Written`).
        let mut unsynced: Vec<Routed> = Vec::new();
        for _ in 0..ROUTE_ATTEMPTS {
            if pending.is_empty() {
                break;
            }
            let (groups, key) = {
                let st = self.inner.state.read();
                let sm = st
                    .meta
                    .streams
                    .get(name)
                    .ok_or_else(|| self.stream_not_found(name))?;
                let key = match &sm.encryption_key {
                    None => None,
                    Some(id) => Some(self.inner.keys.get(id).ok_or_else(|| {
                        Error::KmsNotFound(format!(
                            "Stream {name} under account {} is encrypted with key {id}, which is not configured; records cannot be written.",
                            self.account()
                        ))
                    })?),
                };
                let mut groups: BTreeMap<u32, Routed> = BTreeMap::new();
                for &i in &pending {
                    let sh = sm
                        .shards
                        .iter()
                        .find(|s| s.is_open() && s.range.contains(recs[i].hash));
                    let Some(sh) = sh else {
                        results[i] = Some(Err(Error::Poisoned(format!(
                            "no open shard of stream {name} covers hash key {}",
                            recs[i].hash
                        ))));
                        continue;
                    };
                    let Some(log) = st.logs.get(&(name.to_string(), sh.index)) else {
                        results[i] = Some(Err(self.shard_not_found(name, &shard_id(sh.index))));
                        continue;
                    };
                    groups
                        .entry(sh.index)
                        .or_insert_with(|| Routed {
                            log: Arc::clone(log),
                            index: sh.index,
                            created_secs: sh.created_secs(),
                            items: Vec::new(),
                        })
                        .items
                        .push(i);
                }
                (groups, key)
            };
            pending.clear();
            for g in groups.into_values() {
                let batch: Vec<&NewRecord> = g.items.iter().map(|&i| &recs[i].rec).collect();
                match g.log.append(&batch, self.now(), key.as_deref(), visibility) {
                    Ok(assigned) => {
                        let mut last = None;
                        for (&i, &(seq_ix, arrival_millis)) in g.items.iter().zip(&assigned) {
                            let placed = Placed {
                                shard_index: g.index,
                                shard_created_secs: g.created_secs,
                                seq_ix,
                                arrival_millis,
                            };
                            results[i] = Some(Ok(placed));
                            last = Some(placed);
                        }
                        if let Some(last) = last {
                            self.notify(AppendNotice {
                                stream_name: name.to_string(),
                                shard_id: shard_id(g.index),
                                last_sequence_number: last.sequence_number().to_string(),
                                count: assigned.len() as u32,
                            });
                        }
                        if visibility == Visibility::Written {
                            unsynced.push(g);
                        }
                    }
                    Err(AppendRefused::Closed) => pending.extend(g.items),
                    Err(AppendRefused::Deleted) => return Err(self.stream_not_found(name)),
                    Err(AppendRefused::Failed(e)) => {
                        for &i in &g.items {
                            results[i] = Some(Err(dup(&e)));
                        }
                    }
                }
            }
        }
        for g in unsynced {
            if let Err(e) = g.log.sync_written() {
                for &i in &g.items {
                    results[i] = Some(Err(dup(&e)));
                }
            }
        }
        Ok(results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(Error::ResourceInUse(format!(
                        "Stream {name} under account {} is being resharded; retry.",
                        self.account()
                    )))
                })
            })
            .collect())
    }

    /// `PutRecord`: durable when it returns.
    pub fn put_record(&self, stream: &str, record: PutRecord) -> Result<PutRecordOutput> {
        let name = self.resolve(stream)?;
        let p = prepare(record, "")?;
        self.append_prepared(&name, std::slice::from_ref(&p), Visibility::Durable)?
            .pop()
            .unwrap_or_else(|| Err(Error::Poisoned("no result".into())))
            .map(|placed| placed.output())
    }

    /// `PutRecords`: 1..=500 records, ≤ 5 MiB in total (data + keys). Entries
    /// that could not be stored (I/O failure of their shard) come back with
    /// `ErrorCode` `InternalFailure`; the others are durable.
    pub fn put_records(&self, stream: &str, records: Vec<PutRecord>) -> Result<PutRecordsOutput> {
        let name = self.resolve(stream)?;
        if records.is_empty() || records.len() > MAX_PUT_RECORDS {
            let c = if records.is_empty() {
                "Member must have length greater than or equal to 1"
            } else {
                "Member must have length less than or equal to 500"
            };
            return Err(Error::validation("[...]", "records", c));
        }
        let total: usize = records
            .iter()
            .map(|r| r.data.len() + r.partition_key.len())
            .sum();
        if total > MAX_PUT_RECORDS_BYTES {
            return Err(Error::InvalidArgument(
                "Records size exceeds 5 MB limit".into(),
            ));
        }
        let prepared = records
            .into_iter()
            .enumerate()
            .map(|(i, r)| prepare(r, &format!("records.{}.member.", i + 1)))
            .collect::<Result<Vec<_>>>()?;
        let results = self.append_prepared(&name, &prepared, Visibility::Durable)?;
        let mut failed = 0;
        let records = results
            .into_iter()
            .map(|r| match r {
                Ok(placed) => PutRecordsResultEntry::Ok(placed.output()),
                Err(e) => {
                    failed += 1;
                    PutRecordsResultEntry::Failed {
                        error_code: "InternalFailure".into(),
                        error_message: format!(
                            "Internal service failure for stream {name} under account {}: {e}",
                            self.account()
                        ),
                    }
                }
            })
            .collect();
        Ok(PutRecordsOutput {
            failed_record_count: failed,
            records,
        })
    }

    /// Append many records for an internal publisher: per-record limits as
    /// for `PutRecord`, no count or request-size limit, one fsync per shard.
    /// On `Err`, records routed to other shards may have been stored (a
    /// retry can duplicate them: at-least-once). The records become
    /// readable after their fsync: [`Streams::append_batch_with`] with
    /// [`Visibility::Durable`].
    pub fn append_batch(
        &self,
        stream: &str,
        records: Vec<PutRecord>,
    ) -> Result<Vec<PutRecordOutput>> {
        Ok(self
            .append_batch_with(stream, records, Visibility::Durable)?
            .outputs())
    }

    /// [`Streams::append_batch`], the records readable as `visibility`
    /// says, and their sequence numbers rendered only if asked for
    /// ([`Appended::outputs`]). With [`Visibility::Written`] they are
    /// delivered to readers and subscribers before their fsync, and the
    /// call still returns only after it; on `Err`, readers may have seen
    /// records that a power cut would take back (the caller writes them
    /// again).
    ///
    /// ```
    /// use eddy_stream::{CreateStream, PutRecord, StreamOptions, Streams, Visibility};
    /// let dir = tempfile::tempdir()?;
    /// let streams = Streams::open(dir.path(), StreamOptions::new())?;
    /// streams.create_stream("changes", CreateStream { shard_count: Some(2), ..Default::default() })?;
    /// let records = vec![PutRecord::new("item-1", b"{}".to_vec()), PutRecord::new("item-2", b"{}".to_vec())];
    /// let appended = streams.append_batch_with("changes", records, Visibility::Written)?;
    /// assert_eq!(appended.len(), 2);
    /// let outputs = appended.outputs();
    /// assert!(outputs[0].shard_id.starts_with("shardId-"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn append_batch_with(
        &self,
        stream: &str,
        records: Vec<PutRecord>,
        visibility: Visibility,
    ) -> Result<Appended> {
        let name = self.resolve(stream)?;
        let prepared = records
            .into_iter()
            .map(|r| prepare(r, ""))
            .collect::<Result<Vec<_>>>()?;
        let placed = self
            .append_prepared(&name, &prepared, visibility)?
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        Ok(Appended { placed })
    }

    /// `GetShardIterator`. The iterator expires 300 s after issue.
    pub fn get_shard_iterator(
        &self,
        stream: &str,
        shard: &str,
        kind: IteratorType,
    ) -> Result<String> {
        let name = self.resolve(stream)?;
        let p = self.start_position(&name, shard, &kind, "GetShardIterator")?;
        Ok(iterator::encode(
            &p.hmac_key,
            &IterToken {
                stream: name,
                stream_incarnation: p.incarnation,
                shard_index: p.index,
                position: p.position,
                issued_millis: self.now(),
            },
        ))
    }

    /// Resolve a starting position (`ShardIteratorType` / `StartingPosition`)
    /// in shard `shard` of stream `name` to a `seqIx`. `op` names the
    /// operation in error messages.
    pub(crate) fn start_position(
        &self,
        name: &str,
        shard: &str,
        kind: &IteratorType,
        op: &str,
    ) -> Result<StartPosition> {
        let name = name.to_string();
        let now = self.now();
        let (log, key, incarnation, index, created_secs) = {
            let st = self.inner.state.read();
            let sm = st
                .meta
                .streams
                .get(&name)
                .ok_or_else(|| self.stream_not_found(&name))?;
            let sh = parse_shard_id(shard)
                .and_then(|i| sm.shard(i))
                .ok_or_else(|| self.shard_not_found(&name, shard))?;
            let log = st
                .logs
                .get(&(name.clone(), sh.index))
                .ok_or_else(|| self.shard_not_found(&name, shard))?;
            (
                Arc::clone(log),
                st.meta.hmac_key,
                sm.incarnation,
                sh.index,
                sh.created_secs(),
            )
        };
        let at_seq = |text: &str| -> Result<u64> {
            let invalid = |why: &str| {
                Error::InvalidArgument(format!(
                    "StartingSequenceNumber {text} used in {op} on shard {shard} in stream {name} under account {} is invalid{why}.",
                    self.account()
                ))
            };
            if text.is_empty() || text.len() > 129 || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::validation(
                    text,
                    "startingSequenceNumber",
                    "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})",
                ));
            }
            let s: SequenceNumber = text.parse().map_err(|_| invalid(""))?;
            if s.shard_index != index {
                return Err(Error::InvalidArgument(format!(
                    "Invalid StartingSequenceNumber. It encodes {}, while it was used in a call to a shard with {shard}",
                    shard_id(s.shard_index)
                )));
            }
            if s.shard_created_secs != created_secs & ((1 << 36) - 1) || s.seq_ix >= log.tip() {
                return Err(invalid(" because it did not come from this stream"));
            }
            Ok(s.seq_ix)
        };
        let position = match kind {
            IteratorType::TrimHorizon => 0,
            IteratorType::Latest => log.tip(),
            IteratorType::AtSequenceNumber(s) => at_seq(s)?,
            IteratorType::AfterSequenceNumber(s) => at_seq(s)? + 1,
            IteratorType::AtTimestamp(t) => {
                if *t > now {
                    return Err(Error::InvalidArgument(format!(
                        "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: {t}, currentTimestampInMillis: {now}"
                    )));
                }
                log.seek_timestamp(*t)?
            }
        };
        Ok(StartPosition {
            log,
            hmac_key: key,
            incarnation,
            index,
            created_secs,
            position,
        })
    }

    /// `GetRecords`: up to `limit` (1..=10000, default 10000) records and
    /// 10 MiB from the iterator's position, skipping records older than the
    /// retention window.
    pub fn get_records(
        &self,
        shard_iterator: &str,
        limit: Option<u32>,
    ) -> Result<GetRecordsOutput> {
        let limit = limit.unwrap_or(MAX_GET_RECORDS);
        if limit == 0 || limit > MAX_GET_RECORDS {
            let c = if limit == 0 {
                "Member must have value greater than or equal to 1"
            } else {
                "Member must have value less than or equal to 10000"
            };
            return Err(Error::validation(&limit.to_string(), "limit", c));
        }
        let key = self.inner.state.read().meta.hmac_key;
        let tok = iterator::decode(&key, shard_iterator)?;
        let now = self.now();
        if now > tok.issued_millis.saturating_add(ITERATOR_TTL_MILLIS) {
            return Err(Error::ExpiredIterator(format!(
                "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {ITERATOR_TTL_MILLIS} milliseconds.",
                java_date(tok.issued_millis),
                java_date(now)
            )));
        }
        let name = tok.stream.clone();
        let (log, sh, min_arrival, children) = {
            let st = self.inner.state.read();
            let sm = st
                .meta
                .streams
                .get(&name)
                .filter(|s| s.incarnation == tok.stream_incarnation)
                .ok_or_else(|| self.stream_not_found(&name))?;
            let sid = shard_id(tok.shard_index);
            let sh = sm
                .shard(tok.shard_index)
                .ok_or_else(|| self.shard_not_found(&name, &sid))?
                .clone();
            let log = st
                .logs
                .get(&(name.clone(), sh.index))
                .ok_or_else(|| self.shard_not_found(&name, &sid))?;
            let children = children_of(sm, sh.index);
            (Arc::clone(log), sh, sm.min_arrival(now), children)
        };
        let batch = log.read(
            tok.position,
            limit as usize,
            MAX_GET_RECORDS_BYTES,
            min_arrival,
        )?;
        let keys = &self.inner.keys;
        let (records, failed) = to_records(keys, &name, sh.created_secs(), sh.index, batch.records);
        let next_pos = match failed {
            Some((_, e)) if records.is_empty() => return Err(e),
            Some((seq_ix, _)) => seq_ix,
            None => batch.next_pos,
        };
        let at_end = match sh.state {
            ShardState::Closed { ending_seq_ix, .. } => next_pos > ending_seq_ix,
            ShardState::Open => false,
        };
        let millis_behind_latest = match records.last() {
            Some(r) if next_pos < batch.tip => now.saturating_sub(r.approximate_arrival_millis),
            _ => 0,
        };
        let (next_shard_iterator, child_shards) = if at_end {
            (None, children)
        } else {
            let next = IterToken {
                position: next_pos,
                issued_millis: now,
                ..tok
            };
            (Some(iterator::encode(&key, &next)), Vec::new())
        };
        Ok(GetRecordsOutput {
            records,
            next_shard_iterator,
            millis_behind_latest,
            child_shards,
        })
    }
}

/// A resolved starting position in one shard.
pub(crate) struct StartPosition {
    pub log: Arc<ShardLog>,
    pub hmac_key: [u8; 32],
    pub incarnation: u64,
    pub index: u32,
    pub created_secs: u64,
    /// The first `seqIx` to read.
    pub position: u64,
}

/// `ChildShards` of shard `index`: the shards naming it as a parent.
pub(crate) fn children_of(sm: &StreamMeta, index: u32) -> Vec<ChildShard> {
    sm.shards
        .iter()
        .filter(|c| c.parent == Some(index) || c.adjacent_parent == Some(index))
        .map(|c| ChildShard {
            shard_id: shard_id(c.index),
            parent_shards: c
                .parent
                .iter()
                .chain(&c.adjacent_parent)
                .map(|&p| shard_id(p))
                .collect(),
            hash_key_range: c.range,
        })
        .collect()
}

/// Format epoch millis like Java's `Date.toString()` in UTC, as in
/// kinesalite's messages: `Thu Jan 22 01:22:02 UTC 2015`.
fn java_date(millis: u64) -> String {
    let secs = millis / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MO: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        WD[(days % 7) as usize],
        MO[(month - 1).clamp(0, 11) as usize],
        day,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        year
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn java_date_format() {
        assert_eq!(
            super::java_date(1_421_889_722_000),
            "Thu Jan 22 01:22:02 UTC 2015"
        );
        assert_eq!(super::java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(
            super::java_date(951_782_400_000),
            "Tue Feb 29 00:00:00 UTC 2000"
        );
    }
}
