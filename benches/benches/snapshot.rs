//! `snapshot`: what the store's own copy costs. Writes `--items` items of
//! `--size` bytes, then measures, in the same run:
//!
//! * **snapshot**: `Database::snapshot()` (every item framed, crc'ed,
//!   written and fdatasync'ed, then a checkpoint), against the baseline of
//!   a raw sled tree holding the same entries scanned into a file and
//!   fdatasync'ed (what any copy of the store must at least do);
//! * **writes during a snapshot**: 100 B puts per second from one thread
//!   (`Durability::None`) while snapshots run back to back, against the
//!   same thread with none running;
//! * **rebuild**: reopening after the store's directory is removed (the
//!   store rebuilt from the snapshot, then the log after it replayed),
//!   against reopening the intact directory.
//!
//! Run: `cargo bench -p eddy-benches --bench snapshot -- [--items 1000000]
//! [--size 100]`.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eddy::{Database, Durability, Options, ReturnValues};
use eddy_benches::{arg, item, open_eddy_with, open_sled, sled_entry, TABLE};

const MIB: f64 = (1u64 << 20) as f64;

fn options() -> Options {
    Options::new()
        .durability(Durability::None)
        .checkpoint_interval(None)
        .snapshot_every_bytes(u64::MAX)
}

/// Puts per second from one thread for `for_how_long`.
fn put_rate(db: &Database, from: u64, for_how_long: Duration) -> f64 {
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < for_how_long {
        for _ in 0..64 {
            db.put_item(TABLE, item(from + n, 100), ReturnValues::None)
                .unwrap_or_else(|e| panic!("put_item: {e}"));
            n += 1;
        }
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let items: u64 = arg("items", 1_000_000);
    let size: usize = arg("size", 100);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let data = dir.path().join("db");
    let db = open_eddy_with(&data, options(), false);
    let filled = Instant::now();
    for i in 0..items {
        db.put_item(TABLE, item(i, size), ReturnValues::None)
            .unwrap_or_else(|e| panic!("put_item: {e}"));
    }
    db.checkpoint()
        .unwrap_or_else(|e| panic!("checkpoint: {e}"));
    println!(
        "filled {items} items of {size} B in {:.1} s",
        filled.elapsed().as_secs_f64()
    );

    // Baseline: the same entries in a raw sled tree, scanned into a file.
    let raw_dir = dir.path().join("raw");
    let tree = open_sled(&raw_dir);
    for i in 0..items {
        let (k, v) = sled_entry(&item(i, size));
        tree.insert(k, v)
            .unwrap_or_else(|e| panic!("sled insert: {e}"));
    }
    tree.flush().unwrap_or_else(|e| panic!("sled flush: {e}"));
    let started = Instant::now();
    let mut out = std::io::BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(dir.path().join("raw.copy")).unwrap_or_else(|e| panic!("{e}")),
    );
    let mut raw_bytes = 0u64;
    for kv in tree.iter() {
        let (k, v) = kv.unwrap_or_else(|e| panic!("sled scan: {e}"));
        out.write_all(&k)
            .and_then(|()| out.write_all(&v))
            .unwrap_or_else(|e| panic!("{e}"));
        raw_bytes += (k.len() + v.len()) as u64;
    }
    let file = out.into_inner().unwrap_or_else(|e| panic!("{e}"));
    file.sync_data().unwrap_or_else(|e| panic!("{e}"));
    let raw = started.elapsed().as_secs_f64();
    drop(tree);

    let started = Instant::now();
    let snapshot = db.snapshot().unwrap_or_else(|e| panic!("snapshot: {e}"));
    let took = started.elapsed().as_secs_f64();
    println!(
        "snapshot:  {:.2} s, {:.0} K items/s, {:.0} MiB/s ({} bytes) | raw sled scan into a file: {:.2} s, {:.0} MiB/s ({raw_bytes} bytes) | ratio {:.2}x the baseline's time",
        took,
        items as f64 / took / 1e3,
        snapshot.bytes as f64 / MIB / took,
        snapshot.bytes,
        raw,
        raw_bytes as f64 / MIB / raw,
        took / raw
    );

    let alone = put_rate(&db, items, Duration::from_secs(3));
    let running = Arc::new(AtomicBool::new(true));
    let snapshots = {
        let (db, running) = (db.clone(), Arc::clone(&running));
        std::thread::spawn(move || {
            let mut n = 0u32;
            while running.load(Ordering::Relaxed) {
                db.snapshot().unwrap_or_else(|e| panic!("snapshot: {e}"));
                n += 1;
            }
            n
        })
    };
    let during = put_rate(&db, items * 2, Duration::from_secs(3));
    running.store(false, Ordering::Relaxed);
    let taken = snapshots
        .join()
        .unwrap_or_else(|_| panic!("snapshot thread"));
    println!(
        "100 B puts, one thread: {:.0} K/s alone, {:.0} K/s during snapshots ({taken} taken) | ratio {:.2}",
        alone / 1e3,
        during / 1e3,
        during / alone
    );

    // Writes after the last snapshot, which the rebuild replays.
    for i in 0..items / 10 {
        db.put_item(TABLE, item(i, size), ReturnValues::None)
            .unwrap_or_else(|e| panic!("put_item: {e}"));
    }
    db.close().unwrap_or_else(|e| panic!("close: {e}"));
    drop(db);
    let started = Instant::now();
    let db = Database::open_with(&data, options()).unwrap_or_else(|e| panic!("reopen: {e}"));
    let intact = started.elapsed().as_secs_f64();
    db.close().unwrap_or_else(|e| panic!("close: {e}"));
    drop(db);
    std::fs::remove_dir_all(data.join("store")).unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let db = Database::open_with(&data, options()).unwrap_or_else(|e| panic!("rebuild: {e}"));
    let rebuilt_in = started.elapsed().as_secs_f64();
    let report = db.recovery_report().clone();
    let rebuilt = report
        .store_rebuilt
        .unwrap_or_else(|| panic!("the store was not rebuilt"));
    println!(
        "rebuild: {:.2} s ({} items from the snapshot, {:.0} K items/s, then {} changes replayed) | intact reopen: {:.3} s",
        rebuilt_in,
        rebuilt.items,
        rebuilt.items as f64 / rebuilt_in / 1e3,
        report.replayed,
        intact
    );
}
