//! `eddy demo`: an order-processing workload with its change stream shown.
//!
//! Several writer threads create orders, move them through statuses, add
//! line items and delete some, while a consumer thread follows the change
//! log live. At the end the demo prints the last few change records with
//! their before and after images and a summary of the run.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use eddy::stream::{CreateStream, IteratorType, StreamMode};
use eddy::{
    AttributeValue, ChangeRecord, Database, DestinationStatus, Durability, Item, KeySchema,
    KeyType, Options, Query, ReturnValues, Update,
};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Options of `eddy demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Data directory (default: a fresh temporary directory, removed at the end).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Writer threads.
    #[arg(long, default_value_t = 4)]
    writers: usize,
    /// Total write operations across all writers.
    #[arg(long, default_value_t = 20_000)]
    ops: usize,
    /// When writes are acknowledged.
    #[arg(long, value_enum, default_value_t = DurabilityArg::Sync)]
    durability: DurabilityArg,
    /// Change records to print at the end.
    #[arg(long, default_value_t = 3)]
    show: usize,
    /// Random seed, for a repeatable workload.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DurabilityArg {
    /// fdatasync before acknowledging (group commit).
    Sync,
    /// fsync every 10 ms.
    Periodic,
    /// No fsync: survives a process crash, not a power cut.
    None,
}

const STREAM: &str = "orders-changes";

/// What the change-log consumer saw: counts per event kind, the last
/// records, and each change's commit-to-delivery latency in microseconds.
type Consumed = (BTreeMap<&'static str, u64>, Vec<ChangeRecord>, Vec<u64>);

fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

const STATUSES: [&str; 4] = ["PLACED", "PAID", "SHIPPED", "DELIVERED"];

pub fn run(args: DemoArgs) -> Result<(), Box<dyn std::error::Error>> {
    let temp;
    let dir = match &args.data {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let durability = match args.durability {
        DurabilityArg::Sync => Durability::Sync,
        DurabilityArg::Periodic => Durability::Periodic(Duration::from_millis(10)),
        DurabilityArg::None => Durability::None,
    };
    let db = Database::open_with(&dir, Options::new().durability(durability))?;
    println!("eddy demo: data in {}", dir.display());
    if !db.list_tables()?.iter().any(|t| t == "orders") {
        db.create_table(
            "orders",
            KeySchema::new("customer", KeyType::S).with_sort_key("order", KeyType::N),
        )?;
    }
    // Every change of the table also streams into a 4-shard Kinesis-style
    // stream, in the record format DynamoDB writes.
    let stream_arn = format!("arn:aws:kinesis:us-east-1:000000000000:stream/{STREAM}");
    if !db.streams().list_streams().iter().any(|s| s == STREAM) {
        db.streams().create_stream(
            STREAM,
            CreateStream {
                shard_count: Some(4),
                mode: StreamMode::Provisioned,
            },
        )?;
    }
    let active = db
        .describe_kinesis_streaming_destination("orders")?
        .iter()
        .any(|d| d.status == DestinationStatus::Active);
    if !active {
        db.enable_kinesis_streaming_destination("orders", &stream_arn, None)?;
    }
    let start_lsn = db.last_lsn() + 1;
    let writers = args.writers.max(1);
    println!(
        "table orders (customer S, order N) streaming to {STREAM} (4 shards); {writers} writers, {} operations, durability {:?}",
        args.ops, args.durability
    );

    // The consumer follows the change log live while the writers run.
    let done = Arc::new(AtomicBool::new(false));
    let consumer = {
        let mut feed = db.subscribe(start_lsn)?;
        let done = done.clone();
        let db = db.clone();
        let keep = args.show;
        thread::spawn(move || -> Result<Consumed, eddy::Error> {
            let mut counts = BTreeMap::new();
            let mut last = Vec::new();
            let mut latencies = Vec::new();
            loop {
                match feed.recv_timeout(Duration::from_millis(50))? {
                    Some(change) => {
                        // Commit (the log's creation time) to delivery.
                        latencies.push(now_micros().saturating_sub(change.created_micros));
                        *counts.entry(change.kind().as_str()).or_insert(0) += 1;
                        last.push(change);
                        if last.len() > keep {
                            last.remove(0);
                        }
                    }
                    None if done.load(Ordering::Acquire)
                        && counts.values().sum::<u64>() >= db.last_lsn() + 1 - start_lsn =>
                    {
                        return Ok((counts, last, latencies));
                    }
                    None => {}
                }
            }
        })
    };

    let started = Instant::now();
    let per_writer = args.ops / writers;
    // Drawn on stderr, and only when it is a terminal.
    let bar = ProgressBar::new((per_writer * writers) as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} writes, {per_sec}, {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let db = db.clone();
            let bar = bar.clone();
            let seed = args.seed.wrapping_add(w as u64);
            thread::spawn(move || writer(&db, w, per_writer, seed, &bar))
        })
        .collect();
    let mut writes = 0u64;
    for h in handles {
        writes += h.join().map_err(|_| "a writer thread panicked")??;
    }
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    done.store(true, Ordering::Release);
    let (counts, last, mut latencies) = consumer
        .join()
        .map_err(|_| "the consumer thread panicked")??;

    println!(
        "\nlast {} change records, as the change-log consumer received them:",
        last.len()
    );
    for change in &last {
        println!("{}", describe(change));
    }
    if !db.wait_for_streaming(Duration::from_secs(30))? {
        return Err("the stream publisher did not catch up within 30 s".into());
    }
    let (per_shard, sample) = read_stream(&db, STREAM, args.show.min(2))?;
    println!("\nstream {STREAM}, read back through shard iterators from TRIM_HORIZON:");
    for (shard, count) in &per_shard {
        println!("  {shard}  {count} records");
    }
    for (shard, data) in &sample {
        println!("  a record of {shard}:\n    {data}");
    }
    let streamed: u64 = per_shard.iter().map(|(_, n)| n).sum();
    let metrics = db.streaming_metrics("orders")?;
    let delivered: u64 = counts.values().sum();
    let stats = db.stats();
    let customer_orders = count_orders(&db, "customer-0")?;
    println!("\nsummary");
    println!("  writes acknowledged   {writes}");
    println!(
        "  changes logged        {} (INSERT {}, MODIFY {}, REMOVE {})",
        stats.changes,
        counts.get("INSERT").unwrap_or(&0),
        counts.get("MODIFY").unwrap_or(&0),
        counts.get("REMOVE").unwrap_or(&0)
    );
    println!("  changes delivered     {delivered} to the live change-log consumer");
    println!(
        "  stream records        {streamed} in {STREAM} ({} change data capture units)",
        metrics.cdc_units
    );
    latencies.sort_unstable();
    let pct = |p: f64| -> u64 {
        let i = ((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1);
        latencies
            .get(i.min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "  delivery latency      p50 {} µs, p99 {} µs, p99.9 {} µs (log timestamp, taken before the fsync, to the change-log consumer)",
        pct(0.50),
        pct(0.99),
        pct(0.999)
    );
    println!("  elapsed               {:.2} s", elapsed.as_secs_f64());
    println!(
        "  writes/s              {:.0}",
        writes as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  log                   {} bytes in {} segment(s), {} fsyncs for {} appends",
        stats.log.bytes_on_disk, stats.log.segments, stats.log.fsyncs, stats.log.appends
    );
    println!("  orders of customer-0  {customer_orders} (by query, in order-number order)");
    if delivered != stats.changes {
        return Err(format!(
            "consumer saw {delivered} changes but {} were logged",
            stats.changes
        )
        .into());
    }
    db.close()?;
    Ok(())
}

/// Reads every record of a stream through shard iterators: the count per
/// shard, and the data of the last record of the first `sample` shards.
#[allow(clippy::type_complexity)]
fn read_stream(
    db: &Database,
    stream: &str,
    sample: usize,
) -> Result<(Vec<(String, u64)>, Vec<(String, String)>), eddy::Error> {
    let mut per_shard = Vec::new();
    let mut samples = Vec::new();
    for shard in db.streams().list_shards(stream)? {
        let mut iterator = Some(db.streams().get_shard_iterator(
            stream,
            &shard.shard_id,
            IteratorType::TrimHorizon,
        )?);
        let mut count = 0;
        let mut last = None;
        while let Some(it) = iterator {
            let page = db.streams().get_records(&it, None)?;
            if page.records.is_empty() {
                break;
            }
            count += page.records.len() as u64;
            last = page
                .records
                .last()
                .map(|r| String::from_utf8_lossy(&r.data).into_owned());
            iterator = page.next_shard_iterator;
        }
        if let (Some(data), true) = (last, samples.len() < sample) {
            samples.push((shard.shard_id.clone(), data));
        }
        per_shard.push((shard.shard_id, count));
    }
    Ok((per_shard, samples))
}

/// Counts a customer's orders by paging through a query.
fn count_orders(db: &Database, customer: &str) -> Result<usize, eddy::Error> {
    let mut query = Query::new(customer).limit(100);
    let mut count = 0;
    loop {
        let page = db.query("orders", &query)?;
        count += page.items.len();
        match page.last_evaluated_key {
            Some(key) => query = query.start_after(key),
            None => return Ok(count),
        }
    }
}

/// One writer: creates orders for its own customers and moves them along.
fn writer(
    db: &Database,
    id: usize,
    ops: usize,
    seed: u64,
    bar: &ProgressBar,
) -> Result<u64, eddy::Error> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut open: Vec<(String, u64)> = Vec::new();
    let mut next_order = 0u64;
    for _ in 0..ops {
        bar.inc(1);
        let roll = rng.random_range(0..100);
        if open.is_empty() || roll < 45 {
            let customer = format!("customer-{}", rng.random_range(0..50));
            next_order += 1;
            let order = ((id as u64) << 32) | next_order;
            let item = Item::new()
                .with("customer", customer.as_str())
                .with("order", order)
                .with("status", STATUSES[0])
                .with(
                    "total",
                    AttributeValue::number(&format!(
                        "{}.{:02}",
                        rng.random_range(5..500),
                        rng.random_range(0..100)
                    ))?,
                )
                .with("items", rng.random_range(1..5u64));
            db.put_item("orders", item, ReturnValues::None)?;
            open.push((customer, order));
        } else {
            let i = rng.random_range(0..open.len());
            let (customer, order) = open[i].clone();
            let key = Item::new()
                .with("customer", customer.as_str())
                .with("order", order);
            if roll < 85 {
                let status = STATUSES[rng.random_range(1..STATUSES.len())];
                let update = Update::new()
                    .set("status", status)
                    .add("items", 1)
                    .add("tags", AttributeValue::string_set([status.to_lowercase()])?);
                db.update_item("orders", &key, update, ReturnValues::None)?;
            } else {
                db.delete_item("orders", &key, ReturnValues::None)?;
                open.swap_remove(i);
            }
        }
    }
    Ok(ops as u64)
}

fn describe(change: &ChangeRecord) -> String {
    let image = |i: &Option<Item>| i.as_ref().map_or("-".to_string(), |i| i.to_json_string());
    format!(
        "  lsn {:>6} {:<6} {}\n           before {}\n           after  {}",
        change.lsn,
        change.kind().as_str(),
        change.change.keys.to_json_string(),
        image(&change.change.old_image),
        image(&change.change.new_image),
    )
}
