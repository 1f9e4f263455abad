//! Resharding: `SplitShard`, `MergeShards` and `UpdateShardCount`.
//!
//! All three are PROVISIONED-only (`ValidationException` on ON_DEMAND) and
//! synchronous: the stream is `ACTIVE` again when they return. A reshard is
//! one metadata transaction: the parents' logs are closed first (under their
//! writer locks, so no record can slip in after the ending sequence number
//! is taken), the new metadata is persisted, and only then are the children
//! created; if persisting fails, the parents are reopened and nothing
//! changed.
//!
//! A closed parent's `EndingSequenceNumber` encodes its last assigned
//! `seqIx` (0 if it never received a record) and its close time, so it is
//! at least the number of its last record. Children take the next unused
//! shard indexes.
//!
//! **Lineage of `UpdateShardCount`** (the choice this crate makes): like
//! AWS, uniform scaling is carried out as real splits and merges, so every
//! shard has at most two parents and lineage is exact. First each open shard
//! is split at every boundary of the target even split that falls inside
//! it; then, for each target range, the shards inside it are merged left to
//! right. This can create short-lived, empty intermediate shards (closed in
//! the same transaction), as the reference notes AWS does too. A reader that
//! finishes parents before children therefore sees every partition key's
//! records in order.

use crate::error::{Error, Result};
use crate::hashkey::{even_split, parse_hash_key, HashKeyRange};
use crate::meta::{self, ShardMeta, ShardState, StreamMeta};
use crate::shard_log::ShardLog;
use crate::types::{parse_shard_id, UpdateShardCountOutput};
use crate::Streams;
use std::collections::HashMap;
use std::sync::Arc;

/// A resharding transaction over a working copy of one stream's metadata.
struct Txn<'a> {
    sm: StreamMeta,
    logs: &'a HashMap<(String, u32), Arc<ShardLog>>,
    closed: Vec<Arc<ShardLog>>,
    now: u64,
}

impl Txn<'_> {
    fn range(&self, index: u32) -> HashKeyRange {
        self.sm.shard(index).map_or(
            HashKeyRange {
                starting_hash_key: 0,
                ending_hash_key: 0,
            },
            |s| s.range,
        )
    }

    fn close(&mut self, index: u32) {
        let (ending, closed_millis) = match self.logs.get(&(self.sm.name.clone(), index)) {
            Some(log) => {
                let next = log.close();
                self.closed.push(Arc::clone(log));
                let newest = log.newest_arrival().unwrap_or(0);
                (next.saturating_sub(1), self.now.max(newest))
            }
            None => (0, self.now),
        };
        if let Some(sh) = self.sm.shards.iter_mut().find(|s| s.index == index) {
            sh.state = ShardState::Closed {
                ending_seq_ix: ending,
                closed_millis,
            };
            sh.next_seq_ix = sh.next_seq_ix.max(ending + 1);
        }
    }

    fn add(&mut self, parent: u32, adjacent: Option<u32>, range: HashKeyRange) -> u32 {
        let index = self.sm.next_shard_index;
        self.sm.next_shard_index += 1;
        self.sm.shards.push(ShardMeta {
            index,
            parent: Some(parent),
            adjacent_parent: adjacent,
            range,
            created_millis: self.now,
            state: ShardState::Open,
            next_seq_ix: 1,
        });
        index
    }

    /// Split `index` so the right child starts at `key`
    /// (`start < key <= end`). Returns (left, right).
    fn split(&mut self, index: u32, key: u128) -> (u32, u32) {
        let r = self.range(index);
        self.close(index);
        let left = self.add(
            index,
            None,
            HashKeyRange {
                starting_hash_key: r.starting_hash_key,
                ending_hash_key: key - 1,
            },
        );
        let right = self.add(
            index,
            None,
            HashKeyRange {
                starting_hash_key: key,
                ending_hash_key: r.ending_hash_key,
            },
        );
        (left, right)
    }

    /// Merge two adjacent open shards; `a` becomes the parent, `b` the
    /// adjacent parent.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        let (ra, rb) = (self.range(a), self.range(b));
        self.close(a);
        self.close(b);
        self.add(
            a,
            Some(b),
            HashKeyRange {
                starting_hash_key: ra.starting_hash_key.min(rb.starting_hash_key),
                ending_hash_key: ra.ending_hash_key.max(rb.ending_hash_key),
            },
        )
    }

    fn rollback(&self) {
        for log in &self.closed {
            log.reopen();
        }
    }
}

impl Streams {
    /// Run `f` as a resharding transaction on `stream` and commit it.
    fn reshard<T>(
        &self,
        stream: &str,
        op: &str,
        f: impl FnOnce(&mut Txn<'_>, &Streams) -> Result<T>,
    ) -> Result<T> {
        let name = self.resolve(stream)?;
        let mut st = self.inner.state.write();
        let sm = st
            .meta
            .streams
            .get(&name)
            .ok_or_else(|| self.stream_not_found(&name))?
            .clone();
        Self::require_provisioned(&sm, op)?;
        let mut txn = Txn {
            sm,
            logs: &st.logs,
            closed: Vec::new(),
            now: self.now(),
        };
        let out = match f(&mut txn, self) {
            Ok(out) => out,
            Err(e) => {
                txn.rollback();
                return Err(e);
            }
        };
        let mut next = st.meta.clone();
        let new_sm = txn.sm.clone();
        let closed = std::mem::take(&mut txn.closed);
        let old_open = next.streams.get(&name).map_or(0, StreamMeta::open_count);
        next.streams.insert(name.clone(), new_sm.clone());
        let added = new_sm.open_count().saturating_sub(old_open);
        let limit_check = if added > 0 {
            self.check_shard_limit(&st.meta, added)
        } else {
            Ok(())
        };
        let saved = limit_check
            .and_then(|()| meta::save(self.inner.opts.fs.as_ref(), &self.inner.dir, &next));
        if let Err(e) = saved {
            for log in &closed {
                log.reopen();
            }
            return Err(e);
        }
        st.meta = next;
        for sh in &new_sm.shards {
            let key = (name.clone(), sh.index);
            if let std::collections::hash_map::Entry::Vacant(slot) = st.logs.entry(key) {
                slot.insert(self.new_log(&name, sh)?);
            }
        }
        Ok(out)
    }

    fn open_shard(&self, txn: &Txn<'_>, id: &str) -> Result<u32> {
        let name = &txn.sm.name;
        let sh = parse_shard_id(id)
            .and_then(|i| txn.sm.shard(i))
            .ok_or_else(|| self.shard_not_found(name, id))?;
        if !sh.is_open() {
            return Err(Error::ResourceInUse(format!(
                "Shard {id} in stream {name} under account {} has already been merged or split, and thus is not eligible for merging or splitting.",
                self.account()
            )));
        }
        Ok(sh.index)
    }

    /// `SplitShard`: close `shard_to_split` and create two children
    /// `[start, key − 1]` and `[key, end]`. The key must satisfy
    /// `start + 1 < key < end` (kinesalite's rule).
    pub fn split_shard(
        &self,
        stream: &str,
        shard_to_split: &str,
        new_starting_hash_key: &str,
    ) -> Result<()> {
        let parsed = parse_hash_key(new_starting_hash_key, "newStartingHashKey")?;
        self.reshard(stream, "SplitShard", |txn, me| {
            let index = me.open_shard(txn, shard_to_split)?;
            let r = txn.range(index);
            let valid = parsed.filter(|&k| {
                r.starting_hash_key
                    .checked_add(1)
                    .is_some_and(|s1| k > s1 && k < r.ending_hash_key)
            });
            let Some(key) = valid else {
                return Err(Error::InvalidArgument(format!(
                    "NewStartingHashKey {new_starting_hash_key} used in SplitShard() on shard {shard_to_split} in stream {} under account {} is not both greater than one plus the shard's StartingHashKey {} and less than the shard's EndingHashKey {}.",
                    txn.sm.name, me.account(), r.starting_hash_key, r.ending_hash_key
                )));
            };
            txn.split(index, key);
            Ok(())
        })
    }

    /// `MergeShards`: close two adjacent open shards (either order) and
    /// create one child covering both, with `ParentShardId = shard_to_merge`
    /// and `AdjacentParentShardId = adjacent_shard_to_merge`.
    pub fn merge_shards(
        &self,
        stream: &str,
        shard_to_merge: &str,
        adjacent_shard_to_merge: &str,
    ) -> Result<()> {
        self.reshard(stream, "MergeShards", |txn, me| {
            let a = me.open_shard(txn, shard_to_merge)?;
            let b = me.open_shard(txn, adjacent_shard_to_merge)?;
            let (ra, rb) = (txn.range(a), txn.range(b));
            let adjacent = |x: HashKeyRange, y: HashKeyRange| {
                x.ending_hash_key.checked_add(1) == Some(y.starting_hash_key)
            };
            if a == b || !(adjacent(ra, rb) || adjacent(rb, ra)) {
                return Err(Error::InvalidArgument(format!(
                    "Shards {shard_to_merge} and {adjacent_shard_to_merge} in stream {} under account {} are not an adjacent pair of shards eligible for merging",
                    txn.sm.name,
                    me.account()
                )));
            }
            txn.merge(a, b);
            Ok(())
        })
    }

    /// `UpdateShardCount` with `UNIFORM_SCALING`: afterwards the open shards
    /// are the even split into `target` ranges. The target must be within
    /// `[ceil(current / 2), 2 × current]` (`LimitExceededException`
    /// otherwise, AWS's scaling rule). See the module docs for lineage.
    pub fn update_shard_count(&self, stream: &str, target: u32) -> Result<UpdateShardCountOutput> {
        if target == 0 {
            return Err(Error::validation(
                "0",
                "targetShardCount",
                "Member must have value greater than or equal to 1",
            ));
        }
        let arn = self.stream_arn(stream)?;
        self.reshard(stream, "UpdateShardCount", |txn, me| {
            let current = txn.sm.open_count();
            let name = txn.sm.name.clone();
            if u64::from(target) > 2 * u64::from(current) || 2 * u64::from(target) < u64::from(current) {
                return Err(Error::LimitExceeded(format!(
                    "UpdateShardCount of stream {name} under account {} from {current} to {target} shards: the target must be between half and double the current open shard count.",
                    me.account()
                )));
            }
            let targets = even_split(target);
            let mut open: Vec<(u128, u32)> = txn
                .sm
                .shards
                .iter()
                .filter(|s| s.is_open())
                .map(|s| (s.range.starting_hash_key, s.index))
                .collect();
            open.sort();
            for (_, index) in open {
                let r = txn.range(index);
                let mut cur = index;
                for t in &targets {
                    let b = t.starting_hash_key;
                    if b > r.starting_hash_key && b <= r.ending_hash_key {
                        cur = txn.split(cur, b).1;
                    }
                }
            }
            for t in &targets {
                let mut inside: Vec<(u128, u32)> = txn
                    .sm
                    .shards
                    .iter()
                    .filter(|s| s.is_open() && t.contains(s.range.starting_hash_key))
                    .map(|s| (s.range.starting_hash_key, s.index))
                    .collect();
                inside.sort();
                let mut iter = inside.into_iter().map(|(_, i)| i);
                if let Some(mut acc) = iter.next() {
                    for next in iter {
                        acc = txn.merge(acc, next);
                    }
                }
            }
            Ok(UpdateShardCountOutput {
                stream_name: name,
                stream_arn: arn,
                current_shard_count: current,
                target_shard_count: target,
            })
        })
    }
}
