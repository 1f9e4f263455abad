//! Crash test: a child process writes with `Durability::Sync` from several
//! threads and reports every acknowledged write; the parent SIGKILLs it at a
//! random moment, reopens the database, and checks that
//!
//! * every acknowledged write is present with the right value (or, for the
//!   one write per thread that was in flight when the child died, that write
//!   either fully happened or did not happen at all);
//! * the table equals the fold of the change log;
//! * before and after images chain per item (checked by the fold);
//! * transactions (transfers between four accounts, from a fifth thread)
//!   are all or nothing: the balances always sum to the same total;
//! * with a streaming destination active from the start, the stream holds
//!   every logged change at least once and, after dropping repeated event
//!   ids, exactly once, per item in commit order.
//!
//! `EDDY_CRASH_CYCLES` sets the number of kill cycles (default 50).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use eddy::stream::{CreateStream, StreamMode};
use eddy::stream_record::event_id;
use eddy::{
    AttributeValue, Database, ExpressionAttributes, Item, KeySchema, KeyType, ReturnValues,
    TransactWriteItem, Update,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const CHILD_ENV: &str = "EDDY_CRASH_CHILD_DIR";
const SEED_ENV: &str = "EDDY_CRASH_CHILD_SEED";
const THREADS: usize = 4;
const ACCOUNTS: usize = 4;
const INITIAL_BALANCE: i64 = 1000;
const KEYS_PER_THREAD: usize = 16;
const TABLE: &str = "crash";
const STREAM: &str = "crash-changes";
const STREAM_ARN: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/crash-changes";

/// What a write leaves behind for its key: the item's `v`, or deleted.
type Outcome = Option<u64>;

#[derive(Debug, Clone, Copy)]
enum Op {
    Put,
    Update,
    Delete,
}

fn key_name(thread: usize, k: usize) -> String {
    format!("t{thread}-k{k}")
}

/// The child: writes until killed. Prints `T thread key seq op` before a
/// write and `A thread seq` once it is acknowledged.
#[test]
#[ignore = "entry point of the crash test's child process, run by `crash_recovery_after_sigkill`"]
fn crash_child_entry() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let seed: u64 = std::env::var(SEED_ENV).unwrap().parse().unwrap();
    let db = Database::open(&dir).unwrap();
    if db.describe_table(TABLE).is_err() {
        db.create_table(TABLE, KeySchema::new("pk", KeyType::S))
            .unwrap();
    }
    let out = Mutex::new(std::io::stdout());
    let say = |line: String| {
        let mut out = out.lock().unwrap();
        writeln!(out, "{line}").unwrap();
        out.flush().unwrap();
    };
    say("READY".into());
    std::thread::scope(|s| {
        let db_for_transfers = &db;
        s.spawn(move || {
            let mut rng = StdRng::seed_from_u64(seed ^ 0x7777);
            loop {
                let from = rng.random_range(0..ACCOUNTS);
                let to = (from + rng.random_range(1..ACCOUNTS)) % ACCOUNTS;
                let amount = rng.random_range(1..50i64);
                let update =
                    |who: usize, expr: &str, condition: Option<&str>| TransactWriteItem::Update {
                        table_name: TABLE.into(),
                        key: Item::new().with("pk", format!("acct-{who}")),
                        update_expression: expr.into(),
                        condition_expression: condition.map(str::to_string),
                        attributes: ExpressionAttributes::default().value(":a", amount),
                        return_item_on_condition_failure: false,
                    };
                let actions = vec![
                    update(from, "SET balance = balance - :a", Some("balance >= :a")),
                    update(to, "SET balance = balance + :a", None),
                ];
                match db_for_transfers.transact_write_items(actions, None) {
                    Ok(()) | Err(eddy::Error::TransactionCanceled { .. }) => {}
                    Err(e) => panic!("transfer: {e}"),
                }
            }
        });
        for thread in 0..THREADS {
            let (db, say) = (&db, &say);
            s.spawn(move || {
                let mut rng = StdRng::seed_from_u64(seed * 31 + thread as u64);
                // Sequence numbers are unique across cycles: the seed grows.
                let mut seq = seed * 1_000_000;
                loop {
                    seq += 1;
                    let key = key_name(thread, rng.random_range(0..KEYS_PER_THREAD));
                    let op = match rng.random_range(0..10) {
                        0..=4 => Op::Put,
                        5..=7 => Op::Update,
                        _ => Op::Delete,
                    };
                    say(format!("T {thread} {key} {seq} {op:?}"));
                    let pk = Item::new().with("pk", key.as_str());
                    match op {
                        Op::Put => {
                            let item = pk
                                .clone()
                                .with("v", seq)
                                .with("pad", "x".repeat(rng.random_range(0..300)));
                            db.put_item(TABLE, item, ReturnValues::None).unwrap();
                        }
                        Op::Update => {
                            let update = Update::new()
                                .set("v", seq)
                                .add("n", 1)
                                .add("seen", AttributeValue::number_set([seq.into()]).unwrap());
                            db.update_item(TABLE, &pk, update, ReturnValues::None)
                                .unwrap();
                        }
                        Op::Delete => {
                            db.delete_item(TABLE, &pk, ReturnValues::None).unwrap();
                        }
                    }
                    say(format!("A {thread} {seq}"));
                }
            });
        }
    });
}

/// What the parent learned from one child's output.
#[derive(Default)]
struct Transcript {
    /// Per key, the outcome of the last acknowledged write.
    acked: BTreeMap<String, Outcome>,
    /// Per thread, the write announced but not acknowledged: (key, outcome).
    in_flight: BTreeMap<usize, (String, Outcome)>,
    acks: usize,
}

fn read_transcript(output: impl BufRead, transcript: &mut Transcript) {
    let mut announced: BTreeMap<(usize, u64), (String, Outcome)> = BTreeMap::new();
    for line in output.lines() {
        let Ok(line) = line else { break };
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            ["T", thread, key, seq, op] => {
                let (thread, seq): (usize, u64) = (thread.parse().unwrap(), seq.parse().unwrap());
                let outcome = if *op == "Delete" { None } else { Some(seq) };
                announced.insert((thread, seq), (key.to_string(), outcome));
                transcript
                    .in_flight
                    .insert(thread, (key.to_string(), outcome));
            }
            ["A", thread, seq] => {
                let (thread, seq): (usize, u64) = (thread.parse().unwrap(), seq.parse().unwrap());
                let (key, outcome) = announced.remove(&(thread, seq)).unwrap();
                transcript.acked.insert(key, outcome);
                transcript.in_flight.remove(&thread);
                transcript.acks += 1;
            }
            _ => {}
        }
    }
}

/// The stream holds every logged change, duplicates only with equal event
/// ids, and per item in commit order.
fn check_stream(db: &Database, records: &[eddy::ChangeRecord], cycle: u64) {
    assert!(
        db.wait_for_streaming(Duration::from_secs(30)).unwrap(),
        "cycle {cycle}: the publisher did not catch up"
    );
    let lsn_of: BTreeMap<String, u64> = records.iter().map(|r| (event_id(r.lsn), r.lsn)).collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut last_per_item: BTreeMap<String, u64> = BTreeMap::new();
    for (_, record) in common::read_stream(db, STREAM) {
        let id = record["eventID"].as_str().unwrap().to_string();
        let lsn = *lsn_of.get(&id).unwrap_or_else(|| {
            panic!("cycle {cycle}: stream record {id} matches no logged change")
        });
        if !seen.insert(lsn) {
            continue; // a re-publication after a crash: same event id
        }
        let key = record["dynamodb"]["Keys"].to_string();
        let previous = last_per_item.insert(key.clone(), lsn).unwrap_or(0);
        assert!(
            lsn > previous,
            "cycle {cycle}: item {key} out of order in the stream ({previous} then {lsn})"
        );
    }
    let missing: Vec<u64> = records
        .iter()
        .map(|r| r.lsn)
        .filter(|l| !seen.contains(l))
        .collect();
    assert!(
        missing.is_empty(),
        "cycle {cycle}: {} logged changes missing from the stream, first {:?}",
        missing.len(),
        missing.first()
    );
}

fn run_cycle(
    dir: &Path,
    cycle: u64,
    rng: &mut StdRng,
    expected: &mut BTreeMap<String, Outcome>,
    verify_stream: bool,
) -> usize {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_child_entry",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir)
        .env(SEED_ENV, (cycle + 1).to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut transcript = Transcript::default();
        read_transcript(BufReader::new(stdout), &mut transcript);
        transcript
    });
    // Sometimes kill during open and recovery, mostly in the middle of writes.
    let wait = if rng.random_bool(0.1) {
        rng.random_range(0..30)
    } else {
        rng.random_range(30..250)
    };
    std::thread::sleep(Duration::from_millis(wait));
    child.kill().unwrap();
    child.wait().unwrap();
    let transcript = reader.join().unwrap();

    let db = Database::open(dir).unwrap();
    if db.describe_table(TABLE).is_err() {
        assert_eq!(
            transcript.acks, 0,
            "acknowledged writes but the table is missing"
        );
        return 0;
    }
    let state = common::table_state(&db, TABLE);
    let actual = |key: &str| -> Outcome {
        state
            .get(&format!(r#"{{"pk":{{"S":"{key}"}}}}"#))
            .map(|item| match item.get("v") {
                Some(AttributeValue::N(n)) => n.to_i64().unwrap() as u64,
                other => panic!("item {key} has v = {other:?}"),
            })
    };
    for (key, outcome) in &transcript.acked {
        expected.insert(key.clone(), *outcome);
    }
    for thread in 0..THREADS {
        for k in 0..KEYS_PER_THREAD {
            let key = key_name(thread, k);
            let want = expected.get(&key).copied().flatten();
            let got = actual(&key);
            let in_flight = transcript
                .in_flight
                .get(&thread)
                .filter(|(ik, _)| *ik == key)
                .map(|(_, o)| *o);
            if got == want {
                continue;
            }
            assert_eq!(
                Some(got),
                in_flight,
                "cycle {cycle}: key {key} is {got:?}, expected the acknowledged {want:?} or the in-flight {in_flight:?}"
            );
            // The in-flight write made it: it is the new expectation.
            expected.insert(key, got);
        }
    }
    let total: i64 = (0..ACCOUNTS)
        .map(|a| {
            let key = format!(r#"{{"pk":{{"S":"acct-{a}"}}}}"#);
            state[&key]
                .get("balance")
                .unwrap()
                .as_n()
                .unwrap()
                .to_i64()
                .unwrap()
        })
        .sum();
    assert_eq!(
        total,
        INITIAL_BALANCE * ACCOUNTS as i64,
        "cycle {cycle}: a transfer was torn"
    );
    let (folded, records) = common::fold_log(&db, TABLE);
    assert_eq!(
        folded, state,
        "cycle {cycle}: the table differs from the fold of the change log"
    );
    if verify_stream {
        check_stream(&db, &records, cycle);
    }
    let report = db.recovery_report().clone();
    drop(db);
    if cycle.is_multiple_of(10) {
        println!(
            "cycle {cycle}: {} acks, reopen replayed {} changes in {:?}",
            transcript.acks, report.replayed, report.elapsed
        );
    }
    transcript.acks
}

#[test]
fn crash_recovery_after_sigkill() {
    let cycles: u64 = std::env::var("EDDY_CRASH_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(50);
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(0xEDD1);
    let mut expected = BTreeMap::new();
    let mut total_acks = 0;
    {
        let db = Database::open(dir.path()).unwrap();
        db.create_table(TABLE, KeySchema::new("pk", KeyType::S))
            .unwrap();
        db.streams()
            .create_stream(
                STREAM,
                CreateStream {
                    shard_count: Some(2),
                    mode: StreamMode::Provisioned,
                },
            )
            .unwrap();
        db.enable_kinesis_streaming_destination(TABLE, STREAM_ARN, None)
            .unwrap();
        for a in 0..ACCOUNTS {
            let account = Item::new()
                .with("pk", format!("acct-{a}"))
                .with("balance", INITIAL_BALANCE);
            db.put_item(TABLE, account, ReturnValues::None).unwrap();
        }
    }
    for cycle in 0..cycles {
        let verify_stream = cycle % 5 == 4 || cycle + 1 == cycles;
        total_acks += run_cycle(dir.path(), cycle, &mut rng, &mut expected, verify_stream);
    }
    println!("{cycles} kill cycles, {total_acks} acknowledged writes verified");
    assert!(total_acks > 0, "the child never acknowledged a write");
}
