//! Secondary index data tests: sparse entries, ordering of duplicates,
//! local indexes, projections, maintenance on update and delete, replay,
//! and pagination.
#![allow(clippy::unwrap_used)]

mod common;

use common::{delete, put, query_index_all, scan_index_all, store};
use eddy_model::index::{IndexDef, Projection};
use eddy_model::{Item, KeySchema, KeyType, TableDef};
use eddy_store::{Apply, Error, Query, Scan, SortCondition, Store, TableStats};

fn table_schema() -> KeySchema {
    KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N)
}

fn by_status() -> IndexDef {
    IndexDef::global("by_status", KeySchema::new("status", KeyType::S))
}

fn indexed_table(store: &Store, indexes: Vec<IndexDef>) -> TableDef {
    store
        .create_table_with_indexes("orders", table_schema(), indexes, 1)
        .unwrap()
}

fn order(pk: &str, sk: i64, status: &str) -> Item {
    Item::new()
        .with("pk", pk)
        .with("sk", sk)
        .with("status", status)
        .with("total", sk * 10)
}

fn key(pk: &str, sk: i64) -> Item {
    Item::new().with("pk", pk).with("sk", sk)
}

fn keys_of(items: &[Item]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|i| {
            (
                format!("{:?}", i.get("pk").unwrap()),
                format!("{:?}", i.get("sk").unwrap()),
            )
        })
        .collect()
}

#[test]
fn sparse_index_holds_only_items_with_the_key_of_the_right_type() {
    let (_dir, store) = store();
    let t = indexed_table(&store, vec![by_status()]);
    let with = order("a", 1, "open");
    let without = key("a", 2).with("total", 5);
    let wrong_type = key("a", 3).with("status", 7);
    put(&store, &t, &[with.clone(), without, wrong_type]);
    let (all, _) = scan_index_all(&store, &t, "by_status", &Scan::new());
    assert_eq!(all, vec![with.clone()]);
    let stats = store.index_stats("orders", "by_status").unwrap();
    assert_eq!(
        stats,
        TableStats {
            item_count: 1,
            size_bytes: with.size() as u64
        }
    );
    // The table itself has all three.
    assert_eq!(store.table_stats("orders").unwrap().item_count, 3);
}

#[test]
fn equal_index_keys_come_back_in_table_key_order() {
    let (_dir, store) = store();
    let t = indexed_table(&store, vec![by_status()]);
    let items = vec![
        order("c", 1, "open"),
        order("a", 9, "open"),
        order("b", 5, "shut"),
        order("a", -3, "open"),
        order("b", 2, "open"),
        order("a", 10, "open"),
    ];
    put(&store, &t, &items);
    let page = store
        .query_index(&t, "by_status", &Query::new("open"))
        .unwrap();
    let expected = [("a", -3), ("a", 9), ("a", 10), ("b", 2), ("c", 1)];
    let expected: Vec<Item> = expected.iter().map(|(p, s)| order(p, *s, "open")).collect();
    assert_eq!(page.items, expected);
    assert_eq!(page.last_evaluated_key, None);
    let reversed = store
        .query_index(&t, "by_status", &Query::new("open").reverse())
        .unwrap();
    let mut backwards = expected.clone();
    backwards.reverse();
    assert_eq!(reversed.items, backwards);
    // Paging one at a time walks the duplicates once each, both ways.
    let (forward, pages) = query_index_all(&store, &t, "by_status", &Query::new("open").limit(1));
    assert_eq!(forward, expected);
    assert_eq!(pages, 6);
    let (back, _) = query_index_all(
        &store,
        &t,
        "by_status",
        &Query::new("open").reverse().limit(2),
    );
    assert_eq!(back, backwards);
}

#[test]
fn local_index_queries_by_its_sort_key() {
    let (_dir, store) = store();
    let lsi = IndexDef::local(
        "by_date",
        KeySchema::new("pk", KeyType::S).with_sort_key("date", KeyType::S),
    );
    let t = indexed_table(&store, vec![lsi]);
    let item = |pk: &str, sk: i64, date: &str| key(pk, sk).with("date", date);
    put(
        &store,
        &t,
        &[
            item("a", 1, "2024-03"),
            item("a", 2, "2024-01"),
            item("a", 3, "2024-02"),
            item("a", 4, "2024-02"),
            item("a", 5, "2023-12"),
            item("b", 1, "2024-02"),
            key("a", 6),
        ],
    );
    let q = Query::new("a").sort(SortCondition::Between("2024-01".into(), "2024-02".into()));
    let page = store.query_index(&t, "by_date", &q).unwrap();
    assert_eq!(
        keys_of(&page.items),
        keys_of(&[key("a", 2), key("a", 3), key("a", 4)])
    );
    // `>` skips every entry with that date, whatever its table key.
    let gt = Query::new("a").sort(SortCondition::Gt("2024-02".into()));
    let page = store.query_index(&t, "by_date", &gt).unwrap();
    assert_eq!(page.items, vec![item("a", 1, "2024-03")]);
    let le = Query::new("a").sort(SortCondition::Le("2024-02".into()));
    let (items, _) = query_index_all(&store, &t, "by_date", &le.clone().limit(1));
    assert_eq!(
        keys_of(&items),
        keys_of(&[key("a", 5), key("a", 2), key("a", 3), key("a", 4)])
    );
    let eq = Query::new("a").sort(SortCondition::Eq("2024-02".into()));
    let page = store.query_index(&t, "by_date", &eq.reverse()).unwrap();
    assert_eq!(keys_of(&page.items), keys_of(&[key("a", 4), key("a", 3)]));
    let begins = Query::new("a").sort(SortCondition::BeginsWith("2023".into()));
    let page = store.query_index(&t, "by_date", &begins).unwrap();
    assert_eq!(page.items, vec![item("a", 5, "2023-12")]);
}

#[test]
fn projections_carry_the_right_attributes() {
    let (_dir, store) = store();
    let all = by_status();
    let keys_only = IndexDef::global("keys_only", KeySchema::new("status", KeyType::S))
        .with_projection(Projection::KeysOnly);
    let include = IndexDef::global("include", KeySchema::new("status", KeyType::S))
        .with_projection(Projection::Include(vec!["total".into(), "absent".into()]));
    let t = indexed_table(&store, vec![all, keys_only, include]);
    let full = order("a", 1, "open").with("note", "hello");
    put(&store, &t, std::slice::from_ref(&full));
    let get = |index: &str| {
        let page = store.query_index(&t, index, &Query::new("open")).unwrap();
        assert_eq!(page.items.len(), 1, "{index}");
        page.items.into_iter().next().unwrap()
    };
    assert_eq!(get("by_status"), full);
    let keys = key("a", 1).with("status", "open");
    assert_eq!(get("keys_only"), keys);
    assert_eq!(get("include"), keys.clone().with("total", 10));
    assert_eq!(
        store.index_stats("orders", "keys_only").unwrap().size_bytes,
        keys.size() as u64
    );
}

#[test]
fn updates_move_entries_and_deletes_remove_them() {
    let (_dir, store) = store();
    let t = indexed_table(&store, vec![by_status()]);
    let open = |s| store.query_index(&t, "by_status", &Query::new(s)).unwrap();
    put(&store, &t, &[order("a", 1, "open"), order("a", 2, "open")]);
    put(&store, &t, &[order("a", 1, "shut")]);
    assert_eq!(open("open").items, vec![order("a", 2, "open")]);
    assert_eq!(open("shut").items, vec![order("a", 1, "shut")]);
    // Same index key, other attributes: the entry is replaced, not doubled.
    let richer = order("a", 1, "shut").with("note", "x");
    put(&store, &t, std::slice::from_ref(&richer));
    assert_eq!(open("shut").items, vec![richer]);
    // Removing the attribute removes the entry.
    put(&store, &t, &[key("a", 2)]);
    assert!(open("open").items.is_empty());
    delete(&store, &t, &[key("a", 1)]);
    assert!(open("shut").items.is_empty());
    assert_eq!(
        store.index_stats("orders", "by_status").unwrap(),
        TableStats::default()
    );
    // Within one call, changes to one item apply in order.
    let (k, v1, v2) = (key("b", 1), order("b", 1, "x1"), order("b", 1, "x2"));
    let change = |after| Apply {
        table_id: t.id,
        keys: &k,
        after,
    };
    store
        .apply(&[
            change(Some(&v1)),
            change(Some(&v2)),
            change(None),
            change(Some(&v1)),
        ])
        .unwrap();
    assert_eq!(open("x1").items, vec![v1]);
    assert!(open("x2").items.is_empty());
}

#[test]
fn replaying_the_same_changes_gives_the_same_index() {
    let (_dir, store) = store();
    let t = indexed_table(&store, vec![by_status()]);
    let items: Vec<Item> = (0..20)
        .map(|i| order("p", i % 7, &format!("s{}", i % 3)))
        .collect();
    let keys: Vec<Item> = items
        .iter()
        .map(|i| t.key_schema.key_of(i).unwrap())
        .collect();
    let mut changes: Vec<Apply<'_>> = items
        .iter()
        .zip(&keys)
        .map(|(item, keys)| Apply {
            table_id: t.id,
            keys,
            after: Some(item),
        })
        .collect();
    changes.push(Apply {
        table_id: t.id,
        keys: &keys[3],
        after: None,
    });
    store.apply(&changes).unwrap();
    let once = scan_index_all(&store, &t, "by_status", &Scan::new()).0;
    // The whole log again, then a suffix of it, as recovery would.
    store.apply(&changes).unwrap();
    store.apply(&changes[12..]).unwrap();
    let again = scan_index_all(&store, &t, "by_status", &Scan::new()).0;
    assert_eq!(once, again);
    // And the index holds exactly the last image of each surviving item,
    // ordered by status, then table key.
    let mut model = std::collections::BTreeMap::new();
    for item in &items {
        model.insert(
            item.get("sk").unwrap().as_n().unwrap().clone(),
            item.clone(),
        );
    }
    model.remove(keys[3].get("sk").unwrap().as_n().unwrap());
    let mut expected: Vec<Item> = model.into_values().collect();
    expected.sort_by(|a, b| {
        a.get("status")
            .unwrap()
            .as_s()
            .cmp(&b.get("status").unwrap().as_s())
    });
    assert_eq!(again.len(), 6);
    assert_eq!(again, expected);
}

#[test]
fn pages_stop_at_one_megabyte_of_projected_items() {
    let (_dir, store) = store();
    let keys_only = IndexDef::global("keys_only", KeySchema::new("status", KeyType::S))
        .with_projection(Projection::KeysOnly);
    let t = indexed_table(&store, vec![by_status(), keys_only]);
    let blob = vec![7u8; 100_000];
    let items: Vec<Item> = (0..25)
        .map(|i| order("p", i, "open").with("blob", blob.clone()))
        .collect();
    put(&store, &t, &items);
    let page = store
        .query_index(&t, "by_status", &Query::new("open"))
        .unwrap();
    assert_eq!(page.items.len(), 11, "about 1 MB of whole items");
    assert!(page.last_evaluated_key.is_some());
    let (all, pages) = query_index_all(&store, &t, "by_status", &Query::new("open"));
    assert_eq!((all, pages), (items, 3));
    let page = store
        .query_index(&t, "keys_only", &Query::new("open"))
        .unwrap();
    assert_eq!(page.items.len(), 25, "small projected items fit one page");
    assert_eq!(page.last_evaluated_key, None);
    let (scanned, pages) = scan_index_all(&store, &t, "keys_only", &Scan::new().limit(4));
    assert_eq!((scanned.len(), pages), (25, 7));
}

#[test]
fn bad_index_requests_are_refused() {
    let (_dir, store) = store();
    let t = indexed_table(&store, vec![by_status()]);
    put(&store, &t, &[order("a", 1, "open")]);
    let validation = |r: Result<eddy_store::Page, Error>| match r {
        Err(Error::Validation(m)) => m,
        other => panic!("expected a validation error, got {other:?}"),
    };
    assert_eq!(
        validation(store.query_index(&t, "nope", &Query::new("open"))),
        "The table does not have the specified index: nope"
    );
    assert_eq!(
        validation(store.scan_index(&t, "nope", &Scan::new())),
        "The table does not have the specified index: nope"
    );
    assert!(matches!(
        store.index_stats("orders", "nope"),
        Err(Error::Validation(_))
    ));
    assert!(
        validation(store.query_index(&t, "by_status", &Query::new(1)))
            .contains("Condition parameter type does not match schema type")
    );
    let q = Query::new("open").sort(SortCondition::Eq("x".into()));
    assert!(validation(store.query_index(&t, "by_status", &q)).contains("no sort key"));
    let start = |esk: Item| {
        validation(store.query_index(&t, "by_status", &Query::new("open").start_after(esk)))
    };
    assert!(start(key("a", 1)).contains("starting key is invalid"));
    assert!(start(key("a", 1).with("status", "shut")).contains("partition key does not match"));
    assert!(start(key("a", 1).with("status", 3)).contains("Type mismatch"));
    assert!(
        validation(store.query_index(&t, "by_status", &Query::new("open").limit(0)))
            .contains("limit")
    );
}
