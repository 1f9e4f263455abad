//! `eddy-torture`: the crash campaign.
//!
//! Runs `--cycles` kill cycles on one data directory, which keeps its state
//! from cycle to cycle as a long-running database would. Each cycle spawns a
//! child (this executable, hidden `child` subcommand) that opens the
//! database with `Durability::Sync` and runs a mix from many threads at once
//! (see [`child`]): item writers, transactional transfers, resharding of
//! the streaming destination's stream (`UpdateShardCount`, `SplitShard`,
//! `MergeShards`), retention changes with `trim_expired`, a checkpointing
//! [`eddy::StreamConsumer`], a `GetRecords` reader checking per-item order,
//! and explicit checkpoints. After a random delay the parent SIGKILLs it
//! (with `--power-cut`, it then also cuts the power: the data directory is
//! on a FUSE file system that forgets what was never fsynced, see
//! [`power`]), reopens the database (timing the reopen) and checks:
//!
//! 1. every acknowledged write is present with its value; each writer's one
//!    write in flight at the kill happened entirely or not at all;
//! 2. the table (and the consumer's lease table) equals the fold of the
//!    change log, whose before images chain per item; the log is folded
//!    incrementally over the state folded so far, and the child pins it
//!    from the first unverified LSN, so checkpoints can truncate it without
//!    hiding anything from the check;
//! 3. transfers are all or nothing: the balances sum to a constant; every
//!    acknowledged transfer is there on its own (a ledger item counts them);
//! 4. the stream holds every change of the table committed after the
//!    destination was enabled, byte for byte as rendered from the log, per
//!    item in commit order, duplicates only with equal event ids, across
//!    resharding (parents read before children); nothing once published
//!    goes missing (retention changes and trims never remove a record);
//! 5. no consumer checkpoint is ahead of the highest record the consumer
//!    processed in that shard, nor behind the last checkpoint acknowledged
//!    to it; `SHARD_END` only for a closed shard processed to its end;
//! 6. neither the store's checkpoint nor the destination's position is
//!    past the end of the change log; the destination publishes a change the
//!    parent makes after the reopen (a stalled publisher fails);
//! 7. the reopen time of every cycle is printed, and its maximum and 99th
//!    percentile at the end.
//!
//! A share of the children (`--unpinned`) run without pinning the log, so
//! that checkpoints truncate it as far as the destination's position
//! allows; after such a cycle the fold of invariant 2 starts again from the
//! oldest change retained if the log no longer holds the first one not yet
//! verified.
//!
//! A share of the cycles (`--lose-store`) damage the store after the kill:
//! they remove it, overwrite sled's file, or remove the snapshot directory
//! (see [`damage`]); the reopen must rebuild the store from eddy's own
//! snapshot and the change log, and every check above must still hold.
//!
//! A failure stops the campaign with a message naming the cycle and the
//! seed, and exit status 1; the data directory is kept for inspection.
//! Two bugs of the store's sled dependency fail it too, with a diagnosis;
//! `--work-around-sled` works around them instead (see [`sled_bugs`]).
//!
//! ```text
//! eddy-torture --cycles N [--seed S] [--data DIR] [--threads 4]
//!              [--min-ms 50 --max-ms 1500] [--full-check-every 500] [--quiet]
//!              [--reshard-min-ms 200 --reshard-max-ms 500]
//!              [--work-around-sled] [--power-cut [--strict-cuts]] [--unpinned 0.25]
//!              [--lose-store 0.1]
//! ```

mod campaign;
mod checks;
mod child;
mod common;
mod damage;
mod power;
#[cfg(test)]
mod selftest;
mod sled_bugs;
mod stream_check;
mod transcript;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use crate::campaign::{prepare_dir, Campaign, Settings};
use crate::common::Result;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "eddy-torture",
    about = "Crash campaign: SIGKILLs a busy eddy database over and over and checks its invariants after every reopen"
)]
struct Cli {
    /// The hidden child mode.
    #[command(subcommand)]
    command: Option<Sub>,
    /// Kill cycles to run.
    #[arg(long, default_value_t = 100)]
    cycles: u64,
    /// Campaign seed (default: from the clock; printed at the start).
    #[arg(long)]
    seed: Option<u64>,
    /// Data directory, created or empty (default: a temporary directory,
    /// removed after a passing campaign).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Item writer threads in each child.
    #[arg(long, default_value_t = 4)]
    threads: usize,
    /// Shortest delay before a kill, ms, counted from the moment the child
    /// has opened the database (10% of kills land during its open instead).
    #[arg(long, default_value_t = 50)]
    min_ms: u64,
    /// Longest delay before a kill, ms, counted from the child's open.
    #[arg(long, default_value_t = 1500)]
    max_ms: u64,
    /// Re-read the whole stream every this many cycles (0: only at the end).
    #[arg(long, default_value_t = 500)]
    full_check_every: u64,
    /// Shortest pause between a child's resharding operations, ms (the
    /// first comes after up to `--reshard-max-ms`). Closed shards stay
    /// listed for 24 hours, so the shard count grows with every reshard.
    #[arg(long, default_value_t = 200)]
    reshard_min_ms: u64,
    /// Longest pause between a child's resharding operations, ms.
    #[arg(long, default_value_t = 500)]
    reshard_max_ms: u64,
    /// Print a progress line every 100 cycles instead of every cycle.
    #[arg(long)]
    quiet: bool,
    /// Work around two bugs of the store's sled 0.34.7 instead of failing
    /// on them: delete the torn `snap.*.generating` file a kill during open
    /// leaves (spacejam/sled#1527) before each reopen, and wait after each
    /// close until sled's file lock, which its detached I/O jobs hold a
    /// little longer, is free. Off by default.
    #[arg(long)]
    work_around_sled: bool,
    /// Put the data directory on a FUSE file system that forgets what was
    /// never fsynced, and cut the power after every kill (needs /dev/fuse;
    /// `--data` then names where the durable image is written if a cycle
    /// fails).
    #[arg(long)]
    power_cut: bool,
    /// With `--power-cut`: every cut strict (drops every unsynced byte);
    /// by default half the cuts keep a random half of the unsynced pages
    /// and half of those also tear one page.
    #[arg(long)]
    strict_cuts: bool,
    /// The share of cycles whose child does not pin the change log.
    #[arg(long, default_value_t = 0.25)]
    unpinned: f64,
    /// The share of cycles that, after the kill (and cut), remove the
    /// store, overwrite sled's file, or remove the snapshot directory; the
    /// reopen must rebuild the store from its snapshot and the change log.
    #[arg(long, default_value_t = 0.1)]
    lose_store: f64,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
enum Sub {
    /// The child process of a kill cycle (run by the campaign itself).
    #[command(hide = true)]
    Child(child::ChildArgs),
}

/// Runs the child when asked to, else the campaign; exits 0 only if every
/// cycle passed.
fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Sub::Child(args)) = &cli.command {
        child::run(args);
    }
    for (flag, share) in [
        ("--unpinned", cli.unpinned),
        ("--lose-store", cli.lose_store),
    ] {
        if !(0.0..=1.0).contains(&share) {
            eprintln!("eddy-torture: {flag} takes a share from 0 to 1, not {share}");
            return ExitCode::FAILURE;
        }
    }
    let seed = cli.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let power = if cli.power_cut {
        match power::PowerCuts::mount(seed, cli.strict_cuts) {
            Ok(power) => Some(power),
            Err(e) => {
                eprintln!("eddy-torture: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    // Where a failed campaign leaves its data: the directory itself, or
    // with power cuts the durable image of the mount.
    let (kept, temp) = match &cli.data {
        Some(dir) => (dir.clone(), None),
        None => match tempfile::Builder::new().prefix("eddy-torture-").tempdir() {
            Ok(temp) => (temp.path().to_path_buf(), Some(temp)),
            Err(e) => {
                eprintln!("eddy-torture: creating a temporary directory: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let data = power
        .as_ref()
        .map_or_else(|| kept.clone(), |p| p.data_dir());
    let settings = Settings {
        cycles: cli.cycles,
        seed,
        data: data.clone(),
        threads: cli.threads.max(1),
        min_ms: cli.min_ms,
        max_ms: cli.max_ms,
        full_check_every: cli.full_check_every,
        reshard_ms: (
            cli.reshard_min_ms,
            cli.reshard_max_ms.max(cli.reshard_min_ms),
        ),
        quiet: cli.quiet,
        work_around_sled: cli.work_around_sled,
        unpinned: cli.unpinned,
        lose_store: cli.lose_store,
    };
    println!(
        "eddy-torture: {} cycles, seed {seed}, {} writer threads, kills {}..{} ms after the child's open{}, data in {}",
        settings.cycles,
        settings.threads,
        settings.min_ms,
        settings.max_ms,
        if power.is_some() { ", then power cuts" } else { "" },
        data.display()
    );
    let started = Instant::now();
    let mut campaign = Campaign::new(settings, power);
    let result = run(
        &mut campaign,
        cli.cycles,
        cli.data.is_some() && !cli.power_cut,
    );
    summary(&campaign, started.elapsed(), result.is_ok());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("FAILED: {}", eddy::error_chain(&e));
            if let Some(power) = campaign.power() {
                match power.keep_image(&kept) {
                    Ok(()) => println!(
                        "the durable image of the power-cut file system (after the failed check) is in {}",
                        kept.display()
                    ),
                    Err(e) => println!("{e}"),
                }
            }
            println!(
                "reproduce with: eddy-torture --cycles {} --seed {seed}{} (the data directory {} is kept)",
                cli.cycles,
                if cli.power_cut { " --power-cut" } else { "" },
                kept.display()
            );
            if let Some(temp) = temp {
                let _ = temp.keep();
            }
            ExitCode::FAILURE
        }
    }
}

/// Sets the database up and runs the cycles.
fn run(campaign: &mut Campaign, cycles: u64, given_dir: bool) -> Result<()> {
    if given_dir {
        prepare_dir(campaign.data())?;
    }
    campaign.set_up()?;
    for cycle in 0..cycles {
        campaign.run_cycle(cycle)?;
    }
    Ok(())
}

/// The `p`-th percentile of `times` (nearest rank).
fn percentile(times: &[Duration], p: f64) -> Duration {
    if times.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Prints the summary lines.
fn summary(campaign: &Campaign, elapsed: Duration, passed: bool) {
    let t = &campaign.totals;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let reopens = &t.reopens;
    let mean = if reopens.is_empty() {
        Duration::ZERO
    } else {
        reopens.iter().sum::<Duration>() / reopens.len() as u32
    };
    let stream = campaign.stream();
    println!("==== eddy-torture summary ====");
    println!(
        "cycles verified:        {} ({} killed before the open completed)",
        t.cycles, t.early_kills
    );
    println!("acked writes verified:  {}", t.acks);
    println!(
        "transactions:           {} committed, {} cancelled",
        t.transfers, t.cancelled
    );
    println!("reshard operations:     {}", t.reshards);
    println!(
        "retention changes:      {} (each trim removed nothing)",
        t.retention_changes
    );
    println!("db checkpoints (child): {}", t.db_checkpoints);
    println!(
        "unpinned cycles:        {} ({} with the log truncated past the last verified change)",
        t.unpinned, t.rebased
    );
    println!(
        "store damaged:          {} removed, {} overwritten, {} snapshot directories removed ({} more skipped: no snapshot yet); {} rebuilds ({} items restored from snapshots)",
        t.damages[0], t.damages[1], t.damages[2], t.damages_skipped, t.store_rebuilds, t.items_restored
    );
    if let Some(power) = campaign.power() {
        let c = &power.totals;
        let mut per_cut = c.bytes_per_cut.clone();
        per_cut.sort_unstable();
        let at = |p: f64| {
            per_cut
                .get(((p / 100.0) * per_cut.len() as f64) as usize)
                .or(per_cut.last())
                .copied()
                .unwrap_or(0)
        };
        println!(
            "power cuts:             {} strict, {} partial, {} torn; {} bytes dropped in all (per cut: p50 {}, p99 {}, max {}), {} unsynced pages dropped and {} kept, {} names undone",
            c.kinds[0],
            c.kinds[1],
            c.kinds[2],
            c.bytes_dropped,
            at(50.0),
            at(99.0),
            per_cut.last().copied().unwrap_or(0),
            c.pages_dropped,
            c.pages_kept,
            c.names_dropped
        );
    }
    println!(
        "consumer checkpoints:   {} ({} records processed)",
        t.consumer_checkpoints, t.processed
    );
    println!("log changes folded:     {}", campaign.changes());
    println!(
        "stream records checked: {} by the parent ({} duplicates, {} of changes truncated from the log before the check), {} by child readers, {} full re-reads",
        stream.records, stream.duplicates, stream.unverifiable, t.reader_records, stream.full_checks
    );
    println!(
        "reopen time:            max {:.1} ms, p99 {:.1} ms, p50 {:.1} ms, mean {:.1} ms",
        ms(reopens.iter().copied().max().unwrap_or_default()),
        ms(percentile(reopens, 99.0)),
        ms(percentile(reopens, 50.0)),
        ms(mean)
    );
    println!(
        "child open (spawn..READY): max {:.1} ms, p99 {:.1} ms, p50 {:.1} ms",
        ms(t.child_opens.iter().copied().max().unwrap_or_default()),
        ms(percentile(&t.child_opens, 99.0)),
        ms(percentile(&t.child_opens, 50.0)),
    );
    println!(
        "sled bugs:              {} torn snapshots {}, lock held after {} closes (longest {:.1} ms)",
        t.torn_sled_snapshots,
        if campaign.works_around_sled() { "deleted" } else { "seen" },
        t.lingering_sled_locks,
        ms(t.longest_sled_lock)
    );
    println!("elapsed:                {:.1} s", elapsed.as_secs_f64());
    println!(
        "result:                 {}",
        if passed { "PASS" } else { "FAIL" }
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let times: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&times, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&times, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&[], 99.0), Duration::ZERO);
    }
}
