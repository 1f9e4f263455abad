//! `eddy check`: an fsck for a data directory.
//!
//! 1. Opening the database verifies the change log's frames up to its end
//!    (cutting only a torn, never-acknowledged tail, which is reported) and
//!    replays the log into the table store (rebuilding the store from its
//!    snapshot and the log first if it is damaged, which is reported).
//! 2. Every retained change is read back (each frame's crc checked again
//!    and each record decoded); LSNs must be contiguous and creation times
//!    never decrease.
//! 3. Table = fold of the log: for each table whose every change is still
//!    in the log (all of them when the log starts at LSN 1; otherwise the
//!    tables created after the oldest retained change), the log is folded
//!    item by item — each change's before image must equal the previous
//!    after image — and the result must equal a scan of the table. Other
//!    tables are reported as not checked.
//! 4. Every record of every stream shard is read (which checks the
//!    records' crcs and decrypts encrypted ones).
//!
//! Any problem makes the command exit non-zero.

use std::collections::{BTreeMap, HashMap};

use clap::Args;
use eddy::stream::IteratorType;
use eddy::{Database, Item, ScanRequest};
use indicatif::{ProgressBar, ProgressStyle};

use crate::common::{self, CliResult, DataArg};

/// Options of `eddy check`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  eddy check --data ./eddy-data && echo consistent")]
pub struct CheckArgs {
    #[command(flatten)]
    data: DataArg,
}

/// Problems found, and what was checked.
#[derive(Default)]
struct Report {
    problems: Vec<String>,
}

impl Report {
    fn problem(&mut self, text: String) {
        eprintln!("problem: {text}");
        self.problems.push(text);
    }
}

/// One table's changes folded.
#[derive(Default)]
struct TableFold {
    /// Item key (DynamoDB JSON) → current item.
    items: BTreeMap<String, Item>,
    /// Changes whose before image was not the previous after image: LSN
    /// and item key.
    broken: Vec<(u64, String)>,
}

/// Per table id.
type Fold = HashMap<u64, TableFold>;

/// Runs `eddy check`.
pub fn run(args: CheckArgs) -> CliResult {
    let db = args.data.open_existing()?;
    let mut report = Report::default();
    let recovery = db.recovery_report().clone();
    println!(
        "opened: store checkpoint at LSN {}, replayed {} changes",
        recovery.checkpoint_lsn, recovery.replayed
    );
    if let Some(torn) = &recovery.torn_tail {
        println!("note: a torn (never acknowledged) tail was cut off the change log: {torn}");
    }
    if let Some(rebuilt) = &recovery.store_rebuilt {
        println!(
            "note: the table store was rebuilt from its snapshot (LSN {}, {} items) and the change log, because {}{}",
            rebuilt.snapshot_lsn,
            rebuilt.items,
            rebuilt.reason,
            rebuilt
                .damaged_copy
                .as_ref()
                .map_or(String::new(), |d| format!("; the damaged store is kept in {}", d.display()))
        );
    }
    for torn in &recovery.stream_torn_tails {
        println!(
            "note: a torn tail was cut off stream {} {}: {} bytes from offset {} of {} (the unsynced end of a write a crash or power cut left, or damage there)",
            torn.stream,
            torn.shard_id,
            torn.discarded_bytes,
            torn.offset,
            torn.segment.display()
        );
    }
    let (fold, first_change_micros) = check_log(&db, &mut report)?;
    check_tables(&db, &fold, first_change_micros, &mut report)?;
    check_streams(&db, &mut report)?;
    common::close(db)?;
    if report.problems.is_empty() {
        println!("ok: no problems found");
        Ok(())
    } else {
        Err(format!(
            "{} problem(s) found; the first: {}",
            report.problems.len(),
            report.problems[0]
        )
        .into())
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// Reads the whole retained log: the fold of complete tables' changes and
/// the creation time of the oldest retained change.
fn check_log(db: &Database, report: &mut Report) -> CliResult<(Fold, Option<u64>)> {
    let oldest = db.oldest_lsn();
    let last = db.last_lsn();
    let expected = (last + 1).saturating_sub(oldest);
    let progress = bar(expected, "change log");
    let mut fold = Fold::new();
    let mut previous: Option<(u64, u64)> = None;
    let mut first_micros = None;
    let mut count = 0u64;
    for change in db.changes_since(0)? {
        let change = match change {
            Ok(change) => change,
            Err(e) => {
                report.problem(format!("change log unreadable after {count} changes: {e}"));
                break;
            }
        };
        count += 1;
        progress.inc(1);
        first_micros.get_or_insert(change.created_micros);
        if let Some((lsn, micros)) = previous {
            if change.lsn != lsn + 1 {
                report.problem(format!("LSN {} follows LSN {lsn}", change.lsn));
            }
            if change.created_micros < micros {
                report.problem(format!("LSN {}: creation time goes backwards", change.lsn));
            }
        }
        previous = Some((change.lsn, change.created_micros));
        let c = &change.change;
        let table = fold.entry(c.table_id).or_default();
        let key = c.keys.to_json_string();
        // Only meaningful where the table's log is complete: recorded for
        // all, judged in check_tables.
        if table.items.get(&key) != c.old_image.as_ref() {
            table.broken.push((change.lsn, key.clone()));
        }
        match &c.new_image {
            Some(item) => table.items.insert(key, item.clone()),
            None => table.items.remove(&key),
        };
    }
    progress.finish_and_clear();
    println!("change log: LSN {oldest}..={last}, {count} changes read");
    if count != expected {
        report.problem(format!(
            "change log: expected {expected} changes between LSN {oldest} and {last}, read {count}"
        ));
    }
    Ok((fold, first_micros))
}

/// Compares each complete table with the fold of its changes.
fn check_tables(
    db: &Database,
    fold: &Fold,
    first_change_micros: Option<u64>,
    report: &mut Report,
) -> CliResult {
    let log_complete = db.oldest_lsn() <= 1;
    let empty = BTreeMap::new();
    for name in db.list_tables()? {
        let def = db.describe_table(&name)?.def;
        // A table created after the oldest retained change has all its
        // changes in the log.
        let complete = log_complete || first_change_micros.is_some_and(|t| def.created_micros > t);
        if !complete {
            println!("table {name}: not checked against the log (its early changes were checkpointed away)");
            continue;
        }
        let (expected, broken) = fold
            .get(&def.id)
            .map_or((&empty, &[][..]), |f| (&f.items, &f.broken[..]));
        for (lsn, key) in broken.iter().take(3) {
            report.problem(format!(
                "table {name}: the before image of {key} at LSN {lsn} is not the item's previous after image"
            ));
        }
        let mut scanned = BTreeMap::new();
        let mut request = ScanRequest {
            table_name: name.clone(),
            ..ScanRequest::default()
        };
        loop {
            let page = db.scan_with(request.clone())?;
            for item in page.items {
                let key = def.key_schema.key_of(&item)?.to_json_string();
                scanned.insert(key, item);
            }
            match page.last_evaluated_key {
                Some(k) => request.exclusive_start_key = Some(k),
                None => break,
            }
        }
        let mut differences = 0;
        for (key, item) in &scanned {
            if expected.get(key) != Some(item) {
                differences += 1;
                if differences <= 3 {
                    report.problem(format!(
                        "table {name}: item {key} differs from the fold of the log"
                    ));
                }
            }
        }
        for key in expected.keys().filter(|k| !scanned.contains_key(*k)) {
            differences += 1;
            if differences <= 3 {
                report.problem(format!(
                    "table {name}: item {key} is in the log but missing from the table"
                ));
            }
        }
        if differences > 3 {
            report.problem(format!(
                "table {name}: {differences} items differ from the log in all"
            ));
        }
        println!(
            "table {name}: {} items{}",
            scanned.len(),
            if differences == 0 {
                ", equal to the fold of the log"
            } else {
                ", DIFFERENT from the fold of the log"
            }
        );
    }
    Ok(())
}

/// Reads every record of every shard of every stream.
fn check_streams(db: &Database, report: &mut Report) -> CliResult {
    let streams = db.streams();
    for name in streams.list_streams() {
        let shards = streams.list_shards(&name)?;
        let progress = bar(shards.len() as u64, "shards");
        let mut records = 0u64;
        for shard in &shards {
            match read_shard(db, &name, &shard.shard_id) {
                Ok(n) => records += n,
                Err(e) => report.problem(format!("stream {name} {}: {e}", shard.shard_id)),
            }
            progress.inc(1);
        }
        progress.finish_and_clear();
        println!(
            "stream {name}: {} shards, {records} records read",
            shards.len()
        );
    }
    Ok(())
}

fn read_shard(db: &Database, stream: &str, shard: &str) -> CliResult<u64> {
    let streams = db.streams();
    let mut iterator = streams.get_shard_iterator(stream, shard, IteratorType::TrimHorizon)?;
    let mut count = 0;
    loop {
        let page = streams.get_records(&iterator, None)?;
        count += page.records.len() as u64;
        match page.next_shard_iterator {
            Some(next) if !page.records.is_empty() => iterator = next,
            _ => return Ok(count),
        }
    }
}
