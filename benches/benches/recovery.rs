//! `recovery`: time to reopen a database with a long change log since its
//! last checkpoint, in MB/s of log replayed (target: >= 200 MB/s).
//!
//! The parent process spawns this same binary as a child (`--child DIR`).
//! The child opens a database with background checkpoints off
//! (`checkpoint_every_bytes(u64::MAX)`, `checkpoint_interval(None)`), writes
//! ~1 KB items until the change log holds `--mb` MiB, reports that it is
//! done and waits; the parent then kills it with SIGKILL (a crash: no
//! checkpoint, no close; unlike `abort()` it leaves no core dump), runs
//! `sync` (so that writing back the writer's dirty pages does not overlap
//! the measurement), and times `Database::open` on the directory. The figures come from
//! `Database::recovery_report()` (changes and bytes replayed, open time).
//!
//! Run: `cargo bench -p eddy-benches --bench recovery -- [--mb 100]
//! [--size 1024] [--drop-caches]`. `--drop-caches` tries to empty the OS
//! page cache before reopening (needs root; otherwise the log is read from
//! the page cache, which is the common case right after a crash anyway).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use eddy::{Database, Durability, Options, ReturnValues};
use eddy_benches::{arg, flag, item, open_eddy_with, TABLE};

const MIB: f64 = (1u64 << 20) as f64;

fn options() -> Options {
    Options::new()
        .durability(Durability::None)
        .checkpoint_every_bytes(u64::MAX)
        .checkpoint_interval(None)
}

/// The child: fill the log, say so, wait to be killed.
fn child(dir: &Path, mb: u64, size: usize) -> ! {
    let db = open_eddy_with(dir, options(), false);
    let target = mb << 20;
    let started = Instant::now();
    let mut i = 0u64;
    while db.stats().log.bytes_on_disk < target {
        for _ in 0..256 {
            db.put_item(TABLE, item(i, size), ReturnValues::None)
                .unwrap_or_else(|e| panic!("put_item: {e}"));
            i += 1;
        }
    }
    // Durability::None already handed every write to the OS, which is what
    // survives a process crash; sync anyway so that --drop-caches is safe.
    db.sync().unwrap_or_else(|e| panic!("sync: {e}"));
    let stats = db.stats();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "written {i} {} {} {:.3}",
        stats.log.bytes_on_disk,
        stats.checkpoint_lsn,
        started.elapsed().as_secs_f64()
    )
    .unwrap_or_else(|e| panic!("stdout: {e}"));
    out.flush().unwrap_or_else(|e| panic!("stdout: {e}"));
    drop(out);
    loop {
        std::thread::park();
    }
}

fn main() {
    let mb: u64 = arg("mb", 100);
    let size: usize = arg("size", 1024);
    let child_dir: String = arg("child", String::new());
    if !child_dir.is_empty() {
        child(Path::new(&child_dir), mb, size);
    }

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let mut proc = Command::new(exe)
        .args(["--child", &dir.path().display().to_string()])
        .args(["--mb", &mb.to_string(), "--size", &size.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning the writer: {e}"));
    let stdout = proc
        .stdout
        .take()
        .unwrap_or_else(|| panic!("the writer's stdout"));
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("reading the writer: {e}"));
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [_, items, log_bytes, checkpoint_lsn, write_secs] = fields[..] else {
        let _ = proc.kill();
        panic!("the writer said {line:?}");
    };
    proc.kill()
        .unwrap_or_else(|e| panic!("killing the writer: {e}"));
    let status = proc
        .wait()
        .unwrap_or_else(|e| panic!("reaping the writer: {e}"));

    // Flush every dirty page first (the killed writer's 100 MB and whatever
    // earlier benchmarks left), so the kernel's writeback does not compete
    // with the reopen being timed; the log stays in the page cache.
    let synced = Command::new("sync").status().is_ok_and(|s| s.success());
    let mut caches = if synced {
        "warm (page cache; dirty pages synced first)"
    } else {
        "warm (page cache; sync failed)"
    };
    if flag("drop-caches") {
        caches = match std::fs::write("/proc/sys/vm/drop_caches", "3") {
            Ok(()) => "cold (caches dropped)",
            Err(_) => "warm (dropping caches failed)",
        };
    }

    let started = Instant::now();
    let db = Database::open_with(dir.path(), options()).unwrap_or_else(|e| panic!("reopen: {e}"));
    let wall = started.elapsed();
    let report = db.recovery_report().clone();
    let reopened_items = db.stats().last_lsn;
    drop(db);

    let secs = report.elapsed.as_secs_f64();
    let rate = report.replayed_bytes as f64 / MIB / secs;
    println!("## Recovery\n");
    println!(
        "Writer: {items} items of ~{size} B in {write_secs} s, {:.1} MiB of change log, checkpoint LSN {checkpoint_lsn}; killed ({status}). Log read {caches}.\n",
        log_bytes.parse::<f64>().unwrap_or(0.0) / MIB
    );
    println!(
        "| changes replayed | MiB replayed | open time ms | open wall ms | MiB/s | torn tail |"
    );
    println!("|---:|---:|---:|---:|---:|---|");
    println!(
        "| {} | {:.1} | {:.1} | {:.1} | {:.0} | {} |",
        report.replayed,
        report.replayed_bytes as f64 / MIB,
        secs * 1000.0,
        wall.as_secs_f64() * 1000.0,
        rate,
        report.torn_tail.as_deref().unwrap_or("none"),
    );
    println!(
        "\nTarget: >= 200 MB/s of change log: {} (last LSN after reopen: {reopened_items}).",
        if rate * MIB >= 200e6 { "met" } else { "missed" }
    );
}
