//! `fanout_latency`: commit-to-delivery latency of change feeds, as
//! hdrhistogram percentiles (criterion measures throughput, not this).
//!
//! Three paths, each fed by one writer at a fixed rate (`--rate` per second
//! for `--seconds`, after `--warmup` writes that are not counted):
//!
//! * **table → stream → fan-out**: a table with a streaming destination on
//!   a 4-shard stream, and a registered consumer subscribed to every shard
//!   (`subscribe_to_shard` from `LATEST`). Latency is the time from
//!   `put_item` returning to the `SubscribeToShardEvent` carrying that
//!   change arriving at the consumer (matched by the item's unique
//!   partition key value inside the record). Measured with
//!   `Durability::None` and `Durability::Sync`.
//! * **table → change log subscription** (`Database::subscribe`), on the
//!   same writes at the same time, for comparison. A change can reach a
//!   log subscriber before `put_item` returns (the store is applied after
//!   the log acknowledges); such deliveries count as 0 and as "early".
//! * **raw stream → fan-out**: `put_record` on a 4-shard stream returning
//!   → the fan-out event carrying the record (matched by partition key).
//!
//! Run: `cargo bench -p eddy-benches --bench fanout_latency -- [--rate 2000]
//! [--seconds 5] [--warmup 500] [--size 100]`. Prints markdown tables; the
//! target is a fan-out p99 of at most 1 ms in-process.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eddy::stream::{
    CreateStream, IteratorType, PutRecord, ShardSubscription, StreamOptions, Streams,
};
use eddy::{Durability, Item, Options, ReturnValues};
use eddy_benches::{arg, open_eddy_with, STREAM, TABLE};
use hdrhistogram::Histogram;

/// Timestamps of one run: nanoseconds since `base`, plus one (0 = not yet).
struct Stamps {
    base: Instant,
    returned: Vec<AtomicU64>,
}

impl Stamps {
    fn now(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64 + 1
    }
}

/// Arrival times of one delivery path, indexed like `Stamps::returned`.
struct Arrivals {
    at: Vec<AtomicU64>,
    delivered: AtomicU64,
}

impl Arrivals {
    fn new(n: usize) -> Arrivals {
        Arrivals {
            at: (0..n).map(|_| AtomicU64::new(0)).collect(),
            delivered: AtomicU64::new(0),
        }
    }

    /// Records the first arrival of change `i` (duplicates are ignored).
    fn arrived(&self, i: usize, t: u64) {
        if let Some(slot) = self.at.get(i) {
            if slot
                .compare_exchange(0, t, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                self.delivered.fetch_add(1, Ordering::AcqRel);
            }
        }
    }
}

/// The number after `prefix` (10 digits) in `bytes`, if any.
fn index_after(bytes: &[u8], prefix: &[u8]) -> Option<usize> {
    let at = bytes.windows(prefix.len()).position(|w| w == prefix)? + prefix.len();
    let digits = bytes.get(at..at + 10)?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The item of write number `i`: a unique partition key per write.
fn latency_item(i: usize, size: usize) -> Item {
    let pk = format!("lat#{i:010}");
    Item::new()
        .with("pk", pk)
        .with("sk", 0)
        .with("payload", "x".repeat(size.saturating_sub(30)))
}

/// Registers a consumer on `stream` and subscribes it to every shard from
/// `LATEST`.
fn subscribe_every_shard(streams: &Streams, stream: &str) -> Vec<ShardSubscription> {
    let consumer = streams
        .register_stream_consumer(stream, "latency")
        .unwrap_or_else(|e| panic!("register consumer: {e}"));
    streams
        .list_shards(stream)
        .unwrap_or_else(|e| panic!("list shards: {e}"))
        .iter()
        .map(|shard| {
            streams
                .subscribe_to_shard(
                    &consumer.consumer_arn,
                    &shard.shard_id,
                    IteratorType::Latest,
                )
                .unwrap_or_else(|e| panic!("subscribe_to_shard: {e}"))
        })
        .collect()
}

/// One thread per subscription, recording arrivals until `stop`.
/// `index` extracts the write number from a record.
fn spawn_fanout_readers<'s>(
    scope: &'s std::thread::Scope<'s, '_>,
    subs: Vec<ShardSubscription>,
    stamps: &'s Stamps,
    arrivals: &'s Arrivals,
    stop: &'s AtomicBool,
    index: fn(&eddy::stream::Record) -> Option<usize>,
) -> Vec<std::thread::ScopedJoinHandle<'s, ()>> {
    subs.into_iter()
        .map(|sub| {
            scope.spawn(move || loop {
                match sub.events().recv_timeout(Duration::from_millis(20)) {
                    Ok(Ok(event)) => {
                        let t = stamps.now();
                        for record in &event.records {
                            if let Some(i) = index(record) {
                                arrivals.arrived(i, t);
                            }
                        }
                    }
                    Ok(Err(e)) => panic!("subscription of {} ended: {e}", sub.shard_id()),
                    Err(crossbeam_timeout) => {
                        if stop.load(Ordering::Acquire) || crossbeam_timeout.is_disconnected() {
                            return;
                        }
                    }
                }
            })
        })
        .collect()
}

/// Paces `n` writes at `rate` per second; `write(i)` performs write `i`.
/// Returns the achieved rate.
fn paced_writes(n: usize, rate: f64, stamps: &Stamps, mut write: impl FnMut(usize)) -> f64 {
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    for i in 0..n {
        let due = start + interval.mul_f64(i as f64);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        write(i);
        stamps.returned[i].store(stamps.now(), Ordering::Release);
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Waits until every write has been delivered on each path (or 10 s).
fn wait_delivered(paths: &[&Arrivals], n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline
        && paths
            .iter()
            .any(|a| a.delivered.load(Ordering::Acquire) < n as u64)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One row of the latency table.
struct Row {
    path: &'static str,
    durability: &'static str,
    rate: f64,
    hist: Histogram<u64>,
    missing: usize,
    early: usize,
}

fn row(
    path: &'static str,
    durability: &'static str,
    rate: f64,
    stamps: &Stamps,
    arrivals: &Arrivals,
    warmup: usize,
) -> Row {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000_000_000, 3)
        .unwrap_or_else(|e| panic!("histogram: {e}"));
    let (mut missing, mut early) = (0, 0);
    for (returned, arrived) in stamps.returned.iter().zip(&arrivals.at).skip(warmup) {
        let (returned, arrived) = (
            returned.load(Ordering::Acquire),
            arrived.load(Ordering::Acquire),
        );
        if arrived == 0 {
            missing += 1;
            continue;
        }
        if arrived < returned {
            early += 1;
        }
        hist.saturating_record(arrived.saturating_sub(returned).max(1));
    }
    Row {
        path,
        durability,
        rate,
        hist,
        missing,
        early,
    }
}

fn micros(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

fn print_rows(rows: &[Row]) {
    println!("| path | durability | achieved writes/s | count | missing | early | p50 µs | p99 µs | p99.9 µs | max µs |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} |",
            r.path,
            r.durability,
            r.rate,
            r.hist.len(),
            r.missing,
            r.early,
            micros(r.hist.value_at_quantile(0.5)),
            micros(r.hist.value_at_quantile(0.99)),
            micros(r.hist.value_at_quantile(0.999)),
            micros(r.hist.max()),
        );
    }
}

/// Table writes, observed through the destination's fan-out and through
/// the change log subscription at once.
fn table_run(
    durability: Durability,
    label: &'static str,
    n: usize,
    warmup: usize,
    rate: f64,
    size: usize,
) -> [Row; 2] {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = open_eddy_with(dir.path(), Options::new().durability(durability), true);
    let subs = subscribe_every_shard(db.streams(), STREAM);
    let mut log_sub = db
        .subscribe(db.last_lsn() + 1)
        .unwrap_or_else(|e| panic!("subscribe: {e}"));
    let stamps = Stamps {
        base: Instant::now(),
        returned: (0..n).map(|_| AtomicU64::new(0)).collect(),
    };
    let (fanout, log) = (Arrivals::new(n), Arrivals::new(n));
    let stop = AtomicBool::new(false);
    let achieved = std::thread::scope(|s| {
        let mut readers = spawn_fanout_readers(s, subs, &stamps, &fanout, &stop, |r| {
            index_after(&r.data, b"lat#")
        });
        let (stamps_ref, log_ref, stop_ref) = (&stamps, &log, &stop);
        readers.push(s.spawn(move || loop {
            match log_sub.recv_timeout(Duration::from_millis(20)) {
                Ok(Some(record)) => {
                    let t = stamps_ref.now();
                    let i = record
                        .change
                        .keys
                        .get("pk")
                        .and_then(|v| v.as_s())
                        .and_then(|pk| index_after(pk.as_bytes(), b"lat#"));
                    if let Some(i) = i {
                        log_ref.arrived(i, t);
                    }
                }
                Ok(None) if stop_ref.load(Ordering::Acquire) => return,
                Ok(None) => {}
                Err(e) => panic!("change log subscription: {e}"),
            }
        }));
        let achieved = paced_writes(n, rate, &stamps, |i| {
            db.put_item(TABLE, latency_item(i, size), ReturnValues::None)
                .unwrap_or_else(|e| panic!("put_item: {e}"));
        });
        wait_delivered(&[&fanout, &log], n);
        stop.store(true, Ordering::Release);
        for r in readers {
            r.join().unwrap_or_else(|_| panic!("a reader panicked"));
        }
        achieved
    });
    [
        row(
            "table → stream → fan-out",
            label,
            achieved,
            &stamps,
            &fanout,
            warmup,
        ),
        row(
            "table → change log subscription",
            label,
            achieved,
            &stamps,
            &log,
            warmup,
        ),
    ]
}

/// `put_record` on a 4-shard stream, observed through fan-out.
fn raw_stream_run(n: usize, warmup: usize, rate: f64, size: usize) -> Row {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let streams = Streams::open(dir.path(), StreamOptions::new())
        .unwrap_or_else(|e| panic!("open streams: {e}"));
    let stream = "raw-latency";
    streams
        .create_stream(
            stream,
            CreateStream {
                shard_count: Some(4),
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("create stream: {e}"));
    let subs = subscribe_every_shard(&streams, stream);
    let stamps = Stamps {
        base: Instant::now(),
        returned: (0..n).map(|_| AtomicU64::new(0)).collect(),
    };
    let arrivals = Arrivals::new(n);
    let stop = AtomicBool::new(false);
    let data = vec![b'x'; size];
    let achieved = std::thread::scope(|s| {
        let readers: Vec<std::thread::ScopedJoinHandle<'_, ()>> =
            spawn_fanout_readers(s, subs, &stamps, &arrivals, &stop, |r| {
                index_after(r.partition_key.as_bytes(), b"raw#")
            });
        let achieved = paced_writes(n, rate, &stamps, |i| {
            streams
                .put_record(stream, PutRecord::new(format!("raw#{i:010}"), data.clone()))
                .unwrap_or_else(|e| panic!("put_record: {e}"));
        });
        wait_delivered(&[&arrivals], n);
        stop.store(true, Ordering::Release);
        for r in readers {
            r.join().unwrap_or_else(|_| panic!("a reader panicked"));
        }
        achieved
    });
    row(
        "raw put_record → fan-out",
        "stream (fsync per append)",
        achieved,
        &stamps,
        &arrivals,
        warmup,
    )
}

fn main() {
    let rate: f64 = arg("rate", 2000.0);
    let seconds: f64 = arg("seconds", 5.0);
    let warmup: usize = arg("warmup", 500);
    let size: usize = arg("size", 100);
    let n = warmup + (rate * seconds).round() as usize;
    println!(
        "## Commit-to-delivery latency\n\n{} writes per path from one writer at {rate}/s for {seconds} s (+{warmup} uncounted warm-up writes), items ~{size} B; {} cores.\n",
        n - warmup,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let mut rows = Vec::new();
    rows.extend(table_run(Durability::None, "None", n, warmup, rate, size));
    rows.extend(table_run(Durability::Sync, "Sync", n, warmup, rate, size));
    rows.push(raw_stream_run(n, warmup, rate, size));
    print_rows(&rows);
    println!("\nTarget: fan-out delivery p99 <= 1 ms in-process.");
    for r in rows.iter().filter(|r| r.path.ends_with("fan-out")) {
        let p99 = r.hist.value_at_quantile(0.99);
        println!(
            "- {} ({}): p99 {} µs, {}",
            r.path,
            r.durability,
            micros(p99),
            if p99 <= 1_000_000 { "met" } else { "missed" }
        );
    }
}
