//! Model test of streams through the public API: random sequences of
//! PutRecord/PutRecords, SplitShard, MergeShards, UpdateShardCount, reopens
//! and reads, against a model that is just the list of records put.
//!
//! After every step that reads, the stream read shard by shard (parents
//! before children, every shard from TRIM_HORIZON to its end) must hold
//! exactly the records put, each partition key's records in put order,
//! each shard's sequence numbers strictly increasing, and every record on
//! the shard whose hash key range covers its partition key's hash.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use eddy::stream::{partition_key_hash, CreateStream, IteratorType, PutRecord, Shard, StreamMode};
use eddy::{Database, Durability, Options};
use proptest::prelude::*;

const STREAM: &str = "model";

#[derive(Debug, Clone)]
enum Op {
    Put {
        key: u8,
        data: u8,
    },
    PutBatch {
        records: Vec<(u8, u8)>,
    },
    /// Split the `pick`-th open shard at `at` (fraction of its range, 1..=99 %).
    Split {
        pick: u8,
        at: u8,
    },
    /// Merge the `pick`-th open shard with its right neighbour.
    Merge {
        pick: u8,
    },
    Scale {
        target: u8,
    },
    Reopen,
    Read,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..12, any::<u8>()).prop_map(|(key, data)| Op::Put { key, data }),
        2 => prop::collection::vec((0u8..12, any::<u8>()), 1..8)
            .prop_map(|records| Op::PutBatch { records }),
        1 => (any::<u8>(), 1u8..100).prop_map(|(pick, at)| Op::Split { pick, at }),
        1 => any::<u8>().prop_map(|pick| Op::Merge { pick }),
        1 => (1u8..5).prop_map(|target| Op::Scale { target }),
        1 => Just(Op::Reopen),
        2 => Just(Op::Read),
    ]
}

fn open(dir: &std::path::Path) -> Database {
    Database::open_with(dir, Options::new().durability(Durability::None)).unwrap()
}

fn open_shards(db: &Database) -> Vec<Shard> {
    let mut open: Vec<Shard> = db
        .streams()
        .list_shards(STREAM)
        .unwrap()
        .into_iter()
        .filter(|s| s.ending_sequence_number.is_none())
        .collect();
    open.sort_by_key(|s| s.hash_key_range.starting_hash_key);
    open
}

/// Every record of the stream, shard by shard with parents first.
fn read_all(db: &Database) -> Vec<(Shard, Vec<eddy::stream::Record>)> {
    let shards = db.streams().list_shards(STREAM).unwrap();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    while done.len() < shards.len() {
        let before = done.len();
        for shard in &shards {
            let ready = [&shard.parent_shard_id, &shard.adjacent_parent_shard_id]
                .into_iter()
                .flatten()
                .all(|p| done.contains(p) || !shards.iter().any(|s| &s.shard_id == p));
            if done.contains(&shard.shard_id) || !ready {
                continue;
            }
            let mut records = Vec::new();
            let mut it = Some(
                db.streams()
                    .get_shard_iterator(STREAM, &shard.shard_id, IteratorType::TrimHorizon)
                    .unwrap(),
            );
            while let Some(iterator) = it.take() {
                let page = db.streams().get_records(&iterator, Some(1000)).unwrap();
                let empty = page.records.is_empty();
                records.extend(page.records);
                // An open shard ends when a read comes back empty.
                if !(empty && shard.ending_sequence_number.is_none()) {
                    it = page.next_shard_iterator;
                }
            }
            done.insert(shard.shard_id.clone());
            out.push((shard.clone(), records));
        }
        assert!(done.len() > before, "shard lineage has a cycle");
    }
    out
}

fn check(db: &Database, model: &[(u8, u8)]) {
    let mut per_key: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut seen_seq = BTreeSet::new();
    let mut total = 0;
    for (shard, records) in read_all(db) {
        // Decimal strings of up to 129 digits: compare by length, then text.
        let mut last: Option<(usize, String)> = None;
        for r in records {
            let n = (r.sequence_number.len(), r.sequence_number.clone());
            assert!(
                last.as_ref().is_none_or(|l| &n > l),
                "sequence numbers not increasing in {}",
                shard.shard_id
            );
            last = Some(n);
            assert!(
                seen_seq.insert(r.sequence_number.clone()),
                "duplicate sequence number"
            );
            assert!(
                shard
                    .hash_key_range
                    .contains(partition_key_hash(&r.partition_key)),
                "record of {} on {} outside its hash range",
                r.partition_key,
                shard.shard_id
            );
            per_key.entry(r.partition_key).or_default().push(r.data[0]);
            total += 1;
        }
    }
    assert_eq!(total, model.len(), "records read vs put");
    let mut expected: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (key, data) in model {
        expected.entry(format!("k{key}")).or_default().push(*data);
    }
    assert_eq!(per_key, expected, "per partition key, records in put order");
}

fn apply(db: &Database, op: &Op, model: &mut Vec<(u8, u8)>) {
    let streams = db.streams();
    match op {
        Op::Put { key, data } => {
            streams
                .put_record(STREAM, PutRecord::new(format!("k{key}"), vec![*data]))
                .unwrap();
            model.push((*key, *data));
        }
        Op::PutBatch { records } => {
            let out = streams
                .put_records(
                    STREAM,
                    records
                        .iter()
                        .map(|(k, d)| PutRecord::new(format!("k{k}"), vec![*d]))
                        .collect(),
                )
                .unwrap();
            assert_eq!(out.failed_record_count, 0);
            model.extend(records.iter().copied());
        }
        Op::Split { pick, at } => {
            let open = open_shards(db);
            let shard = &open[*pick as usize % open.len()];
            let range = &shard.hash_key_range;
            let width = range.ending_hash_key - range.starting_hash_key;
            if width < 200 {
                return;
            }
            let key = range.starting_hash_key + width / 100 * u128::from(*at);
            if key <= range.starting_hash_key + 1 {
                return;
            }
            streams
                .split_shard(STREAM, &shard.shard_id, &key.to_string())
                .unwrap();
        }
        Op::Merge { pick } => {
            let open = open_shards(db);
            if open.len() < 2 {
                return;
            }
            let i = *pick as usize % (open.len() - 1);
            streams
                .merge_shards(STREAM, &open[i].shard_id, &open[i + 1].shard_id)
                .unwrap();
        }
        Op::Scale { target } => {
            let open = open_shards(db).len() as u32;
            let target = u32::from(*target);
            // UpdateShardCount allows at most doubling or halving.
            if target <= open * 2 && target * 2 >= open {
                streams.update_shard_count(STREAM, target).unwrap();
            }
        }
        Op::Reopen | Op::Read => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn streams_hold_every_record_in_order_across_resharding_and_reopen(
        ops in prop::collection::vec(op(), 1..40)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut db = open(dir.path());
        db.streams()
            .create_stream(STREAM, CreateStream { shard_count: Some(2), mode: StreamMode::Provisioned })
            .unwrap();
        let mut model = Vec::new();
        for op in &ops {
            match op {
                Op::Reopen => {
                    db.close().unwrap();
                    drop(db);
                    db = open(dir.path());
                    check(&db, &model);
                }
                Op::Read => check(&db, &model),
                other => apply(&db, other, &mut model),
            }
        }
        check(&db, &model);
    }
}
