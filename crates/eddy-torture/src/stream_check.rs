//! Invariant 4: the stream holds every change committed after the
//! destination was enabled, per item in commit order, duplicates only with
//! equal event ids, across resharding; and nothing once published goes
//! missing.
//!
//! The stream only grows, so the parent reads it incrementally: each cycle
//! it reads every shard from where it stopped the cycle before, in shard
//! index order (children always have higher indexes than their parents, so
//! parents are read first). Each record must
//!
//! * carry the event id of a change logged in this cycle or the previous
//!   one (a duplicate from before that cannot exist: the parent's close
//!   persists the publisher's position after everything was published);
//! * be byte for byte the record the change's [`KinesisRecord`] renders to,
//!   under the change's partition key, in a shard whose hash range holds it;
//! * if its change was not seen before, come after the item's previous
//!   change (per-item LSN order);
//!
//! and after reading, every change of the table logged since the last cycle
//! must have been seen. Per shard, the tracker keeps the count, the last
//! sequence index and a fingerprint of everything read; a full re-read
//! (every `--full-check-every` cycles and at the end) must reproduce them,
//! starting at sequence index 1: nothing published was trimmed or altered.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use eddy::stream::{partition_key_hash, IteratorType, Record, SequenceNumber, Shard};
use eddy::stream_record::{event_id, partition_key, KinesisRecord};
use eddy::{ChangeRecord, Database, Precision};

use crate::checks::At;
use crate::common::{Context, Result, REGION, STREAM};

/// What the parent has read of one shard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShardTrack {
    /// The last sequence number read.
    last_seq: Option<String>,
    /// Its sequence index (0: nothing read).
    pub last_ix: u64,
    /// Records read.
    count: u64,
    /// A hash over every record read, in order.
    fingerprint: u64,
    /// Closed and read to its end.
    pub finished: bool,
}

impl ShardTrack {
    /// Takes a record into account; false if its sequence index does not
    /// follow the previous one's.
    fn add(&mut self, index: u32, record: &Record) -> std::result::Result<(), String> {
        let seq: SequenceNumber = record
            .sequence_number
            .parse()
            .map_err(|e| format!("sequence number {}: {e}", record.sequence_number))?;
        let expected = self.last_ix + 1;
        if seq.shard_index != index || seq.seq_ix != expected {
            return Err(format!(
                "sequence number {} has index {} in shard {}, expected index {expected} in shard {index}",
                record.sequence_number, seq.seq_ix, seq.shard_index
            ));
        }
        let mut hasher = DefaultHasher::new();
        self.fingerprint.hash(&mut hasher);
        record.sequence_number.hash(&mut hasher);
        record.partition_key.hash(&mut hasher);
        record.data.hash(&mut hasher);
        self.fingerprint = hasher.finish();
        self.last_ix = seq.seq_ix;
        self.last_seq = Some(record.sequence_number.clone());
        self.count += 1;
        Ok(())
    }
}

/// The parent's incremental view of the stream (see the module docs).
#[derive(Default)]
pub struct StreamTracker {
    /// Per shard index.
    shards: BTreeMap<u32, ShardTrack>,
    /// Changes of the table logged in this cycle, by event id.
    current: HashMap<String, ChangeRecord>,
    /// Those of the previous cycle.
    previous: HashMap<String, ChangeRecord>,
    /// Every change of the table up to this LSN has been seen in the stream.
    complete_upto: u64,
    /// LSNs above `complete_upto` seen in the stream.
    seen: HashSet<u64>,
    /// Per item (key JSON), the LSN of the last change seen.
    last_per_item: HashMap<String, u64>,
    /// Records read (duplicates included).
    pub records: u64,
    /// Duplicates among them (re-publications after a crash).
    pub duplicates: u64,
    /// Full re-reads done.
    pub full_checks: u64,
    /// Records of changes the log no longer held when they were read (in
    /// cycles without the log pinned): counted, not compared.
    pub unverifiable: u64,
    /// This cycle's fold started again after a gap in the log.
    rebased: bool,
}

/// The shards of the stream, by index.
fn list(db: &Database) -> Result<Vec<(u32, Shard)>> {
    let mut shards = Vec::new();
    for shard in db
        .streams()
        .list_shards(STREAM)
        .ctx(|| "listing the stream's shards".into())?
    {
        let index = shard
            .shard_id
            .strip_prefix("shardId-")
            .and_then(|d| d.parse::<u32>().ok())
            .ok_or_else(|| crate::common::CampaignError::Io {
                context: format!("parsing shard id {}", shard.shard_id),
                source: std::io::ErrorKind::InvalidData.into(),
            })?;
        shards.push((index, shard));
    }
    shards.sort_by_key(|(i, _)| *i);
    Ok(shards)
}

/// Reads one shard from after `from` (or its start) to its current end,
/// handing every record to `each`; returns whether the shard is closed and
/// read to its end.
fn read_shard(
    db: &Database,
    shard: &str,
    from: Option<&str>,
    mut each: impl FnMut(&Record) -> Result<()>,
) -> Result<bool> {
    let streams = db.streams();
    let kind = match from {
        Some(seq) => IteratorType::AfterSequenceNumber(seq.to_string()),
        None => IteratorType::TrimHorizon,
    };
    let mut iterator = streams
        .get_shard_iterator(STREAM, shard, kind)
        .ctx(|| format!("an iterator for {shard}"))?;
    loop {
        let page = streams
            .get_records(&iterator, None)
            .ctx(|| format!("GetRecords in {shard}"))?;
        for record in &page.records {
            each(record)?;
        }
        match page.next_shard_iterator {
            None => return Ok(true),
            Some(_) if page.records.is_empty() => return Ok(false),
            Some(next) => iterator = next,
        }
    }
}

impl StreamTracker {
    /// What the tracker knows of a shard.
    pub fn shard(&self, shard_id: &str) -> Option<&ShardTrack> {
        let index = shard_id.strip_prefix("shardId-")?.parse::<u32>().ok()?;
        self.shards.get(&index)
    }

    /// The cycle's check: waits for the publisher, reads what is new in
    /// every shard and checks it against the table's changes logged since
    /// the last cycle (`new_changes`, in LSN order), up to `verified_lsn`.
    /// After a gap in the log (`rebased`), records of changes it no longer
    /// held are counted in [`StreamTracker::unverifiable`] instead.
    pub fn check_cycle(
        &mut self,
        db: &Database,
        at: &At,
        new_changes: Vec<ChangeRecord>,
        verified_lsn: u64,
        rebased: bool,
    ) -> Result<()> {
        self.rebased = rebased;
        let caught_up = db
            .wait_for_streaming(Duration::from_secs(60))
            .ctx(|| "waiting for the publisher".into())?;
        if !caught_up {
            return at.fail("the publisher did not catch up within 60 s of the reopen".into());
        }
        self.previous = std::mem::take(&mut self.current);
        self.current = new_changes
            .into_iter()
            .map(|c| (event_id(c.lsn), c))
            .collect();
        let shards = list(db)?;
        let listed: HashSet<u32> = shards.iter().map(|(i, _)| *i).collect();
        if let Some(gone) = self.shards.keys().find(|i| !listed.contains(i)) {
            return at.fail(format!(
                "shard {} disappeared from the stream (expired or lost)",
                eddy::stream::shard_id(*gone)
            ));
        }
        for (index, shard) in &shards {
            let mut track = self.shards.remove(index).unwrap_or_default();
            if !track.finished {
                let from = track.last_seq.clone();
                let closed = shard.ending_sequence_number.is_some();
                let at_end = read_shard(db, &shard.shard_id, from.as_deref(), |record| {
                    if let Err(e) = track.add(*index, record) {
                        return at.fail(format!("in {}: {e}", shard.shard_id));
                    }
                    self.check_record(at, shard, record)
                })?;
                track.finished = at_end && closed;
            }
            self.shards.insert(*index, track);
        }
        let mut missing: Vec<u64> = self
            .current
            .values()
            .map(|c| c.lsn)
            .filter(|lsn| *lsn > self.complete_upto && !self.seen.contains(lsn))
            .collect();
        if !missing.is_empty() {
            missing.sort_unstable();
            return at.fail(format!(
                "{} logged changes of the table are missing from the stream, first LSN {} (of {} new changes)",
                missing.len(),
                missing[0],
                self.current.len()
            ));
        }
        self.complete_upto = self.complete_upto.max(verified_lsn);
        self.seen.clear();
        Ok(())
    }

    /// The per-record checks of [`StreamTracker::check_cycle`].
    fn check_record(&mut self, at: &At, shard: &Shard, record: &Record) -> Result<()> {
        self.records += 1;
        let seq = &record.sequence_number;
        let where_ = format!("record {seq} in {}", shard.shard_id);
        let json: serde_json::Value = match serde_json::from_slice(&record.data) {
            Ok(json) => json,
            Err(e) => return at.fail(format!("{where_} is not JSON: {e}")),
        };
        let Some(id) = json["eventID"].as_str() else {
            return at.fail(format!("{where_} has no eventID"));
        };
        let Some(change) = self.current.get(id).or_else(|| self.previous.get(id)) else {
            if self.rebased {
                self.unverifiable += 1;
                return Ok(());
            }
            return at.fail(format!(
                "{where_} has eventID {id}, which matches no change of the table logged in this cycle or the previous one"
            ));
        };
        let expected = KinesisRecord::new(change, REGION, Precision::default()).to_json();
        if record.data != expected.as_bytes() {
            return at.fail(format!(
                "{where_} (LSN {}) differs from the change's rendering:\n  stream:   {}\n  expected: {expected}",
                change.lsn,
                String::from_utf8_lossy(&record.data)
            ));
        }
        let key = partition_key(&change.change.table, &change.change.keys);
        if record.partition_key != key {
            return at.fail(format!(
                "{where_} has partition key {}, expected {key}",
                record.partition_key
            ));
        }
        if !shard
            .hash_key_range
            .contains(partition_key_hash(&record.partition_key))
        {
            return at.fail(format!(
                "{where_}: its partition key hashes outside the shard's range"
            ));
        }
        let lsn = change.lsn;
        if lsn <= self.complete_upto || !self.seen.insert(lsn) {
            self.duplicates += 1;
            return Ok(()); // a re-publication after a crash: same event id
        }
        let item = change.change.keys.to_json_string();
        let previous = self.last_per_item.insert(item.clone(), lsn).unwrap_or(0);
        if lsn <= previous {
            return at.fail(format!(
                "{where_}: item {item} out of order in the stream (LSN {previous}, then {lsn})"
            ));
        }
        Ok(())
    }

    /// Re-reads every shard from its start and compares with what was
    /// tracked: nothing published may have gone missing or changed.
    pub fn full_check(&mut self, db: &Database, at: &At) -> Result<()> {
        self.full_checks += 1;
        for (index, shard) in list(db)? {
            let mut fresh = ShardTrack::default();
            read_shard(db, &shard.shard_id, None, |record| {
                match fresh.add(index, record) {
                    Ok(()) => Ok(()),
                    Err(e) => at.fail(format!(
                        "full re-read of {}: {e} (a published record is missing)",
                        shard.shard_id
                    )),
                }
            })?;
            let tracked = self.shards.get(&index).cloned().unwrap_or_default();
            fresh.finished = tracked.finished;
            if fresh != tracked {
                return at.fail(format!(
                    "full re-read of {}: {} records up to index {}, but {} records up to index {} were read before (published records missing or altered)",
                    shard.shard_id, fresh.count, fresh.last_ix, tracked.count, tracked.last_ix
                ));
            }
        }
        Ok(())
    }
}
