//! Shared helpers for the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use eddy_model::io::fault::FaultFs;
use eddy_stream::{CreateStream, GetRecordsOutput, IteratorType, Record, StreamOptions, Streams};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A settable clock.
#[derive(Clone)]
pub struct ManualClock(pub Arc<AtomicU64>);

pub const T0: u64 = 1_700_000_000_000;

impl ManualClock {
    pub fn new() -> Self {
        ManualClock(Arc::new(AtomicU64::new(T0)))
    }
    pub fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    pub fn options(&self) -> StreamOptions {
        let c = Arc::clone(&self.0);
        StreamOptions::new().clock(Arc::new(move || c.load(Ordering::SeqCst)))
    }
}

/// Create stream `name` with `shards` shards (defaults otherwise).
pub fn create(s: &Streams, name: &str, shards: u32) {
    s.create_stream(
        name,
        CreateStream {
            shard_count: Some(shards),
            ..Default::default()
        },
    )
    .unwrap();
}

pub fn open(dir: &Path, clock: &ManualClock) -> Streams {
    Streams::open(dir, clock.options()).unwrap()
}

/// [`open`] with every file operation going through `fault`, so a test can
/// make fsyncs and writes fail.
pub fn open_with_faults(dir: &Path, clock: &ManualClock, fault: &FaultFs) -> Streams {
    Streams::open(dir, clock.options().fs(Arc::new(fault.clone()))).unwrap()
}

/// Read a shard from `kind` until caught up (open) or ended (closed).
/// Returns the records and whether the shard ended, with its last output.
pub fn read_shard(
    s: &Streams,
    stream: &str,
    shard: &str,
    kind: IteratorType,
) -> (Vec<Record>, Option<GetRecordsOutput>) {
    let mut it = s.get_shard_iterator(stream, shard, kind).unwrap();
    let mut out = Vec::new();
    loop {
        let r = s.get_records(&it, Some(7)).unwrap();
        let empty = r.records.is_empty();
        out.extend(r.records.clone());
        match r.next_shard_iterator.clone() {
            None => return (out, Some(r)),
            Some(next) if empty && r.millis_behind_latest == 0 => {
                let _ = next;
                return (out, None);
            }
            Some(next) => it = next,
        }
    }
}

pub fn read_all_trim_horizon(s: &Streams, stream: &str, shard: &str) -> Vec<Record> {
    read_shard(s, stream, shard, IteratorType::TrimHorizon).0
}

impl ManualClock {
    pub fn set_to(&self, ms: u64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}
