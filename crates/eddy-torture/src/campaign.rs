//! The parent: sets the database up, then cycle after cycle spawns a child,
//! SIGKILLs it after a random delay (and with `--power-cut` cuts the power,
//! see [`crate::power`]), reopens the database (timed) and checks every
//! invariant before the next cycle, on the same data directory.

use std::io::BufReader;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use eddy::stream::{CreateStream, StreamMode};
use eddy::{InitialPosition, Item, KeySchema, KeyType, ReturnValues};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::checks::{At, Consumption, Ledger, Model};
use crate::common::{
    open, CampaignError, Context, Result, ACCOUNTS, APP, INITIAL_BALANCE, MARKER, STREAM,
    STREAM_ARN, TABLE,
};
use crate::damage::{self, Damage};
use crate::power::{self, PowerCuts};
use crate::sled_bugs;
use crate::stream_check::StreamTracker;
use crate::transcript::Transcript;

/// How the campaign runs (from the command line).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Kill cycles to run.
    pub cycles: u64,
    /// The campaign seed: kill delays and the children's seeds derive from it.
    pub seed: u64,
    /// The data directory (created, or empty).
    pub data: PathBuf,
    /// Item writer threads in each child.
    pub threads: usize,
    /// Shortest delay before the kill, ms, counted from the child's `READY`
    /// (10% of kills come during the child's open and recovery instead).
    pub min_ms: u64,
    /// Longest delay before the kill, ms, counted from the child's `READY`.
    pub max_ms: u64,
    /// Re-read the whole stream every this many cycles (0: only at the end).
    pub full_check_every: u64,
    /// Shortest and longest pause between a child's resharding operations, ms.
    pub reshard_ms: (u64, u64),
    /// Print a line every 100 cycles instead of every cycle.
    pub quiet: bool,
    /// Work around the store's two sled bugs (see [`crate::sled_bugs`])
    /// instead of failing on them.
    pub work_around_sled: bool,
    /// The share of cycles whose child does not pin the change log, so
    /// that checkpoints truncate it as far as they would in production.
    pub unpinned: f64,
    /// The share of cycles that damage the store (or its snapshots) before
    /// the reopen (see [`crate::damage`]).
    pub lose_store: f64,
}

/// Totals over the campaign, for the summary.
#[derive(Debug, Default)]
pub struct Totals {
    /// Cycles completed and verified.
    pub cycles: u64,
    /// Acknowledged writes verified.
    pub acks: u64,
    /// Committed transfers.
    pub transfers: u64,
    /// Cancelled transfers.
    pub cancelled: u64,
    /// Completed resharding operations.
    pub reshards: u64,
    /// Retention changes, each followed by a trim that trimmed nothing.
    pub retention_changes: u64,
    /// Explicit database checkpoints in children.
    pub db_checkpoints: u64,
    /// Records handed to consumers.
    pub processed: u64,
    /// Consumer checkpoints that returned.
    pub consumer_checkpoints: u64,
    /// Records the children's stream readers checked.
    pub reader_records: u64,
    /// Kills before the child had opened the database.
    pub early_kills: u64,
    /// Child open times (spawn to `READY`), one per cycle that waited for it.
    pub child_opens: Vec<Duration>,
    /// Torn sled snapshots deleted by the workaround.
    pub torn_sled_snapshots: u64,
    /// Closes after which sled's file lock was still held.
    pub lingering_sled_locks: u64,
    /// The longest it was held after a close.
    pub longest_sled_lock: Duration,
    /// Reopen times, one per cycle.
    pub reopens: Vec<Duration>,
    /// Cycles whose child ran without pinning the change log.
    pub unpinned: u64,
    /// Of those, cycles after which the log no longer held the first change
    /// not yet verified (the fold started again from the oldest retained).
    pub rebased: u64,
    /// Cycles that damaged the store, by kind ([`Damage::ALL`]'s order).
    pub damages: [u64; 3],
    /// Store damages not inflicted because nothing on disk could rebuild
    /// the store (no snapshot, and a log already cut).
    pub damages_skipped: u64,
    /// Reopens that rebuilt the store from its snapshot and the log.
    pub store_rebuilds: u64,
    /// Items those rebuilds restored from snapshots.
    pub items_restored: u64,
}

/// How long a child may take to open the database.
const READY_TIMEOUT: Duration = Duration::from_secs(300);

/// The campaign's state across cycles.
pub struct Campaign {
    settings: Settings,
    /// How long the last child took from spawn to `READY`, ms.
    open_ms: u64,
    rng: StdRng,
    model: Model,
    ledger: Ledger,
    stream: StreamTracker,
    consumption: Consumption,
    /// The power-cut file system the data directory lives on, if any.
    power: Option<PowerCuts>,
    /// Totals so far.
    pub totals: Totals,
}

/// A child's seed for a cycle (splitmix64 of the campaign seed and cycle).
fn child_seed(seed: u64, cycle: u64) -> u64 {
    let mut z = seed ^ cycle.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Campaign {
    /// A campaign over `settings.data`, which must not hold a database yet
    /// (and must be on `power`'s mount, if cuts are asked for).
    pub fn new(settings: Settings, power: Option<PowerCuts>) -> Campaign {
        Campaign {
            open_ms: 100,
            rng: StdRng::seed_from_u64(settings.seed),
            settings,
            model: Model::default(),
            ledger: Ledger::default(),
            stream: StreamTracker::default(),
            consumption: Consumption::default(),
            power,
            totals: Totals::default(),
        }
    }

    /// The power cuts, if the campaign makes them.
    pub fn power(&self) -> Option<&PowerCuts> {
        self.power.as_ref()
    }

    /// The campaign's data directory.
    pub fn data(&self) -> &Path {
        &self.settings.data
    }

    /// Whether the sled workarounds are on.
    pub fn works_around_sled(&self) -> bool {
        self.settings.work_around_sled
    }

    /// The stream tracker (for the summary).
    pub fn stream(&self) -> &StreamTracker {
        &self.stream
    }

    /// Changes folded from the log so far.
    pub fn changes(&self) -> u64 {
        self.model.changes
    }

    /// Creates the table, the stream (2 shards), the streaming destination,
    /// the accounts and the consumer's lease table.
    pub fn set_up(&self) -> Result<()> {
        let dir = &self.settings.data;
        let db = open(dir).ctx(|| format!("creating a database in {}", dir.display()))?;
        if !db.list_tables().ctx(|| "listing tables".into())?.is_empty() {
            return Err(CampaignError::Io {
                context: format!(
                    "{} already holds a database; the campaign needs a fresh directory",
                    dir.display()
                ),
                source: std::io::ErrorKind::AlreadyExists.into(),
            });
        }
        db.create_table(TABLE, KeySchema::new("pk", KeyType::S))
            .ctx(|| "creating the table".into())?;
        let shards = CreateStream {
            shard_count: Some(2),
            mode: StreamMode::Provisioned,
        };
        db.streams()
            .create_stream(STREAM, shards)
            .ctx(|| "creating the stream".into())?;
        db.enable_kinesis_streaming_destination(TABLE, STREAM_ARN, None)
            .ctx(|| "enabling the streaming destination".into())?;
        for a in 0..ACCOUNTS {
            let account = Item::new()
                .with("pk", format!("acct-{a}"))
                .with("balance", INITIAL_BALANCE);
            db.put_item(TABLE, account, ReturnValues::None)
                .ctx(|| "creating an account".into())?;
        }
        drop(
            db.stream_consumer(APP, STREAM, InitialPosition::TrimHorizon)
                .ctx(|| "creating the consumer's lease table".into())?,
        );
        db.close().ctx(|| "closing after set-up".into())
    }

    /// Spawns the child of a cycle; a `pinned` child keeps the change log
    /// from the first LSN the parent has not verified.
    fn spawn(&self, cycle: u64, seed: u64, pinned: bool) -> Result<Child> {
        let exe = std::env::current_exe().ctx(|| "finding the campaign's executable".into())?;
        let pin = if self.model.last_lsn == 0 {
            0
        } else {
            self.model.last_lsn + 1
        };
        let mut command = Command::new(exe);
        command
            .arg("child")
            .arg("--data")
            .arg(&self.settings.data)
            .args(["--cycle", &cycle.to_string(), "--seed", &seed.to_string()])
            .args(["--threads", &self.settings.threads.to_string()]);
        if pinned {
            command.args(["--pin-lsn", &pin.to_string()]);
        }
        command
            .args(["--reshard-min-ms", &self.settings.reshard_ms.0.to_string()])
            .args(["--reshard-max-ms", &self.settings.reshard_ms.1.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .ctx(|| "spawning the child".into())
    }

    /// Runs one kill cycle and its checks.
    pub fn run_cycle(&mut self, cycle: u64) -> Result<()> {
        let at = At {
            cycle,
            seed: self.settings.seed,
        };
        let seed = child_seed(self.settings.seed, cycle);
        let (min, max) = (
            self.settings.min_ms,
            self.settings.max_ms.max(self.settings.min_ms),
        );
        // One kill in ten lands during the child's open and recovery (as
        // long as the last one took); the others after a delay counted
        // from the moment the child's threads start.
        let during_open = self.rng.random_bool(0.1);
        let wait = if during_open {
            self.rng.random_range(0..=self.open_ms.max(1))
        } else {
            self.rng.random_range(min..=max)
        };
        let pinned = !self.rng.random_bool(self.settings.unpinned);
        self.totals.unpinned += u64::from(!pinned);
        let mut child = self.spawn(cycle, seed, pinned)?;
        let spawned = Instant::now();
        let Some(stdout) = child.stdout.take() else {
            return at.fail("the child has no stdout pipe".into());
        };
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            Transcript::read_notifying(BufReader::new(stdout), || {
                let _ = ready_tx.send(());
            })
        });
        if during_open {
            std::thread::sleep(Duration::from_millis(wait));
        } else {
            match ready_rx.recv_timeout(READY_TIMEOUT) {
                Ok(()) => {
                    let open = spawned.elapsed();
                    self.open_ms = open.as_millis() as u64;
                    self.totals.child_opens.push(open);
                    std::thread::sleep(Duration::from_millis(wait));
                }
                // The child died before opening: reported below.
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    return at.fail(format!(
                        "the child (seed {seed}) did not open the database within {READY_TIMEOUT:?}"
                    ));
                }
            }
        }
        let exited_early = child.try_wait().ctx(|| "polling the child".into())?;
        child.kill().ctx(|| "killing the child".into())?;
        let status = child.wait().ctx(|| "reaping the child".into())?;
        let transcript = match reader.join() {
            Ok(t) => t,
            Err(_) => return at.fail("the transcript reader panicked".into()),
        };
        if let Some(message) = &transcript.panic {
            return at.fail(format!(
                "the child (seed {seed}) failed a check: {message}{}",
                sled_bugs::lock_diagnosis(message)
            ));
        }
        if exited_early.is_some() || status.signal() != Some(9) {
            return at.fail(format!(
                "the child (seed {seed}) ended by itself before the kill: {status}"
            ));
        }
        if let Some(line) = transcript.garbled.first() {
            return at.fail(format!("the child printed an unexpected line: {line:?}"));
        }
        self.absorb(&transcript);

        let mut phase = match (during_open, transcript.ready) {
            (true, false) => format!("{wait} ms after spawn, during its open"),
            (true, true) => format!("{wait} ms after spawn, just after its open"),
            (false, _) => format!("{wait} ms after its open completed"),
        };
        if !pinned {
            phase.push_str(", log not pinned");
        }
        if let Some(power) = self.power.as_mut() {
            let (kind, report) = power.cut()?;
            phase.push_str(&format!("; then a {}", power::describe(kind, &report)));
        }
        let mut damage = self
            .rng
            .random_bool(self.settings.lose_store)
            .then(|| Damage::pick(&mut self.rng));
        if damage.is_some_and(Damage::needs_rebuild) && !damage::rebuildable(&self.settings.data)? {
            // The snapshot was removed by an earlier cycle and the child
            // died before its open wrote a new one: losing the store as
            // well would be a double fault, which nothing survives.
            self.totals.damages_skipped += 1;
            damage = None;
        }
        if let Some(damage) = damage {
            damage.inflict(&self.settings.data, &mut self.rng)?;
            self.totals.damages[damage.index()] += 1;
            phase.push_str(&format!("; then {}", damage.describe()));
        }
        let store = self.settings.data.join("store");
        if self.settings.work_around_sled {
            self.totals.torn_sled_snapshots += sled_bugs::remove_torn_snapshots(&store)?;
        }
        let started = Instant::now();
        let db = match open(&self.settings.data) {
            Ok(db) => db,
            Err(e) => {
                let diagnosis = sled_bugs::torn_snapshot_diagnosis(&store)?;
                return at.fail(format!(
                    "the database does not reopen after the child (seed {seed}) was killed {phase}: {}{diagnosis}",
                    eddy::error_chain(&e)
                ));
            }
        };
        let reopen = started.elapsed();
        self.totals.reopens.push(reopen);
        let report = db.recovery_report().clone();
        match (&report.store_rebuilt, damage) {
            (Some(rebuilt), _) => {
                self.totals.store_rebuilds += 1;
                self.totals.items_restored += rebuilt.items;
            }
            (None, Some(damage)) if damage.needs_rebuild() => {
                return at.fail(format!(
                    "the child (seed {seed}) was killed {phase}, and the reopen did not rebuild the store"
                ));
            }
            (None, _) => {}
        }
        check_positions(&db, &at, report.checkpoint_lsn)?;
        // A change of the parent's own, which the destination must publish
        // before the stream check below: a stalled publisher fails it.
        let marker = Item::new().with("pk", MARKER).with("v", cycle);
        db.put_item(TABLE, marker, ReturnValues::None)
            .ctx(|| format!("cycle {cycle}: writing the marker item"))?;

        let folded = self.model.fold_log(&db, &at, !pinned)?;
        self.totals.rebased += u64::from(folded.rebased);
        self.model
            .check_acked(&at, &transcript, self.settings.threads)?;
        self.ledger.check(&db, &at, &transcript)?;
        self.stream.check_cycle(
            &db,
            &at,
            folded.changes,
            self.model.last_lsn,
            folded.rebased,
        )?;
        self.consumption.check(&db, &at, &self.stream)?;
        let every = self.settings.full_check_every;
        if every > 0 && (cycle + 1).is_multiple_of(every) {
            self.stream.full_check(&db, &at)?;
        }
        if cycle + 1 == self.settings.cycles {
            self.stream.full_check(&db, &at)?;
        }
        db.close().ctx(|| format!("cycle {cycle}: closing"))?;
        drop(db);
        self.after_close(&store)?;
        self.totals.cycles += 1;
        if !self.settings.quiet || (cycle + 1).is_multiple_of(100) {
            println!(
                "cycle {cycle}: killed {phase}, {} acks, {} transfers, {} reshards, {} consumer checkpoints; reopen {:.1} ms ({}replayed {} changes from LSN {}), log at LSN {}",
                transcript.acks,
                transcript.transfers,
                transcript.reshards,
                transcript.consumer_checkpoints,
                reopen.as_secs_f64() * 1000.0,
                report.store_rebuilt.as_ref().map_or(String::new(), |r| format!(
                    "store rebuilt from the snapshot at LSN {} with {} items, ",
                    r.snapshot_lsn, r.items
                )),
                report.replayed,
                report.checkpoint_lsn,
                self.model.last_lsn,
            );
        }
        Ok(())
    }

    /// Notes whether sled's file lock outlived the close (sled bug 2) and,
    /// with the workaround, waits until it is free.
    fn after_close(&mut self, store: &Path) -> Result<()> {
        let held = if self.settings.work_around_sled {
            sled_bugs::wait_for_lock(store, Duration::from_secs(60))?
        } else {
            (!sled_bugs::lock_free(store)?).then_some(Duration::ZERO)
        };
        if let Some(held) = held {
            self.totals.lingering_sled_locks += 1;
            self.totals.longest_sled_lock = self.totals.longest_sled_lock.max(held);
        }
        Ok(())
    }

    /// Adds a transcript to the totals and the consumer's record.
    fn absorb(&mut self, t: &Transcript) {
        let totals = &mut self.totals;
        totals.acks += t.acks;
        totals.transfers += t.transfers;
        totals.cancelled += t.cancelled;
        totals.reshards += t.reshards;
        totals.retention_changes += t.retention_changes;
        totals.db_checkpoints += t.db_checkpoints;
        totals.processed += t.processed;
        totals.consumer_checkpoints += t.consumer_checkpoints;
        totals.reader_records += t.reader_records;
        totals.early_kills += u64::from(!t.ready);
        self.consumption.absorb(t);
    }
}

/// Right after a reopen: the table is there, and neither the store's checkpoint nor the
/// destination's published position is ahead of the change log's end
/// (else the log lost changes the store or the stream already had).
fn check_positions(db: &eddy::Database, at: &At, checkpoint_lsn: u64) -> Result<()> {
    if let Err(e) = db.describe_table(TABLE) {
        return at.fail(format!(
            "the campaign's table is gone after the reopen ({e}); the store's checkpoint is at LSN {checkpoint_lsn}, the log ends at LSN {}",
            db.stats().last_lsn
        ));
    }
    let last = db.stats().last_lsn;
    if checkpoint_lsn > last {
        return at.fail(format!(
            "the store's checkpoint is at LSN {checkpoint_lsn}, past the end of the change log at LSN {last}"
        ));
    }
    let published = db
        .streaming_published_lsn(TABLE, STREAM_ARN)
        .ctx(|| "reading the destination's position".into())?;
    if published.is_some_and(|p| p > last) {
        return at.fail(format!(
            "the destination's position is LSN {published:?}, past the end of the change log at LSN {last}"
        ));
    }
    Ok(())
}

/// Creates `dir` if needed; it must be empty.
pub fn prepare_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
    let mut entries = std::fs::read_dir(dir).ctx(|| format!("listing {}", dir.display()))?;
    if entries.next().is_some() {
        return Err(CampaignError::Io {
            context: format!(
                "{} is not empty; the campaign needs a fresh directory",
                dir.display()
            ),
            source: std::io::ErrorKind::AlreadyExists.into(),
        });
    }
    Ok(())
}
