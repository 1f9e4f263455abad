//! `write_cpu`: where the CPU of a put goes, by thread. One writer puts
//! items as fast as it can (raw sled inserts, or eddy's `put_item` with
//! `Durability::None`, with or without a streaming destination), and the
//! CPU time each of the process's threads used meanwhile (from
//! `/proc/self/task`) is divided by the number of puts. This is what the
//! criterion group `put_item` cannot show: on 2 cores the writer shares
//! them with sled's I/O threads and, with a destination, the publisher.
//!
//! ```sh
//! cargo bench -p eddy-benches --bench write_cpu -- --items 200000 --items-4k 50000 --rounds 2
//! ```
//!
//! `--paths eddy_destination,sled_raw` runs only the named paths (say,
//! under `perf record`); `--items 0` or `--items-4k 0` skips a size.
//!
//! Each round runs the three paths with ~100 B items (`--items` puts), then
//! with ~4 KB items (`--items-4k` puts); a second round shows how much the
//! figures move from one run to the next on a shared machine.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use eddy::{Durability, ReturnValues};
use eddy_benches::{arg, item, open_eddy, open_sled, sled_entry, ALLOCATOR_NAME, TABLE};

/// CPU seconds per thread: the main thread (the writer) as `writer`,
/// sled's I/O threads summed as `sled-io`, the others by name; from
/// `/proc/self/task/*/stat`. Threads that end meanwhile are missed, which
/// none of the measured ones do.
fn cpu_by_thread() -> BTreeMap<String, f64> {
    let ticks = 100.0; // USER_HZ on Linux
    let main_tid = std::process::id().to_string();
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let (Ok(comm), Ok(stat)) = (
            std::fs::read_to_string(path.join("comm")),
            std::fs::read_to_string(path.join("stat")),
        ) else {
            continue;
        };
        // Fields after the parenthesised command: utime and stime are the
        // 12th and 13th.
        let Some(rest) = stat.rfind(')').and_then(|i| stat.get(i + 2..)) else {
            continue;
        };
        let fields: Vec<&str> = rest.split(' ').collect();
        let ticks_used = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        let (Some(user), Some(system)) = (ticks_used(11), ticks_used(12)) else {
            continue;
        };
        let comm = comm.trim();
        let name = if task.file_name().to_str() == Some(main_tid.as_str()) {
            "writer"
        } else if comm.starts_with("sled-io") {
            "sled-io"
        } else {
            comm
        };
        *out.entry(name.to_string()).or_insert(0.0) += (user + system) / ticks;
    }
    out
}

fn main() {
    let items: u64 = arg("items", 200_000);
    let items_4k: u64 = arg("items-4k", 50_000);
    let rounds: u32 = arg("rounds", 2);
    let paths: String = arg(
        "paths",
        "sled_raw,eddy_no_destination,eddy_destination".to_string(),
    );
    println!("## CPU per put, by thread\n");
    println!(
        "One writer, Durability::None, a fresh store per path, allocator {ALLOCATOR_NAME}; µs of CPU per put used by each thread (the publisher's counted until it caught up), and wall time per put; {items} puts of ~100 B, {items_4k} of ~4 KB, {rounds} rounds.\n"
    );
    println!("| round | size | path | wall µs | writer | publisher | sled I/O | other |");
    println!("|---:|---:|---|---:|---:|---:|---:|---:|");
    // Unreported: the process's first puts also pay for growing its heap.
    measure("sled_raw", 100, items.min(20_000));
    for round in 1..=rounds {
        for (size, items) in [(100, items), (4096, items_4k)] {
            if items == 0 {
                continue;
            }
            for path in paths.split(',') {
                let row = measure(path, size, items);
                println!("| {round} | {size} | `{path}` | {row} |");
            }
        }
    }
}

/// Puts `items` items of `size` bytes along `path`; returns the table
/// row's figures.
fn measure(path: &str, size: usize, items: u64) -> String {
    assert!(
        ["sled_raw", "eddy_no_destination", "eddy_destination"].contains(&path),
        "unknown path {path}"
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let before = cpu_by_thread();
    let started = Instant::now();
    // Kept until the CPU is read: their threads end with them.
    let (mut tree, mut db) = (None, None);
    if path == "sled_raw" {
        let t = open_sled(dir.path());
        for i in 0..items {
            let (k, v) = sled_entry(&item(i, size));
            t.insert(k, v).unwrap_or_else(|e| panic!("{e}"));
        }
        tree = Some(t);
    } else {
        let d = open_eddy(dir.path(), Durability::None, path == "eddy_destination");
        for i in 0..items {
            d.put_item(TABLE, item(i, size), ReturnValues::None)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        db = Some(d);
    }
    let wall = started.elapsed().as_secs_f64();
    // The publisher's share is only whole once it has caught up.
    if let Some(d) = &db {
        d.wait_for_streaming(Duration::from_secs(600))
            .unwrap_or_else(|e| panic!("wait_for_streaming: {e}"));
    }
    let after = cpu_by_thread();
    drop((tree, db));
    let per_put = |seconds: f64| seconds * 1e6 / items as f64;
    let mut writer = 0.0;
    let mut publisher = 0.0;
    let mut sled_io = 0.0;
    let mut other = 0.0;
    for (name, cpu) in &after {
        let used = cpu - before.get(name).copied().unwrap_or(0.0);
        match name.as_str() {
            "writer" => writer += used,
            n if n.starts_with("eddy-publish") => publisher += used,
            "sled-io" => sled_io += used,
            _ => other += used,
        }
    }
    format!(
        "{:.2} | {:.2} | {:.2} | {:.2} | {:.2}",
        per_put(wall),
        per_put(writer),
        per_put(publisher),
        per_put(sled_io),
        per_put(other)
    )
}
