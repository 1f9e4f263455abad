//! `get_records`: records per second read through shard iterators from one
//! shard. A 1-shard stream is pre-filled with 200 000 records of ~100 bytes
//! (in batches through `append_batch`, as the change publisher writes);
//! each iteration reads one page of 10 000 records with `get_records`,
//! following the returned iterator, and starts again from `TRIM_HORIZON`
//! once the shard has been read to its end. The target is at least one
//! million records per second.

// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use eddy::stream::{CreateStream, IteratorType, PutRecord, StreamOptions, Streams};

const STREAM: &str = "bench-get-records";
const SHARD: &str = "shardId-000000000000";
const RECORDS: u64 = 200_000;
const PAGE: u32 = 10_000;
const BATCH: u64 = 10_000;

fn get_records(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut group = c.benchmark_group("get_records");
    group.throughput(Throughput::Elements(u64::from(PAGE)));
    for size in [100usize] {
        let streams = Streams::open(&dir.path().join(format!("s{size}")), StreamOptions::new())
            .unwrap_or_else(|e| panic!("open streams: {e}"));
        streams
            .create_stream(
                STREAM,
                CreateStream {
                    shard_count: Some(1),
                    ..Default::default()
                },
            )
            .unwrap_or_else(|e| panic!("create stream: {e}"));
        let data = vec![b'x'; size];
        for start in (0..RECORDS).step_by(BATCH as usize) {
            let batch = (start..(start + BATCH).min(RECORDS))
                .map(|i| PutRecord::new(format!("pk-{i}"), data.clone()))
                .collect();
            streams
                .append_batch(STREAM, batch)
                .unwrap_or_else(|e| panic!("append_batch: {e}"));
        }
        let trim_horizon = || {
            streams
                .get_shard_iterator(STREAM, SHARD, IteratorType::TrimHorizon)
                .unwrap_or_else(|e| panic!("get_shard_iterator: {e}"))
        };
        group.bench_with_input(
            BenchmarkId::new("shard_iterator", size),
            &size,
            |b, &size| {
                let mut iterator = trim_horizon();
                let mut read = 0u64;
                b.iter(|| {
                    if read >= RECORDS {
                        iterator = trim_horizon();
                        read = 0;
                    }
                    let out = streams
                        .get_records(&iterator, Some(PAGE))
                        .unwrap_or_else(|e| panic!("get_records: {e}"));
                    assert_eq!(out.records.len(), PAGE as usize, "a full page");
                    assert_eq!(out.records[0].data.len(), size);
                    read += out.records.len() as u64;
                    iterator = out
                        .next_shard_iterator
                        .unwrap_or_else(|| panic!("an open shard has a next iterator"));
                });
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5));
    targets = get_records
}
criterion_main!(benches);
