//! `SubscribeToShard`: enhanced fan-out delivery.
//!
//! # Design: one delivery thread per subscription
//!
//! Each [`ShardSubscription`] owns a thread that keeps its own position
//! (`seqIx`) in the shard and loops: read the records after the position,
//! push them as one [`SubscribeToShardEvent`] into the subscription's
//! **bounded** channel, advance the position. Reads come from the shard's
//! live tail cache when it still covers the position, else from the
//! segment files ([`crate::live`] explains the cache and the wake-ups).
//! When caught up, the thread blocks on the shard's condition variable,
//! which the writer notifies as soon as records are readable (after its
//! `fsync`, or before it for [`crate::Visibility::Written`] appends), so
//! delivery latency is one thread wake-up, not a polling interval.
//!
//! Why a thread per subscription rather than a shared dispatcher: a slow
//! consumer's thread simply blocks on its full channel, and later catches
//! up through the same position-driven read loop — from segments if the
//! cache has moved on — without any other party noticing. Writers never
//! block (they only notify), other consumers have their own threads, and
//! gaps or duplicates are impossible because the single source of truth is
//! the thread's own position. The thread count is bounded by 20 consumers ×
//! subscribed shards, and each thread lives at most 5 minutes.
//!
//! # Semantics (Kinesis')
//!
//! * A subscription ends after [`SUBSCRIPTION_MILLIS`] (5 minutes on the
//!   injected clock); the caller resubscribes with
//!   `AfterSequenceNumber(continuation_sequence_number)`.
//! * The first event is sent at once (possibly with no records), and an
//!   empty event at least every [`HEARTBEAT_MILLIS`] while idle, so the
//!   continuation number is always current.
//! * When a closed shard has been fully read, a final event carries
//!   `child_shards` and no continuation number, and the subscription ends.
//! * A second subscription of the same consumer and shard within
//!   [`TAKEOVER_MILLIS`] of a live one is `ResourceInUseException`; later,
//!   it takes over and the old one ends (its channel just disconnects).
//! * Deregistering the consumer or deleting the stream ends a subscription
//!   with one `Err(ResourceNotFoundException)` item.
//! * The channel disconnects when the subscription has ended.
//! * A record that cannot be decrypted (key missing or wrong) ends the
//!   subscription with its [`Error::Decrypt`] (Kinesis' KMS exceptions are
//!   stream-embedded too), after the records before it were delivered.

use crate::crypto::to_records;
use crate::data::children_of;
use crate::error::{Error, Result};
use crate::shard_log::ShardLog;
use crate::types::{shard_id, ChildShard, IteratorType, Record};
use crate::{Inner, SequenceNumber, Streams};
use crossbeam_channel::{Receiver, SendTimeoutError, Sender};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How long a subscription lasts: 5 minutes.
pub const SUBSCRIPTION_MILLIS: u64 = 300_000;
/// A new subscription of the same consumer and shard within this long of a
/// live one is refused; after it, it takes over.
pub const TAKEOVER_MILLIS: u64 = 5_000;
/// Longest gap between events of an idle subscription.
pub const HEARTBEAT_MILLIS: u64 = 5_000;
/// Most records in one event.
pub const MAX_EVENT_RECORDS: usize = 10_000;
/// Most payload bytes (data + partition keys) in one event, unless a
/// single record is larger.
pub const MAX_EVENT_BYTES: usize = 2 * 1024 * 1024;
/// How often an idle or blocked delivery thread re-checks the clock.
const RECHECK: Duration = Duration::from_millis(50);

/// `StartingPosition` of `SubscribeToShard`: the same five choices as
/// `ShardIteratorType`.
pub type StartingPosition = IteratorType;

/// One `SubscribeToShardEvent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeToShardEvent {
    /// `Records`, in sequence-number order (possibly empty).
    pub records: Vec<Record>,
    /// `ContinuationSequenceNumber`: resubscribe `AfterSequenceNumber` it.
    /// `None` only in the final event of a closed shard.
    pub continuation_sequence_number: Option<String>,
    /// `MillisBehindLatest`: 0 when caught up.
    pub millis_behind_latest: u64,
    /// `ChildShards`, only once a closed shard has been fully read.
    pub child_shards: Vec<ChildShard>,
}

/// Why a subscription ended early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndReason {
    Dropped,
    TakenOver,
    Deregistered,
    StreamDeleted,
}

/// State shared by a subscription handle, its thread and the registry.
pub(crate) struct SubShared {
    end: Mutex<Option<EndReason>>,
    log: Arc<ShardLog>,
}

impl SubShared {
    fn end(&self, reason: EndReason) {
        self.end.lock().get_or_insert(reason);
        self.log.live.bump();
    }

    fn reason(&self) -> Option<EndReason> {
        *self.end.lock()
    }
}

struct Entry {
    id: u64,
    shard: u32,
    started: u64,
    shared: Arc<SubShared>,
}

/// Live subscriptions by (stream, consumer name).
#[derive(Default)]
pub(crate) struct Registry {
    next_id: AtomicU64,
    subs: Mutex<HashMap<(String, String), Vec<Entry>>>,
}

impl Registry {
    /// End every subscription of one consumer.
    pub fn end_consumer(&self, stream: &str, consumer: &str, reason: EndReason) {
        let key = (stream.to_string(), consumer.to_string());
        if let Some(list) = self.subs.lock().remove(&key) {
            for e in list {
                e.shared.end(reason);
            }
        }
    }

    /// End every subscription on a stream.
    pub fn end_stream(&self, stream: &str, reason: EndReason) {
        let mut subs = self.subs.lock();
        let keys: Vec<_> = subs.keys().filter(|k| k.0 == stream).cloned().collect();
        for k in keys {
            for e in subs.remove(&k).into_iter().flatten() {
                e.shared.end(reason);
            }
        }
    }

    fn insert(
        &self,
        key: (String, String),
        shard: u32,
        now: u64,
        shared: Arc<SubShared>,
    ) -> Result<u64> {
        let mut subs = self.subs.lock();
        let list = subs.entry(key.clone()).or_default();
        let busy = list.iter().any(|e| {
            e.shard == shard && e.shared.reason().is_none() && now < e.started + TAKEOVER_MILLIS
        });
        if busy {
            return Err(Error::ResourceInUse(format!(
                "Another active subscription exists for consumer {} of stream {} on shard {}; retry after {} seconds.",
                key.1,
                key.0,
                shard_id(shard),
                TAKEOVER_MILLIS / 1000
            )));
        }
        for e in list.iter().filter(|e| e.shard == shard) {
            e.shared.end(EndReason::TakenOver);
        }
        list.retain(|e| e.shard != shard);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        list.push(Entry {
            id,
            shard,
            started: now,
            shared,
        });
        Ok(id)
    }

    fn remove(&self, key: &(String, String), id: u64) {
        let mut subs = self.subs.lock();
        if let Some(list) = subs.get_mut(key) {
            list.retain(|e| e.id != id);
            if list.is_empty() {
                subs.remove(key);
            }
        }
    }
}

/// A live `SubscribeToShard` subscription (module docs). Receive events
/// from [`ShardSubscription::events`]; dropping the handle ends it.
pub struct ShardSubscription {
    rx: Receiver<Result<SubscribeToShardEvent>>,
    shared: Arc<SubShared>,
    shard_id: String,
}

impl std::fmt::Debug for ShardSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardSubscription")
            .field("shard_id", &self.shard_id)
            .finish_non_exhaustive()
    }
}

impl ShardSubscription {
    /// The bounded event channel. An `Err` item is the last one; the
    /// channel disconnects when the subscription has ended.
    pub fn events(&self) -> &Receiver<Result<SubscribeToShardEvent>> {
        &self.rx
    }

    /// The subscribed shard.
    pub fn shard_id(&self) -> &str {
        &self.shard_id
    }
}

impl Drop for ShardSubscription {
    fn drop(&mut self) {
        self.shared.end(EndReason::Dropped);
    }
}

impl Streams {
    /// `SubscribeToShard` with the buffer size from
    /// [`crate::StreamOptions::subscription_buffer`].
    pub fn subscribe_to_shard(
        &self,
        consumer_arn: &str,
        shard: &str,
        start: StartingPosition,
    ) -> Result<ShardSubscription> {
        let buffer = self.inner.opts.subscription_buffer;
        self.subscribe_to_shard_buffered(consumer_arn, shard, start, buffer)
    }

    /// `SubscribeToShard` with an event channel of `buffer` events
    /// (minimum 1). Unknown consumer or shard: `ResourceNotFoundException`;
    /// a starting sequence number of another shard or stream:
    /// `InvalidArgumentException`.
    pub fn subscribe_to_shard_buffered(
        &self,
        consumer_arn: &str,
        shard: &str,
        start: StartingPosition,
        buffer: usize,
    ) -> Result<ShardSubscription> {
        let arn = self.parse_consumer_arn(consumer_arn)?;
        let consumer_exists = |st: &crate::State| {
            st.meta.streams.get(&arn.stream).is_some_and(|sm| {
                sm.consumers
                    .iter()
                    .any(|c| c.name == arn.consumer && c.created_millis / 1000 == arn.created_secs)
            })
        };
        if !consumer_exists(&self.inner.state.read()) {
            return Err(self.consumer_not_found(consumer_arn));
        }
        let p = self.start_position(&arn.stream, shard, &start, "SubscribeToShard")?;
        let now = self.now();
        let shared = Arc::new(SubShared {
            end: Mutex::new(None),
            log: Arc::clone(&p.log),
        });
        let key = (arn.stream.clone(), arn.consumer.clone());
        let id = {
            // Under the state lock, so a concurrent deregistration either
            // precedes this (and we fail) or finds and ends this entry.
            let st = self.inner.state.read();
            let same_stream = st
                .meta
                .streams
                .get(&arn.stream)
                .is_some_and(|s| s.incarnation == p.incarnation);
            if !consumer_exists(&st) || !same_stream {
                return Err(self.consumer_not_found(consumer_arn));
            }
            self.inner
                .fanout
                .insert(key.clone(), p.index, now, Arc::clone(&shared))?
        };
        p.log.live.watch();
        let (tx, rx) = crossbeam_channel::bounded(buffer.max(1));
        let delivery = Delivery {
            inner: Arc::downgrade(&self.inner),
            key,
            id,
            incarnation: p.incarnation,
            index: p.index,
            created_secs: p.created_secs,
            log: Arc::clone(&p.log),
            shared: Arc::clone(&shared),
            pos: p.position,
            deadline: now.saturating_add(SUBSCRIPTION_MILLIS),
            tx,
        };
        std::thread::Builder::new()
            .name("eddy-stream-fanout".into())
            .spawn(move || delivery.run())
            .map_err(|e| Error::io("spawning a SubscribeToShard delivery thread", e))?;
        Ok(ShardSubscription {
            rx,
            shared,
            shard_id: shard_id(p.index),
        })
    }
}

/// What the delivery loop needs from the metadata on each round.
struct Snapshot {
    min_arrival: u64,
    ending_seq_ix: Option<u64>,
    children: Vec<ChildShard>,
}

/// One subscription's delivery thread state (module docs).
struct Delivery {
    inner: Weak<Inner>,
    key: (String, String),
    id: u64,
    incarnation: u64,
    index: u32,
    created_secs: u64,
    log: Arc<ShardLog>,
    shared: Arc<SubShared>,
    pos: u64,
    deadline: u64,
    tx: Sender<Result<SubscribeToShardEvent>>,
}

impl Drop for Delivery {
    fn drop(&mut self) {
        // Runs before `tx` is dropped: once the channel disconnects, the
        // consumer may resubscribe at once without `ResourceInUse`.
        if let Some(inner) = self.inner.upgrade() {
            inner.fanout.remove(&self.key, self.id);
        }
        self.log.live.unwatch();
    }
}

impl Delivery {
    fn run(mut self) {
        let mut last_sent: Option<u64> = None;
        loop {
            let Some(inner) = self.inner.upgrade() else {
                return;
            };
            let streams = Streams { inner };
            match self.shared.reason() {
                Some(EndReason::Deregistered) => {
                    let e = streams.consumer_not_found(&self.key.1);
                    return self.send_final(e, streams);
                }
                Some(EndReason::StreamDeleted) => {
                    let e = streams.stream_not_found(&self.key.0);
                    return self.send_final(e, streams);
                }
                Some(_) => return,
                None => {}
            }
            let now = streams.now();
            if now >= self.deadline {
                return;
            }
            let generation = self.log.live.generation();
            let snap = match self.snapshot(&streams, now) {
                Ok(s) => s,
                Err(e) => return self.send_final(e, streams),
            };
            let (stored, next_pos, tip) = match self.log.live.read(
                self.pos,
                MAX_EVENT_RECORDS,
                MAX_EVENT_BYTES,
                snap.min_arrival,
            ) {
                Some(c) => (c.records, c.next_pos, c.tip),
                None => match self.log.read(
                    self.pos,
                    MAX_EVENT_RECORDS,
                    MAX_EVENT_BYTES,
                    snap.min_arrival,
                ) {
                    Ok(b) => (b.records, b.next_pos, b.tip),
                    Err(e) => return self.send_final(e, streams),
                },
            };
            let (records, failed) = to_records(
                &streams.inner.keys,
                &self.key.0,
                self.created_secs,
                self.index,
                stored,
            );
            // Deliver what precedes an undecryptable record; the next round
            // starts at it and ends the subscription with its error.
            let next_pos = match failed {
                Some((_, e)) if records.is_empty() => return self.send_final(e, streams),
                Some((seq_ix, _)) => seq_ix,
                None => next_pos,
            };
            let at_end = snap.ending_seq_ix.is_some_and(|e| next_pos > e);
            let heartbeat = last_sent.is_none_or(|t| now.saturating_sub(t) >= HEARTBEAT_MILLIS);
            if records.is_empty() && !at_end && !heartbeat {
                self.pos = next_pos;
                drop(streams);
                self.log.live.wait(generation, RECHECK);
                continue;
            }
            let millis_behind_latest = match records.last() {
                Some(r) if next_pos < tip => now.saturating_sub(r.approximate_arrival_millis),
                _ => 0,
            };
            let continuation = match records.last() {
                _ if at_end => None,
                Some(r) => Some(r.sequence_number.clone()),
                None => Some(self.continuation(next_pos, now)),
            };
            let event = SubscribeToShardEvent {
                records,
                continuation_sequence_number: continuation,
                millis_behind_latest,
                child_shards: if at_end { snap.children } else { Vec::new() },
            };
            drop(streams);
            if !self.send(Ok(event)) {
                return;
            }
            self.pos = next_pos;
            last_sent = Some(now);
            if at_end {
                return;
            }
        }
    }

    /// The sequence number after which reading continues at `next_pos`.
    fn continuation(&self, next_pos: u64, now: u64) -> String {
        let last = next_pos.saturating_sub(1);
        let secs = if last == 0 {
            self.created_secs
        } else {
            now / 1000
        };
        SequenceNumber::new(self.created_secs, self.index, last, secs).to_string()
    }

    fn snapshot(&self, streams: &Streams, now: u64) -> Result<Snapshot> {
        let st = streams.inner.state.read();
        let (name, consumer) = &self.key;
        let sm = st
            .meta
            .streams
            .get(name)
            .filter(|s| s.incarnation == self.incarnation)
            .ok_or_else(|| streams.stream_not_found(name))?;
        if !sm.consumers.iter().any(|c| &c.name == consumer) {
            return Err(streams.consumer_not_found(consumer));
        }
        let sh = sm
            .shard(self.index)
            .ok_or_else(|| streams.shard_not_found(name, &shard_id(self.index)))?;
        let ending_seq_ix = match sh.state {
            crate::meta::ShardState::Closed { ending_seq_ix, .. } => Some(ending_seq_ix),
            crate::meta::ShardState::Open => None,
        };
        Ok(Snapshot {
            min_arrival: sm.min_arrival(now),
            ending_seq_ix,
            children: if ending_seq_ix.is_some() {
                children_of(sm, self.index)
            } else {
                Vec::new()
            },
        })
    }

    /// Send, blocking while the consumer is slow but giving up when the
    /// subscription ends meanwhile. False if the event was not delivered.
    fn send(&self, mut item: Result<SubscribeToShardEvent>) -> bool {
        loop {
            match self.tx.send_timeout(item, RECHECK) {
                Ok(()) => return true,
                Err(SendTimeoutError::Disconnected(_)) => return false,
                Err(SendTimeoutError::Timeout(back)) => {
                    let Some(inner) = self.inner.upgrade() else {
                        return false;
                    };
                    let now = Streams { inner }.now();
                    let ended = matches!(
                        self.shared.reason(),
                        Some(EndReason::Dropped | EndReason::TakenOver)
                    );
                    // An error item is worth waiting for until the deadline
                    // anyway; an ordinary event is dropped once ended.
                    if ended
                        || now >= self.deadline
                        || (back.is_ok() && self.shared.reason().is_some())
                    {
                        return false;
                    }
                    item = back;
                }
            }
        }
    }

    /// End with an error item; `streams` is released before blocking.
    fn send_final(&self, e: Error, streams: Streams) {
        drop(streams);
        self.send(Err(e));
    }
}
