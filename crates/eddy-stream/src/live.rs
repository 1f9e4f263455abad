//! A shard's live tail: the wake-up hook and small in-memory record cache
//! that enhanced fan-out delivery reads from.
//!
//! # Why
//!
//! `SubscribeToShard` must push a record within about a millisecond of its
//! append, to any number of consumers, without ever slowing the writer.
//! The writer therefore does only two cheap things once records are
//! readable (after its `fsync`, or right after its write for a
//! [`crate::Visibility::Written`] append; either way while it still holds
//! the shard's writer lock, so order is the commit order): it publishes
//! the new readable tip, bumping a generation counter and notifying a
//! condition variable, and — only while at least one subscription watches
//! the shard — it appends the just written records to a bounded cache of
//! recent batches. It never waits for a consumer.
//!
//! Delivery threads block on the condition variable (no polling on the hot
//! path), then read the records after their own position from the cache.
//! A consumer that fell further behind than the cache reaches simply reads
//! the same records from the segment files (`ShardLog::read`); since every
//! delivery thread tracks its own position, the switch between the two
//! sources can neither skip nor repeat a record.
//!
//! Records are cached as stored: an encrypted record stays ciphertext here
//! and is decrypted by each delivery ([`crate::crypto`] module docs).
//!
//! The cache covers a contiguous `seqIx` range ending at the tip: batches
//! are pushed in commit order, evicted from the front, and the cache is
//! emptied whenever the last watcher leaves (so it restarts contiguous).

use crate::frame::StoredRecord;
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// Most records the cache keeps per shard.
const CACHE_RECORDS: usize = 8192;
/// Most payload bytes (data + partition keys) the cache keeps per shard.
const CACHE_BYTES: usize = 8 * 1024 * 1024;

struct TailState {
    /// Bumped on every append, close, delete and cancellation.
    generation: u64,
    /// One past the last readable `seqIx`.
    tip: u64,
    /// Live subscriptions on this shard.
    watchers: usize,
    /// Contiguous recent batches, each non-empty, ending at `tip`.
    batches: VecDeque<Arc<Vec<StoredRecord>>>,
    records: usize,
    bytes: usize,
}

/// Records served from the cache.
pub(crate) struct CachedRead {
    pub records: Vec<StoredRecord>,
    pub next_pos: u64,
    pub tip: u64,
}

/// The live tail of one shard (module docs).
pub(crate) struct Live {
    state: Mutex<TailState>,
    cv: Condvar,
}

fn size(r: &StoredRecord) -> usize {
    r.data.len() + r.partition_key.len()
}

impl Live {
    /// A tail whose readable tip is `tip`.
    pub fn new(tip: u64) -> Live {
        Live {
            state: Mutex::new(TailState {
                generation: 0,
                tip,
                watchers: 0,
                batches: VecDeque::new(),
                records: 0,
                bytes: 0,
            }),
            cv: Condvar::new(),
        }
    }

    /// Called by the writer (holding the shard's writer lock) once records
    /// up to `new_tip` are readable. `records` is only evaluated while some
    /// subscription watches the shard.
    pub fn published(&self, new_tip: u64, records: impl FnOnce() -> Vec<StoredRecord>) {
        let mut st = self.state.lock();
        if st.watchers > 0 {
            let batch = records();
            if !batch.is_empty() {
                st.records += batch.len();
                st.bytes += batch.iter().map(size).sum::<usize>();
                st.batches.push_back(Arc::new(batch));
                while st.batches.len() > 1 && (st.records > CACHE_RECORDS || st.bytes > CACHE_BYTES)
                {
                    if let Some(old) = st.batches.pop_front() {
                        st.records -= old.len();
                        st.bytes -= old.iter().map(size).sum::<usize>();
                    }
                }
            }
        }
        st.tip = new_tip;
        st.generation += 1;
        drop(st);
        self.cv.notify_all();
    }

    /// Wake every waiter (close, delete, cancellation).
    pub fn bump(&self) {
        self.state.lock().generation += 1;
        self.cv.notify_all();
    }

    /// The current generation; pass it to [`Live::wait`].
    pub fn generation(&self) -> u64 {
        self.state.lock().generation
    }

    /// Block until the generation differs from `seen`, or `timeout` passes.
    pub fn wait(&self, seen: u64, timeout: Duration) {
        let mut st = self.state.lock();
        if st.generation == seen {
            let _ = self.cv.wait_for(&mut st, timeout);
        }
    }

    /// A subscription starts watching: the cache is fed from now on.
    pub fn watch(&self) {
        self.state.lock().watchers += 1;
    }

    /// A subscription stops watching; the last one empties the cache.
    pub fn unwatch(&self) {
        let mut st = self.state.lock();
        st.watchers = st.watchers.saturating_sub(1);
        if st.watchers == 0 {
            st.batches.clear();
            st.records = 0;
            st.bytes = 0;
        }
    }

    /// Records from `pos` on if the cache covers `pos` (or `pos` is at the
    /// tip); `None` means "read the segments". Records that arrived before
    /// `min_arrival` are skipped.
    pub fn read(
        &self,
        pos: u64,
        max_records: usize,
        max_bytes: usize,
        min_arrival: u64,
    ) -> Option<CachedRead> {
        let st = self.state.lock();
        let tip = st.tip;
        if pos >= tip {
            return Some(CachedRead {
                records: Vec::new(),
                next_pos: pos,
                tip,
            });
        }
        let first = st.batches.front()?.first()?.seq_ix;
        if pos < first {
            return None;
        }
        let mut out = Vec::new();
        let mut bytes = 0;
        let mut next = pos;
        'batches: for b in &st.batches {
            let Some(last) = b.last() else { continue };
            if last.seq_ix < next {
                continue;
            }
            let skip = usize::try_from(next.saturating_sub(b[0].seq_ix)).unwrap_or(usize::MAX);
            for r in b.iter().skip(skip) {
                if r.arrival_millis < min_arrival {
                    next = r.seq_ix + 1;
                    continue;
                }
                let sz = size(r);
                if out.len() >= max_records || (!out.is_empty() && bytes + sz > max_bytes) {
                    break 'batches;
                }
                bytes += sz;
                next = r.seq_ix + 1;
                out.push(r.clone());
            }
        }
        Some(CachedRead {
            records: out,
            next_pos: next,
            tip,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rec(seq_ix: u64) -> StoredRecord {
        StoredRecord {
            seq_ix,
            arrival_millis: seq_ix * 10,
            partition_key: "k".into(),
            explicit_hash_key: None,
            data: vec![1; 10],
            sealed: None,
        }
    }

    #[test]
    fn cache_only_while_watched_and_contiguous() {
        let live = Live::new(1);
        live.published(3, || vec![rec(1), rec(2)]);
        // Not watched: nothing cached, so a read below the tip must fall back.
        assert!(live.read(1, 10, usize::MAX, 0).is_none());
        live.watch();
        live.published(5, || vec![rec(3), rec(4)]);
        assert!(live.read(2, 10, usize::MAX, 0).is_none());
        let r = live.read(3, 10, usize::MAX, 0).unwrap();
        assert_eq!(
            r.records.iter().map(|r| r.seq_ix).collect::<Vec<_>>(),
            [3, 4]
        );
        assert_eq!((r.next_pos, r.tip), (5, 5));
        let r = live.read(4, 10, usize::MAX, 35).unwrap();
        assert_eq!(r.records[0].seq_ix, 4);
        let r = live.read(3, 1, usize::MAX, 0).unwrap();
        assert_eq!((r.records.len(), r.next_pos), (1, 4));
        let r = live.read(5, 10, usize::MAX, 0).unwrap();
        assert!(r.records.is_empty());
        live.unwatch();
        assert!(live.read(3, 10, usize::MAX, 0).is_none());
    }

    #[test]
    fn eviction_keeps_the_newest() {
        let live = Live::new(0);
        live.watch();
        for i in 0..(CACHE_RECORDS as u64 + 10) {
            live.published(i + 1, || vec![rec(i)]);
        }
        assert!(live.read(0, 10, usize::MAX, 0).is_none());
        let r = live
            .read(CACHE_RECORDS as u64 + 9, 10, usize::MAX, 0)
            .unwrap();
        assert_eq!(r.records.len(), 1);
    }

    #[test]
    fn wait_wakes_on_bump() {
        let live = Arc::new(Live::new(0));
        let g = live.generation();
        let l2 = Arc::clone(&live);
        let t = std::thread::spawn(move || {
            let start = std::time::Instant::now();
            l2.wait(g, Duration::from_secs(10));
            start.elapsed()
        });
        std::thread::sleep(Duration::from_millis(20));
        live.bump();
        assert!(t.join().unwrap() < Duration::from_secs(5));
    }
}
