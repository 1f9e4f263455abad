//! The child process: a busy database, run until the parent SIGKILLs it.
//!
//! It opens the campaign's data directory with `Durability::Sync` and runs,
//! from separate threads and all at once:
//!
//! * `--threads` item writers: put, update and delete on keys each thread
//!   owns, announcing each write (`T`) before issuing it and acknowledging
//!   it (`A`) after it returned;
//! * a transfer thread: transactions moving money between accounts (`X`);
//! * a resharding thread: `UpdateShardCount` (1..=8 shards), `SplitShard`
//!   and `MergeShards` on the destination's stream every 200–500 ms (`S`);
//! * a retention thread: increases or decreases the stream's retention
//!   between 24 and 48 hours and calls `trim_expired`, which must trim
//!   nothing (`R`, `Z`);
//! * a checkpointing consumer ([`eddy::StreamConsumer`]): prints every
//!   record handed to it (`P`), then checkpoints the batch and says so (`C`);
//! * a stream reader: follows every shard with `GetRecords` from the
//!   stream's end at start, children after their parents, and checks that
//!   per item each record's old image is the previous record's new image
//!   (so nothing is out of order or missing) and that each record sits in
//!   the shard whose hash range holds its partition key (`G`);
//! * a checkpoint thread calling [`eddy::Database::checkpoint`] (`K`).
//!
//! A failed check or an unexpected error panics; the panic hook prints
//! `PANIC <message>` and exits with status 101, which the parent reports
//! (a SIGKILLed child never exits by itself). The child holds a change-log
//! reader from the parent's verified LSN for its whole life: a reader pins
//! the log, so checkpoints here never truncate changes the parent has not
//! yet folded and compared.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::thread::sleep;
use std::time::Duration;

use eddy::stream::{partition_key_hash, HashKeyRange, IteratorType, Shard, Streams, TrimReport};
use eddy::{
    AttributeValue, Database, ExpressionAttributes, InitialPosition, Item, ReturnValues,
    TransactWriteItem, Update,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::Value;

use crate::common::{
    key_name, open, ACCOUNTS, APP, KEYS_PER_THREAD, LEDGER, MAX_SHARDS, RETENTION_HOURS,
    SEQ_STRIDE, STREAM, TABLE,
};

/// The hidden `child` subcommand's arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ChildArgs {
    /// The campaign's data directory.
    #[arg(long)]
    pub data: PathBuf,
    /// The kill cycle this child runs in.
    #[arg(long)]
    pub cycle: u64,
    /// The child's random seed.
    #[arg(long)]
    pub seed: u64,
    /// Item writer threads.
    #[arg(long)]
    pub threads: usize,
    /// The first LSN the parent has not verified; the child keeps the log
    /// from it (0: everything retained). Without it the log is truncated
    /// as the checkpoints and the destination's position allow.
    #[arg(long)]
    pub pin_lsn: Option<u64>,
    /// Shortest pause between resharding operations, ms.
    #[arg(long, default_value_t = 200)]
    pub reshard_min_ms: u64,
    /// Longest pause between resharding operations, ms (the first one comes
    /// after a pause of up to this long).
    #[arg(long, default_value_t = 500)]
    pub reshard_max_ms: u64,
}

/// Writes `text` (complete lines) to stdout at once and flushes it.
fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .expect("child: writing to the parent");
}

/// Writes one line.
fn line(text: impl AsRef<str>) {
    say(&format!("{}\n", text.as_ref()));
}

/// Makes every panic, in any thread, print `PANIC <message>` and end the
/// process with status 101.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string().replace('\n', " | ");
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "PANIC {message}");
            let _ = out.flush();
        }
        std::process::exit(101);
    }));
}

/// Runs the child until it is killed (or a check fails).
pub fn run(args: &ChildArgs) -> ! {
    install_panic_hook();
    let db = open(&args.data).expect("child: opening the database");
    db.describe_table(TABLE)
        .expect("child: the campaign's table is missing");
    let _pin = args.pin_lsn.map(|lsn| {
        db.changes_since(lsn)
            .expect("child: pinning the change log at the parent's verified LSN")
    });
    line("READY");
    let seed = args.seed;
    std::thread::scope(|s| {
        for thread in 0..args.threads {
            let db = &db;
            let cycle = args.cycle;
            s.spawn(move || writer(db, thread, cycle, seed));
        }
        let db_ref = &db;
        let cycle = args.cycle;
        s.spawn(move || transfers(db_ref, cycle, seed));
        let pauses = (
            args.reshard_min_ms,
            args.reshard_max_ms.max(args.reshard_min_ms),
        );
        s.spawn(move || resharder(db_ref, seed, pauses));
        s.spawn(|| retention(&db, seed));
        s.spawn(|| consumer(&db, seed));
        s.spawn(|| reader(&db));
        s.spawn(|| checkpointer(&db, seed));
    });
    panic!("child: every thread of the mix ended")
}

/// One item writer: owns keys `t<thread>-k*`, writes with increasing
/// sequence numbers.
fn writer(db: &Database, thread: usize, cycle: u64, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(31).wrapping_add(thread as u64));
    let mut seq = (cycle + 1) * SEQ_STRIDE;
    loop {
        seq += 1;
        let key = key_name(thread, rng.random_range(0..KEYS_PER_THREAD));
        let op = match rng.random_range(0..10) {
            0..=4 => "Put",
            5..=7 => "Update",
            _ => "Delete",
        };
        line(format!("T {thread} {key} {seq} {op}"));
        let pk = Item::new().with("pk", key.as_str());
        let result = match op {
            "Put" => {
                let item = pk
                    .clone()
                    .with("v", seq)
                    .with("pad", "x".repeat(rng.random_range(0..300)));
                db.put_item(TABLE, item, ReturnValues::None).map(drop)
            }
            "Update" => {
                let seen = AttributeValue::number_set([seq.into()]).expect("a number set");
                let update = Update::new().set("v", seq).add("n", 1).add("seen", seen);
                db.update_item(TABLE, &pk, update, ReturnValues::None)
                    .map(drop)
            }
            _ => db.delete_item(TABLE, &pk, ReturnValues::None).map(drop),
        };
        if let Err(e) = result {
            panic!("writer {thread}: {op} of {key} (seq {seq}) failed: {e}");
        }
        line(format!("A {thread} {seq}"));
    }
}

/// Transfers between accounts in transactions; the balances' sum is fixed.
/// Each transfer has an id (growing across cycles, like the writers'
/// sequence numbers) and also records itself in the [`LEDGER`] item: the
/// id of the last transfer and how many committed, so that the parent can
/// tell a lost acknowledged transfer from the one in flight.
fn transfers(db: &Database, cycle: u64, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x7777);
    let mut id = (cycle + 1) * SEQ_STRIDE;
    loop {
        id += 1;
        let from = rng.random_range(0..ACCOUNTS);
        let to = (from + rng.random_range(1..ACCOUNTS)) % ACCOUNTS;
        let amount = rng.random_range(1..50i64);
        let update = |who: usize, expr: &str, condition: Option<&str>| TransactWriteItem::Update {
            table_name: TABLE.into(),
            key: Item::new().with("pk", format!("acct-{who}")),
            update_expression: expr.into(),
            condition_expression: condition.map(str::to_string),
            attributes: ExpressionAttributes::default().value(":a", amount),
            return_item_on_condition_failure: false,
        };
        let ledger = TransactWriteItem::Update {
            table_name: TABLE.into(),
            key: Item::new().with("pk", LEDGER),
            update_expression: "SET last_transfer = :id ADD transfers :one".into(),
            condition_expression: None,
            attributes: ExpressionAttributes::default()
                .value(":id", id)
                .value(":one", 1),
            return_item_on_condition_failure: false,
        };
        let actions = vec![
            update(from, "SET balance = balance - :a", Some("balance >= :a")),
            update(to, "SET balance = balance + :a", None),
            ledger,
        ];
        line(format!("Y {id}"));
        match db.transact_write_items(actions, None) {
            Ok(()) => line(format!("X {id} ok")),
            Err(eddy::Error::TransactionCanceled { .. }) => line(format!("X {id} cancel")),
            Err(e) => panic!("transfer {id} of {amount} from acct-{from} to acct-{to}: {e}"),
        }
    }
}

/// The open shards of the stream, in hash-key order.
fn open_shards(streams: &Streams) -> Vec<Shard> {
    let description = streams
        .describe_stream(STREAM)
        .expect("resharder: describing the stream");
    let mut open: Vec<Shard> = description
        .shards
        .into_iter()
        .filter(|s| s.ending_sequence_number.is_none())
        .collect();
    open.sort_by_key(|s| s.hash_key_range.starting_hash_key);
    open
}

/// Reshards the destination's stream at a slow rate.
fn resharder(db: &Database, seed: u64, (min_ms, max_ms): (u64, u64)) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5EED_5A4D);
    let streams = db.streams();
    // The first operation may come early, so that short cycles reshard too.
    let mut pause = rng.random_range(0..=max_ms);
    loop {
        sleep(Duration::from_millis(pause));
        pause = rng.random_range(min_ms..=max_ms);
        let open = open_shards(streams);
        let n = open.len() as u32;
        let what = match rng.random_range(0..3) {
            0 => {
                let target = rng.random_range(n.div_ceil(2).max(1)..=(2 * n).min(MAX_SHARDS));
                streams
                    .update_shard_count(STREAM, target)
                    .unwrap_or_else(|e| panic!("UpdateShardCount {n} -> {target}: {e}"));
                format!("update {n} {target}")
            }
            1 if n < MAX_SHARDS => {
                let shard = &open[rng.random_range(0..open.len())];
                let r = shard.hash_key_range;
                let key = r.starting_hash_key + (r.ending_hash_key - r.starting_hash_key) / 2;
                streams
                    .split_shard(STREAM, &shard.shard_id, &key.to_string())
                    .unwrap_or_else(|e| panic!("SplitShard {} at {key}: {e}", shard.shard_id));
                format!("split {}", shard.shard_id)
            }
            _ if n > 1 => {
                let i = rng.random_range(0..open.len() - 1);
                let (a, b) = (&open[i], &open[i + 1]);
                streams
                    .merge_shards(STREAM, &a.shard_id, &b.shard_id)
                    .unwrap_or_else(|e| panic!("MergeShards {} + {}: {e}", a.shard_id, b.shard_id));
                format!("merge {} {}", a.shard_id, b.shard_id)
            }
            _ => continue,
        };
        line(format!("S {what}"));
    }
}

/// Moves the stream's retention between 24 and 48 hours and trims; every
/// record is younger than 24 hours, so nothing may be trimmed.
fn retention(db: &Database, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x2E7E_4710);
    let streams = db.streams();
    let (low, high) = RETENTION_HOURS;
    let mut pause = rng.random_range(0..=300);
    loop {
        sleep(Duration::from_millis(pause));
        pause = rng.random_range(200..=500);
        let current = streams
            .describe_stream(STREAM)
            .expect("retention: describing the stream")
            .retention_period_hours;
        let increase = current < high && (current == low || rng.random_bool(0.5));
        let hours = if increase {
            let hours = rng.random_range(current + 1..=high);
            streams
                .increase_retention(STREAM, hours)
                .unwrap_or_else(|e| panic!("increasing retention {current} -> {hours}: {e}"));
            hours
        } else {
            let hours = rng.random_range(low..current);
            streams
                .decrease_retention(STREAM, hours)
                .unwrap_or_else(|e| panic!("decreasing retention {current} -> {hours}: {e}"));
            hours
        };
        line(format!("R {hours}"));
        let report = streams.trim_expired().expect("trim_expired");
        assert_eq!(
            report,
            TrimReport::default(),
            "trim_expired removed data younger than the retention period ({hours} h)"
        );
        line("Z");
    }
}

/// A checkpointing consumer: prints what it is handed, then checkpoints.
fn consumer(db: &Database, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xC0_45E7);
    let mut consumer = db
        .stream_consumer(APP, STREAM, InitialPosition::TrimHorizon)
        .expect("consumer: opening");
    loop {
        let batch = consumer
            .poll(rng.random_range(1..=200))
            .expect("consumer: poll");
        let Some(batch) = batch else {
            sleep(Duration::from_millis(10));
            continue;
        };
        let Some(last) = batch.records.last() else {
            continue;
        };
        let mut processed = String::new();
        for record in &batch.records {
            let _ = writeln!(processed, "P {} {}", batch.shard_id, record.sequence_number);
        }
        say(&processed);
        if rng.random_bool(0.2) {
            sleep(Duration::from_millis(rng.random_range(0..20)));
        }
        consumer
            .checkpoint(&batch)
            .unwrap_or_else(|e| panic!("consumer: checkpoint in {}: {e}", batch.shard_id));
        line(format!("C {} {}", batch.shard_id, last.sequence_number));
    }
}

/// What the stream reader knows about an item: the last event id it read
/// and the new image that record left.
type ItemView = (String, Option<Value>);

/// Follows every shard from the stream's end at start (children once their
/// parents are read to their end) and checks per-item order.
fn reader(db: &Database) {
    let streams = db.streams();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut iterators: BTreeMap<String, String> = BTreeMap::new();
    for shard in streams.list_shards(STREAM).expect("reader: listing shards") {
        if shard.ending_sequence_number.is_some() {
            done.insert(shard.shard_id);
        } else {
            let it = streams
                .get_shard_iterator(STREAM, &shard.shard_id, IteratorType::Latest)
                .expect("reader: a LATEST iterator");
            iterators.insert(shard.shard_id, it);
        }
    }
    let mut items: HashMap<String, ItemView> = HashMap::new();
    let mut seen: HashSet<String> = HashSet::new();
    loop {
        let shards = streams.list_shards(STREAM).expect("reader: listing shards");
        let ranges: HashMap<&str, HashKeyRange> = shards
            .iter()
            .map(|s| (s.shard_id.as_str(), s.hash_key_range))
            .collect();
        for s in &shards {
            let parents_done = [&s.parent_shard_id, &s.adjacent_parent_shard_id]
                .into_iter()
                .flatten()
                .all(|p| done.contains(p) || !ranges.contains_key(p.as_str()));
            if parents_done && !done.contains(&s.shard_id) && !iterators.contains_key(&s.shard_id) {
                let it = streams
                    .get_shard_iterator(STREAM, &s.shard_id, IteratorType::TrimHorizon)
                    .expect("reader: a TRIM_HORIZON iterator");
                iterators.insert(s.shard_id.clone(), it);
            }
        }
        let mut read = 0;
        let mut finished = Vec::new();
        for (shard, iterator) in &mut iterators {
            loop {
                let page = streams
                    .get_records(iterator, Some(1000))
                    .unwrap_or_else(|e| panic!("reader: GetRecords in {shard}: {e}"));
                let range = ranges.get(shard.as_str()).copied();
                for record in &page.records {
                    check_record(shard, range, record, &mut items, &mut seen);
                }
                read += page.records.len();
                match page.next_shard_iterator {
                    Some(next) => *iterator = next,
                    None => {
                        finished.push(shard.clone());
                        break;
                    }
                }
                if page.records.is_empty() {
                    break;
                }
            }
        }
        for shard in finished {
            iterators.remove(&shard);
            done.insert(shard);
        }
        if read > 0 {
            line(format!("G {read}"));
        } else {
            sleep(Duration::from_millis(20));
        }
    }
}

/// The stream reader's checks of one record (see [`reader`]).
fn check_record(
    shard: &str,
    range: Option<HashKeyRange>,
    record: &eddy::stream::Record,
    items: &mut HashMap<String, ItemView>,
    seen: &mut HashSet<String>,
) {
    let seq = &record.sequence_number;
    if let Some(range) = range {
        let hash = partition_key_hash(&record.partition_key);
        assert!(
            range.contains(hash),
            "reader: record {seq} in {shard} has a partition key outside the shard's range"
        );
    }
    let json: Value = serde_json::from_slice(&record.data)
        .unwrap_or_else(|e| panic!("reader: record {seq} in {shard} is not JSON: {e}"));
    let id = json["eventID"]
        .as_str()
        .unwrap_or_else(|| panic!("reader: record {seq} in {shard} has no eventID"))
        .to_string();
    if !seen.insert(id.clone()) {
        return; // a re-publication: same event id
    }
    let images = &json["dynamodb"];
    let key = images["Keys"].to_string();
    let old = images.get("OldImage").cloned();
    let new = images.get("NewImage").cloned();
    if let Some((previous_id, previous_new)) = items.get(&key) {
        assert!(
            *previous_new == old,
            "reader: item {key}: record {id} (seq {seq} in {shard}) has old image {old:?}, \
             but the previous record of the item ({previous_id}) left {previous_new:?}: \
             out of order, or a change is missing"
        );
    }
    items.insert(key, (id, new));
}

/// Checkpoints the database at random moments.
fn checkpointer(db: &Database, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xC4EC);
    loop {
        sleep(Duration::from_millis(rng.random_range(50..=400)));
        db.checkpoint().expect("checkpoint");
        line("K");
    }
}
