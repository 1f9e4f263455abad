//! Secondary indexes through the facade: queries by index, sparse indexes,
//! wrong-typed index keys refused before logging, GSIs added with backfill,
//! and indexes persisted across reopen (replay into indexes is tested in
//! eddy-store's `tests/index.rs`).

#![allow(clippy::unwrap_used)]

use eddy::{
    Database, Error, ExpressionAttributes, IndexDef, IndexProjection, Item, KeySchema, KeyType,
    QueryRequest, ReturnValues, ScanRequest, Update,
};

fn order(customer: &str, id: i64, status: Option<&str>, amount: i64) -> Item {
    let item = Item::new()
        .with("customer", customer)
        .with("id", id)
        .with("amount", amount);
    match status {
        Some(s) => item.with("status", s),
        None => item,
    }
}

fn by_status(db: &Database, status: &str) -> Vec<i64> {
    let out = db
        .query_with(QueryRequest {
            table_name: "orders".into(),
            index_name: Some("by_status".into()),
            key_condition_expression: "#s = :s".into(),
            attributes: ExpressionAttributes::default()
                .name("#s", "status")
                .value(":s", status),
            ..Default::default()
        })
        .unwrap();
    out.items
        .iter()
        .map(|i| i.get("id").unwrap().as_n().unwrap().to_i64().unwrap())
        .collect()
}

fn open(dir: &std::path::Path) -> Database {
    Database::open(dir).unwrap()
}

#[test]
fn indexes_are_queried_maintained_and_recovered() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(dir.path());
        db.create_table_with_indexes(
            "orders",
            KeySchema::new("customer", KeyType::S).with_sort_key("id", KeyType::N),
            vec![
                IndexDef::global(
                    "by_status",
                    KeySchema::new("status", KeyType::S).with_sort_key("id", KeyType::N),
                )
                .with_projection(IndexProjection::KeysOnly),
                IndexDef::local(
                    "by_amount",
                    KeySchema::new("customer", KeyType::S).with_sort_key("amount", KeyType::N),
                ),
            ],
        )
        .unwrap();
        db.put_item(
            "orders",
            order("c1", 1, Some("PAID"), 30),
            ReturnValues::None,
        )
        .unwrap();
        db.put_item(
            "orders",
            order("c1", 2, Some("PLACED"), 10),
            ReturnValues::None,
        )
        .unwrap();
        db.put_item(
            "orders",
            order("c2", 3, Some("PAID"), 20),
            ReturnValues::None,
        )
        .unwrap();
        db.put_item("orders", order("c2", 4, None, 5), ReturnValues::None)
            .unwrap();
        assert_eq!(by_status(&db, "PAID"), [1, 3]);
        // Sparse: the item without a status is not in the index.
        let scanned = db
            .scan_with(ScanRequest {
                table_name: "orders".into(),
                index_name: Some("by_status".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(scanned.count, 3);
        // An update moves the entry; a delete removes it.
        db.update_item(
            "orders",
            &Item::new().with("customer", "c1").with("id", 2),
            Update::new().set("status", "PAID"),
            ReturnValues::None,
        )
        .unwrap();
        db.delete_item(
            "orders",
            &Item::new().with("customer", "c2").with("id", 3),
            ReturnValues::None,
        )
        .unwrap();
        assert_eq!(by_status(&db, "PAID"), [1, 2]);
        assert!(by_status(&db, "PLACED").is_empty());
        // The LSI orders one customer's orders by amount.
        let by_amount = db
            .query_with(QueryRequest {
                table_name: "orders".into(),
                index_name: Some("by_amount".into()),
                key_condition_expression: "customer = :c AND amount > :min".into(),
                attributes: ExpressionAttributes::default()
                    .value(":c", "c1")
                    .value(":min", 0),
                ..Default::default()
            })
            .unwrap();
        let amounts: Vec<i64> = by_amount
            .items
            .iter()
            .map(|i| i.get("amount").unwrap().as_n().unwrap().to_i64().unwrap())
            .collect();
        assert_eq!(amounts, [10, 30]);
        // A wrong-typed index key is refused and logs nothing.
        let lsn = db.last_lsn();
        let err = db
            .put_item(
                "orders",
                order("c3", 5, None, 1).with("status", 7),
                ReturnValues::None,
            )
            .unwrap_err();
        assert!(matches!(err, Error::Validation(_)), "{err}");
        assert!(err.to_string().contains("by_status"), "{err}");
        assert_eq!(db.last_lsn(), lsn);
        let described = db.describe_table("orders").unwrap();
        assert_eq!(described.indexes.len(), 2);
        assert_eq!(
            described
                .indexes
                .iter()
                .find(|i| i.def.name == "by_status")
                .unwrap()
                .item_count,
            2
        );
    }
    let db = open(dir.path());
    assert_eq!(by_status(&db, "PAID"), [1, 2]);
    let err = db
        .query_with(QueryRequest {
            table_name: "orders".into(),
            index_name: Some("nope".into()),
            key_condition_expression: "a = :a".into(),
            attributes: ExpressionAttributes::default().value(":a", 1),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("does not have the specified index"),
        "{err}"
    );
}

#[test]
fn a_global_index_added_later_is_backfilled() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_table(
        "orders",
        KeySchema::new("customer", KeyType::S).with_sort_key("id", KeyType::N),
    )
    .unwrap();
    for id in 0..20 {
        let status = if id % 2 == 0 { "PAID" } else { "PLACED" };
        db.put_item(
            "orders",
            order("c", id, Some(status), id),
            ReturnValues::None,
        )
        .unwrap();
    }
    db.add_global_secondary_index(
        "orders",
        IndexDef::global(
            "by_status",
            KeySchema::new("status", KeyType::S).with_sort_key("id", KeyType::N),
        ),
    )
    .unwrap();
    assert_eq!(
        by_status(&db, "PLACED"),
        (0..20).filter(|i| i % 2 == 1).collect::<Vec<_>>()
    );
    db.put_item(
        "orders",
        order("c", 21, Some("PLACED"), 1),
        ReturnValues::None,
    )
    .unwrap();
    assert_eq!(by_status(&db, "PLACED").len(), 11);
    db.remove_global_secondary_index("orders", "by_status")
        .unwrap();
    assert!(db.describe_table("orders").unwrap().indexes.is_empty());
}

#[test]
fn index_reads_fetch_unprojected_attributes_as_dynamodb_does() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_table_with_indexes(
        "orders",
        KeySchema::new("customer", KeyType::S).with_sort_key("id", KeyType::N),
        vec![
            IndexDef::global(
                "by_status",
                KeySchema::new("status", KeyType::S).with_sort_key("id", KeyType::N),
            )
            .with_projection(IndexProjection::KeysOnly),
            IndexDef::local(
                "by_amount",
                KeySchema::new("customer", KeyType::S).with_sort_key("amount", KeyType::N),
            )
            .with_projection(IndexProjection::KeysOnly),
        ],
    )
    .unwrap();
    db.put_item(
        "orders",
        order("c1", 1, Some("open"), 30).with("note", "fragile"),
        ReturnValues::None,
    )
    .unwrap();
    let local = |select: eddy::Select, projection: Option<&str>| {
        db.query_with(QueryRequest {
            table_name: "orders".into(),
            index_name: Some("by_amount".into()),
            key_condition_expression: "customer = :c".into(),
            projection_expression: projection.map(str::to_string),
            attributes: ExpressionAttributes::default().value(":c", "c1"),
            select,
            ..Default::default()
        })
        .unwrap()
        .items
    };
    // ALL_ATTRIBUTES on a local index reads the item from the table.
    assert_eq!(
        local(eddy::Select::AllAttributes, None)[0].get("note"),
        Some(&"fragile".into())
    );
    // ALL_PROJECTED_ATTRIBUTES is what the index holds: the keys.
    assert_eq!(
        local(eddy::Select::AllProjectedAttributes, None)[0].get("note"),
        None
    );
    // A projection of an unprojected attribute is fetched too.
    assert_eq!(
        local(eddy::Select::SpecificAttributes, Some("note"))[0],
        Item::new().with("note", "fragile")
    );
    // A global index only has what it projects: ALL_ATTRIBUTES is refused.
    let global = db.query_with(QueryRequest {
        table_name: "orders".into(),
        index_name: Some("by_status".into()),
        key_condition_expression: "#s = :s".into(),
        attributes: ExpressionAttributes::default()
            .name("#s", "status")
            .value(":s", "open"),
        select: eddy::Select::AllAttributes,
        ..Default::default()
    });
    assert!(
        matches!(global, Err(Error::Validation(m)) if m.contains("ALL_ATTRIBUTES is not supported"))
    );
    // A Query filter may not name the key it queries by.
    let filtered = db.query_with(QueryRequest {
        table_name: "orders".into(),
        key_condition_expression: "customer = :c".into(),
        filter_expression: Some("id > :n".into()),
        attributes: ExpressionAttributes::default()
            .value(":c", "c1")
            .value(":n", 0),
        ..Default::default()
    });
    assert!(
        matches!(filtered, Err(Error::Validation(m)) if m.ends_with("Primary key attribute: id"))
    );
}

#[test]
fn parallel_scans_of_an_index_partition_its_entries() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.create_table_with_indexes(
        "orders",
        KeySchema::new("customer", KeyType::S).with_sort_key("id", KeyType::N),
        vec![IndexDef::global(
            "by_status",
            KeySchema::new("status", KeyType::S).with_sort_key("id", KeyType::N),
        )],
    )
    .unwrap();
    for id in 0..60 {
        // Every third order has no status, so it is not in the index.
        let status = ["open", "shipped"].get((id % 3) as usize).copied();
        db.put_item("orders", order("c1", id, status, id), ReturnValues::None)
            .unwrap();
    }
    let mut seen = Vec::new();
    for segment in 0..3 {
        let mut start = None;
        loop {
            let page = db
                .scan_with(ScanRequest {
                    table_name: "orders".into(),
                    index_name: Some("by_status".into()),
                    limit: Some(7),
                    exclusive_start_key: start.take(),
                    segment: Some((segment, 3)),
                    ..Default::default()
                })
                .unwrap();
            for item in &page.items {
                assert!(item.get("status").is_some());
                seen.push(item.get("id").unwrap().as_n().unwrap().to_i64().unwrap());
            }
            match page.last_evaluated_key {
                Some(key) => start = Some(key),
                None => break,
            }
        }
    }
    seen.sort();
    let expected: Vec<i64> = (0..60).filter(|id| id % 3 != 2).collect();
    assert_eq!(seen, expected, "segments are disjoint and cover the index");
}
