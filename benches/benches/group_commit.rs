//! `group_commit`: what a durable write's group commit is made of, for the
//! figures criterion cannot give. `durable_put` says how many
//! acknowledged writes per second N writers get; this says why: how many
//! writes share an fsync, how long one fsync cycle takes, and how busy the
//! process keeps the cores meanwhile.
//!
//! It first appends and fdatasyncs a 150-byte record in a loop for
//! `--baseline-seconds` (default 2) to measure the disk of this run, then
//! runs `--writers` threads (default 16) putting ~100 B items with
//! `--durability` (`sync`, the default, or `none`) for `--seconds`
//! (default 5) after a short warm-up, and prints writes/s, the ratio to
//! the loop, fsyncs and log batches per second, writes per batch and the
//! process's CPU time (user + system, from `/proc/self/stat`) as a share
//! of all cores.
//!
//! Run: `cargo bench -p eddy-benches --bench group_commit -- [--writers 16]
//! [--seconds 5] [--durability sync|none]`.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eddy::{Durability, ReturnValues};
use eddy_benches::{arg, item, open_eddy, TABLE};

const ITEM_SIZE: usize = 100;

/// The process's CPU time so far (user + system), or `None` off Linux.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    // utime and stime are fields 14 and 15 of the line, 11 and 12 here;
    // the kernel counts them in USER_HZ, which is 100 on Linux.
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// Appends and fdatasyncs `bytes` in a loop for `seconds`: the disk's
/// serial limit in this run.
fn fdatasync_loop(seconds: f64) -> f64 {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.path().join("log"))
        .unwrap_or_else(|e| panic!("{e}"));
    let bytes = vec![7u8; 150];
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        file.write_all(&bytes).unwrap_or_else(|e| panic!("{e}"));
        file.sync_data().unwrap_or_else(|e| panic!("{e}"));
        n += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let writers: u64 = arg("writers", 16);
    let seconds: f64 = arg("seconds", 5.0);
    let baseline_seconds: f64 = arg("baseline-seconds", 2.0);
    let mode: String = arg("durability", "sync".to_string());
    let durability = match mode.as_str() {
        "sync" => Durability::Sync,
        "none" => Durability::None,
        other => panic!("--durability {other}: expected sync or none"),
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let loop_rate = fdatasync_loop(baseline_seconds);

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = open_eddy(dir.path(), durability, false);
    for i in 0..2_000 {
        db.put_item(TABLE, item(u64::MAX - i, ITEM_SIZE), ReturnValues::None)
            .unwrap_or_else(|e| panic!("warm-up: {e}"));
    }
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let before = db.stats().log;
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..writers {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    db.put_item(TABLE, item(i, ITEM_SIZE), ReturnValues::None)
                        .unwrap_or_else(|e| panic!("put_item: {e}"));
                }
            });
        }
        // A timeline on stderr: writes per second and the checkpoint LSN,
        // to see what checkpoints cost the writers.
        let mut last = (0u64, Instant::now());
        while started.elapsed().as_secs_f64() < seconds {
            std::thread::sleep(Duration::from_secs_f64(
                (seconds - started.elapsed().as_secs_f64()).clamp(0.0, 1.0),
            ));
            let now = (next.load(Ordering::Relaxed), Instant::now());
            eprintln!(
                "{:5.1} s: {:6.0} writes/s, checkpoint LSN {}",
                started.elapsed().as_secs_f64(),
                (now.0 - last.0) as f64 / (now.1 - last.1).as_secs_f64(),
                db.stats().checkpoint_lsn
            );
            last = now;
        }
        stop.store(true, Ordering::Relaxed);
    });
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_before
        .zip(cpu_seconds())
        .map(|(a, b)| format!("{:.0} %", (b - a) / elapsed / cores * 100.0));
    let after = db.stats().log;
    let writes = next.load(Ordering::Relaxed) as f64;
    let fsyncs = (after.fsyncs - before.fsyncs) as f64;
    let batches = (after.batches - before.batches) as f64;

    println!("## Group commit\n");
    println!(
        "{writers} writers, Durability::{durability:?}, ~{ITEM_SIZE} B items, {elapsed:.1} s; fdatasync loop of this run: {loop_rate:.0}/s.\n"
    );
    println!("| writes/s | / fdatasync loop | fsyncs/s | µs per fsync cycle | batches/s | writes per batch | CPU of {cores} cores |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let cycle = if fsyncs > 0.0 {
        format!("{:.0}", elapsed * 1e6 / fsyncs)
    } else {
        "n/a".into()
    };
    println!(
        "| {:.0} | {:.2}× | {:.0} | {cycle} | {:.0} | {:.2} | {} |",
        writes / elapsed,
        writes / elapsed / loop_rate,
        fsyncs / elapsed,
        batches / elapsed,
        writes / batches.max(1.0),
        cpu.unwrap_or_else(|| "n/a".into()),
    );
}
