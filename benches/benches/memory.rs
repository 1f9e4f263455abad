//! `memory`: peak resident set size while writing many ~1 KB items with a
//! streaming destination on (target: <= 256 MiB plus the configured cache
//! for 1 million items).
//!
//! One writer puts `--items` items (default 1 000 000) of `--size` bytes
//! (default 1024) with `Durability::None` into a table streaming to a
//! 4-shard stream, with sled's cache set to `--cache-mib` MiB (default 64)
//! and the default checkpoint policy, then waits until the destination has
//! published everything. Peak RSS is `VmHWM` from `/proc/self/status`,
//! read at the end; RSS is also sampled at every tenth of the run.
//!
//! With `--index`, the table also has a global secondary index projecting
//! whole items (`eddy_benches::inverted_index`), so every write also
//! writes the item into the index, in one sled transaction with it.
//!
//! Run: `cargo bench -p eddy-benches --bench memory -- [--items 1000000]
//! [--size 1024] [--cache-mib 64] [--index]`.

use std::time::{Duration, Instant};

use eddy::{Durability, Options, ReturnValues};
use eddy_benches::{
    arg, flag, inverted_index, item, open_eddy_with_indexes, proc_status_kib, TABLE,
};

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "n/a".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn main() {
    let items: u64 = arg("items", 1_000_000);
    let size: usize = arg("size", 1024);
    let cache_mib: u64 = arg("cache-mib", 64);
    let indexed = flag("index");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let options = Options::new()
        .durability(Durability::None)
        .cache_capacity(cache_mib << 20);
    let cache_bytes = options.cache_capacity_bytes();
    let rss_at_open = proc_status_kib("VmRSS");
    let indexes = if indexed {
        vec![inverted_index()]
    } else {
        Vec::new()
    };
    let db = open_eddy_with_indexes(dir.path(), options, true, indexes);

    println!("## Memory\n");
    println!(
        "{items} items of ~{size} B, one writer, Durability::None, destination on a 4-shard stream, cache_capacity {} MiB{}, allocator {}.\n",
        cache_bytes >> 20,
        if indexed {
            ", a global secondary index projecting whole items"
        } else {
            ""
        },
        eddy_benches::ALLOCATOR_NAME
    );
    println!("| written | elapsed s | RSS MiB | peak RSS MiB |");
    println!("|---:|---:|---:|---:|");
    let started = Instant::now();
    let step = (items / 10).max(1);
    for i in 0..items {
        db.put_item(TABLE, item(i, size), ReturnValues::None)
            .unwrap_or_else(|e| panic!("put_item: {e}"));
        if (i + 1) % step == 0 {
            println!(
                "| {} | {:.1} | {} | {} |",
                i + 1,
                started.elapsed().as_secs_f64(),
                mib(proc_status_kib("VmRSS")),
                mib(proc_status_kib("VmHWM")),
            );
        }
    }
    let written = started.elapsed();
    let caught_up = db
        .wait_for_streaming(Duration::from_secs(600))
        .unwrap_or_else(|e| panic!("wait_for_streaming: {e}"));
    let published = db
        .streaming_metrics(TABLE)
        .unwrap_or_else(|e| panic!("streaming_metrics: {e}"))
        .records_published;
    let peak = proc_status_kib("VmHWM");
    let limit_kib = 256 * 1024 + (cache_bytes >> 10);
    println!(
        "\nWrote {items} items in {:.1} s ({:.0} items/s); destination caught up: {caught_up} ({published} records published) after {:.1} s.",
        written.as_secs_f64(),
        items as f64 / written.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
    println!(
        "RSS at start {} MiB, at end {} MiB; peak (VmHWM) {} MiB.",
        mib(rss_at_open),
        mib(proc_status_kib("VmRSS")),
        mib(peak)
    );
    println!(
        "Target: peak RSS <= 256 MiB + cache ({} MiB): {}.",
        limit_kib >> 10,
        match peak {
            Some(p) if p <= limit_kib => "met",
            Some(_) => "missed",
            None => "not measured (no /proc/self/status)",
        }
    );
    drop(db);
}
