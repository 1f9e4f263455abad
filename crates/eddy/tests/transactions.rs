//! TransactWriteItems and TransactGetItems: all or nothing, a reason per
//! action, one record per changed item, idempotency tokens, and consistent
//! snapshots under concurrent transfers.

#![allow(clippy::unwrap_used)]

mod common;

use eddy::{
    AttributeValue, Database, Error, ErrorKind, ExpressionAttributes, Item, KeySchema, KeyType,
    ReturnValues, TransactGetItem, TransactWriteItem,
};

fn open(dir: &std::path::Path) -> Database {
    let db = Database::open(dir).unwrap();
    db.create_table("accounts", KeySchema::new("id", KeyType::S))
        .unwrap();
    db
}

fn id(name: &str) -> Item {
    Item::new().with("id", name)
}

fn transfer(from: &str, to: &str, amount: i64) -> Vec<TransactWriteItem> {
    let attrs = || ExpressionAttributes::default().value(":a", amount);
    vec![
        TransactWriteItem::Update {
            table_name: "accounts".into(),
            key: id(from),
            update_expression: "SET balance = balance - :a".into(),
            condition_expression: Some("balance >= :a".into()),
            attributes: attrs(),
            return_item_on_condition_failure: true,
        },
        TransactWriteItem::Update {
            table_name: "accounts".into(),
            key: id(to),
            update_expression: "SET balance = balance + :a".into(),
            condition_expression: None,
            attributes: attrs(),
            return_item_on_condition_failure: false,
        },
    ]
}

fn balance(db: &Database, name: &str) -> i64 {
    db.get_item("accounts", &id(name))
        .unwrap()
        .unwrap()
        .get("balance")
        .unwrap()
        .as_n()
        .unwrap()
        .to_i64()
        .unwrap()
}

#[test]
fn all_or_nothing_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.put_item("accounts", id("a").with("balance", 100), ReturnValues::None)
        .unwrap();
    db.put_item("accounts", id("b").with("balance", 0), ReturnValues::None)
        .unwrap();
    db.transact_write_items(transfer("a", "b", 30), None)
        .unwrap();
    assert_eq!((balance(&db, "a"), balance(&db, "b")), (70, 30));
    let lsn = db.last_lsn();
    let err = db
        .transact_write_items(transfer("a", "b", 500), None)
        .unwrap_err();
    assert!(matches!(err, Error::TransactionCanceled { .. }), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::ConditionFailed);
    match &err {
        Error::TransactionCanceled { reasons } => {
            assert_eq!(reasons.len(), 2);
            assert_eq!(reasons[0].code, "ConditionalCheckFailed");
            assert_eq!(reasons[0].item, Some(id("a").with("balance", 70)));
            assert_eq!(reasons[1].code, "None");
        }
        other => panic!("{other}"),
    }
    assert!(
        err.to_string().contains("[ConditionalCheckFailed, None]"),
        "{err}"
    );
    assert_eq!(
        db.last_lsn(),
        lsn,
        "a cancelled transaction logged something"
    );
    assert_eq!((balance(&db, "a"), balance(&db, "b")), (70, 30));
    // One change record per changed item, committed together.
    let records: Vec<_> = db
        .changes_since(lsn - 1)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].created_micros, records[1].created_micros);
    // A condition check that fails cancels the writes with it.
    let mut actions = transfer("a", "b", 1);
    actions.push(TransactWriteItem::ConditionCheck {
        table_name: "accounts".into(),
        key: id("c"),
        condition_expression: "attribute_not_exists(frozen)".into(),
        attributes: ExpressionAttributes::default(),
        return_item_on_condition_failure: false,
    });
    db.put_item("accounts", id("c").with("frozen", true), ReturnValues::None)
        .unwrap();
    assert!(matches!(
        db.transact_write_items(actions, None),
        Err(Error::TransactionCanceled { .. })
    ));
    assert_eq!((balance(&db, "a"), balance(&db, "b")), (70, 30));
    // One item at most once.
    let mut twice = transfer("a", "b", 1);
    twice.extend(transfer("a", "b", 1));
    let err = db.transact_write_items(twice, None).unwrap_err();
    assert!(
        err.to_string().contains("multiple operations on one item"),
        "{err}"
    );
}

#[test]
fn client_request_tokens_make_transactions_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.put_item("accounts", id("a").with("balance", 100), ReturnValues::None)
        .unwrap();
    db.put_item("accounts", id("b").with("balance", 0), ReturnValues::None)
        .unwrap();
    db.transact_write_items(transfer("a", "b", 10), Some("token-1"))
        .unwrap();
    db.transact_write_items(transfer("a", "b", 10), Some("token-1"))
        .unwrap();
    assert_eq!(
        balance(&db, "a"),
        90,
        "a retried transaction was applied twice"
    );
    let err = db
        .transact_write_items(transfer("a", "b", 20), Some("token-1"))
        .unwrap_err();
    assert!(
        matches!(err, Error::IdempotentParameterMismatch(_)),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Conflict);
    db.transact_write_items(transfer("a", "b", 10), Some("token-2"))
        .unwrap();
    assert_eq!(balance(&db, "a"), 80);
}

#[test]
fn concurrent_transfers_keep_the_total_and_snapshots_are_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let names = ["a", "b", "c", "d"];
    for n in names {
        db.put_item("accounts", id(n).with("balance", 1000), ReturnValues::None)
            .unwrap();
    }
    let snapshot = |db: &Database| -> i64 {
        let gets = names
            .iter()
            .map(|n| TransactGetItem {
                table_name: "accounts".into(),
                key: id(n),
                ..Default::default()
            })
            .collect();
        db.transact_get_items(gets)
            .unwrap()
            .into_iter()
            .map(|i| match i.unwrap().get("balance") {
                Some(AttributeValue::N(n)) => n.to_i64().unwrap(),
                other => panic!("{other:?}"),
            })
            .sum()
    };
    std::thread::scope(|s| {
        for t in 0..4usize {
            let db = db.clone();
            s.spawn(move || {
                for i in 0..60usize {
                    let from = names[(t + i) % 4];
                    let to = names[(t + i + 1 + i % 3) % 4];
                    if from == to {
                        continue;
                    }
                    match db.transact_write_items(transfer(from, to, (i % 7) as i64 + 1), None) {
                        Ok(()) | Err(Error::TransactionCanceled { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            });
        }
        let db = db.clone();
        s.spawn(move || {
            for _ in 0..100 {
                assert_eq!(snapshot(&db), 4000, "a snapshot saw half a transfer");
            }
        });
    });
    assert_eq!(snapshot(&db), 4000);
    let (folded, _) = common::fold_log(&db, "accounts");
    assert_eq!(folded, common::table_state(&db, "accounts"));
}
