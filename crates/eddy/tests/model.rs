//! Model test: random operation sequences, including reopens and
//! checkpoints, against a simple in-memory model of one table and of the
//! change log it must produce.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use eddy::{
    AttributeValue, ChangeKind, Database, Durability, Item, KeySchema, KeyType, Options,
    ReturnValues, Update, WriteRequest,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Put {
        key: u8,
        value: u8,
    },
    SetAttr {
        key: u8,
        value: u8,
    },
    AddCount {
        key: u8,
        by: i8,
    },
    RemoveAttr {
        key: u8,
    },
    Delete {
        key: u8,
    },
    Batch {
        puts: Vec<(u8, u8)>,
        deletes: Vec<u8>,
    },
    Reopen,
    Checkpoint,
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u8..6;
    prop_oneof![
        4 => (key.clone(), 0u8..4).prop_map(|(key, value)| Op::Put { key, value }),
        2 => (key.clone(), 0u8..4).prop_map(|(key, value)| Op::SetAttr { key, value }),
        2 => (key.clone(), -2i8..3).prop_map(|(key, by)| Op::AddCount { key, by }),
        1 => key.clone().prop_map(|key| Op::RemoveAttr { key }),
        2 => key.clone().prop_map(|key| Op::Delete { key }),
        1 => (prop::collection::btree_map(0u8..3, 0u8..4, 0..3), prop::collection::btree_set(3u8..6, 0..3))
            .prop_map(|(puts, deletes)| Op::Batch { puts: puts.into_iter().collect(), deletes: deletes.into_iter().collect() }),
        1 => Just(Op::Reopen),
        1 => Just(Op::Checkpoint),
    ]
}

fn pk(key: u8) -> Item {
    Item::new().with("pk", format!("k{key}"))
}

/// The model: the table, and the log of (kind, old, new) it must produce.
#[derive(Default)]
struct Model {
    table: BTreeMap<u8, Item>,
    log: Vec<(ChangeKind, Option<Item>, Option<Item>)>,
}

impl Model {
    fn write(&mut self, key: u8, new: Option<Item>) {
        let old = self.table.get(&key).cloned();
        if old == new {
            return;
        }
        let kind = match (&old, &new) {
            (None, _) => ChangeKind::Insert,
            (Some(_), Some(_)) => ChangeKind::Modify,
            (Some(_), None) => ChangeKind::Remove,
        };
        match &new {
            Some(item) => self.table.insert(key, item.clone()),
            None => self.table.remove(&key),
        };
        self.log.push((kind, old, new));
    }
}

fn open(dir: &std::path::Path) -> Database {
    let db = Database::open_with(dir, Options::new().durability(Durability::None)).unwrap();
    if db.describe_table("tbl").is_err() {
        db.create_table("tbl", KeySchema::new("pk", KeyType::S))
            .unwrap();
    }
    db
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn database_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let mut db = open(dir.path());
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Put { key, value } => {
                    let item = pk(key).with("value", u64::from(value));
                    let old = db.put_item("tbl", item.clone(), ReturnValues::AllOld).unwrap();
                    prop_assert_eq!(old, model.table.get(&key).cloned());
                    model.write(key, Some(item));
                }
                Op::SetAttr { key, value } => {
                    let new = db.update_item("tbl", &pk(key), Update::new().set("value", u64::from(value)), ReturnValues::AllNew).unwrap();
                    let expected = model.table.get(&key).cloned().unwrap_or_else(|| pk(key)).with("value", u64::from(value));
                    prop_assert_eq!(new.as_ref(), Some(&expected));
                    model.write(key, Some(expected));
                }
                Op::AddCount { key, by } => {
                    db.update_item("tbl", &pk(key), Update::new().add("count", i64::from(by)), ReturnValues::None).unwrap();
                    let mut item = model.table.get(&key).cloned().unwrap_or_else(|| pk(key));
                    let count = match item.get("count") {
                        Some(AttributeValue::N(n)) => n.to_i64().unwrap(),
                        _ => 0,
                    };
                    item.insert("count", count + i64::from(by));
                    model.write(key, Some(item));
                }
                Op::RemoveAttr { key } => {
                    db.update_item("tbl", &pk(key), Update::new().remove("value"), ReturnValues::None).unwrap();
                    let mut item = model.table.get(&key).cloned().unwrap_or_else(|| pk(key));
                    item.remove("value");
                    model.write(key, Some(item));
                }
                Op::Delete { key } => {
                    let old = db.delete_item("tbl", &pk(key), ReturnValues::AllOld).unwrap();
                    prop_assert_eq!(old, model.table.get(&key).cloned());
                    model.write(key, None);
                }
                Op::Batch { puts, deletes } => {
                    let mut requests = Vec::new();
                    for (key, value) in &puts {
                        requests.push(("tbl".to_string(), WriteRequest::Put(pk(*key).with("value", u64::from(*value)))));
                    }
                    for key in &deletes {
                        requests.push(("tbl".to_string(), WriteRequest::Delete(pk(*key))));
                    }
                    if requests.is_empty() {
                        prop_assert!(db.batch_write_item(requests).is_err());
                        continue;
                    }
                    db.batch_write_item(requests).unwrap();
                    for (key, value) in puts {
                        model.write(key, Some(pk(key).with("value", u64::from(value))));
                    }
                    for key in deletes {
                        model.write(key, None);
                    }
                }
                Op::Reopen => {
                    drop(db);
                    db = open(dir.path());
                }
                Op::Checkpoint => {
                    db.checkpoint().unwrap();
                }
            }
        }
        // The table equals the model.
        let state = common::table_state(&db, "tbl");
        let expected: BTreeMap<String, Item> = model
            .table
            .iter()
            .map(|(k, item)| (pk(*k).to_json_string(), item.clone()))
            .collect();
        prop_assert_eq!(&state, &expected);
        for (key, item) in &model.table {
            let got = db.get_item("tbl", &pk(*key)).unwrap();
            prop_assert_eq!(got.as_ref(), Some(item));
        }
        // The change log is exactly the model's, with LSNs 1, 2, 3, ...
        let (folded, records) = common::fold_log(&db, "tbl");
        prop_assert_eq!(folded, expected);
        prop_assert_eq!(records.len(), model.log.len());
        for (i, (record, (kind, old, new))) in records.iter().zip(&model.log).enumerate() {
            prop_assert_eq!(record.lsn, i as u64 + 1);
            prop_assert_eq!(record.kind(), *kind);
            prop_assert_eq!(&record.change.old_image, old);
            prop_assert_eq!(&record.change.new_image, new);
        }
    }
}
