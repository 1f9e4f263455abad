//! Crash test of global secondary index DDL: a child process adds and
//! removes a GSI over a table of a few thousand items, in a loop, while a
//! writer keeps changing items; the parent SIGKILLs it at a random moment
//! (often in the middle of a backfill), reopens, and checks that
//!
//! * the index is either absent or complete: its entries are exactly the
//!   table's items that carry the index key, each with the item's current
//!   values (nothing half-filled, nothing stale);
//! * the table still equals the fold of the change log.
//!
//! `EDDY_INDEX_CRASH_CYCLES` sets the number of kill cycles (default 12).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use eddy::{Database, IndexDef, Item, KeySchema, KeyType, ReturnValues, ScanRequest, Select};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const CHILD_ENV: &str = "EDDY_INDEX_CRASH_CHILD_DIR";
const TABLE: &str = "indexed";
const INDEX: &str = "by_group";
const ITEMS: u64 = 3000;

fn index_def() -> IndexDef {
    IndexDef::global(
        INDEX,
        KeySchema::new("group", KeyType::S).with_sort_key("pk", KeyType::S),
    )
}

fn item(n: u64, version: u64) -> Item {
    let item = Item::new()
        .with("pk", format!("item-{n:05}"))
        .with("v", version)
        .with("pad", "x".repeat(64));
    // Every fifth item is outside the (sparse) index.
    if n.is_multiple_of(5) {
        item
    } else {
        item.with("group", format!("g{}", (n + version) % 7))
    }
}

/// The child: fills the table once, then adds and removes the index in a
/// loop while a writer thread rewrites items, until killed.
#[test]
#[ignore = "entry point of the index crash test's child process"]
fn index_crash_child_entry() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let db = Database::open(&dir).unwrap();
    if db.describe_table(TABLE).is_err() {
        db.create_table(TABLE, KeySchema::new("pk", KeyType::S))
            .unwrap();
        for n in 0..ITEMS {
            db.put_item(TABLE, item(n, 0), ReturnValues::None).unwrap();
        }
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut rng = rand::make_rng::<StdRng>();
            let mut version = 1;
            loop {
                version += 1;
                let n = rng.random_range(0..ITEMS);
                db.put_item(TABLE, item(n, version), ReturnValues::None)
                    .unwrap();
            }
        });
        loop {
            let has_index = db
                .describe_table(TABLE)
                .unwrap()
                .def
                .indexes
                .iter()
                .any(|i| i.name == INDEX);
            if has_index {
                db.remove_global_secondary_index(TABLE, INDEX).unwrap();
            } else {
                db.add_global_secondary_index(TABLE, index_def()).unwrap();
            }
        }
    });
}

fn key_of(item: &Item) -> String {
    item.get("pk").unwrap().as_s().unwrap().to_string()
}

/// Every index entry, read in pages.
fn index_entries(db: &Database) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = db
            .scan_with(ScanRequest {
                table_name: TABLE.into(),
                index_name: Some(INDEX.into()),
                exclusive_start_key: start.take(),
                select: Select::AllProjectedAttributes,
                ..Default::default()
            })
            .unwrap();
        out.extend(page.items);
        match page.last_evaluated_key {
            Some(key) => start = Some(key),
            None => return out,
        }
    }
}

fn check(dir: &Path, cycle: u64) -> bool {
    let db = Database::open(dir).unwrap();
    let Ok(description) = db.describe_table(TABLE) else {
        return false;
    };
    let state = common::table_state(&db, TABLE);
    let (folded, _) = common::fold_log(&db, TABLE);
    assert_eq!(state, folded, "cycle {cycle}: table differs from the log");
    if !description.def.indexes.iter().any(|i| i.name == INDEX) {
        return false;
    }
    let expected: BTreeMap<String, &Item> = state
        .values()
        .filter(|i| i.get("group").is_some())
        .map(|i| (key_of(i), i))
        .collect();
    let entries = index_entries(&db);
    assert_eq!(
        entries.len(),
        expected.len(),
        "cycle {cycle}: the index has {} entries for {} indexed items",
        entries.len(),
        expected.len()
    );
    for entry in &entries {
        let item = expected
            .get(&key_of(entry))
            .unwrap_or_else(|| panic!("cycle {cycle}: stale entry {entry:?}"));
        assert_eq!(&entry, item, "cycle {cycle}: entry differs from its item");
    }
    true
}

#[test]
fn gsi_backfill_is_all_or_nothing_across_sigkill() {
    let cycles: u64 = std::env::var("EDDY_INDEX_CRASH_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(12);
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let mut with_index = 0;
    for cycle in 0..cycles {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "index_crash_child_entry",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The first cycle fills the table: give it time.
        let wait = if cycle == 0 {
            3000
        } else {
            rng.random_range(50..800)
        };
        std::thread::sleep(Duration::from_millis(wait));
        child.kill().unwrap();
        child.wait().unwrap();
        if check(dir.path(), cycle) {
            with_index += 1;
        }
    }
    eprintln!("{cycles} cycles, {with_index} reopened with a complete index");
}
