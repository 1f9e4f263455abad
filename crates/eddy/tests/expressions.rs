//! Conditional writes, update expressions and expression-based queries
//! through the facade: failed conditions write and log nothing, optimistic
//! concurrency with conditions keeps the change log's chain, and filters
//! apply after the page is read.

#![allow(clippy::unwrap_used)]

mod common;

use eddy::{
    AttributeValue, Database, DeleteItemRequest, Error, ExpressionAttributes, Item, KeySchema,
    KeyType, PutItemRequest, QueryRequest, ReturnValues, ScanRequest, Select, UpdateItemRequest,
};

fn db(dir: &std::path::Path) -> Database {
    let db = Database::open(dir).unwrap();
    db.create_table(
        "orders",
        KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N),
    )
    .unwrap();
    db
}

fn key(pk: &str, sk: i64) -> Item {
    Item::new().with("pk", pk).with("sk", sk)
}

fn put_if_absent(item: Item) -> PutItemRequest {
    PutItemRequest {
        table_name: "orders".into(),
        item,
        condition_expression: Some("attribute_not_exists(pk)".into()),
        return_item_on_condition_failure: true,
        ..Default::default()
    }
}

#[test]
fn failed_conditions_write_and_log_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    db.put_item_with(put_if_absent(key("a", 1).with("v", 1)))
        .unwrap();
    let lsn = db.last_lsn();
    let err = db
        .put_item_with(put_if_absent(key("a", 1).with("v", 2)))
        .unwrap_err();
    assert!(
        matches!(err, Error::ConditionalCheckFailed { .. }),
        "{err:?}"
    );
    match err {
        Error::ConditionalCheckFailed { item } => assert_eq!(item, Some(key("a", 1).with("v", 1))),
        other => panic!("{other}"),
    }
    let err = db
        .delete_item_with(DeleteItemRequest {
            table_name: "orders".into(),
            key: key("a", 1),
            condition_expression: Some("v > :min".into()),
            attributes: ExpressionAttributes::default().value(":min", 5),
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(err, Error::ConditionalCheckFailed { item: None }));
    assert_eq!(db.last_lsn(), lsn, "a failed condition logged a change");
    assert_eq!(
        db.get_item("orders", &key("a", 1)).unwrap(),
        Some(key("a", 1).with("v", 1))
    );
    // A true condition deletes.
    let old = db
        .delete_item_with(DeleteItemRequest {
            table_name: "orders".into(),
            key: key("a", 1),
            condition_expression: Some("v < :max".into()),
            attributes: ExpressionAttributes::default().value(":max", 5),
            return_values: ReturnValues::AllOld,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(old, Some(key("a", 1).with("v", 1)));
}

#[test]
fn update_expressions_and_return_values() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    let update = |expr: &str, attrs: ExpressionAttributes, returns: ReturnValues| {
        db.update_item_with(UpdateItemRequest {
            table_name: "orders".into(),
            key: key("a", 1),
            update_expression: Some(expr.into()),
            attributes: attrs,
            return_values: returns,
            ..Default::default()
        })
    };
    let new = update(
        "SET #s = :s, tags = :t ADD n :one",
        ExpressionAttributes::default()
            .name("#s", "status")
            .value(":s", "PLACED")
            .value(":t", AttributeValue::L(vec!["x".into()]))
            .value(":one", 1),
        ReturnValues::AllNew,
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        new,
        key("a", 1)
            .with("status", "PLACED")
            .with("tags", AttributeValue::L(vec!["x".into()]))
            .with("n", 1)
    );
    let old = update(
        "SET tags = list_append(tags, :more), n = n + :two REMOVE #s",
        ExpressionAttributes::default()
            .name("#s", "status")
            .value(":more", AttributeValue::L(vec!["y".into()]))
            .value(":two", 2),
        ReturnValues::UpdatedOld,
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        old,
        Item::new()
            .with("status", "PLACED")
            .with("tags", AttributeValue::L(vec!["x".into()]))
            .with("n", 1)
    );
    let now = db.get_item("orders", &key("a", 1)).unwrap().unwrap();
    assert_eq!(now.get("n"), Some(&3.into()));
    assert_eq!(
        now.get("tags"),
        Some(&AttributeValue::L(vec!["x".into(), "y".into()]))
    );
    assert!(!now.contains("status"));
    // Expression errors are ValidationExceptions and change nothing.
    let lsn = db.last_lsn();
    for (expr, attrs, needle) in [
        (
            "SET v = :v",
            ExpressionAttributes::default()
                .value(":v", 1)
                .value(":unused", 2),
            "unused",
        ),
        (
            "SET v = :missing",
            ExpressionAttributes::default(),
            "not defined",
        ),
        (
            "SET status = :v",
            ExpressionAttributes::default().value(":v", 1),
            "reserved keyword",
        ),
        (
            "SET pk = :v",
            ExpressionAttributes::default().value(":v", "b"),
            "part of the key",
        ),
        (
            "ADD n :s",
            ExpressionAttributes::default().value(":s", "text"),
            "operand type",
        ),
    ] {
        let err = update(expr, attrs, ReturnValues::None).unwrap_err();
        assert!(matches!(err, Error::Validation(_)), "{expr}: {err}");
        assert!(err.to_string().contains(needle), "{expr}: {err}");
    }
    assert_eq!(db.last_lsn(), lsn);
}

#[test]
fn optimistic_concurrency_with_conditions_keeps_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    db.put_item("orders", key("counter", 0).with("v", 0), ReturnValues::None)
        .unwrap();
    let successes: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let db = db.clone();
                s.spawn(move || {
                    let mut ok = 0;
                    for _ in 0..40 {
                        let current = db.get_item("orders", &key("counter", 0)).unwrap().unwrap();
                        let v = current.get("v").unwrap().clone();
                        let result = db.update_item_with(UpdateItemRequest {
                            table_name: "orders".into(),
                            key: key("counter", 0),
                            update_expression: Some("SET v = v + :one".into()),
                            condition_expression: Some("v = :seen".into()),
                            attributes: ExpressionAttributes::default()
                                .value(":one", 1)
                                .value(":seen", v),
                            ..Default::default()
                        });
                        match result {
                            Ok(_) => ok += 1,
                            Err(Error::ConditionalCheckFailed { .. }) => {}
                            Err(e) => panic!("{e}"),
                        }
                    }
                    ok
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let v = db.get_item("orders", &key("counter", 0)).unwrap().unwrap();
    assert_eq!(v.get("v"), Some(&AttributeValue::from(successes as u64)));
    let (folded, records) = common::fold_log(&db, "orders");
    assert_eq!(
        records.len(),
        successes + 1,
        "one change per successful write, none for failed ones"
    );
    assert_eq!(folded, common::table_state(&db, "orders"));
}

#[test]
fn queries_and_scans_filter_after_reading_and_project() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    for sk in 1..=10 {
        let status = if sk % 2 == 0 { "PAID" } else { "PLACED" };
        db.put_item(
            "orders",
            key("c1", sk).with("status", status).with("total", sk * 10),
            ReturnValues::None,
        )
        .unwrap();
    }
    db.put_item(
        "orders",
        key("c2", 1).with("status", "PAID"),
        ReturnValues::None,
    )
    .unwrap();
    let out = db
        .query_with(QueryRequest {
            table_name: "orders".into(),
            key_condition_expression: "pk = :c AND sk BETWEEN :lo AND :hi".into(),
            filter_expression: Some("#s = :paid".into()),
            projection_expression: Some("sk, #t".into()),
            attributes: ExpressionAttributes::default()
                .name("#s", "status")
                .name("#t", "total")
                .value(":c", "c1")
                .value(":lo", 3)
                .value(":hi", 8)
                .value(":paid", "PAID"),
            limit: Some(4),
            descending: true,
            select: Select::SpecificAttributes,
            ..Default::default()
        })
        .unwrap();
    // Read 8, 7, 6, 5 (the limit applies before the filter); keep 8 and 6.
    assert_eq!(out.scanned_count, 4);
    assert_eq!(out.count, 2);
    assert_eq!(
        out.items,
        vec![
            Item::new().with("sk", 8).with("total", 80),
            Item::new().with("sk", 6).with("total", 60)
        ]
    );
    assert_eq!(out.last_evaluated_key, Some(key("c1", 5)));
    let counted = db
        .scan_with(ScanRequest {
            table_name: "orders".into(),
            filter_expression: Some("#s = :paid".into()),
            attributes: ExpressionAttributes::default()
                .name("#s", "status")
                .value(":paid", "PAID"),
            select: Select::Count,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        (counted.count, counted.scanned_count, counted.items.len()),
        (6, 11, 0)
    );
    let err = db
        .query_with(QueryRequest {
            table_name: "orders".into(),
            key_condition_expression: "sk = :v".into(),
            attributes: ExpressionAttributes::default().value(":v", 1),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        err.to_string().contains("missed key schema element"),
        "{err}"
    );
}

#[test]
fn parallel_scan_segments_partition_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    for i in 0..200 {
        db.put_item(
            "orders",
            key(&format!("c{}", i % 37), i),
            ReturnValues::None,
        )
        .unwrap();
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut total = 0;
    for segment in 0..4 {
        let mut start = None;
        loop {
            let out = db
                .scan_with(ScanRequest {
                    table_name: "orders".into(),
                    limit: Some(13),
                    exclusive_start_key: start.take(),
                    segment: Some((segment, 4)),
                    ..Default::default()
                })
                .unwrap();
            for item in &out.items {
                assert!(
                    seen.insert(item.to_json_string()),
                    "an item is in two segments"
                );
            }
            total += out.items.len();
            match out.last_evaluated_key {
                Some(k) => start = Some(k),
                None => break,
            }
        }
    }
    assert_eq!(total, 200);
    let err = db
        .scan_with(ScanRequest {
            table_name: "orders".into(),
            segment: Some((4, 4)),
            ..Default::default()
        })
        .unwrap_err();
    assert!(err.to_string().contains("Segment"), "{err}");
}
